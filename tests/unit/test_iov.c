/* SPDX-License-Identifier: MIT */
/* lib/iov.c: iovec cursors (read, write, skip, take, split; all or nothing). */
#include <check.h>
#include <string.h>
#include "lib/iov.h"
#include "tests/unit/suites.h"

/* "abc" | "" | "de" | "fghij": 10 bytes over four segments, one empty. */
static char a[3], b[1], c[2], d[5];
static struct iovec v[4];

static void setup(void)
{
	memcpy(a, "abc", 3);
	memcpy(c, "de", 2);
	memcpy(d, "fghij", 5);
	v[0] = (struct iovec){ a, 3 };
	v[1] = (struct iovec){ b, 0 };
	v[2] = (struct iovec){ c, 2 };
	v[3] = (struct iovec){ d, 5 };
}

START_TEST(cursor_read_across_segments)
{
	struct iov_cursor cur;
	char out[11] = "";

	iov_cursor_init(&cur, v, 4);
	ck_assert_uint_eq(iov_cursor_left(&cur), 10);
	ck_assert(iov_read(&cur, out, 2));
	ck_assert(!memcmp(out, "ab", 2));
	ck_assert(iov_read(&cur, out, 4)); /* crosses the empty segment */
	ck_assert(!memcmp(out, "cdef", 4));
	ck_assert_uint_eq(iov_cursor_left(&cur), 4);
	ck_assert(!iov_read(&cur, out, 5)); /* all or nothing */
	ck_assert_uint_eq(iov_cursor_left(&cur), 4);
	ck_assert(iov_read(&cur, out, 4));
	ck_assert(!memcmp(out, "ghij", 4));
	ck_assert_uint_eq(iov_cursor_left(&cur), 0);
	ck_assert(iov_read(&cur, out, 0));
	ck_assert(!iov_read(&cur, out, 1));
}
END_TEST

START_TEST(cursor_write_and_skip)
{
	struct iov_cursor cur;

	iov_cursor_init(&cur, v, 4);
	ck_assert(iov_skip(&cur, 3));
	ck_assert(iov_write(&cur, "XYZ", 3));
	ck_assert(!memcmp(c, "XY", 2) && d[0] == 'Z');
	ck_assert(!iov_skip(&cur, 5));
	ck_assert(!iov_write(&cur, "12345", 5));
	ck_assert(d[1] == 'g'); /* nothing written on failure */
	ck_assert(iov_skip(&cur, 4));
	ck_assert(!iov_write(&cur, "1", 1));
}
END_TEST

START_TEST(cursor_split_limits_head)
{
	struct iov_cursor head, tail;
	char out[8];
	uint32_t x;

	iov_cursor_init(&head, v, 4);
	ck_assert(!iov_split(&head, 11, &tail));
	ck_assert(iov_split(&head, 4, &tail));
	ck_assert_uint_eq(iov_cursor_left(&head), 4);
	ck_assert_uint_eq(iov_cursor_left(&tail), 6);
	ck_assert(!iov_read(&head, out, 5)); /* the head ends at the split */
	ck_assert(iov_read_obj(&head, &x));
	ck_assert(!memcmp(&x, "abcd", 4));
	ck_assert(iov_read(&tail, out, 6));
	ck_assert(!memcmp(out, "efghij", 6));
}
END_TEST

START_TEST(cursor_take)
{
	struct iov_cursor cur;
	struct iovec sub[4];

	iov_cursor_init(&cur, v, 4);
	ck_assert(iov_skip(&cur, 1));
	ck_assert_int_eq(iov_take(&cur, 5, sub, 1), -1); /* needs 3 segments */
	ck_assert_uint_eq(iov_cursor_left(&cur), 9);
	ck_assert_int_eq(iov_take(&cur, 5, sub, 4), 3);
	ck_assert_ptr_eq(sub[0].iov_base, a + 1);
	ck_assert_uint_eq(sub[0].iov_len, 2);
	ck_assert_ptr_eq(sub[1].iov_base, c);
	ck_assert_uint_eq(sub[2].iov_len, 1);
	ck_assert_int_eq(iov_take(&cur, 5, sub, 4), -1);
	ck_assert_int_eq(iov_take(&cur, 4, sub, 4), 1);
	ck_assert_ptr_eq(sub[0].iov_base, d + 1);
}
END_TEST

START_TEST(cursor_empty)
{
	struct iov_cursor cur;
	char x;

	iov_cursor_init(&cur, v + 1, 1);
	ck_assert_uint_eq(iov_cursor_left(&cur), 0);
	ck_assert(!iov_read(&cur, &x, 1));
	iov_cursor_init(&cur, NULL, 0);
	ck_assert(iov_skip(&cur, 0));
}
END_TEST

Suite *iov_suite(void)
{
	Suite *s = suite_create("iov");
	TCase *tc = tcase_create("cursor");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, cursor_read_across_segments);
	tcase_add_test(tc, cursor_write_and_skip);
	tcase_add_test(tc, cursor_split_limits_head);
	tcase_add_test(tc, cursor_take);
	tcase_add_test(tc, cursor_empty);
	suite_add_tcase(s, tc);
	return s;
}
