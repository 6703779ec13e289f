/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: FUSE requests into the passthrough server.
 *
 * Deterministic: every input starts from the same state. The scratch share
 * under /tmp is rebuilt (a file "a", a directory "d" holding "f", a symlink
 * "l" out of the share), the server created, INIT served, and a session set
 * up as a guest would have it: node 2 = a, 3 = d, 4 = l; file handle 0 on
 * "a" (read-write), 1 on "d" (directory). Then the input's requests run in
 * order and the server is destroyed, which closes every descriptor it
 * holds; the target aborts if the process's descriptor count stays above
 * what it was before the first input.
 *
 * Input: up to 64 records, run in order whatever the earlier ones got
 * (errors, ENOENT, EBADF, a DESTROY or a second INIT included):
 *	[outlen hi, outlen lo, nin, flags, op, nodeid, arglen hi, arglen lo,
 *	 arglen bytes (fewer if the input ends)]
 * The header gets a truthful len unless flags bit 0 takes the first four
 * argument bytes as a (probably lying) len; bit 1 drops bytes off the end
 * so the chain is shorter than the header says. The readable part is split
 * over nin (1-4) iovecs and the reply over two, each its own exact-size
 * heap block: reading or writing past what the chain holds is an ASan
 * report. A reply longer than the writable part aborts, and so does a
 * reply whose header does not say its own length, the request's unique ID
 * and an errno (0 or -1..-4095).
 *
 * flags bit 7 sends the record instead to the high-priority queue of a
 * virtio-fs device on the same share (on the native harness, made on the
 * first such record, queue run synchronously): only FORGET, BATCH_FORGET
 * and INTERRUPT are served there (no reply); anything else must be
 * answered ENOSYS, never run on the transport's worker.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/fuse.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "devices/fuse-passthrough.h"
#include "devices/virtio-fs.h"
#include "lib/log.h"
#include "tests/fuzz/vsockdrv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RECORDS 64
#define HMEM (1u << 20)
#define HRING 0x1000ULL
#define HREQ 0x10000ULL
#define HREP 0x30000ULL

static char root[64];
static struct fuse_pt *fs;
static uint64_t unique;
static int fd_baseline = -1;

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

/*
 * Descriptors the server could have left behind: those naming something in
 * the scratch share or /proc/<pid>/fd. Counting every descriptor was flaky:
 * libFuzzer and the sanitizer runtime open files of their own at any time.
 */
static int count_fds(void)
{
	char proc[64], path[64], target[256];
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		abort();
	snprintf(proc, sizeof(proc), "/proc/%d/fd", (int)getpid());
	while ((e = readdir(d))) {
		ssize_t l;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		l = readlink(path, target, sizeof(target) - 1);
		if (l <= 0)
			continue;
		target[l] = '\0';
		if ((root[0] && strncmp(target, root, strlen(root)) == 0) || strcmp(target, proc) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* One request with a truthful header; the reply's error (0 on success) and payload into out. */
static int32_t setup_call(uint32_t op, uint64_t node, const void *a, size_t alen, void *out, size_t outlen)
{
	uint8_t req[256], rep[512];
	struct fuse_in_header h = { .len = (uint32_t)(sizeof(h) + alen), .opcode = op, .unique = ++unique,
				    .nodeid = node };
	struct iovec i = { req, sizeof(h) + alen }, o = { rep, sizeof(rep) };
	long r;

	memcpy(req, &h, sizeof(h));
	memcpy(req + sizeof(h), a, alen);
	r = fuse_pt_handle(fs, &i, 1, &o, 1);
	if (r < (long)sizeof(struct fuse_out_header))
		abort();
	if (out)
		memcpy(out, rep + sizeof(struct fuse_out_header), outlen);
	return ((struct fuse_out_header *)rep)->error;
}

static void make_share(void)
{
	char p[128];
	FILE *f;

	if (!root[0]) {
		snprintf(root, sizeof(root), "/tmp/aperture-fuzz-fuse-%d", (int)getpid());
		mkdir(root, 0755);
		atexit(cleanup);
	}
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	snprintf(p, sizeof(p), "%s/a", root);
	f = fopen(p, "w");
	if (!f)
		abort();
	fputs("content", f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/d", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/d/f", root);
	close(open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
	snprintf(p, sizeof(p), "%s/l", root);
	if (symlink("/etc/passwd", p) != 0)
		abort();
}

/* The state every input starts from (see the top of the file). */
static void session(void)
{
	struct fuse_init_in ii = { .major = 7, .minor = 41, .flags = FUSE_DO_READDIRPLUS | FUSE_MAX_PAGES };
	struct fuse_open_in oi = { .flags = O_RDWR };
	struct fuse_entry_out e;
	struct fuse_open_out oo;
	static const char *const names[] = { "a", "d", "l" };

	make_share();
	if (fuse_pt_create(&fs, root))
		abort();
	unique = 0;
	if (setup_call(FUSE_INIT, 0, &ii, sizeof(ii), NULL, 0))
		abort();
	for (unsigned k = 0; k < 3; k++)
		if (setup_call(FUSE_LOOKUP, FUSE_ROOT_ID, names[k], strlen(names[k]) + 1, &e, sizeof(e)) ||
		    e.nodeid != 2 + k)
			abort();
	if (setup_call(FUSE_OPEN, 2, &oi, sizeof(oi), &oo, sizeof(oo)) || oo.fh != 0)
		abort();
	oi.flags = O_RDONLY;
	if (setup_call(FUSE_OPENDIR, 3, &oi, sizeof(oi), &oo, sizeof(oo)) || oo.fh != 1)
		abort();
}

static const uint32_t ops[] = {
	FUSE_LOOKUP, FUSE_FORGET, FUSE_GETATTR, FUSE_SETATTR, FUSE_READLINK, FUSE_SYMLINK, FUSE_MKNOD, FUSE_MKDIR,
	FUSE_UNLINK, FUSE_RMDIR, FUSE_RENAME, FUSE_LINK, FUSE_OPEN, FUSE_READ, FUSE_WRITE, FUSE_STATFS,
	FUSE_RELEASE, FUSE_FSYNC, FUSE_SETXATTR, FUSE_GETXATTR, FUSE_LISTXATTR, FUSE_REMOVEXATTR, FUSE_FLUSH,
	FUSE_INIT, FUSE_OPENDIR, FUSE_READDIR, FUSE_RELEASEDIR, FUSE_FSYNCDIR, FUSE_ACCESS, FUSE_CREATE,
	FUSE_INTERRUPT, FUSE_DESTROY, FUSE_BATCH_FORGET, FUSE_FALLOCATE, FUSE_READDIRPLUS, FUSE_RENAME2,
	FUSE_LSEEK, FUSE_COPY_FILE_RANGE, FUSE_SYNCFS, FUSE_GETLK, 4242,
};

/* ---- the high-priority queue of a virtio-fs device on the same share ---- */

static struct harness hh;
static struct virtio_fs vfs;
static struct fake_ring hring;
static bool have_vfs;
static uint16_t hdesc;

static void vfs_up(void)
{
	static bool mem;

	if (!mem) {
		h_init(&hh, HMEM);
		mem = true;
	}
	vdrv_new_bus(&hh);
	if (virtio_fs_init(&vfs, &hh.plat, &hh.fm.all, "fuzz", root, 1, NULL))
		abort();
	h_plug(&hh, &vfs.vdev);
	if (!h_negotiate(&hh, 1ULL << VIRTIO_F_VERSION_1))
		abort();
	fake_ring_layout(&hring, &hh.fm, 16, HRING);
	h_queue_setup(&hh, 0, &hring, 0);
	hdesc = 0;
	have_vfs = true;
	/*
	 * INIT and a LOOKUP as if through a request queue: FORGET then has
	 * something to drop (earlier records may have renamed or removed "a").
	 */
	{
		struct fuse_pt *keep = fs;
		struct fuse_init_in ii = { .major = 7, .minor = 41 };
		struct fuse_entry_out e;

		fs = vfs.srv;
		if (setup_call(FUSE_INIT, 0, &ii, sizeof(ii), NULL, 0))
			abort();
		(void)setup_call(FUSE_LOOKUP, FUSE_ROOT_ID, "a", 2, &e, sizeof(e));
		fs = keep;
	}
}

static void vfs_down(void)
{
	if (have_vfs)
		virtio_fs_destroy(&vfs);
	have_vfs = false;
}

/* One request (total bytes of req, over nin segments) on the hiprio queue, run as the worker would. */
static void hiprio(const struct fuse_in_header *h, const uint8_t *req, size_t total, unsigned nin, size_t outlen)
{
	struct fake_seg s[5];
	unsigned n = 0;
	size_t off = 0;
	uint32_t id, len;
	bool go;

	if (!have_vfs)
		vfs_up();
	if (total > HREP - HREQ)
		total = HREP - HREQ;
	if (outlen > HMEM - HREP)
		outlen = HMEM - HREP;
	fake_write(&hh.fm, HREQ, req, total);
	for (unsigned k = 0; k < nin; k++) {
		size_t l = k + 1 == nin ? total - off : (total - off) / (nin - k);

		if (l)
			s[n++] = (struct fake_seg){ HREQ + off, (uint32_t)l, false };
		off += l;
	}
	if (outlen)
		s[n++] = (struct fake_seg){ HREP, (uint32_t)outlen, true };
	if (!n)
		return;
	fake_avail_push(&hring, fake_chain(&hring, hdesc, s, n));
	hdesc = (uint16_t)((hdesc + n) % 16);
	pthread_mutex_lock(&vfs.vdev.lock);
	go = !vfs.vdev.failed && vfs.vdev.q[0].enabled;
	pthread_mutex_unlock(&vfs.vdev.lock);
	if (go && vfs.vdev.ops->queue_notify(&vfs.vdev, 0) < 0)
		virtio_dev_fail(&vfs.vdev, "queue 0: request rejected");
	while (fake_used_next(&hring, &id, &len)) {
		bool quiet = h->opcode == FUSE_FORGET || h->opcode == FUSE_BATCH_FORGET || h->opcode == FUSE_INTERRUPT;
		struct fuse_out_header o;

		if (!len)
			continue;
		VDRV_CHECK(len >= sizeof(o) && len <= outlen, "hiprio: used length %u, %zu writable", len, outlen);
		fake_read(&hh.fm, HREP, &o, sizeof(o));
		VDRV_CHECK(!quiet && o.error == -ENOSYS,
			   "hiprio queue: opcode %u answered with error %d (only FORGET, BATCH_FORGET and INTERRUPT "
			   "are served there; ENOSYS for the rest)", h->opcode, o.error);
	}
}

/* Run one record from data; returns the bytes it used. */
static size_t one_request(const uint8_t *data, size_t size)
{
	static uint8_t req[70000];
	struct fuse_in_header h = { 0 };
	struct iovec in[4], out[2];
	unsigned nin, nout = 0;
	size_t off = 0, outlen, alen, used, total;
	uint8_t flags;
	long r;

	outlen = (size_t)data[0] << 8 | data[1];
	nin = 1 + data[2] % 4;
	flags = data[3];
	h.opcode = ops[data[4] % (sizeof(ops) / sizeof(ops[0]))];
	h.nodeid = data[5] % 16;
	h.unique = ++unique;
	alen = (size_t)data[6] << 8 | data[7];
	data += 8;
	size -= 8;
	if (alen > size)
		alen = size;
	used = 8 + alen;
	h.len = (uint32_t)(sizeof(h) + alen);
	if ((flags & 1) && alen >= 4) {
		memcpy(&h.len, data, 4);
		data += 4;
		alen -= 4;
	}
	memcpy(req, &h, sizeof(h));
	memcpy(req + sizeof(h), data, alen);
	total = sizeof(h) + alen;
	if (flags & 2)
		total -= 1 + (flags >> 2) % total;
	if (flags & 0x80) {
		hiprio(&h, req, total, nin, outlen);
		return used;
	}
	for (unsigned k = 0; k < nin; k++) {
		size_t len = k + 1 == nin ? total - off : (total - off) / (nin - k);

		in[k].iov_base = malloc(len ? len : 1);
		in[k].iov_len = len;
		memcpy(in[k].iov_base, req + off, len);
		off += len;
	}
	if (outlen) {
		out[0].iov_len = outlen / 2;
		out[1].iov_len = outlen - outlen / 2;
		out[0].iov_base = malloc(out[0].iov_len ? out[0].iov_len : 1);
		out[1].iov_base = malloc(out[1].iov_len);
		nout = 2;
	}
	r = fuse_pt_handle(fs, in, nin, out, nout);
	VDRV_CHECK(r <= 0 || (size_t)r <= outlen, "reply of %ld bytes, %zu writable", r, outlen);
	if (r > 0) {
		struct fuse_out_header o;
		size_t a = out[0].iov_len < sizeof(o) ? out[0].iov_len : sizeof(o);

		VDRV_CHECK((size_t)r >= sizeof(o), "reply of %ld bytes", r);
		memcpy(&o, out[0].iov_base, a);
		memcpy((uint8_t *)&o + a, out[1].iov_base, sizeof(o) - a);
		VDRV_CHECK(o.len == (uint32_t)r && o.unique == h.unique && o.error <= 0 && o.error > -4096,
			   "opcode %u: reply header len %u (returned %ld), unique %llu (sent %llu), error %d", h.opcode,
			   o.len, r, (unsigned long long)o.unique, (unsigned long long)h.unique, o.error);
	}
	for (unsigned k = 0; k < nin; k++)
		free(in[k].iov_base);
	for (unsigned k = 0; k < nout; k++)
		free(out[k].iov_base);
	return used;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned n = 0;

	if (size > 65536)
		return 0;
	if (fd_baseline < 0) {
		log_set_quiet(true);
		fd_baseline = count_fds();
	}
	session();
	while (size >= 8 && n++ < MAX_RECORDS) {
		size_t used = one_request(data, size);

		data += used;
		size -= used;
	}
	fuse_pt_destroy(fs);
	fs = NULL;
	vfs_down();
	/* A descriptor into the share (or /proc/self/fd) outlived the server: a leak. */
	if (count_fds() > fd_baseline)
		abort();
	return 0;
}
