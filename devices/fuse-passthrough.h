/* SPDX-License-Identifier: MIT */
/*
 * A FUSE passthrough server for one share: the file system behind
 * virtio-fs. Requests and replies are the structures of <linux/fuse.h>; the
 * transport hands us a request as the readable iovecs of a descriptor chain
 * and a place for the reply as its writable iovecs (both already checked to
 * lie in the device's aperture).
 *
 * What it trusts: the share root the user named, and the host kernel.
 * What it does not trust: every byte of a request. See docs/threat-model.md.
 *
 *  - Inodes are O_PATH descriptors keyed by (st_dev, st_ino), handed to the
 *    guest as node IDs from a counter (never pointers); every node ID and
 *    file handle the guest sends is looked up in a table and refused with
 *    EBADF/ENOENT when unknown. LOOKUP counts are honoured by FORGET and
 *    BATCH_FORGET, so the table shrinks when the guest drops inodes.
 *  - Names are single path components: NUL-terminated inside the request,
 *    1..NAME_MAX bytes, no '/'. They are resolved with one *at() call on
 *    the parent's O_PATH descriptor with O_NOFOLLOW/AT_SYMLINK_NOFOLLOW, so
 *    no guest-controlled path is ever walked by the host and a symlink is
 *    never followed by the host. ".." of the root is the root.
 *  - I/O descriptors are reopened from the O_PATH descriptor through
 *    /proc/self/fd (it names the inode we hold, not a path in the share),
 *    only for regular files and directories: device nodes, FIFOs, sockets
 *    and symlinks are never opened by the monitor. MKNOD of a device is EPERM.
 *
 * Operations: INIT, LOOKUP, FORGET, BATCH_FORGET, GETATTR, SETATTR,
 * READLINK, SYMLINK, MKNOD, MKDIR, UNLINK, RMDIR, RENAME, RENAME2, LINK,
 * OPEN, READ, WRITE, STATFS, RELEASE, FSYNC, FLUSH, OPENDIR, READDIR,
 * READDIRPLUS, RELEASEDIR, FSYNCDIR, ACCESS, CREATE, FALLOCATE, LSEEK,
 * COPY_FILE_RANGE, GETXATTR, SETXATTR, LISTXATTR, REMOVEXATTR, SYNCFS,
 * DESTROY, INTERRUPT (no reply: every request runs to completion). The
 * rest answer ENOSYS and Linux stops sending them: locks (POSIX_LOCKS and
 * FLOCK_LOCKS are not negotiated, the guest kernel keeps locks local),
 * IOCTL, POLL, STATX, TMPFILE, BMAP, the DAX mapping calls.
 *
 * Error policy. fuse_pt_handle() returns:
 *   > 0   the reply length written into the writable iovecs;
 *   0     no reply is due (FORGET, BATCH_FORGET, INTERRUPT);
 *   < 0   -EBADMSG: the request lies about its own structure and cannot be
 *         answered: readable part shorter than struct fuse_in_header, the
 *         header's len beyond the readable part or below the header size, or
 *         a writable part too small for struct fuse_out_header when a reply
 *         is due. The device puts itself in NEEDS_RESET.
 * Everything else is an error reply with the request's unique ID:
 *   EINVAL  argument struct shorter than the opcode needs, a name without
 *           NUL inside the request, an empty name or one with '/', a WRITE
 *           whose size exceeds the data that came with it, a reply that does
 *           not fit the writable part;
 *   ENOSYS  opcodes we do not implement (the guest stops sending them);
 *   EIO     any request before INIT;
 *   ENOENT / EBADF  unknown node IDs / file handles;
 *   else    the errno of the host system call, unchanged.
 *
 * Threads: fuse_pt_handle() may run on several threads at once (one per
 * request queue). The inode and handle tables each have a lock; file I/O
 * runs without them.
 */
#ifndef APERTURE_FUSE_PASSTHROUGH_H
#define APERTURE_FUSE_PASSTHROUGH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include "lib/util.h"

#define FUSE_PT_MAX_PAGES 256                 /* 1 MiB READ/WRITE */
#define FUSE_PT_MAX_WRITE (FUSE_PT_MAX_PAGES * 4096u)
#define FUSE_PT_MAX_HANDLES 4096

struct fuse_pt;

/*
 * Serve the directory `root` (opened here). -errno (ENOENT, ENOTDIR,
 * EACCES, ...) when it cannot be opened as a directory.
 */
int fuse_pt_create(struct fuse_pt **out, const char *root) must_check;
void fuse_pt_destroy(struct fuse_pt *fs);
/* Forget the session (device reset, DESTROY): close handles, drop inodes but the root. */
void fuse_pt_reset(struct fuse_pt *fs);

/* One request; see the error policy above. */
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

#endif
