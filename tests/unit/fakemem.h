/* SPDX-License-Identifier: MIT */
/*
 * Fake guest memory and a driver-side split-ring helper for unit tests (and
 * fuzz targets) of anything that reads virtqueues.
 *
 * fakemem: guest RAM of one or more regions, each page-aligned in guest
 * physical space and surrounded by PROT_NONE guard pages in the host
 * mapping, backed by one memfd as the monitor's RAM is (so a vhost-user
 * back end can map it). A `struct guest_mem` describes it, so the code under
 * test sees ordinary guest memory; any host access outside what gm_slice()
 * allowed lands in a guard page and kills the test with SIGSEGV (Check
 * reports that as a failure).
 *
 *	struct fakemem fm;
 *	struct fake_ring r;
 *	struct vq q;
 *
 *	fakemem_init_simple(&fm, 1 << 20);
 *	fake_ring_layout(&r, &fm, 8, 0x1000);   // desc/avail/used from 0x1000
 *	fake_ring_enable(&r, &q, &fm.all, false);
 *	fake_avail_push(&r, fake_chain(&r, 0, (struct fake_seg[]){
 *		{ 0x8000, 16, false }, { 0x9000, 64, true } }, 2));
 *	...vq_pop(&q, &c), vq_push(&q, c.head, 64)...
 *	fake_used_next(&r, &id, &len);
 *
 * The helpers are test scaffolding: they are given valid arguments by
 * construction, so a guest address outside RAM (or a ring index beyond the
 * queue size) is a bug in the test; they print it and abort(). They write
 * guest memory directly (through gm_slice on the whole RAM) and never go
 * through the code under test. Nothing here uses Check, so a fuzz target
 * can use it too.
 *
 * Do not copy a struct fakemem: `all` points at its own `mem`.
 */
#ifndef APERTURE_TEST_FAKEMEM_H
#define APERTURE_TEST_FAKEMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "devices/virtqueue.h"
#include "lib/memory.h"

struct fake_region {
	uint64_t gpa;   /* page-aligned */
	uint64_t size;  /* non-zero multiple of the page size */
};

struct fakemem {
	struct guest_mem mem;   /* fd = the memfd, map = NULL; regions point into area */
	struct gm_view all;     /* gm_view_all(&mem) */
	uint8_t *area;          /* the whole host mapping, guard pages included */
	size_t area_len;
};

/*
 * Map n (1..GM_MAX_REGIONS) regions, in increasing, non-overlapping guest
 * order, zero-filled, with a guard page before, between and after them.
 * Large regions cost nothing until touched (MAP_NORESERVE). -EINVAL/-errno.
 */
int fakemem_init(struct fakemem *f, const struct fake_region *r, unsigned n) must_check;
/* One region [0, size). Aborts on failure (tests cannot go on anyway). */
void fakemem_init_simple(struct fakemem *f, uint64_t size);
void fakemem_destroy(struct fakemem *f);

/* Host pointer for [gpa, gpa + len) in RAM; aborts when it is not. */
void *fake_host(struct fakemem *f, uint64_t gpa, uint64_t len);
void fake_write(struct fakemem *f, uint64_t gpa, const void *src, uint64_t len);
void fake_read(struct fakemem *f, uint64_t gpa, void *dst, uint64_t len);
void fake_fill(struct fakemem *f, uint64_t gpa, int byte, uint64_t len);

/* Bytes each ring takes, event-idx trailers included. */
uint64_t fake_desc_bytes(uint16_t size);
uint64_t fake_avail_bytes(uint16_t size);
uint64_t fake_used_bytes(uint16_t size);

/* The driver's side of one split queue. */
struct fake_ring {
	struct fakemem *fm;
	uint16_t size;
	uint64_t desc, avail, used;     /* guest-physical addresses */
	uint16_t avail_idx;             /* what fake_avail_push() publishes next */
	uint16_t last_used;             /* next used slot fake_used_next() reads */
};

/* Rings at the given addresses; all three (trailers included) zeroed. */
void fake_ring_init(struct fake_ring *r, struct fakemem *fm, uint16_t size, uint64_t desc, uint64_t avail,
		    uint64_t used);
/* Rings packed from base (16-aligned): desc, then avail, then used (4-aligned). */
void fake_ring_layout(struct fake_ring *r, struct fakemem *fm, uint16_t size, uint64_t base);
/* First guest address after the used ring (and its trailer). */
uint64_t fake_ring_end(const struct fake_ring *r);
/* vq_enable() on this ring's addresses. */
int fake_ring_enable(const struct fake_ring *r, struct vq *q, const struct gm_view *view, bool event_idx)
	must_check;

/* Descriptor i of the ring's table (i < size). */
void fake_desc(struct fake_ring *r, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next);
/* Entry i of a descriptor table at `table` (an indirect table; any alignment). */
void fake_desc_at(struct fakemem *f, uint64_t table, uint32_t i, uint64_t addr, uint32_t len, uint16_t flags,
		  uint16_t next);

/* A buffer of a chain: readable by the device unless `write`. */
struct fake_seg {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

/*
 * Write n descriptors first, first+1, ... (mod size) linked with NEXT, with
 * the segments' addresses, lengths and WRITE flags. Returns first (the head).
 */
uint16_t fake_chain(struct fake_ring *r, uint16_t first, const struct fake_seg *s, unsigned n);
/* The same as an indirect table at `table`: entries 0..n-1 linked in order. */
void fake_indirect(struct fakemem *f, uint64_t table, const struct fake_seg *s, unsigned n);

/* Put head in the next avail slot and publish it (release-store avail->idx). */
void fake_avail_push(struct fake_ring *r, uint16_t head);
/* Store avail->idx directly (and make it the next value fake_avail_push() bumps). */
void fake_avail_set_idx(struct fake_ring *r, uint16_t idx);
void fake_avail_set_flags(struct fake_ring *r, uint16_t flags);
/* The event-idx trailers: used_event (driver writes), avail_event (device writes). */
void fake_set_used_event(struct fake_ring *r, uint16_t v);
uint16_t fake_avail_event(struct fake_ring *r);

uint16_t fake_used_idx(struct fake_ring *r);
uint16_t fake_used_flags(struct fake_ring *r);
/* Used ring slot (taken modulo size), in host byte order. */
struct vring_used_elem fake_used_elem(struct fake_ring *r, uint16_t slot);
/* The next used element the device published since the last call: true and
 * id and len (either may be NULL), or false when there is none. */
bool fake_used_next(struct fake_ring *r, uint32_t *id, uint32_t *len);

#endif
