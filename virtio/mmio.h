/* SPDX-License-Identifier: MIT */
/*
 * The virtio-mmio transport, version 2 (virtio 1.2, section 4.2).
 *
 * One instance = one device window of VMMIO_WINDOW_SIZE bytes on the MMIO
 * bus at `base`, one interrupt line and one device (ops + opaque).  The
 * instance is the `struct virtio_dev` a device calls back into (device.h).
 *
 * Register window (offsets; all 32-bit, aligned; below 0x100 any other
 * access is ignored, reads return 0, and counted in stats.bad_access):
 *   0x000 MagicValue "virt"   0x004 Version 2      0x008 DeviceID  0x00c VendorID
 *   0x010 DeviceFeatures      0x014 DeviceFeaturesSel
 *   0x020 DriverFeatures      0x024 DriverFeaturesSel
 *   0x030 QueueSel  0x034 QueueNumMax  0x038 QueueNum  0x044 QueueReady
 *   0x050 QueueNotify  0x060 InterruptStatus  0x064 InterruptACK
 *   0x070 Status  0x080/84 QueueDesc  0x090/94 QueueDriver  0x0a0/a4 QueueDevice
 *   0x0ac SHMSel  0x0b0/b4 SHMLen (-1: no regions)  0x0b8/bc SHMBase
 *   0x0c0 QueueReset (reads 0: VIRTIO_F_RING_RESET is not offered)
 *   0x0fc ConfigGeneration    0x100.. device config space (ops->config_*)
 *
 * Interrupts: InterruptStatus bit 0 (used buffer) / bit 1 (config change)
 * is set and the raise callback is called once per interrupt: an edge
 * pulse, e.g. a write to an eventfd bound with KVM_IRQFD to the IO-APIC pin
 * (the guest reads InterruptStatus and acknowledges through InterruptACK).
 *
 * Notifications: a QueueNotify write, either trapped (MMIO exit → bus →
 * this transport) or caught by KVM in an ioeventfd (datamatch = queue
 * index) that the I/O thread turns into vmmio_notify(); both end in
 * ops->queue_notify().
 *
 * Threading: see device.h.  The bus handlers may run concurrently on every
 * vCPU thread; vmmio_notify() on any thread.
 */
#ifndef VIRTIO_MMIO_H
#define VIRTIO_MMIO_H

#include <stdint.h>

#include "devices/bus.h"
#include "virtio/device.h"
#include "base/guest_mem.h"

#define VMMIO_WINDOW_SIZE 0x1000u
#define VMMIO_MAGIC       0x74726976u  /* "virt" */
#define VMMIO_VERSION     2u
#define VMMIO_VENDOR_ID   0x206d6d76u  /* "vmm " */

/* Register offsets (spec 4.2.2). */
enum {
	VMMIO_MAGIC_VALUE        = 0x000,
	VMMIO_VERSION_REG        = 0x004,
	VMMIO_DEVICE_ID          = 0x008,
	VMMIO_VENDOR_ID_REG      = 0x00c,
	VMMIO_DEVICE_FEATURES    = 0x010,
	VMMIO_DEVICE_FEATURES_SEL = 0x014,
	VMMIO_DRIVER_FEATURES    = 0x020,
	VMMIO_DRIVER_FEATURES_SEL = 0x024,
	VMMIO_QUEUE_SEL          = 0x030,
	VMMIO_QUEUE_NUM_MAX      = 0x034,
	VMMIO_QUEUE_NUM          = 0x038,
	VMMIO_QUEUE_READY        = 0x044,
	VMMIO_QUEUE_NOTIFY       = 0x050,
	VMMIO_INTERRUPT_STATUS   = 0x060,
	VMMIO_INTERRUPT_ACK      = 0x064,
	VMMIO_STATUS             = 0x070,
	VMMIO_QUEUE_DESC_LOW     = 0x080,
	VMMIO_QUEUE_DESC_HIGH    = 0x084,
	VMMIO_QUEUE_DRIVER_LOW   = 0x090,
	VMMIO_QUEUE_DRIVER_HIGH  = 0x094,
	VMMIO_QUEUE_DEVICE_LOW   = 0x0a0,
	VMMIO_QUEUE_DEVICE_HIGH  = 0x0a4,
	VMMIO_SHM_SEL            = 0x0ac,
	VMMIO_SHM_LEN_LOW        = 0x0b0,
	VMMIO_SHM_LEN_HIGH       = 0x0b4,
	VMMIO_SHM_BASE_LOW       = 0x0b8,
	VMMIO_SHM_BASE_HIGH      = 0x0bc,
	VMMIO_QUEUE_RESET        = 0x0c0,
	VMMIO_CONFIG_GENERATION  = 0x0fc,
	VMMIO_CONFIG             = 0x100,
};

#define VMMIO_INT_VRING  1u  /* InterruptStatus: used buffer notification */
#define VMMIO_INT_CONFIG 2u  /* InterruptStatus: configuration change */

struct vmmio_params {
	uint64_t base;                       /* guest physical, 4 KiB aligned */
	uint32_t irq;                        /* GSI / IO-APIC pin */
	const struct virtio_device_ops *ops; /* must outlive the transport */
	void *dev;                           /* passed to every op */
	const struct guest_mem *gm;
};

/* Guest misbehaviour, counted (never fatal). */
struct vmmio_stats {
	uint64_t bad_access;      /* unaligned / wrong size / unknown offset */
	uint64_t ignored_write;   /* read-only register, or not allowed now */
	uint64_t refused_status;  /* status bits not latched */
	uint64_t queue_errors;    /* queue setups refused, rings broken */
	uint64_t notifies;        /* queue notifications delivered */
	uint64_t interrupts;      /* interrupts raised */
};

/* Allocate a transport for the device and register its window on `bus`.
 * Call before the vCPUs start.  0 or -errno (-EINVAL for bad ops). */
int vmmio_create(struct bus *bus, const struct vmmio_params *p,
		 struct virtio_dev **out);

/* Free the transport.  Only once no vCPU or I/O thread can reach it (the
 * bus has no unregister: destroy at VM teardown).  Does not call ops. */
void vmmio_destroy(struct virtio_dev *vdev);

/* Install the interrupt callback (before the vCPUs start).  Without one,
 * interrupts only set InterruptStatus. */
void vmmio_set_irq(struct virtio_dev *vdev, void (*raise)(void *opaque),
		   void *opaque);

/* The QueueNotify entry point for notifications that did not come through
 * the bus (ioeventfd).  Thread safe. */
void vmmio_notify(struct virtio_dev *vdev, unsigned q);

uint64_t vmmio_base(const struct virtio_dev *vdev);
uint32_t vmmio_irq(const struct virtio_dev *vdev);
unsigned vmmio_num_queues(const struct virtio_dev *vdev);
/* Current Status register value (for logs and tests). */
uint32_t vmmio_status(const struct virtio_dev *vdev);
void vmmio_get_stats(const struct virtio_dev *vdev, struct vmmio_stats *out);

/* --- KVM glue (virtio/mmio_kvm.c) ------------------------------------- */

struct evloop;
struct vmmio_kvm;

#define VMMIO_KVM_IOEVENTFD 1u /* one ioeventfd per queue on QueueNotify */

/* Bind the transport to KVM: an eventfd registered with KVM_IRQFD on
 * gsi = irq becomes the interrupt, and with VMMIO_KVM_IOEVENTFD one eventfd
 * per queue is registered with KVM_IOEVENTFD (base + 0x050, 4 bytes,
 * datamatch = queue index) and added to `ev`, whose callback calls
 * vmmio_notify().  Call before the vCPUs start.  0 or -errno (everything
 * undone on failure). */
int vmmio_kvm_attach(struct virtio_dev *vdev, int vm_fd, struct evloop *ev,
		     unsigned flags, struct vmmio_kvm **out);

/* Undo vmmio_kvm_attach (deassign, ev_del, close).  Call on the I/O thread
 * or after the loop stopped, before vmmio_destroy(). */
void vmmio_kvm_detach(struct vmmio_kvm *k);

#endif
