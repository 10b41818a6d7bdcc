/* SPDX-License-Identifier: MIT */
/*
 * The virtio-vsock device: virtio front and connection multiplexer.
 * See device.h for the contract and docs/vsock.md for the protocol; the
 * data plane (payload to and from host sockets) is in dev_io.c, the
 * structures both share in dev_priv.h.  Calls go down only: to the data
 * plane, the state machine (conn.c) and the backend; what they want done
 * comes back as a VSOCK_EV_* mask, applied here by after_event().
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
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>

#include "base/evloop.h"
#include "vsock/backend.h"
#include "vsock/dev_priv.h"
#include "vsock/conn.h"
#include "vsock/conntab.h"
#include "vsock/device.h"
#include "vsock/hybrid.h"
#include "base/clock.h"
#include "vsock/packet.h"
#include "vsock/port_alloc.h"
#include "vsock/txbuf.h"

_Static_assert(VSOCK_PKT_ERR_COUNT <= 16, "vsock_dev_stats.pkt_err too small");

static void process_rx(struct vsock_dev *d);
static void host_cb(void *opaque, uint32_t events);

/* --- rx work list ------------------------------------------------------ */

static bool has_rx_work(const struct hconn *hc)
{
	if (hc->zombie)
		return false;
	if (hc->c.ctrl)
		return true;
	return (hc->readable || hc->rmsg) && vsock_conn_rw_budget(&hc->c) > 0;
}

static void rx_unlink(struct vsock_dev *d, struct hconn *hc)
{
	if (!hc->on_rx)
		return;
	TAILQ_REMOVE(&d->rx_list, hc, rx_link);
	hc->on_rx = false;
}

static void rx_link(struct vsock_dev *d, struct hconn *hc, bool front)
{
	if (hc->on_rx)
		return;
	hc->on_rx = true;
	if (front)
		TAILQ_INSERT_HEAD(&d->rx_list, hc, rx_link);
	else
		TAILQ_INSERT_TAIL(&d->rx_list, hc, rx_link);
}

static void rx_kick(struct vsock_dev *d, struct hconn *hc)
{
	if (has_rx_work(hc))
		rx_link(d, hc, false);
}

/* --- connection life cycle --------------------------------------------- */

static void timer_update(struct vsock_dev *d)
{
	bool want = vsock_conntab_count(&d->conns) > 0 || !SLIST_EMPTY(&d->zombies);
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
	struct hconn *hc;

	while ((hc = SLIST_FIRST(&d->zombies))) {
		SLIST_REMOVE_HEAD(&d->zombies, next);
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

/* Stop host I/O and drop the connection's buffers; the fd itself is closed
 * when the zombie is reaped.  Idempotent. */
static void host_release(struct hconn *hc)
{
	hc->readable = false;
	if (hc->fd >= 0)
		shutdown(hc->fd, SHUT_RDWR);
	vsock_txbuf_free(&hc->tx);
	vd_rmsg_free(hc);
	hc->tx_extra = 0;
}

/* The connection is finished: out of every index now, freed on the I/O
 * thread.  The host peer sees EOF at once. */
static void zombify(struct vsock_dev *d, struct hconn *hc)
{
	if (hc->zombie)
		return;
	hc->zombie = true;
	/* Only if it is this connection's entry (it may never have been
	 * inserted, and another flow may own the same port pair). */
	if (vsock_conntab_get(&d->conns, hc->c.addr.local_port, hc->c.addr.peer_port) == hc)
		vsock_conntab_del(&d->conns, hc->c.addr.local_port, hc->c.addr.peer_port);
	if (hc->host_init)
		vsock_port_release(&d->ports, hc->c.addr.local_port);
	rx_unlink(d, hc);
	host_release(hc);
	SLIST_INSERT_HEAD(&d->zombies, hc, next);
	d->st.conns_open--;
	if (!d->reap_pending && !d->tearing_down && evloop_call(d->ev, reap_cb, d) == 0)
		d->reap_pending = true;
	/* else the timer reaps */
	timer_update(d);
}

/*
 * Act on what the state machine asked for (a VSOCK_EV_* mask from conn.c,
 * directly or through the data plane in dev_io.c).  The one place where a
 * connection's host side is shut, where it is freed, and where it is
 * queued for rx; EV_FORWARD is the caller's (handle_tx).
 */
static void after_event(struct vsock_dev *d, struct hconn *hc, unsigned ev)
{
	if (hc->zombie)
		return;
	if (ev & VSOCK_EV_CONNECTED)
		vd_host_init_accepted(d, hc);
	if (ev & VSOCK_EV_SHUT_WR)
		ev |= vd_guest_shut_wr(hc);
	if (ev & VSOCK_EV_CLOSED)
		host_release(hc);
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
	if (!d->be || vsock_conntab_get(&d->conns, h->dst_port, h->src_port)) {
		/* (the pair in use by a flow to another CID: refused) */
		d->st.conn_refused++;
		queue_rst(d, h);
		return;
	}
	hc = hconn_new(d);
	if (!hc) {
		queue_rst(d, h);
		return;
	}
	vsock_conn_init_guest(&hc->c, h, d->buf_alloc, vm_now_ns(), &d->cst);
	if (h->dst_cid == VSOCK_HOST_CID) {
		fd = d->be->connect(d->be, h->dst_port, h->type, &in_progress);
	} else {
		/* A sibling VM; connected once its OK line is read. */
		fd = d->be->connect_cid ? d->be->connect_cid(d->be, h->dst_cid, h->src_port,
							      h->dst_port, h->type)
					: -EHOSTUNREACH;
		hc->await_ok = in_progress = true;
	}
	if (fd < 0) {
		d->st.conn_refused++;
		free(hc);
		queue_rst(d, h);
		return;
	}
	hc->fd = fd;
	vd_seq_sndbuf(d, hc);
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

/*
 * Answer a refused guest packet with an RST.  The RST carries the packet's
 * port pair and type: if that names a flow the guest knows (a bad op or
 * length on an open connection, e.g. hdr.len beyond the chain), the guest
 * tears its socket down on it, so the flow must end here too, through its
 * own RST, or the host peer would wait for ever on a connection the guest
 * has forgotten.  Not for a wrong type or dst_cid (such an RST matches no
 * guest socket; Linux drops it), nor for a host-initiated flow whose
 * REQUEST has not left yet (the guest cannot know it).
 */
static void refuse_rst(struct vsock_dev *d, enum vsock_pkt_err e,
		       const struct vsock_hdr *h)
{
	struct hconn *hc = NULL;

	if (e != VSOCK_PKT_ERR_TYPE && e != VSOCK_PKT_ERR_DST_CID)
		hc = vsock_conntab_get(&d->conns, h->dst_port, h->src_port);
	if (hc && hc->c.type == h->type && vd_same_cid(hc, h) && hc->c.state != VSOCK_CONN_CLOSED &&
	    !(hc->c.state == VSOCK_CONN_CONNECTING_HOST_INIT &&
	      (hc->c.ctrl & VSOCK_CTRL_REQUEST))) {
		after_event(d, hc, vsock_conn_host_error(&hc->c));
		return;
	}
	queue_rst(d, h);
}

static void handle_tx(struct vsock_dev *d, const struct iovec *iov, unsigned n)
{
	struct vsock_hdr h;
	enum vsock_pkt_err e;
	struct hconn *hc;
	unsigned ev;

	d->st.tx_pkts++;
	e = vsock_pkt_parse_peers(iov, n, d->guest_cid, d->types_ok, d->peers, d->npeers, &h);
	if (e != VSOCK_PKT_OK) {
		d->st.pkt_err[e]++;
		if (vsock_pkt_err_wants_rst(e, &h))
			refuse_rst(d, e, &h);
		return;
	}
	if (h.type == VIRTIO_VSOCK_TYPE_DGRAM) {
		/* Datagrams go to the host only (not to sibling VMs): one to
		 * a sibling's CID is dropped and counted, never answered. */
		if (h.dst_cid != VSOCK_HOST_CID) {
			d->st.pkt_err[VSOCK_PKT_ERR_DST_CID]++;
			return;
		}
		vd_dgram_tx(d, &h, iov, n); /* no flow: parsed only if negotiated */
		return;
	}
	hc = vsock_conntab_get(&d->conns, h.dst_port, h.src_port);
	if (hc && !vd_same_cid(hc, &h))
		hc = NULL; /* the same ports, another CID: no such flow */
	if (!hc) {
		if (h.op == VIRTIO_VSOCK_OP_REQUEST) {
			guest_connect(d, &h);
		} else if (h.op != VIRTIO_VSOCK_OP_RST) {
			d->st.rst_no_conn++;
			queue_rst(d, &h);
		}
		return;
	}
	ev = vsock_conn_guest_pkt(&hc->c, &h, vm_now_ns());
	if (ev & VSOCK_EV_FORWARD)
		ev |= vd_forward(d, hc, iov, n, h.len, h.flags);
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
	 * answer); process_rx resumes it once the guest took some.  Kicks are
	 * off while we drain and re-armed when the ring is empty
	 * (virtq_pop_drain). */
	for (;;) {
		if (d->rstq_len == RSTQ_SIZE) {
			d->tx_stalled = true;
			d->st.tx_stalls++;
			/* process_rx resumes us (tx_cont_cb); kicks stay
			 * enabled as a second way back (e.g. evloop_call
			 * failed).  The result does not matter: we stop. */
			virtq_enable_notify(vq);
			break;
		}
		r = virtq_pop_drain(vq, d->iov, VSOCK_QUEUE_SIZE, &ch);
		if (r <= 0)
			break;  /* empty and armed, or broken (NEEDS_RESET is set) */
		if (r == VIRTQ_POP_RECHECK)
			d->st.tx_notify_races++;
		vsock_shape_tx(&d->st.shape, d->iov, ch.n_out, ch.indirect);
		handle_tx(d, d->iov, ch.n_out);
		virtq_push(vq, &ch, 0);
		pushed = true;
	}
	if (pushed && virtio_signal(d->vdev, VSOCK_QUEUE_TX))
		d->st.tx_interrupts++;
	process_rx(d);
}

/* --- host → guest ------------------------------------------------------ */

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

/* More rx work than one lock hold may do: continue on the I/O thread. */
static void rx_continue(struct vsock_dev *d, struct virtq *vq)
{
	if (!d->rx_cont_pending && !d->tearing_down &&
	    evloop_call(d->ev, rx_cont_cb, d) == 0)
		d->rx_cont_pending = true;
	else if (!d->rx_cont_pending)
		/* No continuation (out of memory): as before suppression,
		 * the guest's next rx kick (or any host event) resumes us. */
		virtq_enable_notify(vq);
}

static void process_rx(struct vsock_dev *d)
{
	struct virtq *vq;
	struct virtq_chain ch;
	struct hconn *hc;
	bool pushed = false, dgram_more = false;
	unsigned batch = 0;

	if (!d->active)
		return;
	vq = virtio_queue(d->vdev, VSOCK_QUEUE_RX);
	if (!vq || !virtq_usable(vq))
		return;
	/* rx kicks only matter while work waits for buffers.  Keep them off
	 * otherwise, so re-posting a consumed buffer costs the guest no exit;
	 * vd_pop_rx() re-arms them when its drain runs dry, which is the
	 * only way work gets parked for want of buffers. */
	virtq_disable_notify(vq);
	while (d->rstq_len > 0) {
		if (vd_pop_rx(d, vq, &ch, VSOCK_HDR_SIZE, &pushed) != 1)
			goto out;
		vd_put_pkt(d, vq, &ch, &d->rstq[d->rstq_head]);
		pushed = true;
		d->rstq_head = (d->rstq_head + 1) % RSTQ_SIZE;
		d->rstq_len--;
		if (d->tx_stalled && !d->tx_cont_pending && !d->tearing_down &&
		    evloop_call(d->ev, tx_cont_cb, d) == 0) {
			d->tx_stalled = false;
			d->tx_cont_pending = true;
		}
	}
	/* Datagrams take a bounded turn first, so a flood of them leaves
	 * the streams most of the buffers (docs/vsock.md, "Datagrams"). */
	if (d->dgram) {
		int r = vd_dgram_rx(d, vq, &pushed, DGRAM_RX_TURN);

		if (r < 0)
			goto out;
		dgram_more = r > 0;
	}
	/* Round robin, one packet per connection per turn.  A guest that
	 * keeps refilling while the host keeps sending could hold the lock
	 * for ever: after a batch, let vCPUs in and continue on the I/O
	 * thread. */
	while ((hc = TAILQ_FIRST(&d->rx_list))) {
		unsigned ev = 0;
		int r;

		if (++batch > RX_BATCH) {
			rx_continue(d, vq);
			break;
		}

		rx_unlink(d, hc);
		r = vd_rx_one(d, hc, vq, &pushed, &ev);
		if (r < 0) {
			rx_link(d, hc, true); /* first again once buffers come */
			break;
		}
		/* Frees a finished flow, re-queues one with more to send;
		 * "nothing now" without an event waits for the next edge. */
		if (r > 0 || ev)
			after_event(d, hc, ev);
	}
	/* No stream waits for buffers now (none has data, or each is
	 * blocked on credit): datagrams may have the rest of them, so a
	 * flood is not dropped while the guest has rx buffers free.  The
	 * queue bounds this turn. */
	if (dgram_more && TAILQ_EMPTY(&d->rx_list)) {
		int r = vd_dgram_rx(d, vq, &pushed, VSOCK_DGRAM_QUEUE_MAX);

		if (r < 0)
			goto out;
		dgram_more = r > 0;
	}
	if (dgram_more)
		rx_continue(d, vq);
out:
	if (pushed && virtio_signal(d->vdev, VSOCK_QUEUE_RX))
		d->st.rx_interrupts++;
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

/* Unread bytes from the host (a peek, nothing consumed). */
static bool host_has_data(int fd)
{
	char c;

	return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

/* After EPOLLERR: 0 while unread bytes wait for a guest that will read
 * them (the reads meet the error behind them), else the pending error.
 * A guest that shut down its receiving side never takes them, so nothing
 * would ever read up to the error: it counts now.  A peek at an empty
 * queue reports the error and clears it (as SO_ERROR does): it must
 * count, or the reads would then see a plain EOF and the abort would
 * reach the guest as an orderly SHUTDOWN. */
static int host_error_now(const struct hconn *hc)
{
	bool will_read = !(hc->c.peer_shut & VIRTIO_VSOCK_SHUTDOWN_RCV);
	char c;
	ssize_t r;

	/* The tail of a bounced SEQPACKET message is such bytes too (read
	 * from the socket already: no peek here, it would clear the error). */
	if (will_read && hc->rmsg)
		return 0;
	r = recv(hc->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (r > 0 && will_read)
		return 0;
	if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		return errno;
	return sock_error(hc->fd);
}

/* The host end of a guest-initiated flow answered (a sibling's OK line, or
 * connect() completing): connected, or refused.  True if connected, and
 * what the host sent meanwhile is to be read. */
static bool connect_done(struct vsock_dev *d, struct hconn *hc, bool ok)
{
	hc->connecting = false;
	if (!ok) {
		d->st.conn_refused++;
		after_event(d, hc, vsock_conn_host_connect_failed(&hc->c));
		return false;
	}
	hc->readable = true;
	after_event(d, hc, vsock_conn_host_connected(&hc->c));
	return true;
}

static void host_cb(void *opaque, uint32_t events)
{
	struct hconn *hc = opaque;
	struct vsock_dev *d = hc->d;

	pthread_mutex_lock(&d->lock);
	if (hc->zombie || hc->c.state == VSOCK_CONN_CLOSED)
		goto out;
	if (hc->await_ok) {
		int r = vd_peer_read_ok(hc);

		if (r == 0)
			goto out;
		hc->await_ok = false;
		if (!connect_done(d, hc, r > 0))
			goto out;
		goto rx;
	}
	if (hc->connecting) {
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			goto out;
		if (!connect_done(d, hc, sock_error(hc->fd) == 0))
			goto out;
		goto rx;
	}
	/* An error (a Unix peer that died or closed with our bytes unread
	 * in it: ECONNRESET) comes behind what the host sent before it: while
	 * such bytes wait, the reads deliver them first and then meet the
	 * error themselves (the kernel keeps that order).  Resetting now
	 * would drop them. */
	if ((events & EPOLLERR) && host_error_now(hc)) {
		after_event(d, hc, vsock_conn_host_error(&hc->c));
		goto rx;
	}
	if ((events & EPOLLHUP) && !hc->hup) {
		hc->hup = true;
		/* The EOF was read before the hang-up was seen (data, SHUT_WR
		 * or close(), read in one go): only SHUTDOWN(SEND) went out,
		 * and with nothing left to read no later EOF would tell the
		 * guest that the host is gone both ways.  Tell it now. */
		if (hc->c.state == VSOCK_CONN_ESTABLISHED &&
		    (hc->c.local_shut & VIRTIO_VSOCK_SHUTDOWN_SEND))
			after_event(d, hc, vsock_conn_host_closed(&hc->c, vm_now_ns()));
	}
	if (events & (EPOLLRDHUP | EPOLLHUP))
		hc->rdhup = true;
	if (hc->hup && hc->c.state == VSOCK_CONN_CONNECTING_HOST_INIT &&
	    (hc->hybrid_ok || !host_has_data(hc->fd))) {
		/* The client is gone before the guest accepted: withdraw the
		 * REQUEST, or reset it at once if it left.  A hybrid client
		 * could never read its OK; a forward_in client that sent
		 * nothing has nothing for the guest. */
		after_event(d, hc, vsock_conn_host_closed(&hc->c, vm_now_ns()));
		goto rx;
	}
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) {
		hc->readable = true;
		rx_kick(d, hc);
	}
	if (events & EPOLLOUT)
		after_event(d, hc, vd_flush(d, hc));
rx:
	process_rx(d);
out:
	pthread_mutex_unlock(&d->lock);
}

static void timer_cb(void *opaque, uint32_t events)
{
	struct vsock_dev *d = opaque;
	SLIST_HEAD(, hconn) expired = SLIST_HEAD_INITIALIZER(expired);
	struct hconn *hc;
	uint64_t ticks, now = vm_now_ns();
	uint32_t pos = 0;

	(void)events;
	if (read(d->timerfd, &ticks, sizeof(ticks)) < 0) {
		/* EAGAIN: spurious wake-up */
	}
	pthread_mutex_lock(&d->lock);
	/* Collect first: expiring may remove entries from the table. */
	while ((hc = vsock_conntab_next(&d->conns, &pos, NULL, NULL))) {
		uint64_t dl = vsock_conn_deadline(&hc->c);

		if (dl && now >= dl)
			SLIST_INSERT_HEAD(&expired, hc, next);
	}
	while ((hc = SLIST_FIRST(&expired))) {
		SLIST_REMOVE_HEAD(&expired, next);
		after_event(d, hc, vsock_conn_timer(&hc->c, now));
	}
	reap_locked(d);
	process_rx(d);
	timer_update(d);
	pthread_mutex_unlock(&d->lock);
}

/* Host datagrams on <uds_path>_dgram (level-triggered, I/O thread). */
static void dgram_cb(void *opaque, uint32_t events)
{
	struct vsock_dev *d = opaque;
	unsigned n = 0, r;
	bool accept;

	(void)events;
	pthread_mutex_lock(&d->lock);
	accept = d->active && (d->types_ok & VSOCK_TYPE_BIT(VIRTIO_VSOCK_TYPE_DGRAM));
	/* Deliver between reads: while the guest has rx buffers, a wake-up
	 * reads no more than the queue holds (64 datagrams of 64 KiB would
	 * be 4 MiB against its 1 MiB: most were dropped with buffers free).
	 * Once the queue stays full, the rest of the batch is read and
	 * dropped as before (left unread, the level-triggered socket would
	 * wake us at once, again and again). */
	do {
		r = vsock_dgram_recv(d->dgram, accept, VSOCK_DGRAM_RECV_BATCH - n, true,
				     &d->st.dgram);
		n += r;
		process_rx(d);
	} while (r && n < VSOCK_DGRAM_RECV_BATCH && vsock_dgram_has_room(d->dgram));
	if (n < VSOCK_DGRAM_RECV_BATCH && !vsock_dgram_has_room(d->dgram))
		vsock_dgram_recv(d->dgram, accept, VSOCK_DGRAM_RECV_BATCH - n, false,
				 &d->st.dgram);
	pthread_mutex_unlock(&d->lock);
}

/* --- host-initiated flows --------------------------------------------- */

/* A host flow from (cid, *port) into guest_port: from the host (cid 2,
 * *port allocated here) or from a sibling VM (its cid and port). */
static int host_accept(struct vsock_dev *d, int fd, uint64_t cid, uint32_t peer_port,
		       uint32_t guest_port, uint16_t type, bool hybrid_ok)
{
	bool sibling = cid != VSOCK_HOST_CID;
	struct hconn *hc;
	uint32_t port = peer_port;
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
	ret = sibling ? 0 : vsock_port_alloc(&d->ports, &port);
	if (ret)
		goto out;
	ret = -ENOMEM;
	hc = hconn_new(d);
	if (!hc)
		goto err_port;
	vsock_conn_init_host(&hc->c, d->guest_cid, port, guest_port,
			     type, d->buf_alloc, vm_now_ns(), &d->cst);
	hc->c.addr.local_cid = cid;
	hc->host_init = !sibling;
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
	vd_seq_sndbuf(d, hc);
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
	if (!sibling)
		vsock_port_release(&d->ports, port);
out:
	pthread_mutex_unlock(&d->lock);
	return ret;
}

int vsock_dev_host_accept(struct vsock_dev *d, int fd, uint32_t guest_port,
			  uint16_t type, bool hybrid_ok)
{
	return host_accept(d, fd, VSOCK_HOST_CID, 0, guest_port, type, hybrid_ok);
}

static bool is_peer(const struct vsock_dev *d, uint64_t cid)
{
	for (unsigned i = 0; i < d->npeers; i++)
		if (d->peers[i] == cid)
			return true;
	return false;
}

/* A sibling VMM's CONNECT-FROM (backend.h): only from a configured peer
 * (d->peers is fixed after creation: no lock needed to read it). */
static int sink_accept_peer(void *opaque, int fd, uint64_t cid, uint32_t port,
			    uint32_t guest_port, uint16_t type)
{
	struct vsock_dev *d = opaque;

	if (!is_peer(d, cid)) {
		pthread_mutex_lock(&d->lock);
		d->st.conn_refused++;
		pthread_mutex_unlock(&d->lock);
		return -EPERM;
	}
	return host_accept(d, fd, cid, port, guest_port, type, true);
}

/* The sink the backends' listeners call (backend.h). */
static int sink_accept(void *opaque, int fd, uint32_t guest_port, uint16_t type,
		       bool hybrid_ok)
{
	return vsock_dev_host_accept(opaque, fd, guest_port, type, hybrid_ok);
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
		struct virtq *vq = virtio_queue(d->vdev, q);

		if (vq && q < 3)
			d->st.queue_size[q] = virtq_size(vq);
		if (q == VSOCK_QUEUE_TX) {
			d->st.tx_notifies++;
			process_tx(d);
		} else if (q == VSOCK_QUEUE_RX) {
			d->st.rx_notifies++;
			process_rx(d);
		}
		/* event queue: buffers are only used for TRANSPORT_RESET */
	}
	pthread_mutex_unlock(&d->lock);
}

static int activate(void *dev)
{
	struct vsock_dev *d = dev;

	pthread_mutex_lock(&d->lock);
	d->types_ok = vsock_pkt_types_from_features(virtio_features(d->vdev));
	if (!d->dgram) /* never offered: a transport would have refused it */
		d->types_ok &= ~VSOCK_TYPE_BIT(VIRTIO_VSOCK_TYPE_DGRAM);
	/* What this driver session agreed to, for the metrics.  The ring
	 * sizes are taken at each notification instead: vhost-user activates
	 * the device when its first ring goes live. */
	d->st.features = virtio_features(d->vdev);
	d->st.activations++;
	d->active = true;
	pthread_mutex_unlock(&d->lock);
	return 0;
}

/* Drop every flow without telling the guest (its driver is gone). */
static void drop_all(struct vsock_dev *d)
{
	SLIST_HEAD(, hconn) all = SLIST_HEAD_INITIALIZER(all);
	struct hconn *hc;
	uint32_t pos = 0;

	/* Collect first: zombify takes them out of the table. */
	while ((hc = vsock_conntab_next(&d->conns, &pos, NULL, NULL)))
		SLIST_INSERT_HEAD(&all, hc, next);
	while ((hc = SLIST_FIRST(&all))) {
		SLIST_REMOVE_HEAD(&all, next);
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
	if (d->dgram)
		vsock_dgram_flush(d->dgram, &d->st.dgram);
	pthread_mutex_unlock(&d->lock);
}

/* NO_IMPLIED_STREAM tells new drivers STREAM is real; a driver that acks
 * no type bit (Linux acks only SEQPACKET) still gets STREAM. */
#define VSOCK_FEATURES ((1ull << VSOCK_F_STREAM) | (1ull << VSOCK_F_SEQPACKET) | \
			(1ull << VSOCK_F_NO_IMPLIED_STREAM))
#define VSOCK_OPS_COMMON                            \
	.device_id = VIRTIO_ID_VSOCK,               \
	.num_queues = 3,                            \
	.queue_max_size = VSOCK_QUEUE_SIZE,         \
	.queue_num_max = VSOCK_QUEUE_NUM_MAX,       \
	.config_size = sizeof(uint64_t),            \
	.config_read = cfg_read,                    \
	.queue_notify = queue_notify,               \
	.activate = activate,                       \
	.reset = reset

const struct virtio_device_ops vsock_virtio_ops = {
	VSOCK_OPS_COMMON,
	.features = VSOCK_FEATURES,
};

/* The same device with datagrams: F_DGRAM offered too. */
const struct virtio_device_ops vsock_virtio_ops_dgram = {
	VSOCK_OPS_COMMON,
	.features = VSOCK_FEATURES | (1ull << VSOCK_F_DGRAM),
};

const struct virtio_device_ops *vsock_dev_ops(const struct vsock_dev *d)
{
	return d->dgram ? &vsock_virtio_ops_dgram : &vsock_virtio_ops;
}

/* --- setup -------------------------------------------------------------- */

int vsock_dev_create(const struct vsock_dev_params *p, struct vsock_dev **out)
{
	struct vsock_dev *d;
	int ret;

	ret = -EINVAL;
	if (p->guest_cid < VSOCK_GUEST_CID_MIN || p->guest_cid > VSOCK_GUEST_CID_MAX ||
	    !p->ev || p->max_conns > VSOCK_CONNTAB_LIMIT)
		goto err_be;
	ret = -ENOMEM;
	d = calloc(1, sizeof(*d));
	if (!d)
		goto err_be;
	pthread_mutex_init(&d->lock, NULL);
	d->ev = p->ev;
	d->be = p->be;
	d->guest_cid = p->guest_cid;
	if (p->npeers) {
		d->peers = calloc(p->npeers, sizeof(*d->peers));
		if (!d->peers) {
			pthread_mutex_destroy(&d->lock);
			free(d);
			goto err_be;
		}
		memcpy(d->peers, p->peer_cids, p->npeers * sizeof(*d->peers));
		d->npeers = p->npeers;
	}
	d->buf_alloc = p->buf_alloc ? p->buf_alloc : VSOCK_CONN_BUF_ALLOC;
	d->types_ok = vsock_pkt_types_from_features(0);
	d->timerfd = -1;
	TAILQ_INIT(&d->rx_list);
	SLIST_INIT(&d->zombies);
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
	if (p->dgram) {
		ret = ev_add(d->ev, &d->dgram_src, vsock_dgram_fd(p->dgram), EPOLLIN,
			     dgram_cb, d);
		if (ret)
			goto err_ev;
		d->dgram = p->dgram;
		d->dgram_in_epoll = true;
	}
	/* Host clients may come from now on (not before the loop runs). */
	if (d->be && d->be->listen) {
		ret = d->be->listen(d->be, &(struct vsock_host_sink){
			.accept = sink_accept, .accept_peer = sink_accept_peer, .opaque = d });
		if (ret)
			goto err_dgram;
	}
	*out = d;
	return 0;

err_dgram:
	if (d->dgram_in_epoll)
		ev_del(d->ev, &d->dgram_src);
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
	free(d->peers);
	free(d);
err_be:
	if (p->be)
		p->be->destroy(p->be);
	vsock_dgram_destroy(p->dgram);
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
	if (d->dgram_in_epoll)
		ev_del(d->ev, &d->dgram_src);
	vsock_dgram_destroy(d->dgram);
	vsock_port_alloc_destroy(&d->ports);
	vsock_conntab_destroy(&d->conns);
	pthread_mutex_unlock(&d->lock);
	pthread_mutex_destroy(&d->lock);
	free(d->peers);
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
