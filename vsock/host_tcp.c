/* SPDX-License-Identifier: MIT */
/*
 * The TCP backend: every guest connection it is asked for goes to one TCP
 * address (a forward_out entry).  Numeric addresses only, resolved when the
 * config was read, so nothing here ever waits for DNS; the connect is
 * non-blocking (the device waits for EPOLLOUT and reads SO_ERROR, with its
 * 2 s connect deadline) and TCP_NODELAY is set, since vsock peers expect
 * small writes to leave at once.  STREAM only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "vsock/backend.h"
#include "vsock/packet.h"
#include "vsock/sock.h"

struct tcp_be {
	struct vsock_backend base;
	struct sockaddr_storage sa;
	socklen_t salen;
};

static int tcp_connect(struct vsock_backend *base, uint32_t port, uint16_t type,
		       bool *in_progress)
{
	struct tcp_be *be = (struct tcp_be *)base;

	(void)port;
	if (type != VIRTIO_VSOCK_TYPE_STREAM)
		return -EPROTOTYPE; /* TCP cannot keep message boundaries */
	return vsock_sock_tcp_connect((struct sockaddr *)&be->sa, be->salen, in_progress);
}

static void tcp_destroy(struct vsock_backend *base)
{
	free(base);
}

int vsock_tcp_backend_create(const struct sockaddr *sa, unsigned salen,
			     struct vsock_backend **out)
{
	struct tcp_be *be;

	if (salen > sizeof(be->sa) || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return -EINVAL;
	be = calloc(1, sizeof(*be));
	if (!be)
		return -ENOMEM;
	memcpy(&be->sa, sa, salen);
	be->salen = salen;
	be->base.connect = tcp_connect;
	be->base.destroy = tcp_destroy;
	*out = &be->base;
	return 0;
}
