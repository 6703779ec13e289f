/* SPDX-License-Identifier: MIT */
/* The guest end of the init channel (docs/protocol.md): FDT messages over vsock. */
#ifndef APERTURE_GUEST_CHANNEL_H
#define APERTURE_GUEST_CHANNEL_H

#include <stdint.h>
#include "lib/protocol.h"

#define CHAN_HOST_CID INITCHAN_HOST_CID
#define CHAN_PORT INITCHAN_PORT
#define CHAN_MAX_DEVICES INITCHAN_MAX_DEVICES

struct chan_device {
	char kind[32];
	unsigned slot;
	char tag[64];
	char mount[128];
	int read_only;        /* virtio-fs: mount read-only */
	/* virtio-net */
	char mac[18];         /* "02:..." */
	char net_config[16];  /* "dhcp", "static" or "none" */
	char ipv4[24];        /* static: "A.B.C.D/LEN" */
	char gateway[16];     /* static: "A.B.C.D" or empty */
};

struct chan_reply {
	unsigned ndevices;
	struct chan_device dev[CHAN_MAX_DEVICES];
	int has_exec;                      /* the monitor sent an --exec command */
	char exec[INITCHAN_MAX_EXEC + 1];
};

/*
 * Connect to the monitor from a privileged source port (the monitor refuses
 * the others); -1 (errno set) if there is no channel.
 */
int chan_connect(unsigned timeout_ms);
/* GUEST_CAPABILITIES with the pool from sysfs (zeros when absent). */
int chan_send_capabilities(int fd, const char *init_version);
/* Wait for DEVICES_READY; 0 and the devices, or -1. */
int chan_wait_devices_ready(int fd, struct chan_reply *r, unsigned timeout_ms);
int chan_send_mark(int fd, const char *mark);
int chan_send_status(int fd, unsigned status);

#endif
