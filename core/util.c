/*
 * Parsing helpers for configuration values and small allocation
 * helpers. Parsers are strict: digits then an optional unit, no sign
 * (except parse_int's '-'), no spaces, no fractions, no junk. They
 * return 0 or -1 and write *out only on success.
 */
#include "core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

/* "> ~100 years" is surely a typo; it also keeps sums of a duration and
 * a monotonic timestamp far from overflowing. */
#define DURATION_MAX_MS (100ull * 365 * 86400 * 1000)

/* One or more decimal digits at *pp into *out, advancing *pp; -1 if
 * there is no digit or the value does not fit in 64 bits. */
static int
digits_parse(const char **pp, uint64_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*pp = p;
	*out = v;
	return 0;
}

/* Units are lower case: "5M" could as well be months as minutes. */
static const struct {
	const char *unit;
	uint64_t    ms;
} duration_units[] = {
	{ "",   1000 },
	{ "ms", 1 },
	{ "s",  1000 },
	{ "m",  60ull * 1000 },
	{ "h",  3600ull * 1000 },
	{ "d",  86400ull * 1000 },
};

int
parse_duration_ms(const char *s, uint64_t *out_ms)
{
	uint64_t n;

	if (s == NULL || digits_parse(&s, &n) == -1)
		return -1;
	for (size_t i = 0; i < countof(duration_units); i++) {
		uint64_t mult = duration_units[i].ms;

		if (strcmp(s, duration_units[i].unit) != 0)
			continue;
		if (n > DURATION_MAX_MS / mult)
			return -1;
		*out_ms = n * mult;
		return 0;
	}
	return -1;
}

static const struct {
	const char *unit;
	uint64_t    bytes;
} size_units[] = {
	{ "",    1 },
	{ "b",   1 },
	{ "k",   1ull << 10 }, { "kb",  1ull << 10 }, { "kib", 1ull << 10 },
	{ "m",   1ull << 20 }, { "mb",  1ull << 20 }, { "mib", 1ull << 20 },
	{ "g",   1ull << 30 }, { "gb",  1ull << 30 }, { "gib", 1ull << 30 },
};

int
parse_size(const char *s, uint64_t *out)
{
	uint64_t n;

	if (s == NULL || digits_parse(&s, &n) == -1)
		return -1;
	for (size_t i = 0; i < countof(size_units); i++) {
		uint64_t mult = size_units[i].bytes;

		if (strcasecmp(s, size_units[i].unit) != 0)
			continue;
		if (n > UINT64_MAX / mult)
			return -1;
		*out = n * mult;
		return 0;
	}
	return -1;
}

int
parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
	uint64_t mag;
	int64_t v;
	bool neg;

	if (s == NULL || min > max)
		return -1;
	neg = *s == '-';
	if (neg)
		s++;
	if (digits_parse(&s, &mag) == -1 || *s != '\0')
		return -1;
	if (neg) {
		/* -INT64_MIN does not fit, so compare magnitudes. */
		if (mag > (uint64_t)INT64_MAX + 1)
			return -1;
		v = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
	} else {
		if (mag > INT64_MAX)
			return -1;
		v = (int64_t)mag;
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static void
oom(void)
{
	/* Not log_error(): it may need memory, and this is start-up. */
	fputs("outpost: out of memory\n", stderr);
	abort();
}

void *
xcalloc(size_t n, size_t size)
{
	void *p;

	/* calloc(0, x) may return NULL, which is not running out. */
	if (n == 0 || size == 0)
		n = size = 1;
	p = calloc(n, size);
	if (p == NULL)
		oom();
	return p;
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		oom();
	return p;
}

void
secret_free(char *s)
{
	if (s == NULL)
		return;
	platform_memzero(s, strlen(s));
	free(s);
}

int
mkdir_p(const char *path, unsigned mode)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (platform_mkdir(buf, mode) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return platform_mkdir(buf, mode) == -1 && errno != EEXIST ? -1 : 0;
}
