/* SPDX-License-Identifier: MIT */
/*
 * Guest-side vsock connections (virtio v1.2 §5.10.6), modelled on what the
 * Linux guest does (net/vmw_vsock/virtio_transport_common.c) so the device
 * sees realistic traffic: see vsock.h for the credit rules.
 */
#include "vsock.h"

#include "cmdline.h"
#include "delay.h"
#include "heap.h"
#include "io.h"
#include "str.h"
#include "vsock_dgram.h"

/* Control packets a connection owes the peer. */
#define VSP_REQUEST        (1u << 0)
#define VSP_RESPONSE       (1u << 1)
#define VSP_CREDIT_UPDATE  (1u << 2)
#define VSP_CREDIT_REQUEST (1u << 3)
#define VSP_SHUTDOWN       (1u << 4)

#define CONNECT_TIMEOUT_US 2000000 /* Linux: 2 s */
#define CLOSE_TIMEOUT_US   8000000 /* Linux: 8 s, then RST */
#define STALL_US           1000000 /* credit stall before CREDIT_REQUEST */
#define TIMER_US           1000    /* how often vs_poll looks at deadlines */
#define RSTQ               256     /* RSTs owed for packets of no connection */
#define FIRST_EPHEMERAL    50000

struct vs_stats vs_stats;
void (*vs_rx_hook)(const struct vsock_hdr *h);

static struct vs_params par;
static struct vs_conn *conns;
static uint8_t **slot_buf;  /* per table slot, allocated on first use, kept */
static struct vsock_hdr rstq[RSTQ];
static unsigned rstq_head, rstq_tail;
static bool dirty;          /* some connection may owe a control packet */
static uint32_t next_port = FIRST_EPHEMERAL;
static uint64_t next_timer;
static struct vs_conn *last_hit; /* lookup cache: bulk transfers hit one */

static uint32_t round_pow2(uint32_t x)
{
	uint32_t p = 4096;

	while (p < x && p < (1u << 30))
		p *= 2;
	return p;
}

void vs_params_from_cmdline(struct vs_params *p, uint32_t def_bufsz,
			    unsigned def_conns)
{
	char layout[16];

	cmdline_str("rxlayout", layout, sizeof(layout));
	p->dev.rx_split = strcmp(layout, "split") == 0;
	p->dev.rxq = (unsigned)cmdline_u64("rxq", 128);
	p->dev.txq = (unsigned)cmdline_u64("txq", 128);
	p->dev.want_seqpacket = cmdline_u64("seqpacket", 1) != 0;
	p->dev.want_indirect = cmdline_u64("indirect", 0) != 0;
	p->dev.want_streambits = cmdline_u64("streambits", 0) != 0;
	p->dev.want_eventidx = cmdline_u64("eventidx", 1) != 0;
	p->dev.want_dgram = cmdline_u64("dgram", 0) != 0;
	p->dev.rxbuf = (uint32_t)cmdline_u64("rxbuf", VSOCK_RX_PAYLOAD);
	p->dev.txpkt = (uint32_t)cmdline_u64("txpkt", 65536);
	p->buf_alloc = (uint32_t)cmdline_u64("bufsz", def_bufsz);
	p->max_conns = (unsigned)cmdline_u64("maxconns", def_conns);
	p->dst_cid = cmdline_u64("cid", VSOCK_HOST_CID);
}

static void table_init(void)
{
	memset(conns, 0, sizeof(*conns) * par.max_conns);
	rstq_head = rstq_tail = 0;
	dirty = false;
	last_hit = NULL;
}

int vs_init(const struct vs_params *p, const char **why)
{
	par = *p;
	par.buf_alloc = round_pow2(par.buf_alloc);
	if (par.max_conns == 0)
		par.max_conns = 1;
	conns = heap_alloc(sizeof(*conns) * par.max_conns, 64);
	slot_buf = heap_alloc(sizeof(*slot_buf) * par.max_conns, 8);
	if (!conns || !slot_buf) {
		*why = "out of guest memory for the connection table";
		return -1;
	}
	memset(slot_buf, 0, sizeof(*slot_buf) * par.max_conns);
	table_init();
	return vsd_init(&par.dev, why);
}

int vs_reset(const char **why)
{
	table_init();
	return vsd_reinit(why);
}

/* ---- table ------------------------------------------------------------ */

static struct vs_conn *conn_alloc(void)
{
	for (unsigned i = 0; i < par.max_conns; i++) {
		struct vs_conn *c = &conns[i];

		if (c->state != VS_FREE)
			continue;
		if (!slot_buf[i])
			slot_buf[i] = heap_alloc(par.buf_alloc, 64);
		if (!slot_buf[i])
			return NULL;
		memset(c, 0, sizeof(*c));
		c->rbuf = slot_buf[i];
		c->rsize = par.buf_alloc;
		return c;
	}
	return NULL;
}

static void conn_free(struct vs_conn *c)
{
	if (last_hit == c)
		last_hit = NULL;
	c->state = VS_FREE;
	c->pending = 0;
}

static bool port_in_use(uint32_t port)
{
	for (unsigned i = 0; i < par.max_conns; i++)
		if (conns[i].state != VS_FREE && conns[i].lport == port)
			return true;
	return false;
}

/* The connection for a packet from (cid, pport) to our lport. */
static struct vs_conn *lookup(uint32_t lport, uint32_t pport, uint64_t cid)
{
	struct vs_conn *c = last_hit;

	if (c && c->state > VS_LISTEN && c->lport == lport && c->pport == pport &&
	    c->pcid == cid)
		return c;
	for (unsigned i = 0; i < par.max_conns; i++) {
		c = &conns[i];
		if (c->state > VS_LISTEN && c->lport == lport &&
		    c->pport == pport && c->pcid == cid)
			return last_hit = c;
	}
	return NULL;
}

/* A connection on these ports with another peer CID: a packet for it
 * that carries the wrong src_cid. */
static bool ports_taken_by_other_cid(uint32_t lport, uint32_t pport, uint64_t cid)
{
	for (unsigned i = 0; i < par.max_conns; i++)
		if (conns[i].state > VS_LISTEN && conns[i].lport == lport &&
		    conns[i].pport == pport && conns[i].pcid != cid)
			return true;
	return false;
}

static struct vs_conn *lookup_listener(uint32_t lport)
{
	for (unsigned i = 0; i < par.max_conns; i++)
		if (conns[i].state == VS_LISTEN && conns[i].lport == lport)
			return &conns[i];
	return NULL;
}

unsigned vs_conns_in_use(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < par.max_conns; i++)
		n += conns[i].state != VS_FREE;
	return n;
}

/* ---- sending ---------------------------------------------------------- */

void vs_fill_hdr(const struct vs_conn *c, struct vsock_hdr *h, uint16_t op,
		 uint32_t flags, uint32_t len)
{
	*h = (struct vsock_hdr){
		.src_cid = vsd_cid(),
		.dst_cid = c->pcid,
		.src_port = c->lport,
		.dst_port = c->pport,
		.len = len,
		.type = c->type,
		.op = op,
		.flags = flags,
		.buf_alloc = c->rsize,
		.fwd_cnt = c->fwd_cnt,
	};
}

static int tx_conn(struct vs_conn *c, uint16_t op, uint32_t flags,
		   const void *payload, uint32_t n)
{
	struct vsock_hdr h;

	vs_fill_hdr(c, &h, op, flags, n);
	if (vsd_tx(&h, payload, n))
		return -1;
	/* Every packet tells the peer our fwd_cnt. */
	c->fwd_sent = c->fwd_cnt;
	return 0;
}

int vs_raw(const struct vsock_hdr *h, const void *payload, uint32_t n)
{
	return vsd_tx(h, payload, n);
}

/* Owe an RST to whoever sent `h` (a packet we will not take). */
static void queue_rst_reply(const struct vsock_hdr *h)
{
	if (h->op == VSOCK_OP_RST)
		return; /* never answer an RST (Linux; it would ping-pong) */
	if (rstq_tail - rstq_head >= RSTQ)
		return; /* dropped: the peer times out instead */
	rstq[rstq_tail++ % RSTQ] = (struct vsock_hdr){
		.src_cid = vsd_cid(),
		.dst_cid = h->src_cid,
		.src_port = h->dst_port,
		.dst_port = h->src_port,
		.type = h->type,
		.op = VSOCK_OP_RST,
	};
}

/* Owe the peer of connection c an RST. */
static void rst_for(const struct vs_conn *c)
{
	/* queue_rst_reply() answers a packet: give it one from the peer. */
	struct vsock_hdr h = {
		.src_cid = c->pcid,
		.src_port = c->pport,
		.dst_port = c->lport,
		.type = c->type,
		.op = VSOCK_OP_INVALID,
	};

	queue_rst_reply(&h);
}

/* RST for connection c and forget it. */
static void reset_conn(struct vs_conn *c)
{
	rst_for(c);
	conn_free(c);
}

static void owe(struct vs_conn *c, uint32_t what)
{
	c->pending |= what;
	dirty = true;
}

/* Send what connections owe, as far as tx slots allow. */
static void flush(void)
{
	while (rstq_head != rstq_tail) {
		if (vsd_tx(&rstq[rstq_head % RSTQ], NULL, 0))
			return;
		rstq_head++;
		vs_stats.rst_sent++;
	}
	if (!dirty)
		return;
	dirty = false;
	for (unsigned i = 0; i < par.max_conns; i++) {
		struct vs_conn *c = &conns[i];

		while (c->pending && c->state != VS_FREE) {
			/* In this order: REQUEST/RESPONSE open the
			 * connection, SHUTDOWN goes after any data. */
			static const struct {
				uint32_t bit;
				uint16_t op;
			} order[] = {
				{ VSP_REQUEST, VSOCK_OP_REQUEST },
				{ VSP_RESPONSE, VSOCK_OP_RESPONSE },
				{ VSP_CREDIT_UPDATE, VSOCK_OP_CREDIT_UPDATE },
				{ VSP_CREDIT_REQUEST, VSOCK_OP_CREDIT_REQUEST },
				{ VSP_SHUTDOWN, VSOCK_OP_SHUTDOWN },
			};
			unsigned k = 0;

			while (!(c->pending & order[k].bit))
				k++;
			if (tx_conn(c, order[k].op,
				    order[k].op == VSOCK_OP_SHUTDOWN ? c->local_shut : 0,
				    NULL, 0)) {
				dirty = true;
				return;
			}
			if (order[k].op == VSOCK_OP_CREDIT_UPDATE)
				vs_stats.credit_updates_sent++;
			c->pending &= ~order[k].bit;
		}
	}
}

/* ---- receiving -------------------------------------------------------- */

static uint32_t rx_free(const struct vs_conn *c)
{
	return c->rsize - (c->rx_cnt - c->fwd_cnt);
}

static void rx_copy(struct vs_conn *c, const uint8_t *p, uint32_t n)
{
	uint32_t off = c->rx_cnt & (c->rsize - 1);
	uint32_t first = c->rsize - off < n ? c->rsize - off : n;

	memcpy(c->rbuf + off, p, first);
	memcpy(c->rbuf, p + first, n - first);
	c->rx_cnt += n;
	c->bytes_in += n;
}

static void to_closed(struct vs_conn *c, bool rst)
{
	c->state = VS_CLOSED;
	c->got_rst = rst;
	c->pending = 0;
}

/* The peer broke the protocol: RST, and the application sees a reset. */
static void protocol_error(struct vs_conn *c)
{
	vs_stats.proto_errors++;
	rst_for(c);
	to_closed(c, true);
}

static void on_request(const struct vsock_hdr *h)
{
	struct vs_conn *l = lookup_listener(h->dst_port), *c;

	if (!l || l->type != h->type || !(c = conn_alloc())) {
		vs_stats.reqs_refused++;
		queue_rst_reply(h);
		return;
	}
	c->state = VS_ESTABLISHED;
	c->type = h->type;
	c->lport = h->dst_port;
	c->pport = h->src_port;
	c->pcid = h->src_cid;
	c->listener = l;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	owe(c, VSP_RESPONSE);
}

static void on_rw(struct vs_conn *c, const struct vsock_hdr *h,
		  const uint8_t *p, uint32_t n)
{
	if (c->state == VS_CLOSING || (c->local_shut & VSOCK_SHUTDOWN_RCV)) {
		/* We said we receive no more: count it consumed. */
		c->rx_cnt += n;
		c->fwd_cnt += n;
		return;
	}
	if (n > rx_free(c)) {
		/* Beyond the credit we gave: Linux resets the connection. */
		vs_stats.credit_overruns++;
		protocol_error(c);
		return;
	}
	rx_copy(c, p, n);
	if (c->type == VSOCK_TYPE_SEQPACKET && (h->flags & VSOCK_SEQ_EOM)) {
		if (c->msg_tail - c->msg_head >= VS_MSGQ) {
			protocol_error(c);
			return;
		}
		c->msg_end[c->msg_tail % VS_MSGQ] = c->rx_cnt;
		c->msg_flags[c->msg_tail % VS_MSGQ] = h->flags;
		c->msg_tail++;
	}
}

/* The host, or another VM (a sibling's connection carries its CID):
 * never a reserved CID, ours, or one above 32 bits. */
static bool src_cid_ok(uint64_t cid)
{
	return cid == VSOCK_HOST_CID ||
	       (cid > VSOCK_HOST_CID && cid < 0xffffffffu && cid != vsd_cid());
}

static void on_rx(const struct vsock_hdr *h, const uint8_t *p, uint32_t n)
{
	struct vs_conn *c;

	if (vs_rx_hook)
		vs_rx_hook(h);
	if (h->type == VSOCK_TYPE_DGRAM) {
		/* Connectionless, its own port space (vsock_dgram.c); never
		 * answered with RST, which would mean nothing for type 3. */
		vdg_on_rx(h, p, n);
		return;
	}
	if (h->type != VSOCK_TYPE_STREAM && h->type != VSOCK_TYPE_SEQPACKET) {
		vs_stats.bad_type++;
		queue_rst_reply(h);
		return;
	}
	if (h->op == VSOCK_OP_RST)
		vs_stats.rst_rcvd++;
	if (!src_cid_ok(h->src_cid) || h->dst_cid != vsd_cid())
		vs_stats.bad_cid++;
	/* Every stream packet carries real credit, RESPONSE included: a
	 * RESPONSE with buf_alloc 0 stalls a Linux sender. */
	if ((h->op == VSOCK_OP_RESPONSE || h->op == VSOCK_OP_REQUEST) && h->buf_alloc == 0)
		vs_stats.zero_credit++;
	c = h->dst_cid == vsd_cid() ? lookup(h->dst_port, h->src_port, h->src_cid) : NULL;
	if (!c) {
		if (h->op == VSOCK_OP_REQUEST && h->dst_cid == vsd_cid()) {
			on_request(h);
			return;
		}
		vs_stats.unmatched++;
		/* src_cid_ok() lets any VM's CID through: one that is not the
		 * peer of the connection these ports belong to is still wrong
		 * (a sibling's packet stamped with the host's CID, say). */
		if (h->dst_cid == vsd_cid() && src_cid_ok(h->src_cid) &&
		    ports_taken_by_other_cid(h->dst_port, h->src_port, h->src_cid))
			vs_stats.bad_cid++;
		queue_rst_reply(h);
		return;
	}
	if (c->state == VS_CLOSED) {
		queue_rst_reply(h);
		return;
	}
	if (h->type != c->type) {
		protocol_error(c);
		return;
	}
	/* Every packet carries the peer's credit. */
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;

	if (c->state == VS_CONNECTING) {
		if (h->op == VSOCK_OP_RESPONSE)
			c->state = VS_ESTABLISHED;
		else if (h->op == VSOCK_OP_RST)
			to_closed(c, true);
		else
			protocol_error(c);
		return;
	}

	switch (h->op) {
	case VSOCK_OP_RW:
		on_rw(c, h, p, n);
		break;
	case VSOCK_OP_CREDIT_UPDATE:
		vs_stats.credit_updates_rcvd++;
		break;
	case VSOCK_OP_CREDIT_REQUEST:
		owe(c, VSP_CREDIT_UPDATE);
		break;
	case VSOCK_OP_SHUTDOWN:
		c->peer_shut |= h->flags & (VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND);
		/* Both sides done: whoever finishes sends the RST. */
		if (c->state == VS_CLOSING &&
		    c->peer_shut == (VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND))
			reset_conn(c);
		break;
	case VSOCK_OP_RST:
		if (c->state == VS_CLOSING)
			conn_free(c);
		else
			to_closed(c, true);
		break;
	default: /* REQUEST/RESPONSE on an open connection, unknown ops */
		protocol_error(c);
		break;
	}
}

static void on_event(uint32_t id)
{
	if (id != VSOCK_EVENT_TRANSPORT_RESET)
		return;
	/* §5.10.6.7: re-read the CID; connections are gone (no RST),
	 * listeners stay. */
	vs_stats.transport_resets++;
	vsd_reread_cid();
	for (unsigned i = 0; i < par.max_conns; i++) {
		struct vs_conn *c = &conns[i];

		if (c->state == VS_CLOSING)
			conn_free(c);
		else if (c->state > VS_LISTEN)
			to_closed(c, true);
	}
}

static void timers(void)
{
	uint64_t now = rdtsc();

	if ((int64_t)(now - next_timer) < 0)
		return;
	next_timer = now + tsc_from_us(TIMER_US);
	for (unsigned i = 0; i < par.max_conns; i++) {
		struct vs_conn *c = &conns[i];

		if ((c->state != VS_CONNECTING && c->state != VS_CLOSING) ||
		    (int64_t)(now - c->deadline) < 0)
			continue;
		if (c->state == VS_CLOSING)
			reset_conn(c);
		/* connect timeouts are vs_connect_wait()'s business */
	}
}

int vs_poll(void)
{
	int r = vsd_poll(on_rx, on_event);

	if (r < 0)
		return -1;
	flush();
	timers();
	vsd_kick();
	return r;
}

/* ---- socket API --------------------------------------------------------- */

struct vs_conn *vs_listen(uint32_t port, uint16_t type)
{
	struct vs_conn *c = conn_alloc();

	if (!c)
		return NULL;
	c->state = VS_LISTEN;
	c->type = type;
	c->lport = port;
	return c;
}

struct vs_conn *vs_accept(struct vs_conn *l)
{
	for (unsigned i = 0; i < par.max_conns; i++) {
		struct vs_conn *c = &conns[i];

		if (c->listener != l || c->accepted || c->state == VS_FREE)
			continue;
		if (c->state == VS_CLOSED) { /* reset before we took it */
			conn_free(c);
			continue;
		}
		c->accepted = true;
		return c;
	}
	return NULL;
}

struct vs_conn *vs_connect(uint32_t port, uint16_t type)
{
	struct vs_conn *c = conn_alloc();

	if (!c)
		return NULL;
	do
		next_port = next_port >= 0x7fffffff ? FIRST_EPHEMERAL : next_port + 1;
	while (port_in_use(next_port));
	c->state = VS_CONNECTING;
	c->type = type;
	c->lport = next_port;
	c->pport = port;
	c->pcid = par.dst_cid;
	c->deadline = deadline_us(CONNECT_TIMEOUT_US);
	owe(c, VSP_REQUEST);
	flush();
	vsd_kick();
	return c;
}

int vs_connect_wait(struct vs_conn *c, uint64_t timeout_us)
{
	uint64_t d = deadline_us(timeout_us);

	while (c->state == VS_CONNECTING) {
		if (vs_poll() < 0)
			return -3;
		if (deadline_passed(d)) {
			reset_conn(c);
			return -2;
		}
	}
	return c->state == VS_ESTABLISHED ? 0 : -1;
}

uint32_t vs_tx_credit(const struct vs_conn *c)
{
	return c->peer_buf_alloc - (c->tx_cnt - c->peer_fwd_cnt);
}

uint32_t vs_rx_avail(const struct vs_conn *c)
{
	return c->rx_cnt - c->fwd_cnt;
}

size_t vs_send_seq(struct vs_conn *c, const void *buf, size_t n, bool end, bool eor)
{
	const uint8_t *p = buf;
	size_t done = 0;

	if (c->pending)
		flush(); /* RESPONSE before any data */
	if (c->state != VS_ESTABLISHED || (c->local_shut & VSOCK_SHUTDOWN_SEND) ||
	    (c->pending & VSP_RESPONSE) || (c->peer_shut & VSOCK_SHUTDOWN_RCV))
		return 0;
	while (done < n) {
		uint32_t credit = vs_tx_credit(c);
		/* A peer that shrinks buf_alloc below what is in flight makes
		 * the difference "negative": no credit, not 4 GiB of it. */
		uint32_t chunk = credit > c->peer_buf_alloc ? 0 : credit;
		uint32_t flags = 0;

		if (chunk > n - done)
			chunk = (uint32_t)(n - done);
		if (chunk > vsd_txpkt())
			chunk = vsd_txpkt();
		if (chunk == 0) {
			uint64_t now = rdtsc();

			if (!c->stall_since) {
				c->stall_since = now;
			} else if (now - c->stall_since > tsc_from_us(STALL_US)) {
				c->stall_since = now;
				vs_stats.credit_requests++;
				owe(c, VSP_CREDIT_REQUEST);
			}
			break;
		}
		if (c->type == VSOCK_TYPE_SEQPACKET && end && done + chunk == n)
			flags = VSOCK_SEQ_EOM | (eor ? VSOCK_SEQ_EOR : 0);
		if (tx_conn(c, VSOCK_OP_RW, flags, p + done, chunk))
			break;
		c->stall_since = 0;
		c->tx_cnt += chunk;
		c->bytes_out += chunk;
		done += chunk;
	}
	vsd_kick();
	return done;
}

size_t vs_send(struct vs_conn *c, const void *buf, size_t n)
{
	return vs_send_seq(c, buf, n, false, false);
}

/* After the application consumed data: tell the peer when it matters. */
static void consumed(struct vs_conn *c, uint32_t n)
{
	uint32_t unannounced, peer_sees_free;

	c->fwd_cnt += n;
	unannounced = c->fwd_cnt - c->fwd_sent;
	peer_sees_free = c->rsize - (c->rx_cnt - c->fwd_sent);
	if (unannounced && (unannounced >= c->rsize / 4 || peer_sees_free < c->rsize / 2 ||
			    c->type == VSOCK_TYPE_SEQPACKET))
		owe(c, VSP_CREDIT_UPDATE);
}

static void rx_take(struct vs_conn *c, uint8_t *d, uint32_t n)
{
	uint32_t off = c->fwd_cnt & (c->rsize - 1);
	uint32_t first = c->rsize - off < n ? c->rsize - off : n;

	if (d) {
		memcpy(d, c->rbuf + off, first);
		memcpy(d + first, c->rbuf, n - first);
	}
}

long vs_recv(struct vs_conn *c, void *buf, size_t n)
{
	uint32_t avail = vs_rx_avail(c);

	if (avail == 0) {
		if (c->state == VS_CLOSED)
			return VS_RESET;
		if (c->peer_shut & VSOCK_SHUTDOWN_SEND)
			return VS_EOF;
		return 0;
	}
	if (n > avail)
		n = avail;
	rx_take(c, buf, (uint32_t)n);
	consumed(c, (uint32_t)n);
	return (long)n;
}

long vs_recv_msg(struct vs_conn *c, void *buf, size_t n, uint32_t *len_full,
		 uint32_t *flags)
{
	uint32_t len;

	if (c->msg_head == c->msg_tail) {
		if (c->state == VS_CLOSED)
			return VS_RESET;
		if (c->peer_shut & VSOCK_SHUTDOWN_SEND)
			return VS_EOF;
		return 0;
	}
	len = c->msg_end[c->msg_head % VS_MSGQ] - c->fwd_cnt;
	*flags = c->msg_flags[c->msg_head % VS_MSGQ];
	c->msg_head++;
	*len_full = len;
	rx_take(c, buf, n < len ? (uint32_t)n : len);
	consumed(c, len);
	return n < len ? (long)n : (long)len;
}

void vs_shutdown(struct vs_conn *c, uint32_t flags)
{
	if (c->state != VS_ESTABLISHED)
		return;
	flags &= VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND;
	if ((c->local_shut | flags) == c->local_shut)
		return;
	c->local_shut |= flags;
	owe(c, VSP_SHUTDOWN);
	flush();
	vsd_kick();
}

void vs_close(struct vs_conn *c)
{
	switch (c->state) {
	case VS_LISTEN:
		for (unsigned i = 0; i < par.max_conns; i++)
			if (conns[i].state != VS_FREE && conns[i].listener == c &&
			    !conns[i].accepted)
				reset_conn(&conns[i]);
		conn_free(c);
		break;
	case VS_CONNECTING:
		reset_conn(c);
		break;
	case VS_ESTABLISHED:
		if (c->peer_shut == (VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND)) {
			/* The peer is done too: finish with RST (Linux). */
			reset_conn(c);
			break;
		}
		c->local_shut = VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND;
		c->state = VS_CLOSING;
		c->deadline = deadline_us(CLOSE_TIMEOUT_US);
		owe(c, VSP_SHUTDOWN);
		break;
	case VS_CLOSED:
		conn_free(c);
		break;
	default:
		break;
	}
	flush();
	vsd_kick();
}

void vs_abort(struct vs_conn *c)
{
	if (c->state == VS_FREE)
		return;
	if (c->state == VS_LISTEN || c->state == VS_CLOSED)
		conn_free(c);
	else
		reset_conn(c);
	flush();
	vsd_kick();
}

void vs_release(struct vs_conn *c)
{
	if (c->state == VS_CLOSED)
		conn_free(c);
}
