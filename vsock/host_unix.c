/* SPDX-License-Identifier: MIT */
/*
 * The hybrid Unix backend (Firecracker-compatible), see backend.h.
 *
 * Guest → host: connect(2) to "<uds_path>_<port>", non-blocking.  A Unix
 * stream connect either completes at once or fails (a full backlog gives
 * EAGAIN); either way the I/O thread never waits for it.
 *
 * Host → guest: a listener on uds_path; each client must send
 * "CONNECT <port>\n" first.  Bytes are peeked and only the line is
 * consumed, so data the client sends right behind it stays in the socket for
 * the guest.  At most MAX_PENDING clients may sit in the handshake; a new
 * one evicts the oldest, so silent clients cannot pile up.
 *
 * Everything here runs on the I/O thread (listener and handshake callbacks)
 * except connect, which the device calls under its lock from any thread and
 * which touches only immutable fields.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "vmm/evloop.h"
#include "vsock/backend.h"
#include "vsock/device.h"
#include "vsock/hybrid.h"

#define MAX_PENDING   64
#define ACCEPT_BATCH  32
#define LISTEN_BACKLOG 128

struct unix_be;

/* A host client in the CONNECT handshake. */
struct pending {
	struct unix_be *be;
	int fd;
	struct ev_source src;
	struct vsock_connect_parser parser;
	struct pending *prev, *next;    /* newest first */
};

struct unix_be {
	struct vsock_backend base;      /* first: the device sees this */
	char *path;
	struct evloop *ev;
	struct vsock_dev *dev;
	int lfd;
	struct ev_source lsrc;
	struct pending *head, *tail;
	unsigned npending;
};

static int make_addr(struct sockaddr_un *sa, const char *path, const char *suffix,
		     uint32_t port)
{
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (suffix)
		n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s%s%u", path, suffix, port);
	else
		n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s", path);
	if (n < 0 || (size_t)n >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	return 0;
}

static int unix_connect(struct vsock_backend *base, uint32_t port, bool *in_progress)
{
	struct unix_be *be = (struct unix_be *)base;
	struct sockaddr_un sa;
	int fd, err;

	err = make_addr(&sa, be->path, "_", port);
	if (err)
		return err;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		*in_progress = false;
		return fd;
	}
	if (errno == EINPROGRESS) {
		*in_progress = true;
		return fd;
	}
	/* ENOENT / ECONNREFUSED: nobody listens; EAGAIN: backlog full.  The
	 * guest gets RST rather than a stalled loop. */
	err = -errno;
	close(fd);
	return err;
}

static void pending_unlink(struct unix_be *be, struct pending *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		be->head = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		be->tail = p->prev;
	be->npending--;
}

/* Forget a client; close its fd unless handed over (fd < 0). */
static void pending_drop(struct unix_be *be, struct pending *p)
{
	ev_del(be->ev, &p->src);
	pending_unlink(be, p);
	if (p->fd >= 0)
		close(p->fd);
	free(p);
}

static void pending_cb(void *opaque, uint32_t events)
{
	struct pending *p = opaque;
	struct unix_be *be = p->be;
	char buf[VSOCK_CONNECT_LINE_MAX];
	enum vsock_connect_status st;
	size_t used = 0;
	ssize_t n;
	int fd;

	(void)events;
	n = recv(p->fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		/* Closed (or failed) before a full line: no reply. */
		pending_drop(be, p);
		return;
	}
	st = vsock_connect_feed(&p->parser, buf, (size_t)n, &used);
	/* Consume exactly the line bytes; what follows is guest payload. */
	if (used > 0 && recv(p->fd, buf, used, MSG_DONTWAIT) != (ssize_t)used) {
		pending_drop(be, p);
		return;
	}
	if (st == VSOCK_CONNECT_MORE)
		return;
	if (st != VSOCK_CONNECT_DONE) {
		pending_drop(be, p);
		return;
	}
	/* Hand the fd to the device; it answers OK once the guest accepts. */
	fd = p->fd;
	p->fd = -1;
	ev_del(be->ev, &p->src);
	if (vsock_dev_host_accept(be->dev, fd, vsock_connect_port(&p->parser), true) < 0)
		close(fd);
	pending_unlink(be, p);
	free(p);
}

static void accept_cb(void *opaque, uint32_t events)
{
	struct unix_be *be = opaque;

	(void)events;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(be->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct pending *p;

		if (fd < 0)
			return; /* EAGAIN, or a transient error (EMFILE, ...) */
		if (be->npending >= MAX_PENDING)
			pending_drop(be, be->tail);
		p = calloc(1, sizeof(*p));
		if (!p) {
			close(fd);
			continue;
		}
		p->be = be;
		p->fd = fd;
		vsock_connect_init(&p->parser);
		if (ev_add(be->ev, &p->src, fd, EPOLLIN | EPOLLRDHUP, pending_cb, p) < 0) {
			close(fd);
			free(p);
			continue;
		}
		p->next = be->head;
		if (be->head)
			be->head->prev = p;
		else
			be->tail = p;
		be->head = p;
		be->npending++;
	}
}

static void unix_destroy(struct vsock_backend *base)
{
	struct unix_be *be = (struct unix_be *)base;

	while (be->head)
		pending_drop(be, be->head);
	if (be->lfd >= 0) {
		ev_del(be->ev, &be->lsrc);
		close(be->lfd);
		unlink(be->path);
	}
	free(be->path);
	free(be);
}

int vsock_unix_backend_create(const char *uds_path, struct evloop *ev,
			      struct vsock_dev *dev, struct vsock_backend **out)
{
	struct unix_be *be;
	struct sockaddr_un sa;
	int ret;

	ret = make_addr(&sa, uds_path, NULL, 0);
	if (ret)
		return ret;
	be = calloc(1, sizeof(*be));
	if (!be)
		return -ENOMEM;
	be->base.connect = unix_connect;
	be->base.destroy = unix_destroy;
	be->ev = ev;
	be->dev = dev;
	be->lfd = -1;
	be->path = strdup(uds_path);
	if (!be->path) {
		ret = -ENOMEM;
		goto err;
	}
	be->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (be->lfd < 0) {
		ret = -errno;
		goto err;
	}
	if (bind(be->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno; /* EADDRINUSE: never remove someone else's socket */
		goto err_close;
	}
	if (listen(be->lfd, LISTEN_BACKLOG) < 0) {
		ret = -errno;
		goto err_unlink;
	}
	ret = ev_add(ev, &be->lsrc, be->lfd, EPOLLIN, accept_cb, be);
	if (ret)
		goto err_unlink;
	*out = &be->base;
	return 0;

err_unlink:
	unlink(uds_path);
err_close:
	close(be->lfd);
err:
	free(be->path);
	free(be);
	return ret;
}
