/* SPDX-License-Identifier: MIT */
/*
 * Driver side of the virtio-mmio transport, version 2 only (virtio v1.2
 * §4.2.2 register layout, §4.2.3 driver requirements, §3.1 device
 * initialization).  Polled: the driver never waits for an interrupt, but may
 * acknowledge InterruptStatus so the line does not stay asserted.
 * Every register access is a 32-bit `mov` (io.h): §4.2.2 requires 32-bit
 * accesses below 0x100, and the PVM emulator copes with nothing fancier.
 */
#ifndef TG_VIRTIO_MMIO_H
#define TG_VIRTIO_MMIO_H

#include <stdbool.h>
#include <stdint.h>

/* Register offsets, §4.2.2 Table "MMIO Device Register Layout". */
#define VM_MAGIC          0x000
#define VM_VERSION        0x004
#define VM_DEVICE_ID      0x008
#define VM_VENDOR_ID      0x00c
#define VM_DEV_FEATURES   0x010
#define VM_DEV_FEAT_SEL   0x014
#define VM_DRV_FEATURES   0x020
#define VM_DRV_FEAT_SEL   0x024
#define VM_QUEUE_SEL      0x030
#define VM_QUEUE_NUM_MAX  0x034
#define VM_QUEUE_NUM      0x038
#define VM_QUEUE_READY    0x044
#define VM_QUEUE_NOTIFY   0x050
#define VM_INT_STATUS     0x060
#define VM_INT_ACK        0x064
#define VM_STATUS         0x070
#define VM_QUEUE_DESC_LO  0x080
#define VM_QUEUE_DESC_HI  0x084
#define VM_QUEUE_DRV_LO   0x090
#define VM_QUEUE_DRV_HI   0x094
#define VM_QUEUE_DEV_LO   0x0a0
#define VM_QUEUE_DEV_HI   0x0a4
#define VM_CONFIG_GEN     0x0fc
#define VM_CONFIG         0x100

#define VIRTIO_MMIO_MAGIC 0x74726976u /* "virt" */

/* Device status bits, §2.1. */
#define VS_ACKNOWLEDGE        0x01u
#define VS_DRIVER             0x02u
#define VS_DRIVER_OK          0x04u
#define VS_FEATURES_OK        0x08u
#define VS_DEVICE_NEEDS_RESET 0x40u
#define VS_FAILED             0x80u

/* Transport feature bits, §6. */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX     29
#define VIRTIO_F_VERSION_1     32

struct vmmio {
	uint64_t base;
	uint32_t device_id;
	uint64_t dev_features; /* offered by the device */
	uint64_t features;     /* negotiated */
};

/* Parse `virtio_mmio.device=<size>@<base>:<irq>` from the command line
 * (Linux's syntax: size with an optional K/M/G suffix, base in hex or
 * decimal); `fallback` if absent or malformed. */
uint64_t vmmio_base_from_cmdline(uint64_t fallback);

/* Check MagicValue, Version 2 and DeviceID == `device_id`.  0, or -1 with
 * *why set to a static description. */
int vmmio_probe(struct vmmio *d, uint64_t base, uint32_t device_id,
		const char **why);

/* §3.1.1 steps 1-6: reset, ACKNOWLEDGE, DRIVER, read device features,
 * write `wanted & offered` (VERSION_1 must be offered: §4.2.3 v2 devices),
 * set FEATURES_OK and re-read it.  0, or -1 with *why. */
int vmmio_negotiate(struct vmmio *d, uint64_t wanted, const char **why);

/* §4.2.3.2 virtqueue configuration for queue q with `num` entries and the
 * three guest-physical areas.  0, or -1 with *why (queue in use, too big). */
int vmmio_queue_setup(struct vmmio *d, unsigned q, unsigned num,
		      uint64_t desc, uint64_t avail, uint64_t used,
		      const char **why);

/* QueueNumMax of queue q (0: queue not available). */
unsigned vmmio_queue_max(struct vmmio *d, unsigned q);

/* §3.1.1 step 8. */
void vmmio_driver_ok(struct vmmio *d);

/* Write 0 to Status and wait (bounded) until it reads back 0 (§4.2.3.1.1).
 * 0, or -1 if the device never finished the reset. */
int vmmio_reset(struct vmmio *d);

uint32_t vmmio_status(struct vmmio *d);
void vmmio_set_status(struct vmmio *d, uint32_t s);
bool vmmio_has(const struct vmmio *d, unsigned bit);

/* Read InterruptStatus and acknowledge what it shows; returns it. */
uint32_t vmmio_ack_interrupts(struct vmmio *d);

/* 32-bit read of device config at `off` from 0x100.  A consistent 64-bit
 * value read as two halves under ConfigGeneration (§2.5.1, §4.2.3.1.1). */
uint32_t vmmio_config32(struct vmmio *d, uint32_t off);
uint64_t vmmio_config64(struct vmmio *d, uint32_t off);

static inline uint64_t vmmio_notify_addr(const struct vmmio *d)
{
	return d->base + VM_QUEUE_NOTIFY;
}

#endif
