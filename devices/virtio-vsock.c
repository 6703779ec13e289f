/* SPDX-License-Identifier: MIT */
/* virtio-vsock: see the header for the queues, the threat model and threads. */
#include "devices/virtio-vsock.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "devices/vsock-uds.h"
#include "lib/log.h"

#define SHUTDOWN_BOTH (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND)

enum conn_state {
	CS_CONNECTING,  /* we sent (or will send) REQUEST; waiting for RESPONSE */
	CS_ACCEPTING,   /* the guest's REQUEST; accept() running */
	CS_ESTABLISHED,
	CS_CLOSED,      /* torn down; waits for RST to go out and closed() to run */
};

struct vsock_conn {
	struct virtio_vsock *v;
	unsigned slot;                  /* index in v->conns[] */
	uint32_t host_port, guest_port;
	enum conn_state state;
	const struct vsock_listener_ops *ops;   /* NULL once closed() ran (or never will) */
	void *ctx;

	/* control packets owed to the guest */
	bool send_request, send_response, send_rst, send_credit_update, send_credit_request;
	bool credit_request_sent;       /* one CREDIT_REQUEST per stall */
	bool host_closing;              /* vsock_close(): no more payload in */
	uint64_t close_deadline;        /* CLOCK_MONOTONIC ns: torn down by then */
	uint32_t peer_shutdown;         /* VIRTIO_VSOCK_SHUTDOWN_* the guest sent */
	/* callbacks owed to the monitor */
	bool cb_connected, cb_writable, cb_closed, want_writable;

	/* host -> guest: credit the guest gives us */
	uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt;
	/* guest -> host: credit we give */
	uint32_t rx_cnt, fwd_cnt, adv_fwd_cnt;

	/* host -> guest bytes, a ring of VSOCK_SENDBUF (allocated on first send) */
	uint8_t *sbuf;
	uint32_t shead, slen;
};

/* ---- helpers ---- */

static uint32_t peer_credit(const struct vsock_conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	/* A fwd_cnt ahead of tx_cnt (a lying guest) wraps to a huge in_flight: no credit. */
	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

/* Caller holds v->lock. */
static struct vsock_conn *conn_find(struct virtio_vsock *v, uint32_t host_port, uint32_t guest_port)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = v->conns[i];

		if (c && c->host_port == host_port && c->guest_port == guest_port)
			return c;
	}
	return NULL;
}

/* Caller holds v->lock. A new connection in a free slot, or NULL. */
static struct vsock_conn *conn_new(struct virtio_vsock *v, uint32_t host_port, uint32_t guest_port)
{
	struct vsock_conn *c;

	if (v->nconns >= VSOCK_MAX_CONNS)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		if (!v->conns[i]) {
			c->slot = i;
			v->conns[i] = c;
			break;
		}
	}
	v->nconns++;
	c->v = v;
	c->host_port = host_port;
	c->guest_port = guest_port;
	return c;
}

/* Caller holds v->lock. Free c once nothing is owed for it any more. */
static void conn_maybe_free(struct virtio_vsock *v, struct vsock_conn *c)
{
	if (c->state != CS_CLOSED || c->send_rst || c->cb_closed || c->ops)
		return;
	v->conns[c->slot] = NULL;
	v->nconns--;
	free(c->sbuf);
	free(c);
}

/*
 * Caller holds v->lock. Tear c down: RST to the guest if `rst`, closed() to
 * the monitor if it was told about c. Queued data is dropped.
 */
static void conn_reset(struct virtio_vsock *v, struct vsock_conn *c, bool rst)
{
	if (c->state == CS_CLOSED)
		return;
	c->state = CS_CLOSED;
	c->send_rst = rst;
	c->send_request = c->send_response = c->send_credit_update = c->send_credit_request = false;
	c->cb_connected = c->cb_writable = false;
	c->slen = 0;
	if (c->ops)
		c->cb_closed = true;
	conn_maybe_free(v, c);
}

/* Caller holds v->lock. RST for a packet that matches no connection. */
static void orphan_rst(struct virtio_vsock *v, uint32_t host_port, uint32_t guest_port, uint16_t type)
{
	if (v->norphans == VSOCK_MAX_ORPHAN_RST) {
		__atomic_fetch_add(&v->dropped, 1, __ATOMIC_RELAXED);
		return;
	}
	v->orphans[(v->orphan_head + v->norphans) % VSOCK_MAX_ORPHAN_RST] =
		(struct vsock_orphan){ .host_port = host_port, .guest_port = guest_port, .type = type };
	v->norphans++;
}

static void proto_error(struct virtio_vsock *v, struct vsock_conn *c, const char *why)
{
	__atomic_fetch_add(&v->proto_errors, 1, __ATOMIC_RELAXED);
	log_debug("virtio-vsock: connection %u->%u reset: %s", c->guest_port, c->host_port, why);
	conn_reset(v, c, true);
}

/* Caller holds v->lock; after guest->host bytes were consumed. */
static void credit_consumed(struct vsock_conn *c, uint32_t n)
{
	c->fwd_cnt += n;
	if (c->fwd_cnt - c->adv_fwd_cnt >= VSOCK_BUF_ALLOC / 2)
		c->send_credit_update = true;
}

/* ---- callbacks to the monitor, never under v->lock ---- */

static void run_callbacks(struct virtio_vsock *v)
{
	for (;;) {
		struct vsock_conn *c = NULL;
		const struct vsock_listener_ops *ops;
		bool connected = false, writable = false, closed = false;
		void *ctx;

		pthread_mutex_lock(&v->lock);
		for (unsigned i = 0; i < VSOCK_MAX_CONNS && !c; i++) {
			struct vsock_conn *x = v->conns[i];

			if (x && (x->cb_connected || x->cb_writable || x->cb_closed))
				c = x;
		}
		if (!c) {
			pthread_mutex_unlock(&v->lock);
			return;
		}
		ops = c->ops;
		ctx = c->ctx;
		if (c->cb_connected) {
			c->cb_connected = false;
			connected = true;
		} else if (c->cb_writable) {
			c->cb_writable = false;
			writable = true;
		} else {
			closed = true;
		}
		pthread_mutex_unlock(&v->lock);

		if (connected && ops->connected)
			ops->connected(ctx);
		if (writable && ops->writable)
			ops->writable(ctx);
		if (closed) {
			if (ops->closed)
				ops->closed(ctx);
			pthread_mutex_lock(&v->lock);
			c->cb_closed = false;
			c->ops = NULL;
			c->ctx = NULL;
			conn_maybe_free(v, c);
			pthread_mutex_unlock(&v->lock);
		}
	}
}

/* ---- device -> driver (rx queue) ---- */

static void fill_hdr(struct virtio_vsock *v, struct virtio_vsock_hdr *h, uint32_t host_port, uint32_t guest_port,
		     uint16_t type, uint16_t op)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = htole64(VSOCK_HOST_CID);
	h->dst_cid = htole64(v->guest_cid);
	h->src_port = htole32(host_port);
	h->dst_port = htole32(guest_port);
	h->type = htole16(type);
	h->op = htole16(op);
}

/*
 * Caller holds v->lock. Build c's next packet into *h for a buffer of `room`
 * payload bytes; returns the payload length (the bytes are at c->sbuf from
 * c->shead, possibly wrapping) or -1 when c owes nothing.
 */
static int conn_next(struct virtio_vsock *v, struct vsock_conn *c, uint32_t room, struct virtio_vsock_hdr *h)
{
	uint16_t op = 0;
	uint32_t flags = 0, n = 0, credit = peer_credit(c);

	if (c->send_rst) {
		op = VIRTIO_VSOCK_OP_RST;
		c->send_rst = false;
	} else if (c->state == CS_CLOSED || c->state == CS_ACCEPTING) {
		return -1;
	} else if (c->host_closing && c->state == CS_CONNECTING) {
		bool seen = !c->send_request; /* did the guest see our REQUEST? */

		conn_reset(v, c, seen);
		if (!seen)
			return -1; /* c may be gone */
		op = VIRTIO_VSOCK_OP_RST;
		c->send_rst = false;
	} else if (c->send_request) {
		op = VIRTIO_VSOCK_OP_REQUEST;
		c->send_request = false;
	} else if (c->state != CS_ESTABLISHED) {
		return -1;
	} else if (c->send_response) {
		op = VIRTIO_VSOCK_OP_RESPONSE;
		c->send_response = false;
	} else if (c->slen && credit && !(c->peer_shutdown & VIRTIO_VSOCK_SHUTDOWN_RCV)) {
		op = VIRTIO_VSOCK_OP_RW;
		n = c->slen;
		if (n > credit)
			n = credit;
		if (n > room)
			n = room;
		if (n > VSOCK_MAX_PAYLOAD)
			n = VSOCK_MAX_PAYLOAD;
	} else if (c->host_closing && (!c->slen || (c->peer_shutdown & VIRTIO_VSOCK_SHUTDOWN_RCV))) {
		op = VIRTIO_VSOCK_OP_SHUTDOWN;
		flags = SHUTDOWN_BOTH;
	} else if (c->send_credit_update) {
		op = VIRTIO_VSOCK_OP_CREDIT_UPDATE;
	} else if (c->slen && !credit && !c->credit_request_sent &&
		   !(c->peer_shutdown & VIRTIO_VSOCK_SHUTDOWN_RCV)) {
		op = VIRTIO_VSOCK_OP_CREDIT_REQUEST;
		c->credit_request_sent = true;
	} else {
		return -1;
	}
	fill_hdr(v, h, c->host_port, c->guest_port, VIRTIO_VSOCK_TYPE_STREAM, op);
	h->len = htole32(n);
	h->flags = htole32(flags);
	h->buf_alloc = htole32(VSOCK_BUF_ALLOC);
	h->fwd_cnt = htole32(c->fwd_cnt);
	c->adv_fwd_cnt = c->fwd_cnt;
	c->send_credit_update = false;
	if (op == VIRTIO_VSOCK_OP_RW)
		c->tx_cnt += n;
	if (op == VIRTIO_VSOCK_OP_SHUTDOWN)
		conn_reset(v, c, true); /* and RST right after it: we are done */
	return (int)n;
}

/* Copy n bytes out of c's send ring (from shead) into the rx buffer after the header. */
static void take_sbuf(struct vsock_conn *c, const struct vsock_rx_buf *b, uint32_t n)
{
	uint32_t first = VSOCK_SENDBUF - c->shead;
	struct iov_cursor w;

	if (first > n)
		first = n;
	/* n <= room = cap - header (conn_next), so every step fits. */
	iov_cursor_init(&w, b->iov, b->nseg);
	if (!iov_skip(&w, VSOCK_HDR_SIZE) || !iov_write(&w, c->sbuf + c->shead, first) ||
	    !iov_write(&w, c->sbuf, n - first))
		return;
	c->shead = (c->shead + n) % VSOCK_SENDBUF;
	c->slen -= n;
	if (c->want_writable && c->slen <= VSOCK_SENDBUF / 2) {
		c->want_writable = false;
		c->cb_writable = true;
	}
}

/* Worker: fill held rx buffers with what is owed to the guest. */
static int rx_deliver(struct virtio_vsock *v)
{
	unsigned pushed = 0;
	int err = 0;

	pthread_mutex_lock(&v->lock);
	while (v->rx_count) {
		struct vsock_rx_buf *b = &v->rx[v->rx_head];
		struct virtio_vsock_hdr h;
		uint32_t room = b->cap - VSOCK_HDR_SIZE;
		int n = -1;

		if (v->norphans) {
			struct vsock_orphan *o = &v->orphans[v->orphan_head];

			fill_hdr(v, &h, o->host_port, o->guest_port, o->type, VIRTIO_VSOCK_OP_RST);
			v->orphan_head = (v->orphan_head + 1) % VSOCK_MAX_ORPHAN_RST;
			v->norphans--;
			n = 0;
		} else {
			for (unsigned i = 0; i < VSOCK_MAX_CONNS && n < 0; i++) {
				unsigned s = (v->rr + i) % VSOCK_MAX_CONNS;
				struct vsock_conn *c = v->conns[s];

				if (!c)
					continue;
				n = conn_next(v, c, room, &h);
				if (n < 0)
					continue;
				v->rr = s + 1;
				if (n > 0)
					take_sbuf(c, b, (uint32_t)n);
				conn_maybe_free(v, c); /* after its RST */
			}
		}
		if (n < 0)
			break;
		(void)iov_scatter(b->iov, b->nseg, 0, &h, sizeof(h));
		v->rx_head = (v->rx_head + 1) % VSOCK_QUEUE_SIZE;
		v->rx_count--;
		err = virtio_push(&v->vdev, 0, b->head, VSOCK_HDR_SIZE + (uint32_t)n);
		if (err)
			break;
		pushed++;
	}
	pthread_mutex_unlock(&v->lock);
	if (pushed)
		virtio_queue_interrupt(&v->vdev, 0);
	run_callbacks(v);
	return err;
}

/* Worker: take every rx buffer the driver posted, then deliver. */
static int rx_notify(struct virtio_vsock *v)
{
	struct vq_chain *ch = &v->chain;
	int r;

	while ((r = virtio_pop(&v->vdev, 0, ch)) > 0) {
		struct vsock_rx_buf *b;

		if (ch->nr_out || ch->in_len < VSOCK_HDR_SIZE) {
			virtio_dev_fail(&v->vdev, "rx buffer %u: %s", ch->head,
					ch->nr_out ? "device-readable" : "shorter than a packet header");
			return -EINVAL;
		}
		if (v->rx_count == VSOCK_QUEUE_SIZE) {
			virtio_dev_fail(&v->vdev, "rx: more buffers posted than the queue holds");
			return -EINVAL;
		}
		b = &v->rx[(v->rx_head + v->rx_count) % VSOCK_QUEUE_SIZE];
		b->head = ch->head;
		b->nseg = (uint16_t)(ch->nr_in < VSOCK_RX_SEGS ? ch->nr_in : VSOCK_RX_SEGS);
		b->cap = 0;
		for (unsigned i = 0; i < b->nseg; i++) {
			b->iov[i] = ch->iov[i];
			b->cap += (uint32_t)ch->iov[i].iov_len;
		}
		if (b->cap < VSOCK_HDR_SIZE) {
			virtio_dev_fail(&v->vdev, "rx buffer %u: header spread over too many segments", ch->head);
			return -EINVAL;
		}
		v->rx_count++;
	}
	if (r < 0)
		return r;
	return rx_deliver(v);
}

/* ---- driver -> device (tx queue) ---- */

static bool op_known(uint16_t op)
{
	return op >= VIRTIO_VSOCK_OP_REQUEST && op <= VIRTIO_VSOCK_OP_CREDIT_REQUEST;
}

/* Worker: a guest REQUEST for a port nobody is connected on. Caller holds v->lock; drops it around accept(). */
static void guest_connect(struct virtio_vsock *v, const struct virtio_vsock_hdr *h, uint32_t host_port,
			  uint32_t guest_port)
{
	struct vsock_listener *l = NULL;
	struct vsock_conn *c;
	void *cctx;

	for (unsigned i = 0; i < v->nlisteners; i++)
		if (v->listeners[i].port == host_port)
			l = &v->listeners[i];
	if (!l || !(c = conn_new(v, host_port, guest_port))) {
		orphan_rst(v, host_port, guest_port, VIRTIO_VSOCK_TYPE_STREAM);
		return;
	}
	c->state = CS_ACCEPTING;
	c->peer_buf_alloc = le32toh(h->buf_alloc);
	c->peer_fwd_cnt = le32toh(h->fwd_cnt);
	c->ops = l->ops;
	{
		const struct vsock_listener_ops *ops = l->ops;
		void *lctx = l->ctx;

		pthread_mutex_unlock(&v->lock);
		cctx = ops->accept(lctx, c, guest_port);
		pthread_mutex_lock(&v->lock);
	}
	if (!cctx) {
		c->ops = NULL; /* refused: no closed() */
		conn_reset(v, c, true);
		return;
	}
	c->ctx = cctx;
	c->state = CS_ESTABLISHED;
	c->send_response = true;
}

/* Worker: one tx packet. Returns 0, or -EINVAL after virtio_dev_fail(). */
static int tx_packet(struct virtio_vsock *v, const struct vq_chain *ch)
{
	struct virtio_vsock_hdr h;
	uint64_t src_cid, dst_cid;
	uint32_t host_port, guest_port, len, payload;
	uint16_t type, op;
	struct vsock_conn *c;
	struct iov_cursor rd;

	iov_cursor_init(&rd, ch->iov, ch->nr_out);
	/* One read of the header into a local copy: only the copy is used. */
	if (ch->nr_in || !iov_read_obj(&rd, &h)) {
		virtio_dev_fail(&v->vdev, "tx packet %u: %s", ch->head,
				ch->nr_in ? "device-writable buffer" : "shorter than a packet header");
		return -EINVAL;
	}
	src_cid = le64toh(h.src_cid);
	dst_cid = le64toh(h.dst_cid);
	guest_port = le32toh(h.src_port);
	host_port = le32toh(h.dst_port);
	len = le32toh(h.len);
	type = le16toh(h.type);
	op = le16toh(h.op);
	payload = (uint32_t)iov_cursor_left(&rd);

	if (src_cid != v->guest_cid || dst_cid != VSOCK_HOST_CID) {
		__atomic_fetch_add(&v->dropped, 1, __ATOMIC_RELAXED);
		return 0;
	}
	pthread_mutex_lock(&v->lock);
	c = conn_find(v, host_port, guest_port);
	if (c && c->state == CS_CLOSED)
		goto out; /* torn down; only its RST is still owed */
	if (op == VIRTIO_VSOCK_OP_RST) {
		if (c)
			conn_reset(v, c, false);
		goto out;
	}
	if (len > VSOCK_MAX_PAYLOAD || len != payload || type != VIRTIO_VSOCK_TYPE_STREAM || !op_known(op) ||
	    (len && op != VIRTIO_VSOCK_OP_RW)) {
		if (c) {
			proto_error(v, c, "malformed packet");
		} else {
			__atomic_fetch_add(&v->proto_errors, 1, __ATOMIC_RELAXED);
			orphan_rst(v, host_port, guest_port, type);
		}
		goto out;
	}
	if (!c) {
		if (op == VIRTIO_VSOCK_OP_REQUEST)
			guest_connect(v, &h, host_port, guest_port);
		else
			orphan_rst(v, host_port, guest_port, type);
		goto out;
	}
	/* Every header carries the guest's credit. */
	if (c->peer_buf_alloc != le32toh(h.buf_alloc) || c->peer_fwd_cnt != le32toh(h.fwd_cnt))
		c->credit_request_sent = false;
	c->peer_buf_alloc = le32toh(h.buf_alloc);
	c->peer_fwd_cnt = le32toh(h.fwd_cnt);

	switch (op) {
	case VIRTIO_VSOCK_OP_REQUEST:
		proto_error(v, c, "REQUEST on an open connection");
		break;
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (c->state != CS_CONNECTING || c->send_request) {
			proto_error(v, c, "unexpected RESPONSE");
			break;
		}
		c->state = CS_ESTABLISHED;
		c->cb_connected = true;
		break;
	case VIRTIO_VSOCK_OP_RW: {
		const struct vsock_listener_ops *ops = c->ops;
		void *ctx = c->ctx;

		if (c->state != CS_ESTABLISHED || (c->peer_shutdown & VIRTIO_VSOCK_SHUTDOWN_SEND)) {
			proto_error(v, c, "data on a connection not open for it");
			break;
		}
		if (c->host_closing) {
			/* We are closing: nobody reads this any more. Drop it, give the credit back. */
			__atomic_fetch_add(&v->dropped, 1, __ATOMIC_RELAXED);
			if (len <= VSOCK_BUF_ALLOC - (c->rx_cnt - c->adv_fwd_cnt)) {
				c->rx_cnt += len;
				credit_consumed(c, len);
			}
			break;
		}
		if (c->rx_cnt - c->adv_fwd_cnt > VSOCK_BUF_ALLOC ||
		    len > VSOCK_BUF_ALLOC - (c->rx_cnt - c->adv_fwd_cnt)) {
			proto_error(v, c, "data beyond the credit we gave");
			break;
		}
		if (!len)
			break;
		c->rx_cnt += len;
		/* Copy out of guest memory before anyone looks at it. */
		if (!iov_read(&rd, v->bounce, len))
			break; /* cannot happen: len == payload */
		pthread_mutex_unlock(&v->lock);
		ops->recv(ctx, v->bounce, len);
		pthread_mutex_lock(&v->lock);
		if (c->state != CS_CLOSED && !ops->manual_credit)
			credit_consumed(c, len);
		break;
	}
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		break; /* taken above */
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		c->send_credit_update = true;
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN: {
		uint32_t f = le32toh(h.flags) & SHUTDOWN_BOTH, fresh = f & ~c->peer_shutdown;

		if (c->state != CS_ESTABLISHED) {
			proto_error(v, c, "SHUTDOWN before the connection was open");
			break;
		}
		c->peer_shutdown |= f;
		if (fresh & VIRTIO_VSOCK_SHUTDOWN_RCV)
			c->slen = 0;
		if (c->peer_shutdown == SHUTDOWN_BOTH) {
			conn_reset(v, c, true);
			break;
		}
		if (fresh & VIRTIO_VSOCK_SHUTDOWN_SEND) {
			const struct vsock_listener_ops *ops = c->ops;
			void *ctx = c->ctx;

			pthread_mutex_unlock(&v->lock);
			ops->recv(ctx, NULL, 0);
			pthread_mutex_lock(&v->lock);
		}
		break;
	}
	}
out:
	pthread_mutex_unlock(&v->lock);
	return 0;
}

static int tx_notify(struct virtio_vsock *v)
{
	struct vq_chain *ch = &v->chain;
	unsigned pushed = 0;
	int r;

	while ((r = virtio_pop(&v->vdev, 1, ch)) > 0) {
		uint16_t head = ch->head;

		if (tx_packet(v, ch) < 0)
			return -EINVAL;
		run_callbacks(v);
		if (virtio_push(&v->vdev, 1, head, 0) < 0)
			return -EINVAL;
		pushed++;
	}
	if (pushed)
		virtio_queue_interrupt(&v->vdev, 1);
	if (r < 0)
		return r;
	return rx_deliver(v);
}

/* Worker: hold every event buffer (we never send an event). */
static int event_notify(struct virtio_vsock *v)
{
	struct vq_chain *ch = &v->chain;
	int r;

	while ((r = virtio_pop(&v->vdev, 2, ch)) > 0) {
		if (ch->nr_out || ch->in_len < sizeof(struct virtio_vsock_event)) {
			virtio_dev_fail(&v->vdev, "event buffer %u: %s", ch->head,
					ch->nr_out ? "device-readable" : "too short");
			return -EINVAL;
		}
		if (v->event_held == VSOCK_QUEUE_SIZE) {
			virtio_dev_fail(&v->vdev, "event: more buffers posted than the queue holds");
			return -EINVAL;
		}
		v->event_held++;
	}
	return r;
}

/* ---- transport ops ---- */

static int vsock_queue_notify(struct virtio_dev *vd, unsigned q)
{
	struct virtio_vsock *v = vd->priv;

	switch (q) {
	case 0: return rx_notify(v);
	case 1: return tx_notify(v);
	default: return event_notify(v);
	}
}

/* Worker: tear down every closing connection whose deadline passed; arm the next. */
static int vsock_timer(struct virtio_dev *vd)
{
	struct virtio_vsock *v = vd->priv;
	uint64_t now = now_ns(), next = 0;

	pthread_mutex_lock(&v->lock);
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = v->conns[i];

		if (!c || !c->host_closing || c->state == CS_CLOSED)
			continue;
		if (c->close_deadline <= now) {
			log_debug("virtio-vsock: connection %u->%u: close timed out, reset", c->guest_port,
				  c->host_port);
			conn_reset(v, c, true);
		} else if (!next || c->close_deadline < next) {
			next = c->close_deadline;
		}
	}
	if (next)
		virtio_dev_timer_at(vd, next);
	pthread_mutex_unlock(&v->lock);
	return rx_deliver(v);
}

static void vsock_config_read(struct virtio_dev *vd, uint32_t off, uint8_t *data, unsigned len)
{
	struct virtio_vsock *v = vd->priv;
	struct virtio_vsock_config cfg = { .guest_cid = htole64(v->guest_cid) };

	memcpy(data, (const uint8_t *)&cfg + off, len); /* range checked by the transport */
}

/* Drop every connection (closed() for each) and every held buffer. Worker stopped. */
static void drop_all(struct virtio_vsock *v)
{
	pthread_mutex_lock(&v->lock);
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = v->conns[i];

		if (!c)
			continue;
		c->send_rst = false;
		c->cb_connected = c->cb_writable = false;
		if (c->state != CS_CLOSED && c->ops)
			c->cb_closed = true;
		c->state = CS_CLOSED;
		conn_maybe_free(v, c);
	}
	v->norphans = 0;
	v->rx_count = 0;
	v->event_held = 0;
	pthread_mutex_unlock(&v->lock);
	run_callbacks(v);
}

static void vsock_reset(struct virtio_dev *vd)
{
	drop_all(vd->priv);
}

static const struct virtio_dev_ops vsock_ops = {
	.name = "virtio-vsock",
	.type = VIRTIO_ID_VSOCK,
	.pci_class = 0xFF0000,
	.nqueues = 3,
	.queue_size = VSOCK_QUEUE_SIZE,
	.features = 0, /* no SEQPACKET */
	.config_size = sizeof(struct virtio_vsock_config),
	.config_read = vsock_config_read,
	.queue_notify = vsock_queue_notify,
	.reset = vsock_reset,
	.timer = vsock_timer,
};

/* ---- host API ---- */

int virtio_vsock_init(struct virtio_vsock *v, const struct virtio_platform *plat, const struct gm_view *view,
		      uint64_t guest_cid)
{
	int err;

	/* CIDs 0-2 are reserved, and U32_MAX is VMADDR_CID_ANY. */
	if (guest_cid <= VSOCK_HOST_CID || guest_cid >= UINT32_MAX)
		return -EINVAL;
	memset(v, 0, sizeof(*v));
	v->guest_cid = guest_cid;
	v->next_port = VSOCK_EPHEMERAL_BASE;
	pthread_mutex_init(&v->lock, NULL);
	err = virtio_dev_init(&v->vdev, &vsock_ops, plat, view, v);
	if (err)
		pthread_mutex_destroy(&v->lock);
	return err;
}

void virtio_vsock_destroy(struct virtio_vsock *v)
{
	/* Bridge thread first (no new calls), then the worker; closed() for
	 * bridge connections still needs the bridge's clients, freed last. */
	vsock_uds_stop(v->uds);
	virtio_dev_destroy(&v->vdev);
	drop_all(v);
	vsock_uds_free(v->uds);
	v->uds = NULL;
	pthread_mutex_destroy(&v->lock);
}

int vsock_listen(struct virtio_vsock *v, uint32_t port, const struct vsock_listener_ops *ops, void *ctx)
{
	int err = 0;

	if (!ops || !ops->accept || !ops->recv || !ops->closed)
		return -EINVAL;
	pthread_mutex_lock(&v->lock);
	for (unsigned i = 0; i < v->nlisteners; i++)
		if (v->listeners[i].port == port)
			err = -EADDRINUSE;
	if (!err && v->nlisteners == VSOCK_MAX_LISTENERS)
		err = -ENOSPC;
	if (!err)
		v->listeners[v->nlisteners++] = (struct vsock_listener){ .port = port, .ops = ops, .ctx = ctx };
	pthread_mutex_unlock(&v->lock);
	return err;
}

int vsock_connect(struct virtio_vsock *v, uint32_t guest_port, const struct vsock_listener_ops *ops,
		  void *conn_ctx, struct vsock_conn **out)
{
	struct vsock_conn *c = NULL;

	if (!ops || !ops->recv || !ops->closed)
		return -EINVAL;
	pthread_mutex_lock(&v->lock);
	for (unsigned tries = 0; tries < 4 * VSOCK_MAX_CONNS && !c; tries++) {
		uint32_t p = v->next_port++;
		bool used = false;

		if (v->next_port < VSOCK_EPHEMERAL_BASE)
			v->next_port = VSOCK_EPHEMERAL_BASE;
		for (unsigned i = 0; i < v->nlisteners; i++)
			used |= v->listeners[i].port == p;
		if (used || conn_find(v, p, guest_port))
			continue;
		c = conn_new(v, p, guest_port);
		if (!c)
			break;
	}
	if (c) {
		c->state = CS_CONNECTING;
		c->send_request = true;
		c->ops = ops;
		c->ctx = conn_ctx;
		*out = c;
	}
	pthread_mutex_unlock(&v->lock);
	if (!c)
		return -EAGAIN;
	virtio_dev_kick(&v->vdev, 0);
	return 0;
}

int vsock_send(struct vsock_conn *c, const void *buf, size_t len)
{
	struct virtio_vsock *v = c->v;
	int err = 0;

	if (len > VSOCK_SENDBUF)
		return -EMSGSIZE;
	pthread_mutex_lock(&v->lock);
	if (c->state == CS_CLOSED)
		err = -ENOTCONN;
	else if (c->host_closing || (c->peer_shutdown & VIRTIO_VSOCK_SHUTDOWN_RCV))
		err = -EPIPE;
	else if (len > VSOCK_SENDBUF - c->slen) {
		c->want_writable = true;
		err = -EAGAIN;
	} else if (!c->sbuf && !(c->sbuf = malloc(VSOCK_SENDBUF)))
		err = -ENOMEM;
	if (!err && len) {
		uint32_t tail = (c->shead + c->slen) % VSOCK_SENDBUF, first = VSOCK_SENDBUF - tail;

		if (first > len)
			first = (uint32_t)len;
		memcpy(c->sbuf + tail, buf, first);
		memcpy(c->sbuf, (const uint8_t *)buf + first, len - first);
		c->slen += (uint32_t)len;
	}
	pthread_mutex_unlock(&v->lock);
	if (!err && len)
		virtio_dev_kick(&v->vdev, 0);
	return err;
}

void vsock_consumed(struct vsock_conn *c, size_t n)
{
	struct virtio_vsock *v = c->v;
	bool kick;

	pthread_mutex_lock(&v->lock);
	if (n > c->rx_cnt - c->fwd_cnt)
		n = c->rx_cnt - c->fwd_cnt;
	if (c->state != CS_CLOSED)
		credit_consumed(c, (uint32_t)n);
	kick = c->send_credit_update;
	pthread_mutex_unlock(&v->lock);
	if (kick)
		virtio_dev_kick(&v->vdev, 0);
}

void vsock_close(struct vsock_conn *c)
{
	struct virtio_vsock *v = c->v;

	pthread_mutex_lock(&v->lock);
	if (!c->host_closing && c->state != CS_CLOSED) {
		uint64_t next = 0;

		c->host_closing = true;
		c->close_deadline = now_ns() + VSOCK_CLOSE_TIMEOUT_MS * 1000000ULL;
		/* The timer holds the earliest deadline of all closing connections. */
		for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
			struct vsock_conn *x = v->conns[i];

			if (x && x->host_closing && x->state != CS_CLOSED && (!next || x->close_deadline < next))
				next = x->close_deadline;
		}
		virtio_dev_timer_at(&v->vdev, next);
	}
	pthread_mutex_unlock(&v->lock);
	virtio_dev_kick(&v->vdev, 0);
}

uint32_t vsock_conn_host_port(const struct vsock_conn *c)
{
	return c->host_port;
}

uint32_t vsock_conn_guest_port(const struct vsock_conn *c)
{
	return c->guest_port;
}
