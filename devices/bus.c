/* SPDX-License-Identifier: MIT */
#include "devices/bus.h"

#include <errno.h>
#include <string.h>

int bus_register(struct bus *b, uint64_t base, uint64_t len, bus_io_fn fn, void *opaque, const char *name)
{
	if (len == 0 || base + len < base)
		return -EINVAL;
	for (unsigned i = 0; i < b->n; i++)
		if (ranges_overlap(base, len, b->h[i].base, b->h[i].len))
			return -EBUSY;
	if (b->n == BUS_MAX_HANDLERS)
		return -ENOSPC;
	b->h[b->n++] = (struct bus_handler){ base, len, fn, opaque, name };
	return 0;
}

bool bus_dispatch(const struct bus *b, uint64_t addr, uint8_t *data, unsigned size, bool is_write)
{
	for (unsigned i = 0; i < b->n; i++) {
		const struct bus_handler *h = &b->h[i];

		/* The whole access must fall inside one device's range. */
		if (addr >= h->base && addr - h->base < h->len && size <= h->len - (addr - h->base)) {
			h->fn(h->opaque, addr - h->base, data, size, is_write);
			return true;
		}
	}
	if (!is_write)
		memset(data, 0xFF, size);
	return false;
}
