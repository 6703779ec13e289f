/* SPDX-License-Identifier: MIT */
/*
 * aperture-backend: one virtio device's data plane in a process of its own,
 * spoken to over vhost-user (devices/vhost-user-backend.h). vmm starts one
 * per aperture device (--isolate process, the default) with the socket on
 * a descriptor; it also runs on its own with --socket-path, for QEMU's
 * vhost-user-fs-pci or another front end:
 *
 *   aperture-backend fs --socket-path /tmp/fs.sock --shared-dir /srv
 *   qemu-system-x86_64 ... -chardev socket,id=c,path=/tmp/fs.sock \
 *       -device vhost-user-fs-pci,chardev=c,tag=share
 *
 * The only guest memory it can touch is what the front end's memory table
 * maps (vmm: the device's aperture). It opens what it needs, then enters
 * its sandbox (lib/sandbox.h): a private mount namespace rooted at the share
 * (fs) or an empty directory (rng), no network, capabilities dropped, a
 * seccomp allowlist. It exits when the front end hangs up.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "build/config.h"
#include "devices/vhost-user-backend.h"
#include "devices/virtio-fs.h"
#include "devices/virtio-rng.h"
#include "lib/log.h"
#include "lib/sandbox.h"

#define EXIT_USAGE 2

static const struct sandbox_syscall rng_syscalls[] = {
	{ .nr = SCMP_SYS(getrandom), .why = "the entropy the device hands out" },
};

static const struct sandbox_syscall fs_syscalls[] = {
	{ .nr = SCMP_SYS(openat), .why = "LOOKUP, OPEN, CREATE: single components under an O_PATH parent" },
	{ .nr = SCMP_SYS(openat2), .why = "RESOLVE_BENEATH opens" },
	{ .nr = SCMP_SYS(open_by_handle_at), .why = "inodes held as file handles" },
	{ .nr = SCMP_SYS(name_to_handle_at), .why = "inodes held as file handles" },
	{ .nr = SCMP_SYS(fcntl), .why = "descriptor flags (O_PATH reopen, locks off)" },
	{ .nr = SCMP_SYS(dup), .why = "reopening" },
	{ .nr = SCMP_SYS(lseek), .why = "LSEEK, READDIR offsets" },
	{ .nr = SCMP_SYS(getdents64), .why = "READDIR, READDIRPLUS" },
	{ .nr = SCMP_SYS(pread64), .why = "READ" },
	{ .nr = SCMP_SYS(pwrite64), .why = "WRITE" },
	{ .nr = SCMP_SYS(preadv), .why = "READ straight into the guest's buffers" },
	{ .nr = SCMP_SYS(pwritev), .why = "WRITE straight from the guest's buffers" },
	{ .nr = SCMP_SYS(preadv2), .why = "READ (glibc may use preadv2)" },
	{ .nr = SCMP_SYS(pwritev2), .why = "WRITE (glibc may use pwritev2)" },
	{ .nr = SCMP_SYS(statx), .why = "GETATTR, LOOKUP" },
	{ .nr = SCMP_SYS(fstatfs), .why = "STATFS" },
	{ .nr = SCMP_SYS(readlinkat), .why = "READLINK" },
	{ .nr = SCMP_SYS(mkdirat), .why = "MKDIR" },
	{ .nr = SCMP_SYS(mknodat), .why = "MKNOD (FIFOs and sockets only)" },
	{ .nr = SCMP_SYS(symlinkat), .why = "SYMLINK" },
	{ .nr = SCMP_SYS(unlinkat), .why = "UNLINK, RMDIR" },
	{ .nr = SCMP_SYS(renameat2), .why = "RENAME, RENAME2" },
	{ .nr = SCMP_SYS(linkat), .why = "LINK" },
	{ .nr = SCMP_SYS(fchmod), .why = "SETATTR mode" },
	{ .nr = SCMP_SYS(fchmodat), .why = "SETATTR mode through /proc/self/fd" },
	{ .nr = SCMP_SYS(fchown), .why = "SETATTR owner" },
	{ .nr = SCMP_SYS(fchownat), .why = "SETATTR owner" },
	{ .nr = SCMP_SYS(ftruncate), .why = "SETATTR size" },
	{ .nr = SCMP_SYS(utimensat), .why = "SETATTR times" },
	{ .nr = SCMP_SYS(fallocate), .why = "FALLOCATE" },
	{ .nr = SCMP_SYS(fsync), .why = "FSYNC, FSYNCDIR" },
	{ .nr = SCMP_SYS(fdatasync), .why = "FSYNC with datasync" },
	{ .nr = SCMP_SYS(syncfs), .why = "SYNCFS" },
	{ .nr = SCMP_SYS(copy_file_range), .why = "COPY_FILE_RANGE" },
	{ .nr = SCMP_SYS(getxattr), .why = "GETXATTR through /proc/self/fd" },
	{ .nr = SCMP_SYS(lgetxattr), .why = "GETXATTR on symlinks" },
	{ .nr = SCMP_SYS(fgetxattr), .why = "GETXATTR" },
	{ .nr = SCMP_SYS(setxattr), .why = "SETXATTR through /proc/self/fd" },
	{ .nr = SCMP_SYS(lsetxattr), .why = "SETXATTR on symlinks" },
	{ .nr = SCMP_SYS(fsetxattr), .why = "SETXATTR" },
	{ .nr = SCMP_SYS(listxattr), .why = "LISTXATTR through /proc/self/fd" },
	{ .nr = SCMP_SYS(llistxattr), .why = "LISTXATTR on symlinks" },
	{ .nr = SCMP_SYS(flistxattr), .why = "LISTXATTR" },
	{ .nr = SCMP_SYS(removexattr), .why = "REMOVEXATTR through /proc/self/fd" },
	{ .nr = SCMP_SYS(lremovexattr), .why = "REMOVEXATTR on symlinks" },
	{ .nr = SCMP_SYS(fremovexattr), .why = "REMOVEXATTR" },
	{ .nr = SCMP_SYS(setfsuid), .why = "requests run with the caller's uid" },
	{ .nr = SCMP_SYS(setfsgid), .why = "requests run with the caller's gid" },
	{ .nr = SCMP_SYS(setgroups), .why = "supplementary groups of the caller" },
	{ .nr = SCMP_SYS(umask), .why = "CREATE/MKDIR with the caller's umask" },
	{ .nr = SCMP_SYS(getuid), .why = "ownership decisions" },
	{ .nr = SCMP_SYS(geteuid), .why = "ownership decisions" },
	{ .nr = SCMP_SYS(getgid), .why = "ownership decisions" },
	{ .nr = SCMP_SYS(getegid), .why = "ownership decisions" },
	{ .nr = SCMP_SYS(faccessat), .why = "ACCESS" },
	{ .nr = SCMP_SYS(faccessat2), .why = "ACCESS" },
	{ .nr = SCMP_SYS(prlimit64), .why = "the open-file limit for the inode table" },
	{ .nr = SCMP_SYS(unshare), .arg0_only = true, .arg0 = CLONE_FS,
	  .why = "each request thread its own umask and working directory (CLONE_FS only)" },
	{ .nr = SCMP_SYS(capget), .why = "a request thread's capabilities (CAP_FSETID for KILLPRIV_V2)" },
	{ .nr = SCMP_SYS(capset), .why = "drop or raise CAP_FSETID in the thread's effective set (within the permitted set)" },
	{ .nr = SCMP_SYS(getrlimit), .why = "the open-file limit for the inode table" },
};

/* Capabilities a passthrough file system needs when it runs as root (as virtiofsd keeps). */
static const int fs_caps[] = {
	CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID, CAP_SETGID, CAP_SETUID,
	CAP_MKNOD, CAP_SETFCAP,
};

static const char usage[] =
	"Usage: aperture-backend rng|fs (--fd N | --socket-path PATH) [OPTIONS]\n"
	"Serve one virtio device over vhost-user in a sandboxed process.\n"
	"\n"
	"  --fd N              a connected vhost-user socket (how vmm starts us)\n"
	"  --socket-path PATH  listen on PATH and serve the first front end that connects\n"
	"  --shared-dir DIR    fs: the directory to share\n"
	"  --tag TAG           fs: the tag (the front end presents it; for messages)\n"
	"  --queues N          fs: request queues (default 1)\n"
	"  --share-options OPTS  fs: ro, cache=auto|always|never, writeback, xattr,\n"
	"                      uidmap=GUEST:HOST:COUNT, gidmap=GUEST:HOST:COUNT (comma-separated)\n"
	"  --sandbox on|off    enter the sandbox (default on)\n"
	"  --help, --version\n";

struct opts {
	const char *kind, *socket_path, *dir, *tag;
	struct fuse_options fopt;
	int fd;
	unsigned queues;
	bool sandbox;
};

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "fd", required_argument, NULL, 'f' }, { "socket-path", required_argument, NULL, 's' },
		{ "shared-dir", required_argument, NULL, 'd' }, { "tag", required_argument, NULL, 't' },
		{ "queues", required_argument, NULL, 'q' }, { "sandbox", required_argument, NULL, 'x' },
		{ "share-options", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' }, { "version", no_argument, NULL, 'v' }, { NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c;

	*o = (struct opts){ .fd = -1, .queues = 1, .sandbox = true, .tag = "share" };
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (parse_uint(optarg, 3, 1 << 20, &v))
				return fprintf(stderr, "aperture-backend: --fd %s: not a descriptor number\n", optarg), -1;
			o->fd = (int)v;
			break;
		case 's': o->socket_path = optarg; break;
		case 'd': o->dir = optarg; break;
		case 't': o->tag = optarg; break;
		case 'q':
			if (parse_uint(optarg, 1, VIRTIO_FS_MAX_REQ_QUEUES, &v))
				return fprintf(stderr, "aperture-backend: --queues %s: 1 to %d\n", optarg,
					       VIRTIO_FS_MAX_REQ_QUEUES), -1;
			o->queues = (unsigned)v;
			break;
		case 'o':
			if (fuse_options_parse(optarg, &o->fopt))
				return fprintf(stderr, "aperture-backend: --share-options %s: not understood\n", optarg), -1;
			break;
		case 'x':
			if (strcmp(optarg, "on") && strcmp(optarg, "off"))
				return fprintf(stderr, "aperture-backend: --sandbox %s: on or off\n", optarg), -1;
			o->sandbox = !strcmp(optarg, "on");
			break;
		case 'h': fputs(usage, stdout); exit(0);
		case 'v': printf("aperture-backend %s\n", APERTURE_VERSION); exit(0);
		default:
			return fprintf(stderr, "aperture-backend: bad option '%s' (see --help)\n", argv[optind - 1]), -1;
		}
	}
	if (optind + 1 != argc || (strcmp(argv[optind], "rng") && strcmp(argv[optind], "fs")))
		return fprintf(stderr, "aperture-backend: say which device: rng or fs (see --help)\n"), -1;
	o->kind = argv[optind];
	if ((o->fd < 0) == !o->socket_path)
		return fprintf(stderr, "aperture-backend: give exactly one of --fd and --socket-path\n"), -1;
	if (!strcmp(o->kind, "fs") && !o->dir)
		return fprintf(stderr, "aperture-backend: fs needs --shared-dir\n"), -1;
	return 0;
}

/* --socket-path: listen, accept one front end, stop listening. */
static int accept_one(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int l, c;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "aperture-backend: --socket-path too long\n");
		return -1;
	}
	strcpy(sa.sun_path, path);
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unlink(path);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 1) < 0) {
		fprintf(stderr, "aperture-backend: listen on %s: %s\n", path, strerror(errno));
		return -1;
	}
	c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		fprintf(stderr, "aperture-backend: accept on %s: %s\n", path, strerror(errno));
	close(l);
	unlink(path);
	return c;
}

/*
 * Test hooks for tests/boot/run (test_isolation), chosen by the environment:
 * APERTURE_BACKEND_TEST="NAME=HOOK,..." where NAME is the kind or the tag.
 * They fire once, when the first ring starts: the sandbox must then kill us.
 */
static const char *test_hook;

static void fire_test_hook(struct vub *b)
{
	if (!strcmp(test_hook, "read-past-aperture")) {
		/* One byte beyond the only guest memory we have: a guard page, SIGSEGV. */
		volatile const uint8_t *p = b->mem.region[0].host + b->mem.region[0].size;

		log_msg("test hook: reading one byte past the aperture");
		(void)*p;
	} else if (!strcmp(test_hook, "forbidden-syscall")) {
		log_msg("test hook: a system call outside the allowlist (socket)");
		(void)socket(AF_INET, SOCK_STREAM, 0);
	}
	log_msg("test hook %s: still alive (the sandbox did not stop it)", test_hook);
}

static const char *hook_for(const char *kind, const char *tag)
{
	static char buf[256];
	const char *env = getenv("APERTURE_BACKEND_TEST");
	char *save = NULL, *item;

	if (!env || strlen(env) >= sizeof(buf))
		return NULL;
	strcpy(buf, env);
	for (item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');

		if (!eq)
			continue;
		*eq = '\0';
		if (!strcmp(item, kind) || (tag && !strcmp(item, tag)))
			return eq + 1;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static struct vub b;
	static struct virtio_rng rng;
	static struct virtio_fs fs;
	struct gm_view view;
	struct virtio_dev *vd;
	struct opts o;
	char err[256], name[64];
	int sock, r;

	signal(SIGPIPE, SIG_IGN);
	if (parse(argc, argv, &o))
		return EXIT_USAGE;
	snprintf(name, sizeof(name), "%s back end%s%s", !strcmp(o.kind, "fs") ? "virtio-fs" : "virtio-rng",
		 !strcmp(o.kind, "fs") ? " " : "", !strcmp(o.kind, "fs") ? o.tag : "");
	if (!strcmp(o.kind, "fs")) {
		struct stat st;

		if (stat(o.dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
			fprintf(stderr, "aperture-backend: --shared-dir %s: not a directory\n", o.dir);
			return EXIT_USAGE;
		}
	}
	sock = o.socket_path ? accept_one(o.socket_path) : o.fd;
	if (sock < 0)
		return 1;
	vub_init(&b, sock);
	view = gm_view_all(&b.mem);
	if (!strcmp(o.kind, "fs")) {
		r = virtio_fs_init(&fs, vub_platform(&b), &view, o.tag, o.dir, o.queues, &o.fopt);
		vd = &fs.vdev;
	} else {
		r = virtio_rng_init(&rng, vub_platform(&b), &view);
		vd = &rng.vdev;
	}
	if (r) {
		log_errno(r, "%s: cannot create the device", name);
		return 1;
	}
	vub_attach(&b, vd);
	test_hook = hook_for(o.kind, !strcmp(o.kind, "fs") ? o.tag : NULL);
	if (test_hook)
		b.on_first_start = fire_test_hook;
	if (o.sandbox) {
		/* APERTURE_SECCOMP_LOG=1: calls outside the allowlist are logged (dmesg, audit), not fatal. */
		bool log_only = getenv("APERTURE_SECCOMP_LOG") && !strcmp(getenv("APERTURE_SECCOMP_LOG"), "1");
		const struct sandbox_spec fs_spec = {
			.name = name, .root = o.dir, .syscalls = fs_syscalls, .nsyscalls = ARRAY_SIZE(fs_syscalls),
			.caps = fs_caps, .ncaps = ARRAY_SIZE(fs_caps), .max_files = 65536, .log_only = log_only,
		};
		const struct sandbox_spec rng_spec = {
			.name = name, .syscalls = rng_syscalls, .nsyscalls = ARRAY_SIZE(rng_syscalls), .max_files = 64,
			.log_only = log_only,
		};

		r = sandbox_enter(!strcmp(o.kind, "fs") ? &fs_spec : &rng_spec, err, sizeof(err));
		if (r) {
			log_msg("%s: sandbox: %s", name, err);
			return 1;
		}
	}
	r = vub_serve(&b);
	if (r)
		log_errno(r, "%s: vhost-user", name);
	if (!strcmp(o.kind, "fs"))
		virtio_fs_destroy(&fs);
	else
		virtio_rng_destroy(&rng);
	vub_destroy(&b);
	return r ? 1 : 0;
}
