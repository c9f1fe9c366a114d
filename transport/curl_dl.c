/* libcurl resolved at run time: see curl_dl.h for why. */
#define CURL_DL_IMPL
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/core.h"
#include "transport/curl_dl.h"

static struct curl_dl curl_dl;
static void *curl_dl_handle;

int
curl_dl_load(char *err, size_t errlen)
{
	char why[256];
	void *h;

	if (curl_dl_handle != NULL)
		return 0;
	/* The soname the headers we built against belong to. */
	if ((h = platform_dl_open(PLATFORM_LIBCURL, why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "cannot load libcurl (" PLATFORM_LIBCURL
		    "; Debian package libcurl4): %s", why);
		return -1;
	}
#define CURL_DL_RESOLVE(f) \
	if ((*(void **)&curl_dl.f = platform_dl_sym(h, #f)) == NULL) { \
		snprintf(err, errlen, PLATFORM_LIBCURL " lacks %s: libcurl %s " \
		    "or newer is needed", #f, LIBCURL_VERSION); \
		platform_dl_close(h); \
		return -1; \
	}
	CURL_DL_FUNCS(CURL_DL_RESOLVE)
#undef CURL_DL_RESOLVE
	curl_dl_handle = h;
	return 0;
}

const struct curl_dl *
curl_dl_get(void)
{
	char err[256];

	if (curl_dl_handle == NULL && curl_dl_load(err, sizeof(err)) == -1) {
		fprintf(stderr, "outpost: %s\n", err);
		exit(1);
	}
	return &curl_dl;
}
