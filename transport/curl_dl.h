/*
 * libcurl, loaded when the transport starts rather than when outpost
 * starts: libcurl pulls in some 28 more shared libraries, about 8 ms of
 * CPU at every process start, which one-shot commands (get, walk, scan,
 * poll) never use. Included after <curl/curl.h>; every curl_ call below
 * goes through the table curl_dl_load() fills. outpost is not linked
 * with -lcurl (the .deb depends on libcurl4 by name).
 */
#ifndef OUTPOST_CURL_DL_H
#define OUTPOST_CURL_DL_H

#include <stdbool.h>
#include <stddef.h>

#define CURL_DL_FUNCS(X) \
	X(curl_easy_cleanup) X(curl_easy_getinfo) X(curl_easy_init) \
	X(curl_easy_setopt) X(curl_easy_strerror) X(curl_free) X(curl_getdate) \
	X(curl_global_cleanup) X(curl_global_init) X(curl_multi_add_handle) \
	X(curl_multi_cleanup) X(curl_multi_info_read) X(curl_multi_init) \
	X(curl_multi_remove_handle) X(curl_multi_setopt) \
	X(curl_multi_socket_action) X(curl_multi_strerror) X(curl_slist_append) \
	X(curl_slist_free_all) X(curl_url) X(curl_url_cleanup) X(curl_url_get) \
	X(curl_url_set) X(curl_version) X(curl_version_info) X(curl_share_init) \
	X(curl_share_setopt) X(curl_share_cleanup) X(curl_share_strerror)

#define CURL_DL_MEMBER(f) __typeof__(f) *f;
struct curl_dl { CURL_DL_FUNCS(CURL_DL_MEMBER) };
#undef CURL_DL_MEMBER
/* dlopen libcurl.so.4 once and resolve every function: 0, or -1 with a
 * message naming what is missing. Safe to call again. The transport calls
 * it first, so that a missing libcurl is a clean error at start. */
int curl_dl_load(char *err, size_t errlen);
/* The table, loaded on first use; exits with the message if it cannot
 * be (only reached without curl_dl_load, by a one-shot command). */
const struct curl_dl *curl_dl_get(void);

/* The type-checking macros of curl/typecheck-gcc.h would call the real
 * symbols: calls go through the table instead (the same prototypes). */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_share_setopt
#undef curl_multi_setopt
#undef curl_url_set
#ifndef CURL_DL_IMPL
#define curl_easy_cleanup        (*curl_dl_get()->curl_easy_cleanup)
#define curl_easy_getinfo        (*curl_dl_get()->curl_easy_getinfo)
#define curl_easy_init           (*curl_dl_get()->curl_easy_init)
#define curl_easy_setopt         (*curl_dl_get()->curl_easy_setopt)
#define curl_easy_strerror       (*curl_dl_get()->curl_easy_strerror)
#define curl_free                (*curl_dl_get()->curl_free)
#define curl_getdate             (*curl_dl_get()->curl_getdate)
#define curl_global_cleanup      (*curl_dl_get()->curl_global_cleanup)
#define curl_global_init         (*curl_dl_get()->curl_global_init)
#define curl_multi_add_handle    (*curl_dl_get()->curl_multi_add_handle)
#define curl_multi_cleanup       (*curl_dl_get()->curl_multi_cleanup)
#define curl_multi_info_read     (*curl_dl_get()->curl_multi_info_read)
#define curl_multi_init          (*curl_dl_get()->curl_multi_init)
#define curl_multi_remove_handle (*curl_dl_get()->curl_multi_remove_handle)
#define curl_multi_setopt        (*curl_dl_get()->curl_multi_setopt)
#define curl_multi_socket_action (*curl_dl_get()->curl_multi_socket_action)
#define curl_multi_strerror      (*curl_dl_get()->curl_multi_strerror)
#define curl_slist_append        (*curl_dl_get()->curl_slist_append)
#define curl_slist_free_all      (*curl_dl_get()->curl_slist_free_all)
#define curl_url                 (*curl_dl_get()->curl_url)
#define curl_url_cleanup         (*curl_dl_get()->curl_url_cleanup)
#define curl_url_get             (*curl_dl_get()->curl_url_get)
#define curl_url_set             (*curl_dl_get()->curl_url_set)
#define curl_version             (*curl_dl_get()->curl_version)
#define curl_version_info        (*curl_dl_get()->curl_version_info)
#define curl_share_init          (*curl_dl_get()->curl_share_init)
#define curl_share_setopt        (*curl_dl_get()->curl_share_setopt)
#define curl_share_cleanup       (*curl_dl_get()->curl_share_cleanup)
#define curl_share_strerror      (*curl_dl_get()->curl_share_strerror)
#endif

#endif
