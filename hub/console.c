/*
 * Serves the embedded operator console (hub/console.h). The page talks
 * to the operator API with a bearer token it keeps in the tab, so the
 * console itself needs no auth: it is the same public bytes for all.
 * What it must do is keep the page from running anything but its own
 * files: a strict Content-Security-Policy (no inline script or style,
 * nothing from another origin, never framed), nosniff, no referrer.
 */
#include "hub/hub_int.h"
#include "hub/console.h"

#include <microhttpd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONSOLE_CSP "default-src 'self'; script-src 'self'; style-src 'self'; " \
	"img-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; " \
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
/* Hashed names never change content; the page itself is revalidated
 * (ETag) so a new hub's page names its new files at once. */
#define CONSOLE_CACHE_IMMUTABLE "public, max-age=31536000, immutable"
#define CONSOLE_CACHE_PAGE      "no-cache"

static const struct hub_console_asset *
console_find(const char *url)
{
	if (strcmp(url, "/index.html") == 0)
		url = "/";
	for (const struct hub_console_asset *a = hub_console_assets; a->url; a++)
		if (strcmp(a->url, url) == 0)
			return a;
	return NULL;
}

/* Accept-Encoding names gzip (or *) without q=0. */
static bool
console_gzip_ok(const char *ae)
{
	const char *p = ae;

	while (p != NULL && *p != '\0') {
		size_t n;
		const char *q;

		p += strspn(p, " \t,");
		n = strcspn(p, ",;");
		if ((n == 4 && strncasecmp(p, "gzip", 4) == 0) ||
		    (n == 1 && *p == '*')) {
			q = p + n;
			q += strspn(q, " \t");
			if (*q != ';')
				return true;
			q += 1 + strspn(q + 1, " \t");
			return !(strncasecmp(q, "q=0", 3) == 0 &&
			    strspn(q + 3, "0.") == strcspn(q + 3, ", \t"));
		}
		p = strchr(p, ',');
	}
	return false;
}

static void
console_headers(struct MHD_Response *resp, const struct hub_console_asset *a)
{
	MHD_add_response_header(resp, "Content-Security-Policy", CONSOLE_CSP);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
	MHD_add_response_header(resp, "Cross-Origin-Resource-Policy", "same-origin");
	if (a == NULL)
		return;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	    a->immutable ? CONSOLE_CACHE_IMMUTABLE : CONSOLE_CACHE_PAGE);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, a->etag);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
}

static void
console_queue(struct hub_req *r, unsigned status, struct MHD_Response *resp)
{
	r->answered = true;
	if (resp == NULL) {
		r->failed = true;
		return;
	}
	if (r->hub->draining)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	if (MHD_queue_response(r->conn, status, resp) != MHD_YES)
		r->failed = true;
	MHD_destroy_response(resp);
}

static void
console_text(struct hub_req *r, unsigned status, const char *msg)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(msg),
	    (void *)(uintptr_t)msg, MHD_RESPMEM_PERSISTENT);

	if (resp != NULL) {
		console_headers(resp, NULL);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		    "text/plain; charset=utf-8");
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	}
	console_queue(r, status, resp);
}

bool
hub_console_serve(struct hub_req *r, const char *method, const char *url)
{
	struct hub *h = r->hub;
	const struct hub_console_asset *a;
	struct MHD_Response *resp;
	const char *inm;
	char why[256];

	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return false;
	if ((a = console_find(url)) == NULL) {
		if (strcmp(url, "/") != 0)
			return false;
		console_text(r, MHD_HTTP_NOT_FOUND, "This outpost-hub was built "
		    "without its console: building it needs node and npm "
		    "(packaging/deps.sh).\n");
		return true;
	}
	/* With client_ca the whole hub is for holders of a certificate. */
	if (h->client_ca != NULL && !hub_tls_client_ok(r, why, sizeof(why))) {
		r->close = true;
		console_text(r, MHD_HTTP_FORBIDDEN, "a client certificate signed "
		    "by the hub's client_ca is required\n");
		return true;
	}
	inm = hub_req_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH);
	if (inm != NULL && strstr(inm, a->etag) != NULL) {
		resp = MHD_create_response_from_buffer(0, (void *)(uintptr_t)"",
		    MHD_RESPMEM_PERSISTENT);
		if (resp != NULL)
			console_headers(resp, a);
		console_queue(r, MHD_HTTP_NOT_MODIFIED, resp);
		return true;
	}
	if (console_gzip_ok(hub_req_header(r, MHD_HTTP_HEADER_ACCEPT_ENCODING))) {
		resp = MHD_create_response_from_buffer(a->gz_len,
		    (void *)(uintptr_t)a->gz, MHD_RESPMEM_PERSISTENT);
		if (resp != NULL)
			MHD_add_response_header(resp,
			    MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
	} else {
		/* A client without gzip (curl without --compressed): inflate
		 * this once; the embedded bytes are ours, so it cannot fail
		 * short of memory. */
		char *raw = NULL, err[128];
		size_t len = 0;

		if (proto_gunzip(a->gz, a->gz_len, a->raw_len, &raw, &len, err,
		    sizeof(err)) != PROTO_OK) {
			log_error("console: %s: %s", a->url, err);
			console_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR,
			    "cannot inflate the console\n");
			return true;
		}
		resp = MHD_create_response_from_buffer(len, raw,
		    MHD_RESPMEM_MUST_FREE);
		if (resp == NULL)
			free(raw);
	}
	if (resp != NULL) {
		console_headers(resp, a);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->type);
	}
	console_queue(r, MHD_HTTP_OK, resp);
	return true;
}
