/* SPDX-License-Identifier: MIT */
/*
 * The tap back end: a Linux tap interface opened through /dev/net/tun with
 * IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, the virtio-net header size set to
 * NET_HDR_LEN (TUNSETVNETHDRSZ), so every read and write is one frame
 * preceded by a struct virtio_net_hdr_v1: checksum and segmentation
 * offloads pass straight through. With several queue pairs the interface
 * is opened once per pair with IFF_MULTI_QUEUE; pairs the guest does not
 * use are detached (TUNSETQUEUE) so the host does not steer flows to them.
 *
 * What it trusts: the host kernel's tap driver (headers it writes are its
 * own; it checks the ones we write again). The device hands it only
 * headers it copied and checked (devices/virtio-net.c).
 */
#include "devices/net-backend.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define TUN_PATH "/dev/net/tun"

/* What a tap can do for the guest: checksums and TSO both ways (no UFO/USO). */
#define TAP_FEATURES \
	((1ULL << VIRTIO_NET_F_CSUM) | (1ULL << VIRTIO_NET_F_GUEST_CSUM) | (1ULL << VIRTIO_NET_F_HOST_TSO4) | \
	 (1ULL << VIRTIO_NET_F_HOST_TSO6) | (1ULL << VIRTIO_NET_F_HOST_ECN) | (1ULL << VIRTIO_NET_F_GUEST_TSO4) | \
	 (1ULL << VIRTIO_NET_F_GUEST_TSO6) | (1ULL << VIRTIO_NET_F_GUEST_ECN) | \
	 (1ULL << VIRTIO_NET_F_CTRL_GUEST_OFFLOADS))

struct tap_be {
	struct net_backend be;
	int fd[NET_MAX_PAIRS];
	bool attached[NET_MAX_PAIRS];
	bool multi;
};

static struct tap_be *to_tap(struct net_backend *be)
{
	return (struct tap_be *)be;
}

static int tap_fd(struct net_backend *be, unsigned q)
{
	return q < be->pairs ? to_tap(be)->fd[q] : -1;
}

static int tap_send(struct net_backend *be, unsigned q, const struct iovec *iov, unsigned n)
{
	ssize_t r;

	if (q >= be->pairs)
		return -EINVAL;
	do
		r = writev(to_tap(be)->fd[q], iov, (int)n);
	while (r < 0 && errno == EINTR);
	if (r >= 0)
		return 0; /* a tap write is all or nothing */
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return -EAGAIN;
	if (errno == EBADFD)
		return -EPIPE; /* interface deleted or queue detached under us */
	return -EINVAL;        /* refused (bad header, interface down): dropped */
}

static ssize_t tap_recv(struct net_backend *be, unsigned q, uint8_t *buf, size_t cap)
{
	ssize_t r;

	if (q >= be->pairs)
		return -EAGAIN;
	do
		r = read(to_tap(be)->fd[q], buf, cap);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -EPIPE;
	if ((size_t)r < NET_HDR_LEN + NET_MIN_FRAME || (size_t)r > NET_HDR_LEN + NET_MAX_FRAME)
		return -EMSGSIZE;
	return r;
}

static int tap_set_offloads(struct net_backend *be, unsigned tun_flags)
{
	/* Offloads belong to the interface: any queue's fd sets them. */
	if (ioctl(to_tap(be)->fd[0], TUNSETOFFLOAD, (unsigned long)tun_flags) < 0)
		return -errno;
	return 0;
}

static int tap_set_pairs(struct net_backend *be, unsigned n)
{
	struct tap_be *t = to_tap(be);

	if (!t->multi)
		return n == 1 ? 0 : -EINVAL;
	for (unsigned i = 0; i < be->pairs; i++) {
		bool want = i < n;
		struct ifreq ifr;

		if (t->attached[i] == want)
			continue;
		memset(&ifr, 0, sizeof(ifr));
		ifr.ifr_flags = want ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE;
		if (ioctl(t->fd[i], TUNSETQUEUE, &ifr) < 0)
			return -errno;
		t->attached[i] = want;
	}
	return 0;
}

static void tap_destroy(struct net_backend *be)
{
	struct tap_be *t = to_tap(be);

	for (unsigned i = 0; i < NET_MAX_PAIRS; i++)
		if (t->fd[i] >= 0)
			close(t->fd[i]);
	free(t);
}

static const struct net_backend_ops tap_ops = {
	.fd = tap_fd,
	.send = tap_send,
	.recv = tap_recv,
	.set_offloads = tap_set_offloads,
	.set_pairs = tap_set_pairs,
	.destroy = tap_destroy,
};

int net_tap_from_fds(const int *fds, unsigned pairs, const char *name, uint16_t mtu, struct net_backend **out)
{
	struct tap_be *t;

	if (pairs == 0 || pairs > NET_MAX_PAIRS || mtu < 68)
		return -EINVAL;
	for (unsigned i = 0; i < pairs; i++) {
		int fl = fcntl(fds[i], F_GETFL);

		if (fl < 0 || fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) < 0)
			return -errno;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (unsigned i = 0; i < NET_MAX_PAIRS; i++)
		t->fd[i] = i < pairs ? fds[i] : -1;
	t->multi = pairs > 1;
	for (unsigned i = 0; i < pairs; i++)
		t->attached[i] = true; /* as net_tap_open() leaves them */
	t->be = (struct net_backend){ .ops = &tap_ops, .kind = "tap", .pairs = pairs, .vnet_hdr = true,
				      .features = TAP_FEATURES, .mtu = mtu };
	snprintf(t->be.name, sizeof(t->be.name), "%s", name);
	*out = &t->be;
	return 0;
}

/* Interface flags and MTU through an ordinary socket. */
static int if_query(const char *ifname, bool bring_up, uint16_t *mtu)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = 0;

	if (s < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (bring_up) {
		if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
			r = -errno;
			goto out;
		}
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
			r = -errno;
			goto out;
		}
	}
	if (ioctl(s, SIOCGIFMTU, &ifr) < 0) {
		r = -errno;
		goto out;
	}
	*mtu = ifr.ifr_mtu < 68 ? 68 : ifr.ifr_mtu > 65535 ? 65535 : (uint16_t)ifr.ifr_mtu;
out:
	close(s);
	return r;
}

int net_tap_open(const char *ifname, unsigned pairs, struct net_backend **out, char *err, size_t errlen)
{
	bool existed = if_nametoindex(ifname) != 0;
	struct tap_be *t;
	int r = 0, hdr = NET_HDR_LEN;

	if (!*ifname || strlen(ifname) >= IFNAMSIZ || strchr(ifname, '/')) {
		snprintf(err, errlen, "'%s' is not an interface name", ifname);
		return -EINVAL;
	}
	if (pairs == 0 || pairs > NET_MAX_PAIRS) {
		snprintf(err, errlen, "queues=%u: from 1 to %u", pairs, NET_MAX_PAIRS);
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (unsigned i = 0; i < NET_MAX_PAIRS; i++)
		t->fd[i] = -1;
	t->multi = pairs > 1;
	t->be = (struct net_backend){ .ops = &tap_ops, .kind = "tap", .pairs = pairs, .vnet_hdr = true,
				      .features = TAP_FEATURES, .mtu = 1500 };
	snprintf(t->be.name, sizeof(t->be.name), "%s", ifname);
	for (unsigned i = 0; i < pairs; i++) {
		struct ifreq ifr;
		int fd = open(TUN_PATH, O_RDWR | O_NONBLOCK | O_CLOEXEC);

		if (fd < 0) {
			r = -errno;
			if (!existed && (errno == EACCES || errno == EPERM)) {
				snprintf(err, errlen, "tap %s does not exist (and %s is not ours to open)", ifname,
					 TUN_PATH);
				r = -ENODEV;
			} else {
				snprintf(err, errlen, "cannot open %s: %s", TUN_PATH, strerror(errno));
			}
			goto fail;
		}
		t->fd[i] = fd;
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (t->multi ? IFF_MULTI_QUEUE : 0);
		if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
			r = -errno;
			if (!existed && (errno == EPERM || errno == EACCES)) {
				snprintf(err, errlen, "tap %s does not exist (creating one needs CAP_NET_ADMIN)", ifname);
				r = -ENODEV;
			} else if (errno == EINVAL) {
				snprintf(err, errlen, "%s is not a tap interface, or its multi_queue setting does not "
					 "match queues=%u", ifname, pairs);
			} else if (errno == EBUSY) {
				snprintf(err, errlen, "tap %s is in use by another process", ifname);
			} else {
				snprintf(err, errlen, "cannot attach to tap %s: %s", ifname, strerror(errno));
			}
			goto fail;
		}
		t->attached[i] = true;
		if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 || ioctl(fd, TUNSETOFFLOAD, 0UL) < 0) {
			r = -errno;
			snprintf(err, errlen, "tap %s: setting up the virtio-net header: %s", ifname, strerror(errno));
			goto fail;
		}
	}
	r = if_query(ifname, !existed, &t->be.mtu);
	if (r) {
		snprintf(err, errlen, "tap %s: %s the interface: %s", ifname, existed ? "querying" : "bringing up",
			 strerror(-r));
		goto fail;
	}
	*out = &t->be;
	return 0;
fail:
	tap_destroy(&t->be);
	return r;
}
