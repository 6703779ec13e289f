/* SPDX-License-Identifier: MIT */
/*
 * The monitor's end of the init channel (docs/protocol.md): listens on vsock
 * port 1024, decodes the guest's messages (vmm/initchan.c), and on
 * GUEST_CAPABILITIES hot-adds the devices that wait for it and answers
 * DEVICES_READY. Boot marks and the exit status are recorded as events.
 *
 * Only connections from privileged guest ports (< INITCHAN_PRIVILEGED_PORTS,
 * which only root in the guest can bind) are accepted; the rest get RST.
 * A malformed message closes the connection with one (rate-limited) log
 * line and the connection takes no more input; the guest's boot goes on
 * without the channel and the monitor keeps running.
 */
#ifndef APERTURE_HANDSHAKE_H
#define APERTURE_HANDSHAKE_H

#include <pthread.h>
#include "devices/virtio-vsock.h"
#include "vmm/aperture.h"
#include "vmm/cli.h"
#include "vmm/devmgr.h"
#include "vmm/initchan.h"
#include "vmm/netcfg.h"

#define HANDSHAKE_MAX_CONNS 4

struct handshake;

/* One guest connection to port 1024 and its stream parser. */
struct hs_conn {
	struct handshake *hs;
	struct vsock_conn *conn;   /* NULL: slot free */
	struct initchan_parser parser;
};

struct handshake {
	struct devmgr *dm;
	struct vm *vm;
	const struct vmm_config *cfg;  /* --dma, --require-aperture, shares */
	struct aperture_limits limits; /* what a guest pool must stay clear of */
	pthread_mutex_t lock;      /* recursive: held across vsock calls that may call closed() */
	struct hs_conn conns[HANDSHAKE_MAX_CONNS];
	struct vsock_conn *reply_to; /* the connection that sent GUEST_CAPABILITIES */
	bool caps_seen;
	char mounts[CLI_MAX_SHARES][CLI_MAX_TAG + 8]; /* "/mnt/<tag>" for DEVICES_READY */
	unsigned malformed;        /* connections closed for bad messages */
	unsigned refused;          /* connections refused: unprivileged port, too many (atomic) */
	const struct netcfg_nic *nic; /* the NIC to add (nic->be NULL or nic NULL: none); set after init */
	char net_mac[18], net_addr[32], net_gw[32]; /* its strings in DEVICES_READY */
};

/* cfg must outlive the handshake. */
int handshake_init(struct handshake *hs, struct devmgr *dm, struct vm *vm, const struct vmm_config *cfg) must_check;

/*
 * What GUEST_CAPABILITIES leads to, decided from the configuration and the
 * pool the guest reported (pure, for the unit tests): the mode the devices
 * get (DMA_DIRECT when there are no apertures), whether devices are added
 * at all, and why.
 */
enum hs_outcome {
	HS_APERTURES,  /* pool accepted: devices get their apertures */
	HS_DIRECT,     /* --dma direct: no apertures asked for */
	HS_FALLBACK,   /* no (usable) pool: devices without apertures, one warning */
	HS_REFUSED,    /* no (usable) pool and --require-aperture: no devices */
};
enum hs_outcome handshake_decide(const struct vmm_config *cfg, const struct aperture_limits *l, uint64_t base,
				 uint64_t size, struct aperture *ap, unsigned nap, char *why, size_t whylen);

/*
 * Whether the aperture [base, base + size) may get a memfd of its own
 * (gm_split() moves the range to another file): 0, or -EBUSY when a range
 * one of the n views already covers overlaps it without being that very
 * aperture (a device's view is never moved under it). Pure, for the tests.
 */
int handshake_may_split(const struct gm_view *const *views, unsigned n, uint64_t base, uint64_t size) must_check;

#endif
