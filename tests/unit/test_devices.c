/* SPDX-License-Identifier: MIT */
/* devices/: 8250 UART, bus dispatch, paravirtual port, reset ports. */
#include <check.h>
#include <errno.h>
#include <linux/serial_reg.h>
#include <string.h>
#include "devices/bus.h"
#include "devices/pvport.h"
#include "devices/reset.h"
#include "devices/serial.h"
#include "tests/unit/suites.h"

/* ---- serial ---- */

struct uart_log {
	uint8_t tx[4096];
	size_t ntx;
	int levels[64];
	unsigned nirq;
	unsigned rx_space;
};

static void u_tx(void *ctx, const uint8_t *buf, size_t len)
{
	struct uart_log *l = ctx;

	ck_assert_uint_le(l->ntx + len, sizeof(l->tx));
	memcpy(l->tx + l->ntx, buf, len);
	l->ntx += len;
}

static void u_irq(void *ctx, int level)
{
	struct uart_log *l = ctx;

	ck_assert_uint_lt(l->nirq, ARRAY_SIZE(l->levels));
	l->levels[l->nirq++] = level;
}

static void u_rx_space(void *ctx)
{
	struct uart_log *l = ctx;

	l->rx_space++;
}

static const struct serial_ops uart_ops = { .tx = u_tx, .irq = u_irq, .rx_space = u_rx_space };
static struct serial uart;
static struct uart_log ulog;

static void uart_setup(void)
{
	memset(&ulog, 0, sizeof(ulog));
	serial_init(&uart, &uart_ops, &ulog);
}

static void uart_teardown(void)
{
	serial_destroy(&uart);
}

static void outb(unsigned off, uint8_t v)
{
	serial_io(&uart, off, &v, 1, true);
}

static uint8_t inb(unsigned off)
{
	uint8_t v = 0x5A;

	serial_io(&uart, off, &v, 1, false);
	return v;
}

static int last_level(void)
{
	return ulog.nirq ? ulog.levels[ulog.nirq - 1] : 0;
}

/* What serial8250_do_startup / set_termios leave: 115200 8N1, DTR|RTS|OUT2. */
static void linux_init(void)
{
	outb(UART_LCR, UART_LCR_DLAB);
	outb(UART_DLL, 1);
	outb(UART_DLM, 0);
	outb(UART_LCR, UART_LCR_WLEN8);
	outb(UART_FCR, 0);
	outb(UART_MCR, UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT2);
}

START_TEST(uart_divisor_latch)
{
	ck_assert_uint_eq(inb(UART_LCR), 0);
	outb(UART_IER, UART_IER_RDI);
	outb(UART_LCR, UART_LCR_DLAB | UART_LCR_WLEN8);
	ck_assert_uint_eq(inb(UART_DLL), 12); /* reset value: 9600 baud */
	outb(UART_DLL, 0x34);
	outb(UART_DLM, 0x12);
	ck_assert_uint_eq(inb(UART_DLL), 0x34);
	ck_assert_uint_eq(inb(UART_DLM), 0x12);
	ck_assert_uint_eq(inb(UART_LCR), UART_LCR_DLAB | UART_LCR_WLEN8);
	/* A 16-bit read at offset 0 reads DLL then DLM. */
	{
		uint8_t d[2] = { 0, 0 };

		serial_io(&uart, 0, d, 2, false);
		ck_assert_uint_eq(d[0], 0x34);
		ck_assert_uint_eq(d[1], 0x12);
	}
	outb(UART_LCR, UART_LCR_WLEN8);
	/* Without DLAB the same offsets are RBR/IER again; divisor writes did not touch IER or TX. */
	ck_assert_uint_eq(inb(UART_IER), UART_IER_RDI);
	ck_assert_uint_eq(ulog.ntx, 0);
	ck_assert_uint_eq(inb(UART_RX), 0); /* empty FIFO */
}
END_TEST

START_TEST(uart_thri)
{
	linux_init();
	ck_assert_uint_eq(ulog.nirq, 0);
	ck_assert_uint_eq(inb(UART_IIR) & 0x0F, UART_IIR_NO_INT);
	/* Enabling THRI with an empty THR raises it at once. */
	outb(UART_IER, UART_IER_THRI);
	ck_assert_uint_eq(ulog.nirq, 1);
	ck_assert_int_eq(last_level(), 1);
	ck_assert_uint_eq(inb(UART_IER), UART_IER_THRI);
	/* IIR reports it; reading IIR acknowledges it and drops the line. */
	ck_assert_uint_eq(inb(UART_IIR), UART_IIR_THRI);
	ck_assert_uint_eq(ulog.nirq, 2);
	ck_assert_int_eq(last_level(), 0);
	ck_assert_uint_eq(inb(UART_IIR), UART_IIR_NO_INT);
	ck_assert_uint_eq(ulog.nirq, 2); /* no callback without a level change */
	/* Transmitting raises THRI again. */
	outb(UART_TX, 'A');
	ck_assert_int_eq(last_level(), 1);
	ck_assert_uint_eq(ulog.nirq, 3);
	/* Clearing IER drops the line. */
	outb(UART_IER, 0);
	ck_assert_int_eq(last_level(), 0);
	ck_assert_uint_eq(inb(UART_IIR) & 0x0F, UART_IIR_NO_INT);
	/* Re-enabling with THR empty raises it again (Linux's THRE test). */
	outb(UART_IER, UART_IER_THRI);
	ck_assert_int_eq(last_level(), 1);
	ck_assert_uint_eq(inb(UART_IIR) & 0x0F, UART_IIR_THRI);
	ck_assert_int_eq(last_level(), 0);
}
END_TEST

START_TEST(uart_out2_gates_irq)
{
	outb(UART_MCR, UART_MCR_DTR | UART_MCR_RTS); /* OUT2 clear */
	outb(UART_IER, UART_IER_THRI);
	ck_assert_uint_eq(ulog.nirq, 0);
	/* The interrupt is still pending in IIR. */
	outb(UART_MCR, UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT2);
	ck_assert_uint_eq(ulog.nirq, 1);
	ck_assert_int_eq(last_level(), 1);
}
END_TEST

START_TEST(uart_tx)
{
	static const char msg[] = "Linux version 6.1\r\n";

	linux_init();
	for (size_t i = 0; i < sizeof(msg) - 1; i++) {
		ck_assert_uint_ne(inb(UART_LSR) & UART_LSR_THRE, 0);
		outb(UART_TX, (uint8_t)msg[i]);
	}
	ck_assert_uint_eq(ulog.ntx, sizeof(msg) - 1);
	ck_assert_mem_eq(ulog.tx, msg, sizeof(msg) - 1);
	ck_assert_uint_eq(inb(UART_LSR) & (UART_LSR_THRE | UART_LSR_TEMT), UART_LSR_THRE | UART_LSR_TEMT);
	ck_assert_uint_eq(inb(UART_LSR) & UART_LSR_DR, 0);
}
END_TEST

START_TEST(uart_rx)
{
	static const uint8_t in[] = "xyz";

	linux_init();
	outb(UART_IER, UART_IER_RDI);
	ck_assert_uint_eq(ulog.nirq, 0);
	ck_assert_uint_eq(serial_rx_space(&uart), SERIAL_RX_FIFO);
	ck_assert_uint_eq(serial_rx_push(&uart, in, 3), 3);
	ck_assert_uint_eq(serial_rx_space(&uart), SERIAL_RX_FIFO - 3);
	ck_assert_int_eq(last_level(), 1);
	ck_assert_uint_ne(inb(UART_LSR) & UART_LSR_DR, 0);
	ck_assert_uint_eq(inb(UART_IIR) & 0x0F, UART_IIR_RDI);
	/* Reading IIR does not acknowledge RDA: only draining does. */
	ck_assert_int_eq(last_level(), 1);
	ck_assert_uint_eq(inb(UART_RX), 'x');
	ck_assert_uint_eq(inb(UART_RX), 'y');
	ck_assert_int_eq(last_level(), 1);
	ck_assert_uint_eq(inb(UART_RX), 'z');
	ck_assert_int_eq(last_level(), 0);
	ck_assert_uint_eq(inb(UART_LSR) & UART_LSR_DR, 0);
	ck_assert_uint_eq(inb(UART_IIR) & 0x0F, UART_IIR_NO_INT);
	ck_assert_uint_eq(ulog.ntx, 0);
}
END_TEST

START_TEST(uart_rx_priority_over_thri)
{
	static const uint8_t in[] = { 'q' };

	linux_init();
	outb(UART_IER, UART_IER_RDI | UART_IER_THRI);
	ck_assert_uint_eq(serial_rx_push(&uart, in, 1), 1);
	ck_assert_uint_eq(inb(UART_IIR) & 0x0F, UART_IIR_RDI);
	ck_assert_uint_eq(inb(UART_RX), 'q');
	/* THRI was not acknowledged by the RDI read: it is next. */
	ck_assert_uint_eq(inb(UART_IIR) & 0x0F, UART_IIR_THRI);
	ck_assert_uint_eq(inb(UART_IIR) & 0x0F, UART_IIR_NO_INT);
	ck_assert_int_eq(last_level(), 0);
}
END_TEST

START_TEST(uart_rx_fifo_full_and_space)
{
	static uint8_t big[SERIAL_RX_FIFO + 10];

	linux_init();
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)i;
	ck_assert_uint_eq(serial_rx_push(&uart, big, sizeof(big)), SERIAL_RX_FIFO);
	ck_assert_uint_eq(serial_rx_space(&uart), 0);
	ck_assert_uint_eq(serial_rx_push(&uart, big, 1), 0);
	for (size_t i = 0; i < SERIAL_RX_FIFO / 2; i++)
		ck_assert_uint_eq(inb(UART_RX), (uint8_t)i);
	/* Exactly half full: not yet below half. */
	ck_assert_uint_eq(ulog.rx_space, 0);
	ck_assert_uint_eq(serial_rx_space(&uart), SERIAL_RX_FIFO / 2);
	/* Crossing below half full asks the host for more, once. */
	ck_assert_uint_eq(inb(UART_RX), (uint8_t)(SERIAL_RX_FIFO / 2));
	ck_assert_uint_eq(ulog.rx_space, 1);
	ck_assert_uint_eq(inb(UART_RX), (uint8_t)(SERIAL_RX_FIFO / 2 + 1));
	ck_assert_uint_eq(ulog.rx_space, 1);
	/* FIFO order survives wrap-around. */
	ck_assert_uint_eq(serial_rx_push(&uart, (const uint8_t *)"AB", 2), 2);
	for (size_t i = SERIAL_RX_FIFO / 2 + 2; i < SERIAL_RX_FIFO; i++)
		ck_assert_uint_eq(inb(UART_RX), (uint8_t)i);
	ck_assert_uint_eq(inb(UART_RX), 'A');
	ck_assert_uint_eq(inb(UART_RX), 'B');
	ck_assert_uint_eq(inb(UART_LSR) & UART_LSR_DR, 0);
}
END_TEST

START_TEST(uart_fcr)
{
	static const uint8_t in[] = "abc";

	linux_init();
	outb(UART_FCR, UART_FCR_ENABLE_FIFO);
	ck_assert_uint_eq(inb(UART_IIR), 0xC0 | UART_IIR_NO_INT);
	ck_assert_uint_eq(serial_rx_push(&uart, in, 3), 3);
	outb(UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_RCVR | UART_FCR_CLEAR_XMIT);
	ck_assert_uint_eq(serial_rx_space(&uart), SERIAL_RX_FIFO);
	ck_assert_uint_eq(inb(UART_LSR) & UART_LSR_DR, 0);
	ck_assert_uint_ge(ulog.rx_space, 1);
	outb(UART_FCR, 0);
	ck_assert_uint_eq(inb(UART_IIR) & 0xC0, 0);
}
END_TEST

START_TEST(uart_loopback)
{
	uint8_t save;

	linux_init();
	outb(UART_IER, UART_IER_RDI | UART_IER_THRI);
	(void)inb(UART_IIR); /* ack THRI */
	ck_assert_int_eq(last_level(), 0);
	/* Not in loopback: modem lines all asserted (no RI). */
	ck_assert_uint_eq(inb(UART_MSR) & 0xF0, UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
	/* What autoconfig() in 8250_port.c checks. */
	save = inb(UART_MCR);
	outb(UART_MCR, UART_MCR_LOOP | 0x0A);
	ck_assert_uint_eq(inb(UART_MSR) & 0xF0, 0x90);
	outb(UART_MCR, UART_MCR_LOOP | 0x1F);
	ck_assert_uint_eq(inb(UART_MSR) & 0xF0, 0xF0);
	outb(UART_MCR, UART_MCR_LOOP | UART_MCR_DTR | UART_MCR_OUT1);
	ck_assert_uint_eq(inb(UART_MSR) & 0xF0, UART_MSR_DSR | UART_MSR_RI);
	outb(UART_MCR, UART_MCR_LOOP);
	ck_assert_uint_eq(inb(UART_MSR) & 0xF0, 0);
	ck_assert_uint_eq(inb(UART_MCR), UART_MCR_LOOP);
	/* TX goes to RX, not to the host, and no interrupt reaches the PIC. */
	outb(UART_TX, 0x55);
	outb(UART_TX, 0xAA);
	ck_assert_uint_eq(ulog.ntx, 0);
	ck_assert_int_eq(last_level(), 0);
	ck_assert_uint_ne(inb(UART_LSR) & UART_LSR_DR, 0);
	ck_assert_uint_eq(inb(UART_RX), 0x55);
	ck_assert_uint_eq(inb(UART_RX), 0xAA);
	ck_assert_uint_eq(inb(UART_LSR) & UART_LSR_DR, 0);
	outb(UART_MCR, save);
	outb(UART_TX, 'k');
	ck_assert_uint_eq(ulog.ntx, 1);
	ck_assert_uint_eq(ulog.tx[0], 'k');
	ck_assert_int_eq(last_level(), 1);
}
END_TEST

START_TEST(uart_scratch_and_bounds)
{
	outb(UART_SCR, 0xA5);
	ck_assert_uint_eq(inb(UART_SCR), 0xA5);
	outb(UART_SCR, 0x5A);
	ck_assert_uint_eq(inb(UART_SCR), 0x5A);
	/* LSR and MSR are read-only. */
	outb(UART_LSR, 0);
	ck_assert_uint_eq(inb(UART_LSR) & UART_LSR_THRE, UART_LSR_THRE);
	/* A 2-byte read at offset 7 touches only offset 7. */
	{
		uint8_t d[2] = { 0x11, 0x22 };

		serial_io(&uart, 7, d, 2, false);
		ck_assert_uint_eq(d[0], 0x5A);
		ck_assert_uint_eq(d[1], 0x22);
	}
	/* Offsets past the 8 registers do nothing. */
	{
		uint8_t d = 0x77;

		serial_io(&uart, 8, &d, 1, true);
		serial_io(&uart, 100, &d, 1, false);
		ck_assert_uint_eq(d, 0x77);
		ck_assert_uint_eq(inb(UART_SCR), 0x5A);
	}
}
END_TEST

/* ---- bus ---- */

struct rec {
	unsigned calls;
	uint64_t offset;
	unsigned size;
	bool is_write;
	uint8_t data[8];
};

static void rec_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write)
{
	struct rec *r = opaque;

	r->calls++;
	r->offset = offset;
	r->size = size;
	r->is_write = is_write;
	if (is_write) {
		memcpy(r->data, data, size);
	} else {
		for (unsigned i = 0; i < size; i++)
			data[i] = (uint8_t)(0x40 + offset + i);
	}
}

START_TEST(bus_register_overlap)
{
	struct bus b = { .name = "pio" };
	struct rec r1 = { 0 }, r2 = { 0 };

	ck_assert_int_eq(bus_register(&b, 0x3F8, 8, rec_io, &r1, "com1"), 0);
	ck_assert_int_eq(bus_register(&b, 0x3F8, 8, rec_io, &r2, "dup"), -EBUSY);
	ck_assert_int_eq(bus_register(&b, 0x3F0, 9, rec_io, &r2, "low"), -EBUSY);
	ck_assert_int_eq(bus_register(&b, 0x3FF, 1, rec_io, &r2, "high"), -EBUSY);
	ck_assert_int_eq(bus_register(&b, 0x3F0, 0x20, rec_io, &r2, "around"), -EBUSY);
	ck_assert_int_eq(bus_register(&b, 0x3FA, 1, rec_io, &r2, "inside"), -EBUSY);
	/* Adjacent ranges are fine. */
	ck_assert_int_eq(bus_register(&b, 0x3F0, 8, rec_io, &r2, "below"), 0);
	ck_assert_int_eq(bus_register(&b, 0x400, 4, rec_io, &r2, "above"), 0);
	ck_assert_uint_eq(b.n, 3);
	ck_assert_int_eq(bus_register(&b, 0x500, 0, rec_io, &r2, "empty"), -EINVAL);
	ck_assert_int_eq(bus_register(&b, UINT64_MAX - 1, 4, rec_io, &r2, "wrap"), -EINVAL);
	ck_assert_uint_eq(b.n, 3);
}
END_TEST

START_TEST(bus_full)
{
	struct bus b = { .name = "pio" };
	struct rec r = { 0 };

	for (unsigned i = 0; i < BUS_MAX_HANDLERS; i++)
		ck_assert_int_eq(bus_register(&b, 0x1000 + i * 0x10, 0x10, rec_io, &r, "dev"), 0);
	ck_assert_int_eq(bus_register(&b, 0x9000, 1, rec_io, &r, "one too many"), -ENOSPC);
	/* Overlap is still reported first. */
	ck_assert_int_eq(bus_register(&b, 0x1000, 1, rec_io, &r, "overlap"), -EBUSY);
}
END_TEST

START_TEST(bus_dispatch_routes)
{
	struct bus b = { .name = "pio" };
	struct rec a = { 0 }, c = { 0 };
	uint8_t d[8];

	ck_assert_int_eq(bus_register(&b, 0x60, 1, rec_io, &a, "a"), 0);
	ck_assert_int_eq(bus_register(&b, 0xA70, 4, rec_io, &c, "c"), 0);

	memset(d, 0, sizeof(d));
	ck_assert(bus_dispatch(&b, 0xA72, d, 2, false));
	ck_assert_uint_eq(c.calls, 1);
	ck_assert_uint_eq(a.calls, 0);
	ck_assert_uint_eq(c.offset, 2);
	ck_assert_uint_eq(c.size, 2);
	ck_assert(!c.is_write);
	ck_assert_uint_eq(d[0], 0x42);
	ck_assert_uint_eq(d[1], 0x43);

	d[0] = 0x99;
	ck_assert(bus_dispatch(&b, 0x60, d, 1, true));
	ck_assert_uint_eq(a.calls, 1);
	ck_assert_uint_eq(a.offset, 0);
	ck_assert(a.is_write);
	ck_assert_uint_eq(a.data[0], 0x99);

	memcpy(d, "\x01\x02\x03\x04", 4);
	ck_assert(bus_dispatch(&b, 0xA70, d, 4, true));
	ck_assert_uint_eq(c.calls, 2);
	ck_assert_uint_eq(c.offset, 0);
	ck_assert_uint_eq(c.size, 4);
	ck_assert_mem_eq(c.data, "\x01\x02\x03\x04", 4);
}
END_TEST

START_TEST(bus_unmapped_and_straddling)
{
	struct bus b = { .name = "pio" };
	struct rec c = { 0 };
	uint8_t d[8];

	ck_assert_int_eq(bus_register(&b, 0xA70, 4, rec_io, &c, "c"), 0);
	/* Nothing there: all ones on read. */
	memset(d, 0, sizeof(d));
	ck_assert(!bus_dispatch(&b, 0x80, d, 4, false));
	ck_assert_mem_eq(d, "\xFF\xFF\xFF\xFF", 4);
	ck_assert_uint_eq(d[4], 0);
	/* Writes are dropped, data untouched. */
	memset(d, 0x12, sizeof(d));
	ck_assert(!bus_dispatch(&b, 0x80, d, 2, true));
	ck_assert_uint_eq(d[0], 0x12);
	/* Straddling the end (0xA72 + 4 > 0xA74) or the start. */
	memset(d, 0, sizeof(d));
	ck_assert(!bus_dispatch(&b, 0xA72, d, 4, false));
	ck_assert_mem_eq(d, "\xFF\xFF\xFF\xFF", 4);
	ck_assert(!bus_dispatch(&b, 0xA73, d, 2, true));
	ck_assert(!bus_dispatch(&b, 0xA6F, d, 2, false));
	ck_assert(!bus_dispatch(&b, 0xA74, d, 1, false));
	ck_assert(!bus_dispatch(&b, 0xA70, d, 8, false));
	ck_assert_uint_eq(c.calls, 0);
	/* Last byte of the range is fine. */
	ck_assert(bus_dispatch(&b, 0xA73, d, 1, false));
	ck_assert_uint_eq(c.calls, 1);
	ck_assert_uint_eq(c.offset, 3);
}
END_TEST

/* ---- pvport ---- */

struct pv_log {
	unsigned marks[8], nmarks;
	unsigned status[8], nstatus;
};

static void pv_mark(void *ctx, unsigned mark)
{
	struct pv_log *l = ctx;

	ck_assert_uint_lt(l->nmarks, 8);
	l->marks[l->nmarks++] = mark;
}

static void pv_status(void *ctx, unsigned status)
{
	struct pv_log *l = ctx;

	ck_assert_uint_lt(l->nstatus, 8);
	l->status[l->nstatus++] = status;
}

static const struct pvport_ops pv_ops = { .boot_mark = pv_mark, .exit_status = pv_status };

static void pv_out32(struct pvport *p, uint64_t off, uint32_t v)
{
	uint8_t d[4];

	memcpy(d, &v, 4);
	pvport_io(p, off, d, 4, true);
}

START_TEST(pvport_read_magic)
{
	struct pv_log l = { .nmarks = 0 };
	struct pvport p = { .ops = &pv_ops, .ctx = &l };
	uint8_t d[4] = { 0 };
	uint32_t v;

	pvport_io(&p, 0, d, 4, false);
	memcpy(&v, d, 4);
	ck_assert_uint_eq(v, PVPORT_MAGIC);
	ck_assert_mem_eq(d, "APRT", 4);
	/* Other widths / offsets read all ones. */
	memset(d, 0, sizeof(d));
	pvport_io(&p, 0, d, 1, false);
	ck_assert_uint_eq(d[0], 0xFF);
	ck_assert_uint_eq(d[1], 0);
	memset(d, 0, sizeof(d));
	pvport_io(&p, 2, d, 2, false);
	ck_assert_uint_eq(d[0], 0xFF);
	ck_assert_uint_eq(d[1], 0xFF);
	ck_assert_uint_eq(l.nmarks + l.nstatus, 0);
}
END_TEST

START_TEST(pvport_commands)
{
	struct pv_log l = { .nmarks = 0 };
	struct pvport p = { .ops = &pv_ops, .ctx = &l };

	pv_out32(&p, 0, (PVPORT_CMD_BOOT_MARK << 24) | PVPORT_MARK_INIT);
	pv_out32(&p, 0, (PVPORT_CMD_BOOT_MARK << 24) | PVPORT_MARK_WORKLOAD);
	ck_assert_uint_eq(l.nmarks, 2);
	ck_assert_uint_eq(l.marks[0], PVPORT_MARK_INIT);
	ck_assert_uint_eq(l.marks[1], PVPORT_MARK_WORKLOAD);
	ck_assert_uint_eq(l.nstatus, 0);

	pv_out32(&p, 0, (PVPORT_CMD_EXIT_STATUS << 24) | 42);
	pv_out32(&p, 0, (PVPORT_CMD_EXIT_STATUS << 24) | 0);
	pv_out32(&p, 0, (PVPORT_CMD_EXIT_STATUS << 24) | 255);
	ck_assert_uint_eq(l.nstatus, 3);
	ck_assert_uint_eq(l.status[0], 42);
	ck_assert_uint_eq(l.status[1], 0);
	ck_assert_uint_eq(l.status[2], 255);
	ck_assert_uint_eq(l.nmarks, 2);
	ck_assert_uint_eq(p.bad_accesses, 0);
}
END_TEST

START_TEST(pvport_ignored)
{
	struct pv_log l = { .nmarks = 0 };
	struct pvport p = { .ops = &pv_ops, .ctx = &l };
	uint8_t b;

	/* Status out of range. */
	pv_out32(&p, 0, (PVPORT_CMD_EXIT_STATUS << 24) | 256);
	pv_out32(&p, 0, (PVPORT_CMD_EXIT_STATUS << 24) | 0xFFFFFF);
	/* Unknown commands. */
	pv_out32(&p, 0, 0x00000000);
	pv_out32(&p, 0, 0x03000001);
	pv_out32(&p, 0, 0xFF000002);
	/* Narrow writes, and a 32-bit write at another offset. */
	b = PVPORT_CMD_EXIT_STATUS;
	pvport_io(&p, 3, &b, 1, true);
	b = 7;
	pvport_io(&p, 0, &b, 1, true);
	{
		uint8_t w[2] = { 0x01, 0x02 };

		pvport_io(&p, 0, w, 2, true);
	}
	pv_out32(&p, 1, (PVPORT_CMD_EXIT_STATUS << 24) | 1);
	ck_assert_uint_eq(l.nmarks, 0);
	ck_assert_uint_eq(l.nstatus, 0);
	ck_assert_uint_eq(p.bad_accesses, 9);
}
END_TEST

START_TEST(pvport_null_ops)
{
	static const struct pvport_ops none = { 0 };
	struct pvport p = { .ops = &none };

	/* Must not crash. */
	pv_out32(&p, 0, (PVPORT_CMD_BOOT_MARK << 24) | 1);
	pv_out32(&p, 0, (PVPORT_CMD_EXIT_STATUS << 24) | 1);
	ck_assert_uint_eq(p.bad_accesses, 0);
}
END_TEST

/* ---- reset ---- */

struct reset_log {
	unsigned calls;
	const char *why;
};

static void on_reset(void *ctx, const char *why)
{
	struct reset_log *l = ctx;

	l->calls++;
	l->why = why;
}

START_TEST(reset_i8042)
{
	struct reset_log l = { 0 };
	struct reset_dev r = { .reset = on_reset, .ctx = &l };
	static const uint8_t harmless[] = { 0x00, 0xAD, 0xAE, 0xD1, 0xFF, 0xFD, 0x60, 0x20 };
	uint8_t v;

	for (unsigned i = 0; i < ARRAY_SIZE(harmless); i++) {
		v = harmless[i];
		reset_i8042_cmd_io(&r, 0, &v, 1, true);
	}
	ck_assert_uint_eq(l.calls, 0);
	/* Writing 0xFE to the data port is not a reset. */
	v = I8042_CMD_RESET;
	reset_i8042_data_io(&r, 0, &v, 1, true);
	ck_assert_uint_eq(l.calls, 0);
	/* Status reads: buffers empty. */
	v = 0xAA;
	reset_i8042_cmd_io(&r, 0, &v, 1, false);
	ck_assert_uint_eq(v, 0);
	v = 0xAA;
	reset_i8042_data_io(&r, 0, &v, 1, false);
	ck_assert_uint_eq(v, 0);
	ck_assert_uint_eq(l.calls, 0);

	v = I8042_CMD_RESET;
	reset_i8042_cmd_io(&r, 0, &v, 1, true);
	ck_assert_uint_eq(l.calls, 1);
	ck_assert_ptr_nonnull(l.why);
	ck_assert_ptr_nonnull(strstr(l.why, "i8042"));
}
END_TEST

START_TEST(reset_cf9)
{
	struct reset_log l = { 0 };
	struct reset_dev r = { .reset = on_reset, .ctx = &l };
	static const uint8_t harmless[] = { 0x00, RST_CNT_SYS_RST, 0x01, 0x08, 0x0A };
	uint8_t v;

	for (unsigned i = 0; i < ARRAY_SIZE(harmless); i++) {
		v = harmless[i];
		reset_cf9_io(&r, 0, &v, 1, true);
	}
	ck_assert_uint_eq(l.calls, 0);
	v = 0x5A;
	reset_cf9_io(&r, 0, &v, 1, false);
	ck_assert_uint_eq(v, 0);

	/* Linux's reboot=pci: 0x02, then 0x06 (warm) or 0x0E (cold). */
	v = RST_CNT_SYS_RST | RST_CNT_RST_CPU;
	reset_cf9_io(&r, 0, &v, 1, true);
	ck_assert_uint_eq(l.calls, 1);
	ck_assert_ptr_nonnull(l.why);
	v = 0x0E;
	reset_cf9_io(&r, 0, &v, 1, true);
	ck_assert_uint_eq(l.calls, 2);
}
END_TEST

START_TEST(reset_through_bus)
{
	struct reset_log l = { 0 };
	struct reset_dev r = { .reset = on_reset, .ctx = &l };
	struct bus b = { .name = "pio" };
	uint8_t v;

	ck_assert_int_eq(bus_register(&b, I8042_CMD_PORT, 1, reset_i8042_cmd_io, &r, "i8042"), 0);
	ck_assert_int_eq(bus_register(&b, RST_CNT_PORT, 1, reset_cf9_io, &r, "cf9"), 0);
	v = I8042_CMD_RESET;
	ck_assert(bus_dispatch(&b, 0x64, &v, 1, true));
	ck_assert_uint_eq(l.calls, 1);
	v = 0x06;
	ck_assert(bus_dispatch(&b, 0xCF9, &v, 1, true));
	ck_assert_uint_eq(l.calls, 2);
	v = I8042_CMD_RESET;
	ck_assert(!bus_dispatch(&b, 0x60, &v, 1, true));
	ck_assert_uint_eq(l.calls, 2);
}
END_TEST

Suite *devices_suite(void)
{
	Suite *s = suite_create("devices");
	TCase *u = tcase_create("serial");
	TCase *b = tcase_create("bus");
	TCase *p = tcase_create("pvport");
	TCase *r = tcase_create("reset");

	tcase_add_checked_fixture(u, uart_setup, uart_teardown);
	tcase_add_test(u, uart_divisor_latch);
	tcase_add_test(u, uart_thri);
	tcase_add_test(u, uart_out2_gates_irq);
	tcase_add_test(u, uart_tx);
	tcase_add_test(u, uart_rx);
	tcase_add_test(u, uart_rx_priority_over_thri);
	tcase_add_test(u, uart_rx_fifo_full_and_space);
	tcase_add_test(u, uart_fcr);
	tcase_add_test(u, uart_loopback);
	tcase_add_test(u, uart_scratch_and_bounds);
	suite_add_tcase(s, u);

	tcase_add_test(b, bus_register_overlap);
	tcase_add_test(b, bus_full);
	tcase_add_test(b, bus_dispatch_routes);
	tcase_add_test(b, bus_unmapped_and_straddling);
	suite_add_tcase(s, b);

	tcase_add_test(p, pvport_read_magic);
	tcase_add_test(p, pvport_commands);
	tcase_add_test(p, pvport_ignored);
	tcase_add_test(p, pvport_null_ops);
	suite_add_tcase(s, p);

	tcase_add_test(r, reset_i8042);
	tcase_add_test(r, reset_cf9);
	tcase_add_test(r, reset_through_bus);
	suite_add_tcase(s, r);
	return s;
}
