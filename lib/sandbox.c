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
	{ .nr = SCMP_SYS(read), .why = "eventfds, the vhost-user socket" },
	{ .nr = SCMP_SYS(write), .why = "eventfds (interrupts, errors), log lines to stderr" },
	{ .nr = SCMP_SYS(writev), .why = "stdio's log lines" },
	{ .nr = SCMP_SYS(close), .why = "descriptors replaced by the front end" },
	{ .nr = SCMP_SYS(recvmsg), .why = "vhost-user messages with descriptors" },
	{ .nr = SCMP_SYS(sendmsg), .why = "vhost-user replies" },
	{ .nr = SCMP_SYS(recvfrom), .why = "the rest of a vhost-user message" },
	{ .nr = SCMP_SYS(poll), .why = "the worker and queue threads wait on eventfds" },
	{ .nr = SCMP_SYS(ppoll), .why = "poll() as glibc implements it" },
	{ .nr = SCMP_SYS(futex), .why = "mutexes and condition variables" },
	{ .nr = SCMP_SYS(mmap), .why = "malloc, thread stacks, the memory table's regions" },
	{ .nr = SCMP_SYS(munmap), .why = "free, a replaced memory table" },
	{ .nr = SCMP_SYS(mprotect), .why = "thread stack guards" },
	{ .nr = SCMP_SYS(madvise), .why = "malloc returning memory" },
	{ .nr = SCMP_SYS(brk), .why = "malloc" },
	{ .nr = SCMP_SYS(clone), .why = "worker and queue threads (pthread_create)" },
	{ .nr = SCMP_SYS(clone3), .why = "pthread_create in glibc 2.34+" },
	{ .nr = SCMP_SYS(set_robust_list), .why = "new threads" },
	{ .nr = SCMP_SYS(rseq), .why = "new threads (glibc registers restartable sequences)" },
	{ .nr = SCMP_SYS(rt_sigprocmask), .why = "pthread_create blocks signals around clone" },
	{ .nr = SCMP_SYS(prctl), .why = "threads name themselves: PR_SET_NAME only", .arg0_only = true, .arg0 = PR_SET_NAME },
	{ .nr = SCMP_SYS(rt_sigreturn), .why = "return from a signal handler" },
	{ .nr = SCMP_SYS(rt_sigaction), .why = "glibc installs its thread-cancellation handler when a thread starts" },
	{ .nr = SCMP_SYS(sched_yield), .why = "spinning mutexes" },
	{ .nr = SCMP_SYS(nanosleep), .why = "short waits" },
	{ .nr = SCMP_SYS(clock_nanosleep), .why = "short waits" },
	{ .nr = SCMP_SYS(clock_gettime), .why = "time stamps (when the vDSO is not used)" },
	{ .nr = SCMP_SYS(gettid), .why = "thread ids" },
	{ .nr = SCMP_SYS(getpid), .why = "log lines" },
	{ .nr = SCMP_SYS(timerfd_settime), .why = "the device's timer (virtio_dev_timer_at)" },
	{ .nr = SCMP_SYS(exit), .why = "a thread ends" },
	{ .nr = SCMP_SYS(exit_group), .why = "the process ends" },
	{ .nr = SCMP_SYS(getrandom), .why = "glibc's malloc and hash seeds" },
	{ .nr = SCMP_SYS(fstat), .why = "stdio" },
	{ .nr = SCMP_SYS(newfstatat), .why = "stdio (fstat as glibc implements it)" },
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
	for (unsigned i = 0; i < sandbox_nbase_syscalls + s->nsyscalls && !r; i++) {
		const struct sandbox_syscall *c =
			i < sandbox_nbase_syscalls ? &sandbox_base_syscalls[i] : &s->syscalls[i - sandbox_nbase_syscalls];

		/* Spelled out: clang's -Wmissing-field-initializers rejects SCMP_A0(). */
		struct scmp_arg_cmp cmp[2];
		unsigned n = 0;

		if (c->arg0_only)
			cmp[n++] = (struct scmp_arg_cmp){ .arg = 0, .op = SCMP_CMP_EQ, .datum_a = c->arg0, .datum_b = 0 };
		if (c->arg1_only)
			cmp[n++] = (struct scmp_arg_cmp){ .arg = 1, .op = SCMP_CMP_EQ, .datum_a = c->arg1, .datum_b = 0 };
		r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, c->nr, n, n ? cmp : NULL);
	}
	if (!r)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r)
		return err_set(err, errlen, r, "seccomp: %s", strerror(-r));
	return 0;
}

int sandbox_enter(const struct sandbox_spec *s, char *err, size_t errlen)
{
	struct rlimit nofile = { .rlim_cur = s->max_files, .rlim_max = s->max_files }, nocore = { 0, 0 }, now;
	int r;

	/* Never above the hard limit we were given: lowering needs no privilege, raising does. */
	if (getrlimit(RLIMIT_NOFILE, &now) == 0 && now.rlim_max != RLIM_INFINITY && nofile.rlim_max > now.rlim_max)
		nofile.rlim_cur = nofile.rlim_max = now.rlim_max;

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
