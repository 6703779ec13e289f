/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueues (virtio 1.x, section 2.7): the device side.
 *
 * What it trusts: the caller (transport and device code), the gm_view it is
 * given, and the host mapping behind that view staying valid while the queue
 * is enabled (guest RAM is never unmapped while the VM runs).
 *
 * What it does not trust: anything in guest memory. The driver runs on other
 * CPUs at the same time as we do and may rewrite the rings and descriptors
 * under us at any moment. Therefore:
 *   - ring addresses are checked once, in vq_enable(), against the queue's
 *     view (whole ring, alignment, size a power of two) and the host pointers
 *     cached; every later ring access indexes them modulo the queue size;
 *   - every guest field is read exactly once into a local copy, and only
 *     the copy is checked and used (no double fetch);
 *   - every buffer and indirect table goes through gm_view_slice() on the
 *     queue's view for its whole length: a device sees only its aperture;
 *   - a descriptor chain is validated completely (see vq_pop()) before the
 *     device sees any of it.
 *
 * Error policy: a driver that breaks the ring rules gets a negative errno
 * from vq_pop(); the queue is then "broken" (q->error, and a one-line
 * reason in q->why that vq_pop() does not log itself). The caller logs that
 * reason once and puts the device into NEEDS_RESET. Errno values:
 *   -EINVAL  structure: head or next >= size, avail->idx more than size ahead,
 *            bad indirect descriptor (empty, length not a multiple of 16,
 *            nested, INDIRECT together with NEXT), readable after writable
 *   -ELOOP   the chain has more hops than the queue (or indirect table) has
 *            descriptors: a loop
 *   -EFAULT  a buffer or indirect table not wholly inside the view
 *   -E2BIG   more than VQ_MAX_SEGS segments, more than VQ_MAX_CHAIN_BYTES, or
 *            an indirect table with more than VQ_MAX_INDIRECT entries
 *
 * Concurrency: one struct vq has one owner thread at a time (the device's
 * worker); vq_enable()/vq_reset() happen while the device is not running it.
 * Against the driver, indices follow the spec's ordering: avail->idx is read
 * with acquire before ring entries and descriptors; used entries are written
 * before used->idx is stored with release; a full fence separates our used
 * index / avail_event stores from the reads that decide on notifications.
 */
#ifndef APERTURE_VIRTQUEUE_H
#define APERTURE_VIRTQUEUE_H

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include "lib/iov.h"
#include "lib/memory.h"
#include "lib/util.h"

#define VQ_MAX_SIZE 32768              /* largest queue size (the spec's limit) */
#define VQ_MAX_SEGS 1024               /* iovecs per chain we accept */
#define VQ_MAX_CHAIN_BYTES (1u << 30)  /* total length cap per chain */
/*
 * Entries an indirect table may have. Deliberately not tied to the queue
 * size: the spec asks drivers to keep a chain within the queue size, but
 * Linux only enforces that when it cannot use indirect descriptors, so a
 * small queue can legitimately carry a larger indirect table. Any table
 * larger than this could not fit in VQ_MAX_SEGS non-empty segments anyway.
 */
#define VQ_MAX_INDIRECT VQ_MAX_SEGS

struct vq {
	uint16_t size;          /* power of two, 1..VQ_MAX_SIZE; 0 when not enabled */
	bool ready;             /* vq_enable() succeeded and no vq_reset() since */
	bool event_idx;         /* VIRTIO_RING_F_EVENT_IDX negotiated */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	const struct gm_view *view;
	/* SAFETY: host pointers cached at enable, valid for the whole ring
	 * (including the event-idx trailer when event_idx) while ready. */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t last_avail;    /* next avail ring slot we will read */
	uint16_t used_idx;      /* our copy of used->idx */
	uint16_t signalled_used;        /* used_idx when we last decided to notify */
	bool signalled_used_valid;      /* false until the first vq_needs_notify() */
	int error;              /* 0, or the negative errno that broke the queue */
	char why[96];           /* the reason, for the caller's single log line */
};

struct vq_chain {
	uint16_t head;                  /* descriptor index to hand to vq_push() */
	unsigned nr_out, nr_in;         /* readable (driver->device), then writable segments */
	struct iovec iov[VQ_MAX_SEGS];  /* first nr_out readable, then nr_in writable */
	uint64_t gpa[VQ_MAX_SEGS];      /* guest-physical address of each iov[] */
	uint32_t out_len, in_len;       /* byte totals of each direction */
};

/*
 * Enable a queue the driver has set up. `view` must outlive the queue.
 * Requirements (-EINVAL otherwise, and q is left reset):
 *   size a power of two in 1..VQ_MAX_SIZE;
 *   desc 16-aligned, avail 2-aligned, used 4-aligned (spec 2.7);
 *   desc table (16 * size), avail ring (4 + 2 * size, + 2 for used_event
 *   with event_idx) and used ring (4 + 8 * size, + 2 for avail_event with
 *   event_idx) each wholly inside the view. The event-idx trailers are only
 *   required (and only ever touched) when event_idx is set.
 * Overlapping rings are not rejected: the spec does not forbid them and they
 * cannot make us touch memory outside the view.
 * Our indices start at 0 (a freshly reset queue).
 */
int vq_enable(struct vq *q, const struct gm_view *view, uint16_t size, uint64_t desc, uint64_t avail,
	      uint64_t used, bool event_idx) must_check;

/* Forget everything: not ready, no view, not broken. Never touches guest memory. */
void vq_reset(struct vq *q);

/*
 * A queue that resumes where another process left it (vhost-user
 * SET_VRING_BASE): the next avail slot to read and our used index start at
 * idx instead of 0. Call right after vq_enable().
 */
void vq_set_base(struct vq *q, uint16_t idx);

/*
 * Take the next available chain into *c.
 * Returns 1 when a chain was taken, 0 when nothing is available (or the
 * queue is not enabled), or a negative errno (table above) when the driver
 * broke the rules. On error nothing is consumed and *c is undefined; the
 * queue is broken and every later vq_pop()/vq_push() returns the same errno.
 *
 * Rules checked, all before the chain is returned:
 *   avail->idx (read with acquire) at most size ahead of last_avail;
 *   head < size, every next < size (of the table it indexes);
 *   at most `size` hops through the descriptor table, at most `entries` hops
 *   through an indirect table (so a looped chain ends in -ELOOP);
 *   indirect: zero or more direct descriptors followed by one INDIRECT
 *   descriptor (spec 2.7.5.3.2); INDIRECT with NEXT invalid; the table
 *   non-empty, a multiple of 16 bytes, at most VQ_MAX_INDIRECT entries,
 *   wholly inside the view, and its entries never INDIRECT; the chain inside
 *   starts at entry 0; WRITE on the INDIRECT descriptor itself is ignored;
 *   the table need not be aligned;
 *   every readable descriptor before every writable one;
 *   every buffer with len > 0 wholly inside the view (one gm_view_slice()
 *   per buffer); a zero-length buffer is accepted and dropped: it gets no
 *   iovec and its address is never looked at (it still counts for the hop
 *   budget and the readable-before-writable order);
 *   at most VQ_MAX_SEGS non-empty segments;
 *   the sum of all lengths (64-bit, no overflow) <= VQ_MAX_CHAIN_BYTES.
 * Indirect descriptors are accepted whether or not VIRTIO_RING_F_INDIRECT_DESC
 * was negotiated: they are checked like everything else.
 */
int vq_pop(struct vq *q, struct vq_chain *c) must_check;

/*
 * Return chain `head` to the driver with `len` bytes written into its
 * writable part: writes the used element, then release-stores used->idx.
 * -EINVAL if the queue is not enabled or head >= size (a device bug); the
 * queue's error if it is broken (nothing is written then). The caller is
 * trusted to push only heads it popped, each once.
 */
int vq_push(struct vq *q, uint16_t head, uint32_t len) must_check;

/*
 * After one or more vq_push(): should the device interrupt the driver now?
 * Without event_idx: unless the driver set VRING_AVAIL_F_NO_INTERRUPT.
 * With event_idx: when used->idx moved past used_event since the last time
 * this returned (the first call always says yes). Issues a full fence before
 * reading the driver's fields. False on a queue that is not enabled.
 */
bool vq_needs_notify(struct vq *q);

/*
 * Before the device waits for the next notification: with event_idx, write
 * avail_event = last_avail ("kick me when you add the next buffer"). In both
 * modes, then a full fence and a fresh look at avail->idx: returns true when
 * buffers arrived meanwhile, so the caller must vq_pop() again rather than
 * sleep. The usual loop:
 *
 *	do {
 *		while ((r = vq_pop(q, c)) > 0)
 *			handle(c);
 *		if (r < 0)
 *			return needs_reset(q->why);
 *	} while (vq_set_avail_event(q));
 */
bool vq_set_avail_event(struct vq *q) must_check;

#endif
