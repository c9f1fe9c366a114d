/*
 * Between the generic loop (loop.c) and its I/O backend, one of
 * loop_epoll.c (Linux) and loop_wsapoll.c (Windows), chosen at build time
 * by the Makefile. Internal to core/.
 */
#ifndef OUTPOST_LOOP_INT_H
#define OUTPOST_LOOP_INT_H

#include "core/core.h"

/* One registered socket. The table is keyed by the socket value (a
 * SOCKET handle is neither small nor dense, so it cannot index an array);
 * entries move when the table grows or a neighbour is removed, so nothing
 * keeps a pointer to one across a loop_io_set/loop_io_del. */
struct loop_io {
	os_socket  fd;
	int        events;   /* LOOP_READ|LOOP_WRITE; 0 = free slot */
	loop_io_cb cb;
	void      *arg;
	size_t     bslot;    /* the backend's own index (WSAPoll's array) */
};

/* What a backend reports: a socket and LOOP_READ/WRITE/ERROR. */
struct loop_ready {
	os_socket fd;
	int       ready;
};

struct loop_sig {
	loop_signal_cb cb;
	void          *arg;
};

#define LOOP_BATCH 256
#define LOOP_NSIG  65

struct loop_backend;

struct loop {
	struct loop_backend *be;
	struct loop_io      *io;        /* open addressing, linear probing */
	size_t               iocap;     /* a power of two, or 0 */
	size_t               nio;       /* entries in io[] */
	size_t               nactive;   /* of them, those keeping the loop alive */
	struct loop_timer  **heap;
	size_t               heap_len, heap_cap;
	uint64_t             now_ms;
	uint64_t             timer_seq;
	bool                 stop;
	struct loop_sig      sigs[LOOP_NSIG];
};

/* The table, for backends: the entry of fd or NULL. */
struct loop_io *loop_io_find(struct loop *, os_socket fd);
/* A backend's own socket (a signalfd, a wakeup socket) must not keep
 * loop_run() going: call after registering it. */
void loop_io_unref(struct loop *);
/* Runs signo's callback (from a backend's own socket callback). */
void loop_deliver_signal(struct loop *, int signo);

/* Each backend implements these. */
int  loop_backend_new(struct loop *);
void loop_backend_free(struct loop *);
/* Sets io's interest to events (0: removed) from old (0: new). io and
 * the whole table are unchanged during the call (the backend may look
 * other sockets up); io->events is still old. 0 or -1. */
int  loop_backend_set(struct loop *, struct loop_io *io, int old, int events);
/* Waits at most timeout_ms (-1: no limit) and fills at most max entries;
 * their count, or -1 (errno set) on a failure other than an interruption. */
int  loop_backend_wait(struct loop *, struct loop_ready *, int max,
                       int timeout_ms);
/* Starts delivering signo to loop_deliver_signal. 0 or -1. */
int  loop_backend_signal(struct loop *, int signo);
int  loop_backend_raise(struct loop *, int signo);

#endif
