/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueues, device side. The contract and the threat model are in
 * virtqueue.h; this file follows the same order: enable, pop (the chain
 * walker), push, notification suppression.
 */
#include "devices/virtqueue.h"

#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define DESC_SIZE sizeof(struct vring_desc)

/* Walk state shared by the direct and the indirect part of one chain. */
struct walk {
	struct vq *q;
	struct vq_chain *c;
	uint64_t total;  /* all lengths so far; each is < 2^32 and there are < 2^17 of them */
	bool seen_write; /* a writable descriptor was seen: no readable one may follow */
};

static int fail(struct vq *q, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Break the queue: remember err and the reason for the caller's log line. */
static int fail(struct vq *q, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q->why, sizeof(q->why), fmt, ap);
	va_end(ap);
	q->error = err;
	return err;
}

/*
 * Read one descriptor from guest memory exactly once. The compiler barrier
 * stops the compiler from re-reading guest memory in place of the local
 * copy, so what we check is what we use even if the driver rewrites the
 * descriptor meanwhile. memcpy because indirect tables need not be aligned.
 */
static struct vring_desc load_desc(const void *p)
{
	struct vring_desc d;

	memcpy(&d, p, sizeof(d));
	__asm__ __volatile__("" ::: "memory");
	d.addr = le64toh(d.addr);
	d.len = le32toh(d.len);
	d.flags = le16toh(d.flags);
	d.next = le16toh(d.next);
	return d;
}

/* The event-idx trailers, through the uapi header's own accessors. */
static __virtio16 *used_event_field(const struct vq *q)
{
	struct vring vr = { .num = q->size, .desc = q->desc, .avail = q->avail, .used = q->used };

	return &vring_used_event(&vr);
}

static __virtio16 *avail_event_field(const struct vq *q)
{
	struct vring vr = { .num = q->size, .desc = q->desc, .avail = q->avail, .used = q->used };

	return &vring_avail_event(&vr);
}

void vq_reset(struct vq *q)
{
	memset(q, 0, sizeof(*q));
}

void vq_set_base(struct vq *q, uint16_t idx)
{
	q->last_avail = idx;
	q->used_idx = idx;
}

int vq_enable(struct vq *q, const struct gm_view *view, uint16_t size, uint64_t desc, uint64_t avail,
	      uint64_t used, bool event_idx)
{
	uint64_t trailer = event_idx ? sizeof(__virtio16) : 0;
	uint64_t desc_len = DESC_SIZE * size;
	uint64_t avail_len = sizeof(struct vring_avail) + sizeof(__virtio16) * size + trailer;
	uint64_t used_len = sizeof(struct vring_used) + sizeof(struct vring_used_elem) * size + trailer;
	void *d, *a, *u;

	vq_reset(q);
	if (!view || size == 0 || size > VQ_MAX_SIZE || (size & (size - 1)))
		return -EINVAL;
	if (!is_aligned(desc, VRING_DESC_ALIGN_SIZE) || !is_aligned(avail, VRING_AVAIL_ALIGN_SIZE) ||
	    !is_aligned(used, VRING_USED_ALIGN_SIZE))
		return -EINVAL;
	d = gm_view_slice(view, desc, desc_len);
	a = gm_view_slice(view, avail, avail_len);
	u = gm_view_slice(view, used, used_len);
	if (!d || !a || !u)
		return -EINVAL;

	q->size = size;
	q->event_idx = event_idx;
	q->desc_gpa = desc;
	q->avail_gpa = avail;
	q->used_gpa = used;
	q->view = view;
	/* SAFETY: each pointer covers its whole ring (trailer included when
	 * event_idx), checked just above; every later access indexes below
	 * size (or exactly size for the trailers). */
	q->desc = d;
	q->avail = a;
	q->used = u;
	q->ready = true;
	return 0;
}

/* Account one descriptor (direct or from an indirect table) into the chain. */
static int add_segment(struct walk *w, const struct vring_desc *d, const char *where, unsigned idx)
{
	struct vq_chain *c = w->c;
	bool writable = d->flags & VRING_DESC_F_WRITE;
	unsigned n = c->nr_out + c->nr_in;
	void *p;

	if (!writable && w->seen_write)
		return fail(w->q, -EINVAL, "%s descriptor %u: readable after writable", where, idx);
	w->seen_write |= writable;
	if (d->len == 0)
		return 0; /* dropped: no iovec, address never looked at */
	w->total += d->len;
	if (w->total > VQ_MAX_CHAIN_BYTES)
		return fail(w->q, -E2BIG, "%s descriptor %u: chain longer than %u bytes", where, idx,
			    VQ_MAX_CHAIN_BYTES);
	if (n >= VQ_MAX_SEGS)
		return fail(w->q, -E2BIG, "%s descriptor %u: more than %u segments", where, idx, VQ_MAX_SEGS);
	/* SAFETY: gm_view_slice() checks [addr, addr + len) against the view. */
	p = gm_view_slice(w->q->view, d->addr, d->len);
	if (!p)
		return fail(w->q, -EFAULT, "%s descriptor %u: buffer 0x%llx+0x%x outside the device's memory",
			    where, idx, (unsigned long long)d->addr, d->len);
	c->iov[n].iov_base = p;
	c->iov[n].iov_len = d->len;
	c->gpa[n] = d->addr;
	if (writable) {
		c->nr_in++;
		c->in_len += d->len;
	} else {
		c->nr_out++;
		c->out_len += d->len;
	}
	return 0;
}

/* The chain continues in the indirect table `ind` refers to; it ends there. */
static int walk_indirect(struct walk *w, const struct vring_desc *ind, uint16_t at)
{
	struct vq *q = w->q;
	const uint8_t *table;
	uint32_t entries, i = 0, hops = 0;
	int r;

	if (ind->flags & VRING_DESC_F_NEXT)
		return fail(q, -EINVAL, "descriptor %u: INDIRECT together with NEXT", at);
	if (ind->len == 0 || ind->len % DESC_SIZE)
		return fail(q, -EINVAL, "descriptor %u: indirect table of %u bytes", at, ind->len);
	entries = ind->len / DESC_SIZE;
	if (entries > VQ_MAX_INDIRECT)
		return fail(q, -E2BIG, "descriptor %u: indirect table of %u entries (limit %u)", at, entries,
			    VQ_MAX_INDIRECT);
	/* SAFETY: the whole table [addr, addr + len) is checked against the view;
	 * entries are read below index `entries` only. */
	table = gm_view_slice(q->view, ind->addr, ind->len);
	if (!table)
		return fail(q, -EFAULT, "descriptor %u: indirect table 0x%llx+0x%x outside the device's memory",
			    at, (unsigned long long)ind->addr, ind->len);
	for (;;) {
		struct vring_desc d;

		if (++hops > entries)
			return fail(q, -ELOOP, "descriptor %u: loop in indirect table", at);
		d = load_desc(table + (size_t)i * DESC_SIZE);
		if (d.flags & VRING_DESC_F_INDIRECT)
			return fail(q, -EINVAL, "indirect descriptor %u: nested indirect table", i);
		r = add_segment(w, &d, "indirect", i);
		if (r)
			return r;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		if (d.next >= entries)
			return fail(q, -EINVAL, "indirect descriptor %u: next %u beyond %u entries", i, d.next,
				    entries);
		i = d.next;
	}
}

int vq_pop(struct vq *q, struct vq_chain *c)
{
	struct walk w = { .q = q, .c = c };
	uint16_t avail_idx, pending, head, idx;
	uint32_t hops = 0;
	int r;

	if (q->error)
		return q->error;
	if (!q->ready)
		return 0;
	/* Acquire: the ring entry and descriptors below were written before
	 * the driver published this index. */
	avail_idx = le16toh(__atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE));
	pending = (uint16_t)(avail_idx - q->last_avail);
	if (pending == 0)
		return 0;
	if (pending > q->size)
		return fail(q, -EINVAL, "avail index %u runs %u ahead of %u (queue size %u)", avail_idx, pending,
			    q->last_avail, q->size);
	head = le16toh(__atomic_load_n(&q->avail->ring[q->last_avail & (q->size - 1)], __ATOMIC_RELAXED));
	if (head >= q->size)
		return fail(q, -EINVAL, "avail ring: head %u beyond queue size %u", head, q->size);

	c->head = head;
	c->nr_out = c->nr_in = 0;
	c->out_len = c->in_len = 0;
	idx = head;
	for (;;) {
		struct vring_desc d;

		if (++hops > q->size)
			return fail(q, -ELOOP, "chain from head %u: loop (more than %u descriptors)", head, q->size);
		d = load_desc(&q->desc[idx]);
		if (d.flags & VRING_DESC_F_INDIRECT) {
			r = walk_indirect(&w, &d, idx);
			if (r)
				return r;
			break;
		}
		r = add_segment(&w, &d, "direct", idx);
		if (r)
			return r;
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		if (d.next >= q->size)
			return fail(q, -EINVAL, "descriptor %u: next %u beyond queue size %u", idx, d.next, q->size);
		idx = d.next;
	}
	q->last_avail++;
	return 1;
}

int vq_push(struct vq *q, uint16_t head, uint32_t len)
{
	struct vring_used_elem *e;

	if (q->error)
		return q->error;
	if (!q->ready || head >= q->size)
		return -EINVAL;
	e = &q->used->ring[q->used_idx & (q->size - 1)];
	__atomic_store_n(&e->id, htole32(head), __ATOMIC_RELAXED);
	__atomic_store_n(&e->len, htole32(len), __ATOMIC_RELAXED);
	q->used_idx++;
	/* Release: the element is visible before the index that publishes it. */
	__atomic_store_n(&q->used->idx, htole16(q->used_idx), __ATOMIC_RELEASE);
	return 0;
}

bool vq_needs_notify(struct vq *q)
{
	uint16_t old = q->signalled_used, now = q->used_idx, event;
	bool valid = q->signalled_used_valid;

	if (!q->ready || q->error)
		return false;
	/* Full fence: our used->idx store must be visible before we read the
	 * driver's suppression fields, or we race with it re-enabling them. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx)
		return !(le16toh(__atomic_load_n(&q->avail->flags, __ATOMIC_RELAXED)) & VRING_AVAIL_F_NO_INTERRUPT);
	q->signalled_used = now;
	q->signalled_used_valid = true;
	if (!valid)
		return true;
	event = le16toh(__atomic_load_n(used_event_field(q), __ATOMIC_RELAXED));
	return vring_need_event(event, now, old);
}

bool vq_set_avail_event(struct vq *q)
{
	uint16_t avail_idx;

	if (!q->ready || q->error)
		return false;
	if (q->event_idx)
		__atomic_store_n(avail_event_field(q), htole16(q->last_avail), __ATOMIC_RELAXED);
	/* Full fence: the driver must see avail_event before we look at
	 * avail->idx again, or a buffer added in between goes unnoticed. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	avail_idx = le16toh(__atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE));
	return avail_idx != q->last_avail;
}
