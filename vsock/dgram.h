/* SPDX-License-Identifier: MIT */
/*
 * Datagrams (VIRTIO_VSOCK_F_DGRAM, packet type 3; off unless --vsock-dgram):
 * the host end.  One Unix SOCK_DGRAM socket bound at "<uds_path>_dgram"
 * carries both directions, and every datagram on it, or sent from it,
 * starts with one line naming the flow (docs/vsock.md, "Datagrams"):
 *
 *   "DGRAM <guest_port> <host_port>\n" <payload>
 *
 *   host → guest: a host program sends to "<uds_path>_dgram"; the payload
 *                 goes to guest port <guest_port> from host port <host_port>.
 *   guest → host: a datagram from guest port G to host port P is sent to
 *                 "<uds_path>_dgram_P" with the line "DGRAM G P\n", so the
 *                 receiver replies by sending that same line back.
 *
 * Host datagrams wait in a bounded queue (VSOCK_DGRAM_QUEUE_MAX datagrams,
 * VSOCK_DGRAM_QUEUE_BYTES payload bytes) until the guest has an rx buffer;
 * whatever does not fit is dropped and counted, never buffered further.
 * Nothing here knows the device: it passes its counters in, under its lock.
 */
#ifndef VSOCK_DGRAM_H
#define VSOCK_DGRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define VSOCK_DGRAM_SUFFIX      "_dgram"
#define VSOCK_DGRAM_QUEUE_MAX   64          /* host → guest datagrams waiting */
#define VSOCK_DGRAM_QUEUE_BYTES (1u << 20)  /* and their payload bytes */
/* "DGRAM 4294967295 4294967295\n" is 28 bytes; a longer line is refused. */
#define VSOCK_DGRAM_LINE_MAX    32
/* Host datagrams read per wake-up of the I/O thread (the socket is
 * level-triggered: the rest is read on the next turn of the loop). */
#define VSOCK_DGRAM_RECV_BATCH  64

/* Datagram counters (in struct vsock_dev_stats; the metrics report them). */
struct vsock_dgram_stats {
	uint64_t tx_pkts, tx_bytes;  /* guest → host, handed to a host socket */
	uint64_t rx_pkts, rx_bytes;  /* host → guest, put in an rx buffer */
	/* Dropped guest → host. */
	uint64_t tx_no_receiver;     /* nothing bound at <uds_path>_dgram_P */
	uint64_t tx_host_full;       /* the receiver's queue was full (EAGAIN) */
	uint64_t tx_host_err;        /* any other send error */
	/* Dropped host → guest. */
	uint64_t rx_bad_line;        /* no valid "DGRAM <g> <h>\n" line first */
	uint64_t rx_too_big;         /* payload 0 or > VSOCK_DGRAM_MAX bytes */
	uint64_t rx_no_driver;       /* no driver, or it did not ack F_DGRAM */
	uint64_t rx_queue_full;      /* the bounded queue was full */
	uint64_t rx_buf_small;       /* the guest's next rx buffer could not hold it */
	uint64_t queued;             /* waiting now */
	/* UDP forwards (dgram_udp.h); their send errors count as above. */
	uint64_t udp_out_evicted;    /* forward_out socket table full: LRU one closed */
	uint64_t udp_in_evicted;     /* forward_in client table full: LRU one forgotten */
	uint64_t udp_socket_err;     /* a forward_out socket could not be made: dropped */
	uint64_t udp_rx_err;         /* a UDP socket reported an error (ICMP) */
	uint64_t udp_out_socks;      /* forward_out sockets open now */
	uint64_t udp_in_clients;     /* forward_in clients known now */
};

/* One queued host → guest datagram. */
struct vsock_dgram_msg {
	uint32_t guest_port, host_port, len;
	uint8_t *data;
};

struct vsock_dgram;

/* Bind "<uds_path>_dgram" (owner-only like the listeners, a stale file
 * replaced, removed by destroy; the uds_path lock covers it).  0 or -errno
 * with one line in err. */
int vsock_dgram_create(const char *uds_path, struct vsock_dgram **out,
		       char *err, size_t errlen);

struct vsock_dgram_udp_fwd;

/* UDP forwards (dgram_udp.h) beside the Unix socket: forward_out `out`
 * (by host port), forward_in `in` (by guest port; bound now).  Before
 * vsock_dev_create(): vsock_dgram_fd() is then an epoll set of all the
 * sockets.  0 (also with no forwards) or -errno with one line in err. */
int vsock_dgram_add_udp(struct vsock_dgram *g, const struct vsock_dgram_udp_fwd *out,
			unsigned nout, const struct vsock_dgram_udp_fwd *in, unsigned nin,
			char *err, size_t errlen);

/* Close the sockets, remove the file, free the queue.  NULL is fine. */
void vsock_dgram_destroy(struct vsock_dgram *g);

/* For the device's event loop (EPOLLIN, level-triggered): the socket, or
 * with UDP forwards the epoll set holding it and them. */
int vsock_dgram_fd(const struct vsock_dgram *g);

/* Guest → host: send the payload at iov[0..n) (len bytes, guest memory
 * read once by sendmsg) from guest port `gport` to host port `hport`: a
 * UDP forward's if it has one (dgram_udp.h), else
 * "<uds_path>_dgram_<hport>"; never blocking; a failure is a counted drop.
 * Any thread. */
void vsock_dgram_send(struct vsock_dgram *g, uint32_t gport, uint32_t hport,
		      const struct iovec *iov, unsigned n, uint32_t len,
		      struct vsock_dgram_stats *st);

/* Read up to `max` host datagrams (Unix and UDP); queue them if `accept`
 * (a driver with F_DGRAM is there), else drop them (rx_no_driver).  With
 * `wait_room`, stop instead of reading one the queue might not hold
 * (!vsock_dgram_has_room) so the caller can deliver first; without, read
 * it and drop it if it does not fit.  I/O thread.  How many were read. */
unsigned vsock_dgram_recv(struct vsock_dgram *g, bool accept, unsigned max, bool wait_room,
			  struct vsock_dgram_stats *st);

/* True if the queue can take one more datagram of any size. */
bool vsock_dgram_has_room(const struct vsock_dgram *g);

/* The oldest queued datagram, or NULL. */
const struct vsock_dgram_msg *vsock_dgram_peek(const struct vsock_dgram *g);

/* Free the oldest queued datagram (delivered or dropped: the caller counts). */
void vsock_dgram_pop(struct vsock_dgram *g, struct vsock_dgram_stats *st);

/* Drop every queued datagram without counting (the driver reset). */
void vsock_dgram_flush(struct vsock_dgram *g, struct vsock_dgram_stats *st);

/* Parse "DGRAM <guest_port> <host_port>\n" at the start of buf[0..len):
 * the line's length (with the newline), or 0 if there is none valid.
 * Decimal, one space between fields, no sign or leading zeros. */
size_t vsock_dgram_parse_line(const char *buf, size_t len, uint32_t *gport,
			      uint32_t *hport);

#endif
