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
 * (fs) or an empty directory (rng, net), no network, capabilities dropped, a
 * seccomp allowlist. It exits when the front end hangs up. net opens
 * nothing: vmm hands it passt's socket or the tap's queues, an eventfd and
 * a counter page (--extra-fds).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sys/ioctl.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "build/config.h"
#include "devices/vhost-user-backend.h"
#include "devices/virtio-fs.h"
#include "devices/virtio-net.h"
#include "devices/virtio-rng.h"
#include "lib/log.h"
#include "lib/sandbox.h"

#define EXIT_USAGE 2

static const struct sandbox_syscall rng_syscalls[] = {
	{ .nr = SCMP_SYS(getrandom), .why = "the entropy the device hands out" },
};

static const struct sandbox_syscall net_syscalls[] = {
	{ .nr = SCMP_SYS(sendto), .why = "the rest of a frame passt's socket took only partly (send)" },
	{ .nr = SCMP_SYS(ioctl), .arg1_only = true, .arg1 = TUNSETOFFLOAD,
	  .why = "tap: the receive offloads the guest negotiated (TUNSETOFFLOAD only)" },
	{ .nr = SCMP_SYS(ioctl), .arg1_only = true, .arg1 = TUNSETQUEUE,
	  .why = "tap: attach and detach queues as the guest sets its queue pairs (TUNSETQUEUE only)" },
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
	{ .nr = SCMP_SYS(mknodat), .why = "MKNOD (FIFOs and sockets; devices with devnodes)" },
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
	{ .nr = SCMP_SYS(setgroups), .why = "none, or the one group a create names (CREATE_SUPP_GROUP)" },
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
	"Usage: aperture-backend rng|fs|net (--fd N | --socket-path PATH) [OPTIONS]\n"
	"Serve one virtio device over vhost-user in a sandboxed process.\n"
	"\n"
	"  --fd N              a connected vhost-user socket (how vmm starts us)\n"
	"  --socket-path PATH  listen on PATH and serve the first front end that connects\n"
	"  --shared-dir DIR    fs: the directory to share\n"
	"  --tag TAG           fs: the tag (the front end presents it; for messages)\n"
	"  --queues N          fs: request queues (default 1)\n"
	"  --share-options OPTS  fs: ro, cache=auto|always|never, writeback, xattr, devnodes,\n"
	"                      uidmap=GUEST:HOST:COUNT, gidmap=GUEST:HOST:COUNT (comma-separated)\n"
	"  --extra-fds N,...   descriptors inherited for the device (net: an eventfd to write\n"
	"                      on a lost link, the counter page, then passt's socket or one\n"
	"                      tap descriptor per queue pair)\n"
	"  --net-kind passt|tap  net: what the descriptors are\n"
	"  --name NAME         net: the back end's name (the tap's interface), for messages\n"
	"  --pairs N           net: queue pairs (tap; passt has one)\n"
	"  --mtu N             net: the MTU the guest is told\n"
	"  --mac MAC           net: the guest's MAC address\n"
	"  --sandbox on|off    enter the sandbox (default on)\n"
	"  --help, --version\n";

struct opts {
	const char *kind, *socket_path, *dir, *tag;
	struct fuse_options fopt;
	int fd;
	unsigned queues;
	bool sandbox;
	int extra[2 + NET_MAX_PAIRS];
	unsigned nextra;
	const char *net_kind, *net_name;
	unsigned pairs, mtu;
	uint8_t mac[6];
	bool mac_set;
};

/* "4,5,6": inherited descriptors, each open, none twice, none of stdio or the socket. */
static int parse_fds(const char *v, struct opts *o)
{
	char buf[64], *save = NULL;

	if (strlen(v) >= sizeof(buf))
		return -1;
	strcpy(buf, v);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		uint64_t n;

		if (o->nextra == ARRAY_SIZE(o->extra) || parse_uint(t, 4, 1 << 20, &n) || fcntl((int)n, F_GETFD) < 0)
			return -1;
		for (unsigned i = 0; i < o->nextra; i++)
			if (o->extra[i] == (int)n)
				return -1;
		o->extra[o->nextra++] = (int)n;
	}
	return o->nextra ? 0 : -1;
}

static int parse_mac(const char *v, uint8_t mac[6])
{
	unsigned b[6];
	char end;

	if (sscanf(v, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &end) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return mac[0] & 1 ? -1 : 0; /* unicast only */
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "fd", required_argument, NULL, 'f' }, { "socket-path", required_argument, NULL, 's' },
		{ "shared-dir", required_argument, NULL, 'd' }, { "tag", required_argument, NULL, 't' },
		{ "queues", required_argument, NULL, 'q' }, { "sandbox", required_argument, NULL, 'x' },
		{ "share-options", required_argument, NULL, 'o' },
		{ "extra-fds", required_argument, NULL, 'e' }, { "net-kind", required_argument, NULL, 'k' },
		{ "name", required_argument, NULL, 'n' }, { "pairs", required_argument, NULL, 'p' },
		{ "mtu", required_argument, NULL, 'm' }, { "mac", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' }, { "version", no_argument, NULL, 'v' }, { NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c;

	*o = (struct opts){ .fd = -1, .queues = 1, .sandbox = true, .tag = "share", .pairs = 1, .mtu = 1500,
			    .net_name = "net" };
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
		case 'e':
			if (parse_fds(optarg, o))
				return fprintf(stderr, "aperture-backend: --extra-fds %s: open descriptors from 4, "
					       "at most %zu\n", optarg, ARRAY_SIZE(o->extra)), -1;
			break;
		case 'k':
			if (strcmp(optarg, "passt") && strcmp(optarg, "tap"))
				return fprintf(stderr, "aperture-backend: --net-kind %s: passt or tap\n", optarg), -1;
			o->net_kind = optarg;
			break;
		case 'n':
			if (!*optarg || strlen(optarg) >= 16)
				return fprintf(stderr, "aperture-backend: --name %s: 1 to 15 characters\n", optarg), -1;
			o->net_name = optarg;
			break;
		case 'p':
			if (parse_uint(optarg, 1, NET_MAX_PAIRS, &v))
				return fprintf(stderr, "aperture-backend: --pairs %s: 1 to %u\n", optarg, NET_MAX_PAIRS), -1;
			o->pairs = (unsigned)v;
			break;
		case 'm':
			if (parse_uint(optarg, 68, 65535, &v))
				return fprintf(stderr, "aperture-backend: --mtu %s: 68 to 65535\n", optarg), -1;
			o->mtu = (unsigned)v;
			break;
		case 'a':
			if (parse_mac(optarg, o->mac))
				return fprintf(stderr, "aperture-backend: --mac %s: a unicast xx:xx:xx:xx:xx:xx\n", optarg), -1;
			o->mac_set = true;
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
	if (optind + 1 != argc || (strcmp(argv[optind], "rng") && strcmp(argv[optind], "fs") && strcmp(argv[optind], "net")))
		return fprintf(stderr, "aperture-backend: say which device: rng, fs or net (see --help)\n"), -1;
	o->kind = argv[optind];
	if ((o->fd < 0) == !o->socket_path)
		return fprintf(stderr, "aperture-backend: give exactly one of --fd and --socket-path\n"), -1;
	if (!strcmp(o->kind, "fs") && !o->dir)
		return fprintf(stderr, "aperture-backend: fs needs --shared-dir\n"), -1;
	if (!strcmp(o->kind, "net")) {
		unsigned want;

		if (!o->net_kind || !o->mac_set)
			return fprintf(stderr, "aperture-backend: net needs --net-kind and --mac\n"), -1;
		if (!strcmp(o->net_kind, "passt") && o->pairs != 1)
			return fprintf(stderr, "aperture-backend: passt has one queue pair\n"), -1;
		want = 2 + o->pairs;
		if (o->nextra != want)
			return fprintf(stderr, "aperture-backend: net with %u queue pairs needs %u --extra-fds\n", o->pairs,
				       want), -1;
	} else if (o->nextra) {
		return fprintf(stderr, "aperture-backend: --extra-fds is for net\n"), -1;
	}
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

/*
 * net: the host side from the inherited descriptors (see --help), the
 * counters in the shared page. On success *be is the back end, *stats the
 * page, *cfg_fd the eventfd for vub_set_config_fd.
 */
static int net_open(const struct opts *o, struct net_backend **be, struct virtio_net_stats **stats, int *cfg_fd)
{
	long page = sysconf(_SC_PAGESIZE);
	struct stat st;
	void *p;
	int r;

	if (fstat(o->extra[1], &st) < 0 || (uint64_t)st.st_size < sizeof(**stats) || page < (long)sizeof(**stats))
		return -EINVAL;
	p = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED, o->extra[1], 0);
	if (p == MAP_FAILED)
		return -errno;
	close(o->extra[1]);
	*stats = p;
	if (!strcmp(o->net_kind, "passt"))
		r = net_passt_create(o->extra[2], (uint16_t)o->mtu, be);
	else
		r = net_tap_from_fds(o->extra + 2, o->pairs, o->net_name, (uint16_t)o->mtu, be);
	if (r)
		return r;
	snprintf((*be)->name, sizeof((*be)->name), "%s", o->net_name);
	*cfg_fd = o->extra[0];
	return 0;
}

int main(int argc, char **argv)
{
	static struct vub b;
	static struct virtio_rng rng;
	static struct virtio_fs fs;
	static struct virtio_net net;
	struct net_backend *nbe = NULL;
	struct virtio_net_stats *nstats = NULL;
	int cfg_fd = -1;
	struct gm_view view;
	struct virtio_dev *vd;
	struct opts o;
	char err[256], name[64];
	int sock, r;

	signal(SIGPIPE, SIG_IGN);
	if (parse(argc, argv, &o))
		return EXIT_USAGE;
	snprintf(name, sizeof(name), "%s back end%s%s",
		 !strcmp(o.kind, "fs") ? "virtio-fs" : !strcmp(o.kind, "net") ? "virtio-net" : "virtio-rng",
		 !strcmp(o.kind, "rng") ? "" : " ", !strcmp(o.kind, "fs") ? o.tag : !strcmp(o.kind, "net") ? o.net_name : "");
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
	} else if (!strcmp(o.kind, "net")) {
		r = net_open(&o, &nbe, &nstats, &cfg_fd);
		if (!r)
			r = virtio_net_init(&net, vub_platform(&b), &view, nbe, o.mac);
		if (!r) {
			virtio_net_share_stats(&net, nstats);
			vub_set_config_fd(&b, cfg_fd);
		}
		vd = &net.vdev;
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
		/* No capabilities, an empty root: it only uses the descriptors it inherited. */
		const struct sandbox_spec net_spec = {
			.name = name, .syscalls = net_syscalls, .nsyscalls = ARRAY_SIZE(net_syscalls), .max_files = 64,
			.log_only = log_only,
		};

		r = sandbox_enter(!strcmp(o.kind, "fs") ? &fs_spec : !strcmp(o.kind, "net") ? &net_spec : &rng_spec, err,
				  sizeof(err));
		if (r) {
			log_msg("%s: sandbox: %s", name, err);
			return 1;
		}
	}
	r = vub_serve(&b);
	if (r)
		log_errno(r, "%s: vhost-user", name);
	if (!strcmp(o.kind, "fs")) {
		virtio_fs_destroy(&fs);
	} else if (!strcmp(o.kind, "net")) {
		virtio_net_destroy(&net);
		net_backend_destroy(nbe);
	} else {
		virtio_rng_destroy(&rng);
	}
	vub_destroy(&b);
	return r ? 1 : 0;
}
