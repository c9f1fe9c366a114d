/*
 * OIDs and values. Target machines have no MIB files, so everything is
 * numeric; a small table names the common system and interface objects
 * for display and for typing convenience on the command line.
 */
#include "snmp/snmp_int.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct oid_name {
	const char *name;
	const char *oid;
};

/* Longest prefix wins when naming, so table order does not matter. */
static const struct oid_name oid_names[] = {
	{ "mib-2",        "1.3.6.1.2.1" },
	{ "system",       "1.3.6.1.2.1.1" },
	{ "sysDescr",     "1.3.6.1.2.1.1.1" },
	{ "sysObjectID",  "1.3.6.1.2.1.1.2" },
	{ "sysUpTime",    "1.3.6.1.2.1.1.3" },
	{ "sysContact",   "1.3.6.1.2.1.1.4" },
	{ "sysName",      "1.3.6.1.2.1.1.5" },
	{ "sysLocation",  "1.3.6.1.2.1.1.6" },
	{ "sysServices",  "1.3.6.1.2.1.1.7" },
	{ "interfaces",   "1.3.6.1.2.1.2" },
	{ "ifNumber",     "1.3.6.1.2.1.2.1" },
	{ "ifTable",      "1.3.6.1.2.1.2.2" },
	{ "ifEntry",      "1.3.6.1.2.1.2.2.1" },
	{ "ifIndex",      "1.3.6.1.2.1.2.2.1.1" },
	{ "ifDescr",      "1.3.6.1.2.1.2.2.1.2" },
	{ "ifType",       "1.3.6.1.2.1.2.2.1.3" },
	{ "ifMtu",        "1.3.6.1.2.1.2.2.1.4" },
	{ "ifSpeed",      "1.3.6.1.2.1.2.2.1.5" },
	{ "ifPhysAddress", "1.3.6.1.2.1.2.2.1.6" },
	{ "ifAdminStatus", "1.3.6.1.2.1.2.2.1.7" },
	{ "ifOperStatus", "1.3.6.1.2.1.2.2.1.8" },
	{ "ifLastChange", "1.3.6.1.2.1.2.2.1.9" },
	{ "ifInOctets",   "1.3.6.1.2.1.2.2.1.10" },
	{ "ifInUcastPkts", "1.3.6.1.2.1.2.2.1.11" },
	{ "ifInDiscards", "1.3.6.1.2.1.2.2.1.13" },
	{ "ifInErrors",   "1.3.6.1.2.1.2.2.1.14" },
	{ "ifOutOctets",  "1.3.6.1.2.1.2.2.1.16" },
	{ "ifOutUcastPkts", "1.3.6.1.2.1.2.2.1.17" },
	{ "ifOutDiscards", "1.3.6.1.2.1.2.2.1.19" },
	{ "ifOutErrors",  "1.3.6.1.2.1.2.2.1.20" },
	{ "ifXTable",     "1.3.6.1.2.1.31.1.1" },
	{ "ifXEntry",     "1.3.6.1.2.1.31.1.1.1" },
	{ "ifName",       "1.3.6.1.2.1.31.1.1.1.1" },
	{ "ifHCInOctets", "1.3.6.1.2.1.31.1.1.1.6" },
	{ "ifHCInUcastPkts", "1.3.6.1.2.1.31.1.1.1.7" },
	{ "ifHCOutOctets", "1.3.6.1.2.1.31.1.1.1.10" },
	{ "ifHCOutUcastPkts", "1.3.6.1.2.1.31.1.1.1.11" },
	{ "ifHighSpeed",  "1.3.6.1.2.1.31.1.1.1.15" },
	{ "ifAlias",      "1.3.6.1.2.1.31.1.1.1.18" },
	{ "hrSystemUptime", "1.3.6.1.2.1.25.1.1" },
	{ "hrStorageTable", "1.3.6.1.2.1.25.2.3" },
	{ "hrProcessorLoad", "1.3.6.1.2.1.25.3.3.1.2" },
};

/* Digits-and-dots into sub-identifiers; -1 on anything else. */
static int
oid_parse_numeric(const char *s, oid *out, size_t *len, size_t max)
{
	size_t n = *len;

	if (*s == '.')
		s++;
	if (*s == '\0')
		return -1;
	while (*s != '\0') {
		char *end;
		unsigned long long v;

		if (!isdigit((unsigned char)*s) || n >= max)
			return -1;
		errno = 0;
		v = strtoull(s, &end, 10);
		if (errno != 0 || v > 0xffffffffull)
			return -1;
		out[n++] = (oid)v;
		s = end;
		if (*s == '.') {
			s++;
			if (*s == '\0')
				return -1;
		} else if (*s != '\0') {
			return -1;
		}
	}
	*len = n;
	return 0;
}

static int
oid_parse(const char *s, size_t min_arcs, oid *out, size_t *outlen, char *err,
    size_t errlen)
{
	size_t len = 0, namelen;
	const char *dot;

	if (s == NULL || *s == '\0') {
		snprintf(err, errlen, "empty OID: expected dotted numbers such as 1.3.6.1.2.1.1.5.0");
		return -1;
	}
	if (isalpha((unsigned char)*s)) {
		dot = strchr(s, '.');
		namelen = dot ? (size_t)(dot - s) : strlen(s);
		for (size_t i = 0; i < countof(oid_names); i++) {
			if (strlen(oid_names[i].name) != namelen ||
			    strncmp(oid_names[i].name, s, namelen) != 0)
				continue;
			oid_parse_numeric(oid_names[i].oid, out, &len, MAX_OID_LEN);
			if (dot && oid_parse_numeric(dot + 1, out, &len, MAX_OID_LEN) == -1)
				break;
			*outlen = len;
			return 0;
		}
		snprintf(err, errlen, "bad OID '%.64s': use numeric OIDs (no MIB "
		    "files are loaded) or a built-in name such as sysName.0", s);
		return -1;
	}
	if (oid_parse_numeric(s, out, &len, MAX_OID_LEN) == -1 || len < min_arcs) {
		snprintf(err, errlen, "bad OID '%.64s': expected dotted numbers "
		    "such as 1.3.6.1.2.1.1.5.0 (at most %d parts, each < 2^32)",
		    s, MAX_OID_LEN);
		return -1;
	}
	/* X.690 8.19.4: the first two arcs share one subidentifier. */
	if (out[0] > 2 || (len > 1 && ((out[0] < 2 && out[1] > 39) ||
	    (out[0] == 2 && out[1] > 0xffffffffu - 80)))) {
		snprintf(err, errlen, "bad OID '%.64s': the first part must be 0, 1 "
		    "or 2 (and the second below 40 after 0 or 1)", s);
		return -1;
	}
	*outlen = len;
	return 0;
}

int
osnmp_oid_parse(const char *s, oid *out, size_t *outlen, char *err, size_t errlen)
{
	return oid_parse(s, 2, out, outlen, err, errlen);
}

/* A walk root may be one arc: `walk HOST 1` walks everything under iso,
 * as net-snmp's tools do. */
int
osnmp_oid_parse_root(const char *s, oid *out, size_t *outlen, char *err,
    size_t errlen)
{
	return oid_parse(s, 1, out, outlen, err, errlen);
}

void
osnmp_oid_str(const oid *o, size_t len, char *buf, size_t buflen)
{
	size_t off = 0;

	if (buflen == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < len && off < buflen; i++) {
		int n = snprintf(buf + off, buflen - off, ".%" PRIu32,
		    (uint32_t)o[i]);
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

const char *
osnmp_oid_name(const oid *o, size_t len, char *buf, size_t buflen)
{
	const struct oid_name *best = NULL;
	size_t bestlen = 0;

	for (size_t i = 0; i < countof(oid_names); i++) {
		oid p[MAX_OID_LEN];
		size_t plen = 0;
		oid_parse_numeric(oid_names[i].oid, p, &plen, MAX_OID_LEN);
		if (plen > len || plen <= bestlen ||
		    snmp_oid_compare(p, plen, o, plen) != 0)
			continue;
		best = &oid_names[i];
		bestlen = plen;
	}
	if (best == NULL)
		return NULL;
	snprintf(buf, buflen, "%s", best->name);
	if (bestlen < len) {
		size_t n = strlen(buf);
		osnmp_oid_str(o + bestlen, len - bestlen, buf + n,
		    buflen > n ? buflen - n : 0);
	}
	return buf;
}

#define VB_LINE_MAX (1u << 20)

/*
 * Whether net-snmp's guess prints these octets as STRING: every byte
 * passes isprint() or isspace() in the C locale. net-snmp asks the C
 * runtime, whose answer for bytes above 0x7f differs (glibc: no; Wine's
 * msvcrt: yes for 0xb2 in a MAC address), so the same device printed
 * differently on Windows. The C locale's answer, written out here,
 * decides on every platform.
 */
static bool
octets_c_printable(const u_char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= 0x20 && p[i] <= 0x7e) || (p[i] >= '\t' && p[i] <= '\r')))
			return false;
	return true;
}

const char *
osnmp_vb_line(const netsnmp_variable_list *vb)
{
	static u_char *buf;
	static size_t buflen;
	size_t outlen = 0;
	int format = 0, ok;

	if (buf == NULL) {
		buflen = 4096;
		buf = xcalloc(1, buflen);
	}
	if (vb->type == ASN_OCTET_STR) {
		format = netsnmp_ds_get_int(NETSNMP_DS_LIBRARY_ID,
		    NETSNMP_DS_LIB_STRING_OUTPUT_FORMAT);
		netsnmp_ds_set_int(NETSNMP_DS_LIBRARY_ID,
		    NETSNMP_DS_LIB_STRING_OUTPUT_FORMAT,
		    octets_c_printable(vb->val.string, vb->val_len) ?
		    NETSNMP_STRING_OUTPUT_ASCII : NETSNMP_STRING_OUTPUT_HEX);
	}
	/* allow_realloc grows buf as needed; cap it so one odd value
	 * cannot take the process's memory. */
	ok = sprint_realloc_variable(&buf, &buflen, &outlen, 1, vb->name,
	    vb->name_length, vb);
	if (vb->type == ASN_OCTET_STR)
		netsnmp_ds_set_int(NETSNMP_DS_LIBRARY_ID,
		    NETSNMP_DS_LIB_STRING_OUTPUT_FORMAT, format);
	if (!ok || buflen > VB_LINE_MAX)
		return NULL;
	return (const char *)buf;
}

bool
osnmp_vb_is_exception(const netsnmp_variable_list *vb)
{
	return vb->type == SNMP_NOSUCHOBJECT || vb->type == SNMP_NOSUCHINSTANCE ||
	    vb->type == SNMP_ENDOFMIBVIEW;
}

const char *
osnmp_vb_type(const netsnmp_variable_list *vb)
{
	switch (vb->type) {
	case ASN_INTEGER:         return "INTEGER";
	case ASN_OCTET_STR:       return "STRING";
	case ASN_OBJECT_ID:       return "OID";
	case ASN_IPADDRESS:       return "IpAddress";
	case ASN_COUNTER:         return "Counter32";
	case ASN_GAUGE:           return "Gauge32";
	case ASN_TIMETICKS:       return "Timeticks";
	case ASN_UINTEGER:        return "UInteger32";
	case ASN_OPAQUE:          return "Opaque";
	case ASN_COUNTER64:       return "Counter64";
	case ASN_NULL:            return "NULL";
	case SNMP_NOSUCHOBJECT:   return "noSuchObject";
	case SNMP_NOSUCHINSTANCE: return "noSuchInstance";
	case SNMP_ENDOFMIBVIEW:   return "endOfMibView";
	default:                  return "unknown";
	}
}

/* Control characters (but TAB, LF, CR) make octets binary for display. */
static bool
octets_binary(const u_char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' && p[i] != '\r') ||
		    p[i] == 0x7f)
			return true;
	return false;
}

/* A display value (scan's sysName, sysDescr): numbers in decimal, OIDs
 * dotted, strings as text, one trailing NUL (some agents add it) dropped
 * and bytes that are not UTF-8 shown as U+FFFD; binary strings (control
 * characters) as hex "0A 1B ...". Always valid UTF-8, cut to buflen on
 * a character boundary. docs/protocol.md, "Values". */
int
osnmp_vb_value(const netsnmp_variable_list *vb, char *buf, size_t buflen)
{
	size_t n;

	if (buflen < 8)
		return -1;
	switch (vb->type) {
	case ASN_INTEGER:
		return snprintf(buf, buflen, "%ld", *vb->val.integer);
	case ASN_COUNTER:
	case ASN_GAUGE:
	case ASN_TIMETICKS:
		return snprintf(buf, buflen, "%lu", (unsigned long)(*vb->val.integer & 0xffffffffu));
	case ASN_COUNTER64: {
		uint64_t v = ((uint64_t)vb->val.counter64->high << 32) |
		    (vb->val.counter64->low & 0xffffffffu);
		return snprintf(buf, buflen, "%" PRIu64, v);
	}
	case ASN_IPADDRESS:
		if (vb->val_len != 4)
			break;
		return snprintf(buf, buflen, "%u.%u.%u.%u", vb->val.string[0],
		    vb->val.string[1], vb->val.string[2], vb->val.string[3]);
	case ASN_OBJECT_ID:
		osnmp_oid_str(vb->val.objid, vb->val_len / sizeof(oid), buf, buflen);
		return (int)strlen(buf);
	case ASN_OCTET_STR:
		n = vb->val_len;
		if (n > 0 && vb->val.string[n - 1] == '\0')
			n--;
		if (octets_binary(vb->val.string, n))
			break;
		{
			size_t len = n;
			n = len < buflen ? len : buflen - 1;
			while (n > 0 && n < len && (vb->val.string[n] & 0xc0) == 0x80)
				n--;
			memcpy(buf, vb->val.string, n);
			buf[n] = '\0';
			utf8_repair(buf, buflen);   /* Latin-1 and such: U+FFFD */
			return (int)strlen(buf);
		}
	case ASN_OPAQUE:
		break;
	default:
		return snprintf(buf, buflen, "%s", "");
	}
	n = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < vb->val_len && n + 4 < buflen; i++)
		n += (size_t)snprintf(buf + n, buflen - n, i ? " %02X" : "%02X",
		    vb->val.string[i]);
	return (int)n;
}
