// SPDX-License-Identifier: MIT
/*
 * vsock connection state machine and credit accounting: every transition,
 * u32 wrap-around of the counters, overruns, credit updates that keep a
 * Linux guest (which never sends CREDIT_REQUEST) from stalling, timeouts.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "vsock/conn.h"

#define GCID   3u
#define GPORT  1000u
#define HPORT  52u
#define GBUF   (256u * 1024)   /* the guest's buf_alloc */
#define OURBUF (64u * 1024)    /* ours */
#define T0     1000000000ull

static struct vsock_conn c;
static struct vsock_conn_stats st;
static uint32_t g_fwd;                /* the guest's fwd_cnt in its headers */
static uint16_t g_type = VIRTIO_VSOCK_TYPE_STREAM;

static void setup(void)
{
	memset(&c, 0, sizeof(c));
	memset(&st, 0, sizeof(st));
	g_fwd = 0;
	g_type = VIRTIO_VSOCK_TYPE_STREAM;
}

/* A packet from the guest on our flow. */
static struct vsock_hdr gpkt(uint16_t op, uint32_t len, uint32_t flags)
{
	return (struct vsock_hdr){
		.src_cid = GCID, .dst_cid = VSOCK_HOST_CID,
		.src_port = GPORT, .dst_port = HPORT,
		.len = len, .type = g_type, .op = op, .flags = flags,
		.buf_alloc = GBUF, .fwd_cnt = g_fwd,
	};
}

static unsigned guest(uint16_t op, uint32_t len, uint32_t flags)
{
	struct vsock_hdr h = gpkt(op, len, flags);

	return vsock_conn_guest_pkt(&c, &h, T0);
}

static unsigned guest_at(uint16_t op, uint32_t len, uint32_t flags, uint64_t now)
{
	struct vsock_hdr h = gpkt(op, len, flags);

	return vsock_conn_guest_pkt(&c, &h, now);
}

/* Deliver the next control packet; its op, or 0 if none owed. */
static uint16_t send_ctrl(struct vsock_hdr *out)
{
	struct vsock_hdr h;

	if (!vsock_conn_ctrl_peek(&c, &h))
		return 0;
	vsock_conn_sent(&c, &h);
	if (out)
		*out = h;
	return h.op;
}

static void guest_init(void)
{
	struct vsock_hdr req = gpkt(VIRTIO_VSOCK_OP_REQUEST, 0, 0);

	vsock_conn_init_guest(&c, &req, OURBUF, T0, &st);
}

static void established(void)
{
	guest_init();
	ck_assert_uint_eq(vsock_conn_host_connected(&c), VSOCK_EV_CTRL);
	ck_assert_uint_eq(send_ctrl(NULL), VIRTIO_VSOCK_OP_RESPONSE);
	ck_assert_int_eq(c.state, VSOCK_CONN_ESTABLISHED);
}

static void host_init(void)
{
	vsock_conn_init_host(&c, GCID, HPORT, GPORT, VIRTIO_VSOCK_TYPE_STREAM,
			     OURBUF, T0, &st);
}

static void assert_reset(unsigned ev)
{
	ck_assert_uint_eq(ev & (VSOCK_EV_CLOSED | VSOCK_EV_CTRL),
			  VSOCK_EV_CLOSED | VSOCK_EV_CTRL);
	ck_assert_int_eq(c.state, VSOCK_CONN_CLOSED);
	ck_assert_uint_eq(c.ctrl, VSOCK_CTRL_RST);
	ck_assert(!vsock_conn_done(&c));
	ck_assert_uint_eq(vsock_conn_rw_budget(&c), 0);
	ck_assert_uint_eq(send_ctrl(NULL), VIRTIO_VSOCK_OP_RST);
	ck_assert(vsock_conn_done(&c));
	ck_assert_uint_eq(send_ctrl(NULL), 0);
}

static void assert_quiet_close(unsigned ev)
{
	ck_assert_uint_eq(ev, VSOCK_EV_CLOSED);
	ck_assert_int_eq(c.state, VSOCK_CONN_CLOSED);
	ck_assert(vsock_conn_done(&c));
	ck_assert_uint_eq(send_ctrl(NULL), 0);
}

/* ---------------------------------------------------------------- guest-init */

START_TEST(guest_init_state)
{
	guest_init();
	ck_assert_int_eq(c.state, VSOCK_CONN_CONNECTING_GUEST_INIT);
	ck_assert_uint_eq(c.addr.local_cid, VSOCK_HOST_CID);
	ck_assert_uint_eq(c.addr.local_port, HPORT);
	ck_assert_uint_eq(c.addr.peer_cid, GCID);
	ck_assert_uint_eq(c.addr.peer_port, GPORT);
	ck_assert_uint_eq(c.peer_buf_alloc, GBUF);
	ck_assert_uint_eq(vsock_conn_deadline(&c), T0 + VSOCK_CONNECT_TIMEOUT_NS);
	ck_assert_uint_eq(c.ctrl, 0);
	ck_assert_uint_eq(vsock_conn_rw_budget(&c), 0);
	ck_assert_uint_eq(vsock_conn_rx_room(&c), OURBUF);
}
END_TEST

START_TEST(guest_init_connected_sends_response_first)
{
	struct vsock_hdr h;

	guest_init();
	ck_assert_uint_eq(vsock_conn_host_connected(&c), VSOCK_EV_CTRL);
	ck_assert_int_eq(c.state, VSOCK_CONN_ESTABLISHED);
	ck_assert_uint_eq(vsock_conn_deadline(&c), 0);
	/* No data before the RESPONSE has left. */
	ck_assert_uint_eq(vsock_conn_rw_budget(&c), 0);
	ck_assert_uint_eq(send_ctrl(&h), VIRTIO_VSOCK_OP_RESPONSE);
	ck_assert_uint_eq(h.src_cid, VSOCK_HOST_CID);
	ck_assert_uint_eq(h.dst_cid, GCID);
	ck_assert_uint_eq(h.src_port, HPORT);
	ck_assert_uint_eq(h.dst_port, GPORT);
	ck_assert_uint_eq(h.buf_alloc, OURBUF); /* never 0: Linux would stall */
	ck_assert_uint_eq(h.type, VIRTIO_VSOCK_TYPE_STREAM);
	ck_assert_uint_eq(vsock_conn_rw_budget(&c), GBUF);
	/* A second connect notification changes nothing. */
	ck_assert_uint_eq(vsock_conn_host_connected(&c), 0);
	ck_assert_uint_eq(vsock_conn_host_connect_failed(&c), 0);
}
END_TEST

START_TEST(guest_init_connect_failed_rst)
{
	guest_init();
	assert_reset(vsock_conn_host_connect_failed(&c));
}
END_TEST

START_TEST(guest_init_connect_timeout)
{
	guest_init();
	ck_assert_uint_eq(vsock_conn_timer(&c, T0 + VSOCK_CONNECT_TIMEOUT_NS - 1), 0);
	ck_assert_int_eq(c.state, VSOCK_CONN_CONNECTING_GUEST_INIT);
	assert_reset(vsock_conn_timer(&c, T0 + VSOCK_CONNECT_TIMEOUT_NS));
	ck_assert_uint_eq(st.connect_timeout, 1);
}
END_TEST

START_TEST(guest_init_guest_rst)
{
	guest_init();
	assert_quiet_close(guest(VIRTIO_VSOCK_OP_RST, 0, 0));
}
END_TEST

START_TEST(guest_init_credit_update_ok)
{
	guest_init();
	g_fwd = 100;
	guest(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 0);
	ck_assert_int_eq(c.state, VSOCK_CONN_CONNECTING_GUEST_INIT);
	ck_assert_uint_eq(c.peer_fwd_cnt, 100);
	ck_assert_uint_eq(guest(VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, 0), 0);
	ck_assert_uint_eq(c.ctrl, 0); /* the RESPONSE will carry our credit */
}
END_TEST

START_TEST(guest_init_other_ops_rst)
{
	static const uint16_t ops[] = { VIRTIO_VSOCK_OP_RW, VIRTIO_VSOCK_OP_SHUTDOWN,
					VIRTIO_VSOCK_OP_REQUEST, VIRTIO_VSOCK_OP_RESPONSE };

	for (unsigned i = 0; i < 4; i++) {
		setup();
		guest_init();
		assert_reset(guest(ops[i], 0, 0));
		ck_assert_uint_eq(st.proto_err, 1);
	}
}
END_TEST

/* ----------------------------------------------------------------- host-init */

START_TEST(host_init_sends_request)
{
	struct vsock_hdr h;

	host_init();
	ck_assert_int_eq(c.state, VSOCK_CONN_CONNECTING_HOST_INIT);
	ck_assert_uint_eq(vsock_conn_deadline(&c), T0 + VSOCK_CONNECT_TIMEOUT_NS);
	ck_assert_uint_eq(vsock_conn_rw_budget(&c), 0);
	ck_assert_uint_eq(send_ctrl(&h), VIRTIO_VSOCK_OP_REQUEST);
	ck_assert_uint_eq(h.src_port, HPORT);
	ck_assert_uint_eq(h.dst_port, GPORT);
	ck_assert_uint_eq(h.dst_cid, GCID);
	ck_assert_uint_eq(h.buf_alloc, OURBUF);
	ck_assert_uint_eq(send_ctrl(NULL), 0);
}
END_TEST

START_TEST(host_init_response_establishes)
{
	host_init();
	send_ctrl(NULL);
	ck_assert_uint_eq(vsock_conn_peer_free(&c), 0);
	ck_assert_uint_eq(guest(VIRTIO_VSOCK_OP_RESPONSE, 0, 0),
			  VSOCK_EV_CONNECTED | VSOCK_EV_CREDIT);
	ck_assert_int_eq(c.state, VSOCK_CONN_ESTABLISHED);
	ck_assert_uint_eq(vsock_conn_deadline(&c), 0);
	ck_assert_uint_eq(c.peer_buf_alloc, GBUF);
	ck_assert_uint_eq(c.ctrl, 0);
	ck_assert_uint_eq(vsock_conn_rw_budget(&c), GBUF);
}
END_TEST

START_TEST(host_init_response_before_request_rst)
{
	host_init();
	assert_reset(guest(VIRTIO_VSOCK_OP_RESPONSE, 0, 0));
	ck_assert_uint_eq(st.proto_err, 1);
}
END_TEST

START_TEST(host_init_guest_rst)
{
	host_init();
	send_ctrl(NULL);
	assert_quiet_close(guest(VIRTIO_VSOCK_OP_RST, 0, 0));
}
END_TEST

START_TEST(host_init_other_ops_rst)
{
	static const uint16_t ops[] = { VIRTIO_VSOCK_OP_RW, VIRTIO_VSOCK_OP_SHUTDOWN,
					VIRTIO_VSOCK_OP_REQUEST,
					VIRTIO_VSOCK_OP_CREDIT_REQUEST };

	for (unsigned i = 0; i < 4; i++) {
		setup();
		host_init();
		send_ctrl(NULL);
		assert_reset(guest(ops[i], 0, 0));
		ck_assert_uint_eq(st.proto_err, 1);
	}
	setup();
	host_init();
	send_ctrl(NULL);
	ck_assert_uint_eq(guest(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 0), VSOCK_EV_CREDIT);
	ck_assert_int_eq(c.state, VSOCK_CONN_CONNECTING_HOST_INIT);
}
END_TEST

START_TEST(host_init_timeout)
{
	/* REQUEST never left (no rx buffers): the guest never knew. */
	host_init();
	assert_quiet_close(vsock_conn_timer(&c, T0 + VSOCK_CONNECT_TIMEOUT_NS));
	ck_assert_uint_eq(st.connect_timeout, 1);
	/* REQUEST sent, no answer: RST. */
	host_init();
	send_ctrl(NULL);
	ck_assert_uint_eq(vsock_conn_timer(&c, T0 + VSOCK_CONNECT_TIMEOUT_NS - 1), 0);
	assert_reset(vsock_conn_timer(&c, T0 + VSOCK_CONNECT_TIMEOUT_NS));
	ck_assert_uint_eq(st.connect_timeout, 2);
}
END_TEST

START_TEST(host_init_host_gone)
{
	host_init();
	assert_quiet_close(vsock_conn_host_closed(&c, T0));
	host_init();
	assert_quiet_close(vsock_conn_host_error(&c));
	host_init();
	send_ctrl(NULL);
	assert_reset(vsock_conn_host_closed(&c, T0));
	host_init();
	send_ctrl(NULL);
	assert_reset(vsock_conn_host_error(&c));
}
END_TEST

/* --------------------------------------------------------------- established */

START_TEST(rw_within_credit_forwards)
{
	established();
	ck_assert_uint_eq(guest(VIRTIO_VSOCK_OP_RW, 1000, 0), VSOCK_EV_FORWARD);
	ck_assert_uint_eq(c.rx_cnt, 1000);
	ck_assert_uint_eq(vsock_conn_unforwarded(&c), 1000);
	ck_assert_uint_eq(vsock_conn_rx_room(&c), OURBUF - 1000);
	ck_assert(!vsock_conn_drained(&c));
	vsock_conn_host_forwarded(&c, 1000);
	ck_assert(vsock_conn_drained(&c));
	ck_assert_uint_eq(vsock_conn_rx_room(&c), OURBUF);
}
END_TEST

START_TEST(rw_overrun_rst)
{
	established();
	ck_assert_uint_eq(guest(VIRTIO_VSOCK_OP_RW, OURBUF - 10, 0), VSOCK_EV_FORWARD);
	ck_assert_uint_eq(guest(VIRTIO_VSOCK_OP_RW, 10, 0), VSOCK_EV_FORWARD);
	ck_assert_uint_eq(vsock_conn_rx_room(&c), 0);
	ck_assert_uint_eq(guest(VIRTIO_VSOCK_OP_RW, 0, 0), VSOCK_EV_FORWARD);
	assert_reset(guest(VIRTIO_VSOCK_OP_RW, 1, 0));
	ck_assert_uint_eq(st.credit_overrun, 1);
}
END_TEST

START_TEST(rw_overrun_single_packet)
{
	established();
	guest(VIRTIO_VSOCK_OP_RW, 100, 0);
	vsock_conn_host_forwarded(&c, 40);
	ck_assert_uint_eq(vsock_conn_rx_room(&c), OURBUF - 60);
	assert_reset(guest(VIRTIO_VSOCK_OP_RW, OURBUF - 59, 0));
	ck_assert_uint_eq(st.credit_overrun, 1);
}
END_TEST

START_TEST(rx_credit_wraps_u32)
{
	established();
	/* Counters just below 2^32: they wrap in the middle of the flow. */
	c.rx_cnt = c.fwd_cnt = c.fwd_cnt_sent = 0xffffff00u;
	ck_assert_uint_eq(guest(VIRTIO_VSOCK_OP_RW, 0x300, 0), VSOCK_EV_FORWARD);
	ck_assert_uint_eq(c.rx_cnt, 0x200);
	ck_assert_uint_eq(vsock_conn_unforwarded(&c), 0x300);
	ck_assert_uint_eq(vsock_conn_rx_room(&c), OURBUF - 0x300);
	vsock_conn_host_forwarded(&c, 0x300);
	ck_assert_uint_eq(c.fwd_cnt, 0x200);
	ck_assert(vsock_conn_drained(&c));
	/* The limit still holds after the wrap. */
	ck_assert_uint_eq(guest(VIRTIO_VSOCK_OP_RW, OURBUF, 0) & VSOCK_EV_FORWARD,
			  VSOCK_EV_FORWARD);
	assert_reset(guest(VIRTIO_VSOCK_OP_RW, 1, 0));
	ck_assert_uint_eq(st.credit_overrun, 1);
}
END_TEST

START_TEST(peer_free_wraps_u32)
{
	established();
	c.tx_cnt = 0xfffffff0u;
	g_fwd = 0xfffffff0u;
	guest(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 0);
	ck_assert_uint_eq(vsock_conn_peer_free(&c), GBUF);
	c.tx_cnt = 0x100; /* sent 0x110 bytes across the wrap */
	ck_assert_uint_eq(vsock_conn_peer_free(&c), GBUF - 0x110);
	g_fwd = 0x50;
	ck_assert_uint_eq(guest(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 0), VSOCK_EV_CREDIT);
	ck_assert_uint_eq(vsock_conn_peer_free(&c), GBUF - 0xb0);
	ck_assert_uint_eq(vsock_conn_rw_budget(&c), GBUF - 0xb0);
}
END_TEST

START_TEST(peer_free_never_trusts_bogus_credit)
{
	established();
	c.tx_cnt = 1000;
	/* Guest claims to have consumed more than we sent. */
	g_fwd = 2000;
	guest(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 0);
	ck_assert_uint_eq(vsock_conn_peer_free(&c), 0);
	/* Guest shrank its buffer below what is in flight. */
	g_fwd = 0;
	{
		struct vsock_hdr h = gpkt(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 0);

		h.buf_alloc = 500;
		vsock_conn_guest_pkt(&c, &h, T0);
	}
	ck_assert_uint_eq(vsock_conn_peer_free(&c), 0);
	ck_assert_uint_eq(vsock_conn_rw_budget(&c), 0);
}
END_TEST

START_TEST(rw_sent_consumes_peer_credit)
{
	struct vsock_hdr h;

	established();
	vsock_conn_build_rw(&c, &h, 4000, VIRTIO_VSOCK_SEQ_EOM);
	ck_assert_uint_eq(h.op, VIRTIO_VSOCK_OP_RW);
	ck_assert_uint_eq(h.len, 4000);
	ck_assert_uint_eq(h.flags, 0); /* stream: no flags */
	ck_assert_uint_eq(h.buf_alloc, OURBUF);
	vsock_conn_sent(&c, &h);
	ck_assert_uint_eq(c.tx_cnt, 4000);
	ck_assert_uint_eq(vsock_conn_rw_budget(&c), GBUF - 4000);
	/* The guest reports consumption: budget back, EV_CREDIT. */
	g_fwd = 4000;
	ck_assert_uint_eq(guest(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 0), VSOCK_EV_CREDIT);
	ck_assert_uint_eq(vsock_conn_rw_budget(&c), GBUF);
	ck_assert_uint_eq(guest(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 0), 0);
}
END_TEST

START_TEST(credit_request_gets_credit_update)
{
	struct vsock_hdr h;

	established();
	ck_assert_uint_eq(guest(VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, 0), VSOCK_EV_CTRL);
	/* An RW carrying the current credit does not stand in for the
	 * requested CREDIT_UPDATE. */
	vsock_conn_build_rw(&c, &h, 10, 0);
	vsock_conn_sent(&c, &h);
	ck_assert_uint_eq(send_ctrl(&h), VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	ck_assert_uint_eq(h.buf_alloc, OURBUF);
	ck_assert_uint_eq(h.fwd_cnt, 0);
	ck_assert_uint_eq(send_ctrl(NULL), 0);
	/* Coalesced: two requests, one update. */
	guest(VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, 0);
	guest(VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, 0);
	ck_assert_uint_eq(send_ctrl(NULL), VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	ck_assert_uint_eq(send_ctrl(NULL), 0);
}
END_TEST

START_TEST(credit_update_when_half_unannounced)
{
	struct vsock_hdr h;

	established();
	guest(VIRTIO_VSOCK_OP_RW, OURBUF / 4, 0);
	ck_assert_uint_eq(vsock_conn_host_forwarded(&c, OURBUF / 4), 0);
	guest(VIRTIO_VSOCK_OP_RW, OURBUF / 4, 0);
	ck_assert_uint_eq(vsock_conn_host_forwarded(&c, OURBUF / 4), VSOCK_EV_CTRL);
	ck_assert_uint_eq(send_ctrl(&h), VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	ck_assert_uint_eq(h.fwd_cnt, OURBUF / 2);
	ck_assert_uint_eq(c.fwd_cnt_sent, OURBUF / 2);
}
END_TEST

START_TEST(credit_update_when_guest_view_low)
{
	established();
	/* The guest filled almost everything; the host is slow. */
	guest(VIRTIO_VSOCK_OP_RW, OURBUF - 100, 0);
	ck_assert_uint_eq(vsock_conn_host_forwarded(&c, 0), 0); /* nothing to tell */
	ck_assert_uint_eq(vsock_conn_host_forwarded(&c, 1), VSOCK_EV_CTRL);
	ck_assert_uint_eq(c.ctrl, VSOCK_CTRL_CREDIT_UPDATE);
	/* Already pending: no second event. */
	ck_assert_uint_eq(vsock_conn_host_forwarded(&c, 1), 0);
}
END_TEST

START_TEST(any_header_carries_unrequested_update)
{
	struct vsock_hdr h;

	established();
	guest(VIRTIO_VSOCK_OP_RW, OURBUF - 100, 0);
	vsock_conn_host_forwarded(&c, OURBUF - 100);
	ck_assert_uint_eq(c.ctrl, VSOCK_CTRL_CREDIT_UPDATE);
	vsock_conn_build_rw(&c, &h, 10, 0);
	vsock_conn_sent(&c, &h);
	ck_assert_uint_eq(c.ctrl, 0);
	ck_assert_uint_eq(c.fwd_cnt_sent, OURBUF - 100);
}
END_TEST

/* A guest that only sends what it believes we can take, against a host
 * that drains at varying speed: the guest must never be stuck at zero
 * credit while we have unannounced space and no update queued. */
START_TEST(guest_never_stalls)
{
	uint32_t seed = 12345, wrong = 0;
	uint64_t sent = 0;

	established();
	c.rx_cnt = c.fwd_cnt = c.fwd_cnt_sent = 0xfff00000u; /* wrap too */
	for (int i = 0; i < 200000; i++) {
		uint32_t seen_free = OURBUF - (c.rx_cnt - c.fwd_cnt_sent);
		uint32_t r, n;

		seed = seed * 1103515245u + 12345u;
		r = seed >> 8;
		switch (r % 3) {
		case 0: /* guest sends */
			n = r % (VSOCK_MAX_PKT_LEN + 1);
			if (n > seen_free)
				n = seen_free;
			wrong += !(guest(VIRTIO_VSOCK_OP_RW, n, 0) & VSOCK_EV_FORWARD);
			sent += n;
			break;
		case 1: /* host drains some */
			n = r % 9000;
			if (n > vsock_conn_unforwarded(&c))
				n = vsock_conn_unforwarded(&c);
			vsock_conn_host_forwarded(&c, n);
			break;
		default: /* an rx buffer is free */
			send_ctrl(NULL);
			break;
		}
		seen_free = OURBUF - (c.rx_cnt - c.fwd_cnt_sent);
		/* Stuck: no credit in the guest's view, space freed but
		 * no update on its way. */
		if (seen_free == 0 && c.fwd_cnt != c.fwd_cnt_sent)
			wrong += !(c.ctrl & VSOCK_CTRL_CREDIT_UPDATE);
	}
	ck_assert_uint_eq(wrong, 0);
	ck_assert_int_eq(c.state, VSOCK_CONN_ESTABLISHED);
	ck_assert_uint_eq(st.credit_overrun, 0);
	ck_assert_uint_gt(sent, 100u * OURBUF);
}
END_TEST

START_TEST(guest_shutdown_send_half_close)
{
	established();
	ck_assert_uint_eq(guest(VIRTIO_VSOCK_OP_SHUTDOWN, 0, VIRTIO_VSOCK_SHUTDOWN_SEND),
			  VSOCK_EV_SHUT_WR);
	ck_assert_int_eq(c.state, VSOCK_CONN_ESTABLISHED);
	/* Sticky: a SHUTDOWN without flags does not undo it. */
	ck_assert_uint_eq(guest(VIRTIO_VSOCK_OP_SHUTDOWN, 0, 0), 0);
	ck_assert_uint_eq(c.peer_shut, VIRTIO_VSOCK_SHUTDOWN_SEND);
	/* Host → guest keeps flowing. */
	ck_assert_uint_eq(vsock_conn_rw_budget(&c), GBUF);
	/* The guest promised no more data. */
	assert_reset(guest(VIRTIO_VSOCK_OP_RW, 1, 0));
	ck_assert_uint_eq(st.proto_err, 1);
}
END_TEST

START_TEST(guest_shutdown_rcv)
{
	established();
	ck_assert_uint_eq(guest(VIRTIO_VSOCK_OP_SHUTDOWN, 0, VIRTIO_VSOCK_SHUTDOWN_RCV),
			  VSOCK_EV_SHUT_RD);
	ck_assert_uint_eq(vsock_conn_rw_budget(&c), 0);
	/* Guest → host still flows. */
	ck_assert_uint_eq(guest(VIRTIO_VSOCK_OP_RW, 10, 0), VSOCK_EV_FORWARD);
}
END_TEST

START_TEST(guest_shutdown_both_drained_rst)
{
	unsigned ev;

	established();
	ev = guest(VIRTIO_VSOCK_OP_SHUTDOWN, 0,
		   VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	ck_assert_uint_eq(ev & (VSOCK_EV_SHUT_WR | VSOCK_EV_SHUT_RD),
			  VSOCK_EV_SHUT_WR | VSOCK_EV_SHUT_RD);
	assert_reset(ev);
	ck_assert_uint_eq(st.proto_err, 0);
}
END_TEST

START_TEST(guest_shutdown_both_in_two_steps)
{
	established();
	guest(VIRTIO_VSOCK_OP_SHUTDOWN, 0, VIRTIO_VSOCK_SHUTDOWN_RCV);
	assert_reset(guest(VIRTIO_VSOCK_OP_SHUTDOWN, 0, VIRTIO_VSOCK_SHUTDOWN_SEND));
}
END_TEST

START_TEST(guest_shutdown_both_flushes_first)
{
	unsigned ev;

	established();
	guest(VIRTIO_VSOCK_OP_RW, 1000, 0);
	ev = guest_at(VIRTIO_VSOCK_OP_SHUTDOWN, 0,
		      VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND, T0 + 5);
	ck_assert_uint_eq(ev & VSOCK_EV_CLOSED, 0);
	ck_assert_int_eq(c.state, VSOCK_CONN_CLOSING);
	ck_assert_uint_eq(vsock_conn_deadline(&c), T0 + 5 + VSOCK_CLOSE_TIMEOUT_NS);
	ck_assert_uint_eq(vsock_conn_rw_budget(&c), 0);
	/* No credit updates while closing. */
	ck_assert_uint_eq(vsock_conn_host_forwarded(&c, 600), 0);
	ck_assert_uint_eq(c.ctrl, 0);
	/* More data now is dropped, not forwarded. */
	ck_assert_uint_eq(guest(VIRTIO_VSOCK_OP_RW, 7, 0), 0);
	ck_assert_uint_eq(st.rw_dropped, 7);
	assert_reset(vsock_conn_host_forwarded(&c, 400));
}
END_TEST

START_TEST(closing_flush_timeout)
{
	established();
	guest(VIRTIO_VSOCK_OP_RW, 1000, 0);
	guest(VIRTIO_VSOCK_OP_SHUTDOWN, 0, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	ck_assert_uint_eq(vsock_conn_timer(&c, T0 + VSOCK_CLOSE_TIMEOUT_NS - 1), 0);
	assert_reset(vsock_conn_timer(&c, T0 + VSOCK_CLOSE_TIMEOUT_NS));
	ck_assert_uint_eq(st.close_timeout, 1);
}
END_TEST

START_TEST(closing_flush_host_gone)
{
	established();
	guest(VIRTIO_VSOCK_OP_RW, 1000, 0);
	guest(VIRTIO_VSOCK_OP_SHUTDOWN, 0, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	assert_reset(vsock_conn_host_closed(&c, T0));
}
END_TEST

START_TEST(host_eof_half_close)
{
	struct vsock_hdr h;

	established();
	ck_assert_uint_eq(vsock_conn_host_eof(&c), VSOCK_EV_CTRL);
	ck_assert_uint_eq(vsock_conn_rw_budget(&c), 0);
	ck_assert_uint_eq(send_ctrl(&h), VIRTIO_VSOCK_OP_SHUTDOWN);
	ck_assert_uint_eq(h.flags, VIRTIO_VSOCK_SHUTDOWN_SEND);
	ck_assert_uint_eq(h.buf_alloc, OURBUF);
	ck_assert_uint_eq(vsock_conn_host_eof(&c), 0);
	ck_assert_uint_eq(send_ctrl(NULL), 0);
	/* The guest keeps sending to the host. */
	ck_assert_uint_eq(guest(VIRTIO_VSOCK_OP_RW, 500, 0), VSOCK_EV_FORWARD);
	vsock_conn_host_forwarded(&c, 500);
	ck_assert_int_eq(c.state, VSOCK_CONN_ESTABLISHED);
	/* Then closes: we answer RST. */
	assert_reset(guest(VIRTIO_VSOCK_OP_SHUTDOWN, 0,
			   VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND));
}
END_TEST

START_TEST(host_closed_waits_for_guest_rst)
{
	struct vsock_hdr h;

	established();
	ck_assert_uint_eq(vsock_conn_host_closed(&c, T0 + 7), VSOCK_EV_CTRL);
	ck_assert_int_eq(c.state, VSOCK_CONN_CLOSING);
	ck_assert_uint_eq(vsock_conn_deadline(&c), T0 + 7 + VSOCK_CLOSE_TIMEOUT_NS);
	ck_assert_uint_eq(vsock_conn_rw_budget(&c), 0);
	ck_assert_uint_eq(send_ctrl(&h), VIRTIO_VSOCK_OP_SHUTDOWN);
	ck_assert_uint_eq(h.flags, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	/* In-flight guest data has nowhere to go. */
	ck_assert_uint_eq(guest(VIRTIO_VSOCK_OP_RW, 33, 0), 0);
	ck_assert_uint_eq(st.rw_dropped, 33);
	ck_assert_uint_eq(guest(VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, 0), 0);
	ck_assert_uint_eq(vsock_conn_host_closed(&c, T0), 0);
	ck_assert_uint_eq(vsock_conn_host_eof(&c), 0);
	assert_quiet_close(guest(VIRTIO_VSOCK_OP_RST, 0, 0));
}
END_TEST

START_TEST(host_closed_guest_shutdown_answers_rst)
{
	established();
	vsock_conn_host_closed(&c, T0);
	send_ctrl(NULL);
	assert_reset(guest(VIRTIO_VSOCK_OP_SHUTDOWN, 0,
			   VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND));
}
END_TEST

START_TEST(host_closed_timeout)
{
	established();
	vsock_conn_host_closed(&c, T0);
	send_ctrl(NULL);
	assert_reset(vsock_conn_timer(&c, T0 + VSOCK_CLOSE_TIMEOUT_NS));
	ck_assert_uint_eq(st.close_timeout, 1);
}
END_TEST

START_TEST(host_closed_after_guest_shut_send)
{
	established();
	guest(VIRTIO_VSOCK_OP_SHUTDOWN, 0, VIRTIO_VSOCK_SHUTDOWN_SEND);
	vsock_conn_host_closed(&c, T0);
	ck_assert_int_eq(c.state, VSOCK_CONN_CLOSING);
	ck_assert_uint_eq(send_ctrl(NULL), VIRTIO_VSOCK_OP_SHUTDOWN);
	assert_reset(guest(VIRTIO_VSOCK_OP_SHUTDOWN, 0, VIRTIO_VSOCK_SHUTDOWN_RCV));
}
END_TEST

START_TEST(shutdown_flags_grow_before_sent)
{
	struct vsock_hdr h;

	established();
	vsock_conn_host_eof(&c);
	ck_assert(vsock_conn_ctrl_peek(&c, &h));
	ck_assert_uint_eq(h.flags, VIRTIO_VSOCK_SHUTDOWN_SEND);
	vsock_conn_host_closed(&c, T0);
	/* The stale SEND-only header went out: RCV is still owed. */
	vsock_conn_sent(&c, &h);
	ck_assert_uint_eq(send_ctrl(&h), VIRTIO_VSOCK_OP_SHUTDOWN);
	ck_assert_uint_eq(h.flags, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	ck_assert_uint_eq(send_ctrl(NULL), 0);
}
END_TEST

START_TEST(host_error_rst)
{
	established();
	assert_reset(vsock_conn_host_error(&c));
	ck_assert_uint_eq(vsock_conn_host_error(&c), 0);
}
END_TEST

START_TEST(guest_rst_established)
{
	established();
	guest(VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, 0);
	assert_quiet_close(guest(VIRTIO_VSOCK_OP_RST, 0, 0));
}
END_TEST

START_TEST(type_mismatch_rst)
{
	established();
	g_type = VIRTIO_VSOCK_TYPE_SEQPACKET;
	assert_reset(guest(VIRTIO_VSOCK_OP_RW, 1, 0));
	ck_assert_uint_eq(st.proto_err, 1);
}
END_TEST

START_TEST(stray_handshake_ops_ignored)
{
	established();
	ck_assert_uint_eq(guest(VIRTIO_VSOCK_OP_REQUEST, 0, 0), 0);
	ck_assert_uint_eq(guest(VIRTIO_VSOCK_OP_RESPONSE, 0, 0), 0);
	ck_assert_uint_eq(st.ignored, 2);
	ck_assert_int_eq(c.state, VSOCK_CONN_ESTABLISHED);
}
END_TEST

START_TEST(closed_ignores_everything)
{
	established();
	vsock_conn_host_error(&c);
	ck_assert_uint_eq(guest(VIRTIO_VSOCK_OP_RW, 5, 0), 0);
	ck_assert_uint_eq(guest(VIRTIO_VSOCK_OP_RST, 0, 0), 0);
	ck_assert_uint_eq(vsock_conn_host_connected(&c), 0);
	ck_assert_uint_eq(vsock_conn_host_eof(&c), 0);
	ck_assert_uint_eq(vsock_conn_host_closed(&c, T0), 0);
	ck_assert_uint_eq(vsock_conn_host_error(&c), 0);
	ck_assert_uint_eq(vsock_conn_timer(&c, ~0ull), 0);
	ck_assert_uint_eq(c.ctrl, VSOCK_CTRL_RST); /* still owed */
	ck_assert_uint_eq(st.ignored, 2);
}
END_TEST

START_TEST(ctrl_priority_order)
{
	struct vsock_hdr h;

	guest_init();
	vsock_conn_host_connected(&c);
	vsock_conn_host_eof(&c);
	c.ctrl |= VSOCK_CTRL_CREDIT_UPDATE;
	ck_assert_uint_eq(send_ctrl(&h), VIRTIO_VSOCK_OP_RESPONSE);
	ck_assert_uint_eq(send_ctrl(&h), VIRTIO_VSOCK_OP_SHUTDOWN);
	/* The SHUTDOWN carried the current fwd_cnt: the update is moot. */
	ck_assert_uint_eq(send_ctrl(&h), 0);
	/* RST supersedes everything owed. */
	c.ctrl |= VSOCK_CTRL_CREDIT_UPDATE | VSOCK_CTRL_SHUTDOWN;
	vsock_conn_host_error(&c);
	ck_assert_uint_eq(send_ctrl(&h), VIRTIO_VSOCK_OP_RST);
	ck_assert_uint_eq(send_ctrl(&h), 0);
}
END_TEST

START_TEST(seqpacket_flags_kept)
{
	struct vsock_hdr h;

	g_type = VIRTIO_VSOCK_TYPE_SEQPACKET;
	established();
	ck_assert_uint_eq(c.type, VIRTIO_VSOCK_TYPE_SEQPACKET);
	/* An empty message is still a message. */
	ck_assert_uint_eq(guest(VIRTIO_VSOCK_OP_RW, 0, VIRTIO_VSOCK_SEQ_EOM), VSOCK_EV_FORWARD);
	vsock_conn_build_rw(&c, &h, 100, VIRTIO_VSOCK_SEQ_EOM | VIRTIO_VSOCK_SEQ_EOR);
	ck_assert_uint_eq(h.type, VIRTIO_VSOCK_TYPE_SEQPACKET);
	ck_assert_uint_eq(h.flags, VIRTIO_VSOCK_SEQ_EOM | VIRTIO_VSOCK_SEQ_EOR);
	vsock_conn_build_rw(&c, &h, 100, 0);
	ck_assert_uint_eq(h.flags, 0);
}
END_TEST

START_TEST(host_forwarded_clamped)
{
	established();
	guest(VIRTIO_VSOCK_OP_RW, 10, 0);
	vsock_conn_host_forwarded(&c, 1000);
	ck_assert_uint_eq(c.fwd_cnt, 10);
	ck_assert(vsock_conn_drained(&c));
}
END_TEST

START_TEST(no_stats_is_fine)
{
	struct vsock_hdr req = gpkt(VIRTIO_VSOCK_OP_REQUEST, 0, 0);

	vsock_conn_init_guest(&c, &req, OURBUF, T0, NULL);
	vsock_conn_host_connected(&c);
	send_ctrl(NULL);
	ck_assert_uint_eq(guest(VIRTIO_VSOCK_OP_RW, OURBUF + 1, 0) & VSOCK_EV_CLOSED,
			  VSOCK_EV_CLOSED);
}
END_TEST

static Suite *conn_suite(void)
{
	Suite *s = suite_create("vsock_conn");
	TCase *tc;

	tc = tcase_create("guest_init");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, guest_init_state);
	tcase_add_test(tc, guest_init_connected_sends_response_first);
	tcase_add_test(tc, guest_init_connect_failed_rst);
	tcase_add_test(tc, guest_init_connect_timeout);
	tcase_add_test(tc, guest_init_guest_rst);
	tcase_add_test(tc, guest_init_credit_update_ok);
	tcase_add_test(tc, guest_init_other_ops_rst);
	suite_add_tcase(s, tc);

	tc = tcase_create("host_init");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, host_init_sends_request);
	tcase_add_test(tc, host_init_response_establishes);
	tcase_add_test(tc, host_init_response_before_request_rst);
	tcase_add_test(tc, host_init_guest_rst);
	tcase_add_test(tc, host_init_other_ops_rst);
	tcase_add_test(tc, host_init_timeout);
	tcase_add_test(tc, host_init_host_gone);
	suite_add_tcase(s, tc);

	tc = tcase_create("credit");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, rw_within_credit_forwards);
	tcase_add_test(tc, rw_overrun_rst);
	tcase_add_test(tc, rw_overrun_single_packet);
	tcase_add_test(tc, rx_credit_wraps_u32);
	tcase_add_test(tc, peer_free_wraps_u32);
	tcase_add_test(tc, peer_free_never_trusts_bogus_credit);
	tcase_add_test(tc, rw_sent_consumes_peer_credit);
	tcase_add_test(tc, credit_request_gets_credit_update);
	tcase_add_test(tc, credit_update_when_half_unannounced);
	tcase_add_test(tc, credit_update_when_guest_view_low);
	tcase_add_test(tc, any_header_carries_unrequested_update);
	tcase_add_test(tc, guest_never_stalls);
	tcase_add_test(tc, host_forwarded_clamped);
	suite_add_tcase(s, tc);

	tc = tcase_create("close");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, guest_shutdown_send_half_close);
	tcase_add_test(tc, guest_shutdown_rcv);
	tcase_add_test(tc, guest_shutdown_both_drained_rst);
	tcase_add_test(tc, guest_shutdown_both_in_two_steps);
	tcase_add_test(tc, guest_shutdown_both_flushes_first);
	tcase_add_test(tc, closing_flush_timeout);
	tcase_add_test(tc, closing_flush_host_gone);
	tcase_add_test(tc, host_eof_half_close);
	tcase_add_test(tc, host_closed_waits_for_guest_rst);
	tcase_add_test(tc, host_closed_guest_shutdown_answers_rst);
	tcase_add_test(tc, host_closed_timeout);
	tcase_add_test(tc, host_closed_after_guest_shut_send);
	tcase_add_test(tc, shutdown_flags_grow_before_sent);
	tcase_add_test(tc, host_error_rst);
	tcase_add_test(tc, guest_rst_established);
	suite_add_tcase(s, tc);

	tc = tcase_create("misc");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, type_mismatch_rst);
	tcase_add_test(tc, stray_handshake_ops_ignored);
	tcase_add_test(tc, closed_ignores_everything);
	tcase_add_test(tc, ctrl_priority_order);
	tcase_add_test(tc, seqpacket_flags_kept);
	tcase_add_test(tc, no_stats_is_fine);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(conn_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
