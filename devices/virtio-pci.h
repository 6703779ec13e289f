/* SPDX-License-Identifier: MIT */
/*
 * Virtio over PCI, modern interface only (virtio 1.x, no legacy I/O BAR).
 *
 * One BAR 0 of 32 KiB per device:
 *   0x0000 common configuration    (VIRTIO_PCI_CAP_COMMON_CFG)
 *   0x1000 ISR status              (VIRTIO_PCI_CAP_ISR_CFG)
 *   0x2000 device configuration    (VIRTIO_PCI_CAP_DEVICE_CFG)
 *   0x3000 queue notifications     (VIRTIO_PCI_CAP_NOTIFY_CFG, 4 bytes per queue)
 *   0x4000 MSI-X table, 0x6000 MSI-X PBA
 *
 * What the transport trusts: nothing from the driver. Register accesses are
 * bounds-checked; queue addresses are validated once, when the driver enables
 * a queue, against the device's view of guest memory (its aperture);
 * FEATURES_OK is refused unless the driver's features are a subset of ours
 * and include VERSION_1. A driver that breaks the rules sends the device to
 * NEEDS_RESET (virtio_dev_fail(): one log line, a configuration interrupt,
 * no more queue processing until the driver resets it); the monitor lives.
 *
 * Threads and locks: devices/virtio.h.
 */
#ifndef APERTURE_VIRTIO_PCI_H
#define APERTURE_VIRTIO_PCI_H

#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "devices/msix.h"
#include "devices/pci.h"
#include "devices/virtio.h"
#include "devices/virtqueue.h"
#include "lib/memory.h"

#define VIRTIO_PCI_BAR_SIZE 0x8000
#define VIRTIO_PCI_COMMON_OFF 0x0000
#define VIRTIO_PCI_ISR_OFF 0x1000
#define VIRTIO_PCI_DEVICE_OFF 0x2000
#define VIRTIO_PCI_NOTIFY_OFF 0x3000
#define VIRTIO_PCI_MSIX_TABLE_OFF 0x4000
#define VIRTIO_PCI_MSIX_PBA_OFF 0x6000
#define VIRTIO_PCI_NOTIFY_MULT 4
#define VIRTIO_PCI_COMMON_SIZE 0x38
/*
 * Per-device DMA apertures (docs/protocol.md, "Aperture capability"). No
 * ratified virtio specification defines any of this, so no system header
 * has it: bit 27 and cfg_type 10 are the numbers of the VIRTIO_F_SWIOTLB
 * proposal (virtio-comment, April 2025). The capability is a struct
 * virtio_pci_cap64 of that cfg_type, but with bar = 0xff, a value the
 * specification reserves (drivers ignore such a capability): the proposal's
 * region lies in a BAR, an aperture is guest memory, and the two must not be
 * mistaken for each other. offset/offset_hi hold the aperture's
 * guest-physical base, length/length_hi its size, the le16 in the padding
 * flags; the guest refuses flags it does not know.
 */
#define VIRTIO_F_SWIOTLB 27
#define VIRTIO_PCI_CAP_SWIOTLB 10
#define VIRTIO_PCI_APERTURE_BAR_MEMORY 0xff /* bar: guest memory, no BAR */
#define VIRTIO_PCI_APERTURE_FLAGS 6         /* offset of the le16 flags */
#define VIRTIO_PCI_APERTURE_F_SHARED 0x1    /* other devices get the same one */
/* What an aperture device requires the driver to acknowledge. */
#define VIRTIO_APERTURE_FEATURES \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_ACCESS_PLATFORM) | (1ULL << VIRTIO_F_SWIOTLB))
#define VIRTIO_PCI_VENDOR 0x1AF4
#define VIRTIO_PCI_DEVICE_BASE 0x1040 /* + virtio device type, modern ids */

/*
 * Initialise vd for `ops` with `view` as its window on guest memory. The PCI
 * function is ready for pci_bus_add(). An aperture view (view->aperture)
 * makes vd an aperture device: it advertises the aperture capability,
 * offers ACCESS_PLATFORM and SWIOTLB, and accepts FEATURES_OK only when the
 * driver acknowledged VIRTIO_APERTURE_FEATURES. -errno.
 */
int virtio_dev_init(struct virtio_dev *vd, const struct virtio_dev_ops *ops, const struct virtio_platform *plat,
		    const struct gm_view *view, void *priv) must_check;
/* The same with `nqueues` queues (1..ops->nqueues): for devices whose instances differ. */
int virtio_dev_init_n(struct virtio_dev *vd, const struct virtio_dev_ops *ops, const struct virtio_platform *plat,
		      const struct gm_view *view, void *priv, unsigned nqueues) must_check;
void virtio_dev_destroy(struct virtio_dev *vd);

#endif
