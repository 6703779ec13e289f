/* SPDX-License-Identifier: MIT */
#include "devices/virtio-fs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "lib/log.h"

static void fs_config_read(struct virtio_dev *vd, uint32_t off, uint8_t *data, unsigned len)
{
	struct virtio_fs *fs = vd->priv;
	struct virtio_fs_config c;

	memset(&c, 0, sizeof(c));
	memcpy(c.tag, fs->tag, strlen(fs->tag));
	c.num_request_queues = fs->nreq; /* little-endian host */
	memcpy(data, (const uint8_t *)&c + off, len);
}

/* Complete chain `head` on queue fq with `len` reply bytes. */
static void complete(struct virtio_fs *fs, struct virtio_fs_queue *fq, uint16_t head, uint32_t len)
{
	pthread_mutex_lock(&fq->vq_lock);
	if (virtio_push(&fs->vdev, fq->index, head, len) == 0)
		virtio_queue_interrupt(&fs->vdev, fq->index);
	pthread_mutex_unlock(&fq->vq_lock);
}

/* Run the request in c: its reply length, or -1 when the device has failed. */
static long serve(struct virtio_fs *fs, struct virtio_fs_queue *fq, const struct vq_chain *c)
{
	long n;

	if (__atomic_load_n(&fs->vdev.failed, __ATOMIC_ACQUIRE))
		return -1;
	n = fuse_pt_handle(fs->srv, c->iov, c->nr_out, c->iov + c->nr_out, c->nr_in);
	if (n < 0) {
		virtio_dev_fail(&fs->vdev, "queue %u: malformed FUSE request (%u readable, %u writable bytes)",
				fq->index, c->out_len, c->in_len);
		return -1;
	}
	__atomic_fetch_add(&fq->requests, 1, __ATOMIC_RELAXED);
	return n;
}

/*
 * One request queue's thread: serve the FIFO's oldest chain, free its slot,
 * then complete it. The slot is free before the driver can see the
 * completion, so a driver that reuses the descriptor at once never finds the
 * FIFO full (fs_queue_notify() takes a full FIFO plus more chains for a lie).
 * `busy` stays set until the push is done: quiesce waits for it.
 */
static void *queue_thread(void *arg)
{
	struct virtio_fs_queue *fq = arg;

	pthread_mutex_lock(&fq->lock);
	for (;;) {
		struct vq_chain *c;
		uint16_t head;
		long n;

		while (!fq->count && !fq->stop)
			pthread_cond_wait(&fq->work, &fq->lock);
		if (fq->stop)
			break;
		c = &fq->fifo[fq->head];
		fq->busy = true;
		pthread_mutex_unlock(&fq->lock);
		n = serve(fq->fs, fq, c);
		head = c->head;
		pthread_mutex_lock(&fq->lock);
		if (fq->count) { /* quiesce may have emptied the FIFO meanwhile */
			fq->head = (fq->head + 1) % VIRTIO_FS_QUEUE_SIZE;
			fq->count--;
		}
		pthread_mutex_unlock(&fq->lock);
		if (n >= 0)
			complete(fq->fs, fq, head, (uint32_t)n);
		pthread_mutex_lock(&fq->lock);
		fq->busy = false;
		pthread_cond_broadcast(&fq->idle);
	}
	pthread_mutex_unlock(&fq->lock);
	return NULL;
}

static int fs_queue_notify(struct virtio_dev *vd, unsigned q)
{
	struct virtio_fs *fs = vd->priv;
	struct virtio_fs_queue *fq = &fs->q[q];
	struct vq_chain *c;
	int r;

	if (q == 0) {
		/* High priority: FORGET and friends, no replies; served right here. */
		static __thread struct vq_chain hc;

		while ((r = virtio_pop(vd, 0, &hc)) > 0) {
			long n = fuse_pt_handle_hiprio(fs->srv, hc.iov, hc.nr_out, hc.iov + hc.nr_out, hc.nr_in);

			if (n < 0) {
				virtio_dev_fail(vd, "queue 0: malformed FUSE request");
				return -EINVAL;
			}
			if (virtio_push(vd, 0, hc.head, (uint32_t)n) < 0)
				return -EINVAL;
			virtio_queue_interrupt(vd, 0);
		}
		return r;
	}
	for (;;) {
		pthread_mutex_lock(&fq->lock);
		if (fq->count == VIRTIO_FS_QUEUE_SIZE) {
			bool more, full;

			pthread_mutex_unlock(&fq->lock);
			pthread_mutex_lock(&fq->vq_lock);
			more = vq_set_avail_event(&vd->q[q].vq);
			pthread_mutex_unlock(&fq->vq_lock);
			if (!more)
				return 0;
			/*
			 * A chain arrived. If its slot was freed meanwhile (the
			 * driver saw a completion and reused the descriptor), take
			 * it; otherwise more chains are in flight than the queue
			 * holds: the driver lies.
			 */
			pthread_mutex_lock(&fq->lock);
			full = fq->count == VIRTIO_FS_QUEUE_SIZE;
			pthread_mutex_unlock(&fq->lock);
			if (!full)
				continue;
			virtio_dev_fail(vd, "queue %u: more than %u requests in flight", q, VIRTIO_FS_QUEUE_SIZE);
			return -EINVAL;
		}
		c = &fq->fifo[(fq->head + fq->count) % VIRTIO_FS_QUEUE_SIZE];
		pthread_mutex_unlock(&fq->lock);
		pthread_mutex_lock(&fq->vq_lock);
		r = virtio_pop(vd, q, c);
		pthread_mutex_unlock(&fq->vq_lock);
		if (r <= 0)
			return r;
		if (c->nr_in == 0) {
			virtio_dev_fail(vd, "queue %u: request without a reply buffer", q);
			return -EINVAL;
		}
		pthread_mutex_lock(&fq->lock);
		fq->count++;
		pthread_cond_signal(&fq->work);
		pthread_mutex_unlock(&fq->lock);
	}
}

/* Transport worker stopped: drop pending requests, wait for the ones in flight. */
static void fs_quiesce(struct virtio_dev *vd)
{
	struct virtio_fs *fs = vd->priv;

	for (unsigned i = 1; i <= fs->nreq; i++) {
		struct virtio_fs_queue *fq = &fs->q[i];

		pthread_mutex_lock(&fq->lock);
		fq->count = 0;
		while (fq->busy)
			pthread_cond_wait(&fq->idle, &fq->lock);
		pthread_mutex_unlock(&fq->lock);
	}
}

static void fs_reset(struct virtio_dev *vd)
{
	struct virtio_fs *fs = vd->priv;

	fuse_pt_reset(fs->srv);
}

static const struct virtio_dev_ops fs_ops_template = {
	.name = "virtio-fs",
	.type = VIRTIO_ID_FS,
	.pci_class = 0x018000, /* mass storage, other */
	.queue_size = VIRTIO_FS_QUEUE_SIZE,
	.features = 0,
	.config_size = sizeof(struct virtio_fs_config),
	.config_read = fs_config_read,
	.queue_notify = fs_queue_notify,
	.quiesce = fs_quiesce,
	.reset = fs_reset,
};

static void stop_threads(struct virtio_fs *fs)
{
	for (unsigned i = 1; i <= fs->nreq; i++) {
		struct virtio_fs_queue *fq = &fs->q[i];

		if (!fq->running)
			continue;
		pthread_mutex_lock(&fq->lock);
		fq->stop = true;
		pthread_cond_broadcast(&fq->work);
		pthread_mutex_unlock(&fq->lock);
		pthread_join(fq->thread, NULL);
		fq->running = false;
	}
}

int virtio_fs_init(struct virtio_fs *fs, const struct virtio_platform *plat, const struct gm_view *view,
		   const char *tag, const char *root, unsigned nreq)
{
	size_t tl = tag ? strlen(tag) : 0;
	int err;

	memset(fs, 0, sizeof(*fs));
	if (tl == 0 || tl > VIRTIO_FS_TAG_MAX || nreq == 0 || nreq > VIRTIO_FS_MAX_REQ_QUEUES)
		return -EINVAL;
	memcpy(fs->tag, tag, tl);
	fs->nreq = nreq;
	fs->ops = fs_ops_template;
	fs->ops.nqueues = 1 + nreq;
	err = fuse_pt_create(&fs->srv, root);
	if (err)
		return err;
	err = virtio_dev_init(&fs->vdev, &fs->ops, plat, view, fs);
	if (err)
		goto fail;
	for (unsigned i = 0; i <= nreq; i++) {
		struct virtio_fs_queue *fq = &fs->q[i];

		fq->fs = fs;
		fq->index = i;
		pthread_mutex_init(&fq->lock, NULL);
		pthread_mutex_init(&fq->vq_lock, NULL);
		pthread_cond_init(&fq->work, NULL);
		pthread_cond_init(&fq->idle, NULL);
		if (i == 0)
			continue;
		fq->fifo = calloc(VIRTIO_FS_QUEUE_SIZE, sizeof(*fq->fifo));
		if (!fq->fifo) {
			err = -ENOMEM;
			goto fail;
		}
		if (pthread_create(&fq->thread, NULL, queue_thread, fq) != 0) {
			err = -EAGAIN;
			goto fail;
		}
		fq->running = true;
	}
	return 0;
fail:
	virtio_fs_destroy(fs);
	return err;
}

void virtio_fs_destroy(struct virtio_fs *fs)
{
	stop_threads(fs);
	if (fs->vdev.ops)
		virtio_dev_destroy(&fs->vdev);
	for (unsigned i = 0; i <= fs->nreq && i < VIRTIO_MAX_QUEUES; i++) {
		free(fs->q[i].fifo);
		fs->q[i].fifo = NULL;
	}
	fuse_pt_destroy(fs->srv);
	fs->srv = NULL;
}

const struct virtio_dev_ops *virtio_fs_ops(void)
{
	return &fs_ops_template; /* nqueues 0: each instance sets its own */
}
