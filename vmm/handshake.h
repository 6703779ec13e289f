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

struct handshake {
	struct devmgr *dm;
	struct vm *vm;
	pthread_mutex_t lock;
	struct vsock_conn *conn;   /* the one init connection, or NULL */
	struct initchan_parser parser;
	bool caps_seen;
	unsigned malformed;        /* connections closed for bad messages */
};

int handshake_init(struct handshake *hs, struct devmgr *dm, struct vm *vm) must_check;

#endif
