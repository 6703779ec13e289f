/* SPDX-License-Identifier: MIT */
/*
 * PCI: one bus (0) behind type-1 configuration ports 0xCF8/0xCFC, a host
 * bridge at 00:00.0, and memory BARs in the 32-bit window below the IOAPIC.
 *
 * What it trusts: nothing. The guest can write any value to any
 * configuration register; each device declares which bits are writable
 * (wmask) and the bus applies exactly those. BAR size probing (write all
 * ones, read back) falls out of the mask. The bus routes MMIO exits inside
 * the window to the device whose enabled BAR covers the whole access.
 *
 * Locking: pci_bus.lock serialises configuration access and BAR moves;
 * device BAR handlers lock themselves.
 */
#ifndef APERTURE_PCI_H
#define APERTURE_PCI_H

#include <linux/pci_regs.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "devices/bus.h"
#include "lib/layout.h"
#include "lib/util.h"

#define PCI_CONFIG_ADDRESS 0xCF8
#define PCI_CONFIG_DATA 0xCFC
#define PCI_SLOTS 32
#define PCI_CFG_SIZE 256
#define PCI_NUM_BARS 6
/*
 * The 32-bit MMIO window runs from the end of low RAM (at most the 3 GiB
 * hole start) to the IOAPIC: Linux puts BARs in the largest e820 gap below
 * 4 GiB, which is exactly that.
 */
#define PCI_MMIO_WINDOW_END LAYOUT_PCI_WINDOW_END

struct pci_dev;

struct pci_dev_ops {
	/*
	 * An access inside BAR `bar` at `offset`; the whole [offset, offset+size)
	 * lies inside the BAR. Called from vCPU threads without the bus lock.
	 */
	void (*bar_io)(struct pci_dev *d, unsigned bar, uint64_t offset, uint8_t *data, unsigned size,
		       bool is_write);
	/*
	 * BAR `bar` decoded at `old` and now decodes at `addr` (0: not
	 * decoding). d->bar_addr[bar] already holds `addr`. Bus lock held.
	 */
	void (*bar_moved)(struct pci_dev *d, unsigned bar, uint64_t old, uint64_t addr);
	/* After the bus applied a configuration write (bus lock held). Optional. */
	void (*cfg_written)(struct pci_dev *d, unsigned offset, unsigned size);
};

struct pci_dev {
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE];   /* writable bits */
	uint8_t w1cmask[PCI_CFG_SIZE]; /* write-one-to-clear bits (status) */
	uint64_t bar_size[PCI_NUM_BARS]; /* 0: BAR unused; power of two >= 16 */
	uint64_t bar_addr[PCI_NUM_BARS]; /* where it decodes now, 0 if not */
	const struct pci_dev_ops *ops;
	void *opaque;
	unsigned slot;
	uint8_t next_cap; /* where pci_add_cap() puts the next capability */
};

struct pci_bus {
	pthread_mutex_t lock;
	uint32_t config_address;
	struct pci_dev *dev[PCI_SLOTS];
	struct pci_dev host_bridge;
	uint64_t window_base;
	uint64_t mmio_next; /* bump allocator for initial BAR placement */
	bus_io_fn cf9_io;
	void *cf9_opaque;
};

/* window_base: first byte above RAM below 4 GiB (2 MiB aligned up). */
void pci_bus_init(struct pci_bus *b, uint64_t window_base);
/*
 * Register 0xCF8-0xCFF on `pio` and the MMIO window on `mmio`. Byte accesses
 * to 0xCF9 (reset control, inside CONFIG_ADDRESS) go to cf9_io.
 */
int pci_bus_attach(struct pci_bus *b, struct bus *pio, struct bus *mmio, bus_io_fn cf9_io,
		   void *cf9_opaque) must_check;

/*
 * Initialise a function's header (type 0): ids, class, interrupt pin 0,
 * command/status masks. Capabilities and BARs come after.
 */
void pci_dev_init(struct pci_dev *d, uint16_t vendor, uint16_t device, uint32_t class_rev,
		  uint16_t subsys_vendor, uint16_t subsys_id, const struct pci_dev_ops *ops, void *opaque);
/* Declare 32-bit memory BAR n of `size` bytes (power of two, >= 4 KiB). */
int pci_dev_set_bar(struct pci_dev *d, unsigned n, uint64_t size) must_check;
/* Append a capability of `len` bytes with ID `id`; returns its offset or -ENOSPC. */
int pci_add_cap(struct pci_dev *d, uint8_t id, unsigned len) must_check;

/*
 * Put d in a free slot (or `slot` if >= 0) and place its BARs in the window.
 * Returns the slot or -ENOSPC / -EBUSY. A device added after boot is found
 * by the guest's rescan.
 */
int pci_bus_add(struct pci_bus *b, struct pci_dev *d, int slot) must_check;

/* Configuration access as the ports do it (offset already dword-aligned + byte). */
void pci_cfg_read(struct pci_bus *b, unsigned slot, unsigned fn, unsigned offset, uint8_t *data, unsigned size);
void pci_cfg_write(struct pci_bus *b, unsigned slot, unsigned fn, unsigned offset, const uint8_t *data,
		   unsigned size);

/* Little-endian accessors for a device's own configuration space. */
static inline void pci_set8(struct pci_dev *d, unsigned off, uint8_t v) { d->cfg[off] = v; }
static inline void pci_set16(struct pci_dev *d, unsigned off, uint16_t v)
{
	d->cfg[off] = (uint8_t)v;
	d->cfg[off + 1] = (uint8_t)(v >> 8);
}
static inline void pci_set32(struct pci_dev *d, unsigned off, uint32_t v)
{
	pci_set16(d, off, (uint16_t)v);
	pci_set16(d, off + 2, (uint16_t)(v >> 16));
}
static inline uint16_t pci_get16(const struct pci_dev *d, unsigned off)
{
	return (uint16_t)(d->cfg[off] | d->cfg[off + 1] << 8);
}
static inline uint32_t pci_get32(const struct pci_dev *d, unsigned off)
{
	return pci_get16(d, off) | (uint32_t)pci_get16(d, off + 2) << 16;
}

#endif
