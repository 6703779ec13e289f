/* SPDX-License-Identifier: MIT */
/*
 * The passthrough file system's inode table: every host object the guest
 * holds a lookup of, keyed by node ID (handed to the guest, from a counter,
 * never reused) and by (st_dev, st_ino).
 *
 * Bounded in descriptors. When the monitor may use file handles
 * (name_to_handle_at/open_by_handle_at: CAP_DAC_READ_SEARCH, and a file
 * system that exports them), an inode keeps its handle and an O_PATH
 * descriptor only while it is in use or among the `max_fds` most recently
 * used; the rest are closed (least recently used first) and reopened from
 * the handle on the next request. An inode without a handle keeps its
 * O_PATH descriptor for as long as the guest holds it, and a new one is
 * refused with ENFILE once `max_fds` descriptors are held. The table holds
 * at most `max_inodes` inodes (ENFILE beyond). Descriptors held at any time:
 * at most max_fds, plus those of inodes in use by a request or an open file.
 *
 * Devices. Each st_dev gets a small index (at most FUSE_INODES_MAX_DEVS,
 * the root's is 0) and, for handles, a descriptor of a directory on it to
 * pass to open_by_handle_at().
 *
 * Threads: one mutex over the table; descriptors are opened and closed
 * outside it except evictions.
 */
#ifndef APERTURE_FUSE_INODES_H
#define APERTURE_FUSE_INODES_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include "lib/util.h"

#define FUSE_INODES_MAX_DEVS 256
#define FUSE_INODES_BUCKETS (1u << 16)

struct fuse_inode {
	uint64_t nodeid;
	dev_t dev;
	ino_t ino;
	mode_t type;            /* S_IFMT bits */
	uint16_t devidx;        /* index of dev in the device table */
	bool submount;          /* a directory on another device than the parent it was found in */
	int fd;                 /* O_PATH | O_NOFOLLOW, or -1 while evicted (atomic) */
	uint64_t nlookup;       /* the guest's lookups */
	unsigned refs;          /* ours: requests and open files using it */
	struct fuse_inode *next_id, *next_key;
	struct fuse_inode *lru_prev, *lru_next; /* unused inodes with a descriptor and a handle */
	bool on_lru;
	bool gone;              /* off by_key: its handle names a file the host has freed */
	int htype;              /* file handle type; hlen 0: no handle */
	unsigned hlen;
	unsigned char handle[]; /* hlen bytes */
};

struct fuse_inodes_stats {
	unsigned inodes;        /* in the table */
	unsigned fds, fds_high; /* O_PATH descriptors held now / at most so far */
	uint64_t evicted;       /* descriptors closed to stay under max_fds */
	uint64_t reopened;      /* descriptors reopened from a handle */
	uint64_t refused;       /* lookups refused with ENFILE */
	uint64_t gone;          /* evicted inodes whose number a new host file took */
	bool handles;           /* file handles in use */
};

struct fuse_inodes {
	pthread_mutex_t lock;
	struct fuse_inode **by_id, **by_key;
	uint64_t next_nodeid;
	unsigned max_inodes, max_fds;
	struct fuse_inode *root;
	struct fuse_inode *lru_head, *lru_tail; /* head: most recently used */
	struct fuse_inodes_stats st;
	int proc_fd;            /* /proc/self/fd */
	unsigned ndevs;
	struct {
		dev_t dev;
		int mount_fd;   /* a directory on dev, opened for open_by_handle_at(); -1: none */
	} devs[FUSE_INODES_MAX_DEVS];
};

/*
 * A table whose root is O_PATH directory descriptor root_fd (taken over,
 * even on error) described by st. handles: try file handles (they are used
 * only if open_by_handle_at() works for the root). -errno.
 */
int fuse_inodes_init(struct fuse_inodes *t, int root_fd, const struct stat *st, unsigned max_inodes,
		     unsigned max_fds, bool handles) must_check;
void fuse_inodes_destroy(struct fuse_inodes *t);

/* The inode for nodeid with a reference taken, or NULL. */
struct fuse_inode *fuse_inodes_get(struct fuse_inodes *t, uint64_t nodeid);
/* Take one more reference on an inode already held. */
void fuse_inodes_hold(struct fuse_inodes *t, struct fuse_inode *in);
/* Drop a reference. */
void fuse_inodes_put(struct fuse_inodes *t, struct fuse_inode *in);
/* The guest drops n lookups of nodeid (unknown IDs ignored; never below zero; the root stays). */
void fuse_inodes_forget(struct fuse_inodes *t, uint64_t nodeid, uint64_t n);
/*
 * Take over O_PATH descriptor fd for the object st describes, found under
 * `parent` (NULL: none): the existing inode or a new one, with one more
 * guest lookup and one reference for the caller. -ENFILE when the table is
 * full, -ENOMEM; fd is closed on every path where the table does not keep it.
 */
int fuse_inodes_adopt(struct fuse_inodes *t, int fd, const struct stat *st, const struct fuse_inode *parent,
		      struct fuse_inode **out) must_check;
/*
 * The inode's O_PATH descriptor, valid while the caller holds its reference
 * (reopened from its handle if it was evicted), or -errno (ESTALE: the
 * object is gone from the host).
 */
int fuse_inodes_fd(struct fuse_inodes *t, struct fuse_inode *in) must_check;
/* The index of device dev (adding it; the last index when the table is full). */
unsigned fuse_inodes_devidx(struct fuse_inodes *t, dev_t dev);
/* Forget every guest lookup (session end): unused inodes but the root go. */
void fuse_inodes_reset(struct fuse_inodes *t);
void fuse_inodes_stats(struct fuse_inodes *t, struct fuse_inodes_stats *st);

#endif
