/* SPDX-License-Identifier: MIT */
/*
 * vhost-user end to end without a guest: the harness is the guest driver of
 * a front-end device (devices/vhost-user-frontend.c) whose back end
 * (devices/vhost-user-backend.c around virtio-rng) runs on a thread of its
 * own over a socketpair, mapping guest memory only from the memory table it
 * is sent. With an aperture view that table is the aperture alone.
 */
#include <check.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <linux/virtio_fs.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <pthread.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include "devices/vhost-user-backend.h"
#include "devices/vhost-user-frontend.h"
#include "devices/virtio-fs.h"
#include "devices/virtio-net.h"
#include "devices/virtio-rng.h"
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <endian.h>
#include "tests/unit/harness.h"
#include "tests/unit/suites.h"
#include "vmm/backend.h"

#define MEM (2u << 20)
#define AP_BASE 0x100000ULL
#define AP_SIZE 0x100000ULL
#define VERSION_1 (1ULL << VIRTIO_F_VERSION_1)

static struct harness h;
static struct vhu_front front;
static struct back {
	struct vub b;
	struct virtio_rng rng;
	struct gm_view view;
	pthread_t t;
	bool joined;
	int result;
} back;
static unsigned gone_calls;

static void *back_thread(void *arg)
{
	struct back *k = arg;

	k->result = vub_serve(&k->b);
	return NULL;
}

static void on_gone(void *ctx, struct vhu_front *f, const char *why)
{
	(void)ctx, (void)f, (void)why;
	__atomic_fetch_add(&gone_calls, 1, __ATOMIC_RELAXED);
}

static const struct vhu_front_ops front_cb = { .gone = on_gone };

/* Front end with `view` (all RAM or an aperture), back end on a thread. */
static void up(bool aperture)
{
	struct gm_view view;
	char err[256] = "";
	int sv[2];

	gone_calls = 0;
	h_init(&h, MEM);
	view = aperture ? gm_view_aperture(&h.fm.mem, AP_BASE, AP_SIZE) : h.fm.all;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	memset(&back, 0, sizeof(back));
	vub_init(&back.b, sv[1]);
	back.view = gm_view_all(&back.b.mem);
	ck_assert_int_eq(virtio_rng_init(&back.rng, vub_platform(&back.b), &back.view), 0);
	vub_attach(&back.b, &back.rng.vdev);
	ck_assert_int_eq(pthread_create(&back.t, NULL, back_thread, &back), 0);
	ck_assert_msg(vhu_front_init(&front, virtio_rng_ops(), 1, NULL, &h.plat, &view, sv[0], -1, &front_cb, NULL, err,
				     sizeof(err)) == 0, "%s", err);
	h_plug(&h, &front.vdev);
}

static void down(void)
{
	vhu_front_destroy(&front); /* closes the socket: the back end's serve() returns */
	if (!back.joined)
		pthread_join(back.t, NULL);
	virtio_rng_destroy(&back.rng);
	vub_destroy(&back.b);
	h_destroy(&h);
}

/* Bring the device up with one ring at `ring` and return its layout. */
static void start(struct fake_ring *r, uint64_t ring, uint64_t features)
{
	ck_assert(h_negotiate(&h, features));
	fake_ring_layout(r, &h.fm, 8, ring);
	h_queue_setup(&h, 0, r, 1);
	h_driver_ok(&h);
	ck_assert(!(h_status(&h) & VIRTIO_CONFIG_S_NEEDS_RESET));
}

START_TEST(vhost_user_rng_serves_through_back_end)
{
	struct fake_ring r;
	uint8_t buf[512];
	uint32_t id, len;
	unsigned before;

	up(false);
	start(&r, 0x1000, VERSION_1 | (1ULL << VIRTIO_RING_F_EVENT_IDX));
	fake_fill(&h.fm, 0x8000, 0, sizeof(buf));
	before = h_msi_count(&h, 1);
	fake_avail_push(&r, fake_chain(&r, 0, (struct fake_seg[]){ { 0x8000, sizeof(buf), true } }, 1));
	h_kick(&h, 0);
	ck_assert(h_wait_used(&r, 0, 3000));
	ck_assert(fake_used_next(&r, &id, &len));
	ck_assert_uint_eq(len, sizeof(buf));
	fake_read(&h.fm, 0x8000, buf, sizeof(buf));
	{
		unsigned zeros = 0;

		for (unsigned i = 0; i < sizeof(buf); i++)
			zeros += !buf[i];
		ck_assert_uint_lt(zeros, 32); /* random bytes, not the zeros we left */
	}
	/* The back end's call eventfd became the queue's MSI-X interrupt. */
	for (int t = 0; t < 1000 && h_msi_count(&h, 1) == before; t++)
		usleep(1000);
	ck_assert_uint_gt(h_msi_count(&h, 1), before);
	ck_assert_uint_eq(__atomic_load_n(&back.rng.bytes, __ATOMIC_RELAXED), sizeof(buf));
	/* A reset stops the back end; a second bring-up works again. */
	h_set_status(&h, 0);
	start(&r, 0x1000, VERSION_1);
	fake_avail_push(&r, fake_chain(&r, 0, (struct fake_seg[]){ { 0x8000, 64, true } }, 1));
	h_kick(&h, 0);
	ck_assert(h_wait_used(&r, 0, 3000));
	down();
}
END_TEST

/* The back end maps the aperture only; ACCESS_PLATFORM/SWIOTLB stay with the monitor. */
START_TEST(vhost_user_back_end_sees_only_the_aperture)
{
	struct fake_ring r;
	uint32_t id, len;

	up(true);
	ck_assert(!h_negotiate(&h, VERSION_1)); /* an aperture device needs SWIOTLB acknowledged */
	start(&r, AP_BASE + 0x1000, VIRTIO_APERTURE_FEATURES);
	ck_assert_uint_eq(back.b.nregions, 1);
	ck_assert_uint_eq(back.b.mem.region[0].gpa, AP_BASE);
	ck_assert_uint_eq(back.b.mem.region[0].size, AP_SIZE);
	ck_assert(!(back.rng.vdev.driver_features & (1ULL << VIRTIO_F_ACCESS_PLATFORM)));
	ck_assert(!(back.rng.vdev.driver_features & (1ULL << VIRTIO_F_SWIOTLB)));
	/* Inside: served. */
	fake_avail_push(&r, fake_chain(&r, 0, (struct fake_seg[]){ { AP_BASE + 0x8000, 64, true } }, 1));
	h_kick(&h, 0);
	ck_assert(h_wait_used(&r, 0, 3000));
	ck_assert(fake_used_next(&r, &id, &len));
	/* Outside (guest RAM the back end never mapped): refused, the device needs a reset. */
	fake_fill(&h.fm, 0x8000, 0x5A, 64);
	fake_avail_push(&r, fake_chain(&r, 1, (struct fake_seg[]){ { 0x8000, 64, true } }, 1));
	h_kick(&h, 0);
	ck_assert(h_wait_needs_reset(&h, 3000));
	{
		uint8_t b[64];

		fake_read(&h.fm, 0x8000, b, sizeof(b));
		for (unsigned i = 0; i < sizeof(b); i++)
			ck_assert_uint_eq(b[i], 0x5A);
	}
	ck_assert_uint_eq(gone_calls, 0); /* refused, not gone */
	down();
}
END_TEST

/*
 * A back end that dies: NEEDS_RESET and one gone() call; the front end lives,
 * and the guest's requests are answered (with errors: length 0 here) rather
 * than left hanging, before and after the guest resets the device.
 */
START_TEST(vhost_user_back_end_dies)
{
	struct fake_ring r;
	uint32_t id, len;

	up(false);
	start(&r, 0x1000, VERSION_1 | (1ULL << VIRTIO_RING_F_EVENT_IDX));
	fake_avail_push(&r, fake_chain(&r, 0, (struct fake_seg[]){ { 0x8000, 64, true } }, 1));
	h_kick(&h, 0);
	ck_assert(h_wait_used(&r, 0, 3000));
	ck_assert(fake_used_next(&r, &id, &len));
	ck_assert_uint_eq(len, 64);
	shutdown(back.b.sock, SHUT_RDWR); /* as if its process was killed */
	pthread_join(back.t, NULL);       /* ... and gone: nothing of it reads the kicks any more */
	back.joined = true;
	ck_assert(h_wait_needs_reset(&h, 3000));
	for (int t = 0; t < 1000 && !__atomic_load_n(&gone_calls, __ATOMIC_RELAXED); t++)
		usleep(1000);
	ck_assert_uint_eq(gone_calls, 1);
	/* A request after the death: completed by the monitor, with nothing in it. */
	fake_avail_push(&r, fake_chain(&r, 1, (struct fake_seg[]){ { 0x9000, 64, true } }, 1));
	h_kick(&h, 0);
	ck_assert_msg(h_wait_used(&r, 1, 3000), "used %u", fake_used_idx(&r));
	ck_assert(fake_used_next(&r, &id, &len));
	ck_assert_uint_eq(id, 1);
	ck_assert_uint_eq(len, 0);
	/* With EVENT_IDX the driver kicks only when told to: the monitor asks for the next one. */
	for (int t = 0; t < 1000 && fake_avail_event(&r) != 2; t++)
		usleep(1000);
	ck_assert_uint_eq(fake_avail_event(&r), 2);
	/* The guest resets and retries: NEEDS_RESET again, requests still answered. */
	h_set_status(&h, 0);
	ck_assert(h_negotiate(&h, VERSION_1));
	fake_ring_layout(&r, &h.fm, 8, 0x1000);
	h_queue_setup(&h, 0, &r, 1);
	h_driver_ok(&h);
	ck_assert(h_wait_needs_reset(&h, 3000));
	fake_avail_push(&r, fake_chain(&r, 0, (struct fake_seg[]){ { 0x8000, 64, true } }, 1));
	h_kick(&h, 0);
	ck_assert(h_wait_used(&r, 0, 3000));
	ck_assert_uint_eq(gone_calls, 1);
	down();
}
END_TEST

/*
 * The real thing: build/aperture-backend (next to the test binary) in its
 * sandbox serves virtio-rng out of the aperture; then killed, its death is
 * NEEDS_RESET.
 */
START_TEST(vhost_user_sandboxed_process)
{
	static const char *const args[] = { "rng", NULL };
	struct gm_view view;
	struct backend be;
	struct fake_ring r;
	char err[256] = "", how[96];
	uint32_t id, len;
	int sock;

	gone_calls = 0;
	h_init(&h, MEM);
	view = gm_view_aperture(&h.fm.mem, AP_BASE, AP_SIZE);
	ck_assert_msg(backend_spawn(&be, args, &sock, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(vhu_front_init(&front, virtio_rng_ops(), 1, NULL, &h.plat, &view, sock, -1, &front_cb, NULL, err,
				     sizeof(err)) == 0, "%s", err);
	h_plug(&h, &front.vdev);
	start(&r, AP_BASE + 0x1000, VIRTIO_APERTURE_FEATURES);
	for (uint16_t i = 0; i < 3; i++) {
		fake_avail_push(&r, fake_chain(&r, i, (struct fake_seg[]){ { AP_BASE + 0x8000 + i * 0x100, 128, true } },
					       1));
		h_kick(&h, 0);
		ck_assert_msg(h_wait_used(&r, i, 5000), "request %u not served", i);
		ck_assert(fake_used_next(&r, &id, &len));
		ck_assert_uint_eq(len, 128);
	}
	backend_reap(&be, 0, how, sizeof(how));
	ck_assert_str_eq(how, "still running");
	kill(be.pid, SIGKILL);
	ck_assert(h_wait_needs_reset(&h, 5000));
	backend_reap(&be, 3000, how, sizeof(how));
	ck_assert_str_eq(how, "killed by signal 9 (Killed)");
	vhu_front_destroy(&front);
	h_destroy(&h);
}
END_TEST

/* Has process pid ended (gone, or a zombie nobody reaped yet)? */
static bool ended(pid_t pid)
{
	char path[64], buf[256];
	FILE *f;
	bool z = false;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return true;
	if (fgets(buf, sizeof(buf), f)) {
		const char *p = strrchr(buf, ')');

		z = p && (p[2] == 'Z' || p[2] == 'X');
	}
	fclose(f);
	return z;
}

/* A monitor killed with SIGKILL leaves no back end behind: it exits when the socket closes. */
START_TEST(vhost_user_back_end_outlives_no_monitor)
{
	int pfd[2];
	pid_t monitor, be_pid = 0;

	ck_assert_int_eq(pipe(pfd), 0);
	monitor = fork();
	ck_assert_int_ge(monitor, 0);
	if (monitor == 0) {
		static const char *const args[] = { "rng", NULL };
		struct backend be;
		char err[256];
		int sock;

		if (backend_spawn(&be, args, &sock, err, sizeof(err)))
			_exit(1);
		if (write(pfd[1], &be.pid, sizeof(be.pid)) != sizeof(be.pid))
			_exit(1);
		pause();
		_exit(0);
	}
	close(pfd[1]);
	ck_assert_int_eq(read(pfd[0], &be_pid, sizeof(be_pid)), sizeof(be_pid));
	close(pfd[0]);
	ck_assert(!ended(be_pid));
	kill(monitor, SIGKILL);
	waitpid(monitor, NULL, 0);
	for (int t = 0; t < 5000 && !ended(be_pid); t++)
		usleep(1000);
	ck_assert_msg(ended(be_pid), "back end %d still running after its monitor was killed", (int)be_pid);
}
END_TEST

/* ---- virtio-fs through the sandboxed back end ---- */

static struct fake_ring fq0, fq1;
static uint64_t fs_unique;

/* One FUSE request (header + args + data) on request queue 1; the reply in *out. -1 if none came. */
static int fs_call(uint32_t op, uint64_t node, const void *args, size_t alen, const void *data, size_t dlen,
		   void *out, size_t outlen)
{
	struct fuse_in_header ih = { .len = (uint32_t)(sizeof(ih) + alen + dlen), .opcode = op, .unique = ++fs_unique,
				     .nodeid = node };
	uint64_t req = AP_BASE + 0x20000, rep = AP_BASE + 0x40000;
	uint16_t old = fake_used_idx(&fq1);
	uint32_t len;

	fake_write(&h.fm, req, &ih, sizeof(ih));
	if (alen)
		fake_write(&h.fm, req + sizeof(ih), args, alen);
	if (dlen)
		fake_write(&h.fm, req + sizeof(ih) + alen, data, dlen);
	fake_fill(&h.fm, rep, 0, 0x10000);
	fake_avail_push(&fq1, fake_chain(&fq1, 0, (struct fake_seg[]){ { req, ih.len, false }, { rep, 0x10000, true } },
					 2));
	h_kick(&h, 1);
	if (!h_wait_used(&fq1, old, 5000) || !fake_used_next(&fq1, NULL, &len))
		return -1;
	fake_read(&h.fm, rep, out, outlen < len ? outlen : len);
	return (int)len;
}

/* The sandboxed fs back end serves the everyday FUSE operations out of the aperture. */
START_TEST(vhost_user_sandboxed_fs)
{
	char dir[] = "/tmp/aperture-vufs-XXXXXX", path[128], q[8] = "1";
	const char *args[] = { "fs", "--shared-dir", dir, "--tag", "t", "--queues", q, NULL };
	struct virtio_dev_ops t = *virtio_fs_ops();
	struct virtio_fs_config c = { .tag = "t", .num_request_queues = 1 };
	struct gm_view view;
	struct backend be;
	char err[256] = "", how[96];
	struct {
		struct fuse_out_header h;
		union {
			struct fuse_init_out init;
			struct fuse_entry_out entry;
			struct fuse_open_out open;
			struct fuse_write_out write;
			struct {
				struct fuse_entry_out e;
				struct fuse_open_out o;
			} create;
			char data[4096];
		};
	} r;
	uint64_t node, fh;
	int sock, n;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/hello", dir);
	f = fopen(path, "w");
	fputs("hello from the host", f);
	fclose(f);
	h_init(&h, MEM);
	view = gm_view_aperture(&h.fm.mem, AP_BASE, AP_SIZE);
	t.nqueues = 2;
	ck_assert_msg(backend_spawn(&be, args, &sock, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(vhu_front_init(&front, &t, 2, &c, &h.plat, &view, sock, -1, &front_cb, NULL, err, sizeof(err)) == 0,
		      "%s", err);
	h_plug(&h, &front.vdev);
	ck_assert(h_negotiate(&h, VIRTIO_APERTURE_FEATURES));
	fake_ring_layout(&fq0, &h.fm, 8, AP_BASE + 0x1000);
	fake_ring_layout(&fq1, &h.fm, 8, AP_BASE + 0x3000);
	h_queue_setup(&h, 0, &fq0, 0);
	h_queue_setup(&h, 1, &fq1, 1);
	h_driver_ok(&h);
	{
		struct fuse_init_in in = { .major = 7, .minor = 41, .max_readahead = 65536 };

		ck_assert_int_gt(fs_call(FUSE_INIT, 0, &in, sizeof(in), NULL, 0, &r, sizeof(r)), 16);
		ck_assert_int_eq(r.h.error, 0);
	}
	ck_assert_int_gt(fs_call(FUSE_LOOKUP, FUSE_ROOT_ID, "hello", 6, NULL, 0, &r, sizeof(r)), 16);
	ck_assert_int_eq(r.h.error, 0);
	node = r.entry.nodeid;
	{
		struct fuse_open_in o = { .flags = O_RDONLY };
		struct fuse_read_in rd = { .size = 100 };

		ck_assert_int_gt(fs_call(FUSE_OPEN, node, &o, sizeof(o), NULL, 0, &r, sizeof(r)), 16);
		ck_assert_int_eq(r.h.error, 0);
		rd.fh = fh = r.open.fh;
		n = fs_call(FUSE_READ, node, &rd, sizeof(rd), NULL, 0, &r, sizeof(r));
		ck_assert_int_eq(n, 16 + 19);
		ck_assert(!memcmp(r.data, "hello from the host", 19));
	}
	{
		struct fuse_create_in ci = { .flags = O_WRONLY | O_CREAT, .mode = S_IFREG | 0644 };
		struct fuse_write_in wi = { .size = 12 };
		struct fuse_mkdir_in mi = { .mode = 0755 };

		ck_assert_int_gt(fs_call(FUSE_CREATE, FUSE_ROOT_ID, &ci, sizeof(ci), "new", 4, &r, sizeof(r)), 16);
		ck_assert_int_eq(r.h.error, 0);
		wi.fh = r.create.o.fh;
		ck_assert_int_gt(fs_call(FUSE_WRITE, r.create.e.nodeid, &wi, sizeof(wi), "from the vm!", 12, &r,
					 sizeof(r)), 16);
		ck_assert_int_eq(r.h.error, 0);
		ck_assert_uint_eq(r.write.size, 12);
		ck_assert_int_ge(fs_call(FUSE_MKDIR, FUSE_ROOT_ID, &mi, sizeof(mi), "d", 2, &r, sizeof(r)), 16);
		ck_assert_int_eq(r.h.error, 0);
	}
	{
		struct fuse_open_in o = { .flags = O_RDONLY | O_DIRECTORY };
		struct fuse_read_in rd = { .size = 4096 };

		ck_assert_int_gt(fs_call(FUSE_OPENDIR, FUSE_ROOT_ID, &o, sizeof(o), NULL, 0, &r, sizeof(r)), 16);
		ck_assert_int_eq(r.h.error, 0);
		rd.fh = r.open.fh;
		ck_assert_int_gt(fs_call(FUSE_READDIR, FUSE_ROOT_ID, &rd, sizeof(rd), NULL, 0, &r, sizeof(r)), 16 + 24);
		ck_assert_int_eq(r.h.error, 0);
	}
	{
		struct fuse_statfs_out *sf = (void *)r.data;

		ck_assert_int_gt(fs_call(FUSE_STATFS, FUSE_ROOT_ID, NULL, 0, NULL, 0, &r, sizeof(r)), 16);
		ck_assert_int_eq(r.h.error, 0);
		ck_assert_uint_gt(sf->st.bsize, 0);
	}
	(void)fh;
	/* On the host: the guest's file and directory, in the share, nowhere else. */
	snprintf(path, sizeof(path), "%s/new", dir);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(r.data, sizeof(r.data), f));
	fclose(f);
	ck_assert_str_eq(r.data, "from the vm!");
	backend_reap(&be, 0, how, sizeof(how));
	ck_assert_str_eq(how, "still running");
	ck_assert(!(h_status(&h) & VIRTIO_CONFIG_S_NEEDS_RESET));
	vhu_front_destroy(&front);
	backend_stop(&be, 3000);
	backend_reap(&be, 0, how, sizeof(how));
	ck_assert_str_eq(how, "exited with status 0");
	h_destroy(&h);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		ck_assert_int_eq(system(cmd), 0);
	}
}
END_TEST

/* The front end heard from a net back end: count it, and do what vmm/devmgr.c does (link down). */
static unsigned net_config_calls;

static void on_net_config(void *ctx, struct vhu_front *f)
{
	const struct virtio_net_stats *st = ctx;
	uint16_t status = 0;

	if (__atomic_load_n(&st->link_down, __ATOMIC_RELAXED))
		vhu_front_set_config(f, offsetof(struct virtio_net_config, status), &status, sizeof(status));
	__atomic_fetch_add(&net_config_calls, 1, __ATOMIC_RELAXED);
}

/* The lines of /proc/PID/maps that map the harness's guest memory: exactly one, the aperture. */
static void check_maps_only_aperture(pid_t pid)
{
	char path[64], line[512];
	unsigned n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi, off;

		if (!strstr(line, "memfd:fakemem"))
			continue;
		n++;
		ck_assert_int_eq(sscanf(line, "%llx-%llx %*s %llx", &lo, &hi, &off), 3);
		ck_assert_uint_eq(hi - lo, AP_SIZE);
		ck_assert_uint_eq(off, AP_BASE);
	}
	fclose(f);
	ck_assert_uint_eq(n, 1);
}

/*
 * build/aperture-backend net in its sandbox over a socketpair standing in
 * for passt: a frame the driver transmits comes out length-prefixed, a
 * frame "passt" sends lands in a receive buffer, the counters reach the
 * shared page, the process maps only the aperture, and passt hanging up
 * reaches the front end as a lost link.
 */
START_TEST(vhost_user_sandboxed_net)
{
	static const uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 1 };
	const char *args[] = { "net", "--net-kind", "passt", "--name", "passt", "--pairs", "1", "--mtu", "65520",
			       "--mac", "02:00:00:00:00:01", NULL };
	const struct net_backend fake_be = { .kind = "passt", .pairs = 1, .mtu = 65520 };
	const struct vhu_front_ops cb = { .gone = on_gone, .config_changed = on_net_config };
	struct virtio_dev_ops t;
	struct virtio_net_config c;
	struct virtio_net_stats *st;
	struct fake_ring rx, tx, ctl;
	struct gm_view view;
	struct backend be;
	uint8_t frame[60], got[4 + sizeof(frame)], hdr[NET_HDR_LEN] = { 0 };
	uint32_t id, len, blen;
	char err[256] = "", how[96];
	int passt[2], fds[3], cfg, memfd, sock;
	ssize_t n;

	gone_calls = net_config_calls = 0;
	for (unsigned i = 0; i < sizeof(frame); i++)
		frame[i] = (uint8_t)(i * 7 + 1);
	ck_assert_int_eq(virtio_net_describe(&fake_be, mac, &t, &c), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, passt), 0);
	cfg = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	memfd = memfd_create("net-stats", MFD_CLOEXEC);
	ck_assert(cfg >= 0 && memfd >= 0 && ftruncate(memfd, 4096) == 0);
	st = mmap(NULL, 4096, PROT_READ, MAP_SHARED, memfd, 0);
	ck_assert(st != MAP_FAILED);
	fds[0] = cfg;
	fds[1] = memfd;
	fds[2] = passt[0];
	h_init(&h, MEM);
	view = gm_view_aperture(&h.fm.mem, AP_BASE, AP_SIZE);
	ck_assert_msg(backend_spawn_fds(&be, args, fds, 3, &sock, err, sizeof(err)) == 0, "%s", err);
	close(passt[0]); /* the back end's now */
	ck_assert_msg(vhu_front_init(&front, &t, 3, &c, &h.plat, &view, sock, cfg, &cb, st, err, sizeof(err)) == 0,
		      "%s", err);
	h_plug(&h, &front.vdev);
	ck_assert(h_negotiate(&h, VIRTIO_APERTURE_FEATURES | (1ULL << VIRTIO_NET_F_MAC) | (1ULL << VIRTIO_NET_F_STATUS)));
	fake_ring_layout(&rx, &h.fm, 8, AP_BASE + 0x1000);
	fake_ring_layout(&tx, &h.fm, 8, AP_BASE + 0x3000);
	fake_ring_layout(&ctl, &h.fm, 8, AP_BASE + 0x5000);
	h_queue_setup(&h, 0, &rx, 0);
	h_queue_setup(&h, 1, &tx, 1);
	h_queue_setup(&h, 2, &ctl, 2);
	h_driver_ok(&h);
	ck_assert(!(h_status(&h) & VIRTIO_CONFIG_S_NEEDS_RESET));

	/* Transmit: header + frame out of the aperture, out on passt's stream with its length. */
	fake_write(&h.fm, AP_BASE + 0x8000, hdr, sizeof(hdr));
	fake_write(&h.fm, AP_BASE + 0x8000 + NET_HDR_LEN, frame, sizeof(frame));
	fake_avail_push(&tx, fake_chain(&tx, 0, (struct fake_seg[]){ { AP_BASE + 0x8000, NET_HDR_LEN + sizeof(frame),
								       false } }, 1));
	h_kick(&h, 1);
	ck_assert_msg(h_wait_used(&tx, 0, 5000), "transmit not served");
	ck_assert(fake_used_next(&tx, &id, &len));
	{
		struct pollfd p = { .fd = passt[1], .events = POLLIN };
		size_t have = 0;

		while (have < sizeof(got) && poll(&p, 1, 5000) == 1 && (n = read(passt[1], got + have, sizeof(got) - have)) > 0)
			have += (size_t)n;
		ck_assert_uint_eq(have, sizeof(got));
	}
	memcpy(&blen, got, 4);
	ck_assert_uint_eq(be32toh(blen), sizeof(frame));
	ck_assert(!memcmp(got + 4, frame, sizeof(frame)));

	/* Receive: a buffer posted, a frame from "passt", in the buffer behind a zero header. */
	fake_fill(&h.fm, AP_BASE + 0x10000, 0xEE, 2048);
	fake_avail_push(&rx, fake_chain(&rx, 0, (struct fake_seg[]){ { AP_BASE + 0x10000, 2048, true } }, 1));
	h_kick(&h, 0);
	blen = htobe32(sizeof(frame));
	memcpy(got, &blen, 4);
	memcpy(got + 4, frame, sizeof(frame));
	ck_assert_int_eq(write(passt[1], got, sizeof(got)), (ssize_t)sizeof(got));
	ck_assert_msg(h_wait_used(&rx, 0, 5000), "receive not served");
	ck_assert(fake_used_next(&rx, &id, &len));
	ck_assert_uint_eq(len, NET_HDR_LEN + sizeof(frame));
	{
		uint8_t b[NET_HDR_LEN + sizeof(frame)];

		fake_read(&h.fm, AP_BASE + 0x10000, b, sizeof(b));
		ck_assert(!memcmp(b + NET_HDR_LEN, frame, sizeof(frame)));
	}
	ck_assert_uint_eq(__atomic_load_n(&st->tx_frames, __ATOMIC_RELAXED), 1);
	ck_assert_uint_eq(__atomic_load_n(&st->rx_frames, __ATOMIC_RELAXED), 1);
	check_maps_only_aperture(be.pid);

	/*
	 * The driver resets the device and starts it again: the back end stops
	 * its pair threads, takes the new kick descriptors and starts them
	 * again; a frame still goes out.
	 */
	h_set_status(&h, 0);
	ck_assert(h_negotiate(&h, VIRTIO_APERTURE_FEATURES | (1ULL << VIRTIO_NET_F_MAC) | (1ULL << VIRTIO_NET_F_STATUS)));
	fake_ring_layout(&rx, &h.fm, 8, AP_BASE + 0x1000);
	fake_ring_layout(&tx, &h.fm, 8, AP_BASE + 0x3000);
	fake_ring_layout(&ctl, &h.fm, 8, AP_BASE + 0x5000);
	h_queue_setup(&h, 0, &rx, 0);
	h_queue_setup(&h, 1, &tx, 1);
	h_queue_setup(&h, 2, &ctl, 2);
	h_driver_ok(&h);
	ck_assert(!(h_status(&h) & VIRTIO_CONFIG_S_NEEDS_RESET));
	fake_avail_push(&tx, fake_chain(&tx, 0, (struct fake_seg[]){ { AP_BASE + 0x8000, NET_HDR_LEN + sizeof(frame),
								       false } }, 1));
	h_kick(&h, 1);
	ck_assert_msg(h_wait_used(&tx, 0, 5000), "transmit not served after a reset");
	ck_assert(fake_used_next(&tx, &id, &len));
	{
		struct pollfd p = { .fd = passt[1], .events = POLLIN };
		size_t have = 0;

		while (have < sizeof(got) && poll(&p, 1, 5000) == 1 && (n = read(passt[1], got + have, sizeof(got) - have)) > 0)
			have += (size_t)n;
		ck_assert_uint_eq(have, sizeof(got));
		ck_assert(!memcmp(got + 4, frame, sizeof(frame)));
	}
	ck_assert_uint_eq(__atomic_load_n(&st->tx_frames, __ATOMIC_RELAXED), 2);

	/* passt goes away: the back end says so, the front end takes the link down. */
	ck_assert_uint_eq(net_config_calls, 0);
	close(passt[1]);
	for (unsigned i = 0; i < 500 && !__atomic_load_n(&net_config_calls, __ATOMIC_RELAXED); i++)
		usleep(10000);
	ck_assert_uint_ge(net_config_calls, 1);
	ck_assert_uint_eq(__atomic_load_n(&st->link_down, __ATOMIC_RELAXED), 1);
	ck_assert_uint_eq(front.config[offsetof(struct virtio_net_config, status)] & VIRTIO_NET_S_LINK_UP, 0);
	ck_assert(!(h_status(&h) & VIRTIO_CONFIG_S_NEEDS_RESET)); /* a lost link is not a broken device */
	backend_reap(&be, 0, how, sizeof(how));
	ck_assert_str_eq(how, "still running");
	vhu_front_destroy(&front);
	backend_stop(&be, 3000);
	backend_reap(&be, 0, how, sizeof(how));
	ck_assert_str_eq(how, "exited with status 0");
	ck_assert_uint_eq(gone_calls, 0);
	munmap(st, 4096);
	close(memfd);
	close(cfg);
	h_destroy(&h);
}
END_TEST

Suite *vhost_user_suite(void)
{
	Suite *s = suite_create("vhost-user");
	TCase *t = tcase_create("front+back");

	tcase_set_timeout(t, 30);
	tcase_add_test(t, vhost_user_rng_serves_through_back_end);
	tcase_add_test(t, vhost_user_back_end_sees_only_the_aperture);
	tcase_add_test(t, vhost_user_back_end_dies);
	tcase_add_test(t, vhost_user_sandboxed_process);
	tcase_add_test(t, vhost_user_back_end_outlives_no_monitor);
	tcase_add_test(t, vhost_user_sandboxed_fs);
	tcase_add_test(t, vhost_user_sandboxed_net);
	suite_add_tcase(s, t);
	return s;
}
