/* SPDX-License-Identifier: MIT */
#include "vmm/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char cli_usage[] =
	"Usage: vmm [OPTIONS]\n"
	"Boot a Linux guest under KVM with per-device DMA apertures.\n"
	"\n"
	"  --kernel PATH         bzImage or uncompressed ELF vmlinux (default: images/out/vmlinux)\n"
	"  --initrd PATH|none    initramfs (default: initramfs.cpio beside the kernel)\n"
	"  --cmdline ARGS        extra kernel parameters, appended to the generated ones\n"
	"  --cpus N              vCPUs, 1-64 (default 1)\n"
	"  --memory SIZE         guest RAM, e.g. 512M or 2G (default 512M)\n"
	"  --cpu-template NAME   host (default) or baseline (x86-64-v2, no AVX)\n"
	"  --exec CMD            run CMD with /bin/sh -c in the guest; exit with its status\n"
	"  --events FILE         write boot events as JSON lines to FILE\n"
	"  --share [TAG=]PATH    share host directory PATH over virtio-fs (repeatable); the guest\n"
	"                        mounts it at /mnt/TAG (default tag: share)\n"
	"  --net user[,hostfwd=tcp|udp:[ADDR:]HOSTPORT:GUESTPORT]...[,mac=MAC]\n"
	"                        user-mode networking through passt (the default when passt is\n"
	"                        installed): DHCP, DNS, outgoing connections; the host's loopback\n"
	"                        is the guest's gateway address; forwards host ports to the guest\n"
	"  --net tap=IFNAME[,queues=N][,mac=MAC][,addr=A.B.C.D/LEN[,gw=A.B.C.D]]\n"
	"                        a tap interface (created if missing and allowed), N queue pairs;\n"
	"                        addr/gw configure the guest's interface\n"
	"  --net none            no network device\n"
	"  --dma MODE            aperture (default): one DMA aperture per device; shared: one\n"
	"                        aperture shared by all devices; direct: no bounce buffers\n"
	"  --swiotlb SIZE        bounce-buffer pool the guest reserves (default 64M or what the\n"
	"                        devices need; 2M steps, at most 256M)\n"
	"  --require-aperture    refuse to add devices when the guest kernel publishes no pool\n"
	"  --vsock-uds PATH      UNIX socket for host programs: \"CONNECT <port>\\n\" reaches a guest vsock port\n"
	"  --timeout SECONDS     stop the guest after SECONDS and exit 124\n"
	"  --verbose             kernel boot messages and monitor debug lines\n"
	"  --help                this text\n"
	"  --version             print the version\n"
	"\n"
	"Exit status: the guest command's status; 2 for bad arguments; 124 on\n"
	"--timeout; 125 when the guest crashed or reset without reporting a status.\n"
	"Console: Ctrl-A x quits, Ctrl-A Ctrl-A sends Ctrl-A.\n";

enum {
	OPT_KERNEL = 256, OPT_INITRD, OPT_CMDLINE, OPT_CPUS, OPT_MEMORY, OPT_CPU_TEMPLATE,
	OPT_EXEC, OPT_EVENTS, OPT_TIMEOUT, OPT_VSOCK_UDS, OPT_VERBOSE, OPT_HELP, OPT_VERSION,
	OPT_SHARE, OPT_DMA, OPT_SWIOTLB, OPT_REQUIRE_APERTURE, OPT_NET,
};

static const struct option options[] = {
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "cpu-template", required_argument, NULL, OPT_CPU_TEMPLATE },
	{ "exec", required_argument, NULL, OPT_EXEC },
	{ "events", required_argument, NULL, OPT_EVENTS },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "vsock-uds", required_argument, NULL, OPT_VSOCK_UDS },
	{ "verbose", no_argument, NULL, OPT_VERBOSE },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "share", required_argument, NULL, OPT_SHARE },
	{ "dma", required_argument, NULL, OPT_DMA },
	{ "swiotlb", required_argument, NULL, OPT_SWIOTLB },
	{ "require-aperture", no_argument, NULL, OPT_REQUIRE_APERTURE },
	{ "net", required_argument, NULL, OPT_NET },
	{ NULL, 0, NULL, 0 },
};

static int bad(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int check_pool(struct vmm_config *cfg, char *err, size_t errlen);

static bool tag_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
	       c == '.';
}

/* --share [TAG=]PATH. The tag names /mnt/TAG in the guest, so it is a plain file name. */
static int add_share(struct vmm_config *cfg, const char *arg, char *err, size_t errlen)
{
	const char *eq = strchr(arg, '='), *path = arg, *tag = "share";
	size_t taglen = 5;
	struct cli_share *sh;

	if (eq) {
		tag = arg;
		taglen = (size_t)(eq - arg);
		path = eq + 1;
		if (taglen == 0)
			return bad(err, errlen, "--share %s: empty tag", arg);
		if (taglen > CLI_MAX_TAG)
			return bad(err, errlen, "--share %s: tag longer than %d bytes", arg, CLI_MAX_TAG);
		for (size_t i = 0; i < taglen; i++)
			if (!tag_char_ok(tag[i]))
				return bad(err, errlen, "--share %s: a tag may only use letters, digits, '_', '-' and '.'",
					   arg);
		if ((taglen == 1 && tag[0] == '.') || (taglen == 2 && tag[0] == '.' && tag[1] == '.'))
			return bad(err, errlen, "--share %s: '%.*s' cannot be a tag", arg, (int)taglen, tag);
	}
	if (!*path)
		return bad(err, errlen, "--share %s: empty path", arg);
	if (cfg->nshares == CLI_MAX_SHARES)
		return bad(err, errlen, "--share: at most %d shares", CLI_MAX_SHARES);
	for (unsigned i = 0; i < cfg->nshares; i++)
		if (strlen(cfg->share[i].tag) == taglen && memcmp(cfg->share[i].tag, tag, taglen) == 0)
			return bad(err, errlen, "--share %s: tag '%.*s' is used twice", arg, (int)taglen, tag);
	sh = &cfg->share[cfg->nshares++];
	memcpy(sh->tag, tag, taglen);
	sh->tag[taglen] = '\0';
	sh->path = path;
	return 0;
}

static bool seen_once(unsigned *mask, int opt)
{
	unsigned bit = 1u << (opt - OPT_KERNEL);
	bool dup = *mask & bit;

	*mask |= bit;
	return dup;
}

int cli_parse(int argc, char **argv, struct vmm_config *cfg, char *err, size_t errlen)
{
	unsigned seen = 0;
	uint64_t v;
	int opt, rc;

	memset(cfg, 0, sizeof(*cfg));
	cfg->cpus = 1;
	cfg->memory = CLI_DEFAULT_MEMORY;
	cfg->cpu_template = CPU_TEMPLATE_HOST;
	optind = 0; /* full reset of getopt's state: tests call us repeatedly */
	opterr = 0;
	/* Leading ':' makes a missing value ':' rather than '?'. */
	while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
		if (opt == ':')
			return bad(err, errlen, "option '%s' needs a value (see --help)", argv[optind - 1]);
		if (opt == '?') {
			if (optopt >= OPT_KERNEL)
				return bad(err, errlen, "option '--%s' takes no value", options[optopt - OPT_KERNEL].name);
			if (optopt)
				return bad(err, errlen, "unknown option '-%c' (see --help)", optopt);
			return bad(err, errlen, "unknown option '%s' (see --help)", argv[optind - 1]);
		}
		if (opt != OPT_VERBOSE && opt != OPT_HELP && opt != OPT_VERSION && opt != OPT_SHARE &&
		    seen_once(&seen, opt))
			return bad(err, errlen, "option '--%s' given twice", options[opt - OPT_KERNEL].name);
		switch (opt) {
		case OPT_KERNEL:
			if (!*optarg)
				return bad(err, errlen, "--kernel: empty path");
			cfg->kernel = optarg;
			break;
		case OPT_INITRD:
			if (!*optarg)
				return bad(err, errlen, "--initrd: empty path");
			cfg->initrd = optarg;
			break;
		case OPT_CMDLINE:
			cfg->cmdline = optarg;
			break;
		case OPT_CPUS:
			rc = parse_uint(optarg, 1, CLI_MAX_CPUS, &v);
			if (rc)
				return bad(err, errlen, "--cpus: '%s' is not a number from 1 to %d", optarg, CLI_MAX_CPUS);
			cfg->cpus = (unsigned)v;
			break;
		case OPT_MEMORY:
			rc = parse_size(optarg, &v);
			if (rc)
				return bad(err, errlen, "--memory: '%s' is not a size (use e.g. 512M or 2G)", optarg);
			if (v < CLI_MIN_MEMORY || v > CLI_MAX_MEMORY)
				return bad(err, errlen, "--memory: %s is out of range (64M to 1T)", optarg);
			if (!is_aligned(v, SZ_2M))
				return bad(err, errlen, "--memory: %s is not a multiple of 2 MiB", optarg);
			cfg->memory = v;
			break;
		case OPT_CPU_TEMPLATE:
			if (cpuid_template_parse(optarg, &cfg->cpu_template))
				return bad(err, errlen, "--cpu-template: '%s' is not one of: host, baseline", optarg);
			break;
		case OPT_EXEC:
			cfg->exec = optarg;
			break;
		case OPT_EVENTS:
			if (!*optarg)
				return bad(err, errlen, "--events: empty path");
			cfg->events = optarg;
			break;
		case OPT_TIMEOUT:
			rc = parse_uint(optarg, 1, CLI_MAX_TIMEOUT, &v);
			if (rc)
				return bad(err, errlen, "--timeout: '%s' is not a number of seconds from 1 to %d",
					   optarg, CLI_MAX_TIMEOUT);
			cfg->timeout_s = (unsigned)v;
			break;
		case OPT_VSOCK_UDS:
			if (!*optarg || strlen(optarg) >= 108)
				return bad(err, errlen, "--vsock-uds: path empty or longer than 107 bytes");
			cfg->vsock_uds = optarg;
			break;
		case OPT_VERBOSE:
			cfg->verbose = true;
			break;
		case OPT_SHARE:
			if (add_share(cfg, optarg, err, errlen))
				return -1;
			break;
		case OPT_DMA:
			if (dma_mode_parse(optarg, &cfg->dma))
				return bad(err, errlen, "--dma: '%s' is not one of: aperture, shared, direct", optarg);
			break;
		case OPT_SWIOTLB:
			if (aperture_parse_pool_size(optarg, &cfg->swiotlb, err, errlen))
				return -1;
			cfg->swiotlb_given = true;
			break;
		case OPT_REQUIRE_APERTURE:
			cfg->require_aperture = true;
			break;
		case OPT_NET:
			if (netcfg_parse(optarg, &cfg->net, err, errlen))
				return -1;
			break;
		case OPT_HELP:
			cfg->action = CLI_HELP;
			return 0;
		case OPT_VERSION:
			cfg->action = CLI_VERSION;
			return 0;
		}
	}
	if (optind < argc)
		return bad(err, errlen, "unexpected argument '%s' (see --help)", argv[optind]);
	return check_pool(cfg, err, errlen);
}

unsigned cli_aperture_kinds(const struct vmm_config *cfg, enum aperture_kind *kinds, unsigned max)
{
	unsigned n = 0;

	/* The entropy device, one virtio-fs per share, then virtio-net. */
	if (n < max)
		kinds[n++] = APK_RNG;
	for (unsigned i = 0; i < cfg->nshares && n < max; i++)
		kinds[n++] = APK_FS;
	if (netcfg_wants_nic(&cfg->net) && n < max)
		kinds[n++] = APK_NET;
	return n;
}

/* The pool against the mode, the devices and RAM. */
static int check_pool(struct vmm_config *cfg, char *err, size_t errlen)
{
	enum aperture_kind kinds[CLI_MAX_SHARES + 2];
	unsigned n = cli_aperture_kinds(cfg, kinds, sizeof(kinds) / sizeof(kinds[0]));
	uint64_t need = aperture_pool_need(cfg->dma, kinds, n);
	struct aperture ap[CLI_MAX_SHARES + 2];
	char why[256];

	if (cfg->dma == DMA_DIRECT) {
		if (cfg->swiotlb_given)
			return bad(err, errlen, "--swiotlb cannot be used with --dma direct (no bounce buffers)");
		if (cfg->require_aperture)
			return bad(err, errlen, "--require-aperture cannot be used with --dma direct");
		cfg->swiotlb = 0;
		return 0;
	}
	if (!cfg->swiotlb_given) {
		/* 64 MiB, less in a small guest (a quarter of RAM), never less than needed. */
		uint64_t def = APERTURE_DEFAULT_POOL;

		if (def > cfg->memory / 4)
			def = cfg->memory / 4 / APERTURE_ALIGN * APERTURE_ALIGN;
		cfg->swiotlb = need > def ? need : def;
	}
	if (cfg->swiotlb > APERTURE_MAX_POOL)
		return bad(err, errlen, "%u devices need a %llu MiB pool, more than the %llu MiB one pool can hold",
			   n, (unsigned long long)(need / SZ_1M), (unsigned long long)(APERTURE_MAX_POOL / SZ_1M));
	if (aperture_plan(cfg->dma, 0, cfg->swiotlb, kinds, n, ap, why, sizeof(why)))
		return bad(err, errlen, "--swiotlb %llu MiB: %s", (unsigned long long)(cfg->swiotlb / SZ_1M), why);
	if (cfg->swiotlb > cfg->memory / 2)
		return bad(err, errlen, "%s%llu MiB pool is more than half of the %llu MiB of guest RAM",
			   cfg->swiotlb_given ? "--swiotlb: a " : "the devices need a ",
			   (unsigned long long)(cfg->swiotlb / SZ_1M), (unsigned long long)(cfg->memory / SZ_1M));
	return 0;
}
