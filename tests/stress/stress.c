/* SPDX-License-Identifier: MIT */
/*
 * Thread-sanitizer stress test of the virtio-pci transport and the devices
 * behind it: vCPUs of a hostile guest racing each other on one device.
 *
 * Built with -fsanitize=thread together with the core library and the
 * native harness (build/tsan/stress; configure). For each device kind
 * (virtio-rng, virtio-vsock, virtio-fs on a scratch share) it runs, for a
 * share of --seconds:
 *   thread 0      the guest driver: brings the device up (reset, features,
 *                 fresh rings, DRIVER_OK), posts buffers (entropy requests;
 *                 vsock connections and data with rx buffers; FUSE INIT,
 *                 GETATTR and FORGET) and notifies, and brings it up again
 *                 every so often;
 *   threads 1..n  hostile vCPUs: status writes (0, the bring-up sequence,
 *                 DRIVER_OK alone), notifications, MSI-X vector masking and
 *                 unmasking and function masking, device configuration, ISR
 *                 and common configuration reads, in random order;
 *   vsock only    a host thread: vsock_connect() to the guest, vsock_send()
 *                 and vsock_close() on the connections the monitor holds.
 * The fake driver's guest-memory accesses are hidden from the sanitizer (a
 * real guest's are invisible too; tests/fuzz/vsockdrv.h); the device's are
 * not, nor anything else the monitor does.
 *
 * It fails (non-zero exit) on:
 *   - a ThreadSanitizer report (halt_on_error=1 is the default here: exit 66);
 *   - a hang: a thread that makes no progress for --watchdog seconds (a
 *     pthread_join that never returns, a deadlock) prints what it was doing
 *     and the test exits 3;
 *   - a broken invariant the test can see: once the threads are joined, a
 *     status write of 0 must leave status 0 (exit 4).
 *
 * Usage: stress [--seconds N] [--threads 2..4] [--device rng|vsock|fs|all]
 *               [--watchdog S] [--seed N] [--selftest-hang]
 * (--selftest-hang stops one hostile thread for ever: the watchdog must
 * turn that into exit 3; tests/stress/run checks it does.)
 */
#include <endian.h>
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "devices/virtio-fs.h"
#include "devices/virtio-rng.h"
#include "devices/virtio-vsock.h"
#include "lib/log.h"
#include "tests/fuzz/vsockdrv.h"

#define MAX_THREADS 4
#define QS 16
#define RING_AT(q) (VDRV_AP_BASE + 0x40000 + (uint64_t)(q) * 0x1000)
#define BUF_AT(q, i) (VDRV_AP_BASE + 0x80000 + (uint64_t)(q) * 0x10000 + (uint64_t)(i) * 0x1000)

const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
	return "halt_on_error=1:second_deadlock_stack=1:history_size=4";
}

/*
 * Two device threads copying into the same guest buffer (iov_copy, the one
 * copy between guest buffers and the monitor's) race on guest memory only:
 * a hostile guest that points descriptors of two queues at one buffer gets
 * garbage, as with hardware, and the monitor's state is not involved. TSan
 * cannot ignore an address range, so the copy is suppressed by name (both
 * stacks are checked: a race on the monitor's side of such a copy would be
 * hidden too, the price of this test seeing everything else).
 */
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
	return "race:iov_copy\n";
}

enum kind { K_RNG, K_VSOCK, K_FS, K_COUNT };
static const char *const kind_name[K_COUNT] = { "virtio-rng", "virtio-vsock", "virtio-fs" };

struct thr {
	pthread_t t;
	unsigned id;
	uint64_t rnd;
	uint64_t iters;             /* progress, atomic */
	const char *doing;          /* atomic pointer: what it is doing now */
	uint64_t resets, bringups, notifies, msix, reads;
};

static struct vdrv d;               /* harness, aperture, vsock driver */
static enum kind kind;
static struct virtio_rng rng;
static struct virtio_vsock vs;
static struct virtio_fs fsdev;
static struct virtio_dev *vd;
static unsigned nq;
static struct fake_ring rings[VIRTIO_MAX_QUEUES]; /* thread 0 only (rng, fs) */
static struct ring_addr {
	uint64_t desc, avail, used;
} addrs[VIRTIO_MAX_QUEUES];                       /* constant during a phase */
static uint16_t ring_size[VIRTIO_MAX_QUEUES];
static unsigned msix_cap, nvec;
static pthread_mutex_t cfg_lock = PTHREAD_MUTEX_INITIALIZER; /* the guest's CF8/CFC lock */
static int stop;                                  /* atomic */
static struct thr thr[MAX_THREADS + 2];
static unsigned nthr;
static unsigned watchdog_s = 20;
static char root[64];

/* ---- small things ---- */

static uint64_t rnd(struct thr *t)
{
	t->rnd ^= t->rnd << 13;
	t->rnd ^= t->rnd >> 7;
	t->rnd ^= t->rnd << 17;
	return t->rnd;
}

static void doing(struct thr *t, const char *what)
{
	__atomic_store_n(&t->doing, what, __ATOMIC_RELEASE);
}

static void progress(struct thr *t)
{
	__atomic_fetch_add(&t->iters, 1, __ATOMIC_RELEASE);
}

static bool stopping(void)
{
	return __atomic_load_n(&stop, __ATOMIC_ACQUIRE);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (ftw->level > 0)
		remove(p);
	return 0;
}

static void cleanup(void)
{
	if (root[0]) {
		nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		rmdir(root);
	}
}

/* ---- register accesses as a vCPU makes them ---- */

static void cfg_write(unsigned reg, unsigned size, uint32_t v)
{
	pthread_mutex_lock(&cfg_lock);
	h_cfg_write(&d.h, reg, size, v);
	pthread_mutex_unlock(&cfg_lock);
}

static uint32_t cfg_read(unsigned reg, unsigned size)
{
	uint32_t v;

	pthread_mutex_lock(&cfg_lock);
	v = h_cfg_read(&d.h, reg, size);
	pthread_mutex_unlock(&cfg_lock);
	return v;
}

static void set_status(struct thr *t, uint8_t s)
{
	doing(t, s ? "a status write" : "a status write of 0 (device reset)");
	h_set_status(&d.h, s);
	if (!s)
		t->resets++;
}

static void notify(struct thr *t, unsigned q)
{
	doing(t, "a queue notification");
	h_bar_write(&d.h, d.h.notify_off + (uint64_t)q * d.h.notify_mult, 2, q);
	t->notifies++;
}

/* Reset, features, every queue at the phase's ring addresses, DRIVER_OK. */
static void bring_up(struct thr *t)
{
	uint64_t f = vd->host_features;

	set_status(t, 0);
	doing(t, "the bring-up sequence");
	h_set_status(&d.h, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	h_set_status(&d.h, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	h_common_write(&d.h, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	h_common_write(&d.h, VIRTIO_PCI_COMMON_GF, 4, (uint32_t)f);
	h_common_write(&d.h, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	h_common_write(&d.h, VIRTIO_PCI_COMMON_GF, 4, (uint32_t)(f >> 32));
	h_set_status(&d.h, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
	for (unsigned q = 0; q < nq; q++) {
		h_common_write(&d.h, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
		h_common_write(&d.h, VIRTIO_PCI_COMMON_Q_SIZE, 2, ring_size[q]);
		h_common_write(&d.h, VIRTIO_PCI_COMMON_Q_DESCLO, 4, (uint32_t)addrs[q].desc);
		h_common_write(&d.h, VIRTIO_PCI_COMMON_Q_DESCHI, 4, (uint32_t)(addrs[q].desc >> 32));
		h_common_write(&d.h, VIRTIO_PCI_COMMON_Q_AVAILLO, 4, (uint32_t)addrs[q].avail);
		h_common_write(&d.h, VIRTIO_PCI_COMMON_Q_AVAILHI, 4, (uint32_t)(addrs[q].avail >> 32));
		h_common_write(&d.h, VIRTIO_PCI_COMMON_Q_USEDLO, 4, (uint32_t)addrs[q].used);
		h_common_write(&d.h, VIRTIO_PCI_COMMON_Q_USEDHI, 4, (uint32_t)(addrs[q].used >> 32));
		h_common_write(&d.h, VIRTIO_PCI_COMMON_Q_MSIX, 2, q < nvec ? q : VIRTIO_MSI_NO_VECTOR);
		h_common_write(&d.h, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	}
	h_common_write(&d.h, VIRTIO_PCI_COMMON_MSIX, 2, nvec - 1);
	doing(t, "a status write of DRIVER_OK");
	h_set_status(&d.h, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK |
				   VIRTIO_CONFIG_S_DRIVER_OK);
	t->bringups++;
}

/* ---- the hostile vCPUs ---- */

static void hostile_step(struct thr *t)
{
	uint64_t r = rnd(t);

	switch (r % 20) {
	case 0: case 1: case 2: case 3: case 4:
		set_status(t, 0);
		break;
	case 5: case 6: case 7:
		bring_up(t);
		break;
	case 8: case 9: {
		uint8_t s;

		doing(t, "a status write of DRIVER_OK alone");
		s = h_status(&d.h);
		h_set_status(&d.h, (uint8_t)(s | VIRTIO_CONFIG_S_DRIVER_OK));
		break;
	}
	case 10: case 11: case 12:
		notify(t, (unsigned)(r >> 8) % nq);
		break;
	case 13: case 14: {
		unsigned v = (unsigned)(r >> 8) % nvec;

		doing(t, "an MSI-X vector mask or unmask");
		h_bar_write(&d.h, VIRTIO_PCI_MSIX_TABLE_OFF + v * 16 + 12, 4, (r >> 16) & 1);
		t->msix++;
		break;
	}
	case 15:
		doing(t, "an MSI-X function mask or unmask");
		cfg_write(msix_cap + PCI_MSIX_FLAGS, 2,
			  PCI_MSIX_FLAGS_ENABLE | ((r >> 8) & 1 ? PCI_MSIX_FLAGS_MASKALL : 0));
		t->msix++;
		break;
	case 16: case 17: {
		uint32_t size = vd->ops->config_size;

		doing(t, "a device configuration read");
		if (size)
			(void)h_bar_read(&d.h, VIRTIO_PCI_DEVICE_OFF + (r >> 8) % size, 1);
		(void)h_bar_read(&d.h, VIRTIO_PCI_ISR_OFF, 1);
		t->reads++;
		break;
	}
	default:
		doing(t, "common configuration reads");
		(void)h_common_read(&d.h, VIRTIO_PCI_COMMON_STATUS, 1);
		(void)h_common_read(&d.h, VIRTIO_PCI_COMMON_CFGGENERATION, 1);
		(void)h_common_read(&d.h, VIRTIO_PCI_COMMON_NUMQ, 2);
		(void)cfg_read(PCI_COMMAND, 2);
		t->reads++;
		break;
	}
}

/* ---- the guest driver (thread 0) ---- */

static uint16_t next_desc[VIRTIO_MAX_QUEUES];

static void post(unsigned q, const struct fake_seg *s, unsigned n)
{
	guest_access_begin();
	fake_avail_push(&rings[q], fake_chain(&rings[q], next_desc[q], s, n));
	guest_access_end();
	next_desc[q] = (uint16_t)((next_desc[q] + n) % QS);
}

/* A FUSE request at BUF_AT(q, slot): header + args readable, 256 bytes writable after. */
static void fuse_req(struct thr *t, unsigned q, uint32_t op, const void *arg, uint32_t alen)
{
	unsigned slot = next_desc[q] % QS;
	struct fuse_in_header h = {
		.len = (uint32_t)sizeof(h) + alen, .opcode = op, .unique = rnd(t) | 1, .nodeid = FUSE_ROOT_ID,
	};
	uint64_t at = BUF_AT(q, slot);

	guest_access_begin();
	fake_write(&d.h.fm, at, &h, sizeof(h));
	if (alen)
		fake_write(&d.h.fm, at + sizeof(h), arg, alen);
	guest_access_end();
	if (op == FUSE_FORGET)
		post(q, (struct fake_seg[]){ { at, h.len, false } }, 1);
	else
		post(q, (struct fake_seg[]){ { at, h.len, false }, { at + 0x800, 256, true } }, 2);
}

static void driver_bring_up(struct thr *t)
{
	if (kind == K_VSOCK) {
		doing(t, "the vsock driver's bring-up");
		(void)vdrv_start(&d);
		t->bringups++;
		t->resets++;
		return;
	}
	guest_access_begin();
	for (unsigned q = 0; q < nq; q++)
		fake_ring_init(&rings[q], &d.h.fm, QS, addrs[q].desc, addrs[q].avail, addrs[q].used);
	guest_access_end();
	memset(next_desc, 0, sizeof(next_desc));
	bring_up(t);
	if (kind == K_FS) {
		struct fuse_init_in ii = { .major = 7, .minor = 41 };

		doing(t, "posting FUSE INIT");
		fuse_req(t, 1, FUSE_INIT, &ii, sizeof(ii));
		notify(t, 1);
	}
}

static void driver_step(struct thr *t, uint64_t i)
{
	if (i % 64 == 0) {
		driver_bring_up(t);
		return;
	}
	doing(t, "posting buffers");
	switch (kind) {
	case K_RNG:
		post(0, (struct fake_seg[]){ { BUF_AT(0, next_desc[0]), 64, true } }, 1);
		notify(t, 0);
		break;
	case K_VSOCK: {
		uint32_t port = 1 + (uint32_t)(i / 64) % 4;
		static const char hello[64] = "hello";

		if (i % 64 == 1)
			vdrv_tx_pkt(&d, port, 1024, VIRTIO_VSOCK_OP_REQUEST, 0, VSOCK_BUF_ALLOC, 0, NULL, 0);
		else if (i % 8 == 0)
			vdrv_post_rx(&d, 2, VDRV_RXSZ);
		else if (i % 32 == 31)
			vdrv_tx_pkt(&d, port, 1024, VIRTIO_VSOCK_OP_SHUTDOWN, 3, VSOCK_BUF_ALLOC, 0, NULL, 0);
		else
			vdrv_tx_pkt(&d, port, 1024, VIRTIO_VSOCK_OP_RW, 0, VSOCK_BUF_ALLOC, 0, hello, sizeof(hello));
		t->notifies++;
		break;
	}
	case K_FS: {
		unsigned q = 1 + (unsigned)(i % (nq - 1));

		if (i % 4 == 0) {
			struct fuse_forget_in fi = { .nlookup = 1 };

			fuse_req(t, 0, FUSE_FORGET, &fi, sizeof(fi));
			notify(t, 0);
		} else {
			struct fuse_getattr_in gi = { 0 };

			fuse_req(t, q, FUSE_GETATTR, &gi, sizeof(gi));
			notify(t, q);
		}
		break;
	}
	default:
		break;
	}
}

/* ---- the host side of vsock: connections the monitor holds ---- */

#define HCONNS 32
static pthread_mutex_t hlock = PTHREAD_MUTEX_INITIALIZER; /* the monitor's lock; closed() takes it */
static struct hconn {
	struct vsock_conn *c;
	bool open;
} hc[HCONNS];

static struct hconn *hc_new(void)
{
	for (unsigned i = 0; i < HCONNS; i++)
		if (!hc[i].open) {
			hc[i].open = true;
			hc[i].c = NULL;
			return &hc[i];
		}
	return NULL;
}

static void *h_accept(void *ctx, struct vsock_conn *c, uint32_t guest_port)
{
	struct hconn *x;

	(void)ctx;
	(void)guest_port;
	pthread_mutex_lock(&hlock);
	x = hc_new();
	if (x)
		x->c = c;
	pthread_mutex_unlock(&hlock);
	return x;
}

static void h_recv(void *cctx, const uint8_t *buf, size_t len)
{
	struct hconn *x = cctx;

	pthread_mutex_lock(&hlock);
	if (x->open && x->c && len)
		(void)vsock_send(x->c, buf, len); /* echo, from the worker */
	pthread_mutex_unlock(&hlock);
}

static void h_closed(void *cctx)
{
	struct hconn *x = cctx;

	pthread_mutex_lock(&hlock);
	x->open = false;
	x->c = NULL;
	pthread_mutex_unlock(&hlock);
}

static const struct vsock_listener_ops hops = { .accept = h_accept, .recv = h_recv, .closed = h_closed };

static void host_step(struct thr *t)
{
	uint64_t r = rnd(t);
	struct hconn *x = &hc[r % HCONNS];
	static const char data[128] = "from the host";

	pthread_mutex_lock(&hlock);
	switch ((r >> 8) % 8) {
	case 0: {
		struct hconn *n = hc_new();
		struct vsock_conn *c;

		doing(t, "vsock_connect()");
		if (n && vsock_connect(&vs, 5, &hops, n, &c) == 0)
			n->c = c;
		else if (n)
			n->open = false;
		break;
	}
	case 1:
		doing(t, "vsock_close()");
		if (x->open && x->c)
			vsock_close(x->c);
		break;
	default:
		doing(t, "vsock_send()");
		if (x->open && x->c)
			(void)vsock_send(x->c, data, 1 + (r >> 16) % sizeof(data));
		break;
	}
	pthread_mutex_unlock(&hlock);
	sleep_ms(1);
}

/* ---- threads, watchdog ---- */

static bool selftest_hang;

static void *run(void *arg)
{
	struct thr *t = arg;

	for (uint64_t i = 0; !stopping(); i++) {
		if (selftest_hang && t->id == 1) {
			/* --selftest-hang: the watchdog must catch this. */
			doing(t, "a deliberate hang (--selftest-hang)");
			for (;;)
				pause();
		}
		if (t->id == 0)
			driver_step(t, i);
		else if (t->id == MAX_THREADS)
			host_step(t);
		else
			hostile_step(t);
		doing(t, "between operations");
		progress(t);
	}
	doing(t, "finished");
	return NULL;
}

static struct thr teardown = { .id = MAX_THREADS + 1 };
static const char *phase_name = "setup";

static void *watchdog(void *arg)
{
	uint64_t last[MAX_THREADS + 2], since[MAX_THREADS + 2];

	(void)arg;
	for (unsigned i = 0; i < MAX_THREADS + 2; i++) {
		last[i] = (uint64_t)-1;
		since[i] = now_ms();
	}
	for (;;) {
		uint64_t now = now_ms();

		sleep_ms(100);
		for (unsigned i = 0; i < MAX_THREADS + 2; i++) {
			struct thr *t = i == MAX_THREADS + 1 ? &teardown : &thr[i];
			uint64_t it = __atomic_load_n(&t->iters, __ATOMIC_ACQUIRE);
			const char *what = __atomic_load_n(&t->doing, __ATOMIC_ACQUIRE);

			if (!what || !strcmp(what, "finished") || it != last[i]) {
				last[i] = it;
				since[i] = now;
				continue;
			}
			if (now - since[i] > watchdog_s * 1000ULL) {
				fprintf(stderr,
					"stress: %s: HANG: thread %u made no progress for %u s, stuck in %s "
					"(e.g. two vCPUs joining the same worker after DRIVER_OK)\n",
					__atomic_load_n(&phase_name, __ATOMIC_ACQUIRE), i, watchdog_s, what);
				fflush(stderr);
				/*
				 * The raw exit_group, not _exit(): ThreadSanitizer intercepts
				 * _exit and would report the workers this hang leaves
				 * running or unjoined as a thread leak (exit 66) instead.
				 */
				syscall(SYS_exit_group, 3);
			}
		}
	}
	return NULL;
}

/* ---- one phase per device kind ---- */

static void plug(enum kind k)
{
	vdrv_new_bus(&d.h);
	kind = k;
	switch (k) {
	case K_RNG:
		if (virtio_rng_init(&rng, &d.h.plat, &d.view))
			abort();
		vd = &rng.vdev;
		break;
	case K_VSOCK:
		if (virtio_vsock_init(&vs, &d.h.plat, &d.view, VDRV_CID) || vsock_listen(&vs, 1024, &hops, NULL))
			abort();
		vd = &vs.vdev;
		d.v = &vs;
		d.sync = false;
		break;
	default:
		if (virtio_fs_init(&fsdev, &d.h.plat, &d.view, "stress", root, 2, NULL))
			abort();
		vd = &fsdev.vdev;
		break;
	}
	h_plug(&d.h, vd);
	nq = vd->ops->nqueues;
	for (unsigned cap = cfg_read(PCI_CAPABILITY_LIST, 1); cap; cap = cfg_read(cap + 1, 1))
		if (cfg_read(cap, 1) == PCI_CAP_ID_MSIX)
			msix_cap = cap;
	nvec = (cfg_read(msix_cap + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_QSIZE) + 1;
	if (k == K_VSOCK) {
		if (!vdrv_start(&d))
			abort();
		addrs[0] = (struct ring_addr){ d.rx.desc, d.rx.avail, d.rx.used };
		addrs[1] = (struct ring_addr){ d.tx.desc, d.tx.avail, d.tx.used };
		addrs[2] = (struct ring_addr){ d.ev.desc, d.ev.avail, d.ev.used };
		for (unsigned q = 0; q < nq; q++)
			ring_size[q] = VDRV_QS;
	} else {
		for (unsigned q = 0; q < nq; q++) {
			guest_access_begin();
			fake_ring_layout(&rings[q], &d.h.fm, QS, RING_AT(q));
			guest_access_end();
			addrs[q] = (struct ring_addr){ rings[q].desc, rings[q].avail, rings[q].used };
			ring_size[q] = QS;
		}
	}
}

static void unplug(void)
{
	switch (kind) {
	case K_RNG: virtio_rng_destroy(&rng); break;
	case K_VSOCK: virtio_vsock_destroy(&vs); d.v = NULL; break;
	default: virtio_fs_destroy(&fsdev); break;
	}
	vd = NULL;
}

static void phase(enum kind k, unsigned ms, unsigned nthreads, uint64_t seed)
{
	uint64_t end;
	unsigned msi = 0;
	uint64_t ranges;
	struct thr sum = { 0 };

	__atomic_store_n(&phase_name, kind_name[k], __ATOMIC_RELEASE);
	doing(&teardown, "setting the device up");
	progress(&teardown);
	plug(k);
	__atomic_store_n(&stop, 0, __ATOMIC_RELEASE);
	nthr = nthreads;
	for (unsigned i = 0; i < MAX_THREADS + 1; i++) {
		bool want = i < nthreads || (i == MAX_THREADS && k == K_VSOCK);

		/* The watchdog reads iters and doing: atomically, so here too. */
		__atomic_store_n(&thr[i].doing, NULL, __ATOMIC_RELEASE);
		__atomic_store_n(&thr[i].iters, 0, __ATOMIC_RELEASE);
		thr[i].resets = thr[i].bringups = thr[i].notifies = thr[i].msix = thr[i].reads = 0;
		thr[i].id = i;
		thr[i].rnd = seed * 0x9E3779B97F4A7C15ULL + i * 0x632BE59BD9B4E019ULL + k + 1;
		if (want && pthread_create(&thr[i].t, NULL, run, &thr[i]) != 0) {
			fprintf(stderr, "stress: cannot create a thread\n");
			exit(1);
		}
	}
	doing(&teardown, "waiting");
	end = now_ms() + ms;
	while (now_ms() < end) {
		sleep_ms(50);
		progress(&teardown);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	doing(&teardown, "joining the test threads");
	for (unsigned i = 0; i < MAX_THREADS + 1; i++) {
		bool want = i < nthreads || (i == MAX_THREADS && k == K_VSOCK);

		if (!want)
			continue;
		pthread_join(thr[i].t, NULL);
		sum.resets += thr[i].resets;
		sum.bringups += thr[i].bringups;
		sum.notifies += thr[i].notifies;
		sum.msix += thr[i].msix;
		sum.reads += thr[i].reads;
		sum.iters += __atomic_load_n(&thr[i].iters, __ATOMIC_ACQUIRE);
	}
	progress(&teardown);
	/* Quiet now: one reset must complete. */
	doing(&teardown, "a final status write of 0 (device reset)");
	h_set_status(&d.h, 0);
	if (h_status(&d.h) != 0) {
		fprintf(stderr, "stress: %s: status 0x%x after a reset with no other thread running\n", phase_name,
			h_status(&d.h));
		exit(4);
	}
	progress(&teardown);
	for (unsigned v = 0; v < H_MAX_VECTORS; v++)
		msi += h_msi_count(&d.h, v);
	ranges = __atomic_load_n(&vd->stats.checked, __ATOMIC_RELAXED);
	doing(&teardown, "destroying the device (joins its worker)");
	unplug();
	progress(&teardown);
	doing(&teardown, NULL);
	printf("stress: %s: %u threads%s, %.1f s: %llu operations, %llu resets, %llu bring-ups, "
	       "%llu notifications, %llu MSI-X masks, %llu reads, %u MSI-X messages, %llu guest ranges "
	       "checked by the device\n",
	       phase_name, nthreads, k == K_VSOCK ? " + host" : "", ms / 1000.0, (unsigned long long)sum.iters,
	       (unsigned long long)sum.resets, (unsigned long long)sum.bringups, (unsigned long long)sum.notifies,
	       (unsigned long long)sum.msix, (unsigned long long)sum.reads, msi, (unsigned long long)ranges);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seconds", required_argument, NULL, 's' }, { "threads", required_argument, NULL, 't' },
		{ "device", required_argument, NULL, 'd' },  { "watchdog", required_argument, NULL, 'w' },
		{ "seed", required_argument, NULL, 'r' },    { "selftest-hang", no_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned seconds = 24, threads = 4;
	uint64_t seed = (uint64_t)time(NULL);
	const char *dev = "all";
	pthread_t wd;
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's': seconds = (unsigned)strtoul(optarg, NULL, 0); break;
		case 't': threads = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'd': dev = optarg; break;
		case 'w': watchdog_s = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'r': seed = strtoull(optarg, NULL, 0); break;
		case 'H': selftest_hang = true; break;
		default:
			fprintf(stderr, "usage: %s [--seconds N] [--threads 2..4] [--device rng|vsock|fs|all] "
					"[--watchdog S] [--seed N]\n", argv[0]);
			return 2;
		}
	}
	if (threads < 2 || threads > MAX_THREADS || !seconds || !watchdog_s) {
		fprintf(stderr, "stress: --threads 2..%d, --seconds and --watchdog above 0\n", MAX_THREADS);
		return 2;
	}
	log_set_quiet(true);
	printf("stress: seed %llu (--seed to repeat the schedule; the interleavings are the kernel's)\n",
	       (unsigned long long)seed);
	fflush(stdout);
	vdrv_mem_init(&d);
	snprintf(root, sizeof(root), "/tmp/aperture-stress-%d", (int)getpid());
	if (mkdir(root, 0755) && errno != EEXIST) {
		perror("stress: mkdir");
		return 1;
	}
	atexit(cleanup);
	if (pthread_create(&wd, NULL, watchdog, NULL) != 0)
		return 1;
	{
		enum kind ks[K_COUNT];
		unsigned n = 0;

		for (unsigned k = 0; k < K_COUNT; k++)
			if (!strcmp(dev, "all") || !strcmp(dev, kind_name[k] + 7))
				ks[n++] = (enum kind)k;
		if (!n) {
			fprintf(stderr, "stress: --device rng, vsock, fs or all\n");
			return 2;
		}
		for (unsigned i = 0; i < n; i++)
			phase(ks[i], seconds * 1000 / n, threads, seed);
	}
	printf("stress: ok\n");
	return 0;
}
