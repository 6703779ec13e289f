/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: virtio-vsock with a hostile guest driver.
 *
 * The device sits on the native harness (fake guest memory with guard
 * pages, PCI accesses as a guest makes them). Its queues are enabled but
 * DRIVER_OK is never set, so the transport's worker never starts: this
 * target calls the device's queue_notify itself, synchronously, as the
 * worker would (deterministic, no threads). A listener on host port 1024
 * accepts or refuses by the guest port's parity.
 *
 * Input: records, each starting with a command byte:
 *	0  tx packet: [flags][u16 n][n bytes: header + payload]; flags bit 0
 *	   forces the CIDs right, bit 1 folds the ports onto 1024/1025 and
 *	   guest ports 0..3 (so packets meet connections), bits 2-4 split
 *	   the header over that many extra descriptors, bit 5 makes the last
 *	   segment writable, bit 6 lets len be whatever the bytes say (else
 *	   it is set to the payload length)
 *	1  post rx buffers: [count][size byte] (size 0: 16 bytes, too small)
 *	2  vsock_send() on the last connection: [u16 n]
 *	3  vsock_close() on the last connection
 *	4  vsock_connect() to guest port [byte & 3]
 *	5  vsock_consumed() [u16 n]
 *	6  post an event buffer: [writable byte]
 * Checks: no crash (ASan, guard pages), every rx packet's used length is
 * header + len and fits the buffer, its CIDs are host -> guest, and no
 * callback arrives after closed().
 */
#include <endian.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "devices/virtio-vsock.h"
/* The fuzz build links only vmm/, devices/ and firmware/: take the harness
 * and fake memory (no Check inside) into this target directly. */
#include "tests/unit/fakemem.c"
#include "tests/unit/harness.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEM (4u << 20)
#define CID 3
#define QS 16
#define RXBUF 0x100000ULL
#define RXSZ 0x1000u
#define TXBUF 0x200000ULL
#define TXMAX (VSOCK_MAX_PAYLOAD + 4096)
#define VERSION_1 (1ULL << VIRTIO_F_VERSION_1)

static struct harness h;
static struct virtio_vsock v;
static struct fake_ring rxr, txr, evr;
static uint16_t rx_desc, ev_desc, tx_desc;
static bool ready;

struct fconn {
	struct vsock_conn *c;
	bool open;
};
static struct fconn conns[VSOCK_MAX_CONNS + 8];
static unsigned nfc;
static struct vsock_conn *last;
static uint8_t sink;

static struct fconn *fc_new(struct vsock_conn *c)
{
	struct fconn *f = &conns[nfc++ % (sizeof(conns) / sizeof(conns[0]))];

	f->c = c;
	f->open = true;
	last = c;
	return f;
}

static void *f_accept(void *ctx, struct vsock_conn *c, uint32_t guest_port)
{
	(void)ctx;
	if (guest_port & 1)
		return NULL;
	return fc_new(c);
}

static void f_recv(void *cctx, const uint8_t *buf, size_t len)
{
	struct fconn *f = cctx;

	if (!f->open || len > VSOCK_MAX_PAYLOAD)
		abort();
	if (len)
		sink ^= buf[0] ^ buf[len - 1];
}

static void f_closed(void *cctx)
{
	struct fconn *f = cctx;

	if (!f->open)
		abort();
	f->open = false;
	if (last == f->c)
		last = NULL;
}

static void f_event(void *cctx)
{
	struct fconn *f = cctx;

	if (!f->open)
		abort();
}

static const struct vsock_listener_ops f_ops = {
	.accept = f_accept, .recv = f_recv, .closed = f_closed, .connected = f_event, .writable = f_event,
};

static void notify(unsigned q)
{
	if (v.vdev.failed)
		return;
	if (v.vdev.ops->queue_notify(&v.vdev, q) < 0)
		virtio_dev_fail(&v.vdev, "queue %u: request rejected", q);
}

/* Read back what the device completed on rx and check it. */
static void check_rx(void)
{
	uint32_t id, len;

	while (fake_used_next(&rxr, &id, &len)) {
		struct virtio_vsock_hdr hd;

		if (id >= QS || len < sizeof(hd) || len > RXSZ)
			abort();
		fake_read(&h.fm, RXBUF + id * RXSZ, &hd, sizeof(hd));
		if (le32toh(hd.len) != len - sizeof(hd) || le64toh(hd.src_cid) != VSOCK_HOST_CID ||
		    le64toh(hd.dst_cid) != CID)
			abort();
	}
}

static void setup(void)
{
	if (!ready) {
		h_init(&h, MEM);
		if (virtio_vsock_init(&v, &h.plat, &h.fm.all, CID) || vsock_listen(&v, 1024, &f_ops, NULL))
			abort();
		h_plug(&h, &v.vdev);
		ready = true;
	}
	/* A reset (drops every connection with closed()), then fresh rings. */
	if (!h_negotiate(&h, VERSION_1))
		abort();
	for (unsigned i = 0; i < sizeof(conns) / sizeof(conns[0]); i++)
		if (conns[i].open)
			abort(); /* the reset must have closed it */
	nfc = 0;
	last = NULL;
	fake_ring_layout(&rxr, &h.fm, QS, 0x1000);
	fake_ring_layout(&txr, &h.fm, QS, 0x2000);
	fake_ring_layout(&evr, &h.fm, QS, 0x3000);
	h_queue_setup(&h, 0, &rxr, 0);
	h_queue_setup(&h, 1, &txr, 1);
	h_queue_setup(&h, 2, &evr, 2);
	rx_desc = ev_desc = tx_desc = 0;
}

static void tx_packet(uint8_t flags, const uint8_t *p, size_t n)
{
	struct fake_seg s[8];
	unsigned nseg = 0, splits = (flags >> 2) & 7;
	uint32_t off = 0;
	uint8_t buf[sizeof(struct virtio_vsock_hdr)];
	struct virtio_vsock_hdr hd;

	if (n > TXMAX)
		n = TXMAX;
	fake_write(&h.fm, TXBUF, p, n);
	if (n >= sizeof(hd)) {
		memcpy(&hd, p, sizeof(hd));
		if (flags & 1) {
			hd.src_cid = htole64(CID);
			hd.dst_cid = htole64(VSOCK_HOST_CID);
		}
		if (flags & 2) {
			hd.src_port = htole32(le32toh(hd.src_port) & 3);
			hd.dst_port = htole32(1024 + (le32toh(hd.dst_port) & 1));
		}
		if (!(flags & 0x40))
			hd.len = htole32((uint32_t)(n - sizeof(hd)));
		memcpy(buf, &hd, sizeof(hd));
		fake_write(&h.fm, TXBUF, buf, sizeof(buf));
	}
	/* Split the first bytes into 1-byte-ish pieces, then the rest in one segment. */
	while (nseg < splits && off + 1 < n) {
		uint32_t l = 1 + (uint32_t)(p[nseg] % 16);

		if (off + l >= n)
			break;
		s[nseg++] = (struct fake_seg){ TXBUF + off, l, false };
		off += l;
	}
	if (off < n || nseg == 0)
		s[nseg++] = (struct fake_seg){ TXBUF + off, (uint32_t)(n > off ? n - off : 1), false };
	if (flags & 0x20)
		s[nseg - 1].write = true;
	fake_avail_push(&txr, fake_chain(&txr, tx_desc, s, nseg));
	tx_desc = (uint16_t)((tx_desc + nseg) % QS);
	notify(1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	unsigned steps = 0;

	setup();
	while (p < end && steps++ < 64 && !v.vdev.failed) {
		uint8_t cmd = *p++;
		size_t left = (size_t)(end - p);

		switch (cmd % 7) {
		case 0: {
			uint8_t flags;
			size_t n;

			if (left < 3)
				return 0;
			flags = p[0];
			n = (size_t)(p[1] | p[2] << 8);
			p += 3;
			left -= 3;
			if (n > left)
				n = left;
			tx_packet(flags, p, n);
			p += n;
			break;
		}
		case 1: {
			unsigned count, sz;

			if (left < 2)
				return 0;
			count = p[0] % 8;
			sz = p[1] ? p[1] * 16u : 16u;
			p += 2;
			for (unsigned i = 0; i < count; i++) {
				uint16_t d = rx_desc++ % QS;

				fake_avail_push(&rxr, fake_chain(&rxr, d, (struct fake_seg[]){
					{ RXBUF + d * RXSZ, sz < RXSZ ? sz : RXSZ, true } }, 1));
			}
			notify(0);
			break;
		}
		case 2: {
			static uint8_t junk[65536];
			size_t n;

			if (left < 2)
				return 0;
			n = (size_t)(p[0] | p[1] << 8);
			p += 2;
			if (last)
				(void)vsock_send(last, junk, n);
			notify(0);
			break;
		}
		case 3:
			if (last)
				vsock_close(last);
			notify(0);
			break;
		case 4: {
			struct vsock_conn *c;
			struct fconn *f;

			if (left < 1)
				return 0;
			f = fc_new(NULL);
			if (vsock_connect(&v, *p++ & 3, &f_ops, f, &c) == 0)
				last = f->c = c;
			else
				f->open = false;
			notify(0);
			break;
		}
		case 5: {
			if (left < 2)
				return 0;
			if (last)
				vsock_consumed(last, (size_t)(p[0] | p[1] << 8));
			p += 2;
			notify(0);
			break;
		}
		case 6: {
			uint16_t d = ev_desc++ % QS;

			if (left < 1)
				return 0;
			fake_avail_push(&evr, fake_chain(&evr, d, (struct fake_seg[]){
				{ 0x300000 + d * 16u, 4, *p++ & 1 } }, 1));
			notify(2);
			break;
		}
		}
		check_rx();
	}
	return 0;
}
