/* SPDX-License-Identifier: MIT */
/* The UNIX-socket bridge of virtio-vsock (vsock-uds.h). */
#include "devices/vsock-uds.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "lib/log.h"

/* ---- UNIX-socket bridge ---- */

/*
 * One thread polls the listening socket, every client and an eventfd (woken
 * by the callbacks, which run on the worker, and by destroy). Clients are
 * changed under u->lock; the vsock_* calls on a client's connection are made
 * under u->lock too, which closed() also takes: the lifetime rule of the
 * header. Guest->client bytes use manual credit, so a slow client stalls
 * the guest (by credit) instead of growing a buffer: at most
 * VSOCK_BUF_ALLOC bytes wait per client.
 */
#define UDS_MAX_CLIENTS 64
#define UDS_LINE_MAX 32
#define UDS_CHUNK 16384

enum uds_state { UC_HEADER, UC_CONNECTING, UC_OPEN, UC_DEAD };

struct uds_client {
	struct vsock_uds *u;
	int fd;
	enum uds_state st;
	struct vsock_conn *c;   /* NULL once closed() ran */
	bool guest_eof, client_eof;
	char line[UDS_LINE_MAX];
	unsigned linelen;
	uint8_t *out;           /* to the client: ctrl bytes ("OK ...") then guest data */
	size_t outlen, outcap, ctrl;
	uint8_t in[UDS_CHUNK];  /* from the client, not yet accepted by vsock_send() */
	size_t inlen;
};

struct vsock_uds {
	struct virtio_vsock *v;
	int lfd, efd;
	bool stop;
	pthread_t thread;
	pthread_mutex_t lock;
	struct uds_client *cl[UDS_MAX_CLIENTS];
};

static void uds_wake(struct vsock_uds *u)
{
	uint64_t one = 1;

	if (write(u->efd, &one, sizeof(one)) != sizeof(one))
		log_errno(errno, "virtio-vsock: bridge wake");
}

/* Caller holds u->lock. */
static bool out_append(struct uds_client *k, const void *buf, size_t len)
{
	if (k->outcap - k->outlen < len) {
		size_t cap = k->outlen + len + 4096;
		uint8_t *p = realloc(k->out, cap);

		if (!p)
			return false;
		k->out = p;
		k->outcap = cap;
	}
	memcpy(k->out + k->outlen, buf, len);
	k->outlen += len;
	return true;
}

static void uds_connected(void *cctx)
{
	struct uds_client *k = cctx;
	char ok[32];
	int n;

	pthread_mutex_lock(&k->u->lock);
	n = snprintf(ok, sizeof(ok), "OK %u\n", vsock_conn_host_port(k->c));
	if (k->st == UC_CONNECTING && out_append(k, ok, (size_t)n)) {
		k->ctrl += (size_t)n;
		k->st = UC_OPEN;
	}
	pthread_mutex_unlock(&k->u->lock);
	uds_wake(k->u);
}

static void uds_recv(void *cctx, const uint8_t *buf, size_t len)
{
	struct uds_client *k = cctx;

	pthread_mutex_lock(&k->u->lock);
	if (!len)
		k->guest_eof = true;
	else if (!out_append(k, buf, len) && k->c)
		vsock_close(k->c);
	pthread_mutex_unlock(&k->u->lock);
	uds_wake(k->u);
}

static void uds_closed(void *cctx)
{
	struct uds_client *k = cctx;

	pthread_mutex_lock(&k->u->lock);
	k->c = NULL;
	k->st = UC_DEAD;
	pthread_mutex_unlock(&k->u->lock);
	uds_wake(k->u);
}

static void uds_writable(void *cctx)
{
	uds_wake(((struct uds_client *)cctx)->u);
}

static const struct vsock_listener_ops uds_conn_ops = {
	.recv = uds_recv, .closed = uds_closed, .connected = uds_connected, .writable = uds_writable,
	.manual_credit = true,
};

/* Caller holds u->lock. Free slot i (its connection, if any, is gone). */
static void client_free(struct vsock_uds *u, unsigned i)
{
	struct uds_client *k = u->cl[i];

	close(k->fd);
	free(k->out);
	free(k);
	u->cl[i] = NULL;
}

/* Caller holds u->lock. The client went away or broke the protocol. */
static void client_drop(struct vsock_uds *u, unsigned i)
{
	struct uds_client *k = u->cl[i];

	if (k->c) {
		vsock_close(k->c); /* closed() frees it later */
		k->client_eof = true;
		k->outlen = k->ctrl = 0;
		return;
	}
	client_free(u, i);
}

/* Caller holds u->lock. Parse "CONNECT <port>\n" one byte at a time (never read past it). */
static void client_header(struct vsock_uds *u, unsigned i)
{
	struct uds_client *k = u->cl[i];
	unsigned long port;
	char ch, *end;
	ssize_t n = read(k->fd, &ch, 1);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_free(u, i);
		return;
	}
	if (ch != '\n') {
		if (k->linelen + 1 >= UDS_LINE_MAX)
			client_free(u, i);
		else
			k->line[k->linelen++] = ch;
		return;
	}
	k->line[k->linelen] = 0;
	if (strncmp(k->line, "CONNECT ", 8) || k->line[8] < '0' || k->line[8] > '9' ||
	    (errno = 0, port = strtoul(k->line + 8, &end, 10), errno) || port > UINT32_MAX ||
	    (*end && strcmp(end, "\r"))) {
		client_free(u, i);
		return;
	}
	if (vsock_connect(u->v, (uint32_t)port, &uds_conn_ops, k, &k->c)) {
		k->c = NULL;
		client_free(u, i);
		return;
	}
	k->st = UC_CONNECTING;
}

/* Caller holds u->lock. */
static void client_io(struct vsock_uds *u, unsigned i, short rev)
{
	struct uds_client *k = u->cl[i];

	if ((rev & POLLOUT) && k->outlen) {
		ssize_t n = send(k->fd, k->out, k->outlen, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			client_drop(u, i);
			return;
		}
		if (n > 0) {
			size_t data = (size_t)n > k->ctrl ? (size_t)n - k->ctrl : 0;

			k->ctrl -= (size_t)n - data;
			memmove(k->out, k->out + n, k->outlen - (size_t)n);
			k->outlen -= (size_t)n;
			if (data && k->c)
				vsock_consumed(k->c, data);
		}
	}
	if (k->st == UC_HEADER && (rev & (POLLIN | POLLHUP))) {
		client_header(u, i);
		return;
	}
	if (k->st == UC_OPEN && !k->client_eof && !k->inlen && (rev & (POLLIN | POLLHUP))) {
		ssize_t n = recv(k->fd, k->in, sizeof(k->in), MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			client_drop(u, i);
			return;
		}
		k->inlen = (size_t)n;
		return;
	}
	if (rev & (POLLERR | POLLHUP))
		client_drop(u, i); /* and stop polling it: no spinning on POLLHUP */
}

/* Caller holds u->lock. Housekeeping after events: pending sends, EOF, dead clients. */
static void client_settle(struct vsock_uds *u, unsigned i)
{
	struct uds_client *k = u->cl[i];

	if (k->inlen && k->c && k->st == UC_OPEN) {
		int r = vsock_send(k->c, k->in, k->inlen);

		if (r == 0)
			k->inlen = 0;
		else if (r != -EAGAIN)
			client_drop(u, i);
		if (!u->cl[i])
			return;
	}
	if (k->guest_eof && !k->outlen) {
		shutdown(k->fd, SHUT_WR);
		k->guest_eof = false;
	}
	if (k->st == UC_DEAD && (!k->outlen || k->client_eof))
		client_free(u, i);
}

static void *uds_thread(void *arg)
{
	struct vsock_uds *u = arg;
	struct pollfd p[UDS_MAX_CLIENTS + 2];
	unsigned idx[UDS_MAX_CLIENTS + 2];

	for (;;) {
		unsigned n = 2;
		uint64_t x;

		pthread_mutex_lock(&u->lock);
		if (u->stop) {
			pthread_mutex_unlock(&u->lock);
			return NULL;
		}
		for (unsigned i = 0; i < UDS_MAX_CLIENTS; i++) {
			struct uds_client *k = u->cl[i];
			short ev = 0;

			if (!k)
				continue;
			client_settle(u, i);
			if (!(k = u->cl[i]))
				continue;
			if (k->st == UC_HEADER || (k->st == UC_OPEN && !k->inlen && !k->client_eof))
				ev |= POLLIN;
			if (k->outlen)
				ev |= POLLOUT;
			p[n] = (struct pollfd){ .fd = k->client_eof ? -1 : k->fd, .events = ev };
			idx[n++] = i;
		}
		pthread_mutex_unlock(&u->lock);
		p[0] = (struct pollfd){ .fd = u->efd, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = u->lfd, .events = POLLIN };
		if (poll(p, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_errno(errno, "virtio-vsock: bridge poll");
			return NULL;
		}
		if (p[0].revents & POLLIN)
			while (read(u->efd, &x, sizeof(x)) == sizeof(x))
				;
		pthread_mutex_lock(&u->lock);
		if (p[1].revents & POLLIN) {
			int fd = accept4(u->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			unsigned i = 0;

			while (fd >= 0 && i < UDS_MAX_CLIENTS && u->cl[i])
				i++;
			if (fd >= 0 && i < UDS_MAX_CLIENTS && (u->cl[i] = calloc(1, sizeof(struct uds_client)))) {
				u->cl[i]->u = u;
				u->cl[i]->fd = fd;
			} else if (fd >= 0) {
				close(fd);
			}
		}
		for (unsigned j = 2; j < n; j++)
			if (p[j].revents && u->cl[idx[j]] && u->cl[idx[j]]->fd == p[j].fd)
				client_io(u, idx[j], p[j].revents);
		pthread_mutex_unlock(&u->lock);
	}
}

void vsock_uds_stop(struct vsock_uds *u)
{
	if (!u)
		return;
	pthread_mutex_lock(&u->lock);
	u->stop = true;
	pthread_mutex_unlock(&u->lock);
	uds_wake(u);
	pthread_join(u->thread, NULL);
}

/* After the worker stopped and every closed() ran. */
void vsock_uds_free(struct vsock_uds *u)
{
	if (!u)
		return;
	for (unsigned i = 0; i < UDS_MAX_CLIENTS; i++)
		if (u->cl[i])
			client_free(u, i);
	close(u->lfd);
	close(u->efd);
	pthread_mutex_destroy(&u->lock);
	free(u);
}

int vsock_uds_listen(struct virtio_vsock *v, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vsock_uds *u;
	int err;

	if (v->uds)
		return -EBUSY;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->v = v;
	u->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	u->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (u->efd < 0 || u->lfd < 0) {
		err = -errno;
		goto fail;
	}
	{
		/* Replace a stale socket, never anything else the user owns. */
		struct stat st;

		if (lstat(path, &st) == 0) {
			if (!S_ISSOCK(st.st_mode)) {
				err = -EEXIST;
				log_msg("virtio-vsock: `%s` exists and is not a socket", path);
				goto fail;
			}
			unlink(path);
		}
	}
	if (bind(u->lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(u->lfd, 16)) {
		err = -errno;
		log_errno(err, "virtio-vsock: listen on `%s`", path);
		goto fail;
	}
	pthread_mutex_init(&u->lock, NULL);
	err = -pthread_create(&u->thread, NULL, uds_thread, u);
	if (err) {
		pthread_mutex_destroy(&u->lock);
		goto fail;
	}
	v->uds = u;
	return 0;
fail:
	if (u->lfd >= 0)
		close(u->lfd);
	if (u->efd >= 0)
		close(u->efd);
	free(u);
	return err;
}
