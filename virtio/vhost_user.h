/* SPDX-License-Identifier: MIT */
/*
 * The vhost-user transport: one of our virtio devices served as a
 * vhost-user back-end ("slave") to a front-end such as QEMU over a
 * connected Unix stream socket (QEMU docs/interop/vhost-user.rst).  The
 * front-end owns the guest, its virtio transport (virtio-mmio or PCI),
 * feature negotiation with the driver and the config space cache; it hands
 * us guest memory (memfds), the rings' addresses and one eventfd each for
 * kicks (driver → device) and calls (device → driver interrupt).
 *
 * Messages served (request id): GET_FEATURES (1), SET_FEATURES (2),
 * SET_OWNER (3), RESET_OWNER (4), SET_MEM_TABLE (5), SET_VRING_NUM (8),
 * SET_VRING_ADDR (9), SET_VRING_BASE (10), GET_VRING_BASE (11),
 * SET_VRING_KICK (12), SET_VRING_CALL (13), SET_VRING_ERR (14),
 * GET_PROTOCOL_FEATURES (15), SET_PROTOCOL_FEATURES (16), GET_QUEUE_NUM
 * (17), SET_VRING_ENABLE (18), GET_CONFIG (24), SET_CONFIG (25),
 * RESET_DEVICE (34).  Protocol features offered: REPLY_ACK and CONFIG.
 * Any other request is refused (an error ack when one is asked for); one
 * whose reply the front-end would wait for ends the connection.
 *
 * Rings.  A ring is "started" from SET_VRING_KICK (with an fd; polling is
 * not supported) to GET_VRING_BASE, and "enabled" by SET_VRING_ENABLE 1
 * (or by a SET_FEATURES without VHOST_USER_F_PROTOCOL_FEATURES).  A ring
 * that is both is "live": its addresses (the front-end's user virtual
 * addresses) are translated through the memory table to guest-physical
 * and checked by virtq_enable().  The device is activated (ops->activate)
 * when a ring goes live, and reset (ops->reset, every flow dropped) as soon
 * as any ring stops being live: the front-end stops a device by disabling
 * and stopping all its rings, and a half-working device helps nobody.
 *
 * Untrusted input.  Every message is checked before it changes anything:
 * payload sizes (exact), ring indexes, fd counts (extra fds are closed),
 * memory regions (sizes, overflow, overlap, the file big enough for the
 * mapping), ring addresses (inside one region after translation), sizes
 * and alignment (virtq_enable).  A refused message changes no state.
 * Malformed framing (truncated message, payload over 4 KiB, descriptors
 * cut off) ends the connection.  Reads of a message's remainder time out
 * after VHOST_USER_IO_TIMEOUT_MS.  What is not defended against: a
 * front-end that shrinks a memory file it handed us after the mapping
 * (SIGBUS) — it is the process that owns the guest.
 *
 * Threading.  Everything runs on the I/O thread of `ev`: messages, kicks,
 * and (through the same loop) the device's host-side work.  So the device
 * lock is the only thing devices need; queue setup while the device is
 * active (a second ring going live, a new memory table) happens between
 * the device's callbacks, never under them.
 */
#ifndef VIRTIO_VHOST_USER_H
#define VIRTIO_VHOST_USER_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio/device.h"

struct evloop;

/* Request ids (vhost-user.rst, "Front-end message types"). */
enum {
	VHOST_USER_GET_FEATURES = 1,
	VHOST_USER_SET_FEATURES = 2,
	VHOST_USER_SET_OWNER = 3,
	VHOST_USER_RESET_OWNER = 4,
	VHOST_USER_SET_MEM_TABLE = 5,
	VHOST_USER_SET_LOG_BASE = 6,
	VHOST_USER_SET_LOG_FD = 7,
	VHOST_USER_SET_VRING_NUM = 8,
	VHOST_USER_SET_VRING_ADDR = 9,
	VHOST_USER_SET_VRING_BASE = 10,
	VHOST_USER_GET_VRING_BASE = 11,
	VHOST_USER_SET_VRING_KICK = 12,
	VHOST_USER_SET_VRING_CALL = 13,
	VHOST_USER_SET_VRING_ERR = 14,
	VHOST_USER_GET_PROTOCOL_FEATURES = 15,
	VHOST_USER_SET_PROTOCOL_FEATURES = 16,
	VHOST_USER_GET_QUEUE_NUM = 17,
	VHOST_USER_SET_VRING_ENABLE = 18,
	VHOST_USER_IOTLB_MSG = 22,
	VHOST_USER_GET_CONFIG = 24,
	VHOST_USER_SET_CONFIG = 25,
	VHOST_USER_CREATE_CRYPTO_SESSION = 26,
	VHOST_USER_POSTCOPY_ADVISE = 28,
	VHOST_USER_GET_INFLIGHT_FD = 31,
	VHOST_USER_RESET_DEVICE = 34,
	VHOST_USER_GET_MAX_MEM_SLOTS = 36,
	VHOST_USER_GET_STATUS = 40,
};

#define VHOST_USER_VERSION        0x1u
#define VHOST_USER_VERSION_MASK   0x3u
#define VHOST_USER_REPLY_FLAG     (1u << 2)
#define VHOST_USER_NEED_REPLY     (1u << 3)

#define VHOST_USER_F_PROTOCOL_FEATURES 30     /* a virtio feature bit */
#define VHOST_USER_PROTOCOL_F_MQ        0
#define VHOST_USER_PROTOCOL_F_REPLY_ACK 3
#define VHOST_USER_PROTOCOL_F_CONFIG    9

#define VHOST_USER_MAX_REGIONS    8          /* SET_MEM_TABLE */
#define VHOST_USER_MAX_FDS        8          /* per message */
#define VHOST_USER_MAX_CONFIG     256        /* GET_CONFIG payload bytes */
#define VHOST_USER_MAX_PAYLOAD    4096       /* more ends the connection */
#define VHOST_USER_VRING_IDX_MASK 0xffull    /* SET_VRING_KICK/CALL/ERR u64 */
#define VHOST_USER_VRING_NOFD     (1ull << 8)
#define VHOST_USER_IO_TIMEOUT_MS  5000

/* Wire structures (native byte order, packed as on the wire). */
struct vhost_user_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
} __attribute__((packed));

struct vhost_user_vring_state {
	uint32_t index;
	uint32_t num;
} __attribute__((packed));

struct vhost_user_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc_uaddr;
	uint64_t used_uaddr;
	uint64_t avail_uaddr;
	uint64_t log_gaddr;
} __attribute__((packed));

struct vhost_user_region {
	uint64_t guest_addr;
	uint64_t size;
	uint64_t user_addr;
	uint64_t mmap_offset;
} __attribute__((packed));

struct vhost_user_mem_hdr {
	uint32_t nregions;
	uint32_t padding;
} __attribute__((packed));

struct vhost_user_config_hdr {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
} __attribute__((packed));

/* Front-end misbehaviour and activity, counted. */
struct vhost_user_stats {
	uint64_t messages;      /* handled (well-formed framing) */
	uint64_t refused;       /* messages refused (bad size, index, fds, ...) */
	uint64_t unknown;       /* unsupported requests */
	uint64_t kicks;         /* kicks delivered to the device */
	uint64_t calls;         /* interrupts sent */
	uint64_t queue_errors;  /* rings broken or refused at start */
};

struct vhost_user_params {
	const struct virtio_device_ops *ops; /* must outlive the transport */
	void *dev;                           /* passed to every op */
	struct evloop *ev;                   /* the I/O thread's loop */
	/* Called on the I/O thread once the connection is gone: err 0 when
	 * the front-end closed it, -errno when we ended it (protocol error,
	 * I/O error).  May be NULL. */
	void (*on_disconnect)(void *opaque, int err);
	void *opaque;
};

/* Allocate the transport (no connection yet).  0 or -errno (-EINVAL for a
 * bad ops table). */
int vhost_user_create(const struct vhost_user_params *p, struct virtio_dev **out);

/* Serve the front-end connected on `fd` (a Unix stream socket; taken over:
 * closed on failure and at disconnect).  One connection at a time:
 * -EBUSY while one is served.  0 or -errno. */
int vhost_user_serve(struct virtio_dev *vdev, int fd);

/* Handle the next message of the connection (the event loop does this
 * when the socket is readable; exposed for tests).  0, or -errno when the
 * connection was ended by this message (on_disconnect was called). */
int vhost_user_handle_one(struct virtio_dev *vdev);

/* A connection is being served. */
bool vhost_user_connected(const struct virtio_dev *vdev);

/* The device is active (between ops->activate and ops->reset). */
bool vhost_user_active(const struct virtio_dev *vdev);

/* Number of memory regions mapped now. */
unsigned vhost_user_nregions(const struct virtio_dev *vdev);

void vhost_user_get_stats(const struct virtio_dev *vdev, struct vhost_user_stats *out);

/* Drop the connection (device reset, rings stopped, memory unmapped) and
 * free the transport.  I/O thread, or after the loop stopped.  Does not
 * call on_disconnect. */
void vhost_user_destroy(struct virtio_dev *vdev);

#endif
