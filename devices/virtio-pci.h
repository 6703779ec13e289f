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
 * a queue, against the device's view of guest memory (its aperture, later);
 * FEATURES_OK is refused unless the driver's features are a subset of ours
 * and include VERSION_1. A driver that breaks the rules sends the device to
 * NEEDS_RESET (virtio_dev_fail(): one log line, a configuration interrupt,
 * no more queue processing until the driver resets it); the monitor lives.
 *
 * Threads: register accesses come from vCPU threads (dev->lock); queue work
 * runs on the device's own worker thread, woken by one eventfd per queue
 * (the KVM ioeventfd on the notify address, or written by bar_io when the
 * access came as an MMIO exit, e.g. in the native test harness).
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
#define VIRTIO_MAX_QUEUES 16
/*
 * Per-device DMA apertures (docs/protocol.md): the feature bit and the
 * vendor capability type of the VIRTIO_F_SWIOTLB RFC, neither in the
 * kernel headers yet. The capability is a struct virtio_pci_cap64 whose
 * offset/offset_hi hold the aperture's guest-physical base and
 * length/length_hi its size (bar and id are 0).
 */
#ifndef VIRTIO_F_SWIOTLB
#define VIRTIO_F_SWIOTLB 27
#endif
#ifndef VIRTIO_PCI_CAP_SWIOTLB
#define VIRTIO_PCI_CAP_SWIOTLB 10
#endif
/* What an aperture device requires the driver to acknowledge. */
#define VIRTIO_APERTURE_FEATURES \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_ACCESS_PLATFORM) | (1ULL << VIRTIO_F_SWIOTLB))
#define VIRTIO_PCI_VENDOR 0x1AF4
#define VIRTIO_PCI_DEVICE_BASE 0x1040 /* + virtio device type, modern ids */

struct virtio_dev;

/*
 * A device's const ops table. The transport never writes into it.
 */
struct virtio_dev_ops {
	const char *name;
	uint16_t type;          /* virtio device type: 4 = entropy, 19 = vsock, ... */
	uint32_t pci_class;     /* class << 8 | prog-if, e.g. 0xFF0000 */
	unsigned nqueues;       /* 1..VIRTIO_MAX_QUEUES */
	uint16_t queue_size;    /* maximum (and default) size of every queue */
	uint64_t features;      /* device-specific feature bits offered */
	uint32_t config_size;   /* bytes of device configuration (<= 0x1000) */
	/* Read device configuration [off, off+len); the transport checked the range. */
	void (*config_read)(struct virtio_dev *vd, uint32_t off, uint8_t *data, unsigned len);
	/* Write device configuration; optional (read-only configuration otherwise). */
	void (*config_write)(struct virtio_dev *vd, uint32_t off, const uint8_t *data, unsigned len);
	/*
	 * Queue `q` was notified (by the driver, or virtio_dev_kick()). Runs on
	 * the device's worker thread only, after DRIVER_OK and while the device
	 * is not failed. Drain what can be handled now: pop with virtio_pop()
	 * until it returns 0, complete with virtio_push(); the transport then
	 * asks for the next kick (avail_event) and calls again if buffers
	 * slipped in. Return a negative errno for a guest error (the transport
	 * then fails the device).
	 */
	int (*queue_notify)(struct virtio_dev *vd, unsigned q);
	/*
	 * Optional, for devices that finish requests on threads of their own:
	 * the transport's worker has stopped and the queues are about to be
	 * reset; stop touching them (drop what is pending, wait for what is in
	 * flight) before returning.
	 */
	void (*quiesce)(struct virtio_dev *vd);
	/* The driver reset the device: drop device state. Worker thread stopped. */
	void (*reset)(struct virtio_dev *vd);
	/*
	 * Optional, for devices that run their own queue threads (virtio-net:
	 * one per queue pair). With start set the transport runs no worker of
	 * its own for vd: start() is called where the worker would be started
	 * (DRIVER_OK, no vd->lock held) and must start threads that wait on
	 * vd->q[i].kick_efd themselves, check that the device is not failed
	 * and the queue enabled before touching a queue, and handle each queue
	 * from one thread only; stop() is called where the worker would be
	 * stopped (reset, destroy; before quiesce and reset) and must join
	 * them. Both or neither.
	 */
	void (*start)(struct virtio_dev *vd);
	void (*stop)(struct virtio_dev *vd);
};

/* How the transport reaches the platform (KVM, or the test harness). */
struct virtio_platform {
	/* Bind/unbind an eventfd to driver writes at guest-physical `addr`. */
	int (*ioeventfd)(void *ctx, int efd, uint64_t addr, unsigned len, bool assign);
	/* MSI-X vector programmed: deliver `efd` writes as that MSI. */
	void (*msi_route)(void *ctx, struct virtio_dev *vd, unsigned vec, uint64_t addr, uint32_t data);
	/* Raise vector `vec` of vd. */
	void (*msi_deliver)(void *ctx, struct virtio_dev *vd, unsigned vec);
	void *ctx;
};

struct virtio_queue {
	struct vq vq;
	uint16_t size;
	uint16_t msix;
	bool enabled;
	uint64_t desc, avail, used;
	int kick_efd;
};

struct virtio_dev {
	const struct virtio_dev_ops *ops;
	const struct virtio_platform *plat;
	void *priv;                 /* the device's own state */
	struct pci_dev pci;
	struct msix msix;
	struct gm_view view;        /* all guest memory this device may touch */
	struct gm_stats stats;      /* what view let through / turned away */
	uint64_t host_features;     /* transport + device features offered */
	uint64_t required_features; /* FEATURES_OK only if all of these are acked */
	int aperture_cap;           /* config offset of the aperture capability, 0: none */

	pthread_mutex_t lock;       /* registers below */
	uint8_t status;
	uint8_t isr;
	uint8_t config_generation;
	uint32_t dfselect, gfselect;
	uint64_t driver_features;
	uint16_t queue_select;
	uint16_t config_msix;
	bool failed;
	struct virtio_queue q[VIRTIO_MAX_QUEUES];

	pthread_t worker;
	bool worker_running;
	int stop_efd;
	uint64_t violations;        /* guest errors seen (for tests and events) */
	void *plat_dev;             /* the platform's per-device state (irqfds) */
};

/*
 * Initialise vd for `ops` with `view` as its window on guest memory. The PCI
 * function is ready for pci_bus_add(). An aperture view (view->aperture)
 * makes vd an aperture device: it advertises the aperture capability,
 * offers ACCESS_PLATFORM and SWIOTLB, and accepts FEATURES_OK only when the
 * driver acknowledged VIRTIO_APERTURE_FEATURES. -errno.
 */
int virtio_dev_init(struct virtio_dev *vd, const struct virtio_dev_ops *ops, const struct virtio_platform *plat,
		    const struct gm_view *view, void *priv) must_check;
void virtio_dev_destroy(struct virtio_dev *vd);

/* The guest broke the rules: NEEDS_RESET, one log line, config interrupt. */
void virtio_dev_fail(struct virtio_dev *vd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* For ops->queue_notify: the checked chain iterator and completion. */
int virtio_pop(struct virtio_dev *vd, unsigned q, struct vq_chain *c) must_check;
int virtio_push(struct virtio_dev *vd, unsigned q, uint16_t head, uint32_t len) must_check;
/* Interrupt the driver for queue q if it wants one. */
void virtio_queue_interrupt(struct virtio_dev *vd, unsigned q);
/* Tell the driver the device configuration changed. */
void virtio_config_changed(struct virtio_dev *vd);
/*
 * Wake the worker to run ops->queue_notify(vd, q) as if the driver had
 * kicked q: how host-side events (data for the guest) reach the worker.
 * Any thread.
 */
void virtio_dev_kick(struct virtio_dev *vd, unsigned q);

#endif
