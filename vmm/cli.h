/* SPDX-License-Identifier: MIT */
/*
 * Command line of ./vmm. cli_parse() is pure (no files opened, no KVM) so
 * unit tests drive it directly; checks that need the file system live in
 * run.c. Every bad argument yields one line in `err` and the caller exits 2.
 */
#ifndef APERTURE_CLI_H
#define APERTURE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "vmm/aperture.h"
#include "vmm/cpuid.h"
#include "vmm/netcfg.h"

#define CLI_MAX_CPUS 64
#define CLI_MIN_MEMORY (64ULL << 20)
#define CLI_MAX_MEMORY (1ULL << 40)
#define CLI_DEFAULT_MEMORY (512ULL << 20)
#define CLI_MAX_TIMEOUT 86400
#define CLI_MAX_SHARES 8
/* virtio-fs tags live in a 36-byte config field (struct virtio_fs_config). */
#define CLI_MAX_TAG 36

enum cli_action { CLI_RUN = 0, CLI_HELP, CLI_VERSION };

struct cli_share {
	char tag[CLI_MAX_TAG + 1];
	const char *path;   /* as given; run.c checks it is a readable directory */
};

struct vmm_config {
	enum cli_action action;
	const char *kernel;  /* NULL: the one in images/out */
	const char *initrd;  /* NULL: initramfs.cpio beside the kernel; "none": no initrd */
	const char *cmdline; /* appended to the generated command line */
	const char *exec;    /* command for the guest init; NULL: interactive shell */
	const char *events;
	const char *vsock_uds; /* UNIX socket for host programs to reach guest vsock ports */
	unsigned cpus;
	uint64_t memory;
	enum cpu_template cpu_template;
	unsigned timeout_s;  /* 0: none */
	bool verbose;
	enum dma_mode dma;
	uint64_t swiotlb;    /* pool size the guest is asked to reserve (0 with DMA_DIRECT) */
	bool swiotlb_given;
	bool require_aperture;
	unsigned nshares;
	struct cli_share share[CLI_MAX_SHARES];
	struct net_config net; /* --net (vmm/netcfg.h); NET_DEFAULT when not given */
};

/* Device kinds that get apertures for this configuration, in creation order. */
unsigned cli_aperture_kinds(const struct vmm_config *cfg, enum aperture_kind *kinds, unsigned max);

/* 0 and a filled cfg, or -1 with a one-line reason in err. */
int cli_parse(int argc, char **argv, struct vmm_config *cfg, char *err, size_t errlen);
extern const char cli_usage[];

#endif
