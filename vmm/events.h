/* SPDX-License-Identifier: MIT */
/*
 * --events FILE: one JSON object per line for each boot and handshake
 * milestone, each stamped with CLOCK_MONOTONIC nanoseconds ("t_ns") and
 * microseconds since the monitor started ("since_start_us").
 */
#ifndef APERTURE_EVENTS_H
#define APERTURE_EVENTS_H

#include "lib/util.h"

/* Open (truncate) the events file; -errno. No file: events are dropped. */
int events_open(const char *path) must_check;
void events_close(void);
/*
 * Emit an event. `fields` is either NULL or a printf format producing the
 * rest of the JSON object's members, e.g. "\"status\":%d".
 */
void events_emit(const char *event, const char *fields, ...) __attribute__((format(printf, 2, 3)));
/* Append s to buf as a JSON string literal (quotes included), bounded. */
void events_json_string(char *buf, size_t len, const char *s);

#endif
