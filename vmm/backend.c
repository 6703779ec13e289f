/* SPDX-License-Identifier: MIT */
#include "vmm/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

const char *backend_path(char *err, size_t errlen)
{
	static char path[PATH_MAX];
	char exe[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	static const char *const rel[] = { "aperture-backend", "../libexec/aperture/aperture-backend" };

	if (n <= 0) {
		err_set(err, errlen, -errno, "cannot find our own executable: %s", strerror(errno));
		return NULL;
	}
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	for (unsigned i = 0; i < ARRAY_SIZE(rel); i++) {
		int w = snprintf(path, sizeof(path), "%s/%s", slash ? exe : ".", rel[i]);

		if (w > 0 && (size_t)w < sizeof(path) && access(path, X_OK) == 0)
			return path;
	}
	err_set(err, errlen, -ENOENT, "aperture-backend not found next to vmm or in ../libexec/aperture "
		"(run 'make', or use --isolate none)");
	return NULL;
}

int backend_spawn(struct backend *b, const char *const *args, int *sock, char *err, size_t errlen)
{
	return backend_spawn_fds(b, args, NULL, 0, sock, err, errlen);
}

int backend_spawn_fds(struct backend *b, const char *const *args, const int *fds, unsigned nfds, int *sock,
		      char *err, size_t errlen)
{
	const char *argv[BACKEND_MAX_ARGS + 6];
	char extra[BACKEND_MAX_EXTRA_FDS * 4 + 1] = "";
	int high[BACKEND_MAX_EXTRA_FDS];
	const char *path = backend_path(err, errlen);
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	unsigned n = 0;
	int sv[2], r;

	memset(b, 0, sizeof(*b));
	if (!path)
		return -ENOENT;
	if (nfds > BACKEND_MAX_EXTRA_FDS)
		return err_set(err, errlen, -E2BIG, "%u descriptors for a back end (at most %d)", nfds,
			       BACKEND_MAX_EXTRA_FDS);
	argv[n++] = "aperture-backend";
	for (unsigned i = 0; args[i]; i++) {
		if (n == BACKEND_MAX_ARGS)
			return err_set(err, errlen, -E2BIG, "too many back-end arguments");
		argv[n++] = args[i];
	}
	argv[n++] = "--fd";
	argv[n++] = "3";
	if (nfds) {
		for (unsigned i = 0; i < nfds; i++)
			snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), "%s%d", i ? "," : "",
				 BACKEND_EXTRA_FD + (int)i);
		argv[n++] = "--extra-fds";
		argv[n++] = extra;
	}
	argv[n] = NULL;
	/*
	 * Copies of the descriptors above every target number, so that no
	 * dup2 in the child overwrites a descriptor a later one still needs.
	 */
	for (unsigned i = 0; i < nfds; i++) {
		high[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, BACKEND_EXTRA_FD + BACKEND_MAX_EXTRA_FDS);
		if (high[i] < 0) {
			r = -errno;
			while (i--)
				close(high[i]);
			return err_set(err, errlen, r, "handing descriptor %d to the back end: %s", fds[i],
				       strerror(-r));
		}
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		r = -errno;
		for (unsigned i = 0; i < nfds; i++)
			close(high[i]);
		return err_set(err, errlen, r, "socketpair: %s", strerror(-r));
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	/* The child keeps stdin/out/err, its socket at 3 and the extra descriptors; nothing else of ours. */
	posix_spawn_file_actions_adddup2(&fa, sv[1], BACKEND_FD);
	for (unsigned i = 0; i < nfds; i++)
		posix_spawn_file_actions_adddup2(&fa, high[i], BACKEND_EXTRA_FD + (int)i);
	posix_spawn_file_actions_addclosefrom_np(&fa, BACKEND_EXTRA_FD + (int)nfds);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
	posix_spawnattr_setpgroup(&at, 0);
	{
		sigset_t all, none;

		sigfillset(&all);
		sigemptyset(&none);
		posix_spawnattr_setsigdefault(&at, &all);
		posix_spawnattr_setsigmask(&at, &none);
	}
	r = posix_spawn(&b->pid, path, &fa, &at, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(sv[1]);
	for (unsigned i = 0; i < nfds; i++)
		close(high[i]);
	if (r) {
		close(sv[0]);
		b->pid = 0;
		return err_set(err, errlen, -r, "starting %s: %s", path, strerror(r));
	}
	*sock = sv[0];
	return 0;
}

void backend_reap(struct backend *b, unsigned wait_ms, char *buf, size_t len)
{
	for (unsigned t = 0; b->pid && !b->reaped; t++) {
		pid_t p = waitpid(b->pid, &b->status, WNOHANG);

		if (p == b->pid || (p < 0 && errno != EINTR)) {
			b->reaped = true;
			break;
		}
		if (t >= wait_ms)
			break;
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
	if (!b->pid)
		snprintf(buf, len, "not started");
	else if (!b->reaped)
		snprintf(buf, len, "still running");
	else if (WIFEXITED(b->status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(b->status));
	else if (WIFSIGNALED(b->status))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(b->status), strsignal(WTERMSIG(b->status)));
	else
		snprintf(buf, len, "ended (status 0x%x)", b->status);
}

void backend_stop(struct backend *b, unsigned wait_ms)
{
	char what[64];

	if (!b->pid || b->reaped)
		return;
	backend_reap(b, wait_ms, what, sizeof(what));
	if (!b->reaped) {
		kill(b->pid, SIGKILL);
		backend_reap(b, 1000, what, sizeof(what));
	}
}
