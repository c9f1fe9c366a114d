/*
 * libcurl's multi interface on the agent's one event loop: curl tells us
 * which sockets to watch (CURLMOPT_SOCKETFUNCTION -> loop_io_set) and when
 * to wake it (CURLMOPT_TIMERFUNCTION -> a loop timer); we hand events back
 * with curl_multi_socket_action and collect finished transfers with
 * curl_multi_info_read. No threads, no blocking calls.
 *
 * Every response is held to the protocol's limits as it arrives, so a
 * broken or hostile hub costs at most 16 MiB and one log line.
 */
#include "transport/transport_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void tp_http_check_done(struct transport *);

static void
tp_http_io_cb(struct loop *l, os_socket fd, int events, void *arg)
{
	struct transport *t = arg;
	int flags = 0, running;

	if (events & LOOP_READ)
		flags |= CURL_CSELECT_IN;
	if (events & LOOP_WRITE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(t->multi, fd, flags, &running);
	tp_http_check_done(t);
}

static int
tp_http_socket_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct transport *t = userp;
	int ev = 0;

	if (what == CURL_POLL_REMOVE) {
		loop_io_del(t->loop, s);
		return 0;
	}
	if (what & CURL_POLL_IN)
		ev |= LOOP_READ;
	if (what & CURL_POLL_OUT)
		ev |= LOOP_WRITE;
	if (loop_io_set(t->loop, s, ev, tp_http_io_cb, t) == -1) {
		log_error("transport: cannot watch socket %d", (int)s);
		return -1;
	}
	return 0;
}

static void
tp_http_timer_fire(struct loop *l, struct loop_timer *tm, void *arg)
{
	struct transport *t = arg;
	int running;

	curl_multi_socket_action(t->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	tp_http_check_done(t);
}

/* Never calls back into curl: it only (re)arms our timer. */
static int
tp_http_timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	struct transport *t = userp;

	if (timeout_ms < 0)
		loop_timer_disarm(t->loop, &t->curl_timer);
	else
		loop_timer_arm(t->loop, &t->curl_timer, (uint64_t)timeout_ms);
	return 0;
}

static void
tp_http_check_done(struct transport *t)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(t->multi, &left)) != NULL) {
		CURL *e = m->easy_handle;
		CURLcode rc = m->data.result;
		struct tp_req *r = NULL;
		long status = 0;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&r);
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
		curl_multi_remove_handle(t->multi, e);
		if (r == NULL)
			continue;
		r->active = false;
		r->done(t, r, rc, status);
	}
}

int
tp_http_init(struct transport *t, char *err, size_t errlen)
{
	if (curl_dl_load(err, errlen) == -1)
		return -1;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "cannot initialize libcurl");
		return -1;
	}
	loop_timer_init(&t->curl_timer, tp_http_timer_fire, t);
	t->multi = curl_multi_init();
	if (t->multi == NULL) {
		curl_global_cleanup();
		snprintf(err, errlen, "cannot initialize libcurl");
		return -1;
	}
	curl_multi_setopt(t->multi, CURLMOPT_SOCKETFUNCTION, tp_http_socket_cb);
	curl_multi_setopt(t->multi, CURLMOPT_SOCKETDATA, t);
	curl_multi_setopt(t->multi, CURLMOPT_TIMERFUNCTION, tp_http_timer_cb);
	curl_multi_setopt(t->multi, CURLMOPT_TIMERDATA, t);
	/* Poll and upload share one HTTP/2 connection when the hub offers it. */
	curl_multi_setopt(t->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	/* Every poll is a new connection (tp_http_req_init): a TLS session
	 * shared by both handles makes it an abbreviated handshake where the
	 * server side keeps sessions or tickets. One thread: no lock
	 * callbacks needed. */
	t->share = curl_share_init();
	if (t->share == NULL ||
	    curl_share_setopt(t->share, CURLSHOPT_SHARE,
	    CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK) {
		tp_http_free(t);
		snprintf(err, errlen, "cannot initialize libcurl");
		return -1;
	}
	return 0;
}

void
tp_http_free(struct transport *t)
{
	if (t->multi == NULL)
		return;
	curl_multi_cleanup(t->multi);
	t->multi = NULL;
	/* after the easy handles (tp_http_req_free), which use it */
	if (t->share != NULL)
		curl_share_cleanup(t->share);
	t->share = NULL;
	loop_timer_disarm(t->loop, &t->curl_timer);
	curl_global_cleanup();
}

/* ---- response callbacks: the protocol's limits, as bytes arrive ---- */

static size_t
tp_http_header_cb(char *p, size_t size, size_t n, void *arg)
{
	struct tp_req *r = arg;
	size_t len = size * n, vlen;
	const char *v;

	if (len > TP_MAX_HEADER_LINE) {
		r->limit = "a response header line over 16 KiB";
		return 0;
	}
	r->header_bytes += len;
	if (r->header_bytes > TP_MAX_HEADERS) {
		r->limit = "response headers over 64 KiB";
		return 0;
	}
	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		/* A new response (after a 100 Continue, say). */
		r->encoded = false;
		r->retry_after[0] = '\0';
		return len;
	}
	if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
		v = p + 12;
		vlen = len - 12;
	} else if (len > 17 && strncasecmp(p, "Content-Encoding:", 17) == 0) {
		v = p + 17;
		vlen = len - 17;
		while (vlen > 0 && (*v == ' ' || *v == '\t'))
			v++, vlen--;
		while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' ||
		    v[vlen - 1] == ' '))
			vlen--;
		if (vlen > 0 && !(vlen == 8 && strncasecmp(v, "identity", 8) == 0))
			r->encoded = true;
		return len;
	} else {
		return len;
	}
	while (vlen > 0 && (*v == ' ' || *v == '\t'))
		v++, vlen--;
	while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' ||
	    v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	if (vlen >= sizeof(r->retry_after))
		vlen = sizeof(r->retry_after) - 1;   /* garbage anyway */
	memcpy(r->retry_after, v, vlen);
	r->retry_after[vlen] = '\0';
	return len;
}

static size_t
tp_http_write_cb(char *p, size_t size, size_t n, void *arg)
{
	struct tp_req *r = arg;
	size_t len = size * n;

	r->decoded_bytes += len;
	/* curl hands us decoded bytes: without a Content-Encoding they are
	 * the wire bytes too. */
	if (!r->encoded && r->decoded_bytes > TP_MAX_BODY_WIRE) {
		r->limit = "response body over 4 MiB";
		return 0;
	}
	if (r->decoded_bytes > TP_MAX_BODY_DECODED) {
		r->limit = "decompressed response body over 16 MiB";
		return 0;
	}
	if (r->body.len < r->body_keep) {
		size_t keep = r->body_keep - r->body.len;
		if (tp_buf_add(&r->body, p, len < keep ? len : keep) == -1) {
			r->limit = "out of memory for the response body";
			return 0;
		}
	}
	return len;
}

static int
tp_http_progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct tp_req *r = arg;

	/* dlnow counts body bytes before content decoding */
	r->wire_bytes = dlnow > 0 ? (uint64_t)dlnow : 0;
	if (r->wire_bytes > TP_MAX_BODY_WIRE) {
		r->limit = "response body over 4 MiB";
		return 1;
	}
	return 0;
}

#define SETOPT(e, opt, val) do { \
	if (curl_easy_setopt((e), (opt), (val)) != CURLE_OK) { \
		snprintf(err, errlen, "libcurl refuses option %s", #opt); \
		return -1; \
	} \
} while (0)

int
tp_http_req_init(struct transport *t, struct tp_req *r, const char *what,
    size_t body_keep, tp_req_done done, char *err, size_t errlen)
{
	const struct transport_opts *o = &t->o;
	CURL *e;

	memset(r, 0, sizeof(*r));
	r->t = t;
	r->what = what;
	r->done = done;
	r->body_keep = body_keep;
	r->body.max = body_keep;
	r->easy = e = curl_easy_init();
	if (e == NULL) {
		snprintf(err, errlen, "cannot initialize libcurl");
		return -1;
	}
	SETOPT(e, CURLOPT_PRIVATE, (char *)r);
	SETOPT(e, CURLOPT_NOSIGNAL, 1L);
	SETOPT(e, CURLOPT_ERRORBUFFER, r->errbuf);
	SETOPT(e, CURLOPT_USERAGENT, "outpost/" OUTPOST_VERSION);
	SETOPT(e, CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(e, CURLOPT_FOLLOWLOCATION, 0L);
	/* HTTP/2 where libcurl has it; a libcurl built without (the
	 * Windows build's) speaks HTTP/1.1, which the hub serves too. */
	if (curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
	    (long)CURL_HTTP_VERSION_2TLS) != CURLE_OK)
		SETOPT(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	/* No CURLOPT_PIPEWAIT: with it an upload waits on a connection whose
	 * poll is held (or hung) when the hub speaks HTTP/1.1. Over HTTP/2
	 * the first two requests may each open a connection; later ones
	 * multiplex over the connection cache of the multi. */
	SETOPT(e, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(e, CURLOPT_SSL_VERIFYHOST, 2L);
	/* Never below TLS 1.2, whatever the system's OpenSSL policy allows:
	 * the bearer token goes over this channel. */
	SETOPT(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (t->share != NULL)
		SETOPT(e, CURLOPT_SHARE, t->share);
	/* Connections end (docs/protocol.md, "Rules for agents"): one that
	 * has lived half a poll wait is not reused, one idle that long is
	 * closed, so a balancer in TCP mode sees every agent reconnect
	 * within about one poll wait and a drained or new node is emptied
	 * or filled in that time. The poll itself never reuses one
	 * (tp_http_conn_once). */
	SETOPT(e, CURLOPT_MAXLIFETIME_CONN, tp_http_conn_life_s(o->poll_wait_ms));
	SETOPT(e, CURLOPT_MAXAGE_CONN, tp_http_conn_life_s(o->poll_wait_ms));
	if (o->ca_file != NULL)
		SETOPT(e, CURLOPT_CAINFO, o->ca_file);
	if (o->client_cert != NULL)
		SETOPT(e, CURLOPT_SSLCERT, o->client_cert);
	if (o->client_key != NULL)
		SETOPT(e, CURLOPT_SSLKEY, o->client_key);
	if (o->pinned_pubkey != NULL)
		SETOPT(e, CURLOPT_PINNEDPUBLICKEY, o->pinned_pubkey);
	/* Without a proxy option curl reads http(s)_proxy and no_proxy; a
	 * configured proxy is used for the hub whatever no_proxy says. */
	if (o->proxy != NULL) {
		SETOPT(e, CURLOPT_PROXY, o->proxy);
		SETOPT(e, CURLOPT_NOPROXY, "");
	} else if (strncasecmp(o->url, "http://", 7) == 0) {
		/* Plain http:// never goes through a proxy, not even one from
		 * the environment: the proxy would read the token
		 * (transport_new refuses a configured one). */
		SETOPT(e, CURLOPT_PROXY, "");
	}
	SETOPT(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
	SETOPT(e, CURLOPT_TCP_KEEPALIVE, 1L);
	SETOPT(e, CURLOPT_CONNECTTIMEOUT_MS, (long)TP_CONNECT_TIMEOUT_MS);
	SETOPT(e, CURLOPT_ACCEPT_ENCODING, "");
	SETOPT(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)TP_MAX_BODY_WIRE);
	SETOPT(e, CURLOPT_HEADERFUNCTION, tp_http_header_cb);
	SETOPT(e, CURLOPT_HEADERDATA, r);
	SETOPT(e, CURLOPT_WRITEFUNCTION, tp_http_write_cb);
	SETOPT(e, CURLOPT_WRITEDATA, r);
	SETOPT(e, CURLOPT_XFERINFOFUNCTION, tp_http_progress_cb);
	SETOPT(e, CURLOPT_XFERINFODATA, r);
	SETOPT(e, CURLOPT_NOPROGRESS, 0L);
	return 0;
}

long
tp_http_conn_life_s(uint64_t poll_wait_ms)
{
	uint64_t s = poll_wait_ms / 2000;

	return s < 1 ? 1L : s > 3600 ? 3600L : (long)s;
}

int
tp_http_conn_once(struct tp_req *r, char *err, size_t errlen)
{
	/* A new connection for this request, closed when it ends: a held
	 * poll is the long-lived request, so its connection lives one poll
	 * wait (plus the answer), never more. */
	SETOPT(r->easy, CURLOPT_FRESH_CONNECT, 1L);
	SETOPT(r->easy, CURLOPT_FORBID_REUSE, 1L);
	return 0;
}

void
tp_http_req_free(struct transport *t, struct tp_req *r)
{
	tp_http_req_cancel(t, r);
	if (r->easy != NULL)
		curl_easy_cleanup(r->easy);
	r->easy = NULL;
	tp_buf_free(&r->body);
}

int
tp_http_req_start(struct transport *t, struct tp_req *r)
{
	CURLMcode mc;

	r->body.len = 0;
	if (r->body.data != NULL)
		r->body.data[0] = '\0';
	r->wire_bytes = r->decoded_bytes = r->header_bytes = 0;
	r->encoded = false;
	r->limit = NULL;
	r->retry_after[0] = '\0';
	r->errbuf[0] = '\0';
	r->started_ms = loop_now_ms(t->loop);
	mc = curl_multi_add_handle(t->multi, r->easy);
	if (mc != CURLM_OK) {
		log_error("transport: %s: %s", r->what, curl_multi_strerror(mc));
		return -1;
	}
	r->active = true;
	return 0;
}

void
tp_http_req_cancel(struct transport *t, struct tp_req *r)
{
	if (r->active && t->multi != NULL)
		curl_multi_remove_handle(t->multi, r->easy);
	r->active = false;
}

const char *
tp_http_req_error(const struct tp_req *r, CURLcode rc, char *buf, size_t len)
{
	if (r->limit != NULL)
		snprintf(buf, len, "%s", r->limit);
	else if (rc == CURLE_FILESIZE_EXCEEDED)
		snprintf(buf, len, "response body over 4 MiB");
	else if (rc != CURLE_OK)
		snprintf(buf, len, "%s", r->errbuf[0] ? r->errbuf :
		    curl_easy_strerror(rc));
	else
		buf[0] = '\0';
	return buf;
}
