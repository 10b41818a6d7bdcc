/* SPDX-License-Identifier: MIT */
#include "virtio_mmio.h"

#include "cmdline.h"
#include "io.h"
#include "str.h"

#define RESET_POLLS 100000

static uint32_t rd(struct vmmio *d, uint32_t off)
{
	return mmio_read32(d->base + off);
}

static void wr(struct vmmio *d, uint32_t off, uint32_t v)
{
	mmio_write32(d->base + off, v);
}

/* Parse a number with an optional K/M/G suffix from s[0..n). */
static bool parse_size(const char *s, size_t n, uint64_t *out)
{
	uint64_t mul = 1;

	if (n && (s[n - 1] == 'K' || s[n - 1] == 'k'))
		mul = 1ull << 10;
	else if (n && (s[n - 1] == 'M' || s[n - 1] == 'm'))
		mul = 1ull << 20;
	else if (n && (s[n - 1] == 'G' || s[n - 1] == 'g'))
		mul = 1ull << 30;
	if (mul != 1)
		n--;
	if (!str_to_u64(s, n, out))
		return false;
	*out *= mul;
	return true;
}

/* Our VMM: 4K@0xd0000000:5, page-aligned.  QEMU microvm: 512@0xfeb00e00:12,
 * transports 512 bytes apart (the register block is 0x100 + config). */
uint64_t vmmio_base_from_cmdline(uint64_t fallback)
{
	const char *v, *at = NULL, *colon = NULL;
	size_t n;
	uint64_t size, base;

	if (!cmdline_find("virtio_mmio.device", &v, &n))
		return fallback;
	for (size_t i = 0; i < n; i++) {
		if (v[i] == '@' && !at)
			at = v + i;
		else if (v[i] == ':' && at && !colon)
			colon = v + i;
	}
	if (!at)
		return fallback;
	if (!colon)
		colon = v + n;
	if (!parse_size(v, (size_t)(at - v), &size) || size < 0x200 ||
	    !str_to_u64(at + 1, (size_t)(colon - at - 1), &base) ||
	    base < 0x100000 || base >= 0x100000000ull || (base & 0x1ff))
		return fallback;
	return base;
}

int vmmio_probe(struct vmmio *d, uint64_t base, uint32_t device_id,
		const char **why)
{
	d->base = base;
	d->features = d->dev_features = 0;
	if (rd(d, VM_MAGIC) != VIRTIO_MMIO_MAGIC) {
		*why = "bad MagicValue";
		return -1;
	}
	if (rd(d, VM_VERSION) != 2) {
		*why = "Version is not 2 (legacy devices unsupported)";
		return -1;
	}
	d->device_id = rd(d, VM_DEVICE_ID);
	if (d->device_id != device_id) {
		*why = d->device_id ? "unexpected DeviceID" : "DeviceID 0 (no device)";
		return -1;
	}
	return 0;
}

int vmmio_reset(struct vmmio *d)
{
	/* §4.2.3.1.1: after writing 0 the driver waits for Status to read 0. */
	wr(d, VM_STATUS, 0);
	for (unsigned i = 0; i < RESET_POLLS; i++) {
		if (rd(d, VM_STATUS) == 0)
			return 0;
		cpu_relax();
	}
	return -1;
}

uint32_t vmmio_status(struct vmmio *d)
{
	return rd(d, VM_STATUS);
}

void vmmio_set_status(struct vmmio *d, uint32_t s)
{
	wr(d, VM_STATUS, s);
}

bool vmmio_has(const struct vmmio *d, unsigned bit)
{
	return (d->features >> bit) & 1;
}

int vmmio_negotiate(struct vmmio *d, uint64_t wanted, const char **why)
{
	uint32_t st;

	/* §3.1.1: 1 reset, 2 ACKNOWLEDGE, 3 DRIVER. */
	if (vmmio_reset(d)) {
		*why = "Status did not read 0 after reset";
		return -1;
	}
	st = VS_ACKNOWLEDGE;
	wr(d, VM_STATUS, st);
	st |= VS_DRIVER;
	wr(d, VM_STATUS, st);

	/* 4: device features, 32 bits per DeviceFeaturesSel page. */
	wr(d, VM_DEV_FEAT_SEL, 0);
	d->dev_features = rd(d, VM_DEV_FEATURES);
	wr(d, VM_DEV_FEAT_SEL, 1);
	d->dev_features |= (uint64_t)rd(d, VM_DEV_FEATURES) << 32;
	if (!((d->dev_features >> VIRTIO_F_VERSION_1) & 1)) {
		wr(d, VM_STATUS, st | VS_FAILED);
		*why = "device does not offer VERSION_1";
		return -1;
	}
	d->features = d->dev_features & wanted;
	d->features |= 1ull << VIRTIO_F_VERSION_1;
	wr(d, VM_DRV_FEAT_SEL, 0);
	wr(d, VM_DRV_FEATURES, (uint32_t)d->features);
	wr(d, VM_DRV_FEAT_SEL, 1);
	wr(d, VM_DRV_FEATURES, (uint32_t)(d->features >> 32));

	/* 5-6: FEATURES_OK, and re-read: a device that does not accept the
	 * subset clears it. */
	st |= VS_FEATURES_OK;
	wr(d, VM_STATUS, st);
	if (!(rd(d, VM_STATUS) & VS_FEATURES_OK)) {
		wr(d, VM_STATUS, st | VS_FAILED);
		*why = "device refused FEATURES_OK";
		return -1;
	}
	return 0;
}

unsigned vmmio_queue_max(struct vmmio *d, unsigned q)
{
	wr(d, VM_QUEUE_SEL, q);
	return rd(d, VM_QUEUE_NUM_MAX);
}

int vmmio_queue_setup(struct vmmio *d, unsigned q, unsigned num,
		      uint64_t desc, uint64_t avail, uint64_t used,
		      const char **why)
{
	unsigned max;

	/* §4.2.3.2: select, check it is not in use, check the maximum. */
	wr(d, VM_QUEUE_SEL, q);
	if (rd(d, VM_QUEUE_READY)) {
		*why = "QueueReady already set";
		return -1;
	}
	max = rd(d, VM_QUEUE_NUM_MAX);
	if (max == 0) {
		*why = "queue not available (QueueNumMax 0)";
		return -1;
	}
	if (num > max) {
		*why = "queue size above QueueNumMax";
		return -1;
	}
	wr(d, VM_QUEUE_NUM, num);
	wr(d, VM_QUEUE_DESC_LO, (uint32_t)desc);
	wr(d, VM_QUEUE_DESC_HI, (uint32_t)(desc >> 32));
	wr(d, VM_QUEUE_DRV_LO, (uint32_t)avail);
	wr(d, VM_QUEUE_DRV_HI, (uint32_t)(avail >> 32));
	wr(d, VM_QUEUE_DEV_LO, (uint32_t)used);
	wr(d, VM_QUEUE_DEV_HI, (uint32_t)(used >> 32));
	wr(d, VM_QUEUE_READY, 1);
	return 0;
}

void vmmio_driver_ok(struct vmmio *d)
{
	wr(d, VM_STATUS, rd(d, VM_STATUS) | VS_DRIVER_OK);
}

uint32_t vmmio_ack_interrupts(struct vmmio *d)
{
	uint32_t s = rd(d, VM_INT_STATUS);

	if (s)
		wr(d, VM_INT_ACK, s);
	return s;
}

uint32_t vmmio_config32(struct vmmio *d, uint32_t off)
{
	return rd(d, VM_CONFIG + off);
}

uint64_t vmmio_config64(struct vmmio *d, uint32_t off)
{
	uint32_t gen, lo = 0, hi = 0;

	/* §2.5.1: retry while ConfigGeneration changes under us (bounded: a
	 * device that changes it forever gets the last reading). */
	for (int tries = 0; tries < 100; tries++) {
		gen = rd(d, VM_CONFIG_GEN);
		lo = rd(d, VM_CONFIG + off);
		hi = rd(d, VM_CONFIG + off + 4);
		if (gen == rd(d, VM_CONFIG_GEN))
			break;
	}
	return ((uint64_t)hi << 32) | lo;
}
