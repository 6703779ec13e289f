/* SPDX-License-Identifier: MIT */
/*
 * virtio-net driven by the native harness: the test is the guest driver on
 * one side and the back end's peer on the other. Two back ends: the real
 * passt framing (devices/net-passt.c) over a stream socketpair, whose peer
 * end the test reads and writes as passt would; and a "tap-like" test back
 * end over SOCK_SEQPACKET socketpairs (one message = one frame with its
 * virtio-net header, as a tap with IFF_VNET_HDR), with offloads and
 * several queue pairs.
 */
#include <check.h>
#include <endian.h>
#include <errno.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "devices/virtio-net.h"
#include "tests/unit/harness.h"
#include "tests/unit/suites.h"

#define MEM (16u << 20)
#define QS 64
#define RXBUF 0x100000ULL /* rx buffer d of pair p at RXBUF + p * 0x100000 + d * RXSZ */
#define RXSZ 0x1000u
#define TXBUF 0x400000ULL
#define CTRLBUF 0x600000ULL
#define F(x) (1ULL << (x))
#define VERSION_1 F(VIRTIO_F_VERSION_1)
#define BASE (VERSION_1 | F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) | F(VIRTIO_NET_F_MTU) | \
	      F(VIRTIO_NET_F_CTRL_VQ) | F(VIRTIO_NET_F_CTRL_RX))
#define MRG F(VIRTIO_NET_F_MRG_RXBUF)

static const uint8_t mac[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };

/* ---- the tap-like test back end ---- */

struct test_be {
	struct net_backend be;
	int fd[NET_MAX_PAIRS];     /* device side */
	int peer[NET_MAX_PAIRS];   /* test side */
	unsigned offloads, pairs_set, offload_calls;
};

static int tb_fd(struct net_backend *be, unsigned q)
{
	return ((struct test_be *)be)->fd[q];
}

static int tb_send(struct net_backend *be, unsigned q, const struct iovec *iov, unsigned n)
{
	struct msghdr mh = { .msg_iov = (struct iovec *)iov, .msg_iovlen = n };

	if (sendmsg(((struct test_be *)be)->fd[q], &mh, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
		return 0;
	return errno == EAGAIN ? -EAGAIN : -EPIPE;
}

static ssize_t tb_recv(struct net_backend *be, unsigned q, uint8_t *buf, size_t cap)
{
	ssize_t r = recv(((struct test_be *)be)->fd[q], buf, cap, MSG_DONTWAIT);

	if (r < 0)
		return errno == EAGAIN ? -EAGAIN : -EPIPE;
	return r == 0 ? -EPIPE : r;
}

static int tb_set_offloads(struct net_backend *be, unsigned f)
{
	struct test_be *t = (struct test_be *)be;

	t->offloads = f;
	t->offload_calls++;
	return 0;
}

static int tb_set_pairs(struct net_backend *be, unsigned n)
{
	((struct test_be *)be)->pairs_set = n;
	return 0;
}

static void tb_destroy(struct net_backend *be)
{
	struct test_be *t = (struct test_be *)be;

	for (unsigned i = 0; i < be->pairs; i++) {
		close(t->fd[i]);
		close(t->peer[i]);
	}
}

static const struct net_backend_ops tb_ops = {
	.fd = tb_fd, .send = tb_send, .recv = tb_recv, .set_offloads = tb_set_offloads, .set_pairs = tb_set_pairs,
	.destroy = tb_destroy,
};

/* ---- fixture ---- */

static struct harness h;
static struct virtio_net n;
static struct test_be tb;
static struct net_backend *pbe;   /* passt back end, when used */
static int ppeer = -1;            /* its peer (what passt would hold) */
static struct net_backend *be;
static unsigned npairs;
static struct fake_ring rxr[2], txr[2], ctr;
static uint16_t rx_desc[2], tx_desc[2], ct_desc;

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void make_passt(void)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(net_passt_create(sv[0], 65520, &pbe), 0);
	ppeer = sv[1];
	be = pbe;
}

static void make_tap(unsigned pairs)
{
	memset(&tb, 0, sizeof(tb));
	tb.be = (struct net_backend){ .ops = &tb_ops, .kind = "test", .pairs = pairs, .vnet_hdr = true,
				      .mtu = 1500,
				      .features = F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM) |
						  F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_HOST_TSO6) |
						  F(VIRTIO_NET_F_HOST_ECN) | F(VIRTIO_NET_F_GUEST_TSO4) |
						  F(VIRTIO_NET_F_GUEST_TSO6) | F(VIRTIO_NET_F_GUEST_ECN) |
						  F(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) };
	for (unsigned i = 0; i < pairs; i++) {
		int sv[2];

		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
		tb.fd[i] = sv[0];
		tb.peer[i] = sv[1];
	}
	be = &tb.be;
}

/* Negotiate, set up the rings, DRIVER_OK (after init, or after a reset). */
static void bring_up(uint64_t features)
{
	npairs = be->pairs;
	rx_desc[0] = rx_desc[1] = tx_desc[0] = tx_desc[1] = ct_desc = 0;
	ck_assert(h_negotiate(&h, features));
	for (unsigned p = 0; p < npairs; p++) {
		fake_ring_layout(&rxr[p], &h.fm, QS, 0x1000 + p * 0x10000);
		fake_ring_layout(&txr[p], &h.fm, QS, 0x8000 + p * 0x10000);
		h_queue_setup(&h, 2 * p, &rxr[p], (uint16_t)(2 * p));
		h_queue_setup(&h, 2 * p + 1, &txr[p], (uint16_t)(2 * p + 1));
	}
	fake_ring_layout(&ctr, &h.fm, QS, 0x30000);
	h_queue_setup(&h, 2 * npairs, &ctr, (uint16_t)(2 * npairs));
	h_driver_ok(&h);
}

/* Device over `be` seen through view (NULL: all of RAM), plugged and brought up. */
static void start_view(uint64_t features, const struct gm_view *view)
{
	ck_assert_int_eq(virtio_net_init(&n, &h.plat, view ? view : &h.fm.all, be, mac), 0);
	h_plug(&h, &n.vdev);
	bring_up(features);
}

static void start(uint64_t features)
{
	start_view(features, NULL);
}

static void setup(void)
{
	h_init(&h, MEM);
	pbe = NULL;
	ppeer = -1;
	be = NULL;
}

static void teardown(void)
{
	virtio_net_destroy(&n);
	net_backend_destroy(be);
	if (ppeer >= 0)
		close(ppeer);
	h_destroy(&h);
}

/* ---- driver side ---- */

static uint8_t cfg8(unsigned off)
{
	return (uint8_t)h_bar_read(&h, h.device_off + off, 1);
}

static uint16_t cfg16(unsigned off)
{
	return (uint16_t)h_bar_read(&h, h.device_off + off, 2);
}

/* Post `count` receive buffers of `size` bytes on pair p (one descriptor each). */
static void post_rx(unsigned p, unsigned count, uint32_t size)
{
	for (unsigned i = 0; i < count; i++) {
		uint16_t d = rx_desc[p]++ % QS;

		fake_avail_push(&rxr[p], fake_chain(&rxr[p], d,
						    (struct fake_seg[]){ { RXBUF + p * 0x100000 + d * RXSZ, size, true } },
						    1));
	}
	h_kick(&h, 2 * p);
}

/*
 * Transmit header + frame on pair p, the frame split into `parts`
 * descriptors (the header in its own). Waits for the chain to come back.
 */
static void tx(unsigned p, const struct virtio_net_hdr_v1 *hd, const uint8_t *frame, uint32_t len, unsigned parts)
{
	struct fake_seg s[8];
	uint16_t old = fake_used_idx(&txr[p]);
	uint64_t at = TXBUF + p * 0x100000;
	uint32_t off = 0;

	ck_assert_uint_le(parts, 7);
	fake_write(&h.fm, at, hd, sizeof(*hd));
	s[0] = (struct fake_seg){ at, sizeof(*hd), false };
	at += 0x1000;
	for (unsigned i = 0; i < parts; i++) {
		uint32_t l = i + 1 == parts ? len - off : len / parts;

		fake_write(&h.fm, at, frame + off, l);
		s[i + 1] = (struct fake_seg){ at, l, false };
		at += (l + 0xFFF) & ~0xFFFu;
		off += l;
	}
	fake_avail_push(&txr[p], fake_chain(&txr[p], (uint16_t)(tx_desc[p]++ * 8 % QS), s, parts + 1));
	h_kick(&h, 2 * p + 1);
	ck_assert_msg(h_wait_used(&txr[p], old, 2000), "transmit chain not completed");
}

/* What the passt peer reads: one framed frame, or -1 when none in 300 ms. */
static long peer_read_passt(uint8_t *buf, size_t cap)
{
	uint32_t len;
	size_t got = 0;

	for (int t = 0; t < 300; t++) {
		ssize_t r = recv(ppeer, &len, sizeof(len), MSG_DONTWAIT | MSG_PEEK);

		if (r == (ssize_t)sizeof(len))
			break;
		sleep_ms(1);
	}
	if (recv(ppeer, &len, sizeof(len), MSG_DONTWAIT) != (ssize_t)sizeof(len))
		return -1;
	len = be32toh(len);
	ck_assert_uint_le(len, cap);
	while (got < len) {
		ssize_t r = recv(ppeer, buf + got, len - got, 0);

		ck_assert_int_gt(r, 0);
		got += (size_t)r;
	}
	return (long)len;
}

static void peer_write_passt(const uint8_t *frame, uint32_t len)
{
	uint32_t l = htobe32(len);

	ck_assert_int_eq(write(ppeer, &l, sizeof(l)), sizeof(l));
	ck_assert_int_eq(write(ppeer, frame, len), (ssize_t)len);
}

static long peer_read_tap(unsigned p, uint8_t *buf, size_t cap)
{
	for (int t = 0; t < 300; t++) {
		ssize_t r = recv(tb.peer[p], buf, cap, MSG_DONTWAIT);

		if (r >= 0)
			return r;
		sleep_ms(1);
	}
	return -1;
}

static void fill(uint8_t *b, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(i * 7 + seed);
	if (len >= 14) {
		memcpy(b, mac, 6); /* destination: the guest */
		b[12] = 0x08;
		b[13] = 0x00;
	}
}

static uint64_t stat(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

static bool wait_stat(const uint64_t *c, uint64_t want)
{
	for (int t = 0; t < 2000; t++) {
		if (stat(c) >= want)
			return true;
		sleep_ms(1);
	}
	return false;
}

/* Send a control command (class, cmd, data) and return the ack byte (or -1 if no completion). */
static int ctrl(uint8_t cls, uint8_t cmd, const void *data, uint32_t len, bool with_ack)
{
	uint8_t hdr[2] = { cls, cmd }, ack = 0xEE;
	struct fake_seg s[3];
	unsigned ns = 0;
	uint16_t old = fake_used_idx(&ctr);

	fake_write(&h.fm, CTRLBUF, hdr, 2);
	s[ns++] = (struct fake_seg){ CTRLBUF, 2, false };
	if (len) {
		fake_write(&h.fm, CTRLBUF + 0x100, data, len);
		s[ns++] = (struct fake_seg){ CTRLBUF + 0x100, len, false };
	}
	fake_write(&h.fm, CTRLBUF + 0x200, &ack, 1);
	if (with_ack)
		s[ns++] = (struct fake_seg){ CTRLBUF + 0x200, 1, true };
	fake_avail_push(&ctr, fake_chain(&ctr, (uint16_t)(ct_desc++ * 4 % QS), s, ns));
	h_kick(&h, 2 * npairs);
	if (!h_wait_used(&ctr, old, 2000))
		return -1;
	fake_read(&h.fm, CTRLBUF + 0x200, &ack, 1);
	return ack;
}

/* ---- tests ---- */

/* A front end of an isolated device is built from virtio_net_describe(): the same features and bytes. */
static void check_describe_matches(void)
{
	struct virtio_dev_ops ops;
	struct virtio_net_config c;

	ck_assert_int_eq(virtio_net_describe(be, mac, &ops, &c), 0);
	ck_assert_uint_eq(ops.features, n.ops.features);
	ck_assert_uint_eq(ops.nqueues, 2 * be->pairs + 1);
	ck_assert_uint_eq(ops.config_size, VIRTIO_NET_CONFIG_SIZE);
	for (unsigned i = 0; i < VIRTIO_NET_CONFIG_SIZE; i++)
		ck_assert_uint_eq(((const uint8_t *)&c)[i], cfg8(i));
}

START_TEST(net_config_and_features)
{
	uint64_t f;

	make_passt();
	ck_assert_int_eq(virtio_net_init(&n, &h.plat, &h.fm.all, be, mac), 0);
	h_plug(&h, &n.vdev);
	f = h_device_features(&h);
	ck_assert(f & F(VIRTIO_NET_F_MAC));
	ck_assert(f & F(VIRTIO_NET_F_STATUS));
	ck_assert(f & F(VIRTIO_NET_F_MTU));
	ck_assert(f & F(VIRTIO_NET_F_MRG_RXBUF));
	ck_assert(f & F(VIRTIO_NET_F_CTRL_VQ));
	ck_assert(f & F(VIRTIO_NET_F_CTRL_RX));
	/* passt has no offloads (the device completes checksums itself), and one queue pair. */
	ck_assert(f & F(VIRTIO_NET_F_CSUM));
	ck_assert(!(f & F(VIRTIO_NET_F_HOST_TSO4)));
	ck_assert(!(f & F(VIRTIO_NET_F_GUEST_CSUM)));
	ck_assert(!(f & F(VIRTIO_NET_F_GUEST_TSO4)));
	ck_assert(!(f & F(VIRTIO_NET_F_MQ)));
	for (int i = 0; i < 6; i++)
		ck_assert_uint_eq(cfg8(i), mac[i]);
	ck_assert_uint_eq(cfg16(offsetof(struct virtio_net_config, status)), VIRTIO_NET_S_LINK_UP);
	ck_assert_uint_eq(cfg16(offsetof(struct virtio_net_config, max_virtqueue_pairs)), 1);
	ck_assert_uint_eq(cfg16(offsetof(struct virtio_net_config, mtu)), 65520);
	ck_assert_uint_eq(h_common_read(&h, VIRTIO_PCI_COMMON_NUMQ, 2), 3);
	check_describe_matches();
}
END_TEST

START_TEST(net_config_tap_features)
{
	uint64_t f;

	make_tap(2);
	ck_assert_int_eq(virtio_net_init(&n, &h.plat, &h.fm.all, be, mac), 0);
	h_plug(&h, &n.vdev);
	f = h_device_features(&h);
	ck_assert(f & F(VIRTIO_NET_F_CSUM));
	ck_assert(f & F(VIRTIO_NET_F_GUEST_CSUM));
	ck_assert(f & F(VIRTIO_NET_F_HOST_TSO4));
	ck_assert(f & F(VIRTIO_NET_F_GUEST_TSO6));
	ck_assert(f & F(VIRTIO_NET_F_MQ));
	ck_assert(f & F(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS));
	ck_assert(!(f & F(VIRTIO_NET_F_GUEST_UFO)));
	ck_assert_uint_eq(cfg16(offsetof(struct virtio_net_config, max_virtqueue_pairs)), 2);
	ck_assert_uint_eq(h_common_read(&h, VIRTIO_PCI_COMMON_NUMQ, 2), 5);
	check_describe_matches();
}
END_TEST

START_TEST(net_default_mac)
{
	uint8_t a[6], b[6], c[6];

	virtio_net_default_mac("tap:tap0", a);
	virtio_net_default_mac("tap:tap0", b);
	virtio_net_default_mac("tap:tap1", c);
	ck_assert_mem_eq(a, b, 6);
	ck_assert(memcmp(a, c, 6) != 0);
	ck_assert_uint_eq(a[0] & 3, 2); /* locally administered, unicast */
	ck_assert_uint_eq(c[0] & 3, 2);
	/* A multicast MAC is refused. */
	make_passt();
	ck_assert_int_eq(virtio_net_init(&n, &h.plat, &h.fm.all, be, (const uint8_t[6]){ 1, 2, 3, 4, 5, 6 }),
			 -EINVAL);
	ck_assert_int_eq(virtio_net_init(&n, &h.plat, &h.fm.all, be, mac), 0);
}
END_TEST

START_TEST(net_tx_passt_framing)
{
	static uint8_t frame[3000], got[4000];
	struct virtio_net_hdr_v1 hd = { 0 };

	make_passt();
	start(BASE | MRG);
	fill(frame, sizeof(frame), 1);
	tx(0, &hd, frame, sizeof(frame), 3);
	ck_assert_int_eq(peer_read_passt(got, sizeof(got)), sizeof(frame));
	ck_assert_mem_eq(got, frame, sizeof(frame));
	/* The smallest frame, in one piece. */
	tx(0, &hd, frame, 14, 1);
	ck_assert_int_eq(peer_read_passt(got, sizeof(got)), 14);
	ck_assert_uint_eq(stat(&n.stats->tx_frames), 2);
	ck_assert_uint_eq(stat(&n.stats->tx_bytes), sizeof(frame) + 14);
	ck_assert_uint_eq(stat(&n.stats->tx_bad), 0);
}
END_TEST

/* One's complement sum of 16-bit big-endian words of b[0, len), not folded. */
static uint32_t sum16(const uint8_t *b, size_t len)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		s += (uint32_t)b[len - 1] << 8;
	return s;
}

START_TEST(net_tx_passt_completes_checksum)
{
	static uint8_t frame[1501], got[2000];
	const uint16_t cs = 34, co = 6, pseudo = 0x1234;
	struct virtio_net_hdr_v1 hd = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = htole16(cs),
					.csum_offset = htole16(co) };
	uint32_t s;

	make_passt();
	start(BASE | MRG | F(VIRTIO_NET_F_CSUM));
	fill(frame, sizeof(frame), 15);
	frame[cs + co] = pseudo >> 8; /* the driver's partial sum (pseudo header) */
	frame[cs + co + 1] = pseudo & 0xFF;
	tx(0, &hd, frame, sizeof(frame), 3);
	ck_assert_int_eq(peer_read_passt(got, sizeof(got)), sizeof(frame));
	/* Everything outside the checksum field untouched... */
	ck_assert_mem_eq(got, frame, cs + co);
	ck_assert_mem_eq(got + cs + co + 2, frame + cs + co + 2, sizeof(frame) - cs - co - 2);
	/* ...and the field completes the sum: data + pseudo header + checksum = 0xFFFF. */
	s = sum16(got + cs, sizeof(frame) - cs) + pseudo;
	while (s >> 16)
		s = (s & 0xFFFF) + (s >> 16);
	ck_assert_uint_eq(s, 0xFFFF);
	ck_assert_uint_eq(stat(&n.stats->tx_bad), 0);
}
END_TEST

START_TEST(net_tx_bad_headers_dropped)
{
	static uint8_t frame[2000], got[4000];
	struct virtio_net_hdr_v1 hd = { 0 };

	make_passt();
	start(BASE | MRG);
	fill(frame, sizeof(frame), 2);
	/* NEEDS_CSUM without the CSUM feature. */
	hd.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	tx(0, &hd, frame, sizeof(frame), 1);
	/* DATA_VALID is the device's flag, never the driver's. */
	hd.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	tx(0, &hd, frame, sizeof(frame), 1);
	/* TSO that was not negotiated; an unknown gso type. */
	hd = (struct virtio_net_hdr_v1){ .gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = htole16(1400) };
	tx(0, &hd, frame, sizeof(frame), 2);
	hd = (struct virtio_net_hdr_v1){ .gso_type = 0x33 };
	tx(0, &hd, frame, sizeof(frame), 2);
	/* Frames below an Ethernet header and beyond the largest frame. */
	hd = (struct virtio_net_hdr_v1){ 0 };
	tx(0, &hd, frame, 13, 1);
	ck_assert_uint_eq(stat(&n.stats->tx_bad), 5);
	ck_assert_int_eq(peer_read_passt(got, sizeof(got)), -1);
	/* The device goes on: a good frame still passes. */
	tx(0, &hd, frame, 100, 1);
	ck_assert_int_eq(peer_read_passt(got, sizeof(got)), 100);
	ck_assert(!(h_status(&h) & VIRTIO_CONFIG_S_NEEDS_RESET));
}
END_TEST

START_TEST(net_tx_oversized_frame)
{
	const uint32_t big = NET_MAX_FRAME + 1;
	uint8_t *frame = calloc(1, big);
	struct virtio_net_hdr_v1 hd = { 0 };
	static uint8_t got[100];

	make_passt();
	start(BASE | MRG);
	fill(frame, big, 3);
	tx(0, &hd, frame, big, 4);
	ck_assert_uint_eq(stat(&n.stats->tx_bad), 1);
	ck_assert_int_eq(peer_read_passt(got, sizeof(got)), -1);
	free(frame);
}
END_TEST

START_TEST(net_tx_writable_chain_fails_device)
{
	static uint8_t hdr[NET_HDR_LEN];

	make_passt();
	start(BASE | MRG);
	fake_write(&h.fm, TXBUF, hdr, sizeof(hdr));
	fake_avail_push(&txr[0], fake_chain(&txr[0], 0,
					    (struct fake_seg[]){ { TXBUF, sizeof(hdr), false }, { TXBUF + 0x1000, 100, true } },
					    2));
	h_kick(&h, 1);
	ck_assert(h_wait_needs_reset(&h, 2000));
}
END_TEST

START_TEST(net_tx_vnet_hdr_offloads)
{
	static uint8_t frame[9000], got[10000];
	struct virtio_net_hdr_v1 hd = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
					.hdr_len = htole16(54), .gso_size = htole16(1448),
					.csum_start = htole16(34), .csum_offset = htole16(16),
					.num_buffers = htole16(77) };
	struct virtio_net_hdr_v1 out;
	uint64_t feat = BASE | MRG | F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4);

	make_tap(1);
	start(feat);
	fill(frame, sizeof(frame), 4);
	tx(0, &hd, frame, sizeof(frame), 5);
	ck_assert_int_eq(peer_read_tap(0, got, sizeof(got)), NET_HDR_LEN + sizeof(frame));
	memcpy(&out, got, sizeof(out));
	ck_assert_uint_eq(out.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	ck_assert_uint_eq(out.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	ck_assert_uint_eq(le16toh(out.gso_size), 1448);
	ck_assert_uint_eq(le16toh(out.num_buffers), 0); /* the device's copy, not the guest's */
	ck_assert_mem_eq(got + NET_HDR_LEN, frame, sizeof(frame));
	/* Lying checksum position: outside the frame. */
	hd.csum_start = htole16(8990);
	hd.csum_offset = htole16(16);
	tx(0, &hd, frame, sizeof(frame), 1);
	/* Segmentation without NEEDS_CSUM; gso_size 0; ECN not negotiated; TSO6 not negotiated. */
	hd.csum_start = htole16(34);
	hd.flags = 0;
	tx(0, &hd, frame, sizeof(frame), 1);
	hd.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	hd.gso_size = 0;
	tx(0, &hd, frame, sizeof(frame), 1);
	hd.gso_size = htole16(1448);
	hd.gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN;
	tx(0, &hd, frame, sizeof(frame), 1);
	hd.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	tx(0, &hd, frame, sizeof(frame), 1);
	/* hdr_len beyond the frame. */
	hd.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	hd.hdr_len = htole16(9001);
	tx(0, &hd, frame, sizeof(frame), 1);
	ck_assert_uint_eq(stat(&n.stats->tx_bad), 6);
	ck_assert_int_eq(peer_read_tap(0, got, sizeof(got)), -1);
}
END_TEST

/* Read back what rx buffers d, d+1, ... of pair p hold: header and payload joined. */
static void rx_collect(unsigned p, unsigned count, uint8_t *out, size_t *outlen, uint16_t *nbufs)
{
	size_t off = 0;

	for (unsigned i = 0; i < count; i++) {
		uint32_t id, len;

		ck_assert(fake_used_next(&rxr[p], &id, &len));
		ck_assert_uint_le(len, RXSZ);
		fake_read(&h.fm, RXBUF + p * 0x100000 + id * RXSZ, out + off, len);
		off += len;
	}
	memcpy(nbufs, out + offsetof(struct virtio_net_hdr_v1, num_buffers), 2);
	*nbufs = le16toh(*nbufs);
	*outlen = off;
}

START_TEST(net_rx_mergeable_spread)
{
	static uint8_t frame[5000], got[8000];
	struct virtio_net_hdr_v1 hd;
	uint16_t nb;
	size_t len;

	make_passt();
	start(BASE | MRG);
	post_rx(0, 8, 1500);
	fill(frame, sizeof(frame), 5);
	peer_write_passt(frame, sizeof(frame));
	ck_assert(wait_stat(&n.stats->rx_frames, 1));
	ck_assert(h_wait_used(&rxr[0], 0, 2000));
	/* 12 + 5000 bytes in 1500-byte buffers: four of them. */
	sleep_ms(20);
	ck_assert_uint_eq(fake_used_idx(&rxr[0]), 4);
	rx_collect(0, 4, got, &len, &nb);
	ck_assert_uint_eq(nb, 4);
	ck_assert_uint_eq(len, NET_HDR_LEN + sizeof(frame));
	memcpy(&hd, got, sizeof(hd));
	ck_assert_uint_eq(hd.flags, 0);
	ck_assert_uint_eq(hd.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	ck_assert_mem_eq(got + NET_HDR_LEN, frame, sizeof(frame));
	ck_assert(h_msi_count(&h, 0) > 0);
	/* A second, small frame takes the next buffer alone. */
	peer_write_passt(frame, 60);
	ck_assert(wait_stat(&n.stats->rx_frames, 2));
	ck_assert(h_wait_used(&rxr[0], 4, 2000));
	rx_collect(0, 1, got, &len, &nb);
	ck_assert_uint_eq(nb, 1);
	ck_assert_uint_eq(len, NET_HDR_LEN + 60);
}
END_TEST

START_TEST(net_rx_waits_for_buffers)
{
	static uint8_t frame[3000], got[4000];
	uint16_t nb;
	size_t len;

	make_passt();
	start(BASE | MRG);
	fill(frame, sizeof(frame), 6);
	/* Frames come before any buffer: they wait (no drop, no spin). */
	peer_write_passt(frame, sizeof(frame));
	peer_write_passt(frame, 100);
	sleep_ms(50);
	ck_assert_uint_eq(stat(&n.stats->rx_frames), 0);
	ck_assert_uint_eq(stat(&n.stats->rx_dropped), 0);
	/* One buffer is not enough for the first: still waiting. */
	post_rx(0, 1, 2048);
	sleep_ms(50);
	ck_assert_uint_eq(stat(&n.stats->rx_frames), 0);
	post_rx(0, 3, 2048);
	ck_assert(wait_stat(&n.stats->rx_frames, 2));
	sleep_ms(20);
	ck_assert_uint_eq(fake_used_idx(&rxr[0]), 3);
	rx_collect(0, 2, got, &len, &nb);
	ck_assert_uint_eq(nb, 2);
	ck_assert_mem_eq(got + NET_HDR_LEN, frame, sizeof(frame));
	rx_collect(0, 1, got, &len, &nb);
	ck_assert_uint_eq(len, NET_HDR_LEN + 100);
}
END_TEST

START_TEST(net_rx_not_mergeable)
{
	static uint8_t frame[3000], got[4000];
	uint16_t nb;
	size_t len;

	make_passt();
	start(BASE);
	post_rx(0, 2, 2048);
	fill(frame, sizeof(frame), 7);
	/* Too large for one buffer: dropped and counted; the buffer serves the next frame. */
	peer_write_passt(frame, sizeof(frame));
	peer_write_passt(frame, 1000);
	ck_assert(wait_stat(&n.stats->rx_frames, 1));
	ck_assert_uint_eq(stat(&n.stats->rx_dropped), 1);
	ck_assert(h_wait_used(&rxr[0], 0, 2000));
	rx_collect(0, 1, got, &len, &nb);
	ck_assert_uint_eq(nb, 1);
	ck_assert_uint_eq(len, NET_HDR_LEN + 1000);
	ck_assert_mem_eq(got + NET_HDR_LEN, frame, 1000);
}
END_TEST

START_TEST(net_rx_readable_buffer_fails_device)
{
	static uint8_t frame[100];

	make_passt();
	start(BASE | MRG);
	fake_avail_push(&rxr[0], fake_chain(&rxr[0], 0, (struct fake_seg[]){ { RXBUF, 2048, false } }, 1));
	h_kick(&h, 0);
	fill(frame, sizeof(frame), 8);
	peer_write_passt(frame, sizeof(frame));
	ck_assert(h_wait_needs_reset(&h, 2000));
}
END_TEST

START_TEST(net_rx_tap_header_passes)
{
	static uint8_t msg[NET_HDR_LEN + 5000], got[8000];
	struct virtio_net_hdr_v1 hd = { .flags = VIRTIO_NET_HDR_F_DATA_VALID, .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
					.gso_size = htole16(1448), .hdr_len = htole16(54) }, out;
	uint64_t feat = BASE | MRG | F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4);
	uint16_t nb;
	size_t len;

	make_tap(1);
	start(feat);
	/* The guest's receive offloads reached the back end at DRIVER_OK. */
	ck_assert_uint_eq(tb.offloads, TUN_F_CSUM | TUN_F_TSO4);
	post_rx(0, 4, 4096);
	memcpy(msg, &hd, sizeof(hd));
	fill(msg + NET_HDR_LEN, 5000, 9);
	ck_assert_int_eq(send(tb.peer[0], msg, sizeof(msg), 0), sizeof(msg));
	ck_assert(wait_stat(&n.stats->rx_frames, 1));
	sleep_ms(20);
	rx_collect(0, 2, got, &len, &nb);
	ck_assert_uint_eq(nb, 2);
	memcpy(&out, got, sizeof(out));
	ck_assert_uint_eq(out.flags, VIRTIO_NET_HDR_F_DATA_VALID);
	ck_assert_uint_eq(out.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	ck_assert_mem_eq(got + NET_HDR_LEN, msg + NET_HDR_LEN, 5000);
}
END_TEST

START_TEST(net_ctrl_commands)
{
	uint8_t on = 1, two[2] = { 1, 1 };
	struct {
		uint32_t n1;
		uint8_t a[6];
		uint32_t n2;
	} __attribute__((packed)) tables = { htole32(1), { 2, 0, 0, 0, 0, 1 }, htole32(0) };
	uint32_t lying[2] = { htole32(1000), 0 };
	uint16_t pairs = htole16(1);

	make_passt();
	start(BASE | MRG);
	ck_assert_int_eq(ctrl(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &on, 1, true), VIRTIO_NET_OK);
	ck_assert_int_eq(ctrl(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, &on, 1, true), VIRTIO_NET_OK);
	ck_assert_int_eq(ctrl(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, &tables, sizeof(tables), true),
			 VIRTIO_NET_OK);
	ck_assert_uint_eq(stat(&n.stats->ctrl_ok), 3);
	/* Wrong lengths, lying counts, commands not negotiated, unknown classes. */
	ck_assert_int_eq(ctrl(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, two, 2, true), VIRTIO_NET_ERR);
	ck_assert_int_eq(ctrl(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, NULL, 0, true), VIRTIO_NET_ERR);
	ck_assert_int_eq(ctrl(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_NOBCAST, &on, 1, true), VIRTIO_NET_ERR);
	ck_assert_int_eq(ctrl(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, lying, sizeof(lying), true),
			 VIRTIO_NET_ERR);
	ck_assert_int_eq(ctrl(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, mac, 6, true), VIRTIO_NET_ERR);
	ck_assert_int_eq(ctrl(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &pairs, 2, true), VIRTIO_NET_ERR);
	ck_assert_int_eq(ctrl(VIRTIO_NET_CTRL_GUEST_OFFLOADS, 0, lying, 8, true), VIRTIO_NET_ERR);
	ck_assert_int_eq(ctrl(0x77, 0, NULL, 0, true), VIRTIO_NET_ERR);
	ck_assert_uint_eq(stat(&n.stats->ctrl_bad), 8);
	/* No room for the ack: dropped (completed empty), counted, the device lives. */
	ck_assert_int_eq(ctrl(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &on, 1, false), 0xEE);
	ck_assert_uint_eq(stat(&n.stats->ctrl_bad), 9);
	ck_assert(!(h_status(&h) & VIRTIO_CONFIG_S_NEEDS_RESET));
	ck_assert_int_eq(ctrl(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, &on, 1, true), VIRTIO_NET_OK);
}
END_TEST

START_TEST(net_mq_and_offloads)
{
	static uint8_t frame[200], got[400];
	struct virtio_net_hdr_v1 hd = { 0 };
	uint16_t p2 = htole16(2), p3 = htole16(3), p0 = 0;
	uint64_t off = htole64(F(VIRTIO_NET_F_GUEST_CSUM)), bad = htole64(F(VIRTIO_NET_F_GUEST_UFO));
	uint64_t feat = BASE | MRG | F(VIRTIO_NET_F_MQ) | F(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) |
			F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4);
	uint16_t nb;
	size_t len;

	make_tap(2);
	start(feat);
	ck_assert_uint_eq(tb.pairs_set, 1); /* only the first pair until VQ_PAIRS_SET */
	ck_assert_int_eq(ctrl(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &p3, 2, true), VIRTIO_NET_ERR);
	ck_assert_int_eq(ctrl(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &p0, 2, true), VIRTIO_NET_ERR);
	ck_assert_int_eq(ctrl(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &p2, 2, true), VIRTIO_NET_OK);
	ck_assert_uint_eq(tb.pairs_set, 2);
	/* Both pairs carry traffic, each on its own back end queue. */
	fill(frame, sizeof(frame), 10);
	tx(1, &hd, frame, sizeof(frame), 2);
	ck_assert_int_eq(peer_read_tap(1, got, sizeof(got)), NET_HDR_LEN + sizeof(frame));
	ck_assert_int_eq(peer_read_tap(0, got, sizeof(got)), -1);
	post_rx(1, 2, 2048);
	memset(got, 0, NET_HDR_LEN);
	memcpy(got + NET_HDR_LEN, frame, sizeof(frame));
	ck_assert_int_eq(send(tb.peer[1], got, NET_HDR_LEN + sizeof(frame), 0), NET_HDR_LEN + sizeof(frame));
	ck_assert(wait_stat(&n.stats->rx_frames, 1));
	sleep_ms(20);
	rx_collect(1, 1, got, &len, &nb);
	ck_assert_uint_eq(len, NET_HDR_LEN + sizeof(frame));
	ck_assert_mem_eq(got + NET_HDR_LEN, frame, sizeof(frame));
	/* Receive offloads switched by the guest, within what it negotiated. */
	ck_assert_int_eq(ctrl(VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET, &off, 8, true),
			 VIRTIO_NET_OK);
	ck_assert_uint_eq(tb.offloads, TUN_F_CSUM);
	ck_assert_int_eq(ctrl(VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET, &bad, 8, true),
			 VIRTIO_NET_ERR);
	ck_assert_uint_eq(tb.offloads, TUN_F_CSUM);
}
END_TEST

START_TEST(net_aperture_refuses_outside)
{
	struct gm_view ap = gm_view_aperture(&h.fm.mem, 0, 8u << 20);
	struct virtio_net_hdr_v1 hd = { 0 };
	static uint8_t frame[100];

	make_passt();
	start_view(BASE | MRG | VIRTIO_APERTURE_FEATURES, &ap);
	/* Inside the aperture: fine. */
	fill(frame, sizeof(frame), 11);
	tx(0, &hd, frame, sizeof(frame), 1);
	ck_assert_uint_eq(stat(&n.stats->tx_frames), 1);
	/* A frame buffer past its end: NEEDS_RESET, nothing reaches the back end. */
	fake_write(&h.fm, TXBUF, &hd, sizeof(hd));
	fake_avail_push(&txr[0], fake_chain(&txr[0], 16,
					    (struct fake_seg[]){ { TXBUF, sizeof(hd), false }, { 9u << 20, 100, false } },
					    2));
	h_kick(&h, 1);
	ck_assert(h_wait_needs_reset(&h, 2000));
	ck_assert_uint_eq(stat(&n.stats->tx_frames), 1);
	ck_assert_uint_gt(__atomic_load_n(&n.vdev.stats.denied, __ATOMIC_RELAXED), 0);
}
END_TEST

START_TEST(net_aperture_refuses_rx_outside)
{
	struct gm_view ap = gm_view_aperture(&h.fm.mem, 0, 8u << 20);
	static uint8_t frame[100];

	make_passt();
	start_view(BASE | MRG | VIRTIO_APERTURE_FEATURES, &ap);
	fake_avail_push(&rxr[0], fake_chain(&rxr[0], 0, (struct fake_seg[]){ { 12u << 20, 2048, true } }, 1));
	h_kick(&h, 0);
	fill(frame, sizeof(frame), 12);
	peer_write_passt(frame, sizeof(frame));
	ck_assert(h_wait_needs_reset(&h, 2000));
	ck_assert_uint_eq(stat(&n.stats->rx_frames), 0);
}
END_TEST

START_TEST(net_link_lost)
{
	static uint8_t frame[100];
	struct virtio_net_hdr_v1 hd = { 0 };
	unsigned cfg_vec_before;

	make_passt();
	start(BASE | MRG);
	h_common_write(&h, VIRTIO_PCI_COMMON_MSIX, 2, 3); /* config vector (queues use 0-2) */
	cfg_vec_before = h_msi_count(&h, 3);
	ck_assert_uint_eq(cfg16(offsetof(struct virtio_net_config, status)), VIRTIO_NET_S_LINK_UP);
	/* passt goes away. */
	close(ppeer);
	ppeer = -1;
	post_rx(0, 2, 2048);
	for (int t = 0; t < 2000 && cfg16(offsetof(struct virtio_net_config, status)); t++)
		sleep_ms(1);
	ck_assert_uint_eq(cfg16(offsetof(struct virtio_net_config, status)), 0);
	ck_assert_uint_gt(h_msi_count(&h, 3), cfg_vec_before);
	/* Frames are dropped from then on; the device and the VM go on. */
	fill(frame, sizeof(frame), 13);
	tx(0, &hd, frame, sizeof(frame), 1);
	ck_assert_uint_eq(stat(&n.stats->tx_dropped), 1);
	ck_assert(!(h_status(&h) & VIRTIO_CONFIG_S_NEEDS_RESET));
}
END_TEST

START_TEST(net_passt_bad_length_is_link_down)
{
	uint32_t l = htobe32(NET_MAX_FRAME + 1);

	make_passt();
	start(BASE | MRG);
	post_rx(0, 2, 2048);
	ck_assert_int_eq(write(ppeer, &l, sizeof(l)), sizeof(l));
	for (int t = 0; t < 2000 && cfg16(offsetof(struct virtio_net_config, status)); t++)
		sleep_ms(1);
	ck_assert_uint_eq(cfg16(offsetof(struct virtio_net_config, status)), 0);
	ck_assert_uint_eq(stat(&n.stats->rx_frames), 0);
}
END_TEST

START_TEST(net_passt_partial_writes_keep_frames_whole)
{
	static uint8_t frame[60000], got[70000];
	struct virtio_net_hdr_v1 hd = { 0 };
	int small = 4096;
	const unsigned count = 40;
	unsigned next_read = 0;

	make_passt();
	/* Tiny socket buffers: sends go out in pieces, and block. */
	ck_assert_int_eq(setsockopt(ppeer, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	ck_assert_int_eq(setsockopt(be->ops->fd(be, 0), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	start(BASE | MRG);
	for (unsigned i = 0; i < count; i++) {
		uint16_t d = (uint16_t)(i % 8 * 8);
		uint64_t at = TXBUF + (i % 8) * 0x10000;

		/* Reuse a descriptor (and its buffer) only once its chain came back. */
		while ((uint16_t)(txr[0].avail_idx - fake_used_idx(&txr[0])) >= 7)
			sleep_ms(1);
		fill(frame, sizeof(frame), 20 + i);
		fake_write(&h.fm, at, &hd, sizeof(hd));
		fake_write(&h.fm, at + 0x1000, frame, sizeof(frame));
		fake_avail_push(&txr[0], fake_chain(&txr[0], d,
						    (struct fake_seg[]){ { at, sizeof(hd), false },
									 { at + 0x1000, sizeof(frame), false } },
						    2));
		h_kick(&h, 1);
		/* The peer drains in between, behind the device. */
		while (i % 4 == 3 && next_read + 2 < i) {
			fill(frame, sizeof(frame), 20 + next_read++);
			ck_assert_int_eq(peer_read_passt(got, sizeof(got)), sizeof(frame));
			ck_assert_mem_eq(got, frame, sizeof(frame));
		}
	}
	/* Everything arrives whole and in order. */
	while (next_read < count) {
		fill(frame, sizeof(frame), 20 + next_read++);
		ck_assert_int_eq(peer_read_passt(got, sizeof(got)), sizeof(frame));
		ck_assert_mem_eq(got, frame, sizeof(frame));
	}
	ck_assert_uint_eq(stat(&n.stats->tx_frames), count);
}
END_TEST

START_TEST(net_reset_and_again)
{
	static uint8_t frame[500], got[600];
	struct virtio_net_hdr_v1 hd = { 0 };

	make_passt();
	start(BASE | MRG);
	post_rx(0, 4, 2048);
	h_set_status(&h, 0);
	ck_assert_uint_eq(h_status(&h), 0);
	/* A frame that comes while the device is reset waits for the next driver. */
	fill(frame, sizeof(frame), 14);
	peer_write_passt(frame, sizeof(frame));
	bring_up(BASE | MRG);
	post_rx(0, 2, 2048);
	ck_assert(wait_stat(&n.stats->rx_frames, 1));
	tx(0, &hd, frame, sizeof(frame), 1);
	ck_assert_int_eq(peer_read_passt(got, sizeof(got)), sizeof(frame));
}
END_TEST

START_TEST(net_tap_refusals)
{
	struct net_backend *t = NULL;
	char err[200];

	ck_assert_int_eq(net_tap_open("", 1, &t, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(net_tap_open("much-too-long-name", 1, &t, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(net_tap_open("tap0", 0, &t, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(net_tap_open("tap0", NET_MAX_PAIRS + 1, &t, err, sizeof(err)), -EINVAL);
	if (access("/dev/net/tun", R_OK | W_OK) != 0)
		return;
	/* An interface that exists but is not a tap: refused, with its name in the line. */
	ck_assert_int_lt(net_tap_open("lo", 1, &t, err, sizeof(err)), 0);
	ck_assert_ptr_null(t);
	ck_assert_msg(strstr(err, "lo"), "%s", err);
	ck_assert_ptr_null(strchr(err, '\n'));
}
END_TEST

Suite *net_suite(void)
{
	Suite *s = suite_create("virtio_net");
	TCase *t = tcase_create("device");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 30);
	tcase_add_test(t, net_config_and_features);
	tcase_add_test(t, net_config_tap_features);
	tcase_add_test(t, net_default_mac);
	tcase_add_test(t, net_tx_passt_framing);
	tcase_add_test(t, net_tx_passt_completes_checksum);
	tcase_add_test(t, net_tx_bad_headers_dropped);
	tcase_add_test(t, net_tx_oversized_frame);
	tcase_add_test(t, net_tx_writable_chain_fails_device);
	tcase_add_test(t, net_tx_vnet_hdr_offloads);
	tcase_add_test(t, net_rx_mergeable_spread);
	tcase_add_test(t, net_rx_waits_for_buffers);
	tcase_add_test(t, net_rx_not_mergeable);
	tcase_add_test(t, net_rx_readable_buffer_fails_device);
	tcase_add_test(t, net_rx_tap_header_passes);
	tcase_add_test(t, net_ctrl_commands);
	tcase_add_test(t, net_mq_and_offloads);
	tcase_add_test(t, net_aperture_refuses_outside);
	tcase_add_test(t, net_aperture_refuses_rx_outside);
	tcase_add_test(t, net_link_lost);
	tcase_add_test(t, net_passt_bad_length_is_link_down);
	tcase_add_test(t, net_passt_partial_writes_keep_frames_whole);
	tcase_add_test(t, net_reset_and_again);
	tcase_add_test(t, net_tap_refusals);
	suite_add_tcase(s, t);
	return s;
}
