/*
 * Credentials into net-snmp sessions, and SNMPv3 engine-ID discovery
 * (RFC 3414 section 4) done asynchronously.
 *
 * net-snmp 5.9 clears SNMP_FLAGS_DONT_PROBE at the end of
 * snmp_sess_open(); its first send would then run a *synchronous* probe
 * that blocks the loop for timeout x retries. We set the flag again and
 * probe ourselves: an empty noAuthNoPriv GET with an empty user name,
 * answered by a usmStatsUnknownEngineIDs REPORT that carries the engine
 * ID (and boots/time, which net-snmp caches). The session's keys are
 * then localised for that engine (v3keys.c, cached); net-snmp never
 * derives a key itself (SNMP_FLAGS_USER_CREATED).
 */
#include "snmp/snmp_int.h"

#include <errno.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>

enum { V3_NONE, V3_DISCOVERING, V3_GOT_ENGINE, V3_READY };


static void
lib_persistent_dir(void)
{
	char dir[256], sub[300];
	const char *tmp;

	if ((tmp = getenv("SNMP_PERSISTENT_DIR")) != NULL) {
		/* pre-create it, or net-snmp announces it on stderr */
		snprintf(sub, sizeof(sub), "%s/cert_indexes", tmp);
		(void)platform_mkdir(sub, 0700);
		return;
	}
	/* net-snmp creates <dir>/cert_indexes at init; never /var/lib/snmp. */
	if (platform_private_tmpdir("outpost-netsnmp", dir, sizeof(dir)) == -1)
		return;   /* not ours: leave net-snmp's default */
	snprintf(sub, sizeof(sub), "%s/cert_indexes", dir);
	(void)platform_mkdir(sub, 0700);
	netsnmp_ds_set_string(NETSNMP_DS_LIBRARY_ID,
	    NETSNMP_DS_LIB_PERSISTENT_DIR, dir);
}

void
osnmp_lib_init(const char *appname)
{
	static bool done;

	if (done)
		return;
	done = true;
	/* No MIB files on target machines: numeric OIDs, no lookups. */
	setenv("MIBS", "", 1);
	setenv("MIBDIRS", "", 1);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID,
	    NETSNMP_DS_LIB_DISABLE_CONFIG_LOAD, 1);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID,
	    NETSNMP_DS_LIB_DONT_PERSIST_STATE, 1);
	netsnmp_ds_set_int(NETSNMP_DS_LIBRARY_ID,
	    NETSNMP_DS_LIB_OID_OUTPUT_FORMAT, NETSNMP_OID_OUTPUT_NUMERIC);
	lib_persistent_dir();
	snmp_disable_log();   /* errors come back to us as values */
	init_snmp(appname);
	/* init_snmp sets LC_CTYPE from the environment, and net-snmp prints
	 * an OCTET STRING as text or Hex-STRING by isprint(): under a
	 * single-byte code page (Windows' 1252, a Latin-1 locale) bytes such
	 * as B2 AF DD count as printable and a MAC address came out as
	 * garbled text. The C locale prints the same on every machine. */
	setlocale(LC_CTYPE, "C");
}

const oid *
v3_auth_oid(int proto, size_t *len)
{
	switch (proto) {
	case CFG_AUTH_MD5:    *len = OID_LENGTH(usmHMACMD5AuthProtocol); return usmHMACMD5AuthProtocol;
	case CFG_AUTH_SHA224: *len = OID_LENGTH(usmHMAC128SHA224AuthProtocol); return usmHMAC128SHA224AuthProtocol;
	case CFG_AUTH_SHA256: *len = OID_LENGTH(usmHMAC192SHA256AuthProtocol); return usmHMAC192SHA256AuthProtocol;
	case CFG_AUTH_SHA384: *len = OID_LENGTH(usmHMAC256SHA384AuthProtocol); return usmHMAC256SHA384AuthProtocol;
	case CFG_AUTH_SHA512: *len = OID_LENGTH(usmHMAC384SHA512AuthProtocol); return usmHMAC384SHA512AuthProtocol;
	default:              *len = OID_LENGTH(usmHMACSHA1AuthProtocol); return usmHMACSHA1AuthProtocol;
	}
}

const oid *
v3_priv_oid(int proto, size_t *len)
{
	switch (proto) {
	case CFG_PRIV_DES:    *len = OID_LENGTH(usmDESPrivProtocol); return usmDESPrivProtocol;
	case CFG_PRIV_AES192: *len = OID_LENGTH(usmAES192PrivProtocol); return usmAES192PrivProtocol;
	case CFG_PRIV_AES256: *len = OID_LENGTH(usmAES256PrivProtocol); return usmAES256PrivProtocol;
	case CFG_PRIV_AES192C: *len = OID_LENGTH(usmAES192CiscoPrivProtocol); return usmAES192CiscoPrivProtocol;
	case CFG_PRIV_AES256C: *len = OID_LENGTH(usmAES256CiscoPrivProtocol); return usmAES256CiscoPrivProtocol;
	default:              *len = OID_LENGTH(usmAESPrivProtocol); return usmAESPrivProtocol;
	}
}

void
engine_v3_cache_free(struct osnmp_engine *e)
{
	v3_keys_cache_free(e);
}

int
sess_netsnmp_open(struct osnmp_sess *s, char *err, size_t errlen)
{
	const struct config_credential *c = s->cred;
	u_char id[SNMP_MAX_ENG_SIZE];
	size_t len, idlen = 0;
	bool known = false;
	netsnmp_session in;

	snmp_sess_init(&in);
	in.peername = s->peername;
	in.timeout = (long)s->timeout_ms * 1000;
	in.retries = (int)s->retries;
	in.callback = sess_pdu_cb;
	in.callback_magic = s;
	if (c->version != CFG_SNMP_V3) {
		in.version = c->version == CFG_SNMP_V1 ? SNMP_VERSION_1 : SNMP_VERSION_2c;
		in.community = (u_char *)c->community;
		in.community_len = strlen(c->community);
	} else {
		in.version = SNMP_VERSION_3;
		in.securityModel = SNMP_SEC_MODEL_USM;
		in.securityName = c->user;
		in.securityNameLen = strlen(c->user);
		in.securityLevel = c->level == CFG_AUTH_PRIV ? SNMP_SEC_LEVEL_AUTHPRIV :
		    c->level == CFG_AUTH_NOPRIV ? SNMP_SEC_LEVEL_AUTHNOPRIV :
		    SNMP_SEC_LEVEL_NOAUTH;
		if (c->level != CFG_NOAUTH_NOPRIV) {
			in.securityAuthProto = (oid *)v3_auth_oid(c->auth_protocol, &len);
			in.securityAuthProtoLen = len;
		}
		if (c->level == CFG_AUTH_PRIV) {
			in.securityPrivProto = (oid *)v3_priv_oid(c->priv_protocol, &len);
			in.securityPrivProtoLen = len;
		}
		/* Keys are ours (v3keys.c): net-snmp must not build a USM
		 * user from the session, nor derive anything. */
		in.flags |= SNMP_FLAGS_USER_CREATED;
		known = v3_engid_get(s->eng, s->peername, id, &idlen) == 0;
		if (known) {
			if (v3_keys_get(s->eng, c, id, idlen, &s->keys, err, errlen) == -1)
				return -1;
			in.securityEngineID = id;
			in.securityEngineIDLen = idlen;
		}
	}
	s->sessp = snmp_sess_open(&in);
	if (s->sessp == NULL) {
		snprintf(err, errlen, "%s: cannot open SNMP session: %s", s->host,
		    snmp_api_errstring(snmp_errno));
		return -1;
	}
	s->eng->stats.sessions_opened++;
	if (c->version == CFG_SNMP_V3) {
		snmp_sess_session(s->sessp)->flags |= SNMP_FLAGS_DONT_PROBE |
		    SNMP_FLAGS_USER_CREATED;
		s->v3_state = known ? V3_READY : V3_NONE;
	} else {
		s->v3_state = V3_READY;
	}
	return 0;
}

bool
sess_usable(const struct osnmp_sess *s)
{
	return s->v3_state == V3_READY;
}

static int
v3_probe_cb(int op, netsnmp_session *ns, int reqid, netsnmp_pdu *pdu, void *magic)
{
	struct osnmp_sess *s = ns->callback_magic;

	if (s == NULL || s->closing || s->v3_state != V3_DISCOVERING ||
	    op == NETSNMP_CALLBACK_OP_RESEND)
		return 1;
	if ((op == NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE ||
	    op == NETSNMP_CALLBACK_OP_SEC_ERROR) && pdu != NULL &&
	    pdu->securityEngineIDLen > 0 &&
	    pdu->securityEngineIDLen <= SNMP_MAX_ENG_SIZE) {
		v3_engid_put(s->eng, s->peername, pdu->securityEngineID,
		    pdu->securityEngineIDLen);
		s->v3_state = V3_GOT_ENGINE;   /* finished in sess_start() */
		return 1;
	}
	sess_fail_all(s, op == NETSNMP_CALLBACK_OP_TIMED_OUT ? OSNMP_ST_TIMEOUT :
	    OSNMP_ST_ERROR, op == NETSNMP_CALLBACK_OP_TIMED_OUT ?
	    "timeout: no response to SNMPv3 engine discovery" :
	    "SNMPv3 engine discovery failed");
	return 1;
}

void
sess_start(struct osnmp_sess *s)
{
	netsnmp_session *ns;
	netsnmp_pdu *pdu;

	if (s->v3_state == V3_GOT_ENGINE) {
		u_char id[SNMP_MAX_ENG_SIZE];
		size_t idlen;
		char err[160];
		ns = snmp_sess_session(s->sessp);
		if (ns->securityEngineIDLen == 0 &&
		    v3_engid_get(s->eng, s->peername, id, &idlen) == 0) {
			ns->securityEngineID = netsnmp_memdup(id, idlen);
			ns->securityEngineIDLen = idlen;
		}
		if (ns->securityEngineIDLen == 0 ||
		    v3_keys_get(s->eng, s->cred, ns->securityEngineID,
		    ns->securityEngineIDLen, &s->keys, err, sizeof(err)) == -1) {
			sess_fail_all(s, OSNMP_ST_ERROR, ns->securityEngineIDLen ? err :
			    "SNMPv3 engine discovery failed");
			return;
		}
		s->v3_state = V3_READY;
		return;
	}
	if (s->v3_state != V3_NONE)
		return;
	pdu = snmp_pdu_create(SNMP_MSG_GET);
	pdu->securityLevel = SNMP_SEC_LEVEL_NOAUTH;
	pdu->securityModel = SNMP_SEC_MODEL_USM;
	pdu->securityName = strdup("");
	pdu->securityNameLen = 0;
	s->v3_state = V3_DISCOVERING;
	if (snmp_sess_async_send(s->sessp, pdu, v3_probe_cb, NULL) == 0) {
		snmp_free_pdu(pdu);
		sess_fail_all(s, OSNMP_ST_ERROR, "cannot send SNMPv3 engine discovery");
		return;
	}
	sess_arm(s);
}

const char *
sess_report_reason(const netsnmp_pdu *pdu)
{
	switch (snmpv3_get_report_type((netsnmp_pdu *)pdu)) {
	case SNMPERR_UNKNOWN_USER_NAME:
		return "authentication failed: unknown user name";
	case SNMPERR_AUTHENTICATION_FAILURE:
		return "authentication failed: wrong auth password or protocol";
	case SNMPERR_UNSUPPORTED_SEC_LEVEL:
		return "authentication failed: security level not supported for this user";
	case SNMPERR_DECRYPTION_ERR:
		return "decryption failed: wrong privacy password or protocol";
	case SNMPERR_NOT_IN_TIME_WINDOW:
		return "not in time window";
	case SNMPERR_UNKNOWN_ENG_ID:
		return "unknown engine ID";
	default:
		return "the agent answered with a REPORT";
	}
}

int
osnmp_engine_id_hex(struct osnmp_engine *e, const char *addr, unsigned port,
    char *buf, size_t len)
{
	char key[300];
	u_char id[SNMP_MAX_ENG_SIZE];
	size_t idlen;

	snprintf(key, sizeof(key), strchr(addr, ':') ? "udp6:[%s]:%u" : "udp:%s:%u",
	    addr, port);
	if (v3_engid_get(e, key, id, &idlen) == -1 || len < idlen * 2 + 1)
		return -1;
	for (size_t i = 0; i < idlen; i++)
		snprintf(buf + 2 * i, 3, "%02x", id[i]);
	return 0;
}
