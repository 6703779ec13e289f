/* SPDX-License-Identifier: MIT */
/* vmm/cli.c, parse_size/parse_uint (lib/util.c), cmdline_build (vmm/cmdline.c). */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "tests/unit/suites.h"
#include "vmm/cli.h"
#include "vmm/cmdline.h"
#include "lib/protocol.h"
#include "lib/util.h"

#define MAX_ARGS 32

static char err[256];

/* cli_parse() on "vmm" followed by the NULL-terminated arguments. */
static int parse(struct vmm_config *cfg, ...)
{
	char *argv[MAX_ARGS + 1];
	int argc = 0;
	const char *a;
	va_list ap;

	argv[argc++] = (char *)"vmm";
	va_start(ap, cfg);
	while ((a = va_arg(ap, const char *)) != NULL) {
		ck_assert_int_lt(argc, MAX_ARGS);
		argv[argc++] = (char *)a;
	}
	va_end(ap);
	argv[argc] = NULL;
	memset(err, 0, sizeof(err));
	return cli_parse(argc, argv, cfg, err, sizeof(err));
}

static void expect_ok(int rc)
{
	ck_assert_msg(rc == 0, "cli_parse failed: %s", err);
}

static void expect_bad(int rc, const char *needle)
{
	ck_assert_int_eq(rc, -1);
	ck_assert_msg(err[0] != '\0', "empty error text");
	ck_assert_ptr_null(strchr(err, '\n'));
	if (needle)
		ck_assert_msg(strstr(err, needle), "error '%s' does not mention '%s'", err, needle);
}

START_TEST(cli_defaults)
{
	struct vmm_config cfg;

	memset(&cfg, 0x5A, sizeof(cfg));
	expect_ok(parse(&cfg, NULL));
	ck_assert_int_eq(cfg.action, CLI_RUN);
	ck_assert_ptr_null(cfg.kernel);
	ck_assert_ptr_null(cfg.initrd);
	ck_assert_ptr_null(cfg.cmdline);
	ck_assert_ptr_null(cfg.exec);
	ck_assert_ptr_null(cfg.events);
	ck_assert_uint_eq(cfg.cpus, 1);
	ck_assert_uint_eq(cfg.memory, 512ULL << 20);
	ck_assert_int_eq(cfg.cpu_template, CPU_TEMPLATE_HOST);
	ck_assert_uint_eq(cfg.timeout_s, 0);
	ck_assert(!cfg.verbose);
}
END_TEST

START_TEST(cli_all_options)
{
	struct vmm_config cfg;

	expect_ok(parse(&cfg, "--kernel", "/k/bzImage", "--initrd", "none", "--cmdline", "a=1 b",
			"--cpus", "4", "--memory", "2G", "--cpu-template", "baseline", "--exec", "echo hi; exit 3",
			"--events", "/tmp/ev.json", "--timeout", "30", "--verbose", NULL));
	ck_assert_int_eq(cfg.action, CLI_RUN);
	ck_assert_str_eq(cfg.kernel, "/k/bzImage");
	ck_assert_str_eq(cfg.initrd, "none");
	ck_assert_str_eq(cfg.cmdline, "a=1 b");
	ck_assert_uint_eq(cfg.cpus, 4);
	ck_assert_uint_eq(cfg.memory, 2ULL << 30);
	ck_assert_int_eq(cfg.cpu_template, CPU_TEMPLATE_BASELINE);
	ck_assert_str_eq(cfg.exec, "echo hi; exit 3");
	ck_assert_str_eq(cfg.events, "/tmp/ev.json");
	ck_assert_uint_eq(cfg.timeout_s, 30);
	ck_assert(cfg.verbose);
}
END_TEST

START_TEST(cli_equals_form_and_limits)
{
	struct vmm_config cfg;

	expect_ok(parse(&cfg, "--cpus=64", "--memory=1T", "--timeout=86400", "--cpu-template=host", NULL));
	ck_assert_uint_eq(cfg.cpus, 64);
	ck_assert_uint_eq(cfg.memory, 1ULL << 40);
	ck_assert_uint_eq(cfg.timeout_s, 86400);
	ck_assert_int_eq(cfg.cpu_template, CPU_TEMPLATE_HOST);
	expect_ok(parse(&cfg, "--cpus", "1", "--memory", "64M", "--timeout", "1", NULL));
	ck_assert_uint_eq(cfg.cpus, 1);
	ck_assert_uint_eq(cfg.memory, 64ULL << 20);
	ck_assert_uint_eq(cfg.timeout_s, 1);
	expect_ok(parse(&cfg, "--memory", "514M", NULL));
	ck_assert_uint_eq(cfg.memory, 514ULL << 20);
	/* Empty --cmdline and --exec are accepted as given. */
	expect_ok(parse(&cfg, "--cmdline", "", "--exec", "", NULL));
	ck_assert_str_eq(cfg.cmdline, "");
	ck_assert_str_eq(cfg.exec, "");
}
END_TEST

START_TEST(cli_bad_cpus)
{
	struct vmm_config cfg;

	expect_bad(parse(&cfg, "--cpus", "0", NULL), "--cpus");
	expect_bad(parse(&cfg, "--cpus", "65", NULL), "'65'");
	expect_bad(parse(&cfg, "--cpus", "abc", NULL), "'abc'");
	expect_bad(parse(&cfg, "--cpus", "", NULL), "--cpus");
	expect_bad(parse(&cfg, "--cpus", "-1", NULL), "--cpus");
	expect_bad(parse(&cfg, "--cpus", "4x", NULL), "--cpus");
	expect_bad(parse(&cfg, "--cpus", "99999999999999999999999", NULL), "--cpus");
}
END_TEST

START_TEST(cli_bad_memory)
{
	struct vmm_config cfg;

	expect_bad(parse(&cfg, "--memory", "12X", NULL), "not a size");
	expect_bad(parse(&cfg, "--memory", "1M", NULL), "out of range");
	expect_bad(parse(&cfg, "--memory", "62M", NULL), "out of range");
	expect_bad(parse(&cfg, "--memory", "513M", NULL), "2 MiB");
	expect_bad(parse(&cfg, "--memory", "2T", NULL), "out of range");
	expect_bad(parse(&cfg, "--memory", "", NULL), "--memory");
	expect_bad(parse(&cfg, "--memory", "99999999999999999999G", NULL), "--memory");
	expect_bad(parse(&cfg, "--memory", "G", NULL), "--memory");
}
END_TEST

START_TEST(cli_bad_other_values)
{
	struct vmm_config cfg;

	expect_bad(parse(&cfg, "--cpu-template", "fast", NULL), "'fast'");
	expect_bad(parse(&cfg, "--timeout", "0", NULL), "--timeout");
	expect_bad(parse(&cfg, "--timeout", "86401", NULL), "--timeout");
	expect_bad(parse(&cfg, "--kernel", "", NULL), "--kernel");
	expect_bad(parse(&cfg, "--initrd", "", NULL), "--initrd");
	expect_bad(parse(&cfg, "--events", "", NULL), "--events");
}
END_TEST

START_TEST(cli_unknown_option)
{
	struct vmm_config cfg;

	expect_bad(parse(&cfg, "--bogus", NULL), "unknown option");
	ck_assert_ptr_nonnull(strstr(err, "--bogus"));
	expect_bad(parse(&cfg, "--cpus", "2", "--frobnicate=3", NULL), "unknown option");
	ck_assert_ptr_nonnull(strstr(err, "--frobnicate"));
}
END_TEST

/* "--verbose=yes": a flag given a value is refused as such. */
START_TEST(cli_flag_with_value)
{
	struct vmm_config cfg;

	expect_bad(parse(&cfg, "--verbose=yes", NULL), "--verbose");
	ck_assert_ptr_nonnull(strstr(err, "takes no value"));
	ck_assert_msg(!strstr(err, "needs a value"), "error '%s' for a flag given a value", err);
}
END_TEST

/* An unknown short option is named as unknown, not as missing a value. */
START_TEST(cli_unknown_short_option)
{
	struct vmm_config cfg;

	expect_bad(parse(&cfg, "-x", NULL), "unknown option");
	ck_assert_ptr_nonnull(strstr(err, "'-x'"));
}
END_TEST

/* "-xy": the error names the bad option, not argv[0]. */
START_TEST(cli_unknown_short_cluster)
{
	struct vmm_config cfg;

	expect_bad(parse(&cfg, "-xy", NULL), NULL);
	ck_assert_msg(strstr(err, "-xy") || strstr(err, "-x"), "error '%s' does not name the bad argument", err);
}
END_TEST

START_TEST(cli_missing_value)
{
	struct vmm_config cfg;

	expect_bad(parse(&cfg, "--cpus", NULL), "needs a value");
	ck_assert_ptr_nonnull(strstr(err, "--cpus"));
	expect_bad(parse(&cfg, "--verbose", "--kernel", NULL), "needs a value");
	ck_assert_ptr_nonnull(strstr(err, "--kernel"));
}
END_TEST

START_TEST(cli_duplicate)
{
	struct vmm_config cfg;

	expect_bad(parse(&cfg, "--cpus", "2", "--cpus", "3", NULL), "twice");
	ck_assert_ptr_nonnull(strstr(err, "--cpus"));
	expect_bad(parse(&cfg, "--kernel", "a", "--memory", "1G", "--kernel", "b", NULL), "--kernel");
	expect_bad(parse(&cfg, "--exec", "a", "--exec=b", NULL), "--exec");
	expect_bad(parse(&cfg, "--timeout", "1", "--timeout", "1", NULL), "twice");
	/* --verbose may repeat. */
	expect_ok(parse(&cfg, "--verbose", "--verbose", NULL));
	ck_assert(cfg.verbose);
}
END_TEST

START_TEST(cli_help_version)
{
	struct vmm_config cfg;

	expect_ok(parse(&cfg, "--help", NULL));
	ck_assert_int_eq(cfg.action, CLI_HELP);
	expect_ok(parse(&cfg, "--version", NULL));
	ck_assert_int_eq(cfg.action, CLI_VERSION);
	expect_ok(parse(&cfg, "--cpus", "2", "--help", NULL));
	ck_assert_int_eq(cfg.action, CLI_HELP);
	expect_ok(parse(&cfg, NULL));
	ck_assert_int_eq(cfg.action, CLI_RUN);
	{
		char *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);

		cli_print_help(f);
		fclose(f);
		/* Every option of the table is in the help, with its value's name. */
		for (unsigned i = 0; i < cli_noptions; i++) {
			char want[64];

			snprintf(want, sizeof(want), "--%s%s%s", cli_options[i].name, cli_options[i].arg ? " " : "",
				 cli_options[i].arg ? cli_options[i].arg : "");
			ck_assert_msg(strstr(text, want), "--help lacks '%s'", want);
		}
		for (unsigned i = 0; i < cli_nexit_codes; i++)
			ck_assert(strstr(text, cli_exit_codes[i].status));
		free(text);
	}
}
END_TEST

START_TEST(cli_positional)
{
	struct vmm_config cfg;

	expect_bad(parse(&cfg, "bzImage", NULL), "unexpected argument");
	ck_assert_ptr_nonnull(strstr(err, "'bzImage'"));
	expect_bad(parse(&cfg, "--cpus", "2", "extra", NULL), "'extra'");
	expect_bad(parse(&cfg, "--", "--cpus", NULL), "unexpected argument");
}
END_TEST

/* parse() with a --config file text. */
static int parse_conf(struct vmm_config *cfg, const char *conf, ...)
{
	static char text[4096];
	char *argv[MAX_ARGS + 1];
	int argc = 0;
	const char *a;
	va_list ap;

	snprintf(text, sizeof(text), "%s", conf);
	argv[argc++] = (char *)"vmm";
	va_start(ap, conf);
	while ((a = va_arg(ap, const char *)) != NULL)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	memset(err, 0, sizeof(err));
	return cli_parse_with_config(text, "vm.conf", argc, argv, cfg, err, sizeof(err));
}

START_TEST(cli_config_file)
{
	struct vmm_config cfg;

	expect_ok(parse_conf(&cfg, "# a VM\n\ncpus = 2\n  memory=1G  \r\nverbose\nrequire-aperture = true\n"
				   "share = \"src=/tmp\"\nshare = /srv\n--dma = shared\nexec = \" echo hi \"\n", NULL));
	ck_assert_uint_eq(cfg.cpus, 2);
	ck_assert_uint_eq(cfg.memory, 1ULL << 30);
	ck_assert(cfg.verbose);
	ck_assert(cfg.require_aperture);
	ck_assert_int_eq(cfg.dma, DMA_SHARED);
	ck_assert_uint_eq(cfg.nshares, 2);
	ck_assert_str_eq(cfg.share[0].tag, "src");
	ck_assert_str_eq(cfg.share[1].path, "/srv");
	ck_assert_str_eq(cfg.exec, " echo hi ");
	/* The command line wins; a repeatable option's list is replaced, not merged. */
	expect_ok(parse_conf(&cfg, "cpus = 2\nshare = a=/tmp\nshare = b=/tmp\n", "--cpus", "4", "--share", "c=/srv",
			     NULL));
	ck_assert_uint_eq(cfg.cpus, 4);
	ck_assert_uint_eq(cfg.nshares, 1);
	ck_assert_str_eq(cfg.share[0].tag, "c");
	/* Errors name the file and line. */
	expect_bad(parse_conf(&cfg, "cpus = 2\nfrobnicate = 1\n", NULL), "vm.conf:2: unknown option 'frobnicate'");
	expect_bad(parse_conf(&cfg, "cpus = 2\ncpus = 3\n", NULL), "vm.conf:2: 'cpus' given twice");
	expect_bad(parse_conf(&cfg, "cpus\n", NULL), "needs a value");
	expect_bad(parse_conf(&cfg, "verbose = no\n", NULL), "is a flag");
	expect_bad(parse_conf(&cfg, "config = /etc/x\n", NULL), "cannot be set in a config file");
	expect_bad(parse_conf(&cfg, "help\n", NULL), "cannot be set");
	expect_bad(parse_conf(&cfg, "exec = \"unterminated\n", NULL), "unterminated");
	expect_bad(parse_conf(&cfg, "cpus = 99\n", NULL), "vm.conf: --cpus: '99'");
	expect_bad(parse_conf(&cfg, "cpus = 2\x1b[2J\n", NULL), "control character");
	/* A bad value in the file does not matter when the command line replaces it. */
	expect_ok(parse_conf(&cfg, "cpus = 99\n", "--cpus", "3", NULL));
	ck_assert_uint_eq(cfg.cpus, 3);
	/* --help on the command line wins over a broken file. */
	expect_ok(parse_conf(&cfg, "frobnicate\n", "--help", NULL));
	ck_assert_int_eq(cfg.action, CLI_HELP);
}
END_TEST

START_TEST(cli_reparse_resets_state)
{
	struct vmm_config cfg;

	expect_bad(parse(&cfg, "--cpus", "2", "--cpus", "3", NULL), "twice");
	expect_ok(parse(&cfg, "--cpus", "3", NULL));
	ck_assert_uint_eq(cfg.cpus, 3);
	expect_bad(parse(&cfg, "--bogus", NULL), "unknown");
	expect_ok(parse(&cfg, "--memory", "128M", NULL));
	ck_assert_uint_eq(cfg.memory, 128ULL << 20);
	ck_assert_uint_eq(cfg.cpus, 1);
}
END_TEST

/* ---- parse_size / parse_uint ---- */

START_TEST(size_valid)
{
	static const struct { const char *s; uint64_t v; } ok[] = {
		{ "0", 0 },
		{ "4096", 4096 },
		{ "1K", 1024 },
		{ "64KiB", 64 * 1024 },
		{ "64kb", 64 * 1024 },
		{ "512M", 512ULL << 20 },
		{ "512m", 512ULL << 20 },
		{ "512MB", 512ULL << 20 },
		{ "512MiB", 512ULL << 20 },
		{ "2G", 2ULL << 30 },
		{ "1T", 1ULL << 40 },
		{ "16777215T", 16777215ULL << 40 },
		{ "18446744073709551615", UINT64_MAX },
		{ "17179869183G", 17179869183ULL << 30 },
	};

	for (unsigned i = 0; i < ARRAY_SIZE(ok); i++) {
		uint64_t v = 12345;
		int rc = parse_size(ok[i].s, &v);

		ck_assert_msg(rc == 0, "parse_size(\"%s\") = %d", ok[i].s, rc);
		ck_assert_msg(v == ok[i].v, "parse_size(\"%s\") = %llu, want %llu", ok[i].s,
			      (unsigned long long)v, (unsigned long long)ok[i].v);
	}
}
END_TEST

START_TEST(size_invalid)
{
	static const char *const bad[] = { "", "M", "-1", " 1", "1 ", "12X", "1MM", "1MiBx", "1.5G", "0x10", "1KX" };

	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		uint64_t v = 777;
		int rc = parse_size(bad[i], &v);

		ck_assert_msg(rc == -EINVAL, "parse_size(\"%s\") = %d, want -EINVAL", bad[i], rc);
		ck_assert_uint_eq(v, 777);
	}
	{
		uint64_t v = 777;

		ck_assert_int_eq(parse_size(NULL, &v), -EINVAL);
	}
}
END_TEST

START_TEST(size_overflow)
{
	static const char *const big[] = {
		"18446744073709551616", "99999999999999999999999", "16777216T", "17179869184G", "18014398509481984K",
	};

	for (unsigned i = 0; i < ARRAY_SIZE(big); i++) {
		uint64_t v = 777;
		int rc = parse_size(big[i], &v);

		ck_assert_msg(rc == -ERANGE, "parse_size(\"%s\") = %d, want -ERANGE", big[i], rc);
		ck_assert_uint_eq(v, 777);
	}
}
END_TEST

START_TEST(uint_cases)
{
	uint64_t v = 0;

	ck_assert_int_eq(parse_uint("42", 0, 100, &v), 0);
	ck_assert_uint_eq(v, 42);
	ck_assert_int_eq(parse_uint("0", 0, 0, &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(parse_uint("007", 1, 10, &v), 0);
	ck_assert_uint_eq(v, 7);
	ck_assert_int_eq(parse_uint("18446744073709551615", 0, UINT64_MAX, &v), 0);
	ck_assert_uint_eq(v, UINT64_MAX);

	v = 5;
	ck_assert_int_eq(parse_uint("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
	ck_assert_int_eq(parse_uint("184467440737095516150", 0, UINT64_MAX, &v), -ERANGE);
	ck_assert_int_eq(parse_uint("101", 0, 100, &v), -ERANGE);
	ck_assert_int_eq(parse_uint("0", 1, 100, &v), -ERANGE);
	ck_assert_uint_eq(v, 5);

	ck_assert_int_eq(parse_uint("", 0, 100, &v), -EINVAL);
	ck_assert_int_eq(parse_uint(NULL, 0, 100, &v), -EINVAL);
	ck_assert_int_eq(parse_uint("+1", 0, 100, &v), -EINVAL);
	ck_assert_int_eq(parse_uint("-1", 0, 100, &v), -EINVAL);
	ck_assert_int_eq(parse_uint("1a", 0, 100, &v), -EINVAL);
	ck_assert_int_eq(parse_uint(" 1", 0, 100, &v), -EINVAL);
	ck_assert_int_eq(parse_uint("1M", 0, UINT64_MAX, &v), -EINVAL);
	ck_assert_uint_eq(v, 5);
}
END_TEST

/* ---- cmdline_build ---- */

/* Is `tok` one whole space-separated word of s? */
static bool has_token(const char *s, const char *tok)
{
	size_t n = strlen(tok);

	for (const char *p = s; (p = strstr(p, tok)) != NULL; p++)
		if ((p == s || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
	return false;
}

START_TEST(cmdline_default)
{
	struct vmm_config cfg;
	char buf[1024];

	memset(&cfg, 0, sizeof(cfg));
	ck_assert_int_eq(cmdline_build(buf, sizeof(buf), &cfg, 0, 3000000), 0);
	ck_assert(has_token(buf, "console=ttyS0"));
	ck_assert(has_token(buf, "quiet"));
	ck_assert(!has_token(buf, "emulated_cpl0"));
	ck_assert_ptr_null(strstr(buf, "lpj="));
	ck_assert_ptr_null(strstr(buf, "aperture.exec="));
	ck_assert_uint_ne(buf[0], ' ');
	ck_assert_uint_ne(buf[strlen(buf) - 1], ' ');
	ck_assert_ptr_null(strstr(buf, "  "));
}
END_TEST

START_TEST(cmdline_verbose)
{
	struct vmm_config cfg;
	char buf[1024];

	memset(&cfg, 0, sizeof(cfg));
	cfg.verbose = true;
	ck_assert_int_eq(cmdline_build(buf, sizeof(buf), &cfg, 0, 0), 0);
	ck_assert(has_token(buf, "console=ttyS0"));
	ck_assert(!has_token(buf, "quiet"));
}
END_TEST

START_TEST(cmdline_emulated)
{
	struct vmm_config cfg;
	char buf[1024];

	memset(&cfg, 0, sizeof(cfg));
	ck_assert_int_eq(cmdline_build(buf, sizeof(buf), &cfg, 1, 3000000), 0);
	ck_assert(has_token(buf, "emulated_cpl0"));
	ck_assert(has_token(buf, "lpj=12000000")); /* 3 GHz / HZ 250 */
	/* User code kept off AVX, whose state the kernel cannot save there. */
	ck_assert_ptr_nonnull(strstr(buf, " GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX,-AVX2,-AVX512F,"));
	ck_assert(has_token(buf, "console=ttyS0"));
	ck_assert_int_eq(cmdline_build(buf, sizeof(buf), &cfg, 1, 2593907), 0);
	ck_assert(has_token(buf, "lpj=10375628"));
	/* Unknown TSC frequency: no lpj. */
	ck_assert_int_eq(cmdline_build(buf, sizeof(buf), &cfg, 1, 0), 0);
	ck_assert(has_token(buf, "emulated_cpl0"));
	ck_assert_ptr_null(strstr(buf, "lpj="));
}
END_TEST

/* --exec goes over the init channel: only a marker on the command line, never the command. */
START_TEST(cmdline_exec_via_channel)
{
	static const char *const cmds[] = {
		"echo hello; exit 3", "a", "sh -c 'x=\"1 2\"; echo $x' && ls /proc | wc -l",
	};
	struct vmm_config cfg;
	char buf[2048];

	for (unsigned i = 0; i < ARRAY_SIZE(cmds); i++) {
		memset(&cfg, 0, sizeof(cfg));
		cfg.exec = cmds[i];
		ck_assert_int_eq(cmdline_build(buf, sizeof(buf), &cfg, 0, 0), 0);
		ck_assert(has_token(buf, "aperture.exec=channel"));
		if (strlen(cmds[i]) > 2)
			ck_assert_ptr_null(strstr(buf, cmds[i]));
	}
	/* A command far beyond the kernel's 2 KiB command line is fine. */
	{
		static char big[INITCHAN_MAX_EXEC + 2];
		struct vmm_config c2;
		char *argv[] = { (char *)"vmm", (char *)"--exec", big, NULL };

		memset(big, 'x', INITCHAN_MAX_EXEC);
		ck_assert_int_eq(cli_parse(3, argv, &c2, err, sizeof(err)), 0);
		ck_assert_int_eq(cmdline_build(buf, sizeof(buf), &c2, 1, 3000000), 0);
		ck_assert_uint_lt(strlen(buf), 1024);
		big[INITCHAN_MAX_EXEC] = 'x';
		expect_bad(cli_parse(3, argv, &c2, err, sizeof(err)), "at most 32768");
	}
}
END_TEST

START_TEST(cmdline_user_last)
{
	struct vmm_config cfg;
	char buf[1024];
	const char *user = "init_on_free=1 foo=bar";
	size_t bl, ul = strlen(user);

	memset(&cfg, 0, sizeof(cfg));
	cfg.cmdline = user;
	cfg.exec = "true";
	ck_assert_int_eq(cmdline_build(buf, sizeof(buf), &cfg, 1, 1000000), 0);
	bl = strlen(buf);
	ck_assert_uint_gt(bl, ul);
	ck_assert_str_eq(buf + bl - ul, user);
	ck_assert_uint_eq(buf[bl - ul - 1], ' ');
	ck_assert(has_token(buf, "aperture.exec=channel"));
	ck_assert(has_token(buf, "quiet"));
	ck_assert(has_token(buf, "emulated_cpl0"));
	ck_assert(strstr(buf, "aperture.exec=") < strstr(buf, user));
	ck_assert(strstr(buf, "console=ttyS0") < strstr(buf, "aperture.exec="));
	/* An empty user command line adds nothing. */
	cfg.cmdline = "";
	ck_assert_int_eq(cmdline_build(buf, sizeof(buf), &cfg, 0, 0), 0);
	ck_assert_uint_ne(buf[strlen(buf) - 1], ' ');
}
END_TEST

START_TEST(cmdline_e2big)
{
	struct vmm_config cfg;
	char buf[1024], small[1024];
	size_t need;

	memset(&cfg, 0, sizeof(cfg));
	cfg.exec = "echo something fairly long to make the line longer";
	cfg.cmdline = "loglevel=8";
	ck_assert_int_eq(cmdline_build(buf, sizeof(buf), &cfg, 1, 3000000), 0);
	need = strlen(buf) + 1;
	/* Exactly enough space works and gives the same string. */
	ck_assert_int_eq(cmdline_build(small, need, &cfg, 1, 3000000), 0);
	ck_assert_str_eq(small, buf);
	ck_assert_int_eq(cmdline_build(small, need - 1, &cfg, 1, 3000000), -E2BIG);
	ck_assert_int_eq(cmdline_build(small, 10, &cfg, 0, 0), -E2BIG);
	ck_assert_int_eq(cmdline_build(small, 1, &cfg, 0, 0), -E2BIG);
	ck_assert_int_eq(cmdline_build(small, 0, &cfg, 0, 0), -E2BIG);
	/* Too small for the exec token alone. */
	cfg.cmdline = NULL;
	memset(&cfg, 0, sizeof(cfg));
	cfg.exec = "x";
	ck_assert_int_eq(cmdline_build(buf, sizeof(buf), &cfg, 0, 0), 0);
	need = strlen(buf) + 1;
	ck_assert_int_eq(cmdline_build(small, need - 2, &cfg, 0, 0), -E2BIG);
	/* And the user part. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.cmdline = "abc";
	ck_assert_int_eq(cmdline_build(buf, sizeof(buf), &cfg, 0, 0), 0);
	need = strlen(buf) + 1;
	ck_assert_int_eq(cmdline_build(small, need, &cfg, 0, 0), 0);
	ck_assert_int_eq(cmdline_build(small, need - 1, &cfg, 0, 0), -E2BIG);
}
END_TEST

START_TEST(cli_dma_swiotlb)
{
	struct vmm_config cfg;

	expect_ok(parse(&cfg, NULL));
	ck_assert_int_eq(cfg.dma, DMA_APERTURE);
	ck_assert_uint_eq(cfg.swiotlb, 64ULL << 20);
	ck_assert(!cfg.require_aperture);
	expect_ok(parse(&cfg, "--dma", "shared", "--swiotlb", "32M", "--require-aperture", NULL));
	ck_assert_int_eq(cfg.dma, DMA_SHARED);
	ck_assert_uint_eq(cfg.swiotlb, 32ULL << 20);
	ck_assert(cfg.require_aperture);
	expect_ok(parse(&cfg, "--dma", "direct", NULL));
	ck_assert_uint_eq(cfg.swiotlb, 0);
	/* A small guest gets a smaller default pool, never less than its devices need. */
	expect_ok(parse(&cfg, "--memory", "64M", "--net", "none", NULL));
	ck_assert_uint_eq(cfg.swiotlb, 16ULL << 20);
	/* The default NIC: virtio-rng 2 + virtio-net 18 MiB. */
	expect_ok(parse(&cfg, "--memory", "64M", NULL));
	ck_assert_uint_eq(cfg.swiotlb, 20ULL << 20);
	expect_bad(parse(&cfg, "--dma", "iommu", NULL), "aperture, shared, direct");
	expect_bad(parse(&cfg, "--swiotlb", "0x8000000,64M", NULL), "not a size");
	expect_bad(parse(&cfg, "--swiotlb", "3M", NULL), "multiple of 2 MiB");
	expect_bad(parse(&cfg, "--swiotlb", "1G", NULL), "out of range");
	expect_bad(parse(&cfg, "--swiotlb", "", NULL), "not a size");
	expect_bad(parse(&cfg, "--swiotlb", "64M", "--dma", "direct", NULL), "--dma direct");
	expect_bad(parse(&cfg, "--require-aperture", "--dma", "direct", NULL), "--dma direct");
	expect_bad(parse(&cfg, "--memory", "64M", "--swiotlb", "64M", NULL), "more than half");
	/* 2 MiB is not enough for virtio-rng and a share. */
	expect_bad(parse(&cfg, "--swiotlb", "2M", "--share", "/tmp", "--net", "none", NULL), "need 18 MiB");
	expect_bad(parse(&cfg, "--swiotlb", "16M", "--share", "/tmp", NULL), "need 36 MiB");
	expect_bad(parse(&cfg, "--swiotlb", "8M", "--swiotlb", "8M", NULL), "twice");
}
END_TEST

/* --share ...,ro,cache=,writeback,xattr,uidmap=,gidmap= and ",," for a comma in the path. */
START_TEST(cli_share_options)
{
	struct vmm_config cfg;

	expect_ok(parse(&cfg, "--share", "/srv", NULL));
	ck_assert(!cfg.share[0].opt.ro);
	ck_assert_int_eq(cfg.share[0].opt.cache, FUSE_CACHE_AUTO);
	ck_assert(!cfg.share[0].opt.writeback);
	ck_assert(!cfg.share[0].opt.xattr);
	ck_assert(!cfg.share[0].opt.devnodes);
	expect_ok(parse(&cfg, "--share", "src=/srv,ro,cache=always,xattr", "--share", "b=/tmp,cache=never,writeback",
			"--share", "/var,uidmap=1000:4000,gidmap=100:200:5", NULL));
	ck_assert_str_eq(cfg.share[0].tag, "src");
	ck_assert_str_eq(cfg.share[0].path, "/srv");
	ck_assert(cfg.share[0].opt.ro);
	ck_assert_int_eq(cfg.share[0].opt.cache, FUSE_CACHE_ALWAYS);
	ck_assert(cfg.share[0].opt.xattr);
	ck_assert_int_eq(cfg.share[1].opt.cache, FUSE_CACHE_NEVER);
	ck_assert(cfg.share[1].opt.writeback);
	ck_assert_str_eq(cfg.share[2].path, "/var");
	ck_assert_uint_eq(cfg.share[2].opt.uidmap.guest, 1000);
	ck_assert_uint_eq(cfg.share[2].opt.uidmap.host, 4000);
	ck_assert_uint_eq(cfg.share[2].opt.uidmap.count, 1);
	ck_assert_uint_eq(cfg.share[2].opt.gidmap.count, 5);
	/* devnodes, and every option through the text an isolated back end gets. */
	expect_ok(parse(&cfg, "--share", "/srv,devnodes,xattr,writeback,cache=never,uidmap=1:2:3,gidmap=4:5", NULL));
	ck_assert(cfg.share[0].opt.devnodes);
	{
		struct fuse_options back;
		char text[256];

		ck_assert_int_eq(fuse_options_format(&cfg.share[0].opt, text, sizeof(text)), 0);
		ck_assert_str_eq(text, "cache=never,writeback,xattr,devnodes,uidmap=1:2:3,gidmap=4:5:1");
		ck_assert_int_eq(fuse_options_parse(text, &back), 0);
		ck_assert(back.devnodes && back.xattr && back.writeback && !back.ro);
		ck_assert_int_eq(back.cache, FUSE_CACHE_NEVER);
		ck_assert_uint_eq(back.uidmap.count, 3);
		ck_assert_uint_eq(back.gidmap.host, 5);
		ck_assert_int_eq(fuse_options_format(&cfg.share[0].opt, text, 20), -ENOSPC);
	}
	/* A comma in the path is written twice; options still follow. */
	expect_ok(parse(&cfg, "--share", "t=/a,,b,ro", NULL));
	ck_assert_str_eq(cfg.share[0].path, "/a,b");
	ck_assert(cfg.share[0].opt.ro);
	/* An '=' in an option is not a tag. */
	expect_ok(parse(&cfg, "--share", "/srv,cache=never", NULL));
	ck_assert_str_eq(cfg.share[0].tag, "share");
	ck_assert_str_eq(cfg.share[0].path, "/srv");
	expect_bad(parse(&cfg, "--share", "/srv,frob", NULL), "unknown option 'frob'");
	expect_bad(parse(&cfg, "--share", "/srv,cache=sometimes", NULL), "not one of auto, always, never");
	expect_bad(parse(&cfg, "--share", "/srv,", NULL), "empty option");
	expect_bad(parse(&cfg, "--share", "/srv,ro,writeback", NULL), "read-only");
	expect_bad(parse(&cfg, "--share", "/srv,uidmap=1000", NULL), "GUEST:HOST");
	expect_bad(parse(&cfg, "--share", "/srv,uidmap=a:b", NULL), "GUEST:HOST");
	expect_bad(parse(&cfg, "--share", "/srv,gidmap=1:2:0", NULL), "GUEST:HOST");
	expect_bad(parse(&cfg, "--share", "/srv,uidmap=4294967295:1", NULL), "GUEST:HOST");
	expect_bad(parse(&cfg, "--share", ",ro", NULL), "empty path");
}
END_TEST

START_TEST(cli_shares)
{
	struct vmm_config cfg;
	char longtag[64];

	expect_ok(parse(&cfg, "--share", "/srv", NULL));
	ck_assert_uint_eq(cfg.nshares, 1);
	ck_assert_str_eq(cfg.share[0].tag, "share");
	ck_assert_str_eq(cfg.share[0].path, "/srv");
	expect_ok(parse(&cfg, "--share", "/srv", "--share", "data=/var/x=y", "--share", "a.b-c_9=/", NULL));
	ck_assert_uint_eq(cfg.nshares, 3);
	ck_assert_str_eq(cfg.share[1].tag, "data");
	ck_assert_str_eq(cfg.share[1].path, "/var/x=y");
	ck_assert_str_eq(cfg.share[2].tag, "a.b-c_9");
	/* The pool grows with the shares: 2 + 3 * 16 MiB + 18 MiB for the default NIC. */
	ck_assert_uint_eq(cfg.swiotlb, 68ULL << 20);
	expect_ok(parse(&cfg, "--net", "none", "--share", "a=/", "--share", "b=/", "--share", "c=/", "--share", "d=/",
			NULL));
	ck_assert_uint_eq(cfg.swiotlb, 66ULL << 20);
	expect_bad(parse(&cfg, "--share", "/srv", "--share", "/tmp", NULL), "used twice");
	expect_bad(parse(&cfg, "--share", "x=/srv", "--share", "x=/tmp", NULL), "used twice");
	expect_bad(parse(&cfg, "--share", "=/srv", NULL), "empty tag");
	expect_bad(parse(&cfg, "--share", "x=", NULL), "empty path");
	expect_bad(parse(&cfg, "--share", "", NULL), "empty path");
	expect_bad(parse(&cfg, "--share", "a/b=/srv", NULL), "letters, digits");
	expect_bad(parse(&cfg, "--share", "..=/srv", NULL), "cannot be a tag");
	memset(longtag, 'a', 37);
	strcpy(longtag + 37, "=/srv");
	expect_bad(parse(&cfg, "--share", longtag, NULL), "longer than 36");
	longtag[36] = '=';
	strcpy(longtag + 37, "/srv");
	expect_ok(parse(&cfg, "--share", longtag, NULL));
	ck_assert_uint_eq(strlen(cfg.share[0].tag), 36);
	expect_bad(parse(&cfg, "--share", "1=/", "--share", "2=/", "--share", "3=/", "--share", "4=/", "--share",
			 "5=/", "--share", "6=/", "--share", "7=/", "--share", "8=/", "--share", "9=/", NULL),
		   "at most 8");
}
END_TEST

START_TEST(cmdline_swiotlb)
{
	struct vmm_config cfg;
	char buf[1024];

	expect_ok(parse(&cfg, "--swiotlb", "32M", NULL));
	ck_assert_int_eq(cmdline_build(buf, sizeof(buf), &cfg, 0, 0), 0);
	ck_assert(has_token(buf, "virtio_swiotlb=32M"));
	expect_ok(parse(&cfg, "--dma", "direct", NULL));
	ck_assert_int_eq(cmdline_build(buf, sizeof(buf), &cfg, 0, 0), 0);
	ck_assert_ptr_null(strstr(buf, "virtio_swiotlb"));
}
END_TEST

START_TEST(cli_net)
{
	struct vmm_config cfg;
	enum aperture_kind k[CLI_MAX_SHARES + 2];

	/* Not given: the default (user networking when passt is there), and a NIC is planned. */
	expect_ok(parse(&cfg, NULL));
	ck_assert_int_eq(cfg.net.mode, NET_DEFAULT);
	ck_assert_uint_eq(cli_aperture_kinds(&cfg, k, CLI_MAX_SHARES + 2), 2);
	ck_assert_int_eq(k[1], APK_NET);
	expect_ok(parse(&cfg, "--net", "none", NULL));
	ck_assert_int_eq(cfg.net.mode, NET_NONE);
	ck_assert_uint_eq(cli_aperture_kinds(&cfg, k, CLI_MAX_SHARES + 2), 1);
	expect_ok(parse(&cfg, "--net", "user", NULL));
	ck_assert_int_eq(cfg.net.mode, NET_USER);
	ck_assert_uint_eq(cfg.net.nfwd, 0);
	ck_assert(!cfg.net.mac_given);
	ck_assert_uint_eq(cfg.net.mtu, 0); /* passt's default */
	expect_ok(parse(&cfg, "--net", "user,mtu=1500", NULL));
	ck_assert_uint_eq(cfg.net.mtu, 1500);
	expect_ok(parse(&cfg, "--net", "user,mtu=1280", NULL));
	ck_assert_uint_eq(cfg.net.mtu, 1280);
	expect_ok(parse(&cfg, "--net", "user,mtu=65520", NULL));
	ck_assert_uint_eq(cfg.net.mtu, 65520);
	expect_bad(parse(&cfg, "--net", "user,mtu=1279", NULL), "mtu=1279: a number from 1280 to 65520");
	expect_bad(parse(&cfg, "--net", "user,mtu=65521", NULL), "mtu=65521");
	expect_bad(parse(&cfg, "--net", "user,mtu=15x", NULL), "mtu=15x");
	expect_bad(parse(&cfg, "--net", "tap=tap0,mtu=1500", NULL), "unknown option 'mtu'");
	expect_ok(parse(&cfg, "--net", "user,hostfwd=tcp:8080:80,hostfwd=udp:127.0.0.1:5353:53,mac=02:AB:cd:00:00:01",
			"--share", "/srv", NULL));
	ck_assert_uint_eq(cfg.net.nfwd, 2);
	ck_assert(!cfg.net.fwd[0].udp);
	ck_assert_uint_eq(cfg.net.fwd[0].host, 8080);
	ck_assert_uint_eq(cfg.net.fwd[0].guest, 80);
	ck_assert_uint_eq(cfg.net.fwd[0].addr, 0);
	ck_assert(cfg.net.fwd[1].udp);
	ck_assert_uint_eq(cfg.net.fwd[1].addr, 0x7F000001);
	ck_assert_uint_eq(cfg.net.fwd[1].host, 5353);
	ck_assert(cfg.net.mac_given);
	ck_assert_uint_eq(cfg.net.mac[1], 0xAB);
	ck_assert_uint_eq(cfg.net.mac[5], 1);
	/* The NIC comes after the shares in aperture order. */
	ck_assert_uint_eq(cli_aperture_kinds(&cfg, k, CLI_MAX_SHARES + 2), 3);
	ck_assert_int_eq(k[2], APK_NET);
	expect_ok(parse(&cfg, "--net", "tap=tap0", NULL));
	ck_assert_int_eq(cfg.net.mode, NET_TAP);
	ck_assert_str_eq(cfg.net.ifname, "tap0");
	ck_assert_uint_eq(cfg.net.queues, 1);
	expect_ok(parse(&cfg, "--net", "tap=vm-tap.1,queues=4,addr=10.0.0.2/24,gw=10.0.0.1", NULL));
	ck_assert_uint_eq(cfg.net.queues, 4);
	ck_assert_uint_eq(cfg.net.addr, 0x0A000002);
	ck_assert_uint_eq(cfg.net.prefix, 24);
	ck_assert_uint_eq(cfg.net.gw, 0x0A000001);
	/* One line for each malformed spec. */
	expect_bad(parse(&cfg, "--net", "slirp", NULL), "user[,...], tap=IFNAME[,...] or none");
	expect_bad(parse(&cfg, "--net", "", NULL), "expected user");
	expect_bad(parse(&cfg, "--net", "none,mac=02:00:00:00:00:01", NULL), "expected user");
	expect_bad(parse(&cfg, "--net", "tap=", NULL), "expected user");
	expect_bad(parse(&cfg, "--net", "tap=abcdefghijklmnopq", NULL), "not an interface name");
	expect_bad(parse(&cfg, "--net", "tap=a/b", NULL), "not an interface name");
	expect_bad(parse(&cfg, "--net", "user,hostfwd=tcp:8080", NULL), "tcp|udp:[ADDR:]HOSTPORT:GUESTPORT");
	expect_bad(parse(&cfg, "--net", "user,hostfwd=sctp:1:2", NULL), "tcp|udp");
	expect_bad(parse(&cfg, "--net", "user,hostfwd=tcp:0:80", NULL), "1 to 65535");
	expect_bad(parse(&cfg, "--net", "user,hostfwd=tcp:8080:65536", NULL), "1 to 65535");
	expect_bad(parse(&cfg, "--net", "user,hostfwd=tcp:1.2.3:8080:80", NULL), "HOSTPORT");
	expect_bad(parse(&cfg, "--net", "user,hostfwd=tcp:8080:80,hostfwd=tcp:8080:81", NULL), "forwarded twice");
	expect_bad(parse(&cfg, "--net", "user,queues=2", NULL), "unknown option 'queues'");
	expect_bad(parse(&cfg, "--net", "tap=t0,hostfwd=tcp:1:2", NULL), "unknown option 'hostfwd'");
	expect_bad(parse(&cfg, "--net", "tap=t0,queues=0", NULL), "queues=0");
	expect_bad(parse(&cfg, "--net", "tap=t0,queues=8", NULL), "queues=8");
	expect_bad(parse(&cfg, "--net", "tap=t0,addr=10.0.0.2", NULL), "A.B.C.D/LEN");
	expect_bad(parse(&cfg, "--net", "tap=t0,addr=10.0.0.256/24", NULL), "A.B.C.D/LEN");
	expect_bad(parse(&cfg, "--net", "tap=t0,addr=10.0.0.2/33", NULL), "A.B.C.D/LEN");
	expect_bad(parse(&cfg, "--net", "tap=t0,gw=10.0.0.1", NULL), "gw= needs addr=");
	expect_bad(parse(&cfg, "--net", "user,mac=01:00:00:00:00:01", NULL), "unicast");
	expect_bad(parse(&cfg, "--net", "user,mac=00:00:00:00:00:00", NULL), "unicast");
	expect_bad(parse(&cfg, "--net", "user,mac=02:00:00:00:00", NULL), "unicast");
	expect_bad(parse(&cfg, "--net", "user,mac", NULL), "needs a value");
	expect_bad(parse(&cfg, "--net", "user,", NULL), "needs a value");
	expect_bad(parse(&cfg, "--net", "user", "--net", "none", NULL), "twice");
	/* The NIC's aperture counts for the pool: 2 MiB are too few. */
	expect_bad(parse(&cfg, "--net", "user", "--swiotlb", "8M", NULL), "virtio-net 18 MiB");
}
END_TEST

Suite *cli_suite(void)
{
	Suite *s = suite_create("cli");
	TCase *c = tcase_create("cli_parse");
	TCase *u = tcase_create("util");
	TCase *r = tcase_create("cmdline");

	tcase_add_test(c, cli_defaults);
	tcase_add_test(c, cli_all_options);
	tcase_add_test(c, cli_equals_form_and_limits);
	tcase_add_test(c, cli_bad_cpus);
	tcase_add_test(c, cli_bad_memory);
	tcase_add_test(c, cli_bad_other_values);
	tcase_add_test(c, cli_unknown_option);
	tcase_add_test(c, cli_flag_with_value);
	tcase_add_test(c, cli_unknown_short_option);
	tcase_add_test(c, cli_unknown_short_cluster);
	tcase_add_test(c, cli_missing_value);
	tcase_add_test(c, cli_duplicate);
	tcase_add_test(c, cli_help_version);
	tcase_add_test(c, cli_positional);
	tcase_add_test(c, cli_reparse_resets_state);
	tcase_add_test(c, cli_config_file);
	tcase_add_test(c, cli_dma_swiotlb);
	tcase_add_test(c, cli_shares);
	tcase_add_test(c, cli_net);
	tcase_add_test(c, cli_share_options);
	suite_add_tcase(s, c);

	tcase_add_test(u, size_valid);
	tcase_add_test(u, size_invalid);
	tcase_add_test(u, size_overflow);
	tcase_add_test(u, uint_cases);
	suite_add_tcase(s, u);

	tcase_add_test(r, cmdline_default);
	tcase_add_test(r, cmdline_verbose);
	tcase_add_test(r, cmdline_emulated);
	tcase_add_test(r, cmdline_exec_via_channel);
	tcase_add_test(r, cmdline_user_last);
	tcase_add_test(r, cmdline_e2big);
	tcase_add_test(r, cmdline_swiotlb);
	suite_add_tcase(s, r);
	return s;
}
