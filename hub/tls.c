/*
 * The hub's connections: when each was accepted (a connection that has
 * lived a poll wait is closed after its answer, so a balancer in TCP mode
 * can move agents, docs/protocol.md "Rules for agents"), and mutual TLS
 * ([hub] client_ca): libmicrohttpd asks for a client certificate but does
 * not check it, so every request is refused unless GnuTLS verifies one
 * against client_ca.
 */
#include "hub/hub_int.h"

#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

uint64_t
hub_conn_age_ms(struct hub_req *r)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn,
	    MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	uintptr_t born, now = (uintptr_t)loop_now_ms(r->hub->loop);

	/* The accept time is the socket context itself (hub_conn_notify in
	 * server.c): ages are differences modulo the pointer's width, right
	 * for a connection younger than 49 days even on 32 bits. */

	/* The group benchmark's persistent-connection baseline
	 * (bench/fleet_bench.py) runs nodes that never end a connection, as
	 * a WebSocket tunnel would: not a setting, an environment variable
	 * only that benchmark sets. */
	static int keep = -1;

	if (keep == -1)
		keep = getenv("OUTPOST_HUB_BENCH_KEEP_CONNECTIONS") != NULL;
	if (ci == NULL || keep)
		return 0;
	born = (uintptr_t)ci->socket_context;
	return (uint64_t)(uintptr_t)(now - born);
}

bool
hub_tls_client_ok(struct hub_req *r, char *why, size_t len)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn,
	    MHD_CONNECTION_INFO_GNUTLS_SESSION);
	gnutls_session_t s = ci != NULL ? (gnutls_session_t)ci->tls_session : NULL;
	unsigned status = 0;
	int rc;

	if (s == NULL) {
		snprintf(why, len, "no TLS session");
		return false;
	}
	if (gnutls_certificate_type_get(s) != GNUTLS_CRT_X509 ||
	    gnutls_certificate_get_peers(s, &(unsigned){ 0 }) == NULL) {
		snprintf(why, len, "no client certificate");
		return false;
	}
	rc = gnutls_certificate_verify_peers2(s, &status);
	if (rc != GNUTLS_E_SUCCESS) {
		snprintf(why, len, "client certificate: %s", gnutls_strerror(rc));
		return false;
	}
	if (status != 0) {
		gnutls_datum_t out = { 0 };

		if (gnutls_certificate_verification_status_print(status,
		    GNUTLS_CRT_X509, &out, 0) == 0) {
			snprintf(why, len, "client certificate: %s", out.data);
			gnutls_free(out.data);
		} else {
			snprintf(why, len, "client certificate not trusted");
		}
		return false;
	}
	return true;
}
