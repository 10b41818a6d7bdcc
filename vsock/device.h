/* SPDX-License-Identifier: MIT */
/*
 * The virtio-vsock device (virtio 1.2 §5.10): the virtio front (ops table,
 * queues rx 0 / tx 1 / event 2, config le64 guest_cid) and the multiplexer
 * that carries every guest flow to a host socket through a backend
 * (backend.h).  Guest packets are handled on whichever thread delivers the
 * queue notification; host sockets and timers on the I/O thread; one mutex
 * per device serialises both.
 *
 * Setup order (before the vCPUs start):
 *   build the backend chain (backend.h: vsock_unix_backend_create, ...);
 *   vsock_dev_create(&(struct vsock_dev_params){ .be = be, ... }, &dev);
 *   vmmio_create(bus, &(struct vmmio_params){ .ops = vsock_dev_ops(dev),
 *                .dev = dev, ... }, &vdev);
 *   vsock_dev_attach(dev, vdev);
 * Teardown after the I/O loop stopped: vsock_dev_destroy(dev) (before
 * evloop_destroy and vmmio_destroy).
 */
#ifndef VSOCK_DEVICE_H
#define VSOCK_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio/device.h"
#include "vsock/conn.h"
#include "vsock/dgram.h"
#include "vsock/shape.h"

#define VSOCK_QUEUE_RX    0
#define VSOCK_QUEUE_TX    1
#define VSOCK_QUEUE_EVENT 2
/* The largest ring the device takes (QEMU's vhost-user-vsock-device uses
 * 1024-entry rings), and the size virtio-mmio offers our own guests. */
#define VSOCK_QUEUE_SIZE    1024
#define VSOCK_QUEUE_NUM_MAX 256

struct evloop;
struct vsock_backend;
struct vsock_dev;

struct vsock_dev_params {
	uint64_t guest_cid;          /* VSOCK_GUEST_CID_MIN..MAX (packet.h) */
	struct evloop *ev;           /* the I/O thread's loop */
	uint32_t max_conns;          /* 0 = VSOCK_CONNTAB_DEFAULT_MAX */
	uint32_t buf_alloc;          /* per-connection credit; 0 = 256 KiB */
	/* The host side (backend.h), owned by the device from now on, also
	 * on failure; NULL = none (every guest connect gets RST). */
	struct vsock_backend *be;
	/* Datagrams (dgram.h), owned by the device from now on, also on
	 * failure; NULL = off: F_DGRAM is never offered. */
	struct vsock_dgram *dgram;
	/* Sibling VMs' CIDs (docs/vsock.md "Sibling VMs"; copied): guest
	 * packets may go to these as well as to 2, and sibling VMMs' flows
	 * (the sink's accept_peer) may come only from them. */
	const uint64_t *peer_cids;
	unsigned npeers;
};

/* Counters: the metrics file (vmm/metrics.h) reports them all. */
struct vsock_dev_stats {
	uint64_t tx_pkts, rx_pkts;
	uint64_t tx_bytes, rx_bytes;        /* payload, guest → host / host → guest */
	uint64_t pkt_err[16];               /* by enum vsock_pkt_err */
	uint64_t rst_no_conn;               /* RST for a packet matching no flow */
	uint64_t rst_dropped;               /* such RSTs lost (queue full; never now) */
	uint64_t tx_stalls;                 /* tx paused for a full RST queue */
	uint64_t conn_refused;              /* backend connect failed */
	uint64_t conn_limit;                /* refused: max_conns reached */
	uint64_t short_rx_buf;              /* rx buffers < 44 bytes, returned empty */
	uint64_t host_accepted;             /* host-initiated flows handed over */
	uint64_t seq_too_big;               /* SEQPACKET message no side can take whole */
	uint64_t seq_overflow;              /* > VSOCK_TXBUF_MAX_MSGS messages queued */
	uint64_t tx_notifies;               /* queue_notify for tx (guest kicks) */
	uint64_t rx_notifies;               /* queue_notify for rx (guest kicks) */
	uint64_t rx_waits;                  /* ran out of rx buffers: rx kicks armed */
	uint64_t tx_notify_races;           /* tx chains found by the re-check */
	uint64_t rx_notify_races;           /* rx buffers found by the re-check */
	uint64_t conns_open;                /* now */
	uint64_t tx_interrupts, rx_interrupts; /* used-buffer interrupts sent */
	/* The latest driver session: negotiated feature bits and the ring
	 * sizes it chose (rx, tx, event); sessions since start. */
	uint64_t features;
	uint16_t queue_size[3];
	uint64_t activations;
	struct vsock_shape_stats shape;     /* buffer layouts the driver uses */
	struct vsock_conn_stats conn;       /* protocol events, all flows */
	struct vsock_dgram_stats dgram;     /* datagrams (F_DGRAM) */
};

/* The ops table for vmmio_create(); `dev` is the struct vsock_dev.  A
 * device with datagrams needs the second, which also offers F_DGRAM:
 * take the right one with vsock_dev_ops(). */
extern const struct virtio_device_ops vsock_virtio_ops;
extern const struct virtio_device_ops vsock_virtio_ops_dgram;
const struct virtio_device_ops *vsock_dev_ops(const struct vsock_dev *d);

/* Create the device on p->be and start the backends' listeners, which
 * hand accepted host clients to vsock_dev_host_accept().  0 or -errno. */
int vsock_dev_create(const struct vsock_dev_params *p, struct vsock_dev **out);

/* Tell the device its transport (after vmmio_create). */
void vsock_dev_attach(struct vsock_dev *d, struct virtio_dev *vdev);

/* Free everything: connections, sockets, backend.  After evloop_run()
 * returned and before evloop_destroy(). */
void vsock_dev_destroy(struct vsock_dev *d);

/* A backend accepted a host client that wants guest port `guest_port` (on
 * the I/O thread; backends reach it through their struct vsock_host_sink).  The device takes the fd (non-blocking stream socket)
 * and sends the guest a REQUEST of `type` (VIRTIO_VSOCK_TYPE_STREAM or
 * _SEQPACKET, a SEQPACKET fd for the latter); with `hybrid_ok`, "OK <host_port>\n" is
 * written to the client when the guest accepts.  If the guest refuses or
 * times out the fd is closed without a reply.  0, or -errno (the caller
 * keeps and closes the fd): -ENOTCONN (no driver), -ENOSPC (limits,
 * counted in conn_limit), -EPROTOTYPE (type not negotiated). */
int vsock_dev_host_accept(struct vsock_dev *d, int fd, uint32_t guest_port,
			  uint16_t type, bool hybrid_ok);

void vsock_dev_get_stats(struct vsock_dev *d, struct vsock_dev_stats *out);

/* Memory every open connection costs whatever it carries (bytes); on top
 * of it come buffers bounded by the credit it advertises (docs/vsock.md). */
size_t vsock_dev_conn_fixed_bytes(void);

#endif
