/* SPDX-License-Identifier: MIT */
#include "vmm/aperture.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "devices/virtio-net.h"

/*
 * virtio-net: one queue pair and the control queue, VIRTIO_NET_QUEUE_SIZE
 * (256) entries each; what the guest keeps mapped through the aperture at
 * most (docs/protocol.md, "How big an aperture is"):
 *   rings     3 queues x 8 KiB (a vring of 256 is 6.7 KiB; swiotlb_alloc
 *             rounds it to a power of two)
 *   receive   256 buffers x 4 KiB (a mergeable buffer is at most a page)
 *             + 32 KiB (the page-frag chunk Linux maps ahead)
 *   transmit  256 frames x 64 KiB (a TSO frame, or one of passt's 65520
 *             MTU) + 256 x 2 KiB (one swiotlb slot per indirect table)
 * = 24 KiB + 1056 KiB + 16896 KiB = 17976 KiB, 18 MiB in 2 MiB steps. More
 * queue pairs (tap,queues=N) share it: their receive rings take 1 MiB
 * each out of the transmit budget.
 */
#define NET_RING_BYTES (3 * 8 * SZ_1K)
#define NET_RX_BYTES (VIRTIO_NET_QUEUE_SIZE * 4 * SZ_1K + 32 * SZ_1K)
#define NET_TX_BYTES (VIRTIO_NET_QUEUE_SIZE * (64 + 2) * SZ_1K)
#define NET_APERTURE ((NET_RING_BYTES + NET_RX_BYTES + NET_TX_BYTES + SZ_2M - 1) / SZ_2M * SZ_2M)

static const char *const mode_names[] = { [DMA_APERTURE] = "aperture", [DMA_SHARED] = "shared",
					  [DMA_DIRECT] = "direct" };

static const struct {
	const char *name;
	uint64_t size;
} kinds_tab[APK_COUNT] = {
	/* One 4 KiB request at a time: the smallest aperture there is. */
	[APK_RNG] = { "virtio-rng", 2 * SZ_1M },
	/* 1 MiB requests (max_pages 256) on several queues, plus the rings. */
	[APK_FS] = { "virtio-fs", 16 * SZ_1M },
	/* One queue pair and the control queue: see NET_APERTURE above. */
	[APK_NET] = { "virtio-net", NET_APERTURE },
};

const char *dma_mode_name(enum dma_mode m)
{
	return (unsigned)m < sizeof(mode_names) / sizeof(mode_names[0]) ? mode_names[m] : "?";
}

int dma_mode_parse(const char *s, enum dma_mode *m)
{
	for (unsigned i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (s && strcmp(s, mode_names[i]) == 0) {
			*m = (enum dma_mode)i;
			return 0;
		}
	return -EINVAL;
}

const char *aperture_kind_name(enum aperture_kind k)
{
	return (unsigned)k < APK_COUNT ? kinds_tab[k].name : "?";
}

uint64_t aperture_kind_size(enum aperture_kind k)
{
	return (unsigned)k < APK_COUNT ? kinds_tab[k].size : APERTURE_ALIGN;
}

uint64_t aperture_pool_need(enum dma_mode mode, const enum aperture_kind *kinds, unsigned n)
{
	uint64_t need = 0;

	if (mode == DMA_DIRECT)
		return 0;
	for (unsigned i = 0; i < n; i++)
		need += aperture_kind_size(kinds[i]);
	return need ? need : APERTURE_ALIGN;
}

int aperture_parse_pool_size(const char *s, uint64_t *out, char *err, size_t errlen)
{
	uint64_t v;

	if (parse_size(s, &v)) {
		snprintf(err, errlen, "--swiotlb: '%s' is not a size (use e.g. 64M)", s);
		return -EINVAL;
	}
	if (v < APERTURE_ALIGN || v > APERTURE_MAX_POOL) {
		snprintf(err, errlen, "--swiotlb: %s is out of range (2M to %lluM)", s,
			 (unsigned long long)(APERTURE_MAX_POOL / SZ_1M));
		return -EINVAL;
	}
	if (!is_aligned(v, APERTURE_ALIGN)) {
		snprintf(err, errlen, "--swiotlb: %s is not a multiple of 2 MiB", s);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int aperture_pool_check(const struct aperture_limits *l, uint64_t base, uint64_t size, uint64_t min_size,
			char *err, size_t errlen)
{
	if (base == 0 && size == 0) {
		snprintf(err, errlen, "the guest kernel published no swiotlb pool");
		return -ENOENT;
	}
	if (size == 0 || base + size < base) {
		snprintf(err, errlen, "pool [0x%llx, +0x%llx) is empty or wraps", (unsigned long long)base,
			 (unsigned long long)size);
		return -EINVAL;
	}
	if (base + size > SZ_4G) {
		snprintf(err, errlen, "pool [0x%llx, 0x%llx) is not below 4 GiB", (unsigned long long)base,
			 (unsigned long long)(base + size));
		return -EINVAL;
	}
	if (base + size > l->ram_low_end) {
		snprintf(err, errlen, "pool [0x%llx, 0x%llx) is not inside guest RAM (which ends at 0x%llx below 4 GiB)",
			 (unsigned long long)base, (unsigned long long)(base + size),
			 (unsigned long long)l->ram_low_end);
		return -EINVAL;
	}
	if (!is_aligned(base, APERTURE_ALIGN) || !is_aligned(size, APERTURE_ALIGN)) {
		snprintf(err, errlen, "pool [0x%llx, +0x%llx) is not 2 MiB aligned", (unsigned long long)base,
			 (unsigned long long)size);
		return -EINVAL;
	}
	if (size < min_size) {
		snprintf(err, errlen, "pool of %llu MiB is smaller than the %llu MiB the devices need",
			 (unsigned long long)(size / SZ_1M), (unsigned long long)(min_size / SZ_1M));
		return -EINVAL;
	}
	for (unsigned i = 0; i < l->nowned && i < APERTURE_MAX_OWNED; i++)
		if (l->owned[i].size && ranges_overlap(base, size, l->owned[i].base, l->owned[i].size)) {
			snprintf(err, errlen, "pool [0x%llx, 0x%llx) overlaps the %s at [0x%llx, 0x%llx)",
				 (unsigned long long)base, (unsigned long long)(base + size), l->owned[i].what,
				 (unsigned long long)l->owned[i].base,
				 (unsigned long long)(l->owned[i].base + l->owned[i].size));
			return -EINVAL;
		}
	return 0;
}

/* "virtio-rng 2 MiB, virtio-fs 16 MiB" into buf. */
static void list_sizes(char *buf, size_t len, const enum aperture_kind *kinds, unsigned n)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < n && off < len; i++) {
		int w = snprintf(buf + off, len - off, "%s%s %llu MiB", i ? ", " : "", aperture_kind_name(kinds[i]),
				 (unsigned long long)(aperture_kind_size(kinds[i]) / SZ_1M));

		if (w < 0)
			break;
		off += (size_t)w;
	}
}

int aperture_plan(enum dma_mode mode, uint64_t pool_base, uint64_t pool_size, const enum aperture_kind *kinds,
		  unsigned n, struct aperture *out, char *err, size_t errlen)
{
	uint64_t need = aperture_pool_need(mode, kinds, n), next = pool_base;
	char sizes[256];

	memset(out, 0, n * sizeof(*out));
	if (mode == DMA_DIRECT || n == 0)
		return 0;
	if (!is_aligned(pool_base, APERTURE_ALIGN) || !is_aligned(pool_size, APERTURE_ALIGN) ||
	    pool_base + pool_size < pool_base) {
		snprintf(err, errlen, "pool [0x%llx, +0x%llx) is not 2 MiB aligned", (unsigned long long)pool_base,
			 (unsigned long long)pool_size);
		return -EINVAL;
	}
	if (pool_size < need) {
		list_sizes(sizes, sizeof(sizes), kinds, n);
		snprintf(err, errlen, "a %llu MiB pool is too small for %u device%s in %s mode: need %llu MiB (%s)",
			 (unsigned long long)(pool_size / SZ_1M), n, n == 1 ? "" : "s", dma_mode_name(mode),
			 (unsigned long long)(need / SZ_1M), sizes);
		return -EINVAL;
	}
	for (unsigned i = 0; i < n; i++) {
		if (mode == DMA_SHARED) {
			out[i] = (struct aperture){ pool_base, pool_size };
			continue;
		}
		/*
		 * Scale each minimum by pool/need, rounded down to 2 MiB: never
		 * below the minimum (pool >= need) and the sum stays <= pool.
		 * Sizes are at most 4 GiB, so the product cannot overflow.
		 */
		uint64_t min = aperture_kind_size(kinds[i]);
		uint64_t sz = (min / APERTURE_ALIGN) * (pool_size / APERTURE_ALIGN) / (need / APERTURE_ALIGN) *
			      APERTURE_ALIGN;

		if (sz < min)
			sz = min;
		out[i] = (struct aperture){ next, sz };
		next += sz;
	}
	return 0;
}
