/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: FUSE requests into the passthrough server. The input is
 * a request split into readable iovecs (sizes from the input) plus the size
 * of the writable reply buffer; each iovec is its own exact-size heap block,
 * so reading or writing past what the chain holds is an ASan report. The
 * server works on a scratch share under /tmp that is wiped every few
 * thousand runs (and serves an INIT first, so requests get past it).
 */
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

static char root[64];
static struct fuse_pt *fs;
static unsigned runs;

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

static void fresh(void)
{
	uint8_t req[sizeof(struct fuse_in_header) + sizeof(struct fuse_init_in)];
	struct fuse_in_header h = { .len = sizeof(req), .opcode = FUSE_INIT, .unique = 1 };
	struct fuse_init_in ii = { .major = 7, .minor = 41, .flags = FUSE_DO_READDIRPLUS | FUSE_MAX_PAGES };
	uint8_t out[256];
	struct iovec i = { req, sizeof(req) }, o = { out, sizeof(out) };

	if (fs)
		fuse_pt_destroy(fs);
	if (!root[0]) {
		snprintf(root, sizeof(root), "/tmp/aperture-fuzz-fuse-%d", (int)getpid());
		mkdir(root, 0755);
		atexit(cleanup);
	}
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	/* Something to find: a file, a directory, a symlink out. */
	{
		char p[128];
		FILE *f;

		snprintf(p, sizeof(p), "%s/a", root);
		f = fopen(p, "w");
		if (f) {
			fputs("content", f);
			fclose(f);
		}
		snprintf(p, sizeof(p), "%s/d", root);
		mkdir(p, 0755);
		snprintf(p, sizeof(p), "%s/l", root);
		if (symlink("/etc/passwd", p) != 0) {
			/* already there */
		}
	}
	if (fuse_pt_create(&fs, root))
		abort();
	memcpy(req, &h, sizeof(h));
	memcpy(req + sizeof(h), &ii, sizeof(ii));
	if (fuse_pt_handle(fs, &i, 1, &o, 1) <= 0)
		abort();
}

static const uint32_t ops[] = {
	FUSE_LOOKUP, FUSE_FORGET, FUSE_GETATTR, FUSE_SETATTR, FUSE_READLINK, FUSE_SYMLINK, FUSE_MKNOD, FUSE_MKDIR,
	FUSE_UNLINK, FUSE_RMDIR, FUSE_RENAME, FUSE_LINK, FUSE_OPEN, FUSE_READ, FUSE_WRITE, FUSE_STATFS,
	FUSE_RELEASE, FUSE_FSYNC, FUSE_SETXATTR, FUSE_GETXATTR, FUSE_LISTXATTR, FUSE_REMOVEXATTR, FUSE_FLUSH,
	FUSE_INIT, FUSE_OPENDIR, FUSE_READDIR, FUSE_RELEASEDIR, FUSE_FSYNCDIR, FUSE_ACCESS, FUSE_CREATE,
	FUSE_INTERRUPT, FUSE_DESTROY, FUSE_BATCH_FORGET, FUSE_FALLOCATE, FUSE_READDIRPLUS, FUSE_RENAME2,
	FUSE_LSEEK, FUSE_COPY_FILE_RANGE, FUSE_GETLK, 4242,
};

/*
 * Input: [outlen hi, outlen lo, nin, flags, op, nodeid, args...]. The header
 * is built from it with a truthful len unless flags bit 0 asks for the next
 * four bytes as a (probably lying) len; bit 1 drops bytes off the end so
 * the chain is shorter than the header says.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t req[70000];
	struct fuse_in_header h = { 0 };
	struct iovec in[8], out[2];
	unsigned nin, nout = 0;
	size_t off = 0, outlen, total;
	uint8_t flags;
	long r;

	if (!fs || ++runs % 4096 == 0)
		fresh();
	if (size < 6 || size > sizeof(req))
		return 0;
	outlen = (size_t)data[0] << 8 | data[1];
	nin = 1 + data[2] % 4;
	flags = data[3];
	h.opcode = ops[data[4] % (sizeof(ops) / sizeof(ops[0]))];
	h.nodeid = data[5] % 8;
	h.unique = runs;
	data += 6;
	size -= 6;
	h.len = (uint32_t)(sizeof(h) + size);
	if ((flags & 1) && size >= 4) {
		memcpy(&h.len, data, 4);
		data += 4;
		size -= 4;
	}
	memcpy(req, &h, sizeof(h));
	memcpy(req + sizeof(h), data, size);
	total = sizeof(h) + size;
	if ((flags & 2) && total > 0)
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
	if (h.opcode == FUSE_DESTROY)
		fresh(); /* back to an initialised session */
	return 0;
}
