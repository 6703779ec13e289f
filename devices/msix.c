/* SPDX-License-Identifier: MIT */
#include "devices/msix.h"

#include <errno.h>
#include <string.h>

#define CTRL_MASKBIT PCI_MSIX_ENTRY_CTRL_MASKBIT

/*
 * Message Control as of the last configuration write. Caller holds m->lock.
 * Configuration space itself is written under the PCI bus lock, so the
 * MSI-X code never reads it outside msix_cfg_written() (which the bus calls
 * with that lock held).
 */
static uint16_t msgctl(const struct msix *m)
{
	return m->ctrl;
}

/* Caller holds m->lock. The function is enabled and neither it nor vec is masked. */
static bool vector_live(const struct msix *m, unsigned vec)
{
	uint16_t c = msgctl(m);

	return (c & PCI_MSIX_FLAGS_ENABLE) && !(c & PCI_MSIX_FLAGS_MASKALL) &&
	       !(m->table[vec].ctrl & CTRL_MASKBIT);
}

static void route(struct msix *m, unsigned vec)
{
	const struct msix_entry *e = &m->table[vec];

	if (m->ops->route)
		m->ops->route(m->ctx, vec, (uint64_t)e->addr_hi << 32 | e->addr_lo, e->data);
}

/* Deliver what became deliverable. Caller holds m->lock. */
static void flush_pending(struct msix *m)
{
	for (unsigned v = 0; v < m->nvec; v++) {
		if (!(m->pending & (1ULL << v)) || !vector_live(m, v))
			continue;
		m->pending &= ~(1ULL << v);
		m->ops->deliver(m->ctx, v);
	}
}

int msix_init(struct msix *m, struct pci_dev *d, unsigned nvec, unsigned bar, uint32_t table_off,
	      uint32_t pba_off, const struct msix_ops *ops, void *ctx)
{
	int cap;

	if (nvec == 0 || nvec > MSIX_MAX_VECTORS || bar >= PCI_NUM_BARS || (table_off & 7) || (pba_off & 7))
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
	cap = pci_add_cap(d, PCI_CAP_ID_MSIX, PCI_CAP_MSIX_SIZEOF);
	if (cap < 0)
		return cap;
	m->dev = d;
	m->ops = ops;
	m->ctx = ctx;
	m->nvec = nvec;
	m->cap = (unsigned)cap;
	pci_set16(d, m->cap + PCI_MSIX_FLAGS, (uint16_t)(nvec - 1));
	pci_set32(d, m->cap + PCI_MSIX_TABLE, table_off | bar);
	pci_set32(d, m->cap + PCI_MSIX_PBA, pba_off | bar);
	/* Only enable and function mask are writable. */
	d->wmask[m->cap + PCI_MSIX_FLAGS + 1] = (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL) >> 8;
	for (unsigned v = 0; v < nvec; v++)
		m->table[v].ctrl = CTRL_MASKBIT;
	return 0;
}

void msix_table_io(struct msix *m, uint64_t offset, uint8_t *data, unsigned size, bool is_write)
{
	unsigned vec = (unsigned)(offset / 16), word = (unsigned)(offset % 16) / 4;
	uint32_t *w;

	if ((size != 4 && size != 8) || (offset & (size - 1)) || offset + size > msix_table_size(m->nvec)) {
		if (!is_write)
			memset(data, 0, size);
		return;
	}
	pthread_mutex_lock(&m->lock);
	w = &m->table[vec].addr_lo + word;
	if (!is_write) {
		memcpy(data, w, size);
	} else {
		bool was_live = vector_live(m, vec);

		memcpy(w, data, size);
		m->table[vec].ctrl &= CTRL_MASKBIT; /* the rest is reserved */
		if (vector_live(m, vec)) {
			/* (Re)program on unmask or on a change while unmasked. */
			route(m, vec);
			if (!was_live)
				flush_pending(m);
		}
	}
	pthread_mutex_unlock(&m->lock);
}

void msix_pba_io(struct msix *m, uint64_t offset, uint8_t *data, unsigned size, bool is_write)
{
	if (is_write)
		return; /* read-only */
	memset(data, 0, size);
	pthread_mutex_lock(&m->lock);
	for (unsigned i = 0; i < size; i++)
		if (offset + i < 8)
			data[i] = (uint8_t)(m->pending >> (8 * (offset + i)));
	pthread_mutex_unlock(&m->lock);
}

void msix_cfg_written(struct msix *m)
{
	uint16_t ctrl = pci_get16(m->dev, m->cap + PCI_MSIX_FLAGS); /* the bus lock is held */

	pthread_mutex_lock(&m->lock);
	m->ctrl = ctrl;
	/* Enable or function mask changed: (re)program every live vector. */
	for (unsigned v = 0; v < m->nvec; v++)
		if (vector_live(m, v))
			route(m, v);
	flush_pending(m);
	pthread_mutex_unlock(&m->lock);
}

void msix_notify(struct msix *m, unsigned vec)
{
	if (vec >= m->nvec)
		return;
	pthread_mutex_lock(&m->lock);
	if (vector_live(m, vec))
		m->ops->deliver(m->ctx, vec);
	else
		m->pending |= 1ULL << vec;
	pthread_mutex_unlock(&m->lock);
}

bool msix_enabled(struct msix *m)
{
	bool en;

	pthread_mutex_lock(&m->lock);
	en = msgctl(m) & PCI_MSIX_FLAGS_ENABLE;
	pthread_mutex_unlock(&m->lock);
	return en;
}
