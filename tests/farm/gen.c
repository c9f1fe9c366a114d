/* Generated kinds: switchN, router, host, table:ROWS, edge. Each is built
 * once into a template; counters are dynamic entries whose value comes
 * from the clock, so every poll sees a rate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "farm.h"

#define GEN_MAX_PORTS	4096
#define GEN_MAX_ROWS	200000

#define SYS	"1.3.6.1.2.1.1"
#define IFT	"1.3.6.1.2.1.2.2.1"
#define IFX	"1.3.6.1.2.1.31.1.1.1"

static void
gen_system(struct tb *t, const char *descr, const char *objid)
{
	tb_put_str(t, SYS ".1", 0, 0, descr);
	tb_put_oid(t, SYS ".2", 0, 0, objid);
	tb_put_dyn(t, SYS ".3", 0, 0, DYN_UPTIME, T_TIMETICKS, 0, 0);
	tb_put_str(t, SYS ".4", 0, 0, "ops@example.invalid");
	tb_put_dyn(t, SYS ".5", 0, 0, DYN_SYSNAME, T_OCTETS, 0, 0);
	tb_put_str(t, SYS ".6", 0, 0, "outpost device farm");
	tb_put_int(t, SYS ".7", 0, 0, T_INT, 6);
	tb_put_uint(t, SYS ".8", 0, 0, T_TIMETICKS, 0);
}

static int
port_down(long p)
{
	return p % 7 == 0;
}

/* A counter that grows at rate units/s; 32-bit and 64-bit columns built
 * from the same base and rate stay consistent (the low 32 bits). */
static void
counter(struct tb *t, const char *col, long p, uint8_t tag, uint64_t base,
    double rate)
{
	tb_put_dyn(t, col, p, 0, DYN_COUNTER, tag, base, rate);
}

/* ifTable and ifXTable rows 1..n. full: every column; else the columns a
 * poller reads, to keep 100k-row tables small. */
static void
gen_if(struct tb *t, long n, int full, const char *descr)
{
	long	p;
	char	s[128];

	tb_put_int(t, "1.3.6.1.2.1.2.1", 0, 0, T_INT, n);
	for (p = 1; p <= n; p++) {
		uint8_t	mac[6] = { 0x48, 0x5b, 0x39, 0x3a,
			    (uint8_t)(p >> 8), (uint8_t)p };
		double	r = port_down(p) ? 0 : 12500.0 * (double)(p % 10 + 1);
		uint64_t b = (uint64_t)p * 1000003ULL;

		snprintf(s, sizeof(s), "%s%ld", descr, p);
		tb_put_int(t, IFT ".1", p, 0, T_INT, p);
		tb_put_str(t, IFT ".2", p, 0, s);
		tb_put_int(t, IFT ".3", p, 0, T_INT, 6);
		if (full)
			tb_put_int(t, IFT ".4", p, 0, T_INT, 1500);
		tb_put_uint(t, IFT ".5", p, 0, T_GAUGE32, 1000000000);
		tb_put(t, IFT ".6", p, 0, T_OCTETS, mac, 6);
		tb_put_int(t, IFT ".7", p, 0, T_INT, 1);
		tb_put_int(t, IFT ".8", p, 0, T_INT, port_down(p) ? 2 : 1);
		if (full)
			tb_put_uint(t, IFT ".9", p, 0, T_TIMETICKS, 0);
		counter(t, IFT ".10", p, T_COUNTER32, b, r);
		if (full) {
			counter(t, IFT ".11", p, T_COUNTER32, b, r / 800);
			counter(t, IFT ".12", p, T_COUNTER32, b, r / 9000);
			tb_put_uint(t, IFT ".13", p, 0, T_COUNTER32, 0);
		}
		counter(t, IFT ".14", p, T_COUNTER32, 0, r / 1e6);
		if (full)
			tb_put_uint(t, IFT ".15", p, 0, T_COUNTER32, 0);
		counter(t, IFT ".16", p, T_COUNTER32, b * 3, r * 0.7);
		if (full) {
			counter(t, IFT ".17", p, T_COUNTER32, b, r / 900);
			counter(t, IFT ".18", p, T_COUNTER32, b, r / 9500);
			tb_put_uint(t, IFT ".19", p, 0, T_COUNTER32, 0);
		}
		counter(t, IFT ".20", p, T_COUNTER32, 0, r / 2e6);
		if (full) {
			tb_put_uint(t, IFT ".21", p, 0, T_GAUGE32, 0);
			tb_put_oid(t, IFT ".22", p, 0, "0.0");
		}
		snprintf(s, sizeof(s), "Gi1/0/%ld", p);
		tb_put_str(t, IFX ".1", p, 0, s);
		if (full) {
			counter(t, IFX ".2", p, T_COUNTER32, b, r / 9000);
			counter(t, IFX ".3", p, T_COUNTER32, b, r / 20000);
			counter(t, IFX ".4", p, T_COUNTER32, b, r / 9500);
			counter(t, IFX ".5", p, T_COUNTER32, b, r / 21000);
		}
		counter(t, IFX ".6", p, T_COUNTER64, b, r);
		if (full) {
			counter(t, IFX ".7", p, T_COUNTER64, b, r / 800);
			counter(t, IFX ".8", p, T_COUNTER64, b, r / 9000);
			counter(t, IFX ".9", p, T_COUNTER64, b, r / 20000);
		}
		counter(t, IFX ".10", p, T_COUNTER64, b * 3, r * 0.7);
		if (full) {
			counter(t, IFX ".11", p, T_COUNTER64, b, r / 900);
			counter(t, IFX ".12", p, T_COUNTER64, b, r / 9500);
			counter(t, IFX ".13", p, T_COUNTER64, b, r / 21000);
			tb_put_int(t, IFX ".14", p, 0, T_INT, 1);
		}
		tb_put_uint(t, IFX ".15", p, 0, T_GAUGE32, 1000);
		if (full) {
			tb_put_int(t, IFX ".16", p, 0, T_INT, 2);
			tb_put_int(t, IFX ".17", p, 0, T_INT, 1);
		}
		snprintf(s, sizeof(s), p % 3 ? "uplink %ld" : "", p);
		tb_put_str(t, IFX ".18", p, 0, s);
		if (full)
			tb_put_uint(t, IFX ".19", p, 0, T_TIMETICKS, 0);
	}
}

static void
gen_router(struct tb *t)
{
	long	i;
	char	idx[64];

	gen_system(t, "Outpost farm router", "1.3.6.1.4.1.8072.3.2.10");
	gen_if(t, 8, 1, "GigabitEthernet0/");
	tb_put_int(t, "1.3.6.1.2.1.4.1", 0, 0, T_INT, 1);
	for (i = 1; i <= 8; i++) {
		uint8_t	a[4] = { 10, (uint8_t)i, 0, 1 }, m[4] = { 255, 255, 255, 0 };
		uint8_t	bc[1] = { 1 };

		snprintf(idx, sizeof(idx), "1.3.6.1.2.1.4.20.1.1.10.%ld.0.1", i);
		tb_put(t, idx, -1, 0, T_IPADDR, a, 4);
		snprintf(idx, sizeof(idx), "1.3.6.1.2.1.4.20.1.2.10.%ld.0.1", i);
		tb_put_int(t, idx, -1, 0, T_INT, i);
		snprintf(idx, sizeof(idx), "1.3.6.1.2.1.4.20.1.3.10.%ld.0.1", i);
		tb_put(t, idx, -1, 0, T_IPADDR, m, 4);
		snprintf(idx, sizeof(idx), "1.3.6.1.2.1.4.20.1.4.10.%ld.0.1", i);
		tb_put_int(t, idx, -1, 0, T_INT, bc[0]);
	}
	for (i = 0; i < 64; i++) {
		uint8_t	d[4] = { 10, (uint8_t)(100 + i / 8), (uint8_t)(i % 8), 0 };
		uint8_t	nh[4] = { 10, (uint8_t)(i % 8 + 1), 0, 254 };
		uint8_t	m[4] = { 255, 255, 255, 0 };
		char	ix[32];
		static const char *const col[] = { "1", "2", "3", "7", "8", "9", "11" };
		size_t	c;

		snprintf(ix, sizeof(ix), "%u.%u.%u.%u", d[0], d[1], d[2], d[3]);
		for (c = 0; c < sizeof(col) / sizeof(col[0]); c++) {
			snprintf(idx, sizeof(idx), "1.3.6.1.2.1.4.21.1.%s.%s", col[c], ix);
			switch (c) {
			case 0: tb_put(t, idx, -1, 0, T_IPADDR, d, 4); break;
			case 1: tb_put_int(t, idx, -1, 0, T_INT, i % 8 + 1); break;
			case 2: tb_put_int(t, idx, -1, 0, T_INT, i % 5); break;
			case 3: tb_put(t, idx, -1, 0, T_IPADDR, nh, 4); break;
			case 4: tb_put_int(t, idx, -1, 0, T_INT, 4); break;
			case 5: tb_put_int(t, idx, -1, 0, T_INT, 2); break;
			default: tb_put(t, idx, -1, 0, T_IPADDR, m, 4); break;
			}
		}
	}
}

static void
gen_host(struct tb *t)
{
	static const char *const sw[] = { "init", "systemd-journald", "sshd",
	    "\xb5Torrent", "caf\xe9-daemon", "outpost", "snmpd", "cron" };
	static const char *const st[] = { "Physical memory", "Swap space", "/",
	    "/var" };
	long	i;

	gen_system(t, "Linux farm-host 6.1.0 x86_64", "1.3.6.1.4.1.8072.3.2.10");
	gen_if(t, 2, 1, "eth");
	tb_put_dyn(t, "1.3.6.1.2.1.25.1.1.0", -1, 0, DYN_UPTIME, T_TIMETICKS, 0, 0);
	tb_put_int(t, "1.3.6.1.2.1.25.1.6.0", -1, 0, T_GAUGE32, 120);
	tb_put_int(t, "1.3.6.1.2.1.25.2.2.0", -1, 0, T_INT, 8155800);
	for (i = 1; i <= 4; i++) {
		char ty[64];

		snprintf(ty, sizeof(ty), "1.3.6.1.2.1.25.2.1.%d", i <= 2 ? (int)i + 1 : 4);
		tb_put_int(t, "1.3.6.1.2.1.25.2.3.1.1", i, 0, T_INT, i);
		tb_put_oid(t, "1.3.6.1.2.1.25.2.3.1.2", i, 0, ty);
		tb_put_str(t, "1.3.6.1.2.1.25.2.3.1.3", i, 0, st[i - 1]);
		tb_put_int(t, "1.3.6.1.2.1.25.2.3.1.4", i, 0, T_INT, i <= 2 ? 1024 : 4096);
		tb_put_int(t, "1.3.6.1.2.1.25.2.3.1.5", i, 0, T_INT, 2000000 * i);
		tb_put_int(t, "1.3.6.1.2.1.25.2.3.1.6", i, 0, T_INT, 700000 * i);
	}
	for (i = 1; i <= 4; i++)
		tb_put_int(t, "1.3.6.1.2.1.25.3.3.1.2", 195 + i, 0, T_INT, 5 * i);
	for (i = 0; i < 8; i++) {
		long	 pid = 1 + i * 97;
		char	 path[96];

		snprintf(path, sizeof(path), "/usr/sbin/%s", sw[i]);
		tb_put_int(t, "1.3.6.1.2.1.25.4.2.1.1", pid, 0, T_INT, pid);
		tb_put_str(t, "1.3.6.1.2.1.25.4.2.1.2", pid, 0, sw[i]);
		tb_put_oid(t, "1.3.6.1.2.1.25.4.2.1.3", pid, 0, "0.0");
		tb_put_str(t, "1.3.6.1.2.1.25.4.2.1.4", pid, 0, path);
		tb_put_str(t, "1.3.6.1.2.1.25.4.2.1.5", pid, 0, "");
		tb_put_int(t, "1.3.6.1.2.1.25.4.2.1.6", pid, 0, T_INT, 4);
		tb_put_int(t, "1.3.6.1.2.1.25.4.2.1.7", pid, 0, T_INT, 1);
	}
}

#define EDGE	"1.3.6.1.4.1.8072.9999.9999.1"

static void
gen_edge(struct tb *t)
{
	static const uint64_t c64[] = { 0, 4294967295ULL, 9007199254740993ULL,
	    9223372036854775808ULL, 18446744073709551615ULL };
	static const uint8_t mac[6] = { 0x48, 0x5b, 0x39, 0x3a, 0xbb, 0x68 };
	static const uint8_t ff[4] = { 0xff, 0xff, 0xff, 0xff };
	static const uint8_t ip[4] = { 192, 0, 2, 1 };
	static const uint8_t opq[7] = { 0x9f, 0x78, 0x04, 0x3e, 0xeb, 0x85, 0x1f };
	size_t	 i;

	gen_system(t, "Outpost farm edge-case device", "1.3.6.1.4.1.8072.3.2.10");
	gen_if(t, 8, 1, "port");
	for (i = 0; i < 5; i++) {
		tb_put_uint(t, EDGE ".1", (long)i + 1, 0, T_COUNTER64, c64[i]);
	}
	/* wrapping counters: 64-bit 1000 s short of 2^64, 32-bit 100 s short */
	tb_put_dyn(t, EDGE ".2", 1, 0, DYN_COUNTER, T_COUNTER64,
	    UINT64_MAX - 1000000000ULL, 1000000.0);
	tb_put_dyn(t, EDGE ".2", 2, 0, DYN_COUNTER, T_COUNTER32,
	    0xffffffffULL - 100000000ULL, 1000000.0);
	tb_put(t, EDGE ".3", 1, 0, T_OCTETS, mac, 6);
	tb_put_str(t, EDGE ".3", 2, 0, "\xb5Torrent");
	tb_put_str(t, EDGE ".3", 3, 0, "Gr\xc3\xbc\xc3\x9f" "e \xe2\x9c\x93");
	tb_put(t, EDGE ".3", 4, 0, T_OCTETS, "eth0\0", 5);
	tb_put(t, EDGE ".3", 5, 0, T_OCTETS, "", 0);
	tb_put(t, EDGE ".3", 6, 0, T_OCTETS, ff, 4);
	tb_put_str(t, EDGE ".3", 7, 0, "plain text");
	tb_put(t, EDGE ".4", 1, 0, T_IPADDR, ip, 4);
	tb_put_oid(t, EDGE ".4", 2, 0, "1.3.6.1.4.1.8072.3.2.10");
	tb_put_uint(t, EDGE ".4", 3, 0, T_TIMETICKS, 4294967295ULL);
	tb_put(t, EDGE ".4", 4, 0, T_OPAQUE, opq, sizeof(opq));
	tb_put_uint(t, EDGE ".4", 5, 0, T_GAUGE32, 0);
	tb_put_uint(t, EDGE ".4", 6, 0, T_GAUGE32, 4294967295ULL);
	tb_put_int(t, EDGE ".4", 7, 0, T_INT, INT32_MIN);
	tb_put_int(t, EDGE ".4", 8, 0, T_INT, INT32_MAX);
	tb_put_uint(t, EDGE ".4", 9, 0, T_COUNTER32, 4294967295ULL);
}

struct farm_tmpl *
gen_kind(const char *kind, char *err, size_t errlen)
{
	struct tb		*t;
	struct farm_tmpl	*m;
	const char		*prefix;
	char			*end, descr[128];
	long			 n;

	if ((t = tb_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (strncmp(kind, "switch", 6) == 0) {
		n = strtol(kind + 6, &end, 10);
		if (end == kind + 6 || *end || n < 1 || n > GEN_MAX_PORTS) {
			snprintf(err, errlen, "%s: switchN needs 1 <= N <= %d",
			    kind, GEN_MAX_PORTS);
			tb_free(t);
			return NULL;
		}
		snprintf(descr, sizeof(descr), "Outpost farm switch, %ld ports", n);
		gen_system(t, descr, "1.3.6.1.4.1.9.1.516");
		gen_if(t, n, 1, "GigabitEthernet1/0/");
		prefix = "sw";
	} else if (strncmp(kind, "table:", 6) == 0) {
		n = strtol(kind + 6, &end, 10);
		if (end == kind + 6 || *end || n < 1 || n > GEN_MAX_ROWS) {
			snprintf(err, errlen, "%s: table:ROWS needs 1 <= ROWS <= %d",
			    kind, GEN_MAX_ROWS);
			tb_free(t);
			return NULL;
		}
		gen_system(t, "Outpost farm big table", "1.3.6.1.4.1.8072.3.2.10");
		gen_if(t, n, 0, "if");
		prefix = "tbl";
	} else if (strcmp(kind, "router") == 0) {
		gen_router(t);
		prefix = "rt";
	} else if (strcmp(kind, "host") == 0) {
		gen_host(t);
		prefix = "host";
	} else if (strcmp(kind, "edge") == 0) {
		gen_edge(t);
		prefix = "edge";
	} else {
		snprintf(err, errlen, "%s: unknown kind (switchN, router, host, "
		    "table:ROWS, edge, or a .snmprec[.gz] path)", kind);
		tb_free(t);
		return NULL;
	}
	if ((m = tb_finish(t, kind, prefix)) == NULL)
		snprintf(err, errlen, "%s: out of memory", kind);
	return m;
}
