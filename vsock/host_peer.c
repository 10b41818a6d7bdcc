/* SPDX-License-Identifier: MIT */
/*
 * Sibling VMs (docs/vsock.md "Sibling VMs"): a router in front of the
 * hybrid chain.  Guest connections to a peer's CID go to that peer VMM's
 * hybrid socket (uds_path, or "<uds_path>_seqpacket" for SEQPACKET), with
 * "CONNECT-FROM <our_cid> <src_port> <port>\n" written at once: a Unix
 * connect completes at once or fails, and a fresh socket's send buffer
 * always takes the 64-byte line, so nothing here ever waits.  The device
 * then reads the peer's "OK <port>\n" before it answers its guest.
 * Everything else goes to the fallback.  All fields are fixed after
 * creation: connect_cid runs under the device lock on any thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "vsock/backend.h"
#include "vsock/hybrid.h"
#include "vsock/packet.h"
#include "vsock/sock.h"

#define SEQ_SUFFIX "_seqpacket"

struct peer_be {
	struct vsock_backend base;      /* first: the device sees this */
	struct vsock_backend *fallback; /* may be NULL */
	uint64_t our_cid;
	struct vsock_peer *peers;       /* paths owned */
	unsigned npeers;
};

static int peer_connect(struct vsock_backend *base, uint32_t port, uint16_t type,
			bool *in_progress)
{
	struct peer_be *be = (struct peer_be *)base;

	if (!be->fallback)
		return -ECONNREFUSED;
	return be->fallback->connect(be->fallback, port, type, in_progress);
}

static int peer_connect_cid(struct vsock_backend *base, uint64_t cid, uint32_t src_port,
			    uint32_t port, uint16_t type)
{
	struct peer_be *be = (struct peer_be *)base;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char line[VSOCK_CONNECT_FROM_LINE_MAX];
	const struct vsock_peer *p = NULL;
	bool in_progress = false;
	size_t len;
	int fd, n, st;

	for (unsigned i = 0; i < be->npeers && !p; i++)
		if (be->peers[i].cid == cid)
			p = &be->peers[i];
	if (!p)
		return -EHOSTUNREACH;
	if (type == VIRTIO_VSOCK_TYPE_STREAM) {
		st = SOCK_STREAM;
		n = snprintf(path, sizeof(path), "%s", p->path);
	} else if (type == VIRTIO_VSOCK_TYPE_SEQPACKET) {
		st = SOCK_SEQPACKET;
		n = snprintf(path, sizeof(path), "%s%s", p->path, SEQ_SUFFIX);
	} else {
		return -EPROTOTYPE;
	}
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	/* ENOENT / ECONNREFUSED: the sibling is not running; EAGAIN: its
	 * backlog is full.  The guest gets RST at once. */
	fd = vsock_sock_unix_connect(path, st, &in_progress);
	if (fd < 0)
		return fd;
	len = vsock_format_connect_from(line, sizeof(line), (uint32_t)be->our_cid,
					src_port, port);
	/* One message on seqpacket; on stream the line is all the sibling
	 * reads before its OK, so it cannot be split by later guest data. */
	if (in_progress || len == 0 ||
	    send(fd, line, len, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)len) {
		close(fd);
		return -ECONNREFUSED;
	}
	return fd;
}

static int peer_listen(struct vsock_backend *base, const struct vsock_host_sink *sink)
{
	struct peer_be *be = (struct peer_be *)base;

	if (!be->fallback || !be->fallback->listen)
		return 0;
	return be->fallback->listen(be->fallback, sink);
}

static void peer_destroy(struct vsock_backend *base)
{
	struct peer_be *be = (struct peer_be *)base;

	if (be->fallback)
		be->fallback->destroy(be->fallback);
	for (unsigned i = 0; i < be->npeers; i++)
		free((char *)be->peers[i].path);
	free(be->peers);
	free(be);
}

int vsock_peer_backend_create(uint64_t our_cid, const struct vsock_peer *peers,
			      unsigned npeers, struct vsock_backend *fallback,
			      struct vsock_backend **out)
{
	struct peer_be *be = calloc(1, sizeof(*be));

	if (!be || !(be->peers = calloc(npeers ? npeers : 1, sizeof(*be->peers)))) {
		free(be);
		if (fallback)
			fallback->destroy(fallback);
		return -ENOMEM;
	}
	be->base.connect = peer_connect;
	be->base.connect_cid = peer_connect_cid;
	be->base.listen = peer_listen;
	be->base.destroy = peer_destroy;
	be->fallback = fallback;
	be->our_cid = our_cid;
	for (unsigned i = 0; i < npeers; i++) {
		be->peers[i].cid = peers[i].cid;
		be->peers[i].path = strdup(peers[i].path);
		be->npeers++;
		if (!be->peers[i].path) {
			peer_destroy(&be->base);
			return -ENOMEM;
		}
	}
	*out = &be->base;
	return 0;
}
