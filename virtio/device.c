// SPDX-License-Identifier: MIT
/*
 * The device-facing calls of device.h, dispatched to the device's transport
 * (transport.h).  Nothing here locks: each transport's op keeps device.h's
 * promise (callable from any thread, with the device lock held).
 */
#include "virtio/transport.h"

struct virtq *virtio_queue(struct virtio_dev *vdev, unsigned q)
{
	return vdev->tops->queue(vdev, q);
}

bool virtio_signal(struct virtio_dev *vdev, unsigned q)
{
	struct virtq *vq = vdev->tops->queue(vdev, q);

	if (!vq || !virtq_should_signal(vq))
		return false;
	vdev->tops->interrupt(vdev, q);
	return true;
}

void virtio_set_needs_reset(struct virtio_dev *vdev)
{
	vdev->tops->set_needs_reset(vdev);
}

uint64_t virtio_features(const struct virtio_dev *vdev)
{
	return vdev->tops->features(vdev);
}

bool virtio_has_feature(const struct virtio_dev *vdev, unsigned bit)
{
	return bit < 64 && (virtio_features(vdev) >> bit) & 1;
}

bool virtio_device_ops_valid(const struct virtio_device_ops *ops, uint32_t max_config_size)
{
	return ops && ops->device_id != 0 &&
	       ops->num_queues >= 1 && ops->num_queues <= VIRTIO_MAX_QUEUES &&
	       ops->queue_max_size && !(ops->queue_max_size & (ops->queue_max_size - 1)) &&
	       ops->queue_max_size <= VIRTQ_MAX_SIZE &&
	       !(ops->queue_num_max & (ops->queue_num_max - 1)) &&
	       ops->queue_num_max <= ops->queue_max_size &&
	       ops->queue_notify && ops->reset &&
	       (ops->config_size == 0 || ops->config_read) &&
	       ops->config_size <= max_config_size;
}
