/* SPDX-License-Identifier: MIT */
/*
 * Where virtio-net frames go: a back end moves whole Ethernet frames
 * between the device and the host, one queue pair at a time.
 *
 *   passt (devices/net-passt.c)  a connected stream socket to a passt
 *        process: each frame preceded by its length (4 bytes, big endian),
 *        QEMU's "stream" netdev framing. One queue pair, no offloads:
 *        passt parses every frame itself, in its own process.
 *   tap (devices/net-tap.c)      a Linux tap device opened with
 *        IFF_VNET_HDR: each read or write is one frame preceded by a
 *        struct virtio_net_hdr_v1 (12 bytes), so checksum and segmentation
 *        offloads pass through; IFF_MULTI_QUEUE gives one fd per pair.
 *
 * The device (devices/virtio-net.c) validates everything the guest wrote
 * before it reaches a back end (header copied and checked, frame length
 * bounded); a back end validates what it reads from its host side (frame
 * lengths). Calls for one queue pair come from one thread at a time; calls
 * for different pairs may run in parallel.
 *
 * All fds are non-blocking: no call ever waits. The device polls
 * fd(be, q) for POLLIN when it wants frames and POLLOUT when a send or
 * flush returned -EAGAIN.
 */
#ifndef APERTURE_NET_BACKEND_H
#define APERTURE_NET_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include "lib/util.h"

/* Length of the virtio-net header in front of every frame (virtio 1.x, no hash report). */
#define NET_HDR_LEN 12u
/* Largest frame (Ethernet header included, virtio-net header not) either way. */
#define NET_MAX_FRAME (65535u + 14u + 4u)
#define NET_MIN_FRAME 14u
#define NET_MAX_PAIRS 7u

struct net_backend;

struct net_backend_ops {
	/* The fd to poll for queue pair q. */
	int (*fd)(struct net_backend *be, unsigned q);
	/*
	 * Send one frame (n iovecs; with vnet_hdr the first NET_HDR_LEN bytes
	 * are the header the device already checked). 0: taken (all of it,
	 * or the rest is buffered for flush()); -EAGAIN: not taken, try again
	 * after POLLOUT; -EINVAL: the host refused this frame (dropped);
	 * -EPIPE: the back end is gone for good.
	 */
	int (*send)(struct net_backend *be, unsigned q, const struct iovec *iov, unsigned n);
	/*
	 * Optional: push out what send() buffered. 0: nothing left; -EAGAIN:
	 * still some (poll POLLOUT); -EPIPE: gone.
	 */
	int (*flush)(struct net_backend *be, unsigned q);
	/*
	 * Receive one frame into buf (cap >= NET_HDR_LEN + NET_MAX_FRAME
	 * bytes). With vnet_hdr the frame starts with its header; without,
	 * the frame is written at buf + NET_HDR_LEN and the first NET_HDR_LEN
	 * bytes are left alone. Returns the bytes of the frame (header
	 * included with vnet_hdr), -EAGAIN when none is ready, -EMSGSIZE when
	 * one was dropped for its size (call again), -EPIPE / -EPROTO when the
	 * back end is gone or talks nonsense (the link is then down).
	 */
	ssize_t (*recv)(struct net_backend *be, unsigned q, uint8_t *buf, size_t cap);
	/* Optional: what the host may send the guest (TUN_F_* flags). -errno. */
	int (*set_offloads)(struct net_backend *be, unsigned tun_flags);
	/* Optional: only pairs [0, n) carry traffic from now on. -errno. */
	int (*set_pairs)(struct net_backend *be, unsigned n);
	void (*destroy)(struct net_backend *be);
};

struct net_backend {
	const struct net_backend_ops *ops;
	const char *kind;        /* "passt", "tap": for log lines */
	char name[32];           /* "passt", the tap's interface name */
	unsigned pairs;          /* queue pairs served, 1..NET_MAX_PAIRS */
	bool vnet_hdr;           /* frames carry the 12-byte virtio-net header */
	uint64_t features;       /* VIRTIO_NET_F_* offload bits it can honour */
	uint16_t mtu;            /* the MTU the guest should use */
	/*
	 * Optional, set by whoever made the back end: after recv/send/flush
	 * said -EPIPE or -EPROTO, describe why (e.g. the exit status of the
	 * process behind it) in one short phrase.
	 */
	void (*describe_loss)(void *ctx, char *buf, size_t len);
	void *loss_ctx;
};

static inline void net_backend_destroy(struct net_backend *be)
{
	if (be)
		be->ops->destroy(be);
}

/*
 * passt's end is fd (a connected SOCK_STREAM socket; taken over, closed by
 * destroy). mtu: the MTU passt announces (its default 65520). -errno.
 */
int net_passt_create(int fd, uint16_t mtu, struct net_backend **out) must_check;

/*
 * Open tap interface `ifname` with `pairs` queues (IFF_MULTI_QUEUE when
 * pairs > 1). A name that does not exist is created when the caller may
 * (CAP_NET_ADMIN), and brought up; it goes away with the monitor. On error
 * -errno and one line in err: -ENODEV (no such interface and no right to
 * create it), -EINVAL (not a tap, or a tap whose queue mode differs),
 * -EBUSY (in use), -EPERM.
 */
int net_tap_open(const char *ifname, unsigned pairs, struct net_backend **out, char *err, size_t errlen)
	must_check;

/*
 * The same over descriptors net_tap_open() set up elsewhere (a back-end
 * process inherits them): fds[i] for pair i, taken over; `name` and `mtu`
 * as the opener found them. -errno.
 */
int net_tap_from_fds(const int *fds, unsigned pairs, const char *name, uint16_t mtu, struct net_backend **out)
	must_check;

#endif
