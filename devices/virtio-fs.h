/* SPDX-License-Identifier: MIT */
/*
 * virtio-fs (virtio type 26): a share of the host's file system, served by
 * the FUSE passthrough server in devices/fuse-passthrough.c.
 *
 * Queues: 0 is the high-priority queue (FORGET, BATCH_FORGET, INTERRUPT:
 * no replies), 1..N are request queues, N = num_request_queues (1 to
 * VIRTIO_FS_MAX_REQ_QUEUES; the monitor uses the vCPU count). The
 * transport's worker pops chains (the checked iterator) and hands each to
 * its queue's own thread, which runs the request and completes it, so the
 * request queues run in parallel.
 *
 * Error policy: a request the server cannot even answer (fuse_pt_handle()
 * < 0: see devices/fuse-passthrough.h), a request queue with more chains in
 * flight than its size, or a readable-only chain on a request queue puts
 * the device in NEEDS_RESET.
 */
#ifndef APERTURE_VIRTIO_FS_H
#define APERTURE_VIRTIO_FS_H

#include <linux/virtio_fs.h>
#include <pthread.h>
#include "devices/fuse-passthrough.h"
#include "devices/virtio-pci.h"

#define VIRTIO_FS_QUEUE_SIZE 128
#define VIRTIO_FS_MAX_REQ_QUEUES (VIRTIO_MAX_QUEUES - 1)
#define VIRTIO_FS_TAG_MAX 36

struct virtio_fs;

struct virtio_fs_queue {
	struct virtio_fs *fs;
	unsigned index;
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;     /* the FIFO below */
	pthread_cond_t work, idle;
	struct vq_chain *fifo;    /* VIRTIO_FS_QUEUE_SIZE chains popped, not completed */
	unsigned head, count;
	bool busy, stop;
	pthread_mutex_t vq_lock;  /* pop (transport worker) against push (this queue's thread) */
	uint64_t requests;
};

struct virtio_fs {
	struct virtio_dev vdev;
	struct virtio_dev_ops ops; /* per device: the queue count varies */
	struct fuse_pt *srv;
	char tag[VIRTIO_FS_TAG_MAX + 1];
	unsigned nreq;
	struct virtio_fs_queue q[VIRTIO_MAX_QUEUES];
};

/*
 * A virtio-fs device for directory `root` named `tag` (1-36 bytes) with
 * `nreq` request queues. -errno: EINVAL (tag, nreq), or what opening root
 * gave (ENOENT, ENOTDIR, EACCES).
 */
int virtio_fs_init(struct virtio_fs *fs, const struct virtio_platform *plat, const struct gm_view *view,
		   const char *tag, const char *root, unsigned nreq) must_check;
void virtio_fs_destroy(struct virtio_fs *fs);
/* The device's ops (a vhost-user front end presents the same device; set nqueues). */
const struct virtio_dev_ops *virtio_fs_ops(void);

#endif
