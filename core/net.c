/*
 * Addresses and ranges: scan targets ("10.0.0.0/24", "10.0.0.1-20",
 * "10.0.0.1-10.0.1.255", one IPv6 address) and "host[:port]" strings.
 *
 * IPv4 is parsed by hand rather than with inet_aton(), which takes
 * "10.1" as 10.0.0.1 and reads "010" as octal 8. A target a user typed
 * should mean exactly one thing or be refused, so octets are 1-3
 * decimal digits, 0-255, with no sign, no spaces and no leading zero
 * ("01.2.3.4" is refused: other tools would read it as octal).
 */
#include "core/core.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Longer than any address or range we accept ("255.255.255.255-
 * 255.255.255.255" is 31 characters, a full IPv6 address 45). */
#define NET_TARGET_MAX 64
/* How much of a bad input an error message quotes back. */
#define NET_ECHO_MAX 64

/* Copies s into dst for quoting in a one-line message: at most
 * NET_ECHO_MAX characters, control characters shown as '?'. */
static void
net_echo(char *dst, size_t dstlen, const char *s)
{
	size_t i, n = 0;

	if (dstlen == 0)
		return;
	for (i = 0; s[i] != '\0' && i < NET_ECHO_MAX && n + 1 < dstlen; i++) {
		unsigned char c = (unsigned char)s[i];
		dst[n++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (s[i] != '\0' && n + 3 < dstlen) {
		memcpy(dst + n, "...", 3);
		n += 3;
	}
	dst[n] = '\0';
}

/* "bad <what> '<input>': <problem>" */
static void
net_err(char *err, size_t errlen, const char *what, const char *s,
    const char *problem)
{
	char echo[NET_ECHO_MAX + 4];

	if (err == NULL || errlen == 0)
		return;
	net_echo(echo, sizeof(echo), s);
	snprintf(err, errlen, "bad %s '%s': %s", what, echo, problem);
}

/*
 * Parses a dotted quad at *pp and advances *pp past it; what follows is
 * the caller's business. On error returns -1 with the problem in why.
 */
static int
ipv4_parse(const char **pp, uint32_t *out, char *why, size_t whylen)
{
	const char *p = *pp;
	uint32_t addr = 0;

	for (int i = 0; i < 4; i++) {
		unsigned v = 0;
		size_t n = 0;

		if (i > 0) {
			if (*p == '\0') {
				snprintf(why, whylen, "an IPv4 address needs "
				    "4 octets, like 10.0.0.1");
				return -1;
			}
			if (*p != '.') {
				char echo[NET_ECHO_MAX + 4];

				net_echo(echo, sizeof(echo), p);
				snprintf(why, whylen, "unexpected '%s' in the "
				    "address", echo);
				return -1;
			}
			p++;
		}
		while (p[n] >= '0' && p[n] <= '9') {
			if (n == 3) {
				snprintf(why, whylen, "octet has more than "
				    "3 digits");
				return -1;
			}
			v = v * 10 + (unsigned)(p[n] - '0');
			n++;
		}
		if (n == 0) {
			char echo[NET_ECHO_MAX + 4];

			if (*p == '\0') {
				snprintf(why, whylen, "an IPv4 address needs "
				    "4 octets, like 10.0.0.1");
				return -1;
			}
			net_echo(echo, sizeof(echo), p);
			snprintf(why, whylen, "expected an octet (0-255) "
			    "at '%s'", echo);
			return -1;
		}
		if (n > 1 && p[0] == '0') {
			snprintf(why, whylen, "octet '%.*s' has a leading "
			    "zero (octal or decimal?)", (int)n, p);
			return -1;
		}
		if (v > 255) {
			snprintf(why, whylen, "octet %u is out of range 0-255",
			    v);
			return -1;
		}
		addr = addr << 8 | v;
		p += n;
	}
	*pp = p;
	*out = addr;
	return 0;
}

/* A whole decimal number of 1..maxdigits digits with no leading zero
 * (except "0" itself) and nothing after it; -1 otherwise. */
static int
small_uint_parse(const char *p, size_t maxdigits, unsigned *out)
{
	unsigned v = 0;
	size_t n;

	for (n = 0; p[n] >= '0' && p[n] <= '9'; n++) {
		if (n == maxdigits)
			return -1;
		v = v * 10 + (unsigned)(p[n] - '0');
	}
	if (n == 0 || p[n] != '\0' || (n > 1 && p[0] == '0'))
		return -1;
	*out = v;
	return 0;
}

static int
range6_parse(const char *s, struct net_range *r, char *err, size_t errlen)
{
	const char *colon = strchr(s, ':');
	struct in6_addr a6;

	if (strchr(colon + 1, ':') == NULL) {
		net_err(err, errlen, "target", s, "a target takes no port "
		    "(IPv6 addresses have at least two ':')");
		return -1;
	}
	if (strchr(s, '/') != NULL) {
		net_err(err, errlen, "target", s, "IPv6 prefixes are not "
		    "scanned; IPv6 scans take single addresses");
		return -1;
	}
	if (inet_pton(AF_INET6, s, &a6) != 1) {
		net_err(err, errlen, "target", s, "not a valid IPv6 address");
		return -1;
	}
	memset(r, 0, sizeof(*r));
	r->family = AF_INET6;
	r->addr6 = a6;
	return 0;
}

/*
 * A CIDR block is normalised to its network: 10.0.0.5/24 becomes
 * 10.0.0.0-10.0.0.255. Every address of the block is a target, the
 * network and broadcast addresses of /0../30 included, and /31 and /32
 * are simply their two and one addresses: a scan sends to all addresses
 * in the block, which is simple and predictable (a device that does not
 * answer costs one timeout), and many networks do use those addresses.
 */
int
net_range_parse(const char *s, struct net_range *r, char *err, size_t errlen)
{
	char why[128];
	const char *p;
	uint32_t first, last;
	unsigned v;

	if (s == NULL || *s == '\0') {
		net_err(err, errlen, "target", "", "empty target");
		return -1;
	}
	if (strnlen(s, NET_TARGET_MAX + 1) > NET_TARGET_MAX) {
		net_err(err, errlen, "target", s, "longer than any address "
		    "or range");
		return -1;
	}
	if (strchr(s, ':') != NULL)
		return range6_parse(s, r, err, errlen);

	p = s;
	if (ipv4_parse(&p, &first, why, sizeof(why)) == -1) {
		net_err(err, errlen, "target", s, why);
		return -1;
	}
	switch (*p) {
	case '\0':
		last = first;
		break;
	case '/': {
		uint32_t mask;

		if (p[1] == '\0') {
			net_err(err, errlen, "target", s, "missing prefix "
			    "length after '/'");
			return -1;
		}
		if (small_uint_parse(p + 1, 2, &v) == -1 || v > 32) {
			net_err(err, errlen, "target", s, "prefix length must "
			    "be 0-32");
			return -1;
		}
		mask = v == 0 ? 0 : UINT32_MAX << (32 - v);
		first &= mask;
		last = first | ~mask;
		break;
	}
	case '-':
		p++;
		if (*p == '\0') {
			net_err(err, errlen, "target", s, "missing end of "
			    "range after '-'");
			return -1;
		}
		if (strchr(p, '.') != NULL) {
			char a[16], b[16];

			if (ipv4_parse(&p, &last, why, sizeof(why)) == -1) {
				net_err(err, errlen, "target", s, why);
				return -1;
			}
			if (*p != '\0')
				goto junk;
			if (last < first) {
				net_ipv4_str(first, a, sizeof(a));
				net_ipv4_str(last, b, sizeof(b));
				snprintf(why, sizeof(why), "range ends (%s) "
				    "before it starts (%s)", b, a);
				net_err(err, errlen, "target", s, why);
				return -1;
			}
			break;
		}
		if (small_uint_parse(p, 3, &v) == -1 || v > 255) {
			net_err(err, errlen, "target", s, "range end must be "
			    "an octet 0-255 or a full address");
			return -1;
		}
		if (v < (first & 0xff)) {
			snprintf(why, sizeof(why), "range end %u is below its "
			    "start %u", v, (unsigned)(first & 0xff));
			net_err(err, errlen, "target", s, why);
			return -1;
		}
		last = (first & ~UINT32_C(0xff)) | v;
		break;
	default:
		goto junk;
	}

	if ((uint64_t)last - first + 1 > NET_RANGE_MAX_ADDRS) {
		snprintf(why, sizeof(why), "range has %" PRIu64 " addresses; "
		    "the limit is %u (a /12)",
		    (uint64_t)last - first + 1, NET_RANGE_MAX_ADDRS);
		net_err(err, errlen, "target", s, why);
		return -1;
	}
	memset(r, 0, sizeof(*r));
	r->family = AF_INET;
	r->first = first;
	r->last = last;
	return 0;

junk: {
		char echo[NET_ECHO_MAX + 4];

		net_echo(echo, sizeof(echo), p);
		snprintf(why, sizeof(why), "unexpected '%s' after the address",
		    echo);
		net_err(err, errlen, "target", s, why);
		return -1;
	}
}

uint64_t
net_range_count(const struct net_range *r)
{
	if (r->family == AF_INET6)
		return 1;
	if (r->family != AF_INET || r->last < r->first)
		return 0;
	return (uint64_t)r->last - r->first + 1;
}

/* Copies rather than casts the sockaddr_storage, so this is correct
 * with or without -fno-strict-aliasing. */
bool
net_range_contains(const struct net_range *r, const struct sockaddr_storage *ss)
{
	if (r == NULL || ss == NULL)
		return false;
	if (ss->ss_family == AF_INET) {
		struct sockaddr_in sin;
		uint32_t a;

		memcpy(&sin, ss, sizeof(sin));
		a = ntohl(sin.sin_addr.s_addr);
		return r->family == AF_INET && a >= r->first && a <= r->last;
	}
	if (ss->ss_family == AF_INET6) {
		struct sockaddr_in6 sin6;
		const uint8_t *b = sin6.sin6_addr.s6_addr;

		memcpy(&sin6, ss, sizeof(sin6));
		if (r->family == AF_INET6)
			return memcmp(b, r->addr6.s6_addr, 16) == 0;
		if (r->family == AF_INET &&
		    IN6_IS_ADDR_V4MAPPED(&sin6.sin6_addr)) {
			uint32_t a = (uint32_t)b[12] << 24 |
			    (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 |
			    b[15];

			return a >= r->first && a <= r->last;
		}
	}
	return false;
}

void
net_ipv4_str(uint32_t a, char *buf, size_t len)
{
	if (buf == NULL || len == 0)
		return;
	snprintf(buf, len, "%u.%u.%u.%u", (unsigned)(a >> 24),
	    (unsigned)(a >> 16 & 0xff), (unsigned)(a >> 8 & 0xff),
	    (unsigned)(a & 0xff));
}

static bool
host_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':' ||
	    c == '_' || c == '%';
}

/*
 * "HOST", "HOST:PORT", "[V6]", "[V6]:PORT", or a bare IPv6 address: with
 * more than one ':' and no brackets the whole string is the host, since
 * "::1:161" cannot be split without guessing. *port is written only when
 * a port is given, so the caller sets the default first. host is written
 * only on success.
 */
int
net_hostport_parse(const char *s, char *host, size_t hostlen,
    unsigned *port, char *err, size_t errlen)
{
	char why[128];
	const char *h, *ps = NULL;
	size_t hl;
	unsigned v = 0;

	if (s == NULL || *s == '\0') {
		net_err(err, errlen, "address", "", "empty address");
		return -1;
	}
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL) {
			net_err(err, errlen, "address", s, "missing ']'");
			return -1;
		}
		h = s + 1;
		hl = (size_t)(close - h);
		if (close[1] == ':') {
			ps = close + 2;
		} else if (close[1] != '\0') {
			net_err(err, errlen, "address", s, "expected ':PORT' "
			    "or nothing after ']'");
			return -1;
		}
		if (hl > 0 && memchr(h, ':', hl) == NULL) {
			net_err(err, errlen, "address", s, "brackets are only "
			    "for IPv6 addresses");
			return -1;
		}
	} else {
		const char *colon = strchr(s, ':');

		h = s;
		if (colon != NULL && strchr(colon + 1, ':') == NULL) {
			hl = (size_t)(colon - s);
			ps = colon + 1;
		} else {
			hl = strlen(s);
		}
	}

	if (hl == 0) {
		net_err(err, errlen, "address", s, "missing host");
		return -1;
	}
	for (size_t i = 0; i < hl; i++) {
		unsigned char c = (unsigned char)h[i];

		if (host_char_ok(c))
			continue;
		if (c >= 0x20 && c < 0x7f)
			snprintf(why, sizeof(why), "host may not contain '%c' "
			    "(only letters, digits and . - : _ %%)", c);
		else
			snprintf(why, sizeof(why), "host may not contain byte "
			    "0x%02x (only letters, digits and . - : _ %%)", c);
		net_err(err, errlen, "address", s, why);
		return -1;
	}
	if (host == NULL || hl >= hostlen) {
		snprintf(why, sizeof(why), "host is longer than %zu characters",
		    hostlen > 0 ? hostlen - 1 : 0);
		net_err(err, errlen, "address", s, why);
		return -1;
	}
	if (ps != NULL) {
		if (*ps == '\0') {
			net_err(err, errlen, "address", s, "missing port "
			    "after ':'");
			return -1;
		}
		/* Leading zeros are harmless here: nobody reads a port
		 * as octal. At most 5 digits keeps v from overflowing. */
		size_t n;
		for (n = 0; ps[n] >= '0' && ps[n] <= '9' && n < 6; n++)
			v = v * 10 + (unsigned)(ps[n] - '0');
		if (n == 0 || n > 5 || ps[n] != '\0' || v < 1 || v > 65535) {
			net_err(err, errlen, "address", s, "port must be "
			    "a number 1-65535");
			return -1;
		}
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (ps != NULL && port != NULL)
		*port = v;
	return 0;
}
