/* SPDX-License-Identifier: MIT */
/*
 * nettest: network checks inside the guest, one process for all of them
 * (a fork+exec costs seconds in the emulated guest). Runs its steps in
 * order and prints one "nettest: ..." line each; exits 0 when every step
 * worked, 1 otherwise. The whole run is bounded (alarm), every socket
 * operation too.
 *
 *   nettest [-t SECONDS] STEP...
 *   info                  interfaces with IPv4 addresses (address, MTU,
 *                         MAC), the default gateway, the DNS servers
 *   get HOST:PORT/PATH    HTTP/1.0 GET; the body's length and sha256
 *   send HOST:PORT BYTES  connect, send BYTES of a fixed pseudo-random
 *                         stream, shut down writing, print the reply line
 *                         (the peer's sha256 of what it got) and ours
 *   serve PORT            accept one connection, read to EOF, answer
 *                         "sha256=HEX bytes=N\n", print the same
 *   carrier IFNAME 0|1    wait until the interface's carrier is that
 *                         (the link went down or up)
 * HOST is an IPv4 address or "gateway" (the default route's gateway: with
 * --net user, the host's loopback).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define IO_TIMEOUT_MS 60000
#define BUF (256 * 1024)

static uint8_t buf[BUF];

/* ---- SHA-256 (FIPS 180-4) ---- */

struct sha256 {
	uint32_t h[8];
	uint64_t len;
	uint8_t blk[64];
	size_t n;
};

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, int n)
{
	return x >> n | x << (32 - n);
}

static void sha_block(struct sha256 *s, const uint8_t *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, h;

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);

		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
		uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));

		h = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
	}
	s->h[0] += a, s->h[1] += b, s->h[2] += c, s->h[3] += d;
	s->h[4] += e, s->h[5] += f, s->h[6] += g, s->h[7] += h;
}

static void sha_init(struct sha256 *s)
{
	static const uint32_t iv[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
					0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };

	memset(s, 0, sizeof(*s));
	memcpy(s->h, iv, sizeof(iv));
}

static void sha_update(struct sha256 *s, const uint8_t *p, size_t len)
{
	s->len += len;
	while (len) {
		size_t take = 64 - s->n < len ? 64 - s->n : len;

		memcpy(s->blk + s->n, p, take);
		s->n += take;
		p += take;
		len -= take;
		if (s->n == 64) {
			sha_block(s, s->blk);
			s->n = 0;
		}
	}
}

static void sha_hex(struct sha256 *s, char out[65])
{
	uint64_t bits = s->len * 8;
	uint8_t pad = 0x80, zero = 0, l[8];

	sha_update(s, &pad, 1);
	while (s->n != 56)
		sha_update(s, &zero, 1);
	for (int i = 0; i < 8; i++)
		l[i] = (uint8_t)(bits >> (56 - 8 * i));
	sha_update(s, l, 8);
	for (int i = 0; i < 8; i++)
		snprintf(out + 8 * i, 9, "%08x", s->h[i]);
}

/* ---- helpers ---- */

static long ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

static int wait_fd(int fd, short ev)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int r = poll(&p, 1, IO_TIMEOUT_MS);

	if (r == 0)
		errno = ETIMEDOUT;
	return r > 0 ? 0 : -1;
}

static uint32_t gateway(void)
{
	char line[256];
	FILE *f = fopen("/proc/net/route", "r");
	uint32_t gw = 0;

	while (f && fgets(line, sizeof(line), f)) {
		char ifn[32];
		unsigned dst, g, flags;

		if (sscanf(line, "%31s %x %x %x", ifn, &dst, &g, &flags) == 4 && dst == 0 && (flags & 2)) {
			gw = g; /* already in network byte order */
			break;
		}
	}
	if (f)
		fclose(f);
	return gw;
}

/* "HOST:PORT" (HOST an address or "gateway") into sin; the rest after PORT in *rest. */
static int parse_hostport(const char *s, struct sockaddr_in *sin, const char **rest)
{
	char host[64];
	const char *colon = strchr(s, ':');
	char *end;
	unsigned long port;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (end == colon + 1 || port == 0 || port > 65535)
		return -1;
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	if (strcmp(host, "gateway") == 0)
		sin->sin_addr.s_addr = gateway();
	else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		return -1;
	if (rest)
		*rest = end;
	return sin->sin_addr.s_addr ? 0 : -1;
}

static int tcp_connect(const struct sockaddr_in *sin)
{
	struct timespec t0;
	int s, e = 0;
	socklen_t el = sizeof(e);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (getenv("NETTEST_TRACE"))
		printf("nettest: trace socket() %ld ms\n", ms_since(&t0));
	if (s < 0)
		return -1;
	if (connect(s, (const struct sockaddr *)sin, sizeof(*sin)) < 0 && errno != EINPROGRESS)
		goto fail;
	if (getenv("NETTEST_TRACE"))
		printf("nettest: trace connect() returned %ld ms\n", ms_since(&t0));
	if (wait_fd(s, POLLOUT) < 0 || getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
		goto fail;
	if (e) {
		errno = e;
		goto fail;
	}
	return s;
fail:
	e = errno;
	close(s);
	errno = e;
	return -1;
}

static int write_all(int s, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = send(s, p, len, MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(s, POLLOUT) < 0)
				return -1;
			continue;
		}
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Read one reply line (up to '\n' or EOF) into line (NUL-terminated, no
 * '\n'). Not to EOF: passt (Debian bookworm's) does not pass on the peer's
 * FIN once the guest has shut down its own side.
 */
static int read_line(int s, char *line, size_t len)
{
	size_t k = 0;

	while (k + 1 < len) {
		ssize_t n = recv(s, line + k, 1, 0);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(s, POLLIN) < 0)
				return -1;
			continue;
		}
		if (n < 0)
			return -1;
		if (n == 0 || line[k] == '\n')
			break;
		k++;
	}
	line[k] = '\0';
	return 0;
}

/* Read to EOF, hashing; the first `keep` bytes also into kept (NUL-terminated). */
static long read_all(int s, struct sha256 *sha, char *kept, size_t keep)
{
	long total = 0;
	size_t k = 0;

	for (;;) {
		ssize_t n = recv(s, buf, sizeof(buf), 0);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(s, POLLIN) < 0)
				return -1;
			continue;
		}
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		if (sha)
			sha_update(sha, buf, (size_t)n);
		if (kept && k + 1 < keep) {
			size_t c = (size_t)n < keep - 1 - k ? (size_t)n : keep - 1 - k;

			memcpy(kept + k, buf, c);
			k += c;
		}
		total += n;
	}
	if (kept)
		kept[k] = '\0';
	return total;
}

/* ---- steps ---- */

static int step_info(void)
{
	struct if_nameindex *list = if_nameindex(), *i;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), found = 0;
	struct in_addr gw = { .s_addr = gateway() };
	char line[256];
	FILE *f;

	for (i = list; s >= 0 && i && i->if_index; i++) {
		struct ifreq a, m, mtu, hw;
		char as[INET_ADDRSTRLEN];
		const uint8_t *mac;
		uint32_t mask;

		memset(&a, 0, sizeof(a));
		snprintf(a.ifr_name, sizeof(a.ifr_name), "%s", i->if_name);
		m = mtu = hw = a;
		if (strcmp(i->if_name, "lo") == 0 || ioctl(s, SIOCGIFADDR, &a) < 0 || ioctl(s, SIOCGIFNETMASK, &m) < 0 ||
		    ioctl(s, SIOCGIFMTU, &mtu) < 0 || ioctl(s, SIOCGIFHWADDR, &hw) < 0)
			continue;
		inet_ntop(AF_INET, &((struct sockaddr_in *)&a.ifr_addr)->sin_addr, as, sizeof(as));
		mask = ntohl(((struct sockaddr_in *)&m.ifr_netmask)->sin_addr.s_addr);
		mac = (const uint8_t *)hw.ifr_hwaddr.sa_data;
		printf("nettest: if %s addr %s/%d mtu %d mac %02x:%02x:%02x:%02x:%02x:%02x\n", i->if_name, as,
		       __builtin_popcount(mask), mtu.ifr_mtu, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
		found++;
	}
	if (list)
		if_freenameindex(list);
	if (s >= 0)
		close(s);
	printf("nettest: gateway %s\n", gw.s_addr ? inet_ntoa(gw) : "none");
	f = fopen("/etc/resolv.conf", "r");
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "nameserver ", 11) == 0)
			printf("nettest: dns %s", line + 11);
	if (f)
		fclose(f);
	return found ? 0 : -1;
}

static int step_get(const char *arg)
{
	struct sockaddr_in sin;
	const char *path;
	char req[512], head[4096], hex[65];
	struct sha256 sha;
	struct timespec t0;
	size_t hl = 0;
	long body = 0;
	int s, status = 0;

	if (parse_hostport(arg, &sin, &path) < 0 || *path != '/') {
		printf("nettest: get %s: expected HOST:PORT/PATH\n", arg);
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	s = tcp_connect(&sin);
	if (s < 0) {
		printf("nettest: get %s: connect: %s\n", arg, strerror(errno));
		return -1;
	}
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, inet_ntoa(sin.sin_addr));
	if (write_all(s, (const uint8_t *)req, strlen(req)) < 0)
		goto io;
	/* The header, byte by byte into head (small), then the body into the hash. */
	sha_init(&sha);
	for (;;) {
		ssize_t n = recv(s, buf, sizeof(head) - 1 - hl, 0);
		char *end;

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(s, POLLIN) < 0)
				goto io;
			continue;
		}
		if (n <= 0)
			goto io;
		memcpy(head + hl, buf, (size_t)n);
		hl += (size_t)n;
		head[hl] = '\0';
		end = memmem(head, hl, "\r\n\r\n", 4);
		if (end) {
			size_t skip = (size_t)(end + 4 - head);

			sha_update(&sha, (const uint8_t *)head + skip, hl - skip);
			body = (long)(hl - skip);
			break;
		}
		if (hl == sizeof(head) - 1) {
			errno = EMSGSIZE; /* a header this long is not from our test server */
			goto io;
		}
	}
	sscanf(head, "HTTP/%*s %d", &status);
	{
		long more = read_all(s, &sha, NULL, 0);

		if (more < 0)
			goto io;
		body += more;
	}
	close(s);
	sha_hex(&sha, hex);
	printf("nettest: get %s status %d bytes %ld sha256 %s ms %ld\n", arg, status, body, hex, ms_since(&t0));
	return status == 200 ? 0 : -1;
io:
	printf("nettest: get %s: %s\n", arg, strerror(errno));
	close(s);
	return -1;
}

static int step_send(const char *arg, const char *bytes)
{
	struct sockaddr_in sin;
	long want = atol(bytes), sent = 0;
	uint64_t x = 0x9E3779B97F4A7C15ULL;
	char reply[160], hex[65];
	struct sha256 sha;
	struct timespec t0;
	int s;

	if (parse_hostport(arg, &sin, NULL) < 0 || want < 0) {
		printf("nettest: send %s %s: expected HOST:PORT BYTES\n", arg, bytes);
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	s = tcp_connect(&sin);
	if (s < 0) {
		printf("nettest: send %s: connect: %s\n", arg, strerror(errno));
		return -1;
	}
	sha_init(&sha);
	while (sent < want) {
		size_t n = want - sent < (long)sizeof(buf) ? (size_t)(want - sent) : sizeof(buf);

		for (size_t i = 0; i < n; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			buf[i] = (uint8_t)x;
		}
		sha_update(&sha, buf, n);
		if (write_all(s, buf, n) < 0)
			goto io;
		sent += (long)n;
	}
	shutdown(s, SHUT_WR);
	if (read_line(s, reply, sizeof(reply)) < 0)
		goto io;
	close(s);
	reply[strcspn(reply, "\r\n")] = '\0';
	sha_hex(&sha, hex);
	printf("nettest: send %s bytes %ld sha256 %s ms %ld reply %s\n", arg, sent, hex, ms_since(&t0), reply);
	return strstr(reply, hex) ? 0 : -1;
io:
	printf("nettest: send %s: %s\n", arg, strerror(errno));
	close(s);
	return -1;
}

static int step_serve(const char *port_s)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	unsigned long port = strtoul(port_s, NULL, 10);
	char hex[65], reply[128];
	struct sha256 sha;
	int l, s = -1, one = 1;
	long got;

	if (port == 0 || port > 65535) {
		printf("nettest: serve %s: not a port\n", port_s);
		return -1;
	}
	sin.sin_port = htons((uint16_t)port);
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(l, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(l, 4) < 0)
		goto io;
	printf("nettest: listening on %lu\n", port);
	fflush(stdout);
	if (wait_fd(l, POLLIN) < 0 || (s = accept4(l, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) < 0)
		goto io;
	sha_init(&sha);
	got = read_all(s, &sha, NULL, 0);
	if (got < 0)
		goto io;
	sha_hex(&sha, hex);
	snprintf(reply, sizeof(reply), "sha256=%s bytes=%ld\n", hex, got);
	if (write_all(s, (const uint8_t *)reply, strlen(reply)) < 0)
		goto io;
	close(s);
	close(l);
	printf("nettest: serve %lu bytes %ld sha256 %s\n", port, got, hex);
	return 0;
io:
	printf("nettest: serve %lu: %s\n", port, strerror(errno));
	if (s >= 0)
		close(s);
	if (l >= 0)
		close(l);
	return -1;
}

static int step_carrier(const char *ifname, const char *want)
{
	char path[128], v[8];
	struct timespec t0;

	snprintf(path, sizeof(path), "/sys/class/net/%s/carrier", ifname);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, v, sizeof(v) - 1) : -1;
		struct timespec nap = { .tv_nsec = 200 * 1000000L };

		if (fd >= 0)
			close(fd);
		if (n > 0 && v[0] == want[0]) {
			printf("nettest: carrier %s %c after %ld ms\n", ifname, want[0], ms_since(&t0));
			return 0;
		}
		if (ms_since(&t0) > IO_TIMEOUT_MS) {
			printf("nettest: carrier %s: still not %s\n", ifname, want);
			return -1;
		}
		nanosleep(&nap, NULL);
	}
}

int main(int argc, char **argv)
{
	int i = 1, failed = 0;
	unsigned limit = 300;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 2 && strcmp(argv[1], "-t") == 0) {
		limit = (unsigned)atoi(argv[2]);
		i = 3;
	}
	alarm(limit); /* whatever happens, this program ends */
	for (; i < argc; i++) {
		int r;

		if (strcmp(argv[i], "info") == 0)
			r = step_info();
		else if (strcmp(argv[i], "get") == 0 && i + 1 < argc)
			r = step_get(argv[++i]);
		else if (strcmp(argv[i], "send") == 0 && i + 2 < argc)
			r = step_send(argv[i + 1], argv[i + 2]), i += 2;
		else if (strcmp(argv[i], "serve") == 0 && i + 1 < argc)
			r = step_serve(argv[++i]);
		else if (strcmp(argv[i], "carrier") == 0 && i + 2 < argc)
			r = step_carrier(argv[i + 1], argv[i + 2]), i += 2;
		else {
			fprintf(stderr, "nettest: unknown step '%s' (info, get, send, serve, carrier)\n", argv[i]);
			return 2;
		}
		if (r < 0)
			failed++;
	}
	printf("nettest: %s\n", failed ? "FAILED" : "all ok");
	return failed ? 1 : 0;
}
