/* SPDX-License-Identifier: MIT */
/*
 * What a virtio transport provides to the devices on it (device.h), as a
 * small const table: virtio-mmio (mmio.c, a KVM guest's MMIO window) and
 * vhost-user (vhost_user.c, a front-end such as QEMU over a Unix socket)
 * each have one.  Devices never see this header: they call the functions
 * of device.h, which dispatch through the table.  A transport embeds
 * `struct virtio_dev` as the first member of its own instance and gets back
 * to it with container_of.
 */
#ifndef VIRTIO_TRANSPORT_H
#define VIRTIO_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "virtio/device.h"

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))
#endif

struct virtio_transport_ops {
	/* The device's queue q, or NULL if q is not one of its queues. */
	struct virtq *(*queue)(struct virtio_dev *vdev, unsigned q);
	/* Send a used-buffer interrupt for queue q (< num_queues). */
	void (*interrupt)(struct virtio_dev *vdev, unsigned q);
	void (*set_needs_reset)(struct virtio_dev *vdev);
	/* The negotiated (driver-accepted) feature bits. */
	uint64_t (*features)(const struct virtio_dev *vdev);
};

/* The part of every transport instance that device.h's functions see. */
struct virtio_dev {
	const struct virtio_transport_ops *tops;
};

/* Transport feature bits (28..41 are the ring/transport range, spec 6): a
 * device may not offer them itself; every transport offers this subset. */
#define VIRTIO_TRANSPORT_FEATURES_MASK  (((1ull << 42) - 1) & ~((1ull << 28) - 1))
#define VIRTIO_TRANSPORT_FEATURES  ((1ull << VIRTIO_F_VERSION_1) | \
				    (1ull << VIRTIO_F_EVENT_IDX) | \
				    (1ull << VIRTIO_F_INDIRECT_DESC))

/* The checks every transport makes on a device's ops table. */
bool virtio_device_ops_valid(const struct virtio_device_ops *ops, uint32_t max_config_size);

#endif
