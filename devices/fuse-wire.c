/* SPDX-License-Identifier: MIT */
/* The FUSE wire layer (fuse-wire.h): the opcode table, argument decoding, reply encoding. */
#include "devices/fuse-wire.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fuse.h>
#include <linux/limits.h>
#include <string.h>

#define NAME_CAP (NAME_MAX + 2)   /* a name plus NUL, and one byte to tell "too long" */
#define XNAME_CAP (XATTR_NAME_MAX + 2)
#define ATTR_FLAGS (FUSE_ASYNC_READ | FUSE_BIG_WRITES | FUSE_MAX_PAGES | FUSE_ATOMIC_O_TRUNC | \
		    FUSE_EXPORT_SUPPORT | FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO | FUSE_PARALLEL_DIROPS)

/* Per-thread room for what a request carries besides its fixed struct (no allocation per request). */
struct wire_bufs {
	char name[NAME_CAP], name2[NAME_CAP];
	char target[PATH_MAX + 1];
	uint8_t value[XATTR_SIZE_MAX];
};
static __thread struct wire_bufs tb;

struct fuse_req {
	struct fuse_server *srv;
	struct fuse_in_header h;
	struct fuse_ctx ctx;
	struct iov_cursor args;       /* the arguments after the header (extensions cut off) */
	const struct iovec *out;
	unsigned nout;
	size_t room;                  /* payload bytes the writable part holds after the out header */
	struct fuse_node *node;       /* h.nodeid, when the table says it needs one */
	mode_t type;                  /* its S_IFMT */
};

struct fuse_dir_sink {
	struct iov_cursor c;          /* where the next entry goes */
	size_t room, used;
	bool plus;
};

/* ---- replies ---- */

static long reply(struct fuse_req *r, int error, const void *payload, size_t len)
{
	struct fuse_out_header oh = { .len = (uint32_t)(sizeof(oh) + (error ? 0 : len)), .error = error,
				      .unique = r->h.unique };
	struct iov_cursor c;

	if (!error && len > r->room)
		return reply(r, -EINVAL, NULL, 0);
	iov_cursor_init(&c, r->out, r->nout);
	if (!iov_write_obj(&c, &oh))
		return -EBADMSG;
	if (!error && len && !iov_write(&c, payload, len))
		return -EBADMSG;
	return (long)oh.len;
}

static long reply_err(struct fuse_req *r, int neg_errno) { return reply(r, neg_errno, NULL, 0); }

/* The header of a reply whose `len` payload bytes are already in place. */
static long reply_hdr(struct fuse_req *r, size_t len)
{
	struct fuse_out_header oh = { .len = (uint32_t)(sizeof(oh) + len), .unique = r->h.unique };
	struct iov_cursor c;

	iov_cursor_init(&c, r->out, r->nout);
	if (!iov_write_obj(&c, &oh))
		return -EBADMSG;
	return (long)oh.len;
}

/* A cursor over the reply payload (after the out header), limited to `len`. */
static bool payload_cursor(struct fuse_req *r, size_t len, struct iov_cursor *c)
{
	struct iov_cursor rest;

	iov_cursor_init(c, r->out, r->nout);
	if (!iov_skip(c, sizeof(struct fuse_out_header)))
		return false;
	return iov_cursor_left(c) <= len || iov_split(c, len, &rest);
}

/* ---- argument decoding ---- */

/*
 * The next NUL-terminated string of the arguments into buf (cap bytes):
 * 0, or -EINVAL (no NUL before the arguments end) or `toolong` (no NUL in
 * the first cap - 1 bytes).
 */
static int read_str(struct fuse_req *r, char *buf, size_t cap, int toolong)
{
	struct iov_cursor peek = r->args;
	size_t n = iov_cursor_left(&r->args);
	const char *nul;

	if (n > cap)
		n = cap;
	if (!iov_read(&peek, buf, n))
		return -EINVAL;
	nul = memchr(buf, '\0', n);
	if (!nul)
		return n == cap ? toolong : -EINVAL;
	if ((size_t)(nul - buf) >= cap - 1)
		return toolong;
	return iov_skip(&r->args, (size_t)(nul - buf) + 1) ? 0 : -EINVAL;
}

/* A path component: 1..NAME_MAX bytes, no '/'. */
static int read_name(struct fuse_req *r, char *buf)
{
	int err = read_str(r, buf, NAME_CAP, -ENAMETOOLONG);

	if (err)
		return err;
	if (!buf[0] || strchr(buf, '/'))
		return -EINVAL;
	return 0;
}

/* An extended attribute name: 1..XATTR_NAME_MAX bytes (else ERANGE, as setxattr(2)). */
static int read_xname(struct fuse_req *r, char *buf)
{
	int err = read_str(r, buf, XNAME_CAP, -ERANGE);

	if (!err && !buf[0])
		err = -ERANGE;
	return err;
}

/* The fixed argument struct (the table checked its size). */
#define ARG(r, p) iov_read_obj(&(r)->args, (p))

static long entry_reply(struct fuse_req *r, int err, const struct fuse_entry_out *e)
{
	return err ? reply_err(r, err) : reply(r, 0, e, sizeof(*e));
}

/* Another node the request names (RENAME's newdir, LINK's old node): held until put. */
static struct fuse_node *get_other(struct fuse_req *r, uint64_t nodeid, bool dir, int *err)
{
	mode_t type;
	struct fuse_node *n = r->srv->ops->get(r->srv->fs, nodeid, &type);

	*err = 0;
	if (!n)
		*err = -ENOENT;
	else if (dir && type != S_IFDIR)
		*err = -ENOTDIR;
	if (*err && n) {
		r->srv->ops->put(r->srv->fs, n);
		n = NULL;
	}
	return n;
}

/* ---- handlers, in opcode order ---- */

#define OPS(r) ((r)->srv->ops)
#define FS(r) ((r)->srv->fs)

static long op_lookup(struct fuse_req *r)
{
	struct fuse_entry_out e;
	int err = read_name(r, tb.name);

	if (err)
		return reply_err(r, err);
	memset(&e, 0, sizeof(e));
	return entry_reply(r, OPS(r)->lookup(FS(r), &r->ctx, r->node, tb.name, &e), &e);
}

static long op_forget(struct fuse_req *r)
{
	struct fuse_forget_in f;

	if (ARG(r, &f))
		OPS(r)->forget(FS(r), r->h.nodeid, f.nlookup);
	return 0;
}

static long op_getattr(struct fuse_req *r)
{
	struct fuse_getattr_in g = { 0 };
	struct fuse_attr_out o;
	int err;

	/* Guests before 7.9 send no argument. */
	if (iov_cursor_left(&r->args) >= sizeof(g) && !ARG(r, &g))
		return reply_err(r, -EINVAL);
	memset(&o, 0, sizeof(o));
	err = OPS(r)->getattr(FS(r), &r->ctx, r->node, (g.getattr_flags & FUSE_GETATTR_FH) ? &g.fh : NULL, &o);
	return err ? reply_err(r, err) : reply(r, 0, &o, sizeof(o));
}

static long op_setattr(struct fuse_req *r)
{
	struct fuse_setattr_in s;
	struct fuse_attr_out o;
	int err;

	if (!ARG(r, &s))
		return reply_err(r, -EINVAL);
	memset(&o, 0, sizeof(o));
	err = OPS(r)->setattr(FS(r), &r->ctx, r->node, &s, &o);
	return err ? reply_err(r, err) : reply(r, 0, &o, sizeof(o));
}

static long op_readlink(struct fuse_req *r)
{
	long n = OPS(r)->readlink(FS(r), &r->ctx, r->node, tb.target, sizeof(tb.target));

	return n < 0 ? reply_err(r, (int)n) : reply(r, 0, tb.target, (size_t)n);
}

static long op_symlink(struct fuse_req *r)
{
	struct fuse_entry_out e;
	int err = read_name(r, tb.name);

	if (!err)
		err = read_str(r, tb.target, sizeof(tb.target), -ENAMETOOLONG);
	if (!err && !tb.target[0])
		err = -ENOENT; /* symlink(2) with an empty target */
	if (err)
		return reply_err(r, err);
	memset(&e, 0, sizeof(e));
	return entry_reply(r, OPS(r)->symlink(FS(r), &r->ctx, r->node, tb.name, tb.target, &e), &e);
}

static long op_mknod(struct fuse_req *r)
{
	struct fuse_mknod_in m;
	struct fuse_entry_out e;
	int err = ARG(r, &m) ? read_name(r, tb.name) : -EINVAL;

	if (err)
		return reply_err(r, err);
	memset(&e, 0, sizeof(e));
	return entry_reply(r, OPS(r)->mknod(FS(r), &r->ctx, r->node, tb.name, m.mode, m.rdev, m.umask, &e), &e);
}

static long op_mkdir(struct fuse_req *r)
{
	struct fuse_mkdir_in m;
	struct fuse_entry_out e;
	int err = ARG(r, &m) ? read_name(r, tb.name) : -EINVAL;

	if (err)
		return reply_err(r, err);
	memset(&e, 0, sizeof(e));
	return entry_reply(r, OPS(r)->mkdir(FS(r), &r->ctx, r->node, tb.name, m.mode, m.umask, &e), &e);
}

static long op_unlink(struct fuse_req *r)
{
	int err = read_name(r, tb.name);

	if (!err)
		err = r->h.opcode == FUSE_RMDIR ? OPS(r)->rmdir(FS(r), &r->ctx, r->node, tb.name)
						: OPS(r)->unlink(FS(r), &r->ctx, r->node, tb.name);
	return reply_err(r, err);
}

static long op_rename(struct fuse_req *r)
{
	struct fuse_rename2_in rn = { 0 };
	struct fuse_node *newdir;
	int err;

	if (r->h.opcode == FUSE_RENAME) {
		struct fuse_rename_in old;

		if (!ARG(r, &old))
			return reply_err(r, -EINVAL);
		rn.newdir = old.newdir;
	} else if (!ARG(r, &rn)) {
		return reply_err(r, -EINVAL);
	}
	err = read_name(r, tb.name);
	if (!err)
		err = read_name(r, tb.name2);
	if (err)
		return reply_err(r, err);
	newdir = get_other(r, rn.newdir, true, &err);
	if (!newdir)
		return reply_err(r, err);
	err = OPS(r)->rename(FS(r), &r->ctx, r->node, tb.name, newdir, tb.name2, rn.flags);
	OPS(r)->put(FS(r), newdir);
	return reply_err(r, err);
}

static long op_link(struct fuse_req *r)
{
	struct fuse_link_in l;
	struct fuse_entry_out e;
	struct fuse_node *old;
	int err = ARG(r, &l) ? read_name(r, tb.name) : -EINVAL;

	if (err)
		return reply_err(r, err);
	old = get_other(r, l.oldnodeid, false, &err);
	if (!old)
		return reply_err(r, err);
	memset(&e, 0, sizeof(e));
	err = OPS(r)->link(FS(r), &r->ctx, old, r->node, tb.name, &e);
	OPS(r)->put(FS(r), old);
	return entry_reply(r, err, &e);
}

/* Would open(2) flags f change the file? */
static bool writes(uint32_t f)
{
	return (f & O_ACCMODE) != O_RDONLY || (f & O_TRUNC);
}

static long op_open(struct fuse_req *r)
{
	struct fuse_open_in o;
	struct fuse_open_out oo = { 0 };
	int err;

	if (!ARG(r, &o))
		return reply_err(r, -EINVAL);
	if (r->h.opcode == FUSE_OPENDIR) {
		err = OPS(r)->opendir(FS(r), &r->ctx, r->node, o.flags, &oo);
	} else {
		if (r->srv->opt.ro && writes(o.flags))
			return reply_err(r, -EROFS);
		err = OPS(r)->open(FS(r), &r->ctx, r->node, o.flags, o.open_flags, &oo);
	}
	return err ? reply_err(r, err) : reply(r, 0, &oo, sizeof(oo));
}

static long op_read(struct fuse_req *r)
{
	static __thread struct iovec sub[FUSE_WIRE_MAX_PAGES + 2];
	struct fuse_read_in rd;
	struct iov_cursor c;
	size_t size;
	long n;
	int k;

	if (!ARG(r, &rd))
		return reply_err(r, -EINVAL);
	size = rd.size < r->room ? rd.size : r->room;
	if (size > FUSE_WIRE_MAX_WRITE)
		size = FUSE_WIRE_MAX_WRITE;
	/* Straight into the guest's buffers (they are in the device's view). */
	if (!payload_cursor(r, size, &c))
		return reply_err(r, -EINVAL);
	k = iov_take(&c, size, sub, ARRAY_SIZE(sub));
	if (k < 0)
		return reply_err(r, -EINVAL);
	n = OPS(r)->read(FS(r), rd.fh, rd.offset, sub, (unsigned)k);
	return n < 0 ? reply_err(r, (int)n) : reply_hdr(r, (size_t)n);
}

static long op_write(struct fuse_req *r)
{
	static __thread struct iovec sub[FUSE_WIRE_MAX_PAGES + 2];
	struct fuse_write_in w;
	struct fuse_write_out wo = { 0 };
	long n;
	int k;

	if (!ARG(r, &w))
		return reply_err(r, -EINVAL);
	/* The data must be there, inside what the request declared. */
	if (w.size > FUSE_WIRE_MAX_WRITE || w.size > iov_cursor_left(&r->args))
		return reply_err(r, -EINVAL);
	k = iov_take(&r->args, w.size, sub, ARRAY_SIZE(sub));
	if (k < 0)
		return reply_err(r, -EINVAL);
	n = OPS(r)->write(FS(r), &r->ctx, w.fh, w.offset, sub, (unsigned)k, w.write_flags);
	if (n < 0)
		return reply_err(r, (int)n);
	wo.size = (uint32_t)n;
	return reply(r, 0, &wo, sizeof(wo));
}

static long op_statfs(struct fuse_req *r)
{
	struct fuse_statfs_out o;
	int err;

	memset(&o, 0, sizeof(o));
	err = OPS(r)->statfs(FS(r), r->node, &o.st);
	return err ? reply_err(r, err) : reply(r, 0, &o, sizeof(o));
}

static long op_release(struct fuse_req *r)
{
	struct fuse_release_in rl;

	if (!ARG(r, &rl))
		return reply_err(r, -EINVAL);
	return reply_err(r, OPS(r)->release(FS(r), rl.fh, r->h.opcode == FUSE_RELEASEDIR));
}

static long op_fsync(struct fuse_req *r)
{
	struct fuse_fsync_in f;

	if (!ARG(r, &f))
		return reply_err(r, -EINVAL);
	return reply_err(r, OPS(r)->fsync(FS(r), f.fh, r->h.opcode == FUSE_FSYNCDIR,
					  (f.fsync_flags & FUSE_FSYNC_FDATASYNC) != 0));
}

static long op_getxattr(struct fuse_req *r)
{
	struct fuse_getxattr_in g;
	size_t size;
	long n;
	int err = ARG(r, &g) ? 0 : -EINVAL;

	if (!err && r->h.opcode == FUSE_GETXATTR)
		err = read_xname(r, tb.name);
	if (err)
		return reply_err(r, err);
	size = g.size < sizeof(tb.value) ? g.size : sizeof(tb.value);
	if (r->h.opcode == FUSE_GETXATTR)
		n = OPS(r)->getxattr(FS(r), &r->ctx, r->node, tb.name, tb.value, size);
	else
		n = OPS(r)->listxattr(FS(r), &r->ctx, r->node, tb.value, size);
	if (n < 0)
		return reply_err(r, (int)n);
	if (g.size == 0) {
		struct fuse_getxattr_out o = { .size = (uint32_t)n };

		return reply(r, 0, &o, sizeof(o));
	}
	return reply(r, 0, tb.value, (size_t)n);
}

static long op_setxattr(struct fuse_req *r)
{
	struct fuse_setxattr_in s = { 0 };
	int err;

	/* FUSE_SETXATTR_EXT is not negotiated: the 8-byte form. */
	if (!iov_read(&r->args, &s, FUSE_COMPAT_SETXATTR_IN_SIZE))
		return reply_err(r, -EINVAL);
	err = read_xname(r, tb.name);
	if (!err && s.size > XATTR_SIZE_MAX)
		err = -E2BIG;
	if (!err && !iov_read(&r->args, tb.value, s.size))
		err = -EINVAL;
	if (!err)
		err = OPS(r)->setxattr(FS(r), &r->ctx, r->node, tb.name, tb.value, s.size, s.flags);
	return reply_err(r, err);
}

static long op_removexattr(struct fuse_req *r)
{
	int err = read_xname(r, tb.name);

	if (!err)
		err = OPS(r)->removexattr(FS(r), &r->ctx, r->node, tb.name);
	return reply_err(r, err);
}

static long op_flush(struct fuse_req *r)
{
	struct fuse_flush_in f;

	if (!ARG(r, &f))
		return reply_err(r, -EINVAL);
	return reply_err(r, OPS(r)->flush(FS(r), f.fh));
}

static long op_init(struct fuse_req *r)
{
	struct fuse_server *s = r->srv;
	struct fuse_init_in ii;
	struct fuse_init_out o;
	size_t have = iov_cursor_left(&r->args);
	uint64_t want = ATTR_FLAGS | OPS(r)->init_flags, gflags, agreed;

	memset(&ii, 0, sizeof(ii));
	memset(&o, 0, sizeof(o));
	/* Older guests send the 16-byte form (no flags2). */
	if (!iov_read(&r->args, &ii, have < sizeof(ii) ? have : sizeof(ii)))
		return reply_err(r, -EINVAL);
	/* Flags 32-63 travel in flags2 when both sides say FUSE_INIT_EXT. */
	gflags = ii.flags | ((ii.flags & FUSE_INIT_EXT) ? (uint64_t)ii.flags2 << 32 : 0);
	if (ii.major != FUSE_KERNEL_VERSION || ii.minor < 12)
		return reply_err(r, -EPROTO);
	if (s->opt.writeback && !s->opt.ro)
		want |= FUSE_WRITEBACK_CACHE;
	if (s->opt.cache == FUSE_CACHE_AUTO)
		want |= FUSE_AUTO_INVAL_DATA;     /* host-side changes show once attributes expire */
	if (s->opt.cache == FUSE_CACHE_ALWAYS)
		want |= FUSE_CACHE_SYMLINKS;
	o.major = FUSE_KERNEL_VERSION;
	o.minor = ii.minor < FUSE_KERNEL_MINOR_VERSION ? ii.minor : FUSE_KERNEL_MINOR_VERSION;
	o.max_readahead = ii.max_readahead;
	agreed = gflags & want;
	o.flags = (uint32_t)agreed | (gflags & FUSE_INIT_EXT);
	o.flags2 = (uint32_t)(agreed >> 32);
	o.max_background = 64;
	o.congestion_threshold = 48;
	o.max_write = FUSE_WIRE_MAX_WRITE;
	o.time_gran = 1;
	o.max_pages = FUSE_WIRE_MAX_PAGES;
	/* Quiet the session first: a second INIT starts over. */
	__atomic_store_n(&s->initialized, false, __ATOMIC_RELEASE);
	s->session = (struct fuse_session){ .minor = o.minor, .flags = agreed };
	OPS(r)->session(FS(r), &s->session);
	__atomic_store_n(&s->initialized, true, __ATOMIC_RELEASE);
	/* A 7.22 and older guest expects the short reply. */
	return reply(r, 0, &o, o.minor < 23 ? FUSE_COMPAT_22_INIT_OUT_SIZE : sizeof(o));
}

static long op_opendir(struct fuse_req *r) { return op_open(r); }

static long op_readdir(struct fuse_req *r)
{
	struct fuse_read_in rd;
	struct fuse_dir_sink sink = { .plus = r->h.opcode == FUSE_READDIRPLUS };
	int err;

	if (!ARG(r, &rd))
		return reply_err(r, -EINVAL);
	sink.room = rd.size < r->room ? rd.size : r->room;
	if (sink.room > FUSE_WIRE_MAX_WRITE)
		sink.room = FUSE_WIRE_MAX_WRITE;
	if (!payload_cursor(r, sink.room, &sink.c))
		return reply_err(r, -EINVAL);
	err = OPS(r)->readdir(FS(r), &r->ctx, r->node, rd.fh, rd.offset, &sink);
	return err ? reply_err(r, err) : reply_hdr(r, sink.used);
}

static long op_access(struct fuse_req *r)
{
	struct fuse_access_in a;

	if (!ARG(r, &a))
		return reply_err(r, -EINVAL);
	return reply_err(r, OPS(r)->access(FS(r), &r->ctx, r->node, a.mask));
}

static long op_create(struct fuse_req *r)
{
	struct fuse_create_in c;
	struct {
		struct fuse_entry_out e;
		struct fuse_open_out o;
	} out;
	int err = ARG(r, &c) ? read_name(r, tb.name) : -EINVAL;

	if (err)
		return reply_err(r, err);
	memset(&out, 0, sizeof(out));
	err = OPS(r)->create(FS(r), &r->ctx, r->node, tb.name, c.flags, c.mode, c.umask, c.open_flags, &out.e, &out.o);
	return err ? reply_err(r, err) : reply(r, 0, &out, sizeof(out));
}

static long op_interrupt(struct fuse_req *r)
{
	(void)r; /* every request runs to completion: nothing to interrupt */
	return 0;
}

static long op_destroy(struct fuse_req *r)
{
	fuse_server_reset(r->srv);
	return reply_err(r, 0);
}

static long op_batch_forget(struct fuse_req *r)
{
	struct fuse_batch_forget_in b;
	struct fuse_forget_one one;

	if (!ARG(r, &b))
		return 0;
	for (uint32_t i = 0; i < b.count && iov_read_obj(&r->args, &one); i++)
		OPS(r)->forget(FS(r), one.nodeid, one.nlookup);
	return 0;
}

static long op_fallocate(struct fuse_req *r)
{
	struct fuse_fallocate_in f;

	if (!ARG(r, &f))
		return reply_err(r, -EINVAL);
	return reply_err(r, OPS(r)->fallocate(FS(r), &r->ctx, f.fh, f.mode, f.offset, f.length));
}

static long op_lseek(struct fuse_req *r)
{
	struct fuse_lseek_in l;
	struct fuse_lseek_out o = { 0 };
	int err;

	if (!ARG(r, &l))
		return reply_err(r, -EINVAL);
	err = OPS(r)->lseek(FS(r), l.fh, l.offset, l.whence, &o.offset);
	return err ? reply_err(r, err) : reply(r, 0, &o, sizeof(o));
}

static long op_copy_file_range(struct fuse_req *r)
{
	struct fuse_copy_file_range_in c;
	struct fuse_write_out o = { 0 };
	long n;

	if (!ARG(r, &c))
		return reply_err(r, -EINVAL);
	n = OPS(r)->copy_file_range(FS(r), &r->ctx, c.fh_in, c.off_in, c.fh_out, c.off_out, c.len, c.flags);
	if (n < 0)
		return reply_err(r, (int)n);
	o.size = (uint32_t)n;
	return reply(r, 0, &o, sizeof(o));
}

static long op_syncfs(struct fuse_req *r)
{
	return reply_err(r, OPS(r)->syncfs(FS(r), r->node));
}

/* ---- the table ---- */

#define NEEDS_NODE 0x01      /* h.nodeid must name a node the file system knows (else ENOENT) */
#define NEEDS_DIR 0x02       /* ... and it must be a directory (else ENOTDIR) */
#define MODIFIES 0x04  /* EROFS on a read-only share */
#define XATTR_OP 0x08     /* ENOSYS unless the share serves extended attributes */
#define NOREPLY 0x10   /* the guest expects no reply */
#define CREATES 0x20   /* makes a node: FUSE_EXT_GROUPS counts (CREATE_SUPP_GROUP) */

struct opdesc {
	const char *name;
	uint16_t argmin;   /* bytes of fixed argument the request must carry */
	uint16_t replymin; /* payload bytes the reply buffer must hold */
	uint8_t flags;
	long (*handler)(struct fuse_req *r);
};

#define OP(code, n, a, rep, f, h) [code] = { n, a, rep, f, h }
static const struct opdesc optab[FUSE_SYNCFS + 1] = {
	OP(FUSE_LOOKUP, "LOOKUP", 0, sizeof(struct fuse_entry_out), NEEDS_NODE | NEEDS_DIR, op_lookup),
	OP(FUSE_FORGET, "FORGET", sizeof(struct fuse_forget_in), 0, NOREPLY, op_forget),
	OP(FUSE_GETATTR, "GETATTR", 0, sizeof(struct fuse_attr_out), NEEDS_NODE, op_getattr),
	OP(FUSE_SETATTR, "SETATTR", sizeof(struct fuse_setattr_in), sizeof(struct fuse_attr_out), NEEDS_NODE | MODIFIES,
	   op_setattr),
	OP(FUSE_READLINK, "READLINK", 0, 0, NEEDS_NODE, op_readlink),
	OP(FUSE_SYMLINK, "SYMLINK", 0, sizeof(struct fuse_entry_out), NEEDS_NODE | NEEDS_DIR | MODIFIES | CREATES, op_symlink),
	OP(FUSE_MKNOD, "MKNOD", sizeof(struct fuse_mknod_in), sizeof(struct fuse_entry_out),
	   NEEDS_NODE | NEEDS_DIR | MODIFIES | CREATES, op_mknod),
	OP(FUSE_MKDIR, "MKDIR", sizeof(struct fuse_mkdir_in), sizeof(struct fuse_entry_out),
	   NEEDS_NODE | NEEDS_DIR | MODIFIES | CREATES, op_mkdir),
	OP(FUSE_UNLINK, "UNLINK", 0, 0, NEEDS_NODE | NEEDS_DIR | MODIFIES, op_unlink),
	OP(FUSE_RMDIR, "RMDIR", 0, 0, NEEDS_NODE | NEEDS_DIR | MODIFIES, op_unlink),
	OP(FUSE_RENAME, "RENAME", sizeof(struct fuse_rename_in), 0, NEEDS_NODE | NEEDS_DIR | MODIFIES, op_rename),
	OP(FUSE_LINK, "LINK", sizeof(struct fuse_link_in), sizeof(struct fuse_entry_out), NEEDS_NODE | NEEDS_DIR | MODIFIES,
	   op_link),
	OP(FUSE_OPEN, "OPEN", sizeof(struct fuse_open_in), sizeof(struct fuse_open_out), NEEDS_NODE, op_open),
	OP(FUSE_READ, "READ", sizeof(struct fuse_read_in), 0, 0, op_read),
	OP(FUSE_WRITE, "WRITE", sizeof(struct fuse_write_in), sizeof(struct fuse_write_out), MODIFIES, op_write),
	OP(FUSE_STATFS, "STATFS", 0, sizeof(struct fuse_statfs_out), NEEDS_NODE, op_statfs),
	OP(FUSE_RELEASE, "RELEASE", sizeof(struct fuse_release_in), 0, 0, op_release),
	OP(FUSE_FSYNC, "FSYNC", sizeof(struct fuse_fsync_in), 0, 0, op_fsync),
	OP(FUSE_SETXATTR, "SETXATTR", FUSE_COMPAT_SETXATTR_IN_SIZE, 0, NEEDS_NODE | MODIFIES | XATTR_OP, op_setxattr),
	OP(FUSE_GETXATTR, "GETXATTR", sizeof(struct fuse_getxattr_in), 0, NEEDS_NODE | XATTR_OP, op_getxattr),
	OP(FUSE_LISTXATTR, "LISTXATTR", sizeof(struct fuse_getxattr_in), 0, NEEDS_NODE | XATTR_OP, op_getxattr),
	OP(FUSE_REMOVEXATTR, "REMOVEXATTR", 0, 0, NEEDS_NODE | MODIFIES | XATTR_OP, op_removexattr),
	OP(FUSE_FLUSH, "FLUSH", sizeof(struct fuse_flush_in), 0, 0, op_flush),
	OP(FUSE_INIT, "INIT", 16, FUSE_COMPAT_22_INIT_OUT_SIZE, 0, op_init),
	OP(FUSE_OPENDIR, "OPENDIR", sizeof(struct fuse_open_in), sizeof(struct fuse_open_out), NEEDS_NODE | NEEDS_DIR, op_opendir),
	OP(FUSE_READDIR, "READDIR", sizeof(struct fuse_read_in), 0, NEEDS_NODE | NEEDS_DIR, op_readdir),
	OP(FUSE_RELEASEDIR, "RELEASEDIR", sizeof(struct fuse_release_in), 0, 0, op_release),
	OP(FUSE_FSYNCDIR, "FSYNCDIR", sizeof(struct fuse_fsync_in), 0, 0, op_fsync),
	OP(FUSE_ACCESS, "ACCESS", sizeof(struct fuse_access_in), 0, NEEDS_NODE, op_access),
	OP(FUSE_CREATE, "CREATE", sizeof(struct fuse_create_in),
	   sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out), NEEDS_NODE | NEEDS_DIR | MODIFIES | CREATES,
	   op_create),
	OP(FUSE_INTERRUPT, "INTERRUPT", 0, 0, NOREPLY, op_interrupt),
	OP(FUSE_DESTROY, "DESTROY", 0, 0, 0, op_destroy),
	OP(FUSE_BATCH_FORGET, "BATCH_FORGET", sizeof(struct fuse_batch_forget_in), 0, NOREPLY, op_batch_forget),
	OP(FUSE_FALLOCATE, "FALLOCATE", sizeof(struct fuse_fallocate_in), 0, MODIFIES, op_fallocate),
	OP(FUSE_READDIRPLUS, "READDIRPLUS", sizeof(struct fuse_read_in), 0, NEEDS_NODE | NEEDS_DIR, op_readdir),
	OP(FUSE_RENAME2, "RENAME2", sizeof(struct fuse_rename2_in), 0, NEEDS_NODE | NEEDS_DIR | MODIFIES, op_rename),
	OP(FUSE_LSEEK, "LSEEK", sizeof(struct fuse_lseek_in), sizeof(struct fuse_lseek_out), 0, op_lseek),
	OP(FUSE_COPY_FILE_RANGE, "COPY_FILE_RANGE", sizeof(struct fuse_copy_file_range_in),
	   sizeof(struct fuse_write_out), MODIFIES, op_copy_file_range),
	OP(FUSE_SYNCFS, "SYNCFS", sizeof(struct fuse_syncfs_in), 0, NEEDS_NODE, op_syncfs),
};

static const struct opdesc *desc_of(uint32_t opcode)
{
	return opcode < ARRAY_SIZE(optab) && optab[opcode].handler ? &optab[opcode] : NULL;
}

const char *fuse_opcode_name(uint32_t opcode)
{
	const struct opdesc *d = desc_of(opcode);

	return d ? d->name : NULL;
}

/* ---- the server ---- */

/*
 * The request extensions (total_extlen * 8 bytes after the arguments): a
 * chain of fuse_ext_header, each `size` bytes with its header, a multiple
 * of 8. FUSE_EXT_GROUPS gives the group a create may run with (`groups`:
 * CREATE_SUPP_GROUP agreed and a create request; else it is skipped, as
 * the other types are: security contexts, which we do not ask for).
 * -EINVAL for a chain that does not add up.
 */
static int read_extensions(struct iov_cursor *c, struct fuse_ctx *ctx, bool groups)
{
	while (iov_cursor_left(c)) {
		struct fuse_ext_header xh;
		size_t body;

		if (!iov_read_obj(c, &xh) || xh.size < sizeof(xh) || xh.size % 8 ||
		    xh.size - sizeof(xh) > iov_cursor_left(c))
			return -EINVAL;
		body = xh.size - sizeof(xh);
		if (xh.type == FUSE_EXT_GROUPS) {
			uint32_t n, g;

			if (body < 8 || !iov_read_obj(c, &n) || n < 1 || n > (body - 4) / 4 || !iov_read_obj(c, &g))
				return -EINVAL;
			ctx->has_supp_gid = groups; /* the kernel sends one: the directory's group */
			ctx->supp_gid = groups ? g : 0;
			body -= 8;
		}
		if (!iov_skip(c, body))
			return -EINVAL;
	}
	return 0;
}

void fuse_server_init(struct fuse_server *s, const struct fuse_fs_ops *ops, void *fs, const struct fuse_options *opt)
{
	memset(s, 0, sizeof(*s));
	s->ops = ops;
	s->fs = fs;
	if (opt)
		s->opt = *opt;
}

void fuse_server_reset(struct fuse_server *s)
{
	__atomic_store_n(&s->initialized, false, __ATOMIC_RELEASE);
	s->ops->session(s->fs, NULL);
}

long fuse_server_handle(struct fuse_server *s, const struct iovec *in, unsigned nin, const struct iovec *out,
			unsigned nout, bool hiprio)
{
	struct fuse_req r = { .srv = s, .out = out, .nout = nout };
	struct iov_cursor tail;
	const struct opdesc *d;
	size_t out_total = iov_total(out, nout), ext;
	bool noreply;
	long ret;

	iov_cursor_init(&r.args, in, nin);
	if (!iov_read_obj(&r.args, &r.h))
		return -EBADMSG;
	if (r.h.len < sizeof(r.h) || r.h.len - sizeof(r.h) > iov_cursor_left(&r.args))
		return -EBADMSG;
	d = desc_of(r.h.opcode);
	noreply = d && (d->flags & NOREPLY);
	if (!noreply && out_total < sizeof(struct fuse_out_header))
		return -EBADMSG;
	r.room = noreply ? 0 : out_total - sizeof(struct fuse_out_header);
	r.ctx = (struct fuse_ctx){ .uid = r.h.uid, .gid = r.h.gid, .pid = r.h.pid };
	/* The arguments: what the header declares, less the extensions at its end. */
	ext = (size_t)r.h.total_extlen * 8;
	if (r.h.len - sizeof(r.h) < iov_cursor_left(&r.args) && !iov_split(&r.args, r.h.len - sizeof(r.h), &tail))
		return -EBADMSG;
	if (ext > iov_cursor_left(&r.args))
		return noreply ? 0 : reply_err(&r, -EINVAL);
	if (ext && !iov_split(&r.args, iov_cursor_left(&r.args) - ext, &tail))
		return -EBADMSG;
	/* The high-priority queue carries only requests without replies. */
	if (hiprio && !noreply)
		return reply_err(&r, -ENOSYS);
	if (!d)
		return reply_err(&r, -ENOSYS);
	if (r.h.opcode != FUSE_INIT && !__atomic_load_n(&s->initialized, __ATOMIC_ACQUIRE))
		return noreply ? 0 : reply_err(&r, -EIO);
	if (ext && read_extensions(&tail, &r.ctx, (s->session.flags & FUSE_CREATE_SUPP_GROUP) && (d->flags & CREATES)))
		return noreply ? 0 : reply_err(&r, -EINVAL);
	if (iov_cursor_left(&r.args) < d->argmin)
		return noreply ? 0 : reply_err(&r, -EINVAL);
	if ((d->flags & XATTR_OP) && !s->opt.xattr)
		return reply_err(&r, -ENOSYS);
	if ((d->flags & MODIFIES) && s->opt.ro)
		return reply_err(&r, -EROFS);
	if (r.room < d->replymin)
		return reply_err(&r, -EINVAL);
	if (d->flags & NEEDS_NODE) {
		r.node = s->ops->get(s->fs, r.h.nodeid, &r.type);
		if (!r.node)
			return reply_err(&r, -ENOENT);
		if ((d->flags & NEEDS_DIR) && r.type != S_IFDIR) {
			s->ops->put(s->fs, r.node);
			return reply_err(&r, -ENOTDIR);
		}
	}
	ret = d->handler(&r);
	if (r.node)
		s->ops->put(s->fs, r.node);
	return ret;
}

/* ---- directory sink ---- */

bool fuse_dir_plus(const struct fuse_dir_sink *s) { return s->plus; }

static size_t rec_size(bool plus, size_t namelen)
{
	return plus ? FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS + namelen) : FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + namelen);
}

bool fuse_dir_fits(const struct fuse_dir_sink *s, size_t namelen)
{
	return namelen <= NAME_MAX && s->used + rec_size(s->plus, namelen) <= s->room;
}

bool fuse_dir_add(struct fuse_dir_sink *s, const char *name, size_t namelen, uint64_t ino, uint32_t type,
		  uint64_t off, const struct fuse_entry_out *e)
{
	union {
		struct fuse_direntplus p;
		uint8_t b[FUSE_NAME_OFFSET_DIRENTPLUS + NAME_MAX + 8];
	} rec;
	struct fuse_dirent *d = s->plus ? &rec.p.dirent : (struct fuse_dirent *)rec.b;
	size_t len = rec_size(s->plus, namelen);

	if (!fuse_dir_fits(s, namelen))
		return false;
	memset(&rec, 0, len);
	if (s->plus && e)
		rec.p.entry_out = *e;
	d->ino = ino;
	d->off = off;
	d->namelen = (uint32_t)namelen;
	d->type = type;
	memcpy(d->name, name, namelen);
	if (!iov_write(&s->c, &rec, len))
		return false;
	s->used += len;
	return true;
}
