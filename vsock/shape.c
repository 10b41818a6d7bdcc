// SPDX-License-Identifier: MIT
#include "vsock/shape.h"
#include "vsock/packet.h"

static unsigned bucket(unsigned n)
{
	return n == 0 ? 0 : (n < VSOCK_SHAPE_DESC_BUCKETS ? n : VSOCK_SHAPE_DESC_BUCKETS) - 1;
}

void vsock_shape_tx(struct vsock_shape_stats *s, const struct iovec *iov,
		    unsigned n, bool indirect)
{
	uint64_t total = 0;

	s->tx_chains++;
	s->tx_descs[bucket(n)]++;
	if (indirect)
		s->tx_indirect++;
	for (unsigned i = 0; i < n; i++) {
		if (iov[i].iov_len > s->tx_desc_max)
			s->tx_desc_max = (uint32_t)iov[i].iov_len;
		total += iov[i].iov_len;
	}
	if (total > s->tx_chain_max)
		s->tx_chain_max = (uint32_t)total;   /* chains fit 32 bits */
	/* Only packets that carry a payload tell the two layouts apart. */
	if (n > 0 && total > VSOCK_HDR_SIZE) {
		if (iov[0].iov_len == VSOCK_HDR_SIZE)
			s->tx_hdr_alone++;
		else if (iov[0].iov_len > VSOCK_HDR_SIZE)
			s->tx_hdr_joined++;
		/* else the header itself is split: neither */
	}
}

void vsock_shape_rx(struct vsock_shape_stats *s, unsigned n, uint32_t len,
		    bool indirect)
{
	s->rx_chains++;
	s->rx_descs[bucket(n)]++;
	if (indirect)
		s->rx_indirect++;
	if (!s->rx_buf_min || len < s->rx_buf_min)
		s->rx_buf_min = len;
	if (len > s->rx_buf_max)
		s->rx_buf_max = len;
}
