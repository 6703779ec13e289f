/* SPDX-License-Identifier: MIT */
/*
 * Init channel messages (docs/protocol.md): flattened device trees, one
 * after another on a vsock stream, each framed by its own header's
 * `totalsize`. The root node's `message` string names the message; the
 * other properties are typed fields. Unknown properties are ignored, so
 * either side can add fields without breaking the other.
 *
 * What it trusts: nothing. A blob is read only after fdt_check_full() over
 * exactly its declared size, which must lie between the FDT header size and
 * INITCHAN_MAX_MSG. Every property is length-checked before use; strings must
 * be NUL-terminated inside their property. A malformed message makes the
 * parser return an error; the caller closes the connection with one log line.
 */
#ifndef APERTURE_INITCHAN_H
#define APERTURE_INITCHAN_H

#include <stddef.h>
#include <stdint.h>
#include "lib/protocol.h" /* INITCHAN_PORT, INITCHAN_MAX_MSG, INITCHAN_STR, message names */
#include "lib/util.h"

enum initchan_type {
	MSG_UNKNOWN = 0,          /* a message name we do not know: ignored */
	MSG_GUEST_CAPABILITIES,   /* guest -> monitor */
	MSG_BOOT_MARK,            /* guest -> monitor */
	MSG_EXIT_STATUS,          /* guest -> monitor */
	MSG_DEVICES_READY,        /* monitor -> guest */
};

struct initchan_msg {
	enum initchan_type type;
	char name[INITCHAN_STR];         /* the `message` string */
	/* guest-capabilities */
	uint64_t swiotlb_base, swiotlb_size;
	char kernel_release[INITCHAN_STR];
	char init_version[INITCHAN_STR];
	/* boot-mark */
	char mark[INITCHAN_STR];
	/* exit-status */
	uint32_t status;
	/* devices-ready */
	uint32_t ndevices;
};

/*
 * A byte stream in, whole messages out.
 *
 * Invariant: len <= INITCHAN_MAX_MSG, and once len has reached the header
 * size the header in buf was checked (magic, header < totalsize <=
 * INITCHAN_MAX_MSG). A parse error is sticky: `error` keeps the first one
 * and every later initchan_feed() returns it without touching buf, so a
 * guest that goes on sending after a bad header cannot steer the copy.
 */
struct initchan_parser {
	uint8_t buf[INITCHAN_MAX_MSG];
	size_t len;
	int error;
};

void initchan_parser_init(struct initchan_parser *p);
/*
 * Feed bytes. For each complete message calls cb(ctx, msg). Returns 0, or
 * -EBADMSG / -EMSGSIZE with a reason in err for the first malformed message;
 * the stream is then dead for input (close it): every later call returns the
 * same error and consumes nothing.
 */
int initchan_feed(struct initchan_parser *p, const uint8_t *data, size_t len,
		  void (*cb)(void *ctx, const struct initchan_msg *m), void *ctx, char *err, size_t errlen)
	must_check;
/* Decode one whole blob of exactly `len` bytes. 0 or -EBADMSG with err. */
int initchan_decode(const void *blob, size_t len, struct initchan_msg *m, char *err, size_t errlen) must_check;

/* Device entry of a DEVICES_READY message. */
struct initchan_device {
	const char *kind;   /* "virtio-rng", "virtio-fs", ... */
	unsigned slot;      /* PCI slot on bus 0 */
	const char *tag;    /* virtio-fs tag or NULL */
	const char *mount;  /* where the init mounts it, or NULL */
	bool read_only;     /* virtio-fs: mount it read-only (a share's ro) */
	uint64_t aperture_base, aperture_size; /* 0, 0: none */
	/* virtio-net: its MAC ("02:..."), how the init configures it ("dhcp",
	 * "static" with the two below, or "none"); each NULL when absent */
	const char *mac, *net_config, *ipv4_address, *ipv4_gateway;
};

/* Build DEVICES_READY (with the --exec command, or NULL) into buf; returns its size or -E2BIG. */
long initchan_build_devices_ready(void *buf, size_t buflen, const struct initchan_device *d, unsigned n,
				  const char *exec) must_check;

#endif
