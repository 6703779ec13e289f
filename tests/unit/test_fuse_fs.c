/* SPDX-License-Identifier: MIT */
/*
 * The passthrough file system as programs see it: errno fidelity against the
 * host's own answer for the same call, names, symlink times and extended
 * attributes, the share options (ro, cache, writeback, xattr, uidmap), the
 * bounded inode table, the guest caller's credentials (when the tests run
 * as root, as CI does), inode numbers across host mounts, and the wire
 * layer's table. Requests are built as a Linux guest sends them.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include "devices/fuse-passthrough.h"
#include "tests/unit/suites.h"

static char top[256], root[300], mirror[300];
static struct fuse_pt *fs;
static uint8_t rbuf[1 << 17];
static uint64_t uniq;
static uint32_t req_uid, req_gid; /* the guest caller of the next requests */

static void rm_rf(const char *p)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p);
	ck_assert_int_eq(system(cmd), 0);
}

/* Request extensions for the next calls (a multiple of 8 bytes; NULL: none). */
static const void *req_ext;
static size_t req_extlen;

static long call_out(uint32_t op, uint64_t node, const void *a, size_t alen, const void *b, size_t blen,
		     size_t outlen)
{
	static uint8_t req[1 << 17];
	size_t xl = req_ext ? req_extlen : 0;
	struct fuse_in_header h = { .len = (uint32_t)(sizeof(h) + alen + blen + xl), .opcode = op, .unique = ++uniq,
				    .nodeid = node, .uid = req_uid, .gid = req_gid, .pid = 42,
				    .total_extlen = (uint16_t)(xl / 8) };
	struct iovec in = { req, sizeof(h) + alen + blen + xl }, out = { rbuf, outlen };

	ck_assert_uint_le(sizeof(h) + alen + blen + xl, sizeof(req));
	memcpy(req, &h, sizeof(h));
	if (alen)
		memcpy(req + sizeof(h), a, alen);
	if (blen)
		memcpy(req + sizeof(h) + alen, b, blen);
	if (xl)
		memcpy(req + sizeof(h) + alen + blen, req_ext, xl);
	memset(rbuf, 0xA5, sizeof(rbuf));
	return fuse_pt_handle(fs, &in, 1, &out, 1);
}

static long call(uint32_t op, uint64_t node, const void *a, size_t alen, const void *b, size_t blen)
{
	return call_out(op, node, a, alen, b, blen, sizeof(rbuf));
}

static int32_t err_of(void) { return ((struct fuse_out_header *)rbuf)->error; }
static void *payload(void) { return rbuf + sizeof(struct fuse_out_header); }

static void expect_err_at(long r, int e, int line)
{
	ck_assert_msg(r == sizeof(struct fuse_out_header) && err_of() == e,
		      "line %d: reply length %ld error %d, expected a bare reply with error %d", line, r, err_of(), e);
}
#define expect_err(r, e) expect_err_at((r), (e), __LINE__)

/* Tests that need root (CAP_SETUID, CAP_MKNOD, ...: CI runs as root) say so rather than pass silently. */
#define ROOT_ONLY()                                                                    \
	do {                                                                           \
		if (geteuid() != 0) {                                                  \
			fprintf(stderr, "%s: not root, nothing checked\n", __func__); \
			return;                                                        \
		}                                                                      \
	} while (0)

static uint64_t init_flags;

/* INIT as a guest offering `flags` (those above bit 31 in flags2, as the kernel does). */
static void init_session(uint64_t flags)
{
	struct fuse_init_in ii = { .major = 7, .minor = 41, .max_readahead = 65536,
				   .flags = (uint32_t)flags | (flags >> 32 ? FUSE_INIT_EXT : 0),
				   .flags2 = (uint32_t)(flags >> 32) };
	const struct fuse_init_out *o = payload();

	ck_assert_int_gt(call(FUSE_INIT, 0, &ii, sizeof(ii), NULL, 0), 0);
	ck_assert_int_eq(err_of(), 0);
	init_flags = o->flags | ((o->flags & FUSE_INIT_EXT) ? (uint64_t)o->flags2 << 32 : 0);
}

#define GUEST_FLAGS (FUSE_ASYNC_READ | FUSE_MAX_PAGES | FUSE_DO_READDIRPLUS | FUSE_BIG_WRITES | \
		     FUSE_HANDLE_KILLPRIV_V2 | FUSE_SUBMOUNTS | FUSE_WRITEBACK_CACHE | FUSE_ATOMIC_O_TRUNC | \
		     FUSE_CREATE_SUPP_GROUP)

/* A share in top/share with options o, and a mirror tree top/mirror for the host's own answers. */
static void up_opts(const struct fuse_options *o)
{
	char tmpl[] = "/tmp/aperture-fusefs-XXXXXX";
	char *d = mkdtemp(tmpl);

	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(chmod(d, 0755), 0);
	snprintf(top, sizeof(top), "%s", d);
	snprintf(root, sizeof(root), "%s/share", d);
	snprintf(mirror, sizeof(mirror), "%s/mirror", d);
	ck_assert_int_eq(mkdir(root, 0755), 0);
	ck_assert_int_eq(mkdir(mirror, 0755), 0);
	ck_assert_int_eq(fuse_pt_create_opts(&fs, root, o), 0);
	uniq = 0;
	req_uid = req_gid = 0;
	req_ext = NULL;
	init_session(GUEST_FLAGS);
}

static void up(void)
{
	struct fuse_options o = { .xattr = true };

	up_opts(&o);
}

static void down(void)
{
	fuse_pt_destroy(fs);
	fs = NULL;
	rm_rf(top);
}

/* A directory `name` in the share made on the host with owner u:g and mode; its node. */
static uint64_t owned_dir(const char *name, uid_t u, gid_t g, mode_t mode);

/* Make rel in both the share and the mirror: "d/" a directory, else a file with `data`. */
static void both(const char *rel, const char *data)
{
	const char *bases[2] = { root, mirror };

	for (int i = 0; i < 2; i++) {
		char p[600];
		size_t l = strlen(rel);

		snprintf(p, sizeof(p), "%s/%s", bases[i], rel);
		if (l && rel[l - 1] == '/') {
			ck_assert_int_eq(mkdir(p, 0755), 0);
		} else {
			FILE *f = fopen(p, "w");

			ck_assert_ptr_nonnull(f);
			fputs(data, f);
			fclose(f);
		}
	}
}

static void path_of(char *buf, size_t len, const char *base, const char *rel)
{
	snprintf(buf, len, "%s/%s", base, rel);
}

static uint64_t lookup(uint64_t parent, const char *name, struct fuse_entry_out *e)
{
	struct fuse_entry_out tmp;

	if (!e)
		e = &tmp;
	ck_assert_int_gt(call(FUSE_LOOKUP, parent, name, strlen(name) + 1, NULL, 0), 0);
	if (err_of())
		return 0;
	memcpy(e, payload(), sizeof(*e));
	return e->nodeid;
}

static uint64_t owned_dir(const char *name, uid_t u, gid_t g, mode_t mode)
{
	char p[600];

	path_of(p, sizeof(p), root, name);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	ck_assert_int_eq(chown(p, u, g), 0);
	ck_assert_int_eq(chmod(p, mode), 0); /* after chown, which drops set-group-ID */
	return lookup(FUSE_ROOT_ID, name, NULL);
}

/* The host's errno for a call on the mirror: 0 or -errno. */
#define HOST(expr) ((expr) < 0 ? -errno : 0)

/* ---- names ---- */

START_TEST(fs_name_lengths)
{
	char name[1100];
	struct fuse_mkdir_in mk = { .mode = 0755 };
	struct fuse_create_in c = { .flags = O_RDWR, .mode = S_IFREG | 0644 };
	char p[1500];
	int host;

	up();
	memset(name, 'n', sizeof(name));
	/* NAME_MAX is fine */
	name[255] = '\0';
	ck_assert_int_gt(call(FUSE_MKDIR, FUSE_ROOT_ID, &mk, sizeof(mk), name, 256), 0);
	ck_assert_int_eq(err_of(), 0);
	/* 256 and 1024 bytes: ENAMETOOLONG, as the host says for the same mkdir */
	for (size_t len = 256; len <= 1024; len += 768) {
		memset(name, 'n', sizeof(name));
		name[len] = '\0';
		path_of(p, sizeof(p), mirror, name);
		host = HOST(mkdir(p, 0755));
		ck_assert_int_eq(host, -ENAMETOOLONG);
		expect_err(call(FUSE_MKDIR, FUSE_ROOT_ID, &mk, sizeof(mk), name, len + 1), host);
		expect_err(call(FUSE_LOOKUP, FUSE_ROOT_ID, name, len + 1, NULL, 0), host);
		expect_err(call(FUSE_CREATE, FUSE_ROOT_ID, &c, sizeof(c), name, len + 1), host);
		expect_err(call(FUSE_UNLINK, FUSE_ROOT_ID, name, len + 1, NULL, 0), host);
	}
	/* Extended attribute names beyond XATTR_NAME_MAX: ERANGE, as setxattr(2). */
	{
		uint8_t args[400];
		struct fuse_setxattr_in s = { .size = 1 };

		memcpy(args, &s, FUSE_COMPAT_SETXATTR_IN_SIZE);
		memset(args + FUSE_COMPAT_SETXATTR_IN_SIZE, 'x', 300);
		memcpy(args + FUSE_COMPAT_SETXATTR_IN_SIZE, "user.", 5);
		args[FUSE_COMPAT_SETXATTR_IN_SIZE + 300] = '\0';
		args[FUSE_COMPAT_SETXATTR_IN_SIZE + 301] = '1';
		expect_err(call(FUSE_SETXATTR, FUSE_ROOT_ID, args, FUSE_COMPAT_SETXATTR_IN_SIZE + 302, NULL, 0), -ERANGE);
	}
	down();
}
END_TEST

/* The errno of each call is the host's for the same call on the same tree. */
START_TEST(fs_errno_fidelity)
{
	struct fuse_mkdir_in mk = { .mode = 0755 };
	struct fuse_rename2_in rn = { .newdir = FUSE_ROOT_ID };
	struct fuse_link_in ln;
	struct fuse_open_in op = { .flags = O_WRONLY };
	struct fuse_setattr_in sa = { .valid = FATTR_SIZE, .size = 0 };
	char a[600], b[600];
	uint64_t d, f, sub;

	up();
	both("dir/", "");
	both("dir/inner", "x");
	both("empty/", "");
	both("file", "data");
	d = lookup(FUSE_ROOT_ID, "dir", NULL);
	f = lookup(FUSE_ROOT_ID, "file", NULL);
	ck_assert_uint_ne(d, 0);
	ck_assert_uint_ne(f, 0);
	/* rmdir of a non-empty directory, of a file; unlink of a directory */
	path_of(a, sizeof(a), mirror, "dir");
	expect_err(call(FUSE_RMDIR, FUSE_ROOT_ID, "dir", 4, NULL, 0), HOST(rmdir(a)));
	path_of(a, sizeof(a), mirror, "file");
	expect_err(call(FUSE_RMDIR, FUSE_ROOT_ID, "file", 5, NULL, 0), HOST(rmdir(a)));
	path_of(a, sizeof(a), mirror, "empty");
	expect_err(call(FUSE_UNLINK, FUSE_ROOT_ID, "empty", 6, NULL, 0), HOST(unlink(a)));
	/* mkdir over an existing name */
	path_of(a, sizeof(a), mirror, "file");
	expect_err(call(FUSE_MKDIR, FUSE_ROOT_ID, &mk, sizeof(mk), "file", 5), HOST(mkdir(a, 0755)));
	/* rename: a directory into itself, a file over a directory, a directory over a non-empty one */
	sub = d;
	rn.newdir = sub;
	path_of(a, sizeof(a), mirror, "dir");
	path_of(b, sizeof(b), mirror, "dir/x");
	expect_err(call(FUSE_RENAME2, FUSE_ROOT_ID, &rn, sizeof(rn), "dir\0x", 6), HOST(rename(a, b)));
	rn.newdir = FUSE_ROOT_ID;
	path_of(a, sizeof(a), mirror, "file");
	path_of(b, sizeof(b), mirror, "empty");
	expect_err(call(FUSE_RENAME2, FUSE_ROOT_ID, &rn, sizeof(rn), "file\0empty", 11), HOST(rename(a, b)));
	path_of(a, sizeof(a), mirror, "empty");
	path_of(b, sizeof(b), mirror, "dir");
	expect_err(call(FUSE_RENAME2, FUSE_ROOT_ID, &rn, sizeof(rn), "empty\0dir", 10), HOST(rename(a, b)));
	/* rename with an unknown flag */
	rn.flags = 0x80;
	expect_err(call(FUSE_RENAME2, FUSE_ROOT_ID, &rn, sizeof(rn), "file\0f2", 8), -EINVAL);
	rn.flags = 0;
	/* link over an existing name, link of a directory */
	ln.oldnodeid = f;
	path_of(a, sizeof(a), mirror, "file");
	path_of(b, sizeof(b), mirror, "empty");
	expect_err(call(FUSE_LINK, FUSE_ROOT_ID, &ln, sizeof(ln), "empty", 6), HOST(link(a, b)));
	ln.oldnodeid = d;
	path_of(a, sizeof(a), mirror, "dir");
	path_of(b, sizeof(b), mirror, "dirlink");
	expect_err(call(FUSE_LINK, FUSE_ROOT_ID, &ln, sizeof(ln), "dirlink", 8), HOST(link(a, b)));
	/* open a directory for writing */
	path_of(a, sizeof(a), mirror, "dir");
	expect_err(call(FUSE_OPEN, d, &op, sizeof(op), NULL, 0), HOST(open(a, O_WRONLY)));
	/* truncate a directory */
	expect_err(call(FUSE_SETATTR, d, &sa, sizeof(sa), NULL, 0), HOST(truncate(a, 0)));
	/* readlink of a regular file */
	path_of(a, sizeof(a), mirror, "file");
	{
		char buf[16];

		expect_err(call(FUSE_READLINK, f, NULL, 0, NULL, 0), HOST(readlink(a, buf, sizeof(buf))));
	}
	/* lookup of a missing name, under a file */
	path_of(a, sizeof(a), mirror, "nope");
	{
		struct stat st;

		expect_err(call(FUSE_LOOKUP, FUSE_ROOT_ID, "nope", 5, NULL, 0), HOST(lstat(a, &st)));
		path_of(a, sizeof(a), mirror, "file/x");
		expect_err(call(FUSE_LOOKUP, f, "x", 2, NULL, 0), HOST(lstat(a, &st)));
	}
	/* rmdir "." and "..", unlink ".." (the guest never sends them; the answers are the host's) */
	path_of(a, sizeof(a), mirror, "dir/.");
	expect_err(call(FUSE_RMDIR, d, ".", 2, NULL, 0), HOST(rmdir(a)));
	path_of(a, sizeof(a), mirror, "dir/..");
	expect_err(call(FUSE_RMDIR, d, "..", 3, NULL, 0), HOST(rmdir(a)));
	expect_err(call(FUSE_UNLINK, d, "..", 3, NULL, 0), HOST(unlink(a)));
	down();
}
END_TEST

/* SEEK_DATA past the end, fallocate with a mode the file system refuses, copy_file_range onto itself. */
START_TEST(fs_errno_file_ops)
{
	struct fuse_create_in c = { .flags = O_RDWR, .mode = S_IFREG | 0644 };
	struct fuse_lseek_in ls;
	struct fuse_fallocate_in fa;
	struct {
		struct fuse_entry_out e;
		struct fuse_open_out o;
	} out;
	char a[600];
	int hfd;

	up();
	call(FUSE_CREATE, FUSE_ROOT_ID, &c, sizeof(c), "f", 2);
	ck_assert_int_eq(err_of(), 0);
	memcpy(&out, payload(), sizeof(out));
	path_of(a, sizeof(a), mirror, "f");
	hfd = open(a, O_RDWR | O_CREAT, 0644);
	ck_assert_int_ge(hfd, 0);
	ls = (struct fuse_lseek_in){ .fh = out.o.fh, .offset = 100, .whence = SEEK_DATA };
	expect_err(call(FUSE_LSEEK, out.e.nodeid, &ls, sizeof(ls), NULL, 0), HOST(lseek(hfd, 100, SEEK_DATA)));
	ls.whence = 77;
	expect_err(call(FUSE_LSEEK, out.e.nodeid, &ls, sizeof(ls), NULL, 0), HOST(lseek(hfd, 0, 77)));
	fa = (struct fuse_fallocate_in){ .fh = out.o.fh, .offset = 0, .length = 4096, .mode = 0x40 /* unknown */ };
	expect_err(call(FUSE_FALLOCATE, out.e.nodeid, &fa, sizeof(fa), NULL, 0), HOST(fallocate(hfd, 0x40, 0, 4096)));
	fa.length = 0;
	fa.mode = 0;
	expect_err(call(FUSE_FALLOCATE, out.e.nodeid, &fa, sizeof(fa), NULL, 0), HOST(fallocate(hfd, 0, 0, 0)));
	/*
	 * Nanoseconds out of range: EINVAL as on the host (the server must not
	 * pass 1073741823 on, which is UTIME_NOW to the host's utimensat).
	 */
	{
		struct timespec ts[2] = { { 1, 1000000000 }, { .tv_nsec = UTIME_OMIT } };
		struct fuse_setattr_in sa = { .valid = FATTR_ATIME, .atime = 1, .atimensec = 1000000000 };
		struct stat st0, st1;

		path_of(a, sizeof(a), root, "f");
		ck_assert_int_eq(stat(a, &st0), 0);
		expect_err(call(FUSE_SETATTR, out.e.nodeid, &sa, sizeof(sa), NULL, 0), HOST(futimens(hfd, ts)));
		sa = (struct fuse_setattr_in){ .valid = FATTR_MTIME, .mtime = 1, .mtimensec = UTIME_NOW };
		ts[0] = (struct timespec){ .tv_nsec = UTIME_OMIT };
		ts[1] = (struct timespec){ 1, 1000000000 };
		expect_err(call(FUSE_SETATTR, out.e.nodeid, &sa, sizeof(sa), NULL, 0), HOST(futimens(hfd, ts)));
		/* with a mode in the same request: refused before anything changes */
		sa = (struct fuse_setattr_in){ .valid = FATTR_MODE | FATTR_MTIME, .mode = 0600, .mtime = 1,
					       .mtimensec = 2000000000u };
		expect_err(call(FUSE_SETATTR, out.e.nodeid, &sa, sizeof(sa), NULL, 0), -EINVAL);
		ck_assert_int_eq(stat(a, &st1), 0);
		ck_assert_int_eq(st1.st_mtim.tv_sec, st0.st_mtim.tv_sec); /* not "now" */
		ck_assert_int_eq(st1.st_mtim.tv_nsec, st0.st_mtim.tv_nsec);
		ck_assert_uint_eq(st1.st_mode & 07777, st0.st_mode & 07777);
	}
	close(hfd);
	down();
}
END_TEST

/* touch -h, and extended attributes of symlinks, FIFOs and sockets: as lutimes/lsetxattr on the host. */
START_TEST(fs_symlinks_fifos_sockets)
{
	struct fuse_mknod_in mn = { .mode = S_IFIFO | 0644 };
	struct fuse_setattr_in sa = { .valid = FATTR_MTIME | FATTR_ATIME, .mtime = 1000000, .atime = 2000000 };
	const char *names[3] = { "lnk", "fifo", "sock" };
	uint64_t nodes[3];
	struct stat st;
	char p[600];

	up();
	ck_assert_int_gt(call(FUSE_SYMLINK, FUSE_ROOT_ID, "lnk\0target", 11, NULL, 0), 0);
	ck_assert_int_eq(err_of(), 0);
	nodes[0] = ((struct fuse_entry_out *)payload())->nodeid;
	ck_assert_int_gt(call(FUSE_MKNOD, FUSE_ROOT_ID, &mn, sizeof(mn), "fifo", 5), 0);
	ck_assert_int_eq(err_of(), 0);
	nodes[1] = ((struct fuse_entry_out *)payload())->nodeid;
	mn.mode = S_IFSOCK | 0644;
	ck_assert_int_gt(call(FUSE_MKNOD, FUSE_ROOT_ID, &mn, sizeof(mn), "sock", 5), 0);
	ck_assert_int_eq(err_of(), 0);
	nodes[2] = ((struct fuse_entry_out *)payload())->nodeid;
	for (int i = 0; i < 3; i++) {
		uint8_t args[64];
		struct fuse_setxattr_in sx = { .size = 3 };
		int host;
		char mp[600];

		/* times of the object itself (the link, not its target) */
		ck_assert_int_gt(call(FUSE_SETATTR, nodes[i], &sa, sizeof(sa), NULL, 0), 0);
		ck_assert_int_eq(err_of(), 0);
		path_of(p, sizeof(p), root, names[i]);
		ck_assert_int_eq(lstat(p, &st), 0);
		ck_assert_int_eq(st.st_mtime, 1000000);
		ck_assert_int_eq(st.st_atime, 2000000);
		ck_assert_uint_eq(((struct fuse_attr_out *)payload())->attr.mtime, 1000000);
		/* a trusted.* attribute (root may set it on any type), then a user.* one (not on these types) */
		memcpy(args, &sx, FUSE_COMPAT_SETXATTR_IN_SIZE);
		memcpy(args + FUSE_COMPAT_SETXATTR_IN_SIZE, "trusted.t\0abc", 13);
		path_of(mp, sizeof(mp), mirror, names[i]);
		if (i == 0)
			ck_assert_int_eq(symlink("target", mp), 0);
		else
			ck_assert_int_eq(mknod(mp, (i == 1 ? S_IFIFO : S_IFSOCK) | 0644, 0), 0);
		host = HOST(lsetxattr(mp, "trusted.t", "abc", 3, 0));
		expect_err(call(FUSE_SETXATTR, nodes[i], args, FUSE_COMPAT_SETXATTR_IN_SIZE + 13, NULL, 0), host);
		if (host == 0) {
			char v[8];

			ck_assert_int_eq(lgetxattr(p, "trusted.t", v, sizeof(v)), 3);
			ck_assert_int_gt(call(FUSE_GETXATTR, nodes[i], &(struct fuse_getxattr_in){ .size = 8 },
					      sizeof(struct fuse_getxattr_in), "trusted.t", 10),
					 0);
			ck_assert_int_eq(err_of(), 0);
			ck_assert_int_eq(memcmp(payload(), "abc", 3), 0);
		}
		memcpy(args + FUSE_COMPAT_SETXATTR_IN_SIZE, "user.uuu\0abc", 12);
		expect_err(call(FUSE_SETXATTR, nodes[i], args, FUSE_COMPAT_SETXATTR_IN_SIZE + 12, NULL, 0),
			   HOST(lsetxattr(mp, "user.uuu", "abc", 3, 0)));
		expect_err(call(FUSE_GETXATTR, nodes[i], &(struct fuse_getxattr_in){ .size = 8 },
				sizeof(struct fuse_getxattr_in), "user.none", 10),
			   (int)(lgetxattr(mp, "user.none", NULL, 0) < 0 ? -errno : 0));
	}
	/* chmod of a symlink: as fchmodat(AT_SYMLINK_NOFOLLOW) */
	sa = (struct fuse_setattr_in){ .valid = FATTR_MODE, .mode = 0600 };
	expect_err(call(FUSE_SETATTR, nodes[0], &sa, sizeof(sa), NULL, 0), -EOPNOTSUPP);
	/* no device nodes */
	mn = (struct fuse_mknod_in){ .mode = S_IFCHR | 0600, .rdev = makedev(1, 3) };
	expect_err(call(FUSE_MKNOD, FUSE_ROOT_ID, &mn, sizeof(mn), "null", 5), -EPERM);
	mn.mode = S_IFBLK | 0600;
	expect_err(call(FUSE_MKNOD, FUSE_ROOT_ID, &mn, sizeof(mn), "blk", 4), -EPERM);
	down();
}
END_TEST

/*
 * devnodes: MKNOD makes character and block devices, with the caller's
 * credentials (root: CAP_MKNOD; another guest user: EPERM, as locally).
 */
START_TEST(fs_devnodes)
{
	struct fuse_options o = { .devnodes = true };
	struct fuse_mknod_in mn = { .mode = S_IFCHR | 0600, .rdev = (uint32_t)makedev(1, 3) };
	struct fuse_entry_out e;
	char p[600];
	struct stat st;

	ROOT_ONLY();
	up_opts(&o);
	ck_assert_int_gt(call(FUSE_MKNOD, FUSE_ROOT_ID, &mn, sizeof(mn), "null", 5), 0);
	ck_assert_int_eq(err_of(), 0);
	memcpy(&e, payload(), sizeof(e));
	ck_assert_uint_eq(e.attr.rdev, (uint32_t)makedev(1, 3));
	path_of(p, sizeof(p), root, "null");
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert(S_ISCHR(st.st_mode));
	ck_assert_uint_eq(major(st.st_rdev), 1);
	ck_assert_uint_eq(minor(st.st_rdev), 3);
	/* Numbers past 8 bits of minor (the encoding's split field) and a block device. */
	mn = (struct fuse_mknod_in){ .mode = S_IFBLK | 0600, .rdev = (uint32_t)makedev(259, 70000) };
	ck_assert_int_gt(call(FUSE_MKNOD, FUSE_ROOT_ID, &mn, sizeof(mn), "blk", 4), 0);
	ck_assert_int_eq(err_of(), 0);
	path_of(p, sizeof(p), root, "blk");
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert(S_ISBLK(st.st_mode));
	ck_assert_uint_eq(major(st.st_rdev), 259);
	ck_assert_uint_eq(minor(st.st_rdev), 70000);
	/* Another guest user, in a directory it may write: the host refuses it as it would locally. */
	ck_assert_int_eq(chmod(root, 0777), 0);
	req_uid = req_gid = 1000;
	mn = (struct fuse_mknod_in){ .mode = S_IFCHR | 0600, .rdev = (uint32_t)makedev(1, 3) };
	expect_err(call(FUSE_MKNOD, FUSE_ROOT_ID, &mn, sizeof(mn), "u", 2), -EPERM);
	down();
}
END_TEST

/* ---- options ---- */

START_TEST(fs_xattr_off)
{
	struct fuse_options o = { 0 };

	up_opts(&o);
	expect_err(call(FUSE_GETXATTR, FUSE_ROOT_ID, &(struct fuse_getxattr_in){ .size = 0 },
			sizeof(struct fuse_getxattr_in), "user.x", 7), -ENOSYS);
	expect_err(call(FUSE_LISTXATTR, FUSE_ROOT_ID, &(struct fuse_getxattr_in){ .size = 0 },
			sizeof(struct fuse_getxattr_in), NULL, 0), -ENOSYS);
	expect_err(call(FUSE_REMOVEXATTR, FUSE_ROOT_ID, "user.x", 7, NULL, 0), -ENOSYS);
	down();
}
END_TEST

START_TEST(fs_readonly)
{
	struct fuse_options o = { .ro = true, .xattr = true };
	struct fuse_mkdir_in mk = { .mode = 0755 };
	struct fuse_create_in c = { .flags = O_RDWR, .mode = S_IFREG | 0644 };
	struct fuse_open_in op = { .flags = O_RDONLY };
	struct fuse_setattr_in sa = { .valid = FATTR_MODE, .mode = 0777 };
	struct fuse_read_in rd = { .size = 100 };
	struct fuse_rename_in rn = { .newdir = FUSE_ROOT_ID };
	struct fuse_link_in ln;
	uint8_t args[32];
	struct stat st;
	uint64_t f;
	long r;

	up_opts(&o);
	both("file", "hello");
	both("d/", "");
	f = lookup(FUSE_ROOT_ID, "file", NULL);
	/* Even a root caller gets EROFS. */
	expect_err(call(FUSE_MKDIR, FUSE_ROOT_ID, &mk, sizeof(mk), "x", 2), -EROFS);
	expect_err(call(FUSE_CREATE, FUSE_ROOT_ID, &c, sizeof(c), "x", 2), -EROFS);
	expect_err(call(FUSE_SYMLINK, FUSE_ROOT_ID, "x\0y", 4, NULL, 0), -EROFS);
	expect_err(call(FUSE_UNLINK, FUSE_ROOT_ID, "file", 5, NULL, 0), -EROFS);
	expect_err(call(FUSE_RMDIR, FUSE_ROOT_ID, "d", 2, NULL, 0), -EROFS);
	expect_err(call(FUSE_RENAME, FUSE_ROOT_ID, &rn, sizeof(rn), "file\0g", 7), -EROFS);
	ln.oldnodeid = f;
	expect_err(call(FUSE_LINK, FUSE_ROOT_ID, &ln, sizeof(ln), "h", 2), -EROFS);
	expect_err(call(FUSE_SETATTR, f, &sa, sizeof(sa), NULL, 0), -EROFS);
	memset(args, 0, sizeof(args));
	memcpy(args + FUSE_COMPAT_SETXATTR_IN_SIZE, "user.k\0", 7);
	expect_err(call(FUSE_SETXATTR, f, args, FUSE_COMPAT_SETXATTR_IN_SIZE + 7, NULL, 0), -EROFS);
	op.flags = O_WRONLY;
	expect_err(call(FUSE_OPEN, f, &op, sizeof(op), NULL, 0), -EROFS);
	op.flags = O_RDONLY | O_TRUNC;
	expect_err(call(FUSE_OPEN, f, &op, sizeof(op), NULL, 0), -EROFS);
	/* Reading works. */
	op.flags = O_RDONLY;
	ck_assert_int_gt(call(FUSE_OPEN, f, &op, sizeof(op), NULL, 0), 0);
	ck_assert_int_eq(err_of(), 0);
	rd.fh = ((struct fuse_open_out *)payload())->fh;
	r = call(FUSE_READ, f, &rd, sizeof(rd), NULL, 0);
	ck_assert_int_eq(r, sizeof(struct fuse_out_header) + 5);
	/* Nothing changed on the host. */
	ck_assert_int_eq(stat(root, &st), 0);
	ck_assert_int_ne(access(mirror, F_OK), -1);
	{
		char p[600];

		path_of(p, sizeof(p), root, "x");
		ck_assert_int_ne(lstat(p, &st), 0);
		path_of(p, sizeof(p), root, "file");
		ck_assert_int_eq(lstat(p, &st), 0);
		ck_assert_uint_eq(st.st_mode & 07777, 0644);
	}
	ck_assert(!(init_flags & FUSE_WRITEBACK_CACHE));
	down();
}
END_TEST

START_TEST(fs_cache_modes)
{
	struct fuse_options o = { .cache = FUSE_CACHE_NEVER };
	struct fuse_open_in op = { .flags = O_RDONLY };
	struct fuse_entry_out e;
	uint64_t f;

	up_opts(&o);
	both("file", "x");
	f = lookup(FUSE_ROOT_ID, "file", &e);
	ck_assert_uint_eq(e.entry_valid, 0);
	ck_assert_uint_eq(e.attr_valid, 0);
	ck_assert_int_gt(call(FUSE_OPEN, f, &op, sizeof(op), NULL, 0), 0);
	ck_assert(((struct fuse_open_out *)payload())->open_flags & FOPEN_DIRECT_IO);
	ck_assert(!(init_flags & FUSE_WRITEBACK_CACHE));
	down();

	o = (struct fuse_options){ .cache = FUSE_CACHE_ALWAYS, .writeback = true };
	up_opts(&o);
	both("file", "x");
	f = lookup(FUSE_ROOT_ID, "file", &e);
	ck_assert_uint_ge(e.entry_valid, 3600);
	ck_assert_int_gt(call(FUSE_OPEN, f, &op, sizeof(op), NULL, 0), 0);
	ck_assert(((struct fuse_open_out *)payload())->open_flags & FOPEN_KEEP_CACHE);
	ck_assert(!(((struct fuse_open_out *)payload())->open_flags & FOPEN_DIRECT_IO));
	ck_assert(init_flags & FUSE_WRITEBACK_CACHE);
	/* With write-back caching the guest reads write-only files (partial pages) and appends itself. */
	{
		struct fuse_open_in w = { .flags = O_WRONLY | O_APPEND };
		struct fuse_read_in rd = { .size = 10 };
		struct fuse_write_in wr = { .size = 1, .offset = 0 };

		ck_assert_int_gt(call(FUSE_OPEN, f, &w, sizeof(w), NULL, 0), 0);
		ck_assert_int_eq(err_of(), 0);
		rd.fh = wr.fh = ((struct fuse_open_out *)payload())->fh;
		ck_assert_int_eq(call(FUSE_READ, f, &rd, sizeof(rd), NULL, 0), sizeof(struct fuse_out_header) + 1);
		ck_assert_int_gt(call(FUSE_WRITE, f, &wr, sizeof(wr), "y", 1), 0);
		ck_assert_int_eq(err_of(), 0);
		ck_assert_int_eq(call(FUSE_READ, f, &rd, sizeof(rd), NULL, 0), sizeof(struct fuse_out_header) + 1);
		ck_assert_int_eq(*(char *)payload(), 'y'); /* written at offset 0, not appended */
	}
	down();

	/* The default: attributes for a second, page cache dropped at open. */
	o = (struct fuse_options){ 0 };
	up_opts(&o);
	both("file", "x");
	f = lookup(FUSE_ROOT_ID, "file", &e);
	ck_assert_uint_eq(e.entry_valid, 1);
	ck_assert_int_gt(call(FUSE_OPEN, f, &op, sizeof(op), NULL, 0), 0);
	ck_assert_uint_eq(((struct fuse_open_out *)payload())->open_flags & (FOPEN_KEEP_CACHE | FOPEN_DIRECT_IO), 0);
	ck_assert(init_flags & FUSE_AUTO_INVAL_DATA || !(GUEST_FLAGS & FUSE_AUTO_INVAL_DATA));
	down();
}
END_TEST

START_TEST(fs_idmap)
{
	struct fuse_options o = { .uidmap = { .guest = 1000, .host = 4000, .count = 10 },
				  .gidmap = { .guest = 100, .host = 4100, .count = 1 } };
	struct fuse_setattr_in sa = { .valid = FATTR_UID | FATTR_GID, .uid = 1003, .gid = 100 };
	struct fuse_entry_out e;
	char p[600];
	struct stat st;
	uint64_t f;

	up_opts(&o);
	both("file", "x");
	path_of(p, sizeof(p), root, "file");
	if (geteuid() == 0) {
		ck_assert_int_eq(chown(p, 4005, 4100), 0);
		f = lookup(FUSE_ROOT_ID, "file", &e);
		ck_assert_uint_eq(e.attr.uid, 1005);
		ck_assert_uint_eq(e.attr.gid, 100);
		/* chown from the guest maps back */
		ck_assert_int_gt(call(FUSE_SETATTR, f, &sa, sizeof(sa), NULL, 0), 0);
		ck_assert_int_eq(err_of(), 0);
		ck_assert_int_eq(stat(p, &st), 0);
		ck_assert_uint_eq(st.st_uid, 4003);
		ck_assert_uint_eq(st.st_gid, 4100);
		ck_assert_uint_eq(((struct fuse_attr_out *)payload())->attr.uid, 1003);
		/* ids outside the ranges pass unchanged */
		ck_assert_int_eq(chown(p, 77, 78), 0);
		lookup(FUSE_ROOT_ID, "file", &e);
		ck_assert_uint_eq(e.attr.uid, 77);
		ck_assert_uint_eq(e.attr.gid, 78);
	}
	down();
}
END_TEST

/* ---- the inode table ---- */

static unsigned count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;

	ck_assert_ptr_nonnull(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

START_TEST(fs_inode_table_bound)
{
	enum { N = 300, MAX_FDS = 8 };
	struct fuse_options o = { .max_fds = MAX_FDS };
	struct fuse_pt_stats st;
	uint64_t nodes[N];
	unsigned base, refused = 0;
	char name[32];

	up_opts(&o);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "f%03d", i);
		both(name, "x");
	}
	base = count_fds();
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "f%03d", i);
		ck_assert_int_gt(call(FUSE_LOOKUP, FUSE_ROOT_ID, name, strlen(name) + 1, NULL, 0), 0);
		if (err_of()) {
			ck_assert_int_eq(err_of(), -ENFILE);
			refused++;
			nodes[i] = 0;
			continue;
		}
		nodes[i] = ((struct fuse_entry_out *)payload())->nodeid;
		/* the descriptor count stays bounded whatever the guest holds */
		ck_assert_uint_le(count_fds(), base + MAX_FDS + 1);
	}
	fuse_pt_stats(fs, &st);
	ck_assert_uint_le(st.path_fds_high, MAX_FDS + 1);
	if (st.file_handles) {
		/* Every inode stays usable: evicted ones come back from their handle. */
		ck_assert_uint_eq(refused, 0);
		ck_assert_uint_eq(st.inodes, N + 1);
		ck_assert_uint_ge(st.evicted, N - MAX_FDS);
		for (int i = 0; i < N; i++) {
			ck_assert_int_gt(call(FUSE_GETATTR, nodes[i], NULL, 0, NULL, 0), 0);
			ck_assert_int_eq(err_of(), 0);
		}
		fuse_pt_stats(fs, &st);
		ck_assert_uint_ge(st.reopened, N - MAX_FDS);
		ck_assert_uint_le(count_fds(), base + MAX_FDS + 1);
	} else {
		/* Without handles: a clear ENFILE once the descriptors are used up, the rest works. */
		ck_assert_uint_ge(refused, N - MAX_FDS);
		ck_assert_uint_le(st.inodes, MAX_FDS + 1);
	}
	/* Forgetting everything gives every descriptor back. */
	for (int i = 0; i < N; i++)
		if (nodes[i])
			call(FUSE_FORGET, nodes[i], &(struct fuse_forget_in){ .nlookup = 1 }, sizeof(struct fuse_forget_in),
			     NULL, 0);
	fuse_pt_stats(fs, &st);
	ck_assert_uint_eq(st.inodes, 1);
	ck_assert_uint_eq(st.path_fds, 1);
	down();
}
END_TEST

START_TEST(fs_inode_table_limit)
{
	struct fuse_options o = { .max_inodes = 5 };
	char name[32];
	unsigned ok = 0;

	up_opts(&o);
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		both(name, "x");
		ck_assert_int_gt(call(FUSE_LOOKUP, FUSE_ROOT_ID, name, strlen(name) + 1, NULL, 0), 0);
		if (!err_of())
			ok++;
		else
			ck_assert_int_eq(err_of(), -ENFILE);
	}
	ck_assert_uint_eq(ok, 4); /* the root is one of the five */
	ck_assert_uint_eq(fuse_pt_inode_count(fs), 5);
	down();
}
END_TEST

/* A reply that cannot be sent does not count a lookup (or do the operation). */
START_TEST(fs_no_lookup_leak)
{
	struct fuse_mkdir_in mk = { .mode = 0755 };
	struct fuse_open_in o = { .flags = O_RDONLY };
	struct fuse_read_in rd;
	char p[600];
	struct stat st;
	uint64_t fh;

	up();
	both("file", "x");
	ck_assert_int_eq(call_out(FUSE_LOOKUP, FUSE_ROOT_ID, "file", 5, NULL, 0, sizeof(struct fuse_out_header) + 16),
			 sizeof(struct fuse_out_header));
	ck_assert_int_eq(err_of(), -EINVAL);
	ck_assert_uint_eq(fuse_pt_inode_count(fs), 1);
	ck_assert_int_eq(call_out(FUSE_MKDIR, FUSE_ROOT_ID, &mk, sizeof(mk), "d", 2, sizeof(struct fuse_out_header) + 8),
			 sizeof(struct fuse_out_header));
	ck_assert_int_eq(err_of(), -EINVAL);
	path_of(p, sizeof(p), root, "d");
	ck_assert_int_ne(stat(p, &st), 0);
	ck_assert_uint_eq(fuse_pt_inode_count(fs), 1);
	/* READDIRPLUS with room for less than one entry: no entry, no lookup */
	ck_assert_int_gt(call(FUSE_OPENDIR, FUSE_ROOT_ID, &o, sizeof(o), NULL, 0), 0);
	fh = ((struct fuse_open_out *)payload())->fh;
	rd = (struct fuse_read_in){ .fh = fh, .size = 100 };
	ck_assert_int_eq(call(FUSE_READDIRPLUS, FUSE_ROOT_ID, &rd, sizeof(rd), NULL, 0), sizeof(struct fuse_out_header));
	ck_assert_uint_eq(fuse_pt_inode_count(fs), 1);
	down();
}
END_TEST

/*
 * A request that names a node and a handle of another object (only a
 * hostile guest sends that): READDIRPLUS would list one directory and look
 * the names up in another, SETATTR would truncate the other file. EBADF, as
 * for a handle that does not exist; GETATTR answers for the node.
 */
/*
 * With file handles an inode whose descriptor was evicted does not pin its
 * host file: the host deletes it and gives its number to a new file (ext4
 * does at once). A lookup of the new file must be a new inode, not the old
 * one with a handle that no longer opens anything.
 */
START_TEST(fs_inode_number_reused)
{
	struct fuse_options o = { .max_fds = 2 };
	struct fuse_pt_stats st;
	struct fuse_entry_out e;
	struct stat sa, sb;
	uint64_t old, nw;
	char p[600], name[16];

	up_opts(&o);
	fuse_pt_stats(fs, &st);
	if (!st.file_handles) {
		fprintf(stderr, "fs_inode_number_reused: no file handles here (not root?), nothing checked\n");
		down();
		return;
	}
	both("a", "old");
	old = lookup(FUSE_ROOT_ID, "a", NULL);
	ck_assert(old);
	for (int i = 0; i < 4; i++) { /* evict a's descriptor */
		snprintf(name, sizeof(name), "x%d", i);
		both(name, "x");
		ck_assert(lookup(FUSE_ROOT_ID, name, NULL));
	}
	path_of(p, sizeof(p), root, "a");
	ck_assert_int_eq(stat(p, &sa), 0);
	ck_assert_int_eq(unlink(p), 0);
	both("b", "new file");
	path_of(p, sizeof(p), root, "b");
	ck_assert_int_eq(stat(p, &sb), 0);
	if (sa.st_ino != sb.st_ino) {
		fprintf(stderr, "fs_inode_number_reused: the host gave b another number, nothing checked\n");
		down();
		return;
	}
	nw = lookup(FUSE_ROOT_ID, "b", &e);
	ck_assert(nw);
	ck_assert_uint_ne(nw, old);
	ck_assert_uint_eq(e.attr.size, 8);
	fuse_pt_stats(fs, &st);
	ck_assert_uint_eq(st.gone, 1);
	for (int i = 0; i < 4; i++) { /* evict b's descriptor: it must come back from b's own handle */
		snprintf(name, sizeof(name), "x%d", i);
		ck_assert(lookup(FUSE_ROOT_ID, name, NULL));
	}
	ck_assert_int_gt(call(FUSE_GETATTR, nw, NULL, 0, NULL, 0), 0);
	ck_assert_int_eq(err_of(), 0);
	ck_assert_uint_eq(((struct fuse_attr_out *)payload())->attr.size, 8);
	/* The old node: its file is gone. */
	expect_err(call(FUSE_GETATTR, old, NULL, 0, NULL, 0), -ESTALE);
	call(FUSE_FORGET, old, &(struct fuse_forget_in){ .nlookup = 1 }, sizeof(struct fuse_forget_in), NULL, 0);
	fuse_pt_stats(fs, &st);
	ck_assert_uint_eq(st.inodes, 1 + 4 + 1); /* root, x0-x3, b */
	down();
}
END_TEST

START_TEST(fs_handle_of_another_node)
{
	struct fuse_mkdir_in mk = { .mode = 0755 };
	struct fuse_open_in o = { .flags = O_RDONLY }, ow = { .flags = O_RDWR };
	struct fuse_read_in rd;
	struct fuse_setattr_in sa;
	struct fuse_getattr_in ga;
	uint64_t d1, d2, big, small, dfh, ffh;
	char p[600];
	struct stat st;

	up();
	ck_assert_int_gt(call(FUSE_MKDIR, FUSE_ROOT_ID, &mk, sizeof(mk), "d1", 3), 0);
	ck_assert_int_gt(call(FUSE_MKDIR, FUSE_ROOT_ID, &mk, sizeof(mk), "d2", 3), 0);
	path_of(p, sizeof(p), root, "d1/only-in-d1");
	ck_assert_int_eq(mknod(p, S_IFREG | 0644, 0), 0);
	both("big", "0123456789");
	both("small", "x");
	d1 = lookup(FUSE_ROOT_ID, "d1", NULL);
	d2 = lookup(FUSE_ROOT_ID, "d2", NULL);
	big = lookup(FUSE_ROOT_ID, "big", NULL);
	small = lookup(FUSE_ROOT_ID, "small", NULL);
	ck_assert(d1 && d2 && big && small);
	ck_assert_int_gt(call(FUSE_OPENDIR, d1, &o, sizeof(o), NULL, 0), 0);
	dfh = ((struct fuse_open_out *)payload())->fh;
	rd = (struct fuse_read_in){ .fh = dfh, .size = 4096 };
	expect_err(call(FUSE_READDIRPLUS, d2, &rd, sizeof(rd), NULL, 0), -EBADF);
	expect_err(call(FUSE_READDIR, d2, &rd, sizeof(rd), NULL, 0), -EBADF);
	ck_assert_int_gt(call(FUSE_READDIRPLUS, d1, &rd, sizeof(rd), NULL, 0), (long)sizeof(struct fuse_out_header));
	ck_assert_int_gt(call(FUSE_OPEN, big, &ow, sizeof(ow), NULL, 0), 0);
	ck_assert_int_eq(err_of(), 0);
	ffh = ((struct fuse_open_out *)payload())->fh;
	sa = (struct fuse_setattr_in){ .valid = FATTR_SIZE | FATTR_FH, .fh = ffh, .size = 0 };
	expect_err(call(FUSE_SETATTR, small, &sa, sizeof(sa), NULL, 0), -EBADF);
	path_of(p, sizeof(p), root, "big");
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_eq(st.st_size, 10);
	ga = (struct fuse_getattr_in){ .getattr_flags = FUSE_GETATTR_FH, .fh = ffh };
	ck_assert_int_gt(call(FUSE_GETATTR, small, &ga, sizeof(ga), NULL, 0), 0);
	ck_assert_int_eq(err_of(), 0);
	ck_assert_uint_eq(((struct fuse_attr_out *)payload())->attr.size, 1);
	/* The matching pairs work. */
	ck_assert_int_gt(call(FUSE_SETATTR, big, &sa, sizeof(sa), NULL, 0), 0);
	ck_assert_int_eq(err_of(), 0);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	down();
}
END_TEST

/* ---- credentials (root only: the monitor in CI) ---- */

static void entry_owner(uint64_t parent, const char *name, uid_t *u, gid_t *g, mode_t *m)
{
	char p[600];
	struct stat st;

	(void)parent;
	path_of(p, sizeof(p), root, name);
	ck_assert_int_eq(lstat(p, &st), 0);
	*u = st.st_uid;
	*g = st.st_gid;
	*m = st.st_mode;
}

START_TEST(fs_credentials)
{
	struct fuse_mkdir_in mk = { .mode = 0775 };
	struct fuse_create_in c = { .flags = O_RDWR, .mode = S_IFREG | 0664 };
	struct fuse_mknod_in mn = { .mode = S_IFIFO | 0640 };
	struct fuse_pt_stats st;
	uid_t u;
	gid_t g;
	mode_t m;

	ROOT_ONLY();
	umask(022); /* the monitor's own umask must not apply on top of the guest's */
	up();
	fuse_pt_stats(fs, &st);
	ck_assert(st.creds);
	ck_assert_int_eq(chmod(root, 0777), 0);
	req_uid = 1000;
	req_gid = 1001;
	ck_assert_int_gt(call(FUSE_MKDIR, FUSE_ROOT_ID, &mk, sizeof(mk), "d", 2), 0);
	ck_assert_int_eq(err_of(), 0);
	ck_assert_uint_eq(((struct fuse_entry_out *)payload())->attr.uid, 1000);
	entry_owner(FUSE_ROOT_ID, "d", &u, &g, &m);
	ck_assert_uint_eq(u, 1000);
	ck_assert_uint_eq(g, 1001);
	ck_assert_uint_eq(m & 07777, 0775);
	ck_assert_int_gt(call(FUSE_CREATE, FUSE_ROOT_ID, &c, sizeof(c), "f", 2), 0);
	ck_assert_int_eq(err_of(), 0);
	entry_owner(FUSE_ROOT_ID, "f", &u, &g, &m);
	ck_assert_uint_eq(u, 1000);
	ck_assert_uint_eq(g, 1001);
	ck_assert_uint_eq(m & 07777, 0664);
	ck_assert_int_gt(call(FUSE_MKNOD, FUSE_ROOT_ID, &mn, sizeof(mn), "p", 2), 0);
	ck_assert_int_eq(err_of(), 0);
	entry_owner(FUSE_ROOT_ID, "p", &u, &g, &m);
	ck_assert_uint_eq(u, 1000);
	ck_assert_int_gt(call(FUSE_SYMLINK, FUSE_ROOT_ID, "s\0t", 4, NULL, 0), 0);
	ck_assert_int_eq(err_of(), 0);
	entry_owner(FUSE_ROOT_ID, "s", &u, &g, &m);
	ck_assert_uint_eq(u, 1000);
	ck_assert_uint_eq(g, 1001);
	/* The host checks the caller's permission too: a directory it may not write to. */
	ck_assert_int_eq(chmod(root, 0755), 0);
	expect_err(call(FUSE_MKDIR, FUSE_ROOT_ID, &mk, sizeof(mk), "e", 2), -EACCES);
	/* ... and root is root again for the next request. */
	req_uid = req_gid = 0;
	ck_assert_int_gt(call(FUSE_MKDIR, FUSE_ROOT_ID, &mk, sizeof(mk), "r", 2), 0);
	ck_assert_int_eq(err_of(), 0);
	entry_owner(FUSE_ROOT_ID, "r", &u, &g, &m);
	ck_assert_uint_eq(u, 0);
	down();
}
END_TEST

START_TEST(fs_setgid_directory)
{
	struct fuse_mkdir_in mk = { .mode = 0775 };
	struct fuse_create_in c = { .flags = O_RDWR, .mode = S_IFREG | 0664 };
	char p[600];
	struct stat st;
	uint64_t d;

	ROOT_ONLY();
	up();
	d = owned_dir("sg", 0, 2345, 02777);
	req_uid = 1000;
	req_gid = 1000;
	ck_assert_int_gt(call(FUSE_CREATE, d, &c, sizeof(c), "f", 2), 0);
	ck_assert_int_eq(err_of(), 0);
	ck_assert_int_gt(call(FUSE_MKDIR, d, &mk, sizeof(mk), "sub", 4), 0);
	ck_assert_int_eq(err_of(), 0);
	path_of(p, sizeof(p), root, "sg/f");
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_uint_eq(st.st_uid, 1000);
	ck_assert_uint_eq(st.st_gid, 2345);
	path_of(p, sizeof(p), root, "sg/sub");
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_uint_eq(st.st_gid, 2345);
	ck_assert(st.st_mode & S_ISGID);
	down();
}
END_TEST

/*
 * CREATE_SUPP_GROUP: a guest user who may write a directory only through a
 * supplementary group (a 0770 root:3000 build tree) creates in it; the
 * group is on the serving thread for that request only.
 */
START_TEST(fs_supplementary_group)
{
	struct fuse_mkdir_in mk = { .mode = 0755 };
	struct fuse_create_in c = { .flags = O_RDWR, .mode = S_IFREG | 0644 };
	struct fuse_mknod_in mn = { .mode = S_IFIFO | 0644 };
	uint32_t grp[4] = { 16, FUSE_EXT_GROUPS, 1, 3000 }, other[4] = { 16, FUSE_EXT_GROUPS, 1, 4000 };
	char p[600];
	struct stat st;
	uint64_t d;

	ROOT_ONLY();
	up();
	d = owned_dir("grp", 0, 3000, 0770);
	ck_assert(init_flags & FUSE_CREATE_SUPP_GROUP);
	req_uid = req_gid = 1000;
	/* Without the group: the host refuses, as for a user not in it. */
	expect_err(call(FUSE_CREATE, d, &c, sizeof(c), "f", 2), -EACCES);
	/* A group that is not the directory's does not help either. */
	req_ext = other;
	req_extlen = sizeof(other);
	expect_err(call(FUSE_CREATE, d, &c, sizeof(c), "f", 2), -EACCES);
	req_ext = grp;
	ck_assert_int_gt(call(FUSE_CREATE, d, &c, sizeof(c), "f", 2), 0);
	ck_assert_int_eq(err_of(), 0);
	ck_assert_int_gt(call(FUSE_MKDIR, d, &mk, sizeof(mk), "sub", 4), 0);
	ck_assert_int_eq(err_of(), 0);
	ck_assert_int_gt(call(FUSE_MKNOD, d, &mn, sizeof(mn), "fifo", 5), 0);
	ck_assert_int_eq(err_of(), 0);
	ck_assert_int_gt(call(FUSE_SYMLINK, d, "sym\0sub", 8, NULL, 0), 0);
	ck_assert_int_eq(err_of(), 0);
	path_of(p, sizeof(p), root, "grp/f");
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_uint_eq(st.st_uid, 1000);
	ck_assert_uint_eq(st.st_gid, 1000); /* not a set-group-ID directory: the creator's group */
	path_of(p, sizeof(p), root, "grp/sub");
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_uint_eq(st.st_uid, 1000);
	/* The group does not stay on the thread for the next request. */
	req_ext = NULL;
	expect_err(call(FUSE_CREATE, d, &c, sizeof(c), "g", 2), -EACCES);
	/* Nor is it taken from a guest that did not agree to CREATE_SUPP_GROUP. */
	req_ext = NULL;
	init_session(GUEST_FLAGS & ~FUSE_CREATE_SUPP_GROUP);
	ck_assert(!(init_flags & FUSE_CREATE_SUPP_GROUP));
	req_ext = grp;
	expect_err(call(FUSE_CREATE, d, &c, sizeof(c), "g", 2), -EACCES);
	req_ext = NULL;
	down();
}
END_TEST

/*
 * One step of fs_killpriv: the file at `path` gets mode `before` on the
 * host, the guest user `uid` sends op (args a, then b), and the host file
 * has mode `after`.
 */
static void kill_step(const char *path, mode_t before, uint32_t uid, uint32_t op, uint64_t node, const void *a,
		      size_t alen, const void *b, size_t blen, mode_t after)
{
	struct stat st;

	ck_assert_int_eq(chmod(path, before), 0);
	req_uid = req_gid = uid;
	ck_assert_int_gt(call(op, node, a, alen, b, blen), 0);
	ck_assert_int_eq(err_of(), 0);
	req_uid = req_gid = 0;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_msg((st.st_mode & 07777) == after, "op %u by %u: mode %o, expected %o", op, uid,
		      st.st_mode & 07777, after);
}

/*
 * HANDLE_KILLPRIV_V2: set-user/group-ID bits go on write, truncate and
 * chown when the guest asks; on fallocate and copy_file_range (for which
 * the guest sends nothing) the server decides as a local file system
 * would: root keeps them, another user's call drops them. Whatever the
 * thread's previous request left (CAP_FSETID out of its effective set).
 */
START_TEST(fs_killpriv)
{
	struct fuse_create_in c = { .flags = O_RDWR, .mode = S_IFREG | 0755 };
	struct fuse_write_in w = { .size = 1 }, wk = { .size = 1, .write_flags = FUSE_WRITE_KILL_SUIDGID };
	struct fuse_setattr_in trunc = { .valid = FATTR_SIZE | FATTR_KILL_SUIDGID, .size = 0 };
	struct fuse_setattr_in own = { .valid = FATTR_UID | FATTR_KILL_SUIDGID, .uid = 1000 };
	struct fuse_fallocate_in fa = { .offset = 0, .length = 4096 };
	struct fuse_copy_file_range_in cr = { .off_in = 0, .off_out = 8192, .len = 16 };
	struct {
		struct fuse_entry_out e;
		struct fuse_open_out o;
	} out;
	char p[600];
	uint64_t n;

	ROOT_ONLY();
	up();
	ck_assert(init_flags & FUSE_HANDLE_KILLPRIV_V2);
	call(FUSE_CREATE, FUSE_ROOT_ID, &c, sizeof(c), "suid", 5);
	ck_assert_int_eq(err_of(), 0);
	memcpy(&out, payload(), sizeof(out));
	n = out.e.nodeid;
	w.fh = wk.fh = fa.fh = cr.fh_in = cr.fh_out = out.o.fh;
	cr.nodeid_out = n;
	path_of(p, sizeof(p), root, "suid");
	ck_assert_int_eq(chown(p, 1000, 1000), 0);
	/* write: root without the kill flag keeps both, an unprivileged process's write drops both */
	kill_step(p, 06755, 0, FUSE_WRITE, n, &w, sizeof(w), "a", 1, 06755);
	kill_step(p, 06755, 1000, FUSE_WRITE, n, &wk, sizeof(wk), "b", 1, 0755);
	/* truncate and chown with the kill flag */
	kill_step(p, 04755, 1000, FUSE_SETATTR, n, &trunc, sizeof(trunc), NULL, 0, 0755);
	kill_step(p, 04755, 1000, FUSE_SETATTR, n, &own, sizeof(own), NULL, 0, 0755);
	/* fallocate and copy_file_range by root, each right after a killing write */
	kill_step(p, 04755, 1000, FUSE_WRITE, n, &wk, sizeof(wk), "d", 1, 0755);
	kill_step(p, 04755, 0, FUSE_FALLOCATE, n, &fa, sizeof(fa), NULL, 0, 04755);
	kill_step(p, 04755, 1000, FUSE_WRITE, n, &wk, sizeof(wk), "e", 1, 0755);
	kill_step(p, 04755, 0, FUSE_COPY_FILE_RANGE, n, &cr, sizeof(cr), NULL, 0, 04755);
	/* ... and by another guest user, right after a root request */
	fa.length = 16384;
	kill_step(p, 04755, 1000, FUSE_FALLOCATE, n, &fa, sizeof(fa), NULL, 0, 0755);
	cr.off_out = 100;
	kill_step(p, 04755, 1000, FUSE_COPY_FILE_RANGE, n, &cr, sizeof(cr), NULL, 0, 0755);
	/* A root write after them keeps the bits again (the thread got CAP_FSETID back). */
	kill_step(p, 04755, 0, FUSE_WRITE, n, &w, sizeof(w), "c", 1, 04755);
	down();
}
END_TEST

/* Inode numbers across a host mount inside the share (root: a private mount namespace in the test's child). */
START_TEST(fs_submount_inodes)
{
	struct fuse_entry_out e, e2;
	char p[600];
	struct stat st;
	uint64_t m;
	const char *fork_mode = getenv("CK_FORK");

	if (geteuid() != 0 || (fork_mode && !strcmp(fork_mode, "no"))) {
		fprintf(stderr, "fs_submount_inodes: needs root and a forked test (a private mount namespace), "
				"nothing checked\n");
		return;
	}
	ck_assert_int_eq(unshare(CLONE_NEWNS), 0);
	ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	up();
	both("plain/", "");
	both("onroot", "x");
	path_of(p, sizeof(p), root, "mnt");
	ck_assert_int_eq(mkdir(p, 0755), 0);
	ck_assert_int_eq(mount("tmpfs", p, "tmpfs", 0, "size=1m"), 0);
	path_of(p, sizeof(p), root, "mnt/f");
	close(open(p, O_CREAT | O_WRONLY, 0644));
	ck_assert_int_eq(stat(p, &st), 0);
	/* With FUSE_SUBMOUNTS: the mount point is announced, numbers are the host's. */
	ck_assert(init_flags & FUSE_SUBMOUNTS);
	m = lookup(FUSE_ROOT_ID, "mnt", &e);
	ck_assert(e.attr.flags & FUSE_ATTR_SUBMOUNT);
	lookup(FUSE_ROOT_ID, "plain", &e2);
	ck_assert(!(e2.attr.flags & FUSE_ATTR_SUBMOUNT));
	lookup(m, "f", &e2);
	ck_assert_uint_eq(e2.attr.ino, st.st_ino);
	ck_assert(!(e2.attr.flags & FUSE_ATTR_SUBMOUNT));
	/* Without: the device is folded into the top bits, the share's own device stays as is. */
	init_session(GUEST_FLAGS & ~FUSE_SUBMOUNTS);
	ck_assert(!(init_flags & FUSE_SUBMOUNTS));
	m = lookup(FUSE_ROOT_ID, "mnt", &e);
	ck_assert(!(e.attr.flags & FUSE_ATTR_SUBMOUNT));
	lookup(m, "f", &e2);
	ck_assert_uint_ne(e2.attr.ino, st.st_ino);
	ck_assert_uint_eq(e2.attr.ino & ((1ULL << 48) - 1), st.st_ino);
	ck_assert_uint_ne(e2.attr.ino >> 48, 0);
	path_of(p, sizeof(p), root, "onroot");
	ck_assert_int_eq(stat(p, &st), 0);
	lookup(FUSE_ROOT_ID, "onroot", &e2);
	ck_assert_uint_eq(e2.attr.ino, st.st_ino);
	/* Hard links stay one number. */
	{
		struct fuse_link_in ln = { .oldnodeid = e2.nodeid };

		ck_assert_int_gt(call(FUSE_LINK, FUSE_ROOT_ID, &ln, sizeof(ln), "hard", 5), 0);
		ck_assert_int_eq(err_of(), 0);
		ck_assert_uint_eq(((struct fuse_entry_out *)payload())->attr.ino, st.st_ino);
		ck_assert_uint_eq(((struct fuse_entry_out *)payload())->nodeid, e2.nodeid);
	}
	fuse_pt_destroy(fs);
	fs = NULL;
	path_of(p, sizeof(p), root, "mnt");
	ck_assert_int_eq(umount(p), 0);
	rm_rf(top);
}
END_TEST

/* ---- the wire layer ---- */

START_TEST(fs_wire_table)
{
	ck_assert_str_eq(fuse_opcode_name(FUSE_LOOKUP), "LOOKUP");
	ck_assert_str_eq(fuse_opcode_name(FUSE_COPY_FILE_RANGE), "COPY_FILE_RANGE");
	ck_assert_ptr_null(fuse_opcode_name(FUSE_GETLK));
	ck_assert_ptr_null(fuse_opcode_name(FUSE_IOCTL));
	ck_assert_ptr_null(fuse_opcode_name(9999));
	up();
	/* Extensions longer than the request: EINVAL. */
	{
		uint8_t req[64];
		struct fuse_in_header h = { .len = sizeof(h) + 8, .opcode = FUSE_GETATTR, .unique = 9,
					    .nodeid = FUSE_ROOT_ID, .total_extlen = 2 };
		struct iovec in = { req, sizeof(h) + 8 }, out = { rbuf, 256 };

		memcpy(req, &h, sizeof(h));
		memset(req + sizeof(h), 0, 8);
		ck_assert_int_eq(fuse_pt_handle(fs, &in, 1, &out, 1), sizeof(struct fuse_out_header));
		ck_assert_int_eq(err_of(), -EINVAL);
		/* within the request but not a chain of extensions (a header of size 0): EINVAL */
		h.total_extlen = 1;
		memcpy(req, &h, sizeof(h));
		ck_assert_int_eq(fuse_pt_handle(fs, &in, 1, &out, 1), sizeof(struct fuse_out_header));
		ck_assert_int_eq(err_of(), -EINVAL);
		/* an extension of a type we do not know: cut off and skipped */
		memcpy(req + sizeof(h), &(struct fuse_ext_header){ .size = 8, .type = 7 }, 8);
		ck_assert_int_gt(fuse_pt_handle(fs, &in, 1, &out, 1), (long)sizeof(struct fuse_out_header));
		ck_assert_int_eq(err_of(), 0);
	}
	/* FUSE_EXT_GROUPS that does not add up: EINVAL; one that does, on GETATTR: ignored. */
	{
		uint32_t x[4][4] = {
			{ 16, FUSE_EXT_GROUPS, 0, 3000 },  /* no group */
			{ 16, FUSE_EXT_GROUPS, 2, 3000 },  /* two groups in room for one */
			{ 8, FUSE_EXT_GROUPS, 0, 0 },      /* no body (and 8 bytes of another header) */
			{ 24, FUSE_EXT_GROUPS, 1, 3000 },  /* longer than what follows */
		};
		uint32_t good[4] = { 16, FUSE_EXT_GROUPS, 1, 3000 };

		req_extlen = 16;
		for (int i = 0; i < 4; i++) {
			req_ext = x[i];
			expect_err(call(FUSE_GETATTR, FUSE_ROOT_ID, NULL, 0, NULL, 0), -EINVAL);
		}
		req_ext = good;
		ck_assert_int_gt(call(FUSE_GETATTR, FUSE_ROOT_ID, NULL, 0, NULL, 0), (long)sizeof(struct fuse_out_header));
		ck_assert_int_eq(err_of(), 0);
		req_ext = NULL;
	}
	/* INIT: flags 32-63 in flags2 when the guest says FUSE_INIT_EXT (CREATE_SUPP_GROUP is one). */
	{
		struct fuse_init_in ii = { .major = 7, .minor = 41, .flags = FUSE_INIT_EXT | FUSE_ASYNC_READ,
					   .flags2 = (uint32_t)(FUSE_CREATE_SUPP_GROUP >> 32) };
		const struct fuse_init_out *o = payload();

		ck_assert_int_gt(call(FUSE_INIT, 0, &ii, sizeof(ii), NULL, 0), 0);
		ck_assert_int_eq(err_of(), 0);
		ck_assert(o->flags & FUSE_INIT_EXT);
		ck_assert(o->flags & FUSE_ASYNC_READ);
		ck_assert_uint_eq(o->flags2, (uint32_t)(FUSE_CREATE_SUPP_GROUP >> 32));
		ii.flags = FUSE_ASYNC_READ; /* flags2 means nothing without INIT_EXT */
		ck_assert_int_gt(call(FUSE_INIT, 0, &ii, sizeof(ii), NULL, 0), 0);
		ck_assert(!(o->flags & FUSE_INIT_EXT));
		ck_assert_uint_eq(o->flags2, 0);
	}
	/* A second INIT starts the session over. */
	init_session(FUSE_ASYNC_READ);
	ck_assert(!(init_flags & FUSE_HANDLE_KILLPRIV_V2));
	/* Too old a protocol. */
	{
		struct fuse_init_in ii = { .major = 7, .minor = 11 };

		expect_err(call(FUSE_INIT, 0, &ii, sizeof(ii), NULL, 0), -EPROTO);
	}
	down();
}
END_TEST

Suite *fuse_fs_suite(void)
{
	Suite *s = suite_create("fuse_fs");
	TCase *t = tcase_create("passthrough");

	tcase_set_timeout(t, 60);
	tcase_add_test(t, fs_name_lengths);
	tcase_add_test(t, fs_errno_fidelity);
	tcase_add_test(t, fs_errno_file_ops);
	tcase_add_test(t, fs_symlinks_fifos_sockets);
	tcase_add_test(t, fs_xattr_off);
	tcase_add_test(t, fs_readonly);
	tcase_add_test(t, fs_cache_modes);
	tcase_add_test(t, fs_idmap);
	tcase_add_test(t, fs_inode_table_bound);
	tcase_add_test(t, fs_inode_table_limit);
	tcase_add_test(t, fs_no_lookup_leak);
	tcase_add_test(t, fs_handle_of_another_node);
	tcase_add_test(t, fs_inode_number_reused);
	tcase_add_test(t, fs_devnodes);
	tcase_add_test(t, fs_credentials);
	tcase_add_test(t, fs_setgid_directory);
	tcase_add_test(t, fs_supplementary_group);
	tcase_add_test(t, fs_killpriv);
	tcase_add_test(t, fs_submount_inodes);
	tcase_add_test(t, fs_wire_table);
	suite_add_tcase(s, t);
	return s;
}
