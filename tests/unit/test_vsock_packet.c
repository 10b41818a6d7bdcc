// SPDX-License-Identifier: MIT
/*
 * vsock packet headers: every guest-controlled field of a tx header is
 * validated, headers split across descriptors parse, builders fill credit,
 * and the wire layout is the spec's.
 */
#include <check.h>
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "vsock/packet.h"

#define GUEST_CID 3u
#define ALL_TYPES (VSOCK_TYPE_BIT(VIRTIO_VSOCK_TYPE_STREAM) | \
		   VSOCK_TYPE_BIT(VIRTIO_VSOCK_TYPE_SEQPACKET))

static uint8_t pkt[VSOCK_HDR_SIZE + VSOCK_MAX_PKT_LEN + 16];

/* A valid stream RW from the guest, len bytes of payload. */
static struct vsock_hdr good_hdr(uint16_t op, uint32_t len)
{
	return (struct vsock_hdr){
		.src_cid = GUEST_CID, .dst_cid = VSOCK_HOST_CID,
		.src_port = 1234, .dst_port = 52, .len = len,
		.type = VIRTIO_VSOCK_TYPE_STREAM, .op = op,
		.buf_alloc = 262144, .fwd_cnt = 77,
	};
}

/* Encode h into pkt[] and parse it back from one iovec of hdr + avail
 * payload bytes. */
static enum vsock_pkt_err parse1(const struct vsock_hdr *h, size_t avail,
				 unsigned types, struct vsock_hdr *out)
{
	struct iovec iov = { pkt, VSOCK_HDR_SIZE + avail };

	vsock_hdr_encode(h, (struct virtio_vsock_hdr *)pkt);
	return vsock_pkt_parse(&iov, 1, GUEST_CID, types, out);
}

static void assert_hdr_eq(const struct vsock_hdr *a, const struct vsock_hdr *b)
{
	ck_assert_uint_eq(a->src_cid, b->src_cid);
	ck_assert_uint_eq(a->dst_cid, b->dst_cid);
	ck_assert_uint_eq(a->src_port, b->src_port);
	ck_assert_uint_eq(a->dst_port, b->dst_port);
	ck_assert_uint_eq(a->len, b->len);
	ck_assert_uint_eq(a->type, b->type);
	ck_assert_uint_eq(a->op, b->op);
	ck_assert_uint_eq(a->flags, b->flags);
	ck_assert_uint_eq(a->buf_alloc, b->buf_alloc);
	ck_assert_uint_eq(a->fwd_cnt, b->fwd_cnt);
}

static enum vsock_pkt_err parse_hdr(const struct vsock_hdr *h, struct vsock_hdr *out)
{
	return parse1(h, h->len, ALL_TYPES, out);
}

START_TEST(valid_rw_decodes_every_field)
{
	struct vsock_hdr h = good_hdr(VIRTIO_VSOCK_OP_RW, 100), out;

	ck_assert_int_eq(parse_hdr(&h, &out), VSOCK_PKT_OK);
	ck_assert_uint_eq(out.src_cid, GUEST_CID);
	ck_assert_uint_eq(out.dst_cid, VSOCK_HOST_CID);
	ck_assert_uint_eq(out.src_port, 1234);
	ck_assert_uint_eq(out.dst_port, 52);
	ck_assert_uint_eq(out.len, 100);
	ck_assert_uint_eq(out.type, VIRTIO_VSOCK_TYPE_STREAM);
	ck_assert_uint_eq(out.op, VIRTIO_VSOCK_OP_RW);
	ck_assert_uint_eq(out.buf_alloc, 262144);
	ck_assert_uint_eq(out.fwd_cnt, 77);
}
END_TEST

START_TEST(every_known_op_parses)
{
	for (uint16_t op = VIRTIO_VSOCK_OP_REQUEST; op <= VIRTIO_VSOCK_OP_CREDIT_REQUEST; op++) {
		struct vsock_hdr h = good_hdr(op, op == VIRTIO_VSOCK_OP_RW ? 1 : 0), out;

		ck_assert_int_eq(parse_hdr(&h, &out), VSOCK_PKT_OK);
		ck_assert_uint_eq(out.op, op);
	}
}
END_TEST

START_TEST(header_split_across_descriptors)
{
	struct vsock_hdr h = good_hdr(VIRTIO_VSOCK_OP_RW, 8), out;
	uint8_t wire[VSOCK_HDR_SIZE + 8];
	/* 1 + 9 + 0 + 30 + 4 header bytes, then payload in two pieces. */
	struct iovec iov[] = {
		{ wire, 1 }, { wire + 1, 9 }, { wire + 10, 0 }, { wire + 10, 30 },
		{ wire + 40, 6 }, { wire + 46, 6 },
	};

	vsock_hdr_encode(&h, (struct virtio_vsock_hdr *)wire);
	ck_assert_int_eq(vsock_pkt_parse(iov, 6, GUEST_CID, ALL_TYPES, &out), VSOCK_PKT_OK);
	assert_hdr_eq(&out, &h);
}
END_TEST

START_TEST(short_header_is_dropped)
{
	struct vsock_hdr h = good_hdr(VIRTIO_VSOCK_OP_REQUEST, 0), out;
	struct iovec iov[2] = { { pkt, 20 }, { pkt + 20, 23 } };

	vsock_hdr_encode(&h, (struct virtio_vsock_hdr *)pkt);
	ck_assert_int_eq(vsock_pkt_parse(iov, 2, GUEST_CID, ALL_TYPES, &out),
			 VSOCK_PKT_ERR_HDR_SHORT);
	ck_assert(!vsock_pkt_err_wants_rst(VSOCK_PKT_ERR_HDR_SHORT, &out));
	ck_assert_int_eq(vsock_pkt_parse(NULL, 0, GUEST_CID, ALL_TYPES, &out),
			 VSOCK_PKT_ERR_HDR_SHORT);
	iov[1].iov_len = 24; /* exactly 44 */
	ck_assert_int_eq(vsock_pkt_parse(iov, 2, GUEST_CID, ALL_TYPES, &out), VSOCK_PKT_OK);
}
END_TEST

START_TEST(src_cid_must_be_guest)
{
	static const uint64_t bad[] = { 0, 1, 2, 4, 0xffffffffu, ~0ull,
					GUEST_CID | (1ull << 32) };
	struct vsock_hdr out;

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vsock_hdr h = good_hdr(VIRTIO_VSOCK_OP_REQUEST, 0);

		h.src_cid = bad[i];
		ck_assert_int_eq(parse_hdr(&h, &out), VSOCK_PKT_ERR_SRC_CID);
		/* Spoofed source: never answered. */
		ck_assert(!vsock_pkt_err_wants_rst(VSOCK_PKT_ERR_SRC_CID, &out));
	}
}
END_TEST

START_TEST(dst_cid_must_be_host)
{
	static const uint64_t bad[] = { 0, 1, 3, 0xffffffffu, ~0ull, 2 | (1ull << 32) };
	struct vsock_hdr out;

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vsock_hdr h = good_hdr(VIRTIO_VSOCK_OP_REQUEST, 0);

		h.dst_cid = bad[i];
		ck_assert_int_eq(parse_hdr(&h, &out), VSOCK_PKT_ERR_DST_CID);
		ck_assert(vsock_pkt_err_wants_rst(VSOCK_PKT_ERR_DST_CID, &out));
	}
}
END_TEST

START_TEST(unknown_type_gets_rst)
{
	static const uint16_t bad[] = { 0, 4, 31, 32, 0x8001, 0xffff };
	struct vsock_hdr out;

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vsock_hdr h = good_hdr(VIRTIO_VSOCK_OP_REQUEST, 0);

		h.type = bad[i];
		ck_assert_int_eq(parse_hdr(&h, &out), VSOCK_PKT_ERR_TYPE);
		ck_assert(vsock_pkt_err_wants_rst(VSOCK_PKT_ERR_TYPE, &out));
	}
}
END_TEST

START_TEST(type_must_be_negotiated)
{
	struct vsock_hdr h = good_hdr(VIRTIO_VSOCK_OP_REQUEST, 0), out;
	unsigned stream_only = VSOCK_TYPE_BIT(VIRTIO_VSOCK_TYPE_STREAM);
	unsigned seq_only = VSOCK_TYPE_BIT(VIRTIO_VSOCK_TYPE_SEQPACKET);

	h.type = VIRTIO_VSOCK_TYPE_SEQPACKET;
	ck_assert_int_eq(parse1(&h, 0, stream_only, &out), VSOCK_PKT_ERR_TYPE);
	ck_assert_int_eq(parse1(&h, 0, seq_only, &out), VSOCK_PKT_OK);
	h.type = VIRTIO_VSOCK_TYPE_STREAM;
	ck_assert_int_eq(parse1(&h, 0, seq_only, &out), VSOCK_PKT_ERR_TYPE);
	ck_assert_int_eq(parse1(&h, 0, 0, &out), VSOCK_PKT_ERR_TYPE);
}
END_TEST

/* Type 3 (DGRAM) without F_DGRAM: refused as an unknown type, but
 * dropped without an RST (datagrams are connectionless). */
START_TEST(dgram_not_negotiated_dropped)
{
	struct vsock_hdr h = good_hdr(VIRTIO_VSOCK_OP_RW, 10), out;

	h.type = VIRTIO_VSOCK_TYPE_DGRAM;
	ck_assert_int_eq(parse1(&h, 10, ALL_TYPES, &out), VSOCK_PKT_ERR_TYPE);
	ck_assert(!vsock_pkt_err_wants_rst(VSOCK_PKT_ERR_TYPE, &out));
	h.op = VIRTIO_VSOCK_OP_REQUEST;
	h.len = 0;
	ck_assert_int_eq(parse1(&h, 0, ALL_TYPES, &out), VSOCK_PKT_ERR_TYPE);
	ck_assert(!vsock_pkt_err_wants_rst(VSOCK_PKT_ERR_TYPE, &out));
}
END_TEST

#define DG_TYPES (ALL_TYPES | VSOCK_TYPE_BIT(VIRTIO_VSOCK_TYPE_DGRAM))

static struct vsock_hdr dgram_hdr(uint32_t len)
{
	struct vsock_hdr h = good_hdr(VIRTIO_VSOCK_OP_RW, len);

	h.type = VIRTIO_VSOCK_TYPE_DGRAM;
	return h;
}

START_TEST(dgram_rw_accepted_credit_ignored)
{
	struct vsock_hdr h = dgram_hdr(1), out;

	h.flags = 0xffffffffu;
	ck_assert_int_eq(parse1(&h, 1, DG_TYPES, &out), VSOCK_PKT_OK);
	ck_assert_uint_eq(out.type, VIRTIO_VSOCK_TYPE_DGRAM);
	ck_assert_uint_eq(out.len, 1);
	ck_assert_uint_eq(out.flags, 0);
	ck_assert_uint_eq(out.buf_alloc, 0);
	ck_assert_uint_eq(out.fwd_cnt, 0);
	h = dgram_hdr(VSOCK_DGRAM_MAX);
	ck_assert_int_eq(parse1(&h, VSOCK_DGRAM_MAX, DG_TYPES, &out), VSOCK_PKT_OK);
	ck_assert_uint_eq(out.len, VSOCK_DGRAM_MAX);
}
END_TEST

START_TEST(dgram_only_rw)
{
	struct vsock_hdr out;

	for (uint16_t op = VIRTIO_VSOCK_OP_REQUEST; op <= VIRTIO_VSOCK_OP_CREDIT_REQUEST; op++) {
		struct vsock_hdr h = dgram_hdr(0);

		if (op == VIRTIO_VSOCK_OP_RW)
			continue;
		h.op = op;
		ck_assert_int_eq(parse1(&h, 0, DG_TYPES, &out), VSOCK_PKT_ERR_DGRAM_OP);
		ck_assert(!vsock_pkt_err_wants_rst(VSOCK_PKT_ERR_DGRAM_OP, &out));
	}
	/* An unknown op is refused as for any type, still without an RST. */
	{
		struct vsock_hdr h = dgram_hdr(0);

		h.op = 99;
		ck_assert_int_eq(parse1(&h, 0, DG_TYPES, &out), VSOCK_PKT_ERR_OP);
		ck_assert(!vsock_pkt_err_wants_rst(VSOCK_PKT_ERR_OP, &out));
	}
}
END_TEST

START_TEST(dgram_len_bounds)
{
	struct vsock_hdr h = dgram_hdr(0), out;

	ck_assert_int_eq(parse1(&h, 0, DG_TYPES, &out), VSOCK_PKT_ERR_DGRAM_LEN);
	h.len = VSOCK_DGRAM_MAX + 1;
	ck_assert_int_eq(parse1(&h, VSOCK_DGRAM_MAX + 1, DG_TYPES, &out),
			 VSOCK_PKT_ERR_DGRAM_LEN);
	h.len = 0xffffffffu;
	ck_assert_int_eq(parse1(&h, 16, DG_TYPES, &out), VSOCK_PKT_ERR_DGRAM_LEN);
	ck_assert(!vsock_pkt_err_wants_rst(VSOCK_PKT_ERR_DGRAM_LEN, &out));
	/* len beyond the chain: the generic error, no RST. */
	h.len = 100;
	ck_assert_int_eq(parse1(&h, 99, DG_TYPES, &out), VSOCK_PKT_ERR_LEN_CHAIN);
	ck_assert(!vsock_pkt_err_wants_rst(VSOCK_PKT_ERR_LEN_CHAIN, &out));
	/* A datagram to a CID other than the host: dropped, no RST. */
	h.len = 4;
	h.dst_cid = 7;
	ck_assert_int_eq(parse1(&h, 4, DG_TYPES, &out), VSOCK_PKT_ERR_DST_CID);
	ck_assert(!vsock_pkt_err_wants_rst(VSOCK_PKT_ERR_DST_CID, &out));
}
END_TEST

START_TEST(types_from_features)
{
	unsigned st = VSOCK_TYPE_BIT(VIRTIO_VSOCK_TYPE_STREAM);
	unsigned sq = VSOCK_TYPE_BIT(VIRTIO_VSOCK_TYPE_SEQPACKET);
	uint64_t F_ST = 1ull << VSOCK_F_STREAM, F_SQ = 1ull << VSOCK_F_SEQPACKET;
	uint64_t F_NI = 1ull << VSOCK_F_NO_IMPLIED_STREAM;

	ck_assert_uint_eq(vsock_pkt_types_from_features(0), st);
	ck_assert_uint_eq(vsock_pkt_types_from_features(F_SQ), st | sq); /* Linux */
	ck_assert_uint_eq(vsock_pkt_types_from_features(F_ST), st);
	ck_assert_uint_eq(vsock_pkt_types_from_features(F_ST | F_SQ | F_NI), st | sq);
	ck_assert_uint_eq(vsock_pkt_types_from_features(F_SQ | F_NI), sq);
	ck_assert_uint_eq(vsock_pkt_types_from_features(F_ST | F_NI), st);
	ck_assert_uint_eq(vsock_pkt_types_from_features(F_NI), 0);
	ck_assert_uint_eq(vsock_pkt_types_from_features(1ull << VSOCK_F_DGRAM),
			  st | VSOCK_TYPE_BIT(VIRTIO_VSOCK_TYPE_DGRAM));
	/* Unrelated transport bits change nothing. */
	ck_assert_uint_eq(vsock_pkt_types_from_features(1ull << 32 | 1ull << 29), st);
}
END_TEST

START_TEST(unknown_op_gets_rst)
{
	static const uint16_t bad[] = { VIRTIO_VSOCK_OP_INVALID, 8, 9, 0x100, 0xffff };
	struct vsock_hdr out;

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vsock_hdr h = good_hdr(bad[i], 0);

		ck_assert_int_eq(parse_hdr(&h, &out), VSOCK_PKT_ERR_OP);
		ck_assert(vsock_pkt_err_wants_rst(VSOCK_PKT_ERR_OP, &out));
	}
}
END_TEST

START_TEST(never_rst_an_rst)
{
	struct vsock_hdr h = good_hdr(VIRTIO_VSOCK_OP_RST, 0), out;

	h.dst_cid = 7;
	ck_assert_int_eq(parse_hdr(&h, &out), VSOCK_PKT_ERR_DST_CID);
	ck_assert(!vsock_pkt_err_wants_rst(VSOCK_PKT_ERR_DST_CID, &out));
	h = good_hdr(VIRTIO_VSOCK_OP_RST, 5);
	ck_assert_int_eq(parse_hdr(&h, &out), VSOCK_PKT_ERR_LEN_NONZERO);
	ck_assert(!vsock_pkt_err_wants_rst(VSOCK_PKT_ERR_LEN_NONZERO, &out));
	ck_assert(!vsock_pkt_err_wants_rst(VSOCK_PKT_OK, &out));
}
END_TEST

START_TEST(len_limited_to_64k)
{
	struct vsock_hdr h = good_hdr(VIRTIO_VSOCK_OP_RW, VSOCK_MAX_PKT_LEN), out;

	ck_assert_int_eq(parse1(&h, VSOCK_MAX_PKT_LEN + 16, ALL_TYPES, &out), VSOCK_PKT_OK);
	h.len = VSOCK_MAX_PKT_LEN + 1;
	ck_assert_int_eq(parse1(&h, VSOCK_MAX_PKT_LEN + 16, ALL_TYPES, &out),
			 VSOCK_PKT_ERR_LEN_MAX);
	ck_assert(vsock_pkt_err_wants_rst(VSOCK_PKT_ERR_LEN_MAX, &out));
	h.len = 0xffffffffu;
	ck_assert_int_eq(parse1(&h, 16, ALL_TYPES, &out), VSOCK_PKT_ERR_LEN_MAX);
}
END_TEST

START_TEST(len_limited_to_chain)
{
	struct vsock_hdr h = good_hdr(VIRTIO_VSOCK_OP_RW, 100), out;

	ck_assert_int_eq(parse1(&h, 99, ALL_TYPES, &out), VSOCK_PKT_ERR_LEN_CHAIN);
	ck_assert(vsock_pkt_err_wants_rst(VSOCK_PKT_ERR_LEN_CHAIN, &out));
	ck_assert_int_eq(parse1(&h, 0, ALL_TYPES, &out), VSOCK_PKT_ERR_LEN_CHAIN);
	ck_assert_int_eq(parse1(&h, 100, ALL_TYPES, &out), VSOCK_PKT_OK);
	/* Buffers longer than len are fine (spec: only len bytes are used). */
	ck_assert_int_eq(parse1(&h, 4000, ALL_TYPES, &out), VSOCK_PKT_OK);
	ck_assert_uint_eq(out.len, 100);
	/* A zero-length RW (SEQPACKET empty message) is legal. */
	h.len = 0;
	ck_assert_int_eq(parse1(&h, 0, ALL_TYPES, &out), VSOCK_PKT_OK);
}
END_TEST

START_TEST(len_must_be_zero_unless_rw)
{
	for (uint16_t op = VIRTIO_VSOCK_OP_REQUEST; op <= VIRTIO_VSOCK_OP_CREDIT_REQUEST; op++) {
		struct vsock_hdr h = good_hdr(op, 1), out;

		if (op == VIRTIO_VSOCK_OP_RW)
			continue;
		ck_assert_int_eq(parse_hdr(&h, &out), VSOCK_PKT_ERR_LEN_NONZERO);
	}
}
END_TEST

START_TEST(flags_masked_to_meaning)
{
	struct vsock_hdr h, out;

	h = good_hdr(VIRTIO_VSOCK_OP_SHUTDOWN, 0);
	h.flags = 0xffffffffu;
	ck_assert_int_eq(parse_hdr(&h, &out), VSOCK_PKT_OK);
	ck_assert_uint_eq(out.flags, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);

	h = good_hdr(VIRTIO_VSOCK_OP_RW, 0);
	h.flags = 0xffffffffu;
	ck_assert_int_eq(parse_hdr(&h, &out), VSOCK_PKT_OK);
	ck_assert_uint_eq(out.flags, 0); /* stream RW has no flags */

	h.type = VIRTIO_VSOCK_TYPE_SEQPACKET;
	h.flags = 0xfffffff5u;
	ck_assert_int_eq(parse_hdr(&h, &out), VSOCK_PKT_OK);
	ck_assert_uint_eq(out.flags, VIRTIO_VSOCK_SEQ_EOM);

	for (uint16_t op = VIRTIO_VSOCK_OP_REQUEST; op <= VIRTIO_VSOCK_OP_CREDIT_REQUEST; op++) {
		if (op == VIRTIO_VSOCK_OP_RW || op == VIRTIO_VSOCK_OP_SHUTDOWN)
			continue;
		h = good_hdr(op, 0);
		h.flags = 0xffffffffu;
		ck_assert_int_eq(parse_hdr(&h, &out), VSOCK_PKT_OK);
		ck_assert_uint_eq(out.flags, 0);
	}
}
END_TEST

START_TEST(validation_copies_before_checking)
{
	/* After parsing, *out is ours: rewriting the guest buffer changes
	 * nothing. */
	struct vsock_hdr h = good_hdr(VIRTIO_VSOCK_OP_RW, 10), out;

	ck_assert_int_eq(parse_hdr(&h, &out), VSOCK_PKT_OK);
	memset(pkt, 0xff, VSOCK_HDR_SIZE);
	ck_assert_uint_eq(out.len, 10);
	ck_assert_uint_eq(out.op, VIRTIO_VSOCK_OP_RW);
}
END_TEST

START_TEST(wire_layout_is_little_endian_packed)
{
	struct vsock_hdr h = {
		.src_cid = 0x0102030405060708ull, .dst_cid = 0x1112131415161718ull,
		.src_port = 0x21222324, .dst_port = 0x31323334, .len = 0x41424344,
		.type = 0x5152, .op = 0x6162, .flags = 0x71727374,
		.buf_alloc = 0x81828384, .fwd_cnt = 0x91929394,
	}, back;
	uint8_t w[VSOCK_HDR_SIZE];

	vsock_hdr_encode(&h, (struct virtio_vsock_hdr *)w);
	ck_assert_uint_eq(w[0], 0x08);  ck_assert_uint_eq(w[7], 0x01);
	ck_assert_uint_eq(w[8], 0x18);  ck_assert_uint_eq(w[15], 0x11);
	ck_assert_uint_eq(w[16], 0x24); ck_assert_uint_eq(w[20], 0x34);
	ck_assert_uint_eq(w[24], 0x44); ck_assert_uint_eq(w[28], 0x52);
	ck_assert_uint_eq(w[30], 0x62); ck_assert_uint_eq(w[32], 0x74);
	ck_assert_uint_eq(w[36], 0x84); ck_assert_uint_eq(w[40], 0x94);
	ck_assert_uint_eq(w[43], 0x91);
	vsock_hdr_decode((struct virtio_vsock_hdr *)w, &back);
	assert_hdr_eq(&back, &h);
}
END_TEST

START_TEST(builders_fill_credit)
{
	struct vsock_addr a = { .local_cid = VSOCK_HOST_CID, .local_port = 52,
				.peer_cid = GUEST_CID, .peer_port = 1234 };
	struct vsock_credit cr = { .buf_alloc = 65536, .fwd_cnt = 999 };
	struct vsock_hdr h;

	vsock_hdr_response(&h, &a, VIRTIO_VSOCK_TYPE_STREAM, &cr);
	ck_assert_uint_eq(h.op, VIRTIO_VSOCK_OP_RESPONSE);
	ck_assert_uint_eq(h.src_cid, VSOCK_HOST_CID);
	ck_assert_uint_eq(h.dst_cid, GUEST_CID);
	ck_assert_uint_eq(h.src_port, 52);
	ck_assert_uint_eq(h.dst_port, 1234);
	ck_assert_uint_eq(h.len, 0);
	ck_assert_uint_eq(h.flags, 0);
	ck_assert_uint_eq(h.buf_alloc, 65536);
	ck_assert_uint_eq(h.fwd_cnt, 999);

	vsock_hdr_rst(&h, &a, VIRTIO_VSOCK_TYPE_SEQPACKET, &cr);
	ck_assert_uint_eq(h.op, VIRTIO_VSOCK_OP_RST);
	ck_assert_uint_eq(h.type, VIRTIO_VSOCK_TYPE_SEQPACKET);
	ck_assert_uint_eq(h.buf_alloc, 65536);

	vsock_hdr_credit_update(&h, &a, VIRTIO_VSOCK_TYPE_STREAM, &cr);
	ck_assert_uint_eq(h.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	ck_assert_uint_eq(h.fwd_cnt, 999);

	vsock_hdr_shutdown(&h, &a, VIRTIO_VSOCK_TYPE_STREAM, VIRTIO_VSOCK_SHUTDOWN_SEND, &cr);
	ck_assert_uint_eq(h.op, VIRTIO_VSOCK_OP_SHUTDOWN);
	ck_assert_uint_eq(h.flags, VIRTIO_VSOCK_SHUTDOWN_SEND);
	ck_assert_uint_eq(h.buf_alloc, 65536);

	vsock_hdr_rw(&h, &a, VIRTIO_VSOCK_TYPE_SEQPACKET, 4052, VIRTIO_VSOCK_SEQ_EOM, &cr);
	ck_assert_uint_eq(h.op, VIRTIO_VSOCK_OP_RW);
	ck_assert_uint_eq(h.len, 4052);
	ck_assert_uint_eq(h.flags, VIRTIO_VSOCK_SEQ_EOM);
	ck_assert_uint_eq(h.fwd_cnt, 999);

	vsock_hdr_request(&h, &a, VIRTIO_VSOCK_TYPE_STREAM, &cr);
	ck_assert_uint_eq(h.op, VIRTIO_VSOCK_OP_REQUEST);
	ck_assert_uint_eq(h.buf_alloc, 65536);
}
END_TEST

START_TEST(rst_reply_swaps_addresses)
{
	struct vsock_hdr in = good_hdr(VIRTIO_VSOCK_OP_REQUEST, 0), out;

	in.dst_cid = 9;
	in.type = 7;
	in.buf_alloc = 5;
	vsock_hdr_rst_reply(&out, &in);
	ck_assert_uint_eq(out.op, VIRTIO_VSOCK_OP_RST);
	ck_assert_uint_eq(out.src_cid, 9);
	ck_assert_uint_eq(out.dst_cid, GUEST_CID);
	ck_assert_uint_eq(out.src_port, 52);
	ck_assert_uint_eq(out.dst_port, 1234);
	ck_assert_uint_eq(out.type, 7);
	ck_assert_uint_eq(out.len, 0);
	ck_assert_uint_eq(out.buf_alloc, 0);
	ck_assert_uint_eq(out.fwd_cnt, 0);
}
END_TEST

START_TEST(hdr_put_into_split_rx_buffer)
{
	uint8_t a[10], b[100];
	struct iovec iov[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
	struct vsock_hdr h = good_hdr(VIRTIO_VSOCK_OP_RW, 3), back;
	uint8_t flat[VSOCK_HDR_SIZE];

	ck_assert(vsock_hdr_put(iov, 2, &h));
	memcpy(flat, a, 10);
	memcpy(flat + 10, b, 34);
	vsock_hdr_decode((struct virtio_vsock_hdr *)flat, &back);
	assert_hdr_eq(&back, &h);

	iov[1].iov_len = 33; /* 43 bytes in all */
	ck_assert(!vsock_hdr_put(iov, 2, &h));
	ck_assert(!vsock_hdr_put(NULL, 0, &h));
}
END_TEST

START_TEST(err_names)
{
	ck_assert_str_eq(vsock_pkt_err_name(VSOCK_PKT_ERR_TYPE), "type");
	ck_assert_str_eq(vsock_pkt_err_name(VSOCK_PKT_ERR_COUNT), "?");
	for (int e = 0; e < VSOCK_PKT_ERR_COUNT; e++)
		ck_assert_ptr_nonnull(vsock_pkt_err_name((enum vsock_pkt_err)e));
}
END_TEST

static Suite *packet_suite(void)
{
	Suite *s = suite_create("vsock_packet");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, valid_rw_decodes_every_field);
	tcase_add_test(tc, every_known_op_parses);
	tcase_add_test(tc, header_split_across_descriptors);
	tcase_add_test(tc, short_header_is_dropped);
	tcase_add_test(tc, src_cid_must_be_guest);
	tcase_add_test(tc, dst_cid_must_be_host);
	tcase_add_test(tc, unknown_type_gets_rst);
	tcase_add_test(tc, type_must_be_negotiated);
	tcase_add_test(tc, types_from_features);
	tcase_add_test(tc, dgram_not_negotiated_dropped);
	tcase_add_test(tc, dgram_rw_accepted_credit_ignored);
	tcase_add_test(tc, dgram_only_rw);
	tcase_add_test(tc, dgram_len_bounds);
	tcase_add_test(tc, unknown_op_gets_rst);
	tcase_add_test(tc, never_rst_an_rst);
	tcase_add_test(tc, len_limited_to_64k);
	tcase_add_test(tc, len_limited_to_chain);
	tcase_add_test(tc, len_must_be_zero_unless_rw);
	tcase_add_test(tc, flags_masked_to_meaning);
	tcase_add_test(tc, validation_copies_before_checking);
	suite_add_tcase(s, tc);

	tc = tcase_create("build");
	tcase_add_test(tc, wire_layout_is_little_endian_packed);
	tcase_add_test(tc, builders_fill_credit);
	tcase_add_test(tc, rst_reply_swaps_addresses);
	tcase_add_test(tc, hdr_put_into_split_rx_buffer);
	tcase_add_test(tc, err_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(packet_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
