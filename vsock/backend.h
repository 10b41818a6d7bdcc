/* SPDX-License-Identifier: MIT */
/*
 * The host side of vsock flows, one small interface so Unix, TCP and future
 * backends share the device and its state machine.  A backend only opens
 * sockets: it connects host sockets for guest-initiated flows, and hands
 * host sockets it accepted for host-initiated ones to a sink (a function
 * and an opaque pointer; the device's, see vsock_dev_create).  All data
 * I/O is done by the device on the fd (readv/writev/shutdown), so every
 * backend must give non-blocking sockets.
 *
 * The VMM's wiring (vmm/virtio_devs.c) builds the chain, e.g. the forward
 * router in front of the hybrid Unix backend, and gives it to the device;
 * backends know nothing of the device.
 */
#ifndef VSOCK_BACKEND_H
#define VSOCK_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Where a backend hands a host client it accepted (on the I/O thread): it
 * wants guest port `guest_port`, as a flow of `type`
 * (VIRTIO_VSOCK_TYPE_STREAM or _SEQPACKET, a SEQPACKET fd for the latter);
 * with `hybrid_ok`, "OK <host_port>\n" is to be written to it when the
 * guest accepts.  0: the fd is taken; -errno: refused, the backend closes
 * the fd at once.  vsock_dev_host_accept() is the device's.
 */
struct vsock_host_sink {
	int (*accept)(void *opaque, int fd, uint32_t guest_port, uint16_t type,
		      bool hybrid_ok);
	/* A sibling VMM's client that sent "CONNECT-FROM <cid> <port>
	 * <guest_port>\n" (its uid checked, docs/vsock.md "Sibling VMs"): the
	 * flow comes from (cid, port), not from the host; "OK <port>\n" is
	 * written when the guest accepts.  0 or -errno as accept (-EPERM: cid
	 * is not one of our peers). */
	int (*accept_peer)(void *opaque, int fd, uint64_t cid, uint32_t port,
			   uint32_t guest_port, uint16_t type);
	void *opaque;
};

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

	/* The same for a guest connection to a sibling VM: from guest port
	 * src_port to (cid, port).  The returned fd has the handshake line
	 * written; the flow is connected once the sibling's "OK <port>\n"
	 * has been read from it (by the device).  NULL (or -EHOSTUNREACH)
	 * for a backend without siblings. */
	int (*connect_cid)(struct vsock_backend *be, uint64_t cid, uint32_t src_port,
			   uint32_t port, uint16_t type);

	/* Start serving the listeners bound at creation (and those of the
	 * backends behind this one): accepted clients go to *sink (copied).
	 * NULL for a backend without listeners.  Called once, by
	 * vsock_dev_create(), before the loop serves anything.  0 or -errno. */
	int (*listen)(struct vsock_backend *be, const struct vsock_host_sink *sink);

	/* Free the backend (listeners included).  On the I/O thread or after
	 * the event loop stopped. */
	void (*destroy)(struct vsock_backend *be);
};

struct evloop;
struct sockaddr;

/*
 * The hybrid Unix backend (Firecracker-compatible): guest connections to
 * port P go to the Unix socket "<uds_path>_<P>" (SOCK_STREAM or
 * SOCK_SEQPACKET, as the guest's socket); host clients connect to uds_path
 * (stream) or "<uds_path>_seqpacket" (seqpacket) and send
 * "CONNECT <port>\n".  Both listeners are bound here (a stale socket file
 * nobody listens on is replaced; -EADDRINUSE if something listens, with a
 * message in err), served on `ev` from listen() on, and their files
 * removed by destroy.  0 or -errno.
 */
int vsock_unix_backend_create(const char *uds_path, struct evloop *ev,
			      struct vsock_backend **out, char *err, size_t errlen);

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
			     struct vsock_backend **res, char *err, size_t errlen);

/* A sibling VM: guest connections to `cid` go to the Unix socket `path`
 * (its VMM's uds_path; "<path>_seqpacket" for SEQPACKET). */
struct vsock_peer {
	uint64_t cid;
	const char *path;
};

/*
 * Sibling routing in front of `fallback` (which owns everything else and
 * whose listeners it serves; may be NULL): connect_cid connects to the
 * peer's path and writes "CONNECT-FROM <our_cid> <src_port> <port>\n".
 * Owns fallback from now on, also on error.  0 or -errno.
 */
int vsock_peer_backend_create(uint64_t our_cid, const struct vsock_peer *peers,
			      unsigned npeers, struct vsock_backend *fallback,
			      struct vsock_backend **out);

#endif
