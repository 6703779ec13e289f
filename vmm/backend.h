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
#define BACKEND_EXTRA_FD 4 /* the first descriptor handed over with backend_spawn_fds() */
#define BACKEND_MAX_EXTRA_FDS 8

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
 * The same, handing the child `nfds` descriptors of ours (a device's host
 * side: passt's socket, a tap's queues) as BACKEND_EXTRA_FD, +1, ... with
 * `--extra-fds 4,5,...` telling it which. The child gets nothing else of
 * ours: stdin/out/err, its socket at 3, these.
 */
int backend_spawn_fds(struct backend *b, const char *const *args, const int *fds, unsigned nfds, int *sock,
		      char *err, size_t errlen) must_check;

/*
 * Collect the exit status, waiting up to wait_ms (the process may still be
 * on its way out); describe it ("exited with status 1", "killed by signal
 * 9 (Killed)", "still running") in buf.
 */
void backend_reap(struct backend *b, unsigned wait_ms, char *buf, size_t len);

/* At the end: wait up to wait_ms for it to exit by itself, then SIGKILL and reap. */
void backend_stop(struct backend *b, unsigned wait_ms);

#endif
