/*
 * Unit tests for core/net.c: scan targets, host[:port], address checks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/core.h"

#include <stdio.h>
#include <string.h>

static uint32_t
ip(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		fail_msg("test bug: bad address %s", s);
	return ntohl(a.s_addr);
}

static struct net_range
range_ok(const char *s)
{
	struct net_range r;
	char err[256] = "";

	if (net_range_parse(s, &r, err, sizeof(err)) != 0)
		fail_msg("'%s' refused: %s", s, err);
	return r;
}

static void
assert_v4_range(const char *s, const char *first, const char *last,
    uint64_t count)
{
	struct net_range r = range_ok(s);

	if (r.family != AF_INET || r.first != ip(first) ||
	    r.last != ip(last) || net_range_count(&r) != count)
		fail_msg("'%s': expected %s-%s (%llu addresses), got "
		    "family %d %08x-%08x (%llu)", s, first, last,
		    (unsigned long long)count, r.family, r.first, r.last,
		    (unsigned long long)net_range_count(&r));
}

/* Refused, with a one-line message that names the input and contains
 * fragment; the range is left untouched. */
static void
assert_range_bad(const char *s, const char *fragment)
{
	struct net_range r;
	char err[256] = "";
	char want[300];

	memset(&r, 0xa5, sizeof(r));
	if (net_range_parse(s, &r, err, sizeof(err)) != -1)
		fail_msg("'%s' accepted, should be refused", s);
	if (fragment != NULL && strstr(err, fragment) == NULL)
		fail_msg("'%s': message '%s' lacks '%s'", s, err, fragment);
	if (strchr(err, '\n') != NULL)
		fail_msg("'%s': message is not one line: '%s'", s, err);
	if (strlen(s) <= 64 && strchr(s, '\n') == NULL) {
		snprintf(want, sizeof(want), "bad target '%s': ", s);
		if (strncmp(err, want, strlen(want)) != 0)
			fail_msg("'%s': message '%s' does not name the input",
			    s, err);
	}
	for (size_t i = 0; i < sizeof(r); i++)
		if (((unsigned char *)&r)[i] != 0xa5)
			fail_msg("'%s': range written on failure", s);
}

static void
test_cidr(void **state)
{
	(void)state;
	assert_v4_range("10.0.0.0/30", "10.0.0.0", "10.0.0.3", 4);
	assert_v4_range("10.0.0.0/24", "10.0.0.0", "10.0.0.255", 256);
	assert_v4_range("192.168.4.0/22", "192.168.4.0", "192.168.7.255",
	    1024);
	/* Host bits set: normalised to the network. */
	assert_v4_range("10.0.0.5/24", "10.0.0.0", "10.0.0.255", 256);
	assert_v4_range("10.1.2.3/16", "10.1.0.0", "10.1.255.255", 65536);
	/* /31 and /32 are all their addresses. */
	assert_v4_range("10.0.0.7/31", "10.0.0.6", "10.0.0.7", 2);
	assert_v4_range("10.0.0.7/32", "10.0.0.7", "10.0.0.7", 1);
	assert_v4_range("0.0.0.0/32", "0.0.0.0", "0.0.0.0", 1);
	assert_v4_range("255.255.255.255/32", "255.255.255.255",
	    "255.255.255.255", 1);
}

static void
test_size_limit(void **state)
{
	char err[256];
	struct net_range r;

	(void)state;
	/* A /12 is exactly the limit. */
	assert_v4_range("10.16.0.0/12", "10.16.0.0", "10.31.255.255",
	    NET_RANGE_MAX_ADDRS);
	assert_range_bad("10.0.0.0/11", "1048576");
	assert_range_bad("0.0.0.0/0", "limit");
	assert_range_bad("0.0.0.0-255.255.255.255", "limit");
	assert_range_bad("10.0.0.0-10.16.0.0", "limit");
	assert_v4_range("10.0.0.0-10.15.255.255", "10.0.0.0",
	    "10.15.255.255", NET_RANGE_MAX_ADDRS);

	assert_int_equal(net_range_parse("10.0.0.0/8", &r, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "bad target '10.0.0.0/8': range has "
	    "16777216 addresses; the limit is 1048576 (a /12)");
}

static void
test_single_and_ranges(void **state)
{
	(void)state;
	assert_v4_range("10.0.0.1", "10.0.0.1", "10.0.0.1", 1);
	assert_v4_range("0.0.0.0", "0.0.0.0", "0.0.0.0", 1);
	assert_v4_range("255.255.255.255", "255.255.255.255",
	    "255.255.255.255", 1);
	assert_v4_range("10.0.0.1-20", "10.0.0.1", "10.0.0.20", 20);
	assert_v4_range("10.0.0.7-7", "10.0.0.7", "10.0.0.7", 1);
	assert_v4_range("10.0.0.0-255", "10.0.0.0", "10.0.0.255", 256);
	assert_v4_range("10.0.0.0-0", "10.0.0.0", "10.0.0.0", 1);
	assert_v4_range("10.0.0.250-10.0.1.5", "10.0.0.250", "10.0.1.5",
	    12);
	assert_v4_range("1.2.3.4-1.2.3.4", "1.2.3.4", "1.2.3.4", 1);
}

static void
test_ipv6(void **state)
{
	struct net_range r;
	struct in6_addr a6;

	(void)state;
	r = range_ok("::1");
	assert_int_equal(r.family, AF_INET6);
	assert_int_equal(net_range_count(&r), 1);
	assert_int_equal(inet_pton(AF_INET6, "::1", &a6), 1);
	assert_memory_equal(&r.addr6, &a6, sizeof(a6));

	r = range_ok("2001:db8::17");
	assert_int_equal(r.family, AF_INET6);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::17", &a6), 1);
	assert_memory_equal(&r.addr6, &a6, sizeof(a6));

	r = range_ok("::ffff:10.0.0.1");
	assert_int_equal(r.family, AF_INET6);

	assert_range_bad("::1/64", "IPv6 scans take single addresses");
	assert_range_bad("2001:db8::/32", "IPv6 scans take single addresses");
	assert_range_bad("2001:db8::zz", "not a valid IPv6 address");
	assert_range_bad("1:2:3:4:5:6:7:8:9", "not a valid IPv6 address");
	assert_range_bad("[::1]", "not a valid IPv6 address");
	assert_range_bad("::1 ", "not a valid IPv6 address");
	assert_range_bad("fe80::1%eth0", "not a valid IPv6 address");
	assert_range_bad("::1-::5", "not a valid IPv6 address");
}

static void
test_malformed(void **state)
{
	char longstr[5000];

	(void)state;
	assert_range_bad("", "empty");
	assert_range_bad("1.2.3", "needs 4 octets");
	assert_range_bad("1.2.3.", "needs 4 octets");
	assert_range_bad("1", "needs 4 octets");
	assert_range_bad("1..2.3", "expected an octet");
	assert_range_bad(".1.2.3", "expected an octet");
	assert_range_bad("1.2.3.4.5", "unexpected '.5'");
	assert_range_bad("256.1.1.1", "octet 256 is out of range");
	assert_range_bad("1.2.3.999", "octet 999 is out of range");
	assert_range_bad("1.2.3.1000", "more than 3 digits");
	assert_range_bad("1.2.3.0004", "more than 3 digits");
	/* Leading zeros are refused: inet_aton() would read 010 as 8. */
	assert_range_bad("01.2.3.4", "leading zero");
	assert_range_bad("10.0.0.010", "leading zero");
	assert_range_bad("1.2.3.00", "leading zero");
	assert_range_bad("+1.2.3.4", "expected an octet");
	assert_range_bad("-1.2.3.4", "expected an octet");
	assert_range_bad(" 1.2.3.4", "expected an octet");
	assert_range_bad("1. 2.3.4", "expected an octet");
	assert_range_bad("1.+2.3.4", "expected an octet");
	assert_range_bad("1.2.3.4 ", "unexpected ' '");
	assert_range_bad("1.2.3.4\n", "unexpected");
	assert_range_bad("1.2.3.4x", "unexpected 'x'");
	assert_range_bad("0x1.2.3.4", "unexpected");
	assert_range_bad("a.b.c.d", "expected an octet");
	assert_range_bad("router.example.com", "expected an octet");
	assert_range_bad("1.2.3.4:161", "takes no port");

	/* prefixes */
	assert_range_bad("1.2.3.4/", "missing prefix length");
	assert_range_bad("1.2.3.4/33", "prefix length must be 0-32");
	assert_range_bad("1.2.3.4/100", "prefix length must be 0-32");
	assert_range_bad("1.2.3.4/-1", "prefix length must be 0-32");
	assert_range_bad("1.2.3.4/+8", "prefix length must be 0-32");
	assert_range_bad("1.2.3.4/ 8", "prefix length must be 0-32");
	assert_range_bad("1.2.3.4/8 ", "prefix length must be 0-32");
	assert_range_bad("1.2.3.4/08", "prefix length must be 0-32");
	assert_range_bad("1.2.3.4/24x", "prefix length must be 0-32");
	assert_range_bad("1.2.3.4/24/24", "prefix length must be 0-32");
	assert_range_bad("1.2.3.4/255.255.255.0", "prefix length must be 0-32");

	/* ranges */
	assert_range_bad("10.0.0.9-3", "range end 3 is below its start 9");
	assert_range_bad("1.2.3.4-1.2.3.3",
	    "range ends (1.2.3.3) before it starts (1.2.3.4)");
	assert_range_bad("1.2.3.4-1.2.2.200", "before it starts");
	assert_range_bad("1.2.3.4-", "missing end of range");
	assert_range_bad("1.2.3.4-256", "range end must be");
	assert_range_bad("1.2.3.4-1000", "range end must be");
	assert_range_bad("1.2.3.4-05", "range end must be");
	assert_range_bad("1.2.3.4--5", "range end must be");
	assert_range_bad("1.2.3.4-+5", "range end must be");
	assert_range_bad("1.2.3.4-5 ", "range end must be");
	assert_range_bad("1.2.3.4-x", "range end must be");
	assert_range_bad("1.2.3.4-1.2.3", "needs 4 octets");
	assert_range_bad("1.2.3.4-1.2.3.5x", "unexpected 'x'");
	assert_range_bad("1.2.3.4-1.2.3.5-6", "unexpected '-6'");
	assert_range_bad("1.2.3.4-1.2.3.256", "out of range");
	assert_range_bad("1.2.3.0/24-5", "prefix length must be 0-32");

	/* Very long input: refused, and the message stays short. */
	memset(longstr, '1', sizeof(longstr) - 1);
	longstr[sizeof(longstr) - 1] = '\0';
	assert_range_bad(longstr, "longer than any address");
	memset(longstr, ' ', sizeof(longstr) - 1);
	memcpy(longstr, "10.0.0.1", 8);
	assert_range_bad(longstr, "longer than any address");
	memset(longstr, ':', sizeof(longstr) - 1);
	assert_range_bad(longstr, "longer than any address");
}

static void
test_error_buffer(void **state)
{
	struct net_range r;
	char err[256], small[12];
	char longstr[300];

	(void)state;
	/* The canonical message. */
	assert_int_equal(net_range_parse("10.0.0.0/33", &r, err, sizeof(err)),
	    -1);
	assert_string_equal(err,
	    "bad target '10.0.0.0/33': prefix length must be 0-32");

	/* A long input is quoted shortened, the problem still shown. */
	memset(longstr, '9', sizeof(longstr) - 1);
	longstr[sizeof(longstr) - 1] = '\0';
	assert_int_equal(net_range_parse(longstr, &r, err, sizeof(err)), -1);
	assert_true(strlen(err) < 160);
	assert_non_null(strstr(err, "...': longer than any address"));

	/* Control characters do not break the line. */
	assert_int_equal(net_range_parse("1.2.3.4\n5", &r, err, sizeof(err)),
	    -1);
	assert_null(strchr(err, '\n'));
	assert_non_null(strstr(err, "'1.2.3.4?5'"));

	/* Small or missing buffers are fine. */
	assert_int_equal(net_range_parse("1.2.3", &r, small, sizeof(small)),
	    -1);
	assert_string_equal(small, "bad target ");
	assert_int_equal(net_range_parse("1.2.3", &r, NULL, 0), -1);
	assert_int_equal(net_range_parse(NULL, &r, err, sizeof(err)), -1);
	assert_int_equal(net_range_parse("1.2.3.4", &r, NULL, 0), 0);
}

static struct sockaddr_storage
sa4(const char *s)
{
	struct sockaddr_storage ss;
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(161);
	sin.sin_addr.s_addr = htonl(ip(s));
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, &sin, sizeof(sin));
	return ss;
}

static struct sockaddr_storage
sa6(const char *s)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(161);
	if (inet_pton(AF_INET6, s, &sin6.sin6_addr) != 1)
		fail_msg("test bug: bad address %s", s);
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, &sin6, sizeof(sin6));
	return ss;
}

static void
test_contains(void **state)
{
	struct net_range r = range_ok("10.0.0.0/30");
	struct net_range r6 = range_ok("2001:db8::5");
	struct sockaddr_storage ss;

	(void)state;
	ss = sa4("10.0.0.0"); assert_true(net_range_contains(&r, &ss));
	ss = sa4("10.0.0.3"); assert_true(net_range_contains(&r, &ss));
	ss = sa4("10.0.0.4"); assert_false(net_range_contains(&r, &ss));
	ss = sa4("9.255.255.255"); assert_false(net_range_contains(&r, &ss));

	/* IPv4-mapped IPv6, as from a dual-stack socket. */
	ss = sa6("::ffff:10.0.0.2"); assert_true(net_range_contains(&r, &ss));
	ss = sa6("::ffff:10.0.0.9"); assert_false(net_range_contains(&r, &ss));
	/* Not mapped: the low 32 bits mean nothing. */
	ss = sa6("::10.0.0.2"); assert_false(net_range_contains(&r, &ss));

	/* IPv6: exact match only. */
	ss = sa6("2001:db8::5"); assert_true(net_range_contains(&r6, &ss));
	ss = sa6("2001:db8::6"); assert_false(net_range_contains(&r6, &ss));
	ss = sa4("10.0.0.1"); assert_false(net_range_contains(&r6, &ss));

	/* Edges of the address space. */
	r = range_ok("255.255.255.254/31");
	ss = sa4("255.255.255.255"); assert_true(net_range_contains(&r, &ss));
	r = range_ok("0.0.0.0");
	ss = sa4("0.0.0.0"); assert_true(net_range_contains(&r, &ss));
	ss = sa4("0.0.0.1"); assert_false(net_range_contains(&r, &ss));

	/* Other families never match. */
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	assert_false(net_range_contains(&r, &ss));
	assert_false(net_range_contains(&r, NULL));
}

static void
test_ipv4_str(void **state)
{
	char buf[16], small[5];

	(void)state;
	net_ipv4_str(ip("10.0.0.1"), buf, sizeof(buf));
	assert_string_equal(buf, "10.0.0.1");
	net_ipv4_str(0, buf, sizeof(buf));
	assert_string_equal(buf, "0.0.0.0");
	net_ipv4_str(UINT32_MAX, buf, sizeof(buf));
	assert_string_equal(buf, "255.255.255.255");
	net_ipv4_str(ip("192.168.100.200"), small, sizeof(small));
	assert_string_equal(small, "192.");
	net_ipv4_str(1, NULL, 0);
}

static void
assert_hostport(const char *s, const char *host, unsigned port)
{
	char h[64], err[256] = "";
	unsigned p = 161;

	if (net_hostport_parse(s, h, sizeof(h), &p, err, sizeof(err)) != 0)
		fail_msg("'%s' refused: %s", s, err);
	if (strcmp(h, host) != 0 || p != port)
		fail_msg("'%s': expected host '%s' port %u, got '%s' %u", s,
		    host, port, h, p);
}

static void
assert_hostport_bad(const char *s, const char *fragment)
{
	char h[64] = "untouched", err[256] = "";
	unsigned p = 161;

	if (net_hostport_parse(s, h, sizeof(h), &p, err, sizeof(err)) != -1)
		fail_msg("'%s' accepted as '%s' port %u", s, h, p);
	if (strstr(err, fragment) == NULL)
		fail_msg("'%s': message '%s' lacks '%s'", s, err, fragment);
	if (strncmp(err, "bad address '", 13) != 0 ||
	    strchr(err, '\n') != NULL)
		fail_msg("'%s': malformed message '%s'", s, err);
	if (strcmp(h, "untouched") != 0 || p != 161)
		fail_msg("'%s': outputs written on failure", s);
}

static void
test_hostport(void **state)
{
	(void)state;
	/* No port: the caller's default stays. */
	assert_hostport("router1", "router1", 161);
	assert_hostport("10.0.0.1", "10.0.0.1", 161);
	assert_hostport("core-sw_2.example.net", "core-sw_2.example.net", 161);
	assert_hostport("router1:1161", "router1", 1161);
	assert_hostport("10.0.0.1:162", "10.0.0.1", 162);
	assert_hostport("h:1", "h", 1);
	assert_hostport("h:65535", "h", 65535);
	assert_hostport("h:00162", "h", 162);
	assert_hostport("[::1]", "::1", 161);
	assert_hostport("[::1]:1161", "::1", 1161);
	assert_hostport("[2001:db8::1]:162", "2001:db8::1", 162);
	assert_hostport("[fe80::1%eth0]:161", "fe80::1%eth0", 161);
	/* Bare IPv6: the whole string is the host, never a port. */
	assert_hostport("::1", "::1", 161);
	assert_hostport("2001:db8::1", "2001:db8::1", 161);
	assert_hostport("2001:db8::161", "2001:db8::161", 161);
	assert_hostport("fe80::1%eth0", "fe80::1%eth0", 161);
}

static void
test_hostport_bad(void **state)
{
	char h[8], err[256];
	unsigned p = 7;

	(void)state;
	assert_hostport_bad("", "empty");
	assert_hostport_bad(":161", "missing host");
	assert_hostport_bad("[]:161", "missing host");
	assert_hostport_bad("[]", "missing host");
	assert_hostport_bad("router:", "missing port");
	assert_hostport_bad("[::1]:", "missing port");
	assert_hostport_bad("router:0", "port must be a number 1-65535");
	assert_hostport_bad("router:65536", "port must be");
	assert_hostport_bad("router:99999999999999999999", "port must be");
	assert_hostport_bad("router:000161", "port must be");
	assert_hostport_bad("router:-1", "port must be");
	assert_hostport_bad("router:+161", "port must be");
	assert_hostport_bad("router: 161", "port must be");
	assert_hostport_bad("router:161 ", "port must be");
	assert_hostport_bad("router:16x", "port must be");
	assert_hostport_bad("router:0x10", "port must be");
	assert_hostport_bad("[::1]:161:2", "port must be");
	assert_hostport_bad("[::1", "missing ']'");
	assert_hostport_bad("[::1]x", "after ']'");
	assert_hostport_bad("[::1] :161", "after ']'");
	assert_hostport_bad("[router]:161", "only for IPv6");
	assert_hostport_bad("[::1]]:161", "after ']'");
	assert_hostport_bad("ro uter", "may not contain ' '");
	assert_hostport_bad(" router", "may not contain ' '");
	assert_hostport_bad("router ", "may not contain ' '");
	assert_hostport_bad("10.0.0.0/24", "may not contain '/'");
	assert_hostport_bad("user@router:161", "may not contain '@'");
	assert_hostport_bad("router\n", "byte 0x0a");
	assert_hostport_bad("router]:161", "may not contain ']'");
	assert_hostport_bad("[::1[]:161", "may not contain '['");
	assert_hostport_bad("http://router", "port must be");

	/* Host length against the buffer: 7 characters fit in 8. */
	assert_int_equal(net_hostport_parse("abcdefg:9", h, sizeof(h), &p, err,
	    sizeof(err)), 0);
	assert_string_equal(h, "abcdefg");
	assert_int_equal(p, 9);
	assert_int_equal(net_hostport_parse("abcdefgh", h, sizeof(h), &p, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "bad address 'abcdefgh': host is longer "
	    "than 7 characters");
	assert_int_equal(net_hostport_parse(NULL, h, sizeof(h), &p, err,
	    sizeof(err)), -1);
	assert_int_equal(net_hostport_parse("a", h, sizeof(h), &p, NULL, 0),
	    0);
	/* A NULL port pointer just ignores the port. */
	assert_int_equal(net_hostport_parse("a:5", h, sizeof(h), NULL, err,
	    sizeof(err)), 0);
	assert_string_equal(h, "a");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cidr),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_single_and_ranges),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_error_buffer),
		cmocka_unit_test(test_contains),
		cmocka_unit_test(test_ipv4_str),
		cmocka_unit_test(test_hostport),
		cmocka_unit_test(test_hostport_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
