/* SPDX-License-Identifier: MIT */
/*
 * DMA apertures: how the guest's swiotlb reservation is checked and cut
 * into one window per device. Pure functions, no I/O: the handshake calls
 * them with what the guest sent, the CLI with what the user typed, and the
 * unit tests with everything else.
 *
 * The guest reserves a pool (virtio_swiotlb=<size> on its command line) and
 * reports its base and size over the init channel. Those two numbers come
 * from the guest and are hostile until aperture_pool_check() accepted them.
 * aperture_plan() then gives each device its aperture:
 *
 *   DMA_APERTURE  one aperture per device, consecutive from the pool base,
 *                 2 MiB aligned, each at least its kind's size; room left
 *                 over is shared out in proportion to those sizes.
 *   DMA_SHARED    every device gets the whole pool (one global bounce pool,
 *                 as before per-device apertures existed).
 *   DMA_DIRECT    no apertures, no bounce buffers: devices see all of RAM.
 */
#ifndef APERTURE_APERTURE_H
#define APERTURE_APERTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/util.h"

#define APERTURE_ALIGN SZ_2M
#define APERTURE_DEFAULT_POOL (64 * SZ_1M)
/*
 * Largest pool we ask for: the guest keeps 24 bytes of slot state per 2 KiB
 * of pool in one kcalloc(), which caps one restricted pool near 340 MiB.
 */
#define APERTURE_MAX_POOL (256 * SZ_1M)
#define APERTURE_MAX_OWNED 8

enum dma_mode { DMA_APERTURE = 0, DMA_SHARED, DMA_DIRECT };

enum aperture_kind { APK_RNG = 0, APK_FS, APK_NET, APK_COUNT };

struct aperture {
	uint64_t base, size; /* 0, 0: no aperture */
};

/* What the pool must stay clear of. */
struct aperture_limits {
	uint64_t ram_low_end;  /* guest RAM below 4 GiB is [0, ram_low_end) */
	unsigned nowned;
	struct {
		uint64_t base, size;
		const char *what;
	} owned[APERTURE_MAX_OWNED]; /* ranges the monitor wrote and still owns */
};

const char *dma_mode_name(enum dma_mode m);
/* "aperture", "shared" or "direct" into *m; -EINVAL otherwise. */
int dma_mode_parse(const char *s, enum dma_mode *m) must_check;

const char *aperture_kind_name(enum aperture_kind k);
/* The aperture a device of kind k gets at least (multiple of 2 MiB). */
uint64_t aperture_kind_size(enum aperture_kind k);

/* Pool size the devices need in this mode (0 for DMA_DIRECT). */
uint64_t aperture_pool_need(enum dma_mode mode, const enum aperture_kind *kinds, unsigned n);

/*
 * Parse a --swiotlb value: a size (K/M/G suffixes) that is a multiple of
 * 2 MiB, from 2 MiB to APERTURE_MAX_POOL. -EINVAL with one line in err.
 */
int aperture_parse_pool_size(const char *s, uint64_t *out, char *err, size_t errlen) must_check;

/*
 * Is the pool the guest reported usable? 0 when it is; -ENOENT when the
 * guest published none (base and size 0: an unpatched kernel); -EINVAL with
 * the reason in err when it is not: zero size, wraps, not below 4 GiB, not
 * inside guest RAM, not 2 MiB aligned, smaller than min_size, or overlapping
 * a range the monitor owns.
 */
int aperture_pool_check(const struct aperture_limits *l, uint64_t base, uint64_t size, uint64_t min_size,
			char *err, size_t errlen) must_check;

/*
 * Cut the (checked) pool into out[0..n) for devices of the given kinds.
 * -EINVAL with err naming the sizes when the pool is misaligned or too
 * small; out[] is then all zero.
 */
int aperture_plan(enum dma_mode mode, uint64_t pool_base, uint64_t pool_size, const enum aperture_kind *kinds,
		  unsigned n, struct aperture *out, char *err, size_t errlen) must_check;

#endif
