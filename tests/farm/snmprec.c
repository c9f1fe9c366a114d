/* snmpsim .snmprec recordings: lines "OID|TAG|VALUE", TAG a decimal BER
 * tag, then 'x' when VALUE is hex, or ':variation'. Lines we cannot read
 * are counted and skipped; recordings need not be sorted. zlib reads
 * .gz and plain files alike. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "farm.h"

#define REC_MAX_LINE	(64 * 1024)

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static long
unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t	n = 0;

	while (*s) {
		int hi = hexval((unsigned char)s[0]), lo;

		if (hi < 0 || s[1] == '\0' || (lo = hexval((unsigned char)s[1])) < 0 ||
		    n == cap)
			return -1;
		out[n++] = (uint8_t)(hi << 4 | lo);
		s += 2;
	}
	return (long)n;
}

static int
parse_u64(const char *s, uint64_t *v)
{
	char	*end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || *end ? -1 : 0;
}

/* A value written as text, tag already known; -1 if it does not parse. */
static int
add_text(struct tb *t, const uint8_t *oid, size_t olen, int tag, const char *v)
{
	uint8_t		 buf[256], tlv[12];
	uint64_t	 u;
	long long	 ll;
	char		*end;
	int		 n;
	unsigned	 a, b, c, d;

	switch (tag) {
	case T_INT:
		errno = 0;
		ll = strtoll(v, &end, 10);
		if (errno || end == v || *end || ll < INT32_MIN || ll > UINT32_MAX)
			return -1;
		n = (int)ber_int_tlv(tlv, T_INT, (int32_t)ll);
		return tb_add(t, oid, olen, T_INT, tlv + 2, (size_t)n - 2);
	case T_OCTETS:
	case T_OPAQUE:
		return tb_add(t, oid, olen, (uint8_t)tag, v, strlen(v));
	case T_NULL:
		return tb_add(t, oid, olen, T_NULL, NULL, 0);
	case T_OID:
		if ((n = ber_oid_parse(v, buf, sizeof(buf))) < 0)
			return -1;
		return tb_add(t, oid, olen, T_OID, buf, (size_t)n);
	case T_IPADDR:
		if (sscanf(v, "%u.%u.%u.%u%n", &a, &b, &c, &d, &n) != 4 ||
		    v[n] || a > 255 || b > 255 || c > 255 || d > 255) {
			if (strlen(v) == 4)	/* recorded as 4 raw bytes */
				return tb_add(t, oid, olen, T_IPADDR, v, 4);
			return -1;
		}
		buf[0] = (uint8_t)a, buf[1] = (uint8_t)b;
		buf[2] = (uint8_t)c, buf[3] = (uint8_t)d;
		return tb_add(t, oid, olen, T_IPADDR, buf, 4);
	case T_COUNTER32:
	case T_GAUGE32:
	case T_TIMETICKS:
	case T_COUNTER64:
		if (parse_u64(v, &u) == -1 ||
		    (tag != T_COUNTER64 && u > 0xffffffffULL))
			return -1;
		n = (int)ber_uint_tlv(tlv, (uint8_t)tag, u);
		return tb_add(t, oid, olen, (uint8_t)tag, tlv + 2, (size_t)n - 2);
	}
	return -1;
}

/* "key=value,key=value": the value of key, copied into out. */
static int
opt_get(const char *s, const char *key, char *out, size_t cap)
{
	size_t	kl = strlen(key);

	while (*s) {
		const char *e = strchr(s, ',');
		size_t	    l = e ? (size_t)(e - s) : strlen(s);

		if (l > kl && strncmp(s, key, kl) == 0 && s[kl] == '=') {
			if (l - kl - 1 >= cap)
				return -1;
			memcpy(out, s + kl + 1, l - kl - 1);
			out[l - kl - 1] = '\0';
			return 0;
		}
		s = e ? e + 1 : s + l;
	}
	return -1;
}

static int
add_line(struct tb *t, char *line)
{
	static uint8_t	 bin[REC_MAX_LINE];
	uint8_t		 oid[256];
	char		*tagf, *val, *var, *end, opt[256];
	int		 olen, hex = 0;
	long		 tag, n;

	if ((tagf = strchr(line, '|')) == NULL)
		return -1;
	*tagf++ = '\0';
	if ((val = strchr(tagf, '|')) == NULL)
		return -1;
	*val++ = '\0';
	if ((olen = ber_oid_parse(line, oid, sizeof(oid))) < 0)
		return -1;
	if ((var = strchr(tagf, ':')) != NULL)
		*var++ = '\0';
	tag = strtol(tagf, &end, 10);
	if (end == tagf)
		return -1;
	if (*end == 'x' || *end == 'e') {	/* 'e': escaped, rare */
		hex = *end == 'x';
		end++;
	}
	if (*end || tag < 0 || tag > 0xff)
		return -1;
	if (var != NULL && strcmp(var, "numeric") == 0) {
		struct farm_dyn	d = { DYN_NUMERIC, (uint8_t)tag, 0, 1.0 };
		uint64_t	u;

		if (tag != T_INT && tag != T_COUNTER32 && tag != T_GAUGE32 &&
		    tag != T_TIMETICKS && tag != T_COUNTER64)
			return -1;
		if (opt_get(val, "initial", opt, sizeof(opt)) == 0 &&
		    parse_u64(opt, &u) == 0)
			d.base = u;
		if (opt_get(val, "rate", opt, sizeof(opt)) == 0)
			d.rate = strtod(opt, NULL);
		return tb_add_dyn(t, oid, (size_t)olen, &d);
	}
	if (var != NULL && opt_get(val, "value", opt, sizeof(opt)) == 0)
		val = opt;	/* writecache, delay, error...: the plain value */
	if (hex) {
		if ((n = unhex(val, bin, sizeof(bin))) < 0)
			return -1;
		if (tag == T_IPADDR && n != 4)
			return -1;
		if (tag == T_INT || tag == T_OID || tag == T_COUNTER32 ||
		    tag == T_GAUGE32 || tag == T_TIMETICKS || tag == T_COUNTER64)
			return -1;	/* hex numbers: not seen in the wild */
		return tb_add(t, oid, (size_t)olen, (uint8_t)tag, bin, (size_t)n);
	}
	return add_text(t, oid, (size_t)olen, (int)tag, val);
}

struct farm_tmpl *
snmprec_load(const char *path, char *err, size_t errlen)
{
	static char		 line[REC_MAX_LINE];
	struct tb		*t;
	struct farm_tmpl	*m;
	gzFile			 f;
	size_t			 skipped = 0, lines = 0;

	if ((f = gzopen(path, "rb")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if ((t = tb_new()) == NULL) {
		gzclose(f);
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	while (gzgets(f, line, sizeof(line)) != NULL) {
		size_t	l = strlen(line);

		lines++;
		if (l == sizeof(line) - 1 && line[l - 1] != '\n') {
			int c;		/* overlong line: skip the rest */

			while ((c = gzgetc(f)) != -1 && c != '\n')
				;
			skipped++;
			continue;
		}
		while (l && (line[l - 1] == '\n' || line[l - 1] == '\r'))
			line[--l] = '\0';
		if (l == 0 || line[0] == '#')
			continue;
		if (add_line(t, line) == -1)
			skipped++;
	}
	gzclose(f);
	if ((m = tb_finish(t, path, NULL)) == NULL) {
		snprintf(err, errlen, "%s: out of memory or too large", path);
		return NULL;
	}
	m->skipped += skipped;
	if (m->n == 0)	/* e.g. snmpsim's variation/multiplex.snmprec */
		fprintf(stderr, "outpost-farm: %s: no usable OID in %zu lines, "
		    "its devices answer endOfMibView\n", path, lines);
	return m;
}
