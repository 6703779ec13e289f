/* SPDX-License-Identifier: MIT */
#include "vmm/netcfg.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "devices/virtio-net.h"
#include "lib/log.h"
#include "vmm/passt.h"

static int bad(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* A decimal number in [min, max] of exactly `len` characters. */
static bool num(const char *s, size_t len, unsigned long min, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (len == 0 || len > 10)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* Dotted IPv4 of exactly `len` characters, into host byte order. */
static bool ipv4(const char *s, size_t len, uint32_t *out)
{
	uint32_t a = 0;
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		size_t j = i;
		unsigned long v;

		while (j < len && s[j] != '.')
			j++;
		if (!num(s + i, j - i, 0, 255, &v) || (j - i > 1 && s[i] == '0'))
			return false;
		a = a << 8 | (uint32_t)v;
		if (part < 3 && (j == len || s[j] != '.'))
			return false;
		i = j + 1;
	}
	if (i != len + 1)
		return false;
	*out = a;
	return true;
}

static bool mac_parse(const char *s, size_t len, uint8_t mac[6])
{
	static const char hex[] = "0123456789abcdef";

	if (len != 17)
		return false;
	for (int i = 0; i < 6; i++) {
		const char *hi = strchr(hex, s[3 * i] | 0x20), *lo = strchr(hex, s[3 * i + 1] | 0x20);

		if (!s[3 * i] || !s[3 * i + 1] || !hi || !lo || (i < 5 && s[3 * i + 2] != ':'))
			return false;
		mac[i] = (uint8_t)((hi - hex) << 4 | (lo - hex));
	}
	return true;
}

/* hostfwd=tcp|udp:[ADDR:]HOSTPORT:GUESTPORT */
static int parse_fwd(struct net_config *nc, const char *v, size_t len, char *err, size_t errlen)
{
	const char *end = v + len, *c1, *c2, *c3;
	struct net_fwd f = { 0 };
	unsigned long hp, gp;

	if (nc->nfwd == NETCFG_MAX_FWD)
		return bad(err, errlen, "--net user: at most %d hostfwd= forwards", NETCFG_MAX_FWD);
	if (len > 4 && memcmp(v, "tcp:", 4) == 0)
		f.udp = false;
	else if (len > 4 && memcmp(v, "udp:", 4) == 0)
		f.udp = true;
	else
		goto malformed;
	c1 = v + 3;
	c2 = memchr(c1 + 1, ':', (size_t)(end - c1 - 1));
	if (!c2)
		goto malformed;
	c3 = memchr(c2 + 1, ':', (size_t)(end - c2 - 1));
	if (c3) {
		if (!ipv4(c1 + 1, (size_t)(c2 - c1 - 1), &f.addr) || f.addr == 0)
			goto malformed;
		c1 = c2;
		c2 = c3;
	}
	if (!num(c1 + 1, (size_t)(c2 - c1 - 1), 1, 65535, &hp) || !num(c2 + 1, (size_t)(end - c2 - 1), 1, 65535, &gp))
		return bad(err, errlen, "--net user: hostfwd=%.*s: ports are numbers from 1 to 65535", (int)len, v);
	f.host = (uint16_t)hp;
	f.guest = (uint16_t)gp;
	for (unsigned i = 0; i < nc->nfwd; i++)
		if (nc->fwd[i].udp == f.udp && nc->fwd[i].host == f.host)
			return bad(err, errlen, "--net user: host port %s:%u is forwarded twice", f.udp ? "udp" : "tcp",
				   f.host);
	nc->fwd[nc->nfwd++] = f;
	return 0;
malformed:
	return bad(err, errlen, "--net user: hostfwd=%.*s: expected tcp|udp:[ADDR:]HOSTPORT:GUESTPORT", (int)len, v);
}

int netcfg_parse(const char *spec, struct net_config *nc, char *err, size_t errlen)
{
	const char *p, *mode = spec;
	size_t ml = strcspn(spec, ",");
	bool gw_given = false;

	memset(nc, 0, sizeof(*nc));
	nc->queues = 1;
	if (ml == 4 && memcmp(spec, "none", 4) == 0 && !spec[4]) {
		nc->mode = NET_NONE;
		return 0;
	}
	if (ml == 4 && memcmp(spec, "user", 4) == 0) {
		nc->mode = NET_USER;
	} else if (ml > 4 && memcmp(spec, "tap=", 4) == 0) {
		nc->mode = NET_TAP;
		if (ml - 4 >= NETCFG_IFNAMSIZ || memchr(spec + 4, '/', ml - 4) || memchr(spec + 4, ' ', ml - 4))
			return bad(err, errlen, "--net tap=%.*s: not an interface name (at most %d characters, no '/')",
				   (int)(ml - 4), spec + 4, NETCFG_IFNAMSIZ - 1);
		memcpy(nc->ifname, spec + 4, ml - 4);
	} else {
		return bad(err, errlen, "--net %s: expected user[,...], tap=IFNAME[,...] or none", spec);
	}
	for (p = spec + ml; *p == ','; ) {
		const char *opt = p + 1, *eq;
		size_t ol = strcspn(opt, ","), kl, vl;

		p = opt + ol;
		eq = memchr(opt, '=', ol);
		if (!eq)
			return bad(err, errlen, "--net %.*s: option '%.*s' needs a value", (int)ml, mode, (int)ol, opt);
		kl = (size_t)(eq - opt);
		vl = ol - kl - 1;
#define KEY(k) (kl == sizeof(k) - 1 && memcmp(opt, k, kl) == 0)
		if (KEY("mac")) {
			if (!mac_parse(eq + 1, vl, nc->mac) || (nc->mac[0] & 1) ||
			    !(nc->mac[0] | nc->mac[1] | nc->mac[2] | nc->mac[3] | nc->mac[4] | nc->mac[5]))
				return bad(err, errlen, "--net: mac=%.*s: expected a unicast address like 02:00:00:00:00:01",
					   (int)vl, eq + 1);
			nc->mac_given = true;
		} else if (nc->mode == NET_USER && KEY("mtu")) {
			unsigned long m;

			if (!num(eq + 1, vl, NETCFG_MTU_MIN, NETCFG_MTU_MAX, &m))
				return bad(err, errlen, "--net user: mtu=%.*s: a number from %u to %u", (int)vl, eq + 1,
					   NETCFG_MTU_MIN, NETCFG_MTU_MAX);
			nc->mtu = (unsigned)m;
		} else if (nc->mode == NET_USER && KEY("hostfwd")) {
			if (parse_fwd(nc, eq + 1, vl, err, errlen))
				return -1;
		} else if (nc->mode == NET_TAP && KEY("queues")) {
			unsigned long q;

			if (!num(eq + 1, vl, 1, NET_MAX_PAIRS, &q))
				return bad(err, errlen, "--net tap: queues=%.*s: a number from 1 to %u", (int)vl, eq + 1,
					   NET_MAX_PAIRS);
			nc->queues = (unsigned)q;
		} else if (nc->mode == NET_TAP && KEY("addr")) {
			const char *slash = memchr(eq + 1, '/', vl);
			unsigned long len;

			if (!slash || !ipv4(eq + 1, (size_t)(slash - eq - 1), &nc->addr) || nc->addr == 0 ||
			    !num(slash + 1, (size_t)(eq + 1 + vl - slash - 1), 1, 32, &len))
				return bad(err, errlen, "--net tap: addr=%.*s: expected A.B.C.D/LEN", (int)vl, eq + 1);
			nc->prefix = (unsigned)len;
		} else if (nc->mode == NET_TAP && KEY("gw")) {
			if (!ipv4(eq + 1, vl, &nc->gw) || nc->gw == 0)
				return bad(err, errlen, "--net tap: gw=%.*s: expected A.B.C.D", (int)vl, eq + 1);
			gw_given = true;
		} else {
			return bad(err, errlen, "--net %s: unknown option '%.*s' (%s)", nc->mode == NET_USER ? "user" : "tap",
				   (int)kl, opt, nc->mode == NET_USER ? "hostfwd=, mac=, mtu=" : "queues=, mac=, addr=, gw=");
		}
#undef KEY
	}
	if (*p)
		return bad(err, errlen, "--net %s: malformed", spec);
	if (gw_given && !nc->addr)
		return bad(err, errlen, "--net tap: gw= needs addr=");
	return 0;
}

bool netcfg_wants_nic(const struct net_config *nc)
{
	return nc->mode != NET_NONE;
}

int netcfg_open(const struct net_config *nc, struct netcfg_nic *nic, char *err, size_t errlen)
{
	char path[PATH_MAX], seed[32], why[200];
	int r;

	memset(nic, 0, sizeof(*nic));
	switch (nc->mode) {
	case NET_NONE:
		return 0;
	case NET_DEFAULT:
	case NET_USER:
		if (!passt_find(path, sizeof(path))) {
			if (nc->mode == NET_DEFAULT) {
				log_msg("passt is not installed: the guest gets no network (apt-get install passt; "
					"--net none for no network without this line)");
				return 0;
			}
			snprintf(err, errlen, "--net user needs passt, which is not installed (apt-get install passt, "
				 "or ./configure --install-deps)");
			return -ENOENT;
		}
		r = passt_check_ports(nc->fwd, nc->nfwd, err, errlen);
		if (!r)
			r = passt_start(path, nc->fwd, nc->nfwd, nc->mtu ? nc->mtu : PASST_MTU, &nic->passt, &nic->be,
					err, errlen);
		if (r)
			return r;
		nic->dhcp = true;
		snprintf(seed, sizeof(seed), "user");
		break;
	case NET_TAP:
		r = net_tap_open(nc->ifname, nc->queues, &nic->be, why, sizeof(why));
		if (r) {
			snprintf(err, errlen, "--net tap=%s: %s", nc->ifname, why);
			return r;
		}
		nic->addr = nc->addr;
		nic->prefix = nc->prefix;
		nic->gw = nc->gw;
		snprintf(seed, sizeof(seed), "tap:%s", nc->ifname);
		break;
	}
	if (nc->mac_given)
		memcpy(nic->mac, nc->mac, sizeof(nic->mac));
	else
		virtio_net_default_mac(seed, nic->mac);
	return 0;
}

void netcfg_close(struct netcfg_nic *nic)
{
	if (nic->passt)
		passt_stop(nic->passt); /* and its back end */
	else
		net_backend_destroy(nic->be);
	memset(nic, 0, sizeof(*nic));
}
