/* SPDX-License-Identifier: MIT */
/*
 * Per-connection buffer for guest → host bytes the host socket could not
 * take yet.  A ring of at most `max` bytes (the credit we granted, so a
 * guest within its credit always fits), allocated on first use, grown by
 * doubling and freed again when it empties: idle connections cost nothing.
 * Not thread safe.
 */
#ifndef VSOCK_TXBUF_H
#define VSOCK_TXBUF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct vsock_txbuf {
	uint8_t *buf;
	uint32_t cap;    /* allocated bytes, 0 when empty */
	uint32_t max;    /* hard limit */
	uint32_t head;   /* offset of the oldest byte */
	uint32_t len;    /* bytes held */
};

void vsock_txbuf_init(struct vsock_txbuf *tb, uint32_t max);
void vsock_txbuf_free(struct vsock_txbuf *tb);

static inline uint32_t vsock_txbuf_len(const struct vsock_txbuf *tb)
{
	return tb->len;
}

/* Append bytes [off, off + len) of an iovec list / a flat buffer.  0, or
 * -ENOSPC (would exceed max; nothing appended), -ENOMEM, -EINVAL (the list
 * is shorter than off + len). */
int vsock_txbuf_push_iov(struct vsock_txbuf *tb, const struct iovec *iov,
			 unsigned niov, size_t off, size_t len);
int vsock_txbuf_push(struct vsock_txbuf *tb, const void *data, size_t len);

/* The held bytes, oldest first, as at most two iovecs (for writev). */
unsigned vsock_txbuf_peek(const struct vsock_txbuf *tb, struct iovec out[2]);

/* Drop the n oldest bytes (n <= len). */
void vsock_txbuf_consume(struct vsock_txbuf *tb, size_t n);

#endif
