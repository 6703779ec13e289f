/* SPDX-License-Identifier: MIT */
/*
 * Logging for the monitor. Every line goes to stderr prefixed with "vmm: ".
 * The console may be in raw mode while we run, so lines end in "\r\n" when
 * stderr is a terminal (see term.c, which keeps OPOST on anyway).
 */
#ifndef APERTURE_LOG_H
#define APERTURE_LOG_H

#include <stdbool.h>

void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_msg() plus ": strerror(err)"; err is a positive or negative errno. */
void log_errno(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_set_quiet(bool quiet);
void log_set_verbose(bool verbose);
bool log_verbose(void);
/* Debug lines, printed only with --verbose. */
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
