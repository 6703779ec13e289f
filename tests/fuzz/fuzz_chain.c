/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: split virtqueues as a hostile driver lays them out.
 *
 * Guest RAM is two 32 KiB regions (gpa 0 and gpa 0x10000, a hole between)
 * from tests/unit/fakemem, so guard pages surround it. The input is a small
 * header followed by the contents of RAM (rings, descriptors, indirect
 * tables, avail indices: all of it fuzzer-chosen):
 *
 *	[0]      bits 0-2: log2 queue size; bit 6: ring addresses as given
 *	         (else aligned down); bit 7: event_idx
 *	[1..6]   desc, avail, used: u16 each; bit 15 selects the second region
 *	[7..10]  the device's view: u16 base, u16 length (0: all of RAM)
 *	[11..12] starting value of our avail/used indices
 *	[13]     byte the "device" writes into writable buffers
 *	[14..]   RAM image: region 0, then region 1
 *
 * Then vq_enable() and vq_pop()/vq_push() until the queue is empty, broken
 * or a budget runs out. Pages of RAM wholly outside the view are made
 * PROT_NONE while the queue runs, so touching anything outside the device's
 * view crashes. Invariants checked on every chain: segments inside the view
 * exactly where gm_view_slice() says, counts and byte totals consistent and
 * within the limits; vq_push() of a popped head succeeds; an error sticks.
 */
#include <endian.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "devices/virtqueue.h"
/* The fake memory (no Check inside) comes from libfuzz-support.a. */
#include "tests/unit/fakemem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REGION 0x8000ULL
#define HIGH 0x10000ULL
#define HDR 14
#define PAGE 4096ULL

static struct fakemem fm;
static struct vq q;
static struct vq_chain c;

static uint16_t u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint64_t gpa_of(uint16_t v)
{
	return (v & 0x8000) ? HIGH + (v & 0x7FFF) : v;
}

/* Make every page of RAM outside [base, base + len) PROT_NONE, or undo it. */
static void fence_view(const struct gm_view *v, bool on)
{
	for (unsigned i = 0; i < fm.mem.nregions; i++) {
		const struct gm_region *r = &fm.mem.region[i];

		for (uint64_t off = 0; off < r->size; off += PAGE) {
			uint64_t g = r->gpa + off;
			bool overlaps = g + PAGE > v->base && (g < v->base || g - v->base < v->size);

			if (!overlaps && mprotect(r->host + off, PAGE, on ? PROT_NONE : PROT_READ | PROT_WRITE))
				abort();
		}
	}
}

static void check_chain(const struct gm_view *v, uint8_t pattern)
{
	uint64_t out = 0, in = 0;

	if (c.head >= q.size || c.nr_out + c.nr_in > VQ_MAX_SEGS)
		abort();
	for (unsigned i = 0; i < c.nr_out + c.nr_in; i++) {
		uint8_t *p = c.iov[i].iov_base;
		size_t len = c.iov[i].iov_len;

		if (len == 0 || p != gm_view_slice(v, c.gpa[i], len))
			abort();
		if (i < c.nr_out) {
			out += len;
			if (p[0] == 0x5A && p[len - 1] == 0xA5) /* touch both ends */
				pattern ^= 1;
		} else {
			in += len;
			memset(p, pattern, len < 64 ? len : 64); /* may well hit the rings: fine */
			p[len - 1] = pattern;
		}
	}
	if (out != c.out_len || in != c.in_len || out + in > VQ_MAX_CHAIN_BYTES)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gm_view view;
	uint64_t desc, avail, used;
	uint16_t qsize, start;
	bool event_idx;
	unsigned budget;
	size_t n;

	if (size < HDR)
		return 0;
	if (!fm.area) {
		const struct fake_region r[] = { { 0, REGION }, { HIGH, REGION } };

		if (fakemem_init(&fm, r, 2))
			abort();
	}
	qsize = (uint16_t)(1u << (data[0] & 7));
	event_idx = data[0] & 0x80;
	desc = gpa_of(u16(data + 1));
	avail = gpa_of(u16(data + 3));
	used = gpa_of(u16(data + 5));
	if (!(data[0] & 0x40)) {
		desc = align_down(desc, VRING_DESC_ALIGN_SIZE);
		avail = align_down(avail, VRING_AVAIL_ALIGN_SIZE);
		used = align_down(used, VRING_USED_ALIGN_SIZE);
	}
	view = gm_view_all(&fm.mem);
	if (u16(data + 9)) {
		view.base = (uint64_t)u16(data + 7) * 2 % (HIGH + REGION);
		view.size = (uint64_t)u16(data + 9) * 2;
	}
	start = u16(data + 11);

	/* RAM image. */
	memset(fm.mem.region[0].host, 0, REGION);
	memset(fm.mem.region[1].host, 0, REGION);
	data += HDR;
	size -= HDR;
	n = size < REGION ? size : REGION;
	memcpy(fm.mem.region[0].host, data, n);
	if (size > REGION)
		memcpy(fm.mem.region[1].host, data + REGION, size - REGION < REGION ? size - REGION : REGION);

	fence_view(&view, true);
	if (vq_enable(&q, &view, qsize, desc, avail, used, event_idx) == 0) {
		/* A queue that has been running for a while. */
		q.last_avail = q.used_idx = start;
		budget = 4u * qsize + 16;
		while (budget--) {
			int r = vq_pop(&q, &c);

			if (r < 0) {
				if (q.error != r || vq_pop(&q, &c) != r || vq_push(&q, 0, 0) != r)
					abort();
				break;
			}
			if (r == 0) {
				if (!vq_set_avail_event(&q))
					break;
				continue;
			}
			check_chain(&view, data[-1]);
			if (vq_push(&q, c.head, c.in_len))
				abort();
			if (le16toh(q.used->idx) != q.used_idx)
				abort();
			(void)vq_needs_notify(&q);
		}
	}
	vq_reset(&q);
	fence_view(&view, false);
	return 0;
}
