/*
 * Token bucket. The bucket starts full, refills at rate tokens per
 * second and holds at most burst tokens. Time is passed in by the
 * caller (microseconds, any monotonic origin), which keeps this free of
 * clocks and lets tests drive it with a simulated one.
 */
#include "core/core.h"

#include <float.h>

/* A wait longer than this is reported as this: the caller simply asks
 * again when it expires. Keeps now + wait far from overflowing however
 * small the rate. */
#define RATELIMIT_MAX_WAIT_US (86400ull * 1000000)
/* Tolerance for float rounding, so that waiting exactly the time we
 * reported always yields the token instead of one more 1 us wait. */
#define RATELIMIT_EPSILON 1e-9

void
ratelimit_init(struct ratelimit *rl, double rate, double burst,
    uint64_t now_us)
{
	/* Negative, NaN and infinite rates mean "unlimited", like 0. */
	if (!(rate > 0) || rate > DBL_MAX)
		rate = 0;
	/* A bucket that cannot hold one whole token would never give
	 * one, so anything below 1 (or NaN) is 1. */
	if (!(burst >= 1))
		burst = 1;
	else if (burst > 1e12)
		burst = 1e12;
	rl->rate = rate;
	rl->burst = burst;
	rl->tokens = burst;
	rl->last_us = now_us;
}

uint64_t
ratelimit_take(struct ratelimit *rl, uint64_t now_us)
{
	double wait;
	uint64_t w;

	if (rl->rate == 0)
		return 0;
	/* A timestamp older than the last one (a stale cached clock)
	 * adds nothing and does not move the refill point back. */
	if (now_us > rl->last_us) {
		double add = (double)(now_us - rl->last_us) * rl->rate / 1e6;

		rl->tokens = add >= rl->burst - rl->tokens ? rl->burst :
		    rl->tokens + add;
		rl->last_us = now_us;
	}
	if (rl->tokens >= 1 - RATELIMIT_EPSILON) {
		rl->tokens -= 1;
		if (rl->tokens < 0)
			rl->tokens = 0;
		return 0;
	}
	wait = (1 - rl->tokens) * 1e6 / rl->rate;
	if (!(wait < (double)RATELIMIT_MAX_WAIT_US))
		return RATELIMIT_MAX_WAIT_US;
	w = (uint64_t)wait;
	if ((double)w < wait)
		w++;
	return w > 0 ? w : 1;
}
