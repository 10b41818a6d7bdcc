// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the virtio-mmio register interface, with a dummy echo
 * device over 64 KiB of fake guest RAM, so that QueueReady validates ring
 * geometry and QueueNotify makes the device parse chains.
 *
 * Input: a sequence of 8-byte records  op, off_lo, off_hi, v0..v4
 *   op & 0x80          guest RAM write: 4 bytes v0..v3 at offset
 *                      (off % (RAM - 4)) — the "driver" building rings
 *   (op & 0x70) == 0x70  device-side event: bit 0 → the device pushes
 *                      into queue 0 on its own (the rx path), else
 *                      virtio_set_needs_reset()
 *   otherwise          MMIO access: write if op & 1, length
 *                      {4,4,1,2,8,4,4,4}[(op >> 1) & 7], window offset
 *                      off & 0xfff, value v0..v4 (little-endian)
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/bus.h"
#include "virtio/device.h"
#include "virtio/mmio.h"
#include "base/guest_mem.h"

#define MEM_SIZE 0x10000u
#define BASE     0xd0000000ull
#define QMAX     16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

static uint8_t mem[MEM_SIZE] __attribute__((aligned(4096)));

struct fdev {
	struct virtio_dev *vdev;
	bool active;
	uint8_t config[8];
	unsigned pops;
};

static void f_config_read(void *opaque, uint32_t off, void *data, uint32_t len)
{
	struct fdev *d = opaque;

	CHECK(off + len <= sizeof(d->config));
	memcpy(data, d->config + off, len);
}

static void f_config_write(void *opaque, uint32_t off, const void *data, uint32_t len)
{
	struct fdev *d = opaque;

	CHECK(off + len <= sizeof(d->config));
	memcpy(d->config + off, data, len);
}

/* Pop up to `budget` chains of queue q, echo, push, signal. */
static void f_run_queue(struct fdev *d, unsigned q, unsigned budget)
{
	struct virtq *vq = virtio_queue(d->vdev, q);
	struct iovec iov[QMAX];
	struct virtq_chain c;
	int rc = 0;

	CHECK(vq);
	while (budget-- && (rc = virtq_pop(vq, iov, QMAX, &c)) == 1) {
		uint32_t w = 0;

		d->pops++;
		for (unsigned i = 0; i < c.n_out; i++) {
			CHECK((uint8_t *)iov[i].iov_base >= mem &&
			      (uint8_t *)iov[i].iov_base + iov[i].iov_len <= mem + MEM_SIZE);
		}
		for (unsigned i = c.n_out; i < (unsigned)c.n_out + c.n_in; i++) {
			CHECK((uint8_t *)iov[i].iov_base >= mem &&
			      (uint8_t *)iov[i].iov_base + iov[i].iov_len <= mem + MEM_SIZE);
			memset(iov[i].iov_base, 0x5a, iov[i].iov_len);
			w += (uint32_t)iov[i].iov_len;
		}
		if (d->pops % 5 == 4) {
			virtq_unpop(vq, &c);
			break;
		}
		virtq_push(vq, &c, w);
	}
	CHECK(rc >= 0 || !virtq_usable(vq));
	virtio_signal(d->vdev, q);
}

static void f_notify(void *opaque, unsigned q)
{
	struct fdev *d = opaque;

	CHECK(q < 2);
	if (d->active)
		f_run_queue(d, q, 2 * QMAX);
}

static int f_activate(void *opaque)
{
	struct fdev *d = opaque;

	d->active = true;
	/* Refuse sometimes, deterministically, to reach that path too. */
	return (d->config[7] == 0xee) ? -EINVAL : 0;
}

static void f_reset(void *opaque)
{
	struct fdev *d = opaque;

	d->active = false;
}

static const struct virtio_device_ops f_ops = {
	.device_id = VIRTIO_ID_ENTROPY,
	.features = 1ull << 3,
	.num_queues = 2,
	.queue_max_size = QMAX,
	.config_size = 8,
	.config_read = f_config_read,
	.config_write = f_config_write,
	.queue_notify = f_notify,
	.activate = f_activate,
	.reset = f_reset,
};

static void f_irq(void *opaque)
{
	unsigned *n = opaque;

	(*n)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t lens[8] = { 4, 4, 1, 2, 8, 4, 4, 4 };
	struct guest_mem gm;
	struct bus bus;
	struct fdev d;
	struct virtio_dev *vdev;
	struct vmmio_params p = {
		.base = BASE, .irq = 5, .ops = &f_ops, .dev = &d, .gm = &gm,
	};
	unsigned irqs = 0;

	memset(mem, 0, sizeof(mem));
	gm_init_with(&gm, mem, MEM_SIZE);
	memset(&bus, 0, sizeof(bus));
	memset(&d, 0, sizeof(d));
	if (vmmio_create(&bus, &p, &vdev) < 0)
		__builtin_trap();
	d.vdev = vdev;
	vmmio_set_irq(vdev, f_irq, &irqs);

	for (size_t i = 0; i + 8 <= size; i += 8) {
		const uint8_t *r = data + i;
		uint32_t off = r[1] | (uint32_t)r[2] << 8;
		uint64_t val = (uint64_t)r[3] | (uint64_t)r[4] << 8 |
			       (uint64_t)r[5] << 16 | (uint64_t)r[6] << 24 |
			       (uint64_t)r[7] << 32;
		uint8_t buf[8];

		if (r[0] & 0x80) {
			memcpy(mem + off % (MEM_SIZE - 4), r + 3, 4);
			continue;
		}
		if ((r[0] & 0x70) == 0x70) {
			if (r[0] & 1) {
				if (d.active)
					f_run_queue(&d, 0, 1);
			} else {
				virtio_set_needs_reset(vdev);
			}
			continue;
		}
		uint32_t len = lens[(r[0] >> 1) & 7];

		memcpy(buf, &val, sizeof(buf));
		off &= 0xfff;
		/* Claimed unless it runs past the 4 KiB window. */
		CHECK(bus_dispatch(&bus, BASE + off, buf, len, r[0] & 1) ==
		      (off + len <= VMMIO_WINDOW_SIZE));
		/* The device-owned status bit never clears except by reset;
		 * DRIVER_OK never appears without FEATURES_OK. */
		uint32_t st = vmmio_status(vdev);

		CHECK(!(st & VIRTIO_STATUS_DRIVER_OK) ||
		      (st & VIRTIO_STATUS_FEATURES_OK));
	}
	vmmio_destroy(vdev);
	return 0;
}
