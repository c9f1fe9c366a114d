/*
 * Unit tests for core/ratelimit.c, driven by a simulated clock: every
 * call is given the time, so no test sleeps.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/core.h"

#include <math.h>
#include <string.h>

#define SEC 1000000ull

/* Takes as many tokens as it can at one instant. */
static unsigned
drain(struct ratelimit *rl, uint64_t now)
{
	unsigned n = 0;

	while (ratelimit_take(rl, now) == 0) {
		n++;
		if (n > 100000000)
			fail_msg("bucket never empties");
	}
	return n;
}

static void
test_unlimited(void **state)
{
	struct ratelimit rl;
	const double rates[] = { 0, -5, NAN, INFINITY, -INFINITY };

	(void)state;
	for (size_t i = 0; i < countof(rates); i++) {
		ratelimit_init(&rl, rates[i], 1, 0);
		for (int j = 0; j < 100000; j++)
			assert_int_equal(ratelimit_take(&rl, 0), 0);
		assert_int_equal(ratelimit_take(&rl, UINT64_MAX), 0);
	}
	/* A zeroed struct is unlimited too. */
	memset(&rl, 0, sizeof(rl));
	assert_int_equal(ratelimit_take(&rl, 12345), 0);
}

/* 500/s for 2 s gives ~1000 tokens, plus at most the initial burst. */
static void
test_rate_over_time(void **state)
{
	struct ratelimit rl;
	unsigned taken = 0, denied = 0;
	uint64_t now;

	(void)state;
	/* Polling every 100 us. */
	ratelimit_init(&rl, 500, 10, 0);
	for (now = 0; now < 2 * SEC; now += 100)
		if (ratelimit_take(&rl, now) == 0)
			taken++;
	assert_in_range(taken, 1000 - 1, 1000 + 10);

	/* Sleeping exactly the time it says: no polling, no spinning. */
	taken = 0;
	ratelimit_init(&rl, 500, 10, 0);
	for (now = 0; now < 2 * SEC;) {
		uint64_t w = ratelimit_take(&rl, now);

		if (w == 0) {
			taken++;
		} else {
			denied++;
			now += w;
		}
	}
	assert_in_range(taken, 1000 - 1, 1000 + 10);
	assert_true(denied <= taken);

	/* After the burst, tokens come one per 1/rate. */
	ratelimit_init(&rl, 500, 10, 0);
	assert_int_equal(drain(&rl, 0), 10);
	assert_int_equal(drain(&rl, SEC), 10);   /* 500 earned, 10 kept */
	assert_int_equal(drain(&rl, SEC + 2000), 1);
	assert_int_equal(drain(&rl, SEC + 2000 + 20000), 10);
}

static void
test_burst(void **state)
{
	struct ratelimit rl;

	(void)state;
	ratelimit_init(&rl, 500, 5, 1000);
	assert_int_equal(drain(&rl, 1000), 5);
	/* Then one token takes 1/500 s. */
	assert_int_equal(ratelimit_take(&rl, 1000), 2000);
	assert_int_equal(ratelimit_take(&rl, 2000), 1000);
	assert_int_equal(ratelimit_take(&rl, 3000), 0);
	assert_int_equal(ratelimit_take(&rl, 3000), 2000);

	/* An hour idle fills the bucket to burst, no further. */
	assert_int_equal(drain(&rl, 3600 * SEC), 5);
}

static void
test_burst_at_least_one(void **state)
{
	struct ratelimit rl;
	const double bursts[] = { 0, -1, -1e300, 0.5, 0.999, NAN, -INFINITY };

	(void)state;
	for (size_t i = 0; i < countof(bursts); i++) {
		ratelimit_init(&rl, 10, bursts[i], 0);
		assert_int_equal(ratelimit_take(&rl, 0), 0);
		assert_int_equal(ratelimit_take(&rl, 0), 100000);
		assert_int_equal(ratelimit_take(&rl, 100000), 0);
		assert_int_equal(drain(&rl, 10 * SEC), 1);
	}
	/* A fractional burst above 1 still gives whole tokens only. */
	ratelimit_init(&rl, 10, 2.5, 0);
	assert_int_equal(drain(&rl, 0), 2);
}

/* Whatever the rate, waiting the reported time yields a token; the
 * wait is never 0. */
static void
test_wait_is_enough(void **state)
{
	const double rates[] = { 3, 7, 0.3, 333.333, 1e5, 999999, 1e6,
	    3e6, 1e9 };
	struct ratelimit rl;

	(void)state;
	for (size_t i = 0; i < countof(rates); i++) {
		uint64_t now = 1234567;

		ratelimit_init(&rl, rates[i], 1, now);
		assert_int_equal(ratelimit_take(&rl, now), 0);
		for (int j = 0; j < 2000; j++) {
			uint64_t w = ratelimit_take(&rl, now);

			if (w == 0)
				fail_msg("rate %g: denied wait was 0",
				    rates[i]);
			now += w;
			if (ratelimit_take(&rl, now) != 0)
				fail_msg("rate %g: no token after waiting "
				    "%llu us", rates[i],
				    (unsigned long long)w);
		}
	}
}

static void
test_extreme_rates(void **state)
{
	struct ratelimit rl;
	uint64_t w, now;

	(void)state;
	/* Huge rate: a denial at the same instant still waits >= 1 us. */
	ratelimit_init(&rl, 1e15, 1, 0);
	assert_int_equal(ratelimit_take(&rl, 0), 0);
	assert_int_equal(ratelimit_take(&rl, 0), 1);
	assert_int_equal(drain(&rl, 1), 1);   /* capped at burst */
	ratelimit_init(&rl, 1e300, 3, 0);
	assert_int_equal(drain(&rl, 0), 3);
	assert_int_equal(ratelimit_take(&rl, 0), 1);
	assert_int_equal(drain(&rl, UINT64_MAX), 3);

	/* Tiny rates: long, finite waits that do not overflow now + w. */
	const double tiny[] = { 1e-3, 1e-9, 1e-300, 4.9e-324 };
	for (size_t i = 0; i < countof(tiny); i++) {
		ratelimit_init(&rl, tiny[i], 1, 0);
		assert_int_equal(ratelimit_take(&rl, 0), 0);
		now = 0;
		for (int j = 0; j < 5; j++) {
			w = ratelimit_take(&rl, now);
			if (w == 0)
				continue;   /* the wait was served */
			assert_true(w <= 86400 * SEC);
			assert_true(now + w > now);
			now += w;
		}
		assert_true(now > 0);
	}
	/* 1e-3/s is one token per 1000 s: granted after waiting it out. */
	ratelimit_init(&rl, 1e-3, 1, 0);
	assert_int_equal(ratelimit_take(&rl, 0), 0);
	assert_int_equal(ratelimit_take(&rl, 0), 1000 * SEC);
	assert_int_equal(ratelimit_take(&rl, 1000 * SEC), 0);

	/* Huge burst is capped but works. */
	ratelimit_init(&rl, 1, INFINITY, 0);
	assert_int_equal(ratelimit_take(&rl, 0), 0);
	assert_true(rl.tokens > 1e6);
}

static void
test_clock_edges(void **state)
{
	struct ratelimit rl;

	(void)state;
	/* A timestamp from the past neither refills nor resets. */
	ratelimit_init(&rl, 500, 1, 10 * SEC);
	assert_int_equal(ratelimit_take(&rl, 10 * SEC), 0);
	assert_int_equal(ratelimit_take(&rl, 0), 2000);
	assert_int_equal(ratelimit_take(&rl, 10 * SEC + 1000), 1000);
	assert_int_equal(ratelimit_take(&rl, 10 * SEC + 2000), 0);

	/* Near the end of the clock's range. */
	ratelimit_init(&rl, 500, 2, UINT64_MAX - SEC);
	assert_int_equal(drain(&rl, UINT64_MAX - SEC), 2);
	assert_int_equal(ratelimit_take(&rl, UINT64_MAX - SEC), 2000);
	assert_int_equal(drain(&rl, UINT64_MAX), 2);

	/* The whole range at once. */
	ratelimit_init(&rl, 500, 2, 0);
	assert_int_equal(drain(&rl, 0), 2);
	assert_int_equal(drain(&rl, UINT64_MAX), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unlimited),
		cmocka_unit_test(test_rate_over_time),
		cmocka_unit_test(test_burst),
		cmocka_unit_test(test_burst_at_least_one),
		cmocka_unit_test(test_wait_is_enough),
		cmocka_unit_test(test_extreme_rates),
		cmocka_unit_test(test_clock_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
