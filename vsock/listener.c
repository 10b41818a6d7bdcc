/* SPDX-License-Identifier: MIT */
/*
 * The shared listen and accept loop, see listener.h.
 */
#include <unistd.h>

#include "vsock/listener.h"

#define LISTEN_BACKLOG 128
#define ACCEPT_BATCH   32   /* clients per wake-up; the rest on the next */

int vsock_listener_open_unix(struct vsock_listener *l, const char *path, int type,
			     const char *kind, char *err, size_t errlen)
{
	int fd = vsock_sock_unix_listen(path, type, LISTEN_BACKLOG, &l->file);

	if (fd < 0) {
		vsock_listen_error(err, errlen, kind, path, fd);
		return fd;
	}
	l->fd = fd;
	l->open = true;
	return 0;
}

int vsock_listener_open_tcp(struct vsock_listener *l, const struct sockaddr *sa,
			    socklen_t salen, const char *kind, char *err, size_t errlen)
{
	int fd = vsock_sock_tcp_listen(sa, salen, LISTEN_BACKLOG);

	if (fd < 0) {
		char where[80];

		vsock_listen_error(err, errlen, kind,
				   vsock_sock_addr_str(sa, where, sizeof(where)), fd);
		return fd;
	}
	l->fd = fd;
	l->open = true;
	return 0;
}

static void accept_cb(void *opaque, uint32_t events)
{
	struct vsock_listener *l = opaque;

	(void)events;
	/* Level-triggered: clients beyond the batch wake us again. */
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = vsock_sock_accept(l->fd);

		if (fd < 0)
			return; /* EAGAIN, or a transient error (EMFILE, ...) */
		l->on_client(l->opaque, fd);
	}
}

int vsock_listener_serve(struct vsock_listener *l, struct evloop *ev,
			 void (*on_client)(void *opaque, int fd), void *opaque)
{
	int ret;

	l->on_client = on_client;
	l->opaque = opaque;
	l->ev = ev;
	ret = ev_add(ev, &l->src, l->fd, EPOLLIN, accept_cb, l);
	if (ret == 0)
		l->served = true;
	return ret;
}

void vsock_listener_close(struct vsock_listener *l)
{
	if (l->served)
		ev_del(l->ev, &l->src);
	if (l->open)
		close(l->fd);
	vsock_sock_file_remove(&l->file);
	l->served = l->open = false;
}
