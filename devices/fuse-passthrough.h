/* SPDX-License-Identifier: MIT */
/*
 * The passthrough file system for one share: the file system behind
 * virtio-fs, served through the FUSE wire layer (devices/fuse-wire.h, which
 * decodes requests and encodes replies; this file does the host system
 * calls). fuse_pt_handle() takes a request as the readable iovecs of a
 * descriptor chain and a place for the reply as its writable iovecs (both
 * already checked to lie in the device's view); the error policy is the
 * wire layer's.
 *
 * What it trusts: the share root the user named, and the host kernel.
 * What it does not trust: every byte of a request. See docs/threat-model.md.
 *
 *  - Inodes live in a bounded table (devices/fuse-inodes.h): file handles
 *    when the monitor may use them, O_PATH descriptors otherwise, node IDs
 *    from a counter (never pointers). Every node ID and file handle the
 *    guest sends is looked up and refused (ENOENT/EBADF) when unknown.
 *  - Names are single path components resolved with one *at() call on the
 *    parent's O_PATH descriptor with O_NOFOLLOW/AT_SYMLINK_NOFOLLOW: no
 *    guest-controlled path is walked by the host and no symlink followed.
 *    ".." of the root is the root.
 *  - I/O descriptors are reopened from the O_PATH descriptor through
 *    /proc/self/fd (it names the inode we hold, not a path), only for
 *    regular files and directories: device nodes, FIFOs, sockets and
 *    symlinks are never opened. Times, modes and extended attributes of any
 *    type are set through the /proc/self/fd path (so `touch -h` and xattrs
 *    on symlinks behave as locally). MKNOD of a device node is EPERM: a
 *    root monitor would create a working host device the guest could then
 *    reach through another share or a host program.
 *  - Credentials: when the monitor may switch them (CAP_SETUID/CAP_SETGID),
 *    objects are created (CREATE, MKNOD, MKDIR, SYMLINK) with the calling
 *    guest process's uid and gid as the serving thread's fsuid/fsgid, with
 *    no supplementary groups; set-user/group-ID bits are dropped on write,
 *    truncate and chown as a local file system does (HANDLE_KILLPRIV_V2:
 *    the call runs without CAP_FSETID when the guest asks). A monitor that
 *    may not switch creates everything as itself and says so once;
 *    uidmap=/gidmap= map one id range between guest and host.
 *  - Inode numbers: the host's, unique across host mounts inside the share:
 *    each mount point is announced to the guest as a submount (it gets its
 *    own st_dev there) when the guest supports it (FUSE_SUBMOUNTS, Linux
 *    5.10+); otherwise a device index is folded into the top 16 bits.
 *
 * Threads: any number of threads may call fuse_pt_handle() at once (one per
 * request queue); the inode table and the handle table each have a lock,
 * file I/O runs without them.
 */
#ifndef APERTURE_FUSE_PASSTHROUGH_H
#define APERTURE_FUSE_PASSTHROUGH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include "devices/fuse-fs.h"
#include "devices/fuse-wire.h"
#include "lib/util.h"

#define FUSE_PT_MAX_PAGES FUSE_WIRE_MAX_PAGES
#define FUSE_PT_MAX_WRITE FUSE_WIRE_MAX_WRITE
#define FUSE_PT_MAX_HANDLES 4096
#define FUSE_PT_DEFAULT_MAX_FDS 1024           /* O_PATH descriptors cached with file handles */
#define FUSE_PT_DEFAULT_MAX_INODES (1u << 20)

struct fuse_pt;

/*
 * Serve the directory `root` (opened here) with default options, extended
 * attributes served. -errno (ENOENT, ENOTDIR, EACCES, ...) when it cannot
 * be opened as a directory.
 */
int fuse_pt_create(struct fuse_pt **out, const char *root) must_check;
/* The same with options (NULL: all defaults, extended attributes not served). */
int fuse_pt_create_opts(struct fuse_pt **out, const char *root, const struct fuse_options *opt) must_check;
void fuse_pt_destroy(struct fuse_pt *fs);
/* Forget the session (device reset, DESTROY): close handles, drop inodes but the root. */
void fuse_pt_reset(struct fuse_pt *fs);

/* One request; see the error policy in devices/fuse-wire.h. */
long fuse_pt_handle(struct fuse_pt *fs, const struct iovec *in, unsigned nin, const struct iovec *out,
		    unsigned nout);

/*
 * One request from the high-priority queue: FORGET, BATCH_FORGET and
 * INTERRUPT are served as by fuse_pt_handle(); any other opcode is answered
 * ENOSYS (virtio-fs runs this queue on its transport worker, which must not
 * block in file-system calls).
 */
long fuse_pt_handle_hiprio(struct fuse_pt *fs, const struct iovec *in, unsigned nin, const struct iovec *out,
			   unsigned nout);

/* Inodes the guest currently holds (root included), for tests. */
unsigned fuse_pt_inode_count(struct fuse_pt *fs);
/* Open file handles, for tests. */
unsigned fuse_pt_handle_count(struct fuse_pt *fs);

struct fuse_pt_stats {
	unsigned inodes;          /* in the inode table */
	unsigned path_fds;        /* O_PATH descriptors it holds */
	unsigned path_fds_high;   /* ... at most so far */
	unsigned handles;         /* open files and directories */
	uint64_t evicted, reopened, refused;
	uint64_t gone;            /* evicted inodes whose number a new host file took */
	bool file_handles;        /* inodes kept as file handles */
	bool creds;               /* requests run with the guest caller's credentials */
};
void fuse_pt_stats(struct fuse_pt *fs, struct fuse_pt_stats *st);

#endif
