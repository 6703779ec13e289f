/* SPDX-License-Identifier: MIT */
#include "lib/iov.h"

#include <stdint.h>
#include <string.h>

size_t iov_total(const struct iovec *iov, unsigned n)
{
	size_t t = 0;

	for (unsigned i = 0; i < n; i++)
		t += iov[i].iov_len;
	return t;
}

static bool iov_copy(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len, bool to_iov)
{
	uint8_t *b = buf;

	for (unsigned i = 0; i < n && len; i++) {
		size_t l = iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l -= off;
		if (l > len)
			l = len;
		if (to_iov)
			memcpy((uint8_t *)iov[i].iov_base + off, b, l);
		else
			memcpy(b, (const uint8_t *)iov[i].iov_base + off, l);
		b += l;
		len -= l;
		off = 0;
	}
	return len == 0;
}

bool iov_gather(const struct iovec *iov, unsigned n, size_t off, void *dst, size_t len)
{
	return iov_copy(iov, n, off, dst, len, false);
}

bool iov_scatter(const struct iovec *iov, unsigned n, size_t off, const void *src, size_t len)
{
	return iov_copy(iov, n, off, (void *)src, len, true);
}

int iov_sub(const struct iovec *iov, unsigned n, size_t off, size_t len, struct iovec *sub, unsigned max)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n && len; i++) {
		size_t l = iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l -= off;
		if (l > len)
			l = len;
		if (k == max)
			return -1;
		sub[k++] = (struct iovec){ (uint8_t *)iov[i].iov_base + off, l };
		len -= l;
		off = 0;
	}
	return len ? -1 : (int)k;
}

/* ---- cursors ---- */

void iov_cursor_init(struct iov_cursor *c, const struct iovec *iov, unsigned n)
{
	c->iov = iov;
	c->n = n;
	c->off = 0;
	c->left = iov_total(iov, n);
}

/* Move forward len bytes (the caller checked len <= c->left). */
static void advance(struct iov_cursor *c, size_t len)
{
	c->left -= len;
	while (c->n) {
		size_t here = c->iov->iov_len - c->off;

		if (len < here) {
			c->off += len;
			return;
		}
		len -= here;
		c->iov++;
		c->n--;
		c->off = 0;
		if (!len && (!c->n || c->iov->iov_len))
			return;
	}
}

bool iov_read(struct iov_cursor *c, void *dst, size_t len)
{
	if (len > c->left || !iov_gather(c->iov, c->n, c->off, dst, len))
		return false;
	advance(c, len);
	return true;
}

bool iov_write(struct iov_cursor *c, const void *src, size_t len)
{
	if (len > c->left || !iov_scatter(c->iov, c->n, c->off, src, len))
		return false;
	advance(c, len);
	return true;
}

bool iov_skip(struct iov_cursor *c, size_t len)
{
	if (len > c->left)
		return false;
	advance(c, len);
	return true;
}

int iov_take(struct iov_cursor *c, size_t len, struct iovec *sub, unsigned max)
{
	int k;

	if (len > c->left)
		return -1;
	k = iov_sub(c->iov, c->n, c->off, len, sub, max);
	if (k >= 0)
		advance(c, len);
	return k;
}

bool iov_split(struct iov_cursor *c, size_t len, struct iov_cursor *tail)
{
	if (len > c->left)
		return false;
	*tail = *c;
	advance(tail, len);
	c->left = len;
	return true;
}
