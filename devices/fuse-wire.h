/* SPDX-License-Identifier: MIT */
/*
 * The FUSE wire layer: takes a request as the readable iovecs of a
 * descriptor chain and a place for the reply as its writable iovecs, checks
 * and decodes it, calls the file system's typed operation
 * (devices/fuse-fs.h) and encodes the reply. It knows nothing of virtio or
 * of the rest of the monitor (it depends on lib/ only), so it can move into
 * a device process of its own.
 *
 * One table (fuse-wire.c, `optab`) says for every opcode we serve: its name,
 * the minimum argument size, the minimum reply payload, whether it names a
 * node (h.nodeid) that must exist, whether that node must be a directory,
 * whether it modifies the share (EROFS on a read-only share), and its
 * handler. Arguments are read with the iovec cursors of lib/iov.h; names
 * are NUL-terminated inside the request, 1..NAME_MAX bytes (longer:
 * ENAMETOOLONG, as a local file system), without '/'.
 *
 * Error policy. fuse_server_handle() returns:
 *   > 0   the reply length written into the writable iovecs;
 *   0     no reply is due (FORGET, BATCH_FORGET, INTERRUPT);
 *   < 0   -EBADMSG: the request lies about its own structure and cannot be
 *         answered: readable part shorter than struct fuse_in_header, the
 *         header's len beyond the readable part or below the header size, or
 *         a writable part too small for struct fuse_out_header when a reply
 *         is due. The device puts itself in NEEDS_RESET.
 * Everything else is an error reply with the request's unique ID:
 *   EINVAL  argument struct shorter than the opcode needs, a name without
 *           NUL inside the request, an empty name or one with '/',
 *           extensions longer than the request, a WRITE whose size exceeds
 *           the data that came with it, a reply buffer smaller than the
 *           opcode's reply (checked before the operation runs, so nothing is
 *           done, and no lookup counted, for a reply that cannot be sent);
 *   ENAMETOOLONG  a name longer than NAME_MAX;
 *   EROFS   a modifying request on a read-only share;
 *   ENOSYS  opcodes not served (the guest stops sending them), extended
 *           attributes on a share without `xattr`;
 *   EIO     any request before INIT;
 *   else    what the file system returned.
 */
#ifndef APERTURE_FUSE_WIRE_H
#define APERTURE_FUSE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include "devices/fuse-fs.h"
#include "lib/iov.h"

#define FUSE_WIRE_MAX_PAGES 256                    /* 1 MiB READ/WRITE */
#define FUSE_WIRE_MAX_WRITE (FUSE_WIRE_MAX_PAGES * 4096u)

struct fuse_server {
	const struct fuse_fs_ops *ops;
	void *fs;
	struct fuse_options opt;
	bool initialized;     /* INIT seen (atomic: queue threads read it) */
	struct fuse_session session; /* written by INIT only, before initialized is set */
};

/* Serve file system `fs` through `ops` with options `opt` (copied). */
void fuse_server_init(struct fuse_server *s, const struct fuse_fs_ops *ops, void *fs, const struct fuse_options *opt);
/* One request; see the error policy above. hiprio: the high-priority queue (only FORGET, BATCH_FORGET, INTERRUPT). */
long fuse_server_handle(struct fuse_server *s, const struct iovec *in, unsigned nin, const struct iovec *out,
			unsigned nout, bool hiprio);
/* The session ends (device reset): the file system forgets it, INIT is needed again. */
void fuse_server_reset(struct fuse_server *s);
/* The opcode's name ("LOOKUP"), or NULL when not served: for logs and tests. */
const char *fuse_opcode_name(uint32_t opcode);

/* ---- for a file system's readdir ---- */

/* READDIRPLUS (entries carry a struct fuse_entry_out) or READDIR. */
bool fuse_dir_plus(const struct fuse_dir_sink *s);
/* Would an entry with a name of namelen bytes fit? (Check before a READDIRPLUS lookup.) */
bool fuse_dir_fits(const struct fuse_dir_sink *s, size_t namelen);
/*
 * Append one entry (off: the cookie that continues after it; e: its entry
 * with READDIRPLUS, NULL for none). false, nothing written, when it does not
 * fit: fuse_dir_fits() said true for this namelen means it fits.
 */
bool fuse_dir_add(struct fuse_dir_sink *s, const char *name, size_t namelen, uint64_t ino, uint32_t type,
		  uint64_t off, const struct fuse_entry_out *e);

#endif
