/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the init channel, statefully, at two depths.
 *
 * 1. The stream parser alone (vmm/initchan.c), one parser per input on the
 *    heap (ASan sees a write past it), fed header after header, message
 *    after message, garbage after an error, in chunks.
 * 2. The monitor's end of the channel (vmm/handshake.c) on a real
 *    virtio-vsock device driven by a hostile guest (tests/fuzz/vsockdrv:
 *    aperture view, RAM outside it PROT_NONE, no threads): guests connect
 *    to port 1024 from any port, send headers, messages and floods, post rx
 *    buffers or withhold them, shut down, reset the device; the sequence
 *    goes on after every refusal.
 *
 * Input: [config] then records, an op byte (modulo 15) and its arguments.
 * config: bits 0-1 the DMA mode (aperture, shared, direct), bit 2
 * --require-aperture.
 *	parser: 0 FEED [u16 n][n bytes]   1 HDR [sel]   2 MSG [idx][mut][pos]
 *	        3 FILL [k]: (k+1) KiB     4 RESET (a new parser)
 *	guest:  5 CONNECT [port]          6 RAW [conn][u16 n][n bytes]
 *	        7 HDR [conn][sel]         8 MSG [conn][idx][mut][pos]
 *	        9 FILL [conn][k]: (k+1) KiB in RW packets of up to 64 KiB
 *	        10 POST_RX [count]        11 SHUT [conn][how]
 *	        12 CREDIT [conn]          13 RESET (device)   14 NOTIFY [q]
 * HDR: a 40-byte FDT header, totalsize from a table (0, 39, 40, 41, 72,
 * 64 KiB, 64 KiB + 1, 4 GiB - 1), sel bit 3 breaks the magic. MSG: a valid
 * message (guest-capabilities, boot-mark, exit-status 0/7/300,
 * devices-ready, an unknown one, one without `message`), mut 0 whole, 1 cut
 * short, 2 one byte flipped, 3 in 1..7-byte chunks.
 *
 * Invariants (abort = finding):
 *	- a parser error is sticky: once initchan_feed() failed, every later
 *	  feed fails and no message comes out; the parser never holds more
 *	  than INITCHAN_MAX_MSG bytes;
 *	- the handshake's parsers never hold more than INITCHAN_MAX_MSG bytes,
 *	  its slots point at itself and at live connections of the device;
 *	- a connection that sent one malformed message is dead for input: no
 *	  second malformed message and no message handled from it;
 *	- only privileged guest ports (< 1024) hold a slot, and only they can
 *	  set the guest's exit status;
 *	- the vsock checks of vsockdrv (rx packets, nothing outside the
 *	  aperture), and no eventfd or thread left behind by an input.
 */
#include <endian.h>
#include <libfdt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "lib/log.h"
#include "tests/fuzz/vsockdrv.h"
#include "vmm/devmgr.h"
#include "vmm/handshake.h"
#include "vmm/initchan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NMSG 8
#define NGC 8

static struct vdrv d;
static struct vm vm;
static struct devmgr dm;
static struct handshake hs;
static struct vmm_config cfg;
static uint8_t msgs[NMSG][512];
static size_t msglen[NMSG];

/* The guest's view of its connections. */
struct gconn {
	uint32_t port;
	bool used;
};
static struct gconn gc[NGC];
static unsigned ngc;
/* Connections that sent a malformed message, and what their parser held then. */
struct errored {
	const void *c;
	size_t len;
};
static struct errored errored[64];
static unsigned nerrored;

/* ---- messages ---- */

static size_t build(uint8_t *buf, const char *name, int kind)
{
	int r = fdt_create(buf, 512);

	r = r ? r : fdt_finish_reservemap(buf);
	r = r ? r : fdt_begin_node(buf, "");
	if (name)
		r = r ? r : fdt_property_string(buf, "message", name);
	switch (kind) {
	case 0: /* guest-capabilities */
		r = r ? r : fdt_property_u64(buf, "swiotlb-base", 0x100000);
		r = r ? r : fdt_property_u64(buf, "swiotlb-size", 0x200000);
		r = r ? r : fdt_property_string(buf, "kernel-release", "6.12.0-fuzz\x1b[2J");
		r = r ? r : fdt_property_string(buf, "init-version", "1");
		break;
	case 1:
		r = r ? r : fdt_property_string(buf, "mark", "userspace\r\x1b]0;x\a");
		break;
	case 2:
		r = r ? r : fdt_property_u32(buf, "status", 7);
		break;
	case 3:
		r = r ? r : fdt_property_u32(buf, "status", 0);
		break;
	case 4:
		r = r ? r : fdt_property_u32(buf, "status", 300);
		break;
	case 5:
		r = r ? r : fdt_begin_node(buf, "device@1");
		r = r ? r : fdt_property_string(buf, "kind", "virtio-rng");
		r = r ? r : fdt_end_node(buf);
		break;
	default:
		r = r ? r : fdt_property_u32(buf, "whatever", 1);
		break;
	}
	r = r ? r : fdt_end_node(buf);
	r = r ? r : fdt_finish(buf);
	if (r)
		abort();
	return fdt_totalsize(buf);
}

static void build_msgs(void)
{
	static const char *const names[NMSG] = {
		"guest-capabilities", "boot-mark", "exit-status", "exit-status", "exit-status", "devices-ready",
		"no-such-message", NULL,
	};

	for (int i = 0; i < NMSG; i++)
		msglen[i] = build(msgs[i], names[i], i);
}

static const uint32_t totals[8] = { 0, 39, 40, 41, 72, INITCHAN_MAX_MSG, INITCHAN_MAX_MSG + 1, 0xFFFFFFFFu };

static void make_hdr(uint8_t *h, uint8_t sel)
{
	memset(h, 0, sizeof(struct fdt_header));
	fdt_set_magic(h, sel & 8 ? 0xd00dfeedu : FDT_MAGIC);
	fdt_set_totalsize(h, totals[sel & 7]);
	fdt_set_version(h, 17);
	fdt_set_last_comp_version(h, 16);
}

/*
 * A message, mutated: the bytes to send into out (returns their count) and
 * the chunk size to send them in (0: all at once).
 */
static size_t make_msg(uint8_t *out, uint8_t idx, uint8_t mut, uint8_t pos, unsigned *chunk)
{
	size_t n = msglen[idx % NMSG];

	memcpy(out, msgs[idx % NMSG], n);
	*chunk = 0;
	switch (mut % 4) {
	case 1:
		n = n * pos / 256;
		break;
	case 2:
		out[n * pos / 256] ^= (uint8_t)(1u << (mut >> 5));
		break;
	case 3:
		*chunk = 1 + (mut >> 2) % 7;
		break;
	}
	return n;
}

/* ---- the parser alone ---- */

struct raw {
	struct initchan_parser *p;
	bool failed;
	unsigned msgs;
};

static void raw_cb(void *ctx, const struct initchan_msg *m)
{
	struct raw *r = ctx;

	VDRV_CHECK(!r->failed, "parser: message '%s' handed out after a parser error", m->name);
	VDRV_CHECK(m->type != MSG_EXIT_STATUS || m->status <= 255, "parser: exit status %u", m->status);
	r->msgs++;
}

static void raw_feed(struct raw *r, const uint8_t *buf, size_t n, unsigned chunk)
{
	char err[256];

	while (n) {
		size_t k = chunk && chunk < n ? chunk : n;
		int e = initchan_feed(r->p, buf, k, raw_cb, r, err, sizeof(err));

		VDRV_CHECK(r->p->len <= INITCHAN_MAX_MSG, "parser holds %zu bytes", r->p->len);
		if (r->failed)
			VDRV_CHECK(e < 0, "parser: %zu bytes accepted after a parser error", k);
		if (e < 0)
			r->failed = true;
		buf += k;
		n -= k;
	}
}

/* ---- the guest ---- */

static struct gconn *gc_pick(uint8_t k)
{
	return ngc ? &gc[k % ngc] : NULL;
}

/* The handshake slot of the device connection from guest port `port`, or NULL. */
static const void *hs_conn_of(uint32_t port)
{
	for (unsigned i = 0; i < HANDSHAKE_MAX_CONNS; i++)
		if (hs.conns[i].conn && vsock_conn_guest_port(hs.conns[i].conn) == port)
			return hs.conns[i].conn;
	return NULL;
}

static bool is_errored(const void *c)
{
	for (unsigned i = 0; i < nerrored; i++)
		if (errored[i].c == c)
			return true;
	return false;
}

static const struct hs_conn *slot_of(const void *c)
{
	for (unsigned i = 0; i < HANDSHAKE_MAX_CONNS; i++)
		if (c && hs.conns[i].conn == c)
			return &hs.conns[i];
	return NULL;
}

static void check_handshake(void);

/*
 * Send payload bytes on g as RW packets (chunk: bytes per packet, 0: up to
 * 64 KiB) and check what the monitor made of them.
 */
static void g_send(struct gconn *g, const uint8_t *buf, size_t n, unsigned chunk)
{
	const void *c = hs_conn_of(g->port);
	unsigned malformed = hs.malformed;
	int status = __atomic_load_n(&vm.guest_status, __ATOMIC_ACQUIRE);
	bool was_errored = c && is_errored(c);

	while (n) {
		size_t k = n < VSOCK_MAX_PAYLOAD ? n : VSOCK_MAX_PAYLOAD;

		if (chunk && chunk < k)
			k = chunk;
		vdrv_tx_pkt(&d, g->port, INITCHAN_PORT, VIRTIO_VSOCK_OP_RW, 0, VSOCK_BUF_ALLOC, 0, buf, (uint32_t)k);
		buf += k;
		n -= k;
		check_handshake(); /* after each packet: the parser may have run over */
	}
	if (hs.malformed != malformed) {
		const struct hs_conn *hc = slot_of(c);

		VDRV_CHECK(c, "malformed message counted for a connection without a slot (port %u)", g->port);
		VDRV_CHECK(!was_errored && hs.malformed == malformed + 1,
			   "a connection that sent a malformed message took more input (port %u, %u more malformed)",
			   g->port, hs.malformed - malformed);
		if (nerrored < sizeof(errored) / sizeof(errored[0]))
			errored[nerrored++] = (struct errored){ c, hc ? hc->parser.len : 0 };
	}
	if (__atomic_load_n(&vm.guest_status, __ATOMIC_ACQUIRE) != status) {
		VDRV_CHECK(g->port < 1024, "exit status %d set from unprivileged guest port %u", vm.guest_status,
			   g->port);
		VDRV_CHECK(!was_errored, "exit status %d taken from a connection after its malformed message",
			   vm.guest_status);
	}
}

static void check_handshake(void)
{
	struct virtio_vsock *v = &dm.vsock;

	for (unsigned i = 0; i < HANDSHAKE_MAX_CONNS; i++) {
		struct hs_conn *hc = &hs.conns[i];
		bool live = false;

		VDRV_CHECK(hc->parser.len <= INITCHAN_MAX_MSG, "handshake slot %u: parser holds %zu bytes", i,
			   hc->parser.len);
		VDRV_CHECK(!hc->hs || hc->hs == &hs, "handshake slot %u: hs = %p", i, (void *)hc->hs);
		if (!hc->conn)
			continue;
		for (unsigned k = 0; k < VSOCK_MAX_CONNS && !live; k++)
			live = v->conns[k] == hc->conn;
		VDRV_CHECK(live, "handshake slot %u: conn %p is no connection of the device", i, (void *)hc->conn);
		VDRV_CHECK(vsock_conn_guest_port(hc->conn) < 1024, "handshake slot %u: unprivileged guest port %u",
			   i, vsock_conn_guest_port(hc->conn));
	}
	/*
	 * A connection refused for a malformed message is dead for input: its
	 * parser takes no more bytes. Forget those that are gone (their memory
	 * may be reused).
	 */
	for (unsigned k = 0; k < nerrored;) {
		const struct hs_conn *hc = slot_of(errored[k].c);

		if (hc) {
			VDRV_CHECK(hc->parser.len == errored[k].len,
				   "the parser of a connection refused for a malformed message took %zd more bytes",
				   (ssize_t)(hc->parser.len - errored[k].len));
			k++;
		} else {
			errored[k] = errored[--nerrored];
		}
	}
}

static void drain_rx(void)
{
	struct virtio_vsock_hdr h;

	while (vdrv_rx_next(&d, &h, NULL, 0))
		;
}

static const uint32_t gports[8] = { 1, 2, 3, 1023, 1024, 2000, 50000, 0 };

static uint16_t u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void setup(uint8_t config)
{
	static bool again;

	if (again) {
		pthread_mutex_destroy(&dm.pci.lock);
		pthread_mutex_destroy(&hs.lock);
	}
	again = true;
	memset(&vm.pio, 0, sizeof(vm.pio));
	memset(&vm.mmio, 0, sizeof(vm.mmio));
	vm.guest_status = -1;
	memset(&cfg, 0, sizeof(cfg));
	cfg.cpus = 1;
	cfg.dma = (enum dma_mode)(config % 3);
	cfg.require_aperture = config & 4;
	if (devmgr_init(&dm, &vm, false, NULL, NULL))
		abort();
	vdrv_dev_init(&d, &dm.vsock, true);
	dm.have_vsock = true;
	if (handshake_init(&hs, &dm, &vm, &cfg))
		abort();
	memset(gc, 0, sizeof(gc));
	ngc = 0;
	nerrored = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	static int efds, threads;
	static uint8_t buf[INITCHAN_MAX_MSG + 8];
	const uint8_t *p = data, *end = data + size;
	struct raw raw = { 0 };
	unsigned steps = 0;

	if (!ready) {
		log_set_quiet(true);
		build_msgs();
		vdrv_mem_init(&d);
		vm.mem = d.h.fm.mem;
		efds = vdrv_count_eventfds();
		threads = vdrv_count_threads();
		ready = true;
	}
	if (size < 1)
		return 0;
	setup(*p++);
	raw.p = malloc(sizeof(*raw.p));
	if (!raw.p)
		abort();
	initchan_parser_init(raw.p);

	while (p < end && steps++ < 256) {
		uint8_t op = *p++;
		size_t left = (size_t)(end - p);
		struct gconn *g;
		unsigned chunk;
		size_t n;

		switch (op % 15) {
		case 0: /* parser FEED */
			if (left < 2)
				goto out;
			n = u16(p);
			if (n > left - 2)
				n = left - 2;
			raw_feed(&raw, p + 2, n, 0);
			p += 2 + n;
			break;
		case 1: /* parser HDR */
			if (left < 1)
				goto out;
			make_hdr(buf, *p++);
			raw_feed(&raw, buf, sizeof(struct fdt_header), 0);
			break;
		case 2: /* parser MSG */
			if (left < 3)
				goto out;
			n = make_msg(buf, p[0], p[1], p[2], &chunk);
			raw_feed(&raw, buf, n, chunk);
			p += 3;
			break;
		case 3: /* parser FILL */
			if (left < 1)
				goto out;
			memset(buf, 'A', sizeof(buf));
			for (size_t total = ((size_t)*p + 1) * 1024; total;) {
				n = total < sizeof(buf) ? total : sizeof(buf);
				raw_feed(&raw, buf, n, 0);
				total -= n;
			}
			p++;
			break;
		case 4: /* parser RESET: a new connection's parser */
			initchan_parser_init(raw.p);
			raw.failed = false;
			break;
		case 5: /* guest CONNECT */
			if (left < 1)
				goto out;
			g = ngc < NGC ? &gc[ngc++] : &gc[*p % NGC];
			g->port = gports[*p++ & 7];
			g->used = true;
			vdrv_tx_pkt(&d, g->port, INITCHAN_PORT, VIRTIO_VSOCK_OP_REQUEST, 0, VSOCK_BUF_ALLOC, 0, NULL, 0);
			break;
		case 6: /* guest RAW */
			if (left < 3)
				goto out;
			g = gc_pick(p[0]);
			n = u16(p + 1);
			if (n > left - 3)
				n = left - 3;
			if (g)
				g_send(g, p + 3, n, 0);
			p += 3 + n;
			break;
		case 7: /* guest HDR */
			if (left < 2)
				goto out;
			g = gc_pick(p[0]);
			make_hdr(buf, p[1]);
			if (g)
				g_send(g, buf, sizeof(struct fdt_header), 0);
			p += 2;
			break;
		case 8: /* guest MSG */
			if (left < 4)
				goto out;
			g = gc_pick(p[0]);
			n = make_msg(buf, p[1], p[2], p[3], &chunk);
			if (g)
				g_send(g, buf, n, chunk);
			p += 4;
			break;
		case 9: /* guest FILL: send more */
			if (left < 2)
				goto out;
			g = gc_pick(p[0]);
			n = ((size_t)p[1] + 1) * 1024;
			if (n > sizeof(buf))
				n = sizeof(buf);
			memset(buf, 'A', n);
			if (g) {
				size_t total = ((size_t)p[1] + 1) * 1024;

				while (total) {
					size_t k = total < n ? total : n;

					g_send(g, buf, k, 0);
					total -= k;
				}
			}
			p += 2;
			break;
		case 10: /* POST_RX */
			if (left < 1)
				goto out;
			vdrv_post_rx(&d, *p++ % 8, VDRV_RXSZ);
			break;
		case 11: /* SHUT */
			if (left < 2)
				goto out;
			g = gc_pick(p[0]);
			if (g) {
				if (p[1] % 3 == 2)
					vdrv_tx_pkt(&d, g->port, INITCHAN_PORT, VIRTIO_VSOCK_OP_RST, 0, VSOCK_BUF_ALLOC, 0,
						    NULL, 0);
				else
					vdrv_tx_pkt(&d, g->port, INITCHAN_PORT, VIRTIO_VSOCK_OP_SHUTDOWN, 1 + p[1] % 3,
						    VSOCK_BUF_ALLOC, 0, NULL, 0);
			}
			p += 2;
			break;
		case 12: /* CREDIT */
			if (left < 1)
				goto out;
			g = gc_pick(*p++);
			if (g)
				vdrv_tx_pkt(&d, g->port, INITCHAN_PORT, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0,
					    VSOCK_BUF_ALLOC, 0, NULL, 0);
			break;
		case 13: /* device RESET */
			VDRV_CHECK(vdrv_start(&d), "FEATURES_OK refused after a reset");
			for (unsigned i = 0; i < HANDSHAKE_MAX_CONNS; i++)
				VDRV_CHECK(!hs.conns[i].conn, "handshake slot %u still held after a device reset", i);
			break;
		case 14: /* NOTIFY */
			if (left < 1)
				goto out;
			vdrv_notify(&d, *p++ % 3);
			break;
		}
		drain_rx();
		check_handshake();
	}
out:
	free(raw.p);
	devmgr_destroy(&dm);
	d.v = NULL;
	for (unsigned i = 0; i < HANDSHAKE_MAX_CONNS; i++)
		VDRV_CHECK(!hs.conns[i].conn, "handshake slot %u still held after the device was destroyed", i);
	VDRV_CHECK(vdrv_count_eventfds() == efds, "eventfds: %d, %d before", vdrv_count_eventfds(), efds);
	int settled = vdrv_threads_settle(threads);
	VDRV_CHECK(settled == threads, "threads: %d, %d before", settled, threads);
	return 0;
}
