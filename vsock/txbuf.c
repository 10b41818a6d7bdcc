/* SPDX-License-Identifier: MIT */
/*
 * Per-connection guest → host byte ring.  See txbuf.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vsock/iov.h"
#include "vsock/txbuf.h"

#define TXBUF_MIN_CAP 4096u

void vsock_txbuf_init(struct vsock_txbuf *tb, uint32_t max)
{
	memset(tb, 0, sizeof(*tb));
	tb->max = max;
}

void vsock_txbuf_free(struct vsock_txbuf *tb)
{
	free(tb->buf);
	tb->buf = NULL;
	tb->cap = tb->head = tb->len = 0;
	free(tb->msg);
	tb->msg = NULL;
	tb->msg_cap = tb->msg_head = tb->msg_n = 0;
	tb->partial = 0;
}

/* Make room for `need` bytes in all, keeping the contents in order. */
static int reserve(struct vsock_txbuf *tb, uint32_t need)
{
	uint32_t cap = tb->cap ? tb->cap : TXBUF_MIN_CAP;
	uint8_t *nb;
	struct iovec old[2];
	unsigned n;
	size_t at = 0;

	if (need <= tb->cap)
		return 0;
	while (cap < need)
		cap = cap > UINT32_MAX / 2 ? UINT32_MAX : cap * 2;
	if (cap > tb->max)
		cap = tb->max;
	nb = malloc(cap);
	if (!nb)
		return -ENOMEM;
	/* Linearise the old contents at the start of the new ring. */
	n = vsock_txbuf_peek(tb, old);
	for (unsigned i = 0; i < n; i++) {
		memcpy(nb + at, old[i].iov_base, old[i].iov_len);
		at += old[i].iov_len;
	}
	free(tb->buf);
	tb->buf = nb;
	tb->cap = cap;
	tb->head = 0;
	return 0;
}

/* Where the next byte goes, and how many fit contiguously there. */
static uint32_t tail_room(const struct vsock_txbuf *tb, uint32_t *tail)
{
	uint32_t t = tb->head + tb->len;

	if (t >= tb->cap)
		t -= tb->cap;
	*tail = t;
	return t >= tb->head && tb->len < tb->cap ? tb->cap - t : tb->head - t;
}

int vsock_txbuf_push_iov(struct vsock_txbuf *tb, const struct iovec *iov,
			 unsigned niov, size_t off, size_t len)
{
	int err;

	if (len > (size_t)(tb->max - tb->len))
		return -ENOSPC;
	if (len == 0)
		return 0;
	if (vsock_iov_len(iov, niov) < off || vsock_iov_len(iov, niov) - off < len)
		return -EINVAL;
	err = reserve(tb, tb->len + (uint32_t)len);
	if (err)
		return err;
	while (len > 0) {
		uint32_t tail, room = tail_room(tb, &tail);
		size_t n = len < room ? len : room;

		vsock_iov_to_buf(iov, niov, off, tb->buf + tail, n);
		tb->len += (uint32_t)n;
		tb->partial += (uint32_t)n;
		off += n;
		len -= n;
	}
	return 0;
}

int vsock_txbuf_push(struct vsock_txbuf *tb, const void *data, size_t len)
{
	struct iovec iov = { (void *)data, len };

	return vsock_txbuf_push_iov(tb, &iov, 1, 0, len);
}

unsigned vsock_txbuf_peek(const struct vsock_txbuf *tb, struct iovec out[2])
{
	uint32_t first;

	if (tb->len == 0)
		return 0;
	first = tb->cap - tb->head;
	if (first >= tb->len) {
		out[0] = (struct iovec){ tb->buf + tb->head, tb->len };
		return 1;
	}
	out[0] = (struct iovec){ tb->buf + tb->head, first };
	out[1] = (struct iovec){ tb->buf, tb->len - first };
	return 2;
}

/* Stream use: consumed bytes leave the "partial" count as well, which
 * for stream flows is simply every byte held. */
void vsock_txbuf_consume(struct vsock_txbuf *tb, size_t n)
{
	if (n >= tb->len && tb->msg_n == 0) {
		/* Empty: give the memory back; most connections never need it. */
		vsock_txbuf_free(tb);
		return;
	}
	if (n > tb->len)
		n = tb->len;
	tb->head += (uint32_t)n;
	if (tb->head >= tb->cap)
		tb->head -= tb->cap;
	tb->len -= (uint32_t)n;
	if (tb->partial > tb->len)
		tb->partial = tb->len;
}

int vsock_txbuf_msg_end(struct vsock_txbuf *tb, bool eor)
{
	if (tb->msg_n >= VSOCK_TXBUF_MAX_MSGS)
		return -ENOSPC;
	if (tb->msg_n == tb->msg_cap) {
		uint32_t cap = tb->msg_cap ? tb->msg_cap * 2 : 16;
		uint32_t *nm = malloc(cap * sizeof(*nm));

		if (!nm)
			return -ENOMEM;
		for (uint32_t i = 0; i < tb->msg_n; i++)
			nm[i] = tb->msg[(tb->msg_head + i) % tb->msg_cap];
		free(tb->msg);
		tb->msg = nm;
		tb->msg_cap = cap;
		tb->msg_head = 0;
	}
	tb->msg[(tb->msg_head + tb->msg_n) % tb->msg_cap] =
		tb->partial | (eor ? VSOCK_TXBUF_MSG_EOR : 0);
	tb->msg_n++;
	tb->partial = 0;
	return 0;
}

bool vsock_txbuf_msg_peek(const struct vsock_txbuf *tb, uint32_t *len, bool *eor)
{
	uint32_t r;

	if (tb->msg_n == 0)
		return false;
	r = tb->msg[tb->msg_head];
	*len = r & ~VSOCK_TXBUF_MSG_EOR;
	*eor = (r & VSOCK_TXBUF_MSG_EOR) != 0;
	return true;
}

void vsock_txbuf_msg_consume(struct vsock_txbuf *tb)
{
	uint32_t len, partial = tb->partial;
	bool eor;

	if (!vsock_txbuf_msg_peek(tb, &len, &eor))
		return;
	tb->msg_head = (tb->msg_head + 1) % tb->msg_cap;
	tb->msg_n--;
	if (tb->msg_n == 0 && tb->len == len) {
		vsock_txbuf_free(tb);
		return;
	}
	vsock_txbuf_consume(tb, len);
	tb->partial = partial;
}

uint32_t vsock_txbuf_drop_partial(struct vsock_txbuf *tb)
{
	uint32_t n = tb->partial;

	tb->len -= n;
	tb->partial = 0;
	if (tb->len == 0 && tb->msg_n == 0)
		vsock_txbuf_free(tb);
	return n;
}
