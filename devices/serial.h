/* SPDX-License-Identifier: MIT */
/*
 * 8250/16550A UART (COM1 at 0x3F8, IRQ 4): the guest console.
 *
 * What it trusts: nothing the guest writes is more than a byte value; every
 * register access is bounded by the 8-byte port range. Transmit is
 * instantaneous (THR is always empty), and the transmit-empty interrupt is
 * emulated because the Linux tty layer waits for it. Receive has a FIFO that
 * the host side fills with serial_rx_push(). Loopback mode works, since the
 * Linux driver tests it while probing.
 */
#ifndef APERTURE_SERIAL_H
#define APERTURE_SERIAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SERIAL_COM1_BASE 0x3F8
#define SERIAL_COM1_IRQ 4
#define SERIAL_RX_FIFO 1024

struct serial_ops {
	/* Bytes the guest transmitted. Called with the UART lock held. */
	void (*tx)(void *ctx, const uint8_t *buf, size_t len);
	/* Drive the interrupt line; called only when the level changes. */
	void (*irq)(void *ctx, int level);
	/* The guest drained the receive FIFO below half: more input is welcome. */
	void (*rx_space)(void *ctx);
};

struct serial {
	pthread_mutex_t lock;
	const struct serial_ops *ops;
	void *ctx;
	uint8_t ier, lcr, mcr, lsr_extra, scr, dll, dlm, fcr;
	bool thri_pending;
	int irq_level;
	uint8_t rx[SERIAL_RX_FIFO];
	size_t rx_head, rx_count;
};

void serial_init(struct serial *s, const struct serial_ops *ops, void *ctx);
void serial_destroy(struct serial *s);
/* Port access; offset 0..7 from the base. Matches bus_io_fn. */
void serial_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write);
/* Queue host input for the guest. Returns how many bytes fit. */
size_t serial_rx_push(struct serial *s, const uint8_t *buf, size_t len);
/* Free space in the receive FIFO. */
size_t serial_rx_space(struct serial *s);

#endif
