/* SPDX-License-Identifier: MIT */
/*
 * Private to the vsock device (device.c, dev_io.c): the device and
 * connection structures and the functions the two files share.  Everything
 * here runs under the device lock (see device.c for the threading rules).
 *
 *   device.c   virtio front, guest packet routing, connection life cycle,
 *              the rx work list, timers, host-initiated flows, setup
 *   dev_io.c   the data plane: guest payload to host sockets (stream and
 *              SEQPACKET message framing), host data and messages into rx
 *              buffers
 */
#ifndef VSOCK_DEV_PRIV_H
#define VSOCK_DEV_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtio/device.h"
#include "base/evloop.h"
#include "vsock/conn.h"
#include "vsock/conntab.h"
#include "vsock/device.h"
#include "vsock/hybrid.h"
#include "vsock/packet.h"
#include "vsock/port_alloc.h"
#include "vsock/txbuf.h"

#define RSTQ_SIZE        64              /* RSTs for packets matching no flow */
#define TIMER_PERIOD_NS  (200 * 1000000ull)
#define RX_BATCH         (2 * VSOCK_QUEUE_NUM_MAX) /* packets per lock hold */
#define HOST_EVENTS      (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)

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

static inline bool is_seq(const struct hconn *hc)
{
	return hc->c.type == VIRTIO_VSOCK_TYPE_SEQPACKET;
}

/* --- device.c --------------------------------------------------------- */

/* Monotonic time, ns. */
/* Act on what the state machine asked for (VSOCK_EV_* mask). */
void vd_after_event(struct vsock_dev *d, struct hconn *hc, unsigned ev);
/* The connection is finished: out of every index, freed on the I/O thread. */
void vd_zombify(struct vsock_dev *d, struct hconn *hc);

/* --- dev_io.c ---------------------------------------------------------- */

/* Free a bounced SEQPACKET host message. */
void vd_rmsg_free(struct hconn *hc);
/* shutdown(SHUT_WR) the host once the guest said SEND and all is written. */
void vd_maybe_shut_wr(struct hconn *hc);
/* The guest accepted a host-initiated flow: "OK <port>\n" if hybrid. */
void vd_host_init_accepted(struct vsock_dev *d, struct hconn *hc);
/* The guest sends no more: drop an unfinished SEQPACKET message. */
unsigned vd_drop_partial_msg(struct hconn *hc);
/* Write queued guest data (or whole messages) out as far as the host takes it. */
void vd_flush(struct vsock_dev *d, struct hconn *hc);
/* An accepted guest RW (payload at chain bytes [44, 44 + len)) to the host. */
unsigned vd_forward(struct vsock_dev *d, struct hconn *hc, const struct iovec *iov,
		    unsigned n, uint32_t len, uint32_t flags);
/* SEQPACKET host sockets: a send buffer that takes a whole message. */
void vd_seq_sndbuf(struct vsock_dev *d, struct hconn *hc);
/* Next rx chain with >= min writable bytes (smaller ones go back empty):
 * 1, 0 (none) or < 0 (queue broken).  0 means the caller parks its packet:
 * rx notifications are then enabled (and re-checked), so the driver's next
 * rx buffer is kicked and process_rx runs again. */
int vd_pop_rx(struct vsock_dev *d, struct virtq *vq, struct virtq_chain *ch,
	      uint32_t min, bool *pushed);
/* Write header h into the chain and return it to the guest. */
void vd_put_pkt(struct vsock_dev *d, struct virtq *vq, struct virtq_chain *ch,
		const struct vsock_hdr *h);
/* One packet for hc: 1 it may have more, 0 nothing now, -1 out of rx buffers. */
int vd_rx_one(struct vsock_dev *d, struct hconn *hc, struct virtq *vq, bool *pushed);

#endif
