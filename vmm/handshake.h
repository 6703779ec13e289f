/* SPDX-License-Identifier: MIT */
/*
 * The monitor's end of the init channel (docs/protocol.md): listens on vsock
 * port 1024, decodes the guest's messages (vmm/initchan.c), and on
 * GUEST_CAPABILITIES hot-adds the devices that wait for it and answers
 * DEVICES_READY. Boot marks and the exit status are recorded as events.
 *
 * A malformed message closes the connection with one log line; the guest's
 * boot goes on without the channel and the monitor keeps running.
 */
#ifndef APERTURE_HANDSHAKE_H
#define APERTURE_HANDSHAKE_H

#include <pthread.h>
#include "devices/virtio-vsock.h"
#include "vmm/devmgr.h"
#include "vmm/initchan.h"

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
	pthread_mutex_t lock;      /* recursive: held across vsock calls that may call closed() */
	struct hs_conn conns[HANDSHAKE_MAX_CONNS];
	struct vsock_conn *reply_to; /* the connection that sent GUEST_CAPABILITIES */
	bool caps_seen;
	unsigned malformed;        /* connections closed for bad messages */
};

int handshake_init(struct handshake *hs, struct devmgr *dm, struct vm *vm) must_check;

#endif
