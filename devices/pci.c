/* SPDX-License-Identifier: MIT */
#include "devices/pci.h"

#include <errno.h>
#include <string.h>

#define PCI_VENDOR_INTEL 0x8086
#define PCI_DEVICE_HOST_BRIDGE 0x29C0 /* a Q35-era host bridge id; Linux only needs the class */
#define PCI_CLASS_BRIDGE_HOST_BRIDGE 0x0600 /* base class 06 (bridge), sub-class 00 (host) */

void pci_dev_init(struct pci_dev *d, uint16_t vendor, uint16_t device, uint32_t class_rev,
		  uint16_t subsys_vendor, uint16_t subsys_id, const struct pci_dev_ops *ops, void *opaque)
{
	memset(d, 0, sizeof(*d));
	d->ops = ops;
	d->opaque = opaque;
	pci_set16(d, PCI_VENDOR_ID, vendor);
	pci_set16(d, PCI_DEVICE_ID, device);
	pci_set32(d, PCI_CLASS_REVISION, class_rev);
	pci_set16(d, PCI_SUBSYSTEM_VENDOR_ID, subsys_vendor);
	pci_set16(d, PCI_SUBSYSTEM_ID, subsys_id);
	pci_set8(d, PCI_HEADER_TYPE, PCI_HEADER_TYPE_NORMAL);
	pci_set8(d, PCI_INTERRUPT_PIN, 0); /* MSI-X only */
	/* Command: memory space, bus master, INTx disable are writable. */
	d->wmask[PCI_COMMAND] = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	d->wmask[PCI_COMMAND + 1] = PCI_COMMAND_INTX_DISABLE >> 8;
	d->wmask[PCI_INTERRUPT_LINE] = 0xFF;
	d->wmask[PCI_LATENCY_TIMER] = 0xFF;
	d->wmask[PCI_CACHE_LINE_SIZE] = 0xFF;
	d->next_cap = 0x40;
}

int pci_dev_set_bar(struct pci_dev *d, unsigned n, uint64_t size)
{
	unsigned off = PCI_BASE_ADDRESS_0 + 4 * n;
	uint32_t mask;

	if (n >= PCI_NUM_BARS || size < 4096 || size > (1ULL << 30) || (size & (size - 1)))
		return -EINVAL;
	d->bar_size[n] = size;
	mask = ~(uint32_t)(size - 1); /* address bits; type bits read 0: 32-bit, non-prefetchable */
	d->wmask[off] = (uint8_t)mask;
	d->wmask[off + 1] = (uint8_t)(mask >> 8);
	d->wmask[off + 2] = (uint8_t)(mask >> 16);
	d->wmask[off + 3] = (uint8_t)(mask >> 24);
	return 0;
}

int pci_add_cap(struct pci_dev *d, uint8_t id, unsigned len)
{
	unsigned off = d->next_cap;

	if (len < 2 || off + len > PCI_CFG_SIZE)
		return -ENOSPC;
	d->cfg[off] = id;
	d->cfg[off + 1] = 0;
	/* Link it at the end of the list. */
	if (!(d->cfg[PCI_STATUS] & PCI_STATUS_CAP_LIST)) {
		d->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
		d->cfg[PCI_CAPABILITY_LIST] = (uint8_t)off;
	} else {
		unsigned p = d->cfg[PCI_CAPABILITY_LIST];

		while (d->cfg[p + 1])
			p = d->cfg[p + 1];
		d->cfg[p + 1] = (uint8_t)off;
	}
	d->next_cap = (uint8_t)align_up(off + len, 4);
	return (int)off;
}

void pci_bus_init(struct pci_bus *b, uint64_t window_base)
{
	memset(b, 0, sizeof(*b));
	pthread_mutex_init(&b->lock, NULL);
	b->window_base = align_up(window_base, SZ_2M);
	b->mmio_next = b->window_base;
	pci_dev_init(&b->host_bridge, PCI_VENDOR_INTEL, PCI_DEVICE_HOST_BRIDGE,
		     (uint32_t)PCI_CLASS_BRIDGE_HOST_BRIDGE << 16, 0, 0, NULL, NULL);
	b->host_bridge.wmask[PCI_COMMAND] = 0;
	b->dev[0] = &b->host_bridge;
}

static uint64_t bar_decode_addr(const struct pci_bus *b, const struct pci_dev *d, unsigned n)
{
	uint32_t v = pci_get32(d, PCI_BASE_ADDRESS_0 + 4 * n) & PCI_BASE_ADDRESS_MEM_MASK;

	if (!d->bar_size[n] || !(pci_get16(d, PCI_COMMAND) & PCI_COMMAND_MEMORY) || v == 0)
		return 0;
	/* Only inside the window, never over RAM or the APICs. */
	if (v < b->window_base || v + d->bar_size[n] > PCI_MMIO_WINDOW_END)
		return 0;
	return v;
}

static void update_bars(const struct pci_bus *b, struct pci_dev *d)
{
	for (unsigned n = 0; n < PCI_NUM_BARS; n++) {
		uint64_t a = bar_decode_addr(b, d, n);

		if (a != d->bar_addr[n]) {
			uint64_t old = d->bar_addr[n];

			d->bar_addr[n] = a;
			if (d->ops && d->ops->bar_moved)
				d->ops->bar_moved(d, n, old, a);
		}
	}
}

int pci_bus_add(struct pci_bus *b, struct pci_dev *d, int slot)
{
	int ret = -ENOSPC;

	pthread_mutex_lock(&b->lock);
	if (slot >= 0) {
		ret = slot < PCI_SLOTS && !b->dev[slot] ? slot : -EBUSY;
	} else {
		for (unsigned s = 1; s < PCI_SLOTS; s++)
			if (!b->dev[s]) {
				ret = (int)s;
				break;
			}
	}
	if (ret >= 0) {
		/* Initial placement; the guest may move the BARs (Linux reassigns on rescan). */
		for (unsigned n = 0; n < PCI_NUM_BARS; n++) {
			uint64_t a;

			if (!d->bar_size[n])
				continue;
			a = align_up(b->mmio_next, d->bar_size[n]);
			if (a + d->bar_size[n] > PCI_MMIO_WINDOW_END) {
				ret = -ENOSPC;
				goto out;
			}
			pci_set32(d, PCI_BASE_ADDRESS_0 + 4 * n, (uint32_t)a);
			b->mmio_next = a + d->bar_size[n];
		}
		d->slot = (unsigned)ret;
		b->dev[ret] = d;
	}
out:
	pthread_mutex_unlock(&b->lock);
	return ret;
}

void pci_cfg_read(struct pci_bus *b, unsigned slot, unsigned fn, unsigned offset, uint8_t *data, unsigned size)
{
	struct pci_dev *d;

	pthread_mutex_lock(&b->lock);
	d = slot < PCI_SLOTS && fn == 0 ? b->dev[slot] : NULL;
	for (unsigned i = 0; i < size; i++)
		data[i] = d && offset + i < PCI_CFG_SIZE ? d->cfg[offset + i] : 0xFF;
	pthread_mutex_unlock(&b->lock);
}

void pci_cfg_write(struct pci_bus *b, unsigned slot, unsigned fn, unsigned offset, const uint8_t *data,
		   unsigned size)
{
	struct pci_dev *d;

	pthread_mutex_lock(&b->lock);
	d = slot < PCI_SLOTS && fn == 0 ? b->dev[slot] : NULL;
	if (d && offset < PCI_CFG_SIZE && size <= PCI_CFG_SIZE - offset) {
		for (unsigned i = 0; i < size; i++) {
			unsigned o = offset + i;
			uint8_t w = d->wmask[o], c = d->w1cmask[o];

			d->cfg[o] = (uint8_t)((d->cfg[o] & ~w) | (data[i] & w));
			d->cfg[o] &= (uint8_t)~(data[i] & c);
		}
		update_bars(b, d);
		if (d->ops && d->ops->cfg_written)
			d->ops->cfg_written(d, offset, size);
	}
	pthread_mutex_unlock(&b->lock);
}

/*
 * 0xCF8-0xCFB: CONFIG_ADDRESS takes 32-bit accesses only; a byte at 0xCF9
 * is the chipset's reset control register, handed to its own device.
 */
static void addr_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write)
{
	struct pci_bus *b = opaque;

	if (offset == 1 && size == 1 && b->cf9_io) {
		b->cf9_io(b->cf9_opaque, 0, data, size, is_write);
		return;
	}
	if (offset != 0 || size != 4) {
		if (!is_write)
			memset(data, 0xFF, size);
		return;
	}
	pthread_mutex_lock(&b->lock);
	if (is_write)
		memcpy(&b->config_address, data, 4);
	else
		memcpy(data, &b->config_address, 4);
	pthread_mutex_unlock(&b->lock);
}

static void data_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write)
{
	struct pci_bus *b = opaque;
	uint32_t a;
	unsigned bus, slot, fn, reg;

	pthread_mutex_lock(&b->lock);
	a = b->config_address;
	pthread_mutex_unlock(&b->lock);
	bus = (a >> 16) & 0xFF;
	slot = (a >> 11) & 0x1F;
	fn = (a >> 8) & 0x7;
	reg = (a & 0xFC) + (unsigned)offset;
	if (!(a & 0x80000000u) || bus != 0 || offset + size > 4) {
		if (!is_write)
			memset(data, 0xFF, size);
		return;
	}
	if (is_write)
		pci_cfg_write(b, slot, fn, reg, data, size);
	else
		pci_cfg_read(b, slot, fn, reg, data, size);
}

static void mmio_io(void *opaque, uint64_t offset, uint8_t *data, unsigned size, bool is_write)
{
	struct pci_bus *b = opaque;
	uint64_t addr = b->window_base + offset;
	struct pci_dev *hit = NULL;
	unsigned bar = 0;
	uint64_t boff = 0;

	pthread_mutex_lock(&b->lock);
	for (unsigned s = 1; s < PCI_SLOTS && !hit; s++) {
		struct pci_dev *d = b->dev[s];

		if (!d)
			continue;
		for (unsigned n = 0; n < PCI_NUM_BARS; n++) {
			uint64_t base = d->bar_addr[n];

			if (base && addr >= base && addr - base < d->bar_size[n] &&
			    size <= d->bar_size[n] - (addr - base)) {
				hit = d;
				bar = n;
				boff = addr - base;
				break;
			}
		}
	}
	pthread_mutex_unlock(&b->lock);
	if (hit && hit->ops && hit->ops->bar_io)
		hit->ops->bar_io(hit, bar, boff, data, size, is_write);
	else if (!is_write)
		memset(data, 0xFF, size);
}

int pci_bus_attach(struct pci_bus *b, struct bus *pio, struct bus *mmio, bus_io_fn cf9_io, void *cf9_opaque)
{
	int err;

	b->cf9_io = cf9_io;
	b->cf9_opaque = cf9_opaque;
	err = bus_register(pio, PCI_CONFIG_ADDRESS, 4, addr_io, b, "pci-address");
	if (!err)
		err = bus_register(pio, PCI_CONFIG_DATA, 4, data_io, b, "pci-data");
	if (!err)
		err = bus_register(mmio, b->window_base, PCI_MMIO_WINDOW_END - b->window_base, mmio_io, b,
				   "pci-mmio");
	return err;
}
