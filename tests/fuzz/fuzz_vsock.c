/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: virtio-vsock driven by a hostile guest, statefully.
 *
 * Each input is a sequence of operations on one device (fresh per input) on
 * the native harness, through tests/fuzz/vsockdrv (aperture view, RAM
 * outside it PROT_NONE, the device run synchronously: no threads). The
 * sequence goes on after refusals, RSTs, a NEEDS_RESET and device resets:
 * bugs live in what a device does after an error, not at the first one.
 *
 * Listeners: port 1024 accepts even guest ports (credit given back as soon
 * as recv() returns), port 1025 accepts every port (manual credit). Either
 * calls vsock_close() from inside recv() when a chunk starts with 0xCC, as
 * the init channel does on a malformed message.
 *
 * Input: records, each an op byte (taken modulo 11) and its arguments:
 *	0 TX_RAW   [flags][u16 n][n bytes]: a raw tx chain. flags bit 0 sets
 *	           the CIDs right, bit 1 folds the ports onto guest ports 0..3
 *	           and host ports 1024/1025, bits 2-4 split the header over
 *	           that many extra segments, bit 5 makes the last segment
 *	           writable, bit 6 keeps the len field as given (else it is
 *	           the payload length), bit 7 points the last segment at a
 *	           wild address [sel] (outside the aperture, across its end...)
 *	1 TX_PKT   [gport][hport][op][flags][u16 n][n bytes]: a packet with a
 *	           proper header built from table entries (see below)
 *	2 TX_FILL  [gport][hport][k][reps]: reps RW packets of (k+1)*256
 *	           bytes: "send more"
 *	3 POST_RX  [count][size]: count rx buffers of size*16 (+16) bytes
 *	4 NOTIFY   [q]
 *	5 SEND     [conn][u16 n]: vsock_send() on an open connection
 *	6 CLOSE    [conn]: vsock_close()
 *	7 CONNECT  [gport]: vsock_connect()
 *	8 CONSUMED [conn][u16 n]: vsock_consumed()
 *	9 EVENT    [flags]: post an event buffer
 *	10 RESET   device reset (status 0, renegotiate, fresh rings)
 * Checks (abort = finding):
 *	- no callback for a connection after closed(), closed() once, and
 *	  after a device reset or destroy every connection had closed();
 *	- a connection the monitor closed (vsock_close()) gets no more payload
 *	  through recv(): a host-closing connection accepts no input;
 *	- every rx packet: a buffer the driver posted, the used length fits it
 *	  and equals header + len, host -> guest CIDs, known op (vsockdrv);
 *	- the device touches nothing outside its aperture (PROT_NONE);
 *	- eventfds and threads: as many after the input as before.
 */
#include <endian.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "devices/virtio-vsock.h"
#include "tests/fuzz/vsockdrv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXF 64
#define CLOSE_BYTE 0xCC

struct fconn {
	struct vsock_conn *c;
	bool open;      /* closed() not yet called */
	bool closing;   /* we called vsock_close() */
	bool used;
};

static struct vdrv d;
static struct virtio_vsock v;
static struct fconn conns[MAXF];
static uint8_t sink;
static uint32_t last_host_port = VSOCK_EPHEMERAL_BASE;

static struct fconn *fc_new(struct vsock_conn *c)
{
	for (unsigned i = 0; i < MAXF; i++)
		if (!conns[i].open) {
			conns[i] = (struct fconn){ .c = c, .open = true, .used = true };
			return &conns[i];
		}
	return NULL;
}

/* The n-th open connection (modulo how many there are), or NULL. */
static struct fconn *fc_pick(uint8_t n)
{
	unsigned open = 0, k;

	for (unsigned i = 0; i < MAXF; i++)
		open += conns[i].open;
	if (!open)
		return NULL;
	k = n % open;
	for (unsigned i = 0; i < MAXF; i++)
		if (conns[i].open && k-- == 0)
			return &conns[i];
	return NULL;
}

static void *f_accept(void *ctx, struct vsock_conn *c, uint32_t guest_port)
{
	uintptr_t port = (uintptr_t)ctx;

	for (unsigned i = 0; i < MAXF; i++)
		VDRV_CHECK(!conns[i].open || conns[i].c != c, "accept() of a connection already open");
	if (port == 1024 && (guest_port & 1))
		return NULL;
	return fc_new(c);
}

static void f_recv(void *cctx, const uint8_t *buf, size_t len)
{
	struct fconn *f = cctx;

	VDRV_CHECK(f->open, "recv() after closed()");
	VDRV_CHECK(!(f->closing && len), "recv() of %zu bytes on a connection the monitor closed", len);
	VDRV_CHECK(len <= VSOCK_MAX_PAYLOAD, "recv() of %zu bytes", len);
	if (!len)
		return;
	sink ^= buf[0] ^ buf[len - 1];
	if (buf[0] == CLOSE_BYTE) {
		/* What the init channel does with a malformed message. */
		f->closing = true;
		vsock_close(f->c);
	}
}

static void f_closed(void *cctx)
{
	struct fconn *f = cctx;

	VDRV_CHECK(f->open, "closed() twice");
	f->open = false;
}

static void f_event(void *cctx)
{
	struct fconn *f = cctx;

	VDRV_CHECK(f->open, "connected()/writable() after closed()");
}

static const struct vsock_listener_ops ops_auto = {
	.accept = f_accept, .recv = f_recv, .closed = f_closed, .connected = f_event, .writable = f_event,
};
static const struct vsock_listener_ops ops_manual = {
	.accept = f_accept, .recv = f_recv, .closed = f_closed, .connected = f_event, .writable = f_event,
	.manual_credit = true,
};

static void check_all_closed(const char *when)
{
	for (unsigned i = 0; i < MAXF; i++)
		VDRV_CHECK(!conns[i].open, "connection %u still open after %s", i, when);
}

/* Read back (and check) everything the device put on rx. */
static void drain_rx(void)
{
	struct virtio_vsock_hdr h;

	while (vdrv_rx_next(&d, &h, NULL, 0))
		if (le16toh(h.op) == VIRTIO_VSOCK_OP_REQUEST)
			last_host_port = le32toh(h.src_port);
}

static const uint32_t gports[8] = { 0, 1, 2, 3, 1023, 1024, 50000, 0xFFFFFFFFu };
static const uint32_t bufallocs[4] = { VSOCK_BUF_ALLOC, 0, 4096, 0xFFFFFFFFu };
static const uint32_t fwdcnts[4] = { 0, 4096, 0x80000000u, 0xFFFFFFFFu };
static const uint64_t wilds[8] = {
	0, VDRV_AP_BASE - 1, VDRV_AP_BASE + VDRV_AP_SIZE - 8, VDRV_AP_BASE + VDRV_AP_SIZE,
	VDRV_MEM - 1, VDRV_MEM, 0xFFFFFFFFFFFFF000ULL, VDRV_AP_BASE + 0x10000,
};

static uint32_t hport(uint8_t sel)
{
	switch (sel % 6) {
	case 0: return 1024;
	case 1: return 1025;
	case 2: return 1026; /* nobody listens */
	case 3: return last_host_port;
	case 4: return 0;
	default: return 0xFFFFFFFFu;
	}
}

static void tx_raw(uint8_t flags, uint8_t wsel, const uint8_t *p, size_t n)
{
	static uint8_t pkt[VDRV_TXMAX];
	struct virtio_vsock_hdr h;

	if (n > sizeof(pkt))
		n = sizeof(pkt);
	memcpy(pkt, p, n);
	if (n >= sizeof(h)) {
		memcpy(&h, pkt, sizeof(h));
		if (flags & 1) {
			h.src_cid = htole64(VDRV_CID);
			h.dst_cid = htole64(VSOCK_HOST_CID);
		}
		if (flags & 2) {
			h.src_port = htole32(le32toh(h.src_port) & 3);
			h.dst_port = htole32(1024 + (le32toh(h.dst_port) & 1));
		}
		if (!(flags & 0x40))
			h.len = htole32((uint32_t)(n - sizeof(h)));
		memcpy(pkt, &h, sizeof(h));
	}
	vdrv_tx(&d, pkt, n, VDRV_TX_SPLIT(flags >> 2) | (flags & 0x20 ? VDRV_TX_WRITABLE : 0) |
			    (flags & 0x80 ? VDRV_TX_WILD : 0), wilds[wsel & 7]);
}

static void tx_pkt(uint8_t gp, uint8_t hp, uint8_t op, uint8_t flags, const uint8_t *p, uint32_t n)
{
	static uint8_t pkt[VDRV_TXMAX];
	struct virtio_vsock_hdr h = {
		.src_cid = htole64(VDRV_CID), .dst_cid = htole64(VSOCK_HOST_CID),
		.src_port = htole32(gports[gp & 7]), .dst_port = htole32(hport(hp)),
		.len = htole32(n + ((flags >> 7) & 1)), /* bit 7: a lying len */
		.type = htole16(flags & 0x40 ? 2 : VIRTIO_VSOCK_TYPE_STREAM), .op = htole16(op % 8),
		.flags = htole32((flags >> 4) & 3), .buf_alloc = htole32(bufallocs[flags & 3]),
		.fwd_cnt = htole32(fwdcnts[(flags >> 2) & 3]),
	};

	if (n > sizeof(pkt) - sizeof(h))
		n = sizeof(pkt) - sizeof(h);
	memcpy(pkt, &h, sizeof(h));
	memcpy(pkt + sizeof(h), p, n);
	vdrv_tx(&d, pkt, sizeof(h) + n, 0, 0);
}

static uint16_t u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	static int efds, threads;
	static uint8_t junk[65536], fill[VSOCK_MAX_PAYLOAD];
	const uint8_t *p = data, *end = data + size;
	unsigned steps = 0;

	if (!ready) {
		vdrv_mem_init(&d);
		efds = vdrv_count_eventfds();
		threads = vdrv_count_threads();
		ready = true;
	}
	memset(conns, 0, sizeof(conns));
	last_host_port = VSOCK_EPHEMERAL_BASE;
	vdrv_dev_init(&d, &v, true);
	if (vsock_listen(&v, 1024, &ops_auto, (void *)(uintptr_t)1024) ||
	    vsock_listen(&v, 1025, &ops_manual, (void *)(uintptr_t)1025))
		abort();

	while (p < end && steps++ < 256) {
		uint8_t op = *p++;
		size_t left = (size_t)(end - p);

		switch (op % 11) {
		case 0: { /* TX_RAW */
			uint8_t flags, wsel = 0;
			size_t n;

			if (left < 3)
				goto out;
			flags = p[0];
			n = u16(p + 1);
			p += 3;
			left -= 3;
			if (flags & 0x80 && left) {
				wsel = *p++;
				left--;
			}
			if (n > left)
				n = left;
			tx_raw(flags, wsel, p, n);
			p += n;
			break;
		}
		case 1: { /* TX_PKT */
			size_t n;

			if (left < 6)
				goto out;
			n = u16(p + 4);
			if (n > left - 6)
				n = left - 6;
			tx_pkt(p[0], p[1], p[2], p[3], p + 6, (uint32_t)n);
			p += 6 + n;
			break;
		}
		case 2: { /* TX_FILL: send more, with valid RW headers */
			uint32_t n;
			unsigned reps;

			if (left < 4)
				goto out;
			n = ((uint32_t)p[2] + 1) * 256;
			reps = 1 + p[3] % 4;
			memset(fill, p[2] == CLOSE_BYTE ? 0xCD : p[2], n);
			for (unsigned i = 0; i < reps; i++)
				tx_pkt(p[0], p[1], VIRTIO_VSOCK_OP_RW, 0, fill, n);
			p += 4;
			break;
		}
		case 3: /* POST_RX */
			if (left < 2)
				goto out;
			vdrv_post_rx(&d, p[0] % 8, 16u + p[1] * 16u);
			p += 2;
			break;
		case 4: /* NOTIFY */
			if (left < 1)
				goto out;
			vdrv_notify(&d, *p++ % 3);
			break;
		case 5: { /* SEND */
			struct fconn *f;

			if (left < 3)
				goto out;
			f = fc_pick(p[0]);
			if (f)
				(void)vsock_send(f->c, junk, u16(p + 1));
			p += 3;
			vdrv_notify(&d, 0);
			break;
		}
		case 6: { /* CLOSE */
			struct fconn *f;

			if (left < 1)
				goto out;
			f = fc_pick(*p++);
			if (f) {
				f->closing = true;
				vsock_close(f->c);
			}
			vdrv_notify(&d, 0);
			break;
		}
		case 7: { /* CONNECT */
			struct vsock_conn *c;
			struct fconn *f;

			if (left < 1)
				goto out;
			f = fc_new(NULL);
			if (f && vsock_connect(&v, gports[*p & 7], &ops_auto, f, &c) == 0)
				f->c = c;
			else if (f)
				f->open = false;
			p++;
			vdrv_notify(&d, 0);
			break;
		}
		case 8: { /* CONSUMED */
			struct fconn *f;

			if (left < 3)
				goto out;
			f = fc_pick(p[0]);
			if (f)
				vsock_consumed(f->c, u16(p + 1));
			p += 3;
			vdrv_notify(&d, 0);
			break;
		}
		case 9: /* EVENT */
			if (left < 1)
				goto out;
			vdrv_post_event(&d, *p & 1, (*p >> 1) & 31);
			p++;
			break;
		case 10: /* RESET */
			VDRV_CHECK(vdrv_start(&d), "FEATURES_OK refused after a reset");
			check_all_closed("a device reset");
			break;
		}
		drain_rx();
	}
out:
	vdrv_dev_destroy(&d);
	check_all_closed("the device was destroyed");
	VDRV_CHECK(vdrv_count_eventfds() == efds, "eventfds: %d, %d before", vdrv_count_eventfds(), efds);
	int settled = vdrv_threads_settle(threads);
	VDRV_CHECK(settled == threads, "threads: %d, %d before", settled, threads);
	return 0;
}
