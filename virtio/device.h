/* SPDX-License-Identifier: MIT */
/*
 * A virtio device as the transport sees it, and the transport as the device
 * sees it.
 *
 * The device supplies one `const struct virtio_device_ops` (designated
 * initialisers, never modified) and an opaque pointer passed back to every
 * op.  The transport owns feature negotiation, the status machine and the
 * queue configuration; the device never decodes register offsets or
 * protocol messages and does not know which transport it is on.  There are
 * two: virtio-mmio (virtio/mmio.h: a KVM guest's register window) and
 * vhost-user (virtio/vhost_user.h: a front-end such as QEMU drives the
 * device over a Unix socket).  The functions at the end of this header
 * dispatch to the transport's table (virtio/transport.h).
 *
 * Life cycle, per driver session:
 *   driver: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queue setup,
 *   DRIVER_OK  →  ops->activate()       queues usable from now on
 *   ...           ops->queue_notify()   the driver kicked a queue
 *   driver writes status 0 → ops->reset()   queues unusable from now on
 *
 * Threading and locking contract
 *   - Each transport instance has one mutex (the "transport lock") that
 *     serialises register writes that change state.  ops->activate() and
 *     ops->reset() are called WITH the transport lock held, from a vCPU
 *     thread.  So the lock order is: transport lock → device lock.
 *     (vhost-user runs everything of its transport on the I/O thread,
 *     which plays the part of the transport lock; see vhost_user.h.)
 *   - ops->queue_notify(), ops->config_read() and ops->config_write() are
 *     called WITHOUT the transport lock, from any vCPU thread (MMIO exit on
 *     QueueNotify) or from the I/O thread (ioeventfd); the same entry point in
 *     both cases, possibly concurrently: the device takes its own lock.
 *     queue_notify() may also arrive after reset() or before activate()
 *     (a racing vCPU): the device must ignore it unless it is active.
 *   - Everything below that a device calls (virtio_queue, virtio_signal,
 *     virtio_set_needs_reset, virtio_features, ...)
 *     never takes the transport lock (atomics only), so the device may call
 *     it from any thread with its own lock held, including from inside its
 *     ops.
 *   - A device touches its queues (virtq_* calls on virtio_queue()) only
 *     between activate() and reset() and under its own lock.  The transport
 *     writes the queue configuration only while the device is not active.
 */
#ifndef VIRTIO_DEVICE_H
#define VIRTIO_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio/virtqueue.h"

/* Device IDs (spec 5). */
#define VIRTIO_ID_NET    1
#define VIRTIO_ID_BLOCK  2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_ENTROPY 4
#define VIRTIO_ID_VSOCK  19

/* Reserved feature bits (spec 6). */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX     29
#define VIRTIO_F_VERSION_1     32
#define VIRTIO_F_ACCESS_PLATFORM 33
#define VIRTIO_F_RING_PACKED   34
#define VIRTIO_F_IN_ORDER      35
#define VIRTIO_F_RING_RESET    40

/* Device status bits (spec 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE        1u
#define VIRTIO_STATUS_DRIVER             2u
#define VIRTIO_STATUS_DRIVER_OK          4u
#define VIRTIO_STATUS_FEATURES_OK        8u
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 0x40u
#define VIRTIO_STATUS_FAILED             0x80u

struct virtio_dev; /* one transport instance */

struct virtio_device_ops {
	uint32_t device_id;        /* VIRTIO_ID_*; 0 is not a device */
	/* Device-specific feature bits offered.  The transport always adds
	 * VERSION_1, EVENT_IDX and INDIRECT_DESC (the ring is its business). */
	uint64_t features;
	uint16_t num_queues;       /* 1..VIRTIO_MAX_QUEUES */
	uint16_t queue_max_size;   /* per queue; power of two <= 32768 */
	/* The size virtio-mmio offers (QueueNumMax; Linux takes it as is):
	 * power of two <= queue_max_size, 0 = queue_max_size.  A vhost-user
	 * front-end picks its own size, up to queue_max_size. */
	uint16_t queue_num_max;
	uint32_t config_size;      /* bytes of device config space at 0x100 */

	/* Config space access; off + len <= config_size is guaranteed, len is
	 * 1, 2, 4 or 8.  config_read must fill all of `data`.  config_write
	 * may be NULL (read-only config). */
	void (*config_read)(void *dev, uint32_t off, void *data, uint32_t len);
	void (*config_write)(void *dev, uint32_t off, const void *data,
			     uint32_t len);

	/* The driver notified queue `q` (< num_queues, the queue is enabled and
	 * DRIVER_OK is set — at the time of the check; see above). */
	void (*queue_notify)(void *dev, unsigned q);

	/* DRIVER_OK was latched: the negotiated features are final and every
	 * enabled queue may be used.  Return 0, or -errno to refuse (the
	 * transport then sets DEVICE_NEEDS_RESET).  May be NULL. */
	int (*activate)(void *dev);

	/* The driver reset the device (status 0) or the VMM is tearing it
	 * down: stop using the queues, drop in-flight state.  After this
	 * returns the device must not touch any queue until activate(). */
	void (*reset)(void *dev);
};

#define VIRTIO_MAX_QUEUES 64

/* The device's queue `q`, or NULL if q >= num_queues.  Stable pointer. */
struct virtq *virtio_queue(struct virtio_dev *vdev, unsigned q);

/* After pushing to queue q: interrupt the driver if virtq_should_signal()
 * says so, and return whether it did.  Call with the device lock held (it
 * reads the queue). */
bool virtio_signal(struct virtio_dev *vdev, unsigned q);

/* Something is irrecoverably wrong: set DEVICE_NEEDS_RESET and send a
 * configuration-change interrupt (spec 2.1.2). */
void virtio_set_needs_reset(struct virtio_dev *vdev);

/* The features the driver accepted (valid once activate() was called). */
uint64_t virtio_features(const struct virtio_dev *vdev);
bool virtio_has_feature(const struct virtio_dev *vdev, unsigned bit);

#endif
