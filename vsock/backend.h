/* SPDX-License-Identifier: MIT */
/*
 * The host side of vsock flows, one small interface so Unix, TCP and future
 * backends share the device and its state machine.  A backend only opens
 * sockets: it connects host sockets for guest-initiated flows, and hands
 * the device host sockets it accepted for host-initiated ones
 * (vsock_dev_host_accept()).  All data I/O is done by the device on the fd
 * (readv/writev/shutdown), so every backend must give non-blocking stream
 * sockets.
 */
#ifndef VSOCK_BACKEND_H
#define VSOCK_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

struct vsock_backend {
	/* Open a non-blocking socket to the host service for guest
	 * connections to host port `port`.  Returns the fd, either connected
	 * or (*in_progress) connecting, in which case the device waits for
	 * EPOLLOUT and reads SO_ERROR.  -errno if there is no such service or
	 * it cannot take the connection now (the guest then gets RST).
	 * Must never block.  Called with the device lock held. */
	int (*connect)(struct vsock_backend *be, uint32_t port, bool *in_progress);

	/* Free the backend (listeners included).  On the I/O thread or after
	 * the event loop stopped. */
	void (*destroy)(struct vsock_backend *be);
};

struct evloop;
struct vsock_dev;

/*
 * The hybrid Unix backend (Firecracker-compatible): guest connections to
 * port P go to the Unix socket "<uds_path>_<P>"; host clients connect to
 * uds_path and send "CONNECT <port>\n".  uds_path NULL: no listener and
 * every guest connect gets RST.  The listener is bound here (fails with
 * -EADDRINUSE if the path exists) and served on `ev`.  0 or -errno.
 */
int vsock_unix_backend_create(const char *uds_path, struct evloop *ev,
			      struct vsock_dev *dev, struct vsock_backend **out);

#endif
