/* SPDX-License-Identifier: MIT */
/*
 * devices/virtqueue.c on fake guest memory: enabling, popping good chains,
 * pushing, every adversarial chain a driver can build, and notification
 * suppression with and without event_idx. Guest RAM is surrounded by guard
 * pages, and the hostile buffers sit right at its edges: an access past what
 * gm_slice() allowed would crash the test instead of passing silently.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include "devices/virtqueue.h"
#include "tests/unit/fakemem.h"
#include "tests/unit/suites.h"

#define RAM 0x100000ULL   /* 1 MiB at guest-physical 0 */
#define RING 0x1000ULL    /* rings packed from here */
#define QSZ 8
#define BUF 0x10000ULL    /* data buffers */
#define TABLE 0x20000ULL  /* indirect tables */

static struct fakemem fm;
static struct fake_ring r;
static struct vq q;
static struct vq_chain c;

static void setup(void)
{
	fakemem_init_simple(&fm, RAM);
	fake_ring_layout(&r, &fm, QSZ, RING);
	memset(&q, 0xA5, sizeof(q)); /* vq_enable must not depend on prior contents */
	ck_assert_int_eq(fake_ring_enable(&r, &q, &fm.all, false), 0);
}

static void teardown(void)
{
	fakemem_destroy(&fm);
}

/* Re-lay the fixture ring with another size (or event_idx). */
static void relayout(uint16_t size, bool event_idx)
{
	fake_ring_layout(&r, &fm, size, RING);
	ck_assert_int_eq(fake_ring_enable(&r, &q, &fm.all, event_idx), 0);
}

/* The driver broke a rule: err now, err again, nothing consumed or used. */
static void expect_broken(int err)
{
	uint16_t last = q.last_avail;

	ck_assert_int_eq(vq_pop(&q, &c), err);
	ck_assert_int_eq(q.error, err);
	ck_assert(q.why[0] != '\0');
	ck_assert_uint_eq(q.last_avail, last);
	ck_assert_int_eq(vq_pop(&q, &c), err);
	ck_assert_int_eq(vq_push(&q, 0, 0), err);
	ck_assert_uint_eq(fake_used_idx(&r), 0);
	ck_assert(!vq_needs_notify(&q));
}

static void expect_seg(unsigned i, uint64_t gpa, uint32_t len)
{
	ck_assert_ptr_eq(c.iov[i].iov_base, fake_host(&fm, gpa, len));
	ck_assert_uint_eq(c.iov[i].iov_len, len);
	ck_assert_uint_eq(c.gpa[i], gpa);
}

/* ---- vq_enable ---- */

START_TEST(enable_sizes)
{
	static const uint16_t bad[] = { 0, 3, 6, 12, 100, 0x7FFF, 0x8001, 0xC000, 0xFFFF };

	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		ck_assert_int_eq(vq_enable(&q, &fm.all, bad[i], 0x0, 0x80000, 0xC0000, false), -EINVAL);
		ck_assert(!q.ready);
	}
	/* Every power of two up to the maximum; 32768 just fits in 1 MiB. */
	for (uint32_t s = 1; s <= VQ_MAX_SIZE; s <<= 1) {
		uint64_t avail = fake_desc_bytes((uint16_t)s), used = align_up(avail + fake_avail_bytes((uint16_t)s), 4);

		ck_assert_int_eq(vq_enable(&q, &fm.all, (uint16_t)s, 0, avail, used, true), 0);
		ck_assert(q.ready);
		ck_assert_uint_eq(q.size, s);
	}
}
END_TEST

START_TEST(enable_alignment)
{
	ck_assert_int_eq(vq_enable(&q, &fm.all, QSZ, r.desc + 8, r.avail, r.used, false), -EINVAL);
	ck_assert_int_eq(vq_enable(&q, &fm.all, QSZ, r.desc + 1, r.avail, r.used, false), -EINVAL);
	ck_assert_int_eq(vq_enable(&q, &fm.all, QSZ, r.desc, r.avail + 1, r.used, false), -EINVAL);
	ck_assert_int_eq(vq_enable(&q, &fm.all, QSZ, r.desc, r.avail, r.used + 2, false), -EINVAL);
	ck_assert(!q.ready);
	/* The minimum alignments are enough. */
	ck_assert_int_eq(vq_enable(&q, &fm.all, QSZ, 0x4010, 0x5002, 0x6004, true), 0);
	ck_assert_uint_eq(q.desc_gpa, 0x4010);
	ck_assert_uint_eq(q.avail_gpa, 0x5002);
	ck_assert_uint_eq(q.used_gpa, 0x6004);
	ck_assert_ptr_eq(q.desc, fake_host(&fm, 0x4010, 16));
	ck_assert_ptr_eq(q.avail, fake_host(&fm, 0x5002, 4));
	ck_assert_ptr_eq(q.used, fake_host(&fm, 0x6004, 4));
}
END_TEST

START_TEST(enable_outside_memory)
{
	const uint64_t d = RAM - 16 * QSZ, a = RAM - (4 + 2 * QSZ), u = RAM - (4 + 8 * QSZ);
	struct gm_view half = { .mem = &fm.mem, .base = 0, .size = RAM / 2 };

	/* Each ring ending exactly at the end of RAM is fine... */
	ck_assert_int_eq(vq_enable(&q, &fm.all, QSZ, d, r.avail, r.used, false), 0);
	ck_assert_int_eq(vq_enable(&q, &fm.all, QSZ, r.desc, a, r.used, false), 0);
	ck_assert_int_eq(vq_enable(&q, &fm.all, QSZ, r.desc, r.avail, u, false), 0);
	/* ...one descriptor, or one used element, further is not. */
	ck_assert_int_eq(vq_enable(&q, &fm.all, QSZ, d + 16, r.avail, r.used, false), -EINVAL);
	ck_assert_int_eq(vq_enable(&q, &fm.all, QSZ, r.desc, a + 2, r.used, false), -EINVAL);
	ck_assert_int_eq(vq_enable(&q, &fm.all, QSZ, r.desc, r.avail, u + 4, false), -EINVAL);
	/* With event_idx the trailers (used_event, avail_event) must fit too. */
	ck_assert_int_eq(vq_enable(&q, &fm.all, QSZ, r.desc, a, r.used, true), -EINVAL);
	ck_assert_int_eq(vq_enable(&q, &fm.all, QSZ, r.desc, r.avail, u, true), -EINVAL);
	ck_assert_int_eq(vq_enable(&q, &fm.all, QSZ, r.desc, a - 2, u - 4, true), 0); /* (overlapping: allowed) */
	/* Past RAM entirely, and wrapping the address space. */
	ck_assert_int_eq(vq_enable(&q, &fm.all, QSZ, RAM, r.avail, r.used, false), -EINVAL);
	ck_assert_int_eq(vq_enable(&q, &fm.all, QSZ, 0xFFFFFFFFFFFFFFF0ULL, r.avail, r.used, false), -EINVAL);
	ck_assert_int_eq(vq_enable(&q, &fm.all, QSZ, r.desc, 0xFFFFFFFFFFFFFFFEULL, r.used, false), -EINVAL);
	ck_assert_int_eq(vq_enable(&q, &fm.all, QSZ, r.desc, r.avail, 0xFFFFFFFFFFFFFFFCULL, false), -EINVAL);
	/* Inside RAM but outside the device's view. */
	ck_assert_int_eq(vq_enable(&q, &half, QSZ, RAM / 2 - 64, r.avail, r.used, false), -EINVAL);
	ck_assert_int_eq(vq_enable(&q, &half, QSZ, r.desc, r.avail, RAM / 2, false), -EINVAL);
	ck_assert_int_eq(vq_enable(&q, &half, QSZ, r.desc, r.avail, r.used, false), 0);
	ck_assert_int_eq(vq_enable(&q, NULL, QSZ, r.desc, r.avail, r.used, false), -EINVAL);
	/* A failed enable leaves the queue off: nothing to pop, nothing to push. */
	ck_assert(!q.ready);
	ck_assert_int_eq(vq_pop(&q, &c), 0);
	ck_assert_int_eq(vq_push(&q, 0, 0), -EINVAL);
	ck_assert(!vq_needs_notify(&q));
	ck_assert(!vq_set_avail_event(&q));
}
END_TEST

START_TEST(enable_two_regions)
{
	struct fakemem two;
	struct fake_region reg[] = { { 0, 0x10000 }, { 0x20000, 0x10000 } };

	ck_assert_int_eq(fakemem_init(&two, reg, 2), 0);
	/* A ring across the hole between the regions. */
	ck_assert_int_eq(vq_enable(&q, &two.all, 256, 0xF800, 0x21000, 0x22000, false), -EINVAL);
	ck_assert_int_eq(vq_enable(&q, &two.all, 256, 0x20000, 0x10000, 0x22000, false), -EINVAL);
	ck_assert_int_eq(vq_enable(&q, &two.all, 256, 0x20000, 0x21000, 0x22000, false), 0);
	ck_assert_ptr_eq(q.desc, two.mem.region[1].host);
	fakemem_destroy(&two);
}
END_TEST

/* ---- good chains ---- */

START_TEST(pop_empty)
{
	ck_assert_int_eq(vq_pop(&q, &c), 0);
	ck_assert_int_eq(q.error, 0);
}
END_TEST

START_TEST(pop_single)
{
	fake_desc(&r, 3, BUF, 100, 0, 0);
	fake_avail_push(&r, 3);
	ck_assert_int_eq(vq_pop(&q, &c), 1);
	ck_assert_uint_eq(c.head, 3);
	ck_assert_uint_eq(c.nr_out, 1);
	ck_assert_uint_eq(c.nr_in, 0);
	ck_assert_uint_eq(c.out_len, 100);
	ck_assert_uint_eq(c.in_len, 0);
	expect_seg(0, BUF, 100);
	ck_assert_uint_eq(q.last_avail, 1);
	ck_assert_int_eq(vq_pop(&q, &c), 0);
}
END_TEST

START_TEST(pop_out_in_chain)
{
	/* Descriptors 6, 7, 0: the chain wraps the table. */
	const struct fake_seg s[] = { { BUF, 16, false }, { BUF + 0x100, 32, false }, { BUF + 0x1000, 64, true } };

	fake_avail_push(&r, fake_chain(&r, 6, s, 3));
	ck_assert_int_eq(vq_pop(&q, &c), 1);
	ck_assert_uint_eq(c.head, 6);
	ck_assert_uint_eq(c.nr_out, 2);
	ck_assert_uint_eq(c.nr_in, 1);
	ck_assert_uint_eq(c.out_len, 48);
	ck_assert_uint_eq(c.in_len, 64);
	expect_seg(0, BUF, 16);
	expect_seg(1, BUF + 0x100, 32);
	expect_seg(2, BUF + 0x1000, 64);
}
END_TEST

START_TEST(pop_only_writable)
{
	const struct fake_seg s[] = { { BUF, 8, true }, { BUF + 8, 8, true } };

	fake_avail_push(&r, fake_chain(&r, 0, s, 2));
	ck_assert_int_eq(vq_pop(&q, &c), 1);
	ck_assert_uint_eq(c.nr_out, 0);
	ck_assert_uint_eq(c.nr_in, 2);
	ck_assert_uint_eq(c.in_len, 16);
	expect_seg(0, BUF, 8);
	expect_seg(1, BUF + 8, 8);
}
END_TEST

START_TEST(pop_zero_length_dropped)
{
	/* The empty buffers' addresses are wild: they must never be looked at. */
	fake_desc(&r, 0, BUF, 16, VRING_DESC_F_NEXT, 1);
	fake_desc(&r, 1, 0xFFFFFFFFFFFFFFFFULL, 0, VRING_DESC_F_NEXT, 2);
	fake_desc(&r, 2, RAM + 0x1000, 0, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 3);
	fake_desc(&r, 3, BUF + 0x100, 8, VRING_DESC_F_WRITE, 0);
	fake_avail_push(&r, 0);
	ck_assert_int_eq(vq_pop(&q, &c), 1);
	ck_assert_uint_eq(c.nr_out, 1);
	ck_assert_uint_eq(c.nr_in, 1);
	expect_seg(0, BUF, 16);
	expect_seg(1, BUF + 0x100, 8);
	/* A chain of nothing but an empty buffer is a valid, empty chain. */
	fake_desc(&r, 4, 0, 0, 0, 0);
	fake_avail_push(&r, 4);
	ck_assert_int_eq(vq_pop(&q, &c), 1);
	ck_assert_uint_eq(c.head, 4);
	ck_assert_uint_eq(c.nr_out + c.nr_in, 0);
}
END_TEST

START_TEST(pop_buffers_at_ram_edges)
{
	/* The first and the last byte of RAM are fine (the guards are next door). */
	fake_desc(&r, 0, 0, 1, VRING_DESC_F_NEXT, 1);
	fake_desc(&r, 1, RAM - 0x100, 0x100, VRING_DESC_F_WRITE, 0);
	fake_avail_push(&r, 0);
	ck_assert_int_eq(vq_pop(&q, &c), 1);
	expect_seg(0, 0, 1);
	expect_seg(1, RAM - 0x100, 0x100);
	memset(c.iov[1].iov_base, 0x5A, c.iov[1].iov_len);
}
END_TEST

START_TEST(pop_several_and_index_wrap)
{
	/* Start both sides just below 2^16: indices wrap while chains flow. */
	r.avail_idx = 0xFFFA;
	q.last_avail = 0xFFFA;
	q.used_idx = 0xFFFA;
	for (unsigned round = 0; round < 5 * QSZ; round++) {
		uint16_t head = (uint16_t)(round * 3 % QSZ);
		uint32_t id, len;

		fake_desc(&r, head, BUF + round * 0x10, 0x10 + round, VRING_DESC_F_WRITE, 0);
		fake_avail_push(&r, head);
		ck_assert_int_eq(vq_pop(&q, &c), 1);
		ck_assert_uint_eq(c.head, head);
		expect_seg(0, BUF + round * 0x10, 0x10 + round);
		ck_assert_int_eq(vq_push(&q, c.head, round), 0);
		ck_assert_uint_eq(fake_used_idx(&r), (uint16_t)(0xFFFA + round + 1));
		r.last_used = (uint16_t)(0xFFFA + round);
		ck_assert(fake_used_next(&r, &id, &len));
		ck_assert_uint_eq(id, head);
		ck_assert_uint_eq(len, round);
	}
	ck_assert_int_eq(vq_pop(&q, &c), 0);
}
END_TEST

START_TEST(pop_full_ring)
{
	/* avail->idx exactly size ahead: the ring is full, which is allowed. */
	for (uint16_t i = 0; i < QSZ; i++) {
		fake_desc(&r, i, BUF + i, 1, 0, 0);
		fake_avail_push(&r, i);
	}
	for (uint16_t i = 0; i < QSZ; i++) {
		ck_assert_int_eq(vq_pop(&q, &c), 1);
		ck_assert_uint_eq(c.head, i);
	}
	ck_assert_int_eq(vq_pop(&q, &c), 0);
}
END_TEST

START_TEST(pop_indirect)
{
	const struct fake_seg t[] = { { BUF, 12, false }, { BUF + 0x40, 0x200, true }, { BUF + 0x400, 4, true } };

	fake_indirect(&fm, TABLE, t, 3);
	/* WRITE on the descriptor that refers to the table is ignored. */
	fake_desc(&r, 2, TABLE, 3 * 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE, 0);
	fake_avail_push(&r, 2);
	ck_assert_int_eq(vq_pop(&q, &c), 1);
	ck_assert_uint_eq(c.head, 2);
	ck_assert_uint_eq(c.nr_out, 1);
	ck_assert_uint_eq(c.nr_in, 2);
	ck_assert_uint_eq(c.out_len, 12);
	ck_assert_uint_eq(c.in_len, 0x204);
	expect_seg(0, BUF, 12);
	expect_seg(1, BUF + 0x40, 0x200);
	expect_seg(2, BUF + 0x400, 4);
}
END_TEST

START_TEST(pop_direct_then_indirect)
{
	/* Spec 2.7.5.3.2: direct descriptors followed by one indirect one; the
	 * table need not be aligned, nor used to its end, nor in order. */
	const uint64_t tbl = TABLE + 3;

	fake_desc_at(&fm, tbl, 0, BUF + 0x100, 0x10, VRING_DESC_F_NEXT, 2);
	fake_desc_at(&fm, tbl, 1, 0xBAD, 0xBAD, VRING_DESC_F_INDIRECT, 0); /* never reached */
	fake_desc_at(&fm, tbl, 2, BUF + 0x200, 0x20, VRING_DESC_F_WRITE, 0);
	fake_desc(&r, 5, BUF, 8, VRING_DESC_F_NEXT, 1);
	fake_desc(&r, 1, tbl, 3 * 16, VRING_DESC_F_INDIRECT, 0);
	fake_avail_push(&r, 5);
	ck_assert_int_eq(vq_pop(&q, &c), 1);
	ck_assert_uint_eq(c.head, 5);
	ck_assert_uint_eq(c.nr_out, 2);
	ck_assert_uint_eq(c.nr_in, 1);
	expect_seg(0, BUF, 8);
	expect_seg(1, BUF + 0x100, 0x10);
	expect_seg(2, BUF + 0x200, 0x20);
}
END_TEST

START_TEST(pop_indirect_larger_than_queue)
{
	/* A 1-entry queue may carry a table of VQ_MAX_INDIRECT entries. */
	struct fake_seg t[VQ_MAX_INDIRECT];

	relayout(1, false);
	for (unsigned i = 0; i < VQ_MAX_INDIRECT; i++)
		t[i] = (struct fake_seg){ BUF + i, 1, i >= VQ_MAX_INDIRECT / 2 };
	fake_indirect(&fm, TABLE, t, VQ_MAX_INDIRECT);
	fake_desc(&r, 0, TABLE, VQ_MAX_INDIRECT * 16, VRING_DESC_F_INDIRECT, 0);
	fake_avail_push(&r, 0);
	ck_assert_int_eq(vq_pop(&q, &c), 1);
	ck_assert_uint_eq(c.nr_out, VQ_MAX_INDIRECT / 2);
	ck_assert_uint_eq(c.nr_in, VQ_MAX_INDIRECT / 2);
	expect_seg(VQ_MAX_INDIRECT - 1, BUF + VQ_MAX_INDIRECT - 1, 1);
}
END_TEST

START_TEST(pop_max_segments)
{
	relayout(2048, false);
	for (uint16_t i = 0; i < VQ_MAX_SEGS; i++)
		fake_desc(&r, i, BUF + i, 1, i + 1 < VQ_MAX_SEGS ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	fake_avail_push(&r, 0);
	ck_assert_int_eq(vq_pop(&q, &c), 1);
	ck_assert_uint_eq(c.nr_out, VQ_MAX_SEGS);
	ck_assert_uint_eq(c.out_len, VQ_MAX_SEGS);
}
END_TEST

/* ---- vq_push ---- */

START_TEST(push_used_ring)
{
	const struct fake_seg s[] = { { BUF, 4, false }, { BUF + 4, 4, true } };
	struct vring_used_elem e;

	fake_avail_push(&r, fake_chain(&r, 4, s, 2));
	fake_avail_push(&r, fake_chain(&r, 0, s, 1));
	ck_assert_int_eq(vq_pop(&q, &c), 1);
	ck_assert_uint_eq(c.head, 4);
	ck_assert_int_eq(vq_pop(&q, &c), 1);
	ck_assert_uint_eq(c.head, 0);
	/* Completion in any order. */
	ck_assert_int_eq(vq_push(&q, 0, 0), 0);
	ck_assert_int_eq(vq_push(&q, 4, 4), 0);
	ck_assert_uint_eq(fake_used_idx(&r), 2);
	ck_assert_uint_eq(q.used_idx, 2);
	e = fake_used_elem(&r, 0);
	ck_assert_uint_eq(e.id, 0);
	ck_assert_uint_eq(e.len, 0);
	e = fake_used_elem(&r, 1);
	ck_assert_uint_eq(e.id, 4);
	ck_assert_uint_eq(e.len, 4);
	ck_assert_uint_eq(fake_used_flags(&r), 0);
	/* A head outside the table is a device bug, refused without writing. */
	ck_assert_int_eq(vq_push(&q, QSZ, 1), -EINVAL);
	ck_assert_int_eq(vq_push(&q, 0xFFFF, 1), -EINVAL);
	ck_assert_uint_eq(fake_used_idx(&r), 2);
	ck_assert_int_eq(q.error, 0);
}
END_TEST

/* ---- adversarial chains ---- */

START_TEST(bad_loop)
{
	fake_desc(&r, 0, BUF, 1, VRING_DESC_F_NEXT, 1);
	fake_desc(&r, 1, BUF, 1, VRING_DESC_F_NEXT, 0);
	fake_avail_push(&r, 0);
	expect_broken(-ELOOP);
}
END_TEST

START_TEST(bad_self_loop_of_empty)
{
	/* Zero-length descriptors still count against the hop budget. */
	fake_desc(&r, 7, 0, 0, VRING_DESC_F_NEXT, 7);
	fake_avail_push(&r, 7);
	expect_broken(-ELOOP);
}
END_TEST

START_TEST(bad_next_beyond_size)
{
	fake_desc(&r, 0, BUF, 1, VRING_DESC_F_NEXT, QSZ);
	fake_avail_push(&r, 0);
	expect_broken(-EINVAL);
}
END_TEST

START_TEST(bad_head_beyond_size)
{
	fake_avail_push(&r, QSZ);
	expect_broken(-EINVAL);
}
END_TEST

START_TEST(bad_avail_idx_jump)
{
	for (uint16_t i = 0; i < QSZ; i++)
		fake_desc(&r, i, BUF, 1, 0, 0);
	fake_avail_set_idx(&r, QSZ + 1);
	expect_broken(-EINVAL);
}
END_TEST

START_TEST(bad_avail_idx_backwards)
{
	/* One behind is 0xFFFF ahead. */
	fake_desc(&r, 0, BUF, 1, 0, 0);
	fake_avail_push(&r, 0);
	ck_assert_int_eq(vq_pop(&q, &c), 1);
	fake_avail_set_idx(&r, 0);
	ck_assert_int_eq(vq_pop(&q, &c), -EINVAL);
	ck_assert_uint_eq(q.last_avail, 1);
}
END_TEST

START_TEST(bad_nested_indirect)
{
	fake_desc_at(&fm, TABLE + 0x100, 0, BUF, 1, 0, 0);
	fake_desc_at(&fm, TABLE, 0, BUF, 1, VRING_DESC_F_NEXT, 1);
	fake_desc_at(&fm, TABLE, 1, TABLE + 0x100, 16, VRING_DESC_F_INDIRECT, 0);
	fake_desc(&r, 0, TABLE, 32, VRING_DESC_F_INDIRECT, 0);
	fake_avail_push(&r, 0);
	expect_broken(-EINVAL);
}
END_TEST

START_TEST(bad_indirect_empty)
{
	fake_desc(&r, 0, TABLE, 0, VRING_DESC_F_INDIRECT, 0);
	fake_avail_push(&r, 0);
	expect_broken(-EINVAL);
}
END_TEST

START_TEST(bad_indirect_not_multiple_of_16)
{
	fake_desc_at(&fm, TABLE, 0, BUF, 1, 0, 0);
	fake_desc_at(&fm, TABLE, 1, BUF, 1, 0, 0);
	fake_desc(&r, 0, TABLE, 24, VRING_DESC_F_INDIRECT, 0);
	fake_avail_push(&r, 0);
	expect_broken(-EINVAL);
}
END_TEST

START_TEST(bad_indirect_with_next)
{
	fake_desc_at(&fm, TABLE, 0, BUF, 1, 0, 0);
	fake_desc(&r, 0, TABLE, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	fake_desc(&r, 1, BUF, 1, 0, 0);
	fake_avail_push(&r, 0);
	expect_broken(-EINVAL);
}
END_TEST

START_TEST(bad_indirect_too_large)
{
	fake_desc(&r, 0, TABLE, (VQ_MAX_INDIRECT + 1) * 16, VRING_DESC_F_INDIRECT, 0);
	fake_avail_push(&r, 0);
	expect_broken(-E2BIG);
}
END_TEST

START_TEST(bad_indirect_table_past_ram)
{
	/* The table's last entry would be the guard page. */
	fake_desc_at(&fm, RAM - 16, 0, BUF, 1, 0, 0);
	fake_desc(&r, 0, RAM - 16, 32, VRING_DESC_F_INDIRECT, 0);
	fake_avail_push(&r, 0);
	expect_broken(-EFAULT);
}
END_TEST

START_TEST(bad_indirect_table_wraps)
{
	fake_desc(&r, 0, 0xFFFFFFFFFFFFFFF0ULL, 32, VRING_DESC_F_INDIRECT, 0);
	fake_avail_push(&r, 0);
	expect_broken(-EFAULT);
}
END_TEST

START_TEST(bad_indirect_loop)
{
	fake_desc_at(&fm, TABLE, 0, BUF, 1, VRING_DESC_F_NEXT, 1);
	fake_desc_at(&fm, TABLE, 1, BUF, 1, VRING_DESC_F_NEXT, 0);
	fake_desc(&r, 0, TABLE, 32, VRING_DESC_F_INDIRECT, 0);
	fake_avail_push(&r, 0);
	expect_broken(-ELOOP);
}
END_TEST

START_TEST(bad_indirect_next_beyond_table)
{
	/* Entry 2 exists in memory but not in the table the driver described. */
	fake_desc_at(&fm, TABLE, 0, BUF, 1, VRING_DESC_F_NEXT, 2);
	fake_desc_at(&fm, TABLE, 1, BUF, 1, 0, 0);
	fake_desc_at(&fm, TABLE, 2, BUF, 1, 0, 0);
	fake_desc(&r, 0, TABLE, 32, VRING_DESC_F_INDIRECT, 0);
	fake_avail_push(&r, 0);
	expect_broken(-EINVAL);
}
END_TEST

START_TEST(bad_address_wraps)
{
	fake_desc(&r, 0, 0xFFFFFFFFFFFFF000ULL, 0x2000, 0, 0);
	fake_avail_push(&r, 0);
	expect_broken(-EFAULT);
}
END_TEST

START_TEST(bad_buffer_past_ram)
{
	fake_desc(&r, 0, BUF, 8, VRING_DESC_F_NEXT, 1);
	fake_desc(&r, 1, RAM - 8, 16, VRING_DESC_F_WRITE, 0);
	fake_avail_push(&r, 0);
	expect_broken(-EFAULT);
}
END_TEST

START_TEST(bad_buffer_outside_view)
{
	/* The device's aperture is the first half of RAM; the buffer is in RAM
	 * but in the other half. */
	struct gm_view half = { .mem = &fm.mem, .base = 0, .size = RAM / 2 };

	ck_assert_int_eq(fake_ring_enable(&r, &q, &half, false), 0);
	fake_desc(&r, 0, RAM / 2 - 4, 8, 0, 0);
	fake_avail_push(&r, 0);
	expect_broken(-EFAULT);
}
END_TEST

START_TEST(bad_indirect_outside_view)
{
	struct gm_view half = { .mem = &fm.mem, .base = 0, .size = RAM / 2 };

	ck_assert_int_eq(fake_ring_enable(&r, &q, &half, false), 0);
	fake_desc_at(&fm, RAM / 2, 0, BUF, 1, 0, 0);
	fake_desc(&r, 0, RAM / 2, 16, VRING_DESC_F_INDIRECT, 0);
	fake_avail_push(&r, 0);
	expect_broken(-EFAULT);
}
END_TEST

START_TEST(bad_buffer_across_regions)
{
	struct fakemem two;
	struct fake_region reg[] = { { 0, 0x10000 }, { 0x20000, 0x10000 } };
	struct fake_ring r2;

	ck_assert_int_eq(fakemem_init(&two, reg, 2), 0);
	fake_ring_layout(&r2, &two, QSZ, 0x1000);
	ck_assert_int_eq(fake_ring_enable(&r2, &q, &two.all, false), 0);
	/* A buffer in the second region is fine... */
	fake_desc(&r2, 0, 0x2FFF0, 0x10, 0, 0);
	fake_avail_push(&r2, 0);
	ck_assert_int_eq(vq_pop(&q, &c), 1);
	ck_assert_ptr_eq(c.iov[0].iov_base, two.mem.region[1].host + 0xFFF0);
	/* ...one from the end of the first into the hole is not. */
	fake_desc(&r2, 1, 0xFFF0, 0x20, 0, 0);
	fake_avail_push(&r2, 1);
	ck_assert_int_eq(vq_pop(&q, &c), -EFAULT);
	ck_assert_uint_eq(q.last_avail, 1);
	fakemem_destroy(&two);
}
END_TEST

START_TEST(bad_readable_after_writable)
{
	const struct fake_seg s[] = { { BUF, 4, false }, { BUF + 4, 4, true }, { BUF + 8, 4, false } };

	fake_avail_push(&r, fake_chain(&r, 0, s, 3));
	expect_broken(-EINVAL);
}
END_TEST

START_TEST(bad_readable_after_writable_indirect)
{
	/* The order holds across the switch into the indirect table. */
	fake_desc_at(&fm, TABLE, 0, BUF, 4, 0, 0);
	fake_desc(&r, 0, BUF + 8, 4, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	fake_desc(&r, 1, TABLE, 16, VRING_DESC_F_INDIRECT, 0);
	fake_avail_push(&r, 0);
	expect_broken(-EINVAL);
}
END_TEST

START_TEST(bad_readable_after_empty_writable)
{
	fake_desc(&r, 0, BUF, 0, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	fake_desc(&r, 1, BUF, 4, 0, 0);
	fake_avail_push(&r, 0);
	expect_broken(-EINVAL);
}
END_TEST

START_TEST(bad_too_many_segments)
{
	relayout(2048, false);
	for (uint16_t i = 0; i <= VQ_MAX_SEGS; i++)
		fake_desc(&r, i, BUF + i, 1, i < VQ_MAX_SEGS ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	fake_avail_push(&r, 0);
	expect_broken(-E2BIG);
}
END_TEST

START_TEST(bad_too_many_segments_indirect)
{
	/* One direct segment plus a full indirect table. */
	struct fake_seg t[VQ_MAX_INDIRECT];

	for (unsigned i = 0; i < VQ_MAX_INDIRECT; i++)
		t[i] = (struct fake_seg){ BUF + i, 1, false };
	fake_indirect(&fm, TABLE, t, VQ_MAX_INDIRECT);
	fake_desc(&r, 0, BUF, 1, VRING_DESC_F_NEXT, 1);
	fake_desc(&r, 1, TABLE, VQ_MAX_INDIRECT * 16, VRING_DESC_F_INDIRECT, 0);
	fake_avail_push(&r, 0);
	expect_broken(-E2BIG);
}
END_TEST

START_TEST(bad_single_huge_length)
{
	fake_desc(&r, 0, 0, 0xFFFFFFFF, VRING_DESC_F_WRITE, 0);
	fake_avail_push(&r, 0);
	expect_broken(-E2BIG);
}
END_TEST

START_TEST(broken_until_reset)
{
	fake_desc(&r, 0, BUF, 1, VRING_DESC_F_NEXT, 0);
	fake_avail_push(&r, 0);
	ck_assert_int_eq(vq_pop(&q, &c), -ELOOP);
	/* Repairing the ring does not repair the queue... */
	fake_desc(&r, 0, BUF, 1, 0, 0);
	ck_assert_int_eq(vq_pop(&q, &c), -ELOOP);
	ck_assert(!vq_set_avail_event(&q));
	/* ...a reset and a new enable do. */
	vq_reset(&q);
	ck_assert(!q.ready);
	ck_assert_int_eq(q.error, 0);
	ck_assert_int_eq(vq_pop(&q, &c), 0);
	ck_assert_int_eq(fake_ring_enable(&r, &q, &fm.all, false), 0);
	ck_assert_int_eq(vq_pop(&q, &c), 1);
}
END_TEST

/* ---- the length cap, on RAM large enough to hold 512 MiB buffers ---- */

#define HALF_GIB (VQ_MAX_CHAIN_BYTES / 2)

static void big_setup(void)
{
	fakemem_init_simple(&fm, HALF_GIB + SZ_1M);
	fake_ring_layout(&r, &fm, QSZ, RING);
	ck_assert_int_eq(fake_ring_enable(&r, &q, &fm.all, false), 0);
}

START_TEST(chain_bytes_at_cap)
{
	const struct fake_seg s[] = { { SZ_1M, HALF_GIB, false }, { SZ_1M, HALF_GIB, true } };

	fake_avail_push(&r, fake_chain(&r, 0, s, 2));
	ck_assert_int_eq(vq_pop(&q, &c), 1);
	ck_assert_uint_eq(c.out_len, HALF_GIB);
	ck_assert_uint_eq(c.in_len, HALF_GIB);
}
END_TEST

START_TEST(bad_chain_bytes_over_cap)
{
	const struct fake_seg s[] = { { SZ_1M, HALF_GIB, false }, { SZ_1M, HALF_GIB, false }, { BUF, 1, true } };

	fake_avail_push(&r, fake_chain(&r, 0, s, 3));
	expect_broken(-E2BIG);
}
END_TEST

START_TEST(bad_chain_bytes_wrap_32)
{
	/* Lengths whose 32-bit sum wraps to something small. */
	const struct fake_seg s[] = { { SZ_1M, HALF_GIB, false }, { 0, 0xFFFFFFF0u, false }, { 0, 0x20, false } };

	fake_avail_push(&r, fake_chain(&r, 0, s, 3));
	expect_broken(-E2BIG);
}
END_TEST

/* ---- notification suppression ---- */

static void push_one(uint16_t head)
{
	fake_desc(&r, head, BUF, 1, VRING_DESC_F_WRITE, 0);
	fake_avail_push(&r, head);
	ck_assert_int_eq(vq_pop(&q, &c), 1);
	ck_assert_int_eq(vq_push(&q, c.head, 1), 0);
}

START_TEST(notify_flags)
{
	push_one(0);
	ck_assert(vq_needs_notify(&q));
	fake_avail_set_flags(&r, VRING_AVAIL_F_NO_INTERRUPT);
	push_one(1);
	ck_assert(!vq_needs_notify(&q));
	fake_avail_set_flags(&r, 0);
	ck_assert(vq_needs_notify(&q));
	/* used_event means nothing without event_idx. */
	fake_set_used_event(&r, 0x1234);
	ck_assert(vq_needs_notify(&q));
}
END_TEST

START_TEST(notify_event_idx)
{
	relayout(QSZ, true);
	/* The flag means nothing with event_idx. */
	fake_avail_set_flags(&r, VRING_AVAIL_F_NO_INTERRUPT);
	/* used_event = 0: "interrupt me when entry 0 is used". */
	push_one(0);
	ck_assert(vq_needs_notify(&q));            /* the first decision always notifies */
	ck_assert(!vq_needs_notify(&q));           /* nothing new since */
	fake_set_used_event(&r, 1);
	push_one(1);                               /* used->idx 1 -> 2 crosses event 1 */
	ck_assert(vq_needs_notify(&q));
	push_one(2);                               /* 2 -> 3 does not */
	ck_assert(!vq_needs_notify(&q));
	fake_set_used_event(&r, 5);
	push_one(3);
	push_one(4);
	ck_assert(!vq_needs_notify(&q));           /* 3 -> 5 does not pass 5 */
	push_one(5);
	push_one(6);
	ck_assert(vq_needs_notify(&q));            /* 5 -> 7 does */
	/* Across the 16-bit wrap. */
	fake_set_used_event(&r, 0xFFFF);
	q.used_idx = 0xFFFE;
	q.signalled_used = 0xFFFE;
	push_one(7);
	ck_assert(!vq_needs_notify(&q));           /* 0xFFFE -> 0xFFFF */
	push_one(0);
	ck_assert(vq_needs_notify(&q));            /* 0xFFFF -> 0 */
}
END_TEST

START_TEST(avail_event)
{
	relayout(QSZ, true);
	ck_assert(!vq_set_avail_event(&q));
	ck_assert_uint_eq(fake_avail_event(&r), 0);
	fake_desc(&r, 0, BUF, 1, 0, 0);
	fake_avail_push(&r, 0);
	fake_avail_push(&r, 0);
	ck_assert(vq_set_avail_event(&q)); /* buffers are waiting: do not sleep */
	ck_assert_int_eq(vq_pop(&q, &c), 1);
	ck_assert_int_eq(vq_pop(&q, &c), 1);
	ck_assert_int_eq(vq_pop(&q, &c), 0);
	ck_assert(!vq_set_avail_event(&q));
	ck_assert_uint_eq(fake_avail_event(&r), 2);
}
END_TEST

START_TEST(avail_event_without_event_idx)
{
	/* The trailer is not ours to write without event_idx. */
	const uint16_t poison = 0xA5A5;
	uint64_t at = r.used + 4 + 8 * QSZ;

	fake_write(&fm, at, &poison, sizeof(poison));
	ck_assert(!vq_set_avail_event(&q));
	fake_desc(&r, 0, BUF, 1, 0, 0);
	fake_avail_push(&r, 0);
	ck_assert(vq_set_avail_event(&q));
	ck_assert_uint_eq(fake_avail_event(&r), poison);
}
END_TEST

/* ---- the fake memory itself: its guard pages are real ---- */

START_TEST(fakemem_guard_after)
{
	volatile uint8_t *p = fake_host(&fm, RAM - 1, 1);

	p[1] = 1; /* first byte of the guard page */
}
END_TEST

START_TEST(fakemem_guard_before)
{
	volatile uint8_t *p = fake_host(&fm, 0, 1);

	(void)p[-1];
}
END_TEST

START_TEST(fakemem_rejects)
{
	struct fakemem f;
	struct fake_region odd = { 0, 4097 }, unaligned = { 0x800, 4096 };
	struct fake_region order[] = { { 0x10000, 0x1000 }, { 0, 0x1000 } };

	ck_assert_int_eq(fakemem_init(&f, &odd, 1), -EINVAL);
	ck_assert_int_eq(fakemem_init(&f, &unaligned, 1), -EINVAL);
	ck_assert_int_eq(fakemem_init(&f, order, 2), -EINVAL);
	ck_assert_int_eq(fakemem_init(&f, order, 0), -EINVAL);
	ck_assert_int_eq(fakemem_init(&f, order, 3), -EINVAL);
	ck_assert_int_eq(f.mem.fd, -1);
	fakemem_destroy(&f);
}
END_TEST

Suite *virtqueue_suite(void)
{
	Suite *s = suite_create("virtqueue");
	TCase *t = tcase_create("enable");
	TCase *g = tcase_create("chains");
	TCase *b = tcase_create("adversarial");
	TCase *big = tcase_create("length cap");
	TCase *n = tcase_create("notify");
	TCase *f = tcase_create("fakemem");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, enable_sizes);
	tcase_add_test(t, enable_alignment);
	tcase_add_test(t, enable_outside_memory);
	tcase_add_test(t, enable_two_regions);
	suite_add_tcase(s, t);

	tcase_add_checked_fixture(g, setup, teardown);
	tcase_add_test(g, pop_empty);
	tcase_add_test(g, pop_single);
	tcase_add_test(g, pop_out_in_chain);
	tcase_add_test(g, pop_only_writable);
	tcase_add_test(g, pop_zero_length_dropped);
	tcase_add_test(g, pop_buffers_at_ram_edges);
	tcase_add_test(g, pop_several_and_index_wrap);
	tcase_add_test(g, pop_full_ring);
	tcase_add_test(g, pop_indirect);
	tcase_add_test(g, pop_direct_then_indirect);
	tcase_add_test(g, pop_indirect_larger_than_queue);
	tcase_add_test(g, pop_max_segments);
	tcase_add_test(g, push_used_ring);
	suite_add_tcase(s, g);

	tcase_add_checked_fixture(b, setup, teardown);
	tcase_add_test(b, bad_loop);
	tcase_add_test(b, bad_self_loop_of_empty);
	tcase_add_test(b, bad_next_beyond_size);
	tcase_add_test(b, bad_head_beyond_size);
	tcase_add_test(b, bad_avail_idx_jump);
	tcase_add_test(b, bad_avail_idx_backwards);
	tcase_add_test(b, bad_nested_indirect);
	tcase_add_test(b, bad_indirect_empty);
	tcase_add_test(b, bad_indirect_not_multiple_of_16);
	tcase_add_test(b, bad_indirect_with_next);
	tcase_add_test(b, bad_indirect_too_large);
	tcase_add_test(b, bad_indirect_table_past_ram);
	tcase_add_test(b, bad_indirect_table_wraps);
	tcase_add_test(b, bad_indirect_loop);
	tcase_add_test(b, bad_indirect_next_beyond_table);
	tcase_add_test(b, bad_address_wraps);
	tcase_add_test(b, bad_buffer_past_ram);
	tcase_add_test(b, bad_buffer_outside_view);
	tcase_add_test(b, bad_indirect_outside_view);
	tcase_add_test(b, bad_buffer_across_regions);
	tcase_add_test(b, bad_readable_after_writable);
	tcase_add_test(b, bad_readable_after_writable_indirect);
	tcase_add_test(b, bad_readable_after_empty_writable);
	tcase_add_test(b, bad_too_many_segments);
	tcase_add_test(b, bad_too_many_segments_indirect);
	tcase_add_test(b, bad_single_huge_length);
	tcase_add_test(b, broken_until_reset);
	suite_add_tcase(s, b);

	tcase_add_checked_fixture(big, big_setup, teardown);
	tcase_add_test(big, chain_bytes_at_cap);
	tcase_add_test(big, bad_chain_bytes_over_cap);
	tcase_add_test(big, bad_chain_bytes_wrap_32);
	suite_add_tcase(s, big);

	tcase_add_checked_fixture(n, setup, teardown);
	tcase_add_test(n, notify_flags);
	tcase_add_test(n, notify_event_idx);
	tcase_add_test(n, avail_event);
	tcase_add_test(n, avail_event_without_event_idx);
	suite_add_tcase(s, n);

	tcase_add_checked_fixture(f, setup, teardown);
	tcase_add_test_raise_signal(f, fakemem_guard_after, SIGSEGV);
	tcase_add_test_raise_signal(f, fakemem_guard_before, SIGSEGV);
	tcase_add_test(f, fakemem_rejects);
	suite_add_tcase(s, f);
	return s;
}
