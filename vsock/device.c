/* SPDX-License-Identifier: MIT */
/*
 * The virtio-vsock device: virtio front and connection multiplexer.
 * See device.h for the contract and docs/vsock.md for the protocol.
 *
 * Threads.  Guest packets arrive through queue_notify() on a vCPU thread or
 * the I/O thread; host sockets, the listener and the timer are served on
 * the I/O thread.  Everything below runs under d->lock.  Connections may
 * end on any thread, but the evloop only lets the I/O thread free an event
 * source safely, so a finished connection becomes a "zombie": out of the
 * table and the rx list, its socket shut down at once, and closed and freed
 * later on the I/O thread (reap), after ev_del() there.
 *
 * Host sockets are registered edge-triggered.  `readable` remembers an edge
 * until a read returns EAGAIN, so reading can pause (no rx buffers, no
 * guest credit) without the loop spinning, and resume without a new edge.
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>

#include "vmm/evloop.h"
#include "vsock/backend.h"
#include "vsock/conn.h"
#include "vsock/conntab.h"
#include "vsock/device.h"
#include "vsock/hybrid.h"
#include "vsock/packet.h"
#include "vsock/txbuf.h"

#define RSTQ_SIZE        64              /* RSTs for packets matching no flow */
#define TIMER_PERIOD_NS  (200 * 1000000ull)
#define RX_BATCH         (2 * VSOCK_QUEUE_SIZE) /* packets per lock hold */
#define HOST_EVENTS      (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)

_Static_assert(VSOCK_PKT_ERR_COUNT <= 16, "vsock_dev_stats.pkt_err too small");

/* A connection with its host socket. */
struct hconn {
	struct vsock_conn c;
	struct vsock_dev *d;
	int fd;
	struct ev_source src;
	bool in_epoll;
	bool connecting;    /* guest-initiated, connect() in progress */
	bool readable;      /* an EPOLLIN edge not yet read to EAGAIN */
	bool hup;           /* the host hung up both ways */
	bool rdhup;         /* the host shut its sending side (EPOLLRDHUP) */
	bool wr_broken;     /* writes to the host fail (it stopped reading) */
	bool wr_shut;       /* we did shutdown(SHUT_WR) */
	bool host_init;     /* local port is ours (port allocator) */
	bool hybrid_ok;     /* answer "OK <port>\n" when the guest accepts */
	bool on_rx;         /* linked in the rx work list */
	bool zombie;
	uint32_t tx_extra;  /* bytes at the txbuf head that are not guest data */
	struct vsock_txbuf tx;
	/* SEQPACKET host → guest: a host message too big for one rx buffer
	 * or the credit at hand, read whole and handed out in pieces. */
	uint8_t *rmsg;
	uint32_t rmsg_len, rmsg_off;
	bool rmsg_eor;
	struct hconn *rx_prev, *rx_next;
	struct hconn *next; /* zombie list, or a temporary list */
};

struct vsock_dev {
	pthread_mutex_t lock;
	struct virtio_dev *vdev;
	struct evloop *ev;
	struct vsock_backend *be;
	uint64_t guest_cid;
	uint32_t buf_alloc;
	bool active;
	unsigned types_ok;

	struct vsock_conntab conns;
	struct vsock_port_alloc ports;
	struct hconn *rx_head, *rx_tail;     /* connections with rx work */
	struct vsock_hdr rstq[RSTQ_SIZE];
	unsigned rstq_head, rstq_len;
	struct hconn *zombies;
	bool reap_pending;
	bool tearing_down;                   /* the loop is gone: no evloop_call */
	bool rx_cont_pending;                /* process_rx continues on the I/O thread */
	bool tx_stalled;                     /* tx paused: the RST queue is full */
	bool tx_cont_pending;                /* process_tx continues on the I/O thread */

	int timerfd;
	struct ev_source timer_src;
	bool timer_in_epoll;
	bool timer_on;

	struct vsock_dev_stats st;
	struct vsock_conn_stats cst;
	/* Scratch for chains and payload windows (under the lock). */
	struct iovec iov[VSOCK_QUEUE_SIZE];
	struct iovec win[VSOCK_QUEUE_SIZE];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * VSOCK_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void process_rx(struct vsock_dev *d);
static void host_cb(void *opaque, uint32_t events);

/* --- rx work list ------------------------------------------------------ */

static bool is_seq(const struct hconn *hc)
{
	return hc->c.type == VIRTIO_VSOCK_TYPE_SEQPACKET;
}

static bool has_rx_work(const struct hconn *hc)
{
	if (hc->zombie)
		return false;
	if (hc->c.ctrl)
		return true;
	return (hc->readable || hc->rmsg) && vsock_conn_rw_budget(&hc->c) > 0;
}

static void rmsg_free(struct hconn *hc)
{
	free(hc->rmsg);
	hc->rmsg = NULL;
	hc->rmsg_len = hc->rmsg_off = 0;
}

static void rx_unlink(struct vsock_dev *d, struct hconn *hc)
{
	if (!hc->on_rx)
		return;
	if (hc->rx_prev)
		hc->rx_prev->rx_next = hc->rx_next;
	else
		d->rx_head = hc->rx_next;
	if (hc->rx_next)
		hc->rx_next->rx_prev = hc->rx_prev;
	else
		d->rx_tail = hc->rx_prev;
	hc->rx_prev = hc->rx_next = NULL;
	hc->on_rx = false;
}

static void rx_link(struct vsock_dev *d, struct hconn *hc, bool front)
{
	if (hc->on_rx)
		return;
	hc->on_rx = true;
	if (front) {
		hc->rx_prev = NULL;
		hc->rx_next = d->rx_head;
		if (d->rx_head)
			d->rx_head->rx_prev = hc;
		else
			d->rx_tail = hc;
		d->rx_head = hc;
	} else {
		hc->rx_next = NULL;
		hc->rx_prev = d->rx_tail;
		if (d->rx_tail)
			d->rx_tail->rx_next = hc;
		else
			d->rx_head = hc;
		d->rx_tail = hc;
	}
}

static void rx_kick(struct vsock_dev *d, struct hconn *hc)
{
	if (has_rx_work(hc))
		rx_link(d, hc, false);
}

/* --- connection life cycle --------------------------------------------- */

static void timer_update(struct vsock_dev *d)
{
	bool want = vsock_conntab_count(&d->conns) > 0 || d->zombies;
	struct itimerspec its = { { 0, 0 }, { 0, 0 } };

	if (want == d->timer_on || d->timerfd < 0)
		return;
	if (want) {
		its.it_interval.tv_nsec = (long)TIMER_PERIOD_NS;
		its.it_value.tv_nsec = (long)TIMER_PERIOD_NS;
	}
	if (timerfd_settime(d->timerfd, 0, &its, NULL) == 0)
		d->timer_on = want;
}

/* Close and free zombies.  I/O thread only (ev_del there is final). */
static void reap_locked(struct vsock_dev *d)
{
	struct hconn *hc = d->zombies, *next;

	d->zombies = NULL;
	for (; hc; hc = next) {
		next = hc->next;
		if (hc->in_epoll)
			ev_del(d->ev, &hc->src);
		if (hc->fd >= 0)
			close(hc->fd);
		free(hc);
	}
}

static void reap_cb(void *opaque)
{
	struct vsock_dev *d = opaque;

	pthread_mutex_lock(&d->lock);
	d->reap_pending = false;
	reap_locked(d);
	pthread_mutex_unlock(&d->lock);
}

/* The connection is finished: out of every index now, freed on the I/O
 * thread.  The host peer sees EOF at once. */
static void zombify(struct vsock_dev *d, struct hconn *hc)
{
	if (hc->zombie)
		return;
	hc->zombie = true;
	if (vsock_conntab_get(&d->conns, hc->c.addr.local_port, hc->c.addr.peer_port) == hc)
		vsock_conntab_del(&d->conns, hc->c.addr.local_port, hc->c.addr.peer_port);
	if (hc->host_init)
		vsock_port_release(&d->ports, hc->c.addr.local_port);
	rx_unlink(d, hc);
	if (hc->fd >= 0)
		shutdown(hc->fd, SHUT_RDWR);
	vsock_txbuf_free(&hc->tx);
	rmsg_free(hc);
	hc->next = d->zombies;
	d->zombies = hc;
	d->st.conns_open--;
	if (!d->reap_pending && !d->tearing_down && evloop_call(d->ev, reap_cb, d) == 0)
		d->reap_pending = true;
	/* else the timer reaps */
	timer_update(d);
}

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

static void after_event(struct vsock_dev *d, struct hconn *hc, unsigned ev);

/* The guest accepted a host-initiated flow: answer the hybrid client. */
static void host_init_accepted(struct vsock_dev *d, struct hconn *hc)
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

/* SEQPACKET: write complete messages out, one sendmsg each, as far as the
 * host takes them.  An unfinished message at the tail waits for its EOM. */
static void flush_seq(struct vsock_dev *d, struct hconn *hc)
{
	uint32_t len;
	bool eor;

	while (!hc->zombie && vsock_txbuf_msg_peek(&hc->tx, &len, &eor)) {
		struct iovec v[2], w[2];
		unsigned k = vsock_txbuf_peek(&hc->tx, v);
		ssize_t r;
		uint32_t extra;

		k = vsock_iov_slice(v, k, 0, len, w, 2, NULL);
		r = send_iov_flags(hc->fd, w, k, eor ? MSG_EOR : 0);
		if (r < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR)
				continue;
			if (errno == EMSGSIZE) {
				/* Larger than the host socket can ever take. */
				d->st.seq_too_big++;
				after_event(d, hc, vsock_conn_host_error(&hc->c));
				return;
			}
			after_event(d, hc, write_failed(hc, errno));
			return;
		}
		extra = len < hc->tx_extra ? len : hc->tx_extra;
		hc->tx_extra -= extra;
		vsock_txbuf_msg_consume(&hc->tx);
		after_event(d, hc, vsock_conn_host_forwarded(&hc->c, len - extra));
	}
	if (!hc->zombie)
		maybe_shut_wr(hc);
}

/* Write the txbuf out as far as the host takes it. */
static void flush(struct vsock_dev *d, struct hconn *hc)
{
	if (is_seq(hc)) {
		flush_seq(d, hc);
		return;
	}
	while (vsock_txbuf_len(&hc->tx) > 0 && !hc->zombie) {
		struct iovec v[2];
		unsigned k = vsock_txbuf_peek(&hc->tx, v);
		ssize_t w = send_iov(hc->fd, v, k);
		uint32_t extra;

		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR)
				continue;
			after_event(d, hc, write_failed(hc, errno));
			return;
		}
		extra = (uint32_t)w < hc->tx_extra ? (uint32_t)w : hc->tx_extra;
		hc->tx_extra -= extra;
		vsock_txbuf_consume(&hc->tx, (size_t)w);
		after_event(d, hc, vsock_conn_host_forwarded(&hc->c, (uint32_t)w - extra));
	}
	if (!hc->zombie)
		maybe_shut_wr(hc);
}

/* Pass an accepted guest RW payload (chain bytes [44, 44 + len)) on to the
 * host: straight from guest memory, the rest into the txbuf. */
static unsigned forward_seq(struct vsock_dev *d, struct hconn *hc,
			    const struct iovec *iov, unsigned n, uint32_t len,
			    uint32_t flags);

static unsigned forward(struct vsock_dev *d, struct hconn *hc,
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
		flush_seq(d, hc);
	return 0;
}

/* The guest will send no more: an unfinished SEQPACKET message can never
 * be completed; drop it (its bytes count as consumed). */
static unsigned drop_partial_msg(struct hconn *hc)
{
	uint32_t n;

	if (!is_seq(hc) || hc->tx.partial == 0)
		return 0;
	n = vsock_txbuf_drop_partial(&hc->tx);
	return vsock_conn_host_forwarded(&hc->c, n);
}

/* Act on what the state machine asked for. */
static void after_event(struct vsock_dev *d, struct hconn *hc, unsigned ev)
{
	if (hc->zombie)
		return;
	if (ev & VSOCK_EV_CONNECTED)
		host_init_accepted(d, hc);
	if (ev & VSOCK_EV_SHUT_WR) {
		unsigned more = drop_partial_msg(hc);

		if (more) {
			after_event(d, hc, more);
			if (hc->zombie)
				return;
		}
		maybe_shut_wr(hc);
	}
	if (ev & VSOCK_EV_CLOSED) {
		/* Stop host I/O now; the fd is closed when the zombie is reaped. */
		hc->readable = false;
		if (hc->fd >= 0)
			shutdown(hc->fd, SHUT_RDWR);
		vsock_txbuf_free(&hc->tx);
		rmsg_free(hc);
		hc->tx_extra = 0;
	}
	if (vsock_conn_done(&hc->c)) {
		zombify(d, hc);
		return;
	}
	rx_kick(d, hc);
	timer_update(d);
}

/* --- guest → host ------------------------------------------------------ */

static void queue_rst(struct vsock_dev *d, const struct vsock_hdr *h)
{
	if (d->rstq_len == RSTQ_SIZE) {
		d->st.rst_dropped++;
		return;
	}
	vsock_hdr_rst_reply(&d->rstq[(d->rstq_head + d->rstq_len) % RSTQ_SIZE], h);
	d->rstq_len++;
}

/* A SEQPACKET host socket must take a whole guest message (up to the
 * credit we grant) in one sendmsg: raise its send buffer (best effort; the
 * kernel doubles the value and caps it at wmem_max unless privileged). */
static void seq_sndbuf(struct vsock_dev *d, struct hconn *hc)
{
	int v = (int)(d->buf_alloc + 4096);

	if (!is_seq(hc))
		return;
	if (setsockopt(hc->fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) < 0)
		setsockopt(hc->fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
}

static struct hconn *hconn_new(struct vsock_dev *d)
{
	struct hconn *hc = calloc(1, sizeof(*hc));

	if (!hc)
		return NULL;
	hc->d = d;
	hc->fd = -1;
	vsock_txbuf_init(&hc->tx, d->buf_alloc + VSOCK_OK_LINE_MAX);
	return hc;
}

/* Guest REQUEST for a flow we do not have. */
static void guest_connect(struct vsock_dev *d, const struct vsock_hdr *h)
{
	struct hconn *hc;
	bool in_progress = false;
	int fd;

	if (vsock_conntab_count(&d->conns) >= d->conns.max) {
		d->st.conn_limit++;
		queue_rst(d, h);
		return;
	}
	if (!d->be) {
		d->st.conn_refused++;
		queue_rst(d, h);
		return;
	}
	hc = hconn_new(d);
	if (!hc) {
		queue_rst(d, h);
		return;
	}
	vsock_conn_init_guest(&hc->c, h, d->buf_alloc, now_ns(), &d->cst);
	fd = d->be->connect(d->be, h->dst_port, h->type, &in_progress);
	if (fd < 0) {
		d->st.conn_refused++;
		free(hc);
		queue_rst(d, h);
		return;
	}
	hc->fd = fd;
	seq_sndbuf(d, hc);
	if (vsock_conntab_add(&d->conns, h->dst_port, h->src_port, hc) < 0) {
		close(fd);
		free(hc);
		queue_rst(d, h);
		return;
	}
	d->st.conns_open++;
	if (ev_add(d->ev, &hc->src, fd, HOST_EVENTS, host_cb, hc) < 0) {
		after_event(d, hc, vsock_conn_host_error(&hc->c));
		return;
	}
	hc->in_epoll = true;
	if (in_progress) {
		hc->connecting = true;
		timer_update(d);
		return;
	}
	hc->readable = true;
	after_event(d, hc, vsock_conn_host_connected(&hc->c));
}

static void handle_tx(struct vsock_dev *d, const struct iovec *iov, unsigned n)
{
	struct vsock_hdr h;
	enum vsock_pkt_err e;
	struct hconn *hc;
	unsigned ev;

	d->st.tx_pkts++;
	e = vsock_pkt_parse(iov, n, d->guest_cid, d->types_ok, &h);
	if (e != VSOCK_PKT_OK) {
		d->st.pkt_err[e]++;
		if (vsock_pkt_err_wants_rst(e, &h))
			queue_rst(d, &h);
		return;
	}
	hc = vsock_conntab_get(&d->conns, h.dst_port, h.src_port);
	if (!hc) {
		if (h.op == VIRTIO_VSOCK_OP_REQUEST) {
			guest_connect(d, &h);
		} else if (h.op != VIRTIO_VSOCK_OP_RST) {
			d->st.rst_no_conn++;
			queue_rst(d, &h);
		}
		return;
	}
	ev = vsock_conn_guest_pkt(&hc->c, &h, now_ns());
	if (ev & VSOCK_EV_FORWARD)
		ev |= forward(d, hc, iov, n, h.len, h.flags);
	after_event(d, hc, ev);
}

static void process_tx(struct vsock_dev *d)
{
	struct virtq *vq = virtio_queue(d->vdev, VSOCK_QUEUE_TX);
	struct virtq_chain ch;
	bool pushed = false;
	int r;

	if (!vq)
		return;
	/* A full rx queue does not stop tx (spec 5.10.6.1): replies go to
	 * bounded per-connection and per-device queues.  Only when the queue
	 * of connection-less RSTs is full does tx pause (rather than lose an
	 * answer); process_rx resumes it once the guest took some. */
	for (;;) {
		if (d->rstq_len == RSTQ_SIZE) {
			d->tx_stalled = true;
			d->st.tx_stalls++;
			break;
		}
		r = virtq_pop(vq, d->iov, VSOCK_QUEUE_SIZE, &ch);
		if (r != 1)
			break;
		handle_tx(d, d->iov, ch.n_out);
		virtq_push(vq, &ch, 0);
		pushed = true;
	}
	if (pushed)
		virtio_signal(d->vdev, VSOCK_QUEUE_TX);
	process_rx(d);
}

/* --- host → guest ------------------------------------------------------ */

/* Next rx chain with at least `min` writable bytes; smaller ones go back
 * empty (the driver drops used lengths < 44).  1, 0 (none), or < 0 (queue
 * broken). */
static int pop_rx(struct vsock_dev *d, struct virtq *vq, struct virtq_chain *ch,
		  uint32_t min, bool *pushed)
{
	for (;;) {
		int r = virtq_pop(vq, d->iov, VSOCK_QUEUE_SIZE, ch);

		if (r != 1)
			return r;
		if (ch->in_len >= min)
			return 1;
		d->st.short_rx_buf++;
		virtq_push(vq, ch, 0);
		*pushed = true;
	}
}

static void put_pkt(struct vsock_dev *d, struct virtq *vq, struct virtq_chain *ch,
		    const struct vsock_hdr *h)
{
	vsock_hdr_put(d->iov + ch->n_out, ch->n_in, h);
	virtq_push(vq, ch, VSOCK_HDR_SIZE + h->len);
	d->st.rx_pkts++;
	d->st.rx_bytes += h->len;
}

/* The host's EOF (read 0 / no more messages). */
static void host_eof(struct vsock_dev *d, struct hconn *hc)
{
	hc->readable = false;
	if (hc->hup || hc->wr_broken)
		after_event(d, hc, vsock_conn_host_closed(&hc->c, now_ns()));
	else
		after_event(d, hc, vsock_conn_host_eof(&hc->c));
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
	put_pkt(d, vq, ch, &h);
	*pushed = true;
	vsock_conn_sent(&hc->c, &h);
	if (flags)
		rmsg_free(hc);
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
		  uint32_t budget, bool *pushed)
{
	struct virtq_chain ch;
	struct vsock_hdr h;
	struct msghdr m = { 0 };
	uint32_t room, flags;
	ssize_t sz, n;
	unsigned k;

	if (hc->rmsg) {
		if (pop_rx(d, vq, &ch, VSOCK_HDR_SIZE + 1, pushed) != 1)
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
		after_event(d, hc, vsock_conn_host_error(&hc->c));
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
		host_eof(d, hc);
		return 0;
	}
	if ((uint64_t)sz > d->buf_alloc) {
		d->st.seq_too_big++;
		after_event(d, hc, vsock_conn_host_error(&hc->c));
		return 0;
	}
	if (pop_rx(d, vq, &ch, VSOCK_HDR_SIZE + (sz ? 1 : 0), pushed) != 1)
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
			after_event(d, hc, vsock_conn_host_error(&hc->c));
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
		after_event(d, hc, vsock_conn_host_error(&hc->c));
		return 0;
	}
	flags = VIRTIO_VSOCK_SEQ_EOM | ((m.msg_flags & MSG_EOR) ? VIRTIO_VSOCK_SEQ_EOR : 0);
	vsock_conn_build_rw(&hc->c, &h, (uint32_t)n, flags);
	put_pkt(d, vq, &ch, &h);
	*pushed = true;
	vsock_conn_sent(&hc->c, &h);
	return 1;
}

/* One packet for hc.  1: it may have more, 0: nothing now, -1: out of rx
 * buffers. */
static int rx_one(struct vsock_dev *d, struct hconn *hc, struct virtq *vq, bool *pushed)
{
	struct virtq_chain ch;
	struct vsock_hdr h;
	uint32_t budget, max;
	unsigned k;
	ssize_t n;

	if (hc->zombie)
		return 0;
	if (vsock_conn_ctrl_peek(&hc->c, &h)) {
		if (pop_rx(d, vq, &ch, VSOCK_HDR_SIZE, pushed) != 1)
			return -1;
		put_pkt(d, vq, &ch, &h);
		*pushed = true;
		vsock_conn_sent(&hc->c, &h);
		if (vsock_conn_done(&hc->c)) {
			zombify(d, hc);
			return 0;
		}
		return 1;
	}
	budget = vsock_conn_rw_budget(&hc->c);
	if (is_seq(hc) && hc->rmsg && budget > 0)
		return rx_seq(d, hc, vq, budget, pushed);
	if (!hc->readable || budget == 0 || hc->fd < 0)
		return 0; /* EV_CREDIT or the next edge brings it back */
	if (is_seq(hc))
		return rx_seq(d, hc, vq, budget, pushed);
	if (pop_rx(d, vq, &ch, VSOCK_HDR_SIZE + 1, pushed) != 1)
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
		put_pkt(d, vq, &ch, &h);
		*pushed = true;
		vsock_conn_sent(&hc->c, &h);
		return 1;
	}
	virtq_unpop(vq, &ch);
	if (n == 0) { /* EOF */
		host_eof(d, hc);
		return 0;
	}
	if (n < 0 && errno == EINTR)
		return 1;
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
		after_event(d, hc, vsock_conn_host_error(&hc->c));
		return 0;
	}
	hc->readable = false;
	return 0;
}

static void tx_cont_cb(void *opaque)
{
	struct vsock_dev *d = opaque;

	pthread_mutex_lock(&d->lock);
	d->tx_cont_pending = false;
	if (d->active)
		process_tx(d);
	pthread_mutex_unlock(&d->lock);
}

static void rx_cont_cb(void *opaque)
{
	struct vsock_dev *d = opaque;

	pthread_mutex_lock(&d->lock);
	d->rx_cont_pending = false;
	process_rx(d);
	pthread_mutex_unlock(&d->lock);
}

static void process_rx(struct vsock_dev *d)
{
	struct virtq *vq;
	struct virtq_chain ch;
	struct hconn *hc;
	bool pushed = false;
	unsigned batch = 0;

	if (!d->active)
		return;
	vq = virtio_queue(d->vdev, VSOCK_QUEUE_RX);
	if (!vq || !virtq_usable(vq))
		return;
	while (d->rstq_len > 0) {
		if (pop_rx(d, vq, &ch, VSOCK_HDR_SIZE, &pushed) != 1)
			goto out;
		put_pkt(d, vq, &ch, &d->rstq[d->rstq_head]);
		pushed = true;
		d->rstq_head = (d->rstq_head + 1) % RSTQ_SIZE;
		d->rstq_len--;
		if (d->tx_stalled && !d->tx_cont_pending && !d->tearing_down &&
		    evloop_call(d->ev, tx_cont_cb, d) == 0) {
			d->tx_stalled = false;
			d->tx_cont_pending = true;
		}
	}
	/* Round robin, one packet per connection per turn.  A guest that
	 * keeps refilling while the host keeps sending could hold the lock
	 * for ever: after a batch, let vCPUs in and continue on the I/O
	 * thread. */
	while ((hc = d->rx_head)) {
		int r;

		if (++batch > RX_BATCH) {
			if (!d->rx_cont_pending && !d->tearing_down &&
			    evloop_call(d->ev, rx_cont_cb, d) == 0)
				d->rx_cont_pending = true;
			break;
		}

		rx_unlink(d, hc);
		r = rx_one(d, hc, vq, &pushed);
		if (r < 0) {
			rx_link(d, hc, true);
			break;
		}
		if (r > 0)
			rx_kick(d, hc);
	}
out:
	if (pushed)
		virtio_signal(d->vdev, VSOCK_QUEUE_RX);
}

/* --- I/O thread callbacks --------------------------------------------- */

static int sock_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return errno;
	return err;
}

static void host_cb(void *opaque, uint32_t events)
{
	struct hconn *hc = opaque;
	struct vsock_dev *d = hc->d;

	pthread_mutex_lock(&d->lock);
	if (hc->zombie || hc->c.state == VSOCK_CONN_CLOSED)
		goto out;
	if (hc->connecting) {
		int err;

		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			goto out;
		err = sock_error(hc->fd);
		hc->connecting = false;
		if (err) {
			d->st.conn_refused++;
			after_event(d, hc, vsock_conn_host_connect_failed(&hc->c));
			goto out;
		}
		hc->readable = true;
		after_event(d, hc, vsock_conn_host_connected(&hc->c));
		goto rx;
	}
	if ((events & EPOLLERR) && sock_error(hc->fd)) {
		after_event(d, hc, vsock_conn_host_error(&hc->c));
		goto rx;
	}
	if (events & EPOLLHUP)
		hc->hup = true;
	if (events & (EPOLLRDHUP | EPOLLHUP))
		hc->rdhup = true;
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) {
		hc->readable = true;
		rx_kick(d, hc);
	}
	if (events & EPOLLOUT)
		flush(d, hc);
rx:
	process_rx(d);
out:
	pthread_mutex_unlock(&d->lock);
}

static void timer_cb(void *opaque, uint32_t events)
{
	struct vsock_dev *d = opaque;
	struct hconn *hc, *expired = NULL;
	uint64_t ticks, now = now_ns();
	uint32_t pos = 0;

	(void)events;
	if (read(d->timerfd, &ticks, sizeof(ticks)) < 0) {
		/* EAGAIN: spurious wake-up */
	}
	pthread_mutex_lock(&d->lock);
	/* Collect first: expiring may remove entries from the table. */
	while ((hc = vsock_conntab_next(&d->conns, &pos, NULL, NULL))) {
		uint64_t dl = vsock_conn_deadline(&hc->c);

		if (dl && now >= dl) {
			hc->next = expired;
			expired = hc;
		}
	}
	while ((hc = expired)) {
		expired = hc->next;
		hc->next = NULL;
		after_event(d, hc, vsock_conn_timer(&hc->c, now));
	}
	reap_locked(d);
	process_rx(d);
	timer_update(d);
	pthread_mutex_unlock(&d->lock);
}

/* --- host-initiated flows --------------------------------------------- */

int vsock_dev_host_accept(struct vsock_dev *d, int fd, uint32_t guest_port,
			  uint16_t type, bool hybrid_ok)
{
	struct hconn *hc;
	uint32_t port;
	int ret;

	pthread_mutex_lock(&d->lock);
	ret = -ENOTCONN;
	if (!d->active)
		goto out;
	ret = -EPROTOTYPE;
	if (!(d->types_ok & VSOCK_TYPE_BIT(type)))
		goto out; /* the guest did not negotiate SEQPACKET */
	ret = -ENOSPC;
	if (vsock_conntab_count(&d->conns) >= d->conns.max) {
		d->st.conn_limit++;
		goto out;
	}
	ret = vsock_port_alloc(&d->ports, &port);
	if (ret)
		goto out;
	ret = -ENOMEM;
	hc = hconn_new(d);
	if (!hc)
		goto err_port;
	vsock_conn_init_host(&hc->c, d->guest_cid, port, guest_port,
			     type, d->buf_alloc, now_ns(), &d->cst);
	hc->host_init = true;
	hc->hybrid_ok = hybrid_ok;
	ret = vsock_conntab_add(&d->conns, port, guest_port, hc);
	if (ret) /* -EEXIST: a guest flow uses this very port pair */
		goto err_free;
	ret = ev_add(d->ev, &hc->src, fd, HOST_EVENTS, host_cb, hc);
	if (ret) {
		vsock_conntab_del(&d->conns, port, guest_port);
		goto err_free;
	}
	hc->in_epoll = true;
	hc->fd = fd;
	seq_sndbuf(d, hc);
	d->st.conns_open++;
	d->st.host_accepted++;
	rx_kick(d, hc);
	process_rx(d);
	timer_update(d);
	pthread_mutex_unlock(&d->lock);
	return 0;

err_free:
	free(hc);
err_port:
	vsock_port_release(&d->ports, port);
out:
	pthread_mutex_unlock(&d->lock);
	return ret;
}

/* --- virtio ops --------------------------------------------------------- */

static void cfg_read(void *dev, uint32_t off, void *data, uint32_t len)
{
	struct vsock_dev *d = dev;
	uint64_t v = htole64(d->guest_cid);

	memcpy(data, (uint8_t *)&v + off, len);
}

static void queue_notify(void *dev, unsigned q)
{
	struct vsock_dev *d = dev;

	pthread_mutex_lock(&d->lock);
	if (d->active) {
		if (q == VSOCK_QUEUE_TX)
			process_tx(d);
		else if (q == VSOCK_QUEUE_RX)
			process_rx(d);
		/* event queue: buffers are only used for TRANSPORT_RESET */
	}
	pthread_mutex_unlock(&d->lock);
}

static int activate(void *dev)
{
	struct vsock_dev *d = dev;

	pthread_mutex_lock(&d->lock);
	d->types_ok = vsock_pkt_types_from_features(virtio_features(d->vdev));
	d->active = true;
	pthread_mutex_unlock(&d->lock);
	return 0;
}

/* Drop every flow without telling the guest (its driver is gone). */
static void drop_all(struct vsock_dev *d)
{
	struct hconn *hc, *list = NULL;
	uint32_t pos = 0;

	while ((hc = vsock_conntab_next(&d->conns, &pos, NULL, NULL))) {
		hc->next = list;
		list = hc;
	}
	while ((hc = list)) {
		list = hc->next;
		hc->next = NULL;
		zombify(d, hc);
	}
	d->rstq_len = 0;
	d->tx_stalled = false;
}

static void reset(void *dev)
{
	struct vsock_dev *d = dev;

	pthread_mutex_lock(&d->lock);
	d->active = false;
	drop_all(d);
	pthread_mutex_unlock(&d->lock);
}

const struct virtio_device_ops vsock_virtio_ops = {
	.device_id = VIRTIO_ID_VSOCK,
	/* NO_IMPLIED_STREAM tells new drivers STREAM is real; a driver that
	 * acks no type bit (Linux acks only SEQPACKET) still gets STREAM. */
	.features = (1ull << VSOCK_F_STREAM) | (1ull << VSOCK_F_SEQPACKET) |
		    (1ull << VSOCK_F_NO_IMPLIED_STREAM),
	.num_queues = 3,
	.queue_max_size = VSOCK_QUEUE_SIZE,
	.config_size = sizeof(uint64_t),
	.config_read = cfg_read,
	.queue_notify = queue_notify,
	.activate = activate,
	.reset = reset,
};

/* --- setup -------------------------------------------------------------- */

int vsock_dev_create(const struct vsock_dev_params *p, struct vsock_dev **out)
{
	struct vsock_dev *d;
	int ret;

	if (p->guest_cid < 3 || p->guest_cid >= 0xffffffffull || !p->ev ||
	    p->max_conns > VSOCK_CONNTAB_LIMIT)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	pthread_mutex_init(&d->lock, NULL);
	d->ev = p->ev;
	d->guest_cid = p->guest_cid;
	d->buf_alloc = p->buf_alloc ? p->buf_alloc : VSOCK_CONN_BUF_ALLOC;
	d->types_ok = vsock_pkt_types_from_features(0);
	d->timerfd = -1;
	ret = vsock_conntab_init(&d->conns, p->max_conns ? p->max_conns : VSOCK_CONNTAB_DEFAULT_MAX);
	if (ret)
		goto err_free;
	ret = vsock_port_alloc_init(&d->ports, d->conns.max, VSOCK_HOST_PORT_FIRST);
	if (ret)
		goto err_conns;
	d->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->timerfd < 0) {
		ret = -errno;
		goto err_ports;
	}
	ret = ev_add(d->ev, &d->timer_src, d->timerfd, EPOLLIN, timer_cb, d);
	if (ret)
		goto err_timer;
	d->timer_in_epoll = true;
	if (p->err && p->errlen)
		p->err[0] = '\0';
	if (p->uds_path) {
		ret = vsock_unix_backend_create(p->uds_path, d->ev, d, &d->be,
						p->err, p->errlen);
		if (ret)
			goto err_ev;
	}
	if (p->n_fwd_out || p->n_fwd_in) {
		/* Takes d->be as its fallback, also on failure. */
		struct vsock_backend *fb = d->be;

		d->be = NULL;
		ret = vsock_fwd_backend_create(p->fwd_out, p->n_fwd_out, p->fwd_in,
					       p->n_fwd_in, fb, d->ev, d, &d->be,
					       p->err, p->errlen);
		if (ret)
			goto err_ev;
	}
	*out = d;
	return 0;

err_ev:
	ev_del(d->ev, &d->timer_src);
err_timer:
	close(d->timerfd);
err_ports:
	vsock_port_alloc_destroy(&d->ports);
err_conns:
	vsock_conntab_destroy(&d->conns);
err_free:
	pthread_mutex_destroy(&d->lock);
	free(d);
	return ret;
}

void vsock_dev_attach(struct vsock_dev *d, struct virtio_dev *vdev)
{
	pthread_mutex_lock(&d->lock);
	d->vdev = vdev;
	pthread_mutex_unlock(&d->lock);
}

void vsock_dev_destroy(struct vsock_dev *d)
{
	if (!d)
		return;
	if (d->be)
		d->be->destroy(d->be);
	pthread_mutex_lock(&d->lock);
	d->active = false;
	d->tearing_down = true;
	drop_all(d);
	reap_locked(d);
	if (d->timer_in_epoll)
		ev_del(d->ev, &d->timer_src);
	if (d->timerfd >= 0)
		close(d->timerfd);
	vsock_port_alloc_destroy(&d->ports);
	vsock_conntab_destroy(&d->conns);
	pthread_mutex_unlock(&d->lock);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

size_t vsock_dev_conn_fixed_bytes(void)
{
	/* The connection, its two conntab slots (tables are at most half
	 * full) and, for host-initiated flows, two port allocator slots. */
	return sizeof(struct hconn) + 4 * sizeof(struct vsock_conntab_slot);
}

void vsock_dev_get_stats(struct vsock_dev *d, struct vsock_dev_stats *out)
{
	pthread_mutex_lock(&d->lock);
	*out = d->st;
	out->conn = d->cst;
	pthread_mutex_unlock(&d->lock);
}
