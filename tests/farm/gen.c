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

enum col_kind { K_INDEX, K_DESCR, K_INT, K_GAUGE, K_MAC, K_OPER, K_TT0,
	K_C32, K_C64, K_NAME, K_ALIAS, K_OID0 };

/* ifTable then ifXTable, in OID order, so rows come out sorted. Counters
 * grow at mul * the port's rate; 32- and 64-bit columns with the same base
 * and rate stay consistent (the low 32 bits). full == 0: poller columns
 * only, to keep 100k-row tables small. */
static const struct col {
	const char	*oid;
	int		 full_only;
	enum col_kind	 kind;
	int64_t		 val;		/* K_INT, K_GAUGE; base multiple for K_C* */
	double		 mul;
} if_cols[] = {
	{ IFT ".1", 0, K_INDEX, 0, 0 }, { IFT ".2", 0, K_DESCR, 0, 0 },
	{ IFT ".3", 0, K_INT, 6, 0 }, { IFT ".4", 1, K_INT, 1500, 0 },
	{ IFT ".5", 0, K_GAUGE, 1000000000, 0 }, { IFT ".6", 0, K_MAC, 0, 0 },
	{ IFT ".7", 0, K_INT, 1, 0 }, { IFT ".8", 0, K_OPER, 0, 0 },
	{ IFT ".9", 1, K_TT0, 0, 0 }, { IFT ".10", 0, K_C32, 1, 1 },
	{ IFT ".11", 1, K_C32, 1, 1 / 800. }, { IFT ".12", 1, K_C32, 1, 1 / 9000. },
	{ IFT ".13", 1, K_C32, 0, 0 }, { IFT ".14", 0, K_C32, 0, 1e-6 },
	{ IFT ".15", 1, K_C32, 0, 0 }, { IFT ".16", 0, K_C32, 3, 0.7 },
	{ IFT ".17", 1, K_C32, 1, 1 / 900. }, { IFT ".18", 1, K_C32, 1, 1 / 9500. },
	{ IFT ".19", 1, K_C32, 0, 0 }, { IFT ".20", 0, K_C32, 0, 1 / 2e6 },
	{ IFT ".21", 1, K_GAUGE, 0, 0 }, { IFT ".22", 1, K_OID0, 0, 0 },
	{ IFX ".1", 0, K_NAME, 0, 0 }, { IFX ".2", 1, K_C32, 1, 1 / 9000. },
	{ IFX ".3", 1, K_C32, 1, 1 / 20000. }, { IFX ".4", 1, K_C32, 1, 1 / 9500. },
	{ IFX ".5", 1, K_C32, 1, 1 / 21000. }, { IFX ".6", 0, K_C64, 1, 1 },
	{ IFX ".7", 1, K_C64, 1, 1 / 800. }, { IFX ".8", 1, K_C64, 1, 1 / 9000. },
	{ IFX ".9", 1, K_C64, 1, 1 / 20000. }, { IFX ".10", 0, K_C64, 3, 0.7 },
	{ IFX ".11", 1, K_C64, 1, 1 / 900. }, { IFX ".12", 1, K_C64, 1, 1 / 9500. },
	{ IFX ".13", 1, K_C64, 1, 1 / 21000. }, { IFX ".14", 1, K_INT, 1, 0 },
	{ IFX ".15", 0, K_GAUGE, 1000, 0 }, { IFX ".16", 1, K_INT, 2, 0 },
	{ IFX ".17", 1, K_INT, 1, 0 }, { IFX ".18", 0, K_ALIAS, 0, 0 },
	{ IFX ".19", 1, K_TT0, 0, 0 },
};

static void
if_cell(struct tb *t, const struct col *c, const uint8_t *oid, size_t olen,
    long p, const char *descr)
{
	uint8_t		 v[16];
	char		 s[128];
	double		 r = port_down(p) ? 0 : 12500.0 * (double)(p % 10 + 1);
	uint64_t	 b = (uint64_t)p * 1000003ULL * (uint64_t)c->val;
	struct farm_dyn	 d = { DYN_COUNTER, T_COUNTER32, b, r * c->mul };
	size_t		 n;

	switch (c->kind) {
	case K_INDEX:
	case K_INT:
	case K_OPER:
		n = ber_int_tlv(v, T_INT, c->kind == K_INDEX ? p :
		    c->kind == K_OPER ? (port_down(p) ? 2 : 1) : c->val);
		tb_add(t, oid, olen, T_INT, v + 2, n - 2);
		break;
	case K_GAUGE:
	case K_TT0:
		n = ber_uint_tlv(v, c->kind == K_GAUGE ? T_GAUGE32 : T_TIMETICKS,
		    (uint64_t)c->val);
		tb_add(t, oid, olen, v[0], v + 2, n - 2);
		break;
	case K_MAC:
		v[0] = 0x48, v[1] = 0x5b, v[2] = 0x39, v[3] = 0x3a;
		v[4] = (uint8_t)(p >> 8), v[5] = (uint8_t)p;
		tb_add(t, oid, olen, T_OCTETS, v, 6);
		break;
	case K_DESCR:
	case K_NAME:
	case K_ALIAS:
		if (c->kind == K_DESCR)
			snprintf(s, sizeof(s), "%s%ld", descr, p);
		else if (c->kind == K_NAME)
			snprintf(s, sizeof(s), "Gi1/0/%ld", p);
		else if (p % 3)
			snprintf(s, sizeof(s), "uplink %ld", p);
		else
			s[0] = '\0';	/* every third alias empty */
		tb_add(t, oid, olen, T_OCTETS, s, strlen(s));
		break;
	case K_OID0:
		v[0] = 0;	/* 0.0 */
		tb_add(t, oid, olen, T_OID, v, 1);
		break;
	case K_C32:
	case K_C64:
		if (c->kind == K_C64)
			d.tag = T_COUNTER64;
		if (d.rate == 0 && b == 0) {	/* a constant zero counter */
			n = ber_uint_tlv(v, d.tag, 0);
			tb_add(t, oid, olen, d.tag, v + 2, n - 2);
		} else
			tb_add_dyn(t, oid, olen, &d);
		break;
	}
}

static void
gen_if(struct tb *t, long n, int full, const char *descr)
{
	uint8_t	oid[64];
	size_t	c;
	long	p;
	int	plen;

	tb_put_int(t, "1.3.6.1.2.1.2.1", 0, 0, T_INT, n);
	for (c = 0; c < sizeof(if_cols) / sizeof(if_cols[0]); c++) {
		if (if_cols[c].full_only && !full)
			continue;
		plen = ber_oid_parse(if_cols[c].oid, oid, sizeof(oid) - 8);
		for (p = 1; p <= n; p++) {
			size_t	len = (size_t)plen;
			uint8_t	tmp[5];
			int	k = 0;
			long	x = p;

			do {		/* the row index as a sub-identifier */
				tmp[k++] = x & 0x7f;
				x >>= 7;
			} while (x);
			while (k--)
				oid[len++] = tmp[k] | (k ? 0x80 : 0);
			if_cell(t, &if_cols[c], oid, len, p, descr);
		}
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
