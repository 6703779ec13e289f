/* SPDX-License-Identifier: MIT */
/* Network setup in the guest init (net.c). */
#ifndef APERTURE_GUEST_NET_H
#define APERTURE_GUEST_NET_H

#include "channel.h"

typedef void (*net_log_fn)(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Bring lo up (the kernel gives it 127.0.0.1). */
void net_loopback_up(net_log_fn log);
/* Configure the virtio-net device d from DEVICES_READY (dhcp, static or none). */
void net_configure(const struct chan_device *d, net_log_fn log);

#endif
