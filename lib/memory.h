/* SPDX-License-Identifier: MIT */
/*
 * Guest memory.
 *
 * RAM is one memfd (so a device process can later map just its aperture),
 * laid out as at most two regions: [0, low_end) below the 32-bit MMIO hole
 * and [4 GiB, ...) for the rest.
 *
 * gm_slice() is THE way from a guest-physical address to a host pointer: it
 * checks the whole range [gpa, gpa + len) for overflow and requires it to lie
 * inside one region (and, for a view, inside the view's window). Nothing else
 * in the monitor turns a guest address into a pointer.
 */
#ifndef APERTURE_MEMORY_H
#define APERTURE_MEMORY_H

#include <stdbool.h>
#include <stdint.h>
#include "lib/layout.h"
#include "lib/util.h"

/* Start of the 32-bit MMIO hole: RAM above this moves to 4 GiB. */
#define GM_MMIO_HOLE_START LAYOUT_MMIO_HOLE_START
#define GM_MMIO_HOLE_END LAYOUT_MMIO_HOLE_END
#define GM_MAX_REGIONS 8 /* the monitor uses 2; a vhost-user back end maps what it is given */

struct gm_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host;
	uint64_t fd_offset; /* offset of this region in the memfd */
};

/* A range of RAM moved to a memfd of its own (gm_split()). */
struct gm_split {
	uint64_t gpa;
	uint64_t size;
	int fd;            /* holds exactly [gpa, gpa + size), from offset 0 */
};

#define GM_MAX_SPLITS 16

struct guest_mem {
	int fd;            /* memfd backing all RAM, -1 for test memory */
	uint64_t size;     /* total RAM bytes */
	uint8_t *map;      /* mapping of the whole memfd (NULL for test memory) */
	unsigned nregions;
	struct gm_region region[GM_MAX_REGIONS];
	unsigned nsplits;
	struct gm_split split[GM_MAX_SPLITS];
};

/*
 * What a view has let through and turned away: every gm_view_slice() on a
 * view with stats counts as checked, and as denied when it returned NULL.
 * Updated with relaxed atomics (several device threads share one view).
 */
struct gm_stats {
	uint64_t checked;
	uint64_t denied;
};

/*
 * A window of guest-physical space a user (a device) may touch. An aperture
 * view is one the guest was told about (the device advertises it and the
 * guest bounces all DMA through it); a plain view is the whole of RAM.
 */
struct gm_view {
	const struct guest_mem *mem;
	uint64_t base;
	uint64_t size;
	bool aperture;
	bool shared;             /* aperture: other devices get the same one (--dma shared) */
	struct gm_stats *stats;  /* optional */
};

/* Create memfd-backed RAM of `size` bytes (multiple of 2 MiB). -errno. */
int gm_create(struct guest_mem *m, uint64_t size) must_check;
void gm_destroy(struct guest_mem *m);

/*
 * For a process that maps only the regions it is given (a vhost-user back
 * end): start empty, then add each region. gm_add_region() refuses a region
 * that wraps, is empty or overlaps another (-EINVAL), or one too many
 * (-ENOSPC). The caller owns the mappings.
 */
void gm_init_empty(struct guest_mem *m);
int gm_add_region(struct guest_mem *m, uint64_t gpa, uint64_t size, uint8_t *host, uint64_t fd_offset) must_check;

/*
 * Move [gpa, gpa + size) of RAM (page-aligned, inside one region) into a
 * memfd of its own, named "aperture-0x<gpa>": its contents are copied, the
 * new file is mapped over the same host addresses (KVM follows through its
 * MMU notifier) and the old pages are released. Whoever is later handed
 * that file for the range (a vhost-user back end) can map nothing else of
 * guest RAM, whatever offsets it picks: the operating system enforces the
 * aperture, not the back end's good manners (libvhost-user maps a region's
 * file from offset 0).
 *
 * The copy and the remap are not atomic: a guest write to the range in
 * between would be lost. Call it only for memory no device and no guest
 * driver uses yet: an aperture before its device exists (the guest's
 * restricted pool serves only the devices confined to it).
 * 0, or -EINVAL (not RAM, not aligned, test memory), -EBUSY (overlaps
 * another split), -ENOSPC, or what the system calls gave. Splitting the same
 * range twice is a no-op.
 */
int gm_split(struct guest_mem *m, uint64_t gpa, uint64_t size) must_check;
/*
 * The file and offset that back [gpa, gpa + size): a split's own file when
 * the range lies inside a split, else the RAM memfd. -1 when the range is
 * not RAM, straddles regions, or covers part of a split together with other
 * memory.
 */
int gm_fd_of(const struct guest_mem *m, uint64_t gpa, uint64_t size, uint64_t *offset);

/* End of RAM below the MMIO hole. */
uint64_t gm_low_end(const struct guest_mem *m);

/*
 * Host pointer for [gpa, gpa + len) or NULL if any byte is outside RAM, the
 * range wraps, or it straddles two regions. len == 0 is treated as 1 byte
 * so a zero-length access still has to point into RAM.
 */
void *gm_slice(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* The whole of guest RAM as a view. */
struct gm_view gm_view_all(const struct guest_mem *m);
/* [base, base + size) as an aperture view (the caller validated the range). */
struct gm_view gm_view_aperture(const struct guest_mem *m, uint64_t base, uint64_t size);
/* gm_slice() restricted to the view's window. */
void *gm_view_slice(const struct gm_view *v, uint64_t gpa, uint64_t len);

/* Copy helpers over gm_slice(); -EFAULT when the range is not valid. */
int gm_write(const struct guest_mem *m, uint64_t gpa, const void *src, uint64_t len) must_check;
int gm_read(const struct guest_mem *m, uint64_t gpa, void *dst, uint64_t len) must_check;

#endif
