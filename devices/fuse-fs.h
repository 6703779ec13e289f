/* SPDX-License-Identifier: MIT */
/*
 * What a file system behind the FUSE wire layer (devices/fuse-wire.h)
 * provides: typed operations on nodes the wire layer has already resolved,
 * with arguments decoded and checked (names are C strings of 1..NAME_MAX
 * bytes without '/', sizes are bounded). The passthrough file system
 * (devices/fuse-passthrough.c) is one; a read-only overlay or an in-memory
 * file system for tests would fill in the same table.
 *
 * Conventions for every operation:
 *   - return 0 (or a byte count) on success, a negative errno otherwise; the
 *     wire layer sends that errno to the guest unchanged, so a file system
 *     returns what a local file system would for the same call;
 *   - `n`, `parent`, `dir`, `newdir`, `old` are nodes the wire layer got from
 *     ops->get() and holds a reference to for the duration of the call;
 *     a node that the table below marks "needs a directory" is one;
 *   - an operation that fills a struct fuse_entry_out hands the guest one
 *     more lookup of that node (the wire layer checked beforehand that the
 *     reply fits, so a lookup is never counted for a reply that cannot be
 *     sent);
 *   - `ctx` is the calling guest process (uid, gid, pid from the request).
 * Operations may run on several threads at once.
 */
#ifndef APERTURE_FUSE_FS_H
#define APERTURE_FUSE_FS_H

#include <linux/fuse.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct fuse_node; /* a file system's inode: opaque to the wire layer */
struct fuse_dir_sink;

struct fuse_ctx {
	uint32_t uid, gid, pid;
	/*
	 * FUSE_EXT_GROUPS (CREATE_SUPP_GROUP): on a create in a directory whose
	 * group is one of the caller's supplementary groups, that group.
	 */
	bool has_supp_gid;
	uint32_t supp_gid;
};

/* Newer than some hosts' <linux/fuse.h> (7.38: the guest kernel has them). */
#ifndef FUSE_CREATE_SUPP_GROUP
#define FUSE_CREATE_SUPP_GROUP (1ULL << 34)
#define FUSE_EXT_GROUPS 32 /* body: u32 nr_groups, u32 groups[] */
#endif

enum fuse_cache { FUSE_CACHE_AUTO = 0, FUSE_CACHE_ALWAYS, FUSE_CACHE_NEVER };

/* One id range mapped between the guest and the host (uidmap=, gidmap=). */
struct fuse_idmap {
	uint32_t guest, host, count; /* count 0: no mapping */
};

/*
 * Per-share options (--share ...,ro,cache=,writeback,xattr,uidmap=,gidmap=).
 * All zero is the default: read-write, cache=auto, no write-back cache, no
 * extended attributes, identity ids, default limits.
 */
struct fuse_options {
	bool ro;              /* every modifying request gets EROFS */
	enum fuse_cache cache;
	bool writeback;       /* offer FUSE_WRITEBACK_CACHE */
	bool xattr;           /* serve extended attributes (else ENOSYS: the guest stops asking) */
	bool devnodes;        /* MKNOD may make character and block devices (else EPERM) */
	struct fuse_idmap uidmap, gidmap;
	unsigned max_fds;     /* O_PATH descriptors the inode table keeps open; 0: default */
	unsigned max_inodes;  /* inodes the guest may hold at once; 0: default */
};

/* Share options as text (devices/fuse-options.c): "ro,cache=never,uidmap=0:1000:1" ... */
#define FUSE_OPTIONS_HELP \
	"ro, cache=auto|always|never, writeback, xattr, devnodes, uidmap=GUEST:HOST[:COUNT], " \
	"gidmap=GUEST:HOST[:COUNT]"
/* Apply one option (len bytes at opt) to o; -1 with a message in err. */
int fuse_option_apply(struct fuse_options *o, const char *opt, size_t len, char *err, size_t errlen);
/* A comma-separated list into o (from defaults); -EINVAL. */
int fuse_options_parse(const char *s, struct fuse_options *o);
/* o as a list fuse_options_parse() reads back; -ENOSPC. */
int fuse_options_format(const struct fuse_options *o, char *buf, size_t len);

/* Session parameters the wire layer negotiated in INIT, for the file system. */
struct fuse_session {
	uint32_t minor;
	uint64_t flags;       /* FUSE_* INIT flags both sides agreed on */
};

struct fuse_fs_ops {
	const char *name;
	/* INIT flags this file system can honour (the wire layer adds its own). */
	uint64_t init_flags;

	/* ---- nodes ---- */
	/* Node `nodeid` with a reference taken and its S_IFMT type, or NULL when unknown. */
	struct fuse_node *(*get)(void *fs, uint64_t nodeid, mode_t *type);
	void (*put)(void *fs, struct fuse_node *n);
	/* The guest drops `nlookup` lookups of nodeid (unknown IDs are ignored). */
	void (*forget)(void *fs, uint64_t nodeid, uint64_t nlookup);
	/* INIT done (session parameters), or the session ended (DESTROY, device reset: s == NULL). */
	void (*session)(void *fs, const struct fuse_session *s);

	/* ---- names ---- */
	int (*lookup)(void *fs, const struct fuse_ctx *ctx, struct fuse_node *dir, const char *name,
		      struct fuse_entry_out *e);
	int (*mknod)(void *fs, const struct fuse_ctx *ctx, struct fuse_node *dir, const char *name, mode_t mode,
		     dev_t rdev, mode_t umask, struct fuse_entry_out *e);
	int (*mkdir)(void *fs, const struct fuse_ctx *ctx, struct fuse_node *dir, const char *name, mode_t mode,
		     mode_t umask, struct fuse_entry_out *e);
	int (*symlink)(void *fs, const struct fuse_ctx *ctx, struct fuse_node *dir, const char *name,
		       const char *target, struct fuse_entry_out *e);
	int (*link)(void *fs, const struct fuse_ctx *ctx, struct fuse_node *old, struct fuse_node *newdir,
		    const char *newname, struct fuse_entry_out *e);
	int (*unlink)(void *fs, const struct fuse_ctx *ctx, struct fuse_node *dir, const char *name);
	int (*rmdir)(void *fs, const struct fuse_ctx *ctx, struct fuse_node *dir, const char *name);
	/* flags: RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT as the guest sent them. */
	int (*rename)(void *fs, const struct fuse_ctx *ctx, struct fuse_node *dir, const char *name,
		      struct fuse_node *newdir, const char *newname, uint32_t flags);

	/* ---- attributes ---- */
	/* fh: the open file the guest named (FUSE_GETATTR_FH), or NULL. */
	int (*getattr)(void *fs, const struct fuse_ctx *ctx, struct fuse_node *n, const uint64_t *fh,
		       struct fuse_attr_out *o);
	int (*setattr)(void *fs, const struct fuse_ctx *ctx, struct fuse_node *n, const struct fuse_setattr_in *s,
		       struct fuse_attr_out *o);
	/* Into buf (cap bytes, PATH_MAX or more): the length, no NUL. */
	long (*readlink)(void *fs, const struct fuse_ctx *ctx, struct fuse_node *n, char *buf, size_t cap);
	int (*access)(void *fs, const struct fuse_ctx *ctx, struct fuse_node *n, uint32_t mask);
	int (*statfs)(void *fs, struct fuse_node *n, struct fuse_kstatfs *st);

	/* ---- open files ---- */
	/* flags: the guest's open(2) flags; open_flags: FUSE_OPEN_KILL_SUIDGID. Fills fh and open_flags. */
	int (*open)(void *fs, const struct fuse_ctx *ctx, struct fuse_node *n, uint32_t flags, uint32_t open_flags,
		    struct fuse_open_out *o);
	int (*create)(void *fs, const struct fuse_ctx *ctx, struct fuse_node *dir, const char *name, uint32_t flags,
		      mode_t mode, mode_t umask, uint32_t open_flags, struct fuse_entry_out *e,
		      struct fuse_open_out *o);
	/* Into / from the guest's buffers; bytes moved. write_flags: FUSE_WRITE_KILL_SUIDGID. */
	long (*read)(void *fs, uint64_t fh, uint64_t off, const struct iovec *iov, unsigned n);
	long (*write)(void *fs, const struct fuse_ctx *ctx, uint64_t fh, uint64_t off, const struct iovec *iov,
		      unsigned n, uint32_t write_flags);
	int (*flush)(void *fs, uint64_t fh);
	int (*fsync)(void *fs, uint64_t fh, bool dir, bool datasync);
	int (*release)(void *fs, uint64_t fh, bool dir);
	int (*fallocate)(void *fs, const struct fuse_ctx *ctx, uint64_t fh, uint32_t mode, uint64_t off, uint64_t len);
	int (*lseek)(void *fs, uint64_t fh, uint64_t off, uint32_t whence, uint64_t *result);
	long (*copy_file_range)(void *fs, const struct fuse_ctx *ctx, uint64_t fh_in, uint64_t off_in,
				uint64_t fh_out, uint64_t off_out, uint64_t len, uint64_t flags);

	/* ---- directories ---- */
	int (*opendir)(void *fs, const struct fuse_ctx *ctx, struct fuse_node *n, uint32_t flags,
		       struct fuse_open_out *o);
	/*
	 * Entries from cookie `off` into sink (fuse_dir_add(), fuse_dir_add_plus()
	 * in devices/fuse-wire.h) until it is full or the directory ends.
	 */
	int (*readdir)(void *fs, const struct fuse_ctx *ctx, struct fuse_node *dir, uint64_t fh, uint64_t off,
		       struct fuse_dir_sink *sink);

	/* ---- extended attributes (only when the share serves them) ---- */
	/* size 0: the value's length; else the value into buf (size bytes): its length. */
	long (*getxattr)(void *fs, const struct fuse_ctx *ctx, struct fuse_node *n, const char *name, void *buf,
			 size_t size);
	long (*listxattr)(void *fs, const struct fuse_ctx *ctx, struct fuse_node *n, void *buf, size_t size);
	int (*setxattr)(void *fs, const struct fuse_ctx *ctx, struct fuse_node *n, const char *name,
			const void *value, size_t size, uint32_t flags);
	int (*removexattr)(void *fs, const struct fuse_ctx *ctx, struct fuse_node *n, const char *name);

	int (*syncfs)(void *fs, struct fuse_node *n);
};

#endif
