/* SPDX-License-Identifier: MIT */
/*
 * --events FILE: one JSON object per line for each boot and handshake
 * milestone, each stamped with CLOCK_MONOTONIC nanoseconds ("t_ns") and
 * microseconds since the monitor started ("since_start_us"). docs/events.md
 * lists every event and the type of each field; it is the schema the boot
 * tests check the file against (tests/lint/events): add an event there
 * when you add one here.
 */
#ifndef APERTURE_EVENTS_H
#define APERTURE_EVENTS_H

#include "lib/ratelimit.h"
#include "lib/util.h"

/* docs/events.md: the version of the event schema, in monitor-start. */
#define EVENTS_SCHEMA_VERSION 1

/* Open (truncate) the events file; -errno. No file: events are dropped. */
int events_open(const char *path) must_check;
void events_close(void);
/*
 * Emit an event. `fields` is either NULL or a printf format producing the
 * rest of the JSON object's members, e.g. "\"status\":%d".
 */
void events_emit(const char *event, const char *fields, ...) __attribute__((format(printf, 2, 3)));
/*
 * Events the guest can cause (boot marks, refusals, NEEDS_RESET, refused
 * connections, malformed messages): rate-limited per call site
 * (EVENTS_GUEST_BURST at once, then one per EVENTS_GUEST_INTERVAL_MS) and
 * at most EVENTS_GUEST_MAX of them per run, so a guest cannot grow the file
 * without bound. What was dropped is counted and reported at events_close()
 * as one "events-suppressed" event.
 */
#define EVENTS_GUEST_BURST 32
#define EVENTS_GUEST_INTERVAL_MS 1000
#define EVENTS_GUEST_MAX 4096
#define events_guest(event, ...)                                                                        \
	do {                                                                                                \
		static struct ratelimit ev_rl_ = RATELIMIT_INIT(EVENTS_GUEST_BURST, EVENTS_GUEST_INTERVAL_MS); \
		events_emit_limited(&ev_rl_, event, __VA_ARGS__);                                          \
	} while (0)
void events_emit_limited(struct ratelimit *rl, const char *event, const char *fields, ...)
	__attribute__((format(printf, 3, 4)));
/* Append s to buf as a JSON string literal (quotes included), bounded. */
void events_json_string(char *buf, size_t len, const char *s);

#endif
