/* SPDX-License-Identifier: MIT */
/*
 * The FUSE passthrough server (devices/fuse-passthrough.c), driven with the
 * requests a Linux guest sends, over a temporary share; and the virtio-fs
 * device through the native harness (queues, lying chains, apertures).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include "devices/fuse-passthrough.h"
#include "devices/virtio-fs.h"
#include "tests/unit/harness.h"
#include "tests/unit/suites.h"

static char root[256], outside[256];
static struct fuse_pt *fs;
static uint8_t rbuf[1 << 20];
static uint64_t uniq;

static void rm_rf(const char *p)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p);
	ck_assert_int_eq(system(cmd), 0);
}

static void host_write(const char *rel, const char *data)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs(data, f);
	fclose(f);
}

/*
 * One request: header + args (+ data) readable, `outlen` bytes writable.
 * Returns what fuse_pt_handle() returned; the reply is in rbuf.
 */
static bool use_hiprio; /* send through fuse_pt_handle_hiprio() */

static long call_raw(uint32_t op, uint64_t node, const void *a, size_t alen, const void *b, size_t blen,
		     size_t outlen)
{
	static uint8_t req[1 << 20];
	struct fuse_in_header h = { .len = (uint32_t)(sizeof(h) + alen + blen), .opcode = op, .unique = ++uniq,
				    .nodeid = node };
	struct iovec in = { req, sizeof(h) + alen + blen }, out = { rbuf, outlen };

	memcpy(req, &h, sizeof(h));
	if (alen)
		memcpy(req + sizeof(h), a, alen);
	if (blen)
		memcpy(req + sizeof(h) + alen, b, blen);
	memset(rbuf, 0xA5, outlen < sizeof(rbuf) ? outlen : sizeof(rbuf));
	if (use_hiprio)
		return fuse_pt_handle_hiprio(fs, &in, 1, &out, outlen ? 1 : 0);
	return fuse_pt_handle(fs, &in, 1, &out, outlen ? 1 : 0);
}

static long call(uint32_t op, uint64_t node, const void *a, size_t alen, const void *b, size_t blen)
{
	return call_raw(op, node, a, alen, b, blen, sizeof(rbuf));
}

static int32_t err_of(void) { return ((struct fuse_out_header *)rbuf)->error; }
static void *payload(void) { return rbuf + sizeof(struct fuse_out_header); }

static void expect_err(long r, int e)
{
	ck_assert_int_eq(r, sizeof(struct fuse_out_header));
	ck_assert_int_eq(err_of(), e);
	ck_assert_uint_eq(((struct fuse_out_header *)rbuf)->unique, uniq);
}

static void do_init(void)
{
	struct fuse_init_in ii = { .major = 7, .minor = 41, .max_readahead = 65536,
				   .flags = FUSE_ASYNC_READ | FUSE_MAX_PAGES | FUSE_DO_READDIRPLUS | FUSE_BIG_WRITES };
	struct fuse_init_out *o;
	long r = call(FUSE_INIT, 0, &ii, sizeof(ii), NULL, 0);

	ck_assert_int_gt(r, (long)sizeof(struct fuse_out_header));
	ck_assert_int_eq(err_of(), 0);
	o = payload();
	ck_assert_uint_eq(o->major, 7);
	ck_assert_uint_le(o->minor, 41);
	ck_assert_uint_eq(o->max_pages, FUSE_PT_MAX_PAGES);
	ck_assert(o->flags & FUSE_MAX_PAGES);
	ck_assert(!(o->flags & ~ii.flags));
}

static void up(void)
{
	char tmpl[] = "/tmp/aperture-fuse-XXXXXX";
	char *d = mkdtemp(tmpl);

	ck_assert_ptr_nonnull(d);
	snprintf(outside, sizeof(outside), "%s", d);
	snprintf(root, sizeof(root), "%s/share", d);
	ck_assert_int_eq(mkdir(root, 0755), 0);
	{
		char p[512];
		FILE *f;

		snprintf(p, sizeof(p), "%s/secret", outside);
		f = fopen(p, "w");
		ck_assert_ptr_nonnull(f);
		fputs("outside-the-share", f);
		fclose(f);
	}
	ck_assert_int_eq(fuse_pt_create(&fs, root), 0);
	uniq = 0;
}

static void down(void)
{
	fuse_pt_destroy(fs);
	fs = NULL;
	rm_rf(outside);
}

static uint64_t lookup(uint64_t parent, const char *name, struct fuse_entry_out *e)
{
	long r = call(FUSE_LOOKUP, parent, name, strlen(name) + 1, NULL, 0);

	ck_assert_int_gt(r, 0);
	if (err_of())
		return 0;
	memcpy(e, payload(), sizeof(*e));
	return e->nodeid;
}

static uint64_t create(uint64_t parent, const char *name, uint32_t flags, uint64_t *fh)
{
	struct fuse_create_in c = { .flags = flags, .mode = S_IFREG | 0644 };
	struct {
		struct fuse_entry_out e;
		struct fuse_open_out o;
	} out;

	call(FUSE_CREATE, parent, &c, sizeof(c), name, strlen(name) + 1);
	ck_assert_int_eq(err_of(), 0);
	memcpy(&out, payload(), sizeof(out));
	*fh = out.o.fh;
	return out.e.nodeid;
}

/* The shared iovec helpers (devices/virtqueue.h) the server reads requests with. */
START_TEST(vq_iov_helpers)
{
	uint8_t a[3] = { 1, 2, 3 }, b[0x10], c[2] = { 9, 9 }, tmp[8];
	struct iovec v[4] = { { a, 3 }, { b, 0 }, { c, 2 }, { NULL, 0 } }, sub[4];

	ck_assert_uint_eq(iov_total(v, 4), 5);
	ck_assert(iov_gather(v, 3, 2, tmp, 3));
	ck_assert_int_eq(tmp[0], 3);
	ck_assert_int_eq(tmp[1], 9);
	ck_assert(!iov_gather(v, 3, 2, tmp, 4));
	ck_assert(!iov_gather(v, 3, 6, tmp, 1));
	ck_assert(iov_gather(v, 3, 5, tmp, 0));
	ck_assert(iov_scatter(v, 3, 3, "xy", 2));
	ck_assert_int_eq(c[0], 'x');
	ck_assert(!iov_scatter(v, 3, 4, "xy", 2));
	ck_assert_int_eq(iov_sub(v, 3, 1, 4, sub, 4), 2);
	ck_assert_ptr_eq(sub[0].iov_base, a + 1);
	ck_assert_uint_eq(sub[0].iov_len, 2);
	ck_assert_ptr_eq(sub[1].iov_base, c);
	ck_assert_uint_eq(sub[1].iov_len, 2);
	ck_assert_int_eq(iov_sub(v, 3, 1, 4, sub, 1), -1);
	ck_assert_int_eq(iov_sub(v, 3, 1, 5, sub, 4), -1);
	ck_assert_int_eq(iov_sub(v, 3, 5, 0, sub, 4), 0);
}
END_TEST

START_TEST(fuse_needs_init)
{
	up();
	expect_err(call(FUSE_GETATTR, FUSE_ROOT_ID, &(struct fuse_getattr_in){ 0 }, sizeof(struct fuse_getattr_in), NULL, 0),
		   -EIO);
	do_init();
	ck_assert_int_gt(call(FUSE_GETATTR, FUSE_ROOT_ID, &(struct fuse_getattr_in){ 0 },
			      sizeof(struct fuse_getattr_in), NULL, 0), 0);
	ck_assert_int_eq(err_of(), 0);
	ck_assert(S_ISDIR(((struct fuse_attr_out *)payload())->attr.mode));
	/* Wrong major version. */
	{
		struct fuse_init_in ii = { .major = 6, .minor = 1 };

		expect_err(call(FUSE_INIT, 0, &ii, sizeof(ii), NULL, 0), -EPROTO);
	}
	/* DESTROY ends the session. */
	expect_err(call(FUSE_DESTROY, 0, NULL, 0, NULL, 0), 0);
	expect_err(call(FUSE_STATFS, FUSE_ROOT_ID, NULL, 0, NULL, 0), -EIO);
	down();
}
END_TEST

START_TEST(fuse_lookup_and_names)
{
	struct fuse_entry_out e;

	up();
	do_init();
	host_write("hello", "hello world");
	ck_assert_uint_ne(lookup(FUSE_ROOT_ID, "hello", &e), 0);
	ck_assert_uint_eq(e.attr.size, 11);
	ck_assert(S_ISREG(e.attr.mode));
	expect_err(call(FUSE_LOOKUP, FUSE_ROOT_ID, "nope", 5, NULL, 0), -ENOENT);
	/* ".." at the root is the root. */
	ck_assert_uint_eq(lookup(FUSE_ROOT_ID, "..", &e), FUSE_ROOT_ID);
	/* Names with '/', empty names, names without NUL. */
	expect_err(call(FUSE_LOOKUP, FUSE_ROOT_ID, "../secret", 10, NULL, 0), -EINVAL);
	expect_err(call(FUSE_LOOKUP, FUSE_ROOT_ID, "/etc", 5, NULL, 0), -EINVAL);
	expect_err(call(FUSE_LOOKUP, FUSE_ROOT_ID, "", 1, NULL, 0), -EINVAL);
	expect_err(call(FUSE_LOOKUP, FUSE_ROOT_ID, "hello", 5, NULL, 0), -EINVAL);
	/* Unknown node IDs. */
	expect_err(call(FUSE_LOOKUP, 12345, "hello", 6, NULL, 0), -ENOENT);
	expect_err(call(FUSE_GETATTR, 0, NULL, 0, NULL, 0), -ENOENT);
	/* A file is not a directory. */
	lookup(FUSE_ROOT_ID, "hello", &e);
	expect_err(call(FUSE_LOOKUP, e.nodeid, "x", 2, NULL, 0), -ENOTDIR);
	down();
}
END_TEST

START_TEST(fuse_escape_symlink)
{
	struct fuse_entry_out e;
	struct fuse_open_in o = { .flags = O_RDONLY };
	char p[600];

	up();
	do_init();
	/* A symlink pointing out of the share (made on the host). */
	snprintf(p, sizeof(p), "%s/out", root);
	ck_assert_int_eq(symlink("../secret", p), 0);
	lookup(FUSE_ROOT_ID, "out", &e);
	ck_assert(S_ISLNK(e.attr.mode)); /* held as the link, not its target */
	expect_err(call(FUSE_OPEN, e.nodeid, &o, sizeof(o), NULL, 0), -ELOOP);
	ck_assert_int_gt(call(FUSE_READLINK, e.nodeid, NULL, 0, NULL, 0), 0);
	ck_assert_int_eq(memcmp(payload(), "../secret", 9), 0);
	/* Looking up through the link is not possible: it is not a directory. */
	snprintf(p, sizeof(p), "%s/outdir", root);
	ck_assert_int_eq(symlink("..", p), 0);
	lookup(FUSE_ROOT_ID, "outdir", &e);
	expect_err(call(FUSE_LOOKUP, e.nodeid, "secret", 7, NULL, 0), -ENOTDIR);
	/* The guest's own SYMLINK stores the target verbatim, nothing is followed. */
	ck_assert_int_gt(call(FUSE_SYMLINK, FUSE_ROOT_ID, "esc", 4, "/etc/passwd", 12), 0);
	ck_assert_int_eq(err_of(), 0);
	memcpy(&e, payload(), sizeof(e));
	ck_assert(S_ISLNK(e.attr.mode));
	expect_err(call(FUSE_OPEN, e.nodeid, &o, sizeof(o), NULL, 0), -ELOOP);
	/* Extended attributes of the link itself, as lgetxattr(2) on the host says. */
	{
		char lp[600];
		int host;

		snprintf(lp, sizeof(lp), "%s/esc", root);
		host = lgetxattr(lp, "user.x", NULL, 0) < 0 ? -errno : 0;
		expect_err(call(FUSE_GETXATTR, e.nodeid, &(struct fuse_getxattr_in){ .size = 0 },
				sizeof(struct fuse_getxattr_in), "user.x", 7), host);
	}
	/* A hard link of the link is another link, never the file it names. */
	ck_assert_int_gt(call(FUSE_LINK, FUSE_ROOT_ID, &(struct fuse_link_in){ .oldnodeid = e.nodeid },
			      sizeof(struct fuse_link_in), "esc2", 5),
			 0);
	ck_assert_int_eq(err_of(), 0);
	ck_assert(S_ISLNK(((struct fuse_entry_out *)payload())->attr.mode));
	down();
}
END_TEST

START_TEST(fuse_escape_names)
{
	struct fuse_entry_out e;
	struct fuse_rename_in rn = { .newdir = FUSE_ROOT_ID };
	struct fuse_mkdir_in mk = { .mode = 0755 };
	struct fuse_link_in ln = { .oldnodeid = 99999 };
	struct fuse_mknod_in mn = { .mode = S_IFCHR | 0600, .rdev = 0x0101 };
	char p[600];
	struct stat st;

	up();
	do_init();
	host_write("f", "x");
	/* rename of a file to "../x" */
	expect_err(call(FUSE_RENAME, FUSE_ROOT_ID, &rn, sizeof(rn), "f\0../x", 7), -EINVAL);
	snprintf(p, sizeof(p), "%s/x", outside);
	ck_assert_int_ne(stat(p, &st), 0);
	expect_err(call(FUSE_RENAME, FUSE_ROOT_ID, &rn, sizeof(rn), "f\0..", 5), -EBUSY);
	/* mkdir / create with a '/' */
	expect_err(call(FUSE_MKDIR, FUSE_ROOT_ID, &mk, sizeof(mk), "a/b", 4), -EINVAL);
	expect_err(call(FUSE_CREATE, FUSE_ROOT_ID, &(struct fuse_create_in){ .mode = 0644 },
			sizeof(struct fuse_create_in), "../y", 5), -EINVAL);
	snprintf(p, sizeof(p), "%s/y", outside);
	ck_assert_int_ne(stat(p, &st), 0);
	/* A hard link to something outside: no name reaches it, node IDs are ours. */
	expect_err(call(FUSE_LINK, FUSE_ROOT_ID, &ln, sizeof(ln), "l", 2), -ENOENT);
	ln.oldnodeid = FUSE_ROOT_ID;
	expect_err(call(FUSE_LINK, FUSE_ROOT_ID, &ln, sizeof(ln), "l", 2), -EPERM);
	/* No device nodes. */
	expect_err(call(FUSE_MKNOD, FUSE_ROOT_ID, &mn, sizeof(mn), "dev", 4), -EPERM);
	/* A device node made on the host is never opened by us. */
	lookup(FUSE_ROOT_ID, "..", &e);
	down();
}
END_TEST

/*
 * CREATE of a name that already exists (a hostile guest, or a host-side
 * race) opens only a regular file: a FIFO would block the queue thread for
 * ever, a device node would be opened by the monitor, a symlink followed.
 */
START_TEST(fuse_create_existing)
{
	struct fuse_mknod_in mn = { .mode = S_IFIFO | 0644 };
	struct fuse_create_in c = { .flags = O_RDONLY, .mode = S_IFREG | 0644 };
	struct fuse_entry_out e;
	struct fuse_release_in rl;
	struct {
		struct fuse_entry_out e;
		struct fuse_open_out o;
	} out;
	char p[600], q[600];

	up();
	do_init();
	ck_assert_int_gt(call(FUSE_MKNOD, FUSE_ROOT_ID, &mn, sizeof(mn), "fifo", 5), 0);
	ck_assert_int_eq(err_of(), 0);
	expect_err(call(FUSE_CREATE, FUSE_ROOT_ID, &c, sizeof(c), "fifo", 5), -EACCES);
	c.flags = O_RDWR;
	snprintf(p, sizeof(p), "%s/secret", outside);
	snprintf(q, sizeof(q), "%s/link", root);
	ck_assert_int_eq(symlink(p, q), 0);
	expect_err(call(FUSE_CREATE, FUSE_ROOT_ID, &c, sizeof(c), "link", 5), -ELOOP);
	mkdir((snprintf(q, sizeof(q), "%s/dir", root), q), 0755);
	expect_err(call(FUSE_CREATE, FUSE_ROOT_ID, &c, sizeof(c), "dir", 4), -EISDIR);
	/* An existing regular file is opened (and truncated when asked). */
	host_write("file", "old contents");
	c.flags = O_RDWR | O_TRUNC;
	ck_assert_int_gt(call(FUSE_CREATE, FUSE_ROOT_ID, &c, sizeof(c), "file", 5), 0);
	ck_assert_int_eq(err_of(), 0);
	memcpy(&out, payload(), sizeof(out));
	ck_assert_uint_eq(out.e.attr.size, 0);
	ck_assert_uint_eq(lookup(FUSE_ROOT_ID, "file", &e), out.e.nodeid);
	/* ... but not with O_EXCL. */
	c.flags = O_RDWR | O_EXCL;
	expect_err(call(FUSE_CREATE, FUSE_ROOT_ID, &c, sizeof(c), "file", 5), -EEXIST);
	rl = (struct fuse_release_in){ .fh = out.o.fh };
	expect_err(call(FUSE_RELEASE, out.e.nodeid, &rl, sizeof(rl), NULL, 0), 0);
	ck_assert_uint_eq(fuse_pt_handle_count(fs), 0);
	down();
}
END_TEST

START_TEST(fuse_file_io)
{
	uint64_t fh, node;
	struct fuse_write_in w = { .size = 5 };
	struct fuse_read_in rd = { .size = 100 };
	struct fuse_release_in rl;
	long r;

	up();
	do_init();
	node = create(FUSE_ROOT_ID, "data", O_RDWR, &fh);
	ck_assert_uint_ne(node, 0);
	w.fh = fh;
	ck_assert_int_gt(call(FUSE_WRITE, node, &w, sizeof(w), "hello", 5), 0);
	ck_assert_int_eq(err_of(), 0);
	ck_assert_uint_eq(((struct fuse_write_out *)payload())->size, 5);
	/* A WRITE claiming more data than it carries. */
	w.size = 100;
	expect_err(call(FUSE_WRITE, node, &w, sizeof(w), "hello", 5), -EINVAL);
	rd.fh = fh;
	r = call(FUSE_READ, node, &rd, sizeof(rd), NULL, 0);
	ck_assert_int_eq(r, sizeof(struct fuse_out_header) + 5);
	ck_assert_int_eq(memcmp(payload(), "hello", 5), 0);
	/* The read is capped by the reply buffer. */
	r = call_raw(FUSE_READ, node, &rd, sizeof(rd), NULL, 0, sizeof(struct fuse_out_header) + 2);
	ck_assert_int_eq(r, sizeof(struct fuse_out_header) + 2);
	/* Unknown handles. */
	rd.fh = 4000;
	expect_err(call(FUSE_READ, node, &rd, sizeof(rd), NULL, 0), -EBADF);
	rd.fh = ~0ULL;
	expect_err(call(FUSE_READ, node, &rd, sizeof(rd), NULL, 0), -EBADF);
	ck_assert_uint_eq(fuse_pt_handle_count(fs), 1);
	rl = (struct fuse_release_in){ .fh = fh };
	expect_err(call(FUSE_RELEASE, node, &rl, sizeof(rl), NULL, 0), 0);
	expect_err(call(FUSE_RELEASE, node, &rl, sizeof(rl), NULL, 0), -EBADF);
	ck_assert_uint_eq(fuse_pt_handle_count(fs), 0);
	{
		char p[512], buf[16] = "";
		FILE *f;

		snprintf(p, sizeof(p), "%s/data", root);
		f = fopen(p, "r");
		ck_assert_ptr_nonnull(f);
		ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
		fclose(f);
		ck_assert_str_eq(buf, "hello");
	}
	down();
}
END_TEST

/* A 1 MiB WRITE and READ as the guest sends them: one segment per page. */
START_TEST(fuse_big_io_many_segments)
{
	static uint8_t data[1 << 20], back[1 << 20];
	static struct iovec in[1 + 256], out[1 + 256];
	struct {
		struct fuse_in_header h;
		struct fuse_write_in w;
	} wreq;
	struct {
		struct fuse_in_header h;
		struct fuse_read_in r;
	} rreq;
	struct fuse_out_header oh;
	uint64_t fh, node;

	up();
	do_init();
	node = create(FUSE_ROOT_ID, "big", O_RDWR, &fh);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + i / 4096);
	wreq.h = (struct fuse_in_header){ .len = sizeof(wreq) + sizeof(data), .opcode = FUSE_WRITE, .unique = 77,
					  .nodeid = node };
	wreq.w = (struct fuse_write_in){ .fh = fh, .size = sizeof(data) };
	in[0] = (struct iovec){ &wreq, sizeof(wreq) };
	for (unsigned i = 0; i < 256; i++)
		in[1 + i] = (struct iovec){ data + i * 4096, 4096 };
	out[0] = (struct iovec){ rbuf, 64 };
	ck_assert_int_eq(fuse_pt_handle(fs, in, 257, out, 1), sizeof(oh) + sizeof(struct fuse_write_out));
	ck_assert_int_eq(err_of(), 0);
	ck_assert_uint_eq(((struct fuse_write_out *)payload())->size, sizeof(data));
	rreq.h = (struct fuse_in_header){ .len = sizeof(rreq), .opcode = FUSE_READ, .unique = 78, .nodeid = node };
	rreq.r = (struct fuse_read_in){ .fh = fh, .size = sizeof(back) };
	in[0] = (struct iovec){ &rreq, sizeof(rreq) };
	out[0] = (struct iovec){ &oh, sizeof(oh) };
	for (unsigned i = 0; i < 256; i++)
		out[1 + i] = (struct iovec){ back + i * 4096, 4096 };
	ck_assert_int_eq(fuse_pt_handle(fs, in, 1, out, 257), sizeof(oh) + sizeof(back));
	ck_assert_int_eq(oh.error, 0);
	ck_assert_int_eq(memcmp(data, back, sizeof(data)), 0);
	down();
}
END_TEST

START_TEST(fuse_tree_ops)
{
	struct fuse_entry_out e;
	struct fuse_mkdir_in mk = { .mode = 0750 };
	struct fuse_rename2_in rn = { .newdir = FUSE_ROOT_ID, .flags = RENAME_NOREPLACE };
	struct fuse_setattr_in sa = { .valid = FATTR_MODE | FATTR_SIZE, .mode = 0600, .size = 3 };
	struct fuse_link_in ln;
	uint64_t d, fh, f;
	char p[600];
	struct stat st;

	up();
	do_init();
	ck_assert_int_gt(call(FUSE_MKDIR, FUSE_ROOT_ID, &mk, sizeof(mk), "dir", 4), 0);
	ck_assert_int_eq(err_of(), 0);
	d = ((struct fuse_entry_out *)payload())->nodeid;
	f = create(d, "f", O_RDWR, &fh);
	expect_err(call(FUSE_MKDIR, FUSE_ROOT_ID, &mk, sizeof(mk), "dir", 4), -EEXIST);
	/* setattr: mode and size */
	host_write("dir/f", "abcdef");
	ck_assert_int_gt(call(FUSE_SETATTR, f, &sa, sizeof(sa), NULL, 0), 0);
	ck_assert_int_eq(err_of(), 0);
	ck_assert_uint_eq(((struct fuse_attr_out *)payload())->attr.size, 3);
	ck_assert_uint_eq(((struct fuse_attr_out *)payload())->attr.mode & 07777, 0600);
	/* hard link and rename2 NOREPLACE */
	ln.oldnodeid = f;
	ck_assert_int_gt(call(FUSE_LINK, FUSE_ROOT_ID, &ln, sizeof(ln), "hard", 5), 0);
	ck_assert_int_eq(err_of(), 0);
	ck_assert_uint_eq(((struct fuse_entry_out *)payload())->attr.nlink, 2);
	ck_assert_uint_eq(((struct fuse_entry_out *)payload())->nodeid, f); /* same inode */
	expect_err(call(FUSE_RENAME2, FUSE_ROOT_ID, &rn, sizeof(rn), "hard\0dir", 9), -EEXIST);
	rn.flags = 0;
	rn.newdir = d;
	expect_err(call(FUSE_RENAME2, FUSE_ROOT_ID, &rn, sizeof(rn), "hard\0moved", 11), 0);
	snprintf(p, sizeof(p), "%s/dir/moved", root);
	ck_assert_int_eq(stat(p, &st), 0);
	/* unlink, rmdir */
	expect_err(call(FUSE_RMDIR, FUSE_ROOT_ID, "dir", 4, NULL, 0), -ENOTEMPTY);
	expect_err(call(FUSE_UNLINK, d, "moved", 6, NULL, 0), 0);
	expect_err(call(FUSE_UNLINK, d, "f", 2, NULL, 0), 0);
	expect_err(call(FUSE_UNLINK, d, "f", 2, NULL, 0), -ENOENT);
	expect_err(call(FUSE_RMDIR, FUSE_ROOT_ID, "dir", 4, NULL, 0), 0);
	ck_assert_uint_eq(lookup(FUSE_ROOT_ID, "dir", &e), 0);
	/* statfs */
	ck_assert_int_gt(call(FUSE_STATFS, FUSE_ROOT_ID, NULL, 0, NULL, 0), 0);
	ck_assert_int_eq(err_of(), 0);
	ck_assert_uint_gt(((struct fuse_statfs_out *)payload())->st.bsize, 0);
	down();
}
END_TEST

START_TEST(fuse_file_ops)
{
	uint64_t fh, fh2, node, node2;
	struct fuse_fallocate_in fa;
	struct fuse_lseek_in ls;
	struct fuse_fsync_in fsy;
	struct fuse_flush_in fl;
	struct fuse_copy_file_range_in cf;
	struct fuse_write_in w = { .size = 10 };

	up();
	do_init();
	node = create(FUSE_ROOT_ID, "a", O_RDWR, &fh);
	node2 = create(FUSE_ROOT_ID, "b", O_RDWR, &fh2);
	w.fh = fh;
	call(FUSE_WRITE, node, &w, sizeof(w), "0123456789", 10);
	fa = (struct fuse_fallocate_in){ .fh = fh, .offset = 0, .length = 65536 };
	expect_err(call(FUSE_FALLOCATE, node, &fa, sizeof(fa), NULL, 0), 0);
	ls = (struct fuse_lseek_in){ .fh = fh, .offset = 0, .whence = SEEK_END };
	ck_assert_int_gt(call(FUSE_LSEEK, node, &ls, sizeof(ls), NULL, 0), 0);
	ck_assert_uint_eq(((struct fuse_lseek_out *)payload())->offset, 65536);
	ls.whence = 99;
	expect_err(call(FUSE_LSEEK, node, &ls, sizeof(ls), NULL, 0), -EINVAL);
	fsy = (struct fuse_fsync_in){ .fh = fh };
	expect_err(call(FUSE_FSYNC, node, &fsy, sizeof(fsy), NULL, 0), 0);
	fl = (struct fuse_flush_in){ .fh = fh };
	expect_err(call(FUSE_FLUSH, node, &fl, sizeof(fl), NULL, 0), 0);
	cf = (struct fuse_copy_file_range_in){ .fh_in = fh, .off_in = 2, .nodeid_out = node2, .fh_out = fh2, .len = 4 };
	ck_assert_int_gt(call(FUSE_COPY_FILE_RANGE, node, &cf, sizeof(cf), NULL, 0), 0);
	ck_assert_int_eq(err_of(), 0);
	ck_assert_uint_eq(((struct fuse_write_out *)payload())->size, 4);
	/* access */
	expect_err(call(FUSE_ACCESS, node, &(struct fuse_access_in){ .mask = R_OK }, sizeof(struct fuse_access_in),
			NULL, 0), 0);
	/* Argument structs shorter than the opcode needs. */
	expect_err(call(FUSE_FALLOCATE, node, &fa, 4, NULL, 0), -EINVAL);
	expect_err(call(FUSE_OPEN, node, NULL, 0, NULL, 0), -EINVAL);
	/* sync in the guest */
	expect_err(call(FUSE_SYNCFS, FUSE_ROOT_ID, &(struct fuse_syncfs_in){ 0 }, sizeof(struct fuse_syncfs_in), NULL,
			0), 0);
	expect_err(call(FUSE_SYNCFS, node, &(struct fuse_syncfs_in){ 0 }, sizeof(struct fuse_syncfs_in), NULL, 0), 0);
	/* Opcodes we do not implement. */
	expect_err(call(FUSE_GETLK, node, NULL, 0, NULL, 0), -ENOSYS);
	expect_err(call(9999, node, NULL, 0, NULL, 0), -ENOSYS);
	down();
}
END_TEST

START_TEST(fuse_xattrs)
{
	struct fuse_entry_out e;
	struct fuse_setxattr_in s = { .size = 3 };
	uint8_t args[64];
	char p[600];
	int host;

	up();
	do_init();
	host_write("x", "x");
	snprintf(p, sizeof(p), "%s/x", root);
	host = setxattr(p, "user.probe", "1", 1, 0) == 0 ? 0 : -errno; /* what this host file system does */
	lookup(FUSE_ROOT_ID, "x", &e);
	memcpy(args, &s, FUSE_COMPAT_SETXATTR_IN_SIZE);
	memcpy(args + FUSE_COMPAT_SETXATTR_IN_SIZE, "user.k\0val", 10);
	expect_err(call(FUSE_SETXATTR, e.nodeid, args, FUSE_COMPAT_SETXATTR_IN_SIZE + 10, NULL, 0), host);
	if (host == 0) {
		ck_assert_int_gt(call(FUSE_GETXATTR, e.nodeid, &(struct fuse_getxattr_in){ .size = 64 },
				      sizeof(struct fuse_getxattr_in), "user.k", 7), 0);
		ck_assert_int_eq(err_of(), 0);
		ck_assert_int_eq(memcmp(payload(), "val", 3), 0);
		ck_assert_int_gt(call(FUSE_GETXATTR, e.nodeid, &(struct fuse_getxattr_in){ .size = 0 },
				      sizeof(struct fuse_getxattr_in), "user.k", 7), 0);
		ck_assert_uint_eq(((struct fuse_getxattr_out *)payload())->size, 3);
		expect_err(call(FUSE_GETXATTR, e.nodeid, &(struct fuse_getxattr_in){ .size = 1 },
				sizeof(struct fuse_getxattr_in), "user.k", 7), -ERANGE);
		ck_assert_int_gt(call(FUSE_LISTXATTR, e.nodeid, &(struct fuse_getxattr_in){ .size = 256 },
				      sizeof(struct fuse_getxattr_in), NULL, 0), 0);
		ck_assert_ptr_nonnull(memmem(payload(), 64, "user.k", 6));
		expect_err(call(FUSE_REMOVEXATTR, e.nodeid, "user.k", 7, NULL, 0), 0);
		expect_err(call(FUSE_REMOVEXATTR, e.nodeid, "user.k", 7, NULL, 0), -ENODATA);
	}
	/* A value longer than what came with the request. */
	s.size = 1000;
	memcpy(args, &s, FUSE_COMPAT_SETXATTR_IN_SIZE);
	expect_err(call(FUSE_SETXATTR, e.nodeid, args, FUSE_COMPAT_SETXATTR_IN_SIZE + 10, NULL, 0), -EINVAL);
	down();
}
END_TEST

START_TEST(fuse_readdir_and_forget)
{
	struct fuse_open_in o = { .flags = O_RDONLY };
	struct fuse_read_in rd;
	uint64_t fh, off = 0;
	unsigned names = 0, plus_nodes = 0;
	char name[32];
	long r;

	up();
	do_init();
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "file-%03d", i);
		host_write(name, "");
	}
	ck_assert_int_gt(call(FUSE_OPENDIR, FUSE_ROOT_ID, &o, sizeof(o), NULL, 0), 0);
	ck_assert_int_eq(err_of(), 0);
	fh = ((struct fuse_open_out *)payload())->fh;
	/* READDIRPLUS in small pages until the end: every name once, each with a node. */
	for (;;) {
		size_t pos = 0, len;

		rd = (struct fuse_read_in){ .fh = fh, .offset = off, .size = 4096 };
		r = call(FUSE_READDIRPLUS, FUSE_ROOT_ID, &rd, sizeof(rd), NULL, 0);
		ck_assert_int_ge(r, (long)sizeof(struct fuse_out_header));
		ck_assert_int_eq(err_of(), 0);
		len = (size_t)r - sizeof(struct fuse_out_header);
		if (!len)
			break;
		while (pos < len) {
			struct fuse_direntplus *dp = (struct fuse_direntplus *)((uint8_t *)payload() + pos);

			if (dp->dirent.namelen != 1 && !(dp->dirent.namelen == 2 && dp->dirent.name[0] == '.')) {
				names++;
				if (dp->entry_out.nodeid)
					plus_nodes++;
			}
			off = dp->dirent.off;
			pos += FUSE_DIRENTPLUS_SIZE(dp);
		}
	}
	ck_assert_uint_eq(names, 300);
	ck_assert_uint_eq(plus_nodes, 300);
	ck_assert_uint_eq(fuse_pt_inode_count(fs), 301);
	/* BATCH_FORGET them all (one lookup each): the table shrinks to the root. */
	{
		static uint8_t b[sizeof(struct fuse_batch_forget_in) + 400 * sizeof(struct fuse_forget_one)];
		struct fuse_batch_forget_in *bf = (void *)b;
		struct fuse_forget_one *one = (void *)(b + sizeof(*bf));

		bf->count = 0;
		for (uint64_t id = 2; id < 2 + 400; id++) /* unknown IDs are ignored */
			one[bf->count++] = (struct fuse_forget_one){ .nodeid = id, .nlookup = 1 };
		ck_assert_int_eq(call(FUSE_BATCH_FORGET, 0, b, sizeof(b), NULL, 0), 0);
	}
	ck_assert_uint_eq(fuse_pt_inode_count(fs), 1);
	/* Plain READDIR too. */
	rd = (struct fuse_read_in){ .fh = fh, .offset = 0, .size = 65536 };
	r = call(FUSE_READDIR, FUSE_ROOT_ID, &rd, sizeof(rd), NULL, 0);
	ck_assert_int_gt(r, (long)sizeof(struct fuse_out_header) + 300 * 24);
	ck_assert_uint_eq(fuse_pt_inode_count(fs), 1);
	/* FORGET of one lookup. */
	{
		struct fuse_entry_out e;
		uint64_t id = lookup(FUSE_ROOT_ID, "file-007", &e);

		ck_assert_uint_eq(fuse_pt_inode_count(fs), 2);
		ck_assert_int_eq(call(FUSE_FORGET, id, &(struct fuse_forget_in){ .nlookup = 1 },
				      sizeof(struct fuse_forget_in), NULL, 0), 0);
		ck_assert_uint_eq(fuse_pt_inode_count(fs), 1);
	}
	expect_err(call(FUSE_RELEASEDIR, FUSE_ROOT_ID, &(struct fuse_release_in){ .fh = fh },
			sizeof(struct fuse_release_in), NULL, 0), 0);
	down();
}
END_TEST

START_TEST(fuse_lying_requests)
{
	struct fuse_in_header h = { .len = 40, .opcode = FUSE_GETATTR, .unique = 7, .nodeid = 1 };
	uint8_t buf[64];
	struct iovec in = { buf, sizeof(h) }, out = { rbuf, 64 };

	up();
	do_init();
	memcpy(buf, &h, sizeof(h));
	/* short header */
	in.iov_len = sizeof(h) - 1;
	ck_assert_int_eq(fuse_pt_handle(fs, &in, 1, &out, 1), -EBADMSG);
	/* header length beyond the chain */
	in.iov_len = sizeof(h);
	h.len = 41;
	memcpy(buf, &h, sizeof(h));
	ck_assert_int_eq(fuse_pt_handle(fs, &in, 1, &out, 1), -EBADMSG);
	h.len = 10;
	memcpy(buf, &h, sizeof(h));
	ck_assert_int_eq(fuse_pt_handle(fs, &in, 1, &out, 1), -EBADMSG);
	/* no room for a reply */
	h.len = sizeof(h);
	memcpy(buf, &h, sizeof(h));
	out.iov_len = 8;
	ck_assert_int_eq(fuse_pt_handle(fs, &in, 1, &out, 1), -EBADMSG);
	ck_assert_int_eq(fuse_pt_handle(fs, &in, 1, NULL, 0), -EBADMSG);
	/* A reply that does not fit gets EINVAL in the header that does. */
	out.iov_len = sizeof(struct fuse_out_header);
	ck_assert_int_eq(fuse_pt_handle(fs, &in, 1, &out, 1), sizeof(struct fuse_out_header));
	ck_assert_int_eq(err_of(), -EINVAL);
	/* The header split over several iovecs is fine. */
	{
		struct iovec parts[3] = { { buf, 5 }, { buf + 5, 20 }, { buf + 25, sizeof(h) - 25 } };

		out.iov_len = 256;
		ck_assert_int_gt(fuse_pt_handle(fs, parts, 3, &out, 1), (long)sizeof(struct fuse_out_header));
		ck_assert_int_eq(err_of(), 0);
	}
	down();
}
END_TEST

/* ---- the device, through the harness ---- */

#define MEM (4u << 20)
#define AP_BASE 0x200000u
#define AP_SIZE 0x100000u

static struct harness h;
static struct virtio_fs vfs;
static struct fake_ring hq, rq;

static void dev_up(bool aperture)
{
	struct gm_view v;

	up();
	h_init(&h, MEM);
	v = aperture ? gm_view_aperture(&h.fm.mem, AP_BASE, AP_SIZE) : h.fm.all;
	ck_assert_int_eq(virtio_fs_init(&vfs, &h.plat, &v, "myfs", root, 2, NULL), 0);
	h_plug(&h, &vfs.vdev);
	ck_assert(h_negotiate(&h, (1ULL << VIRTIO_F_VERSION_1) |
					  (aperture ? (1ULL << VIRTIO_F_ACCESS_PLATFORM) | (1ULL << VIRTIO_F_SWIOTLB) : 0)));
	fake_ring_layout(&hq, &h.fm, 8, AP_BASE);
	fake_ring_layout(&rq, &h.fm, 8, AP_BASE + 0x1000);
	h_queue_setup(&h, 0, &hq, 0);
	h_queue_setup(&h, 1, &rq, 1);
	h_driver_ok(&h);
}

static void dev_down(void)
{
	virtio_fs_destroy(&vfs);
	h_destroy(&h);
	down();
}

/* Post request `req` (readable) and a writable reply buffer at `reply_gpa`; kick. */
static void dev_post(const void *req, size_t len, uint64_t reply_gpa, uint32_t reply_len)
{
	fake_write(&h.fm, AP_BASE + 0x8000, req, len);
	fake_avail_push(&rq, fake_chain(&rq, 0, (struct fake_seg[]){ { AP_BASE + 0x8000, (uint32_t)len, false },
								     { reply_gpa, reply_len, true } }, 2));
	h_kick(&h, 1);
}

/* dev_post(), then wait for the completion. */
static bool dev_call(const void *req, size_t len, uint64_t reply_gpa, uint32_t reply_len, uint32_t *used_len)
{
	uint16_t old = fake_used_idx(&rq);

	dev_post(req, len, reply_gpa, reply_len);
	if (!h_wait_used(&rq, old, 3000))
		return false;
	return fake_used_next(&rq, NULL, used_len);
}

START_TEST(vfs_config_and_init)
{
	struct {
		struct fuse_in_header h;
		struct fuse_init_in i;
	} req = { { .len = sizeof(req), .opcode = FUSE_INIT, .unique = 1 }, { .major = 7, .minor = 41 } };
	struct fuse_out_header oh;
	uint32_t len;
	char tag[37] = "";

	dev_up(false);
	for (unsigned i = 0; i < 36; i++)
		tag[i] = (char)h_bar_read(&h, h.device_off + i, 1);
	ck_assert_str_eq(tag, "myfs");
	ck_assert_uint_eq(h_bar_read(&h, h.device_off + 36, 4), 2);
	ck_assert_uint_eq(h_common_read(&h, VIRTIO_PCI_COMMON_NUMQ, 2), 3);
	ck_assert(dev_call(&req, sizeof(req), AP_BASE + 0x10000, 4096, &len));
	ck_assert_uint_eq(len, sizeof(oh) + sizeof(struct fuse_init_out));
	fake_read(&h.fm, AP_BASE + 0x10000, &oh, sizeof(oh));
	ck_assert_int_eq(oh.error, 0);
	ck_assert_uint_eq(oh.unique, 1);
	dev_down();
}
END_TEST

START_TEST(vfs_short_request_needs_reset)
{
	uint8_t junk[8] = { 0 };

	dev_up(false);
	dev_post(junk, sizeof(junk), AP_BASE + 0x10000, 4096);
	ck_assert(h_wait_needs_reset(&h, 3000));
	dev_down();
}
END_TEST

START_TEST(vfs_reply_outside_aperture)
{
	struct {
		struct fuse_in_header h;
		struct fuse_init_in i;
	} req = { { .len = sizeof(req), .opcode = FUSE_INIT, .unique = 1 }, { .major = 7, .minor = 41 } };
	uint32_t len;

	dev_up(true);
	/* Inside: fine. */
	ck_assert(dev_call(&req, sizeof(req), AP_BASE + 0x10000, 4096, &len));
	ck_assert_uint_gt(len, 16);
	/* A reply buffer outside the aperture, the rest of RAM unreadable to us. */
	ck_assert_int_eq(mprotect(fake_host(&h.fm, 0, AP_BASE), AP_BASE, PROT_NONE), 0);
	dev_post(&req, sizeof(req), 0x10000, 4096);
	ck_assert(h_wait_needs_reset(&h, 3000));
	ck_assert_uint_ge(vfs.vdev.stats.denied, 1);
	ck_assert_int_eq(mprotect(fake_host(&h.fm, 0, AP_BASE), AP_BASE, PROT_READ | PROT_WRITE), 0);
	dev_down();
}
END_TEST

START_TEST(vfs_reset_and_reinit)
{
	struct {
		struct fuse_in_header h;
		struct fuse_init_in i;
	} req = { { .len = sizeof(req), .opcode = FUSE_INIT, .unique = 1 }, { .major = 7, .minor = 41 } };
	uint32_t len;

	dev_up(false);
	ck_assert(dev_call(&req, sizeof(req), AP_BASE + 0x10000, 4096, &len));
	/* The driver resets the device and starts over. */
	h_set_status(&h, 0);
	ck_assert_uint_eq(h_status(&h), 0);
	ck_assert(h_negotiate(&h, 1ULL << VIRTIO_F_VERSION_1));
	fake_ring_layout(&hq, &h.fm, 8, AP_BASE);
	fake_ring_layout(&rq, &h.fm, 8, AP_BASE + 0x1000);
	h_queue_setup(&h, 0, &hq, 0);
	h_queue_setup(&h, 1, &rq, 1);
	h_driver_ok(&h);
	ck_assert(dev_call(&req, sizeof(req), AP_BASE + 0x10000, 4096, &len));
	ck_assert_uint_gt(len, 16);
	dev_down();
}
END_TEST

/*
 * A driver that keeps all 128 descriptors of a request queue in flight
 * (one indirect descriptor per request) and reuses each the moment its
 * completion shows: the device must never take that for "more requests in
 * flight than the queue holds".
 */
START_TEST(vfs_full_queue_reuse)
{
	enum { N = 128, TOTAL = 20000 };
	const uint64_t tbl = AP_BASE + 0x4000, reqs = AP_BASE + 0x6000, reps = AP_BASE + 0x8000;
	struct fake_ring q1;
	struct {
		struct fuse_in_header h;
		struct fuse_init_in i;
	} init = { { .len = sizeof(init), .opcode = FUSE_INIT, .unique = 1 }, { .major = 7, .minor = 41 } };
	struct {
		struct fuse_in_header h;
		struct fuse_getattr_in g;
	} ga = { { .len = sizeof(ga), .opcode = FUSE_GETATTR, .nodeid = FUSE_ROOT_ID }, { 0 } };
	unsigned done = 0, bad = 0;
	uint32_t id, len;

	up();
	h_init(&h, MEM);
	ck_assert_int_eq(virtio_fs_init(&vfs, &h.plat, &h.fm.all, "myfs", root, 1, NULL), 0);
	h_plug(&h, &vfs.vdev);
	ck_assert(h_negotiate(&h, 1ULL << VIRTIO_F_VERSION_1));
	fake_ring_layout(&hq, &h.fm, 8, AP_BASE);
	fake_ring_layout(&q1, &h.fm, N, AP_BASE + 0x1000);
	ck_assert_uint_le(fake_ring_end(&q1), tbl);
	h_queue_setup(&h, 0, &hq, 0);
	h_queue_setup(&h, 1, &q1, 1);
	h_driver_ok(&h);
	for (uint16_t i = 0; i < N; i++) {
		fake_indirect(&h.fm, tbl + 32u * i,
			      (struct fake_seg[]){ { reqs + 64u * i, sizeof(ga), false }, { reps + 256u * i, 256, true } }, 2);
		fake_desc(&q1, i, tbl + 32u * i, 32, VRING_DESC_F_INDIRECT, 0);
		ga.h.unique = 100 + i;
		fake_write(&h.fm, reqs + 64u * i, i ? (const void *)&ga : (const void *)&init, i ? sizeof(ga) : sizeof(init));
	}
	fake_indirect(&h.fm, tbl, (struct fake_seg[]){ { reqs, sizeof(init), false }, { reps, 256, true } }, 2);
	fake_avail_push(&q1, 0);
	h_kick(&h, 1);
	ck_assert(h_wait_used(&q1, 0, 3000));
	ck_assert(fake_used_next(&q1, &id, &len));
	ga.h.unique = 100;
	fake_write(&h.fm, reqs, &ga, sizeof(ga));
	for (uint16_t i = 0; i < N; i++)
		fake_avail_push(&q1, i);
	h_kick(&h, 1);
	while (done < TOTAL) {
		uint16_t old = fake_used_idx(&q1);
		bool any = false;

		while (fake_used_next(&q1, &id, &len)) {
			struct fuse_out_header oh;

			fake_read(&h.fm, reps + 256u * id, &oh, sizeof(oh));
			bad += oh.error != 0 || len != sizeof(oh) + sizeof(struct fuse_attr_out);
			fake_avail_push(&q1, (uint16_t)id);
			done++;
			any = true;
		}
		if (any)
			h_kick(&h, 1);
		else if (!h_wait_used(&q1, old, 3000))
			break;
	}
	ck_assert_uint_eq(h_status(&h) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	ck_assert_uint_ge(done, TOTAL);
	ck_assert_uint_eq(bad, 0);
	dev_down();
}
END_TEST

/*
 * Both request queues are served, each on its own thread, and a reset while
 * requests are in flight leaves no thread touching a queue.
 */
START_TEST(vfs_two_queues)
{
	struct fake_ring q2;
	struct {
		struct fuse_in_header h;
		struct fuse_init_in i;
	} init = { { .len = sizeof(init), .opcode = FUSE_INIT, .unique = 1 }, { .major = 7, .minor = 41 } };
	struct {
		struct fuse_in_header h;
		struct fuse_getattr_in g;
	} ga = { { .len = sizeof(ga), .opcode = FUSE_GETATTR, .unique = 5, .nodeid = FUSE_ROOT_ID }, { 0 } };
	struct fuse_out_header oh;
	uint32_t len;

	up();
	h_init(&h, MEM);
	ck_assert_int_eq(virtio_fs_init(&vfs, &h.plat, &h.fm.all, "myfs", root, 2, NULL), 0);
	h_plug(&h, &vfs.vdev);
	ck_assert(h_negotiate(&h, 1ULL << VIRTIO_F_VERSION_1));
	fake_ring_layout(&hq, &h.fm, 8, AP_BASE);
	fake_ring_layout(&rq, &h.fm, 8, AP_BASE + 0x1000);
	fake_ring_layout(&q2, &h.fm, 8, AP_BASE + 0x3000);
	h_queue_setup(&h, 0, &hq, 0);
	h_queue_setup(&h, 1, &rq, 1);
	h_queue_setup(&h, 2, &q2, 2);
	h_driver_ok(&h);
	ck_assert(dev_call(&init, sizeof(init), AP_BASE + 0x10000, 4096, &len));
	/* queue 2 */
	fake_write(&h.fm, AP_BASE + 0x9000, &ga, sizeof(ga));
	fake_avail_push(&q2, fake_chain(&q2, 0, (struct fake_seg[]){ { AP_BASE + 0x9000, sizeof(ga), false },
								    { AP_BASE + 0x11000, 256, true } }, 2));
	h_kick(&h, 2);
	ck_assert(h_wait_used(&q2, 0, 3000));
	ck_assert(fake_used_next(&q2, NULL, &len));
	ck_assert_uint_eq(len, sizeof(oh) + sizeof(struct fuse_attr_out));
	fake_read(&h.fm, AP_BASE + 0x11000, &oh, sizeof(oh));
	ck_assert_int_eq(oh.error, 0);
	ck_assert_uint_eq(oh.unique, 5);
	ck_assert_uint_eq(vfs.q[2].requests, 1);
	ck_assert_uint_eq(vfs.q[1].requests, 1);
	/* Requests in flight on both queues, then a reset; the device comes back clean. */
	for (int round = 0; round <= 20; round++) {
		h_set_status(&h, 0);
		ck_assert_uint_eq(h_status(&h), 0);
		ck_assert(h_negotiate(&h, 1ULL << VIRTIO_F_VERSION_1));
		fake_ring_layout(&hq, &h.fm, 8, AP_BASE);
		fake_ring_layout(&rq, &h.fm, 8, AP_BASE + 0x1000);
		fake_ring_layout(&q2, &h.fm, 8, AP_BASE + 0x3000);
		h_queue_setup(&h, 0, &hq, 0);
		h_queue_setup(&h, 1, &rq, 1);
		h_queue_setup(&h, 2, &q2, 2);
		h_driver_ok(&h);
		ck_assert(dev_call(&init, sizeof(init), AP_BASE + 0x10000, 4096, &len));
		ck_assert_uint_gt(len, 16);
		if (round == 20)
			break;
		for (uint16_t i = 0; i < 4; i++) {
			fake_write(&h.fm, AP_BASE + 0x9000, &ga, sizeof(ga));
			fake_avail_push(&q2, fake_chain(&q2, (uint16_t)(2 * i), (struct fake_seg[]){
				{ AP_BASE + 0x9000, sizeof(ga), false }, { AP_BASE + 0x11000, 256, true } }, 2));
		}
		h_kick(&h, 2);
	}
	ck_assert_uint_eq(h_status(&h) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	dev_down();
}
END_TEST

START_TEST(vfs_bad_init_args)
{
	struct virtio_fs f2;
	struct harness h2;

	h_init(&h2, MEM);
	ck_assert_int_eq(virtio_fs_init(&f2, &h2.plat, &h2.fm.all, "t", "/nonexistent-aperture", 1, NULL), -ENOENT);
	ck_assert_int_eq(virtio_fs_init(&f2, &h2.plat, &h2.fm.all, "t", "/etc/passwd", 1, NULL), -ENOTDIR);
	ck_assert_int_eq(virtio_fs_init(&f2, &h2.plat, &h2.fm.all, "", "/tmp", 1, NULL), -EINVAL);
	ck_assert_int_eq(virtio_fs_init(&f2, &h2.plat, &h2.fm.all, "t", "/tmp", 0, NULL), -EINVAL);
	ck_assert_int_eq(virtio_fs_init(&f2, &h2.plat, &h2.fm.all, "0123456789012345678901234567890123456", "/tmp", 1, NULL),
			 -EINVAL);
	h_destroy(&h2);
}
END_TEST

/* The hiprio queue serves FORGET, BATCH_FORGET and INTERRUPT; anything else is ENOSYS. */
START_TEST(fuse_hiprio_only_forget)
{
	struct fuse_entry_out e;
	struct fuse_forget_in fi = { .nlookup = 1 };
	struct fuse_mkdir_in mi = { .mode = 0755 };
	uint64_t node;
	unsigned before;

	up();
	do_init();
	host_write("f", "x");
	node = lookup(FUSE_ROOT_ID, "f", &e);
	ck_assert_uint_ne(node, 0);
	before = fuse_pt_inode_count(fs);
	use_hiprio = true;
	expect_err(call(FUSE_GETATTR, node, NULL, 0, NULL, 0), -ENOSYS);
	expect_err(call(FUSE_MKDIR, FUSE_ROOT_ID, &mi, sizeof(mi), "d", 2), -ENOSYS);
	expect_err(call(FUSE_INIT, 0, NULL, 0, NULL, 0), -ENOSYS);
	ck_assert_int_eq(call(FUSE_INTERRUPT, 0, NULL, 0, NULL, 0), 0);
	ck_assert_int_eq(call(FUSE_FORGET, node, &fi, sizeof(fi), NULL, 0), 0);
	use_hiprio = false;
	ck_assert_uint_eq(fuse_pt_inode_count(fs), before - 1);
	{
		char p[300];
		struct stat st;

		snprintf(p, sizeof(p), "%s/d", root);
		ck_assert_int_ne(stat(p, &st), 0); /* MKDIR did not run */
	}
	down();
}
END_TEST

Suite *fuse_suite(void)
{
	Suite *s = suite_create("fuse");
	TCase *t = tcase_create("server"), *d = tcase_create("virtio-fs");

	tcase_set_timeout(t, 30);
	tcase_add_test(t, vq_iov_helpers);
	tcase_add_test(t, fuse_hiprio_only_forget);
	tcase_add_test(t, fuse_needs_init);
	tcase_add_test(t, fuse_lookup_and_names);
	tcase_add_test(t, fuse_escape_symlink);
	tcase_add_test(t, fuse_escape_names);
	tcase_add_test(t, fuse_create_existing);
	tcase_add_test(t, fuse_file_io);
	tcase_add_test(t, fuse_big_io_many_segments);
	tcase_add_test(t, fuse_tree_ops);
	tcase_add_test(t, fuse_file_ops);
	tcase_add_test(t, fuse_xattrs);
	tcase_add_test(t, fuse_readdir_and_forget);
	tcase_add_test(t, fuse_lying_requests);
	tcase_add_test(d, vfs_config_and_init);
	tcase_add_test(d, vfs_short_request_needs_reset);
	tcase_add_test(d, vfs_reply_outside_aperture);
	tcase_add_test(d, vfs_reset_and_reinit);
	tcase_add_test(d, vfs_bad_init_args);
	tcase_add_test(d, vfs_full_queue_reuse);
	tcase_add_test(d, vfs_two_queues);
	suite_add_tcase(s, t);
	suite_add_tcase(s, d);
	return s;
}
