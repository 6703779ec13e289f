/* SPDX-License-Identifier: MIT */
#include "lib/vhost-user.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

const char *vu_request_name(uint32_t req)
{
	static const char *const names[VU_REQUEST_MAX] = {
		[VU_GET_FEATURES] = "GET_FEATURES", [VU_SET_FEATURES] = "SET_FEATURES",
		[VU_SET_OWNER] = "SET_OWNER", [VU_RESET_OWNER] = "RESET_OWNER",
		[VU_SET_MEM_TABLE] = "SET_MEM_TABLE", [VU_SET_VRING_NUM] = "SET_VRING_NUM",
		[VU_SET_VRING_ADDR] = "SET_VRING_ADDR", [VU_SET_VRING_BASE] = "SET_VRING_BASE",
		[VU_GET_VRING_BASE] = "GET_VRING_BASE", [VU_SET_VRING_KICK] = "SET_VRING_KICK",
		[VU_SET_VRING_CALL] = "SET_VRING_CALL", [VU_SET_VRING_ERR] = "SET_VRING_ERR",
		[VU_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
		[VU_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES", [VU_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
		[VU_SET_VRING_ENABLE] = "SET_VRING_ENABLE", [VU_SET_BACKEND_REQ_FD] = "SET_BACKEND_REQ_FD",
		[VU_GET_CONFIG] = "GET_CONFIG", [VU_SET_CONFIG] = "SET_CONFIG", [VU_RESET_DEVICE] = "RESET_DEVICE",
		[VU_GET_MAX_MEM_SLOTS] = "GET_MAX_MEM_SLOTS", [VU_SET_STATUS] = "SET_STATUS",
		[VU_GET_STATUS] = "GET_STATUS",
	};

	return req < VU_REQUEST_MAX && names[req] ? names[req] : "?";
}

void vu_msg_init(struct vu_msg *m, uint32_t req, uint32_t size)
{
	memset(&m->hdr, 0, sizeof(m->hdr));
	m->hdr.request = req;
	m->hdr.flags = VU_VERSION;
	m->hdr.size = size;
	m->u64 = 0;
}

int vu_send(int sock, const struct vu_msg *m, const int *fds, unsigned nfds)
{
	union {
		char buf[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	/* On the wire the payload follows the 12-byte header directly (in the struct it is 8-aligned). */
	struct iovec iov[2] = { { (void *)&m->hdr, sizeof(m->hdr) }, { (void *)m->raw, m->hdr.size } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = m->hdr.size ? 2 : 1 };
	ssize_t n;

	if (m->hdr.size > VU_MAX_PAYLOAD || nfds > VU_MAX_FDS)
		return -EINVAL;
	if (nfds) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n != sizeof(m->hdr) + m->hdr.size)
		return -EPIPE; /* a stream socket takes a message this small whole, or the peer is gone */
	return 0;
}

/* Read exactly len bytes (after the first part, which carried the descriptors). */
static int read_rest(int sock, uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = recv(sock, p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int vu_recv(int sock, struct vu_msg *m, int *fds, unsigned maxfds, unsigned *nfds)
{
	union {
		char buf[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { m, sizeof(m->hdr) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf) };
	unsigned got = 0;
	ssize_t n;
	int err = 0;

	*nfds = 0;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ECONNRESET;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (got < maxfds)
				fds[got++] = fd;
			else
				close(fd);
		}
	}
	if (mh.msg_flags & MSG_CTRUNC)
		err = -EBADMSG;
	if (!err && (size_t)n < sizeof(m->hdr))
		err = read_rest(sock, (uint8_t *)m + n, sizeof(m->hdr) - (size_t)n);
	if (!err && (m->hdr.flags & VU_FLAG_VERSION_MASK) != VU_VERSION)
		err = -EBADMSG;
	if (!err && m->hdr.size > VU_MAX_PAYLOAD)
		err = -EBADMSG;
	if (!err && m->hdr.size)
		err = read_rest(sock, m->raw, m->hdr.size);
	if (err) {
		for (unsigned i = 0; i < got; i++)
			close(fds[i]);
		return err;
	}
	*nfds = got;
	return 0;
}
