/* SPDX-License-Identifier: MIT */
/*
 * Private to the vsock device (device.c, dev_io.c): the device and
 * connection structures, and the data-plane functions device.c calls.
 * Everything here runs under the device lock (see device.c for the
 * threading rules).  Calls go one way:
 *
 *   device.c   virtio front, guest packet routing, connection life cycle,
 *              the rx work list, timers, host-initiated flows, setup;
 *              applies the VSOCK_EV_* masks the layers below return
 *   dev_io.c   the data plane: guest payload to host sockets (stream and
 *              SEQPACKET message framing), host data and messages into rx
 *              buffers; returns VSOCK_EV_* masks, never calls device.c
 *   conn.c     the state machine both feed (pure logic)
 */
#ifndef VSOCK_DEV_PRIV_H
#define VSOCK_DEV_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/uio.h>

#include "virtio/device.h"
#include "base/evloop.h"
#include "vsock/conn.h"
#include "vsock/conntab.h"
#include "vsock/device.h"
#include "vsock/dgram.h"
#include "vsock/hybrid.h"
#include "vsock/packet.h"
#include "vsock/port_alloc.h"
#include "vsock/txbuf.h"

#define RSTQ_SIZE        64              /* RSTs for packets matching no flow */
#define TIMER_PERIOD_NS  (200 * 1000000ull)
#define RX_BATCH         (2 * VSOCK_QUEUE_NUM_MAX) /* packets per lock hold */
#define HOST_EVENTS      (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)
#define DGRAM_RX_TURN    16  /* datagrams per process_rx turn, before streams */

/* A connection with its host socket. */
struct hconn {
	struct vsock_conn c;
	struct vsock_dev *d;
	int fd;
	struct ev_source src;
	bool in_epoll;
	bool connecting;    /* guest-initiated, connect() in progress */
	bool await_ok;      /* to a sibling VM: its "OK <port>\n" not read yet */
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
	TAILQ_ENTRY(hconn) rx_link; /* d->rx_list while on_rx */
	SLIST_ENTRY(hconn) next;    /* d->zombies, or a temporary list */
};

struct vsock_dev {
	pthread_mutex_t lock;
	struct virtio_dev *vdev;
	struct evloop *ev;
	struct vsock_backend *be;
	struct vsock_dgram *dgram;           /* NULL: F_DGRAM never offered */
	struct ev_source dgram_src;
	bool dgram_in_epoll;
	uint64_t guest_cid;
	uint64_t *peers;                     /* sibling VMs' CIDs */
	unsigned npeers;
	uint32_t buf_alloc;
	bool active;
	unsigned types_ok;

	struct vsock_conntab conns;
	struct vsock_port_alloc ports;
	TAILQ_HEAD(, hconn) rx_list;         /* connections with rx work */
	struct vsock_hdr rstq[RSTQ_SIZE];
	unsigned rstq_head, rstq_len;
	SLIST_HEAD(, hconn) zombies;         /* finished, freed on the I/O thread */
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

static inline bool is_seq(const struct hconn *hc)
{
	return hc->c.type == VIRTIO_VSOCK_TYPE_SEQPACKET;
}

/* --- dev_io.c: called by device.c ------------------------------------
 * Functions returning `unsigned` return a VSOCK_EV_* mask for the device
 * to apply (as vsock_conn_*() do); none frees or re-queues hc. */

/* Free a bounced SEQPACKET host message. */
void vd_rmsg_free(struct hconn *hc);
/* The guest accepted a host-initiated flow: "OK <port>\n" if hybrid. */
void vd_host_init_accepted(struct vsock_dev *d, struct hconn *hc);
/* EV_SHUT_WR: the guest sends no more.  Drop an unfinished SEQPACKET
 * message; shutdown(SHUT_WR) the host once all is written. */
unsigned vd_guest_shut_wr(struct hconn *hc);
/* Write queued guest data (or whole messages) out as far as the host takes it. */
unsigned vd_flush(struct vsock_dev *d, struct hconn *hc);
/* An accepted guest RW (payload at chain bytes [44, 44 + len)) to the host. */
unsigned vd_forward(struct vsock_dev *d, struct hconn *hc, const struct iovec *iov,
		    unsigned n, uint32_t len, uint32_t flags);
/* SEQPACKET host sockets: a send buffer that takes a whole message. */
void vd_seq_sndbuf(struct vsock_dev *d, struct hconn *hc);
/* Next rx chain with >= min writable bytes (smaller ones go back empty):
 * 1, 0 (none) or < 0 (queue broken).  0 means the caller parks its packet:
 * the drain has then re-armed rx kicks (virtq_pop_drain), so the driver's
 * next rx buffer is kicked and process_rx runs again. */
int vd_pop_rx(struct vsock_dev *d, struct virtq *vq, struct virtq_chain *ch,
	      uint32_t min, bool *pushed);
/* Write header h into the chain and return it to the guest. */
void vd_put_pkt(struct vsock_dev *d, struct virtq *vq, struct virtq_chain *ch,
		const struct vsock_hdr *h);
/* One packet for hc: 1 one went out (it may have more), 0 nothing now,
 * -1 out of rx buffers; the state machine's VSOCK_EV_* mask in *ev. */
int vd_rx_one(struct vsock_dev *d, struct hconn *hc, struct virtq *vq, bool *pushed,
	      unsigned *ev);


/* --- dgram.c: datagrams (F_DGRAM), called by device.c ------------------ */

/* A validated guest DGRAM packet (payload at chain bytes [44, 44 + len))
 * to its host receiver, or dropped and counted. */
void vd_dgram_tx(struct vsock_dev *d, const struct vsock_hdr *h,
		 const struct iovec *iov, unsigned n);
/* Deliver up to `budget` queued host datagrams: 0 the queue is empty, 1
 * the budget ran out with more queued, -1 out of rx buffers (kicks armed). */
int vd_dgram_rx(struct vsock_dev *d, struct virtq *vq, bool *pushed, unsigned budget);
/* --- dev_peer.c ------------------------------------------------------ */

/* A flow to a sibling VM waits for the sibling's "OK <port>\n" (consumed,
 * nothing after it).  1: read, the flow is connected; 0: not complete yet
 * (the next EPOLLIN edge brings more); -errno: refused (EOF, a bad line). */
int vd_peer_read_ok(struct hconn *hc);

/* The guest's packet h belongs to hc only if it goes to hc's CID (the port
 * pair alone does not tell a flow to the host from one to a sibling). */
static inline bool vd_same_cid(const struct hconn *hc, const struct vsock_hdr *h)
{
	return hc->c.addr.local_cid == h->dst_cid;
}

#endif
