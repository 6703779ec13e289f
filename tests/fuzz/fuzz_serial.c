/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the 8250 UART as the guest drives it. Input is a
 * sequence of (op, offset, value) triples; host input is interleaved. The
 * invariants: the receive FIFO count never exceeds its size and the
 * interrupt callback only ever sees level changes.
 */
#include <stdint.h>
#include <stdlib.h>
#include "devices/serial.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int level = 0;

static void tx(void *ctx, const uint8_t *buf, size_t len)
{
	(void)ctx;
	(void)buf;
	(void)len;
}

static void irq(void *ctx, int l)
{
	(void)ctx;
	if (l == level)
		abort(); /* the device promised to report changes only */
	level = l;
}

static const struct serial_ops ops = { .tx = tx, .irq = irq };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct serial s;

	level = 0;
	serial_init(&s, &ops, NULL);
	for (size_t i = 0; i + 3 <= size; i += 3) {
		uint8_t op = data[i], off = data[i + 1] & 15, v = data[i + 2];

		switch (op & 3) {
		case 0:
			serial_io(&s, off, &v, 1, true);
			break;
		case 1:
			serial_io(&s, off, &v, 1, false);
			break;
		case 2:
			serial_rx_push(&s, &v, 1);
			break;
		default: {
			uint8_t wide[4] = { v, v, v, v };

			serial_io(&s, off & 7, wide, 1u + (op >> 6), (op & 4) != 0);
			break;
		}
		}
		if (s.rx_count > SERIAL_RX_FIFO)
			abort();
	}
	serial_destroy(&s);
	return 0;
}
