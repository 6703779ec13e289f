/* SPDX-License-Identifier: MIT */
#include "lib/sandbox.h"

#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "lib/log.h"

const struct sandbox_syscall sandbox_base_syscalls[] = {
	{ SCMP_SYS(read), "eventfds, the vhost-user socket" },
	{ SCMP_SYS(write), "eventfds (interrupts, errors), log lines to stderr" },
	{ SCMP_SYS(writev), "stdio's log lines" },
	{ SCMP_SYS(close), "descriptors replaced by the front end" },
	{ SCMP_SYS(recvmsg), "vhost-user messages with descriptors" },
	{ SCMP_SYS(sendmsg), "vhost-user replies" },
	{ SCMP_SYS(recvfrom), "the rest of a vhost-user message" },
	{ SCMP_SYS(poll), "the worker and queue threads wait on eventfds" },
	{ SCMP_SYS(ppoll), "poll() as glibc implements it" },
	{ SCMP_SYS(futex), "mutexes and condition variables" },
	{ SCMP_SYS(mmap), "malloc, thread stacks, the memory table's regions" },
	{ SCMP_SYS(munmap), "free, a replaced memory table" },
	{ SCMP_SYS(mprotect), "thread stack guards" },
	{ SCMP_SYS(madvise), "malloc returning memory" },
	{ SCMP_SYS(brk), "malloc" },
	{ SCMP_SYS(clone), "worker and queue threads (pthread_create)" },
	{ SCMP_SYS(clone3), "pthread_create in glibc 2.34+" },
	{ SCMP_SYS(set_robust_list), "new threads" },
	{ SCMP_SYS(rseq), "new threads (glibc registers restartable sequences)" },
	{ SCMP_SYS(rt_sigprocmask), "pthread_create blocks signals around clone" },
	{ SCMP_SYS(rt_sigreturn), "return from a signal handler" },
	{ SCMP_SYS(rt_sigaction), "glibc installs its thread-cancellation handler when a thread starts" },
	{ SCMP_SYS(sched_yield), "spinning mutexes" },
	{ SCMP_SYS(nanosleep), "short waits" },
	{ SCMP_SYS(clock_nanosleep), "short waits" },
	{ SCMP_SYS(clock_gettime), "time stamps (when the vDSO is not used)" },
	{ SCMP_SYS(gettid), "thread ids" },
	{ SCMP_SYS(getpid), "log lines" },
	{ SCMP_SYS(timerfd_settime), "the device's timer (virtio_dev_timer_at)" },
	{ SCMP_SYS(exit), "a thread ends" },
	{ SCMP_SYS(exit_group), "the process ends" },
	{ SCMP_SYS(getrandom), "glibc's malloc and hash seeds" },
	{ SCMP_SYS(fstat), "stdio" },
	{ SCMP_SYS(newfstatat), "stdio (fstat as glibc implements it)" },
};
const unsigned sandbox_nbase_syscalls = ARRAY_SIZE(sandbox_base_syscalls);

/* Steps 2 and 3: namespaces and the new root. */
static int isolate_fs(const struct sandbox_spec *s, char *err, size_t errlen)
{
	const char *root = s->root;

	if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) < 0)
		return err_set(err, errlen, -errno, "unshare: %s", strerror(errno));
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return err_set(err, errlen, -errno, "making / private: %s", strerror(errno));
	if (!root) {
		/* An empty root: a tiny tmpfs, mounted read-only once we are inside. */
		if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0555") < 0)
			return err_set(err, errlen, -errno, "tmpfs for an empty root: %s", strerror(errno));
		root = "/tmp";
	} else if (mount(root, root, NULL, MS_BIND | MS_REC, NULL) < 0) {
		return err_set(err, errlen, -errno, "bind-mounting %s: %s", root, strerror(errno));
	}
	if (chdir(root) < 0)
		return err_set(err, errlen, -errno, "chdir %s: %s", root, strerror(errno));
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return err_set(err, errlen, -errno, "pivot_root into %s: %s", root, strerror(errno));
	/* The old root is stacked under the new one at "/": detach it. */
	if (umount2(".", MNT_DETACH) < 0)
		return err_set(err, errlen, -errno, "detaching the old root: %s", strerror(errno));
	if (chdir("/") < 0)
		return err_set(err, errlen, -errno, "chdir /: %s", strerror(errno));
	if (!s->root && mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
		return err_set(err, errlen, -errno, "read-only empty root: %s", strerror(errno));
	return 0;
}

static int drop_caps(const struct sandbox_spec *s, char *err, size_t errlen)
{
	bool have[64] = { false };

	/* Keep a listed capability only if we hold it now (the state saved in step 1). */
	for (unsigned i = 0; i < s->ncaps; i++)
		if (s->caps[i] >= 0 && s->caps[i] < 64)
			have[s->caps[i]] = capng_have_capability(CAPNG_PERMITTED, (unsigned)s->caps[i]);
	capng_clear(CAPNG_SELECT_BOTH);
	for (unsigned i = 0; i < s->ncaps; i++)
		if (s->caps[i] >= 0 && s->caps[i] < 64 && have[s->caps[i]] &&
		    capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET,
				 (unsigned)s->caps[i]) < 0)
			return err_set(err, errlen, -EINVAL, "capng_update %d", s->caps[i]);
	if (capng_apply(CAPNG_SELECT_BOTH) < 0)
		return err_set(err, errlen, -EPERM, "capng_apply failed");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return err_set(err, errlen, -errno, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	return 0;
}

static int load_seccomp(const struct sandbox_spec *s, char *err, size_t errlen)
{
	scmp_filter_ctx ctx = seccomp_init(s->log_only ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS);
	int r = 0;

	if (!ctx)
		return err_set(err, errlen, -ENOMEM, "seccomp_init failed");
	for (unsigned i = 0; i < sandbox_nbase_syscalls && !r; i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sandbox_base_syscalls[i].nr, 0);
	for (unsigned i = 0; i < s->nsyscalls && !r; i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, s->syscalls[i].nr, 0);
	if (!r)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r)
		return err_set(err, errlen, r, "seccomp: %s", strerror(-r));
	return 0;
}

int sandbox_enter(const struct sandbox_spec *s, char *err, size_t errlen)
{
	struct rlimit nofile = { .rlim_cur = s->max_files, .rlim_max = s->max_files }, nocore = { 0, 0 };
	int r;

	/* 1. What we may keep: only capabilities we have now. */
	capng_get_caps_process();
	if (capng_have_capability(CAPNG_EFFECTIVE, CAP_SYS_ADMIN)) {
		r = isolate_fs(s, err, errlen);
		if (r)
			return r;
	} else {
		log_msg("%s: not root: no private namespaces or root directory, only seccomp and capabilities", s->name);
	}
	if ((s->max_files && setrlimit(RLIMIT_NOFILE, &nofile) < 0) || setrlimit(RLIMIT_CORE, &nocore) < 0)
		return err_set(err, errlen, -errno, "setrlimit: %s", strerror(errno));
	r = drop_caps(s, err, errlen);
	return r ? r : load_seccomp(s, err, errlen);
}
