/* SPDX-License-Identifier: MIT */
/*
 * MSI-X for a PCI function: the capability in configuration space, the
 * vector table and the pending-bit array in a BAR.
 *
 * What it trusts: nothing the guest writes. Table accesses must be aligned
 * 4- or 8-byte accesses inside the table; everything else is ignored (reads
 * as zero). A vector's address/data only takes effect while the vector is
 * unmasked (the spec allows the device to sample them at any time; we
 * sample on unmask and on every table write to an unmasked vector).
 *
 * Delivery goes through `ops->deliver` (the monitor binds it to an irqfd;
 * the native test harness records the message). While the function or the
 * vector is masked a notification sets the pending bit instead, and
 * unmasking delivers it.
 */
#ifndef APERTURE_MSIX_H
#define APERTURE_MSIX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "devices/pci.h"

#define MSIX_MAX_VECTORS 64
#define MSIX_NO_VECTOR 0xFFFF /* VIRTIO_MSI_NO_VECTOR */

struct msix_ops {
	/* Program vector `vec` with addr/data (called on unmask and on change). */
	void (*route)(void *ctx, unsigned vec, uint64_t addr, uint32_t data);
	/* Raise vector `vec` now. */
	void (*deliver)(void *ctx, unsigned vec);
};

struct msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl;
};

struct msix {
	pthread_mutex_t lock;
	struct pci_dev *dev;
	const struct msix_ops *ops;
	void *ctx;
	unsigned nvec;
	unsigned cap;          /* capability offset in configuration space */
	struct msix_entry table[MSIX_MAX_VECTORS];
	uint64_t pending;      /* one bit per vector */
	uint16_t ctrl;         /* Message Control, copied from config space by msix_cfg_written() */
};

/*
 * Add the capability to d: table at (bar, table_off), PBA at (bar, pba_off).
 * All vectors start masked. -EINVAL / -ENOSPC.
 */
int msix_init(struct msix *m, struct pci_dev *d, unsigned nvec, unsigned bar, uint32_t table_off,
	      uint32_t pba_off, const struct msix_ops *ops, void *ctx) must_check;
/* Bytes the table and PBA need. */
static inline uint32_t msix_table_size(unsigned nvec) { return nvec * 16; }
static inline uint32_t msix_pba_size(unsigned nvec) { return ((nvec + 63) / 64) * 8; }

void msix_table_io(struct msix *m, uint64_t offset, uint8_t *data, unsigned size, bool is_write);
void msix_pba_io(struct msix *m, uint64_t offset, uint8_t *data, unsigned size, bool is_write);
/* Configuration space write hook: the guest may have toggled enable/function mask. */
void msix_cfg_written(struct msix *m);
/* Raise `vec` (or mark it pending). Out-of-range vectors are ignored. */
void msix_notify(struct msix *m, unsigned vec);
bool msix_enabled(struct msix *m);

#endif
