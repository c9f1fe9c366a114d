/*
 * libmicrohttpd on core's event loop. MHD runs in "external epoll"
 * mode: its epoll fd is one fd of our loop, a loop timer follows
 * MHD_get_timeout(), and MHD_run() is called from both, so MHD's
 * callbacks and every timer run on the one thread. The store does not:
 * its calls are jobs on worker threads (work.c), the request suspended
 * meanwhile (hub_req_call).
 *
 * A held request (long poll, GET /v1/commands/{id}?wait) is a suspended
 * MHD connection plus a loop timer: no thread and no socket activity
 * while held. It is resumed when its event happens, its wait ends, or
 * the hub drains; MHD then calls the access handler again and the API
 * answers (or holds it again).
 */
#include "hub/hub_int.h"
#include "hub/console.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define HUB_MHD_POOL      (32u << 10)   /* per connection: headers + buffers */
#define HUB_IDLE_TIMEOUT  60            /* s without traffic, not when held */
#define HUB_LISTEN_BACKLOG 4096
#define HUB_DRAIN_CHECK_MS 20
#define HUB_FD_RESERVE    64            /* store, logs, epoll, signalfd... */
#define HUB_AUTO_CONN_MAX 65536         /* max_connections 0 with no fd limit */

/* ---- running MHD from the loop ---- */

static void
hub_http_run(struct hub *h)
{
	MHD_UNSIGNED_LONG_LONG t;
	uint64_t delay = 1000;
	static unsigned zero_runs;

	h->in_run = true;
	/* A handler that resumes a connection sets kick: run again so the
	 * resumed request is answered in this turn, not after a timeout. */
	for (int i = 0; i < 4; i++) {
		h->kick = false;
		MHD_run(h->mhd);
		if (!h->kick)
			break;
	}
	h->in_run = false;
	if (MHD_get_timeout(h->mhd, &t) == MHD_YES && t < delay)
		delay = t;
	if (h->kick)
		delay = 0;
	/* core's loop runs a timer re-armed for 0 ms again in the same
	 * pass: after a few such turns wait 1 ms so epoll gets its turn. */
	if (delay == 0 && ++zero_runs > 8) {
		delay = 1;
		zero_runs = 0;
	} else if (delay > 0) {
		zero_runs = 0;
	}
	loop_timer_arm(h->loop, &h->mhd_timer, delay);
}

static void
hub_mhd_timer_cb(struct loop *l, struct loop_timer *t, void *arg)
{
	hub_http_run(arg);
}

static void
hub_mhd_io_cb(struct loop *l, int fd, int events, void *arg)
{
	hub_http_run(arg);
}

static void
hub_kick(struct hub *h)
{
	h->kick = true;
	if (!h->in_run)
		loop_timer_arm(h->loop, &h->mhd_timer, 0);
}

/* ---- held requests ---- */

/* The list of waiters a held request of this route joins, or NULL. */
static struct hub_req **
hub_waiters(struct hub *h, enum hub_route route)
{
	/* an operator's wait: commands/{id} and samples, or events */
	return route == HUB_R_POLL ? NULL :
	    route == HUB_R_EVENTS ? &h->event_waiters : &h->cmd_waiters;
}

static void
hub_req_unhold(struct hub_req *r)
{
	struct hub *h = r->hub;
	struct hub_req **list = hub_waiters(h, r->route);

	if (!r->suspended)
		return;
	r->suspended = false;
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		h->held = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
	if (list != NULL) {
		if (r->cw_prev != NULL)
			r->cw_prev->cw_next = r->cw_next;
		else
			*list = r->cw_next;
		if (r->cw_next != NULL)
			r->cw_next->cw_prev = r->cw_prev;
		r->cw_prev = r->cw_next = NULL;
		if (r->route == HUB_R_EVENTS)
			h->nevent_waiters--;
	}
	h->nheld--;
	if (r->agent != NULL && r->agent->poll == r)
		r->agent->poll = NULL;
	loop_timer_disarm(h->loop, &r->timer);
}

static void
hub_req_timer_cb(struct loop *l, struct loop_timer *t, void *arg)
{
	hub_req_wake(arg, HUB_WAKE_TIMEOUT);
}

void
hub_req_suspend(struct hub_req *r, uint64_t wait_ms)
{
	struct hub *h = r->hub;
	struct hub_req **list = hub_waiters(h, r->route);
	uint64_t now, end;

	r->suspended = true;
	r->held = true;
	r->wake = HUB_WAKE_NONE;
	r->prev = NULL;
	r->next = h->held;
	if (h->held != NULL)
		h->held->prev = r;
	h->held = r;
	if (list != NULL) {
		r->cw_prev = NULL;
		r->cw_next = *list;
		if (*list != NULL)
			(*list)->cw_prev = r;
		*list = r;
		if (r->route == HUB_R_EVENTS)
			h->nevent_waiters++;
	}
	h->nheld++;
	now = loop_now_ms(h->loop);
	/* Long holds end on a slot, rounded down: never past their wait. */
	end = now + wait_ms;
	if (wait_ms >= HUB_HOLD_SLOTTED_MS)
		end -= end % HUB_HOLD_SLOT_MS;
	loop_timer_arm(h->loop, &r->timer, end - now);
	MHD_suspend_connection(r->conn);
}

void
hub_req_wake(struct hub_req *r, enum hub_wake why)
{
	if (!r->suspended)
		return;
	hub_req_unhold(r);
	r->wake = why;
	MHD_resume_connection(r->conn);
	hub_kick(r->hub);
}

/* A store call: the request waits suspended (not held: a drain or the
 * shed count do not see it) until its job is done. */
int
hub_req_call(struct hub_req *r, struct hub_job *j)
{
	j->req = r;
	r->job = j;
	r->job_done = false;
	if (hub_work_submit(r->hub, j) == -1) {
		r->job = NULL;
		r->retry_after = 5;
		hub_respond_error(r, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "store busy: too many requests waiting for it");
		return -1;
	}
	r->parked = true;
	MHD_suspend_connection(r->conn);
	return 0;
}

void
hub_req_unpark(struct hub_req *r)
{
	if (!r->parked)
		return;
	r->parked = false;
	MHD_resume_connection(r->conn);
	hub_kick(r->hub);
}

/* ---- responses ---- */

void
hub_respond(struct hub_req *r, unsigned status, const char *ctype, char *body,
    size_t len)
{
	struct MHD_Response *resp;
	char num[24];

	if (r->answered) {
		free(body);
		return;
	}
	r->answered = true;
	/* Nothing we serve is invalid UTF-8: ingest refuses it, and rows
	 * stored before it did are repaired here (U+FFFD). */
	if (body != NULL && !utf8_valid(body, len, NULL)) {
		/* Outside strings JSON is ASCII: only string bytes change. */
		size_t n = 0;
		char *fixed = utf8_fixed_copy(body, len, &len, &n);

		free(body);
		if ((body = fixed) == NULL)
			len = 0;
		log_complain(&r->hub->utf8_complain, loop_now_ms(r->hub->loop),
		    LOG_LVL_WARN, "a response held %zu bytes of invalid UTF-8 "
		    "(stored before ingest checked it): sent as U+FFFD", n);
	}
	if (body != NULL)
		resp = MHD_create_response_from_buffer(len, body,
		    MHD_RESPMEM_MUST_FREE);
	else
		resp = MHD_create_response_from_buffer(0, (void *)(uintptr_t)"",
		    MHD_RESPMEM_PERSISTENT);
	if (resp == NULL) {
		free(body);
		r->failed = true;
		return;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	/* A connection that has lived the longest poll wait ends after this
	 * answer, whatever balancer is in front (the agent's poll closes
	 * its own sooner; other clients may not). */
	if (r->hub->draining || r->close ||
	    hub_conn_age_ms(r) + HUB_HOLD_EARLY_MS >= r->hub->cfg->max_poll_wait)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    "Bearer");
	if (r->allow != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	if (r->next_cursor[0] != '\0')
		MHD_add_response_header(resp, "Next-Cursor", r->next_cursor);
	if (r->retry_after > 0) {
		snprintf(num, sizeof(num), "%u", r->retry_after);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, num);
	}
	if (MHD_queue_response(r->conn, status, resp) != MHD_YES)
		r->failed = true;
	MHD_destroy_response(resp);
}

void
hub_respond_json(struct hub_req *r, unsigned status, cJSON *j)
{
	char *txt = j != NULL ? cJSON_PrintUnformatted(j) : NULL;

	cJSON_Delete(j);
	if (txt == NULL) {
		hub_respond(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json",
		    NULL, 0);
		return;
	}
	hub_respond(r, status, "application/json", txt, strlen(txt));
}

void
hub_respond_error(struct hub_req *r, unsigned status, const char *fmt, ...)
{
	char msg[512];
	cJSON *o;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if ((o = cJSON_CreateObject()) != NULL)
		cJSON_AddStringToObject(o, "error", msg);
	hub_respond_json(r, status, o);
}

const char *
hub_req_header(struct hub_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *
hub_req_query(struct hub_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

void
hub_req_peer(struct hub_req *r, char *buf, size_t len)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;

	buf[0] = '\0';
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
		    buf, (socklen_t)len);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, buf,
		    (socklen_t)len);
}

/* ---- agents' runtime state ---- */

struct hub_agent *
hub_agent_find(struct hub *h, int64_t id)
{
	struct hub_agent *a = h->agents[(uint64_t)id % HUB_AGENT_BUCKETS];

	while (a != NULL && a->id != id)
		a = a->next;
	return a;
}

struct hub_agent *
hub_agent_get(struct hub *h, int64_t id, const char *name)
{
	struct hub_agent *a = hub_agent_find(h, id);
	size_t b = (uint64_t)id % HUB_AGENT_BUCKETS;

	if (a != NULL)
		return a;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	a->id = id;
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->next = h->agents[b];
	h->agents[b] = a;
	return a;
}

static void
hub_agents_free(struct hub *h)
{
	for (size_t b = 0; b < HUB_AGENT_BUCKETS; b++) {
		while (h->agents[b] != NULL) {
			struct hub_agent *a = h->agents[b];

			h->agents[b] = a->next;
			free(a);
		}
	}
}

/* ---- MHD callbacks ---- */

static enum MHD_Result
hub_access(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct hub *h = cls;
	struct hub_req *r = *con_cls;

	if (r == NULL) {
		char why[256], peer[64];
		const char *cl;
		uint64_t n = 0;

		if ((r = calloc(1, sizeof(*r))) == NULL)
			return MHD_NO;
		r->hub = h;
		r->conn = conn;
		loop_timer_init(&r->timer, hub_req_timer_cb, r);
		*con_cls = r;
		h->active++;
		r->route = hub_api_route(method, url, r->arg, sizeof(r->arg),
		    &r->allow);
		hub_buf_init(&r->body, hub_api_body_max(r->route));
		if (r->route == HUB_R_NONE) {
			/* Not the API: the console's page and files, if it is. */
			if (r->allow == NULL && hub_console_serve(r, method, url))
				return r->failed ? MHD_NO : MHD_YES;
			if (r->allow != NULL)
				hub_respond_error(r, MHD_HTTP_METHOD_NOT_ALLOWED,
				    "method not allowed");
			else
				hub_respond_error(r, MHD_HTTP_NOT_FOUND, "not found");
			return r->failed ? MHD_NO : MHD_YES;
		}
		if (h->client_ca != NULL && !hub_tls_client_ok(r, why,
		    sizeof(why))) {
			hub_req_peer(r, peer, sizeof(peer));
			log_complain(&h->tls_complain, loop_now_ms(h->loop),
			    LOG_LVL_WARN, "tls: refused %s: %s", peer, why);
			r->close = true;
			hub_respond_error(r, MHD_HTTP_FORBIDDEN, "a client "
			    "certificate signed by the hub's client_ca is required");
			return r->failed ? MHD_NO : MHD_YES;
		}
		if (hub_api_auth(r) == -1)
			return r->failed ? MHD_NO : MHD_YES;
		cl = hub_req_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL && parse_size(cl, &n) == 0 && n > r->body.max) {
			r->close = true;
			hub_respond_error(r, MHD_HTTP_CONTENT_TOO_LARGE,
			    "body larger than %zu bytes", r->body.max);
		} else if (n > 0 && h->upload_bytes + n > HUB_UPLOAD_BUDGET) {
			r->close = true;
			r->retry_after = 5;
			hub_respond_error(r, MHD_HTTP_SERVICE_UNAVAILABLE,
			    "too many uploads at once");
		}
		return r->failed ? MHD_NO : MHD_YES;
	}
	if (*upload_data_size != 0) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (r->answered)
			return MHD_YES;
		if (!r->body_over && h->upload_bytes + n <= HUB_UPLOAD_BUDGET &&
		    hub_buf_add(&r->body, upload_data, n) == 0) {
			h->upload_bytes += n;
			r->budget += n;
			return MHD_YES;
		}
		/* Over a limit: read on a little so we can still say 413, then
		 * give up on the connection. */
		r->body_over = true;
		r->discarded += n;
		return r->discarded > HUB_DISCARD_MAX ? MHD_NO : MHD_YES;
	}
	if (r->answered)
		return r->failed ? MHD_NO : MHD_YES;
	if (r->body_over) {
		r->close = true;
		if (r->body.len + r->discarded > r->body.max)
			hub_respond_error(r, MHD_HTTP_CONTENT_TOO_LARGE,
			    "body larger than %zu bytes", r->body.max);
		else {
			r->retry_after = 5;
			hub_respond_error(r, MHD_HTTP_SERVICE_UNAVAILABLE,
			    "too many uploads at once");
		}
		return r->failed ? MHD_NO : MHD_YES;
	}
	r->processing = true;
	hub_api_handle(r);
	if (!r->suspended && !r->parked && r->budget > 0) {
		/* The body has been used: give its memory back now, not when
		 * the response has been sent. */
		h->upload_bytes -= r->budget;
		r->budget = 0;
		hub_buf_free(&r->body);
	}
	if (!r->answered && !r->suspended && !r->parked) {
		log_error("http: %s %s: no response (bug)", method, url);
		hub_respond_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error");
	}
	return r->failed ? MHD_NO : MHD_YES;
}

static void
hub_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct hub *h = cls;
	struct hub_req *r = *con_cls;

	if (r == NULL)
		return;
	hub_req_unhold(r);
	/* A call done at shutdown whose answer MHD no longer asked for. */
	if (r->job != NULL && r->job_done)
		hub_call_free((struct hub_call *)r->job);
	h->upload_bytes -= r->budget;
	hub_buf_free(&r->body);
	h->active--;
	free(r);
	*con_cls = NULL;
}

static void
hub_conn_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
    enum MHD_ConnectionNotificationCode code)
{
	struct hub *h = cls;

	/* The accept time, kept in the pointer itself (hub_conn_age_ms):
	 * nothing to allocate or free. */
	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		*socket_context = (void *)(uintptr_t)loop_now_ms(h->loop);
}

static void
hub_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct hub *h = cls;
	char buf[512];
	size_t n;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	vsnprintf(buf, sizeof(buf), fmt, ap);
#pragma GCC diagnostic pop
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	/* Clients that go away: routine. Being full is not, nor is a
	 * failed TLS handshake (a wrong CA, an old TLS version, a scan):
	 * both throttled. */
	if (strstr(buf, "limit") != NULL)
		log_complain(&h->limit_complain, loop_now_ms(h->loop), LOG_LVL_WARN,
		    "http: %s", buf);
	else if (strcasestr(buf, "handshake") != NULL ||
	    strcasestr(buf, "TLS") != NULL)
		log_complain(&h->tls_complain, loop_now_ms(h->loop), LOG_LVL_WARN,
		    "tls: %s", buf);
	else
		log_debug("http: %s", buf);
}

/* ---- start, drain, stop ---- */

/* listen may end in ":0" (any free port; the port is logged), which
 * net_hostport_parse() rightly refuses for devices. */
static int
hub_listen(struct hub *h, const char *spec, char *err, size_t errlen)
{
	char buf[300], host[256], portstr[8];
	struct addrinfo hints = { 0 }, *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	unsigned port = 0;
	bool any = false;
	size_t n;
	int fd, one = 1, rc;

	snprintf(buf, sizeof(buf), "%s", spec);
	n = strlen(buf);
	if (n >= 2 && strcmp(buf + n - 2, ":0") == 0) {
		buf[n - 1] = '1';
		any = true;
	}
	if (net_hostport_parse(buf, host, sizeof(host), &port, err, errlen) == -1)
		return -1;
	if (port == 0) {
		snprintf(err, errlen, "listen: '%s' needs ADDRESS:PORT", spec);
		return -1;
	}
	if (any)
		port = 0;
	snprintf(portstr, sizeof(portstr), "%u", port);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, portstr, &hints, &ai)) != 0) {
		snprintf(err, errlen, "listen: %s: %s", host, gai_strerror(rc));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "listen: socket: %s", strerror(errno));
		freeaddrinfo(ai);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
	    listen(fd, HUB_LISTEN_BACKLOG) == -1 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) == -1) {
		snprintf(err, errlen, "listen on %s: %s", spec, strerror(errno));
		close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	h->ipv6 = ai->ai_family == AF_INET6;
	freeaddrinfo(ai);
	h->port = ntohs(ss.ss_family == AF_INET6 ?
	    ((struct sockaddr_in6 *)&ss)->sin6_port :
	    ((struct sockaddr_in *)&ss)->sin_port);
	h->listen_fd = fd;
	return 0;
}

static void
hub_stop_cb(struct loop *l, struct loop_timer *t, void *arg)
{
	struct hub *h = arg;

	if (t == &h->grace_timer) {
		if (h->active > 0)
			log_warn("drain: %zu requests still open after drain_grace; "
			    "closing them (none was answered, so none is lost)",
			    h->active);
		loop_stop(l);
		return;
	}
	if (h->active == 0) {
		log_info("drain: no request in flight after %llu ms",
		    (unsigned long long)(mono_ms() - h->drain_started_ms));
		loop_stop(l);
		return;
	}
	loop_timer_arm(l, &h->drain_timer, HUB_DRAIN_CHECK_MS);
}

static void
hub_signal_cb(struct loop *l, int signo, void *arg)
{
	struct hub *h = arg;

	if (h->draining) {
		if (signo == SIGINT) {
			log_warn("second interrupt: stopping now");
			loop_stop(l);
		}
		return;
	}
	h->draining = true;
	h->drain_started_ms = mono_ms();
	log_info("%s: draining (%zu held, %zu requests in flight; at most %llu ms)",
	    platform_signal_name(signo), h->nheld, h->active,
	    (unsigned long long)h->cfg->drain_grace);
	while (h->held != NULL)
		hub_req_wake(h->held, HUB_WAKE_DRAIN);
	loop_timer_arm(l, &h->grace_timer, h->cfg->drain_grace);
	loop_timer_arm(l, &h->drain_timer, HUB_DRAIN_CHECK_MS);
}

static void
hub_tick_cb(struct loop *l, struct loop_timer *t, void *arg)
{
	struct hub *h = arg;

	hub_api_tick(h);
	loop_timer_arm(l, t, 1000);
}

/* Held polls are connections: raise the soft fd limit to the hard one
 * and keep max_connections within it. want 0 (the default) takes what
 * the limit allows without a word; only a number the operator wrote and
 * the system cannot give is worth a warning. */
static unsigned
hub_fd_limit(uint64_t want)
{
	uint64_t lim = platform_fd_limit(UINT64_MAX), fit;

	if (lim == 0)
		return want ? (unsigned)want : 1024 - HUB_FD_RESERVE;
	fit = lim == UINT64_MAX ? HUB_AUTO_CONN_MAX :
	    lim > HUB_FD_RESERVE + 16 ? lim - HUB_FD_RESERVE : 16;
	if (fit > HUB_AUTO_CONN_MAX)
		fit = HUB_AUTO_CONN_MAX;
	if (want == 0) {
		log_debug("max_connections: %llu (the open file limit %llu less %u)",
		    (unsigned long long)fit, (unsigned long long)lim,
		    HUB_FD_RESERVE);
		return (unsigned)fit;
	}
	if (lim != UINT64_MAX && want + HUB_FD_RESERVE > lim) {
		log_warn("max_connections %llu exceeds the open file limit %llu: "
		    "using %llu (raise LimitNOFILE)", (unsigned long long)want,
		    (unsigned long long)lim, (unsigned long long)fit);
		want = fit;
	}
	return (unsigned)want;
}

static int
hub_load_secrets(struct hub *h, char *err, size_t errlen)
{
	const struct config_hub *c = h->cfg;
	char token[HUB_TOKEN_MAX + 1];
	struct stat st;
	size_t n;

	if (hub_secret_read(c->admin_token_file, token, sizeof(token), err,
	    errlen) == -1)
		return -1;
	hub_token_hash(token, strlen(token), h->admin_hash);
	platform_memzero(token, sizeof(token));
	if (c->tls_cert == NULL)
		return 0;
	if (hub_file_read(c->tls_cert, HUB_TLS_FILE_MAX, &h->tls_cert, &n, err,
	    errlen) == -1 ||
	    hub_file_read(c->tls_key, HUB_TLS_FILE_MAX, &h->tls_key, &n, err,
	    errlen) == -1)
		return -1;
	/* Group access is common (ssl-cert); others is a mistake. */
	if (stat(c->tls_key, &st) == 0 && (st.st_mode & S_IRWXO) != 0)
		log_warn("%s: the TLS key is readable by others (mode %04o)",
		    c->tls_key, (unsigned)(st.st_mode & 07777));
	if (strstr(h->tls_cert, "-----BEGIN") == NULL ||
	    strstr(h->tls_key, "-----BEGIN") == NULL) {
		snprintf(err, errlen, "tls_cert and tls_key must be PEM files");
		return -1;
	}
	if (c->client_ca != NULL && (hub_file_read(c->client_ca,
	    HUB_TLS_FILE_MAX, &h->client_ca, &n, err, errlen) == -1 ||
	    strstr(h->client_ca, "-----BEGIN CERTIFICATE") == NULL)) {
		if (h->client_ca != NULL)
			snprintf(err, errlen, "%s: client_ca must be a PEM file of "
			    "CA certificates", c->client_ca);
		return -1;
	}
	if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
		snprintf(err, errlen, "this libmicrohttpd has no TLS support");
		return -1;
	}
	return 0;
}

static void
hub_free(struct hub *h)
{
	/* Jobs first: their requests are answered, none points at a
	 * connection MHD has freed. */
	hub_work_stop(h);
	if (h->mhd != NULL) {
		while (h->held != NULL)
			hub_req_wake(h->held, HUB_WAKE_DRAIN);
		MHD_stop_daemon(h->mhd);
		h->mhd = NULL;
	}
	if (h->listen_fd != -1)
		close(h->listen_fd);
	if (h->store != NULL) {
		hub_api_tick_flush(h);
		hub_store_close(h->store);
	}
	hub_agents_free(h);
	if (h->tls_key != NULL) {
		platform_memzero(h->tls_key, strlen(h->tls_key));
		free(h->tls_key);
	}
	free(h->tls_cert);
	free(h->client_ca);
	if (h->loop != NULL)
		loop_free(h->loop);
}

/* Everything serving needs, short of listening. */
int
hub_prepare(struct hub *h, const struct config_hub *cfg, bool open_store,
    char *err, size_t errlen)
{
	memset(h, 0, sizeof(*h));
	h->cfg = cfg;
	h->listen_fd = -1;
	hub_json_init();
	if (hub_load_secrets(h, err, errlen) == -1)
		return -1;
	if (open_store &&
	    hub_store_open(cfg->db, &h->store, err, errlen) == -1)
		return -1;
	return 0;
}

void
hub_release(struct hub *h)
{
	hub_free(h);
	memset(h, 0, sizeof(*h));
	h->listen_fd = -1;
}

int
hub_serve(const struct hub_config *hc)
{
	const struct config_hub *cfg = &hc->hub;
	static const char tls_prio[] = "NORMAL:-VERS-SSL3.0:-VERS-TLS1.0:-VERS-TLS1.1";
	const union MHD_DaemonInfo *di;
	unsigned flags, limit;
	char err[512];
	struct hub h;

	if (hub_prepare(&h, cfg, true, err, sizeof(err)) == -1) {
		log_error("%s", err);
		hub_release(&h);
		return 1;
	}
	if (hub_listen(&h, cfg->listen, err, sizeof(err)) == -1) {
		log_error("%s", err);
		hub_release(&h);
		return 1;
	}
	if ((h.loop = loop_new()) == NULL) {
		log_error("cannot create the event loop: %s", strerror(errno));
		hub_release(&h);
		return 1;
	}
	/* Commands queued on other nodes sharing the database wake the
	 * polls held here. */
	if (hub_store_watch(h.store, h.loop, hub_api_store_event, &h) == -1) {
		log_error("store: %s", hub_store_errmsg(h.store));
		hub_release(&h);
		return 1;
	}
	if (hub_work_start(&h, err, sizeof(err)) == -1) {
		log_error("%s", err);
		hub_release(&h);
		return 1;
	}
	limit = hub_fd_limit(cfg->max_connections);
	/* Keep a tenth of the connections for uploads and operators. */
	h.shed_at = limit - limit / 10;
	flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	if (h.ipv6)
		flags |= MHD_USE_IPv6;
	if (h.tls_cert != NULL) {
		flags |= MHD_USE_TLS;
		h.mhd = MHD_start_daemon(flags, 0, NULL, NULL, hub_access, &h,
		    MHD_OPTION_EXTERNAL_LOGGER, hub_mhd_log, &h,
		    MHD_OPTION_LISTEN_SOCKET, h.listen_fd,
		    MHD_OPTION_CONNECTION_LIMIT, limit,
		    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HUB_IDLE_TIMEOUT,
		    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HUB_MHD_POOL,
		    MHD_OPTION_NOTIFY_COMPLETED, hub_completed, &h,
		    MHD_OPTION_HTTPS_MEM_CERT, h.tls_cert,
		    MHD_OPTION_HTTPS_MEM_KEY, h.tls_key,
		    MHD_OPTION_HTTPS_PRIORITIES, tls_prio,
		    /* NULL: no client certificates asked for */
		    MHD_OPTION_HTTPS_MEM_TRUST, h.client_ca,
		    MHD_OPTION_NOTIFY_CONNECTION, hub_conn_notify, &h,
		    MHD_OPTION_END);
	} else {
		h.mhd = MHD_start_daemon(flags, 0, NULL, NULL, hub_access, &h,
		    MHD_OPTION_EXTERNAL_LOGGER, hub_mhd_log, &h,
		    MHD_OPTION_LISTEN_SOCKET, h.listen_fd,
		    MHD_OPTION_CONNECTION_LIMIT, limit,
		    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HUB_IDLE_TIMEOUT,
		    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HUB_MHD_POOL,
		    MHD_OPTION_NOTIFY_COMPLETED, hub_completed, &h,
		    MHD_OPTION_NOTIFY_CONNECTION, hub_conn_notify, &h,
		    MHD_OPTION_END);
	}
	if (h.mhd == NULL) {
		log_error("cannot start the HTTP server on %s (see above)",
		    cfg->listen);
		hub_release(&h);
		return 1;
	}
	h.listen_fd = -1;   /* MHD owns it now */
	di = MHD_get_daemon_info(h.mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (di == NULL || loop_io_set(h.loop, di->epoll_fd, LOOP_READ,
	    hub_mhd_io_cb, &h) == -1) {
		log_error("cannot watch libmicrohttpd's epoll fd");
		hub_release(&h);
		return 1;
	}
	loop_timer_init(&h.mhd_timer, hub_mhd_timer_cb, &h);
	loop_timer_init(&h.tick_timer, hub_tick_cb, &h);
	loop_timer_init(&h.drain_timer, hub_stop_cb, &h);
	loop_timer_init(&h.grace_timer, hub_stop_cb, &h);
	if (platform_on_stop(h.loop, hub_signal_cb, &h) == -1) {
		log_error("cannot handle signals: %s", strerror(errno));
		hub_release(&h);
		return 1;
	}
	loop_timer_arm(h.loop, &h.mhd_timer, 0);
	loop_timer_arm(h.loop, &h.tick_timer, 1000);
	log_info("outpost-hub %s listening on %s port %u (%s, max %u connections)",
	    OUTPOST_VERSION, cfg->listen, (unsigned)h.port,
	    h.tls_cert ? "https" : "http", limit);
	if (loop_run(h.loop) == -1) {
		log_error("event loop: %s", strerror(errno));
		hub_release(&h);
		return 1;
	}
	log_info("stopped");
	hub_release(&h);
	return 0;
}
