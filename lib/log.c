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
