/* SPDX-License-Identifier: MIT */
/*
 * The hybrid Unix backend (Firecracker-compatible), see backend.h.
 *
 * Guest → host: connect(2) to "<uds_path>_<port>", non-blocking, a
 * SOCK_STREAM or SOCK_SEQPACKET socket as the guest's flow.  A Unix connect
 * either completes at once or fails (a full backlog gives EAGAIN); either
 * way the I/O thread never waits for it.
 *
 * Host → guest: two listeners, uds_path (SOCK_STREAM) and
 * "<uds_path>_seqpacket" (SOCK_SEQPACKET); each client must send
 * "CONNECT <port>\n" first.  On the stream listener bytes are peeked and
 * only the line is consumed, so data the client sends right behind it
 * stays in the socket for the guest; on the seqpacket listener the line is
 * one whole message (its "\n" may be left out).
 *
 * A client in the handshake costs one fd and a 96-byte struct pending.
 * Each has HANDSHAKE_NS from its accept to send its line, then it is
 * closed (one timerfd for all: the list is in accept order, so the oldest
 * is always the next to expire).  Room is bounded by pending_cap() (4096,
 * fewer if the fd limit is low); when full, a new client evicts the oldest.
 * So a flood of idle connections holds rate x 2 s slots: up to 2048 a
 * second it evicts nobody, and a client that sends its line within the
 * deadline is served.  A client that hangs up (both directions) right
 * after its line is not handed to the guest.
 *
 * A sibling VMM sends "CONNECT-FROM <cid> <src_port> <port>\n" instead
 * (host_peer.c); it is taken only from a client of our own uid
 * (SO_PEERCRED) and goes to the sink's accept_peer, which checks the CID.
 *
 * Everything here runs on the I/O thread (listener and handshake callbacks)
 * except connect, which the device calls under its lock from any thread and
 * which touches only immutable fields.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>

#include "base/clock.h"
#include "base/evloop.h"
#include "vsock/backend.h"
#include "vsock/hybrid.h"
#include "vsock/listener.h"
#include "vsock/packet.h"
#include "vsock/sock.h"

#define MAX_PENDING    4096
#define HANDSHAKE_NS   (2ull * 1000000000ull) /* as the device's connect deadline */
#define SEQ_SUFFIX     "_seqpacket"

struct unix_be;

/* One listener: uds_path (stream) or <uds_path>_seqpacket. */
struct unix_listener {
	struct unix_be *be;
	int type;                       /* SOCK_STREAM / SOCK_SEQPACKET */
	struct vsock_listener l;
};

/* A host client in the CONNECT handshake. */
struct pending {
	struct unix_be *be;
	int fd;
	int type;
	struct ev_source src;
	struct vsock_connect_parser parser;
	uint64_t deadline;              /* monotonic ns: line by then */
	TAILQ_ENTRY(pending) link;      /* be->pending, newest first */
};

struct unix_be {
	struct vsock_backend base;      /* first: the device sees this */
	char *path;
	struct evloop *ev;
	struct vsock_host_sink sink;    /* from listen() */
	struct unix_listener l[2];      /* stream, seqpacket */
	TAILQ_HEAD(pending_list, pending) pending; /* newest first: the last expires next */
	unsigned npending, max_pending;
	int timerfd;                    /* fires at the oldest deadline */
	struct ev_source timer_src;
	uid_t uid;                      /* ours: the only one CONNECT-FROM is taken from */
};

static int vtype_to_sock(uint16_t type)
{
	if (type == VIRTIO_VSOCK_TYPE_STREAM)
		return SOCK_STREAM;
	if (type == VIRTIO_VSOCK_TYPE_SEQPACKET)
		return SOCK_SEQPACKET;
	return -1;
}

static int unix_connect(struct vsock_backend *base, uint32_t port, uint16_t type,
			bool *in_progress)
{
	struct unix_be *be = (struct unix_be *)base;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int n, st = vtype_to_sock(type);

	if (st < 0)
		return -EPROTOTYPE;
	n = snprintf(path, sizeof(path), "%s_%u", be->path, port);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	/* ENOENT / ECONNREFUSED: nobody listens; EAGAIN: backlog full.  The
	 * guest gets RST rather than a stalled loop. */
	return vsock_sock_unix_connect(path, st, in_progress);
}

static void pending_unlink(struct unix_be *be, struct pending *p)
{
	TAILQ_REMOVE(&be->pending, p, link);
	be->npending--;
}

static struct pending *oldest(struct unix_be *be)
{
	return TAILQ_LAST(&be->pending, pending_list);
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

/* Stream client: peek, consume only the line.  A status, *port on DONE. */
static enum vsock_connect_status handshake_stream(struct pending *p, bool *again)
{
	char buf[VSOCK_CONNECT_FROM_LINE_MAX];
	enum vsock_connect_status st;
	size_t used = 0;
	ssize_t n;

	n = recv(p->fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
		*again = true;
		return VSOCK_CONNECT_MORE;
	}
	if (n <= 0)
		return VSOCK_CONNECT_ERR_EOF; /* closed (or failed) mid-line */
	st = vsock_connect_feed(&p->parser, buf, (size_t)n, &used);
	/* Consume exactly the line bytes; what follows is guest payload. */
	if (used > 0 && recv(p->fd, buf, used, MSG_DONTWAIT) != (ssize_t)used)
		return VSOCK_CONNECT_ERR_EOF;
	return st;
}

/* Seqpacket client: the line is exactly one message. */
static enum vsock_connect_status handshake_seq(struct pending *p, bool *again)
{
	char buf[VSOCK_CONNECT_FROM_LINE_MAX];
	enum vsock_connect_status st;
	size_t used = 0;
	ssize_t n;

	n = recv(p->fd, buf, sizeof(buf), MSG_TRUNC | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
		*again = true;
		return VSOCK_CONNECT_MORE;
	}
	if (n <= 0)
		return VSOCK_CONNECT_ERR_EOF;
	if ((size_t)n > sizeof(buf))
		return VSOCK_CONNECT_ERR_TOO_LONG;
	st = vsock_connect_feed(&p->parser, buf, (size_t)n, &used);
	if (st == VSOCK_CONNECT_MORE) /* no "\n": the message ends the line */
		st = vsock_connect_feed(&p->parser, "\n", 1, &used);
	else if (st == VSOCK_CONNECT_DONE && used != (size_t)n)
		st = VSOCK_CONNECT_ERR_TRAILING;
	return st;
}

/* The client closed (or shut down both ways): POLLHUP.  A half-close
 * (SHUT_WR) is not: such a client still reads the OK and the guest's data. */
static bool hung_up(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLHUP);
}

/* A CONNECT-FROM line is believed only from a process of our own user: the
 * sibling VMMs run as that user, and a host program of another user
 * (--vsock-socket-group) could otherwise pose as a sibling guest. */
static bool peer_trusted(const struct unix_be *be, int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0 &&
	       len == sizeof(cr) && cr.uid == be->uid;
}

/* The timer goes off at the oldest client's deadline. */
static void timer_arm(struct unix_be *be)
{
	struct itimerspec its = { 0 };
	struct pending *p = oldest(be);

	if (!p)
		return; /* a stale expiry finds nothing to do */
	its.it_value.tv_sec = (time_t)(p->deadline / 1000000000ull);
	its.it_value.tv_nsec = (long)(p->deadline % 1000000000ull);
	timerfd_settime(be->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void timer_cb(void *opaque, uint32_t events)
{
	struct unix_be *be = opaque;
	uint64_t ticks, now = vm_now_ns();
	struct pending *p;

	(void)events;
	if (read(be->timerfd, &ticks, sizeof(ticks)) < 0) {
		/* EAGAIN: re-armed since it fired */
	}
	while ((p = oldest(be)) && p->deadline <= now)
		pending_drop(be, p); /* no line in time: closed, no reply */
	timer_arm(be);
}

static void pending_cb(void *opaque, uint32_t events)
{
	struct pending *p = opaque;
	struct unix_be *be = p->be;
	enum vsock_connect_status st;
	bool again = false;
	uint16_t vtype;
	int fd, ret;

	(void)events;
	if (p->type == SOCK_SEQPACKET) {
		st = handshake_seq(p, &again);
		vtype = VIRTIO_VSOCK_TYPE_SEQPACKET;
	} else {
		st = handshake_stream(p, &again);
		vtype = VIRTIO_VSOCK_TYPE_STREAM;
	}
	if (again || st == VSOCK_CONNECT_MORE)
		return;
	if (st != VSOCK_CONNECT_DONE || hung_up(p->fd) ||
	    (vsock_connect_is_from(&p->parser) &&
	     (!be->sink.accept_peer || !peer_trusted(be, p->fd)))) {
		/* Bad line or EOF: no reply.  Hung up right after its line: it
		 * can never read the OK, so the guest is not bothered. */
		pending_drop(be, p);
		return;
	}
	/* Hand the fd over; the device answers OK once the guest accepts. */
	fd = p->fd;
	p->fd = -1;
	ev_del(be->ev, &p->src);
	if (vsock_connect_is_from(&p->parser))
		ret = be->sink.accept_peer(be->sink.opaque, fd,
					   vsock_connect_from_cid(&p->parser),
					   vsock_connect_from_port(&p->parser),
					   vsock_connect_port(&p->parser), vtype);
	else
		ret = be->sink.accept(be->sink.opaque, fd, vsock_connect_port(&p->parser),
				      vtype, true);
	if (ret < 0)
		close(fd);
	pending_unlink(be, p);
	free(p);
}

/* A new client on a listener: it has HANDSHAKE_NS to send its line. */
static void on_client(void *opaque, int fd)
{
	struct unix_listener *l = opaque;
	struct unix_be *be = l->be;
	struct pending *p;

	if (be->npending >= be->max_pending)
		pending_drop(be, oldest(be));
	p = calloc(1, sizeof(*p));
	if (!p) {
		close(fd);
		return;
	}
	p->be = be;
	p->fd = fd;
	p->type = l->type;
	p->deadline = vm_now_ns() + HANDSHAKE_NS;
	vsock_connect_init(&p->parser);
	if (ev_add(be->ev, &p->src, fd, EPOLLIN | EPOLLRDHUP, pending_cb, p) < 0) {
		close(fd);
		free(p);
		return;
	}
	TAILQ_INSERT_HEAD(&be->pending, p, link);
	be->npending++;
	if (p == oldest(be))
		timer_arm(be);
}

static int unix_listen(struct vsock_backend *base, const struct vsock_host_sink *sink)
{
	struct unix_be *be = (struct unix_be *)base;
	int ret = 0;

	be->sink = *sink;
	for (int i = 0; i < 2 && !ret; i++)
		if (be->l[i].l.open)
			ret = vsock_listener_serve(&be->l[i].l, be->ev, on_client, &be->l[i]);
	return ret;
}

static void unix_destroy(struct vsock_backend *base)
{
	struct unix_be *be = (struct unix_be *)base;
	struct pending *p;

	while ((p = TAILQ_FIRST(&be->pending)))
		pending_drop(be, p);
	for (int i = 0; i < 2; i++)
		vsock_listener_close(&be->l[i].l);
	if (be->timerfd >= 0) {
		ev_del(be->ev, &be->timer_src);
		close(be->timerfd);
	}
	free(be->path);
	free(be);
}

static int listener_open(struct unix_be *be, struct unix_listener *l, int type,
			 const char *suffix, char *err, size_t errlen)
{
	char *path;
	int ret;

	l->be = be;
	l->type = type;
	if (asprintf(&path, "%s%s", be->path, suffix) < 0)
		return -ENOMEM;
	ret = vsock_listener_open_unix(&l->l, path, type, "listener unix", err, errlen);
	free(path);
	return ret;
}

/* Handshake slots: MAX_PENDING, but at most a quarter of the fds we may
 * open (the rest are for connections and the guest's own flows). */
static unsigned pending_cap(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur != RLIM_INFINITY &&
	    r.rlim_cur / 4 < MAX_PENDING)
		return r.rlim_cur / 4 < 64 ? 64 : (unsigned)(r.rlim_cur / 4);
	return MAX_PENDING;
}

int vsock_unix_backend_create(const char *uds_path, struct evloop *ev,
			      struct vsock_backend **out, char *err, size_t errlen)
{
	struct unix_be *be;
	int ret;

	be = calloc(1, sizeof(*be));
	if (!be)
		return -ENOMEM;
	be->base.connect = unix_connect;
	be->base.listen = unix_listen;
	be->base.destroy = unix_destroy;
	be->ev = ev;
	TAILQ_INIT(&be->pending);
	be->max_pending = pending_cap();
	be->uid = geteuid();
	be->path = strdup(uds_path);
	be->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (!be->path || be->timerfd < 0) {
		ret = be->path ? -errno : -ENOMEM;
		if (be->timerfd >= 0)
			close(be->timerfd);
		free(be->path);
		free(be);
		return ret;
	}
	ret = ev_add(ev, &be->timer_src, be->timerfd, EPOLLIN, timer_cb, be);
	if (ret) {
		close(be->timerfd);
		be->timerfd = -1;
		unix_destroy(&be->base);
		return ret;
	}
	ret = listener_open(be, &be->l[0], SOCK_STREAM, "", err, errlen);
	/* A uds_path that fits sun_path only without the suffix keeps its
	 * stream listener (Firecracker compatibility) and has no seqpacket one. */
	if (!ret && strlen(uds_path) + sizeof(SEQ_SUFFIX) <= sizeof(((struct sockaddr_un *)0)->sun_path))
		ret = listener_open(be, &be->l[1], SOCK_SEQPACKET, SEQ_SUFFIX, err, errlen);
	if (ret) {
		unix_destroy(&be->base);
		return ret;
	}
	*out = &be->base;
	return 0;
}

/* --- a fixed Unix path (forward_out "unix") ---------------------------- */

struct path_be {
	struct vsock_backend base;
	char *path;
};

static int path_connect(struct vsock_backend *base, uint32_t port, uint16_t type,
			bool *in_progress)
{
	struct path_be *be = (struct path_be *)base;
	int st = vtype_to_sock(type);

	(void)port;
	if (st < 0)
		return -EPROTOTYPE;
	return vsock_sock_unix_connect(be->path, st, in_progress);
}

static void path_destroy(struct vsock_backend *base)
{
	struct path_be *be = (struct path_be *)base;

	free(be->path);
	free(be);
}

int vsock_unix_path_backend_create(const char *path, struct vsock_backend **out)
{
	struct path_be *be = calloc(1, sizeof(*be));

	if (!be)
		return -ENOMEM;
	be->path = strdup(path);
	if (!be->path) {
		free(be);
		return -ENOMEM;
	}
	be->base.connect = path_connect;
	be->base.destroy = path_destroy;
	*out = &be->base;
	return 0;
}
