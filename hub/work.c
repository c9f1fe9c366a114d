/*
 * Store calls off the loop (hub_int.h, "work.c"): a job runs on a worker
 * thread with that worker's own store, then its done callback runs on
 * the loop, where the request that submitted it is resumed.
 *
 * PostgreSQL: HUB_PG_WORKERS threads, each with its own connection, so a
 * slow statement (a lock, a slow disk across the network) holds one
 * worker, never the loop, and the other workers go on. SQLite: one
 * worker owns the one connection (SQLite writes one at a time anyway),
 * so the loop never waits for the disk or for a big batch.
 *
 * A job with a prep step (a batch: inflate, check, split) runs it first
 * on the prep thread, which needs no store: a big batch's CPU time holds
 * neither the loop nor the store workers (SQLite's one, above all). The
 * prep thread runs ahead of the workers by HUB_PREP_AHEAD jobs at most,
 * so prepared batches waiting for the store stay few.
 *
 * The queue is bounded (HUB_WORK_QUEUE_MAX): past it a request is
 * answered 503 at once. Finished jobs reach the loop through an eventfd.
 */
#include "hub/hub_int.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define HUB_WORK_MAX 8
#define HUB_PREP_AHEAD 2   /* prepared jobs waiting for a worker */

struct hub_work {
	pthread_mutex_t   mu;
	pthread_cond_t    cv;
	struct hub_job   *head, *tail;         /* waiting for a worker */
	struct hub_job   *fin_head, *fin_tail; /* done, for the loop */
	struct hub_job   *prep_head, *prep_tail; /* waiting for the prep thread */
	pthread_cond_t    prep_cv;
	size_t            prepped;             /* prepared, not yet taken */
	pthread_t         prep_th;
	bool              prep_started, prep_stop;
	size_t            queued;              /* submitted, not yet finished */
	bool              stop;
	int               efd;
	int               nthreads;
	bool              own_stores;          /* PostgreSQL: one per worker */
	pthread_t         th[HUB_WORK_MAX];
	struct hub_store *stores[HUB_WORK_MAX];
	struct hub       *hub;
	unsigned          idx;                 /* handed to the next thread */
};

/* Under w->mu. */
static void
work_push(struct hub_job **head, struct hub_job **tail, struct hub_job *j)
{
	j->next = NULL;
	if (*tail != NULL)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
}

static struct hub_job *
work_pop(struct hub_job **head, struct hub_job **tail)
{
	struct hub_job *j = *head;

	if (j != NULL) {
		*head = j->next;
		if (*head == NULL)
			*tail = NULL;
		j->next = NULL;
	}
	return j;
}

static void *
work_prep_main(void *arg)
{
	struct hub_work *w = arg;
	struct hub_job *j;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		/* At shutdown what is queued is still prepared and stored. */
		while ((w->prep_head == NULL && !w->prep_stop) ||
		    (w->prep_head != NULL && w->prepped >= HUB_PREP_AHEAD &&
		    !w->prep_stop))
			pthread_cond_wait(&w->prep_cv, &w->mu);
		if ((j = work_pop(&w->prep_head, &w->prep_tail)) == NULL)
			break;
		pthread_mutex_unlock(&w->mu);
		j->prep(j);
		pthread_mutex_lock(&w->mu);
		w->prepped++;
		work_push(&w->head, &w->tail, j);
		pthread_cond_signal(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void *
work_main(void *arg)
{
	struct hub_work *w = arg;
	struct hub_store *s;
	struct hub_job *j;
	uint64_t one = 1;

	pthread_mutex_lock(&w->mu);
	s = w->stores[w->idx++];
	for (;;) {
		while (w->head == NULL && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		if ((j = work_pop(&w->head, &w->tail)) == NULL)
			break;
		if (j->prep != NULL) {
			w->prepped--;
			pthread_cond_signal(&w->prep_cv);
		}
		pthread_mutex_unlock(&w->mu);
		j->run(j, s);
		pthread_mutex_lock(&w->mu);
		work_push(&w->fin_head, &w->fin_tail, j);
		if (write(w->efd, &one, sizeof(one)) < 0) {
			/* the counter is full: the loop is reading already */
		}
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Finished jobs, on the loop: their callbacks, then their requests. */
static void
work_finish(struct hub_work *w)
{
	struct hub_job *j, *next;

	pthread_mutex_lock(&w->mu);
	j = w->fin_head;
	w->fin_head = w->fin_tail = NULL;
	pthread_mutex_unlock(&w->mu);
	for (; j != NULL; j = next) {
		struct hub_req *r = j->req;

		next = j->next;
		pthread_mutex_lock(&w->mu);
		w->queued--;
		pthread_mutex_unlock(&w->mu);
		if (r != NULL) {
			/* The route's handler reads r->job when it runs again. */
			r->job_done = true;
			hub_req_unpark(r);
		} else if (j->done != NULL) {
			j->done(j);
		}
	}
}

static void
work_io_cb(struct loop *l, int fd, int events, void *arg)
{
	uint64_t n;

	(void)l, (void)events;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_error("work: reading the eventfd: %s", strerror(errno));
	work_finish(arg);
}

int
hub_work_start(struct hub *h, char *err, size_t errlen)
{
	struct hub_work *w = xcalloc(1, sizeof(*w));
	enum hub_store_kind kind;
	const char *where;
	sigset_t all, old;

	w->hub = h;
	w->efd = -1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	pthread_cond_init(&w->prep_cv, NULL);
	h->work = w;
	if (hub_store_parse_db(h->cfg->db, &kind, &where, err, errlen) == -1)
		return -1;
	if (kind == HUB_STORE_PG) {
		/* Each worker its own connection (opened here, before the
		 * loop runs: start-up may wait for the server). */
		w->own_stores = true;
		w->nthreads = HUB_PG_WORKERS;
		for (int i = 0; i < w->nthreads; i++)
			if (hub_store_open(h->cfg->db, &w->stores[i], err,
			    errlen) == -1)
				return -1;
	} else {
		w->nthreads = 1;
		w->stores[0] = h->store;
	}
	if ((w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1 ||
	    loop_io_set(h->loop, w->efd, LOOP_READ, work_io_cb, w) == -1) {
		snprintf(err, errlen, "work: eventfd: %s", strerror(errno));
		return -1;
	}
	/* Signals are the loop's (signalfd): workers block them all. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (int i = 0; i < w->nthreads; i++) {
		int rc = pthread_create(&w->th[i], NULL, work_main, w);

		if (rc != 0) {
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			snprintf(err, errlen, "work: cannot start a thread: %s",
			    strerror(rc));
			w->nthreads = i;
			return -1;
		}
	}
	if (pthread_create(&w->prep_th, NULL, work_prep_main, w) == 0)
		w->prep_started = true;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!w->prep_started) {
		snprintf(err, errlen, "work: cannot start the prep thread");
		return -1;
	}
	return 0;
}

int
hub_work_submit(struct hub *h, struct hub_job *j)
{
	struct hub_work *w = h->work;

	j->next = NULL;
	pthread_mutex_lock(&w->mu);
	if (w->queued >= HUB_WORK_QUEUE_MAX || w->stop || w->nthreads == 0) {
		pthread_mutex_unlock(&w->mu);
		return -1;
	}
	w->queued++;
	if (j->prep != NULL) {
		work_push(&w->prep_head, &w->prep_tail, j);
		pthread_cond_signal(&w->prep_cv);
	} else {
		work_push(&w->head, &w->tail, j);
		pthread_cond_signal(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return 0;
}

/* At shutdown: the jobs queued run to their end (their requests are
 * answered), then the workers stop. */
void
hub_work_stop(struct hub *h)
{
	struct hub_work *w = h->work;

	if (w == NULL)
		return;
	/* The prep thread first: what it hands on, the workers store. */
	pthread_mutex_lock(&w->mu);
	w->prep_stop = true;
	pthread_cond_broadcast(&w->prep_cv);
	pthread_mutex_unlock(&w->mu);
	if (w->prep_started)
		pthread_join(w->prep_th, NULL);
	w->prep_started = false;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	for (int i = 0; i < w->nthreads; i++)
		pthread_join(w->th[i], NULL);
	w->nthreads = 0;
	work_finish(w);
	if (w->efd != -1) {
		if (h->loop != NULL)
			loop_io_del(h->loop, w->efd);
		close(w->efd);
	}
	if (w->own_stores)
		for (int i = 0; i < HUB_WORK_MAX; i++)
			hub_store_close(w->stores[i]);
	pthread_cond_destroy(&w->cv);
	pthread_cond_destroy(&w->prep_cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
	h->work = NULL;
}
