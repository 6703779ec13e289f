/* SPDX-License-Identifier: MIT */
/*
 * The passt process behind --net user: started as our child with one end
 * of a socketpair as --fd (frames framed as devices/net-passt.c reads
 * them), in the foreground, in its own process group (a Ctrl-C at the
 * terminal is the monitor's to handle), with the forwards as -t/-u.
 *
 * passt dies with the VM: with --fd it exits once that socket closes,
 * which happens when the monitor exits for any reason (our end is
 * close-on-exec and never shared); passt_stop() closes it and waits (then
 * kills). PR_SET_PDEATHSIG covers the moment before passt execs; passt
 * clears it itself when it changes to user nobody (started as root).
 *
 * passt's messages (stderr) go through a pipe to a reader thread: shown
 * with --verbose as "passt: ..." lines, and the last one kept for the line
 * that reports a passt that died.
 */
#ifndef APERTURE_PASST_H
#define APERTURE_PASST_H

#include <stdbool.h>
#include <stddef.h>
#include "devices/net-backend.h"
#include "vmm/netcfg.h"

/* The MTU passt announces by DHCP and NDP unless told otherwise (its default). */
#define PASST_MTU 65520

struct passt;

/* passt's path from $PATH into buf; false when it is not installed. */
bool passt_find(char *buf, size_t len);
/*
 * Can each forward's host port be bound (the check passt does not make: it
 * skips a port it cannot bind)? 0, or -EADDRINUSE/-EACCES/... with one line.
 */
int passt_check_ports(const struct net_fwd *fwd, unsigned n, char *err, size_t errlen) must_check;
/*
 * Start passt (found at `path`) with these forwards, announcing `mtu` (passt
 * --mtu, also the device's MTU). On success *be is the
 * framing back end over its socket (owned by the struct passt). -errno and
 * one line in err.
 */
int passt_start(const char *path, const struct net_fwd *fwd, unsigned n, unsigned mtu, struct passt **out,
		struct net_backend **be, char *err, size_t errlen) must_check;
/* Close the socket (passt exits), wait for it (SIGKILL after a second), free. */
void passt_stop(struct passt *p);

#endif
