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
 * Input: up to 16 records
 *	[outlen hi, outlen lo, nin, flags, op, nodeid, arglen hi, arglen lo,
 *	 arglen bytes (fewer if the input ends)]
 * The header gets a truthful len unless flags bit 0 takes the first four
 * argument bytes as a (probably lying) len; bit 1 drops bytes off the end
 * so the chain is shorter than the header says. The readable part is split
 * over nin (1-4) iovecs and the reply over two, each its own exact-size
 * heap block: reading or writing past what the chain holds is an ASan
 * report. A reply longer than the writable part aborts.
 */
#include <dirent.h>
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RECORDS 16

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
	h.nodeid = data[5] % 8;
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
	if (r > 0 && (size_t)r > outlen)
		abort();
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
	if (fd_baseline < 0)
		fd_baseline = count_fds();
	session();
	while (size >= 8 && n++ < MAX_RECORDS) {
		size_t used = one_request(data, size);

		data += used;
		size -= used;
	}
	fuse_pt_destroy(fs);
	fs = NULL;
	/* A descriptor into the share (or /proc/self/fd) outlived the server: a leak. */
	if (count_fds() > fd_baseline)
		abort();
	return 0;
}
