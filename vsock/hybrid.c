/* SPDX-License-Identifier: MIT */
/*
 * Hybrid vsock host protocol: CONNECT line parser, OK reply.  See hybrid.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "vsock/hybrid.h"

enum {
	S_LEAD,    /* whitespace before the keyword */
	S_KW,      /* inside "connect" */
	S_SEP,     /* right after the keyword: whitespace required */
	S_GAP,     /* whitespace before the port */
	S_SIGN,    /* after '+' */
	S_PORT,    /* digits */
	S_TRAIL,   /* whitespace after the port */
	S_FROM,    /* inside "from" of "connect-from" */
};

static const char keyword[] = "connect";
static const char from_kw[] = "from";

/* ASCII whitespace other than '\n', as Rust's split_whitespace sees it. */
static bool is_blank(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static uint8_t lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + ('a' - 'A')) : c;
}

void vsock_connect_init(struct vsock_connect_parser *p)
{
	memset(p, 0, sizeof(*p));
	p->state = S_LEAD;
	p->status = VSOCK_CONNECT_MORE;
}

/* One byte of the line; returns the new status. */
static enum vsock_connect_status step(struct vsock_connect_parser *p, uint8_t c)
{
	switch (p->state) {
	case S_LEAD:
		if (is_blank(c))
			return VSOCK_CONNECT_MORE;
		p->state = S_KW;
		/* fall through */
	case S_KW:
		if (lower(c) != (uint8_t)keyword[p->kw])
			return VSOCK_CONNECT_ERR_KEYWORD;
		if (++p->kw == sizeof(keyword) - 1)
			p->state = S_SEP;
		return VSOCK_CONNECT_MORE;
	case S_FROM:
		if (lower(c) != (uint8_t)from_kw[p->kw])
			return VSOCK_CONNECT_ERR_KEYWORD;
		if (++p->kw == sizeof(from_kw) - 1)
			p->state = S_SEP;
		return VSOCK_CONNECT_MORE;
	case S_SEP:
		if (c == '-' && !p->from) { /* "connect-from" */
			p->from = 1;
			p->kw = 0;
			p->state = S_FROM;
			return VSOCK_CONNECT_MORE;
		}
		if (c == '\n')
			return VSOCK_CONNECT_ERR_PORT;
		if (!is_blank(c))
			return VSOCK_CONNECT_ERR_KEYWORD; /* "connectx" */
		p->state = S_GAP;
		return VSOCK_CONNECT_MORE;
	case S_GAP:
		if (is_blank(c))
			return VSOCK_CONNECT_MORE;
		if (c == '+') {
			p->state = S_SIGN;
			return VSOCK_CONNECT_MORE;
		}
		/* fall through */
	case S_SIGN:
		if (!is_digit(c))
			return VSOCK_CONNECT_ERR_PORT;
		p->state = S_PORT;
		/* fall through */
	case S_PORT:
		if (is_digit(c)) {
			uint64_t v = (uint64_t)p->port * 10 + (uint64_t)(c - '0');

			if (v > UINT32_MAX)
				return VSOCK_CONNECT_ERR_RANGE;
			p->port = (uint32_t)v;
			return VSOCK_CONNECT_MORE;
		}
		if (c == '\n')
			return p->from && p->nnum < 2 ? VSOCK_CONNECT_ERR_PORT
						      : VSOCK_CONNECT_DONE;
		if (!is_blank(c))
			return VSOCK_CONNECT_ERR_PORT; /* "12ab" */
		if (p->from && p->nnum < 2) { /* cid, then src_port */
			if (p->nnum++ == 0)
				p->from_cid = p->port;
			else
				p->from_port = p->port;
			p->port = 0;
			p->state = S_GAP;
			return VSOCK_CONNECT_MORE;
		}
		p->state = S_TRAIL;
		return VSOCK_CONNECT_MORE;
	case S_TRAIL:
		if (c == '\n')
			return VSOCK_CONNECT_DONE;
		if (is_blank(c))
			return VSOCK_CONNECT_MORE;
		return VSOCK_CONNECT_ERR_TRAILING;
	}
	return VSOCK_CONNECT_ERR_KEYWORD;
}

static unsigned line_max(const struct vsock_connect_parser *p)
{
	return p->from ? VSOCK_CONNECT_FROM_LINE_MAX : VSOCK_CONNECT_LINE_MAX;
}

enum vsock_connect_status vsock_connect_feed(struct vsock_connect_parser *p,
					     const void *buf, size_t len,
					     size_t *used)
{
	const uint8_t *b = buf;
	size_t i = 0;

	while (p->status == VSOCK_CONNECT_MORE && i < len) {
		if (p->len >= line_max(p)) {
			p->status = VSOCK_CONNECT_ERR_TOO_LONG;
			break;
		}
		p->len++;
		p->status = step(p, b[i++]);
	}
	/* A full line without '\n' is too long even if no byte follows yet. */
	if (p->status == VSOCK_CONNECT_MORE && p->len >= line_max(p))
		p->status = VSOCK_CONNECT_ERR_TOO_LONG;
	*used = i;
	return p->status;
}

enum vsock_connect_status vsock_connect_eof(struct vsock_connect_parser *p)
{
	if (p->status == VSOCK_CONNECT_MORE)
		p->status = VSOCK_CONNECT_ERR_EOF;
	return p->status;
}

size_t vsock_format_ok(char *buf, size_t size, uint32_t host_port)
{
	int n;

	if (size < VSOCK_OK_LINE_MAX)
		return 0;
	n = snprintf(buf, size, "OK %u\n", host_port);
	return n > 0 ? (size_t)n : 0;
}

size_t vsock_format_connect_from(char *buf, size_t size, uint32_t cid,
				 uint32_t src_port, uint32_t dst_port)
{
	int n;

	if (size < VSOCK_CONNECT_FROM_LINE_MAX)
		return 0;
	n = snprintf(buf, size, "CONNECT-FROM %u %u %u\n", cid, src_port, dst_port);
	return n > 0 ? (size_t)n : 0;
}

int vsock_ok_parse(const void *buf, size_t len, size_t *used, uint32_t *port)
{
	const uint8_t *b = buf;
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < len && i < VSOCK_OK_LINE_MAX; i++) {
		if (i < 3) {
			if (b[i] != "OK "[i])
				return -EPROTO;
			continue;
		}
		if (b[i] == '\n') {
			if (i == 3)
				return -EPROTO;
			*used = i + 1;
			*port = (uint32_t)v;
			return 1;
		}
		if (!is_digit(b[i]))
			return -EPROTO;
		v = v * 10 + (uint64_t)(b[i] - '0');
		if (v > UINT32_MAX)
			return -EPROTO;
	}
	return i < VSOCK_OK_LINE_MAX ? 0 : -EPROTO;
}
