/* SPDX-License-Identifier: MIT */
/*
 * The guest end of the init channel: connect to the monitor (vsock CID 2,
 * port 1024), send GUEST_CAPABILITIES, receive DEVICES_READY, report boot
 * marks and the exit status. Messages are flattened device trees built and
 * checked with libfdt; the monitor is trusted no more than it must be: a
 * reply is read only after fdt_check_full() within a size cap.
 */
#define _GNU_SOURCE
#include "channel.h"

#include <errno.h>
#include <fcntl.h>
#include <libfdt.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#define MAX_MSG (64 * 1024)
#define POOL_DIR "/sys/bus/pci/drivers/virtio-pci/"

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t len, unsigned timeout_ms)
{
	uint8_t *p = buf;

	while (len) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pf, 1, (int)timeout_ms) <= 0)
			return -1;
		n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int chan_connect(unsigned timeout_ms)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = CHAN_HOST_CID, .svm_port = CHAN_PORT };
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	/* The highest free privileged port: root may bind these, nobody else. */
	for (unsigned port = INITCHAN_PRIVILEGED_PORTS - 1; port >= INITCHAN_PRIVILEGED_PORTS / 2; port--) {
		struct sockaddr_vm me = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port };

		if (bind(fd, (struct sockaddr *)&me, sizeof(me)) == 0)
			break;
		if (errno != EADDRINUSE) /* EACCES: not root; connect from an ephemeral port, to be refused */
			break;
	}
	setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT_NEW, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Start a message in b (size bytes): root node with `message`. */
static int begin(void *b, int size, const char *message)
{
	int r = fdt_create(b, size);

	r = r ? r : fdt_finish_reservemap(b);
	r = r ? r : fdt_begin_node(b, "");
	return r ? r : fdt_property_string(b, "message", message);
}

static int finish_and_send(int fd, void *b, int r)
{
	r = r ? r : fdt_end_node(b);
	r = r ? r : fdt_finish(b);
	if (r)
		return -1;
	return write_all(fd, b, fdt_totalsize(b));
}

static uint64_t read_sysfs_u64(const char *path)
{
	char buf[64] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtoull(buf, NULL, 0);
}

int chan_send_capabilities(int fd, const char *init_version)
{
	static uint8_t b[MAX_MSG];
	struct utsname u;
	int r = begin(b, sizeof(b), INITCHAN_MSG_CAPS);

	if (uname(&u) < 0)
		strcpy(u.release, "unknown");
	r = r ? r : fdt_property_u64(b, "swiotlb-base", read_sysfs_u64(POOL_DIR "swiotlb_base"));
	r = r ? r : fdt_property_u64(b, "swiotlb-size", read_sysfs_u64(POOL_DIR "swiotlb_size"));
	r = r ? r : fdt_property_string(b, "kernel-release", u.release);
	r = r ? r : fdt_property_string(b, "init-version", init_version);
	return finish_and_send(fd, b, r);
}

static void copy_str(const void *fdt, int node, const char *name, char *out, size_t len)
{
	int l;
	const char *v = fdt_getprop(fdt, node, name, &l);

	out[0] = '\0';
	if (v && l > 0 && (size_t)l <= len && v[l - 1] == '\0')
		memcpy(out, v, (size_t)l);
}

int chan_wait_devices_ready(int fd, struct chan_reply *r, unsigned timeout_ms)
{
	static uint8_t b[MAX_MSG];

	memset(r, 0, sizeof(*r));
	for (;;) {
		uint32_t total;
		int node, l;
		const char *msg;

		if (read_all(fd, b, sizeof(struct fdt_header), timeout_ms) < 0)
			return -1;
		total = fdt_totalsize(b);
		if (fdt_magic(b) != FDT_MAGIC || total <= sizeof(struct fdt_header) || total > MAX_MSG)
			return -1;
		if (read_all(fd, b + sizeof(struct fdt_header), total - sizeof(struct fdt_header), timeout_ms) < 0)
			return -1;
		if (fdt_check_full(b, total) != 0)
			return -1;
		msg = fdt_getprop(b, 0, "message", &l);
		if (!msg || l <= 0 || msg[l - 1] != '\0' || strcmp(msg, INITCHAN_MSG_READY) != 0)
			continue; /* not for us now: skip it */
		{
			const char *e = fdt_getprop(b, 0, "exec", &l);

			if (e && l > 0 && l <= INITCHAN_MAX_EXEC + 1 && e[l - 1] == '\0' && strlen(e) + 1 == (size_t)l) {
				memcpy(r->exec, e, (size_t)l);
				r->has_exec = 1;
			}
		}
		fdt_for_each_subnode(node, b, 0) {
			struct chan_device *d;
			const fdt32_t *slot;

			if (r->ndevices == CHAN_MAX_DEVICES)
				break;
			d = &r->dev[r->ndevices++];
			copy_str(b, node, "kind", d->kind, sizeof(d->kind));
			copy_str(b, node, "tag", d->tag, sizeof(d->tag));
			copy_str(b, node, "mount", d->mount, sizeof(d->mount));
			d->read_only = fdt_getprop(b, node, "read-only", &l) != NULL;
			copy_str(b, node, "mac", d->mac, sizeof(d->mac));
			copy_str(b, node, "net-config", d->net_config, sizeof(d->net_config));
			copy_str(b, node, "ipv4-address", d->ipv4, sizeof(d->ipv4));
			copy_str(b, node, "ipv4-gateway", d->gateway, sizeof(d->gateway));
			slot = fdt_getprop(b, node, "pci-slot", &l);
			d->slot = slot && l == 4 ? fdt32_to_cpu(*slot) : 0;
		}
		return 0;
	}
}

int chan_send_mark(int fd, const char *mark)
{
	static uint8_t b[1024];
	int r = begin(b, sizeof(b), INITCHAN_MSG_BOOT_MARK);

	r = r ? r : fdt_property_string(b, "mark", mark);
	return finish_and_send(fd, b, r);
}

int chan_send_status(int fd, unsigned status)
{
	static uint8_t b[1024];
	int r = begin(b, sizeof(b), INITCHAN_MSG_EXIT);

	r = r ? r : fdt_property_u32(b, "status", status);
	return finish_and_send(fd, b, r);
}
