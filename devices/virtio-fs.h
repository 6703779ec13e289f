/* SPDX-License-Identifier: MIT */
/*
 * virtio-fs (virtio type 26): a share of the host's file system, served by
 * the FUSE passthrough file system (devices/fuse-passthrough.h) through the
 * FUSE wire layer (devices/fuse-wire.h).
 *
 * Queues: 0 is the high-priority queue (FORGET, BATCH_FORGET, INTERRUPT:
 * no replies), served on the transport's worker thread, which keeps only
 * that queue and the configuration. 1..N are request queues, N =
 * num_request_queues (1 to VIRTIO_FS_MAX_REQ_QUEUES; the monitor uses the
 * vCPU count): each is popped and served on its own thread, which waits on
 * the queue's notification eventfd, pops a chain (the checked iterator),
 * runs the request and completes it, so the request queues run in parallel
 * and a request never waits for another queue's. Each thread owns one chain
 * buffer, allocated with the device: nothing is allocated per request.
 *
 * What it trusts: the share root the user named and its options. What it
 * does not: every chain and every FUSE request (docs/threat-model.md).
 *
 * Error policy: a request the server cannot even answer (fuse_pt_handle()
 * < 0: see devices/fuse-wire.h), a chain the iterator refuses, or a
 * readable-only chain on a request queue puts the device in NEEDS_RESET.
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
	pthread_mutex_t lock;     /* paused and busy */
	pthread_cond_t idle;
	bool paused;              /* between quiesce and reset: leave the queue alone (atomic) */
	bool busy;                /* serving (quiesce waits for it to clear) */
	struct vq_chain *chain;   /* the chain in service */
	uint64_t requests;        /* served (atomic) */
};

struct virtio_fs {
	struct virtio_dev vdev;
	struct virtio_dev_ops ops; /* per device: the queue count varies */
	struct fuse_pt *srv;
	char tag[VIRTIO_FS_TAG_MAX + 1];
	unsigned nreq;
	int stop_efd;              /* written once to stop every queue thread */
	struct virtio_fs_queue q[VIRTIO_MAX_QUEUES];
};

/*
 * A virtio-fs device for directory `root` named `tag` (1-36 bytes) with
 * `nreq` request queues and share options `opt` (NULL: defaults). -errno:
 * EINVAL (tag, nreq), or what opening root gave (ENOENT, ENOTDIR, EACCES).
 */
int virtio_fs_init(struct virtio_fs *fs, const struct virtio_platform *plat, const struct gm_view *view,
		   const char *tag, const char *root, unsigned nreq, const struct fuse_options *opt) must_check;
void virtio_fs_destroy(struct virtio_fs *fs);
/* The device's ops (a vhost-user front end presents the same device; set nqueues). */
const struct virtio_dev_ops *virtio_fs_ops(void);

#endif
