/* SPDX-License-Identifier: MIT */
#include "tests/unit/harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MSI_ADDR 0xFEE00000u
#define MSI_DATA_BASE 0x4000u

static int plat_ioeventfd(void *ctx, int efd, uint64_t addr, unsigned len, bool assign)
{
	(void)ctx;
	(void)efd;
	(void)addr;
	(void)len;
	(void)assign;
	return -ENOSYS; /* kicks arrive as MMIO writes, like a monitor without ioeventfd */
}

static void plat_route(void *ctx, struct virtio_dev *vd, unsigned vec, uint64_t addr, uint32_t data)
{
	struct harness *h = ctx;

	(void)vd;
	if (vec < H_MAX_VECTORS) {
		h->msi_addr[vec] = addr;
		h->msi_data[vec] = data;
	}
}

static void plat_deliver(void *ctx, struct virtio_dev *vd, unsigned vec)
{
	struct harness *h = ctx;

	(void)vd;
	if (vec < H_MAX_VECTORS)
		__atomic_fetch_add(&h->msi[vec], 1, __ATOMIC_RELEASE);
}

static void h_die(const char *what)
{
	fprintf(stderr, "harness: %s\n", what);
	abort();
}

void h_init(struct harness *h, uint64_t mem_size)
{
	memset(h, 0, sizeof(*h));
	fakemem_init_simple(&h->fm, mem_size);
	pci_bus_init(&h->pci, mem_size);
	if (pci_bus_attach(&h->pci, &h->pio, &h->mmio, NULL, NULL))
		h_die("pci_bus_attach");
	h->plat = (struct virtio_platform){
		.ioeventfd = plat_ioeventfd, .msi_route = plat_route, .msi_deliver = plat_deliver, .ctx = h,
	};
}

void h_destroy(struct harness *h)
{
	fakemem_destroy(&h->fm);
}

uint32_t h_cfg_read(struct harness *h, unsigned reg, unsigned size)
{
	uint32_t a = 0x80000000u | h->slot << 11 | (reg & 0xFC), v = 0;

	bus_dispatch(&h->pio, PCI_CONFIG_ADDRESS, (uint8_t *)&a, 4, true);
	bus_dispatch(&h->pio, PCI_CONFIG_DATA + (reg & 3), (uint8_t *)&v, size, false);
	return v;
}

void h_cfg_write(struct harness *h, unsigned reg, unsigned size, uint32_t v)
{
	uint32_t a = 0x80000000u | h->slot << 11 | (reg & 0xFC);

	bus_dispatch(&h->pio, PCI_CONFIG_ADDRESS, (uint8_t *)&a, 4, true);
	bus_dispatch(&h->pio, PCI_CONFIG_DATA + (reg & 3), (uint8_t *)&v, size, true);
}

uint32_t h_bar_read(struct harness *h, uint64_t off, unsigned size)
{
	uint32_t v = 0;

	bus_dispatch(&h->mmio, h->bar0 + off, (uint8_t *)&v, size, false);
	return v;
}

void h_bar_write(struct harness *h, uint64_t off, unsigned size, uint32_t v)
{
	bus_dispatch(&h->mmio, h->bar0 + off, (uint8_t *)&v, size, true);
}

uint32_t h_common_read(struct harness *h, unsigned off, unsigned size)
{
	return h_bar_read(h, h->common_off + off, size);
}

void h_common_write(struct harness *h, unsigned off, unsigned size, uint32_t v)
{
	h_bar_write(h, h->common_off + off, size, v);
}

void h_plug(struct harness *h, struct virtio_dev *vd)
{
	int slot = pci_bus_add(&h->pci, &vd->pci, -1);
	unsigned cap, msix = 0;

	if (slot < 0)
		h_die("pci_bus_add");
	h->vd = vd;
	h->slot = (unsigned)slot;
	if ((h_cfg_read(h, PCI_VENDOR_ID, 2)) != VIRTIO_PCI_VENDOR)
		h_die("no virtio vendor id");
	/* Walk the capability list as virtio_pci_modern does. */
	for (cap = h_cfg_read(h, PCI_CAPABILITY_LIST, 1); cap; cap = h_cfg_read(h, cap + 1, 1)) {
		unsigned id = h_cfg_read(h, cap, 1);

		if (id == PCI_CAP_ID_MSIX) {
			msix = cap;
			continue;
		}
		if (id != PCI_CAP_ID_VNDR)
			continue;
		switch (h_cfg_read(h, cap + VIRTIO_PCI_CAP_CFG_TYPE, 1)) {
		case VIRTIO_PCI_CAP_COMMON_CFG:
			h->cap_common = cap;
			h->common_off = h_cfg_read(h, cap + VIRTIO_PCI_CAP_OFFSET, 4);
			break;
		case VIRTIO_PCI_CAP_ISR_CFG:
			h->cap_isr = cap;
			h->isr_off = h_cfg_read(h, cap + VIRTIO_PCI_CAP_OFFSET, 4);
			break;
		case VIRTIO_PCI_CAP_DEVICE_CFG:
			h->cap_device = cap;
			h->device_off = h_cfg_read(h, cap + VIRTIO_PCI_CAP_OFFSET, 4);
			break;
		case VIRTIO_PCI_CAP_NOTIFY_CFG:
			h->cap_notify = cap;
			h->notify_off = h_cfg_read(h, cap + VIRTIO_PCI_CAP_OFFSET, 4);
			h->notify_mult = h_cfg_read(h, cap + sizeof(struct virtio_pci_cap), 4);
			break;
		}
	}
	if (!h->cap_common || !h->cap_isr || !h->cap_notify || !msix)
		h_die("missing virtio or MSI-X capability");
	h->bar0 = h_cfg_read(h, PCI_BASE_ADDRESS_0, 4) & PCI_BASE_ADDRESS_MEM_MASK;
	h_cfg_write(h, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	/* Program every vector, unmask, enable MSI-X. */
	{
		uint32_t table = h_cfg_read(h, msix + PCI_MSIX_TABLE, 4) & PCI_MSIX_TABLE_OFFSET;
		unsigned n = (h_cfg_read(h, msix + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_QSIZE) + 1;

		for (unsigned v = 0; v < n; v++) {
			h_bar_write(h, table + v * 16 + 0, 4, MSI_ADDR);
			h_bar_write(h, table + v * 16 + 4, 4, 0);
			h_bar_write(h, table + v * 16 + 8, 4, MSI_DATA_BASE + v);
			h_bar_write(h, table + v * 16 + 12, 4, 0);
		}
		h_cfg_write(h, msix + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	}
}

uint8_t h_status(struct harness *h)
{
	return (uint8_t)h_common_read(h, VIRTIO_PCI_COMMON_STATUS, 1);
}

void h_set_status(struct harness *h, uint8_t s)
{
	h_common_write(h, VIRTIO_PCI_COMMON_STATUS, 1, s);
}

uint64_t h_device_features(struct harness *h)
{
	uint64_t f;

	h_common_write(h, VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
	f = h_common_read(h, VIRTIO_PCI_COMMON_DF, 4);
	h_common_write(h, VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
	return f | (uint64_t)h_common_read(h, VIRTIO_PCI_COMMON_DF, 4) << 32;
}

bool h_negotiate(struct harness *h, uint64_t features)
{
	h_set_status(h, 0);
	h_set_status(h, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	h_set_status(h, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	h_common_write(h, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	h_common_write(h, VIRTIO_PCI_COMMON_GF, 4, (uint32_t)features);
	h_common_write(h, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	h_common_write(h, VIRTIO_PCI_COMMON_GF, 4, (uint32_t)(features >> 32));
	h_set_status(h, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
	return h_status(h) & VIRTIO_CONFIG_S_FEATURES_OK;
}

void h_queue_setup(struct harness *h, unsigned q, const struct fake_ring *r, uint16_t vec)
{
	h_common_write(h, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
	h_common_write(h, VIRTIO_PCI_COMMON_Q_SIZE, 2, r->size);
	h_common_write(h, VIRTIO_PCI_COMMON_Q_DESCLO, 4, (uint32_t)r->desc);
	h_common_write(h, VIRTIO_PCI_COMMON_Q_DESCHI, 4, (uint32_t)(r->desc >> 32));
	h_common_write(h, VIRTIO_PCI_COMMON_Q_AVAILLO, 4, (uint32_t)r->avail);
	h_common_write(h, VIRTIO_PCI_COMMON_Q_AVAILHI, 4, (uint32_t)(r->avail >> 32));
	h_common_write(h, VIRTIO_PCI_COMMON_Q_USEDLO, 4, (uint32_t)r->used);
	h_common_write(h, VIRTIO_PCI_COMMON_Q_USEDHI, 4, (uint32_t)(r->used >> 32));
	h_common_write(h, VIRTIO_PCI_COMMON_Q_MSIX, 2, vec);
	h_common_write(h, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
}

void h_driver_ok(struct harness *h)
{
	h_set_status(h, (uint8_t)(h_status(h) | VIRTIO_CONFIG_S_DRIVER_OK));
}

void h_kick(struct harness *h, unsigned q)
{
	uint16_t noff;

	h_common_write(h, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
	noff = (uint16_t)h_common_read(h, VIRTIO_PCI_COMMON_Q_NOFF, 2);
	h_bar_write(h, h->notify_off + (uint64_t)noff * h->notify_mult, 2, q);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

bool h_wait_used(struct fake_ring *r, uint16_t old, unsigned ms)
{
	for (unsigned t = 0; t <= ms; t++) {
		if (fake_used_idx(r) != old)
			return true;
		sleep_ms(1);
	}
	return false;
}

bool h_wait_needs_reset(struct harness *h, unsigned ms)
{
	for (unsigned t = 0; t <= ms; t++) {
		if (h_status(h) & VIRTIO_CONFIG_S_NEEDS_RESET)
			return true;
		sleep_ms(1);
	}
	return false;
}

unsigned h_msi_count(struct harness *h, unsigned vec)
{
	return vec < H_MAX_VECTORS ? __atomic_load_n(&h->msi[vec], __ATOMIC_ACQUIRE) : 0;
}
