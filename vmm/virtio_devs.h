/* SPDX-License-Identifier: MIT */
/*
 * The VM's virtio-mmio devices: which slots exist (known before the guest is
 * loaded, so discovery can describe them), their host side (sockets) before
 * KVM, and their transports once the KVM VM exists.  Slot i sits at LAYOUT_VIRTIO_MMIO + i * 4 KiB on IO-APIC pin
 * LAYOUT_VIRTIO_IRQ_BASE + i.  Today the only device is vsock.
 */
#ifndef VMM_VIRTIO_DEVS_H
#define VMM_VIRTIO_DEVS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define VIRTIO_DEVS_MAX 4

struct vm;
struct evloop;
struct vsock_dev;
struct virtio_dev;
struct vmmio_kvm;

struct virtio_slot {
	uint64_t base;
	uint32_t irq;
};

struct virtio_devs {
	unsigned n;
	struct virtio_slot slot[VIRTIO_DEVS_MAX];
	struct vsock_dev *vsock;   /* slot 0 when cfg->has_vsock */
	struct virtio_dev *vdev[VIRTIO_DEVS_MAX];
	struct vmmio_kvm *kvm[VIRTIO_DEVS_MAX];
};

/* Decide the slots from the config. */
void virtio_devs_plan(struct virtio_devs *vd, const struct vm_config *cfg);

/* Append " virtio_mmio.device=4K@0x...:N" per slot to `cmdline` (NUL-
 * terminated in a buffer of `size`). 0 or -ENAMETOOLONG. */
int virtio_devs_cmdline(const struct virtio_devs *vd, char *cmdline, size_t size);

/* Claim every Unix socket path the devices will listen on (uds_path, which
 * covers its _seqpacket twin, and each forward_in Unix path) with its lock
 * file "<path>.lock", held until the process ends.  Done first, before the
 * guest is loaded: a second VMM on the same path stops here, and no VMM
 * ever probes, replaces or removes a socket file another one is setting
 * up.  0 or -errno with a message in err. */
int virtio_devs_lock(const struct vm_config *cfg, char *err, size_t errlen);

/* The devices' host side, before KVM: the vsock device with its listening
 * sockets (registered with `ev`, served once the loop runs; a client that
 * comes before the guest driver is closed).  0 or -errno with a message in err. */
int virtio_devs_open(struct virtio_devs *vd, struct evloop *ev,
		     const struct vm_config *cfg, char *err, size_t errlen);

/* Put the opened devices on vm's MMIO bus and wire irqfd/ioeventfd. 0 or
 * -errno with a message in err. */
int virtio_devs_create(struct virtio_devs *vd, struct vm *vm,
		       const struct vm_config *cfg, char *err, size_t errlen);

/* Only the vsock device of cfg (no transport), its host side on `ev`:
 * for "vmm vhost-user" as for "vmm run".  0 or -errno with a message in err. */
struct evloop;
int virtio_devs_vsock_create(const struct vm_config *cfg, struct evloop *ev,
			     struct vsock_dev **out, char *err, size_t errlen);

/* Tear down (vCPUs stopped, I/O loop returned): closes host sockets and
 * removes the socket files the devices created. */
void virtio_devs_destroy(struct virtio_devs *vd);

#endif
