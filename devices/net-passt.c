/* SPDX-License-Identifier: MIT */
/*
 * The passt back end: frames over a connected stream socket, each preceded
 * by its length as a 4-byte big-endian number (QEMU's "stream" netdev and
 * passt's --fd framing). passt runs as a separate process (vmm/passt.c
 * starts it); this file only frames and unframes.
 *
 * What it trusts: nothing passt sends. A length of 0, below an Ethernet
 * header, or above NET_MAX_FRAME means the stream is out of step: that is
 * -EPROTO (the link goes down), since nothing after it can be framed.
 *
 * Writes never block: a frame the socket takes only partly is kept in a
 * pending buffer and finished by flush() before any other frame goes out,
 * so frames never interleave on the stream.
 */
#include "devices/net-backend.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "lib/iov.h"

#define RBUF_SIZE (256u * 1024)
#define PBUF_SIZE (4u + NET_MAX_FRAME)
#define MAX_SEND_IOV 64

struct passt_be {
	struct net_backend be;
	int fd;
	/* receive: bytes [roff, rlen) of rbuf are read and not yet handed out */
	uint8_t *rbuf;
	size_t roff, rlen;
	/* send: bytes [poff, plen) of pbuf are the unsent rest of one frame */
	uint8_t *pbuf;
	size_t poff, plen;
	bool gone;
};

static struct passt_be *to_passt(struct net_backend *be)
{
	return (struct passt_be *)be;
}

static int passt_fd(struct net_backend *be, unsigned q)
{
	(void)q;
	return to_passt(be)->fd;
}

static int passt_flush(struct net_backend *be, unsigned q)
{
	struct passt_be *p = to_passt(be);

	(void)q;
	if (p->gone)
		return -EPIPE;
	while (p->poff < p->plen) {
		ssize_t n = send(p->fd, p->pbuf + p->poff, p->plen - p->poff, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return -EAGAIN;
		if (n <= 0) {
			p->gone = true;
			return -EPIPE;
		}
		p->poff += (size_t)n;
	}
	p->poff = p->plen = 0;
	return 0;
}

static int passt_send(struct net_backend *be, unsigned q, const struct iovec *iov, unsigned n)
{
	struct passt_be *p = to_passt(be);
	struct iovec v[MAX_SEND_IOV + 1];
	size_t len = iov_total(iov, n);
	uint32_t be_len = htobe32((uint32_t)len);
	struct msghdr mh = { .msg_iov = v, .msg_iovlen = n + 1 };
	ssize_t sent;
	int r;

	if (n > MAX_SEND_IOV || len < NET_MIN_FRAME || len > NET_MAX_FRAME)
		return -EINVAL;
	r = passt_flush(be, q);
	if (r)
		return r;
	v[0] = (struct iovec){ .iov_base = &be_len, .iov_len = sizeof(be_len) };
	memcpy(v + 1, iov, n * sizeof(*iov));
	do
		sent = sendmsg(p->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (sent < 0 && errno == EINTR);
	if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return -EAGAIN;
	if (sent < 0) {
		p->gone = true;
		return -EPIPE;
	}
	if ((size_t)sent < sizeof(be_len) + len) {
		/* Keep the rest of this frame; flush() sends it before anything else. */
		size_t done = (size_t)sent;

		p->plen = 0;
		if (done < sizeof(be_len)) {
			memcpy(p->pbuf, (uint8_t *)&be_len + done, sizeof(be_len) - done);
			p->plen = sizeof(be_len) - done;
			done = 0;
		} else {
			done -= sizeof(be_len);
		}
		if (!iov_gather(iov, n, done, p->pbuf + p->plen, len - done))
			return -EINVAL; /* cannot happen: done < len */
		p->plen += len - done;
		p->poff = 0;
	}
	return 0;
}

static ssize_t passt_recv(struct net_backend *be, unsigned q, uint8_t *buf, size_t cap)
{
	struct passt_be *p = to_passt(be);

	(void)q;
	if (p->gone)
		return -EPIPE;
	for (;;) {
		size_t have = p->rlen - p->roff;
		ssize_t n;

		if (have >= 4) {
			uint32_t flen;

			memcpy(&flen, p->rbuf + p->roff, 4);
			flen = be32toh(flen);
			if (flen < NET_MIN_FRAME || flen > NET_MAX_FRAME) {
				p->gone = true;
				return -EPROTO;
			}
			if (have >= 4 + (size_t)flen) {
				p->roff += 4 + flen;
				if (cap < NET_HDR_LEN + flen)
					return -EMSGSIZE;
				memcpy(buf + NET_HDR_LEN, p->rbuf + p->roff - flen, flen);
				return flen;
			}
		}
		/* Not a whole frame: move what we have to the front and read more. */
		if (p->roff) {
			memmove(p->rbuf, p->rbuf + p->roff, have);
			p->roff = 0;
			p->rlen = have;
		}
		n = read(p->fd, p->rbuf + p->rlen, RBUF_SIZE - p->rlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return -EAGAIN;
		if (n <= 0) {
			p->gone = true;
			return -EPIPE;
		}
		p->rlen += (size_t)n;
	}
}

static void passt_destroy(struct net_backend *be)
{
	struct passt_be *p = to_passt(be);

	if (p->fd >= 0)
		close(p->fd);
	free(p->rbuf);
	free(p->pbuf);
	free(p);
}

static const struct net_backend_ops passt_ops = {
	.fd = passt_fd,
	.send = passt_send,
	.flush = passt_flush,
	.recv = passt_recv,
	.destroy = passt_destroy,
};

int net_passt_create(int fd, uint16_t mtu, struct net_backend **out)
{
	struct passt_be *p;
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->rbuf = malloc(RBUF_SIZE);
	p->pbuf = malloc(PBUF_SIZE);
	if (!p->rbuf || !p->pbuf) {
		free(p->rbuf);
		free(p->pbuf);
		free(p);
		return -ENOMEM;
	}
	p->fd = fd;
	p->be = (struct net_backend){
		.ops = &passt_ops, .kind = "passt", .pairs = 1, .vnet_hdr = false, .features = 0, .mtu = mtu,
	};
	memcpy(p->be.name, "passt", 6);
	*out = &p->be;
	return 0;
}
