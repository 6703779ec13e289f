/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: what the monitor makes of a guest's GUEST_CAPABILITIES
 * pool (vmm/aperture.c through handshake_decide()). The base and size are
 * the guest's, the mode, shares and RAM size the user's. Whatever they are,
 * an accepted pool must yield apertures that are 2 MiB aligned, inside the
 * pool, inside RAM below 4 GiB, clear of the firmware area, at least their
 * kind's size, and (per-device mode) disjoint.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "vmm/handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t take64(const uint8_t **p, size_t *n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < 8 && *n; i++, (*p)++, (*n)--)
		v |= (uint64_t)**p << (8 * i);
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmm_config cfg;
	struct aperture_limits l = { .nowned = 1 };
	struct aperture ap[CLI_MAX_SHARES + 2];
	enum aperture_kind kinds[CLI_MAX_SHARES + 2];
	char why[256];
	uint64_t base, psize, flags;
	unsigned n;

	memset(&cfg, 0, sizeof(cfg));
	base = take64(&data, &size);
	psize = take64(&data, &size);
	flags = take64(&data, &size);
	/* Small values are the interesting ones half of the time. */
	if (flags & 1) {
		base &= 0xFFFFFFFFULL;
		psize &= 0x3FFFFFFFULL;
	}
	cfg.dma = (enum dma_mode)((flags >> 1) % 3);
	cfg.require_aperture = (flags >> 3) & 1;
	cfg.nshares = (unsigned)((flags >> 4) % (CLI_MAX_SHARES + 1));
	cfg.memory = ((flags >> 8) % 4096 + 32) * SZ_2M;
	l.ram_low_end = cfg.memory < 0xC0000000ULL ? cfg.memory : 0xC0000000ULL;
	l.owned[0].base = 0;
	l.owned[0].size = SZ_1M;
	l.owned[0].what = "firmware area";

	n = cli_aperture_kinds(&cfg, kinds, CLI_MAX_SHARES + 2);
	switch (handshake_decide(&cfg, &l, base, psize, ap, CLI_MAX_SHARES + 2, why, sizeof(why))) {
	case HS_APERTURES:
		if (cfg.dma == DMA_DIRECT)
			abort();
		for (unsigned i = 0; i < n; i++) {
			if (ap[i].base % SZ_2M || ap[i].size % SZ_2M || ap[i].size < aperture_kind_size(kinds[i]))
				abort();
			if (ap[i].base < base || ap[i].base + ap[i].size > base + psize || ap[i].base + ap[i].size < ap[i].base)
				abort();
			if (ap[i].base + ap[i].size > l.ram_low_end || ap[i].base < SZ_1M)
				abort();
			for (unsigned j = 0; j < i && cfg.dma == DMA_APERTURE; j++)
				if (ranges_overlap(ap[i].base, ap[i].size, ap[j].base, ap[j].size))
					abort();
		}
		break;
	case HS_DIRECT:
		if (cfg.dma != DMA_DIRECT)
			abort();
		/* fallthrough */
	case HS_FALLBACK:
	case HS_REFUSED:
		for (unsigned i = 0; i < n; i++)
			if (ap[i].size)
				abort();
		if (!why[0] && cfg.dma != DMA_DIRECT)
			abort();
		break;
	}
	return 0;
}
