/* SPDX-License-Identifier: MIT */
/*
 * One vsock connection between a guest socket and a host socket: the state
 * machine, the credit accounting in both directions and the control packets
 * it owes the guest.  Pure logic: no sockets, no virtqueues, no clock (every
 * call that needs time takes `now`, monotonic nanoseconds), so it is easy to
 * test.  The device drives it with three kinds of input:
 *
 *   guest packets   vsock_conn_guest_pkt()   (already validated by packet.c
 *                                             and routed by port pair)
 *   host events     vsock_conn_host_*()      (connect done/failed, EOF, gone,
 *                                             bytes written to the host)
 *   time            vsock_conn_timer()       (connect / close timeouts)
 *
 * Each returns a mask of VSOCK_EV_* telling the device what to do next.
 * Output toward the guest is pulled: when an rx buffer is free the device
 * asks vsock_conn_ctrl_peek() for a pending control packet (then data within
 * vsock_conn_rw_budget()), writes it and reports it with vsock_conn_sent().
 *
 * Credit (virtio 1.2, 5.10.6.3), all u32 and wrapping:
 *   guest → host  we advertise buf_alloc; rx_cnt counts payload accepted from
 *                 the guest, fwd_cnt the part written to the host socket;
 *                 rx_cnt - fwd_cnt (<= buf_alloc) waits in the device's
 *                 per-connection buffer.  A guest RW beyond
 *                 buf_alloc - (rx_cnt - fwd_cnt) is an overrun: RST.
 *   host → guest  peer_free = peer_buf_alloc - (tx_cnt - peer_fwd_cnt); we
 *                 never send more.
 *
 * Not thread safe: the device serialises calls (device lock).
 */
#ifndef VSOCK_CONN_H
#define VSOCK_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "vsock/packet.h"

#define VSOCK_NSEC_PER_SEC        1000000000ull
/* Defaults that match Linux's own (virtio_transport_common.c, af_vsock.c). */
#define VSOCK_CONN_BUF_ALLOC      (256u * 1024)
#define VSOCK_CONNECT_TIMEOUT_NS  (2 * VSOCK_NSEC_PER_SEC)
#define VSOCK_CLOSE_TIMEOUT_NS    (8 * VSOCK_NSEC_PER_SEC)

enum vsock_conn_state {
	/* The guest sent REQUEST; our connect() to the host is in progress.
	 * Ends in ESTABLISHED (RESPONSE queued), or CLOSED (RST) on failure
	 * or after VSOCK_CONNECT_TIMEOUT_NS. */
	VSOCK_CONN_CONNECTING_GUEST_INIT,
	/* A host client asked for a guest port; REQUEST queued to the guest,
	 * waiting for its RESPONSE (VSOCK_CONNECT_TIMEOUT_NS from creation). */
	VSOCK_CONN_CONNECTING_HOST_INIT,
	/* Data flows; half-closes are in peer_shut / local_shut. */
	VSOCK_CONN_ESTABLISHED,
	/* Winding down with a deadline (VSOCK_CLOSE_TIMEOUT_NS), either
	 * waiting for the guest's RST after our SHUTDOWN(RCV|SEND) (host gone),
	 * or flushing guest data to the host after the guest's
	 * SHUTDOWN(RCV|SEND), then RST. */
	VSOCK_CONN_CLOSING,
	/* Terminal.  An RST may still be owed; free when vsock_conn_done(). */
	VSOCK_CONN_CLOSED,
};

/* Pending control packets, a coalescing set sent in this priority order. */
#define VSOCK_CTRL_RST           (1u << 0)
#define VSOCK_CTRL_REQUEST       (1u << 1)
#define VSOCK_CTRL_RESPONSE      (1u << 2)
#define VSOCK_CTRL_SHUTDOWN      (1u << 3)
#define VSOCK_CTRL_CREDIT_UPDATE (1u << 4)

/* What the device must do after an event (bitmask). */
#define VSOCK_EV_FORWARD   (1u << 0) /* pass the RW payload (hdr->len bytes,
					SEQPACKET flags in hdr->flags) on to
					the host, then vsock_conn_host_forwarded() */
#define VSOCK_EV_CONNECTED (1u << 1) /* host-initiated: the guest accepted;
					answer the host client, start relaying */
#define VSOCK_EV_SHUT_WR   (1u << 2) /* guest sends no more: shutdown(SHUT_WR)
					the host once vsock_conn_drained() */
#define VSOCK_EV_SHUT_RD   (1u << 3) /* guest receives no more: stop reading */
#define VSOCK_EV_CREDIT    (1u << 4) /* the guest's credit grew: resume reads */
#define VSOCK_EV_CTRL      (1u << 5) /* a control packet is pending: kick rx */
#define VSOCK_EV_CLOSED    (1u << 6) /* now CLOSED: release the host side;
					free once vsock_conn_done() */

/* Protocol events worth counting; owned by the device, may be shared by all
 * its connections (updated under the device lock). */
struct vsock_conn_stats {
	uint64_t credit_overrun;  /* guest RW beyond our credit → RST */
	uint64_t proto_err;       /* op/type invalid for the state → RST */
	uint64_t ignored;         /* harmless unexpected packets dropped */
	uint64_t rw_dropped;      /* RW bytes dropped while closing */
	uint64_t connect_timeout; /* connect never completed → RST */
	uint64_t close_timeout;   /* shutdown never completed → RST */
};

struct vsock_conn {
	enum vsock_conn_state state;
	uint16_t type;            /* VIRTIO_VSOCK_TYPE_STREAM / _SEQPACKET */
	uint8_t ctrl;             /* VSOCK_CTRL_* owed to the guest */
	uint8_t peer_shut;        /* SHUTDOWN flags from the guest, sticky */
	uint8_t local_shut;       /* SHUTDOWN flags we queued, sticky; RCV
				     only once the host is gone */
	bool credit_req;          /* the pending CREDIT_UPDATE answers a
				     CREDIT_REQUEST: send the real op */
	struct vsock_addr addr;   /* local = host side, peer = guest */
	uint64_t deadline;        /* monotonic ns, 0 = none */

	/* guest → host */
	uint32_t buf_alloc;       /* what we advertise */
	uint32_t rx_cnt;          /* payload bytes accepted from the guest */
	uint32_t fwd_cnt;         /* of which written to the host */
	uint32_t fwd_cnt_sent;    /* fwd_cnt in the last header the guest got */

	/* host → guest */
	uint32_t peer_buf_alloc;
	uint32_t peer_fwd_cnt;
	uint32_t tx_cnt;          /* payload bytes sent to the guest */

	struct vsock_conn_stats *stats; /* may be NULL */
};

/* A connection for guest REQUEST `req` (validated; local port = its
 * dst_port, peer = its src).  State CONNECTING_GUEST_INIT; the caller
 * starts the host connect.  stats may be NULL (then counted nowhere). */
void vsock_conn_init_guest(struct vsock_conn *c, const struct vsock_hdr *req,
			   uint32_t buf_alloc, uint64_t now,
			   struct vsock_conn_stats *stats);

/* A connection for a host client that asked for guest port `peer_port`,
 * using host port `local_port`.  State CONNECTING_HOST_INIT, REQUEST owed. */
void vsock_conn_init_host(struct vsock_conn *c, uint64_t guest_cid,
			  uint32_t local_port, uint32_t peer_port, uint16_t type,
			  uint32_t buf_alloc, uint64_t now,
			  struct vsock_conn_stats *stats);

/* A guest packet for this connection (validated by vsock_pkt_parse and
 * matching addr).  VSOCK_EV_* mask. */
unsigned vsock_conn_guest_pkt(struct vsock_conn *c, const struct vsock_hdr *h,
			      uint64_t now);

/* Host side events.  VSOCK_EV_* masks. */
unsigned vsock_conn_host_connected(struct vsock_conn *c);
unsigned vsock_conn_host_connect_failed(struct vsock_conn *c);
/* The host will send no more (read returned 0): SHUTDOWN(SEND) to the guest;
 * the guest → host direction keeps flowing. */
unsigned vsock_conn_host_eof(struct vsock_conn *c);
/* The host end is gone both ways (hang-up, EPIPE); call after the remaining
 * host data was read.  SHUTDOWN(RCV|SEND), then CLOSING. */
unsigned vsock_conn_host_closed(struct vsock_conn *c, uint64_t now);
/* Abort (reset by peer, fatal I/O error, device teardown): RST. */
unsigned vsock_conn_host_error(struct vsock_conn *c);
/* n more payload bytes were written to the host (n <= unforwarded).  May
 * queue a CREDIT_UPDATE, or finish a close. */
unsigned vsock_conn_host_forwarded(struct vsock_conn *c, uint32_t n);

/* Check the deadline.  VSOCK_EV_* mask (CLOSED|CTRL when it expired). */
unsigned vsock_conn_timer(struct vsock_conn *c, uint64_t now);
/* The deadline, monotonic ns, or 0 for none. */
static inline uint64_t vsock_conn_deadline(const struct vsock_conn *c)
{
	return c->deadline;
}

/* Credit the guest gives us now (bytes we may still send it). */
uint32_t vsock_conn_peer_free(const struct vsock_conn *c);
/* Credit we give the guest: RW bytes it may still send. */
uint32_t vsock_conn_rx_room(const struct vsock_conn *c);
/* Guest bytes accepted but not yet written to the host. */
static inline uint32_t vsock_conn_unforwarded(const struct vsock_conn *c)
{
	return c->rx_cnt - c->fwd_cnt;
}
static inline bool vsock_conn_drained(const struct vsock_conn *c)
{
	return c->rx_cnt == c->fwd_cnt;
}
/* Payload bytes we may send the guest now: 0 unless established, no
 * RESPONSE/RST owed, neither side has shut this direction; else peer_free. */
uint32_t vsock_conn_rw_budget(const struct vsock_conn *c);

/* Fill *h with the highest-priority control packet owed; false if none. */
bool vsock_conn_ctrl_peek(const struct vsock_conn *c, struct vsock_hdr *h);
/* Fill *h for an RW of len (<= rw_budget) bytes; flags EOM/EOR for
 * SEQPACKET, else 0. */
void vsock_conn_build_rw(const struct vsock_conn *c, struct vsock_hdr *h,
			 uint32_t len, uint32_t flags);
/* Header *h (from ctrl_peek or build_rw) reached the guest: clear what it
 * owed, count RW bytes, note the credit the guest has now seen. */
void vsock_conn_sent(struct vsock_conn *c, const struct vsock_hdr *h);

/* CLOSED with nothing left to send: the caller may free it. */
static inline bool vsock_conn_done(const struct vsock_conn *c)
{
	return c->state == VSOCK_CONN_CLOSED && c->ctrl == 0;
}

#endif
