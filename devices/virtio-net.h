/* SPDX-License-Identifier: MIT */
/*
 * virtio-net (virtio type 1): an Ethernet NIC whose frames go to a back end
 * (devices/net-backend.h: passt for user networking, or a tap interface).
 *
 * Queues: 2 * P + 1 for P queue pairs (P = the back end's pairs, 1..7):
 *   2i     receiveq i   driver posts writable buffers; the device writes
 *                       a 12-byte struct virtio_net_hdr_v1 and the frame,
 *                       over several buffers with MRG_RXBUF (num_buffers)
 *   2i+1   transmitq i  header + frame, readable only
 *   2P     controlq     class, command, data; one writable ack byte
 * Each pair is served by its own thread, which waits (poll) on the pair's
 * two notification eventfds, the back end's fd for that pair and a wake
 * eventfd; pair 0's thread also serves the control queue. Nothing spins:
 * the back end fd is watched for input only while a frame can be placed,
 * for output only while a send waits. The transport starts and stops the
 * threads through ops->start/stop.
 *
 * Features offered: MAC, STATUS, MTU, MRG_RXBUF, CTRL_VQ, CTRL_RX, plus what
 * the back end can honour: with tap CSUM, GUEST_CSUM, HOST_TSO4/6,
 * HOST_ECN, GUEST_TSO4/6, GUEST_ECN, CTRL_GUEST_OFFLOADS (and MQ when it
 * has several queues); with passt only CSUM, which the device completes
 * itself (it has no offloads, so its MTU is large instead: 65520). The guest's receive offloads are set on the
 * tap with TUNSETOFFLOAD at DRIVER_OK and on CTRL_GUEST_OFFLOADS_SET.
 *
 * What the device trusts: the transport's checked chains (every iovec lies
 * inside the device's view, devices/virtqueue.h) and the back end.
 * What it does not trust: anything the guest wrote. A transmit header is
 * read once into a local copy and checked against the negotiated features
 * (flags, gso type, csum_start/csum_offset and hdr_len inside the frame,
 * gso_size) and the frame length against NET_MIN_FRAME..NET_MAX_FRAME;
 * only the checked copy reaches the back end. A frame that fails is
 * dropped and counted (tx_bad), with a rate-limited log line; a control
 * command with a wrong length, a class or command not negotiated, or no
 * room for its ack is answered VIRTIO_NET_ERR (or dropped) and counted
 * (ctrl_bad). Structural misuse of a queue is NEEDS_RESET
 * (virtio_dev_fail): a device-readable receive buffer or one shorter than
 * the header, a transmit chain with a device-writable part, more receive
 * buffers held than the queue has slots (and every ring error
 * devices/virtqueue.h lists).
 *
 * A back end that goes away (passt exits, the tap is deleted) is reported
 * once, VIRTIO_NET_S_LINK_UP is cleared with a configuration interrupt,
 * and transmitted frames are dropped from then on; the VM lives.
 */
#ifndef APERTURE_VIRTIO_NET_H
#define APERTURE_VIRTIO_NET_H

#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "devices/net-backend.h"
#include "devices/virtio-pci.h"

#define VIRTIO_NET_QUEUE_SIZE 256
#define VIRTIO_NET_RX_SEGS 24 /* writable segments of one receive buffer we use */
#define VIRTIO_NET_RX_BATCH 64 /* frames per interrupt at most */

/*
 * Counters (relaxed atomics; read them with __atomic_load_n). In a back-end
 * process they live in a page the monitor shares (virtio_net_share_stats),
 * with the link state, for the net-stats event.
 */
struct virtio_net_stats {
	uint64_t tx_frames, tx_bytes;
	uint64_t tx_bad;      /* malformed header or frame from the guest: dropped */
	uint64_t tx_dropped;  /* well-formed, but the back end refused it or is gone */
	uint64_t rx_frames, rx_bytes;
	uint64_t rx_dropped;  /* larger than the guest's buffers, or cut by the back end */
	uint64_t ctrl_ok;
	uint64_t ctrl_bad;    /* malformed or not negotiated: answered VIRTIO_NET_ERR */
	uint64_t link_down;   /* 1 once the back end was lost */
};

/* A receive buffer taken from the ring and not yet used. */
struct net_rxbuf {
	uint16_t head;
	uint16_t nseg;
	uint32_t cap;
	struct iovec iov[VIRTIO_NET_RX_SEGS]; /* SAFETY: from vq_pop(), inside the device's view */
};

struct virtio_net;

/* One queue pair and its thread. Fields below `thread-owned` belong to it. */
struct net_pair {
	struct virtio_net *n;
	unsigned index;
	pthread_t thread;
	bool running;
	bool stop;              /* atomic */
	int wake_efd;
	/* thread-owned (or the caller of queue_notify while no thread runs) */
	struct net_rxbuf *held; /* VIRTIO_NET_QUEUE_SIZE slots, a FIFO */
	unsigned held_head, held_count;
	uint64_t held_cap;      /* bytes of all held buffers */
	uint8_t *stage;         /* one frame from the back end: header + frame */
	size_t stage_len;       /* 0: none */
	bool rx_starved;        /* the staged frame waits for receive buffers */
	bool tx_blocked;        /* the back end wants POLLOUT */
	bool tx_pending;        /* tx_chain was popped but not yet sent */
	struct vq_chain *tx_chain;
	struct vq_chain *chain; /* scratch for receive and control chains */
	uint8_t *txbuf;         /* a frame whose checksum the device completes */
};

struct net_ratelimit {
	pthread_mutex_t lock;
	uint64_t next_ns;
	uint64_t suppressed;
};

struct virtio_net {
	struct virtio_dev vdev;
	struct virtio_dev_ops ops;      /* per device: queue count and features vary */
	struct net_backend *be;         /* not owned */
	uint8_t mac[6];
	unsigned pairs;                 /* queue pairs (the back end's) */
	unsigned active_pairs;          /* atomic: 1 until VQ_PAIRS_SET */
	bool link_up;                   /* atomic */
	bool loss_reported;             /* atomic */
	bool configured;                /* start set the host side up since the last reset (ctl_lock) */
	struct net_pair pair[NET_MAX_PAIRS];
	struct virtio_net_stats *stats; /* &own_stats, or a shared page */
	struct virtio_net_stats own_stats;
	struct net_ratelimit rl_tx, rl_rx, rl_ctrl;
};

/*
 * A virtio-net device over back end `be` (which must outlive it) with MAC
 * address `mac` (unicast). -errno: EINVAL (mac, back end), ENOMEM.
 */
int virtio_net_init(struct virtio_net *n, const struct virtio_platform *plat, const struct gm_view *view,
		    struct net_backend *be, const uint8_t mac[6]) must_check;
void virtio_net_destroy(struct virtio_net *n);

/*
 * What a virtio-net device over `be` with MAC `mac` offers the guest, for
 * this file and for a vhost-user front end (vmm/devmgr.c) of one served by
 * a back-end process, so that both offer the same: *ops gets the device's
 * identity, queue count and features (ops->nqueues: 2 * pairs + 1),
 * *cfg its configuration (MAC, LINK_UP, max_virtqueue_pairs, MTU).
 * -EINVAL for a back end or MAC the device cannot have.
 */
int virtio_net_describe(const struct net_backend *be, const uint8_t mac[6], struct virtio_dev_ops *ops,
			struct virtio_net_config *cfg) must_check;
/* Bytes of the configuration space the device has (through mtu). */
#define VIRTIO_NET_CONFIG_SIZE (offsetof(struct virtio_net_config, mtu) + sizeof(uint16_t))

/* Count into *shared (zeroed by the caller, e.g. a page the monitor maps too) instead of own_stats. */
void virtio_net_share_stats(struct virtio_net *n, struct virtio_net_stats *shared);

/* The MAC from `seed` (e.g. "tap:tap0"): locally administered, unicast, stable. */
void virtio_net_default_mac(const char *seed, uint8_t mac[6]);

#endif
