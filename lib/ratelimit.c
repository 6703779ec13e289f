/* SPDX-License-Identifier: MIT */
#include "lib/ratelimit.h"

#include <pthread.h>
#include <stddef.h>
#include "lib/util.h"

static pthread_mutex_t rl_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ratelimit *rl_list;

bool ratelimit_pass_at(struct ratelimit *rl, uint64_t now, uint64_t *suppressed)
{
	bool pass;

	pthread_mutex_lock(&rl_lock);
	if (!rl->registered) {
		rl->registered = true;
		rl->next = rl_list;
		rl_list = rl;
	}
	if (!rl->primed) {
		rl->primed = true;
		rl->tokens = rl->burst;
		rl->last_ns = now;
	} else if (rl->interval_ns && now > rl->last_ns) {
		uint64_t add = (now - rl->last_ns) / rl->interval_ns;

		if (add) {
			rl->tokens = add >= rl->burst - rl->tokens ? rl->burst : rl->tokens + (unsigned)add;
			rl->last_ns += add * rl->interval_ns;
		}
	}
	pass = rl->tokens > 0;
	if (pass) {
		rl->tokens--;
		if (suppressed)
			*suppressed = rl->suppressed;
		rl->suppressed = 0;
	} else {
		rl->suppressed++;
		rl->total_suppressed++;
	}
	pthread_mutex_unlock(&rl_lock);
	return pass;
}

bool ratelimit_pass(struct ratelimit *rl, uint64_t *suppressed)
{
	return ratelimit_pass_at(rl, now_ns(), suppressed);
}

uint64_t ratelimit_report(void (*fn)(void *ctx, const char *site, uint64_t n), void *ctx)
{
	uint64_t sum = 0;

	pthread_mutex_lock(&rl_lock);
	for (struct ratelimit *rl = rl_list; rl; rl = rl->next) {
		if (!rl->suppressed)
			continue;
		if (fn)
			fn(ctx, rl->site, rl->suppressed);
		sum += rl->suppressed;
		rl->suppressed = 0;
	}
	pthread_mutex_unlock(&rl_lock);
	return sum;
}
