/* SPDX-License-Identifier: MIT */
/*
 * virtio-rng (entropy device, virtio type 4): one request queue; the driver
 * posts writable buffers and the device fills them from getrandom(2).
 *
 * Trusts: nothing in the queue. Chains come from the checked iterator
 * (devices/virtqueue.c); a chain with a readable segment is a driver error
 * (NEEDS_RESET). At most VIRTIO_RNG_MAX_FILL bytes per request are filled, and
 * the used length says how many.
 */
#ifndef APERTURE_VIRTIO_RNG_H
#define APERTURE_VIRTIO_RNG_H

#include <linux/virtio_ids.h>
#include "devices/virtio-pci.h"

#define VIRTIO_RNG_QUEUE_SIZE 64
#define VIRTIO_RNG_MAX_FILL 65536

struct virtio_rng {
	struct virtio_dev vdev;
	uint64_t bytes;  /* entropy handed out, for tests and events */
};

int virtio_rng_init(struct virtio_rng *r, const struct virtio_platform *plat, const struct gm_view *view) must_check;
/* The device's ops table (a vhost-user front end presents the same device). */
const struct virtio_dev_ops *virtio_rng_ops(void);
void virtio_rng_destroy(struct virtio_rng *r);

#endif
