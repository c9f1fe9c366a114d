/*
 * The operator console (docs/console.md): a single-page app built from
 * hub/console/ by `make` and embedded gzip-compressed in outpost-hub
 * (the generated $(BUILD)/hub/console_assets.c; empty when the build had
 * no node/npm). hub/console.c serves it at / under a strict CSP.
 */
#ifndef OUTPOST_HUB_CONSOLE_H
#define OUTPOST_HUB_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>

struct hub_console_asset {
	const char          *url;       /* "/" or "/assets/NAME-HASH.EXT" */
	const char          *type;      /* Content-Type */
	const unsigned char *gz;        /* gzip (RFC 1952) */
	size_t               gz_len;
	size_t               raw_len;
	const char          *etag;      /* quoted */
	bool                 immutable; /* a content-hashed name */
};
/* Ends with a row whose url is NULL. */
extern const struct hub_console_asset hub_console_assets[];

struct hub_req;
/* A GET or HEAD of a console URL: answers it and returns true; false for
 * any other request (the API's 404/405 then). */
bool hub_console_serve(struct hub_req *, const char *method, const char *url);

#endif
