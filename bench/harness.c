/* SPDX-License-Identifier: MIT */
/*
 * bench-harness: what the monitor's own code costs, without a guest kernel.
 * The native virtio harness (tests/unit/harness.h) is the driver, in this
 * process, on fake guest memory; so none of these figures depends on how
 * fast the host runs a guest kernel (on hosts that emulate guest kernel
 * mode, the guest-side figures of bench/run do). Each figure is printed as
 * one JSON line on stdout; bench/run collects them.
 *
 *   bench-harness [--seconds S] [--file-mb N] [--only chains|fuse|net]
 *
 * Figures:
 *   chains   the checked chain iterator alone (vq_pop + vq_push, one thread
 *            playing driver and device): chains per second, for a 2-segment
 *            direct chain and a 4-segment indirect one.
 *   fuse     FUSE READ and WRITE of 4 KiB and 1 MiB on one file of a share,
 *            MB/s and requests/s in total and per request queue, with 8
 *            requests in flight per queue, through:
 *              server      fuse_pt_handle() called directly (no virtio);
 *              in-process  the virtio-fs device in this process, behind its
 *                          aperture (vmm --isolate none);
 *              vhost-user  the device served by a vhost-user back end on a
 *                          thread of its own, the front end in between
 *                          (vmm --isolate process, without the process
 *                          boundary);
 *            and the host's own pread/pwrite of the same file and size, one
 *            thread: the physical limit.
 *   net      virtio-net transmit and receive of 1514-byte frames through
 *            the passt back end's framing on a socketpair (a thread here
 *            plays passt), frames per second; the native limit is the same
 *            framing written straight to the socketpair. Only when the
 *            build has virtio-net.
 *
 * Exit status 0 when every figure was produced, 1 when one could not be
 * (a device that failed, a request with an error reply, a stall of 10 s).
 * Speeds are never judged here.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/fuse.h>
#include <linux/virtio_fs.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "devices/vhost-user-backend.h"
#include "devices/vhost-user-frontend.h"
#include "devices/virtio-fs.h"
#include "tests/unit/harness.h"

#if __has_include("devices/virtio-net.h")
#include "devices/virtio-net.h"
#define HAVE_VIRTIO_NET 1
#endif

#define STALL_NS (10ULL * 1000000000ULL)

static double opt_seconds = 1.0;
static unsigned opt_file_mb = 32;
static int failures;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bench-harness: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	failures++;
}

static void die(const char *what)
{
	fprintf(stderr, "bench-harness: %s\n", what);
	exit(1);
}

/* One JSON line: {"bench":"harness","figure":FIGURE, <fields>}. */
static void emit(const char *figure, const char *fields, ...) __attribute__((format(printf, 2, 3)));
static void emit(const char *figure, const char *fields, ...)
{
	va_list ap;

	printf("{\"bench\":\"harness\",\"figure\":\"%s\",", figure);
	va_start(ap, fields);
	vprintf(fields, ap);
	va_end(ap);
	printf("}\n");
	fflush(stdout);
}

/* ---- chains: the checked iterator alone ---- */

static void bench_chains(bool indirect)
{
	enum { N = 256 };
	const uint64_t ring = 0x1000, tables = 0x10000, bufs = 0x20000;
	struct fakemem fm;
	struct fake_ring r;
	struct vq q;
	struct vq_chain *c = malloc(sizeof(*c));
	uint16_t heads[N];
	unsigned inflight = indirect ? N : N / 2;
	uint64_t chains = 0, busy_ns = 0, t_end;
	uint32_t id;

	if (!c)
		die("out of memory");
	fakemem_init_simple(&fm, 4u << 20);
	fake_ring_layout(&r, &fm, N, ring);
	if (fake_ring_enable(&r, &q, &fm.all, false))
		die("vq_enable");
	for (unsigned i = 0; i < inflight; i++) {
		uint64_t b = bufs + (uint64_t)i * 8192;

		if (indirect) {
			fake_indirect(&fm, tables + 64u * i,
				      (struct fake_seg[]){ { b, 64, false }, { b + 64, 64, false },
							   { b + 128, 4096 - 128, true }, { b + 4096, 4096, true } },
				      4);
			fake_desc(&r, (uint16_t)i, tables + 64u * i, 64, VRING_DESC_F_INDIRECT, 0);
			heads[i] = (uint16_t)i;
		} else {
			heads[i] = fake_chain(&r, (uint16_t)(2 * i),
					      (struct fake_seg[]){ { b, 64, false }, { b + 4096, 4096, true } }, 2);
		}
	}
	t_end = now_ns() + (uint64_t)(opt_seconds * 1e9);
	while (now_ns() < t_end) {
		uint64_t t0;
		int rc;

		for (unsigned i = 0; i < inflight; i++)
			fake_avail_push(&r, heads[i]);
		t0 = now_ns();
		while ((rc = vq_pop(&q, c)) > 0) {
			if (vq_push(&q, c->head, c->in_len))
				die("vq_push");
			chains++;
		}
		busy_ns += now_ns() - t0;
		if (rc < 0)
			die(q.why);
		while (fake_used_next(&r, &id, NULL))
			;
	}
	emit("chains", "\"variant\":\"%s\",\"segments\":%d,\"chains\":%llu,\"seconds\":%.3f,\"chains_per_s\":%.0f",
	     indirect ? "indirect" : "direct", indirect ? 4 : 2, (unsigned long long)chains, busy_ns / 1e9,
	     busy_ns ? chains / (busy_ns / 1e9) : 0.0);
	fakemem_destroy(&fm);
	free(c);
}

/* ---- fuse: READ and WRITE through the server, the device, vhost-user ---- */

#define FS_MEM (80ULL << 20)
#define AP_BASE (16ULL << 20)
#define AP_SIZE (48ULL << 20)
#define DEPTH 8
#define MAXQ 2
#define RING_SIZE 64
#define HDR_AREA (AP_BASE + 0x80000)     /* 4 KiB per slot: request at +0, reply at +2048 */
#define DATA_AREA (AP_BASE + (2ULL << 20)) /* 1 MiB per slot */
#define MAX_BS (1u << 20)

enum fs_path { PATH_SERVER, PATH_INPROC, PATH_VHOST };
static const char *const path_names[] = { "server", "in-process", "vhost-user" };

struct fs_rig;

struct drv {
	struct fs_rig *rig;
	unsigned q;                 /* request queue 1..nreq */
	struct fake_ring r;
	uint64_t notify;            /* BAR offset of this queue's notify address */
	uint64_t ops, bytes, unique;
	uint64_t file_off;
	bool bad;
	pthread_t t;
};

struct fs_rig {
	struct harness h;
	enum fs_path path;
	unsigned nreq;
	struct virtio_fs fs;        /* in-process: the device; vhost-user: the back end's device */
	struct vhu_front front;
	struct virtio_dev_ops tmpl;
	struct vub back;
	struct gm_view back_view;
	pthread_t back_t;
	struct fake_ring hq;
	struct drv d[MAXQ];
	bool event_idx;
	/* the operation being measured */
	uint32_t opcode, bs;
	uint64_t nodeid, fh, file_size;
	bool stop;
};

static struct fs_rig rig;
static char share[256];

static void *back_thread(void *arg)
{
	struct fs_rig *g = arg;

	if (vub_serve(&g->back) < 0)
		fail("vhost-user back end: vub_serve failed");
	return NULL;
}

static void front_gone(void *ctx, struct vhu_front *f, const char *why)
{
	(void)ctx, (void)f;
	fail("vhost-user back end gone: %s", why);
}

static const struct vhu_front_ops front_cb = { .gone = front_gone };

static uint64_t hdr_gpa(unsigned q, unsigned slot)
{
	return HDR_AREA + ((uint64_t)(q - 1) * DEPTH + slot) * 4096;
}

static uint64_t data_gpa(unsigned q, unsigned slot)
{
	return DATA_AREA + ((uint64_t)(q - 1) * DEPTH + slot) * MAX_BS;
}

static void kick(struct drv *d, uint16_t old_idx)
{
	if (d->rig->event_idx && !vring_need_event(fake_avail_event(&d->r), d->r.avail_idx, old_idx))
		return;
	h_bar_write(&d->rig->h, d->notify, 2, d->q);
}

/* Write request `slot` of queue d (the current operation) and make it available. */
static void post(struct drv *d, unsigned slot)
{
	struct fs_rig *g = d->rig;
	uint64_t hdr = hdr_gpa(d->q, slot), data = data_gpa(d->q, slot);
	uint16_t first = (uint16_t)(3 * slot);
	struct {
		struct fuse_in_header h;
		union {
			struct fuse_read_in r;
			struct fuse_write_in w;
		} a;
	} req;
	size_t alen = g->opcode == FUSE_READ ? sizeof(req.a.r) : sizeof(req.a.w);

	memset(&req, 0, sizeof(req));
	req.h.opcode = g->opcode;
	req.h.unique = ++d->unique;
	req.h.nodeid = g->nodeid;
	if (g->opcode == FUSE_READ) {
		req.h.len = (uint32_t)(sizeof(req.h) + alen);
		req.a.r = (struct fuse_read_in){ .fh = g->fh, .offset = d->file_off, .size = g->bs };
	} else {
		req.h.len = (uint32_t)(sizeof(req.h) + alen + g->bs);
		req.a.w = (struct fuse_write_in){ .fh = g->fh, .offset = d->file_off, .size = g->bs };
	}
	d->file_off += g->bs;
	if (d->file_off + g->bs > g->file_size)
		d->file_off = 0;
	fake_write(&g->h.fm, hdr, &req, sizeof(req.h) + alen);
	if (g->opcode == FUSE_READ)
		fake_chain(&d->r, first,
			   (struct fake_seg[]){ { hdr, (uint32_t)(sizeof(req.h) + alen), false },
						{ hdr + 2048, sizeof(struct fuse_out_header), true },
						{ data, g->bs, true } },
			   3);
	else
		fake_chain(&d->r, first,
			   (struct fake_seg[]){ { hdr, (uint32_t)(sizeof(req.h) + alen), false },
						{ data, g->bs, false },
						{ hdr + 2048,
						  sizeof(struct fuse_out_header) + sizeof(struct fuse_write_out), true } },
			   3);
	fake_avail_push(&d->r, first);
}

/* Check the reply of chain `head`; true when it is the answer we want. */
static bool reply_ok(struct drv *d, uint32_t head, uint32_t len)
{
	struct fs_rig *g = d->rig;
	struct fuse_out_header oh;
	unsigned slot = head / 3;

	if (head % 3 || slot >= DEPTH)
		return false;
	fake_read(&g->h.fm, hdr_gpa(d->q, slot) + 2048, &oh, sizeof(oh));
	if (oh.error)
		return false;
	if (g->opcode == FUSE_READ)
		return len == sizeof(oh) + g->bs;
	return len == sizeof(oh) + sizeof(struct fuse_write_out);
}

static void *drv_thread(void *arg)
{
	struct drv *d = arg;
	uint64_t last = now_ns();
	unsigned inflight = DEPTH;

	{
		uint16_t old = d->r.avail_idx;

		for (unsigned s = 0; s < DEPTH; s++)
			post(d, s);
		kick(d, old);
	}
	while (inflight) {
		uint32_t id, len;
		uint16_t old = d->r.avail_idx;
		bool stop = __atomic_load_n(&d->rig->stop, __ATOMIC_ACQUIRE), any = false;

		while (fake_used_next(&d->r, &id, &len)) {
			any = true;
			if (!reply_ok(d, id, len)) {
				d->bad = true;
				stop = true;
			}
			d->ops++;
			d->bytes += d->rig->bs;
			if (stop)
				inflight--;
			else
				post(d, id / 3);
		}
		if (any) {
			last = now_ns();
			kick(d, old);
		} else if (now_ns() - last > STALL_NS) {
			d->bad = true;
			return NULL;
		} else {
			sched_yield();
		}
	}
	return NULL;
}

/* One request on request queue 1, synchronously: reply header error (or -ETIMEDOUT). */
static int sync_call(const void *req, size_t len, void *reply, size_t reply_len)
{
	struct drv *d = &rig.d[0];
	uint64_t hdr = hdr_gpa(1, 0), t0 = now_ns();
	uint16_t old = d->r.avail_idx;
	struct fuse_out_header oh;
	uint32_t id, used;

	fake_write(&rig.h.fm, hdr, req, len);
	fake_avail_push(&d->r, fake_chain(&d->r, 0,
					  (struct fake_seg[]){ { hdr, (uint32_t)len, false },
							       { data_gpa(1, 0), 4096, true } },
					  2));
	kick(d, old);
	while (!fake_used_next(&d->r, &id, &used)) {
		if (now_ns() - t0 > STALL_NS)
			return -ETIMEDOUT;
		sched_yield();
	}
	fake_read(&rig.h.fm, data_gpa(1, 0), &oh, sizeof(oh));
	if (!oh.error && reply)
		fake_read(&rig.h.fm, data_gpa(1, 0) + sizeof(oh), reply, reply_len);
	return oh.error;
}

/* INIT, LOOKUP "data", OPEN it read-write: the session the measurements use. */
static int fuse_session(uint64_t *nodeid, uint64_t *fh, int (*call)(const void *, size_t, void *, size_t))
{
	struct {
		struct fuse_in_header h;
		struct fuse_init_in i;
	} init = { { .len = sizeof(init), .opcode = FUSE_INIT, .unique = 1 },
		   { .major = FUSE_KERNEL_VERSION, .minor = FUSE_KERNEL_MINOR_VERSION, .max_readahead = 1 << 20,
		     .flags = FUSE_ASYNC_READ | FUSE_BIG_WRITES | FUSE_MAX_PAGES } };
	struct {
		struct fuse_in_header h;
		char name[8];
	} lk = { { .len = sizeof(lk.h) + 5, .opcode = FUSE_LOOKUP, .unique = 2, .nodeid = FUSE_ROOT_ID }, "data" };
	struct {
		struct fuse_in_header h;
		struct fuse_open_in o;
	} op = { { .len = sizeof(op), .opcode = FUSE_OPEN, .unique = 3 }, { .flags = O_RDWR } };
	struct fuse_entry_out e;
	struct fuse_open_out oo;
	int r;

	if ((r = call(&init, sizeof(init), NULL, 0)) || (r = call(&lk, sizeof(lk.h) + 5, &e, sizeof(e))))
		return r;
	op.h.nodeid = e.nodeid;
	if ((r = call(&op, sizeof(op), &oo, sizeof(oo))))
		return r;
	*nodeid = e.nodeid;
	*fh = oo.fh;
	return 0;
}

static bool rig_up(enum fs_path path, unsigned nreq)
{
	struct gm_view view;
	uint64_t features;
	char err[256] = "";

	memset(&rig, 0, sizeof(rig));
	rig.path = path;
	rig.nreq = nreq;
	rig.file_size = (uint64_t)opt_file_mb << 20;
	h_init(&rig.h, FS_MEM);
	view = gm_view_aperture(&rig.h.fm.mem, AP_BASE, AP_SIZE);
	if (path == PATH_INPROC) {
		if (virtio_fs_init(&rig.fs, &rig.h.plat, &view, "bench", share, nreq, NULL))
			die("virtio_fs_init");
		h_plug(&rig.h, &rig.fs.vdev);
	} else {
		struct virtio_fs_config c;
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
			die("socketpair");
		vub_init(&rig.back, sv[1]);
		rig.back_view = gm_view_all(&rig.back.mem);
		if (virtio_fs_init(&rig.fs, vub_platform(&rig.back), &rig.back_view, "bench", share, nreq, NULL))
			die("virtio_fs_init (back end)");
		vub_attach(&rig.back, &rig.fs.vdev);
		if (pthread_create(&rig.back_t, NULL, back_thread, &rig))
			die("pthread_create");
		memset(&c, 0, sizeof(c));
		memcpy(c.tag, "bench", 5);
		c.num_request_queues = nreq;
		rig.tmpl = *virtio_fs_ops(); /* the template's queue count is per instance (as vmm/devmgr.c does) */
		rig.tmpl.nqueues = 1 + nreq;
		if (vhu_front_init(&rig.front, &rig.tmpl, 1 + nreq, &c, &rig.h.plat, &view, sv[0], -1, &front_cb, NULL, err,
				   sizeof(err))) {
			fail("vhu_front_init: %s", err);
			return false;
		}
		h_plug(&rig.h, &rig.front.vdev);
	}
	features = h_device_features(&rig.h) &
		   ((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_ACCESS_PLATFORM) | (1ULL << VIRTIO_F_SWIOTLB) |
		    (1ULL << VIRTIO_RING_F_EVENT_IDX));
	rig.event_idx = features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	if (!h_negotiate(&rig.h, features)) {
		fail("%s: FEATURES_OK refused", path_names[path]);
		return false;
	}
	fake_ring_layout(&rig.hq, &rig.h.fm, 8, AP_BASE);
	h_queue_setup(&rig.h, 0, &rig.hq, 0);
	for (unsigned i = 0; i < nreq; i++) {
		struct drv *d = &rig.d[i];
		uint16_t noff;

		d->rig = &rig;
		d->q = i + 1;
		fake_ring_layout(&d->r, &rig.h.fm, RING_SIZE, AP_BASE + 0x10000 * (i + 1));
		h_queue_setup(&rig.h, d->q, &d->r, (uint16_t)d->q);
		h_common_write(&rig.h, VIRTIO_PCI_COMMON_Q_SELECT, 2, d->q);
		noff = (uint16_t)h_common_read(&rig.h, VIRTIO_PCI_COMMON_Q_NOFF, 2);
		d->notify = rig.h.notify_off + (uint64_t)noff * rig.h.notify_mult;
		d->file_off = (uint64_t)i * (rig.file_size / nreq);
		d->file_off -= d->file_off % MAX_BS;
	}
	h_driver_ok(&rig.h);
	if (h_status(&rig.h) & VIRTIO_CONFIG_S_NEEDS_RESET) {
		fail("%s: device needs reset after DRIVER_OK", path_names[path]);
		return false;
	}
	{
		int r = fuse_session(&rig.nodeid, &rig.fh, sync_call);

		if (r) {
			fail("%s: FUSE session: %s", path_names[path], strerror(r < 0 ? -r : r));
			return false;
		}
	}
	return true;
}

static void rig_down(void)
{
	if (rig.path == PATH_INPROC) {
		virtio_fs_destroy(&rig.fs);
	} else {
		vhu_front_destroy(&rig.front); /* closes the socket: vub_serve() returns */
		pthread_join(rig.back_t, NULL);
		virtio_fs_destroy(&rig.fs);
		vub_destroy(&rig.back);
	}
	h_destroy(&rig.h);
}

static const char *op_name(uint32_t opcode)
{
	return opcode == FUSE_READ ? "read" : "write";
}

static void emit_fuse(const char *path, unsigned queues, uint32_t opcode, uint32_t bs, uint64_t ops, uint64_t bytes,
		      double secs)
{
	emit("fuse",
	     "\"path\":\"%s\",\"op\":\"%s\",\"bs\":%u,\"queues\":%u,\"depth\":%d,\"ops\":%llu,\"seconds\":%.3f,"
	     "\"mb_per_s\":%.1f,\"ops_per_s\":%.0f,\"mb_per_s_per_queue\":%.1f,\"ops_per_s_per_queue\":%.0f",
	     path, op_name(opcode), bs, queues, queues ? DEPTH : 1, (unsigned long long)ops, secs, bytes / secs / 1e6,
	     ops / secs, bytes / secs / 1e6 / (queues ? queues : 1), ops / secs / (queues ? queues : 1));
}

/* The device (in-process or vhost-user) with nreq request queues, DEPTH requests in flight on each. */
static void bench_fuse_device(enum fs_path path, unsigned nreq, uint32_t opcode, uint32_t bs)
{
	uint64_t t0, ops = 0, bytes = 0;
	bool bad = false;
	double secs;

	if (!rig_up(path, nreq)) {
		rig_down();
		return;
	}
	rig.opcode = opcode;
	rig.bs = bs;
	t0 = now_ns();
	for (unsigned i = 0; i < nreq; i++)
		if (pthread_create(&rig.d[i].t, NULL, drv_thread, &rig.d[i]))
			die("pthread_create");
	{
		struct timespec ts = { .tv_sec = (time_t)opt_seconds,
				       .tv_nsec = (long)((opt_seconds - (double)(time_t)opt_seconds) * 1e9) };

		nanosleep(&ts, NULL);
	}
	__atomic_store_n(&rig.stop, true, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < nreq; i++) {
		pthread_join(rig.d[i].t, NULL);
		ops += rig.d[i].ops;
		bytes += rig.d[i].bytes;
		bad |= rig.d[i].bad;
	}
	secs = (now_ns() - t0) / 1e9;
	if (bad || (h_status(&rig.h) & VIRTIO_CONFIG_S_NEEDS_RESET))
		fail("fuse %s %s bs %u queues %u: a request failed, stalled or the device needs a reset",
		     path_names[path], op_name(opcode), bs, nreq);
	else
		emit_fuse(path_names[path], nreq, opcode, bs, ops, bytes, secs);
	rig_down();
}

/* fuse_pt_handle() directly, on host buffers: the server without virtio. */
static struct fuse_pt *srv;
static uint8_t *srv_buf;

static int srv_call(const void *req, size_t len, void *reply, size_t reply_len)
{
	struct iovec in = { (void *)req, len }, out = { srv_buf, 4096 };
	long n = fuse_pt_handle(srv, &in, 1, &out, 1);
	struct fuse_out_header oh;

	if (n < (long)sizeof(oh))
		return -EPROTO;
	memcpy(&oh, srv_buf, sizeof(oh));
	if (!oh.error && reply)
		memcpy(reply, srv_buf + sizeof(oh), reply_len);
	return oh.error;
}

static void bench_fuse_server(uint32_t opcode, uint32_t bs)
{
	uint64_t nodeid, fh, off = 0, ops = 0, t0, t_end, size = (uint64_t)opt_file_mb << 20;
	struct {
		struct fuse_in_header h;
		union {
			struct fuse_read_in r;
			struct fuse_write_in w;
		} a;
	} req;
	struct fuse_out_header oh;
	int r;

	if (fuse_pt_create(&srv, share))
		die("fuse_pt_create");
	srv_buf = malloc(MAX_BS + 4096);
	if (!srv_buf)
		die("out of memory");
	if ((r = fuse_session(&nodeid, &fh, srv_call))) {
		fail("server: FUSE session: %s", strerror(r < 0 ? -r : r));
		goto out;
	}
	t0 = now_ns();
	t_end = t0 + (uint64_t)(opt_seconds * 1e9);
	while (now_ns() < t_end) {
		for (int k = 0; k < 16; k++) {
			struct iovec in[2], out[2];
			size_t alen = opcode == FUSE_READ ? sizeof(req.a.r) : sizeof(req.a.w);
			long n;

			memset(&req, 0, sizeof(req));
			req.h.opcode = opcode;
			req.h.unique = ops + 10;
			req.h.nodeid = nodeid;
			if (opcode == FUSE_READ) {
				req.h.len = (uint32_t)(sizeof(req.h) + alen);
				req.a.r = (struct fuse_read_in){ .fh = fh, .offset = off, .size = bs };
				in[0] = (struct iovec){ &req, sizeof(req.h) + alen };
				out[0] = (struct iovec){ &oh, sizeof(oh) };
				out[1] = (struct iovec){ srv_buf, bs };
				n = fuse_pt_handle(srv, in, 1, out, 2);
			} else {
				req.h.len = (uint32_t)(sizeof(req.h) + alen + bs);
				req.a.w = (struct fuse_write_in){ .fh = fh, .offset = off, .size = bs };
				in[0] = (struct iovec){ &req, sizeof(req.h) + alen };
				in[1] = (struct iovec){ srv_buf, bs };
				out[0] = (struct iovec){ srv_buf + MAX_BS, sizeof(oh) + sizeof(struct fuse_write_out) };
				n = fuse_pt_handle(srv, in, 2, out, 1);
				memcpy(&oh, srv_buf + MAX_BS, sizeof(oh));
			}
			if (n <= 0 || oh.error) {
				fail("server %s bs %u: reply %ld error %d", op_name(opcode), bs, n, oh.error);
				goto out;
			}
			ops++;
			off += bs;
			if (off + bs > size)
				off = 0;
		}
	}
	emit_fuse("server", 0, opcode, bs, ops, ops * bs, (now_ns() - t0) / 1e9);
out:
	fuse_pt_destroy(srv);
	free(srv_buf);
}

/* The host's own pread/pwrite of the same file: the physical limit. */
static void bench_fuse_native(uint32_t opcode, uint32_t bs)
{
	char p[512];
	uint64_t off = 0, ops = 0, t0, t_end, size = (uint64_t)opt_file_mb << 20;
	uint8_t *buf = malloc(bs);
	int fd;

	snprintf(p, sizeof(p), "%s/data", share);
	fd = open(p, O_RDWR | O_CLOEXEC);
	if (fd < 0 || !buf)
		die("open the data file");
	memset(buf, 0x5A, bs);
	t0 = now_ns();
	t_end = t0 + (uint64_t)(opt_seconds * 1e9);
	while (now_ns() < t_end) {
		for (int k = 0; k < 16; k++) {
			ssize_t n = opcode == FUSE_READ ? pread(fd, buf, bs, (off_t)off) : pwrite(fd, buf, bs, (off_t)off);

			if (n != (ssize_t)bs) {
				fail("native %s: short or failed I/O", op_name(opcode));
				goto out;
			}
			ops++;
			off += bs;
			if (off + bs > size)
				off = 0;
		}
	}
	emit_fuse("native", 0, opcode, bs, ops, ops * bs, (now_ns() - t0) / 1e9);
out:
	close(fd);
	free(buf);
}

static void make_share(void)
{
	const char *tmp = getenv("TMPDIR");
	char p[512];
	uint8_t *buf = malloc(MAX_BS);
	int fd;

	snprintf(share, sizeof(share), "%s/bench-harness-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(share) || !buf)
		die("mkdtemp");
	snprintf(p, sizeof(p), "%s/data", share);
	fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die("create the data file");
	for (unsigned i = 0; i < MAX_BS; i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	for (unsigned i = 0; i < opt_file_mb; i++)
		if (write(fd, buf, MAX_BS) != (ssize_t)MAX_BS)
			die("write the data file");
	close(fd);
	free(buf);
}

static void remove_share(void)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/data", share);
	unlink(p);
	rmdir(share);
}

static void bench_fuse(void)
{
	static const uint32_t ops[] = { FUSE_READ, FUSE_WRITE };
	static const uint32_t sizes[] = { 4096, MAX_BS };

	make_share();
	for (unsigned o = 0; o < 2; o++)
		for (unsigned s = 0; s < 2; s++) {
			bench_fuse_native(ops[o], sizes[s]);
			bench_fuse_server(ops[o], sizes[s]);
			for (unsigned q = 1; q <= MAXQ; q++) {
				bench_fuse_device(PATH_INPROC, q, ops[o], sizes[s]);
				bench_fuse_device(PATH_VHOST, q, ops[o], sizes[s]);
			}
		}
	remove_share();
}

/* ---- net ---- */

#ifdef HAVE_VIRTIO_NET
/*
 * virtio-net over the passt back end (its 4-byte big-endian length framing)
 * on a socketpair whose other end is a thread here: it reads and counts
 * what the device transmits, or writes frames as fast as the socket takes
 * them for the device to receive. One queue pair, 256 entries, MRG_RXBUF,
 * the device behind an aperture.
 */
#define NET_MEM (16ULL << 20)
#define NET_AP_BASE (4ULL << 20)
#define NET_AP_SIZE (8ULL << 20)
#define NET_Q 256
#define NET_FRAME 1514u
#define NET_TXBUF (NET_AP_BASE + 0x100000) /* 2 KiB per transmit chain */
#define NET_RXBUF (NET_AP_BASE + 0x300000) /* 4 KiB per receive buffer */

struct net_peer {
	int fd;
	bool source;  /* write frames (device receives) or read them (device transmits) */
	bool stop;    /* atomic */
	uint64_t frames;
	bool bad;
	pthread_t t;
};

static void frame_fill(uint8_t *f, unsigned len)
{
	memset(f, 0xFF, 6);                     /* broadcast */
	memcpy(f + 6, "\x02\x00\x00\x00\x00\x02", 6);
	f[12] = 0x88, f[13] = 0xB5;             /* local experimental ethertype */
	for (unsigned i = 14; i < len; i++)
		f[i] = (uint8_t)i;
}

/* Read (sink) or write (source) length-framed frames until told to stop. */
static void *net_peer_thread(void *arg)
{
	struct net_peer *p = arg;
	const size_t cap = 256 * 1024;
	uint8_t *buf = malloc(cap);
	size_t have = 0;

	if (!buf)
		die("out of memory");

	if (p->source) {
		uint8_t fr[4 + NET_FRAME];
		size_t off = 0;

		fr[0] = 0, fr[1] = 0, fr[2] = NET_FRAME >> 8, fr[3] = NET_FRAME & 0xFF;
		frame_fill(fr + 4, NET_FRAME);
		/* 64 frames per send: what passt's own batching looks like */
		for (unsigned i = 0; i < 64; i++)
			memcpy(buf + i * sizeof(fr), fr, sizeof(fr));
		while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
			ssize_t n = send(p->fd, buf + off, 64 * sizeof(fr) - off, MSG_DONTWAIT | MSG_NOSIGNAL);

			if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
				sched_yield();
				continue;
			}
			if (n <= 0) {
				p->bad = true;
				break;
			}
			off += (size_t)n;
			p->frames += off / sizeof(fr) - (off - (size_t)n) / sizeof(fr);
			if (off == 64 * sizeof(fr))
				off = 0;
		}
		free(buf);
		return NULL;
	}
	while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
		ssize_t n = recv(p->fd, buf + have, cap - have, MSG_DONTWAIT);
		size_t pos = 0;

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			sched_yield();
			continue;
		}
		if (n <= 0)
			break;
		have += (size_t)n;
		while (have - pos >= 4) {
			uint32_t len = (uint32_t)buf[pos] << 24 | (uint32_t)buf[pos + 1] << 16 |
				       (uint32_t)buf[pos + 2] << 8 | buf[pos + 3];

			if (len < 14 || len > NET_MAX_FRAME) {
				p->bad = true;
				free(buf);
				return NULL;
			}
			if (have - pos < 4 + len)
				break;
			pos += 4 + len;
			p->frames++;
		}
		memmove(buf, buf + pos, have - pos);
		have -= pos;
	}
	free(buf);
	return NULL;
}

static void net_peer_start(struct net_peer *p, int fd, bool source)
{
	memset(p, 0, sizeof(*p));
	p->fd = fd;
	p->source = source;
	if (pthread_create(&p->t, NULL, net_peer_thread, p))
		die("pthread_create");
}

static void net_peer_stop(struct net_peer *p)
{
	__atomic_store_n(&p->stop, true, __ATOMIC_RELEASE);
	pthread_join(p->t, NULL);
}

static void sleep_s(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9) };

	nanosleep(&ts, NULL);
}

/* The limit: the same framing written straight into a socketpair and read back. */
static void bench_net_native(void)
{
	struct net_peer src, sink;
	int sv[2];
	uint64_t t0;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		die("socketpair");
	t0 = now_ns();
	net_peer_start(&sink, sv[1], false);
	net_peer_start(&src, sv[0], true);
	sleep_s(opt_seconds);
	net_peer_stop(&src);
	{
		double secs = (now_ns() - t0) / 1e9;

		net_peer_stop(&sink);
		emit("net", "\"path\":\"native\",\"dir\":\"socketpair\",\"frame\":%u,\"frames\":%llu,\"seconds\":%.3f,"
			    "\"frames_per_s\":%.0f,\"mb_per_s\":%.1f",
		     NET_FRAME, (unsigned long long)sink.frames, secs, sink.frames / secs, sink.frames * NET_FRAME / secs / 1e6);
	}
	close(sv[0]);
	close(sv[1]);
}

/* tx: the driver transmits, the peer reads; rx: the peer writes, the driver receives. */
static void bench_net_dir(bool tx)
{
	static struct harness h;
	static struct virtio_net n;
	struct net_backend *be;
	struct fake_ring rxr, txr;
	struct net_peer peer;
	uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 };
	uint64_t features, want, t0, t_end, frames = 0, last;
	uint64_t notify[2];
	struct gm_view view;
	bool event_idx, bad = false;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		die("socketpair");
	if (net_passt_create(sv[0], 65520, &be))
		die("net_passt_create");
	h_init(&h, NET_MEM);
	view = gm_view_aperture(&h.fm.mem, NET_AP_BASE, NET_AP_SIZE);
	if (virtio_net_init(&n, &h.plat, &view, be, mac))
		die("virtio_net_init");
	h_plug(&h, &n.vdev);
	want = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_ACCESS_PLATFORM) | (1ULL << VIRTIO_F_SWIOTLB) |
	       (1ULL << VIRTIO_RING_F_EVENT_IDX) | (1ULL << VIRTIO_NET_F_MRG_RXBUF) | (1ULL << VIRTIO_NET_F_MAC);
	features = h_device_features(&h) & want;
	event_idx = features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	if (!h_negotiate(&h, features)) {
		fail("net: FEATURES_OK refused");
		goto out;
	}
	fake_ring_layout(&rxr, &h.fm, NET_Q, NET_AP_BASE);
	fake_ring_layout(&txr, &h.fm, NET_Q, NET_AP_BASE + 0x10000);
	h_queue_setup(&h, 0, &rxr, 1);
	h_queue_setup(&h, 1, &txr, 2);
	for (unsigned q = 0; q < 2; q++) {
		h_common_write(&h, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
		notify[q] = h.notify_off + (uint64_t)(uint16_t)h_common_read(&h, VIRTIO_PCI_COMMON_Q_NOFF, 2) * h.notify_mult;
	}
	h_driver_ok(&h);
	net_peer_start(&peer, sv[1], !tx);
	{
		struct fake_ring *r = tx ? &txr : &rxr;
		unsigned qi = tx ? 1 : 0;
		uint16_t old = r->avail_idx;

		for (uint16_t i = 0; i < NET_Q; i++) {
			if (tx) {
				uint8_t f[NET_HDR_LEN + NET_FRAME];

				memset(f, 0, NET_HDR_LEN);
				frame_fill(f + NET_HDR_LEN, NET_FRAME);
				fake_write(&h.fm, NET_TXBUF + 2048u * i, f, sizeof(f));
				fake_chain(r, i, (struct fake_seg[]){ { NET_TXBUF + 2048u * i, sizeof(f), false } }, 1);
			} else {
				fake_chain(r, i, (struct fake_seg[]){ { NET_RXBUF + 4096u * i, 4096, true } }, 1);
			}
			fake_avail_push(r, i);
		}
		h_bar_write(&h, notify[qi], 2, qi);
		t0 = last = now_ns();
		t_end = t0 + (uint64_t)(opt_seconds * 1e9);
		while (now_ns() < t_end) {
			uint32_t id, len;
			bool any = false;

			old = r->avail_idx;
			while (fake_used_next(r, &id, &len)) {
				if (id >= NET_Q || (!tx && len != NET_HDR_LEN + NET_FRAME)) {
					bad = true;
					break;
				}
				frames++;
				fake_avail_push(r, (uint16_t)id);
				any = true;
			}
			if (bad)
				break;
			if (any) {
				last = now_ns();
				if (!event_idx || vring_need_event(fake_avail_event(r), r->avail_idx, old))
					h_bar_write(&h, notify[qi], 2, qi);
			} else if (now_ns() - last > STALL_NS) {
				bad = true;
				break;
			} else {
				sched_yield();
			}
		}
	}
	{
		double secs = (now_ns() - t0) / 1e9;

		net_peer_stop(&peer);
		if (bad || peer.bad || (h_status(&h) & VIRTIO_CONFIG_S_NEEDS_RESET))
			fail("net %s: a bad completion, a stall, a framing error or the device needs a reset",
			     tx ? "tx" : "rx");
		else
			emit("net", "\"path\":\"in-process\",\"dir\":\"%s\",\"frame\":%u,\"frames\":%llu,"
				    "\"seconds\":%.3f,\"frames_per_s\":%.0f,\"mb_per_s\":%.1f",
			     tx ? "tx" : "rx", NET_FRAME, (unsigned long long)frames, secs, frames / secs,
			     frames * NET_FRAME / secs / 1e6);
	}
out:
	virtio_net_destroy(&n);
	net_backend_destroy(be);
	close(sv[1]);
	h_destroy(&h);
}

static void bench_net(void)
{
	bench_net_native();
	bench_net_dir(true);
	bench_net_dir(false);
}
#else
static void bench_net(void)
{
	emit("net", "\"skipped\":\"this build has no virtio-net\"");
}
#endif

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "file-mb", required_argument, NULL, 'f' },
		{ "only", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *only = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			opt_seconds = atof(optarg);
			if (opt_seconds <= 0 || opt_seconds > 600)
				die("--seconds: 0 to 600");
			break;
		case 'f':
			opt_file_mb = (unsigned)atoi(optarg);
			if (opt_file_mb < 2 || opt_file_mb > 4096)
				die("--file-mb: 2 to 4096");
			break;
		case 'o':
			only = optarg;
			break;
		case 'h':
			printf("usage: bench-harness [--seconds S] [--file-mb N] [--only chains|fuse|net]\n");
			return 0;
		default:
			return 2;
		}
	}
	if (!only || !strcmp(only, "chains")) {
		bench_chains(false);
		bench_chains(true);
	}
	if (!only || !strcmp(only, "fuse"))
		bench_fuse();
	if (!only || !strcmp(only, "net"))
		bench_net();
	return failures ? 1 : 0;
}
