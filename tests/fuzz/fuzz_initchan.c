/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the init channel stream parser. Arbitrary bytes, fed in
 * chunks whose sizes come from the input, must never crash or read outside
 * what arrived; every message handed to the callback passed fdt_check_full().
 */
#include <stdint.h>
#include <stdlib.h>
#include "vmm/initchan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void cb(void *ctx, const struct initchan_msg *m)
{
	(void)ctx;
	if (m->type == MSG_EXIT_STATUS && m->status > 255)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct initchan_parser p;
	char err[256];
	size_t off = 0;

	if (size < 1)
		return 0;
	initchan_parser_init(&p);
	while (off < size) {
		size_t chunk = 1 + data[off] % 64;

		off++;
		if (chunk > size - off)
			chunk = size - off;
		if (initchan_feed(&p, data + off, chunk, cb, NULL, err, sizeof(err)))
			break;
		off += chunk;
	}
	return 0;
}
