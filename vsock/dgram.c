/* SPDX-License-Identifier: MIT */
/*
 * Datagrams: the host socket and the bounded host → guest queue (dgram.h),
 * then the two functions the device calls under its lock (dev_priv.h:
 * vd_dgram_tx, vd_dgram_rx).  docs/vsock.md, "Datagrams", has the why.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "vsock/dev_priv.h"
#include "vsock/dgram.h"
#include "vsock/dgram_udp.h"
#include "vsock/iov.h"
#include "vsock/packet.h"
#include "vsock/sock.h"

struct vsock_dgram {
	int fd;
	/* With UDP forwards: an epoll set of fd (tag 0) and the UDP sockets
	 * (their tags), so the device still watches one fd; else -1. */
	int set;
	struct vsock_dgram_udp *udp;
	struct vsock_sock_file file;
	char base[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* uds_path */
	struct vsock_dgram_msg q[VSOCK_DGRAM_QUEUE_MAX];
	unsigned q_head, q_len;
	uint32_t q_bytes;
	/* One host datagram: the line, the largest payload, and one byte
	 * more so that a longer one is seen (MSG_TRUNC tells the rest). */
	uint8_t rbuf[VSOCK_DGRAM_LINE_MAX + VSOCK_DGRAM_MAX + 1];
};

_Static_assert(VSOCK_DGRAM_QUEUE_BYTES >= VSOCK_DGRAM_MAX,
	       "the queue must hold the largest datagram");

int vsock_dgram_create(const char *uds_path, struct vsock_dgram **out,
		       char *err, size_t errlen)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct vsock_dgram *g;
	int fd, n;

	n = snprintf(path, sizeof(path), "%s%s", uds_path, VSOCK_DGRAM_SUFFIX);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		vsock_listen_error(err, errlen, "dgram unix", uds_path, -ENAMETOOLONG);
		return -ENAMETOOLONG;
	}
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	fd = vsock_sock_unix_listen(path, SOCK_DGRAM, 0, &g->file);
	if (fd < 0) {
		vsock_listen_error(err, errlen, "dgram unix", path, fd);
		free(g);
		return fd;
	}
	g->fd = fd;
	g->set = -1;
	strcpy(g->base, uds_path); /* fits: path did */
	*out = g;
	return 0;
}

void vsock_dgram_destroy(struct vsock_dgram *g)
{
	if (!g)
		return;
	vsock_dgram_flush(g, NULL);
	vsock_dgram_udp_destroy(g->udp);
	if (g->set >= 0)
		close(g->set);
	vsock_sock_file_remove(&g->file);
	close(g->fd);
	free(g);
}

int vsock_dgram_add_udp(struct vsock_dgram *g, const struct vsock_dgram_udp_fwd *out,
			unsigned nout, const struct vsock_dgram_udp_fwd *in, unsigned nin,
			char *err, size_t errlen)
{
	struct epoll_event e = { .events = EPOLLIN, .data.u64 = 0 };
	int ret;

	if (!nout && !nin)
		return 0;
	if (g->set >= 0)
		return -EBUSY; /* once */
	g->set = epoll_create1(EPOLL_CLOEXEC);
	if (g->set < 0)
		return -errno;
	if (epoll_ctl(g->set, EPOLL_CTL_ADD, g->fd, &e) < 0)
		ret = -errno;
	else
		ret = vsock_dgram_udp_create(out, nout, in, nin, g->set, &g->udp, err, errlen);
	if (ret) {
		close(g->set);
		g->set = -1;
	}
	return ret;
}

int vsock_dgram_fd(const struct vsock_dgram *g)
{
	return g->set >= 0 ? g->set : g->fd;
}

/* A decimal uint32 without sign or leading zeros ending at `stop`. */
static size_t parse_u32(const char *s, size_t len, char stop, uint32_t *v)
{
	uint64_t x = 0;
	size_t i = 0;

	while (i < len && s[i] >= '0' && s[i] <= '9' && i < 10) {
		x = x * 10 + (uint64_t)(s[i] - '0');
		i++;
	}
	if (i == 0 || i >= len || s[i] != stop || x > UINT32_MAX || (s[0] == '0' && i > 1))
		return 0;
	*v = (uint32_t)x;
	return i + 1;
}

size_t vsock_dgram_parse_line(const char *buf, size_t len, uint32_t *gport,
			      uint32_t *hport)
{
	size_t off = 6, n;

	if (len > VSOCK_DGRAM_LINE_MAX)
		len = VSOCK_DGRAM_LINE_MAX;
	if (len < off || memcmp(buf, "DGRAM ", off) != 0)
		return 0;
	n = parse_u32(buf + off, len - off, ' ', gport);
	if (!n)
		return 0;
	off += n;
	n = parse_u32(buf + off, len - off, '\n', hport);
	if (!n)
		return 0;
	return off + n;
}

void vsock_dgram_send(struct vsock_dgram *g, uint32_t gport, uint32_t hport,
		      const struct iovec *iov, unsigned n, uint32_t len,
		      struct vsock_dgram_stats *st)
{
	struct iovec v[VSOCK_QUEUE_SIZE + 1];
	char line[VSOCK_DGRAM_LINE_MAX];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct msghdr m = { .msg_name = &sa, .msg_namelen = sizeof(sa), .msg_iov = v };
	int k;

	if (g->udp && vsock_dgram_udp_send(g->udp, gport, hport, iov, n, len, st))
		return;
	k = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s%s_%u", g->base,
		     VSOCK_DGRAM_SUFFIX, hport);
	if (k < 0 || (size_t)k >= sizeof(sa.sun_path) || n > VSOCK_QUEUE_SIZE) {
		st->tx_host_err++;
		return;
	}
	k = snprintf(line, sizeof(line), "DGRAM %u %u\n", gport, hport);
	v[0] = (struct iovec){ line, (size_t)k };
	memcpy(v + 1, iov, n * sizeof(*iov));
	m.msg_iovlen = n + 1;
	if (sendmsg(g->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		if (errno == ENOENT || errno == ECONNREFUSED)
			st->tx_no_receiver++;
		else if (errno == EAGAIN || errno == EWOULDBLOCK)
			st->tx_host_full++;
		else
			st->tx_host_err++;
		return;
	}
	st->tx_pkts++;
	st->tx_bytes += len;
}

/* Queue one host datagram (payload p[0..len)), or drop and count it. */
static void enqueue(struct vsock_dgram *g, uint32_t gport, uint32_t hport,
		    const uint8_t *p, uint32_t len, struct vsock_dgram_stats *st)
{
	struct vsock_dgram_msg *m;
	uint8_t *data;

	if (g->q_len == VSOCK_DGRAM_QUEUE_MAX || g->q_bytes + len > VSOCK_DGRAM_QUEUE_BYTES) {
		st->rx_queue_full++;
		return;
	}
	data = malloc(len);
	if (!data) {
		st->rx_queue_full++; /* no room, as good as full */
		return;
	}
	memcpy(data, p, len);
	m = &g->q[(g->q_head + g->q_len) % VSOCK_DGRAM_QUEUE_MAX];
	*m = (struct vsock_dgram_msg){ gport, hport, len, data };
	g->q_len++;
	g->q_bytes += len;
	st->queued = g->q_len;
}

bool vsock_dgram_has_room(const struct vsock_dgram *g)
{
	return g->q_len < VSOCK_DGRAM_QUEUE_MAX &&
	       g->q_bytes <= VSOCK_DGRAM_QUEUE_BYTES - VSOCK_DGRAM_MAX;
}

/* Up to `budget` datagrams from the Unix socket; how many were read.
 * `wait_room`: as vsock_dgram_recv. */
static unsigned recv_unix(struct vsock_dgram *g, bool accept, unsigned budget, bool wait_room,
			  struct vsock_dgram_stats *st)
{
	unsigned i;

	for (i = 0; i < budget; i++) {
		struct iovec v = { g->rbuf, sizeof(g->rbuf) };
		struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1 };
		uint32_t gport, hport;
		ssize_t n;
		size_t line;

		if (accept && wait_room && !vsock_dgram_has_room(g))
			break;
		n = recvmsg(g->fd, &m, MSG_DONTWAIT);
		if (n < 0)
			break; /* EAGAIN: all read (or an error to retry later) */
		if (!accept) {
			st->rx_no_driver++;
			continue;
		}
		line = vsock_dgram_parse_line((const char *)g->rbuf, (size_t)n, &gport, &hport);
		if (!line) {
			st->rx_bad_line++;
			continue;
		}
		if ((m.msg_flags & MSG_TRUNC) || (size_t)n == line ||
		    (size_t)n - line > VSOCK_DGRAM_MAX) {
			st->rx_too_big++;
			continue;
		}
		enqueue(g, gport, hport, g->rbuf + line, (uint32_t)((size_t)n - line), st);
	}
	return i;
}

/* The same from the UDP socket tagged `tag` (no line: the socket names
 * the flow). */
static unsigned recv_udp(struct vsock_dgram *g, uint64_t tag, bool accept, unsigned budget,
			 bool wait_room, struct vsock_dgram_stats *st)
{
	unsigned i;

	for (i = 0; i < budget; i++) {
		uint32_t gport, hport;
		int n;

		if (accept && wait_room && !vsock_dgram_has_room(g))
			break;
		n = vsock_dgram_udp_recv(g->udp, tag, accept, g->rbuf, sizeof(g->rbuf),
					 &gport, &hport, st);
		if (n < 0)
			break;
		if (n > 0)
			enqueue(g, gport, hport, g->rbuf, (uint32_t)n, st);
	}
	return i;
}

unsigned vsock_dgram_recv(struct vsock_dgram *g, bool accept, unsigned max, bool wait_room,
			  struct vsock_dgram_stats *st)
{
	struct epoll_event evs[16];
	unsigned budget = max;
	int k;

	if (g->set < 0)
		return recv_unix(g, accept, budget, wait_room, st);
	/* Each ready socket gets a share of the batch; epoll hands level-
	 * triggered fds out in turn, so the next wake-up serves the rest. */
	k = epoll_wait(g->set, evs, (int)(sizeof(evs) / sizeof(evs[0])), 0);
	for (int i = 0; i < k && budget; i++) {
		unsigned share = max / (unsigned)k, used;

		if (share > budget)
			share = budget;
		if (share == 0)
			share = 1;
		used = evs[i].data.u64 == 0 ?
		       recv_unix(g, accept, share, wait_room, st) :
		       recv_udp(g, evs[i].data.u64, accept, share, wait_room, st);
		budget -= used;
	}
	return max - budget;
}

const struct vsock_dgram_msg *vsock_dgram_peek(const struct vsock_dgram *g)
{
	return g->q_len ? &g->q[g->q_head] : NULL;
}

void vsock_dgram_pop(struct vsock_dgram *g, struct vsock_dgram_stats *st)
{
	struct vsock_dgram_msg *m;

	if (!g->q_len)
		return;
	m = &g->q[g->q_head];
	g->q_bytes -= m->len;
	free(m->data);
	m->data = NULL;
	g->q_head = (g->q_head + 1) % VSOCK_DGRAM_QUEUE_MAX;
	g->q_len--;
	if (st)
		st->queued = g->q_len;
}

void vsock_dgram_flush(struct vsock_dgram *g, struct vsock_dgram_stats *st)
{
	while (g->q_len)
		vsock_dgram_pop(g, st);
}

/* --- the device's side (dev_priv.h), under the device lock ------------- */

void vd_dgram_tx(struct vsock_dev *d, const struct vsock_hdr *h,
		 const struct iovec *iov, unsigned n)
{
	size_t covered = 0;
	unsigned w;

	/* Straight from guest memory: the payload windows, then sendmsg. */
	w = vsock_iov_slice(iov, n, VSOCK_HDR_SIZE, h->len, d->win, VSOCK_QUEUE_SIZE,
			    &covered);
	if (covered != h->len) {
		d->st.dgram.tx_host_err++;
		return;
	}
	vsock_dgram_send(d->dgram, h->src_port, h->dst_port, d->win, w, h->len, &d->st.dgram);
}

int vd_dgram_rx(struct vsock_dev *d, struct virtq *vq, bool *pushed, unsigned budget)
{
	const struct vsock_dgram_msg *m;
	struct virtq_chain ch;
	struct vsock_hdr h;
	int r;

	while ((m = vsock_dgram_peek(d->dgram))) {
		if (budget-- == 0)
			return 1;
		r = vd_pop_rx(d, vq, &ch, VSOCK_HDR_SIZE, pushed);
		if (r != 1)
			return -1;
		/* No fragments (docs/vsock.md): a datagram larger than this
		 * buffer is dropped, and the buffer goes to the next one. */
		while (m && ch.in_len < VSOCK_HDR_SIZE + m->len) {
			d->st.dgram.rx_buf_small++;
			vsock_dgram_pop(d->dgram, &d->st.dgram);
			m = vsock_dgram_peek(d->dgram);
		}
		if (!m) {
			virtq_push(vq, &ch, 0); /* returned empty, as short buffers are */
			*pushed = true;
			return 0;
		}
		h = (struct vsock_hdr){
			.src_cid = VSOCK_HOST_CID, .dst_cid = d->guest_cid,
			.src_port = m->host_port, .dst_port = m->guest_port,
			.len = m->len, .type = VIRTIO_VSOCK_TYPE_DGRAM,
			.op = VIRTIO_VSOCK_OP_RW,
		};
		vsock_iov_from_buf(d->iov + ch.n_out, ch.n_in, VSOCK_HDR_SIZE, m->data, m->len);
		vd_put_pkt(d, vq, &ch, &h);
		*pushed = true;
		d->st.dgram.rx_pkts++;
		d->st.dgram.rx_bytes += m->len;
		vsock_dgram_pop(d->dgram, &d->st.dgram);
	}
	return 0;
}
