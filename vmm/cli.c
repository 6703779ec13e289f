/* SPDX-License-Identifier: MIT */
#include "vmm/cli.h"

#include <errno.h>
#include <linux/virtio_fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "firmware/mptable.h"
#include "lib/protocol.h"
#include "lib/util.h"
#include "vmm/vm.h"

/* One line for the user in err (lib/util.h, the error convention). */
#define bad(err, errlen, ...) err_set((err), (errlen), -1, __VA_ARGS__)

static int check_pool(struct vmm_config *cfg, char *err, size_t errlen);

/* ---- one setter per option ---- */

static int set_path(const char *opt, const char **dst, const char *v, char *err, size_t errlen)
{
	if (!*v)
		return bad(err, errlen, "--%s: empty path", opt);
	*dst = v;
	return 0;
}

static int set_config(struct vmm_config *c, const char *v, char *e, size_t l) { return set_path("config", &c->config, v, e, l); }
static int set_kernel(struct vmm_config *c, const char *v, char *e, size_t l) { return set_path("kernel", &c->kernel, v, e, l); }
static int set_initrd(struct vmm_config *c, const char *v, char *e, size_t l) { return set_path("initrd", &c->initrd, v, e, l); }
static int set_events(struct vmm_config *c, const char *v, char *e, size_t l) { return set_path("events", &c->events, v, e, l); }

static int set_cmdline(struct vmm_config *c, const char *v, char *e, size_t l)
{
	(void)e, (void)l;
	c->cmdline = v;
	return 0;
}

static int set_exec(struct vmm_config *c, const char *v, char *err, size_t errlen)
{
	if (strlen(v) > INITCHAN_MAX_EXEC)
		return bad(err, errlen, "--exec: the command is %zu bytes, at most %d (put a longer script in a --share)",
			   strlen(v), INITCHAN_MAX_EXEC);
	c->exec = v;
	return 0;
}

static int set_cpus(struct vmm_config *c, const char *v, char *err, size_t errlen)
{
	uint64_t n;

	if (parse_uint(v, 1, CLI_MAX_CPUS, &n))
		return bad(err, errlen, "--cpus: '%s' is not a number from 1 to %d", v, CLI_MAX_CPUS);
	c->cpus = (unsigned)n;
	return 0;
}

static int set_memory(struct vmm_config *c, const char *v, char *err, size_t errlen)
{
	uint64_t n;

	if (parse_size(v, &n))
		return bad(err, errlen, "--memory: '%s' is not a size (use e.g. 512M or 2G)", v);
	if (n < CLI_MIN_MEMORY || n > CLI_MAX_MEMORY)
		return bad(err, errlen, "--memory: %s is out of range (64M to 1T)", v);
	if (!is_aligned(n, SZ_2M))
		return bad(err, errlen, "--memory: %s is not a multiple of 2 MiB", v);
	c->memory = n;
	return 0;
}

static int set_cpu_template(struct vmm_config *c, const char *v, char *err, size_t errlen)
{
	if (cpuid_template_parse(v, &c->cpu_template))
		return bad(err, errlen, "--cpu-template: '%s' is not one of: host, baseline", v);
	return 0;
}

static int set_timeout(struct vmm_config *c, const char *v, char *err, size_t errlen)
{
	uint64_t n;

	if (parse_uint(v, 1, CLI_MAX_TIMEOUT, &n))
		return bad(err, errlen, "--timeout: '%s' is not a number of seconds from 1 to %d", v, CLI_MAX_TIMEOUT);
	c->timeout_s = (unsigned)n;
	return 0;
}

static int set_vsock_uds(struct vmm_config *c, const char *v, char *err, size_t errlen)
{
	if (!*v || strlen(v) >= 108) /* sizeof(sun_path) */
		return bad(err, errlen, "--vsock-uds: path empty or longer than 107 bytes");
	c->vsock_uds = v;
	return 0;
}

static int set_verbose(struct vmm_config *c, const char *v, char *e, size_t l)
{
	(void)v, (void)e, (void)l;
	c->verbose = true;
	return 0;
}

static int set_dma(struct vmm_config *c, const char *v, char *err, size_t errlen)
{
	if (dma_mode_parse(v, &c->dma))
		return bad(err, errlen, "--dma: '%s' is not one of: aperture, shared, direct", v);
	return 0;
}

static int set_swiotlb(struct vmm_config *c, const char *v, char *err, size_t errlen)
{
	if (aperture_parse_pool_size(v, &c->swiotlb, err, errlen))
		return -1;
	c->swiotlb_given = true;
	return 0;
}

static int set_require_aperture(struct vmm_config *c, const char *v, char *e, size_t l)
{
	(void)v, (void)e, (void)l;
	c->require_aperture = true;
	return 0;
}

static int set_isolate(struct vmm_config *c, const char *v, char *err, size_t errlen)
{
	if (!strcmp(v, "process"))
		c->isolate = ISOLATE_PROCESS;
	else if (!strcmp(v, "none"))
		c->isolate = ISOLATE_NONE;
	else
		return bad(err, errlen, "--isolate: '%s' is not one of: process, none", v);
	return 0;
}

static int set_help(struct vmm_config *c, const char *v, char *e, size_t l)
{
	(void)v, (void)e, (void)l;
	c->action = CLI_HELP;
	return 0;
}

static int set_version(struct vmm_config *c, const char *v, char *e, size_t l)
{
	(void)v, (void)e, (void)l;
	c->action = CLI_VERSION;
	return 0;
}

static bool tag_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
	       c == '.';
}

/* One ,OPTION of --share (len bytes at o): the parser is the back end's (devices/fuse-options.c). */
static int share_opt(struct cli_share *sh, const char *arg, const char *o, size_t len, char *err, size_t errlen)
{
	char why[192];

	if (fuse_option_apply(&sh->opt, o, len, why, sizeof(why)))
		return bad(err, errlen, "--share %s: %s", arg, why);
	return 0;
}

/*
 * --share [TAG=]PATH[,OPTION...] (opts true) or --vhost-user-fs [TAG=]SOCKET
 * (opt names which). The tag names /mnt/TAG in the guest, so it is a plain
 * file name; a comma in PATH is written ",," (QEMU's habit).
 */
static int add_share(struct vmm_config *cfg, const char *opt, bool opts_ok, const char *arg, char *err,
		     size_t errlen)
{
	struct cli_share sh;
	const char *tag = "share", *p = arg, *opts = NULL, *eq;
	size_t taglen = 5, n = 0;

	memset(&sh, 0, sizeof(sh));
	/* [TAG=]PATH up to the first single comma, ",," unescaped. */
	for (; *p; p++) {
		if (*p == ',' && p[1] == ',') {
			p++;
		} else if (*p == ',' && opts_ok) {
			opts = p + 1;
			break;
		}
		if (n + 1 >= sizeof(sh.path))
			return bad(err, errlen, "%s: path longer than %d bytes", opt, PATH_MAX - 1);
		sh.path[n++] = *p;
	}
	sh.path[n] = '\0';
	eq = strchr(sh.path, '=');
	if (eq) {
		char t[CLI_MAX_TAG + 1];

		taglen = (size_t)(eq - sh.path);
		if (taglen == 0)
			return bad(err, errlen, "%s %s: empty tag", opt, arg);
		if (taglen > CLI_MAX_TAG)
			return bad(err, errlen, "%s %s: tag longer than %d bytes", opt, arg, CLI_MAX_TAG);
		for (size_t i = 0; i < taglen; i++)
			if (!tag_char_ok(sh.path[i]))
				return bad(err, errlen, "%s %s: a tag may only use letters, digits, '_', '-' and '.'",
					   opt, arg);
		if ((taglen == 1 && sh.path[0] == '.') || (taglen == 2 && sh.path[0] == '.' && sh.path[1] == '.'))
			return bad(err, errlen, "%s %s: '%.*s' cannot be a tag", opt, arg, (int)taglen, sh.path);
		memcpy(t, sh.path, taglen);
		t[taglen] = '\0';
		memmove(sh.path, eq + 1, strlen(eq + 1) + 1);
		memcpy(sh.tag, t, taglen + 1);
	} else {
		memcpy(sh.tag, tag, taglen + 1);
	}
	if (!sh.path[0])
		return bad(err, errlen, "%s %s: empty path", opt, arg);
	while (opts) {
		const char *end = strchr(opts, ',');
		size_t len = end ? (size_t)(end - opts) : strlen(opts);
		int e;

		if (len == 0)
			return bad(err, errlen, "%s %s: empty option", opt, arg);
		e = share_opt(&sh, arg, opts, len, err, errlen);
		if (e)
			return e;
		opts = end ? end + 1 : NULL;
	}
	if (sh.opt.ro && sh.opt.writeback)
		return bad(err, errlen, "%s %s: writeback makes no sense on a read-only share", opt, arg);
	if (cfg->nshares == CLI_MAX_SHARES)
		return bad(err, errlen, "%s: at most %d shares (--share and --vhost-user-fs together)", opt, CLI_MAX_SHARES);
	for (unsigned i = 0; i < cfg->nshares; i++)
		if (strcmp(cfg->share[i].tag, sh.tag) == 0)
			return bad(err, errlen, "%s %s: tag '%s' is used twice", opt, arg, sh.tag);
	sh.external = !opts_ok;
	if (sh.external && strlen(sh.path) >= 108) /* sizeof(sun_path) */
		return bad(err, errlen, "%s %s: socket path longer than 107 bytes", opt, arg);
	cfg->share[cfg->nshares++] = sh;
	return 0;
}

static int set_share(struct vmm_config *cfg, const char *arg, char *err, size_t errlen)
{
	return add_share(cfg, "--share", true, arg, err, errlen);
}

/* --vhost-user-fs [TAG=]SOCKET: a virtio-fs device whose back end (virtiofsd, ...) listens on SOCKET. */
static int set_vhost_user_fs(struct vmm_config *cfg, const char *arg, char *err, size_t errlen)
{
	return add_share(cfg, "--vhost-user-fs", false, arg, err, errlen);
}

static int set_net(struct vmm_config *cfg, const char *arg, char *err, size_t errlen)
{
	return netcfg_parse(arg, &cfg->net, err, errlen);
}

/* ---- the table: parser, --help, man page and config keys ---- */

const struct cli_option cli_options[] = {
	{ "kernel", "PATH", "bzImage (64-bit boot protocol 2.12+) or uncompressed ELF vmlinux (default: the "
	  "built or installed vmlinux)", set_kernel, 0 },
	{ "initrd", "PATH|none", "initramfs (default: initramfs.cpio beside the kernel, else the built or "
	  "installed one)", set_initrd, 0 },
	{ "cmdline", "ARGS", "extra kernel parameters, appended after the generated ones", set_cmdline, 0 },
	{ "cpus", "N", "vCPUs, 1-64 (default 1)", set_cpus, 0 },
	{ "memory", "SIZE", "guest RAM, e.g. 512M or 2G (default 512M; 64M to 1T, a multiple of 2 MiB)",
	  set_memory, 0 },
	{ "cpu-template", "host|baseline", "CPUID: host (default, what KVM supports) or baseline (x86-64-v2 without "
	  "AVX/TSX/AVX-512)", set_cpu_template, 0 },
	{ "exec", "CMD", "the guest init runs CMD with /bin/sh -c; vmm exits with its status (128+N if a "
	  "signal N killed it)", set_exec, 0 },
	{ "events", "FILE", "write boot, handshake and device events to FILE as JSON lines (docs/events.md)",
	  set_events, 0 },
	{ "share", "[TAG=]PATH[,OPTION...]", "share host directory PATH with the guest over virtio-fs, mounted at "
	  "/mnt/TAG (default tag: share); repeatable, up to 8; each share gets its own DMA aperture. Options: ro "
	  "(read-only, EROFS even for root), cache=auto|always|never (default auto), writeback (guest write-back "
	  "cache), xattr (serve extended attributes), devnodes (let the guest make device nodes; host processes "
	  "could open them), uidmap=GUEST:HOST[:COUNT] and gidmap= (map ids, e.g. for a "
	  "vmm that is not root); a comma in PATH is written ,,", set_share, CLI_REPEAT },
	{ "vhost-user-fs", "[TAG=]SOCKET", "a virtio-fs device served by an external vhost-user back end "
	  "(e.g. virtiofsd --socket-path=SOCKET) listening on SOCKET, mounted at /mnt/TAG; it is given only the "
	  "device's aperture; repeatable", set_vhost_user_fs, CLI_REPEAT },
	{ "net", "user[,OPTS]|tap=IFNAME[,OPTS]|none", "the network device (docs/protocol.md, Network). user (the default "
	  "when passt is installed, else none): user-mode networking through passt with DHCP, DNS and outgoing "
	  "connections, the host's loopback at the gateway address; OPTS hostfwd=tcp|udp:[ADDR:]HOSTPORT:GUESTPORT "
	  "(repeatable), mac=MAC, mtu=N (1280-65520, default 65520; a smaller one helps host->guest TCP "
	  "into a slow guest). tap=IFNAME: a tap interface (created when missing and allowed); OPTS "
	  "queues=N, mac=MAC, addr=A.B.C.D/LEN, gw=A.B.C.D. none: no network device", set_net, 0 },
	{ "dma", "aperture|shared|direct", "aperture (default): one DMA aperture per device; shared: one aperture (the whole "
	  "pool) for every device; direct: no pool, no bounce buffers", set_dma, 0 },
	{ "swiotlb", "SIZE", "the bounce-buffer pool the guest reserves (default 64M, a quarter of RAM in small "
	  "guests, at least what the devices need; 2M to 256M in 2 MiB steps)", set_swiotlb, 0 },
	{ "require-aperture", NULL, "add no devices when the guest kernel publishes no usable pool (default: add "
	  "them without apertures, with one warning)", set_require_aperture, 0 },
	{ "isolate", "process|none", "process (default): each aperture device's data plane runs in its own "
	  "sandboxed process that maps only the device's aperture (vhost-user); none: in the monitor, for "
	  "comparison and debugging", set_isolate, 0 },
	{ "vsock-uds", "PATH", "UNIX socket for host programs: \"CONNECT <port>\\n\" reaches a guest vsock port "
	  "(Firecracker's convention)", set_vsock_uds, 0 },
	{ "timeout", "SECONDS", "stop a guest that runs longer and exit 124", set_timeout, 0 },
	{ "verbose", NULL, "kernel boot messages (drops quiet) and monitor debug lines", set_verbose, CLI_REPEAT },
	{ "config", "FILE", "read options from FILE: one `key = value` per line, the keys are the long option "
	  "names; the command line wins over the file", set_config, CLI_NOFILE },
	{ "help", NULL, "print this help and exit", set_help, CLI_ACTION | CLI_NOFILE },
	{ "version", NULL, "print the version and exit", set_version, CLI_ACTION | CLI_NOFILE },
};
const unsigned cli_noptions = ARRAY_SIZE(cli_options);

const struct cli_exit_code cli_exit_codes[] = {
	{ "0", "the guest command (or shell) exited 0" },
	{ "1-123", "the guest command's own status; 1 also when the host cannot run a VM (no /dev/kvm, ...)" },
	{ "2", "a bad argument, option or file: one line on stderr, no VM started" },
	{ "124", "--timeout: the guest was still running and was stopped" },
	{ "125", "the guest crashed (kernel panic, triple fault, KVM error) or reset without reporting a status" },
	{ "130", "the user quit with Ctrl-A x" },
	{ "128+N", "the guest command was killed by signal N, or vmm itself got signal N (SIGINT, SIGTERM, ...)" },
};
const unsigned cli_nexit_codes = ARRAY_SIZE(cli_exit_codes);

/* Limits that must agree with what they size elsewhere. */
_Static_assert(CLI_MAX_TAG == sizeof(((struct virtio_fs_config *)0)->tag), "a tag fills the virtio-fs tag field");
_Static_assert(CLI_MAX_CPUS <= VM_MAX_CPUS && CLI_MAX_CPUS <= MPTABLE_MAX_CPUS, "--cpus fits the VM and MP table");

static const struct cli_option *find(const char *name, size_t len)
{
	for (unsigned i = 0; i < cli_noptions; i++)
		if (strlen(cli_options[i].name) == len && !memcmp(cli_options[i].name, name, len))
			return &cli_options[i];
	return NULL;
}

/* One option occurrence, before it is applied. */
struct occ {
	const struct cli_option *o;
	const char *val;
};

#define MAX_OCC 128

/*
 * Command line into occ[]: "--name value", "--name=value", "--flag". Checks
 * unknown options, values on flags, missing values, positional arguments
 * and non-repeatable options given twice. Stops at an action (--help).
 */
static int scan_argv(int argc, char **argv, struct occ *occ, unsigned *nocc, char *err, size_t errlen)
{
	*nocc = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *eq, *val = NULL;
		const struct cli_option *o;

		if (a[0] != '-' || !a[1] || !strcmp(a, "--"))
			return bad(err, errlen, "unexpected argument '%s' (see --help)", !strcmp(a, "--") && i + 1 < argc
											   ? argv[i + 1]
											   : a);
		if (a[1] != '-')
			return bad(err, errlen, "unknown option '%s' (see --help)", a);
		eq = strchr(a + 2, '=');
		o = find(a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
		if (!o)
			return bad(err, errlen, "unknown option '%.*s' (see --help)", eq ? (int)(eq - a) : (int)strlen(a),
				   a);
		if (!o->arg && eq)
			return bad(err, errlen, "option '--%s' takes no value", o->name);
		if (o->arg) {
			if (eq)
				val = eq + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			else
				return bad(err, errlen, "option '--%s' needs a value (see --help)", o->name);
		}
		if (!(o->flags & CLI_REPEAT))
			for (unsigned k = 0; k < *nocc; k++)
				if (occ[k].o == o)
					return bad(err, errlen, "option '--%s' given twice", o->name);
		if (*nocc == MAX_OCC)
			return bad(err, errlen, "more than %d options", MAX_OCC);
		occ[(*nocc)++] = (struct occ){ o, val };
		if (o->flags & CLI_ACTION)
			return 0;
	}
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* A --config file into occ[] (same checks as the command line, by line number). */
static int scan_config(char *text, const char *name, struct occ *occ, unsigned *nocc, char *err, size_t errlen)
{
	unsigned line = 0;
	char *next = text;

	*nocc = 0;
	while (next) {
		char *l = next, *key, *val = NULL, *eq;
		const struct cli_option *o;

		next = strchr(l, '\n');
		if (next)
			*next++ = '\0';
		line++;
		if (strlen(l) != strcspn(l, "\001\002\003\004\005\006\007\010\013\014\016\017\020\021\022\023\024\025\026"
					   "\027\030\031\032\033\034\035\036\037"))
			return bad(err, errlen, "%s:%u: control character in the line", name, line);
		key = trim(l);
		if (!*key || *key == '#')
			continue;
		eq = strchr(key, '=');
		if (eq) {
			*eq = '\0';
			val = trim(eq + 1);
			key = trim(key);
			if (val[0] == '"') {
				size_t n = strlen(val);

				if (n < 2 || val[n - 1] != '"')
					return bad(err, errlen, "%s:%u: unterminated quoted value", name, line);
				val[n - 1] = '\0';
				val++;
			}
		}
		if (key[0] == '-' && key[1] == '-')
			key += 2; /* "--cpus = 2" is forgiven */
		o = find(key, strlen(key));
		if (!o)
			return bad(err, errlen, "%s:%u: unknown option '%s'", name, line, key);
		if (o->flags & CLI_NOFILE)
			return bad(err, errlen, "%s:%u: '%s' cannot be set in a config file", name, line, key);
		if (!o->arg && val && strcmp(val, "true") != 0)
			return bad(err, errlen, "%s:%u: '%s' is a flag: write it alone (or '= true')", name, line, key);
		if (o->arg && !val)
			return bad(err, errlen, "%s:%u: '%s' needs a value ('%s = %s')", name, line, key, key, o->arg);
		if (!(o->flags & CLI_REPEAT))
			for (unsigned k = 0; k < *nocc; k++)
				if (occ[k].o == o)
					return bad(err, errlen, "%s:%u: '%s' given twice", name, line, key);
		if (*nocc == MAX_OCC)
			return bad(err, errlen, "%s: more than %d options", name, MAX_OCC);
		occ[(*nocc)++] = (struct occ){ o, o->arg ? val : NULL };
	}
	return 0;
}

static int apply(struct vmm_config *cfg, const struct occ *occ, unsigned n, char *err, size_t errlen)
{
	for (unsigned i = 0; i < n; i++)
		if (occ[i].o->set(cfg, occ[i].val, err, errlen))
			return -1;
	return 0;
}

int cli_parse_with_config(char *text, const char *name, int argc, char **argv, struct vmm_config *cfg, char *err,
			  size_t errlen)
{
	struct occ cl[MAX_OCC], fl[MAX_OCC];
	unsigned ncl = 0, nfl = 0;

	memset(cfg, 0, sizeof(*cfg));
	cfg->cpus = 1;
	cfg->memory = CLI_DEFAULT_MEMORY;
	cfg->cpu_template = CPU_TEMPLATE_HOST;
	if (scan_argv(argc, argv, cl, &ncl, err, errlen))
		return -1;
	if (ncl && (cl[ncl - 1].o->flags & CLI_ACTION))
		return apply(cfg, &cl[ncl - 1], 1, err, errlen);
	if (text && scan_config(text, name ? name : "config", fl, &nfl, err, errlen))
		return -1;
	/* The file first, minus what the command line sets; then the command line. */
	for (unsigned i = 0; i < nfl; i++) {
		bool overridden = false;

		for (unsigned k = 0; k < ncl && !overridden; k++)
			overridden = cl[k].o == fl[i].o;
		if (!overridden && apply(cfg, &fl[i], 1, err, errlen)) {
			if (name) {
				char inner[256];

				snprintf(inner, sizeof(inner), "%s", err);
				snprintf(err, errlen, "%s: %s", name, inner);
			}
			return -1;
		}
	}
	if (apply(cfg, cl, ncl, err, errlen))
		return -1;
	return check_pool(cfg, err, errlen);
}

int cli_parse(int argc, char **argv, struct vmm_config *cfg, char *err, size_t errlen)
{
	return cli_parse_with_config(NULL, NULL, argc, argv, cfg, err, errlen);
}

/* ---- help and man page ---- */

/* Print `text` wrapped to `width` columns, every line after the first indented by `indent`. */
static void wrap(FILE *f, const char *text, unsigned col, unsigned indent, unsigned width)
{
	const char *p = text;

	while (*p) {
		size_t w = strcspn(p, " ");

		if (col > indent && col + 1 + w > width) {
			fprintf(f, "\n%*s", (int)indent, "");
			col = indent;
		} else if (col > indent) {
			fputc(' ', f);
			col++;
		}
		fprintf(f, "%.*s", (int)w, p);
		col += (unsigned)w;
		p += w;
		while (*p == ' ')
			p++;
	}
	fputc('\n', f);
}

void cli_print_help(FILE *f)
{
	fputs("Usage: vmm [OPTIONS]\n"
	      "Boot a Linux guest under KVM; every virtio device sees only its own DMA aperture.\n\n", f);
	for (unsigned i = 0; i < cli_noptions; i++) {
		const struct cli_option *o = &cli_options[i];
		char head[64];
		int n = snprintf(head, sizeof(head), "  --%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");

		if (n < 24) {
			fprintf(f, "%-24s", head);
			wrap(f, o->help, 24, 24, 80);
		} else {
			fprintf(f, "%s\n%24s", head, "");
			wrap(f, o->help, 24, 24, 80);
		}
	}
	fputs("\nExit status:\n", f);
	for (unsigned i = 0; i < cli_nexit_codes; i++) {
		fprintf(f, "  %-8s", cli_exit_codes[i].status);
		wrap(f, cli_exit_codes[i].meaning, 10, 10, 80);
	}
	fputs("\nConsole: Ctrl-A x quits, Ctrl-A Ctrl-A sends Ctrl-A.\n", f);
}

/* roff-escape s: backslashes, and a leading '.' or '\\'' that would start a request. */
static void roff(FILE *f, const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", f);
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", f);
		else if (*s == '-')
			fputs("\\-", f);
		else
			fputc(*s, f);
	}
}

void cli_print_man(FILE *f, const char *version, const char *date)
{
	fprintf(f, ".TH VMM 1 \"%s\" \"aperture %s\" \"User Commands\"\n", date, version);
	fputs(".SH NAME\nvmm \\- minimal KVM monitor in which every virtio device sees only its own DMA aperture\n"
	      ".SH SYNOPSIS\n.B vmm\n[\\fIOPTIONS\\fR]\n"
	      ".SH DESCRIPTION\n"
	      "\\fBvmm\\fR boots a Linux guest directly in 64-bit mode with a serial console on the terminal. "
	      "A guest kernel with the Aperture patches reserves a bounce-buffer pool below 4 GiB and reports it "
	      "over the init channel; vmm gives each virtio device (virtio-rng, one virtio-fs per \\fB\\-\\-share\\fR) "
	      "its own slice of that pool and refuses every guest-memory access a device makes outside it.\n"
	      ".SH OPTIONS\n", f);
	for (unsigned i = 0; i < cli_noptions; i++) {
		const struct cli_option *o = &cli_options[i];

		fputs(".TP\n\\fB\\-\\-", f);
		roff(f, o->name);
		fputs("\\fR", f);
		if (o->arg) {
			fputs(" \\fI", f);
			roff(f, o->arg);
			fputs("\\fR", f);
		}
		fputc('\n', f);
		roff(f, o->help);
		fputc('\n', f);
	}
	fputs(".SH CONFIGURATION FILE\n"
	      "\\fB\\-\\-config\\fR \\fIFILE\\fR reads options from a file, one per line: \\fIkey\\fR \\fB=\\fR "
	      "\\fIvalue\\fR, or \\fIkey\\fR alone for a flag; the keys are the long option names without "
	      "\\fB\\-\\-\\fR; \\fB#\\fR starts a comment; a value may be in double quotes. An option on the "
	      "command line replaces the same option from the file.\n"
	      ".SH EXIT STATUS\n", f);
	for (unsigned i = 0; i < cli_nexit_codes; i++) {
		fputs(".TP\n.B ", f);
		roff(f, cli_exit_codes[i].status);
		fputc('\n', f);
		roff(f, cli_exit_codes[i].meaning);
		fputc('\n', f);
	}
	fputs(".SH FILES\n.TP\n.I PREFIX/share/aperture/vmlinux, initramfs.cpio, bzImage\n"
	      "The guest kernel and initramfs \\fBmake install\\fR puts beside vmm; used when \\fB\\-\\-kernel\\fR "
	      "is not given.\n"
	      ".SH EXAMPLES\n.nf\nvmm \\-\\-exec 'uname \\-a'\nvmm \\-\\-share /srv \\-\\-exec 'ls /mnt/share'\n"
	      "vmm \\-\\-kernel bzImage \\-\\-cpus 2 \\-\\-memory 1G\n.fi\n"
	      ".SH SEE ALSO\nThe project's README.md and docs/ (protocol.md, events.md, threat-model.md).\n", f);
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
