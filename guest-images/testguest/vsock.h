/* SPDX-License-Identifier: MIT */
/*
 * Guest-side vsock protocol over vsock_dev (virtio v1.2 §5.10.6): a table
 * of connections with a small polled socket API.
 *
 * Credit (§5.10.6.3), both ways, u32 wrapping:
 *   receive  each connection owns a ring buffer of buf_alloc bytes; rx_cnt
 *            counts payload accepted into it, fwd_cnt payload the
 *            application consumed.  Every packet we send carries buf_alloc
 *            and fwd_cnt; after consuming we send CREDIT_UPDATE once a
 *            quarter of the buffer went unannounced, or the peer may be
 *            stalling (it sees less than half the buffer free).  A peer
 *            that sends beyond our credit is a protocol violation: counted,
 *            answered with RST (as Linux does).
 *   send     we never send more than peer_buf_alloc - (tx_cnt - peer_fwd_cnt).
 *            A sender stalled on credit for a second asks with
 *            CREDIT_REQUEST (counted: a correct peer never needs that).
 * Everything is driven by vs_poll(); nothing blocks.
 */
#ifndef TG_VSOCK_H
#define TG_VSOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vsock_dev.h"

enum vs_state {
	VS_FREE = 0,
	VS_LISTEN,
	VS_CONNECTING,   /* REQUEST sent, waiting for RESPONSE */
	VS_ESTABLISHED,
	VS_CLOSING,      /* we sent SHUTDOWN(RCV|SEND), waiting for the RST */
	VS_CLOSED,       /* reset or refused; the application must vs_release() */
};

#define VS_MSGQ 64 /* SEQPACKET message boundaries kept per connection */

struct vs_conn {
	enum vs_state state;
	uint16_t type;
	uint32_t lport, pport;
	uint64_t pcid;
	struct vs_conn *listener; /* accepted from this listener */
	bool accepted;            /* handed to the application */
	bool got_rst;             /* the peer reset (or refused) us */
	uint32_t peer_shut, local_shut; /* SHUTDOWN flags seen / sent */
	uint32_t pending;         /* control packets owed, VSP_* */
	uint64_t deadline;        /* connect / close timeout (TSC) */

	/* receive side */
	uint8_t *rbuf;
	uint32_t rsize;           /* buf_alloc, a power of two */
	uint32_t rx_cnt, fwd_cnt, fwd_sent;
	uint32_t msg_end[VS_MSGQ]; /* rx_cnt at each EOM */
	uint32_t msg_flags[VS_MSGQ];
	uint32_t msg_head, msg_tail;

	/* send side */
	uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt;
	uint64_t stall_since;

	uint64_t bytes_in, bytes_out;
};

struct vs_params {
	struct vsd_params dev;
	uint32_t buf_alloc;       /* per-connection receive buffer */
	unsigned max_conns;
	uint64_t dst_cid;         /* where vs_connect() goes: cid=, default 2 */
};

struct vs_stats {
	uint64_t rst_sent, rst_rcvd;
	uint64_t credit_overruns;   /* the peer sent beyond our credit */
	uint64_t credit_requests;   /* we had to ask (peer never updated) */
	uint64_t credit_updates_sent, credit_updates_rcvd;
	uint64_t unmatched;         /* packets for no connection */
	uint64_t bad_type, proto_errors;
	uint64_t transport_resets;
	uint64_t reqs_refused;      /* REQUESTs we could not accept */
	uint64_t zero_credit;       /* RESPONSE/REQUEST with buf_alloc 0 */
	uint64_t bad_cid;           /* dst_cid not ours, or src_cid neither the
	                             * host's nor another VM's (0, 1, ours, -1U,
	                             * above 32 bits), or not the peer of the
	                             * connection on the packet's ports */
};

extern struct vs_stats vs_stats;

/* Command-line defaults: rxq= txq= rxlayout=split|single indirect=1
 * bufsz= txpkt= maxconns= dgram=1 rxbuf= cid=; `def_bufsz`/`def_conns`
 * where absent. */
void vs_params_from_cmdline(struct vs_params *p, uint32_t def_bufsz,
			    unsigned def_conns);

/* Bring up the device and the connection table.  0 or -1 (*why). */
int vs_init(const struct vs_params *p, const char **why);
/* Reset the device, forget all connections, bring it up again. */
int vs_reset(const char **why);

/* Process everything pending.  -1 when the device is broken (vsd_error()). */
int vs_poll(void);

struct vs_conn *vs_listen(uint32_t port, uint16_t type);
/* An established connection from the listener not handed out yet, or NULL. */
struct vs_conn *vs_accept(struct vs_conn *listener);
/* Start connecting to `port` of the CID given by cid= (default 2, the
 * host; another CID is a sibling VM, docs/vsock.md "Sibling VMs"); NULL if
 * the table is full. */
struct vs_conn *vs_connect(uint32_t port, uint16_t type);
/* Poll until established (0), refused/reset (-1) or timeout (-2). */
int vs_connect_wait(struct vs_conn *c, uint64_t timeout_us);

/* Stream: queue up to n bytes within the peer's credit; returns how many.
 * SEQPACKET: same, and the packet carrying the last byte gets EOM (and EOR
 * if `eor`) when `end` is set. */
size_t vs_send(struct vs_conn *c, const void *buf, size_t n);
size_t vs_send_seq(struct vs_conn *c, const void *buf, size_t n, bool end, bool eor);

/* Stream: >0 bytes copied, 0 nothing yet, VS_EOF after the peer's
 * SHUTDOWN(SEND) with nothing left, VS_RESET on reset. */
#define VS_EOF   (-1)
#define VS_RESET (-2)
long vs_recv(struct vs_conn *c, void *buf, size_t n);
/* SEQPACKET: one whole message (cut to n, the rest dropped) once its EOM
 * has arrived; *len_full gets its real length and *flags its EOM/EOR. */
long vs_recv_msg(struct vs_conn *c, void *buf, size_t n, uint32_t *len_full,
		 uint32_t *flags);
/* Bytes waiting to be read. */
uint32_t vs_rx_avail(const struct vs_conn *c);
/* Bytes the peer would still accept from us. */
uint32_t vs_tx_credit(const struct vs_conn *c);

/* SHUTDOWN with VSOCK_SHUTDOWN_SEND and/or _RCV (sticky). */
void vs_shutdown(struct vs_conn *c, uint32_t flags);
/* Graceful close: SHUTDOWN(both), then the peer's RST (or ours after a
 * timeout) frees the slot.  The pointer is invalid afterwards. */
void vs_close(struct vs_conn *c);
/* RST and free now. */
void vs_abort(struct vs_conn *c);
/* Free a VS_CLOSED connection. */
void vs_release(struct vs_conn *c);

/* Connections in use (any state but FREE), listeners included. */
unsigned vs_conns_in_use(void);

/* Called with every received packet before it is processed (hostile
 * scenarios watch for replies that match no connection).  May be NULL. */
extern void (*vs_rx_hook)(const struct vsock_hdr *h);

/* Send a header as given (hostile scenarios).  Returns -1 if no tx slot. */
int vs_raw(const struct vsock_hdr *h, const void *payload, uint32_t n);
/* A header for connection c with our current credit fields filled in. */
void vs_fill_hdr(const struct vs_conn *c, struct vsock_hdr *h, uint16_t op,
		 uint32_t flags, uint32_t len);

#endif
