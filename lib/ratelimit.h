/* SPDX-License-Identifier: MIT */
/*
 * Token buckets for things a guest can make the monitor do over and over:
 * log lines and events. Each call site owns one static struct ratelimit
 * (see log_guest() in lib/log.h and events_guest() in vmm/events.h): it lets
 * `burst` through at once, then one more per `interval_ns`, and counts what
 * it turned away so that the next line through (or the report at exit) can
 * say how many were suppressed.
 *
 * Thread-safe: one global lock; buckets register themselves on first use so
 * that ratelimit_report() can find every site that suppressed something.
 */
#ifndef APERTURE_LIB_RATELIMIT_H
#define APERTURE_LIB_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ratelimit {
	const char *site;       /* "file:line" of the call site */
	unsigned burst;         /* bucket size */
	uint64_t interval_ns;   /* one token back per interval */
	/* under the global lock */
	bool registered;
	bool primed;            /* tokens initialised to burst */
	unsigned tokens;
	uint64_t last_ns;       /* when tokens were last refilled */
	uint64_t suppressed;    /* since the last pass (or report) */
	uint64_t total_suppressed;
	struct ratelimit *next;
};

#define RATELIMIT_STR2(x) #x
#define RATELIMIT_STR(x) RATELIMIT_STR2(x)
/* A bucket for this call site: `b` at once, then one per `ms` milliseconds. */
#define RATELIMIT_INIT(b, ms) \
	{ .site = __FILE__ ":" RATELIMIT_STR(__LINE__), .burst = (b), .interval_ns = (uint64_t)(ms) * 1000000ULL }

/*
 * Take a token at time now_ns. true: go ahead, and *suppressed (if not NULL)
 * is how many were turned away since the last pass (then reset to 0).
 * false: suppressed and counted.
 */
bool ratelimit_pass_at(struct ratelimit *rl, uint64_t now_ns, uint64_t *suppressed);
bool ratelimit_pass(struct ratelimit *rl, uint64_t *suppressed);
/*
 * For every bucket with suppressed events not yet reported: fn(site, count)
 * and reset its count. Returns the sum.
 */
uint64_t ratelimit_report(void (*fn)(void *ctx, const char *site, uint64_t n), void *ctx);

#endif
