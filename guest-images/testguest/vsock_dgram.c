/* SPDX-License-Identifier: MIT */
/*
 * Guest-side vsock datagrams: bound ports and their receive queues
 * (vsock_dgram.h; docs/vsock.md, "Datagrams", for the format).
 */
#include "vsock_dgram.h"

#include "heap.h"
#include "str.h"

struct vdg_sock {
	uint32_t port;
	bool used;
	unsigned depth;
	uint32_t maxlen;
	unsigned head, count;   /* ring of depth entries */
	uint8_t *data;          /* depth * maxlen bytes */
	uint32_t *len, *src;    /* per entry */
};

struct vdg_stats vdg_stats;
static struct vdg_sock socks[VDG_SOCKS];

static struct vdg_sock *find(uint32_t port)
{
	for (unsigned i = 0; i < VDG_SOCKS; i++)
		if (socks[i].used && socks[i].port == port)
			return &socks[i];
	return NULL;
}

struct vdg_sock *vdg_open(uint32_t port, unsigned depth, uint32_t maxlen)
{
	struct vdg_sock *s = NULL;

	if (find(port) || depth == 0 || maxlen == 0 || maxlen > VDG_MAX)
		return NULL;
	for (unsigned i = 0; i < VDG_SOCKS && !s; i++)
		if (!socks[i].used)
			s = &socks[i];
	if (!s)
		return NULL;
	*s = (struct vdg_sock){ .port = port, .depth = depth, .maxlen = maxlen };
	s->data = heap_alloc((size_t)depth * maxlen, 64);
	s->len = heap_alloc(sizeof(uint32_t) * depth, 8);
	s->src = heap_alloc(sizeof(uint32_t) * depth, 8);
	if (!s->data || !s->len || !s->src)
		return NULL;
	s->used = true;
	return s;
}

int vdg_send(uint32_t sport, uint32_t dport, const void *buf, uint32_t n)
{
	/* §5.10.6 header; for a datagram op RW, no flags, and no credit:
	 * buf_alloc and fwd_cnt are 0 (docs/vsock.md). */
	struct vsock_hdr h = {
		.src_cid = vsd_cid(), .dst_cid = VSOCK_HOST_CID,
		.src_port = sport, .dst_port = dport, .len = n,
		.type = VSOCK_TYPE_DGRAM, .op = VSOCK_OP_RW,
	};

	if (!vsd_dgram() || n == 0 || n > VDG_MAX || n > vsd_txpkt())
		return -2;
	if (vsd_tx(&h, buf, n))
		return -1;
	vdg_stats.tx_pkts++;
	vdg_stats.tx_bytes += n;
	return 0;
}

/* What a correct device sends (docs/vsock.md, "On the wire"). */
static bool well_formed(const struct vsock_hdr *h, uint32_t n)
{
	return h->op == VSOCK_OP_RW && n > 0 && n <= VDG_MAX && h->flags == 0 &&
	       h->buf_alloc == 0 && h->fwd_cnt == 0 &&
	       h->src_cid == VSOCK_HOST_CID && h->dst_cid == vsd_cid();
}

void vdg_on_rx(const struct vsock_hdr *h, const uint8_t *p, uint32_t n)
{
	struct vdg_sock *s;
	unsigned slot;

	if (!vsd_dgram()) {
		/* A device must not use a type whose feature bit (§5.10.3)
		 * the driver did not ack. */
		vdg_stats.unexpected++;
		return;
	}
	if (!well_formed(h, n)) {
		vdg_stats.bad++;
		return;
	}
	s = find(h->dst_port);
	if (!s) {
		vdg_stats.no_port++;
		return;
	}
	if (n > s->maxlen) {
		vdg_stats.too_long++;
		return;
	}
	if (s->count == s->depth) {
		vdg_stats.queue_full++;
		return;
	}
	slot = (s->head + s->count) % s->depth;
	memcpy(s->data + (size_t)slot * s->maxlen, p, n);
	s->len[slot] = n;
	s->src[slot] = h->src_port;
	s->count++;
	vdg_stats.rx_pkts++;
	vdg_stats.rx_bytes += n;
}

long vdg_recv(struct vdg_sock *s, void *buf, uint32_t size, uint32_t *src_port)
{
	uint32_t len;

	if (s->count == 0)
		return 0;
	len = s->len[s->head];
	memcpy(buf, s->data + (size_t)s->head * s->maxlen, len < size ? len : size);
	if (src_port)
		*src_port = s->src[s->head];
	s->head = (s->head + 1) % s->depth;
	s->count--;
	return (long)len;
}

unsigned vdg_pending(const struct vdg_sock *s)
{
	return s->count;
}
