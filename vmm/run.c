/* SPDX-License-Identifier: MIT */
/*
 * The monitor's life: parse and check everything the user gave (exit 2 on
 * any problem, before a vCPU runs), build the VM, wire the legacy devices,
 * run, and turn how the guest ended into an exit status.
 */
#include "vmm/run.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include "build/config.h"
#include "devices/pvport.h"
#include "devices/reset.h"
#include "devices/serial.h"
#include "vmm/cli.h"
#include "vmm/cmdline.h"
#include "vmm/cpuid.h"
#include "vmm/devmgr.h"
#include "vmm/handshake.h"
#include "vmm/events.h"
#include "vmm/loader.h"
#include "lib/log.h"
#include "vmm/term.h"
#include "vmm/vm.h"

#define MAX_KERNEL_SIZE (512ULL << 20)
#define MAX_INITRD_SIZE (1ULL << 30)
#define CMDLINE_BUF 8192
#define ESCAPE_CHAR 0x01 /* Ctrl-A */

/* Everything the device callbacks need. */
struct monitor {
	struct vm vm;
	struct serial com1;
	struct reset_dev reset;
	struct pvport pvport;
	struct devmgr dm;
	struct handshake hs;
	struct netcfg_nic nic; /* --net: the NIC's back end, made before the VM */
	int rx_efd;           /* the UART has room for input again */
	bool raw_tty;
	bool escape;
	char line[256];       /* current console line, for panic detection */
	size_t line_len;
	char panic[256];      /* first "Kernel panic" line seen */
};

/* ---- device callbacks ---- */

static void console_tx(void *ctx, const uint8_t *buf, size_t len)
{
	struct monitor *m = ctx;
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(STDOUT_FILENO, buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* stdout gone: the guest keeps running, output is dropped */
		done += (size_t)n;
	}
	for (size_t i = 0; i < len; i++) {
		char c = (char)buf[i];

		if (c == '\n' || m->line_len == sizeof(m->line) - 1) {
			m->line[m->line_len] = '\0';
			if (!m->panic[0] && strstr(m->line, "Kernel panic - not syncing")) {
				char *s = strstr(m->line, "Kernel panic");
				size_t l = strlen(s);

				while (l && (s[l - 1] == '\r' || s[l - 1] == ' '))
					s[--l] = '\0';
				snprintf(m->panic, sizeof(m->panic), "%s", s);
				events_emit("guest-panic", NULL);
			}
			m->line_len = 0;
			if (c == '\n')
				continue;
		}
		m->line[m->line_len++] = c;
	}
}

static void console_irq(void *ctx, int level)
{
	struct monitor *m = ctx;

	if (vm_irq_line(&m->vm, SERIAL_COM1_IRQ, level))
		log_msg("cannot drive the COM1 interrupt line");
}

static void console_rx_space(void *ctx)
{
	struct monitor *m = ctx;
	uint64_t one = 1;

	if (write(m->rx_efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_errno(errno, "console rx eventfd");
}

static const struct serial_ops console_ops = {
	.tx = console_tx,
	.irq = console_irq,
	.rx_space = console_rx_space,
};

static void guest_reset(void *ctx, const char *why)
{
	struct monitor *m = ctx;

	vm_request_stop(&m->vm, VM_STOP_RESET, "guest reset (%s)", why);
}

static void guest_boot_mark(void *ctx, unsigned mark)
{
	(void)ctx;
	if (mark == PVPORT_MARK_INIT)
		events_guest("guest-init-reached", NULL);
	else if (mark == PVPORT_MARK_WORKLOAD)
		events_guest("workload-started", NULL);
	else
		events_guest("guest-boot-mark", "\"mark\":\"%u\"", mark);
}

static void guest_exit_status(void *ctx, unsigned status)
{
	struct monitor *m = ctx;

	vm_set_guest_status(&m->vm, (int)status);
	events_guest("guest-exit-status", "\"status\":%u,\"via\":\"port\"", status);
}

static const struct pvport_ops pvport_ops = {
	.boot_mark = guest_boot_mark,
	.exit_status = guest_exit_status,
};

static int wire_devices(struct monitor *m, const struct vmm_config *cfg)
{
	struct bus *pio = &m->vm.pio;
	int err;

	serial_init(&m->com1, &console_ops, m);
	m->reset = (struct reset_dev){ .reset = guest_reset, .ctx = m };
	m->pvport = (struct pvport){ .ops = &pvport_ops, .ctx = m };
	err = bus_register(pio, SERIAL_COM1_BASE, 8, serial_io, &m->com1, "com1");
	if (!err)
		err = bus_register(pio, I8042_DATA_PORT, 1, reset_i8042_data_io, &m->reset, "i8042-data");
	if (!err)
		err = bus_register(pio, I8042_CMD_PORT, 1, reset_i8042_cmd_io, &m->reset, "i8042");
	if (!err)
		err = devmgr_init(&m->dm, &m->vm, cfg->isolate == ISOLATE_PROCESS, reset_cf9_io, &m->reset);
	/* The init channel is there from boot; other devices wait for the handshake. */
	if (!err)
		err = devmgr_add_vsock(&m->dm, cfg->vsock_uds);
	if (!err)
		err = handshake_init(&m->hs, &m->dm, &m->vm, cfg);
	m->hs.nic = &m->nic;
	if (!err)
		err = bus_register(pio, PVPORT_BASE, PVPORT_LEN, pvport_io, &m->pvport, "pvport");
	if (err)
		log_errno(err, "registering the legacy devices");
	return err;
}

/* ---- files the user named ---- */

/* snprintf that reports truncation: paths that do not fit are refused. */
static bool fmt_path(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool fmt_path(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < len;
}

/* Directory of our own executable, for the default image location. */
static void images_dir(char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	snprintf(buf, len, "images/out");
	if (n <= 0)
		return;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return;
	*slash = '\0';
	/*
	 * build/vmm -> <repo>/images/out; an installed PREFIX/bin/vmm ->
	 * PREFIX/share/aperture (make install); a vmm next to images/ too.
	 */
	if ((!fmt_path(buf, len, "%s/../images/out", exe) || access(buf, F_OK) != 0) &&
	    (!fmt_path(buf, len, "%s/../share/aperture", exe) || access(buf, F_OK) != 0))
		if (!fmt_path(buf, len, "%s/images/out", exe))
			snprintf(buf, len, "images/out");
}

static int load_user_file(const char *opt, const char *path, size_t max, uint8_t **buf, size_t *len)
{
	int err = read_file(path, max, buf, len);

	if (err == -EFBIG)
		log_msg("%s %s: larger than %zu MiB", opt, path, max >> 20);
	else if (err)
		log_errno(err, "%s %s", opt, path);
	return err;
}

/* ---- the console and the main loop ---- */

static void handle_stdin(struct monitor *m, bool *stdin_open)
{
	uint8_t in[512], out[512];
	size_t space = serial_rx_space(&m->com1), o = 0;
	ssize_t n;

	if (space == 0)
		return;
	n = read(STDIN_FILENO, in, space < sizeof(in) ? space : sizeof(in));
	if (n < 0) {
		if (errno != EINTR && errno != EAGAIN)
			*stdin_open = false;
		return;
	}
	if (n == 0) {
		*stdin_open = false;
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		uint8_t c = in[i];

		if (m->raw_tty && m->escape) {
			m->escape = false;
			if (c == 'x' || c == 'X') {
				vm_request_stop(&m->vm, VM_STOP_USER, "quit from the console (Ctrl-A x)");
				return;
			}
			if (c != ESCAPE_CHAR)
				continue;
		} else if (m->raw_tty && c == ESCAPE_CHAR) {
			m->escape = true;
			continue;
		}
		out[o++] = c;
	}
	if (o)
		serial_rx_push(&m->com1, out, o);
}

static void main_loop(struct monitor *m, int sfd, int tfd)
{
	bool stdin_open = true;

	while (vm_stop_reason(&m->vm) == VM_RUNNING) {
		struct pollfd p[4] = {
			{ .fd = m->vm.stop_efd, .events = POLLIN },
			{ .fd = sfd, .events = POLLIN },
			{ .fd = tfd, .events = POLLIN },
			{ .fd = m->rx_efd, .events = POLLIN },
		};
		struct pollfd all[5];
		nfds_t n = 4;

		memcpy(all, p, sizeof(p));
		if (stdin_open && serial_rx_space(&m->com1) > 0)
			all[n++] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
		if (poll(all, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			vm_request_stop(&m->vm, VM_STOP_ERROR, "poll: %s", strerror(errno));
			break;
		}
		if (all[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				m->vm.stop_signal = (int)si.ssi_signo;
				vm_request_stop(&m->vm, VM_STOP_SIGNAL, "stopped by signal %s",
						strsignal((int)si.ssi_signo));
			}
		}
		if (all[2].revents & POLLIN)
			vm_request_stop(&m->vm, VM_STOP_TIMEOUT, "timeout");
		if (all[3].revents & POLLIN) {
			uint64_t v;

			if (read(m->rx_efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				log_errno(errno, "console rx eventfd");
		}
		if (n == 5 && (all[4].revents & (POLLIN | POLLHUP | POLLERR)))
			handle_stdin(m, &stdin_open);
	}
}

static int setup_signals(unsigned timeout_s, int *sfd, int *tfd)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return -EINVAL;
	*sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (*sfd < 0)
		return -errno;
	*tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (*tfd < 0)
		return -errno;
	if (timeout_s) {
		struct itimerspec its = { .it_value = { .tv_sec = timeout_s } };

		if (timerfd_settime(*tfd, 0, &its, NULL) < 0)
			return -errno;
	}
	return 0;
}

static int final_status(struct monitor *m, const struct vmm_config *cfg)
{
	int status = __atomic_load_n(&m->vm.guest_status, __ATOMIC_ACQUIRE);
	char esc[sizeof(m->panic) * 4];

	switch (vm_stop_reason(&m->vm)) {
	case VM_STOP_RESET:
		if (status >= 0)
			return status;
		if (m->panic[0])
			log_msg("guest kernel panicked: %s", log_escape(esc, sizeof(esc), m->panic));
		else
			log_msg("%s before its init reported an exit status", m->vm.stop_detail);
		return EXIT_GUEST_FAILED;
	case VM_STOP_TIMEOUT:
		log_msg("guest still running after %u s (--timeout): stopped it", cfg->timeout_s);
		return EXIT_TIMEOUT;
	case VM_STOP_SIGNAL:
		log_msg("%s", m->vm.stop_detail);
		return 128 + m->vm.stop_signal;
	case VM_STOP_USER:
		log_msg("%s", m->vm.stop_detail);
		return EXIT_CONSOLE_QUIT;
	case VM_STOP_SHUTDOWN:
	case VM_STOP_ERROR:
	case VM_RUNNING:
	default:
		log_msg("%s", m->vm.stop_detail);
		if (m->panic[0])
			log_msg("guest kernel panicked first: %s", log_escape(esc, sizeof(esc), m->panic));
		return EXIT_GUEST_FAILED;
	}
}

static const char *stop_reason_name(enum vm_stop_reason r)
{
	static const char *const names[] = {
		[VM_RUNNING] = "running", [VM_STOP_RESET] = "reset", [VM_STOP_SHUTDOWN] = "triple-fault",
		[VM_STOP_ERROR] = "error", [VM_STOP_TIMEOUT] = "timeout", [VM_STOP_SIGNAL] = "signal",
		[VM_STOP_USER] = "console-quit",
	};

	return (unsigned)r < ARRAY_SIZE(names) ? names[r] : "unknown";
}

int vmm_main(int argc, char **argv)
{
	static struct monitor mon; /* large; and device callbacks point into it */
	struct monitor *m = &mon;
	char err[LOADER_ERRLEN], imgdir[PATH_MAX], kpath[PATH_MAX], ipath[PATH_MAX], jpath[PATH_MAX * 2];
	cleanup_free uint8_t *kernel = NULL;
	cleanup_free uint8_t *initrd = NULL;
	cleanup_free char *cmdline = NULL;
	size_t kernel_len = 0, initrd_len = 0;
	struct vmm_config cfg;
	struct kernel_info ki;
	struct boot_result br;
	bool emulated;
	long pages, pagesize;
	int sfd = -1, tfd = -1, rc;

	if (cli_parse(argc, argv, &cfg, err, sizeof(err))) {
		log_msg("%s", err);
		return EXIT_USAGE;
	}
	if (cfg.action == CLI_RUN && cfg.config) {
		/* Options from the file, under those of the command line (config_text lives until exit). */
		static char *config_text;
		const char *path = cfg.config;
		uint8_t *buf;
		size_t len;

		rc = read_file(path, CLI_MAX_CONFIG, &buf, &len);
		if (rc == -EFBIG) {
			log_msg("--config %s: larger than %d KiB", path, CLI_MAX_CONFIG / 1024);
			return EXIT_USAGE;
		}
		if (rc) {
			log_errno(rc, "--config %s", path);
			return EXIT_USAGE;
		}
		config_text = calloc(1, len + 1);
		if (!config_text || memchr(buf, '\0', len)) {
			free(buf);
			log_msg("--config %s: %s", path, config_text ? "not a text file" : "out of memory");
			return EXIT_USAGE;
		}
		memcpy(config_text, buf, len);
		free(buf);
		if (cli_parse_with_config(config_text, path, argc, argv, &cfg, err, sizeof(err))) {
			log_msg("%s", err);
			return EXIT_USAGE;
		}
	}
	if (cfg.action == CLI_HELP) {
		cli_print_help(stdout);
		return 0;
	}
	if (cfg.action == CLI_VERSION) {
		printf("vmm (aperture) %s\n", APERTURE_VERSION);
		return 0;
	}
	log_set_verbose(cfg.verbose);
	if (cfg.events) {
		rc = events_open(cfg.events);
		if (rc) {
			log_errno(rc, "--events %s", cfg.events);
			return EXIT_USAGE;
		}
	}
	events_emit("monitor-start", "\"version\":\"%s\",\"schema\":%d,\"pid\":%d", APERTURE_VERSION,
		    EVENTS_SCHEMA_VERSION, (int)getpid());

	/* Files first: a bad one is the user's to fix, before any VM exists. */
	images_dir(imgdir, sizeof(imgdir));
	if (!fmt_path(kpath, sizeof(kpath), "%s%s", cfg.kernel ? cfg.kernel : imgdir,
		      cfg.kernel ? "" : "/vmlinux")) {
		log_msg("--kernel: path too long");
		return EXIT_USAGE;
	}
	if (load_user_file("--kernel", kpath, MAX_KERNEL_SIZE, &kernel, &kernel_len)) {
		if (!cfg.kernel)
			log_msg("no --kernel given and no built image: run 'make images' first");
		return EXIT_USAGE;
	}
	if (loader_parse_kernel(kernel, kernel_len, &ki, err, sizeof(err))) {
		log_msg("--kernel %s: %s", kpath, err);
		return EXIT_USAGE;
	}
	ipath[0] = '\0';
	if (cfg.initrd) {
		if (strcmp(cfg.initrd, "none") != 0 && !fmt_path(ipath, sizeof(ipath), "%s", cfg.initrd)) {
			log_msg("--initrd: path too long");
			return EXIT_USAGE;
		}
	} else {
		/* initramfs.cpio beside the kernel, else the built one. */
		const char *slash = strrchr(kpath, '/');
		int dl = slash ? (int)(slash - kpath) : 1;

		if (!fmt_path(ipath, sizeof(ipath), "%.*s/initramfs.cpio", dl, slash ? kpath : ".") ||
		    access(ipath, R_OK) != 0)
			if (!fmt_path(ipath, sizeof(ipath), "%s/initramfs.cpio", imgdir) || access(ipath, R_OK) != 0)
				ipath[0] = '\0';
	}
	if (ipath[0] && load_user_file("--initrd", ipath, MAX_INITRD_SIZE, &initrd, &initrd_len))
		return EXIT_USAGE;
	if (cfg.vsock_uds) {
		struct stat st;

		if (lstat(cfg.vsock_uds, &st) == 0 && !S_ISSOCK(st.st_mode)) {
			log_msg("--vsock-uds %s: exists and is not a socket (refusing to replace it)", cfg.vsock_uds);
			return EXIT_USAGE;
		}
	}
	for (unsigned i = 0; i < cfg.nshares; i++) {
		struct stat st;

		if (cfg.share[i].external) {
			if (stat(cfg.share[i].path, &st) != 0) {
				log_msg("--vhost-user-fs %s: %s (start the back end first)", cfg.share[i].path,
					strerror(errno));
				return EXIT_USAGE;
			}
			if (!S_ISSOCK(st.st_mode)) {
				log_msg("--vhost-user-fs %s: not a socket", cfg.share[i].path);
				return EXIT_USAGE;
			}
			continue;
		}
		if (stat(cfg.share[i].path, &st) != 0) {
			log_msg("--share %s: %s", cfg.share[i].path, strerror(errno));
			return EXIT_USAGE;
		}
		if (!S_ISDIR(st.st_mode)) {
			log_msg("--share %s: not a directory", cfg.share[i].path);
			return EXIT_USAGE;
		}
		if (access(cfg.share[i].path, R_OK | X_OK) != 0) {
			log_msg("--share %s: not readable (%s)", cfg.share[i].path, strerror(errno));
			return EXIT_USAGE;
		}
	}
	pages = sysconf(_SC_PHYS_PAGES);
	pagesize = sysconf(_SC_PAGESIZE);
	if (pages > 0 && pagesize > 0 && cfg.memory > (uint64_t)pages * (uint64_t)pagesize) {
		log_msg("--memory: %llu MiB is more than this host has (%llu MiB)",
			(unsigned long long)(cfg.memory >> 20),
			(unsigned long long)(((uint64_t)pages * (uint64_t)pagesize) >> 20));
		return EXIT_USAGE;
	}

	if (cfg.nshares) {
		/*
		 * virtio-fs holds one O_PATH descriptor per inode the guest
		 * holds (a directory listing with READDIRPLUS is thousands):
		 * raise the soft descriptor limit to the hard one.
		 */
		struct rlimit rl;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
				log_errno(errno, "raising the open-file limit for --share");
		}
	}
	/* The NIC's back end last: passt is a process, started only once all else is checked. */
	rc = netcfg_open(&cfg.net, &m->nic, err, sizeof(err));
	if (rc) {
		log_msg("%s", err);
		return rc == -ENOMEM || rc == -EMFILE || rc == -EAGAIN ? EXIT_HOST_ERROR : EXIT_USAGE;
	}
	emulated = host_emulates_cpl0();

	if (vm_create(&m->vm, cfg.memory, cfg.cpus, cfg.cpu_template)) {
		vm_destroy(&m->vm);
		netcfg_close(&m->nic);
		return EXIT_HOST_ERROR;
	}
	rc = EXIT_HOST_ERROR;
	m->rx_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	cmdline = malloc(CMDLINE_BUF);
	if (m->rx_efd < 0 || !cmdline)
		goto out;
	if (cmdline_build(cmdline, CMDLINE_BUF, &cfg, emulated, vm_tsc_khz(&m->vm))) {
		log_msg("kernel command line too long (--exec or --cmdline)");
		rc = EXIT_USAGE;
		goto out;
	}
	log_debug("kernel command line: %s", cmdline);
	{
		struct boot_spec spec = {
			.kernel = kernel, .kernel_len = kernel_len, .ki = &ki,
			.initrd = initrd, .initrd_len = initrd_len, .cmdline = cmdline, .ncpus = cfg.cpus,
		};
		int lerr = loader_place(&m->vm.mem, &spec, &br, err, sizeof(err));

		if (lerr) {
			log_msg("%s", err);
			rc = (lerr == -ENOMEM || lerr == -E2BIG) ? EXIT_USAGE : EXIT_HOST_ERROR;
			goto out;
		}
	}
	events_json_string(jpath, sizeof(jpath), kpath);
	events_emit("kernel-loaded", "\"kernel\":%s,\"format\":\"%s\",\"entry\":\"0x%llx\",\"initrd_bytes\":%zu",
		    jpath, ki.kind == KERNEL_ELF ? "elf" : "bzimage", (unsigned long long)br.entry, initrd_len);
	if (wire_devices(m, &cfg) || vm_setup_boot_cpu(&m->vm, br.entry, br.zero_page))
		goto out;
	if (setup_signals(cfg.timeout_s, &sfd, &tfd)) {
		log_errno(errno, "signal and timer setup");
		goto out;
	}
	if (emulated)
		log_msg("host KVM emulates guest kernel mode (kvm_pvm): adding guest workarounds "
			"(docs/workarounds.md)");
	m->raw_tty = term_raw();
	if (vm_start(&m->vm) == 0)
		events_emit("vcpus-started", "\"cpus\":%u", cfg.cpus);
	main_loop(m, sfd, tfd);
	vm_join(&m->vm);
	term_restore();
	rc = final_status(m, &cfg);
	devmgr_report(&m->dm);
	log_report_suppressed();
	events_emit("exit", "\"status\":%d,\"reason\":\"%s\"", rc, stop_reason_name(vm_stop_reason(&m->vm)));
out:
	term_restore();
	if (sfd >= 0)
		close(sfd);
	if (tfd >= 0)
		close(tfd);
	if (m->rx_efd > 0)
		close(m->rx_efd);
	devmgr_destroy(&m->dm);
	netcfg_close(&m->nic); /* after the NIC's threads stopped */
	vm_destroy(&m->vm);
	events_close();
	return rc;
}
