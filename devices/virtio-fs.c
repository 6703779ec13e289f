/* SPDX-License-Identifier: MIT */
/* virtio-fs: queues and threads around the FUSE server (virtio-fs.h). */
#include "devices/virtio-fs.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
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

/* Run the request in c: its reply length, or -1 when the device has failed. */
static long serve(struct virtio_fs *fs, struct virtio_fs_queue *fq, const struct vq_chain *c)
{
	long n;

	if (c->nr_in == 0) {
		virtio_dev_fail(&fs->vdev, "queue %u: request without a reply buffer", fq->index);
		return -1;
	}
	n = fuse_pt_handle(fs->srv, c->iov, c->nr_out, c->iov + c->nr_out, c->nr_in);
	if (n < 0) {
		virtio_dev_fail(&fs->vdev, "queue %u: malformed FUSE request (%u readable, %u writable bytes)",
				fq->index, c->out_len, c->in_len);
		return -1;
	}
	__atomic_fetch_add(&fq->requests, 1, __ATOMIC_RELAXED);
	return n;
}

/* Serve what the driver made available, then ask for the next notification. */
static void drain(struct virtio_fs *fs, struct virtio_fs_queue *fq)
{
	struct virtio_dev *vd = &fs->vdev;
	unsigned q = fq->index;

	do {
		int r = 0;

		while (!__atomic_load_n(&fq->paused, __ATOMIC_ACQUIRE) && (r = virtio_pop(vd, q, fq->chain)) > 0) {
			long n = serve(fs, fq, fq->chain);

			if (n < 0 || virtio_push(vd, q, fq->chain->head, (uint32_t)n) < 0)
				return;
			virtio_queue_interrupt(vd, q);
		}
		if (__atomic_load_n(&fq->paused, __ATOMIC_ACQUIRE) || r < 0)
			return;
	} while (!__atomic_load_n(&vd->failed, __ATOMIC_ACQUIRE) && vq_set_avail_event(&vd->q[q].vq));
}

/*
 * One request queue's thread: wait for a notification, then drain the
 * queue. `busy` covers the whole drain: quiesce waits for it, and `paused`
 * (set by quiesce, cleared by reset) keeps the thread away from the queue
 * while the transport resets it.
 */
static void *queue_thread(void *arg)
{
	struct virtio_fs_queue *fq = arg;
	struct virtio_fs *fs = fq->fs;
	struct pollfd p[2] = { { .fd = fs->vdev.q[fq->index].kick_efd, .events = POLLIN },
			       { .fd = fs->stop_efd, .events = POLLIN } };

	for (;;) {
		uint64_t v;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_errno(errno, "virtio-fs: queue %u: poll", fq->index);
			return NULL;
		}
		if (p[1].revents & POLLIN)
			return NULL; /* (never read, so every thread sees it) */
		if (!(p[0].revents & POLLIN) || read(p[0].fd, &v, sizeof(v)) != sizeof(v))
			continue;
		pthread_mutex_lock(&fq->lock);
		if (fq->paused) {
			pthread_mutex_unlock(&fq->lock);
			continue;
		}
		fq->busy = true;
		pthread_mutex_unlock(&fq->lock);
		if (virtio_queue_ready(&fs->vdev, fq->index))
			drain(fs, fq);
		pthread_mutex_lock(&fq->lock);
		fq->busy = false;
		pthread_cond_broadcast(&fq->idle);
		pthread_mutex_unlock(&fq->lock);
	}
}

/* The transport worker: only the high-priority queue is ours to serve here. */
static int fs_queue_notify(struct virtio_dev *vd, unsigned q)
{
	static __thread struct vq_chain hc;
	struct virtio_fs *fs = vd->priv;
	int r;

	if (q != 0)
		return 0; /* request queues have threads of their own (ops.own_queues) */
	/* FORGET and friends, no replies. */
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

/* The transport is about to reset the queues: every queue thread stays away until fs_reset(). */
static void fs_quiesce(struct virtio_dev *vd)
{
	struct virtio_fs *fs = vd->priv;

	for (unsigned i = 1; i <= fs->nreq; i++) {
		struct virtio_fs_queue *fq = &fs->q[i];

		pthread_mutex_lock(&fq->lock);
		__atomic_store_n(&fq->paused, true, __ATOMIC_RELEASE);
		while (fq->busy)
			pthread_cond_wait(&fq->idle, &fq->lock);
		pthread_mutex_unlock(&fq->lock);
	}
}

static void fs_reset(struct virtio_dev *vd)
{
	struct virtio_fs *fs = vd->priv;

	fuse_pt_reset(fs->srv);
	for (unsigned i = 1; i <= fs->nreq; i++) {
		pthread_mutex_lock(&fs->q[i].lock);
		__atomic_store_n(&fs->q[i].paused, false, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&fs->q[i].lock);
	}
}

/* With the transport's worker (ctl_lock held): the request queues' threads. */
static void fs_threads_stop(struct virtio_dev *vd)
{
	struct virtio_fs *fs = vd->priv;
	uint64_t one = 1;

	if (fs->stop_efd >= 0 && write(fs->stop_efd, &one, sizeof(one)) != sizeof(one))
		log_errno(errno, "virtio-fs: stop queue threads");
	for (unsigned i = 1; i <= fs->nreq && i < VIRTIO_MAX_QUEUES; i++) {
		if (!fs->q[i].running)
			continue;
		pthread_join(fs->q[i].thread, NULL);
		fs->q[i].running = false;
	}
}

static int fs_threads_start(struct virtio_dev *vd)
{
	struct virtio_fs *fs = vd->priv;
	uint64_t v;

	while (read(fs->stop_efd, &v, sizeof(v)) == sizeof(v)) /* the last stop's token */
		;
	for (unsigned i = 1; i <= fs->nreq; i++) {
		struct virtio_fs_queue *fq = &fs->q[i];
		char role[16];

		if (fq->running)
			continue;
		snprintf(role, sizeof(role), "queue%u", i);
		if (virtio_thread_start(vd, &fq->thread, role, queue_thread, fq))
			return -EAGAIN;
		fq->running = true;
	}
	return 0;
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
	.threads_start = fs_threads_start,
	.threads_stop = fs_threads_stop,
};

int virtio_fs_init(struct virtio_fs *fs, const struct virtio_platform *plat, const struct gm_view *view,
		   const char *tag, const char *root, unsigned nreq, const struct fuse_options *opt)
{
	size_t tl = tag ? strlen(tag) : 0;
	int err;

	memset(fs, 0, sizeof(*fs));
	fs->stop_efd = -1;
	if (tl == 0 || tl > VIRTIO_FS_TAG_MAX || nreq == 0 || nreq > VIRTIO_FS_MAX_REQ_QUEUES)
		return -EINVAL;
	memcpy(fs->tag, tag, tl);
	fs->nreq = nreq;
	fs->ops = fs_ops_template;
	fs->ops.nqueues = 1 + nreq;
	fs->ops.own_queues = ((1u << (1 + nreq)) - 1) & ~1u;
	err = fuse_pt_create_opts(&fs->srv, root, opt);
	if (err)
		return err;
	fs->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fs->stop_efd < 0) {
		err = -errno;
		goto fail;
	}
	err = virtio_dev_init(&fs->vdev, &fs->ops, plat, view, fs);
	if (err)
		goto fail;
	for (unsigned i = 0; i <= nreq; i++) {
		struct virtio_fs_queue *fq = &fs->q[i];

		fq->fs = fs;
		fq->index = i;
		pthread_mutex_init(&fq->lock, NULL);
		pthread_cond_init(&fq->idle, NULL);
	}
	for (unsigned i = 1; i <= nreq; i++) {
		struct virtio_fs_queue *fq = &fs->q[i];

		fq->chain = calloc(1, sizeof(*fq->chain));
		if (!fq->chain) {
			err = -ENOMEM;
			goto fail;
		}
	}
	return 0;
fail:
	virtio_fs_destroy(fs);
	return err;
}

void virtio_fs_destroy(struct virtio_fs *fs)
{
	if (fs->vdev.ops) /* stops the worker and the queue threads */
		virtio_dev_destroy(&fs->vdev);
	for (unsigned i = 0; i <= fs->nreq && i < VIRTIO_MAX_QUEUES; i++) {
		free(fs->q[i].chain);
		fs->q[i].chain = NULL;
	}
	if (fs->stop_efd >= 0)
		close(fs->stop_efd);
	fs->stop_efd = -1;
	fuse_pt_destroy(fs->srv);
	fs->srv = NULL;
}

const struct virtio_dev_ops *virtio_fs_ops(void)
{
	return &fs_ops_template; /* nqueues 0: each instance sets its own */
}
