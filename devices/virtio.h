/* SPDX-License-Identifier: MIT */
/*
 * The virtio device core, apart from any transport: a device's const ops
 * table, its queues (checked split virtqueues, devices/virtqueue.h), its
 * status machine (FEATURES_OK refused unless the driver's features are a
 * subset of ours and include VERSION_1 and every required feature; reset),
 * its worker thread, its timer, and the one error policy: a driver that
 * breaks the rules sends the device to NEEDS_RESET (virtio_dev_fail(): one
 * rate-limited log line, a configuration interrupt, no more queue
 * processing until the driver resets it); the monitor lives.
 *
 * The PCI transport (devices/virtio-pci.c) decodes the guest's register
 * accesses into the calls under "for transports" below and owns interrupt
 * delivery (MSI-X).
 *
 * Threads: register accesses come from vCPU threads, any number at once;
 * queue work runs on the device's own worker thread, woken by one eventfd
 * per queue (the KVM ioeventfd on the notify address, or written by bar_io
 * when the access came as an MMIO exit, e.g. in the native test harness).
 * Two locks, always taken in this order:
 *   ctl_lock  serialises every write to the common configuration with the
 *             reset or worker start it causes: a status write, the whole
 *             reset that follows (worker stop, quiesce, queue reset,
 *             ops->reset) and a worker start run under it, so two vCPUs
 *             can never both join one worker, and a DRIVER_OK can never
 *             start a worker in the middle of another vCPU's reset. The
 *             worker thread never takes it (it is joined under it).
 *   lock      the registers and queue state, held briefly by everyone.
 */
#ifndef APERTURE_VIRTIO_H
#define APERTURE_VIRTIO_H

#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "devices/msix.h"
#include "devices/pci.h"
#include "devices/virtqueue.h"
#include "lib/memory.h"

#define VIRTIO_MAX_QUEUES 16
#ifndef VIRTIO_F_SWIOTLB
#define VIRTIO_F_SWIOTLB 27 /* docs/protocol.md */
#endif

struct virtio_dev;

/*
 * A device's const ops table. The transport never writes into it.
 */
struct virtio_dev_ops {
	const char *name;
	uint16_t type;          /* virtio device type: 4 = entropy, 19 = vsock, ... */
	uint32_t pci_class;     /* class << 8 | prog-if, e.g. 0xFF0000 */
	unsigned nqueues;       /* 1..VIRTIO_MAX_QUEUES; the maximum when an instance chooses (virtio_dev_init_n) */
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
	/*
	 * Optional: queues the device serves on threads of its own (bit q for
	 * queue q). The worker does not watch their notifications: the device
	 * polls vd->q[q].kick_efd itself, asks virtio_queue_ready() before it
	 * pops, and must implement quiesce (stop touching those queues) and
	 * reset, and threads_start/threads_stop.
	 */
	uint32_t own_queues;
	/*
	 * With own_queues: start and join the threads that serve them. Called
	 * where the worker starts and stops (ctl_lock held), so that the
	 * threads poll the kick descriptors of the moment: a vhost-user back
	 * end replaces them (SET_VRING_KICK) and restarts the worker.
	 */
	int (*threads_start)(struct virtio_dev *vd);
	void (*threads_stop)(struct virtio_dev *vd);
	/* The driver reset the device: drop device state. Worker thread stopped. */
	void (*reset)(struct virtio_dev *vd);
	/*
	 * Optional, for devices whose queues are served elsewhere (a vhost-user
	 * front end): the driver set DRIVER_OK; hand the enabled queues over
	 * instead of starting the worker (queue_notify is then never called).
	 * Runs on the vCPU thread that wrote the status, with ctl_lock held. A
	 * negative errno fails the device. Such a device stops its remote
	 * queues in quiesce.
	 */
	int (*start)(struct virtio_dev *vd);
	/*
	 * Optional: the deadline set with virtio_dev_timer_at() passed. Runs
	 * on the worker thread only, after DRIVER_OK while the device is not
	 * failed (a timer that expires earlier runs once the worker starts).
	 * A negative errno fails the device.
	 */
	int (*timer)(struct virtio_dev *vd);
};

/* How the transport reaches the platform (KVM, or the test harness). */
struct virtio_platform {
	/* Bind/unbind an eventfd to driver writes at guest-physical `addr`. */
	int (*ioeventfd)(void *ctx, int efd, uint64_t addr, unsigned len, bool assign);
	/* MSI-X vector programmed: deliver `efd` writes as that MSI. */
	void (*msi_route)(void *ctx, struct virtio_dev *vd, unsigned vec, uint64_t addr, uint32_t data);
	/* Raise vector `vec` of vd. */
	void (*msi_deliver)(void *ctx, struct virtio_dev *vd, unsigned vec);
	/* Optional: vd just went to NEEDS_RESET for `why` (an event for the monitor). */
	void (*failed)(void *ctx, struct virtio_dev *vd, const char *why);
	/* Optional: the transport to use instead of PCI (a vhost-user back end's). */
	const struct virtio_transport *transport;
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

/*
 * How the core reaches the driver; set by the transport (PCI: MSI-X and the
 * ISR register; a vhost-user back end: the call eventfds).
 */
struct virtio_transport {
	/* Queue q has new used buffers and vq_needs_notify() said to interrupt. */
	void (*queue_interrupt)(struct virtio_dev *vd, unsigned q);
	/* The device configuration or status changed (config_generation was bumped). */
	void (*config_interrupt)(struct virtio_dev *vd);
};

struct virtio_dev {
	const struct virtio_dev_ops *ops;
	const struct virtio_transport *transport;
	unsigned nqueues;           /* this instance's queue count, <= ops->nqueues */
	const struct virtio_platform *plat;
	void *priv;                 /* the device's own state */
	struct pci_dev pci;
	struct msix msix;
	struct gm_view view;        /* all guest memory this device may touch */
	struct gm_stats stats;      /* what view let through / turned away */
	uint64_t host_features;     /* transport + device features offered */
	uint64_t required_features; /* FEATURES_OK only if all of these are acked */
	int aperture_cap;           /* config offset of the aperture capability, 0: none */

	pthread_mutex_t ctl_lock;   /* see "Two locks" above */
	pthread_t ctl_owner;        /* holder of ctl_lock, for assertions */
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
	bool worker_running;        /* changed only under ctl_lock */
	int stop_efd;
	int timer_fd;               /* timerfd for ops->timer (CLOCK_MONOTONIC) */
	uint64_t violations;        /* guest errors seen (for tests and events) */
	void *plat_dev;             /* the platform's per-device state (irqfds) */
};


/* The guest broke the rules: NEEDS_RESET, one log line, config interrupt. */
void virtio_dev_fail(struct virtio_dev *vd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * The one way a device starts a thread of its own: named "<device>:<role>"
 * (truncated to 15 bytes; ps, top and gdb show it) with every signal
 * blocked (signals are the main thread's). 0 or -errno. A thread that meets
 * a guest error calls virtio_dev_fail(), never exits the process.
 */
int virtio_thread_start(struct virtio_dev *vd, pthread_t *t, const char *role, void *(*fn)(void *), void *arg)
	must_check;

/* For ops->queue_notify: the checked chain iterator and completion. */
int virtio_pop(struct virtio_dev *vd, unsigned q, struct vq_chain *c) must_check;
int virtio_push(struct virtio_dev *vd, unsigned q, uint16_t head, uint32_t len) must_check;
/*
 * For a queue in ops->own_queues, on the device's thread: may it be served
 * now (DRIVER_OK, the queue enabled, the device not failed)?
 */
bool virtio_queue_ready(struct virtio_dev *vd, unsigned q);
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
/*
 * Arm the device's one timer: ops->timer runs on the worker once
 * CLOCK_MONOTONIC passes deadline_ns (replacing any earlier deadline);
 * 0 disarms it. Any thread.
 */
void virtio_dev_timer_at(struct virtio_dev *vd, uint64_t deadline_ns);


/* ---- for transports ---- */

enum virtio_action { VIRTIO_ACT_NONE, VIRTIO_ACT_START, VIRTIO_ACT_RESET };

/*
 * The transport-independent half of initialising vd (ops checked, queues'
 * eventfds, locks, features = ops->features | transport_features). -errno.
 */
int virtio_core_init(struct virtio_dev *vd, const struct virtio_dev_ops *ops, const struct virtio_platform *plat,
		     const struct gm_view *view, void *priv, unsigned nqueues, uint64_t transport_features) must_check;
/* Stop the worker and close what virtio_core_init() opened. */
void virtio_core_destroy(struct virtio_dev *vd);
/* ctl_lock around a register write and the action it returns. */
void virtio_ctl_lock(struct virtio_dev *vd);
void virtio_ctl_unlock(struct virtio_dev *vd);
/* The driver wrote device_status = v. Caller holds ctl_lock and vd->lock; run the result after unlocking vd->lock. */
enum virtio_action virtio_status_write(struct virtio_dev *vd, uint8_t v);
/* Reset the device or start its worker. Caller holds ctl_lock, not vd->lock. */
void virtio_run_action(struct virtio_dev *vd, enum virtio_action act);
/*
 * Stop / start only the worker thread (a transport that changes a queue's
 * kick descriptor: the worker polls the descriptors it saw at its start).
 * Caller holds ctl_lock.
 */
void virtio_worker_stop(struct virtio_dev *vd);
void virtio_worker_start(struct virtio_dev *vd);

#endif
