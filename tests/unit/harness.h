/* SPDX-License-Identifier: MIT */
/*
 * A native virtio driver for tests: fake guest memory (tests/unit/fakemem.h)
 * plus a PCI bus, driven through the same configuration-space port accesses
 * (0xCF8/0xCFC) and BAR 0 MMIO accesses a guest makes. MSI-X messages are
 * recorded instead of injected, and queue notifications take the MMIO path
 * (no KVM ioeventfd), so a whole device runs in-process in milliseconds.
 *
 *	struct harness h;
 *	struct virtio_rng rng;
 *	struct fake_ring r;
 *
 *	h_init(&h, 1 << 20);
 *	virtio_rng_init(&rng, &h.plat, &h.fm.all);
 *	h_plug(&h, &rng.vdev);
 *	h_negotiate(&h, 1ULL << VIRTIO_F_VERSION_1);   // true: FEATURES_OK stuck
 *	fake_ring_layout(&r, &h.fm, 8, 0x1000);
 *	h_queue_setup(&h, 0, &r, 1);
 *	h_driver_ok(&h);
 *	... fake_chain / fake_avail_push / h_kick(&h, 0) / h_wait_used(&r, 1000)
 */
#ifndef APERTURE_TEST_HARNESS_H
#define APERTURE_TEST_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include "devices/bus.h"
#include "devices/pci.h"
#include "devices/virtio-pci.h"
#include "tests/unit/fakemem.h"

#define H_MAX_VECTORS 64

struct harness {
	struct fakemem fm;
	struct bus pio, mmio;
	struct pci_bus pci;
	struct virtio_platform plat;
	struct virtio_dev *vd;
	unsigned slot;
	uint64_t bar0;
	/* capability offsets found by walking the list, as a driver does */
	unsigned cap_common, cap_isr, cap_device, cap_notify;
	uint32_t common_off, isr_off, device_off, notify_off, notify_mult;
	/* MSI-X messages seen (atomic counters; the device's worker raises them) */
	unsigned msi[H_MAX_VECTORS];
	uint64_t msi_addr[H_MAX_VECTORS];
	uint32_t msi_data[H_MAX_VECTORS];
};

/* Fake RAM of mem_size bytes at 0; PCI window above it. */
void h_init(struct harness *h, uint64_t mem_size);
void h_destroy(struct harness *h);
/* Add vd to the bus, find its virtio capabilities, enable memory decoding and
 * MSI-X (vector v programmed with address 0xFEE00000, data 0x4000 + v). */
void h_plug(struct harness *h, struct virtio_dev *vd);

uint32_t h_cfg_read(struct harness *h, unsigned reg, unsigned size);
void h_cfg_write(struct harness *h, unsigned reg, unsigned size, uint32_t v);
uint32_t h_bar_read(struct harness *h, uint64_t off, unsigned size);
void h_bar_write(struct harness *h, uint64_t off, unsigned size, uint32_t v);
uint32_t h_common_read(struct harness *h, unsigned off, unsigned size);
void h_common_write(struct harness *h, unsigned off, unsigned size, uint32_t v);

uint8_t h_status(struct harness *h);
void h_set_status(struct harness *h, uint8_t s);
/* Reset, ACKNOWLEDGE|DRIVER, write features, FEATURES_OK; true if it stuck. */
bool h_negotiate(struct harness *h, uint64_t features);
uint64_t h_device_features(struct harness *h);
/* Program queue q with the ring's addresses and MSI-X vector, then enable it. */
void h_queue_setup(struct harness *h, unsigned q, const struct fake_ring *r, uint16_t vec);
void h_driver_ok(struct harness *h);
/* Notify queue q through its notify address. */
void h_kick(struct harness *h, unsigned q);
/* Wait up to ms for the used index to move past `old`; true if it did. */
bool h_wait_used(struct fake_ring *r, uint16_t old, unsigned ms);
/* Wait up to ms for NEEDS_RESET in device_status. */
bool h_wait_needs_reset(struct harness *h, unsigned ms);
unsigned h_msi_count(struct harness *h, unsigned vec);

#endif
