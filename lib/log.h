/* SPDX-License-Identifier: MIT */
/*
 * Logging for the monitor. Every line goes to stderr prefixed with "vmm: ".
 * The console may be in raw mode while we run, so lines end in "\r\n" when
 * stderr is a terminal (see term.c, which keeps OPOST on anyway).
 */
#ifndef APERTURE_LOG_H
#define APERTURE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include "lib/ratelimit.h"

void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_msg() plus ": strerror(err)"; err is a positive or negative errno. */
void log_errno(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_set_quiet(bool quiet);
void log_set_verbose(bool verbose);
bool log_verbose(void);
/* Debug lines, printed only with --verbose. */
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));


/*
 * Lines the guest can cause (a refused request, a device put into
 * NEEDS_RESET, a malformed message): rate-limited per call site, LOG_GUEST_BURST
 * lines at once and then one per LOG_GUEST_INTERVAL_MS; the next line through
 * says how many were suppressed, and log_report_suppressed() (at exit) tells
 * the rest. Every guest-triggered line goes through log_guest().
 */
#define LOG_GUEST_BURST 10
#define LOG_GUEST_INTERVAL_MS 1000
#define log_guest(...)                                                                              \
	do {                                                                                        \
		static struct ratelimit log_rl_ = RATELIMIT_INIT(LOG_GUEST_BURST, LOG_GUEST_INTERVAL_MS); \
		log_limited(&log_rl_, __VA_ARGS__);                                                 \
	} while (0)
void log_limited(struct ratelimit *rl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One line per call site that suppressed lines since its last one; returns the total. */
unsigned long long log_report_suppressed(void);

/*
 * A guest-supplied string made safe for the host terminal and log files:
 * control characters, DEL, bytes >= 0x80, '\\' and '"' become \xNN escapes;
 * truncated to fit buf (always NUL-terminated). Returns buf.
 */
const char *log_escape(char *buf, size_t len, const char *s);

#endif
