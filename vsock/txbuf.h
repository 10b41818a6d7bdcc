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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* SEQPACKET: at most this many complete messages wait for the host (a
 * guest can send zero-length messages without using credit, so their
 * number needs its own bound: 16 KiB of records). */
#define VSOCK_TXBUF_MAX_MSGS 4096u
#define VSOCK_TXBUF_MSG_EOR  (1u << 31) /* record flag: the message had EOR */

struct vsock_txbuf {
	uint8_t *buf;
	uint32_t cap;    /* allocated bytes, 0 when empty */
	uint32_t max;    /* hard limit */
	uint32_t head;   /* offset of the oldest byte */
	uint32_t len;    /* bytes held */

	/* SEQPACKET message boundaries: the held bytes are complete messages
	 * (lengths in msg[], oldest first) followed by `partial` bytes of a
	 * message still arriving.  Unused (all 0) for stream flows. */
	uint32_t *msg;   /* ring of lengths | VSOCK_TXBUF_MSG_EOR */
	uint32_t msg_cap, msg_head, msg_n;
	uint32_t partial;
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

/* --- SEQPACKET messages (bytes pushed count as `partial` until ended) --- */

/* The bytes pushed since the last message end form one message (maybe
 * empty).  0, or -ENOSPC (VSOCK_TXBUF_MAX_MSGS pending), -ENOMEM. */
int vsock_txbuf_msg_end(struct vsock_txbuf *tb, bool eor);

/* Complete messages held. */
static inline uint32_t vsock_txbuf_msgs(const struct vsock_txbuf *tb)
{
	return tb->msg_n;
}

/* Length (and EOR) of the oldest complete message; false if none. */
bool vsock_txbuf_msg_peek(const struct vsock_txbuf *tb, uint32_t *len, bool *eor);

/* Drop the oldest complete message (its bytes and its record). */
void vsock_txbuf_msg_consume(struct vsock_txbuf *tb);

/* Drop the bytes of the unfinished message at the tail; returns how many. */
uint32_t vsock_txbuf_drop_partial(struct vsock_txbuf *tb);

#endif
