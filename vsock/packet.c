/* SPDX-License-Identifier: MIT */
/*
 * virtio-vsock packet headers: parse, validate, build.  See packet.h.
 */
#include <endian.h>
#include <string.h>

#include "vsock/iov.h"
#include "vsock/packet.h"

_Static_assert(sizeof(struct virtio_vsock_hdr) == VSOCK_HDR_SIZE,
	       "virtio_vsock_hdr must be 44 bytes");

static const char *const err_names[VSOCK_PKT_ERR_COUNT] = {
	[VSOCK_PKT_OK] = "ok",
	[VSOCK_PKT_ERR_HDR_SHORT] = "hdr_short",
	[VSOCK_PKT_ERR_SRC_CID] = "src_cid",
	[VSOCK_PKT_ERR_DST_CID] = "dst_cid",
	[VSOCK_PKT_ERR_TYPE] = "type",
	[VSOCK_PKT_ERR_OP] = "op",
	[VSOCK_PKT_ERR_LEN_MAX] = "len_max",
	[VSOCK_PKT_ERR_LEN_CHAIN] = "len_chain",
	[VSOCK_PKT_ERR_LEN_NONZERO] = "len_nonzero",
	[VSOCK_PKT_ERR_DGRAM_OP] = "dgram_op",
	[VSOCK_PKT_ERR_DGRAM_LEN] = "dgram_len",
};

const char *vsock_pkt_err_name(enum vsock_pkt_err e)
{
	if ((unsigned)e >= VSOCK_PKT_ERR_COUNT)
		return "?";
	return err_names[e];
}

unsigned vsock_pkt_types_from_features(uint64_t acked)
{
	unsigned ok = 0;

	/* Spec 5.10.3: no bit, or SEQPACKET without NO_IMPLIED_STREAM, still
	 * means stream sockets work. */
	if ((acked & (1ull << VSOCK_F_STREAM)) ||
	    !(acked & (1ull << VSOCK_F_NO_IMPLIED_STREAM)))
		ok |= VSOCK_TYPE_BIT(VIRTIO_VSOCK_TYPE_STREAM);
	if (acked & (1ull << VSOCK_F_SEQPACKET))
		ok |= VSOCK_TYPE_BIT(VIRTIO_VSOCK_TYPE_SEQPACKET);
	if (acked & (1ull << VSOCK_F_DGRAM))
		ok |= VSOCK_TYPE_BIT(VIRTIO_VSOCK_TYPE_DGRAM);
	return ok;
}

void vsock_hdr_decode(const struct virtio_vsock_hdr *w, struct vsock_hdr *h)
{
	h->src_cid = le64toh(w->src_cid);
	h->dst_cid = le64toh(w->dst_cid);
	h->src_port = le32toh(w->src_port);
	h->dst_port = le32toh(w->dst_port);
	h->len = le32toh(w->len);
	h->type = le16toh(w->type);
	h->op = le16toh(w->op);
	h->flags = le32toh(w->flags);
	h->buf_alloc = le32toh(w->buf_alloc);
	h->fwd_cnt = le32toh(w->fwd_cnt);
}

void vsock_hdr_encode(const struct vsock_hdr *h, struct virtio_vsock_hdr *w)
{
	w->src_cid = htole64(h->src_cid);
	w->dst_cid = htole64(h->dst_cid);
	w->src_port = htole32(h->src_port);
	w->dst_port = htole32(h->dst_port);
	w->len = htole32(h->len);
	w->type = htole16(h->type);
	w->op = htole16(h->op);
	w->flags = htole32(h->flags);
	w->buf_alloc = htole32(h->buf_alloc);
	w->fwd_cnt = htole32(h->fwd_cnt);
}

static bool op_known(uint16_t op)
{
	return op >= VIRTIO_VSOCK_OP_REQUEST && op <= VIRTIO_VSOCK_OP_CREDIT_REQUEST;
}

/* The flag bits `op` defines for `type`; everything else is dropped. */
static uint32_t flags_mask(uint16_t type, uint16_t op)
{
	if (op == VIRTIO_VSOCK_OP_SHUTDOWN)
		return VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND;
	if (op == VIRTIO_VSOCK_OP_RW && type == VIRTIO_VSOCK_TYPE_SEQPACKET)
		return VIRTIO_VSOCK_SEQ_EOM | VIRTIO_VSOCK_SEQ_EOR;
	return 0;
}

enum vsock_pkt_err vsock_pkt_parse(const struct iovec *iov, unsigned niov,
				   uint64_t guest_cid, unsigned types_ok,
				   struct vsock_hdr *h)
{
	return vsock_pkt_parse_peers(iov, niov, guest_cid, types_ok, NULL, 0, h);
}

static bool cid_in(const uint64_t *cids, unsigned n, uint64_t cid)
{
	for (unsigned i = 0; i < n; i++)
		if (cids[i] == cid)
			return true;
	return false;
}

enum vsock_pkt_err vsock_pkt_parse_peers(const struct iovec *iov, unsigned niov,
					 uint64_t guest_cid, unsigned types_ok,
					 const uint64_t *peers, unsigned npeers,
					 struct vsock_hdr *h)
{
	struct virtio_vsock_hdr wire;
	size_t total, payload;

	/* Copy first, then look: the guest can change its buffer under us. */
	memset(&wire, 0, sizeof(wire));
	total = vsock_iov_to_buf(iov, niov, 0, &wire, sizeof(wire));
	vsock_hdr_decode(&wire, h);
	if (total < VSOCK_HDR_SIZE)
		return VSOCK_PKT_ERR_HDR_SHORT;
	payload = vsock_iov_len(iov, niov) - VSOCK_HDR_SIZE;

	if (h->src_cid != guest_cid)
		return VSOCK_PKT_ERR_SRC_CID;
	if (h->type >= 32 || !(types_ok & VSOCK_TYPE_BIT(h->type)))
		return VSOCK_PKT_ERR_TYPE;
	if (!op_known(h->op))
		return VSOCK_PKT_ERR_OP;
	h->flags &= flags_mask(h->type, h->op);
	if (h->dst_cid != VSOCK_HOST_CID && !cid_in(peers, npeers, h->dst_cid))
		return VSOCK_PKT_ERR_DST_CID;
	if (h->type == VIRTIO_VSOCK_TYPE_DGRAM) {
		/* One datagram is one RW packet; no credit to account. */
		if (h->op != VIRTIO_VSOCK_OP_RW)
			return VSOCK_PKT_ERR_DGRAM_OP;
		if (h->len == 0 || h->len > VSOCK_DGRAM_MAX)
			return VSOCK_PKT_ERR_DGRAM_LEN;
		h->buf_alloc = 0;
		h->fwd_cnt = 0;
	}
	if (h->op != VIRTIO_VSOCK_OP_RW && h->len != 0)
		return VSOCK_PKT_ERR_LEN_NONZERO;
	if (h->len > VSOCK_MAX_PKT_LEN)
		return VSOCK_PKT_ERR_LEN_MAX;
	if (h->len > payload)
		return VSOCK_PKT_ERR_LEN_CHAIN;
	return VSOCK_PKT_OK;
}

bool vsock_pkt_err_wants_rst(enum vsock_pkt_err e, const struct vsock_hdr *h)
{
	switch (e) {
	case VSOCK_PKT_OK:
	case VSOCK_PKT_ERR_HDR_SHORT:
	case VSOCK_PKT_ERR_SRC_CID:
	case VSOCK_PKT_ERR_COUNT:
		return false;
	default:
		if (h->type == VIRTIO_VSOCK_TYPE_DGRAM)
			return false; /* connectionless: nothing to reset */
		/* Never answer an RST with an RST (two devices could ping-pong). */
		return h->op != VIRTIO_VSOCK_OP_RST;
	}
}

void vsock_hdr_build(struct vsock_hdr *h, const struct vsock_addr *a,
		     uint16_t type, uint16_t op, uint32_t flags, uint32_t len,
		     const struct vsock_credit *cr)
{
	*h = (struct vsock_hdr){
		.src_cid = a->local_cid,
		.dst_cid = a->peer_cid,
		.src_port = a->local_port,
		.dst_port = a->peer_port,
		.len = len,
		.type = type,
		.op = op,
		.flags = flags,
		.buf_alloc = cr->buf_alloc,
		.fwd_cnt = cr->fwd_cnt,
	};
}

void vsock_hdr_rst_reply(struct vsock_hdr *out, const struct vsock_hdr *in)
{
	*out = (struct vsock_hdr){
		.src_cid = in->dst_cid,
		.dst_cid = in->src_cid,
		.src_port = in->dst_port,
		.dst_port = in->src_port,
		.type = in->type,
		.op = VIRTIO_VSOCK_OP_RST,
	};
}

bool vsock_hdr_put(const struct iovec *iov, unsigned niov, const struct vsock_hdr *h)
{
	struct virtio_vsock_hdr wire;

	if (vsock_iov_len(iov, niov) < VSOCK_HDR_SIZE)
		return false;
	vsock_hdr_encode(h, &wire);
	return vsock_iov_from_buf(iov, niov, 0, &wire, sizeof(wire)) == VSOCK_HDR_SIZE;
}
