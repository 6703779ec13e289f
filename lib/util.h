/* SPDX-License-Identifier: MIT */
/* Small helpers shared by every module: cleanup attributes, checked math. */
#ifndef APERTURE_UTIL_H
#define APERTURE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define must_check __attribute__((warn_unused_result))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define SZ_1K 0x400ULL
#define SZ_1M 0x100000ULL
#define SZ_2M 0x200000ULL
#define SZ_1G 0x40000000ULL
#define SZ_4G 0x100000000ULL

static inline void cleanup_freep(void *p) { free(*(void **)p); }
static inline void cleanup_closep(int *fd) { if (*fd >= 0) close(*fd); }
#define cleanup_free __attribute__((cleanup(cleanup_freep)))
#define cleanup_close __attribute__((cleanup(cleanup_closep)))

static inline bool is_aligned(uint64_t v, uint64_t a) { return (v & (a - 1)) == 0; }
static inline uint64_t align_down(uint64_t v, uint64_t a) { return v & ~(a - 1); }
static inline uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

/* [a, a+alen) and [b, b+blen) overlap; lengths must not wrap (callers check). */
static inline bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/*
 * Parse a size with an optional binary suffix: "512M", "2G", "4096", "64KiB".
 * Returns 0 and stores bytes, or -EINVAL (malformed) / -ERANGE (overflow).
 */
int parse_size(const char *s, uint64_t *out) must_check;
/* Parse a decimal unsigned integer in [min, max]; -EINVAL or -ERANGE. */
int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out) must_check;

/* Read a whole file into a malloc'd buffer (at most max bytes); -errno. */
int read_file(const char *path, size_t max, uint8_t **buf, size_t *len) must_check;

/*
 * The error convention (docs/architecture.md): a fallible function returns
 * a negative errno; where the caller needs words for the user it also
 * passes a buffer, and the function fills it with one line naming what it
 * refused. err_set() writes that line and returns `ret`, so a check is one
 * statement:  return err_set(err, errlen, -EINVAL, "header %s ...", x);
 */
int err_set(char *err, size_t errlen, int ret, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Nanoseconds of CLOCK_MONOTONIC. */
uint64_t now_ns(void);

#endif
