/* SPDX-License-Identifier: MIT */
/* lib/ratelimit.c token buckets and lib/log.c log_escape(). */
#include <check.h>
#include <string.h>
#include "lib/log.h"
#include "lib/ratelimit.h"
#include "tests/unit/suites.h"

#define MS 1000000ULL

START_TEST(ratelimit_burst_then_rate)
{
	static struct ratelimit rl = RATELIMIT_INIT(3, 100);
	uint64_t t = 1000 * MS, sup = 99;

	for (int i = 0; i < 3; i++)
		ck_assert(ratelimit_pass_at(&rl, t, &sup));
	ck_assert_uint_eq(sup, 0);
	for (int i = 0; i < 1000; i++)
		ck_assert(!ratelimit_pass_at(&rl, t + (uint64_t)i * 10000, NULL));
	/* 100 ms later one token is back, and it reports what was turned away. */
	ck_assert(ratelimit_pass_at(&rl, t + 100 * MS, &sup));
	ck_assert_uint_eq(sup, 1000);
	ck_assert(!ratelimit_pass_at(&rl, t + 150 * MS, NULL));
	/* A long pause refills to the burst, never beyond. */
	t += 100000 * MS;
	ck_assert(ratelimit_pass_at(&rl, t, &sup));
	ck_assert_uint_eq(sup, 1);
	for (int i = 0; i < 2; i++)
		ck_assert(ratelimit_pass_at(&rl, t, &sup));
	ck_assert_uint_eq(sup, 0);
	ck_assert(!ratelimit_pass_at(&rl, t, NULL));
	ck_assert_uint_eq(rl.total_suppressed, 1002);
}
END_TEST

static uint64_t reported;
static void count(void *ctx, const char *site, uint64_t n)
{
	(void)ctx;
	ck_assert_ptr_nonnull(strstr(site, "test_ratelimit.c:"));
	reported += n;
}

START_TEST(ratelimit_report_at_exit)
{
	static struct ratelimit rl = RATELIMIT_INIT(1, 1000000);

	ratelimit_report(NULL, NULL); /* forget what other tests left */
	ck_assert(ratelimit_pass(&rl, NULL));
	for (int i = 0; i < 5; i++)
		ck_assert(!ratelimit_pass(&rl, NULL));
	reported = 0;
	ck_assert_uint_ge(ratelimit_report(count, NULL), 5);
	ck_assert_uint_eq(reported, 5);
	ck_assert_uint_eq(ratelimit_report(count, NULL), 0); /* reported once */
}
END_TEST

START_TEST(log_escape_guest_strings)
{
	char b[64];

	ck_assert_str_eq(log_escape(b, sizeof(b), "6.12.117-aperture"), "6.12.117-aperture");
	ck_assert_str_eq(log_escape(b, sizeof(b), "a\033[2Jb\r\n"), "a\\x1b[2Jb\\x0d\\x0a");
	ck_assert_str_eq(log_escape(b, sizeof(b), "q\"\\\xff"), "q\\x22\\x5c\\xff");
	/* Truncation never splits an escape and always terminates. */
	ck_assert_str_eq(log_escape(b, 6, "ab\033cd"), "ab");
	ck_assert_str_eq(log_escape(b, 7, "ab\033cd"), "ab\\x1b");
	ck_assert_str_eq(log_escape(b, 1, "abc"), "");
}
END_TEST

Suite *ratelimit_suite(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *t = tcase_create("ratelimit");

	tcase_add_test(t, ratelimit_burst_then_rate);
	tcase_add_test(t, ratelimit_report_at_exit);
	tcase_add_test(t, log_escape_guest_strings);
	suite_add_tcase(s, t);
	return s;
}
