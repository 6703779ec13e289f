/* SPDX-License-Identifier: MIT */
/*
 * --net: what the user asked for (netcfg_parse(), pure, for cli.c and its
 * tests) and the back end that makes it real (netcfg_open(), before any VM
 * exists, so every problem is one line and exit 2).
 *
 *   --net user[,hostfwd=tcp|udp:[ADDR:]HOSTPORT:GUESTPORT]...[,mac=MAC][,mtu=N]
 *        user-mode networking through passt (a child process, vmm/passt.c);
 *        the guest gets its address by DHCP from passt
 *   --net tap=IFNAME[,queues=N][,mac=MAC][,addr=A.B.C.D/LEN[,gw=A.B.C.D]]
 *        a tap interface (created when it does not exist and we may);
 *        addr/gw are handed to the guest init, which configures them
 *   --net none
 * Without --net: user when passt is installed (what a development VM is
 * expected to have: outgoing connections and DNS), else no NIC and one line
 * saying so.
 */
#ifndef APERTURE_NETCFG_H
#define APERTURE_NETCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "devices/net-backend.h"
#include "lib/util.h"

#define NETCFG_MAX_FWD 16
/* --net user,mtu=: IPv6's minimum link MTU to passt's (and our PASST_MTU) largest */
#define NETCFG_MTU_MIN 1280
#define NETCFG_MTU_MAX 65520
#define NETCFG_IFNAMSIZ 16

enum net_mode { NET_DEFAULT = 0, NET_NONE, NET_USER, NET_TAP };

struct net_fwd {
	bool udp;
	uint32_t addr;      /* host byte order; 0: every address */
	uint16_t host, guest;
};

struct net_config {
	enum net_mode mode;
	char ifname[NETCFG_IFNAMSIZ];
	unsigned queues;    /* tap: queue pairs, 1 by default */
	bool mac_given;
	uint8_t mac[6];
	unsigned nfwd;
	struct net_fwd fwd[NETCFG_MAX_FWD];
	uint32_t addr, gw;  /* tap: host byte order, 0: none */
	unsigned mtu;       /* user: the MTU passt announces, 0: passt's default (PASST_MTU) */
	unsigned prefix;
};

/* Parse a --net value into nc. 0, or -1 with one line in err. */
int netcfg_parse(const char *spec, struct net_config *nc, char *err, size_t errlen) must_check;

/* Does this configuration (perhaps) want a NIC? (NET_DEFAULT: yes, if passt is there.) */
bool netcfg_wants_nic(const struct net_config *nc);

struct passt;

/* A NIC ready to be added: its back end and what the guest is told. */
struct netcfg_nic {
	struct net_backend *be;  /* NULL: no NIC */
	struct passt *passt;     /* the passt process behind be, or NULL */
	uint8_t mac[6];
	bool dhcp;               /* the guest asks DHCP (passt answers) */
	uint32_t addr, gw;       /* else a static address, if any (host order) */
	unsigned prefix;
};

/*
 * Make the back end for nc: start passt or open the tap. Returns 0 (nic->be
 * may be NULL: no NIC), or a negative errno with one line in err (the
 * caller exits 2).
 */
int netcfg_open(const struct net_config *nc, struct netcfg_nic *nic, char *err, size_t errlen) must_check;
/* Stop passt (kill, wait) and close the back end. */
void netcfg_close(struct netcfg_nic *nic);

#endif
