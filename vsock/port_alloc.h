/* SPDX-License-Identifier: MIT */
/*
 * Host ports for host-initiated connections (a hybrid client's CONNECT, a
 * forward_in client): the local port the guest sees as the source of the
 * connection request.  Taken from [2^30, 2^31), far from the ports people
 * pick, as Firecracker does.
 */
#ifndef VSOCK_PORT_ALLOC_H
#define VSOCK_PORT_ALLOC_H

#include <stdint.h>

#include "vsock/conntab.h"

#define VSOCK_HOST_PORT_FIRST (1u << 30)
#define VSOCK_HOST_PORT_END   (1u << 31) /* exclusive */

/*
 * Hands out host ports for host-initiated connections round-robin over
 * [2^30, 2^31), skipping ports still in use, at most `max` at a time.
 * O(1) expected per call (at most max + 1 probes of an O(1) set, and the
 * range is 2^30 wide), memory bounded by max.  Not thread safe.
 */
struct vsock_port_alloc {
	struct vsock_conntab used;
	uint32_t next;
};

/* max ports in use at once; first = where to start (clamped into range).
 * 0, -EINVAL, -ENOMEM. */
int vsock_port_alloc_init(struct vsock_port_alloc *pa, uint32_t max, uint32_t first);
void vsock_port_alloc_destroy(struct vsock_port_alloc *pa);

/* A free port into *port: 0, or -ENOSPC when max ports are in use. */
int vsock_port_alloc(struct vsock_port_alloc *pa, uint32_t *port);

/* Give a port back (ignored if not allocated). */
void vsock_port_release(struct vsock_port_alloc *pa, uint32_t port);

#endif
