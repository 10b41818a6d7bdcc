/* SPDX-License-Identifier: MIT */
/*
 * The virtio vsock device (virtio v1.2 §5.10) as packets: bring-up, rx
 * buffers, tx slots, the event queue.  No connections here (vsock.h).
 *
 * Queues (§5.10.2): 0 rx, 1 tx, 2 event.  Feature bits (§5.10.3): we accept
 * SEQPACKET when offered and asked for, and by default neither STREAM nor
 * NO_IMPLIED_STREAM, like Linux (stream must work with no vsock bit acked);
 * `streambits` accepts STREAM and NO_IMPLIED_STREAM as §5.10.3.1 suggests.
 * INDIRECT_DESC only when asked for.
 *
 * rx buffers (§5.10.6.4; layouts as Linux): by default one device-writable descriptor of
 * 44 + 4096 bytes per buffer (Linux >= 6.2); `split` posts the older layout,
 * two descriptors (44-byte header, then 4096 bytes of payload).  `rxbuf`
 * changes the 4096: the device never splits a datagram over buffers
 * (docs/vsock.md, "Datagrams"), so one of 64 KiB needs 64 KiB buffers.
 *
 * Datagrams (F_DGRAM, bit 3; type 3): negotiated only when asked for
 * (`want_dgram`), like a Linux guest without the out-of-tree patches,
 * which never acks the bit.  Packets only here; vsock_dgram.h has ports.
 * tx: the 44-byte header in one readable descriptor, the payload (if any) in
 * a second, or both behind one indirect descriptor.
 */
#ifndef TG_VSOCK_DEV_H
#define TG_VSOCK_DEV_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio_mmio.h"
#include "virtq.h"

#define VIRTIO_ID_VSOCK 19
#define VSOCK_F_STREAM    0
#define VSOCK_F_SEQPACKET 1
#define VSOCK_F_NO_IMPLIED_STREAM 2
#define VSOCK_F_DGRAM     3

#define VSOCK_HOST_CID 2
#define VSOCK_HDR_LEN 44
#define VSOCK_RX_PAYLOAD 4096     /* default rx buffer payload */
#define VSOCK_RX_PAYLOAD_MAX 65536 /* the largest packet (and datagram) */

/* §5.10.6 packet header, little-endian (x86 is too). */
struct vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
} __attribute__((packed));

_Static_assert(sizeof(struct vsock_hdr) == VSOCK_HDR_LEN, "vsock header is 44 bytes");

enum {
	VSOCK_OP_INVALID = 0,
	VSOCK_OP_REQUEST = 1,
	VSOCK_OP_RESPONSE = 2,
	VSOCK_OP_RST = 3,
	VSOCK_OP_SHUTDOWN = 4,
	VSOCK_OP_RW = 5,
	VSOCK_OP_CREDIT_UPDATE = 6,
	VSOCK_OP_CREDIT_REQUEST = 7,
};

#define VSOCK_TYPE_STREAM    1
#define VSOCK_TYPE_SEQPACKET 2
#define VSOCK_TYPE_DGRAM     3
#define VSOCK_SHUTDOWN_RCV   1
#define VSOCK_SHUTDOWN_SEND  2
#define VSOCK_SEQ_EOM        1
#define VSOCK_SEQ_EOR        2
#define VSOCK_EVENT_TRANSPORT_RESET 0

struct vsd_params {
	unsigned rxq, txq;     /* queue sizes wanted (capped by QueueNumMax) */
	bool rx_split;         /* two-descriptor rx buffers */
	bool want_seqpacket;   /* negotiate SEQPACKET if offered */
	bool want_indirect;    /* negotiate INDIRECT_DESC and use it for tx */
	bool want_streambits;  /* negotiate STREAM and NO_IMPLIED_STREAM */
	bool want_eventidx;    /* negotiate EVENT_IDX if offered (kick suppression) */
	bool want_dgram;       /* negotiate F_DGRAM if offered */
	uint32_t rxbuf;        /* payload bytes per rx buffer (0: 4096) */
	uint32_t txpkt;        /* largest tx payload per packet */
};

struct vsd_stats {
	uint64_t rx_pkts, rx_bytes, tx_pkts, tx_bytes, kicks;
	uint64_t kicks_saved;  /* rx/tx kicks the device said it did not need */
	uint64_t rx_short;     /* used len 1..43: dropped (device bug) */
	uint64_t rx_empty;     /* used len 0: a buffer the device could not use
				* (a datagram too big for it is dropped so) */
	uint64_t rx_len_bad;   /* header len != used len - 44: dropped (device bug) */
	uint64_t events;
	uint64_t raw_used;     /* vq_add_raw() chains the device gave back */
};

/* Received packet: header and payload (n bytes, = hdr->len). */
typedef void (*vsd_rx_fn)(const struct vsock_hdr *h, const uint8_t *payload,
			  uint32_t n);
/* Event queue entry (§5.10.6.7). */
typedef void (*vsd_event_fn)(uint32_t id);

/* rx descriptors bring-up leaves unposted (hostile scenarios need room in
 * the rx queue for their own chains).  0 normally. */
extern unsigned vsd_rx_spare;

/* Find, reset and bring up the device; 0 or -1 with *why. */
int vsd_init(const struct vsd_params *p, const char **why);
/* Reset (Status 0) and bring it up again with the same parameters. */
int vsd_reinit(const char **why);

extern struct vmmio vsd_mmio;
extern struct vsd_stats vsd_stats;
uint64_t vsd_cid(void);
uint64_t vsd_reread_cid(void);
bool vsd_seqpacket(void);
bool vsd_indirect(void);
bool vsd_eventidx(void);
bool vsd_dgram(void);
uint32_t vsd_rxbuf(void);
uint32_t vsd_txpkt(void);
struct virtq *vsd_rxq(void);
struct virtq *vsd_txq(void);

/* Tx slots free right now (each takes one packet of up to txpkt bytes). */
unsigned vsd_tx_free(void);
/* Queue one packet: the header as given (nothing is fixed up, hostile
 * scenarios rely on that), then n payload bytes copied from `payload`.
 * -1 if no slot is free or n > txpkt.  Not visible to the device until
 * vsd_kick() (or any later kick). */
int vsd_tx(const struct vsock_hdr *h, const void *payload, uint32_t n);
void vsd_kick(void);

/* Reap tx completions, deliver received packets and events, re-post their
 * buffers, kick.  Returns how many things happened, or -1 when a queue is
 * broken (vq->err) or the device asks for a reset (then vsd_error() says
 * why). */
int vsd_poll(vsd_rx_fn rx, vsd_event_fn ev);
const char *vsd_error(void);
/* Only reap tx completions (a guest that neglects rx on purpose).  Number
 * reaped, or -1 as vsd_poll. */
int vsd_reap_tx(void);

#endif
