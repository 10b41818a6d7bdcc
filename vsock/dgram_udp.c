/* SPDX-License-Identifier: MIT */
/*
 * UDP forwards for datagrams: sockets and bounded address tables
 * (dgram_udp.h).  docs/vsock.md, "UDP forwards", has the why of the bounds.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "vsock/dgram_udp.h"
#include "vsock/packet.h"
#include "vsock/sock.h"

/* Epoll tags: the kind in the top bits, then (out sockets) the slot's
 * generation, then the index, so a tag can never name a socket that took
 * the place of the one it was made for. */
#define TAG_IN        (1ull << 62)
#define TAG_OUT       (2ull << 62)
#define TAG_KIND_MASK (3ull << 62)
#define TAG_GEN_SHIFT 16
#define TAG_IDX_MASK  0xffffull

struct udp_out_fwd {
	uint32_t port;                 /* host port P */
	struct sockaddr_storage sa;    /* where its datagrams go */
	socklen_t salen;
};

/* A socket for the pair (forward, guest port). */
struct udp_out_sock {
	bool live;
	int fd;
	unsigned fwd;                  /* index in u->out */
	uint32_t gport;
	uint32_t gen;                  /* bumped per socket made in this slot */
	uint64_t used;                 /* u->tick at the last datagram either way */
};

struct udp_in_lis {
	int fd;
	uint32_t gport;                /* guest port P */
};

/* A forward_in client and the host port the guest knows it by. */
struct udp_in_client {
	bool live;
	unsigned lis;                  /* index in u->in */
	uint32_t hport;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	uint64_t used;
};

struct vsock_dgram_udp {
	int epfd;
	struct udp_out_fwd *out;
	unsigned nout;
	struct udp_in_lis *in;
	unsigned nin;
	uint64_t tick;                 /* LRU clock: one per datagram */
	uint32_t next_hport;           /* offset of the next client port to try */
	struct udp_out_sock os[VSOCK_DGRAM_UDP_OUT_MAX];
	struct udp_in_client ic[VSOCK_DGRAM_UDP_IN_MAX];
};

_Static_assert(VSOCK_DGRAM_UDP_OUT_MAX <= TAG_IDX_MASK && VSOCK_DGRAM_UDP_IN_MAX <= TAG_IDX_MASK,
	       "slot indexes fit the tag");
_Static_assert(VSOCK_DGRAM_UDP_LISTENERS_MAX - 1 <= TAG_IDX_MASK,
	       "listener indexes fit the tag");
_Static_assert(VSOCK_DGRAM_UDP_IN_PORTS > VSOCK_DGRAM_UDP_IN_MAX,
	       "every client can have a port");
_Static_assert(VSOCK_DGRAM_UDP_IN_PORT_FIRST + (uint64_t)VSOCK_DGRAM_UDP_IN_PORTS <= 0xffffffffull,
	       "the client ports stay below VMADDR_PORT_ANY");

static int epoll_add(int epfd, int fd, uint64_t tag)
{
	struct epoll_event e = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0 ? -errno : 0;
}

static void close_sock(struct vsock_dgram_udp *u, int fd)
{
	epoll_ctl(u->epfd, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
}

void vsock_dgram_udp_destroy(struct vsock_dgram_udp *u)
{
	if (!u)
		return;
	for (unsigned i = 0; i < VSOCK_DGRAM_UDP_OUT_MAX; i++)
		if (u->os[i].live)
			close_sock(u, u->os[i].fd);
	for (unsigned i = 0; i < u->nin; i++)
		if (u->in[i].fd >= 0)
			close_sock(u, u->in[i].fd);
	free(u->in);
	free(u->out);
	free(u);
}

/* Only numeric IPv4/IPv6 addresses of their exact size reach us. */
static bool addr_ok(const struct sockaddr *sa, unsigned len)
{
	return sa && ((sa->sa_family == AF_INET && len == sizeof(struct sockaddr_in)) ||
		      (sa->sa_family == AF_INET6 && len == sizeof(struct sockaddr_in6)));
}

static int bind_listener(const struct vsock_dgram_udp_fwd *f)
{
	int fd, e, one = 1;

	fd = socket(f->sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* As the TCP listeners: [::]:P is IPv6 only, so 0.0.0.0:P may be
	 * bound beside it.  No SO_REUSEADDR: for UDP it would let a second
	 * process share the port and take some of the datagrams. */
	if (f->sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, f->sa, f->salen) < 0) {
		e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

int vsock_dgram_udp_create(const struct vsock_dgram_udp_fwd *out, unsigned nout,
			   const struct vsock_dgram_udp_fwd *in, unsigned nin, int epfd,
			   struct vsock_dgram_udp **res, char *err, size_t errlen)
{
	struct vsock_dgram_udp *u;
	char name[VSOCK_ADDR_STR_MAX];
	int ret;

	/* A listener's tag holds its index: one beyond TAG_IDX_MASK would
	 * be read as another listener and stay readable for ever. */
	if (nin > VSOCK_DGRAM_UDP_LISTENERS_MAX) {
		snprintf(err, errlen, "vsock forward udp: %u listeners, at most %u", nin,
			 VSOCK_DGRAM_UDP_LISTENERS_MAX);
		return -EINVAL;
	}
	for (unsigned i = 0; i < nout + nin; i++) {
		const struct vsock_dgram_udp_fwd *f = i < nout ? &out[i] : &in[i - nout];

		if (!addr_ok(f->sa, f->salen))
			return -EINVAL; /* the config makes only these */
		if (i < nout && f->port - VSOCK_DGRAM_UDP_IN_PORT_FIRST < VSOCK_DGRAM_UDP_IN_PORTS)
			return -EINVAL; /* the config refuses it too */
	}
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->epfd = epfd;
	u->out = calloc(nout ? nout : 1, sizeof(*u->out));
	u->in = calloc(nin ? nin : 1, sizeof(*u->in));
	if (!u->out || !u->in) {
		ret = -ENOMEM;
		goto fail;
	}
	for (unsigned i = 0; i < nout; i++) {
		for (unsigned j = 0; j < i; j++)
			if (out[j].port == out[i].port) {
				ret = -EINVAL; /* the config refuses duplicates */
				goto fail;
			}
		u->out[i].port = out[i].port;
		memcpy(&u->out[i].sa, out[i].sa, out[i].salen);
		u->out[i].salen = out[i].salen;
	}
	u->nout = nout;
	for (unsigned i = 0; i < nin; i++, u->nin++) {
		u->in[i].gport = in[i].port;
		u->in[i].fd = bind_listener(&in[i]);
		if (u->in[i].fd < 0) {
			ret = u->in[i].fd;
			vsock_listen_error(err, errlen, "forward udp",
					   vsock_sock_addr_str(in[i].sa, name, sizeof(name)), ret);
			goto fail;
		}
		ret = epoll_add(epfd, u->in[i].fd, TAG_IN | i);
		if (ret) {
			close(u->in[i].fd);
			u->in[i].fd = -1;
			goto fail;
		}
	}
	*res = u;
	return 0;
fail:
	vsock_dgram_udp_destroy(u);
	return ret;
}

static void count_send_error(int e, struct vsock_dgram_stats *st)
{
	/* ECONNREFUSED: an ICMP port unreachable for an earlier datagram on
	 * this connected socket; nobody takes datagrams there. */
	if (e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH)
		st->tx_no_receiver++;
	else if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS)
		st->tx_host_full++;
	else
		st->tx_host_err++; /* EMSGSIZE: more than UDP carries (65507 over IPv4) */
}

static void send_iov(int fd, const struct sockaddr_storage *to, socklen_t tolen,
		     const struct iovec *iov, unsigned n, uint32_t len,
		     struct vsock_dgram_stats *st)
{
	struct msghdr m = {
		.msg_name = (void *)to, .msg_namelen = to ? tolen : 0,
		.msg_iov = (struct iovec *)iov, .msg_iovlen = n,
	};

	if (sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		count_send_error(errno, st);
		return;
	}
	st->tx_pkts++;
	st->tx_bytes += len;
}

static unsigned count_live_out(const struct vsock_dgram_udp *u)
{
	unsigned n = 0;

	for (unsigned i = 0; i < VSOCK_DGRAM_UDP_OUT_MAX; i++)
		n += u->os[i].live;
	return n;
}

static unsigned count_live_in(const struct vsock_dgram_udp *u)
{
	unsigned n = 0;

	for (unsigned i = 0; i < VSOCK_DGRAM_UDP_IN_MAX; i++)
		n += u->ic[i].live;
	return n;
}

/*
 * The socket for (forward f, guest port gport), made if there is none:
 * a free slot, else the least recently used one's (its socket closed, so
 * a late reply to it is lost, as a NAT forgets an old mapping).  Evicting
 * rather than refusing keeps a guest that picks a new source port per
 * request (a DNS resolver) working for ever.  NULL if the socket cannot be
 * made (counted).
 */
static struct udp_out_sock *out_sock(struct vsock_dgram_udp *u, unsigned f, uint32_t gport,
				     struct vsock_dgram_stats *st)
{
	struct udp_out_sock *s, *victim = NULL;
	int fd;

	for (unsigned i = 0; i < VSOCK_DGRAM_UDP_OUT_MAX; i++) {
		s = &u->os[i];
		if (s->live && s->fwd == f && s->gport == gport)
			return s;
		if (!victim || (victim->live && (!s->live || s->used < victim->used)))
			victim = s;
	}
	/* Make and connect the new socket before evicting anyone: a forward
	 * whose connect() fails (an unreachable or broadcast address) must
	 * not cost a working flow its socket on every datagram. */
	fd = socket(u->out[f].sa.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	/* connect(): the kernel picks the local port, and the socket then
	 * takes datagrams from the forward's address only. */
	if (fd >= 0 && connect(fd, (struct sockaddr *)&u->out[f].sa, u->out[f].salen) < 0) {
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		st->udp_socket_err++;
		return NULL;
	}
	if (victim->live) {
		close_sock(u, victim->fd);
		victim->live = false;
		st->udp_out_evicted++;
	}
	victim->gen++;
	if (epoll_add(u->epfd, fd, TAG_OUT | ((uint64_t)victim->gen << TAG_GEN_SHIFT) |
		      (uint64_t)(victim - u->os)) < 0) {
		close(fd);
		st->udp_socket_err++;
		st->udp_out_socks = count_live_out(u);
		return NULL;
	}
	*victim = (struct udp_out_sock){ .live = true, .fd = fd, .fwd = f, .gport = gport,
					 .gen = victim->gen };
	st->udp_out_socks = count_live_out(u);
	return victim;
}

bool vsock_dgram_udp_send(struct vsock_dgram_udp *u, uint32_t gport, uint32_t hport,
			  const struct iovec *iov, unsigned n, uint32_t len,
			  struct vsock_dgram_stats *st)
{
	struct udp_out_sock *s;
	unsigned f;

	/* A reply to a forward_in client: the port names it. */
	if (u->nin && hport - VSOCK_DGRAM_UDP_IN_PORT_FIRST < VSOCK_DGRAM_UDP_IN_PORTS) {
		for (unsigned i = 0; i < VSOCK_DGRAM_UDP_IN_MAX; i++) {
			struct udp_in_client *c = &u->ic[i];

			if (c->live && c->hport == hport) {
				c->used = ++u->tick;
				send_iov(u->in[c->lis].fd, &c->addr, c->addrlen, iov, n, len, st);
				return true;
			}
		}
		st->tx_no_receiver++; /* forgotten (evicted) or never given */
		return true;
	}
	for (f = 0; f < u->nout && u->out[f].port != hport; f++)
		;
	if (f == u->nout)
		return false;
	s = out_sock(u, f, gport, st);
	if (s) {
		s->used = ++u->tick;
		send_iov(s->fd, NULL, 0, iov, n, len, st);
	}
	return true;
}

static bool same_addr(const struct sockaddr_storage *a, socklen_t alen,
		      const struct sockaddr_storage *b, socklen_t blen)
{
	if (alen != blen || a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	{
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
}

static bool hport_in_use(const struct vsock_dgram_udp *u, uint32_t hport)
{
	for (unsigned i = 0; i < VSOCK_DGRAM_UDP_IN_MAX; i++)
		if (u->ic[i].live && u->ic[i].hport == hport)
			return true;
	return false;
}

/*
 * The client (listener lis, address a): found, or given a slot (free, else
 * the least recently used one's: that client's next datagram makes it a
 * new one, with a new port) and the next free port of the range, round
 * robin, so a port comes back only after 65536 others: a late guest reply
 * to a forgotten client finds nobody rather than the wrong one.
 */
static struct udp_in_client *in_client(struct vsock_dgram_udp *u, unsigned lis,
				       const struct sockaddr_storage *a, socklen_t alen,
				       struct vsock_dgram_stats *st)
{
	struct udp_in_client *c, *victim = NULL;
	uint32_t hport;

	for (unsigned i = 0; i < VSOCK_DGRAM_UDP_IN_MAX; i++) {
		c = &u->ic[i];
		if (c->live && c->lis == lis && same_addr(&c->addr, c->addrlen, a, alen))
			return c;
		if (!victim || (victim->live && (!c->live || c->used < victim->used)))
			victim = c;
	}
	if (victim->live) {
		victim->live = false;
		st->udp_in_evicted++;
	}
	do { /* at most IN_MAX ports are taken: this ends */
		hport = VSOCK_DGRAM_UDP_IN_PORT_FIRST + u->next_hport;
		u->next_hport = (u->next_hport + 1) % VSOCK_DGRAM_UDP_IN_PORTS;
	} while (hport_in_use(u, hport));
	*victim = (struct udp_in_client){ .live = true, .lis = lis, .hport = hport,
					  .addrlen = alen };
	memcpy(&victim->addr, a, alen);
	st->udp_in_clients = count_live_in(u);
	return victim;
}

int vsock_dgram_udp_recv(struct vsock_dgram_udp *u, uint64_t tag, bool accept,
			 uint8_t *buf, size_t size, uint32_t *gport, uint32_t *hport,
			 struct vsock_dgram_stats *st)
{
	uint64_t idx = tag & TAG_IDX_MASK;
	struct sockaddr_storage from;
	struct iovec v = { buf, size };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1 };
	struct udp_out_sock *s = NULL;
	struct udp_in_client *c;
	ssize_t n;
	int fd;

	if ((tag & TAG_KIND_MASK) == TAG_IN && idx < u->nin) {
		fd = u->in[idx].fd;
		m.msg_name = &from;
		m.msg_namelen = sizeof(from);
	} else if ((tag & TAG_KIND_MASK) == TAG_OUT && idx < VSOCK_DGRAM_UDP_OUT_MAX &&
		   u->os[idx].live && u->os[idx].gen == (uint32_t)(tag >> TAG_GEN_SHIFT)) {
		s = &u->os[idx];
		fd = s->fd;
	} else {
		return -EAGAIN;
	}
	n = recvmsg(fd, &m, MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return -EAGAIN;
		/* A pending socket error (ICMP unreachable for an earlier
		 * datagram), reported once and cleared by this read. */
		st->udp_rx_err++;
		return 0;
	}
	if (!accept) {
		st->rx_no_driver++;
		return 0;
	}
	/* The device refuses len 0 on the wire, and a datagram must fit one
	 * packet: both dropped here (UDP over IPv4/IPv6 carries at most
	 * 65507/65527 bytes, so the second is a guard). */
	if (n == 0 || (m.msg_flags & MSG_TRUNC) || (size_t)n > VSOCK_DGRAM_MAX) {
		st->rx_too_big++;
		return 0;
	}
	if (s) {
		s->used = ++u->tick; /* a reply keeps its socket */
		*gport = s->gport;
		*hport = u->out[s->fwd].port;
		return (int)n;
	}
	if (!addr_ok((struct sockaddr *)&from, m.msg_namelen)) {
		st->udp_rx_err++; /* no address we could answer */
		return 0;
	}
	c = in_client(u, (unsigned)idx, &from, m.msg_namelen, st);
	c->used = ++u->tick;
	*gport = u->in[idx].gport;
	*hport = c->hport;
	return (int)n;
}
