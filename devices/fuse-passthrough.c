/* SPDX-License-Identifier: MIT */
/* The passthrough file system (fuse-passthrough.h): typed FUSE operations as host system calls. */
#include "devices/fuse-passthrough.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>
#include "devices/fuse-inodes.h"
#include "lib/log.h"

#define TIMEOUT_AUTO_S 1         /* host-side changes show within a second */
#define TIMEOUT_ALWAYS_S 86400

struct handle {
	int fd;                  /* -1: slot free */
	bool dir;
	bool append;             /* opened O_APPEND */
	bool live;               /* not released: new requests may use it */
	unsigned refs;           /* requests using it now */
	struct fuse_inode *in;   /* held (a reference) while the handle exists */
	pthread_mutex_t pos;     /* directory position: one reader at a time */
};

struct fuse_pt {
	struct fuse_server srv;
	struct fuse_inodes inodes;
	struct fuse_options opt;
	int proc_fd;             /* /proc/self/fd, O_PATH */
	bool creds;              /* may switch fsuid/fsgid (CAP_SETUID and CAP_SETGID) */
	bool fsetid;             /* holds CAP_FSETID (so has to drop it for KILL_SUIDGID) */
	/* the session (written by INIT while no other request runs) */
	bool writeback, killpriv, submounts;
	pthread_mutex_t hlock;
	unsigned nhandles, hnext;
	struct handle h[FUSE_PT_MAX_HANDLES];
};

static inline struct fuse_pt *PT(void *fs) { return fs; }
static inline struct fuse_inode *IN(struct fuse_node *n) { return (struct fuse_inode *)n; }

/* ---- credentials of the serving thread ---- */

/*
 * What this thread runs with: its fsuid/fsgid and whether CAP_FSETID is out
 * of its effective set. Switched only when a request needs something else,
 * so a queue thread serving one guest user pays nothing per request.
 */
static __thread struct {
	bool ready;
	uid_t uid;
	gid_t gid;
	bool fsetid_off;
	bool group_on;     /* one supplementary group: `group` */
	gid_t group;
	struct __user_cap_data_struct caps[2];
} tc;

static void thread_ready(struct fuse_pt *fs)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };

	if (tc.ready)
		return;
	tc.ready = true;
	tc.uid = (uid_t)syscall(SYS_setfsuid, -1);
	tc.gid = (gid_t)syscall(SYS_setfsgid, -1);
	/*
	 * A file system of its own for this thread, with umask 0: the guest
	 * applied its process's umask already, the monitor's must not be
	 * applied on top.
	 */
	if (unshare(CLONE_FS) == 0)
		umask(0);
	if (fs->creds && syscall(SYS_setgroups, 0, NULL) < 0)
		log_errno(errno, "virtio-fs: dropping supplementary groups of a queue thread");
	if (fs->fsetid && syscall(SYS_capget, &hdr, tc.caps) < 0)
		memset(tc.caps, 0, sizeof(tc.caps));
}

/* Guest id -> host id through one mapped range (identity outside it). */
static uint32_t to_host(const struct fuse_idmap *m, uint32_t id)
{
	return m->count && id >= m->guest && id - m->guest < m->count ? m->host + (id - m->guest) : id;
}

static uint32_t to_guest(const struct fuse_idmap *m, uint32_t id)
{
	return m->count && id >= m->host && id - m->host < m->count ? m->guest + (id - m->host) : id;
}

/* fsuid/fsgid for this thread (no-op unless the monitor may switch). false: the switch failed. */
static bool set_ids(struct fuse_pt *fs, uid_t uid, gid_t gid)
{
	if (!fs->creds)
		return true;
	thread_ready(fs);
	if (tc.gid != gid) {
		syscall(SYS_setfsgid, gid);
		tc.gid = (gid_t)syscall(SYS_setfsgid, -1);
	}
	if (tc.uid != uid) {
		syscall(SYS_setfsuid, uid);
		tc.uid = (uid_t)syscall(SYS_setfsuid, -1);
		/* Leaving fsuid 0 drops the file capabilities, coming back raises them (capabilities(7)). */
		tc.fsetid_off = tc.uid != 0;
	}
	return tc.uid == uid && tc.gid == gid;
}

/*
 * This thread's supplementary groups: none, or the one group the guest
 * named for a create (FUSE_EXT_GROUPS: the directory's group, which the
 * caller holds as a supplementary group). setgroups(2) as a raw system
 * call is per thread (glibc's wrapper would change every thread).
 */
static bool set_group(const struct fuse_ctx *ctx, gid_t g)
{
	bool want = ctx && ctx->has_supp_gid;

	if (want == tc.group_on && (!want || g == tc.group))
		return true;
	if (syscall(SYS_setgroups, want ? 1 : 0, want ? &g : NULL) < 0)
		return false;
	tc.group_on = want;
	tc.group = g;
	return true;
}

/* Run the next calls as the guest caller ... */
static int as_caller(struct fuse_pt *fs, const struct fuse_ctx *ctx)
{
	thread_ready(fs);
	if (fs->creds && !set_group(ctx, to_host(&fs->opt.gidmap, ctx->supp_gid)))
		return -EPERM;
	return set_ids(fs, to_host(&fs->opt.uidmap, ctx->uid), to_host(&fs->opt.gidmap, ctx->gid)) ? 0 : -EPERM;
}

/* ... and as the monitor again. */
static void as_monitor(struct fuse_pt *fs)
{
	bool ids, groups;

	if (!fs->creds)
		return;
	ids = set_ids(fs, 0, 0);
	groups = set_group(NULL, 0);
	if (!ids || !groups)
		log_msg("virtio-fs: cannot switch a queue thread back to fsuid 0 without groups");
}

/*
 * With `keep` false the next calls run without CAP_FSETID, so the host
 * kernel drops set-user/group-ID bits on write, truncate and chown as it
 * would for an unprivileged caller (the guest asked: KILL_SUIDGID).
 */
static void fsetid(struct fuse_pt *fs, bool keep)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (!fs->fsetid)
		return;
	thread_ready(fs);
	if (tc.uid != 0 || tc.fsetid_off == !keep)
		return; /* a thread with fsuid != 0 has no CAP_FSETID anyway */
	memcpy(d, tc.caps, sizeof(d));
	if (!keep)
		d[CAP_TO_INDEX(CAP_FSETID)].effective &= ~CAP_TO_MASK(CAP_FSETID);
	if (syscall(SYS_capset, &hdr, d) == 0)
		tc.fsetid_off = !keep;
}

/* Does this process hold capability cap in its effective set? */
static bool have_cap(int cap)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &hdr, d) < 0)
		return false;
	return (d[CAP_TO_INDEX(cap)].effective & CAP_TO_MASK(cap)) != 0;
}

/* ---- handles ---- */

static int handle_new(struct fuse_pt *fs, int fd, bool dir, struct fuse_inode *in, uint64_t *fh)
{
	pthread_mutex_lock(&fs->hlock);
	for (unsigned n = 0; n < FUSE_PT_MAX_HANDLES; n++) {
		unsigned i = (fs->hnext + n) % FUSE_PT_MAX_HANDLES;
		struct handle *h = &fs->h[i];

		if (h->fd >= 0)
			continue;
		h->fd = fd;
		h->dir = dir;
		h->append = !dir && (fcntl(fd, F_GETFL) & O_APPEND);
		h->live = true;
		h->refs = 0;
		h->in = in;
		fs->nhandles++;
		fs->hnext = i + 1;
		pthread_mutex_unlock(&fs->hlock);
		fuse_inodes_hold(&fs->inodes, in);
		*fh = i;
		return 0;
	}
	pthread_mutex_unlock(&fs->hlock);
	close(fd);
	return -EMFILE;
}

/*
 * The live handle fh of the right kind with a reference taken, or NULL;
 * with `in`, only a handle opened on that inode (a request that names both
 * a node and a handle must not mix two objects).
 */
static struct handle *handle_of(struct fuse_pt *fs, uint64_t fh, bool dir, const struct fuse_inode *in)
{
	struct handle *h = NULL;

	if (fh >= FUSE_PT_MAX_HANDLES)
		return NULL;
	pthread_mutex_lock(&fs->hlock);
	if (fs->h[fh].fd >= 0 && fs->h[fh].live && fs->h[fh].dir == dir && (!in || fs->h[fh].in == in)) {
		h = &fs->h[fh];
		h->refs++;
	}
	pthread_mutex_unlock(&fs->hlock);
	return h;
}

static struct handle *handle_get(struct fuse_pt *fs, uint64_t fh, bool dir) { return handle_of(fs, fh, dir, NULL); }

/* Close a released handle nobody uses any more (hlock held); returns its inode to put. */
static struct fuse_inode *handle_close_locked(struct fuse_pt *fs, struct handle *h)
{
	struct fuse_inode *in = h->in;

	close(h->fd);
	h->fd = -1;
	h->in = NULL;
	(void)fs;
	return in;
}

static void handle_put(struct fuse_pt *fs, struct handle *h)
{
	struct fuse_inode *in = NULL;

	pthread_mutex_lock(&fs->hlock);
	if (!--h->refs && !h->live)
		in = handle_close_locked(fs, h);
	pthread_mutex_unlock(&fs->hlock);
	fuse_inodes_put(&fs->inodes, in);
}

static int handle_release(struct fuse_pt *fs, uint64_t fh, bool dir)
{
	struct fuse_inode *in = NULL;
	int err = -EBADF;

	if (fh >= FUSE_PT_MAX_HANDLES)
		return -EBADF;
	pthread_mutex_lock(&fs->hlock);
	if (fs->h[fh].fd >= 0 && fs->h[fh].live && fs->h[fh].dir == dir) {
		fs->h[fh].live = false;
		fs->nhandles--;
		if (!fs->h[fh].refs)
			in = handle_close_locked(fs, &fs->h[fh]);
		err = 0;
	}
	pthread_mutex_unlock(&fs->hlock);
	fuse_inodes_put(&fs->inodes, in);
	return err;
}

static void handles_close_all(struct fuse_pt *fs)
{
	for (unsigned i = 0; i < FUSE_PT_MAX_HANDLES; i++) {
		struct fuse_inode *in = NULL;

		pthread_mutex_lock(&fs->hlock);
		if (fs->h[i].fd >= 0 && fs->h[i].live) {
			fs->h[i].live = false;
			fs->nhandles--;
			if (!fs->h[i].refs)
				in = handle_close_locked(fs, &fs->h[i]);
		}
		pthread_mutex_unlock(&fs->hlock);
		fuse_inodes_put(&fs->inodes, in);
	}
}

unsigned fuse_pt_handle_count(struct fuse_pt *fs)
{
	unsigned n;

	pthread_mutex_lock(&fs->hlock);
	n = fs->nhandles;
	pthread_mutex_unlock(&fs->hlock);
	return n;
}

unsigned fuse_pt_inode_count(struct fuse_pt *fs)
{
	struct fuse_inodes_stats st;

	fuse_inodes_stats(&fs->inodes, &st);
	return st.inodes;
}

void fuse_pt_stats(struct fuse_pt *fs, struct fuse_pt_stats *out)
{
	struct fuse_inodes_stats st;

	fuse_inodes_stats(&fs->inodes, &st);
	*out = (struct fuse_pt_stats){ .inodes = st.inodes, .path_fds = st.fds, .path_fds_high = st.fds_high,
				       .handles = fuse_pt_handle_count(fs), .evicted = st.evicted,
				       .reopened = st.reopened, .refused = st.refused, .gone = st.gone,
				       .file_handles = st.handles,
				       .creds = fs->creds };
}

/* ---- helpers ---- */

static unsigned timeout_s(const struct fuse_pt *fs)
{
	return fs->opt.cache == FUSE_CACHE_NEVER ? 0 : fs->opt.cache == FUSE_CACHE_ALWAYS ? TIMEOUT_ALWAYS_S : TIMEOUT_AUTO_S;
}

/*
 * The inode number the guest sees: the host's. Without submounts, objects
 * of other host devices get their device index in the top 16 bits, so that
 * two files never share a number (as long as host numbers stay below 2^48).
 */
static uint64_t guest_ino(const struct fuse_pt *fs, unsigned devidx, uint64_t ino)
{
	if (devidx == 0 || fs->submounts)
		return ino;
	return (uint64_t)devidx << 48 | (ino & ((1ULL << 48) - 1));
}

static void fill_attr(const struct fuse_pt *fs, const struct fuse_inode *in, const struct stat *st, struct fuse_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->ino = guest_ino(fs, in->devidx, st->st_ino);
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
	a->uid = to_guest(&fs->opt.uidmap, st->st_uid);
	a->gid = to_guest(&fs->opt.gidmap, st->st_gid);
	a->rdev = (uint32_t)st->st_rdev;
	a->blksize = (uint32_t)st->st_blksize;
	if (fs->submounts && in->submount)
		a->flags |= FUSE_ATTR_SUBMOUNT;
}

static int stat_fd(int fd, struct stat *st)
{
	return fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

/* The inode's O_PATH descriptor (see fuse_inodes_fd()). */
static int ifd(struct fuse_pt *fs, struct fuse_inode *in)
{
	return fuse_inodes_fd(&fs->inodes, in);
}

/* "/proc/self/fd/N"-relative name of an O_PATH descriptor, for calls that take a path. */
static void fd_name(char *buf, size_t len, int fd)
{
	snprintf(buf, len, "%d", fd);
}

/*
 * Look name up under dir and fill an entry reply (one more guest lookup).
 * O_PATH|O_NOFOLLOW: a symlink is held as itself, never followed. ".." at
 * the root is the root.
 */
static int do_lookup(struct fuse_pt *fs, struct fuse_inode *dir, const char *name, struct fuse_entry_out *e)
{
	struct fuse_inode *in;
	struct stat st;
	int dfd = ifd(fs, dir), fd, err;

	if (dfd < 0)
		return dfd;
	if (strcmp(name, ".") == 0 || (strcmp(name, "..") == 0 && dir == fs->inodes.root))
		fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
	else
		fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = stat_fd(fd, &st);
	if (err) {
		close(fd);
		return err;
	}
	err = fuse_inodes_adopt(&fs->inodes, fd, &st, dir, &in);
	if (err) {
		if (err == -ENFILE)
			log_guest("virtio-fs: inode table full (%u inodes, %u descriptors): lookup refused with ENFILE "
				  "until the guest forgets inodes", fs->inodes.max_inodes, fs->inodes.max_fds);
		return err;
	}
	memset(e, 0, sizeof(*e));
	e->nodeid = in->nodeid;
	e->entry_valid = e->attr_valid = timeout_s(fs);
	fill_attr(fs, in, &st, &e->attr);
	fuse_inodes_put(&fs->inodes, in);
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
	fd_name(name, sizeof(name), pfd);
	fd = openat(fs->proc_fd, name, (flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_NOFOLLOW)) | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int reopen(struct fuse_pt *fs, struct fuse_inode *in, int flags)
{
	int pfd = ifd(fs, in);

	return pfd < 0 ? pfd : reopen_fd(fs, pfd, in->type, flags);
}

/* Open flags the guest may pass on; with write-back caching the guest also reads write-only files and appends itself. */
static int open_flags(const struct fuse_pt *fs, uint32_t f)
{
	int fl = (int)(f & (O_ACCMODE | O_APPEND | O_TRUNC | O_SYNC | O_DSYNC | O_NONBLOCK | O_NOATIME | O_DIRECTORY));

	if (fs->writeback) {
		if ((fl & O_ACCMODE) == O_WRONLY)
			fl = (fl & ~O_ACCMODE) | O_RDWR;
		fl &= ~O_APPEND;
	}
	return fl;
}

static void open_reply(const struct fuse_pt *fs, bool dir, struct fuse_open_out *o)
{
	if (fs->opt.cache == FUSE_CACHE_NEVER && !dir)
		o->open_flags |= FOPEN_DIRECT_IO;
	if (fs->opt.cache == FUSE_CACHE_ALWAYS)
		o->open_flags |= dir ? FOPEN_CACHE_DIR | FOPEN_KEEP_CACHE : FOPEN_KEEP_CACHE;
}

/* ---- nodes and session ---- */

static struct fuse_node *pt_get(void *fs, uint64_t nodeid, mode_t *type)
{
	struct fuse_inode *in = fuse_inodes_get(&PT(fs)->inodes, nodeid);

	if (in)
		*type = in->type;
	return (struct fuse_node *)in;
}

static void pt_put(void *fs, struct fuse_node *n) { fuse_inodes_put(&PT(fs)->inodes, IN(n)); }

static void pt_forget(void *fs, uint64_t nodeid, uint64_t nlookup)
{
	fuse_inodes_forget(&PT(fs)->inodes, nodeid, nlookup);
}

static void pt_session(void *f, const struct fuse_session *s)
{
	struct fuse_pt *fs = f;

	if (s) {
		fs->writeback = (s->flags & FUSE_WRITEBACK_CACHE) != 0;
		fs->killpriv = (s->flags & FUSE_HANDLE_KILLPRIV_V2) != 0;
		fs->submounts = (s->flags & FUSE_SUBMOUNTS) != 0;
		return;
	}
	handles_close_all(fs);
	fuse_inodes_reset(&fs->inodes);
}

/* ---- names ---- */

static int pt_lookup(void *fs, const struct fuse_ctx *ctx, struct fuse_node *dir, const char *name,
		     struct fuse_entry_out *e)
{
	(void)ctx;
	return do_lookup(fs, IN(dir), name, e);
}

/* After a create-type call (err from it): look the new name up and fill its entry. */
static int entry_of(struct fuse_pt *fs, struct fuse_inode *dir, const char *name, int err, struct fuse_entry_out *e)
{
	return err ? err : do_lookup(fs, dir, name, e);
}

static int pt_mknod(void *f, const struct fuse_ctx *ctx, struct fuse_node *dir, const char *name, mode_t mode,
		    dev_t rdev, mode_t umask, struct fuse_entry_out *e)
{
	struct fuse_pt *fs = f;
	mode_t type = mode & S_IFMT;
	int dfd = ifd(fs, IN(dir)), err;

	if (dfd < 0)
		return dfd;
	/* No device nodes in a share unless it says devnodes (docs/threat-model.md). */
	if ((type == S_IFCHR || type == S_IFBLK) && !fs->opt.devnodes)
		return -EPERM;
	/*
	 * rdev is the guest's new_encode_dev() of the numbers: for majors below
	 * 4096 and minors below 2^20 (all the guest can encode in 32 bits) that
	 * is the host's dev_t of the same numbers.
	 */
	err = as_caller(fs, ctx);
	if (!err && mknodat(dfd, name, mode & ~(umask & 07777), type == S_IFCHR || type == S_IFBLK ? rdev : 0) < 0)
		err = -errno;
	as_monitor(fs);
	return entry_of(fs, IN(dir), name, err, e);
}

static int pt_mkdir(void *f, const struct fuse_ctx *ctx, struct fuse_node *dir, const char *name, mode_t mode,
		    mode_t umask, struct fuse_entry_out *e)
{
	struct fuse_pt *fs = f;
	int dfd = ifd(fs, IN(dir)), err;

	if (dfd < 0)
		return dfd;
	err = as_caller(fs, ctx);
	if (!err && mkdirat(dfd, name, mode & ~umask & 07777) < 0)
		err = -errno;
	as_monitor(fs);
	return entry_of(fs, IN(dir), name, err, e);
}

static int pt_symlink(void *f, const struct fuse_ctx *ctx, struct fuse_node *dir, const char *name,
		      const char *target, struct fuse_entry_out *e)
{
	struct fuse_pt *fs = f;
	int dfd = ifd(fs, IN(dir)), err;

	if (dfd < 0)
		return dfd;
	err = as_caller(fs, ctx);
	/* The target is stored as given, never resolved by us. */
	if (!err && symlinkat(target, dfd, name) < 0)
		err = -errno;
	as_monitor(fs);
	return entry_of(fs, IN(dir), name, err, e);
}

static int pt_link(void *f, const struct fuse_ctx *ctx, struct fuse_node *old, struct fuse_node *newdir,
		   const char *newname, struct fuse_entry_out *e)
{
	struct fuse_pt *fs = f;
	int ofd = ifd(fs, IN(old)), dfd = ifd(fs, IN(newdir)), err = 0;
	char path[40];

	(void)ctx;
	if (ofd < 0 || dfd < 0)
		return ofd < 0 ? ofd : dfd;
	if (IN(old)->type == S_IFDIR)
		return -EPERM;
	if (linkat(ofd, "", dfd, newname, AT_EMPTY_PATH) < 0) {
		/* Without CAP_DAC_READ_SEARCH: the same inode through /proc. */
		snprintf(path, sizeof(path), "/proc/self/fd/%d", ofd);
		if (errno != ENOENT || linkat(AT_FDCWD, path, dfd, newname, AT_SYMLINK_FOLLOW) < 0)
			err = -errno;
	}
	return entry_of(fs, IN(newdir), newname, err, e);
}

static int pt_unlink(void *f, const struct fuse_ctx *ctx, struct fuse_node *dir, const char *name)
{
	int dfd = ifd(f, IN(dir));

	(void)ctx;
	if (dfd < 0)
		return dfd;
	/* What unlink(2) says for these (the guest never sends them). */
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return -EISDIR;
	return unlinkat(dfd, name, 0) < 0 ? -errno : 0;
}

static int pt_rmdir(void *f, const struct fuse_ctx *ctx, struct fuse_node *dir, const char *name)
{
	int dfd = ifd(f, IN(dir));

	(void)ctx;
	if (dfd < 0)
		return dfd;
	/* What rmdir(2) says for these. */
	if (!strcmp(name, "."))
		return -EINVAL;
	if (!strcmp(name, ".."))
		return -ENOTEMPTY;
	return unlinkat(dfd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

static int pt_rename(void *f, const struct fuse_ctx *ctx, struct fuse_node *dir, const char *name,
		     struct fuse_node *newdir, const char *newname, uint32_t flags)
{
	int ofd = ifd(f, IN(dir)), nfd = ifd(f, IN(newdir));

	(void)ctx;
	if (ofd < 0 || nfd < 0)
		return ofd < 0 ? ofd : nfd;
	/* rename(2) of "." or ".." is EBUSY. */
	if (!strcmp(name, ".") || !strcmp(name, "..") || !strcmp(newname, ".") || !strcmp(newname, ".."))
		return -EBUSY;
	return syscall(SYS_renameat2, ofd, name, nfd, newname, flags) < 0 ? -errno : 0;
}

/* ---- attributes ---- */

static int attr_of(struct fuse_pt *fs, struct fuse_inode *in, int fd, struct fuse_attr_out *o)
{
	struct stat st;
	int err = stat_fd(fd, &st);

	if (err)
		return err;
	o->attr_valid = timeout_s(fs);
	fill_attr(fs, in, &st, &o->attr);
	return 0;
}

static int pt_getattr(void *f, const struct fuse_ctx *ctx, struct fuse_node *n, const uint64_t *fh,
		      struct fuse_attr_out *o)
{
	struct fuse_pt *fs = f;
	struct handle *h;
	int fd, err;

	(void)ctx;
	/*
	 * Through the open file when the guest names one of this inode: it works
	 * for a file unlinked meanwhile.
	 */
	if (fh && (h = handle_of(fs, *fh, false, IN(n))) != NULL) {
		err = attr_of(fs, IN(n), h->fd, o);
		handle_put(fs, h);
		return err;
	}
	fd = ifd(fs, IN(n));
	return fd < 0 ? fd : attr_of(fs, IN(n), fd, o);
}

static int set_times(struct fuse_pt *fs, const char *name, const struct fuse_setattr_in *s)
{
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };

	if (s->valid & FATTR_ATIME_NOW)
		ts[0].tv_nsec = UTIME_NOW;
	else if (s->valid & FATTR_ATIME)
		ts[0] = (struct timespec){ (time_t)s->atime, s->atimensec };
	if (s->valid & FATTR_MTIME_NOW)
		ts[1].tv_nsec = UTIME_NOW;
	else if (s->valid & FATTR_MTIME)
		ts[1] = (struct timespec){ (time_t)s->mtime, s->mtimensec };
	/* Through /proc/self/fd: the object itself, a symlink included (touch -h). */
	return utimensat(fs->proc_fd, name, ts, 0) < 0 ? -errno : 0;
}

static int pt_setattr(void *f, const struct fuse_ctx *ctx, struct fuse_node *n, const struct fuse_setattr_in *s,
		      struct fuse_attr_out *o)
{
	struct fuse_pt *fs = f;
	struct fuse_inode *in = IN(n);
	struct handle *h = NULL;
	bool kill = fs->killpriv && (s->valid & FATTR_KILL_SUIDGID);
	char name[16];
	int pfd = ifd(fs, in), err = 0;

	if (pfd < 0)
		return pfd;
	/*
	 * Nanoseconds the host would refuse too (utimensat: EINVAL), refused
	 * before anything changes (two values above 999,999,999 are UTIME_NOW
	 * and UTIME_OMIT to the host).
	 */
	if (((s->valid & FATTR_ATIME) && !(s->valid & FATTR_ATIME_NOW) && s->atimensec >= 1000000000u) ||
	    ((s->valid & FATTR_MTIME) && !(s->valid & FATTR_MTIME_NOW) && s->mtimensec >= 1000000000u))
		return -EINVAL;
	fd_name(name, sizeof(name), pfd);
	if ((s->valid & FATTR_FH) && (s->valid & FATTR_SIZE)) {
		h = handle_of(fs, s->fh, false, in);
		if (!h)
			return -EBADF;
	}
	if (s->valid & FATTR_MODE) {
		fsetid(fs, true);
		if (in->type == S_IFLNK)
			err = -EOPNOTSUPP; /* as fchmodat(AT_SYMLINK_NOFOLLOW) */
		else if (fchmodat(fs->proc_fd, name, s->mode & 07777, 0) < 0)
			err = -errno;
	}
	if (!err && (s->valid & (FATTR_UID | FATTR_GID))) {
		uid_t u = (s->valid & FATTR_UID) ? to_host(&fs->opt.uidmap, s->uid) : (uid_t)-1;
		gid_t g = (s->valid & FATTR_GID) ? to_host(&fs->opt.gidmap, s->gid) : (gid_t)-1;

		/* The guest asks to kill on every chown; a root caller keeps set-group-ID as locally. */
		fsetid(fs, !kill || ctx->uid == 0);
		if (fchownat(pfd, "", u, g, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			err = -errno;
	}
	if (!err && (s->valid & FATTR_SIZE)) {
		if (in->type != S_IFREG) {
			err = in->type == S_IFDIR ? -EISDIR : -EINVAL;
		} else {
			int tfd = h ? h->fd : reopen_fd(fs, pfd, in->type, O_WRONLY);

			fsetid(fs, !kill);
			if (tfd < 0)
				err = tfd;
			else if (ftruncate(tfd, (off_t)s->size) < 0)
				err = -errno;
			if (!h && tfd >= 0)
				close(tfd);
		}
	}
	if (!err && (s->valid & (FATTR_ATIME | FATTR_MTIME | FATTR_ATIME_NOW | FATTR_MTIME_NOW)))
		err = set_times(fs, name, s);
	if (h)
		handle_put(fs, h);
	return err ? err : attr_of(fs, in, pfd, o);
}

static long pt_readlink(void *fs, const struct fuse_ctx *ctx, struct fuse_node *n, char *buf, size_t cap)
{
	int fd = ifd(fs, IN(n));
	ssize_t len;

	(void)ctx;
	if (fd < 0)
		return fd;
	if (IN(n)->type != S_IFLNK)
		return -EINVAL; /* readlink(2) of anything else */
	len = readlinkat(fd, "", buf, cap);
	return len < 0 ? -errno : (long)len;
}

static int pt_access(void *f, const struct fuse_ctx *ctx, struct fuse_node *n, uint32_t mask)
{
	struct fuse_pt *fs = f;
	char name[16];
	int fd = ifd(fs, IN(n)), err;

	if (fd < 0)
		return fd;
	if (IN(n)->type == S_IFLNK)
		return 0;
	fd_name(name, sizeof(name), fd);
	/* The check the host would make for the caller (AT_EACCESS: fsuid/fsgid). */
	err = as_caller(fs, ctx);
	if (!err && faccessat(fs->proc_fd, name, (int)(mask & 7), fs->creds ? AT_EACCESS : 0) < 0)
		err = -errno;
	as_monitor(fs);
	return err;
}

static int pt_statfs(void *fs, struct fuse_node *n, struct fuse_kstatfs *o)
{
	struct statfs s;
	int fd = ifd(fs, IN(n));

	if (fd < 0)
		return fd;
	if (fstatfs(fd, &s) < 0)
		return -errno;
	o->blocks = s.f_blocks;
	o->bfree = s.f_bfree;
	o->bavail = s.f_bavail;
	o->files = s.f_files;
	o->ffree = s.f_ffree;
	o->bsize = (uint32_t)s.f_bsize;
	o->namelen = (uint32_t)s.f_namelen;
	o->frsize = (uint32_t)s.f_frsize;
	return 0;
}

/* ---- open files ---- */

static int pt_open(void *f, const struct fuse_ctx *ctx, struct fuse_node *n, uint32_t flags, uint32_t oflags,
		   struct fuse_open_out *o)
{
	struct fuse_pt *fs = f;
	struct fuse_inode *in = IN(n);
	int fd;

	(void)ctx;
	if (in->type == S_IFDIR)
		return -EISDIR;
	if (flags & O_TRUNC)
		fsetid(fs, !(fs->killpriv && (oflags & FUSE_OPEN_KILL_SUIDGID)));
	fd = reopen(fs, in, open_flags(fs, flags));
	if (fd < 0)
		return fd;
	open_reply(fs, false, o);
	return handle_new(fs, fd, false, in, &o->fh);
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
		int fd = openat(dirfd, name, open_flags(fs, flags) | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
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
							      : reopen_fd(fs, pfd, st.st_mode & S_IFMT, open_flags(fs, flags));
		close(pfd);
		return err;
	}
	return -EEXIST;
}

static int pt_create(void *f, const struct fuse_ctx *ctx, struct fuse_node *dir, const char *name, uint32_t flags,
		     mode_t mode, mode_t umask, uint32_t oflags, struct fuse_entry_out *e, struct fuse_open_out *o)
{
	struct fuse_pt *fs = f;
	struct fuse_inode *in;
	int dfd = ifd(fs, IN(dir)), fd, err;

	if (dfd < 0)
		return dfd;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return -EISDIR;
	err = as_caller(fs, ctx);
	if (!err && (flags & O_TRUNC))
		fsetid(fs, !(fs->killpriv && (oflags & FUSE_OPEN_KILL_SUIDGID)));
	fd = err ? err : create_open(fs, dfd, name, flags, (mode & 07777) & ~umask);
	as_monitor(fs);
	if (fd < 0)
		return fd;
	err = do_lookup(fs, IN(dir), name, e);
	if (err) {
		close(fd);
		return err;
	}
	in = fuse_inodes_get(&fs->inodes, e->nodeid);
	err = in ? handle_new(fs, fd, false, in, &o->fh) : -ENOENT;
	if (!in)
		close(fd);
	fuse_inodes_put(&fs->inodes, in);
	if (err) {
		fuse_inodes_forget(&fs->inodes, e->nodeid, 1);
		return err;
	}
	open_reply(fs, false, o);
	return 0;
}

static long pt_read(void *f, uint64_t fh, uint64_t off, const struct iovec *iov, unsigned n)
{
	struct fuse_pt *fs = f;
	struct handle *h = handle_get(fs, fh, false);
	ssize_t r;

	if (!h)
		return -EBADF;
	r = n ? preadv(h->fd, iov, (int)n, (off_t)off) : 0;
	if (r < 0)
		r = -errno;
	handle_put(fs, h);
	return (long)r;
}

static long pt_write(void *f, const struct fuse_ctx *ctx, uint64_t fh, uint64_t off, const struct iovec *iov,
		     unsigned n, uint32_t write_flags)
{
	struct fuse_pt *fs = f;
	struct handle *h = handle_get(fs, fh, false);
	ssize_t r;

	(void)ctx;
	if (!h)
		return -EBADF;
	fsetid(fs, !(fs->killpriv && (write_flags & FUSE_WRITE_KILL_SUIDGID)));
	if ((write_flags & FUSE_WRITE_CACHE) && h->append) {
		/*
		 * The guest writes back a page (a shared mapping) through
		 * whichever writable file it has, here one opened O_APPEND:
		 * that data belongs at `off`, not at the end.
		 */
		char name[16];
		int fd;

		fd_name(name, sizeof(name), h->fd);
		fd = openat(fs->proc_fd, name, O_WRONLY | O_CLOEXEC);
		r = fd < 0 ? -1 : pwritev(fd, iov, (int)n, (off_t)off);
		if (r < 0)
			r = -errno;
		if (fd >= 0)
			close(fd);
		handle_put(fs, h);
		return (long)r;
	}
	r = n ? pwritev(h->fd, iov, (int)n, (off_t)off) : 0;
	if (r < 0)
		r = -errno;
	handle_put(fs, h);
	return (long)r;
}

static int pt_flush(void *f, uint64_t fh)
{
	struct handle *h = handle_get(f, fh, false);

	if (!h)
		return -EBADF;
	handle_put(f, h);
	return 0;
}

static int pt_fsync(void *f, uint64_t fh, bool dir, bool datasync)
{
	struct handle *h = handle_get(f, fh, dir);
	int err = 0;

	if (!h)
		return -EBADF;
	if ((datasync ? fdatasync(h->fd) : fsync(h->fd)) < 0)
		err = -errno;
	handle_put(f, h);
	return err;
}

static int pt_release(void *f, uint64_t fh, bool dir) { return handle_release(f, fh, dir); }

static int pt_fallocate(void *f, const struct fuse_ctx *ctx, uint64_t fh, uint32_t mode, uint64_t off,
			uint64_t len)
{
	struct handle *h = handle_get(f, fh, false);
	int err = 0;

	if (!h)
		return -EBADF;
	/*
	 * With KILLPRIV_V2 the guest leaves the set-user/group-ID bits to us here
	 * (its file_modified() sends nothing): the host kernel drops them as for a
	 * local fallocate, unless the caller is root (CAP_FSETID, as for chown).
	 * Set either way, not left to whatever the thread's last request chose.
	 */
	fsetid(f, ctx->uid == 0);
	if (fallocate(h->fd, (int)mode, (off_t)off, (off_t)len) < 0)
		err = -errno;
	handle_put(f, h);
	return err;
}

static int pt_lseek(void *f, uint64_t fh, uint64_t off, uint32_t whence, uint64_t *result)
{
	struct handle *h = handle_get(f, fh, false);
	off_t r;

	if (!h)
		return -EBADF;
	/* A dup'ed view would share the position anyway; SEEK_DATA/SEEK_HOLE are what the guest asks. */
	r = lseek(h->fd, (off_t)off, (int)whence);
	handle_put(f, h);
	if (r < 0)
		return -errno;
	*result = (uint64_t)r;
	return 0;
}

static long pt_copy_file_range(void *f, const struct fuse_ctx *ctx, uint64_t fh_in, uint64_t off_in,
			       uint64_t fh_out, uint64_t off_out, uint64_t len, uint64_t flags)
{
	struct handle *hi = handle_get(f, fh_in, false), *ho = handle_get(f, fh_out, false);
	loff_t oi = (loff_t)off_in, oo = (loff_t)off_out;
	ssize_t n = -EBADF;

	if (hi && ho) {
		fsetid(f, ctx->uid == 0); /* as for fallocate: the destination is modified */
		n = copy_file_range(hi->fd, &oi, ho->fd, &oo, len > UINT32_MAX ? UINT32_MAX : (size_t)len,
				    (unsigned)flags);
		if (n < 0)
			n = -errno;
	}
	if (hi)
		handle_put(f, hi);
	if (ho)
		handle_put(f, ho);
	return (long)n;
}

/* ---- directories ---- */

static int pt_opendir(void *f, const struct fuse_ctx *ctx, struct fuse_node *n, uint32_t flags,
		      struct fuse_open_out *o)
{
	struct fuse_pt *fs = f;
	int fd;

	(void)ctx;
	(void)flags;
	fd = reopen(fs, IN(n), O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return fd;
	open_reply(fs, true, o);
	return handle_new(fs, fd, true, IN(n), &o->fh);
}

struct pt_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static int pt_readdir(void *f, const struct fuse_ctx *ctx, struct fuse_node *dir, uint64_t fh, uint64_t off,
		      struct fuse_dir_sink *sink)
{
	static __thread uint8_t dents[32768];
	struct fuse_pt *fs = f;
	struct handle *h = handle_of(fs, fh, true, IN(dir)); /* plus looks entries up in `dir` */
	bool plus = fuse_dir_plus(sink), full = false;
	int err = 0;

	(void)ctx;
	if (!h)
		return -EBADF;
	/* One reader per handle at a time: the position is the descriptor's. */
	pthread_mutex_lock(&h->pos);
	if (lseek(h->fd, (off_t)off, SEEK_SET) < 0)
		err = -errno;
	while (!err && !full) {
		long n = syscall(SYS_getdents64, h->fd, dents, sizeof(dents));

		if (n < 0)
			err = -errno;
		if (n <= 0)
			break;
		for (long pos = 0; pos < n;) {
			const struct pt_dirent64 *d = (const struct pt_dirent64 *)(dents + pos);
			size_t nl = strlen(d->d_name);
			struct fuse_entry_out e;
			bool have = false;

			if (!fuse_dir_fits(sink, nl)) {
				/* Entries read but not sent come again next time (offsets are cookies). */
				full = true;
				break;
			}
			/* "." and ".." get no entry (nodeid 0): the guest skips them. */
			if (plus && strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0)
				have = do_lookup(fs, IN(dir), d->d_name, &e) == 0;
			if (!fuse_dir_add(sink, d->d_name, nl, guest_ino(fs, IN(dir)->devidx, d->d_ino), d->d_type,
					  (uint64_t)d->d_off, have ? &e : NULL)) {
				if (have)
					fuse_inodes_forget(&fs->inodes, e.nodeid, 1);
				full = true;
				break;
			}
			pos += d->d_reclen;
		}
	}
	pthread_mutex_unlock(&h->pos);
	handle_put(fs, h);
	return err;
}

/* ---- extended attributes: through the /proc/self/fd path, for objects of every type ---- */

static void xpath(char *buf, size_t len, int fd)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
}

static long pt_getxattr(void *fs, const struct fuse_ctx *ctx, struct fuse_node *n, const char *name, void *buf,
			size_t size)
{
	char p[40];
	int fd = ifd(fs, IN(n));
	ssize_t r;

	(void)ctx;
	if (fd < 0)
		return fd;
	xpath(p, sizeof(p), fd);
	r = getxattr(p, name, buf, size);
	return r < 0 ? -errno : (long)r;
}

static long pt_listxattr(void *fs, const struct fuse_ctx *ctx, struct fuse_node *n, void *buf, size_t size)
{
	char p[40];
	int fd = ifd(fs, IN(n));
	ssize_t r;

	(void)ctx;
	if (fd < 0)
		return fd;
	xpath(p, sizeof(p), fd);
	r = listxattr(p, buf, size);
	return r < 0 ? -errno : (long)r;
}

static int pt_setxattr(void *fs, const struct fuse_ctx *ctx, struct fuse_node *n, const char *name,
		       const void *value, size_t size, uint32_t flags)
{
	char p[40];
	int fd = ifd(fs, IN(n));

	(void)ctx;
	if (fd < 0)
		return fd;
	xpath(p, sizeof(p), fd);
	fsetid(fs, true); /* as the monitor (root), not whatever the thread's last write left */
	return setxattr(p, name, value, size, (int)flags) < 0 ? -errno : 0;
}

static int pt_removexattr(void *fs, const struct fuse_ctx *ctx, struct fuse_node *n, const char *name)
{
	char p[40];
	int fd = ifd(fs, IN(n));

	(void)ctx;
	if (fd < 0)
		return fd;
	xpath(p, sizeof(p), fd);
	return removexattr(p, name) < 0 ? -errno : 0;
}

/* SYNCFS (sent on the guest's sync): the host file system the inode is on. */
static int pt_syncfs(void *f, struct fuse_node *n)
{
	int fd, err = 0;

	if (IN(n)->type != S_IFDIR && IN(n)->type != S_IFREG)
		return 0;
	fd = reopen(f, IN(n), O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return fd;
	if (syncfs(fd) < 0)
		err = -errno;
	close(fd);
	return err;
}

static const struct fuse_fs_ops pt_ops = {
	.name = "passthrough",
	.init_flags = FUSE_HANDLE_KILLPRIV_V2 | FUSE_SUBMOUNTS | FUSE_CREATE_SUPP_GROUP,
	.get = pt_get,
	.put = pt_put,
	.forget = pt_forget,
	.session = pt_session,
	.lookup = pt_lookup,
	.mknod = pt_mknod,
	.mkdir = pt_mkdir,
	.symlink = pt_symlink,
	.link = pt_link,
	.unlink = pt_unlink,
	.rmdir = pt_rmdir,
	.rename = pt_rename,
	.getattr = pt_getattr,
	.setattr = pt_setattr,
	.readlink = pt_readlink,
	.access = pt_access,
	.statfs = pt_statfs,
	.open = pt_open,
	.create = pt_create,
	.read = pt_read,
	.write = pt_write,
	.flush = pt_flush,
	.fsync = pt_fsync,
	.release = pt_release,
	.fallocate = pt_fallocate,
	.lseek = pt_lseek,
	.copy_file_range = pt_copy_file_range,
	.opendir = pt_opendir,
	.readdir = pt_readdir,
	.getxattr = pt_getxattr,
	.listxattr = pt_listxattr,
	.setxattr = pt_setxattr,
	.removexattr = pt_removexattr,
	.syncfs = pt_syncfs,
};

/* ---- setup ---- */

int fuse_pt_create_opts(struct fuse_pt **out, const char *root, const struct fuse_options *opt)
{
	struct fuse_pt *fs = calloc(1, sizeof(*fs));
	struct stat st;
	unsigned max_fds;
	int fd, err;

	if (!fs)
		return -ENOMEM;
	if (opt)
		fs->opt = *opt;
	pthread_mutex_init(&fs->hlock, NULL);
	for (unsigned i = 0; i < FUSE_PT_MAX_HANDLES; i++) {
		fs->h[i].fd = -1;
		pthread_mutex_init(&fs->h[i].pos, NULL);
	}
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
	max_fds = fs->opt.max_fds ? fs->opt.max_fds : FUSE_PT_DEFAULT_MAX_FDS;
	err = fuse_inodes_init(&fs->inodes, fd, &st, fs->opt.max_inodes ? fs->opt.max_inodes : FUSE_PT_DEFAULT_MAX_INODES,
			       max_fds, have_cap(CAP_DAC_READ_SEARCH));
	if (err) {
		close(fs->proc_fd);
		free(fs);
		return err;
	}
	if (!fs->inodes.st.handles && !fs->opt.max_fds) {
		/* Without handles every inode the guest holds keeps a descriptor: half the soft limit. */
		struct rlimit rl;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur / 2 > max_fds)
			fs->inodes.max_fds = (unsigned)(rl.rlim_cur / 2 < UINT_MAX ? rl.rlim_cur / 2 : UINT_MAX);
	}
	fs->creds = have_cap(CAP_SETUID) && have_cap(CAP_SETGID);
	fs->fsetid = have_cap(CAP_FSETID);
	if (!fs->creds)
		log_msg("--share %s: vmm may not switch credentials (it is not root): everything the guest creates "
			"belongs to uid %u gid %u, and the guest sees host owners unchanged (map them with uidmap=, "
			"gidmap=)", root, (unsigned)geteuid(), (unsigned)getegid());
	fuse_server_init(&fs->srv, &pt_ops, fs, &fs->opt);
	*out = fs;
	return 0;
}

int fuse_pt_create(struct fuse_pt **out, const char *root)
{
	struct fuse_options o = { .xattr = true };

	return fuse_pt_create_opts(out, root, &o);
}

void fuse_pt_destroy(struct fuse_pt *fs)
{
	if (!fs)
		return;
	for (unsigned i = 0; i < FUSE_PT_MAX_HANDLES; i++) {
		if (fs->h[i].fd >= 0)
			close(fs->h[i].fd);
		pthread_mutex_destroy(&fs->h[i].pos);
	}
	fuse_inodes_destroy(&fs->inodes);
	close(fs->proc_fd);
	pthread_mutex_destroy(&fs->hlock);
	free(fs);
}

void fuse_pt_reset(struct fuse_pt *fs)
{
	fuse_server_reset(&fs->srv);
}

long fuse_pt_handle(struct fuse_pt *fs, const struct iovec *in, unsigned nin, const struct iovec *out, unsigned nout)
{
	return fuse_server_handle(&fs->srv, in, nin, out, nout, false);
}

long fuse_pt_handle_hiprio(struct fuse_pt *fs, const struct iovec *in, unsigned nin, const struct iovec *out,
			   unsigned nout)
{
	return fuse_server_handle(&fs->srv, in, nin, out, nout, true);
}
