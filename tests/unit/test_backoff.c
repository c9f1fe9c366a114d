/* Retry timing (transport/backoff.c): full jitter and Retry-After. */
#include <setjmp.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "transport/transport_int.h"

static void
every_delay_stays_inside_its_envelope(void **st)
{
	static const uint64_t bases[] = { 1, 100, 1000, 12345 };
	static const uint64_t caps[] = { 1000, 300000, 86400000 };

	for (size_t b = 0; b < countof(bases); b++)
		for (size_t c = 0; c < countof(caps); c++)
			for (unsigned n = 0; n < 80; n++) {
				uint64_t env = backoff_envelope(bases[b], caps[c], n);
				uint64_t want = caps[c];

				if (n < 40 && (bases[b] << n) < caps[c])
					want = bases[b] << n;
				assert_int_equal(env, want);
				for (int i = 0; i < 200; i++) {
					uint64_t d = backoff_full_jitter(bases[b],
					    caps[c], n, tp_rand64());
					assert_true(d <= env);
				}
				/* the extremes of the random input */
				assert_true(backoff_full_jitter(bases[b], caps[c], n,
				    0) == 0);
				assert_true(backoff_full_jitter(bases[b], caps[c], n,
				    UINT64_MAX) <= env);
				assert_int_equal(backoff_full_jitter(bases[b], caps[c],
				    n, env), env);
			}
}

static void
huge_failure_counts_and_values_do_not_overflow(void **st)
{
	/* 2^63 << 1 would wrap to 0: the envelope saturates at the cap. */
	assert_int_equal(backoff_envelope(UINT64_C(1) << 63, UINT64_MAX, 1),
	    UINT64_MAX);
	assert_int_equal(backoff_envelope(3, UINT64_MAX, 63), UINT64_MAX);
	assert_int_equal(backoff_envelope(1, UINT64_MAX, 63), UINT64_C(1) << 63);
	assert_int_equal(backoff_envelope(1000, 300000, 64), 300000);
	assert_int_equal(backoff_envelope(1000, 300000, 4000000000u), 300000);
	assert_int_equal(backoff_envelope(1000, 300000, UINT32_MAX), 300000);
	assert_int_equal(backoff_full_jitter(5, UINT64_MAX, 200, 12345), 12345);
	assert_int_equal(backoff_full_jitter(0, 1000, 10, 777), 0);
}

static void
delays_are_spread_not_constant(void **st)
{
	/* Full jitter: a fleet must not come back in step. */
	uint64_t lo = UINT64_MAX, hi = 0, sum = 0;

	for (int i = 0; i < 2000; i++) {
		uint64_t d = backoff_full_jitter(1000, 300000, 3, tp_rand64());
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
		sum += d;
	}
	assert_true(lo < 800);
	assert_true(hi > 7200);
	assert_true(sum / 2000 > 3000 && sum / 2000 < 5000);   /* mean ~4000 */
}

static void
the_envelope_grows_per_failure_and_resets_after_success(void **st)
{
	struct transport *t = calloc(1, sizeof(*t));
	unsigned fails = 0;

	t->o.backoff_base_ms = 100;
	t->o.backoff_cap_ms = 1000;
	for (unsigned i = 0; i < 12; i++) {
		uint64_t env = backoff_envelope(100, 1000, i);
		uint64_t d = tp_backoff_next(t, &fails);
		assert_true(d <= env);
		assert_int_equal(fails, i + 1);
	}
	assert_int_equal(backoff_envelope(100, 1000, fails), 1000);
	for (int i = 0; i < 100; i++) {
		fails = 0;   /* what a 2xx does (poll.c, upload.c) */
		assert_true(tp_backoff_next(t, &fails) <= 100);
		assert_int_equal(fails, 1);
	}
	free(t);
}

static uint64_t
ra(const char *v, time_t now, uint64_t cap, int *rc)
{
	uint64_t d = 424242;

	*rc = backoff_retry_after(v, now, cap, &d);
	return d;
}

static void
retry_after_seconds_are_clamped_to_one_second_and_the_cap(void **st)
{
	int rc;

	assert_int_equal(ra("5", 0, 300000, &rc), 5000);
	assert_int_equal(rc, 0);
	assert_int_equal(ra("  120 \r\n", 0, 300000, &rc), 120000);
	assert_int_equal(rc, 0);
	assert_int_equal(ra("0", 0, 300000, &rc), 1000);
	assert_int_equal(rc, 0);
	assert_int_equal(ra("301", 0, 300000, &rc), 300000);
	assert_int_equal(rc, 0);
	/* huge: saturates, then the cap */
	assert_int_equal(ra("99999999999999999999999999999999", 0, 300000, &rc),
	    300000);
	assert_int_equal(rc, 0);
	assert_int_equal(ra("18446744073709551616", 0, 2000, &rc), 2000);
	assert_int_equal(rc, 0);
}

static void
retry_after_http_dates_count_from_now(void **st)
{
	/* Sun, 06 Nov 1994 08:49:37 GMT = 784111777 (RFC 9110's example) */
	const time_t when = 784111777;
	int rc;

	assert_int_equal(ra("Sun, 06 Nov 1994 08:49:37 GMT", when - 30, 300000,
	    &rc), 30000);
	assert_int_equal(rc, 0);
	/* obsolete forms a hub may still send */
	assert_int_equal(ra("Sunday, 06-Nov-94 08:49:37 GMT", when - 7, 300000,
	    &rc), 7000);
	assert_int_equal(rc, 0);
	assert_int_equal(ra("Sun Nov  6 08:49:37 1994", when - 2, 300000, &rc),
	    2000);
	assert_int_equal(rc, 0);
	/* in the past, or now: the 1 s floor */
	assert_int_equal(ra("Sun, 06 Nov 1994 08:49:37 GMT", when + 3600,
	    300000, &rc), 1000);
	assert_int_equal(rc, 0);
	/* years ahead: the cap */
	assert_int_equal(ra("Fri, 31 Dec 2100 23:59:59 GMT", when, 300000, &rc),
	    300000);
	assert_int_equal(rc, 0);
}

static void
garbage_and_negative_retry_after_values_are_refused(void **st)
{
	static const char *const bad[] = {
		"", "   ", "soon", "-5", "-0", "+5", "1.5", "2,5", ".5", "5s",
		"0x10", "Sun, 99 Foo 1994 99:99:99 GMT", "\x01\x02",
		"a very long value that is longer than any date a hub would send "
		"as a Retry-After header",
	};
	int rc;

	for (size_t i = 0; i < countof(bad); i++) {
		uint64_t d = ra(bad[i], 1000000, 300000, &rc);
		if (rc != -1)
			fail_msg("'%s' accepted as %llu ms", bad[i],
			    (unsigned long long)d);
		assert_int_equal(d, 424242);   /* untouched */
	}
	assert_int_equal(backoff_retry_after(NULL, 0, 1000, &(uint64_t){ 0 }), -1);
}

static void
random_values_cover_the_range(void **st)
{
	unsigned seen = 0;

	for (int i = 0; i < 1000; i++) {
		uint64_t r = tp_rand_upto(7);
		assert_true(r <= 7);
		seen |= 1u << r;
	}
	assert_int_equal(seen, 0xff);
	assert_int_equal(tp_rand_upto(0), 0);
	(void)tp_rand_upto(UINT64_MAX);
}

/* ---- the poll's retry rule (docs/protocol.md, "Rules for agents") ----
 * Statistics over a fixed-seed generator: the same numbers every run. */

static uint64_t
seeded(uint64_t *x)
{
	uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));   /* splitmix64 */

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static void
a_poll_retry_is_uniform_over_min_of_poll_wait_and_cap(void **st)
{
	static const uint64_t waits[] = { 1000, 2000, 20000, 60000, 3600000 };
	static const uint64_t caps[] = { 1000, 5000, 300000, 86400000 };
	uint64_t x = 42;

	for (size_t w = 0; w < countof(waits); w++)
		for (size_t c = 0; c < countof(caps); c++) {
			uint64_t win = waits[w] < caps[c] ? waits[w] : caps[c];
			unsigned bins[10] = { 0 };
			uint64_t sum = 0;

			assert_int_equal(backoff_poll_window(waits[w], caps[c]), win);
			for (int i = 0; i < 20000; i++) {
				uint64_t d = backoff_poll_retry(waits[w], caps[c],
				    0, seeded(&x));
				assert_true(d <= win);
				bins[d * 10 / (win + 1)]++;
				sum += d;
			}
			/* spread: every tenth of the window gets 10 % +- 1.5 */
			for (int b = 0; b < 10; b++)
				assert_true(bins[b] > 1700 && bins[b] < 2300);
			assert_true(sum / 20000 > win * 48 / 100 &&
			    sum / 20000 < win * 52 / 100);
			assert_int_equal(backoff_poll_retry(waits[w], caps[c], 0,
			    0), 0);
			assert_int_equal(backoff_poll_retry(waits[w], caps[c], 0,
			    win), win);
			/* after a failed poll: uniform over the window's second
			 * half, however many failures */
			memset(bins, 0, sizeof(bins));
			for (int i = 0; i < 20000; i++) {
				uint64_t d = backoff_poll_retry(waits[w], caps[c],
				    1 + (unsigned)(i % 50) * 1000, seeded(&x));
				assert_true(d >= win / 2 && d <= win);
				bins[(d - win / 2) * 10 / (win - win / 2 + 1)]++;
			}
			for (int b = 0; b < 10; b++)
				assert_true(bins[b] > 1700 && bins[b] < 2300);
			assert_int_equal(backoff_poll_retry(waits[w], caps[c], 1,
			    0), win / 2);
			assert_int_equal(backoff_poll_retry(waits[w], caps[c],
			    UINT_MAX, win - win / 2), win);
		}
	/* the extremes of a window of the whole range */
	assert_int_equal(backoff_poll_retry(UINT64_MAX, UINT64_MAX, 0,
	    UINT64_MAX), UINT64_MAX);
	assert_true(backoff_poll_retry(UINT64_MAX, UINT64_MAX, 3, UINT64_MAX) >=
	    UINT64_MAX / 2);
}

static void
polls_broken_at_once_come_back_under_twice_the_steady_rate(void **st)
{
	/* 2000 agents, poll wait 20 s: steady arrivals 100/s. Every held
	 * poll breaks at t = 0 (the node died); per second, the retries
	 * must stay within one steady rate on top of the steady one. */
	enum { N = 2000, W = 20000 };
	unsigned per_s[W / 1000 + 1] = { 0 };
	unsigned steady = N / (W / 1000), peak = 0;
	uint64_t x = 7;

	for (int i = 0; i < N; i++)
		per_s[backoff_poll_retry(W, 300000, 0, seeded(&x)) / 1000]++;
	for (size_t s = 0; s < countof(per_s); s++)
		peak = per_s[s] > peak ? per_s[s] : peak;
	print_message("peak retries %u/s, steady %u/s\n", peak, steady);
	assert_true(peak <= steady + steady / 2);
	/* the old rule (full jitter from backoff_base = 1 s) puts them all
	 * in the first second: the bound above tells the two apart */
	peak = 0;
	for (int i = 0; i < N; i++)
		if (backoff_full_jitter(1000, 300000, 0, seeded(&x)) < 1000)
			peak++;
	assert_true(peak > 2 * steady);
}

static void
after_an_outage_of_any_length_every_agent_is_back_within_the_window(void **st)
{
	static const uint64_t outages[] = { 1000, 20000, 60000, 600000, 86400000 };
	enum { N = 3000 };
	uint64_t x = 99, w = 20000, cap = 300000;

	for (size_t o = 0; o < countof(outages); o++) {
		uint64_t latest = 0, tries = 0;
		unsigned back_per_s[21] = { 0 }, peak = 0;

		for (int i = 0; i < N; i++) {
			/* the held poll broke when the hub went away */
			uint64_t t = backoff_poll_retry(w, cap, 0, seeded(&x));
			unsigned fails = 1;

			/* retries fail while the hub is down (t < outage) */
			while (t < outages[o]) {
				t += backoff_poll_retry(w, cap, fails++,
				    seeded(&x));
				tries++;
			}
			if (t - outages[o] > latest)
				latest = t - outages[o];
			back_per_s[(t - outages[o]) / 1000]++;
		}
		assert_true(latest <= w);   /* back within 1 poll wait */
		/* while it is down an agent asks about 4/3 as often as a
		 * healthy one (once per w), and so does the fleet in every
		 * second after the return: 4/3 of the steady N/w and its
		 * noise, under 1.6x (a retry in [0, w] every time: 2x) */
		if (outages[o] >= 600000) {
			assert_true(tries <= (uint64_t)N * outages[o] / w * 14 / 10);
			for (size_t b = 0; b < countof(back_per_s); b++)
				peak = back_per_s[b] > peak ? back_per_s[b] : peak;
			print_message("outage %llu s: peak %u/s after the return, "
			    "steady %u/s\n", (unsigned long long)outages[o] / 1000,
			    peak, (unsigned)(N / (w / 1000)));
			assert_true(peak <= N / (w / 1000) * 8 / 5);
		}
	}
}

static void
a_failed_poll_counts_and_uses_the_poll_wait_not_backoff_base(void **st)
{
	struct transport *t = calloc(1, sizeof(*t));
	uint64_t hi = 0;

	t->o.backoff_base_ms = 100;
	t->o.backoff_cap_ms = 300000;
	t->o.poll_wait_ms = 4000;
	for (unsigned i = 0; i < 400; i++) {
		uint64_t d = tp_poll_retry(t);
		assert_true(d <= 4000);
		hi = d > hi ? d : hi;
		assert_int_equal(t->poll_fails, i + 1);
	}
	/* not bunched near backoff_base */
	assert_true(hi > 3000);
	t->o.backoff_cap_ms = 1500;   /* a smaller cap bounds it too */
	for (int i = 0; i < 200; i++)
		assert_true(tp_poll_retry(t) <= 1500);
	free(t);
}

static void
a_retry_after_is_spread_never_early_never_past_the_cap(void **st)
{
	static const uint64_t ds[] = { 1000, 5000, 60000 };
	unsigned bucket[26] = { 0 }, most = 0;

	for (size_t i = 0; i < countof(ds); i++) {
		uint64_t d = ds[i];

		/* at least the Retry-After, at most half again */
		assert_int_equal(backoff_retry_after_spread(d, 300000, 0), d);
		assert_int_equal(backoff_retry_after_spread(d, 300000, d / 2),
		    d + d / 2);
		for (int k = 0; k < 1000; k++) {
			uint64_t w = backoff_retry_after_spread(d, 300000,
			    tp_rand64());
			assert_true(w >= d && w <= d + d / 2);
		}
	}
	/* 1,000 agents told "Retry-After: 5" in the same second come back
	 * over 2.5 s, not in one step: no 100 ms holds a fifth of them
	 * (about 40 expected). */
	for (int k = 0; k < 1000; k++)
		bucket[(backoff_retry_after_spread(5000, 300000, tp_rand64()) -
		    5000) / 100]++;
	for (size_t b = 0; b < countof(bucket); b++)
		most = bucket[b] > most ? bucket[b] : most;
	assert_true(most < 200);
	/* near the cap: spread up to it, never past it, never early */
	for (int k = 0; k < 1000; k++) {
		uint64_t w = backoff_retry_after_spread(1500, 2000, tp_rand64());

		assert_true(w >= 1500 && w <= 2000);
		assert_int_equal(backoff_retry_after_spread(2000, 2000,
		    tp_rand64()), 2000);
		assert_int_equal(backoff_retry_after_spread(9000, 2000,
		    tp_rand64()), 2000);
		w = backoff_retry_after_spread(UINT64_MAX / 2, UINT64_MAX,
		    tp_rand64());
		assert_true(w >= UINT64_MAX / 2 && w <= UINT64_MAX / 2 +
		    UINT64_MAX / 4);
		assert_int_equal(backoff_retry_after_spread(UINT64_MAX,
		    UINT64_MAX, tp_rand64()), UINT64_MAX);
	}
	assert_int_equal(backoff_retry_after_spread(1500, 2000, 500), 2000);
}

static void
connections_are_reused_for_at_most_half_a_poll_wait(void **st)
{
	assert_int_equal(tp_http_conn_life_s(1000), 1);
	assert_int_equal(tp_http_conn_life_s(2000), 1);
	assert_int_equal(tp_http_conn_life_s(20000), 10);
	assert_int_equal(tp_http_conn_life_s(60000), 30);
	assert_int_equal(tp_http_conn_life_s(UINT64_MAX), 3600);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_delay_stays_inside_its_envelope),
		cmocka_unit_test(a_retry_after_is_spread_never_early_never_past_the_cap),
		cmocka_unit_test(huge_failure_counts_and_values_do_not_overflow),
		cmocka_unit_test(delays_are_spread_not_constant),
		cmocka_unit_test(the_envelope_grows_per_failure_and_resets_after_success),
		cmocka_unit_test(retry_after_seconds_are_clamped_to_one_second_and_the_cap),
		cmocka_unit_test(retry_after_http_dates_count_from_now),
		cmocka_unit_test(garbage_and_negative_retry_after_values_are_refused),
		cmocka_unit_test(random_values_cover_the_range),
		cmocka_unit_test(a_poll_retry_is_uniform_over_min_of_poll_wait_and_cap),
		cmocka_unit_test(polls_broken_at_once_come_back_under_twice_the_steady_rate),
		cmocka_unit_test(after_an_outage_of_any_length_every_agent_is_back_within_the_window),
		cmocka_unit_test(a_failed_poll_counts_and_uses_the_poll_wait_not_backoff_base),
		cmocka_unit_test(connections_are_reused_for_at_most_half_a_poll_wait),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
