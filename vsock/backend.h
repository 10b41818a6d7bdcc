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
	 * connections to host port `port` of socket type `type`
	 * (VIRTIO_VSOCK_TYPE_STREAM → SOCK_STREAM, _SEQPACKET →
	 * SOCK_SEQPACKET; -EPROTOTYPE if the backend cannot keep messages).  Returns the fd, either connected
	 * or (*in_progress) connecting, in which case the device waits for
	 * EPOLLOUT and reads SO_ERROR.  -errno if there is no such service or
	 * it cannot take the connection now (the guest then gets RST).
	 * Must never block.  Called with the device lock held. */
	int (*connect)(struct vsock_backend *be, uint32_t port, uint16_t type,
		       bool *in_progress);

	/* Free the backend (listeners included).  On the I/O thread or after
	 * the event loop stopped. */
	void (*destroy)(struct vsock_backend *be);
};

struct evloop;
struct sockaddr;
struct vsock_dev;

/*
 * The hybrid Unix backend (Firecracker-compatible): guest connections to
 * port P go to the Unix socket "<uds_path>_<P>" (SOCK_STREAM or
 * SOCK_SEQPACKET, as the guest's socket); host clients connect to uds_path
 * (stream) or "<uds_path>_seqpacket" (seqpacket) and send
 * "CONNECT <port>\n".  Both listeners are bound here (a stale socket file
 * nobody listens on is replaced; -EADDRINUSE if something listens, with a
 * message in err), served on `ev` and their files removed by destroy.
 * 0 or -errno.
 */
int vsock_unix_backend_create(const char *uds_path, struct evloop *ev,
			      struct vsock_dev *dev, struct vsock_backend **out,
			      char *err, size_t errlen);

/* Every guest connection goes to the Unix socket `path` (any port). */
int vsock_unix_path_backend_create(const char *path, struct vsock_backend **out);

/* Every guest connection goes to the TCP address sa (numeric IPv4/IPv6,
 * non-blocking connect, TCP_NODELAY).  STREAM only: SEQPACKET gets
 * -EPROTOTYPE (TCP keeps no message boundaries). */
int vsock_tcp_backend_create(const struct sockaddr *sa, unsigned salen,
			     struct vsock_backend **out);

/* One port forward.  forward_out: guest connections to host port `port`
 * go to `path` (Unix) or `sa` (TCP) instead of the default backend.
 * forward_in: a listener on `path` / `sa`; every accepted client becomes a
 * stream into guest port `port` (no handshake). */
struct vsock_fwd {
	uint32_t port;
	bool tcp;
	const char *path;           /* !tcp */
	const struct sockaddr *sa;  /* tcp */
	unsigned salen;
};

/*
 * A router: guest connections to a forward_out port use that forward,
 * others `fallback` (may be NULL: RST); owns fallback from now on, also on
 * error.  Binds every forward_in listener (stale Unix socket files are
 * replaced as in vsock_unix_backend_create); on error -errno and a message
 * in err, e.g. "vsock forward tcp:127.0.0.1:2222: Address already in use".
 */
int vsock_fwd_backend_create(const struct vsock_fwd *out, unsigned nout,
			     const struct vsock_fwd *in, unsigned nin,
			     struct vsock_backend *fallback, struct evloop *ev,
			     struct vsock_dev *dev, struct vsock_backend **res,
			     char *err, size_t errlen);

#endif
