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
#include "vmm/cpuid.h"

#define CLI_MAX_CPUS 64
#define CLI_MIN_MEMORY (64ULL << 20)
#define CLI_MAX_MEMORY (1ULL << 40)
#define CLI_DEFAULT_MEMORY (512ULL << 20)
#define CLI_MAX_TIMEOUT 86400

enum cli_action { CLI_RUN = 0, CLI_HELP, CLI_VERSION };

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
};

/* 0 and a filled cfg, or -1 with a one-line reason in err. */
int cli_parse(int argc, char **argv, struct vmm_config *cfg, char *err, size_t errlen);
extern const char cli_usage[];

#endif
