/* SPDX-License-Identifier: MIT */
#include "devices/serial.h"

#include <linux/serial_reg.h>
#include <string.h>

void serial_init(struct serial *s, const struct serial_ops *ops, void *ctx)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->ops = ops;
	s->ctx = ctx;
	s->mcr = UART_MCR_OUT2;
	s->dll = 12; /* 9600 baud, as a BIOS leaves it */
}

void serial_destroy(struct serial *s)
{
	pthread_mutex_destroy(&s->lock);
}

static uint8_t iir(const struct serial *s)
{
	uint8_t fifo = (s->fcr & UART_FCR_ENABLE_FIFO) ? 0xC0 : 0;

	if ((s->ier & UART_IER_RDI) && s->rx_count)
		return fifo | UART_IIR_RDI;
	if ((s->ier & UART_IER_THRI) && s->thri_pending)
		return fifo | UART_IIR_THRI;
	return fifo | UART_IIR_NO_INT;
}

static void update_irq(struct serial *s)
{
	int level = !(iir(s) & UART_IIR_NO_INT);

	/* With OUT2 clear a PC UART's interrupt never reaches the PIC. */
	if (!(s->mcr & UART_MCR_OUT2) || (s->mcr & UART_MCR_LOOP))
		level = 0;
	if (level != s->irq_level) {
		s->irq_level = level;
		if (s->ops->irq)
			s->ops->irq(s->ctx, level);
	}
}

static void rx_put(struct serial *s, uint8_t c)
{
	if (s->rx_count == SERIAL_RX_FIFO) {
		s->lsr_extra |= UART_LSR_OE;
		return;
	}
	s->rx[(s->rx_head + s->rx_count) % SERIAL_RX_FIFO] = c;
	s->rx_count++;
}

static uint8_t rx_get(struct serial *s)
{
	uint8_t c;

	if (!s->rx_count)
		return 0;
	c = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % SERIAL_RX_FIFO;
	s->rx_count--;
	if (s->rx_count == SERIAL_RX_FIFO / 2 - 1 && s->ops->rx_space)
		s->ops->rx_space(s->ctx);
	return c;
}

static uint8_t msr(const struct serial *s)
{
	uint8_t m = 0;

	if (!(s->mcr & UART_MCR_LOOP))
		return UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
	/* Loopback: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD. */
	if (s->mcr & UART_MCR_DTR)
		m |= UART_MSR_DSR;
	if (s->mcr & UART_MCR_RTS)
		m |= UART_MSR_CTS;
	if (s->mcr & UART_MCR_OUT1)
		m |= UART_MSR_RI;
	if (s->mcr & UART_MCR_OUT2)
		m |= UART_MSR_DCD;
	return m;
}

static uint8_t reg_read(struct serial *s, unsigned off)
{
	uint8_t v;

	switch (off) {
	case UART_RX:
		if (s->lcr & UART_LCR_DLAB)
			return s->dll;
		return rx_get(s);
	case UART_IER:
		if (s->lcr & UART_LCR_DLAB)
			return s->dlm;
		return s->ier;
	case UART_IIR:
		v = iir(s);
		/* Reading IIR while it reports THRE acknowledges that interrupt. */
		if ((v & 0x0F) == UART_IIR_THRI)
			s->thri_pending = false;
		return v;
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		v = UART_LSR_THRE | UART_LSR_TEMT | s->lsr_extra;
		if (s->rx_count)
			v |= UART_LSR_DR;
		s->lsr_extra = 0;
		return v;
	case UART_MSR:
		return msr(s);
	default:
		return s->scr;
	}
}

static void reg_write(struct serial *s, unsigned off, uint8_t v)
{
	switch (off) {
	case UART_TX:
		if (s->lcr & UART_LCR_DLAB) {
			s->dll = v;
			break;
		}
		if (s->mcr & UART_MCR_LOOP)
			rx_put(s, v);
		else if (s->ops->tx)
			s->ops->tx(s->ctx, &v, 1);
		s->thri_pending = true;
		break;
	case UART_IER:
		if (s->lcr & UART_LCR_DLAB) {
			s->dlm = v;
			break;
		}
		/* Enabling THRI while THR is empty raises it at once, as on a 16550. */
		if (!(s->ier & UART_IER_THRI) && (v & UART_IER_THRI))
			s->thri_pending = true;
		s->ier = v & 0x0F;
		break;
	case UART_FCR:
		s->fcr = v & (UART_FCR_ENABLE_FIFO | 0xC0);
		if (v & UART_FCR_CLEAR_RCVR) {
			s->rx_head = s->rx_count = 0;
			if (s->ops->rx_space)
				s->ops->rx_space(s->ctx);
		}
		break;
	case UART_LCR:
		s->lcr = v;
		break;
	case UART_MCR:
		s->mcr = v & 0x1F;
		break;
	case UART_LSR:
	case UART_MSR:
		break; /* read-only */
	default:
		s->scr = v;
		break;
	}
}

void serial_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write)
{
	struct serial *s = opaque;

	pthread_mutex_lock(&s->lock);
	/* Wider accesses touch consecutive registers, one byte each. */
	for (unsigned i = 0; i < size && offset + i < 8; i++) {
		if (is_write)
			reg_write(s, (unsigned)offset + i, data[i]);
		else
			data[i] = reg_read(s, (unsigned)offset + i);
	}
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

size_t serial_rx_push(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = SERIAL_RX_FIFO - s->rx_count;
	if (n > len)
		n = len;
	for (size_t i = 0; i < n; i++)
		rx_put(s, buf[i]);
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

size_t serial_rx_space(struct serial *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = SERIAL_RX_FIFO - s->rx_count;
	pthread_mutex_unlock(&s->lock);
	return n;
}
