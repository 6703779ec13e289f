/* SPDX-License-Identifier: MIT */
/*
 * A vhost-user back end for our virtio devices: the same device code
 * (virtio-rng, virtio-fs, ...) served in a process of its own, whose only
 * guest memory is what the front end's SET_MEM_TABLE hands it (our monitor:
 * the device's aperture, one region; QEMU: all of guest RAM).
 *
 * The device is initialised with vub_platform() as its platform, so it gets
 * this transport instead of PCI: used-buffer interrupts write the ring's
 * call eventfd, a guest error (virtio_dev_fail) writes the rings' error
 * eventfds (the front end then puts its device in NEEDS_RESET), and the
 * kick eventfds the front end passes become the device's queue
 * notifications, which the device's worker thread polls as usual.
 *
 * What the back end trusts: nothing from the front end either. Every
 * message is checked (region count and layout, ring sizes against the
 * device's maximum, ring addresses translated through the memory table,
 * ring indices, descriptor counts); a bad message gets a failure reply (with
 * REPLY_ACK) and one log line, and is otherwise ignored. The rings and
 * buffers then go through the device's view and the checked chain iterator
 * as in the monitor: an address outside the mapped regions is refused, and
 * in this process there is nothing else to reach.
 *
 * Life cycle: rings start when they have an address, a kick descriptor and
 * (with PROTOCOL_FEATURES) SET_VRING_ENABLE 1. The device's data plane then
 * runs: its worker, or, for a device with ops->start (virtio-net's
 * queue-pair threads), ops->start; it is paused (worker stopped, or
 * ops->quiesce) and run again around every ring start and kick change, so
 * that its threads always poll the current kick descriptors. The first GET_VRING_BASE (or
 * RESET_OWNER/RESET_DEVICE) stops the whole device: worker stopped, in-flight
 * requests quiesced, every ring's index saved for its GET_VRING_BASE, and
 * the device reset (a guest reset of the device stops all rings).
 */
#ifndef APERTURE_VHOST_USER_BACKEND_H
#define APERTURE_VHOST_USER_BACKEND_H

#include "devices/virtio.h"
#include "lib/memory.h"
#include "lib/vhost-user.h"

struct vub_ring {
	uint16_t num;
	bool num_set, addr_set, enabled, started;
	uint64_t desc, avail, used;     /* guest-physical, translated from the front end's addresses */
	uint16_t base;                  /* SET_VRING_BASE */
	int call_fd, err_fd;            /* -1: none; the kick fd lives in vd->q[i].kick_efd */
	bool have_kick;
};

struct vub {
	int sock;
	int config_fd;                  /* written on a configuration change, or -1 */
	struct virtio_dev *vd;
	struct virtio_platform plat;
	struct guest_mem mem;           /* the regions we mapped */
	void *map[VU_MAX_REGIONS];      /* their mappings: guard page, region, guard page */
	size_t map_len[VU_MAX_REGIONS];
	struct vu_region regions[VU_MAX_REGIONS];
	unsigned nregions;
	uint64_t acked_features;
	uint64_t protocol_features;
	bool features_set;
	bool stopped;                   /* the first GET_VRING_BASE stopped the device */
	bool dev_running;               /* ops->start ran (devices with their own start), not yet quiesced */
	uint16_t stopped_idx[VIRTIO_MAX_QUEUES];
	struct vub_ring ring[VIRTIO_MAX_QUEUES];
	unsigned errors;                /* messages refused */
	bool fd_taken;                  /* the message being handled handed its descriptor over */
	/* Optional test hook: runs once, after the first ring started (tests/boot/run test_isolation). */
	void (*on_first_start)(struct vub *b);
	bool first_started;
};

/*
 * Prepare a back end on the connected socket `sock` (ours to close). Then
 * initialise the device with vub_platform(b) and gm_view_all(&b->mem) as its
 * view, and vub_attach(b, vd).
 */
void vub_init(struct vub *b, int sock);
const struct virtio_platform *vub_platform(struct vub *b);
void vub_attach(struct vub *b, struct virtio_dev *vd);
/*
 * Optional: an eventfd (ours to close) to write when the device says its
 * configuration changed (virtio_config_changed); the front end, which owns
 * the configuration space, then looks at what the device shares with it.
 */
void vub_set_config_fd(struct vub *b, int fd);
/*
 * Serve messages until the front end hangs up (returns 0) or the socket
 * fails (-errno). The device is stopped when this returns.
 */
int vub_serve(struct vub *b);
/* One message (for tests and fuzzing): 0, -ECONNRESET at EOF, or -errno. */
int vub_handle_one(struct vub *b);
/* Unmap the regions, close the descriptors and the socket. */
void vub_destroy(struct vub *b);

#endif
