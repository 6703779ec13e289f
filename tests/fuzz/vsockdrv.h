/* SPDX-License-Identifier: MIT */
/*
 * A hostile guest's virtio-vsock driver on the native harness, for the fuzz
 * targets (fuzz_vsock, fuzz_initchan) and the thread-sanitizer stress test.
 *
 * Guest RAM is 4 MiB; the device sees only its aperture [1 MiB, 3 MiB) and
 * the rest of RAM is PROT_NONE in the host mapping (on top of fakemem's
 * guard pages around RAM), so a device access outside its view kills the
 * process. The driver keeps its rings and buffers inside the aperture, but
 * can point descriptors anywhere it likes (vdrv_tx() flag VDRV_TX_WILD).
 *
 * Two ways to run the device:
 *   sync   DRIVER_OK is never set, so the transport starts no worker;
 *          vdrv_notify() calls the device's queue_notify itself, as the
 *          worker would (deterministic, no threads: the fuzz targets);
 *   async  DRIVER_OK is set and vdrv_notify() kicks through the notify
 *          register; the device's worker does the rest (the stress test).
 *
 * Every packet the device puts on the rx queue is checked by
 * vdrv_rx_next(): a used id the driver posted, a used length that fits the
 * buffer and equals header + len, host -> guest CIDs, a known op, STREAM.
 * A broken rule prints what it saw and aborts (VDRV_CHECK).
 */
#ifndef APERTURE_TEST_VSOCKDRV_H
#define APERTURE_TEST_VSOCKDRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "devices/virtio-vsock.h"
#include "tests/unit/fakemem.h"
#include "tests/unit/harness.h"

#define VDRV_MEM (4u << 20)
#define VDRV_AP_BASE 0x100000ULL
#define VDRV_AP_SIZE 0x200000ULL
#define VDRV_QS 16
#define VDRV_CID 3
#define VDRV_RXSZ 0x1000u       /* largest rx buffer */
#define VDRV_TXMAX (VSOCK_MAX_PAYLOAD + 0x1000u)

/* The invariant `cond` must hold; else print it and abort (a fuzz finding). */
#define VDRV_CHECK(cond, ...) \
	do { \
		if (!(cond)) \
			vdrv_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
	} while (0)
__attribute__((noreturn, format(printf, 4, 5))) void vdrv_fail(const char *file, int line, const char *cond,
								const char *fmt, ...);

/*
 * Guest-memory accesses of the fake driver: invisible to the thread
 * sanitizer, as a real guest's are (the device must copy what it reads and
 * cope with a guest changing it meanwhile; that is not a host data race).
 */
void guest_access_begin(void);
void guest_access_end(void);

struct vdrv {
	struct harness h;
	struct gm_view view;            /* the device's aperture */
	struct virtio_vsock *v;
	bool sync;
	struct fake_ring rx, tx, ev;
	uint16_t rx_next, tx_next, ev_next;  /* next descriptor to use */
	uint32_t rx_size[VDRV_QS];      /* largest buffer posted with descriptor i and not used */
	unsigned rx_posted[VDRV_QS];    /* times posted and not used yet */
	uint64_t rx_packets, tx_packets;
};

/* Once per process: fake RAM, guards outside the aperture. */
void vdrv_mem_init(struct vdrv *d);
/* A fresh PCI bus on a harness (pci_bus_add() has no removal: the old devices are forgotten). */
void vdrv_new_bus(struct harness *h);
/* A fresh PCI bus on the harness, then virtio_vsock_init(v), plug it and vdrv_start(). */
void vdrv_dev_init(struct vdrv *d, struct virtio_vsock *v, bool sync);
/*
 * Reset the device (status 0: closed() for every connection), negotiate,
 * fresh rings, all queues enabled (and DRIVER_OK when async). False when
 * FEATURES_OK did not stick (another thread of the stress test reset it).
 */
bool vdrv_start(struct vdrv *d);
void vdrv_dev_destroy(struct vdrv *d);

bool vdrv_failed(struct vdrv *d);
/* Notify queue q (sync: run it here unless the device failed or the queue is off). */
void vdrv_notify(struct vdrv *d, unsigned q);

/* vdrv_tx() flags */
#define VDRV_TX_SPLIT(n) ((unsigned)(n) & 7u)  /* header over n extra small segments */
#define VDRV_TX_WRITABLE 0x08u                  /* last segment device-writable */
#define VDRV_TX_WILD 0x10u                      /* last segment at `wild` (anywhere) */
#define VDRV_TX_NONOTIFY 0x20u                  /* post only */

/* Post one tx chain holding pkt[0..n) (n <= VDRV_TXMAX) and notify. */
void vdrv_tx(struct vdrv *d, const void *pkt, size_t n, unsigned flags, uint64_t wild);
/* A packet from the guest's CID to the host's: header fields, payload. */
void vdrv_tx_pkt(struct vdrv *d, uint32_t src_port, uint32_t dst_port, uint16_t op, uint32_t flags,
		 uint32_t buf_alloc, uint32_t fwd_cnt, const void *payload, uint32_t len);
/* Post `count` rx buffers of `size` bytes (size < a header is a broken driver) and notify. */
void vdrv_post_rx(struct vdrv *d, unsigned count, uint32_t size);
/* Post an event buffer and notify. */
void vdrv_post_event(struct vdrv *d, bool writable, uint32_t size);

/*
 * The next packet the device completed on rx, checked (see above): its header,
 * and up to cap payload bytes copied into payload. False when there is none.
 */
bool vdrv_rx_next(struct vdrv *d, struct virtio_vsock_hdr *hdr, uint8_t *payload, size_t cap);

/* Descriptors open in this process that are eventfds (leak checks). */
int vdrv_count_eventfds(void);
/* Threads in this process. */
int vdrv_count_threads(void);
/* The thread count once it is down to want, waiting up to 1 s for joined threads to leave /proc. */
int vdrv_threads_settle(int want);

#endif
