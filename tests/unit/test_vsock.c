/* SPDX-License-Identifier: MIT */
/*
 * virtio-vsock driven by the native harness: the test is the guest driver.
 * It builds packets in fake guest memory on the tx queue, posts rx buffers
 * and reads back what the device wrote there; a test listener on host port
 * 1024 records the callbacks.
 */
#include <check.h>
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "devices/virtio-vsock.h"
#include "devices/vsock-uds.h"
#include "tests/unit/harness.h"
#include "tests/unit/suites.h"

#define MEM (8u << 20)
#define CID 3
#define PORT 1024
#define GPORT 5000
#define QS 128
#define RXBUF 0x100000ULL /* rx buffer of descriptor d at RXBUF + d * RXSZ */
#define RXSZ 0x1000u
#define TXHDR 0x300000ULL
#define TXDATA 0x301000ULL
#define VERSION_1 (1ULL << VIRTIO_F_VERSION_1)

static struct harness h;
static struct virtio_vsock v;
static struct fake_ring rxr, txr, evr;
static uint16_t rx_desc, tx_desc;

/* The test listener. */
static struct tl {
	pthread_mutex_t m;
	unsigned accepts, closes, eofs, connects, writables;
	uint32_t guest_port;
	struct vsock_conn *c;
	bool refuse;
	size_t n;
	uint8_t data[1 << 20];
} tl;

static void *tl_accept(void *ctx, struct vsock_conn *c, uint32_t guest_port)
{
	(void)ctx;
	pthread_mutex_lock(&tl.m);
	tl.accepts++;
	tl.guest_port = guest_port;
	tl.c = tl.refuse ? NULL : c;
	pthread_mutex_unlock(&tl.m);
	return tl.refuse ? NULL : &tl;
}

static void tl_recv(void *cctx, const uint8_t *buf, size_t len)
{
	ck_assert_ptr_eq(cctx, &tl);
	pthread_mutex_lock(&tl.m);
	if (!len)
		tl.eofs++;
	else if (len <= sizeof(tl.data) - tl.n) {
		memcpy(tl.data + tl.n, buf, len);
		tl.n += len;
	}
	pthread_mutex_unlock(&tl.m);
}

static void tl_closed(void *cctx)
{
	ck_assert_ptr_eq(cctx, &tl);
	pthread_mutex_lock(&tl.m);
	tl.closes++;
	tl.c = NULL;
	pthread_mutex_unlock(&tl.m);
}

static void tl_connected(void *cctx)
{
	(void)cctx;
	pthread_mutex_lock(&tl.m);
	tl.connects++;
	pthread_mutex_unlock(&tl.m);
}

static void tl_writable(void *cctx)
{
	(void)cctx;
	pthread_mutex_lock(&tl.m);
	tl.writables++;
	pthread_mutex_unlock(&tl.m);
}

static const struct vsock_listener_ops tl_ops = {
	.accept = tl_accept, .recv = tl_recv, .closed = tl_closed, .connected = tl_connected, .writable = tl_writable,
};

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Wait up to 2 s for *counter >= want. */
static bool wait_count(unsigned *counter, unsigned want)
{
	for (int t = 0; t < 2000; t++) {
		unsigned x;

		pthread_mutex_lock(&tl.m);
		x = *counter;
		pthread_mutex_unlock(&tl.m);
		if (x >= want)
			return true;
		sleep_ms(1);
	}
	return false;
}

static void up(void)
{
	memset(&tl, 0, sizeof(tl));
	pthread_mutex_init(&tl.m, NULL);
	rx_desc = tx_desc = 0;
	h_init(&h, MEM);
	ck_assert_int_eq(virtio_vsock_init(&v, &h.plat, &h.fm.all, CID), 0);
	h_plug(&h, &v.vdev);
	ck_assert(h_negotiate(&h, VERSION_1));
	fake_ring_layout(&rxr, &h.fm, QS, 0x1000);
	fake_ring_layout(&txr, &h.fm, QS, 0x4000);
	fake_ring_layout(&evr, &h.fm, QS, 0x8000);
	h_queue_setup(&h, 0, &rxr, 0);
	h_queue_setup(&h, 1, &txr, 1);
	h_queue_setup(&h, 2, &evr, 2);
	h_driver_ok(&h);
	ck_assert_int_eq(vsock_listen(&v, PORT, &tl_ops, NULL), 0);
}

static void down(void)
{
	virtio_vsock_destroy(&v);
	h_destroy(&h);
}

/* Post n rx buffers of RXSZ bytes (one segment each) and kick. */
static void post_rx(unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint16_t d = rx_desc++ % QS;

		fake_avail_push(&rxr, fake_chain(&rxr, d, (struct fake_seg[]){ { RXBUF + d * RXSZ, RXSZ, true } }, 1));
	}
	h_kick(&h, 0);
}

/* The next packet the device put in an rx buffer: false if none within ms. */
static bool rx_next(struct virtio_vsock_hdr *hd, uint8_t *payload, uint32_t *plen, unsigned ms)
{
	uint32_t id, len;

	if (!h_wait_used(&rxr, rxr.last_used, ms) || !fake_used_next(&rxr, &id, &len))
		return false;
	ck_assert_uint_lt(id, QS);
	ck_assert_uint_ge(len, sizeof(*hd));
	ck_assert_uint_le(len, RXSZ);
	fake_read(&h.fm, RXBUF + id * RXSZ, hd, sizeof(*hd));
	ck_assert_uint_eq(le32toh(hd->len), len - sizeof(*hd));
	if (payload)
		fake_read(&h.fm, RXBUF + id * RXSZ + sizeof(*hd), payload, len - sizeof(*hd));
	if (plen)
		*plen = len - (uint32_t)sizeof(*hd);
	return true;
}

/* Expect the next rx packet to be `op` on our test connection (ports given). */
static struct virtio_vsock_hdr rx_expect(uint16_t op, uint32_t host_port, uint32_t guest_port)
{
	struct virtio_vsock_hdr hd;

	ck_assert_msg(rx_next(&hd, NULL, NULL, 2000), "no rx packet (wanted op %u)", op);
	ck_assert_uint_eq(le16toh(hd.op), op);
	ck_assert_uint_eq(le64toh(hd.src_cid), VSOCK_HOST_CID);
	ck_assert_uint_eq(le64toh(hd.dst_cid), CID);
	ck_assert_uint_eq(le32toh(hd.src_port), host_port);
	ck_assert_uint_eq(le32toh(hd.dst_port), guest_port);
	return hd;
}

static struct virtio_vsock_hdr mkhdr(uint16_t op, uint32_t guest_port, uint32_t host_port)
{
	return (struct virtio_vsock_hdr){
		.src_cid = htole64(CID), .dst_cid = htole64(VSOCK_HOST_CID),
		.src_port = htole32(guest_port), .dst_port = htole32(host_port),
		.type = htole16(VIRTIO_VSOCK_TYPE_STREAM), .op = htole16(op),
		.buf_alloc = htole32(256 * 1024),
	};
}

/*
 * Send a tx packet: the header split into segments of the given sizes
 * (split[0] == 0: one segment), then the payload as one more segment.
 * Waits for the device to complete it.
 */
static void tx_split(const struct virtio_vsock_hdr *hd, const unsigned *split, const void *payload, uint32_t plen)
{
	struct fake_seg s[8];
	unsigned n = 0, off = 0;
	uint16_t old = fake_used_idx(&txr);

	fake_write(&h.fm, TXHDR, hd, sizeof(*hd));
	for (unsigned i = 0; split && split[i]; i++) {
		s[n++] = (struct fake_seg){ TXHDR + off, split[i], false };
		off += split[i];
	}
	if (off < sizeof(*hd))
		s[n++] = (struct fake_seg){ TXHDR + off, (uint32_t)sizeof(*hd) - off, false };
	if (plen) {
		fake_write(&h.fm, TXDATA, payload, plen);
		s[n++] = (struct fake_seg){ TXDATA, plen, false };
	}
	fake_avail_push(&txr, fake_chain(&txr, tx_desc, s, n));
	tx_desc = (uint16_t)((tx_desc + n) % QS);
	h_kick(&h, 1);
	ck_assert(h_wait_used(&txr, old, 2000));
}

static void tx(const struct virtio_vsock_hdr *hd, const void *payload, uint32_t plen)
{
	tx_split(hd, NULL, payload, plen);
}

/* Guest connects GPORT -> PORT with buf_alloc; returns after the RESPONSE. */
static void guest_connects(uint32_t buf_alloc)
{
	struct virtio_vsock_hdr hd = mkhdr(VIRTIO_VSOCK_OP_REQUEST, GPORT, PORT), r;

	hd.buf_alloc = htole32(buf_alloc);
	tx(&hd, NULL, 0);
	r = rx_expect(VIRTIO_VSOCK_OP_RESPONSE, PORT, GPORT);
	ck_assert_uint_eq(le16toh(r.type), VIRTIO_VSOCK_TYPE_STREAM);
	ck_assert_uint_eq(le32toh(r.buf_alloc), VSOCK_BUF_ALLOC);
	ck_assert_uint_eq(le32toh(r.fwd_cnt), 0);
	ck_assert_uint_eq(tl.accepts, 1);
	ck_assert_uint_eq(tl.guest_port, GPORT);
	ck_assert_ptr_nonnull(tl.c);
}

static bool failed(void)
{
	return h_status(&h) & VIRTIO_CONFIG_S_NEEDS_RESET;
}

START_TEST(vsock_ids_and_config)
{
	up();
	ck_assert_uint_eq(h_cfg_read(&h, PCI_DEVICE_ID, 2), 0x1040 + VIRTIO_ID_VSOCK);
	ck_assert_uint_eq(h_common_read(&h, VIRTIO_PCI_COMMON_NUMQ, 2), 3);
	ck_assert_uint_eq(h_bar_read(&h, h.device_off, 4), CID);
	ck_assert_uint_eq(h_bar_read(&h, h.device_off + 4, 4), 0);
	ck_assert_int_eq(vsock_listen(&v, PORT, &tl_ops, NULL), -EADDRINUSE);
	down();
}
END_TEST

START_TEST(vsock_request_response_and_rw)
{
	static const char msg[] = "hello, host";
	struct virtio_vsock_hdr hd;

	up();
	post_rx(8);
	guest_connects(256 * 1024);
	hd = mkhdr(VIRTIO_VSOCK_OP_RW, GPORT, PORT);
	hd.len = htole32(sizeof(msg));
	tx(&hd, msg, sizeof(msg));
	ck_assert_uint_eq(tl.n, sizeof(msg));
	ck_assert_mem_eq(tl.data, msg, sizeof(msg));
	/* The header split over three descriptors is gathered. */
	tx_split(&hd, (const unsigned[]){ 5, 17, 0 }, msg, sizeof(msg));
	ck_assert_uint_eq(tl.n, 2 * sizeof(msg));
	ck_assert_mem_eq(tl.data + sizeof(msg), msg, sizeof(msg));
	/* CREDIT_REQUEST: CREDIT_UPDATE with what we consumed. */
	hd = mkhdr(VIRTIO_VSOCK_OP_CREDIT_REQUEST, GPORT, PORT);
	tx(&hd, NULL, 0);
	hd = rx_expect(VIRTIO_VSOCK_OP_CREDIT_UPDATE, PORT, GPORT);
	ck_assert_uint_eq(le32toh(hd.fwd_cnt), 2 * sizeof(msg));
	ck_assert_uint_eq(le32toh(hd.buf_alloc), VSOCK_BUF_ALLOC);
	ck_assert(!failed());
	down();
}
END_TEST

START_TEST(vsock_send_to_guest)
{
	struct virtio_vsock_hdr hd;
	uint8_t buf[RXSZ];
	uint32_t n;

	up();
	post_rx(8);
	guest_connects(256 * 1024);
	ck_assert_int_eq(vsock_send(tl.c, "ping", 4), 0);
	ck_assert(rx_next(&hd, buf, &n, 2000));
	ck_assert_uint_eq(le16toh(hd.op), VIRTIO_VSOCK_OP_RW);
	ck_assert_uint_eq(le32toh(hd.src_port), PORT);
	ck_assert_uint_eq(le32toh(hd.dst_port), GPORT);
	ck_assert_uint_eq(le16toh(hd.type), VIRTIO_VSOCK_TYPE_STREAM);
	ck_assert_uint_eq(le32toh(hd.buf_alloc), VSOCK_BUF_ALLOC);
	ck_assert_uint_eq(n, 4);
	ck_assert_mem_eq(buf, "ping", 4);
	ck_assert_int_eq(vsock_send(tl.c, buf, VSOCK_SENDBUF + 1), -EMSGSIZE);
	down();
}
END_TEST

/* An rx buffer whose header spans three descriptors gets the header scattered. */
START_TEST(vsock_rx_header_split)
{
	struct virtio_vsock_hdr hd;
	uint32_t id, len;
	uint8_t pl[4];

	up();
	fake_avail_push(&rxr, fake_chain(&rxr, 0, (struct fake_seg[]){
		{ RXBUF, 7, true }, { RXBUF + 0x100, 30, true }, { RXBUF + 0x200, 100, true } }, 3));
	rx_desc = 3;
	h_kick(&h, 0);
	hd = mkhdr(VIRTIO_VSOCK_OP_REQUEST, GPORT, PORT);
	tx(&hd, NULL, 0);
	ck_assert(h_wait_used(&rxr, 0, 2000));
	ck_assert(fake_used_next(&rxr, &id, &len));
	ck_assert_uint_eq(id, 0);
	ck_assert_uint_eq(len, sizeof(hd));
	fake_read(&h.fm, RXBUF, &hd, 7);
	fake_read(&h.fm, RXBUF + 0x100, (uint8_t *)&hd + 7, 30);
	fake_read(&h.fm, RXBUF + 0x200, (uint8_t *)&hd + 37, sizeof(hd) - 37);
	ck_assert_uint_eq(le16toh(hd.op), VIRTIO_VSOCK_OP_RESPONSE);
	ck_assert_uint_eq(le64toh(hd.dst_cid), CID);
	ck_assert_uint_eq(le32toh(hd.dst_port), GPORT);
	ck_assert_uint_eq(le32toh(hd.buf_alloc), VSOCK_BUF_ALLOC);
	/* Payload continues in the last segment, after the header's tail. */
	fake_avail_push(&rxr, fake_chain(&rxr, 3, (struct fake_seg[]){
		{ RXBUF + 0x1000, 40, true }, { RXBUF + 0x1100, 64, true } }, 2));
	h_kick(&h, 0);
	ck_assert_int_eq(vsock_send(tl.c, "abcd", 4), 0);
	ck_assert(h_wait_used(&rxr, 1, 2000));
	ck_assert(fake_used_next(&rxr, &id, &len));
	ck_assert_uint_eq(id, 3);
	ck_assert_uint_eq(len, sizeof(hd) + 4);
	fake_read(&h.fm, RXBUF + 0x1100 + sizeof(hd) - 40, pl, 4);
	ck_assert_mem_eq(pl, "abcd", 4);
	down();
}
END_TEST

/*
 * The device never has more than the guest's buf_alloc - (tx_cnt - fwd_cnt)
 * in flight, asks for credit when stalled, and resumes on CREDIT_UPDATE.
 */
START_TEST(vsock_credit_flow)
{
	static uint8_t big[3000], got[3000];
	struct virtio_vsock_hdr hd;
	uint32_t total = 0, n, fwd = 0;
	unsigned requests = 0;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 1);
	up();
	post_rx(64);
	guest_connects(1000);
	ck_assert_int_eq(vsock_send(tl.c, big, sizeof(big)), 0);
	while (total < sizeof(big)) {
		uint8_t buf[RXSZ];

		if (!rx_next(&hd, buf, &n, 300)) {
			/* Stalled: everything the guest allowed has arrived. Consume it. */
			ck_assert_uint_eq(total - fwd, 1000);
			ck_assert_uint_eq(requests, 1);
			requests = 0;
			fwd = total;
			hd = mkhdr(VIRTIO_VSOCK_OP_CREDIT_UPDATE, GPORT, PORT);
			hd.buf_alloc = htole32(1000);
			hd.fwd_cnt = htole32(fwd);
			tx(&hd, NULL, 0);
			continue;
		}
		if (le16toh(hd.op) == VIRTIO_VSOCK_OP_CREDIT_REQUEST) {
			requests++;
			continue;
		}
		ck_assert_uint_eq(le16toh(hd.op), VIRTIO_VSOCK_OP_RW);
		ck_assert_uint_le(total + n - fwd, 1000);
		memcpy(got + total, buf, n);
		total += n;
	}
	ck_assert_mem_eq(got, big, sizeof(big));
	/* A guest lying with fwd_cnt ahead of what we sent gives no credit. */
	hd = mkhdr(VIRTIO_VSOCK_OP_CREDIT_UPDATE, GPORT, PORT);
	hd.buf_alloc = htole32(1000);
	hd.fwd_cnt = htole32(total + 500);
	tx(&hd, NULL, 0);
	ck_assert_int_eq(vsock_send(tl.c, big, 10), 0);
	ck_assert(rx_next(&hd, NULL, NULL, 2000));
	ck_assert_uint_eq(le16toh(hd.op), VIRTIO_VSOCK_OP_CREDIT_REQUEST);
	ck_assert(!rx_next(&hd, NULL, NULL, 100));
	ck_assert(!failed());
	down();
}
END_TEST

/* The guest sending more than the credit we advertised: that connection is reset. */
START_TEST(vsock_guest_overruns_credit)
{
	static uint8_t chunk[VSOCK_MAX_PAYLOAD];
	struct virtio_vsock_hdr hd;

	up();
	post_rx(1);
	guest_connects(256 * 1024);
	/* No rx buffers now: the device cannot tell the guest about consumed bytes. */
	hd = mkhdr(VIRTIO_VSOCK_OP_RW, GPORT, PORT);
	hd.len = htole32(sizeof(chunk));
	for (unsigned i = 0; i < VSOCK_BUF_ALLOC / sizeof(chunk); i++)
		tx(&hd, chunk, sizeof(chunk));
	ck_assert_uint_eq(tl.n, VSOCK_BUF_ALLOC);
	ck_assert_uint_eq(tl.closes, 0);
	hd.len = htole32(1);
	tx(&hd, chunk, 1);
	ck_assert(wait_count(&tl.closes, 1));
	ck_assert_uint_eq(tl.n, VSOCK_BUF_ALLOC);
	post_rx(2);
	rx_expect(VIRTIO_VSOCK_OP_RST, PORT, GPORT);
	ck_assert_uint_eq(v.proto_errors, 1);
	ck_assert(!failed());
	down();
}
END_TEST

START_TEST(vsock_no_listener_rst)
{
	struct virtio_vsock_hdr hd = mkhdr(VIRTIO_VSOCK_OP_REQUEST, GPORT, 999);

	up();
	post_rx(4);
	tx(&hd, NULL, 0);
	rx_expect(VIRTIO_VSOCK_OP_RST, 999, GPORT);
	ck_assert_uint_eq(tl.accepts, 0);
	/* A listener that refuses: RST, and no closed() for a refused connection. */
	tl.refuse = true;
	hd = mkhdr(VIRTIO_VSOCK_OP_REQUEST, GPORT, PORT);
	tx(&hd, NULL, 0);
	rx_expect(VIRTIO_VSOCK_OP_RST, PORT, GPORT);
	ck_assert_uint_eq(tl.accepts, 1);
	ck_assert_uint_eq(tl.closes, 0);
	down();
}
END_TEST

START_TEST(vsock_guest_shutdown)
{
	struct virtio_vsock_hdr hd;

	up();
	post_rx(8);
	guest_connects(256 * 1024);
	/* Half close first: EOF to the monitor, the connection stays. */
	hd = mkhdr(VIRTIO_VSOCK_OP_SHUTDOWN, GPORT, PORT);
	hd.flags = htole32(VIRTIO_VSOCK_SHUTDOWN_SEND);
	tx(&hd, NULL, 0);
	ck_assert_uint_eq(tl.eofs, 1);
	ck_assert_uint_eq(tl.closes, 0);
	ck_assert_int_eq(vsock_send(tl.c, "x", 1), 0);
	rx_expect(VIRTIO_VSOCK_OP_RW, PORT, GPORT);
	/* Data after SHUTDOWN(SEND) is a protocol error... but first close properly. */
	hd.flags = htole32(VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	tx(&hd, NULL, 0);
	ck_assert(wait_count(&tl.closes, 1));
	rx_expect(VIRTIO_VSOCK_OP_RST, PORT, GPORT);
	/* The connection is gone: a packet for it gets RST. */
	hd = mkhdr(VIRTIO_VSOCK_OP_CREDIT_UPDATE, GPORT, PORT);
	tx(&hd, NULL, 0);
	rx_expect(VIRTIO_VSOCK_OP_RST, PORT, GPORT);
	ck_assert_uint_eq(tl.closes, 1);
	down();
}
END_TEST

START_TEST(vsock_guest_rst)
{
	struct virtio_vsock_hdr hd;

	up();
	post_rx(8);
	guest_connects(256 * 1024);
	hd = mkhdr(VIRTIO_VSOCK_OP_RST, GPORT, PORT);
	tx(&hd, NULL, 0);
	ck_assert(wait_count(&tl.closes, 1));
	/* No answer to a RST, even for an unknown connection. */
	tx(&hd, NULL, 0);
	hd = mkhdr(VIRTIO_VSOCK_OP_REQUEST, GPORT, 7);
	tx(&hd, NULL, 0);
	rx_expect(VIRTIO_VSOCK_OP_RST, 7, GPORT);
	down();
}
END_TEST

START_TEST(vsock_host_close)
{
	struct virtio_vsock_hdr hd;
	uint8_t buf[RXSZ];
	uint32_t n;

	up();
	post_rx(8);
	guest_connects(256 * 1024);
	ck_assert_int_eq(vsock_send(tl.c, "bye", 3), 0);
	vsock_close(tl.c);
	ck_assert(rx_next(&hd, buf, &n, 2000));
	ck_assert_uint_eq(le16toh(hd.op), VIRTIO_VSOCK_OP_RW);
	ck_assert_uint_eq(n, 3);
	ck_assert_mem_eq(buf, "bye", 3);
	hd = rx_expect(VIRTIO_VSOCK_OP_SHUTDOWN, PORT, GPORT);
	ck_assert_uint_eq(le32toh(hd.flags), VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	rx_expect(VIRTIO_VSOCK_OP_RST, PORT, GPORT);
	ck_assert(wait_count(&tl.closes, 1));
	down();
}
END_TEST

/*
 * Issue 9, defect 1 (the vsock half): the monitor closes a connection (a
 * malformed init-channel message) while the guest keeps sending and posts
 * no rx buffer. No payload may reach recv() after vsock_close(), and the
 * connection must be torn down (closed()) within VSOCK_CLOSE_TIMEOUT_MS
 * although the SHUTDOWN/RST can never be delivered; the RST follows once
 * the guest posts a buffer.
 */
START_TEST(vsock_host_close_guest_withholds_rx)
{
	static const char junk[64] = "more and more data";
	struct virtio_vsock_hdr hd;
	bool closed = false;

	up();
	post_rx(1); /* room for the RESPONSE only */
	guest_connects(256 * 1024);
	vsock_close(tl.c);
	hd = mkhdr(VIRTIO_VSOCK_OP_RW, GPORT, PORT);
	hd.len = htole32(sizeof(junk));
	for (unsigned i = 0; i < 8; i++)
		tx(&hd, junk, sizeof(junk));
	pthread_mutex_lock(&tl.m);
	ck_assert_uint_eq(tl.n, 0);
	pthread_mutex_unlock(&tl.m);
	for (unsigned t = 0; t < VSOCK_CLOSE_TIMEOUT_MS + 3000 && !closed; t += 10) {
		sleep_ms(10);
		pthread_mutex_lock(&tl.m);
		closed = tl.closes == 1;
		pthread_mutex_unlock(&tl.m);
	}
	ck_assert_msg(closed, "closing connection not torn down without rx buffers");
	/* More data after the teardown is ignored too. */
	tx(&hd, junk, sizeof(junk));
	ck_assert_uint_eq(tl.n, 0);
	post_rx(4);
	rx_expect(VIRTIO_VSOCK_OP_RST, PORT, GPORT);
	ck_assert(!failed());
	down();
}
END_TEST

/* Host-initiated: REQUEST to the guest, RESPONSE back, connected(). */
START_TEST(vsock_host_connect)
{
	struct vsock_conn *c;
	struct virtio_vsock_hdr hd, r;

	up();
	post_rx(8);
	ck_assert_int_eq(vsock_connect(&v, 52, &tl_ops, &tl, &c), 0);
	r = rx_expect(VIRTIO_VSOCK_OP_REQUEST, vsock_conn_host_port(c), 52);
	ck_assert_uint_ge(le32toh(r.src_port), VSOCK_EPHEMERAL_BASE);
	hd = mkhdr(VIRTIO_VSOCK_OP_RESPONSE, 52, le32toh(r.src_port));
	tx(&hd, NULL, 0);
	ck_assert(wait_count(&tl.connects, 1));
	/* A second RESPONSE is a protocol error: reset. */
	tx(&hd, NULL, 0);
	ck_assert(wait_count(&tl.closes, 1));
	rx_expect(VIRTIO_VSOCK_OP_RST, le32toh(r.src_port), 52);
	/* A refused one: closed() without connected(). */
	ck_assert_int_eq(vsock_connect(&v, 53, &tl_ops, &tl, &c), 0);
	r = rx_expect(VIRTIO_VSOCK_OP_REQUEST, vsock_conn_host_port(c), 53);
	hd = mkhdr(VIRTIO_VSOCK_OP_RST, 53, le32toh(r.src_port));
	tx(&hd, NULL, 0);
	ck_assert(wait_count(&tl.closes, 2));
	ck_assert_uint_eq(tl.connects, 1);
	down();
}
END_TEST

/* Hostile headers: dropped or RST, never a failed device. */
START_TEST(vsock_hostile_headers)
{
	static uint8_t junk[VSOCK_MAX_PAYLOAD + 16];
	struct virtio_vsock_hdr hd;

	up();
	post_rx(32);
	/* Wrong source CID: dropped silently (the next answer is for the next packet). */
	hd = mkhdr(VIRTIO_VSOCK_OP_REQUEST, GPORT, PORT);
	hd.src_cid = htole64(CID + 1);
	tx(&hd, NULL, 0);
	hd = mkhdr(VIRTIO_VSOCK_OP_REQUEST, GPORT, PORT);
	hd.dst_cid = htole64(7);
	tx(&hd, NULL, 0);
	ck_assert_uint_eq(v.dropped, 2);
	ck_assert_uint_eq(tl.accepts, 0);
	/* len larger than the payload present. */
	hd = mkhdr(VIRTIO_VSOCK_OP_REQUEST, GPORT, PORT);
	hd.len = htole32(100);
	tx(&hd, junk, 10);
	rx_expect(VIRTIO_VSOCK_OP_RST, PORT, GPORT);
	/* len above the cap, with that much payload present. */
	hd = mkhdr(VIRTIO_VSOCK_OP_RW, GPORT, PORT);
	hd.len = htole32(sizeof(junk));
	tx(&hd, junk, sizeof(junk));
	rx_expect(VIRTIO_VSOCK_OP_RST, PORT, GPORT);
	/* len smaller than the payload present. */
	hd.len = htole32(1);
	tx(&hd, junk, 10);
	rx_expect(VIRTIO_VSOCK_OP_RST, PORT, GPORT);
	/* Unknown ops. */
	hd = mkhdr(0, GPORT, PORT);
	tx(&hd, NULL, 0);
	rx_expect(VIRTIO_VSOCK_OP_RST, PORT, GPORT);
	hd = mkhdr(99, GPORT, PORT);
	tx(&hd, NULL, 0);
	rx_expect(VIRTIO_VSOCK_OP_RST, PORT, GPORT);
	/* SEQPACKET and DGRAM (3) requests: RST of the same type. */
	for (uint16_t type = VIRTIO_VSOCK_TYPE_SEQPACKET; type <= 3; type++) {
		hd = mkhdr(VIRTIO_VSOCK_OP_REQUEST, GPORT, PORT);
		hd.type = htole16(type);
		tx(&hd, NULL, 0);
		hd = rx_expect(VIRTIO_VSOCK_OP_RST, PORT, GPORT);
		ck_assert_uint_eq(le16toh(hd.type), type);
	}
	/* Packets for no connection. */
	hd = mkhdr(VIRTIO_VSOCK_OP_RW, GPORT, PORT);
	hd.len = htole32(4);
	tx(&hd, "data", 4);
	rx_expect(VIRTIO_VSOCK_OP_RST, PORT, GPORT);
	hd = mkhdr(VIRTIO_VSOCK_OP_SHUTDOWN, GPORT + 1, PORT);
	tx(&hd, NULL, 0);
	rx_expect(VIRTIO_VSOCK_OP_RST, PORT, GPORT + 1);
	ck_assert_uint_eq(tl.accepts, 0);
	/* A REQUEST with the header split over descriptors works. */
	hd = mkhdr(VIRTIO_VSOCK_OP_REQUEST, GPORT, PORT);
	tx_split(&hd, (const unsigned[]){ 1, 8, 8, 20, 0 }, NULL, 0);
	rx_expect(VIRTIO_VSOCK_OP_RESPONSE, PORT, GPORT);
	ck_assert_uint_eq(tl.accepts, 1);
	/* A second REQUEST on an open connection resets it. */
	tx(&hd, NULL, 0);
	rx_expect(VIRTIO_VSOCK_OP_RST, PORT, GPORT);
	ck_assert(wait_count(&tl.closes, 1));
	ck_assert(!failed());
	ck_assert_uint_eq(v.vdev.violations, 0);
	down();
}
END_TEST

START_TEST(vsock_header_in_writable_needs_reset)
{
	struct virtio_vsock_hdr hd = mkhdr(VIRTIO_VSOCK_OP_REQUEST, GPORT, PORT);

	up();
	post_rx(4);
	fake_write(&h.fm, TXHDR, &hd, sizeof(hd));
	fake_avail_push(&txr, fake_chain(&txr, 0, (struct fake_seg[]){ { TXHDR, sizeof(hd), true } }, 1));
	h_kick(&h, 1);
	ck_assert(h_wait_needs_reset(&h, 2000));
	ck_assert_uint_eq(tl.accepts, 0);
	ck_assert_uint_eq(fake_used_idx(&rxr), 0);
	down();
}
END_TEST

START_TEST(vsock_short_header_needs_reset)
{
	struct virtio_vsock_hdr hd = mkhdr(VIRTIO_VSOCK_OP_REQUEST, GPORT, PORT);

	up();
	fake_write(&h.fm, TXHDR, &hd, sizeof(hd));
	fake_avail_push(&txr, fake_chain(&txr, 0, (struct fake_seg[]){ { TXHDR, sizeof(hd) - 1, false } }, 1));
	h_kick(&h, 1);
	ck_assert(h_wait_needs_reset(&h, 2000));
	ck_assert_uint_eq(tl.accepts, 0);
	down();
}
END_TEST

START_TEST(vsock_bad_rx_buffer_needs_reset)
{
	up();
	/* An rx buffer too small for a header. */
	fake_avail_push(&rxr, fake_chain(&rxr, 0, (struct fake_seg[]){ { RXBUF, 16, true } }, 1));
	h_kick(&h, 0);
	ck_assert(h_wait_needs_reset(&h, 2000));
	/* After a reset: a device-readable event buffer. */
	ck_assert(h_negotiate(&h, VERSION_1));
	fake_ring_layout(&evr, &h.fm, QS, 0x8000);
	h_queue_setup(&h, 2, &evr, 2);
	h_driver_ok(&h);
	ck_assert(!failed());
	fake_avail_push(&evr, fake_chain(&evr, 0, (struct fake_seg[]){ { RXBUF, 16, false } }, 1));
	h_kick(&h, 2);
	ck_assert(h_wait_needs_reset(&h, 2000));
	down();
}
END_TEST

/* Event buffers are held (never completed) and do not keep the worker busy. */
START_TEST(vsock_event_buffers_held)
{
	struct virtio_vsock_hdr hd = mkhdr(VIRTIO_VSOCK_OP_REQUEST, GPORT, 999);

	up();
	for (uint16_t i = 0; i < 8; i++)
		fake_avail_push(&evr, fake_chain(&evr, i, (struct fake_seg[]){ { 0x200000 + i * 4u, 4, true } }, 1));
	h_kick(&h, 2);
	post_rx(2);
	tx(&hd, NULL, 0);
	rx_expect(VIRTIO_VSOCK_OP_RST, 999, GPORT);
	ck_assert_uint_eq(fake_used_idx(&evr), 0);
	ck_assert(!failed());
	down();
}
END_TEST

/* A device reset drops every connection with closed(). */
START_TEST(vsock_reset_closes)
{
	up();
	post_rx(8);
	guest_connects(256 * 1024);
	ck_assert(h_negotiate(&h, VERSION_1));
	ck_assert_uint_eq(tl.closes, 1);
	ck_assert_uint_eq(v.nconns, 0);
	down();
}
END_TEST

/* Host->guest buffer bound: -EAGAIN when full, writable() once drained. */
START_TEST(vsock_sendbuf_full)
{
	static uint8_t big[VSOCK_SENDBUF];
	struct virtio_vsock_hdr hd;
	uint32_t n, total = 0;

	up();
	post_rx(1);
	guest_connects(VSOCK_SENDBUF * 2);
	ck_assert_int_eq(vsock_send(tl.c, big, sizeof(big)), 0);
	ck_assert_int_eq(vsock_send(tl.c, big, 1), -EAGAIN);
	post_rx(QS - 1);
	while (total < VSOCK_SENDBUF / 2 && rx_next(&hd, NULL, &n, 2000))
		total += n;
	ck_assert(wait_count(&tl.writables, 1));
	ck_assert_int_eq(vsock_send(tl.c, big, 1), 0);
	down();
}
END_TEST

/* The UNIX-socket bridge: CONNECT, the guest's REQUEST, OK, bytes both ways. */
START_TEST(vsock_uds_bridge)
{
	char path[64], buf[64];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct virtio_vsock_hdr hd, r;
	uint8_t pl[RXSZ];
	uint32_t n, hport;
	ssize_t got;
	int fd;

	up();
	snprintf(path, sizeof(path), "/tmp/aperture-vsock-test-%d.sock", (int)getpid());
	ck_assert_int_eq(vsock_uds_listen(&v, path), 0);
	post_rx(8);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	strcpy(sa.sun_path, path);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(write(fd, "CONNECT 52\n", 11), 11);
	ck_assert(rx_next(&r, NULL, NULL, 2000));
	ck_assert_uint_eq(le16toh(r.op), VIRTIO_VSOCK_OP_REQUEST);
	ck_assert_uint_eq(le32toh(r.dst_port), 52);
	ck_assert_uint_eq(le64toh(r.dst_cid), CID);
	hport = le32toh(r.src_port);
	/* The guest accepts: the client reads "OK <port>\n". */
	hd = mkhdr(VIRTIO_VSOCK_OP_RESPONSE, 52, hport);
	tx(&hd, NULL, 0);
	got = read(fd, buf, sizeof(buf) - 1);
	ck_assert_int_gt(got, 0);
	buf[got] = 0;
	{
		char want[32];

		snprintf(want, sizeof(want), "OK %u\n", hport);
		ck_assert_str_eq(buf, want);
	}
	/* Guest -> client. */
	hd = mkhdr(VIRTIO_VSOCK_OP_RW, 52, hport);
	hd.len = htole32(5);
	tx(&hd, "hello", 5);
	got = read(fd, buf, sizeof(buf));
	ck_assert_int_eq(got, 5);
	ck_assert_mem_eq(buf, "hello", 5);
	/* Client -> guest. */
	ck_assert_int_eq(write(fd, "world", 5), 5);
	ck_assert(rx_next(&hd, pl, &n, 2000));
	ck_assert_uint_eq(le16toh(hd.op), VIRTIO_VSOCK_OP_RW);
	ck_assert_uint_eq(n, 5);
	ck_assert_mem_eq(pl, "world", 5);
	/* The client hangs up: SHUTDOWN and RST to the guest. */
	close(fd);
	rx_expect(VIRTIO_VSOCK_OP_SHUTDOWN, hport, 52);
	rx_expect(VIRTIO_VSOCK_OP_RST, hport, 52);
	/* A malformed first line: dropped without a REQUEST. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(write(fd, "CONNECT x\n", 10), 10);
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), 0);
	close(fd);
	ck_assert(!rx_next(&hd, NULL, NULL, 50));
	unlink(path);
	down();
}
END_TEST

Suite *vsock_suite(void)
{
	Suite *s = suite_create("vsock");
	TCase *t = tcase_create("device");

	tcase_set_timeout(t, 30);
	tcase_add_test(t, vsock_ids_and_config);
	tcase_add_test(t, vsock_request_response_and_rw);
	tcase_add_test(t, vsock_send_to_guest);
	tcase_add_test(t, vsock_rx_header_split);
	tcase_add_test(t, vsock_credit_flow);
	tcase_add_test(t, vsock_guest_overruns_credit);
	tcase_add_test(t, vsock_no_listener_rst);
	tcase_add_test(t, vsock_guest_shutdown);
	tcase_add_test(t, vsock_guest_rst);
	tcase_add_test(t, vsock_host_close);
	tcase_add_test(t, vsock_host_close_guest_withholds_rx);
	tcase_add_test(t, vsock_host_connect);
	tcase_add_test(t, vsock_hostile_headers);
	tcase_add_test(t, vsock_header_in_writable_needs_reset);
	tcase_add_test(t, vsock_short_header_needs_reset);
	tcase_add_test(t, vsock_bad_rx_buffer_needs_reset);
	tcase_add_test(t, vsock_event_buffers_held);
	tcase_add_test(t, vsock_reset_closes);
	tcase_add_test(t, vsock_sendbuf_full);
	tcase_add_test(t, vsock_uds_bridge);
	suite_add_tcase(s, t);
	return s;
}
