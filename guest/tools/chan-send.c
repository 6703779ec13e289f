/* SPDX-License-Identifier: MIT */
/*
 * chan-send: a hostile guest program for the boot tests. It opens its own
 * connection to the monitor's init channel (vsock CID 2, port 1024) and sends
 * one malformed message:
 *   chan-send badmagic    a header whose magic is wrong
 *   chan-send oversize    a header declaring 16 MiB
 *   chan-send corrupt     the right size, but a structure fdt_check_full rejects
 * It connects from a privileged source port, as the init does (the monitor
 * refuses the others). It exits 0 when the monitor closed the connection
 * afterwards (what it should do), 1 when the connection stayed open, 2 on a
 * usage or setup error.
 */
#include <errno.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "lib/protocol.h"

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int main(int argc, char **argv)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = INITCHAN_HOST_CID, .svm_port = INITCHAN_PORT };
	uint8_t msg[256];
	size_t len = sizeof(msg);
	struct pollfd p;
	char c;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: chan-send badmagic|oversize|corrupt\n");
		return 2;
	}
	memset(msg, 0xA5, sizeof(msg));
	be32(msg, 0xD00DFEED);          /* FDT magic */
	be32(msg + 4, sizeof(msg));     /* totalsize */
	if (!strcmp(argv[1], "badmagic")) {
		be32(msg, 0x12345678);
	} else if (!strcmp(argv[1], "oversize")) {
		be32(msg + 4, 16u << 20);
		len = 40;
	} else if (strcmp(argv[1], "corrupt") != 0) {
		fprintf(stderr, "chan-send: unknown mode %s\n", argv[1]);
		return 2;
	}
	fd = socket(AF_VSOCK, SOCK_STREAM, 0);
	for (unsigned port = INITCHAN_PRIVILEGED_PORTS - 1; fd >= 0 && port >= INITCHAN_PRIVILEGED_PORTS / 2; port--) {
		struct sockaddr_vm me = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port };

		if (bind(fd, (struct sockaddr *)&me, sizeof(me)) == 0 || errno != EADDRINUSE)
			break;
	}
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "chan-send: connect: %s\n", strerror(errno));
		return 2;
	}
	if (write(fd, msg, len) != (ssize_t)len) {
		fprintf(stderr, "chan-send: write: %s\n", strerror(errno));
		return 2;
	}
	/* The monitor should close the connection: read sees EOF or a reset. */
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	if (poll(&p, 1, 20000) == 1 && read(fd, &c, 1) <= 0) {
		printf("chan-send %s: closed by the monitor\n", argv[1]);
		return 0;
	}
	printf("chan-send %s: connection still open\n", argv[1]);
	return 1;
}
