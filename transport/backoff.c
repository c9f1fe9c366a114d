/*
 * Retry timing: full-jitter backoff (every client of a restarted hub
 * comes back at a different time), Retry-After, and the random source.
 */
#include "transport/transport_int.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

uint64_t
backoff_envelope(uint64_t base, uint64_t cap, unsigned n)
{
	/* base << n > cap  <=>  base > cap >> n, and the shift cannot
	 * overflow when it is not. */
	if (n >= 64 || base > (cap >> n))
		return cap;
	return base << n;
}

uint64_t
backoff_full_jitter(uint64_t base, uint64_t cap, unsigned n, uint64_t rand64)
{
	uint64_t env = backoff_envelope(base, cap, n);

	if (env == UINT64_MAX)
		return rand64;
	/* The modulo bias is below 2^-40 for any envelope we use. */
	return rand64 % (env + 1);
}

uint64_t
backoff_poll_window(uint64_t poll_wait_ms, uint64_t cap_ms)
{
	return poll_wait_ms < cap_ms ? poll_wait_ms : cap_ms;
}

uint64_t
backoff_poll_retry(uint64_t poll_wait_ms, uint64_t cap_ms, unsigned fails,
    uint64_t rand64)
{
	uint64_t w = backoff_poll_window(poll_wait_ms, cap_ms);
	uint64_t lo = fails == 0 ? 0 : w / 2;

	/* w - lo + 1 overflows only for [0, UINT64_MAX] */
	return lo == 0 && w == UINT64_MAX ? rand64 : lo + rand64 % (w - lo + 1);
}

int
backoff_retry_after(const char *value, time_t now, uint64_t cap_ms,
    uint64_t *delay_ms)
{
	char buf[64];
	size_t n;
	uint64_t ms;
	const char *p;

	if (value == NULL)
		return -1;
	while (*value == ' ' || *value == '\t')
		value++;
	n = strlen(value);
	while (n > 0 && isspace((unsigned char)value[n - 1]))
		n--;
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, value, n);
	buf[n] = '\0';

	for (p = buf; *p >= '0' && *p <= '9'; p++)
		;
	if (*p == '\0') {
		/* delta-seconds; any number of digits saturates at the cap */
		uint64_t s = 0;
		for (p = buf; *p; p++) {
			if (s > (UINT64_MAX / 1000 - 9) / 10) {
				s = UINT64_MAX / 1000;
				break;
			}
			s = s * 10 + (uint64_t)(*p - '0');
		}
		ms = s * 1000;
	} else {
		time_t when;

		/* A negative or fractional number is not a date either. */
		if (buf[0] == '-' || buf[0] == '+' || buf[0] == '.' ||
		    (buf[0] >= '0' && buf[0] <= '9' && (*p == '.' || *p == ',')))
			return -1;
		when = curl_getdate(buf, NULL);
		if (when == (time_t)-1)
			return -1;
		ms = when <= now ? 0 : (uint64_t)(when - now) * 1000;
	}
	if (ms < 1000)
		ms = 1000;
	if (ms > cap_ms)
		ms = cap_ms;
	*delay_ms = ms;
	return 0;
}

uint64_t
backoff_retry_after_spread(uint64_t delay_ms, uint64_t cap_ms, uint64_t rand64)
{
	uint64_t d = delay_ms < cap_ms ? delay_ms : cap_ms;
	uint64_t hi = d / 2 <= cap_ms - d ? d + d / 2 : cap_ms;

	/* Never before the hub asked, never past the cap. */
	return d + rand64 % (hi - d + 1);
}

/* xoshiro256** seeded from the OS (platform_random): the jitter only needs to differ
 * between agents, not to be secret. */
static uint64_t rng_s[4];
static bool rng_seeded;

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static void
rng_seed(void)
{
	uint64_t x;
	if (platform_random(rng_s, sizeof(rng_s)) == -1) {
		/* Early boot: mix time and pid (splitmix64). */
		x = (uint64_t)time(NULL) ^ (mono_us() << 20) ^ (uint64_t)getpid();
		for (int i = 0; i < 4; i++) {
			uint64_t z = (x += UINT64_C(0x9e3779b97f4a7c15));
			z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
			z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
			rng_s[i] = z ^ (z >> 31);
		}
	}
	if ((rng_s[0] | rng_s[1] | rng_s[2] | rng_s[3]) == 0)
		rng_s[0] = 1;
	rng_seeded = true;
}

uint64_t
tp_rand64(void)
{
	uint64_t r, t;

	if (!rng_seeded)
		rng_seed();
	r = rotl(rng_s[1] * 5, 7) * 9;
	t = rng_s[1] << 17;
	rng_s[2] ^= rng_s[0];
	rng_s[3] ^= rng_s[1];
	rng_s[1] ^= rng_s[2];
	rng_s[0] ^= rng_s[3];
	rng_s[2] ^= t;
	rng_s[3] = rotl(rng_s[3], 45);
	return r;
}

uint64_t
tp_rand_upto(uint64_t n)
{
	uint64_t r = tp_rand64();

	return n == UINT64_MAX ? r : r % (n + 1);
}

uint64_t
tp_wall_ms(void)
{
	return wall_ms();
}
