// SPDX-License-Identifier: MIT
#include "base/evloop.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define EV_BATCH 64

struct ev_call {
	void (*fn)(void *);
	void *opaque;
	struct ev_call *next;
};

struct evloop {
	int epfd;
	int wakefd;               /* eventfd: stop requests and queued calls */
	struct ev_source wake_src;
	atomic_bool stop;         /* set by evloop_stop(), from any thread */
	pthread_mutex_t call_lock;
	struct ev_call *calls;    /* LIFO; reversed before running */
	/* The batch being dispatched, so ev_del() can drop pending events. */
	struct epoll_event *batch;
	int batch_n, batch_i;
};

static void wake_cb(void *opaque, uint32_t events)
{
	struct evloop *ev = opaque;
	uint64_t v;
	struct ev_call *list, *next, *rev = NULL;

	(void)events;
	if (read(ev->wakefd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&ev->call_lock);
	list = ev->calls;
	ev->calls = NULL;
	pthread_mutex_unlock(&ev->call_lock);
	for (; list; list = next) {  /* restore submission order */
		next = list->next;
		list->next = rev;
		rev = list;
	}
	for (; rev; rev = next) {
		next = rev->next;
		rev->fn(rev->opaque);
		free(rev);
	}
}

int evloop_create(struct evloop **out)
{
	struct evloop *ev = calloc(1, sizeof(*ev));
	int ret;

	if (!ev)
		return -ENOMEM;
	pthread_mutex_init(&ev->call_lock, NULL);
	ev->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ev->epfd < 0) {
		ret = -errno;
		goto err_free;
	}
	ev->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ev->wakefd < 0) {
		ret = -errno;
		goto err_ep;
	}
	ret = ev_add(ev, &ev->wake_src, ev->wakefd, EPOLLIN, wake_cb, ev);
	if (ret)
		goto err_wake;
	*out = ev;
	return 0;
err_wake:
	close(ev->wakefd);
err_ep:
	close(ev->epfd);
err_free:
	free(ev);
	return ret;
}

void evloop_destroy(struct evloop *ev)
{
	struct ev_call *c, *next;

	if (!ev)
		return;
	for (c = ev->calls; c; c = next) {
		next = c->next;
		free(c);
	}
	close(ev->wakefd);
	close(ev->epfd);
	pthread_mutex_destroy(&ev->call_lock);
	free(ev);
}

int ev_add(struct evloop *ev, struct ev_source *src, int fd, uint32_t events,
	   ev_cb cb, void *opaque)
{
	struct epoll_event e = { .events = events, .data.ptr = src };

	*src = (struct ev_source){ .fd = fd, .cb = cb, .opaque = opaque };
	if (epoll_ctl(ev->epfd, EPOLL_CTL_ADD, fd, &e) < 0)
		return -errno;
	return 0;
}

int ev_mod(struct evloop *ev, struct ev_source *src, uint32_t events)
{
	struct epoll_event e = { .events = events, .data.ptr = src };

	if (epoll_ctl(ev->epfd, EPOLL_CTL_MOD, src->fd, &e) < 0)
		return -errno;
	return 0;
}

int ev_del(struct evloop *ev, struct ev_source *src)
{
	int ret = 0;

	if (epoll_ctl(ev->epfd, EPOLL_CTL_DEL, src->fd, NULL) < 0)
		ret = -errno;
	/* Events already fetched in this batch still point at src: drop them so
	 * the owner may free src as soon as we return. */
	for (int i = ev->batch_i; ev->batch && i < ev->batch_n; i++)
		if (ev->batch[i].data.ptr == src)
			ev->batch[i].data.ptr = NULL;
	return ret;
}

int evloop_run(struct evloop *ev)
{
	struct epoll_event evs[EV_BATCH];

	while (!atomic_load(&ev->stop)) {
		int n = epoll_wait(ev->epfd, evs, EV_BATCH, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		ev->batch = evs;
		ev->batch_n = n;
		for (ev->batch_i = 0; ev->batch_i < n; ) {
			struct epoll_event *e = &evs[ev->batch_i++];
			struct ev_source *src = e->data.ptr;

			if (src)
				src->cb(src->opaque, e->events);
		}
		ev->batch = NULL;
	}
	return 0;
}

void evloop_stop(struct evloop *ev)
{
	uint64_t one = 1;

	atomic_store(&ev->stop, true);
	/* write() is async-signal-safe; the eventfd wakes epoll_wait. */
	if (write(ev->wakefd, &one, sizeof(one)) < 0) {
		/* Counter saturated: the loop is already awake. */
	}
}

int evloop_call(struct evloop *ev, void (*fn)(void *), void *opaque)
{
	struct ev_call *c = malloc(sizeof(*c));
	uint64_t one = 1;

	if (!c)
		return -ENOMEM;
	c->fn = fn;
	c->opaque = opaque;
	pthread_mutex_lock(&ev->call_lock);
	c->next = ev->calls;
	ev->calls = c;
	pthread_mutex_unlock(&ev->call_lock);
	if (write(ev->wakefd, &one, sizeof(one)) < 0) {
		/* Saturated counter: a wake-up is already pending. */
	}
	return 0;
}
