/* SPDX-License-Identifier: MIT */
/*
 * The per-connection vsock state machine and credit accounting.  See conn.h;
 * docs/vsock.md has the transition table.
 */
#include <string.h>

#include "vsock/conn.h"

#define SHUT_BOTH (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND)

#define COUNT(c, field, n)                        \
	do {                                      \
		if ((c)->stats)                   \
			(c)->stats->field += (n); \
	} while (0)

static void init_common(struct vsock_conn *c, uint16_t type, uint32_t buf_alloc,
			struct vsock_conn_stats *stats)
{
	memset(c, 0, sizeof(*c));
	c->type = type;
	c->buf_alloc = buf_alloc;
	c->stats = stats;
	c->addr.local_cid = VSOCK_HOST_CID;
}

void vsock_conn_init_guest(struct vsock_conn *c, const struct vsock_hdr *req,
			   uint32_t buf_alloc, uint64_t now,
			   struct vsock_conn_stats *stats)
{
	init_common(c, req->type, buf_alloc, stats);
	c->state = VSOCK_CONN_CONNECTING_GUEST_INIT;
	c->addr.local_cid = req->dst_cid; /* 2, or a sibling VM's CID */
	c->addr.local_port = req->dst_port;
	c->addr.peer_cid = req->src_cid;
	c->addr.peer_port = req->src_port;
	c->peer_buf_alloc = req->buf_alloc;
	c->peer_fwd_cnt = req->fwd_cnt;
	c->deadline = now + VSOCK_CONNECT_TIMEOUT_NS;
}

void vsock_conn_init_host(struct vsock_conn *c, uint64_t guest_cid,
			  uint32_t local_port, uint32_t peer_port, uint16_t type,
			  uint32_t buf_alloc, uint64_t now,
			  struct vsock_conn_stats *stats)
{
	init_common(c, type, buf_alloc, stats);
	c->state = VSOCK_CONN_CONNECTING_HOST_INIT;
	c->addr.local_port = local_port;
	c->addr.peer_cid = guest_cid;
	c->addr.peer_port = peer_port;
	c->ctrl = VSOCK_CTRL_REQUEST;
	/* From creation, not from when REQUEST leaves: a guest that posts no
	 * rx buffers must not keep the host client waiting forever. */
	c->deadline = now + VSOCK_CONNECT_TIMEOUT_NS;
}

/* --- credit ------------------------------------------------------------ */

uint32_t vsock_conn_peer_free(const struct vsock_conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt; /* wraps */

	/* A guest that shrank its buffer, or claims to have consumed more
	 * than we sent (in_flight "negative", i.e. huge), gets nothing. */
	if (in_flight >= c->peer_buf_alloc)
		return 0;
	return c->peer_buf_alloc - in_flight;
}

uint32_t vsock_conn_rx_room(const struct vsock_conn *c)
{
	uint32_t held = c->rx_cnt - c->fwd_cnt; /* <= buf_alloc, we enforce it */

	return held >= c->buf_alloc ? 0 : c->buf_alloc - held;
}

/*
 * Should we tell the guest about space we freed?  The guest only knows
 * fwd_cnt_sent, so it believes our free space is
 * buf_alloc - (rx_cnt - fwd_cnt_sent).  Linux never sends CREDIT_REQUEST,
 * so if that view reaches 0 while we have freed space, it stalls for good.
 * Update when the view is low (below half the buffer, at most one maximum
 * packet) or when half the buffer is unannounced (keeps the pipe full).
 */
static bool credit_update_due(const struct vsock_conn *c)
{
	uint32_t unannounced = c->fwd_cnt - c->fwd_cnt_sent;
	uint32_t seen_held = c->rx_cnt - c->fwd_cnt_sent;
	uint32_t seen_free = seen_held >= c->buf_alloc ? 0 : c->buf_alloc - seen_held;
	uint32_t low = c->buf_alloc / 2;

	if (low > VSOCK_MAX_PKT_LEN)
		low = VSOCK_MAX_PKT_LEN;
	if (unannounced == 0)
		return false;
	return seen_free < low || unannounced >= c->buf_alloc / 2;
}

static unsigned maybe_credit_update(struct vsock_conn *c)
{
	if (c->state != VSOCK_CONN_ESTABLISHED || (c->ctrl & VSOCK_CTRL_CREDIT_UPDATE))
		return 0;
	if (!credit_update_due(c))
		return 0;
	c->ctrl |= VSOCK_CTRL_CREDIT_UPDATE;
	return VSOCK_EV_CTRL;
}

/* --- transitions ------------------------------------------------------- */

static void drop_credit_update(struct vsock_conn *c)
{
	c->ctrl &= (uint8_t)~VSOCK_CTRL_CREDIT_UPDATE;
	c->credit_req = false;
}

/* Abort: owe the guest one RST, nothing else. */
static unsigned reset(struct vsock_conn *c)
{
	c->state = VSOCK_CONN_CLOSED;
	c->ctrl = VSOCK_CTRL_RST;
	c->credit_req = false;
	c->deadline = 0;
	return VSOCK_EV_CLOSED | VSOCK_EV_CTRL;
}

/* Close without telling the guest (it reset, or never heard of us). */
static unsigned close_quietly(struct vsock_conn *c)
{
	c->state = VSOCK_CONN_CLOSED;
	c->ctrl = 0;
	c->credit_req = false;
	c->deadline = 0;
	return VSOCK_EV_CLOSED;
}

static bool host_gone(const struct vsock_conn *c)
{
	return c->local_shut & VIRTIO_VSOCK_SHUTDOWN_RCV;
}

/* The guest has shut both directions.  Finish with RST once its data has
 * reached the host (or cannot any more); meanwhile CLOSING. */
static unsigned peer_closed(struct vsock_conn *c, uint64_t now)
{
	if (vsock_conn_drained(c) || host_gone(c))
		return reset(c);
	if (c->state != VSOCK_CONN_CLOSING) {
		c->state = VSOCK_CONN_CLOSING;
		c->deadline = now + VSOCK_CLOSE_TIMEOUT_NS;
	}
	/* No more credit updates: the guest sends nothing more anyway. */
	drop_credit_update(c);
	return 0;
}

static unsigned guest_shutdown(struct vsock_conn *c, uint32_t flags, uint64_t now)
{
	uint8_t fresh = (uint8_t)(flags & ~c->peer_shut) & SHUT_BOTH;
	unsigned ev = 0;

	c->peer_shut |= fresh;
	if (fresh & VIRTIO_VSOCK_SHUTDOWN_SEND)
		ev |= VSOCK_EV_SHUT_WR;
	if (fresh & VIRTIO_VSOCK_SHUTDOWN_RCV)
		ev |= VSOCK_EV_SHUT_RD;
	if (c->peer_shut == SHUT_BOTH)
		ev |= peer_closed(c, now);
	return ev;
}

static unsigned guest_rw(struct vsock_conn *c, const struct vsock_hdr *h)
{
	if (c->peer_shut & VIRTIO_VSOCK_SHUTDOWN_SEND) {
		/* Data after promising none. */
		COUNT(c, proto_err, 1);
		return reset(c);
	}
	if (h->len > vsock_conn_rx_room(c)) {
		COUNT(c, credit_overrun, 1);
		return reset(c);
	}
	c->rx_cnt += h->len;
	/* Sending shrinks the guest's view of our space too: space freed
	 * earlier but not yet announced may be all it has left. */
	return VSOCK_EV_FORWARD | maybe_credit_update(c);
}

static unsigned established(struct vsock_conn *c, const struct vsock_hdr *h,
			    uint64_t now)
{
	switch (h->op) {
	case VIRTIO_VSOCK_OP_RW:
		return guest_rw(c, h);
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		return guest_shutdown(c, h->flags, now);
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		return 0; /* the credit fields were taken already */
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		c->ctrl |= VSOCK_CTRL_CREDIT_UPDATE;
		c->credit_req = true;
		return VSOCK_EV_CTRL;
	default:
		/* REQUEST/RESPONSE on a live connection: Linux ignores these
		 * too (virtio_transport_recv_connected). */
		COUNT(c, ignored, 1);
		return 0;
	}
}

static unsigned closing(struct vsock_conn *c, const struct vsock_hdr *h,
			uint64_t now)
{
	switch (h->op) {
	case VIRTIO_VSOCK_OP_RW:
		/* Nobody will read it: the host is gone or the guest already
		 * said it sends nothing more. */
		COUNT(c, rw_dropped, h->len);
		return 0;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		return guest_shutdown(c, h->flags, now);
	default:
		COUNT(c, ignored, 1);
		return 0;
	}
}

unsigned vsock_conn_guest_pkt(struct vsock_conn *c, const struct vsock_hdr *h,
			      uint64_t now)
{
	uint32_t before;
	unsigned ev = 0;

	if (c->state == VSOCK_CONN_CLOSED) {
		/* Only waiting to send its RST. */
		COUNT(c, ignored, 1);
		return 0;
	}
	if (h->op == VIRTIO_VSOCK_OP_RST)
		return close_quietly(c);
	if (h->type != c->type) {
		COUNT(c, proto_err, 1);
		return reset(c);
	}

	/* Every packet carries the guest's current credit (spec 5.10.6.3). */
	before = vsock_conn_peer_free(c);
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	if (vsock_conn_peer_free(c) > before)
		ev |= VSOCK_EV_CREDIT;

	switch (c->state) {
	case VSOCK_CONN_CONNECTING_GUEST_INIT:
		/* The guest waits for our RESPONSE: only credit news is
		 * harmless (CREDIT_REQUEST is answered by the RESPONSE). */
		if (h->op == VIRTIO_VSOCK_OP_CREDIT_UPDATE ||
		    h->op == VIRTIO_VSOCK_OP_CREDIT_REQUEST)
			return ev;
		COUNT(c, proto_err, 1);
		return reset(c);

	case VSOCK_CONN_CONNECTING_HOST_INIT:
		/* Before our REQUEST left, nothing can be an answer to it. */
		if (!(c->ctrl & VSOCK_CTRL_REQUEST)) {
			if (h->op == VIRTIO_VSOCK_OP_RESPONSE) {
				c->state = VSOCK_CONN_ESTABLISHED;
				c->deadline = 0;
				return ev | VSOCK_EV_CONNECTED;
			}
			if (h->op == VIRTIO_VSOCK_OP_CREDIT_UPDATE)
				return ev;
		}
		/* Linux: a connecting socket answers anything else with RST. */
		COUNT(c, proto_err, 1);
		return reset(c);

	case VSOCK_CONN_ESTABLISHED:
		return ev | established(c, h, now);

	case VSOCK_CONN_CLOSING:
		return closing(c, h, now);

	case VSOCK_CONN_CLOSED:
		break;
	}
	return 0;
}

unsigned vsock_conn_host_connected(struct vsock_conn *c)
{
	if (c->state != VSOCK_CONN_CONNECTING_GUEST_INIT)
		return 0;
	/* Established from our side now; vsock_conn_rw_budget() holds data
	 * back until the RESPONSE has left. */
	c->state = VSOCK_CONN_ESTABLISHED;
	c->deadline = 0;
	c->ctrl |= VSOCK_CTRL_RESPONSE;
	return VSOCK_EV_CTRL;
}

unsigned vsock_conn_host_connect_failed(struct vsock_conn *c)
{
	if (c->state != VSOCK_CONN_CONNECTING_GUEST_INIT)
		return 0;
	return reset(c);
}

unsigned vsock_conn_host_eof(struct vsock_conn *c)
{
	if (c->state != VSOCK_CONN_ESTABLISHED ||
	    (c->local_shut & VIRTIO_VSOCK_SHUTDOWN_SEND))
		return 0;
	c->local_shut |= VIRTIO_VSOCK_SHUTDOWN_SEND;
	c->ctrl |= VSOCK_CTRL_SHUTDOWN;
	return VSOCK_EV_CTRL;
}

unsigned vsock_conn_host_closed(struct vsock_conn *c, uint64_t now)
{
	switch (c->state) {
	case VSOCK_CONN_CONNECTING_HOST_INIT:
		if (c->ctrl & VSOCK_CTRL_REQUEST)
			return close_quietly(c); /* the guest never knew */
		return reset(c);
	case VSOCK_CONN_CONNECTING_GUEST_INIT:
		return reset(c);
	case VSOCK_CONN_ESTABLISHED:
		c->local_shut = SHUT_BOTH;
		if (c->peer_shut == SHUT_BOTH)
			return reset(c);
		c->ctrl |= VSOCK_CTRL_SHUTDOWN;
		drop_credit_update(c);
		c->state = VSOCK_CONN_CLOSING;
		c->deadline = now + VSOCK_CLOSE_TIMEOUT_NS;
		return VSOCK_EV_CTRL;
	case VSOCK_CONN_CLOSING:
		if (host_gone(c))
			return 0; /* already waiting for the guest's RST */
		/* Was flushing for the guest; nothing left to flush into. */
		c->local_shut = SHUT_BOTH;
		return reset(c);
	case VSOCK_CONN_CLOSED:
		break;
	}
	return 0;
}

unsigned vsock_conn_host_error(struct vsock_conn *c)
{
	if (c->state == VSOCK_CONN_CLOSED)
		return 0;
	if (c->state == VSOCK_CONN_CONNECTING_HOST_INIT && (c->ctrl & VSOCK_CTRL_REQUEST))
		return close_quietly(c);
	return reset(c);
}

unsigned vsock_conn_host_forwarded(struct vsock_conn *c, uint32_t n)
{
	uint32_t pending = vsock_conn_unforwarded(c);

	if (n > pending) /* caller bug; never let fwd_cnt pass rx_cnt */
		n = pending;
	c->fwd_cnt += n;
	if (c->state == VSOCK_CONN_CLOSING && c->peer_shut == SHUT_BOTH &&
	    vsock_conn_drained(c))
		return reset(c);
	return maybe_credit_update(c);
}

unsigned vsock_conn_timer(struct vsock_conn *c, uint64_t now)
{
	if (c->deadline == 0 || now < c->deadline)
		return 0;
	switch (c->state) {
	case VSOCK_CONN_CONNECTING_GUEST_INIT:
		COUNT(c, connect_timeout, 1);
		return reset(c);
	case VSOCK_CONN_CONNECTING_HOST_INIT:
		COUNT(c, connect_timeout, 1);
		if (c->ctrl & VSOCK_CTRL_REQUEST)
			return close_quietly(c);
		return reset(c);
	case VSOCK_CONN_CLOSING:
		COUNT(c, close_timeout, 1);
		return reset(c);
	default:
		c->deadline = 0;
		return 0;
	}
}

/* --- output toward the guest ------------------------------------------ */

uint32_t vsock_conn_rw_budget(const struct vsock_conn *c)
{
	if (c->state != VSOCK_CONN_ESTABLISHED)
		return 0;
	if (c->ctrl & (VSOCK_CTRL_RST | VSOCK_CTRL_RESPONSE))
		return 0;
	if ((c->local_shut & VIRTIO_VSOCK_SHUTDOWN_SEND) ||
	    (c->peer_shut & VIRTIO_VSOCK_SHUTDOWN_RCV))
		return 0;
	return vsock_conn_peer_free(c);
}

static void credit(const struct vsock_conn *c, struct vsock_credit *cr)
{
	cr->buf_alloc = c->buf_alloc;
	cr->fwd_cnt = c->fwd_cnt;
}

bool vsock_conn_ctrl_peek(const struct vsock_conn *c, struct vsock_hdr *h)
{
	struct vsock_credit cr;

	credit(c, &cr);
	if (c->ctrl & VSOCK_CTRL_RST)
		vsock_hdr_rst(h, &c->addr, c->type, &cr);
	else if (c->ctrl & VSOCK_CTRL_REQUEST)
		vsock_hdr_request(h, &c->addr, c->type, &cr);
	else if (c->ctrl & VSOCK_CTRL_RESPONSE)
		vsock_hdr_response(h, &c->addr, c->type, &cr);
	else if (c->ctrl & VSOCK_CTRL_SHUTDOWN)
		vsock_hdr_shutdown(h, &c->addr, c->type, c->local_shut, &cr);
	else if (c->ctrl & VSOCK_CTRL_CREDIT_UPDATE)
		vsock_hdr_credit_update(h, &c->addr, c->type, &cr);
	else
		return false;
	return true;
}

void vsock_conn_build_rw(const struct vsock_conn *c, struct vsock_hdr *h,
			 uint32_t len, uint32_t flags)
{
	struct vsock_credit cr;

	credit(c, &cr);
	if (c->type != VIRTIO_VSOCK_TYPE_SEQPACKET)
		flags = 0;
	vsock_hdr_rw(h, &c->addr, c->type, len, flags, &cr);
}

void vsock_conn_sent(struct vsock_conn *c, const struct vsock_hdr *h)
{
	switch (h->op) {
	case VIRTIO_VSOCK_OP_RST:
		c->ctrl &= (uint8_t)~VSOCK_CTRL_RST;
		break;
	case VIRTIO_VSOCK_OP_REQUEST:
		c->ctrl &= (uint8_t)~VSOCK_CTRL_REQUEST;
		break;
	case VIRTIO_VSOCK_OP_RESPONSE:
		c->ctrl &= (uint8_t)~VSOCK_CTRL_RESPONSE;
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		/* Clear only if it carried every flag we have queued. */
		if ((h->flags & c->local_shut) == c->local_shut)
			c->ctrl &= (uint8_t)~VSOCK_CTRL_SHUTDOWN;
		break;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		drop_credit_update(c);
		break;
	case VIRTIO_VSOCK_OP_RW:
		c->tx_cnt += h->len;
		break;
	default:
		break;
	}
	/* Every header carries our credit: an unrequested update is moot once
	 * the guest has seen the current fwd_cnt (a CREDIT_REQUEST gets the
	 * real CREDIT_UPDATE op, as the spec asks). */
	c->fwd_cnt_sent = h->fwd_cnt;
	if (h->fwd_cnt == c->fwd_cnt && !c->credit_req)
		c->ctrl &= (uint8_t)~VSOCK_CTRL_CREDIT_UPDATE;
}
