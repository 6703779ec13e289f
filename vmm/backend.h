/* SPDX-License-Identifier: MIT */
/*
 * Device back-end processes (aperture-backend, vmm/backend-main.c): found
 * next to vmm (build/) or in ../libexec/aperture (make install), started
 * with one end of a socketpair as descriptor 3 and their own process group
 * (terminal signals go to the monitor, which decides), reaped when they
 * hang up or the VM ends. A back end exits by itself when the monitor's end
 * of the socket closes, also when the monitor is killed.
 */
#ifndef APERTURE_BACKEND_H
#define APERTURE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "lib/util.h"

#define BACKEND_MAX_ARGS 16
#define BACKEND_FD 3 /* the vhost-user socket in the child */

struct backend {
	pid_t pid;        /* 0: none */
	bool reaped;
	int status;       /* waitpid() status once reaped */
};

/* The back-end program; NULL (err filled) when it is not installed. */
const char *backend_path(char *err, size_t errlen);

/*
 * Start `aperture-backend ARGS... --fd 3`; *sock is our end of the socket.
 * -errno with one line in err.
 */
int backend_spawn(struct backend *b, const char *const *args, int *sock, char *err, size_t errlen) must_check;

/*
 * Collect the exit status, waiting up to wait_ms (the process may still be
 * on its way out); describe it ("exited with status 1", "killed by signal
 * 9 (Killed)", "still running") in buf.
 */
void backend_reap(struct backend *b, unsigned wait_ms, char *buf, size_t len);

/* At the end: wait up to wait_ms for it to exit by itself, then SIGKILL and reap. */
void backend_stop(struct backend *b, unsigned wait_ms);

#endif
