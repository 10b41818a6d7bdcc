/* SPDX-License-Identifier: MIT */
/*
 * Hybrid vsock, the host-side protocol of Firecracker and Cloud Hypervisor:
 * a host client connects to the VMM's Unix socket `uds_path`, writes
 * `CONNECT <port>\n` and, if a guest socket accepts, reads back
 * `OK <host_port>\n`; from then on the stream is raw bytes.  This file has
 * the pieces that need no socket: the line parser and the reply (the host
 * port in it comes from port_alloc.h).
 *
 * Accepted line (what Firecracker's muxer accepts, which splits the line on
 * ASCII whitespace and parses the second word as a u32):
 *   [ws] "connect" (any case) ws+ ["+"] digits [ws] "\n"
 * where ws is space, \t, \v, \f or \r, and the whole line including "\n" is
 * at most 32 bytes.  Stricter than Firecracker in two corner cases nobody
 * relies on: a third word is refused, and "\n" always ends the line.
 */
#ifndef VSOCK_HYBRID_H
#define VSOCK_HYBRID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VSOCK_CONNECT_LINE_MAX 32u  /* bytes, including the '\n' */
/* A sibling VMM's "CONNECT-FROM <cid> <src_port> <dst_port>\n" (docs/vsock.md
 * "Sibling VMs"): longer, so it has its own limit. */
#define VSOCK_CONNECT_FROM_LINE_MAX 64u
#define VSOCK_OK_LINE_MAX      16u  /* "OK 4294967295\n" + NUL */

enum vsock_connect_status {
	VSOCK_CONNECT_MORE = 0,     /* no '\n' yet: feed more bytes */
	VSOCK_CONNECT_DONE,         /* a valid line: vsock_connect_port() */
	VSOCK_CONNECT_ERR_KEYWORD,  /* the first word is not CONNECT */
	VSOCK_CONNECT_ERR_PORT,     /* port missing or not decimal */
	VSOCK_CONNECT_ERR_RANGE,    /* port > 4294967295 */
	VSOCK_CONNECT_ERR_TRAILING, /* something after the port */
	VSOCK_CONNECT_ERR_TOO_LONG, /* no '\n' within VSOCK_CONNECT_LINE_MAX */
	VSOCK_CONNECT_ERR_EOF,      /* the client closed mid-line */
};

struct vsock_connect_parser {
	uint8_t state;
	uint8_t kw;       /* keyword characters matched */
	uint8_t len;      /* line bytes consumed */
	uint8_t status;   /* enum vsock_connect_status, sticky once final */
	uint32_t port;
	uint8_t from;     /* "CONNECT-FROM" line */
	uint8_t nnum;     /* numbers completed on a FROM line (cid, src_port) */
	uint32_t from_cid, from_port;
};

void vsock_connect_init(struct vsock_connect_parser *p);

/*
 * Feed bytes as they arrive (any split, one byte at a time is fine).
 * *used gets the bytes that belong to the line: on DONE everything after
 * them is stream payload for the guest, so read with MSG_PEEK and then
 * consume only *used.  Once DONE or an error, it stays so (*used = 0).
 */
enum vsock_connect_status vsock_connect_feed(struct vsock_connect_parser *p,
					     const void *buf, size_t len,
					     size_t *used);

/* The client closed: ERR_EOF unless the line was already complete (or
 * failed). */
enum vsock_connect_status vsock_connect_eof(struct vsock_connect_parser *p);

/* The port of a DONE line. */
static inline uint32_t vsock_connect_port(const struct vsock_connect_parser *p)
{
	return p->port;
}

/* A DONE line was "CONNECT-FROM <cid> <src_port> <port>\n": a sibling VMM
 * connecting for its guest (cid, src_port).  Same whitespace and number rules
 * as CONNECT; at most VSOCK_CONNECT_FROM_LINE_MAX bytes. */
static inline bool vsock_connect_is_from(const struct vsock_connect_parser *p)
{
	return p->from;
}

static inline uint32_t vsock_connect_from_cid(const struct vsock_connect_parser *p)
{
	return p->from_cid;
}

static inline uint32_t vsock_connect_from_port(const struct vsock_connect_parser *p)
{
	return p->from_port;
}

/* Write "CONNECT-FROM <cid> <src_port> <dst_port>\n" into buf (size >=
 * VSOCK_CONNECT_FROM_LINE_MAX); returns its length, or 0 if too small. */
size_t vsock_format_connect_from(char *buf, size_t size, uint32_t cid,
				 uint32_t src_port, uint32_t dst_port);

/* Parse a sibling's reply "OK <port>\n" at the start of buf[0..len):
 * 1 with *used (line bytes, '\n' included) and *port; 0 if more bytes are
 * needed (no '\n' yet and len < VSOCK_OK_LINE_MAX); -EPROTO otherwise. */
int vsock_ok_parse(const void *buf, size_t len, size_t *used, uint32_t *port);

/* Write "OK <host_port>\n" (no NUL needed by the peer) into buf; returns
 * its length, or 0 if size < VSOCK_OK_LINE_MAX. */
size_t vsock_format_ok(char *buf, size_t size, uint32_t host_port);

#endif
