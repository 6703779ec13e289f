/* SPDX-License-Identifier: MIT */
/* The guest kernel command line the monitor generates (cmdline.h). */
#include "vmm/cmdline.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "lib/protocol.h"
#include "vmm/cli.h"

#define GUEST_HZ 250 /* CONFIG_HZ of the guest image (guest/linux/config.fragment) */

/*
 * For hosts whose KVM emulates guest CPL0 (docs/workarounds.md). The last
 * one reaches init's environment: with noxsave the kernel cannot save AVX
 * state, which this KVM still advertises, so user code must not use it.
 */
static const char *const emulated_cpl0_params =
	"noxsave clearcpuid=popcnt,smap,rdtscp,cx16,clwb,erms,fsrm tsc=reliable no_timer_check emulated_cpl0 "
	"GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX,-AVX2,-AVX512F,-AVX512VL,-AVX512BW,-AVX512DQ,-AVX512CD,"
	"-AVX_Fast_Unaligned_Load";


static int append(char *buf, size_t len, size_t *off, const char *s)
{
	size_t n = strlen(s);

	if (*off + n + 2 > len)
		return -E2BIG;
	if (*off)
		buf[(*off)++] = ' ';
	memcpy(buf + *off, s, n + 1);
	*off += n;
	return 0;
}

int cmdline_build(char *buf, size_t len, const struct vmm_config *cfg, int emulated_cpl0,
		      unsigned long tsc_khz)
{
	char tmp[64];
	size_t off = 0;
	int err;

	if (len == 0)
		return -E2BIG;
	buf[0] = '\0';
	err = append(buf, len, &off, "console=ttyS0 reboot=k panic=-1");
	if (!err && !cfg->verbose)
		err = append(buf, len, &off, "quiet");
	if (!err && emulated_cpl0) {
		err = append(buf, len, &off, emulated_cpl0_params);
		if (!err && tsc_khz) {
			snprintf(tmp, sizeof(tmp), "lpj=%lu", tsc_khz * 1000 / GUEST_HZ);
			err = append(buf, len, &off, tmp);
		}
	}
	if (!err && cfg->dma != DMA_DIRECT && cfg->swiotlb) {
		/* The pool the guest reserves for the apertures (docs/protocol.md). */
		snprintf(tmp, sizeof(tmp), "virtio_swiotlb=%lluM", (unsigned long long)(cfg->swiotlb / SZ_1M));
		err = append(buf, len, &off, tmp);
	}
	/* The command itself travels over the init channel (devices-ready), whatever its length. */
	if (!err && cfg->exec)
		err = append(buf, len, &off, INITCHAN_EXEC_PARAM "=" INITCHAN_EXEC_VIA_CHANNEL);
	if (!err && cfg->cmdline && *cfg->cmdline)
		err = append(buf, len, &off, cfg->cmdline);
	return err;
}

