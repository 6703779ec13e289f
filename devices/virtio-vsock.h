/* SPDX-License-Identifier: MIT */
/*
 * virtio-vsock (virtio type 19): stream sockets between the guest (CID from
 * the configuration, e.g. 3) and the host (CID 2). Three queues:
 *   0 rx     driver posts writable buffers; the device fills each with one
 *            packet (struct virtio_vsock_hdr, then payload, scattered over
 *            the chain's writable segments)
 *   1 tx     driver->device packets (header + payload, readable only)
 *   2 event  writable buffers the device holds; no event is ever sent
 * Only VIRTIO_VSOCK_TYPE_STREAM; a packet of any other type gets RST.
 *
 * What the device trusts: the caller (monitor) and the transport's checked
 * chains (every iovec lies inside the device's view, devices/virtqueue.h).
 * What it does not trust: every byte the guest wrote. A header is gathered
 * once into a local copy (it may be split over descriptors) and every field
 * is checked: src_cid must be the guest's CID and dst_cid 2 (else the packet
 * is dropped), len must equal the payload present and be <= VSOCK_MAX_PAYLOAD,
 * type STREAM and op known (else RST; the connection, if any, is reset), a
 * packet for no connection gets RST, a RW beyond the credit we advertised is
 * a protocol error that resets that connection (not the device). Payload is
 * copied into a device buffer before a callback sees it (no pointer into
 * guest memory escapes, no double fetch). Structural errors in a chain
 * (a tx chain with a writable segment or shorter than a header, an rx or
 * event buffer that is readable or shorter than its header, more buffers
 * held than the ring has slots) are virtio_dev_fail(): NEEDS_RESET.
 * Guest-chosen amounts are bounded: VSOCK_MAX_CONNS connections,
 * VSOCK_MAX_ORPHAN_RST queued RSTs for unknown connections (more are
 * dropped), VSOCK_SENDBUF host->guest bytes queued per connection, and the
 * guest->host direction by the credit we give (VSOCK_BUF_ALLOC).
 *
 * Flow control (virtio 1.2 §5.10.6.3): every header we send carries our
 * buf_alloc and fwd_cnt; we never send more RW payload than the guest's
 * buf_alloc - (tx_cnt - fwd_cnt) from its latest header; we send
 * CREDIT_UPDATE on CREDIT_REQUEST and once the guest has used half of the
 * credit it last saw from us; when stalled on zero credit with data queued
 * we send one CREDIT_REQUEST.
 *
 * Threads: packets are handled on the transport's worker thread, which also
 * runs every callback below, never with the device lock held (callbacks may
 * call vsock_send()/vsock_close()/vsock_consumed()). The host API is
 * thread-safe; host->guest data is queued and the rx queue kicked
 * (virtio_dev_kick()). On a device reset or destroy, closed() runs on the
 * resetting thread while the worker is stopped.
 *
 * Lifetime of a struct vsock_conn: valid from accept() (or vsock_connect())
 * until closed() returns. The monitor must not call anything on it after
 * that; calls that may race with closed() must be serialised by the monitor
 * with a lock of its own that closed() also takes (they then see -ENOTCONN).
 */
#ifndef APERTURE_VIRTIO_VSOCK_H
#define APERTURE_VIRTIO_VSOCK_H

#include <linux/virtio_ids.h>
#include <linux/virtio_vsock.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "devices/virtio-pci.h"

#define VSOCK_HOST_CID 2
#define VSOCK_QUEUE_SIZE 128
#define VSOCK_HDR_SIZE ((uint32_t)sizeof(struct virtio_vsock_hdr))
#define VSOCK_MAX_PAYLOAD 65536u        /* len cap of one packet, both ways */
#define VSOCK_BUF_ALLOC (256u * 1024)   /* credit we give the guest per connection */
#define VSOCK_SENDBUF (256u * 1024)     /* host->guest bytes queued per connection */
#define VSOCK_MAX_CONNS 256
#define VSOCK_MAX_LISTENERS 32
#define VSOCK_MAX_ORPHAN_RST 64
#define VSOCK_RX_SEGS 8                 /* writable segments of an rx buffer we use */
#define VSOCK_EPHEMERAL_BASE (1u << 30) /* host ports of host-initiated connections */
#define VSOCK_CLOSE_TIMEOUT_MS 2000     /* vsock_close() -> torn down at the latest */

struct vsock_conn; /* opaque */
struct vsock_uds;

struct vsock_listener_ops {
	/*
	 * A guest connected to the listener's port (or, for vsock_connect(),
	 * unused). Return the connection's context, or NULL to refuse (the
	 * guest gets RST and c is gone when this returns). May call
	 * vsock_send()/vsock_close() on c.
	 */
	void *(*accept)(void *ctx, struct vsock_conn *c, uint32_t guest_port);
	/* In-order bytes from the guest; len == 0 (buf NULL): the guest shut
	 * down its sending side (EOF), said once. */
	void (*recv)(void *conn_ctx, const uint8_t *buf, size_t len);
	/* The connection is gone (guest shutdown/reset, vsock_close() done,
	 * refused, device reset). The last callback for it. */
	void (*closed)(void *conn_ctx);
	/* Optional: a host-initiated connection was accepted by the guest. */
	void (*connected)(void *conn_ctx);
	/* Optional: vsock_send() returned -EAGAIN earlier and at least half
	 * of the per-connection buffer is free again. */
	void (*writable)(void *conn_ctx);
	/* If set, our fwd_cnt (the guest's credit) only advances when the
	 * monitor calls vsock_consumed(); else as soon as recv() returns. */
	bool manual_credit;
};

struct vsock_rx_buf {
	uint16_t head;
	uint16_t nseg;
	uint32_t cap;                        /* bytes of iov[] (<= 1 GiB) */
	struct iovec iov[VSOCK_RX_SEGS];     /* SAFETY: from vq_pop(), inside the view */
};

struct vsock_listener {
	uint32_t port;
	const struct vsock_listener_ops *ops;
	void *ctx;
};

struct vsock_orphan {
	uint32_t host_port, guest_port;
	uint16_t type;
};

struct virtio_vsock {
	struct virtio_dev vdev;
	uint64_t guest_cid;

	pthread_mutex_t lock;   /* everything down to "worker only" */
	struct vsock_listener listeners[VSOCK_MAX_LISTENERS];
	unsigned nlisteners;
	struct vsock_conn *conns[VSOCK_MAX_CONNS];
	unsigned nconns;
	unsigned rr;            /* round-robin cursor over conns[] for rx */
	struct vsock_orphan orphans[VSOCK_MAX_ORPHAN_RST];
	unsigned orphan_head, norphans;
	uint32_t next_port;     /* next ephemeral host port */

	/* worker only (or with the worker stopped) */
	struct vsock_rx_buf rx[VSOCK_QUEUE_SIZE];
	unsigned rx_head, rx_count;
	unsigned event_held;    /* event buffers taken and kept */
	struct vq_chain chain;
	uint8_t bounce[VSOCK_MAX_PAYLOAD];

	/* statistics (atomic) */
	uint64_t dropped;       /* packets with wrong CIDs, orphan RSTs not sent, payload after vsock_close() */
	uint64_t proto_errors;  /* connections reset for a protocol error */

	struct vsock_uds *uds;  /* vsock_uds_listen() */
};

/* Initialise v as a virtio device (PCI function ready for pci_bus_add()). -errno. */
int virtio_vsock_init(struct virtio_vsock *v, const struct virtio_platform *plat, const struct gm_view *view,
		      uint64_t guest_cid) must_check;
/* Stop the UNIX-socket bridge and the worker; closed() for every connection. */
void virtio_vsock_destroy(struct virtio_vsock *v);

/* Accept guest connections to host port `port`. -EADDRINUSE, -ENOSPC. */
int vsock_listen(struct virtio_vsock *v, uint32_t port, const struct vsock_listener_ops *ops, void *ctx) must_check;

/*
 * Connect to guest port `guest_port` from a fresh host port. On 0, *out is
 * the connection: connected(conn_ctx) follows when the guest accepts,
 * closed(conn_ctx) when it refuses. -EAGAIN when VSOCK_MAX_CONNS are open.
 */
int vsock_connect(struct virtio_vsock *v, uint32_t guest_port, const struct vsock_listener_ops *ops,
		  void *conn_ctx, struct vsock_conn **out) must_check;

/*
 * Queue len bytes for the guest (copied; all or nothing). 0, or -EAGAIN when
 * the per-connection buffer (VSOCK_SENDBUF) lacks room now (writable()
 * follows), -EMSGSIZE when len > VSOCK_SENDBUF, -EPIPE after vsock_close()
 * or when the guest shut down its receiving side, -ENOTCONN when the
 * connection is being torn down, -ENOMEM.
 */
int vsock_send(struct vsock_conn *c, const void *buf, size_t len) must_check;

/* With manual_credit: n bytes handed to recv() were consumed. */
void vsock_consumed(struct vsock_conn *c, size_t n);

/*
 * Orderly close: queued data is delivered, then SHUTDOWN and RST; then
 * closed(). From this call on the connection takes no more payload from the
 * guest (recv() is not called again; what arrives is dropped and counted),
 * and it is torn down (closed(), RST owed) after VSOCK_CLOSE_TIMEOUT_MS even
 * if the guest never posts an rx buffer or never grants credit.
 */
void vsock_close(struct vsock_conn *c);

/* The ports of a connection (valid while c is). */
uint32_t vsock_conn_host_port(const struct vsock_conn *c);
uint32_t vsock_conn_guest_port(const struct vsock_conn *c);

#endif
