/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: virtio-net with a hostile guest driver and a back end
 * that delivers whatever the input says.
 *
 * The device (two queue pairs, every offload offered) sits on the native
 * harness. Its queues are enabled but DRIVER_OK is never set, so no queue
 * thread starts: the target calls the device's queue_notify itself,
 * synchronously, as a pair thread would. The back end is in memory: frames
 * the input queues for the guest, and a check of every frame the device
 * hands over.
 *
 * First byte: the driver's feature choice (bit 0 MRG_RXBUF, 1 CSUM, 2 TSO4,
 * 3 TSO6, 4 ECN, 5 GUEST_CSUM+TSO4, 6 MQ + CTRL_GUEST_OFFLOADS, 7: the back
 * end carries a virtio-net header, as tap does). Then records:
 *	0  transmit on pair [b & 1]: [flags][u16 n][n bytes: header + frame];
 *	   flags bits 0-2 split it over that many extra descriptors, bit 3
 *	   makes the last one writable
 *	1  post receive buffers on pair [b & 1]: [count][size / 16]
 *	2  the back end has a frame for pair [b & 1]: [u16 n][n bytes]
 *	3  control command: [flags][n][n bytes: class, command, data]; flags
 *	   bit 0 leaves out the ack byte
 *	4  the back end: [b] bit 0 busy (sends say -EAGAIN), bit 1 gone
 * Checks: no crash (ASan, guard pages); every frame that reaches the back
 * end is 14..NET_MAX_FRAME bytes and its header (if any) uses only what was
 * negotiated with num_buffers 0; every used receive length fits its buffer;
 * a control ack is OK or ERR.
 */
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "devices/virtio-net.h"
/* The fuzz build links only vmm/, devices/ and firmware/: take the harness
 * and fake memory (no Check inside) into this target directly. */
#include "tests/unit/fakemem.c"
#include "tests/unit/harness.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEM (4u << 20)
#define QS 32
#define RXBUF 0x100000ULL /* pair p, descriptor d: RXBUF + p * 0x80000 + d * RXSZ */
#define RXSZ 0x1000u
#define TXBUF 0x200000ULL
#define TXMAX (NET_MAX_FRAME + NET_HDR_LEN + 64)
#define CTRLBUF 0x380000ULL
#define F(x) (1ULL << (x))

static struct harness h;
static struct virtio_net n;
static struct fake_ring rxr[2], txr[2], ctr;
static uint16_t rx_desc[2], tx_desc[2], ct_desc;
static uint32_t rx_size[2][QS];
static bool ready;

/* ---- the in-memory back end ---- */

static struct {
	struct net_backend be;
	const uint8_t *frame[2];
	size_t len[2], have[2]; /* declared length; bytes of it in the input */
	bool busy, gone;
	uint64_t feats; /* negotiated, for checking what is sent */
} fb;

static int fb_fd(struct net_backend *be, unsigned q)
{
	(void)be;
	(void)q;
	return -1;
}

static int fb_send(struct net_backend *be, unsigned q, const struct iovec *iov, unsigned cnt)
{
	size_t len = iov_total(iov, cnt);

	(void)be;
	if (q > 1)
		abort();
	if (fb.gone)
		return -EPIPE;
	if (fb.busy)
		return -EAGAIN;
	if (fb.be.vnet_hdr) {
		struct virtio_net_hdr_v1 hd;

		if (len < NET_HDR_LEN || !iov_gather(iov, cnt, 0, &hd, sizeof(hd)))
			abort();
		len -= NET_HDR_LEN;
		if (hd.num_buffers || (hd.flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM) ||
		    ((hd.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !(fb.feats & F(VIRTIO_NET_F_CSUM))) ||
		    ((hd.gso_type & 0x7F) == VIRTIO_NET_HDR_GSO_TCPV4 && !(fb.feats & F(VIRTIO_NET_F_HOST_TSO4))) ||
		    ((hd.gso_type & 0x7F) == VIRTIO_NET_HDR_GSO_TCPV6 && !(fb.feats & F(VIRTIO_NET_F_HOST_TSO6))) ||
		    (hd.gso_type & 0x7F) > VIRTIO_NET_HDR_GSO_TCPV6 ||
		    le16toh(hd.csum_start) + le16toh(hd.csum_offset) + 2u > len + (hd.flags ? 0u : 1u << 17))
			abort();
	}
	if (len < NET_MIN_FRAME || len > NET_MAX_FRAME)
		abort();
	return 0;
}

static ssize_t fb_recv(struct net_backend *be, unsigned q, uint8_t *buf, size_t cap)
{
	size_t len = fb.len[q], at = fb.be.vnet_hdr ? 0 : NET_HDR_LEN;
	const uint8_t *f = fb.frame[q];

	(void)be;
	if (fb.gone)
		return -EPIPE;
	if (!f)
		return -EAGAIN;
	fb.frame[q] = NULL;
	if (len < (fb.be.vnet_hdr ? NET_HDR_LEN : 0) + NET_MIN_FRAME || at + len > cap)
		return -EMSGSIZE;
	/* What the input holds; the rest of a long frame is whatever the stage held. */
	memcpy(buf + at, f, fb.have[q] < len ? fb.have[q] : len);
	return (ssize_t)len;
}

static void fb_destroy(struct net_backend *be)
{
	(void)be;
}

static const struct net_backend_ops fb_ops = {
	.fd = fb_fd, .send = fb_send, .recv = fb_recv, .destroy = fb_destroy,
};

/* ---- driver side ---- */

static void notify(unsigned q)
{
	if (n.vdev.failed)
		return;
	if (n.vdev.ops->queue_notify(&n.vdev, q) < 0)
		virtio_dev_fail(&n.vdev, "queue %u: request rejected", q);
}

static void check_rx(unsigned p)
{
	uint32_t id, len;

	while (fake_used_next(&rxr[p], &id, &len))
		if (id >= QS || len > rx_size[p][id])
			abort();
}

static void setup(uint8_t choice)
{
	uint64_t feats = F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) |
			 F(VIRTIO_NET_F_MTU) | F(VIRTIO_NET_F_CTRL_VQ) | F(VIRTIO_NET_F_CTRL_RX);

	if (!ready) {
		static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 };

		h_init(&h, MEM);
		fb.be = (struct net_backend){
			.ops = &fb_ops, .kind = "fuzz", .pairs = 2, .mtu = 1500,
			.features = F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_HOST_TSO4) |
				    F(VIRTIO_NET_F_HOST_TSO6) | F(VIRTIO_NET_F_HOST_ECN) | F(VIRTIO_NET_F_GUEST_TSO4) |
				    F(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS),
		};
		if (virtio_net_init(&n, &h.plat, &h.fm.all, &fb.be, mac))
			abort();
		h_plug(&h, &n.vdev);
		ready = true;
	}
	if (choice & 1)
		feats |= F(VIRTIO_NET_F_MRG_RXBUF);
	if (choice & 2)
		feats |= F(VIRTIO_NET_F_CSUM);
	if (choice & 4)
		feats |= F(VIRTIO_NET_F_HOST_TSO4);
	if (choice & 8)
		feats |= F(VIRTIO_NET_F_HOST_TSO6);
	if (choice & 16)
		feats |= F(VIRTIO_NET_F_HOST_ECN);
	if (choice & 32)
		feats |= F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4);
	if (choice & 64)
		feats |= F(VIRTIO_NET_F_MQ) | F(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS);
	fb.be.vnet_hdr = choice & 128;
	fb.feats = feats;
	fb.busy = fb.gone = false;
	fb.frame[0] = fb.frame[1] = NULL;
	/* A reset (the device forgets held buffers and staged frames), then fresh rings. */
	if (!h_negotiate(&h, feats))
		abort();
	n.link_up = true;
	n.loss_reported = false;
	for (unsigned p = 0; p < 2; p++) {
		fake_ring_layout(&rxr[p], &h.fm, QS, 0x1000 + p * 0x4000);
		fake_ring_layout(&txr[p], &h.fm, QS, 0x2000 + p * 0x4000);
		h_queue_setup(&h, 2 * p, &rxr[p], (uint16_t)(2 * p));
		h_queue_setup(&h, 2 * p + 1, &txr[p], (uint16_t)(2 * p + 1));
		rx_desc[p] = tx_desc[p] = 0;
	}
	fake_ring_layout(&ctr, &h.fm, QS, 0x9000);
	h_queue_setup(&h, 4, &ctr, 4);
	ct_desc = 0;
	/* As if the driver had set both pairs active: frames reach pair 1 too. */
	__atomic_store_n(&n.active_pairs, 2, __ATOMIC_RELEASE);
}

static void tx_frame(unsigned p, uint8_t flags, const uint8_t *d, size_t len)
{
	struct fake_seg s[8];
	unsigned ns = 0, splits = flags & 7;
	uint64_t at = TXBUF + p * 0x80000;
	size_t off = 0;

	if (len > TXMAX)
		len = TXMAX;
	if (len > 0x80000 - 0x1000)
		len = 0x80000 - 0x1000;
	fake_write(&h.fm, at, d, len);
	while (ns < splits && off + 1 < len) {
		size_t l = 1 + d[ns] % 24u;

		if (off + l >= len)
			break;
		s[ns++] = (struct fake_seg){ at + off, (uint32_t)l, false };
		off += l;
	}
	s[ns++] = (struct fake_seg){ at + off, (uint32_t)(len > off ? len - off : 1), false };
	if (flags & 8)
		s[ns - 1].write = true;
	fake_avail_push(&txr[p], fake_chain(&txr[p], tx_desc[p], s, ns));
	tx_desc[p] = (uint16_t)((tx_desc[p] + ns) % QS);
	notify(2 * p + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	unsigned steps = 0;

	if (size < 1)
		return 0;
	setup(*p++);
	while (p < end && steps++ < 64 && !n.vdev.failed) {
		uint8_t cmd = *p++;
		unsigned pair = (cmd >> 4) & 1;
		size_t left = (size_t)(end - p);

		switch (cmd % 5) {
		case 0: {
			uint8_t flags;
			size_t len;

			if (left < 3)
				return 0;
			flags = p[0];
			len = (size_t)(p[1] | p[2] << 8);
			p += 3;
			left -= 3;
			if (len > left)
				len = left;
			tx_frame(pair, flags, p, len);
			p += len;
			break;
		}
		case 1: {
			unsigned count;
			uint32_t sz;

			if (left < 2)
				return 0;
			count = p[0] % 8;
			sz = p[1] ? p[1] * 16u : 4u;
			if (sz > RXSZ)
				sz = RXSZ;
			p += 2;
			for (unsigned i = 0; i < count; i++) {
				uint16_t d = rx_desc[pair]++ % QS;

				rx_size[pair][d] = sz;
				fake_avail_push(&rxr[pair], fake_chain(&rxr[pair], d, (struct fake_seg[]){
					{ RXBUF + pair * 0x80000 + d * RXSZ, sz, true } }, 1));
			}
			notify(2 * pair);
			break;
		}
		case 2: {
			size_t len;

			if (left < 2)
				return 0;
			len = (size_t)(p[0] | p[1] << 8);
			p += 2;
			left -= 2;
			/* Long frames are mostly padding: the stage keeps whatever was there. */
			fb.frame[pair] = p;
			fb.len[pair] = len;
			if (len > left)
				len = left;
			fb.have[pair] = len;
			p += len;
			notify(2 * pair);
			break;
		}
		case 3: {
			uint8_t flags, ack = 0x55;
			size_t len;
			struct fake_seg s[2];
			unsigned ns = 0;
			uint32_t id;

			if (left < 2)
				return 0;
			flags = p[0];
			len = p[1];
			p += 2;
			left -= 2;
			if (len > left)
				len = left;
			fake_write(&h.fm, CTRLBUF, p, len);
			p += len;
			s[ns++] = (struct fake_seg){ CTRLBUF, (uint32_t)(len ? len : 1), false };
			fake_write(&h.fm, CTRLBUF + 0x1000, &ack, 1);
			if (!(flags & 1))
				s[ns++] = (struct fake_seg){ CTRLBUF + 0x1000, 1, true };
			fake_avail_push(&ctr, fake_chain(&ctr, ct_desc, s, ns));
			ct_desc = (uint16_t)((ct_desc + ns) % QS);
			notify(4);
			if (!(flags & 1) && fake_used_next(&ctr, &id, NULL)) {
				fake_read(&h.fm, CTRLBUF + 0x1000, &ack, 1);
				if (ack != VIRTIO_NET_OK && ack != VIRTIO_NET_ERR)
					abort();
			}
			break;
		}
		case 4:
			if (left < 1)
				return 0;
			fb.busy = *p & 1;
			fb.gone = *p & 2;
			p++;
			notify(1);
			notify(3);
			break;
		}
		check_rx(0);
		check_rx(1);
	}
	return 0;
}
