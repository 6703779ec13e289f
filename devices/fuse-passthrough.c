/* SPDX-License-Identifier: MIT */
#include "devices/fuse-passthrough.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>
#include "devices/virtqueue.h"

#define INODE_BUCKETS 4096
#define ATTR_TIMEOUT_S 1     /* host-side changes show within a second */
#define ARGS_MAX (XATTR_SIZE_MAX + 2 * (NAME_MAX + 1) + 256)
#define REPLY_SMALL 512

struct inode {
	uint64_t nodeid;
	dev_t dev;
	ino_t ino;
	mode_t type;          /* S_IFMT bits when looked up */
	int fd;               /* O_PATH | O_NOFOLLOW */
	uint64_t nlookup;     /* the guest's references */
	unsigned refs;        /* ours: requests using it right now */
	struct inode *next_id, *next_key;
};

struct handle {
	int fd;               /* -1: free */
	bool dir;
	pthread_mutex_t lock; /* directory position */
};

struct fuse_pt {
	int proc_fd;          /* /proc/self/fd, O_PATH */
	pthread_mutex_t ilock;
	struct inode *by_id[INODE_BUCKETS], *by_key[INODE_BUCKETS];
	uint64_t next_nodeid;
	unsigned ninodes;
	struct inode *root;
	pthread_mutex_t hlock;
	struct handle h[FUSE_PT_MAX_HANDLES];
	unsigned nhandles;
	bool initialized;     /* INIT seen (atomic: queue threads read it) */
	uint32_t minor;       /* negotiated minor version (atomic) */
};

/* ---- inodes ---- */

static unsigned hash_id(uint64_t id) { return (unsigned)(id * 0x9E3779B97F4A7C15ULL >> 52) % INODE_BUCKETS; }
static unsigned hash_key(dev_t d, ino_t i) { return hash_id((uint64_t)d * 31 + (uint64_t)i); }

/* The inode for nodeid with a reference taken, or NULL. */
static struct inode *inode_get(struct fuse_pt *fs, uint64_t nodeid)
{
	struct inode *in;

	pthread_mutex_lock(&fs->ilock);
	for (in = fs->by_id[hash_id(nodeid)]; in && in->nodeid != nodeid; in = in->next_id)
		;
	if (in)
		in->refs++;
	pthread_mutex_unlock(&fs->ilock);
	return in;
}

static void unlink_inode(struct fuse_pt *fs, struct inode *in)
{
	struct inode **p;

	for (p = &fs->by_id[hash_id(in->nodeid)]; *p != in; p = &(*p)->next_id)
		;
	*p = in->next_id;
	for (p = &fs->by_key[hash_key(in->dev, in->ino)]; *p != in; p = &(*p)->next_key)
		;
	*p = in->next_key;
	fs->ninodes--;
	close(in->fd);
	free(in);
}

/* Drop our reference (and `forget` guest references); frees when both are gone. */
static void inode_put(struct fuse_pt *fs, struct inode *in, uint64_t forget)
{
	if (!in)
		return;
	pthread_mutex_lock(&fs->ilock);
	if (forget > in->nlookup)
		forget = in->nlookup;
	in->nlookup -= forget;
	if (in->refs)
		in->refs--;
	if (!in->refs && !in->nlookup && in != fs->root)
		unlink_inode(fs, in);
	pthread_mutex_unlock(&fs->ilock);
}

/*
 * Take ownership of O_PATH fd `fd` for the object st describes: the existing
 * inode (fd closed) or a new one, with one more guest lookup and one of our
 * references. NULL (fd closed) on allocation failure.
 */
static struct inode *inode_adopt(struct fuse_pt *fs, int fd, const struct stat *st)
{
	struct inode *in;
	unsigned k = hash_key(st->st_dev, st->st_ino);

	pthread_mutex_lock(&fs->ilock);
	for (in = fs->by_key[k]; in && (in->dev != st->st_dev || in->ino != st->st_ino); in = in->next_key)
		;
	if (in) {
		close(fd);
	} else {
		in = calloc(1, sizeof(*in));
		if (!in) {
			pthread_mutex_unlock(&fs->ilock);
			close(fd);
			return NULL;
		}
		in->nodeid = fs->next_nodeid++;
		in->dev = st->st_dev;
		in->ino = st->st_ino;
		in->type = st->st_mode & S_IFMT;
		in->fd = fd;
		in->next_key = fs->by_key[k];
		fs->by_key[k] = in;
		in->next_id = fs->by_id[hash_id(in->nodeid)];
		fs->by_id[hash_id(in->nodeid)] = in;
		fs->ninodes++;
	}
	in->nlookup++;
	in->refs++;
	pthread_mutex_unlock(&fs->ilock);
	return in;
}

unsigned fuse_pt_inode_count(struct fuse_pt *fs)
{
	unsigned n;

	pthread_mutex_lock(&fs->ilock);
	n = fs->ninodes;
	pthread_mutex_unlock(&fs->ilock);
	return n;
}

/* ---- handles ---- */

static int handle_new(struct fuse_pt *fs, int fd, bool dir, uint64_t *fh)
{
	pthread_mutex_lock(&fs->hlock);
	for (unsigned i = 0; i < FUSE_PT_MAX_HANDLES; i++)
		if (fs->h[i].fd < 0) {
			fs->h[i].fd = fd;
			fs->h[i].dir = dir;
			fs->nhandles++;
			pthread_mutex_unlock(&fs->hlock);
			*fh = i;
			return 0;
		}
	pthread_mutex_unlock(&fs->hlock);
	close(fd);
	return -EMFILE;
}

/* The fd behind fh (a dup, so a concurrent RELEASE cannot pull it away), or -EBADF. */
static int handle_fd(struct fuse_pt *fs, uint64_t fh, bool dir)
{
	int fd = -EBADF;

	if (fh >= FUSE_PT_MAX_HANDLES)
		return -EBADF;
	pthread_mutex_lock(&fs->hlock);
	if (fs->h[fh].fd >= 0 && fs->h[fh].dir == dir) {
		fd = fcntl(fs->h[fh].fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			fd = -errno;
	}
	pthread_mutex_unlock(&fs->hlock);
	return fd;
}

static int handle_release(struct fuse_pt *fs, uint64_t fh, bool dir)
{
	int fd = -1;

	if (fh >= FUSE_PT_MAX_HANDLES)
		return -EBADF;
	pthread_mutex_lock(&fs->hlock);
	if (fs->h[fh].fd >= 0 && fs->h[fh].dir == dir) {
		fd = fs->h[fh].fd;
		fs->h[fh].fd = -1;
		fs->nhandles--;
	}
	pthread_mutex_unlock(&fs->hlock);
	if (fd < 0)
		return -EBADF;
	close(fd);
	return 0;
}

unsigned fuse_pt_handle_count(struct fuse_pt *fs)
{
	unsigned n;

	pthread_mutex_lock(&fs->hlock);
	n = fs->nhandles;
	pthread_mutex_unlock(&fs->hlock);
	return n;
}

/* ---- setup ---- */

int fuse_pt_create(struct fuse_pt **out, const char *root)
{
	struct fuse_pt *fs = calloc(1, sizeof(*fs));
	struct stat st;
	int fd, err;

	if (!fs)
		return -ENOMEM;
	pthread_mutex_init(&fs->ilock, NULL);
	pthread_mutex_init(&fs->hlock, NULL);
	for (unsigned i = 0; i < FUSE_PT_MAX_HANDLES; i++) {
		fs->h[i].fd = -1;
		pthread_mutex_init(&fs->h[i].lock, NULL);
	}
	fs->next_nodeid = FUSE_ROOT_ID;
	fs->proc_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fs->proc_fd < 0) {
		err = -errno;
		free(fs);
		return err;
	}
	fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		err = -errno;
		if (fd >= 0)
			close(fd);
		close(fs->proc_fd);
		free(fs);
		return err;
	}
	fs->root = inode_adopt(fs, fd, &st);
	if (!fs->root) {
		close(fs->proc_fd);
		free(fs);
		return -ENOMEM;
	}
	fs->root->refs = 0;
	*out = fs;
	return 0;
}

void fuse_pt_destroy(struct fuse_pt *fs)
{
	if (!fs)
		return;
	for (unsigned i = 0; i < INODE_BUCKETS; i++)
		while (fs->by_id[i]) {
			struct inode *in = fs->by_id[i];

			fs->by_id[i] = in->next_id;
			close(in->fd);
			free(in);
		}
	for (unsigned i = 0; i < FUSE_PT_MAX_HANDLES; i++)
		if (fs->h[i].fd >= 0)
			close(fs->h[i].fd);
	close(fs->proc_fd);
	free(fs);
}

/* ---- requests ---- */

struct req {
	struct fuse_pt *fs;
	const struct iovec *in, *out;
	unsigned nin, nout;
	size_t out_total;
	struct fuse_in_header h;
	uint8_t *args;        /* h.len - header bytes (capped at ARGS_MAX), copied */
	size_t args_len;      /* bytes after the header that the request declares */
	size_t args_have;     /* of which copied into args */
};

static __thread uint8_t argbuf[ARGS_MAX];

/* Fixed-size argument struct at the start of args; false: too short. */
static bool arg(struct req *r, void *dst, size_t len)
{
	if (r->args_have < len)
		return false;
	memcpy(dst, r->args, len);
	return true;
}

/* The NUL-terminated name starting at args[*off]; advances *off. NULL if bad. */
static const char *arg_str(struct req *r, size_t *off)
{
	const char *s = (const char *)r->args + *off;
	const void *nul;

	if (*off >= r->args_have)
		return NULL;
	nul = memchr(s, '\0', r->args_have - *off);
	if (!nul)
		return NULL;
	*off += (size_t)((const char *)nul - s) + 1;
	return s;
}

/* A single path component the guest may name. */
static const char *arg_name(struct req *r, size_t *off)
{
	const char *s = arg_str(r, off);

	if (!s || !*s || strchr(s, '/') || strlen(s) > NAME_MAX)
		return NULL;
	return s;
}

static long reply(struct req *r, int error, const void *payload, size_t len)
{
	struct fuse_out_header oh = { .len = (uint32_t)(sizeof(oh) + (error ? 0 : len)), .error = error,
				      .unique = r->h.unique };

	if (!error && sizeof(oh) + len > r->out_total)
		return reply(r, -EINVAL, NULL, 0);
	if (!iov_scatter(r->out, r->nout, 0, &oh, sizeof(oh)))
		return -EBADMSG;
	if (!error && len && !iov_scatter(r->out, r->nout, sizeof(oh), payload, len))
		return -EBADMSG;
	return (long)oh.len;
}

static long reply_err(struct req *r, int neg_errno) { return reply(r, neg_errno, NULL, 0); }

static void fill_attr(struct fuse_attr *a, const struct stat *st)
{
	memset(a, 0, sizeof(*a));
	a->ino = st->st_ino;
	a->size = (uint64_t)st->st_size;
	a->blocks = (uint64_t)st->st_blocks;
	a->atime = (uint64_t)st->st_atim.tv_sec;
	a->mtime = (uint64_t)st->st_mtim.tv_sec;
	a->ctime = (uint64_t)st->st_ctim.tv_sec;
	a->atimensec = (uint32_t)st->st_atim.tv_nsec;
	a->mtimensec = (uint32_t)st->st_mtim.tv_nsec;
	a->ctimensec = (uint32_t)st->st_ctim.tv_nsec;
	a->mode = st->st_mode;
	a->nlink = (uint32_t)st->st_nlink;
	a->uid = st->st_uid;
	a->gid = st->st_gid;
	a->rdev = (uint32_t)st->st_rdev;
	a->blksize = (uint32_t)st->st_blksize;
}

static int stat_fd(int fd, struct stat *st)
{
	return fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

/*
 * Resolve one component under parent: O_PATH|O_NOFOLLOW, so a symlink is
 * held as itself and never followed. ".." at the root is the root.
 */
static int lookup_fd(struct fuse_pt *fs, struct inode *parent, const char *name, int *fd)
{
	if (strcmp(name, ".") == 0 || (strcmp(name, "..") == 0 && parent == fs->root))
		*fd = fcntl(parent->fd, F_DUPFD_CLOEXEC, 0);
	else
		*fd = openat(parent->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	return *fd < 0 ? -errno : 0;
}

/* Look name up under parent and fill an entry reply (one more guest lookup). */
static int do_lookup(struct fuse_pt *fs, struct inode *parent, const char *name, struct fuse_entry_out *e)
{
	struct inode *in;
	struct stat st;
	int fd, err = lookup_fd(fs, parent, name, &fd);

	if (err)
		return err;
	err = stat_fd(fd, &st);
	if (err) {
		close(fd);
		return err;
	}
	in = inode_adopt(fs, fd, &st);
	if (!in)
		return -ENOMEM;
	memset(e, 0, sizeof(*e));
	e->nodeid = in->nodeid;
	e->entry_valid = ATTR_TIMEOUT_S;
	e->attr_valid = ATTR_TIMEOUT_S;
	fill_attr(&e->attr, &st);
	inode_put(fs, in, 0);
	return 0;
}

/*
 * Reopen O_PATH descriptor pfd (an object of S_IFMT `type`) for I/O through
 * /proc/self/fd: regular files and directories only.
 */
static int reopen_fd(struct fuse_pt *fs, int pfd, mode_t type, int flags)
{
	char name[16];
	int fd;

	if (type != S_IFREG && type != S_IFDIR)
		return type == S_IFLNK ? -ELOOP : -EACCES;
	snprintf(name, sizeof(name), "%d", pfd);
	fd = openat(fs->proc_fd, name, (flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_NOFOLLOW)) | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int reopen(struct fuse_pt *fs, struct inode *in, int flags)
{
	return reopen_fd(fs, in->fd, in->type, flags);
}

/* Open flags the guest may pass on. */
static int open_flags(uint32_t f)
{
	return (int)(f & (O_ACCMODE | O_APPEND | O_TRUNC | O_SYNC | O_DSYNC | O_NONBLOCK | O_NOATIME | O_DIRECTORY));
}

static long op_init(struct req *r)
{
	struct fuse_init_in ii;
	struct fuse_init_out o = { 0 };
	const uint32_t want = FUSE_ASYNC_READ | FUSE_BIG_WRITES | FUSE_MAX_PAGES | FUSE_DO_READDIRPLUS |
			      FUSE_PARALLEL_DIROPS | FUSE_ATOMIC_O_TRUNC | FUSE_EXPORT_SUPPORT |
			      FUSE_READDIRPLUS_AUTO;

	memset(&ii, 0, sizeof(ii));
	/* Older guests send the 16-byte form (no flags2). */
	if (r->args_have < offsetof(struct fuse_init_in, flags) + sizeof(ii.flags))
		return reply_err(r, -EINVAL);
	memcpy(&ii, r->args, r->args_have < sizeof(ii) ? r->args_have : sizeof(ii));
	if (ii.major != FUSE_KERNEL_VERSION)
		return reply_err(r, -EPROTO);
	o.major = FUSE_KERNEL_VERSION;
	o.minor = ii.minor < FUSE_KERNEL_MINOR_VERSION ? ii.minor : FUSE_KERNEL_MINOR_VERSION;
	o.max_readahead = ii.max_readahead;
	o.flags = ii.flags & want;
	o.max_background = 64;
	o.congestion_threshold = 48;
	o.max_write = FUSE_PT_MAX_WRITE;
	o.time_gran = 1;
	o.max_pages = FUSE_PT_MAX_PAGES;
	__atomic_store_n(&r->fs->minor, o.minor, __ATOMIC_RELAXED);
	__atomic_store_n(&r->fs->initialized, true, __ATOMIC_RELEASE);
	/* A 7.22 and older guest expects the short reply. */
	return reply(r, 0, &o, o.minor < 23 ? FUSE_COMPAT_22_INIT_OUT_SIZE : sizeof(o));
}

static long op_lookup(struct req *r, struct inode *parent)
{
	struct fuse_entry_out e;
	size_t off = 0;
	const char *name = arg_str(r, &off);
	int err;

	if (!name || !*name || strchr(name, '/') || strlen(name) > NAME_MAX)
		return reply_err(r, -EINVAL);
	err = do_lookup(r->fs, parent, name, &e);
	return err ? reply_err(r, err) : reply(r, 0, &e, sizeof(e));
}

static void forget_one(struct fuse_pt *fs, uint64_t nodeid, uint64_t n)
{
	struct inode *in = inode_get(fs, nodeid);

	if (in)
		inode_put(fs, in, n);
}

static long op_forget(struct req *r)
{
	struct fuse_forget_in f;

	if (arg(r, &f, sizeof(f)))
		forget_one(r->fs, r->h.nodeid, f.nlookup);
	return 0;
}

static long op_batch_forget(struct req *r)
{
	struct fuse_batch_forget_in b;

	if (!arg(r, &b, sizeof(b)))
		return 0;
	for (uint32_t i = 0; i < b.count; i++) {
		struct fuse_forget_one one;
		size_t o = sizeof(b) + (size_t)i * sizeof(one);

		if (o + sizeof(one) > r->args_have)
			break;
		memcpy(&one, r->args + o, sizeof(one));
		forget_one(r->fs, one.nodeid, one.nlookup);
	}
	return 0;
}

static long attr_reply(struct req *r, int fd)
{
	struct fuse_attr_out o = { .attr_valid = ATTR_TIMEOUT_S };
	struct stat st;
	int err = fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;

	if (err)
		return reply_err(r, err);
	fill_attr(&o.attr, &st);
	return reply(r, 0, &o, sizeof(o));
}

static long op_getattr(struct req *r, struct inode *in)
{
	return attr_reply(r, in->fd);
}

static long op_setattr(struct req *r, struct inode *in)
{
	struct fuse_setattr_in s;
	char name[16];
	int err = 0, fd = -1;

	if (!arg(r, &s, sizeof(s)))
		return reply_err(r, -EINVAL);
	snprintf(name, sizeof(name), "%d", in->fd);
	if ((s.valid & FATTR_FH) && (s.valid & (FATTR_SIZE))) {
		fd = handle_fd(r->fs, s.fh, false);
		if (fd < 0)
			return reply_err(r, fd);
	}
	if (s.valid & FATTR_MODE) {
		if (in->type == S_IFLNK)
			err = -EOPNOTSUPP;
		else if (fchmodat(r->fs->proc_fd, name, s.mode & 07777, 0) < 0)
			err = -errno;
	}
	if (!err && (s.valid & (FATTR_UID | FATTR_GID))) {
		uid_t u = (s.valid & FATTR_UID) ? s.uid : (uid_t)-1;
		gid_t g = (s.valid & FATTR_GID) ? s.gid : (gid_t)-1;

		if (fchownat(in->fd, "", u, g, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			err = -errno;
	}
	if (!err && (s.valid & FATTR_SIZE)) {
		if (in->type != S_IFREG) {
			err = in->type == S_IFDIR ? -EISDIR : -EINVAL;
		} else {
			int tfd = fd >= 0 ? fd : reopen(r->fs, in, O_WRONLY);

			if (tfd < 0)
				err = tfd;
			else if (ftruncate(tfd, (off_t)s.size) < 0)
				err = -errno;
			if (tfd >= 0 && tfd != fd)
				close(tfd);
		}
	}
	if (!err && (s.valid & (FATTR_ATIME | FATTR_MTIME))) {
		struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };

		if (s.valid & FATTR_ATIME_NOW)
			ts[0].tv_nsec = UTIME_NOW;
		else if (s.valid & FATTR_ATIME)
			ts[0] = (struct timespec){ (time_t)s.atime, s.atimensec % 1000000000u };
		if (s.valid & FATTR_MTIME_NOW)
			ts[1].tv_nsec = UTIME_NOW;
		else if (s.valid & FATTR_MTIME)
			ts[1] = (struct timespec){ (time_t)s.mtime, s.mtimensec % 1000000000u };
		if (in->type == S_IFLNK)
			err = -EPERM; /* no way to reach the link itself without its parent */
		else if (utimensat(r->fs->proc_fd, name, ts, 0) < 0)
			err = -errno;
	}
	if (fd >= 0)
		close(fd);
	return err ? reply_err(r, err) : attr_reply(r, in->fd);
}

static long op_readlink(struct req *r, struct inode *in)
{
	char buf[PATH_MAX];
	ssize_t n = readlinkat(in->fd, "", buf, sizeof(buf));

	if (n < 0)
		return reply_err(r, -errno);
	return reply(r, 0, buf, (size_t)n);
}

/* After a create-type call: look the new name up and reply with its entry. */
static long entry_reply(struct req *r, struct inode *parent, const char *name, int err)
{
	struct fuse_entry_out e;

	if (!err)
		err = do_lookup(r->fs, parent, name, &e);
	return err ? reply_err(r, err) : reply(r, 0, &e, sizeof(e));
}

static long op_mknod(struct req *r, struct inode *parent)
{
	struct fuse_mknod_in m;
	size_t off = sizeof(m);
	const char *name;
	mode_t type;

	if (!arg(r, &m, sizeof(m)) || !(name = arg_name(r, &off)))
		return reply_err(r, -EINVAL);
	type = m.mode & S_IFMT;
	if (type != S_IFREG && type != S_IFIFO && type != S_IFSOCK)
		return reply_err(r, -EPERM); /* no device nodes in a share */
	return entry_reply(r, parent, name, mknodat(parent->fd, name, m.mode & ~m.umask, 0) < 0 ? -errno : 0);
}

static long op_mkdir(struct req *r, struct inode *parent)
{
	struct fuse_mkdir_in m;
	size_t off = sizeof(m);
	const char *name;

	if (!arg(r, &m, sizeof(m)) || !(name = arg_name(r, &off)))
		return reply_err(r, -EINVAL);
	return entry_reply(r, parent, name, mkdirat(parent->fd, name, m.mode & ~m.umask & 07777) < 0 ? -errno : 0);
}

static long op_symlink(struct req *r, struct inode *parent)
{
	size_t off = 0;
	const char *name = arg_name(r, &off), *target = name ? arg_str(r, &off) : NULL;

	if (!name || !target || !*target || strlen(target) >= PATH_MAX)
		return reply_err(r, -EINVAL);
	/* The target is stored as given, never resolved by us. */
	return entry_reply(r, parent, name, symlinkat(target, parent->fd, name) < 0 ? -errno : 0);
}

static long op_unlink(struct req *r, struct inode *parent, bool dir)
{
	size_t off = 0;
	const char *name = arg_name(r, &off);

	if (!name)
		return reply_err(r, -EINVAL);
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return reply_err(r, dir ? -EBUSY : -EISDIR);
	return reply_err(r, unlinkat(parent->fd, name, dir ? AT_REMOVEDIR : 0) < 0 ? -errno : 0);
}

static long op_rename(struct req *r, struct inode *parent, bool two)
{
	struct fuse_rename2_in rn = { 0 };
	size_t off = two ? sizeof(struct fuse_rename2_in) : sizeof(struct fuse_rename_in);
	const char *from, *to;
	struct inode *newdir;
	int err = 0;

	if (!arg(r, &rn, off) || !(from = arg_name(r, &off)) || !(to = arg_name(r, &off)))
		return reply_err(r, -EINVAL);
	if (!two)
		rn.flags = 0;
	if (rn.flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return reply_err(r, -EINVAL);
	if (!strcmp(from, ".") || !strcmp(from, "..") || !strcmp(to, ".") || !strcmp(to, ".."))
		return reply_err(r, -EBUSY);
	newdir = inode_get(r->fs, rn.newdir);
	if (!newdir)
		return reply_err(r, -ENOENT);
	if (syscall(SYS_renameat2, parent->fd, from, newdir->fd, to, rn.flags) < 0)
		err = -errno;
	inode_put(r->fs, newdir, 0);
	return reply_err(r, err);
}

static long op_link(struct req *r, struct inode *newparent)
{
	struct fuse_link_in l;
	size_t off = sizeof(l);
	const char *name;
	struct inode *old;
	char path[32];
	int err = 0;

	if (!arg(r, &l, sizeof(l)) || !(name = arg_name(r, &off)))
		return reply_err(r, -EINVAL);
	old = inode_get(r->fs, l.oldnodeid);
	if (!old)
		return reply_err(r, -ENOENT);
	if (old->type == S_IFDIR) {
		err = -EPERM;
	} else if (linkat(old->fd, "", newparent->fd, name, AT_EMPTY_PATH) < 0) {
		/* Without CAP_DAC_READ_SEARCH: the same inode through /proc. */
		snprintf(path, sizeof(path), "/proc/self/fd/%d", old->fd);
		if (errno != ENOENT || linkat(AT_FDCWD, path, newparent->fd, name, AT_SYMLINK_FOLLOW) < 0)
			err = -errno;
	}
	inode_put(r->fs, old, 0);
	return entry_reply(r, newparent, name, err);
}

static long op_open(struct req *r, struct inode *in, bool dir)
{
	struct fuse_open_in o;
	struct fuse_open_out oo = { 0 };
	int fd, err;

	if (!arg(r, &o, sizeof(o)))
		return reply_err(r, -EINVAL);
	if (dir ? in->type != S_IFDIR : in->type == S_IFDIR)
		return reply_err(r, dir ? -ENOTDIR : -EISDIR);
	fd = reopen(r->fs, in, dir ? O_RDONLY | O_DIRECTORY : open_flags(o.flags));
	if (fd < 0)
		return reply_err(r, fd);
	err = handle_new(r->fs, fd, dir, &oo.fh);
	return err ? reply_err(r, err) : reply(r, 0, &oo, sizeof(oo));
}

/*
 * The open half of CREATE: a new file with O_EXCL first. Only when the name
 * exists and the guest did not ask for O_EXCL is the existing object opened,
 * and then through an O_PATH descriptor after checking it is a regular file:
 * openat(O_CREAT) on an existing FIFO blocks, on a device node it opens the
 * device. A symlink is never followed (ELOOP), a directory is EISDIR.
 */
static int create_open(struct fuse_pt *fs, int dirfd, const char *name, uint32_t flags, mode_t mode)
{
	for (unsigned tries = 0; tries < 4; tries++) {
		int fd = openat(dirfd, name, open_flags(flags) | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		struct stat st;
		int pfd, err;

		if (fd >= 0)
			return fd;
		if (errno != EEXIST || (flags & O_EXCL))
			return -errno;
		pfd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (pfd < 0) {
			if (errno == ENOENT)
				continue; /* removed meanwhile: create it again */
			return -errno;
		}
		err = stat_fd(pfd, &st);
		if (!err)
			err = (st.st_mode & S_IFMT) == S_IFDIR ? -EISDIR
							      : reopen_fd(fs, pfd, st.st_mode & S_IFMT, open_flags(flags));
		close(pfd);
		return err;
	}
	return -EEXIST;
}

static long op_create(struct req *r, struct inode *parent)
{
	struct fuse_create_in c;
	size_t off = sizeof(c);
	struct {
		struct fuse_entry_out e;
		struct fuse_open_out o;
	} out;
	const char *name;
	int fd, err;

	if (__atomic_load_n(&r->fs->minor, __ATOMIC_RELAXED) < 12)
		return reply_err(r, -ENOSYS);
	if (!arg(r, &c, sizeof(c)) || !(name = arg_name(r, &off)))
		return reply_err(r, -EINVAL);
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return reply_err(r, -EISDIR);
	fd = create_open(r->fs, parent->fd, name, c.flags, (c.mode & 07777) & ~c.umask);
	if (fd < 0)
		return reply_err(r, fd);
	memset(&out, 0, sizeof(out));
	err = do_lookup(r->fs, parent, name, &out.e);
	if (!err)
		err = handle_new(r->fs, fd, false, &out.o.fh);
	else
		close(fd);
	if (err) {
		if (out.e.nodeid)
			forget_one(r->fs, out.e.nodeid, 1);
		return reply_err(r, err);
	}
	return reply(r, 0, &out, sizeof(out));
}

static long op_read(struct req *r)
{
	struct fuse_read_in rd;
	struct fuse_out_header oh;
	struct iovec sub[UIO_MAXIOV];
	size_t room = r->out_total - sizeof(oh), size;
	ssize_t n;
	int fd, k;

	if (!arg(r, &rd, sizeof(rd)))
		return reply_err(r, -EINVAL);
	fd = handle_fd(r->fs, rd.fh, false);
	if (fd < 0)
		return reply_err(r, fd);
	size = rd.size < room ? rd.size : room;
	if (size > FUSE_PT_MAX_WRITE)
		size = FUSE_PT_MAX_WRITE;
	/* Straight into the guest's buffers (they are in the aperture). */
	k = iov_sub(r->out, r->nout, sizeof(oh), size, sub, UIO_MAXIOV);
	if (k < 0) {
		close(fd);
		return reply_err(r, -EINVAL);
	}
	n = k ? preadv(fd, sub, k, (off_t)rd.offset) : 0;
	close(fd);
	if (n < 0)
		return reply_err(r, -errno);
	oh = (struct fuse_out_header){ .len = (uint32_t)(sizeof(oh) + (size_t)n), .unique = r->h.unique };
	if (!iov_scatter(r->out, r->nout, 0, &oh, sizeof(oh)))
		return -EBADMSG;
	return (long)oh.len;
}

static long op_write(struct req *r)
{
	struct fuse_write_in w;
	struct fuse_write_out wo = { 0 };
	struct iovec sub[UIO_MAXIOV];
	size_t data_off = sizeof(struct fuse_in_header) + sizeof(w);
	ssize_t n;
	int fd, k;

	if (!arg(r, &w, sizeof(w)))
		return reply_err(r, -EINVAL);
	/* The data must be there, inside what the request declared. */
	if (w.size > r->args_len - sizeof(w) || w.size > FUSE_PT_MAX_WRITE)
		return reply_err(r, -EINVAL);
	k = iov_sub(r->in, r->nin, data_off, w.size, sub, UIO_MAXIOV);
	if (k < 0)
		return reply_err(r, -EINVAL);
	fd = handle_fd(r->fs, w.fh, false);
	if (fd < 0)
		return reply_err(r, fd);
	n = k ? pwritev(fd, sub, k, (off_t)w.offset) : 0;
	close(fd);
	if (n < 0)
		return reply_err(r, -errno);
	wo.size = (uint32_t)n;
	return reply(r, 0, &wo, sizeof(wo));
}

static long op_statfs(struct req *r, struct inode *in)
{
	struct fuse_statfs_out o = { 0 };
	struct statfs s;

	if (fstatfs(in->fd, &s) < 0)
		return reply_err(r, -errno);
	o.st.blocks = s.f_blocks;
	o.st.bfree = s.f_bfree;
	o.st.bavail = s.f_bavail;
	o.st.files = s.f_files;
	o.st.ffree = s.f_ffree;
	o.st.bsize = (uint32_t)s.f_bsize;
	o.st.namelen = (uint32_t)s.f_namelen;
	o.st.frsize = (uint32_t)s.f_frsize;
	return reply(r, 0, &o, sizeof(o));
}

static long op_release(struct req *r, bool dir)
{
	struct fuse_release_in rl;

	if (!arg(r, &rl, sizeof(rl)))
		return reply_err(r, -EINVAL);
	return reply_err(r, handle_release(r->fs, rl.fh, dir));
}

static long op_fsync(struct req *r, bool dir)
{
	struct fuse_fsync_in f;
	int fd, err = 0;

	if (!arg(r, &f, sizeof(f)))
		return reply_err(r, -EINVAL);
	fd = handle_fd(r->fs, f.fh, dir);
	if (fd < 0)
		return reply_err(r, fd);
	if (((f.fsync_flags & FUSE_FSYNC_FDATASYNC) ? fdatasync(fd) : fsync(fd)) < 0)
		err = -errno;
	close(fd);
	return reply_err(r, err);
}

static long op_flush(struct req *r)
{
	struct fuse_flush_in f;
	int fd;

	if (!arg(r, &f, sizeof(f)))
		return reply_err(r, -EINVAL);
	fd = handle_fd(r->fs, f.fh, false);
	if (fd < 0)
		return reply_err(r, fd);
	close(fd);
	return reply_err(r, 0);
}

struct pt_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static long op_readdir(struct req *r, struct inode *dir, bool plus)
{
	static __thread uint8_t dents[32768];
	struct fuse_read_in rd;
	struct fuse_out_header oh;
	size_t room = r->out_total - sizeof(oh), used = 0;
	uint8_t *buf;
	long ret;
	int fd;
	bool full = false;

	if (!arg(r, &rd, sizeof(rd)))
		return reply_err(r, -EINVAL);
	if (rd.size < room)
		room = rd.size;
	if (room > FUSE_PT_MAX_WRITE)
		room = FUSE_PT_MAX_WRITE;
	if (rd.fh >= FUSE_PT_MAX_HANDLES)
		return reply_err(r, -EBADF);
	fd = handle_fd(r->fs, rd.fh, true);
	if (fd < 0)
		return reply_err(r, fd);
	buf = malloc(room ? room : 1);
	if (!buf) {
		close(fd);
		return reply_err(r, -ENOMEM);
	}
	/* One reader per handle at a time: the position is shared by dup'ed fds. */
	pthread_mutex_lock(&r->fs->h[rd.fh].lock);
	if (lseek(fd, (off_t)rd.offset, SEEK_SET) < 0) {
		ret = -errno;
		goto out;
	}
	while (!full) {
		long n = syscall(SYS_getdents64, fd, dents, sizeof(dents));

		if (n < 0) {
			ret = -errno;
			goto out;
		}
		if (n == 0)
			break;
		for (long off = 0; off < n;) {
			const struct pt_dirent64 *d = (const struct pt_dirent64 *)(dents + off);
			size_t nl = strlen(d->d_name);
			size_t rec = plus ? FUSE_DIRENTPLUS_SIZE(&(struct fuse_direntplus){ .dirent.namelen = (uint32_t)nl })
					  : FUSE_DIRENT_SIZE(&(struct fuse_dirent){ .namelen = (uint32_t)nl });
			struct fuse_dirent *fd_out;

			if (used + rec > room) {
				full = true;
				break;
			}
			memset(buf + used, 0, rec);
			if (plus) {
				struct fuse_direntplus *dp = (struct fuse_direntplus *)(buf + used);

				/* "." and ".." get no entry (nodeid 0): the guest skips them. */
				if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0 &&
				    do_lookup(r->fs, dir, d->d_name, &dp->entry_out) != 0)
					memset(&dp->entry_out, 0, sizeof(dp->entry_out));
				fd_out = &dp->dirent;
			} else {
				fd_out = (struct fuse_dirent *)(buf + used);
			}
			fd_out->ino = d->d_ino;
			fd_out->off = (uint64_t)d->d_off;
			fd_out->namelen = (uint32_t)nl;
			fd_out->type = d->d_type;
			memcpy(fd_out->name, d->d_name, nl);
			used += rec;
			off += d->d_reclen;
		}
		if (full) {
			/* Entries read but not sent come again next time (offsets are cookies). */
			break;
		}
	}
	ret = 0;
out:
	pthread_mutex_unlock(&r->fs->h[rd.fh].lock);
	close(fd);
	if (ret) {
		free(buf);
		return reply_err(r, (int)ret);
	}
	oh = (struct fuse_out_header){ .len = (uint32_t)(sizeof(oh) + used), .unique = r->h.unique };
	if (!iov_scatter(r->out, r->nout, 0, &oh, sizeof(oh)) || !iov_scatter(r->out, r->nout, sizeof(oh), buf, used))
		ret = -EBADMSG;
	free(buf);
	return ret ? ret : (long)oh.len;
}

static long op_access(struct req *r, struct inode *in)
{
	struct fuse_access_in a;
	char name[16];

	if (!arg(r, &a, sizeof(a)))
		return reply_err(r, -EINVAL);
	if (in->type == S_IFLNK)
		return reply_err(r, 0);
	snprintf(name, sizeof(name), "%d", in->fd);
	return reply_err(r, faccessat(r->fs->proc_fd, name, (int)(a.mask & 7), 0) < 0 ? -errno : 0);
}

static long op_fallocate(struct req *r)
{
	struct fuse_fallocate_in f;
	int fd, err = 0;

	if (!arg(r, &f, sizeof(f)))
		return reply_err(r, -EINVAL);
	fd = handle_fd(r->fs, f.fh, false);
	if (fd < 0)
		return reply_err(r, fd);
	if (fallocate(fd, (int)f.mode, (off_t)f.offset, (off_t)f.length) < 0)
		err = -errno;
	close(fd);
	return reply_err(r, err);
}

static long op_lseek(struct req *r)
{
	struct fuse_lseek_in l;
	struct fuse_lseek_out o;
	off_t res;
	int fd;

	if (!arg(r, &l, sizeof(l)))
		return reply_err(r, -EINVAL);
	if (l.whence != SEEK_DATA && l.whence != SEEK_HOLE && l.whence != SEEK_SET && l.whence != SEEK_CUR &&
	    l.whence != SEEK_END)
		return reply_err(r, -EINVAL);
	fd = handle_fd(r->fs, l.fh, false);
	if (fd < 0)
		return reply_err(r, fd);
	res = lseek(fd, (off_t)l.offset, (int)l.whence);
	close(fd);
	if (res < 0)
		return reply_err(r, -errno);
	o.offset = (uint64_t)res;
	return reply(r, 0, &o, sizeof(o));
}

static long op_copy_file_range(struct req *r)
{
	struct fuse_copy_file_range_in c;
	struct fuse_write_out o = { 0 };
	loff_t oin, oout;
	ssize_t n;
	int fin, fout;

	if (!arg(r, &c, sizeof(c)))
		return reply_err(r, -EINVAL);
	fin = handle_fd(r->fs, c.fh_in, false);
	if (fin < 0)
		return reply_err(r, fin);
	fout = handle_fd(r->fs, c.fh_out, false);
	if (fout < 0) {
		close(fin);
		return reply_err(r, fout);
	}
	oin = (loff_t)c.off_in;
	oout = (loff_t)c.off_out;
	n = copy_file_range(fin, &oin, fout, &oout, c.len > UINT32_MAX ? UINT32_MAX : (size_t)c.len, 0);
	close(fin);
	close(fout);
	if (n < 0)
		return reply_err(r, -errno);
	o.size = (uint32_t)n;
	return reply(r, 0, &o, sizeof(o));
}

/* xattrs through a short-lived real descriptor (O_PATH has none). */
static long op_xattr(struct req *r, struct inode *in, uint32_t op)
{
	static __thread char val[XATTR_SIZE_MAX];
	struct fuse_getxattr_in g = { 0 };
	struct fuse_setxattr_in s = { 0 };
	size_t off = 0;
	const char *name = NULL;
	ssize_t n = 0;
	long ret;
	int fd;

	if (op == FUSE_GETXATTR || op == FUSE_LISTXATTR) {
		if (!arg(r, &g, sizeof(g)))
			return reply_err(r, -EINVAL);
		off = sizeof(g);
	} else if (op == FUSE_SETXATTR) {
		/* FUSE_SETXATTR_EXT is not negotiated: the 8-byte form. */
		if (!arg(r, &s, FUSE_COMPAT_SETXATTR_IN_SIZE))
			return reply_err(r, -EINVAL);
		off = FUSE_COMPAT_SETXATTR_IN_SIZE;
	}
	if (op != FUSE_LISTXATTR && (!(name = arg_str(r, &off)) || !*name))
		return reply_err(r, -EINVAL);
	if (op == FUSE_SETXATTR && (s.size > XATTR_SIZE_MAX || s.size > r->args_have - off))
		return reply_err(r, -EINVAL);
	fd = reopen(r->fs, in, O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return reply_err(r, fd == -ELOOP ? -EOPNOTSUPP : fd);
	switch (op) {
	case FUSE_GETXATTR:
		n = fgetxattr(fd, name, val, g.size > sizeof(val) ? sizeof(val) : g.size);
		break;
	case FUSE_LISTXATTR:
		n = flistxattr(fd, val, g.size > sizeof(val) ? sizeof(val) : g.size);
		break;
	case FUSE_SETXATTR:
		n = fsetxattr(fd, name, r->args + off, s.size, (int)s.flags);
		break;
	default:
		n = fremovexattr(fd, name);
		break;
	}
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return reply_err(r, (int)n);
	if (op == FUSE_SETXATTR || op == FUSE_REMOVEXATTR)
		return reply_err(r, 0);
	if (g.size == 0) {
		struct fuse_getxattr_out o = { .size = (uint32_t)n };

		return reply(r, 0, &o, sizeof(o));
	}
	ret = reply(r, 0, val, (size_t)n);
	return ret;
}

/* SYNCFS (sent on the guest's sync): the host file system the inode is on. */
static long op_syncfs(struct req *r, struct inode *in)
{
	int fd = reopen(r->fs, in, O_RDONLY | O_NONBLOCK), err = 0;

	if (fd < 0)
		return reply_err(r, fd);
	if (syncfs(fd) < 0)
		err = -errno;
	close(fd);
	return reply_err(r, err);
}

static long op_destroy(struct req *r)
{
	fuse_pt_reset(r->fs);
	return reply_err(r, 0);
}

void fuse_pt_reset(struct fuse_pt *fs)
{
	pthread_mutex_lock(&fs->hlock);
	for (unsigned i = 0; i < FUSE_PT_MAX_HANDLES; i++)
		if (fs->h[i].fd >= 0) {
			close(fs->h[i].fd);
			fs->h[i].fd = -1;
		}
	fs->nhandles = 0;
	pthread_mutex_unlock(&fs->hlock);
	pthread_mutex_lock(&fs->ilock);
	for (unsigned i = 0; i < INODE_BUCKETS; i++)
		for (struct inode *in = fs->by_id[i], *next; in; in = next) {
			next = in->next_id;
			in->nlookup = 0;
			if (!in->refs && in != fs->root)
				unlink_inode(fs, in);
		}
	__atomic_store_n(&fs->initialized, false, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&fs->ilock);
}

/* Opcodes that address an inode (h.nodeid) we must find first. */
static bool needs_inode(uint32_t op)
{
	switch (op) {
	case FUSE_LOOKUP: case FUSE_GETATTR: case FUSE_SETATTR: case FUSE_READLINK: case FUSE_SYMLINK:
	case FUSE_MKNOD: case FUSE_MKDIR: case FUSE_UNLINK: case FUSE_RMDIR: case FUSE_RENAME: case FUSE_RENAME2:
	case FUSE_LINK: case FUSE_OPEN: case FUSE_OPENDIR: case FUSE_READDIR: case FUSE_READDIRPLUS:
	case FUSE_STATFS: case FUSE_ACCESS: case FUSE_CREATE: case FUSE_GETXATTR: case FUSE_SETXATTR:
	case FUSE_LISTXATTR: case FUSE_REMOVEXATTR: case FUSE_SYNCFS:
		return true;
	default:
		return false;
	}
}

static bool dir_op(uint32_t op)
{
	switch (op) {
	case FUSE_LOOKUP: case FUSE_SYMLINK: case FUSE_MKNOD: case FUSE_MKDIR: case FUSE_UNLINK: case FUSE_RMDIR:
	case FUSE_RENAME: case FUSE_RENAME2: case FUSE_LINK: case FUSE_CREATE: case FUSE_READDIR:
	case FUSE_READDIRPLUS:
		return true;
	default:
		return false;
	}
}

static long dispatch(struct req *r, struct inode *in)
{
	switch (r->h.opcode) {
	case FUSE_LOOKUP: return op_lookup(r, in);
	case FUSE_GETATTR: return op_getattr(r, in);
	case FUSE_SETATTR: return op_setattr(r, in);
	case FUSE_READLINK: return op_readlink(r, in);
	case FUSE_SYMLINK: return op_symlink(r, in);
	case FUSE_MKNOD: return op_mknod(r, in);
	case FUSE_MKDIR: return op_mkdir(r, in);
	case FUSE_UNLINK: return op_unlink(r, in, false);
	case FUSE_RMDIR: return op_unlink(r, in, true);
	case FUSE_RENAME: return op_rename(r, in, false);
	case FUSE_RENAME2: return op_rename(r, in, true);
	case FUSE_LINK: return op_link(r, in);
	case FUSE_OPEN: return op_open(r, in, false);
	case FUSE_OPENDIR: return op_open(r, in, true);
	case FUSE_READ: return op_read(r);
	case FUSE_WRITE: return op_write(r);
	case FUSE_STATFS: return op_statfs(r, in);
	case FUSE_RELEASE: return op_release(r, false);
	case FUSE_RELEASEDIR: return op_release(r, true);
	case FUSE_FSYNC: return op_fsync(r, false);
	case FUSE_FSYNCDIR: return op_fsync(r, true);
	case FUSE_FLUSH: return op_flush(r);
	case FUSE_READDIR: return op_readdir(r, in, false);
	case FUSE_READDIRPLUS: return op_readdir(r, in, true);
	case FUSE_ACCESS: return op_access(r, in);
	case FUSE_CREATE: return op_create(r, in);
	case FUSE_FALLOCATE: return op_fallocate(r);
	case FUSE_LSEEK: return op_lseek(r);
	case FUSE_COPY_FILE_RANGE: return op_copy_file_range(r);
	case FUSE_GETXATTR: case FUSE_SETXATTR: case FUSE_LISTXATTR: case FUSE_REMOVEXATTR:
		return op_xattr(r, in, r->h.opcode);
	case FUSE_SYNCFS: return op_syncfs(r, in);
	case FUSE_DESTROY: return op_destroy(r);
	default: return reply_err(r, -ENOSYS);
	}
}

static long handle(struct fuse_pt *fs, const struct iovec *in, unsigned nin, const struct iovec *out, unsigned nout,
		   bool hiprio)
{
	struct req r = { .fs = fs, .in = in, .nin = nin, .out = out, .nout = nout, .args = argbuf };
	size_t in_total = iov_total(in, nin);
	struct inode *ino = NULL;
	bool noreply;
	long ret;

	r.out_total = iov_total(out, nout);
	if (!iov_gather(in, nin, 0, &r.h, sizeof(r.h)))
		return -EBADMSG;
	if (r.h.len < sizeof(r.h) || r.h.len > in_total)
		return -EBADMSG;
	noreply = r.h.opcode == FUSE_FORGET || r.h.opcode == FUSE_BATCH_FORGET || r.h.opcode == FUSE_INTERRUPT;
	if (!noreply && r.out_total < sizeof(struct fuse_out_header))
		return -EBADMSG;
	r.args_len = r.h.len - sizeof(r.h);
	/* WRITE data stays in the guest's buffers: copy only its header. */
	r.args_have = r.h.opcode == FUSE_WRITE && r.args_len > sizeof(struct fuse_write_in) ? sizeof(struct fuse_write_in)
											 : r.args_len;
	if (r.args_have > ARGS_MAX)
		r.args_have = ARGS_MAX;
	if (!iov_gather(in, nin, sizeof(r.h), argbuf, r.args_have))
		return -EBADMSG;
	/* The high-priority queue carries only requests without replies. */
	if (hiprio && !noreply)
		return reply_err(&r, -ENOSYS);
	if (r.h.opcode == FUSE_INIT)
		return op_init(&r);
	if (!__atomic_load_n(&fs->initialized, __ATOMIC_ACQUIRE))
		return noreply ? 0 : reply_err(&r, -EIO);
	if (r.h.opcode == FUSE_FORGET)
		return op_forget(&r);
	if (r.h.opcode == FUSE_BATCH_FORGET)
		return op_batch_forget(&r);
	if (r.h.opcode == FUSE_INTERRUPT)
		return 0;
	if (needs_inode(r.h.opcode)) {
		ino = inode_get(fs, r.h.nodeid);
		if (!ino)
			return reply_err(&r, -ENOENT);
		if (dir_op(r.h.opcode) && ino->type != S_IFDIR) {
			inode_put(fs, ino, 0);
			return reply_err(&r, -ENOTDIR);
		}
	}
	ret = dispatch(&r, ino);
	inode_put(fs, ino, 0);
	return ret;
}

long fuse_pt_handle(struct fuse_pt *fs, const struct iovec *in, unsigned nin, const struct iovec *out, unsigned nout)
{
	return handle(fs, in, nin, out, nout, false);
}

long fuse_pt_handle_hiprio(struct fuse_pt *fs, const struct iovec *in, unsigned nin, const struct iovec *out,
			   unsigned nout)
{
	return handle(fs, in, nin, out, nout, true);
}
