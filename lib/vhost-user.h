/* SPDX-License-Identifier: MIT */
/*
 * The vhost-user protocol (QEMU's docs/interop/vhost-user.rst): the wire
 * between the monitor (front end) and a device back end running in its own
 * process. Messages on a UNIX stream socket: a 12-byte header (request,
 * flags, payload size), the payload, and file descriptors as SCM_RIGHTS.
 *
 * Only what our front end and back ends use is defined here; the payload
 * structs for vrings come from <linux/vhost_types.h>. Both ends validate
 * what they receive: vu_recv() checks the header (version, size against the
 * request's payload, the reply bit) and never returns more descriptors
 * than the caller has room for (the rest are closed).
 */
#ifndef APERTURE_LIB_VHOST_USER_H
#define APERTURE_LIB_VHOST_USER_H

#include <linux/vhost_types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/util.h"

enum vu_request {
	VU_GET_FEATURES = 1,
	VU_SET_FEATURES = 2,
	VU_SET_OWNER = 3,
	VU_RESET_OWNER = 4,
	VU_SET_MEM_TABLE = 5,
	VU_SET_VRING_NUM = 8,
	VU_SET_VRING_ADDR = 9,
	VU_SET_VRING_BASE = 10,
	VU_GET_VRING_BASE = 11,
	VU_SET_VRING_KICK = 12,
	VU_SET_VRING_CALL = 13,
	VU_SET_VRING_ERR = 14,
	VU_GET_PROTOCOL_FEATURES = 15,
	VU_SET_PROTOCOL_FEATURES = 16,
	VU_GET_QUEUE_NUM = 17,
	VU_SET_VRING_ENABLE = 18,
	VU_SET_BACKEND_REQ_FD = 21,
	VU_GET_CONFIG = 24,
	VU_SET_CONFIG = 25,
	VU_RESET_DEVICE = 34,
	VU_GET_MAX_MEM_SLOTS = 36,
	VU_SET_STATUS = 39,
	VU_GET_STATUS = 40,
	VU_REQUEST_MAX = 41,
};

#define VU_VERSION 0x1u
#define VU_FLAG_VERSION_MASK 0x3u
#define VU_FLAG_REPLY (1u << 2)
#define VU_FLAG_NEED_REPLY (1u << 3)

#define VU_F_PROTOCOL_FEATURES 30 /* a device feature bit that only vhost-user uses */
#define VU_PROTOCOL_F_MQ 0
#define VU_PROTOCOL_F_REPLY_ACK 3
#define VU_PROTOCOL_F_CONFIG 9
#define VU_PROTOCOL_F_RESET_DEVICE 13
#define VU_PROTOCOL_F_STATUS 16

#define VU_MAX_REGIONS 8              /* memory regions in one SET_MEM_TABLE */
#define VU_MAX_FDS 8                  /* descriptors with one message */
#define VU_MAX_PAYLOAD 4096
#define VU_VRING_INDEX_MASK 0xFFu
#define VU_VRING_NOFD (1ULL << 8)     /* in a KICK/CALL/ERR payload: no descriptor */

/* One region of a SET_MEM_TABLE (the kernel's vhost_memory_region with an mmap offset). */
struct vu_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t uaddr;       /* the front end's address of gpa */
	uint64_t mmap_offset; /* where gpa is in the region's fd */
};

struct vu_mem {
	uint32_t nregions;
	uint32_t padding;
	struct vu_region region[VU_MAX_REGIONS];
};

struct vu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
};

struct vu_msg {
	struct vu_hdr hdr;
	union {
		uint64_t u64;
		struct vhost_vring_state state;
		struct vhost_vring_addr addr;
		struct vu_mem mem;
		uint8_t raw[VU_MAX_PAYLOAD];
	};
};

_Static_assert(sizeof(struct vu_hdr) == 12, "vhost-user header is 12 bytes");
_Static_assert(sizeof(struct vu_region) == 32, "vhost-user memory region is 32 bytes");

/* The name of a request for log lines ("SET_MEM_TABLE"), "?" if unknown. */
const char *vu_request_name(uint32_t req);

/*
 * Send m (header + m->hdr.size payload bytes) with nfds descriptors.
 * 0 or -errno (-EPIPE when the peer is gone).
 */
int vu_send(int sock, const struct vu_msg *m, const int *fds, unsigned nfds) must_check;
/*
 * Receive one message into m. Up to maxfds descriptors land in fds
 * (*nfds says how many; any more are closed). Checks: version 1, payload
 * size <= VU_MAX_PAYLOAD, the whole message arrived. Returns 0, -ECONNRESET
 * on EOF, -EBADMSG for a malformed header (the stream is unusable), or
 * -errno. On error no descriptor is left open.
 */
int vu_recv(int sock, struct vu_msg *m, int *fds, unsigned maxfds, unsigned *nfds) must_check;

/* A request with a u64 payload (or none when has_u64 is false), no descriptors. */
void vu_msg_init(struct vu_msg *m, uint32_t req, uint32_t size);

#endif
