// SPDX-License-Identifier: MIT
/* Host port allocator.  See port_alloc.h. */
#include <errno.h>

#include "vsock/port_alloc.h"

#define PORT_SPAN (VSOCK_HOST_PORT_END - VSOCK_HOST_PORT_FIRST)

/* Any non-NULL marker: the set stores keys only. */
static char in_use_mark;

int vsock_port_alloc_init(struct vsock_port_alloc *pa, uint32_t max, uint32_t first)
{
	if (max > PORT_SPAN)
		max = PORT_SPAN;
	if (first < VSOCK_HOST_PORT_FIRST || first >= VSOCK_HOST_PORT_END)
		first = VSOCK_HOST_PORT_FIRST;
	pa->next = first;
	return vsock_conntab_init(&pa->used, max);
}

void vsock_port_alloc_destroy(struct vsock_port_alloc *pa)
{
	vsock_conntab_destroy(&pa->used);
}

int vsock_port_alloc(struct vsock_port_alloc *pa, uint32_t *port)
{
	if (vsock_conntab_count(&pa->used) >= pa->used.max)
		return -ENOSPC;
	/* At most count + 1 candidates are tried: only count can be taken. */
	for (;;) {
		uint32_t p = pa->next;

		pa->next = p + 1 == VSOCK_HOST_PORT_END ? VSOCK_HOST_PORT_FIRST : p + 1;
		int err = vsock_conntab_add(&pa->used, p, 0, &in_use_mark);

		if (err == 0)
			*port = p;
		if (err != -EEXIST)
			return err;
	}
}

void vsock_port_release(struct vsock_port_alloc *pa, uint32_t port)
{
	vsock_conntab_del(&pa->used, port, 0);
}
