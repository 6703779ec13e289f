/* SPDX-License-Identifier: MIT */
/*
 * Aperture guest init: PID 1 of the guest.
 *
 * 1. mounts /proc, /sys, /dev (devtmpfs), /dev/pts, /tmp, /run;
 * 2. tells the monitor "init reached" through the paravirtual port
 *    (docs/protocol.md); brings up lo; after the handshake mounts the
 *    shares and configures the network devices (net.c);
 * 3. reads its options from the kernel command line:
 *      aperture.exec=<base64>   run that command with /bin/sh -c
 *    and without it runs an interactive shell on the console;
 * 4. reaps every orphan while it waits, reports the command's exit status
 *    (128 + signal for a killed command) and reboots, which ends the VM.
 *
 * A `reboot` or `poweroff` typed in the guest shell (busybox signals PID 1)
 * reports status 0 and reboots too. Static C, no libc features beyond
 * syscalls, so it runs before anything else exists.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "channel.h"
#include "net.h"

#define MARK_INIT PVPORT_MARK_INIT
#define MARK_WORKLOAD PVPORT_MARK_WORKLOAD
#define CMDLINE_MAX 4096
#define INIT_VERSION "0.2"
#define CHANNEL_TIMEOUT_MS 30000

static int have_port;
static int chan = -1;
static volatile sig_atomic_t stop_signal;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(STDERR_FILENO, "init: ", 6) < 0 || write(STDERR_FILENO, buf, (size_t)n) < 0)
		return;
}

static void port_write(uint32_t cmd, uint32_t arg)
{
	if (have_port)
		outl((cmd << 24) | (arg & 0xFFFFFF), PVPORT_BASE);
}

static void port_open(void)
{
	if (ioperm(PVPORT_BASE, 4, 1) < 0) {
		say("ioperm: %s; cannot report to the monitor", strerror(errno));
		return;
	}
	have_port = inl(PVPORT_BASE) == PVPORT_MAGIC;
	if (!have_port)
		say("not running under the aperture monitor (no paravirtual port)");
}

/* Exit status to the monitor: over the init channel, and the port as a fallback. */
static void report_status(unsigned status)
{
	if (chan >= 0 && chan_send_status(chan, status) < 0)
		say("init channel: cannot send the exit status");
	port_write(PVPORT_CMD_EXIT_STATUS, status);
}

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, s, strlen(s)) < 0)
		say("write %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/*
 * Mount each virtio-fs share where DEVICES_READY says (always under /mnt;
 * the tag and path come from the monitor, which we trust, but a path that
 * would leave /mnt is still refused).
 */
static void mount_shares(const struct chan_reply *r)
{
	for (unsigned i = 0; i < r->ndevices; i++) {
		const struct chan_device *d = &r->dev[i];

		if (strcmp(d->kind, "virtio-fs") != 0 || !d->tag[0])
			continue;
		if (strncmp(d->mount, "/mnt/", 5) != 0 || strchr(d->mount + 5, '/') || !d->mount[5] ||
		    strcmp(d->mount + 5, "..") == 0 || strcmp(d->mount + 5, ".") == 0) {
			say("share %s: mount point '%s' refused", d->tag, d->mount);
			continue;
		}
		mkdir("/mnt", 0755);
		mkdir(d->mount, 0755);
		/* A read-only share is a read-only mount: access(W_OK) and statvfs say so, as locally. */
		if (mount(d->tag, d->mount, "virtiofs", d->read_only ? MS_RDONLY : 0, NULL) < 0)
			say("mount virtiofs %s on %s: %s", d->tag, d->mount, strerror(errno));
	}
}

/* The handshake: capabilities out, devices (and the --exec command) in, then let the kernel find them. */
static struct chan_reply reply;

static void handshake(void)
{
	chan = chan_connect(CHANNEL_TIMEOUT_MS);
	if (chan < 0) {
		say("no init channel (vsock %d:%d): %s", CHAN_HOST_CID, CHAN_PORT, strerror(errno));
		return;
	}
	if (chan_send_mark(chan, "init-reached") < 0 || chan_send_capabilities(chan, INIT_VERSION) < 0) {
		say("init channel: send failed");
		return;
	}
	if (chan_wait_devices_ready(chan, &reply, CHANNEL_TIMEOUT_MS) < 0) {
		say("init channel: no devices-ready from the monitor");
		return;
	}
	if (reply.ndevices)
		write_file("/sys/bus/pci/rescan", "1");
	mount_shares(&reply);
	for (unsigned i = 0; i < reply.ndevices; i++)
		if (strcmp(reply.dev[i].kind, "virtio-net") == 0)
			net_configure(&reply.dev[i], say);
	chan_send_mark(chan, "devices-bound");
}

static void do_mount(const char *src, const char *dst, const char *type, unsigned long flags, const char *data)
{
	mkdir(dst, 0755);
	if (mount(src, dst, type, flags, data) < 0 && errno != EBUSY)
		say("mount %s on %s: %s", type, dst, strerror(errno));
}

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* Decode base64 src (up to a space or NUL) into a new string; NULL if malformed. */
static char *b64decode(const char *src)
{
	size_t len = strcspn(src, " \n"), o = 0;
	char *out = malloc(len / 4 * 3 + 4);
	uint32_t acc = 0;
	int bits = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		int v;

		if (src[i] == '=')
			break;
		v = b64val((unsigned char)src[i]);
		if (v < 0) {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xFF);
		}
	}
	out[o] = '\0';
	return out;
}

/* The value of `key=` on the kernel command line, or NULL. */
static const char *cmdline_opt(const char *cmdline, const char *key)
{
	size_t kl = strlen(key);
	const char *p = cmdline;

	while ((p = strstr(p, key)) != NULL) {
		if ((p == cmdline || p[-1] == ' ') && p[kl] == '=')
			return p + kl + 1;
		p += kl;
	}
	return NULL;
}

static void read_cmdline(char *buf, size_t len)
{
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, len - 1) : -1;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
}

/* Without /dev/console in the initramfs the kernel starts us with no fds 0-2. */
static void console_fds(void)
{
	int fd;

	if (fcntl(STDIN_FILENO, F_GETFD) >= 0 && fcntl(STDOUT_FILENO, F_GETFD) >= 0)
		return;
	fd = open("/dev/console", O_RDWR | O_NOCTTY);
	if (fd < 0)
		return;
	for (int i = 0; i < 3; i++)
		if (fd != i)
			dup2(fd, i);
	if (fd > 2)
		close(fd);
}

static void on_signal(int sig)
{
	stop_signal = sig;
}

static pid_t spawn(const char *cmd)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	/* Child: its own session with the console as controlling terminal. */
	signal(SIGTERM, SIG_DFL);
	signal(SIGUSR1, SIG_DFL);
	signal(SIGUSR2, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	setsid();
	ioctl(STDIN_FILENO, TIOCSCTTY, 1);
	if (cmd)
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
	else
		execl("/bin/sh", "-sh", (char *)NULL);
	say("exec /bin/sh: %s", strerror(errno));
	_exit(127);
}

static int wait_for(pid_t child)
{
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, 0);

		if (p < 0) {
			if (errno == EINTR) {
				if (stop_signal)
					return 0;
				continue;
			}
			return 127; /* no children left: cannot happen while child lives */
		}
		if (p != child)
			continue; /* an orphan we adopted */
		if (WIFEXITED(st))
			return WEXITSTATUS(st);
		if (WIFSIGNALED(st))
			return 128 + WTERMSIG(st);
	}
}

int main(void)
{
	static char cmdline[CMDLINE_MAX];
	struct sigaction sa = { .sa_handler = on_signal };
	const char *b64;
	char *cmd = NULL;
	pid_t child;
	int status;

	if (getpid() != 1) {
		say("must run as PID 1");
		return 1;
	}
	do_mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	do_mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	do_mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
	do_mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "mode=0620,ptmxmode=0666");
	do_mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	do_mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
	console_fds();
	port_open();
	port_write(PVPORT_CMD_BOOT_MARK, MARK_INIT);

	setenv("PATH", "/bin:/sbin:/usr/bin:/usr/sbin", 1);
	setenv("HOME", "/root", 1);
	setenv("TERM", "vt100", 1);
	mkdir("/root", 0700);
	if (chdir("/root") < 0)
		say("chdir /root: %s", strerror(errno));

	net_loopback_up(say);
	handshake();
	read_cmdline(cmdline, sizeof(cmdline));
	b64 = cmdline_opt(cmdline, INITCHAN_EXEC_PARAM);
	if (b64 && !strncmp(b64, INITCHAN_EXEC_VIA_CHANNEL, strlen(INITCHAN_EXEC_VIA_CHANNEL)) &&
	    (b64[strlen(INITCHAN_EXEC_VIA_CHANNEL)] == ' ' || b64[strlen(INITCHAN_EXEC_VIA_CHANNEL)] == '\0' ||
	     b64[strlen(INITCHAN_EXEC_VIA_CHANNEL)] == '\n')) {
		/* Our monitor: the command came in devices-ready. */
		if (!reply.has_exec) {
			say("%s=%s but no command arrived over the init channel", INITCHAN_EXEC_PARAM,
			    INITCHAN_EXEC_VIA_CHANNEL);
			report_status(125);
			sync();
			reboot(RB_AUTOBOOT);
			return 1;
		}
		cmd = reply.exec;
	} else if (b64) {
		/* Other launchers (bench/ runs QEMU): the command base64-encoded on the command line. */
		cmd = b64decode(b64);
		if (!cmd) {
			say("aperture.exec is not valid base64");
			report_status(127);
			sync();
			reboot(RB_AUTOBOOT);
			return 1;
		}
	}

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL); /* busybox reboot */
	sigaction(SIGUSR1, &sa, NULL); /* busybox halt */
	sigaction(SIGUSR2, &sa, NULL); /* busybox poweroff */
	signal(SIGINT, SIG_IGN);

	port_write(PVPORT_CMD_BOOT_MARK, MARK_WORKLOAD);
	child = spawn(cmd);
	if (child < 0) {
		say("fork: %s", strerror(errno));
		status = 127;
	} else {
		status = wait_for(child);
	}
	if (stop_signal)
		status = 0;
	report_status((unsigned)status);
	sync();
	reboot(RB_AUTOBOOT);
	say("reboot: %s", strerror(errno));
	for (;;)
		pause();
}
