/* SPDX-License-Identifier: MIT */
/*
 * The sandbox a device back-end process enters once it has opened what it
 * needs (its share's root, its socket, the eventfds it was handed), in
 * this order (docs/threat-model.md says why):
 *
 *   1. capability state saved (libcap-ng), to know what we may keep;
 *   2. new mount, network, IPC and UTS namespaces (root only);
 *   3. the root directory replaced (pivot_root): the share for a file
 *      system back end, an empty read-only tmpfs for the others; the old
 *      root detached;
 *   4. resource limits (open files, no core dumps);
 *   5. every capability dropped but the ones listed (bounding set too),
 *      NO_NEW_PRIVS;
 *   6. the seccomp allowlist loaded last, default action: kill the process.
 *
 * Without root (no CAP_SYS_ADMIN) steps 2 and 3 are skipped, with one line
 * saying so; 4-6 always apply.
 */
#ifndef APERTURE_LIB_SANDBOX_H
#define APERTURE_LIB_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include "lib/util.h"

struct sandbox_syscall {
	int nr;           /* SCMP_SYS(...) */
	const char *why;  /* one comment per allowed call */
	bool arg0_only;   /* allowed only with its first argument equal to arg0 */
	unsigned long arg0;
	bool arg1_only;   /* allowed only with its second argument equal to arg1 (an ioctl's request) */
	unsigned long arg1;
};

struct sandbox_spec {
	const char *name;                       /* "virtio-fs back end", for messages */
	const char *root;                       /* becomes "/"; NULL: an empty directory */
	const struct sandbox_syscall *syscalls; /* the allowlist */
	unsigned nsyscalls;
	const int *caps;                        /* capabilities kept (CAP_*) */
	unsigned ncaps;
	unsigned long max_files;                /* RLIMIT_NOFILE */
	bool log_only;                          /* seccomp logs calls outside the list instead of killing (debugging) */
};

/* Enter the sandbox. 0, or -errno with one line in err (the process should then exit). */
int sandbox_enter(const struct sandbox_spec *s, char *err, size_t errlen) must_check;

/* The calls every back end needs (threads, memory, eventfds, the vhost-user socket, logging). */
extern const struct sandbox_syscall sandbox_base_syscalls[];
extern const unsigned sandbox_nbase_syscalls;

#endif
