// SPDX-License-Identifier: MIT
/*
 * Binds a virtio-mmio transport to KVM: irqfd for the interrupt, and
 * optionally one ioeventfd per queue for QueueNotify, served by the I/O
 * thread's event loop.
 *
 * Interrupt: KVM_IRQFD turns a write to the eventfd into an edge on the
 * in-kernel IO-APIC pin `gsi` (no exit to user space).  The guest's handler
 * (Linux vm_interrupt) reads InterruptStatus and acknowledges through
 * InterruptACK; one pulse per interrupt, as kvmtool and Firecracker do.
 *
 * Notify: KVM_IOEVENTFD on the 4-byte QueueNotify register with
 * datamatch = queue index completes the guest's write in the kernel and
 * signals the eventfd; writes of other values still exit to user space and
 * reach the transport through the bus.
 */
#include "virtio/mmio.h"
#include "base/evloop.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

struct vmmio_kvm_queue {
	struct vmmio_kvm *k;
	unsigned index;
	int fd;                /* -1 when not created */
	bool assigned;         /* KVM_IOEVENTFD done */
	bool added;            /* in the event loop */
	struct ev_source src;
};

struct vmmio_kvm {
	struct virtio_dev *vdev;
	int vm_fd;
	struct evloop *ev;
	int irqfd;
	bool irqfd_assigned;
	unsigned nq;
	struct vmmio_kvm_queue q[];
};

static void kvm_raise_irq(void *opaque)
{
	struct vmmio_kvm *k = opaque;
	uint64_t one = 1;

	/* Non-blocking; EAGAIN would mean 2^64-2 pending edges.  Nothing
	 * useful to do on failure from a vCPU or I/O thread. */
	if (write(k->irqfd, &one, sizeof(one)) < 0)
		return;
}

static void kvm_notify_ready(void *opaque, uint32_t events)
{
	struct vmmio_kvm_queue *q = opaque;
	uint64_t cnt;

	(void)events;
	/* Drain the counter first so a kick arriving while the device runs
	 * wakes us again. */
	if (read(q->fd, &cnt, sizeof(cnt)) < 0)
		return;
	vmmio_notify(q->k->vdev, q->index);
}

static int irqfd_ctl(struct vmmio_kvm *k, bool assign)
{
	struct kvm_irqfd req = {
		.fd = (uint32_t)k->irqfd,
		.gsi = vmmio_irq(k->vdev),
		.flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};

	return ioctl(k->vm_fd, KVM_IRQFD, &req) < 0 ? -errno : 0;
}

static int ioeventfd_ctl(struct vmmio_kvm *k, struct vmmio_kvm_queue *q,
			 bool assign)
{
	struct kvm_ioeventfd req = {
		.datamatch = q->index,
		.addr = vmmio_base(k->vdev) + VMMIO_QUEUE_NOTIFY,
		.len = 4,
		.fd = q->fd,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH |
			 (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
	};

	return ioctl(k->vm_fd, KVM_IOEVENTFD, &req) < 0 ? -errno : 0;
}

void vmmio_kvm_detach(struct vmmio_kvm *k)
{
	if (!k)
		return;
	for (unsigned i = 0; i < k->nq; i++) {
		struct vmmio_kvm_queue *q = &k->q[i];

		if (q->added)
			ev_del(k->ev, &q->src);
		if (q->assigned)
			ioeventfd_ctl(k, q, false);
		if (q->fd >= 0)
			close(q->fd);
	}
	if (k->irqfd_assigned) {
		vmmio_set_irq(k->vdev, NULL, NULL);
		irqfd_ctl(k, false);
	}
	if (k->irqfd >= 0)
		close(k->irqfd);
	free(k);
}

int vmmio_kvm_attach(struct virtio_dev *vdev, int vm_fd, struct evloop *ev,
		     unsigned flags, struct vmmio_kvm **out)
{
	unsigned nq = (flags & VMMIO_KVM_IOEVENTFD) ? vmmio_num_queues(vdev) : 0;
	struct vmmio_kvm *k;
	int rc;

	if ((flags & VMMIO_KVM_IOEVENTFD) && !ev)
		return -EINVAL;
	k = calloc(1, sizeof(*k) + nq * sizeof(k->q[0]));
	if (!k)
		return -ENOMEM;
	k->vdev = vdev;
	k->vm_fd = vm_fd;
	k->ev = ev;
	k->nq = nq;
	for (unsigned i = 0; i < nq; i++) {
		k->q[i].k = k;
		k->q[i].index = i;
		k->q[i].fd = -1;
	}

	k->irqfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (k->irqfd < 0) {
		rc = -errno;
		goto err;
	}
	rc = irqfd_ctl(k, true);
	if (rc)
		goto err;
	k->irqfd_assigned = true;

	for (unsigned i = 0; i < nq; i++) {
		struct vmmio_kvm_queue *q = &k->q[i];

		q->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (q->fd < 0) {
			rc = -errno;
			goto err;
		}
		rc = ioeventfd_ctl(k, q, true);
		if (rc)
			goto err;
		q->assigned = true;
		rc = ev_add(ev, &q->src, q->fd, EPOLLIN, kvm_notify_ready, q);
		if (rc)
			goto err;
		q->added = true;
	}
	/* Last, so a failure above never leaves a dangling callback. */
	vmmio_set_irq(vdev, kvm_raise_irq, k);
	*out = k;
	return 0;

err:
	vmmio_kvm_detach(k);
	return rc;
}
