/* SPDX-License-Identifier: MIT */
/* Init channel: FDT message framing and decoding, good and hostile. */
#include <check.h>
#include <errno.h>
#include <libfdt.h>
#include <string.h>
#include "tests/unit/suites.h"
#include "vmm/initchan.h"

static uint8_t blob[4096];
static struct initchan_msg got[4];
static unsigned ngot;
static char err[256];

static void cb(void *ctx, const struct initchan_msg *m)
{
	(void)ctx;
	if (ngot < 4)
		got[ngot] = *m;
	ngot++;
}

/* guest-capabilities with an extra unknown property; returns its size. */
static size_t caps(uint8_t *b, size_t len, uint64_t base, uint64_t size)
{
	ck_assert_int_eq(fdt_create(b, (int)len), 0);
	ck_assert_int_eq(fdt_finish_reservemap(b), 0);
	ck_assert_int_eq(fdt_begin_node(b, ""), 0);
	ck_assert_int_eq(fdt_property_string(b, "message", "guest-capabilities"), 0);
	ck_assert_int_eq(fdt_property_u64(b, "swiotlb-base", base), 0);
	ck_assert_int_eq(fdt_property_u64(b, "swiotlb-size", size), 0);
	ck_assert_int_eq(fdt_property_string(b, "kernel-release", "6.12.117-aperture"), 0);
	ck_assert_int_eq(fdt_property_u32(b, "some-future-field", 7), 0);
	ck_assert_int_eq(fdt_end_node(b), 0);
	ck_assert_int_eq(fdt_finish(b), 0);
	return fdt_totalsize(b);
}

static size_t one_prop(uint8_t *b, const char *msg, const char *name, const void *val, int vlen)
{
	fdt_create(b, 4096);
	fdt_finish_reservemap(b);
	fdt_begin_node(b, "");
	fdt_property_string(b, "message", msg);
	if (name)
		fdt_property(b, name, val, vlen);
	fdt_end_node(b);
	fdt_finish(b);
	return fdt_totalsize(b);
}

START_TEST(initchan_caps_whole_and_bytewise)
{
	static struct initchan_parser p;
	size_t n = caps(blob, sizeof(blob), 0x8000000, 64 << 20);

	ngot = 0;
	initchan_parser_init(&p);
	ck_assert_int_eq(initchan_feed(&p, blob, n, cb, NULL, err, sizeof(err)), 0);
	ck_assert_uint_eq(ngot, 1);
	ck_assert_int_eq(got[0].type, MSG_GUEST_CAPABILITIES);
	ck_assert_uint_eq(got[0].swiotlb_base, 0x8000000);
	ck_assert_uint_eq(got[0].swiotlb_size, 64 << 20);
	ck_assert_str_eq(got[0].kernel_release, "6.12.117-aperture");
	/* One byte at a time, two messages back to back. */
	ngot = 0;
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < n; i++)
			ck_assert_int_eq(initchan_feed(&p, blob + i, 1, cb, NULL, err, sizeof(err)), 0);
	ck_assert_uint_eq(ngot, 2);
	ck_assert_uint_eq(got[1].swiotlb_size, 64 << 20);
}
END_TEST

START_TEST(initchan_exit_status_and_unknown)
{
	struct initchan_msg m;
	uint32_t st = cpu_to_fdt32(7), big = cpu_to_fdt32(256);
	size_t n;

	n = one_prop(blob, "exit-status", "status", &st, 4);
	ck_assert_int_eq(initchan_decode(blob, n, &m, err, sizeof(err)), 0);
	ck_assert_int_eq(m.type, MSG_EXIT_STATUS);
	ck_assert_uint_eq(m.status, 7);
	n = one_prop(blob, "exit-status", "status", &big, 4);
	ck_assert_int_eq(initchan_decode(blob, n, &m, err, sizeof(err)), -EBADMSG);
	n = one_prop(blob, "what-is-this", NULL, NULL, 0);
	ck_assert_int_eq(initchan_decode(blob, n, &m, err, sizeof(err)), 0);
	ck_assert_int_eq(m.type, MSG_UNKNOWN);
}
END_TEST

START_TEST(initchan_hostile)
{
	static struct initchan_parser p;
	struct initchan_msg m;
	uint8_t three[3] = { 1, 2, 3 };
	size_t n;

	/* Required property missing. */
	n = one_prop(blob, "exit-status", NULL, NULL, 0);
	ck_assert_int_eq(initchan_decode(blob, n, &m, err, sizeof(err)), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err, "status"));
	/* Integer of a wrong width. */
	n = one_prop(blob, "exit-status", "status", three, 3);
	ck_assert_int_eq(initchan_decode(blob, n, &m, err, sizeof(err)), -EBADMSG);
	/* A string without its NUL. */
	n = one_prop(blob, "boot-mark", "mark", "abc", 3);
	ck_assert_int_eq(initchan_decode(blob, n, &m, err, sizeof(err)), -EBADMSG);
	/* `message` that is not a string. */
	{
		fdt32_t v = cpu_to_fdt32(1);

		fdt_create(blob, 4096);
		fdt_finish_reservemap(blob);
		fdt_begin_node(blob, "");
		fdt_property(blob, "message", &v, 4);
		fdt_end_node(blob);
		fdt_finish(blob);
		ck_assert_int_eq(initchan_decode(blob, fdt_totalsize(blob), &m, err, sizeof(err)), -EBADMSG);
	}
	/* Bad magic on the stream. */
	n = caps(blob, sizeof(blob), 0, 0);
	blob[0] ^= 0xFF;
	initchan_parser_init(&p);
	ck_assert_int_eq(initchan_feed(&p, blob, n, cb, NULL, err, sizeof(err)), -EBADMSG);
	/* A header declaring more than the cap, or less than a header. */
	n = caps(blob, sizeof(blob), 0, 0);
	((struct fdt_header *)(void *)blob)->totalsize = cpu_to_fdt32(INITCHAN_MAX_MSG + 1);
	initchan_parser_init(&p);
	ck_assert_int_eq(initchan_feed(&p, blob, n, cb, NULL, err, sizeof(err)), -EMSGSIZE);
	((struct fdt_header *)(void *)blob)->totalsize = cpu_to_fdt32(16);
	initchan_parser_init(&p);
	ck_assert_int_eq(initchan_feed(&p, blob, n, cb, NULL, err, sizeof(err)), -EMSGSIZE);
	/* Truncated structure: totalsize fine, strings offset pointing outside. */
	n = caps(blob, sizeof(blob), 0, 0);
	((struct fdt_header *)(void *)blob)->off_dt_strings = cpu_to_fdt32((uint32_t)n + 100);
	ck_assert_int_eq(initchan_decode(blob, n, &m, err, sizeof(err)), -EBADMSG);
	/* Framed length not the declared one. */
	n = caps(blob, sizeof(blob), 0, 0);
	ck_assert_int_eq(initchan_decode(blob, n + 8, &m, err, sizeof(err)), -EBADMSG);
}
END_TEST

/*
 * Issue 9, defect 1: a header declaring totalsize 0 (or > 64 KiB), then more
 * data on the same stream. The parser must refuse everything after its first
 * error (sticky) and never write past its buffer: a canary right behind the
 * parser catches an overflow even without AddressSanitizer.
 */
START_TEST(initchan_error_is_sticky)
{
	static struct {
		struct initchan_parser p;
		uint8_t canary[128 * 1024];
	} s;
	static uint8_t junk[70000];
	static const uint32_t sizes[] = { 0, 40, 65537, 0xFFFFFFFF };

	for (unsigned k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct fdt_header h;
		int r;

		memset(s.canary, 0xA5, sizeof(s.canary));
		memset(junk, 'x', sizeof(junk));
		memset(&h, 0, sizeof(h));
		h.magic = cpu_to_fdt32(FDT_MAGIC);
		h.totalsize = cpu_to_fdt32(sizes[k]);
		ngot = 0;
		initchan_parser_init(&s.p);
		r = initchan_feed(&s.p, (const uint8_t *)&h, sizeof(h), cb, NULL, err, sizeof(err));
		ck_assert_int_lt(r, 0);
		/* The guest goes on sending on the same connection. */
		for (unsigned i = 0; i < 3; i++)
			ck_assert_int_eq(initchan_feed(&s.p, junk, sizeof(junk), cb, NULL, err, sizeof(err)), r);
		/* Even a good message is refused now: the stream is dead. */
		ck_assert_int_eq(initchan_feed(&s.p, blob, caps(blob, sizeof(blob), 0, 0), cb, NULL, err, sizeof(err)),
				 r);
		ck_assert_uint_eq(ngot, 0);
		ck_assert_uint_le(s.p.len, INITCHAN_MAX_MSG);
		for (size_t i = 0; i < sizeof(s.canary); i++)
			ck_assert_msg(s.canary[i] == 0xA5, "parser wrote past its buffer (byte %zu)", i);
	}
	/* The same after a decode error (a whole but malformed message). */
	initchan_parser_init(&s.p);
	{
		size_t n = one_prop(blob, "exit-status", "status", "abc", 3);
		int r = initchan_feed(&s.p, blob, n, cb, NULL, err, sizeof(err));

		ck_assert_int_eq(r, -EBADMSG);
		ck_assert_int_eq(initchan_feed(&s.p, blob, caps(blob, sizeof(blob), 0, 0), cb, NULL, err, sizeof(err)),
				 r);
	}
}
END_TEST

START_TEST(initchan_devices_ready_roundtrip)
{
	struct initchan_device d[2] = {
		{ .kind = "virtio-rng", .slot = 2 },
		{ .kind = "virtio-fs", .slot = 3, .tag = "share", .mount = "/mnt/share", .read_only = true,
		  .aperture_base = 0x8000000, .aperture_size = 0x200000 },
	};
	struct initchan_msg m;
	long n = initchan_build_devices_ready(blob, sizeof(blob), d, 2, "echo hi");

	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(initchan_decode(blob, (size_t)n, &m, err, sizeof(err)), 0);
	ck_assert_int_eq(m.type, MSG_DEVICES_READY);
	ck_assert_uint_eq(m.ndevices, 2);
	ck_assert_int_eq(fdt_subnode_offset(blob, 0, "device@3") >= 0, 1);
	/* read-only: an empty property on the share's node only */
	{
		int l = -1;

		ck_assert_ptr_nonnull(fdt_getprop(blob, fdt_subnode_offset(blob, 0, "device@3"), "read-only", &l));
		ck_assert_int_eq(l, 0);
		ck_assert_ptr_null(fdt_getprop(blob, fdt_subnode_offset(blob, 0, "device@2"), "read-only", &l));
	}
	{
		int l;
		const char *e = fdt_getprop(blob, 0, "exec", &l);

		ck_assert_ptr_nonnull(e);
		ck_assert_str_eq(e, "echo hi");
	}
	ck_assert_int_eq(initchan_build_devices_ready(blob, 64, d, 2, NULL), -E2BIG);
}
END_TEST

Suite *initchan_suite(void)
{
	Suite *s = suite_create("initchan");
	TCase *t = tcase_create("fdt");

	tcase_add_test(t, initchan_caps_whole_and_bytewise);
	tcase_add_test(t, initchan_exit_status_and_unknown);
	tcase_add_test(t, initchan_hostile);
	tcase_add_test(t, initchan_error_is_sticky);
	tcase_add_test(t, initchan_devices_ready_roundtrip);
	suite_add_tcase(s, t);
	return s;
}
