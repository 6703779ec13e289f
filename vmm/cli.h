/* SPDX-License-Identifier: MIT */
/*
 * Command line of vmm: one table of options (cli_options[]) is the single
 * source for the parser, `vmm --help`, the man page (build/vmm.1, written by
 * vmm/mkman.c) and the keys of a --config file. The README's option table is
 * checked against --help by tests/lint/readme-options.
 *
 * cli_parse() is pure (no files opened, no KVM) so unit tests drive it
 * directly; checks that need the file system live in run.c. Every bad
 * argument yields one line in `err` and the caller exits 2.
 */
#ifndef APERTURE_CLI_H
#define APERTURE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <limits.h>
#include "devices/fuse-fs.h"
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
#define CLI_MAX_CONFIG (64 * 1024) /* a --config file larger than this is refused */

/* Exit statuses besides the guest's own; cli_exit_codes[] says what each means. */
#define EXIT_HOST_ERROR 1
#define EXIT_USAGE 2
#define EXIT_TIMEOUT 124
#define EXIT_GUEST_FAILED 125
#define EXIT_CONSOLE_QUIT 130

enum cli_action { CLI_RUN = 0, CLI_HELP, CLI_VERSION };
enum isolate_mode { ISOLATE_PROCESS = 0, ISOLATE_NONE };

struct cli_share {
	char tag[CLI_MAX_TAG + 1];
	char path[PATH_MAX];        /* as given (",," unescaped); run.c checks it is a readable directory,
	                             * or with external the back end's socket */
	bool external;              /* --vhost-user-fs: served by an external back end on socket `path` */
	struct fuse_options opt;    /* ,ro ,cache= ,writeback ,xattr ,uidmap= ,gidmap= (--share only) */
};

struct vmm_config {
	enum cli_action action;
	const char *config;  /* --config FILE, or NULL */
	const char *kernel;  /* NULL: the one in images/out (or the installed one) */
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
	enum isolate_mode isolate;
	unsigned nshares;
	struct cli_share share[CLI_MAX_SHARES];
	struct net_config net; /* --net (vmm/netcfg.h); NET_DEFAULT when not given */
};

/* Option flags. */
#define CLI_REPEAT 0x1   /* may be given more than once */
#define CLI_ACTION 0x2   /* --help, --version: stops parsing, the rest is ignored */
#define CLI_NOFILE 0x4   /* command line only, not a --config key */

struct cli_option {
	const char *name;  /* long name without "--"; also the --config key */
	const char *arg;   /* name of its value in help ("PATH"), NULL for a flag */
	const char *help;  /* what it does: one paragraph, no line breaks */
	/* Store the value (NULL for a flag) into cfg; -1 with one line in err. */
	int (*set)(struct vmm_config *cfg, const char *val, char *err, size_t errlen);
	unsigned flags;
};
extern const struct cli_option cli_options[];
extern const unsigned cli_noptions;

struct cli_exit_code {
	const char *status; /* "0", "124", "128+N" */
	const char *meaning;
};
extern const struct cli_exit_code cli_exit_codes[];
extern const unsigned cli_nexit_codes;

/* Device kinds that get apertures for this configuration, in creation order. */
unsigned cli_aperture_kinds(const struct vmm_config *cfg, enum aperture_kind *kinds, unsigned max);

/* Command line only: 0 and a filled cfg, or -1 with a one-line reason in err. */
int cli_parse(int argc, char **argv, struct vmm_config *cfg, char *err, size_t errlen);
/*
 * With the text of a --config file (`name` for messages): one option per
 * line, `key = value` or `key` for a flag, `#` starts a comment, the value
 * may be in double quotes. The command line wins over the file: an option
 * given on both takes the command line's value (for a repeatable option the
 * command line's list replaces the file's). `text` is modified (strings in
 * cfg point into it) and must outlive cfg.
 */
int cli_parse_with_config(char *text, const char *name, int argc, char **argv, struct vmm_config *cfg, char *err,
			  size_t errlen);

void cli_print_help(FILE *f);
/* The man page (roff), from the same table; `date` as "2026-11-28". */
void cli_print_man(FILE *f, const char *version, const char *date);

#endif
