/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: PCI configuration space and a virtio device's BAR as the
 * guest drives them. The input is a list of accesses (kind, offset, size,
 * value) to the type-1 ports, and to the MMIO window where virtio-rng's BAR 0
 * (common configuration, ISR, notify, MSI-X table and PBA) lives. Whatever
 * the order, the bus and the transport must not crash, and a queue the
 * driver enables must lie inside guest memory.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "devices/pci.h"
#include "devices/virtio-rng.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEM (4u << 20)

static int no_ioeventfd(void *ctx, int efd, uint64_t addr, unsigned len, bool assign)
{
	(void)ctx;
	(void)efd;
	(void)addr;
	(void)len;
	(void)assign;
	return -1;
}

static void no_route(void *ctx, struct virtio_dev *vd, unsigned vec, uint64_t addr, uint32_t data)
{
	(void)ctx;
	(void)vd;
	(void)vec;
	(void)addr;
	(void)data;
}

static void no_deliver(void *ctx, struct virtio_dev *vd, unsigned vec)
{
	(void)ctx;
	(void)vd;
	if (vec >= MSIX_MAX_VECTORS)
		abort();
}

static const struct virtio_platform plat = {
	.ioeventfd = no_ioeventfd, .msi_route = no_route, .msi_deliver = no_deliver,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_mem mem;
	static int ready;
	static struct virtio_rng rng;
	struct bus pio, mmio;
	struct pci_bus pb;
	struct gm_view view;
	static const unsigned sizes[4] = { 1, 2, 4, 8 };

	if (!ready) {
		if (gm_create(&mem, MEM))
			abort();
		ready = 1;
	}
	memset(&pio, 0, sizeof(pio));
	memset(&mmio, 0, sizeof(mmio));
	pci_bus_init(&pb, MEM);
	if (pci_bus_attach(&pb, &pio, &mmio, NULL, NULL))
		abort();
	view = gm_view_all(&mem);
	if (virtio_rng_init(&rng, &plat, &view) || pci_bus_add(&pb, &rng.vdev.pci, -1) < 0)
		abort();
	for (size_t i = 0; i + 8 <= size; i += 8) {
		const uint8_t *a = data + i;
		unsigned sz = sizes[a[1] & 3];
		uint8_t v[8];
		uint32_t off = (uint32_t)a[2] | (uint32_t)a[3] << 8;

		memcpy(v, a + 4, 4);
		memcpy(v + 4, a + 4, 4);
		switch (a[0] & 3) {
		case 0: /* CONFIG_ADDRESS: bus 0, any slot/function/register */
			bus_dispatch(&pio, PCI_CONFIG_ADDRESS + (a[1] >> 6), v, sz > 4 ? 4 : sz, (a[0] & 4) != 0);
			break;
		case 1: /* CONFIG_DATA */
			bus_dispatch(&pio, PCI_CONFIG_DATA + (off & 3), v, sz > 4 ? 4 : sz, (a[0] & 4) != 0);
			break;
		default: /* MMIO: BAR 0 wherever the guest put it, or anywhere in the window */
			bus_dispatch(&mmio, (rng.vdev.pci.bar_addr[0] ? rng.vdev.pci.bar_addr[0] : MEM) + (off & 0x7FFF),
				     v, sz, (a[0] & 4) != 0);
			break;
		}
	}
	virtio_rng_destroy(&rng);
	return 0;
}
