/* SPDX-License-Identifier: MIT */
/*
 * Byte ranges over lists of iovecs, and cursors that walk them.
 *
 * A device gets a descriptor chain as iovecs the chain iterator already
 * checked against its view (devices/virtqueue.h): the readable part and the
 * writable part. These helpers touch only the iovecs they are given and
 * never more bytes than those hold, so the only way to reach guest memory
 * through them is through memory a view let through.
 *
 * Cursors (the shape of crosvm's descriptor_utils Reader/Writer): a device
 * reads its request with iov_read() object by object, or writes its reply
 * with iov_write(), instead of tracking offsets by hand. A cursor has a
 * limit (bytes left); iov_cursor_split() cuts one in two at a byte count,
 * e.g. a FUSE request's fixed header from its payload. Every operation is
 * all or nothing: a read that would run past the limit consumes nothing and
 * returns false, so "the guest's buffer was too short" is one check.
 */
#ifndef APERTURE_LIB_IOV_H
#define APERTURE_LIB_IOV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>
#include "lib/util.h"

/* Sum of the lengths of iov[0..n) (callers keep it below SIZE_MAX: chains are capped at 1 GiB). */
size_t iov_total(const struct iovec *iov, unsigned n);
/* Copy [off, off+len) of the iovecs into dst; false (dst partly written) when they end first. */
bool iov_gather(const struct iovec *iov, unsigned n, size_t off, void *dst, size_t len);
/* Copy src into [off, off+len) of the iovecs; false (partly written) when they end first. */
bool iov_scatter(const struct iovec *iov, unsigned n, size_t off, const void *src, size_t len);
/*
 * Describe [off, off+len) of the iovecs as at most `max` iovecs in sub[]
 * (for preadv/pwritev straight on guest buffers); returns how many, or -1
 * when the range is not all there or needs more than `max`.
 */
int iov_sub(const struct iovec *iov, unsigned n, size_t off, size_t len, struct iovec *sub, unsigned max);

struct iov_cursor {
	const struct iovec *iov; /* current segment */
	unsigned n;              /* segments from iov on */
	size_t off;              /* bytes of *iov already consumed */
	size_t left;             /* bytes this cursor may still consume (its limit) */
};

/* A cursor over all of iov[0..n). */
void iov_cursor_init(struct iov_cursor *c, const struct iovec *iov, unsigned n);
static inline size_t iov_cursor_left(const struct iov_cursor *c) { return c->left; }
/* Copy the next len bytes into dst and advance; false, nothing consumed, if fewer are left. */
bool iov_read(struct iov_cursor *c, void *dst, size_t len) must_check;
/* Copy src into the next len bytes and advance; false, nothing written, if fewer are left. */
bool iov_write(struct iov_cursor *c, const void *src, size_t len) must_check;
/* Advance by len bytes; false, nothing consumed, if fewer are left. */
bool iov_skip(struct iov_cursor *c, size_t len) must_check;
/*
 * The next len bytes as at most max iovecs in sub[] (pointers into the same
 * buffers), then advance. Returns the count, or -1 (nothing consumed) when
 * fewer than len bytes are left or they span more than max segments.
 */
int iov_take(struct iov_cursor *c, size_t len, struct iovec *sub, unsigned max) must_check;
/*
 * Split at len: *tail gets everything after the first len bytes and c keeps
 * only those len bytes. false (both unchanged) if fewer than len are left.
 */
bool iov_split(struct iov_cursor *c, size_t len, struct iov_cursor *tail) must_check;

#define iov_read_obj(c, p) iov_read((c), (p), sizeof(*(p)))
#define iov_write_obj(c, p) iov_write((c), (p), sizeof(*(p)))

#endif
