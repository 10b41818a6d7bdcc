/* SPDX-License-Identifier: MIT */
/*
 * How a driver lays out its vsock buffers, counted per descriptor chain.
 * Drivers differ and have changed: Linux up to 6.1 puts the 44-byte header
 * in a descriptor of its own, 6.2 moved header and payload into one buffer,
 * 6.12 sends a 64 KiB packet as 44 + 32768 + 32768 (non-linear skbs), and
 * a device that assumes any one of these corrupts data on the others
 * (virtio 1.2 §2.7.4: "the device MUST NOT make assumptions about the
 * particular arrangement of descriptors").  We assume none; these counters
 * show operators and docs/vsock.md what a guest actually sends.
 */
#ifndef VSOCK_SHAPE_H
#define VSOCK_SHAPE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

/* Chains by descriptor count: 1, 2, 3, 4 or more. */
#define VSOCK_SHAPE_DESC_BUCKETS 4

struct vsock_shape_stats {
	/* tx: guest → device, the readable part of each chain. */
	uint64_t tx_chains;
	uint64_t tx_descs[VSOCK_SHAPE_DESC_BUCKETS];
	uint64_t tx_indirect;     /* chains in an indirect table */
	uint64_t tx_hdr_alone;    /* payload after a header-only descriptor */
	uint64_t tx_hdr_joined;   /* header and payload start in one descriptor */
	uint32_t tx_desc_max;     /* largest readable descriptor, bytes */
	uint32_t tx_chain_max;    /* largest readable chain, bytes */
	/* rx: device → guest, the writable part of each chain popped. */
	uint64_t rx_chains;
	uint64_t rx_descs[VSOCK_SHAPE_DESC_BUCKETS];
	uint64_t rx_indirect;
	uint32_t rx_buf_min;      /* smallest writable chain, bytes (0: none) */
	uint32_t rx_buf_max;
};

/* A tx chain's readable descriptors iov[0 .. n). */
void vsock_shape_tx(struct vsock_shape_stats *s, const struct iovec *iov,
		    unsigned n, bool indirect);

/* An rx chain's writable descriptors iov[0 .. n), `len` bytes in all. */
void vsock_shape_rx(struct vsock_shape_stats *s, unsigned n, uint32_t len,
		    bool indirect);

#endif
