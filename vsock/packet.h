/* SPDX-License-Identifier: MIT */
/*
 * virtio-vsock packet headers (virtio 1.2, 5.10.6): copy a header out of a
 * guest tx chain, validate every field the guest controls, and build the
 * headers we put into guest rx buffers.  The payload is never copied: the
 * device hands iovec windows (vsock/iov.h) straight to readv()/writev().
 *
 * The wire format is Linux's `struct virtio_vsock_hdr` (<linux/virtio_vsock.h>,
 * 44 bytes, packed, little-endian).  Code outside this file works on the
 * decoded, host-endian `struct vsock_hdr`.
 */
#ifndef VSOCK_PACKET_H
#define VSOCK_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <linux/virtio_vsock.h>

#define VSOCK_HDR_SIZE      44u
#define VSOCK_HOST_CID      2u
/* The CIDs a guest may have: 0 (hypervisor), 1 (local), 2 (host) and
 * 0xffffffff (VMADDR_CID_ANY) are reserved. */
#define VSOCK_GUEST_CID_MIN 3u
#define VSOCK_GUEST_CID_MAX 0xfffffffeu
/* Largest payload of one packet (Linux VIRTIO_VSOCK_MAX_PKT_BUF_SIZE). */
#define VSOCK_MAX_PKT_LEN   (64u * 1024)

/* Feature bits (virtio 1.3, 5.10.3). */
#define VSOCK_F_STREAM            0
#define VSOCK_F_SEQPACKET         1
#define VSOCK_F_NO_IMPLIED_STREAM 2
/* Datagrams (the out-of-tree proposal; not in virtio 1.3): packet type 3,
 * op RW only, no credit.  Offered only with --vsock-dgram (docs/vsock.md). */
#define VSOCK_F_DGRAM             3
#ifndef VIRTIO_VSOCK_TYPE_DGRAM
#define VIRTIO_VSOCK_TYPE_DGRAM   3
#endif
/* Largest datagram payload: one packet, never fragmented, and no larger
 * than the largest packet Linux builds (VSOCK_MAX_PKT_LEN). */
#define VSOCK_DGRAM_MAX           VSOCK_MAX_PKT_LEN

/* Bit (1 << type) per socket type, for the `types_ok` masks below. */
#define VSOCK_TYPE_BIT(t)   (1u << (t))

/* A decoded header, host byte order. */
struct vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;   /* enum virtio_vsock_type */
	uint16_t op;     /* enum virtio_vsock_op */
	uint32_t flags;  /* after validation: only the bits meaningful for op */
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
};

/* Why a guest packet was refused.  Each has a fixed answer, see
 * vsock_pkt_err_wants_rst(); a packet of type DGRAM never gets an RST
 * (datagrams are connectionless: there is no flow to reset). */
enum vsock_pkt_err {
	VSOCK_PKT_OK = 0,
	VSOCK_PKT_ERR_HDR_SHORT,   /* < 44 readable bytes: drop */
	VSOCK_PKT_ERR_SRC_CID,     /* src_cid is not the guest's CID: drop */
	VSOCK_PKT_ERR_DST_CID,     /* dst_cid is not the host (2): RST */
	VSOCK_PKT_ERR_TYPE,        /* unknown or not negotiated type: RST */
	VSOCK_PKT_ERR_OP,          /* unknown op (0, > 7): RST */
	VSOCK_PKT_ERR_LEN_MAX,     /* len > VSOCK_MAX_PKT_LEN: RST */
	VSOCK_PKT_ERR_LEN_CHAIN,   /* len > payload bytes in the chain: RST */
	VSOCK_PKT_ERR_LEN_NONZERO, /* len != 0 on a non-RW op: RST */
	VSOCK_PKT_ERR_DGRAM_OP,    /* a datagram whose op is not RW: drop */
	VSOCK_PKT_ERR_DGRAM_LEN,   /* a datagram of 0 or > VSOCK_DGRAM_MAX bytes: drop */
	VSOCK_PKT_ERR_COUNT
};

/* Short constant name of an error, for logs and stats ("type", ...). */
const char *vsock_pkt_err_name(enum vsock_pkt_err e);

/* The socket types a guest may use given the acked device features: STREAM
 * if F_STREAM, or if F_NO_IMPLIED_STREAM was not acked (Linux acks only
 * F_SEQPACKET, or nothing); SEQPACKET if F_SEQPACKET; DGRAM if F_DGRAM. */
unsigned vsock_pkt_types_from_features(uint64_t acked);

/*
 * Copy the header out of the readable chain iov[0..niov) (it may be split
 * across descriptors) into *h and validate it:
 *   src_cid == guest_cid, dst_cid == 2, type in `types_ok`, op 1..7,
 *   len <= 64 KiB, len <= chain bytes after the header, len == 0 unless RW.
 * A DGRAM packet (type 3, only if in `types_ok`) must be RW with len
 * 1..VSOCK_DGRAM_MAX; its buf_alloc and fwd_cnt are ignored (no credit).
 * Flags are masked to what the op defines (SHUTDOWN: RCV|SEND; SEQPACKET
 * RW: EOM|EOR; else 0), so later code never sees undefined bits.
 * *h is filled as far as the chain allows even on error, so an RST reply
 * can be addressed.  The guest may rewrite the buffer at any time: only *h
 * is trusted afterwards.
 */
enum vsock_pkt_err vsock_pkt_parse(const struct iovec *iov, unsigned niov,
				   uint64_t guest_cid, unsigned types_ok,
				   struct vsock_hdr *h);

/* The same, where dst_cid may also be one of peers[0..npeers) (sibling VMs,
 * docs/vsock.md "Sibling VMs"); a short list, searched linearly. */
enum vsock_pkt_err vsock_pkt_parse_peers(const struct iovec *iov, unsigned niov,
					 uint64_t guest_cid, unsigned types_ok,
					 const uint64_t *peers, unsigned npeers,
					 struct vsock_hdr *h);

/* True if a packet refused with `e` deserves an RST reply (never for an
 * RST, never when the header is unreadable or its source spoofed, never
 * for a datagram). */
bool vsock_pkt_err_wants_rst(enum vsock_pkt_err e, const struct vsock_hdr *h);

/* --- building headers we send to the guest --------------------------- */

/* The (cid, port) pair on each side of a flow, as seen from the host:
 * packets to the guest go local → peer. */
struct vsock_addr {
	uint64_t local_cid;  /* VSOCK_HOST_CID */
	uint32_t local_port;
	uint64_t peer_cid;   /* the guest */
	uint32_t peer_port;
};

/* Our receive-side credit as advertised in every header. */
struct vsock_credit {
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
};

/* Fill *h for a packet local → peer.  buf_alloc/fwd_cnt always set. */
void vsock_hdr_build(struct vsock_hdr *h, const struct vsock_addr *a,
		     uint16_t type, uint16_t op, uint32_t flags, uint32_t len,
		     const struct vsock_credit *cr);

static inline void vsock_hdr_request(struct vsock_hdr *h, const struct vsock_addr *a,
				     uint16_t type, const struct vsock_credit *cr)
{
	vsock_hdr_build(h, a, type, VIRTIO_VSOCK_OP_REQUEST, 0, 0, cr);
}

static inline void vsock_hdr_response(struct vsock_hdr *h, const struct vsock_addr *a,
				      uint16_t type, const struct vsock_credit *cr)
{
	vsock_hdr_build(h, a, type, VIRTIO_VSOCK_OP_RESPONSE, 0, 0, cr);
}

static inline void vsock_hdr_rst(struct vsock_hdr *h, const struct vsock_addr *a,
				 uint16_t type, const struct vsock_credit *cr)
{
	vsock_hdr_build(h, a, type, VIRTIO_VSOCK_OP_RST, 0, 0, cr);
}

static inline void vsock_hdr_credit_update(struct vsock_hdr *h, const struct vsock_addr *a,
					   uint16_t type, const struct vsock_credit *cr)
{
	vsock_hdr_build(h, a, type, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 0, cr);
}

static inline void vsock_hdr_shutdown(struct vsock_hdr *h, const struct vsock_addr *a,
				      uint16_t type, uint32_t how,
				      const struct vsock_credit *cr)
{
	vsock_hdr_build(h, a, type, VIRTIO_VSOCK_OP_SHUTDOWN, how, 0, cr);
}

static inline void vsock_hdr_rw(struct vsock_hdr *h, const struct vsock_addr *a,
				uint16_t type, uint32_t len, uint32_t flags,
				const struct vsock_credit *cr)
{
	vsock_hdr_build(h, a, type, VIRTIO_VSOCK_OP_RW, flags, len, cr);
}

/* An RST answering guest packet `in` that matches no connection: source
 * and destination swapped, credit 0 (as Linux does).  A type the guest got
 * wrong is echoed back unchanged. */
void vsock_hdr_rst_reply(struct vsock_hdr *out, const struct vsock_hdr *in);

/* Host-endian ↔ wire. */
void vsock_hdr_encode(const struct vsock_hdr *h, struct virtio_vsock_hdr *wire);
void vsock_hdr_decode(const struct virtio_vsock_hdr *wire, struct vsock_hdr *h);

/* Write the encoded header at the start of a writable iovec list.  Returns
 * false (nothing useful written) if the list holds < 44 bytes. */
bool vsock_hdr_put(const struct iovec *iov, unsigned niov, const struct vsock_hdr *h);

#endif
