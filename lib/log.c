/* SPDX-License-Identifier: MIT */
#include "lib/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>

static bool quiet;
static bool verbose;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void log_set_quiet(bool q) { quiet = q; }
void log_set_verbose(bool v) { verbose = v; }
bool log_verbose(void) { return verbose; }

static void vlog(const char *suffix, const char *fmt, va_list ap)
{
	char buf[1024];
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);

	if (n < 0)
		return;
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "vmm: %s%s\n", buf, suffix ? suffix : "");
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
}

void log_msg(const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	va_start(ap, fmt);
	vlog(NULL, fmt, ap);
	va_end(ap);
}

void log_errno(int err, const char *fmt, ...)
{
	char suffix[128];
	va_list ap;

	if (quiet)
		return;
	snprintf(suffix, sizeof(suffix), ": %s", strerror(err < 0 ? -err : err));
	va_start(ap, fmt);
	vlog(suffix, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!verbose || quiet)
		return;
	va_start(ap, fmt);
	vlog(NULL, fmt, ap);
	va_end(ap);
}

void log_limited(struct ratelimit *rl, const char *fmt, ...)
{
	uint64_t suppressed = 0;
	char suffix[96] = "";
	va_list ap;

	if (quiet || !ratelimit_pass(rl, &suppressed))
		return;
	if (suppressed)
		snprintf(suffix, sizeof(suffix), " (%llu similar lines suppressed)", (unsigned long long)suppressed);
	va_start(ap, fmt);
	vlog(suffix, fmt, ap);
	va_end(ap);
}

static void report_one(void *ctx, const char *site, uint64_t n)
{
	(void)ctx;
	log_msg("%llu guest-triggered lines suppressed (%s)", (unsigned long long)n, site);
}

unsigned long long log_report_suppressed(void)
{
	return ratelimit_report(quiet ? NULL : report_one, NULL);
}

const char *log_escape(char *buf, size_t len, const char *s)
{
	size_t o = 0;

	if (!len)
		return buf;
	for (; *s && o + 1 < len; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c >= 0x7F || c == '\\' || c == '"') {
			if (o + 5 > len)
				break;
			snprintf(buf + o, len - o, "\\x%02x", c);
			o += 4;
		} else {
			buf[o++] = (char)c;
		}
	}
	buf[o] = '\0';
	return buf;
}
