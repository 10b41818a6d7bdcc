/* SPDX-License-Identifier: MIT */
/*
 * UDP forwards for datagrams (docs/vsock.md, "Datagrams", "UDP forwards"):
 * the sockets and the two bounded address tables; dgram.c routes through
 * it and keeps the host → guest queue.
 *
 *   forward_out {port P, udp A}: a guest datagram from guest port G to host
 *       port P goes out as one UDP datagram to A from a socket of our own
 *       for the pair (P, G), connected to A, so the kernel keeps only A's
 *       replies on it and every reply goes back to guest port G from P.
 *       At most VSOCK_DGRAM_UDP_OUT_MAX such sockets: a new pair beyond it
 *       closes the least recently used one (udp_out_evicted).
 *   forward_in {udp A, port P}: a socket bound at A; a datagram from
 *       client C goes to guest port P from a host port H given to C (from
 *       [VSOCK_DGRAM_UDP_IN_PORT_FIRST, +VSOCK_DGRAM_UDP_IN_PORTS), round
 *       robin); a guest datagram to H goes back to C from A.  At most
 *       VSOCK_DGRAM_UDP_IN_MAX clients: a new one beyond it takes the place
 *       of the least recently used (udp_in_evicted).
 *
 * Every socket is in the caller's epoll set (dgram.c's) with a tag here
 * (epoll_event.data.u64, never 0).  Nothing here allocates after creation:
 * the tables are fixed arrays.  The caller serialises all calls (the
 * device lock); send and create may run on any device thread, receive on
 * the I/O thread.
 */
#ifndef VSOCK_DGRAM_UDP_H
#define VSOCK_DGRAM_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "vsock/dgram.h"

#define VSOCK_DGRAM_UDP_OUT_MAX       64   /* forward_out sockets, all forwards */
#define VSOCK_DGRAM_UDP_IN_MAX        64   /* forward_in clients, all listeners */
#define VSOCK_DGRAM_UDP_LISTENERS_MAX 65536u /* forward_in listeners: an epoll tag names each */
/* Host ports given to forward_in clients: a range of their own, outside
 * the stream host ports [2^30, 2^31) and the ports people pick; a
 * forward_out UDP port may not be in it (the config refuses it). */
#define VSOCK_DGRAM_UDP_IN_PORT_FIRST 0xc0000000u
#define VSOCK_DGRAM_UDP_IN_PORTS      65536u

/* One UDP forward: guest port (forward_in) or host port (forward_out)
 * `port`, and the numeric IPv4/IPv6 address `sa`. */
struct vsock_dgram_udp_fwd {
	uint32_t port;
	const struct sockaddr *sa;
	unsigned salen;
};

struct vsock_dgram_udp;

/* The forwards (copied); the forward_in sockets bound now and added to
 * epoll set `epfd` (forward_out sockets come when first used).  0 or
 * -errno with one line in err, e.g.
 * "vsock forward udp:127.0.0.1:7000: Address already in use". */
int vsock_dgram_udp_create(const struct vsock_dgram_udp_fwd *out, unsigned nout,
			   const struct vsock_dgram_udp_fwd *in, unsigned nin, int epfd,
			   struct vsock_dgram_udp **res, char *err, size_t errlen);

/* Close every socket (out of the epoll set first).  NULL is fine. */
void vsock_dgram_udp_destroy(struct vsock_dgram_udp *u);

/* Guest → host, a datagram from guest port gport to host port hport with
 * the payload at iov[0..n) (len bytes, read once by sendmsg): false if
 * hport is no UDP route (the caller sends it elsewhere); true if it is,
 * and then it was sent or dropped and counted in st.  Never blocks. */
bool vsock_dgram_udp_send(struct vsock_dgram_udp *u, uint32_t gport, uint32_t hport,
			  const struct iovec *iov, unsigned n, uint32_t len,
			  struct vsock_dgram_stats *st);

/* Host → guest: read one datagram from the socket tagged `tag` into
 * buf[0..size) (size > VSOCK_DGRAM_MAX, so a longer one is seen).  Its
 * length (1..VSOCK_DGRAM_MAX), with the guest port it goes to and the
 * host port it comes from; 0 if one was read and dropped (counted in st:
 * empty or too big, no driver when !accept, an error the socket
 * reported); -EAGAIN if none waits (or the tag is stale).  With !accept no
 * client is given a port. */
int vsock_dgram_udp_recv(struct vsock_dgram_udp *u, uint64_t tag, bool accept,
			 uint8_t *buf, size_t size, uint32_t *gport, uint32_t *hport,
			 struct vsock_dgram_stats *st);

#endif
