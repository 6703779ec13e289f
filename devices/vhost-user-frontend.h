/* SPDX-License-Identifier: MIT */
/*
 * A virtio device whose data plane runs in a vhost-user back end (our own
 * sandboxed back-end process, or an external one such as virtiofsd). The
 * guest sees an ordinary virtio-pci device here: PCI configuration, the
 * virtio registers, MSI-X, the device configuration space and the
 * aperture capability stay in the monitor, and so does feature negotiation
 * with the guest: ACCESS_PLATFORM and VIRTIO_F_SWIOTLB are the monitor's
 * business and are never passed on. The back end gets:
 *
 *   - a memory table of the device's view only: for an aperture device ONE
 *     region, the aperture, as the RAM memfd at the aperture's offset, so
 *     the back end's process cannot map any other guest memory;
 *   - the rings' addresses, already checked against the aperture by the
 *     transport when the guest enabled each queue;
 *   - the queues' kick eventfds (KVM's ioeventfds) and, per queue, a call
 *     and an error eventfd of ours.
 *
 * A thread of ours turns call-fd writes into the device's interrupts (MSI-X
 * masking and the ISR stay exact), an error-fd write or a back end that
 * hangs up into NEEDS_RESET (virtio_dev_fail) and one `gone` callback. The
 * VM and the other devices go on.
 *
 * A dead back end must not hang the guest (Linux drivers do not reset a
 * device that reports NEEDS_RESET, and requests in flight would wait for
 * ever): from then on the same thread answers every request on the
 * device's queues itself, through the checked chain iterator on the rings
 * the transport validated, with the device's `fail_chain` (virtio-fs: a
 * FUSE reply with EIO), from the first request the back end had not
 * completed. The guest sees errors on that device, not a hang.
 *
 * Threads: start (DRIVER_OK) and stop (reset) run on the vCPU thread under
 * the device's ctl_lock, which serialises every use of the socket.
 */
#ifndef APERTURE_VHOST_USER_FRONTEND_H
#define APERTURE_VHOST_USER_FRONTEND_H

#include <pthread.h>
#include "devices/virtio-pci.h"
#include "lib/vhost-user.h"

#define VHU_MAX_CONFIG 256

struct vhu_front;

struct vhu_front_ops {
	/* The back end is gone (hung up, or reported an error we cannot recover from). Any thread. */
	void (*gone)(void *ctx, struct vhu_front *f, const char *why);
	/*
	 * After the back end is gone: answer chain c of queue q with an error
	 * (write into its writable part) and return the used length. NULL:
	 * complete every chain with length 0.
	 */
	uint32_t (*fail_chain)(void *ctx, unsigned q, const struct vq_chain *c);
	/*
	 * Optional: the back end wrote the `config_efd` it was handed (its
	 * device's state changed, e.g. a lost link); the caller decides what
	 * the guest sees (vhu_front_set_config). The front end's thread.
	 */
	void (*config_changed)(void *ctx, struct vhu_front *f);
};

struct vhu_front {
	struct virtio_dev vdev;
	struct virtio_dev_ops ops;    /* the back end's device, with start/quiesce/config here */
	int sock;
	uint64_t backend_features;    /* GET_FEATURES, without VU_F_PROTOCOL_FEATURES */
	uint64_t protocol_features;   /* negotiated (ours & theirs) */
	bool proto;                   /* VU_F_PROTOCOL_FEATURES negotiated */
	int call_fd[VIRTIO_MAX_QUEUES], err_fd[VIRTIO_MAX_QUEUES];
	bool started[VIRTIO_MAX_QUEUES];
	pthread_mutex_t cfg_lock;
	uint8_t config[VHU_MAX_CONFIG];
	pthread_t thread;
	bool thread_running;
	int stop_efd;
	int config_efd;               /* the back end's "look at me" eventfd (not owned), or -1 */
	bool gone;                    /* hung up: reported once */
	int dead_efd;                 /* wakes the thread when dead-serving queues change */
	bool dead[VIRTIO_MAX_QUEUES]; /* queue served here with errors (under vdev.lock) */
	struct vq_chain dead_chain;   /* the thread's chain buffer */
	const struct vhu_front_ops *cb;
	void *cb_ctx;
	char name[32];
};

/*
 * Set up f for a back end already connected on `sock` (f owns it). `tmpl`
 * gives the guest-visible device: name, type, class, queue size, device
 * features (offered only if the back end has them too), config size;
 * `config` its initial configuration bytes. Talks to the back end
 * (SET_OWNER, GET_FEATURES, protocol features, queue count) and fails with
 * a line in err if it does not answer or lacks what the device needs.
 * `nqueues` queues (the back end must have at least as many). `config_efd`
 * (or -1): an eventfd the back end writes when its device's state changes
 * (handed to it out of band); its writes become cb->config_changed. Then add
 * f->vdev.pci to the bus as for any device. -errno.
 */
int vhu_front_init(struct vhu_front *f, const struct virtio_dev_ops *tmpl, unsigned nqueues, const void *config,
		   const struct virtio_platform *plat, const struct gm_view *view, int sock, int config_efd,
		   const struct vhu_front_ops *cb, void *cb_ctx, char *err, size_t errlen) must_check;
/* Replace config bytes [off, off+len) and tell the driver (e.g. a link that went down). */
void vhu_front_set_config(struct vhu_front *f, unsigned off, const void *data, unsigned len);
void vhu_front_destroy(struct vhu_front *f);

#endif
