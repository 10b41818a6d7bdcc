/* SPDX-License-Identifier: MIT */
/*
 * Guest-side vsock datagrams (F_DGRAM, packet type 3) over vsock_dev: a
 * small table of bound ports, each with its own receive queue.
 *
 * The format is the later datagram proposal that the out-of-tree Linux
 * patches implement and our device speaks (docs/vsock.md, "Datagrams"):
 * one datagram is one packet, op RW, len 1..65536, flags 0, buf_alloc and
 * fwd_cnt 0 (there is no credit: a receiver that cannot take a datagram
 * drops it).  Datagram ports are their own space, as UDP's are beside
 * TCP's: a stream connection on guest port P and a datagram socket bound
 * to P never see each other's packets (vsock.c hands every type-3 packet
 * here, whatever its ports).
 *
 * Everything from the device is checked; what a correct device never sends
 * is counted in vdg_stats.bad (and dropped), a type-3 packet without F_DGRAM
 * negotiated in .unexpected.  Drops a real receiver makes (no socket bound,
 * its queue full, larger than it takes) have their own counters.  Nothing
 * blocks; vs_poll() drives reception.
 */
#ifndef TG_VSOCK_DGRAM_H
#define TG_VSOCK_DGRAM_H

#include <stdint.h>

#include "vsock_dev.h"

#define VDG_MAX 65536  /* the largest datagram (VIRTIO_VSOCK_MAX_PKT_BUF_SIZE) */
#define VDG_SOCKS 8    /* ports bound at once */

struct vdg_stats {
	uint64_t rx_pkts, rx_bytes;  /* queued to a bound port */
	uint64_t tx_pkts, tx_bytes;  /* handed to the device */
	uint64_t no_port;            /* nothing bound at dst_port: dropped */
	uint64_t queue_full;         /* the port's queue was full: dropped */
	uint64_t too_long;           /* longer than the port takes: dropped */
	uint64_t bad;                /* device bug: op not RW, len 0, flags or
				      * credit not 0, wrong CIDs: dropped */
	uint64_t unexpected;         /* type 3 without F_DGRAM: dropped */
};

extern struct vdg_stats vdg_stats;

struct vdg_sock;

/* Bind guest port `port` with a queue of `depth` datagrams of up to
 * `maxlen` bytes each (memory from the heap, kept for good).  NULL if the
 * port is bound already, the table is full or memory ran out. */
struct vdg_sock *vdg_open(uint32_t port, unsigned depth, uint32_t maxlen);

/* Queue one datagram from guest port `sport` to host port `dport`
 * (n = 1..min(VDG_MAX, txpkt)).  0; -1 if no tx slot is free now (poll and
 * retry); -2 if n is out of range or F_DGRAM was not negotiated.  Visible
 * to the device at the next kick (vsd_kick, vs_poll). */
int vdg_send(uint32_t sport, uint32_t dport, const void *buf, uint32_t n);

/* Take the oldest queued datagram: its length (min(len, size) bytes copied
 * to buf, the rest lost as with recv() on a datagram socket), 0 if none
 * waits.  *src_port (if not NULL) gets the host port it came from. */
long vdg_recv(struct vdg_sock *s, void *buf, uint32_t size, uint32_t *src_port);

/* Datagrams waiting on s. */
unsigned vdg_pending(const struct vdg_sock *s);

/* vsock.c: every received packet of type VSOCK_TYPE_DGRAM. */
void vdg_on_rx(const struct vsock_hdr *h, const uint8_t *p, uint32_t n);

#endif
