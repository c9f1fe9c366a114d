/*
 * SNMP values as JSON: the one encoding every Outpost JSON output uses
 * (get/walk --json, command results, poll samples); docs/protocol.md,
 * "Values". Two rules:
 *
 * - An OCTET STRING is "STRING" text only when its bytes are strict
 *   UTF-8 without control characters other than TAB, LF and CR;
 *   anything else is "Hex-STRING", its bytes as upper-case hex pairs
 *   separated by spaces ("48 5B 39 3A BB 68", net-snmp's Hex-STRING on
 *   one line). Text stays readable, bytes stay recoverable, and the JSON
 *   is always valid UTF-8 (RFC 8259).
 * - Integers are JSON numbers written from the integer as raw text,
 *   never through a double (cJSON's numbers are doubles, exact only
 *   below 2^53; a Counter64 goes to 2^64-1).
 */
#include "snmp/snmp_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool
osnmp_octets_are_text(const u_char *p, size_t n)
{
	size_t i = 0, k;
	uint32_t c;

	while (i < n) {
		if ((k = utf8_seq(p + i, n - i, &c)) == 0)
			return false;
		/* C0 (but TAB, LF, CR), DEL and C1 controls. */
		if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') ||
		    (c >= 0x7f && c <= 0x9f))
			return false;
		i += k;
	}
	return true;
}

/* "48 5B 39": 3 bytes of text per octet. */
static char *
octets_hex(const u_char *p, size_t n)
{
	static const char digits[] = "0123456789ABCDEF";
	char *s = malloc(n ? 3 * n : 1), *o = s;

	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			*o++ = ' ';
		*o++ = digits[p[i] >> 4];
		*o++ = digits[p[i] & 0x0f];
	}
	*o = '\0';
	return s;
}

static cJSON *
json_octets(const u_char *p, size_t n, bool text)
{
	char *s;
	cJSON *j;

	if (text) {
		if ((s = malloc(n + 1)) == NULL)
			return NULL;
		memcpy(s, p, n);
		s[n] = '\0';
	} else if ((s = octets_hex(p, n)) == NULL) {
		return NULL;
	}
	j = cJSON_CreateString(s);
	free(s);
	return j;
}

static cJSON *
json_uint(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return cJSON_CreateRaw(buf);
}

static cJSON *
json_int(int64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRId64, v);
	return cJSON_CreateRaw(buf);
}

static uint64_t
counter64(const struct counter64 *c)
{
	return (uint64_t)(c->high & 0xffffffffu) << 32 | (c->low & 0xffffffffu);
}

/* A float or double as the shortest text that reads back the same;
 * JSON has no NaN or infinity. */
static cJSON *
json_real(double d, int digits)
{
	char buf[40];

	if (!isfinite(d))
		return cJSON_CreateNull();
	snprintf(buf, sizeof(buf), "%.*g", digits, d);
	return cJSON_CreateRaw(buf);
}

cJSON *
osnmp_vb_json_value(const netsnmp_variable_list *vb, const char **type)
{
	const u_char *p = vb->val.string;
	size_t n = vb->val_len;
	char buf[MAX_OID_LEN * 11];

	*type = osnmp_vb_type(vb);
	switch (vb->type) {
	case ASN_INTEGER:
		return json_int(*vb->val.integer);
	case ASN_COUNTER:
	case ASN_GAUGE:
	case ASN_TIMETICKS:
	case ASN_UINTEGER:
		return json_uint((uint64_t)*vb->val.integer & 0xffffffffu);
	case ASN_COUNTER64:
		return json_uint(counter64(vb->val.counter64));
	case ASN_OCTET_STR:
		if (osnmp_octets_are_text(p, n))
			return json_octets(p, n, true);
		*type = "Hex-STRING";
		return json_octets(p, n, false);
	case ASN_OPAQUE:
		return json_octets(p, n, false);
	case ASN_IPADDRESS:
		if (n != 4) {
			*type = "Hex-STRING";   /* malformed: keep the bytes */
			return json_octets(p, n, false);
		}
		snprintf(buf, sizeof(buf), "%u.%u.%u.%u", p[0], p[1], p[2], p[3]);
		return cJSON_CreateString(buf);
	case ASN_OBJECT_ID:
		osnmp_oid_str(vb->val.objid, n / sizeof(oid), buf, sizeof(buf));
		return cJSON_CreateString(buf);
#ifdef NETSNMP_WITH_OPAQUE_SPECIAL_TYPES
	/* net-snmp unwraps these from an Opaque (draft-perkins-opaque). */
	case ASN_OPAQUE_COUNTER64:
	case ASN_OPAQUE_U64:
		*type = vb->type == ASN_OPAQUE_U64 ? "Unsigned64" : "Counter64";
		return json_uint(counter64(vb->val.counter64));
	case ASN_OPAQUE_I64:
		*type = "Integer64";
		return json_int((int64_t)counter64(vb->val.counter64));
	case ASN_OPAQUE_FLOAT:
		*type = "Float";
		return json_real(*vb->val.floatVal, 9);
	case ASN_OPAQUE_DOUBLE:
		*type = "Double";
		return json_real(*vb->val.doubleVal, 17);
#endif
	default:   /* NULL, the exceptions, types we do not know */
		return cJSON_CreateNull();
	}
}

cJSON *
osnmp_vb_json(const netsnmp_variable_list *vb, bool with_name)
{
	char oidbuf[MAX_OID_LEN * 11], name[MAX_OID_LEN * 11];
	const char *type;
	cJSON *o = cJSON_CreateObject(), *v = osnmp_vb_json_value(vb, &type);

	osnmp_oid_str(vb->name, vb->name_length, oidbuf, sizeof(oidbuf));
	cJSON_AddStringToObject(o, "oid", oidbuf);
	if (with_name && osnmp_oid_name(vb->name, vb->name_length, name,
	    sizeof(name)))
		cJSON_AddStringToObject(o, "name", name);
	cJSON_AddStringToObject(o, "type", type);
	cJSON_AddItemToObject(o, "value", v != NULL ? v : cJSON_CreateNull());
	return o;
}

cJSON *
osnmp_vb_json_cell(const netsnmp_variable_list *vb)
{
	const char *type;
	cJSON *v = osnmp_vb_json_value(vb, &type), *o;

	if (v == NULL)
		return cJSON_CreateNull();
	/* A bare string cell is text; bytes say what they are. */
	if (strcmp(type, "Hex-STRING") != 0 && strcmp(type, "Opaque") != 0)
		return v;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "type", type);
	cJSON_AddItemToObject(o, "value", v);
	return o;
}
