/* SPDX-License-Identifier: MIT */
/* The passt child process: see passt.h. */
#include "vmm/passt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "lib/log.h"

#define PASST_FD 3          /* where the child finds its socket */
#define MAX_ARGS (10 + 4 * NETCFG_MAX_FWD)
#define SOCK_BUF (2 << 20)  /* socket buffers: room for ~30 frames of 64 KiB */

struct passt {
	pid_t pid;
	bool reaped;
	int status;
	struct net_backend *be;
	int log_fd;             /* read end of passt's stderr */
	int stop_efd;
	pthread_t reader;
	bool reader_running;
	pthread_mutex_t lock;   /* last[], reaped/status */
	char last[160];         /* passt's last message */
};

bool passt_find(char *buf, size_t len)
{
	const char *path = getenv("PATH");

	while (path && *path) {
		const char *end = strchr(path, ':');
		size_t dl = end ? (size_t)(end - path) : strlen(path);
		struct stat st;
		int n = snprintf(buf, len, "%.*s/passt", (int)dl, dl ? path : ".");

		if (n > 0 && (size_t)n < len && stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
			return true;
		path = end ? end + 1 : NULL;
	}
	return false;
}

int passt_check_ports(const struct net_fwd *fwd, unsigned n, char *err, size_t errlen)
{
	for (unsigned i = 0; i < n; i++) {
		const struct net_fwd *f = &fwd[i];
		int type = f->udp ? SOCK_DGRAM : SOCK_STREAM, one = 1, zero = 0, s = -1, r = 0;
		char where[40];

		if (f->addr)
			snprintf(where, sizeof(where), "%u.%u.%u.%u:", f->addr >> 24, (f->addr >> 16) & 255,
				 (f->addr >> 8) & 255, f->addr & 255);
		else
			where[0] = '\0';
		/* What passt binds: the address given, else every address (IPv6 and IPv4). */
		if (!f->addr)
			s = socket(AF_INET6, type | SOCK_CLOEXEC, 0);
		if (s >= 0) {
			struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(f->host),
						   .sin6_addr = IN6ADDR_ANY_INIT };

			(void)setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
			if (!f->udp)
				(void)setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			if (bind(s, (struct sockaddr *)&a6, sizeof(a6)) < 0)
				r = -errno;
		} else {
			struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(f->host),
						  .sin_addr.s_addr = htonl(f->addr) };

			s = socket(AF_INET, type | SOCK_CLOEXEC, 0);
			if (s < 0)
				return -errno;
			if (!f->udp)
				(void)setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			if (bind(s, (struct sockaddr *)&a4, sizeof(a4)) < 0)
				r = -errno;
		}
		close(s);
		if (r == -EADDRINUSE)
			snprintf(err, errlen, "--net user: hostfwd %s:%s%u: that host port is in use",
				 f->udp ? "udp" : "tcp", where, f->host);
		else if (r == -EACCES)
			snprintf(err, errlen,
				 "--net user: hostfwd %s:%s%u: binding that host port needs privileges "
				 "(see net.ipv4.ip_unprivileged_port_start)", f->udp ? "udp" : "tcp", where, f->host);
		else if (r)
			snprintf(err, errlen, "--net user: hostfwd %s:%s%u: cannot bind it: %s", f->udp ? "udp" : "tcp",
				 where, f->host, strerror(-r));
		if (r)
			return r;
	}
	return 0;
}

/* The -t or -u arguments for the forwards of one protocol: "[ADDR/]HOST:GUEST" each. */
static int add_forwards(char **argv, int argc, char store[][48], const struct net_fwd *fwd, unsigned n, bool udp)
{
	bool any = false;

	for (unsigned i = 0; i < n; i++) {
		const struct net_fwd *f = &fwd[i];

		if (f->udp != udp)
			continue;
		if (f->addr)
			snprintf(store[i], sizeof(store[i]), "%u.%u.%u.%u/%u:%u", f->addr >> 24, (f->addr >> 16) & 255,
				 (f->addr >> 8) & 255, f->addr & 255, f->host, f->guest);
		else
			snprintf(store[i], sizeof(store[i]), "%u:%u", f->host, f->guest);
		argv[argc++] = (char *)(udp ? "-u" : "-t");
		argv[argc++] = store[i];
		any = true;
	}
	if (!any) {
		/* Explicitly none: by default passt forwards UDP for every TCP port too. */
		argv[argc++] = (char *)(udp ? "-u" : "-t");
		argv[argc++] = (char *)"none";
	}
	return argc;
}

/* Reap passt if it has exited. Caller holds p->lock. */
static bool reap(struct passt *p)
{
	if (!p->reaped && waitpid(p->pid, &p->status, WNOHANG) == p->pid)
		p->reaped = true;
	return p->reaped;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* net_backend.describe_loss: the socket closed; say how passt ended. */
static void describe_loss(void *ctx, char *buf, size_t len)
{
	struct passt *p = ctx;

	/* passt closed its end because it is exiting: give it a moment. */
	for (unsigned t = 0; t < 100; t++) {
		bool gone;

		pthread_mutex_lock(&p->lock);
		gone = reap(p);
		pthread_mutex_unlock(&p->lock);
		if (gone)
			break;
		sleep_ms(10);
	}
	pthread_mutex_lock(&p->lock);
	if (!p->reaped)
		snprintf(buf, len, "passt, pid %d, closed its socket", (int)p->pid);
	else if (WIFSIGNALED(p->status))
		snprintf(buf, len, "passt, pid %d, was killed by signal %d%s%s", (int)p->pid, WTERMSIG(p->status),
			 p->last[0] ? "; its last message: " : "", p->last);
	else
		snprintf(buf, len, "passt, pid %d, exited with status %d%s%s", (int)p->pid, WEXITSTATUS(p->status),
			 p->last[0] ? "; its last message: " : "", p->last);
	pthread_mutex_unlock(&p->lock);
}

/* passt's stderr, line by line. */
static void *log_reader(void *arg)
{
	struct passt *p = arg;
	char buf[4096];
	size_t have = 0;

	for (;;) {
		struct pollfd pf[2] = { { .fd = p->log_fd, .events = POLLIN }, { .fd = p->stop_efd, .events = POLLIN } };
		ssize_t n;
		char *nl;

		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		if (pf[1].revents & POLLIN)
			return NULL;
		n = read(p->log_fd, buf + have, sizeof(buf) - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		have += (size_t)n;
		buf[have] = '\0';
		while ((nl = strchr(buf, '\n')) != NULL || have == sizeof(buf) - 1) {
			size_t l = nl ? (size_t)(nl - buf) : have;

			buf[l] = '\0';
			/* It cannot reach a system logger here; that is not news. */
			if (l && !(strncmp(buf, "Failed to send ", 15) == 0 && strstr(buf, " to syslog"))) {
				log_debug("passt: %s", buf);
				pthread_mutex_lock(&p->lock);
				snprintf(p->last, sizeof(p->last), "%.*s", (int)sizeof(p->last) - 1, buf);
				pthread_mutex_unlock(&p->lock);
			}
			have -= nl ? l + 1 : l;
			memmove(buf, buf + (nl ? l + 1 : l), have);
			buf[have] = '\0';
		}
	}
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static void child(int sock, int logw, pid_t parent, const char *path, char **argv)
{
	sigset_t none;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	setpgid(0, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0 ||
	    dup2(logw, STDERR_FILENO) < 0 || dup2(sock, PASST_FD) < 0)
		_exit(127);
	/* Nothing else of the monitor's (KVM, guest memory, our socket end) goes along. */
	if (close_range(PASST_FD + 1, ~0U, 0) < 0)
		for (int fd = PASST_FD + 1; fd < 1024; fd++)
			close(fd);
	execv(path, argv);
	_exit(127);
}

int passt_start(const char *path, const struct net_fwd *fwd, unsigned n, unsigned mtu, struct passt **out,
		struct net_backend **be, char *err, size_t errlen)
{
	char *argv[MAX_ARGS];
	char store[NETCFG_MAX_FWD][48], fdarg[8], mtuarg[8];
	int sv[2] = { -1, -1 }, lp[2] = { -1, -1 }, argc = 0, r, size = SOCK_BUF;
	struct passt *p;
	pid_t parent = getpid();
	const char *pcap = getenv("APERTURE_PASST_PCAP");

	if (n > NETCFG_MAX_FWD || mtu < NETCFG_MTU_MIN || mtu > NETCFG_MTU_MAX) {
		snprintf(err, errlen, "--net user: %u forwards, mtu %u: out of range", n, mtu);
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	p->log_fd = p->stop_efd = -1;
	p->pid = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 || pipe2(lp, O_CLOEXEC) < 0 ||
	    (p->stop_efd = eventfd(0, EFD_CLOEXEC)) < 0) {
		r = -errno;
		snprintf(err, errlen, "--net user: cannot make passt's socket: %s", strerror(errno));
		goto fail;
	}
	(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	(void)setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	snprintf(fdarg, sizeof(fdarg), "%d", PASST_FD);
	argv[argc++] = (char *)"passt";
	argv[argc++] = (char *)"--foreground";
	argv[argc++] = (char *)"--quiet";
	if (pcap && *pcap) {
		/* Debugging: passt records every frame it exchanges with the guest. */
		argv[argc++] = (char *)"--pcap";
		argv[argc++] = (char *)pcap;
	}
	snprintf(mtuarg, sizeof(mtuarg), "%u", mtu);
	argv[argc++] = (char *)"--mtu";
	argv[argc++] = mtuarg;
	argv[argc++] = (char *)"--fd";
	argv[argc++] = fdarg;
	argc = add_forwards(argv, argc, store, fwd, n, false);
	argc = add_forwards(argv, argc, store, fwd, n, true);
	argv[argc] = NULL;

	p->pid = fork();
	if (p->pid < 0) {
		r = -errno;
		snprintf(err, errlen, "--net user: cannot start passt: %s", strerror(errno));
		goto fail;
	}
	if (p->pid == 0)
		child(sv[1], lp[1], parent, path, argv);
	close(sv[1]);
	close(lp[1]);
	sv[1] = lp[1] = -1;
	p->log_fd = lp[0];
	lp[0] = -1;
	{
		/* The monitor takes its signals with a signalfd: this thread must never get one. */
		sigset_t all, old;

		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		if (pthread_create(&p->reader, NULL, log_reader, p) == 0)
			p->reader_running = true;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	r = net_passt_create(sv[0], (uint16_t)mtu, &p->be);
	if (r) {
		snprintf(err, errlen, "--net user: %s", strerror(-r));
		goto fail;
	}
	sv[0] = -1; /* the back end owns it */
	p->be->describe_loss = describe_loss;
	p->be->loss_ctx = p;
	log_debug("passt started (pid %d)", (int)p->pid);
	*out = p;
	*be = p->be;
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (sv[i] >= 0)
			close(sv[i]);
		if (lp[i] >= 0)
			close(lp[i]);
	}
	passt_stop(p);
	return r;
}

void passt_stop(struct passt *p)
{
	uint64_t one = 1;

	if (!p)
		return;
	net_backend_destroy(p->be); /* closes our end: passt exits */
	p->be = NULL;
	if (p->pid > 0) {
		unsigned t;

		pthread_mutex_lock(&p->lock);
		for (t = 0; t < 100 && !reap(p); t++) {
			pthread_mutex_unlock(&p->lock);
			sleep_ms(10);
			pthread_mutex_lock(&p->lock);
		}
		if (!p->reaped) {
			kill(p->pid, SIGKILL);
			if (waitpid(p->pid, &p->status, 0) == p->pid)
				p->reaped = true;
		}
		pthread_mutex_unlock(&p->lock);
	}
	if (p->reader_running) {
		if (write(p->stop_efd, &one, sizeof(one)) != sizeof(one))
			log_errno(errno, "stopping passt's log reader");
		pthread_join(p->reader, NULL);
	}
	if (p->log_fd >= 0)
		close(p->log_fd);
	if (p->stop_efd >= 0)
		close(p->stop_efd);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
