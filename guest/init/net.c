/* SPDX-License-Identifier: MIT */
/*
 * Network setup in the guest init: loopback up, and each virtio-net device
 * DEVICES_READY lists configured as it says:
 *   dhcp    a DHCP exchange (DISCOVER, OFFER, REQUEST, ACK) over a packet
 *           socket (the interface has no address yet, so replies sent to
 *           the offered address would not reach a UDP socket), then the
 *           address, netmask, default route and /etc/resolv.conf;
 *   static  the address and gateway the monitor passed on;
 *   none    the interface is only brought up.
 * The interface is found by the MAC the monitor gave the device. Its MTU is
 * the one the device offers (VIRTIO_NET_F_MTU), set by the driver.
 */
#define _GNU_SOURCE
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DHCP_CLIENT_PORT 68
#define DHCP_SERVER_PORT 67
#define DHCP_MAGIC 0x63825363u
#define DHCP_TRIES 8
#define DHCP_WAIT_MS 1000
#define MAX_DNS 3

enum { DISCOVER = 1, OFFER = 2, REQUEST = 3, ACK = 5, NAK = 6 };

struct bootp {
	uint8_t op, htype, hlen, hops;
	uint32_t xid;
	uint16_t secs, flags;
	uint32_t ciaddr, yiaddr, siaddr, giaddr;
	uint8_t chaddr[16];
	uint8_t sname[64];
	uint8_t file[128];
	uint32_t magic;
	uint8_t options[312];
} __attribute__((packed));

struct packet {
	uint8_t ip[20];
	uint8_t udp[8];
	struct bootp b;
} __attribute__((packed));

struct lease {
	uint32_t addr, mask, router, server; /* network byte order */
	uint32_t dns[MAX_DNS];
	unsigned ndns;
	int type;
};

static net_log_fn say;

static uint16_t ip_checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(b[i] << 8 | b[i + 1]);
	while (s >> 16)
		s = (s & 0xFFFF) + (s >> 16);
	return htons((uint16_t)~s);
}

static int ifreq_ioctl(int s, unsigned long req, const char *ifname, struct ifreq *ifr)
{
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", ifname);
	return ioctl(s, req, ifr);
}

static int if_up(int s, const char *ifname)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	if (ifreq_ioctl(s, SIOCGIFFLAGS, ifname, &ifr) < 0)
		return -1;
	ifr.ifr_flags |= IFF_UP;
	return ifreq_ioctl(s, SIOCSIFFLAGS, ifname, &ifr);
}

static int set_addr(int s, const char *ifname, unsigned long req, uint32_t a)
{
	struct ifreq ifr;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = a };

	memset(&ifr, 0, sizeof(ifr));
	memcpy(&ifr.ifr_addr, &sin, sizeof(sin));
	return ifreq_ioctl(s, req, ifname, &ifr);
}

static int add_default_route(int s, const char *ifname, uint32_t gw)
{
	struct rtentry rt;
	struct sockaddr_in any = { .sin_family = AF_INET }, via = { .sin_family = AF_INET, .sin_addr.s_addr = gw };
	char dev[IFNAMSIZ];

	memset(&rt, 0, sizeof(rt));
	memcpy(&rt.rt_dst, &any, sizeof(any));
	memcpy(&rt.rt_genmask, &any, sizeof(any));
	memcpy(&rt.rt_gateway, &via, sizeof(via));
	rt.rt_flags = RTF_UP | RTF_GATEWAY;
	snprintf(dev, sizeof(dev), "%s", ifname);
	rt.rt_dev = dev;
	return ioctl(s, SIOCADDRT, &rt) < 0 && errno != EEXIST ? -1 : 0;
}

/* The interface with this MAC ("02:..."), into name. */
static int find_if(int s, const char *mac, char *name)
{
	struct if_nameindex *list = if_nameindex(), *i;
	int found = -1;

	for (i = list; i && i->if_index; i++) {
		struct ifreq ifr;
		char got[18];
		const uint8_t *m;

		memset(&ifr, 0, sizeof(ifr));
		if (ifreq_ioctl(s, SIOCGIFHWADDR, i->if_name, &ifr) < 0)
			continue;
		m = (const uint8_t *)ifr.ifr_hwaddr.sa_data;
		snprintf(got, sizeof(got), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
		if (strcasecmp(got, mac) == 0) {
			snprintf(name, IFNAMSIZ, "%s", i->if_name);
			found = (int)i->if_index;
			break;
		}
	}
	if (list)
		if_freenameindex(list);
	return found;
}

static void opt(uint8_t **o, uint8_t code, uint8_t len, const void *data)
{
	*(*o)++ = code;
	*(*o)++ = len;
	memcpy(*o, data, len);
	*o += len;
}

static int dhcp_send(int ps, int ifindex, const uint8_t mac[6], uint32_t xid, int type, const struct lease *offer)
{
	static const uint8_t params[] = { 1, 3, 6, 26, 51, 54 };
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP), .sll_ifindex = ifindex,
				  .sll_halen = 6, .sll_addr = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };
	struct packet p;
	uint8_t *o = p.b.options, t = (uint8_t)type;
	size_t blen, tot;
	uint16_t v;

	memset(&p, 0, sizeof(p));
	p.b.op = 1;
	p.b.htype = 1;
	p.b.hlen = 6;
	p.b.xid = xid;
	p.b.flags = htons(0x8000); /* broadcast replies, please */
	memcpy(p.b.chaddr, mac, 6);
	p.b.magic = htonl(DHCP_MAGIC);
	opt(&o, 53, 1, &t);
	if (type == REQUEST) {
		opt(&o, 50, 4, &offer->addr);
		opt(&o, 54, 4, &offer->server);
	}
	opt(&o, 55, sizeof(params), params);
	*o++ = 255;
	blen = (size_t)(o - (uint8_t *)&p.b);
	if (blen < 300 - 8 - 20)
		blen = 300 - 8 - 20; /* BOOTP minimum size */
	tot = 20 + 8 + blen;
	p.ip[0] = 0x45;
	v = htons((uint16_t)tot);
	memcpy(p.ip + 2, &v, 2);
	p.ip[8] = 64;
	p.ip[9] = IPPROTO_UDP;
	memset(p.ip + 16, 0xff, 4);
	v = ip_checksum(p.ip, 20);
	memcpy(p.ip + 10, &v, 2);
	v = htons(DHCP_CLIENT_PORT);
	memcpy(p.udp, &v, 2);
	v = htons(DHCP_SERVER_PORT);
	memcpy(p.udp + 2, &v, 2);
	v = htons((uint16_t)(8 + blen));
	memcpy(p.udp + 4, &v, 2);
	return sendto(ps, &p, tot, 0, (struct sockaddr *)&to, sizeof(to)) == (ssize_t)tot ? 0 : -1;
}

/* A DHCP reply for xid in buf: 0 and *l, or -1 when it is not one (or malformed). */
static int dhcp_parse(const uint8_t *buf, size_t len, uint32_t xid, struct lease *l)
{
	const struct bootp *b;
	size_t ihl, olen;
	const uint8_t *o;
	uint16_t dport;

	if (len < 20 || (buf[0] >> 4) != 4 || buf[9] != IPPROTO_UDP)
		return -1;
	ihl = (size_t)(buf[0] & 15) * 4;
	if (ihl < 20 || len < ihl + 8 + offsetof(struct bootp, options))
		return -1;
	memcpy(&dport, buf + ihl + 2, 2);
	if (ntohs(dport) != DHCP_CLIENT_PORT)
		return -1;
	b = (const struct bootp *)(buf + ihl + 8);
	if (b->op != 2 || b->xid != xid || ntohl(b->magic) != DHCP_MAGIC)
		return -1;
	memset(l, 0, sizeof(*l));
	l->addr = b->yiaddr;
	o = b->options;
	olen = len - ihl - 8 - offsetof(struct bootp, options);
	for (size_t i = 0; i < olen;) {
		uint8_t code = o[i], n;

		if (code == 255)
			break;
		if (code == 0) {
			i++;
			continue;
		}
		if (i + 1 >= olen || i + 2 + o[i + 1] > olen)
			return -1;
		n = o[i + 1];
		if (code == 53 && n == 1)
			l->type = o[i + 2];
		else if (code == 1 && n == 4)
			memcpy(&l->mask, o + i + 2, 4);
		else if (code == 3 && n >= 4)
			memcpy(&l->router, o + i + 2, 4);
		else if (code == 54 && n == 4)
			memcpy(&l->server, o + i + 2, 4);
		else if (code == 6)
			for (unsigned k = 0; k + 4 <= n && l->ndns < MAX_DNS; k += 4)
				memcpy(&l->dns[l->ndns++], o + i + 2 + k, 4);
		i += 2u + n;
	}
	return l->type ? 0 : -1;
}

/* Send `type`, wait for a reply of `want` (a NAK ends it). */
static int dhcp_step(int ps, int ifindex, const uint8_t mac[6], uint32_t xid, int type, int want,
		     const struct lease *offer, struct lease *got)
{
	static uint8_t buf[2048];

	for (int t = 0; t < DHCP_TRIES; t++) {
		struct timespec t0, now;

		if (dhcp_send(ps, ifindex, mac, xid, type, offer) < 0)
			return -1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (;;) {
			struct pollfd pf = { .fd = ps, .events = POLLIN };
			long left;
			ssize_t n;

			clock_gettime(CLOCK_MONOTONIC, &now);
			left = DHCP_WAIT_MS - ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000);
			if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
				break;
			n = recv(ps, buf, sizeof(buf), 0);
			if (n <= 0 || dhcp_parse(buf, (size_t)n, xid, got) < 0)
				continue;
			if (got->type == NAK)
				return -1;
			if (got->type == want)
				return 0;
		}
	}
	errno = ETIMEDOUT;
	return -1;
}

static int dhcp(int s, const char *ifname, int ifindex, struct lease *l)
{
	struct sockaddr_ll me = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP), .sll_ifindex = ifindex };
	struct lease offer;
	struct ifreq ifr;
	uint8_t mac[6];
	uint32_t xid;
	int ps, r = -1;

	memset(&ifr, 0, sizeof(ifr));
	if (ifreq_ioctl(s, SIOCGIFHWADDR, ifname, &ifr) < 0)
		return -1;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	if (getrandom(&xid, sizeof(xid), GRND_NONBLOCK) != sizeof(xid))
		xid = (uint32_t)getpid() ^ (uint32_t)time(NULL);
	ps = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_IP));
	if (ps < 0)
		return -1;
	if (bind(ps, (struct sockaddr *)&me, sizeof(me)) == 0 &&
	    dhcp_step(ps, ifindex, mac, xid, DISCOVER, OFFER, NULL, &offer) == 0 && offer.addr && offer.server &&
	    dhcp_step(ps, ifindex, mac, xid, REQUEST, ACK, &offer, l) == 0 && l->addr)
		r = 0;
	close(ps);
	return r;
}

static void write_resolv(const struct lease *l)
{
	char buf[256];
	size_t o = 0;
	int fd;

	for (unsigned i = 0; i < l->ndns && o < sizeof(buf); i++) {
		char a[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &l->dns[i], a, sizeof(a));
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "nameserver %s\n", a);
	}
	if (!o || o >= sizeof(buf))
		return;
	fd = open("/etc/resolv.conf", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, buf, o) < 0)
		say("write /etc/resolv.conf: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
}

static unsigned mask_len(uint32_t mask)
{
	return (unsigned)__builtin_popcount(mask);
}

void net_loopback_up(net_log_fn log)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	say = log;
	if (s >= 0 && if_up(s, "lo") < 0)
		say("net: lo: %s", strerror(errno));
	if (s >= 0)
		close(s);
}

void net_configure(const struct chan_device *d, net_log_fn log)
{
	char ifname[IFNAMSIZ], a[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN] = "none";
	struct lease l;
	int s, ifindex;

	say = log;
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return;
	ifindex = find_if(s, d->mac, ifname);
	if (ifindex < 0) {
		say("net: no interface with MAC %s", d->mac);
		goto out;
	}
	if (if_up(s, ifname) < 0) {
		say("net: %s up: %s", ifname, strerror(errno));
		goto out;
	}
	memset(&l, 0, sizeof(l));
	if (strcmp(d->net_config, "dhcp") == 0) {
		if (dhcp(s, ifname, ifindex, &l) < 0) {
			say("net: %s: no DHCP lease: %s", ifname, strerror(errno));
			goto out;
		}
		if (!l.mask)
			l.mask = htonl(0xFFFFFF00u);
	} else if (strcmp(d->net_config, "static") == 0) {
		char ip[sizeof(d->ipv4)], *slash;
		unsigned len;

		snprintf(ip, sizeof(ip), "%s", d->ipv4);
		slash = strchr(ip, '/');
		len = slash ? (unsigned)atoi(slash + 1) : 0;
		if (!slash || len < 1 || len > 32) {
			say("net: %s: bad static address %s", ifname, d->ipv4);
			goto out;
		}
		*slash = '\0';
		if (inet_pton(AF_INET, ip, &l.addr) != 1 ||
		    (d->gateway[0] && inet_pton(AF_INET, d->gateway, &l.router) != 1)) {
			say("net: %s: bad static address %s gw %s", ifname, d->ipv4, d->gateway);
			goto out;
		}
		l.mask = htonl(len == 32 ? 0xFFFFFFFFu : ~(0xFFFFFFFFu >> len));
	} else {
		say("net: %s up, not configured", ifname);
		goto out;
	}
	if (set_addr(s, ifname, SIOCSIFADDR, l.addr) < 0 || set_addr(s, ifname, SIOCSIFNETMASK, l.mask) < 0) {
		say("net: %s: setting the address: %s", ifname, strerror(errno));
		goto out;
	}
	if (l.router && add_default_route(s, ifname, l.router) < 0)
		say("net: %s: default route: %s", ifname, strerror(errno));
	write_resolv(&l);
	inet_ntop(AF_INET, &l.addr, a, sizeof(a));
	if (l.router)
		inet_ntop(AF_INET, &l.router, g, sizeof(g));
	say("net: %s %s/%u gateway %s (%s)", ifname, a, mask_len(l.mask), g, d->net_config);
out:
	close(s);
}
