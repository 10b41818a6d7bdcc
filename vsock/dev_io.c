/* SPDX-License-Identifier: MIT */
/*
 * The vsock device's data plane (see dev_priv.h): guest payload written to
 * host sockets straight from guest memory (the rest buffered within the
 * credit we granted), SEQPACKET message framing both ways, and host data
 * read straight into the guest's rx buffers.  docs/vsock.md describes the
 * rules; everything here runs under the device lock.
 *
 * Calls only go down from here: to the connection's state machine (conn.c)
 * and the host socket.  What the state machine asks for comes back to the
 * device as a VSOCK_EV_* mask, which device.c applies; nothing here frees
 * or re-queues a connection.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "base/clock.h"
#include "vsock/dev_priv.h"
#include "vsock/iov.h"

void vd_rmsg_free(struct hconn *hc)
{
	free(hc->rmsg);
	hc->rmsg = NULL;
	hc->rmsg_len = hc->rmsg_off = 0;
}

/* shutdown(SHUT_WR) the host once the guest said SEND and all is written. */
static void maybe_shut_wr(struct hconn *hc)
{
	if (hc->wr_shut || hc->fd < 0 || hc->c.state == VSOCK_CONN_CLOSED)
		return;
	if (!(hc->c.peer_shut & VIRTIO_VSOCK_SHUTDOWN_SEND) || vsock_txbuf_len(&hc->tx))
		return;
	shutdown(hc->fd, SHUT_WR);
	hc->wr_shut = true;
}

/* Send without blocking and without SIGPIPE. */
static ssize_t send_iov_flags(int fd, struct iovec *iov, unsigned n, int flags)
{
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = n };

	return sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT | flags);
}

static ssize_t send_iov(int fd, struct iovec *iov, unsigned n)
{
	return send_iov_flags(fd, iov, n, 0);
}

/* The guest accepted a host-initiated flow: answer the hybrid client. */
void vd_host_init_accepted(struct vsock_dev *d, struct hconn *hc)
{
	char line[VSOCK_OK_LINE_MAX];
	size_t n = vsock_format_ok(line, sizeof(line), hc->c.addr.local_port);
	ssize_t w = 0;

	hc->readable = true; /* bytes behind the CONNECT line may be waiting */
	if (!hc->hybrid_ok || n == 0)
		return;
	w = send(hc->fd, line, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (w < 0)
		w = 0; /* EAGAIN on a fresh socket is unlikely; errors show later */
	if (is_seq(hc) && w > 0)
		return; /* one message, all or nothing */
	if ((size_t)w < n && vsock_txbuf_push(&hc->tx, line + w, n - (size_t)w) == 0) {
		hc->tx_extra = (uint32_t)(n - (size_t)w);
		if (is_seq(hc) && vsock_txbuf_msg_end(&hc->tx, false) < 0) {
			vsock_txbuf_free(&hc->tx);
			hc->tx_extra = 0;
		}
	}
}

/* Writing to the host failed for good. */
static unsigned write_failed(struct hconn *hc, int err)
{
	if (err == EPIPE || err == ECONNRESET) {
		/* It stopped reading; what it still sends us may matter.  Drop
		 * our backlog (forwarded as far as credit goes) and let the
		 * read side reach EOF, which then closes the flow. */
		uint32_t pending = vsock_conn_unforwarded(&hc->c);

		hc->wr_broken = true;
		vsock_txbuf_free(&hc->tx);
		hc->tx_extra = 0;
		hc->readable = true;
		return vsock_conn_host_forwarded(&hc->c, pending);
	}
	return vsock_conn_host_error(&hc->c);
}

static bool closed(const struct hconn *hc)
{
	return hc->c.state == VSOCK_CONN_CLOSED;
}

/* SEQPACKET: write complete messages out, one sendmsg each, as far as the
 * host takes them.  An unfinished message at the tail waits for its EOM. */
static unsigned flush_seq(struct vsock_dev *d, struct hconn *hc)
{
	unsigned ev = 0;
	uint32_t len;
	bool eor;

	while (!closed(hc) && vsock_txbuf_msg_peek(&hc->tx, &len, &eor)) {
		struct iovec v[2], w[2];
		unsigned k = vsock_txbuf_peek(&hc->tx, v);
		ssize_t r;
		uint32_t extra;

		k = vsock_iov_slice(v, k, 0, len, w, 2, NULL);
		r = send_iov_flags(hc->fd, w, k, eor ? MSG_EOR : 0);
		if (r < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return ev;
			if (errno == EINTR)
				continue;
			if (errno == EMSGSIZE) {
				/* Larger than the host socket can ever take. */
				d->st.seq_too_big++;
				return ev | vsock_conn_host_error(&hc->c);
			}
			return ev | write_failed(hc, errno);
		}
		extra = len < hc->tx_extra ? len : hc->tx_extra;
		hc->tx_extra -= extra;
		vsock_txbuf_msg_consume(&hc->tx);
		ev |= vsock_conn_host_forwarded(&hc->c, len - extra);
	}
	maybe_shut_wr(hc);
	return ev;
}

/* Write the txbuf out as far as the host takes it.  Stops once the flow is
 * CLOSED (the device then drops the txbuf). */
unsigned vd_flush(struct vsock_dev *d, struct hconn *hc)
{
	unsigned ev = 0;

	if (is_seq(hc))
		return flush_seq(d, hc);
	while (vsock_txbuf_len(&hc->tx) > 0 && !closed(hc)) {
		struct iovec v[2];
		unsigned k = vsock_txbuf_peek(&hc->tx, v);
		ssize_t w = send_iov(hc->fd, v, k);
		uint32_t extra;

		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return ev;
			if (errno == EINTR)
				continue;
			return ev | write_failed(hc, errno);
		}
		extra = (uint32_t)w < hc->tx_extra ? (uint32_t)w : hc->tx_extra;
		hc->tx_extra -= extra;
		vsock_txbuf_consume(&hc->tx, (size_t)w);
		ev |= vsock_conn_host_forwarded(&hc->c, (uint32_t)w - extra);
	}
	maybe_shut_wr(hc);
	return ev;
}

static unsigned forward_seq(struct vsock_dev *d, struct hconn *hc,
			    const struct iovec *iov, unsigned n, uint32_t len,
			    uint32_t flags);

/* Pass an accepted guest RW payload (chain bytes [44, 44 + len)) on to the
 * host: straight from guest memory, the rest into the txbuf. */
unsigned vd_forward(struct vsock_dev *d, struct hconn *hc,
		    const struct iovec *iov, unsigned n, uint32_t len,
		    uint32_t flags)
{
	size_t covered, done = 0;
	unsigned k;

	d->st.tx_bytes += len;
	if (is_seq(hc))
		return forward_seq(d, hc, iov, n, len, flags);
	if (len == 0)
		return 0;
	if (hc->wr_broken || hc->fd < 0) /* nobody reads it; keep credit moving */
		return vsock_conn_host_forwarded(&hc->c, len);
	k = vsock_iov_slice(iov, n, VSOCK_HDR_SIZE, len, d->win, VSOCK_QUEUE_SIZE, &covered);
	if (covered < len) /* cannot happen: vsock_pkt_parse checked len */
		return vsock_conn_host_error(&hc->c);
	if (vsock_txbuf_len(&hc->tx) == 0) {
		ssize_t w = send_iov(hc->fd, d->win, k);

		if (w < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				return write_failed(hc, errno);
			w = 0;
		}
		done = (size_t)w;
	}
	if (done < len && vsock_txbuf_push_iov(&hc->tx, d->win, k, done, len - done) < 0)
		return vsock_conn_host_error(&hc->c); /* out of memory */
	return vsock_conn_host_forwarded(&hc->c, (uint32_t)done);
}

/*
 * SEQPACKET guest → host: a guest message (RW packets up to the one with
 * EOM) becomes exactly one sendmsg() on the host socket, MSG_EOR if the
 * guest set EOR.  A message in one packet with nothing queued goes
 * straight from guest memory; fragments wait in the txbuf (within the
 * credit we granted, so at most buf_alloc bytes) until the EOM arrives.
 */
static unsigned forward_seq(struct vsock_dev *d, struct hconn *hc,
			    const struct iovec *iov, unsigned n, uint32_t len,
			    uint32_t flags)
{
	bool eom = flags & VIRTIO_VSOCK_SEQ_EOM, eor = flags & VIRTIO_VSOCK_SEQ_EOR;
	size_t covered;
	unsigned k;

	if (hc->wr_broken || hc->fd < 0)
		return vsock_conn_host_forwarded(&hc->c, len);
	k = vsock_iov_slice(iov, n, VSOCK_HDR_SIZE, len, d->win, VSOCK_QUEUE_SIZE, &covered);
	if (covered < len)
		return vsock_conn_host_error(&hc->c);
	if (eom && vsock_txbuf_len(&hc->tx) == 0 && vsock_txbuf_msgs(&hc->tx) == 0) {
		ssize_t w = send_iov_flags(hc->fd, d->win, k, eor ? MSG_EOR : 0);

		if (w >= 0)
			return vsock_conn_host_forwarded(&hc->c, len);
		if (errno == EMSGSIZE) {
			d->st.seq_too_big++;
			return vsock_conn_host_error(&hc->c);
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return write_failed(hc, errno);
	}
	if (vsock_txbuf_push_iov(&hc->tx, d->win, k, 0, len) < 0)
		return vsock_conn_host_error(&hc->c); /* out of memory */
	if (!eom)
		return 0;
	if (vsock_txbuf_msg_end(&hc->tx, eor) < 0) {
		d->st.seq_overflow++;
		return vsock_conn_host_error(&hc->c);
	}
	/* Deliver now if nothing older blocks it; else EPOLLOUT will. */
	if (vsock_txbuf_msgs(&hc->tx) == 1)
		return flush_seq(d, hc);
	return 0;
}

/* The guest will send no more.  An unfinished SEQPACKET message can never
 * be completed: drop it (its bytes count as consumed).  Then shut the
 * host's receiving side once everything queued is written. */
unsigned vd_guest_shut_wr(struct hconn *hc)
{
	unsigned ev = 0;

	if (is_seq(hc) && hc->tx.partial > 0)
		ev = vsock_conn_host_forwarded(&hc->c, vsock_txbuf_drop_partial(&hc->tx));
	maybe_shut_wr(hc);
	return ev;
}

/* A SEQPACKET host socket must take a whole guest message (up to the
 * credit we grant) in one sendmsg: raise its send buffer (best effort; the
 * kernel doubles the value and caps it at wmem_max unless privileged). */
void vd_seq_sndbuf(struct vsock_dev *d, struct hconn *hc)
{
	int v = (int)(d->buf_alloc + 4096);

	if (!is_seq(hc))
		return;
	if (setsockopt(hc->fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) < 0)
		setsockopt(hc->fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
}

/* Next rx chain with at least `min` writable bytes; smaller ones go back
 * empty (the driver drops used lengths < 44).  1, 0 (none), or < 0 (queue
 * broken). */
int vd_pop_rx(struct vsock_dev *d, struct virtq *vq, struct virtq_chain *ch,
		  uint32_t min, bool *pushed)
{
	for (;;) {
		int r = virtq_pop_drain(vq, d->iov, VSOCK_QUEUE_SIZE, ch);

		if (r == 0) {
			/* Out of rx buffers with something to deliver: the
			 * caller parks it, and the drain has armed rx kicks,
			 * so the driver's next buffer brings us back. */
			d->st.rx_waits++;
			return 0;
		}
		if (r < 0)
			return r;
		if (r == VIRTQ_POP_RECHECK)
			d->st.rx_notify_races++;
		vsock_shape_rx(&d->st.shape, ch->n_in, ch->in_len, ch->indirect);
		if (ch->in_len >= min)
			return 1;
		d->st.short_rx_buf++;
		virtq_push(vq, ch, 0);
		*pushed = true;
	}
}

void vd_put_pkt(struct vsock_dev *d, struct virtq *vq, struct virtq_chain *ch,
		    const struct vsock_hdr *h)
{
	vsock_hdr_put(d->iov + ch->n_out, ch->n_in, h);
	virtq_push(vq, ch, VSOCK_HDR_SIZE + h->len);
	d->st.rx_pkts++;
	d->st.rx_bytes += h->len;
}

/* The host's EOF (read 0 / no more messages). */
static unsigned host_eof(struct hconn *hc)
{
	hc->readable = false;
	if (hc->hup || hc->wr_broken)
		return vsock_conn_host_closed(&hc->c, vm_now_ns());
	return vsock_conn_host_eof(&hc->c);
}

/* Hand out the next piece of the bounced host message: as much as the
 * credit and the rx buffer take, EOM (and EOR) on the last piece. */
static int rx_seq_piece(struct vsock_dev *d, struct hconn *hc, struct virtq *vq,
			struct virtq_chain *ch, uint32_t budget, bool *pushed)
{
	uint32_t left = hc->rmsg_len - hc->rmsg_off, max, flags = 0;
	struct vsock_hdr h;

	max = ch->in_len - VSOCK_HDR_SIZE;
	if (max > budget)
		max = budget;
	if (max > VSOCK_MAX_PKT_LEN)
		max = VSOCK_MAX_PKT_LEN;
	if (max > left)
		max = left;
	vsock_iov_from_buf(d->iov + ch->n_out, ch->n_in, VSOCK_HDR_SIZE,
			   hc->rmsg + hc->rmsg_off, max);
	hc->rmsg_off += max;
	if (hc->rmsg_off == hc->rmsg_len)
		flags = VIRTIO_VSOCK_SEQ_EOM | (hc->rmsg_eor ? VIRTIO_VSOCK_SEQ_EOR : 0);
	vsock_conn_build_rw(&hc->c, &h, max, flags);
	vd_put_pkt(d, vq, ch, &h);
	*pushed = true;
	vsock_conn_sent(&hc->c, &h);
	if (flags)
		vd_rmsg_free(hc);
	return 1;
}

/*
 * SEQPACKET host → guest: one recvmsg() is one host message.  Its size is
 * learnt first (MSG_PEEK | MSG_TRUNC); a message that fits the rx buffer
 * and the guest's credit is received straight into guest memory with EOM,
 * a bigger one (up to our buf_alloc) is read whole into a bounce buffer and
 * handed out in pieces as credit and rx buffers allow, EOM on the last.
 * EOR follows the host's MSG_EOR (Unix sockets never report it).  A
 * message larger than buf_alloc resets the flow.  A zero-length message
 * reads like EOF on a Unix socket: before the host shut its sending side
 * (EPOLLRDHUP) it is a message, afterwards EOF.
 */
static int rx_seq(struct vsock_dev *d, struct hconn *hc, struct virtq *vq,
		  uint32_t budget, bool *pushed, unsigned *ev)
{
	struct virtq_chain ch;
	struct vsock_hdr h;
	struct msghdr m = { 0 };
	uint32_t room, flags;
	ssize_t sz, n;
	unsigned k;

	if (hc->rmsg) {
		if (vd_pop_rx(d, vq, &ch, VSOCK_HDR_SIZE + 1, pushed) != 1)
			return -1;
		return rx_seq_piece(d, hc, vq, &ch, budget, pushed);
	}
	sz = recv(hc->fd, NULL, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
	if (sz < 0) {
		if (errno == EINTR)
			return 1;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			hc->readable = false;
			return 0;
		}
		*ev = vsock_conn_host_error(&hc->c);
		return 0;
	}
	if (sz == 0 && !hc->rdhup) {
		/* EOF or an empty message?  Ask now: the edge that reports
		 * EPOLLRDHUP may not have been handled yet. */
		struct pollfd p = { .fd = hc->fd, .events = POLLRDHUP };

		if (poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP)))
			hc->rdhup = true;
	}
	if (sz == 0 && (hc->rdhup || hc->hup)) {
		*ev = host_eof(hc);
		return 0;
	}
	if ((uint64_t)sz > d->buf_alloc) {
		d->st.seq_too_big++;
		*ev = vsock_conn_host_error(&hc->c);
		return 0;
	}
	if (vd_pop_rx(d, vq, &ch, VSOCK_HDR_SIZE + (sz ? 1 : 0), pushed) != 1)
		return -1;
	room = ch.in_len - VSOCK_HDR_SIZE;
	if ((uint32_t)sz > room || (uint32_t)sz > budget || sz > VSOCK_MAX_PKT_LEN) {
		/* Bounce it. */
		uint8_t *buf = malloc((size_t)sz);

		if (!buf) {
			virtq_unpop(vq, &ch);
			return 0; /* try again on the next event */
		}
		n = recv(hc->fd, buf, (size_t)sz, MSG_DONTWAIT);
		if (n != sz) {
			free(buf);
			virtq_unpop(vq, &ch);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return 1;
			*ev = vsock_conn_host_error(&hc->c);
			return 0;
		}
		hc->rmsg = buf;
		hc->rmsg_len = (uint32_t)sz;
		hc->rmsg_off = 0;
		hc->rmsg_eor = false; /* plain recv: Unix never sets MSG_EOR */
		return rx_seq_piece(d, hc, vq, &ch, budget, pushed);
	}
	k = vsock_iov_slice(d->iov + ch.n_out, ch.n_in, VSOCK_HDR_SIZE, (size_t)sz,
			    d->win, VSOCK_QUEUE_SIZE, NULL);
	m.msg_iov = d->win;
	m.msg_iovlen = k;
	n = recvmsg(hc->fd, &m, MSG_DONTWAIT);
	if (n != sz || (m.msg_flags & MSG_TRUNC)) {
		virtq_unpop(vq, &ch);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 1;
		*ev = vsock_conn_host_error(&hc->c);
		return 0;
	}
	flags = VIRTIO_VSOCK_SEQ_EOM | ((m.msg_flags & MSG_EOR) ? VIRTIO_VSOCK_SEQ_EOR : 0);
	vsock_conn_build_rw(&hc->c, &h, (uint32_t)n, flags);
	vd_put_pkt(d, vq, &ch, &h);
	*pushed = true;
	vsock_conn_sent(&hc->c, &h);
	return 1;
}

/* One packet for hc.  1: one went out (it may have more), 0: nothing now
 * (the next host edge or credit update brings it back), -1: out of rx
 * buffers; what the state machine asked for in *ev. */
int vd_rx_one(struct vsock_dev *d, struct hconn *hc, struct virtq *vq, bool *pushed,
	      unsigned *ev)
{
	struct virtq_chain ch;
	struct vsock_hdr h;
	uint32_t budget, max;
	unsigned k;
	ssize_t n;

	if (hc->zombie)
		return 0;
	if (vsock_conn_ctrl_peek(&hc->c, &h)) {
		if (vd_pop_rx(d, vq, &ch, VSOCK_HDR_SIZE, pushed) != 1)
			return -1;
		vd_put_pkt(d, vq, &ch, &h);
		*pushed = true;
		vsock_conn_sent(&hc->c, &h);
		return 1; /* if that was its last RST, the device frees it */
	}
	budget = vsock_conn_rw_budget(&hc->c);
	if (is_seq(hc) && hc->rmsg && budget > 0)
		return rx_seq(d, hc, vq, budget, pushed, ev);
	if (!hc->readable || budget == 0 || hc->fd < 0)
		return 0; /* EV_CREDIT or the next edge brings it back */
	if (is_seq(hc))
		return rx_seq(d, hc, vq, budget, pushed, ev);
	if (vd_pop_rx(d, vq, &ch, VSOCK_HDR_SIZE + 1, pushed) != 1)
		return -1;
	max = ch.in_len - VSOCK_HDR_SIZE; /* >= 1 */
	if (max > budget)
		max = budget;
	if (max > VSOCK_MAX_PKT_LEN)
		max = VSOCK_MAX_PKT_LEN;
	/* Straight from the socket into guest memory behind the header. */
	k = vsock_iov_slice(d->iov + ch.n_out, ch.n_in, VSOCK_HDR_SIZE, max,
			    d->win, VSOCK_QUEUE_SIZE, NULL);
	n = readv(hc->fd, d->win, (int)k);
	if (n > 0) {
		vsock_conn_build_rw(&hc->c, &h, (uint32_t)n, 0);
		vd_put_pkt(d, vq, &ch, &h);
		*pushed = true;
		vsock_conn_sent(&hc->c, &h);
		return 1;
	}
	virtq_unpop(vq, &ch);
	if (n == 0) { /* EOF */
		*ev = host_eof(hc);
		return 0;
	}
	if (n < 0 && errno == EINTR)
		return 1;
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
		*ev = vsock_conn_host_error(&hc->c);
		return 0;
	}
	hc->readable = false;
	return 0;
}
