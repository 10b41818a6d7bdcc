/* SPDX-License-Identifier: MIT */
/*
 * The I/O thread's epoll loop.  Sources are registered with a callback and
 * an opaque pointer; callbacks run on the I/O thread only.  ev_add/ev_mod/
 * ev_del may be called from any thread (epoll_ctl is thread safe), but a
 * source must only be freed by its owner on the I/O thread, or after the
 * loop has stopped: ev_del() guarantees that no callback for that source is
 * delivered after it returns *when called on the I/O thread* (pending events
 * of the current batch are discarded).
 */
#ifndef BASE_EVLOOP_H
#define BASE_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

typedef void (*ev_cb)(void *opaque, uint32_t events);

struct ev_source {
	int fd;
	ev_cb cb;
	void *opaque;
	bool dead; /* deleted during the current batch */
};

struct evloop;

/* 0 or -errno. */
int evloop_create(struct evloop **out);
void evloop_destroy(struct evloop *ev);

/* Register fd for `events` (EPOLLIN, EPOLLOUT, ...; level-triggered unless
 * EPOLLET is given).  `src` is caller-owned storage that must stay valid
 * until ev_del().  0 or -errno. */
int ev_add(struct evloop *ev, struct ev_source *src, int fd, uint32_t events,
	   ev_cb cb, void *opaque);
int ev_mod(struct evloop *ev, struct ev_source *src, uint32_t events);
int ev_del(struct evloop *ev, struct ev_source *src);

/* Run until evloop_stop(); returns 0, or -errno on an epoll failure. */
int evloop_run(struct evloop *ev);

/* Ask the loop to return; safe from any thread (lock-free atomic store and
 * an eventfd write, so also from a signal handler). */
void evloop_stop(struct evloop *ev);

/* Run `fn(opaque)` on the I/O thread soon (thread safe). 0 or -ENOMEM. */
int evloop_call(struct evloop *ev, void (*fn)(void *), void *opaque);

#endif
