/* SPDX-License-Identifier: MIT */
/*
 * Bus dispatch: a vCPU exit for port I/O or MMIO is routed to the
 * device that registered the address range. Registration happens before the
 * vCPUs start; dispatch is then lock-free and each device locks itself.
 */
#ifndef APERTURE_BUS_H
#define APERTURE_BUS_H

#include <stdbool.h>
#include <stdint.h>
#include "lib/util.h"

#define BUS_MAX_HANDLERS 32

/*
 * One access of `size` bytes (1, 2, 4 or 8) at `offset` from the start of
 * the registered range. For reads the handler fills data[0..size); for
 * writes it consumes it. Called from any vCPU thread.
 */
typedef void (*bus_io_fn)(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write);

struct bus_handler {
	uint64_t base;
	uint64_t len;
	bus_io_fn fn;
	void *opaque;
	const char *name;
};

struct bus {
	const char *name;
	unsigned n;
	struct bus_handler h[BUS_MAX_HANDLERS];
};

/* -EBUSY if the range overlaps one already registered, -ENOSPC if full. */
int bus_register(struct bus *b, uint64_t base, uint64_t len, bus_io_fn fn, void *opaque,
		 const char *name) must_check;

/*
 * Route an access. Returns false when nothing is there: reads then see all
 * ones (as on real hardware) and writes are dropped.
 */
bool bus_dispatch(const struct bus *b, uint64_t addr, uint8_t *data, unsigned size, bool is_write);

#endif
