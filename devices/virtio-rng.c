/* SPDX-License-Identifier: MIT */
#include "devices/virtio-rng.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

static void rng_config_read(struct virtio_dev *vd, uint32_t off, uint8_t *data, unsigned len)
{
	(void)vd;
	(void)off;
	memset(data, 0, len); /* no configuration space */
}

static int rng_queue_notify(struct virtio_dev *vd, unsigned q)
{
	struct virtio_rng *r = vd->priv;
	struct vq_chain c;
	int got;

	while ((got = virtio_pop(vd, q, &c)) > 0) {
		uint32_t filled = 0;

		if (c.nr_out) {
			virtio_dev_fail(vd, "entropy request with a device-readable buffer");
			return -EINVAL;
		}
		for (unsigned i = 0; i < c.nr_in && filled < VIRTIO_RNG_MAX_FILL; i++) {
			const struct iovec *iov = &c.iov[c.nr_out + i];
			size_t cap = iov->iov_len, done = 0;

			if (cap > VIRTIO_RNG_MAX_FILL - filled)
				cap = VIRTIO_RNG_MAX_FILL - filled;
			while (done < cap) {
				/* iov points into the device's view: vq_pop() checked the whole range. */
				ssize_t n = getrandom((uint8_t *)iov->iov_base + done, cap - done, 0);

				if (n < 0 && errno == EINTR)
					continue;
				if (n <= 0)
					break;
				done += (size_t)n;
			}
			filled += (uint32_t)done;
		}
		__atomic_fetch_add(&r->bytes, filled, __ATOMIC_RELAXED);
		if (virtio_push(vd, q, c.head, filled) < 0)
			return -EINVAL;
		virtio_queue_interrupt(vd, q);
	}
	return got;
}

static const struct virtio_dev_ops rng_ops = {
	.name = "virtio-rng",
	.type = VIRTIO_ID_RNG,
	.pci_class = 0xFF0000, /* unclassified, as other monitors use */
	.nqueues = 1,
	.queue_size = VIRTIO_RNG_QUEUE_SIZE,
	.features = 0,
	.config_size = 0,
	.config_read = rng_config_read,
	.queue_notify = rng_queue_notify,
};

int virtio_rng_init(struct virtio_rng *r, const struct virtio_platform *plat, const struct gm_view *view)
{
	memset(r, 0, sizeof(*r));
	return virtio_dev_init(&r->vdev, &rng_ops, plat, view, r);
}

const struct virtio_dev_ops *virtio_rng_ops(void)
{
	return &rng_ops;
}

void virtio_rng_destroy(struct virtio_rng *r)
{
	virtio_dev_destroy(&r->vdev);
}
