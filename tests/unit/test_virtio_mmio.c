// SPDX-License-Identifier: MIT
/*
 * virtio-mmio transport unit tests.  A test-side driver writes registers
 * through the MMIO bus as a vCPU would and builds rings in fake guest
 * memory; the device is a small echo "console" (real device ID 3) that
 * copies each chain's readable bytes into its writable part.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/device.h"
#include "virtio/mmio.h"
#include "virtio_test_driver.h"

#define BASE  0xd0000000ull
#define IRQ   5
#define QMAX  16

/* Ring placement per queue q. */
#define DESC(q)  (0x1000ull + 0x4000ull * (q))
#define AVAIL(q) (0x2000ull + 0x4000ull * (q))
#define USED(q)  (0x3000ull + 0x4000ull * (q))
#define BUF(i)   (0x20000ull + 0x1000ull * (i))

#define F_CONSOLE_SIZE 0    /* a device feature bit */
#define F_VERSION_1 (1ull << VIRTIO_F_VERSION_1)
#define F_EVENT_IDX (1ull << VIRTIO_F_EVENT_IDX)
#define F_INDIRECT  (1ull << VIRTIO_F_INDIRECT_DESC)

#define S_ACK  VIRTIO_STATUS_ACKNOWLEDGE
#define S_DRV  VIRTIO_STATUS_DRIVER
#define S_FOK  VIRTIO_STATUS_FEATURES_OK
#define S_DOK  VIRTIO_STATUS_DRIVER_OK
#define S_NR   VIRTIO_STATUS_DEVICE_NEEDS_RESET
#define S_FAIL VIRTIO_STATUS_FAILED

/* --- the dummy device -------------------------------------------------- */

struct dummy {
	pthread_mutex_t lock;
	struct virtio_dev *vdev;
	bool active;
	int activate_calls, reset_calls;
	int notify_calls[2];
	int activate_rc;
	int last_rc;          /* last virtq_pop error */
	uint64_t features_at_activate;
	uint8_t config[12];   /* cols, rows, max_nr_ports, emerg_wr */
};

static struct dummy dev;

static void dummy_config_read(void *opaque, uint32_t off, void *data, uint32_t len)
{
	struct dummy *d = opaque;

	ck_assert_uint_le(off + len, sizeof(d->config));
	memcpy(data, d->config + off, len);
}

static void dummy_config_write(void *opaque, uint32_t off, const void *data,
			       uint32_t len)
{
	struct dummy *d = opaque;

	/* Only emerg_wr (offset 8) is writable. */
	if (off >= 8 && off + len <= 12)
		memcpy(d->config + off, data, len);
}

static void echo_queue(struct dummy *d, unsigned q)
{
	struct virtq *vq = virtio_queue(d->vdev, q);
	struct iovec iov[QMAX];
	struct virtq_chain c;
	int rc;

	while ((rc = virtq_pop(vq, iov, QMAX, &c)) == 1) {
		uint8_t tmp[4096];
		size_t n = 0, w = 0;

		for (unsigned i = 0; i < c.n_out; i++) {
			size_t k = iov[i].iov_len;

			if (k > sizeof(tmp) - n)
				k = sizeof(tmp) - n;
			memcpy(tmp + n, iov[i].iov_base, k);
			n += k;
		}
		for (unsigned i = c.n_out; i < c.n_out + c.n_in && w < n; i++) {
			size_t k = iov[i].iov_len < n - w ? iov[i].iov_len : n - w;

			memcpy(iov[i].iov_base, tmp + w, k);
			w += k;
		}
		virtq_push(vq, &c, (uint32_t)w);
	}
	if (rc < 0)
		d->last_rc = rc;
	virtio_signal(d->vdev, q);
}

static void dummy_notify(void *opaque, unsigned q)
{
	struct dummy *d = opaque;

	pthread_mutex_lock(&d->lock);
	d->notify_calls[q]++;
	if (d->active)
		echo_queue(d, q);
	pthread_mutex_unlock(&d->lock);
}

static int dummy_activate(void *opaque)
{
	struct dummy *d = opaque;

	pthread_mutex_lock(&d->lock);
	d->activate_calls++;
	d->features_at_activate = virtio_features(d->vdev);
	d->active = d->activate_rc == 0;
	pthread_mutex_unlock(&d->lock);
	return d->activate_rc;
}

static void dummy_reset(void *opaque)
{
	struct dummy *d = opaque;

	pthread_mutex_lock(&d->lock);
	d->reset_calls++;
	d->active = false;
	pthread_mutex_unlock(&d->lock);
}

static const struct virtio_device_ops dummy_ops = {
	.device_id = VIRTIO_ID_CONSOLE,
	/* Bit 34 (RING_PACKED) is transport territory: must not be offered. */
	.features = (1ull << F_CONSOLE_SIZE) | (1ull << VIRTIO_F_RING_PACKED),
	.num_queues = 2,
	.queue_max_size = QMAX,
	.config_size = 12,
	.config_read = dummy_config_read,
	.config_write = dummy_config_write,
	.queue_notify = dummy_notify,
	.activate = dummy_activate,
	.reset = dummy_reset,
};

/* --- fixture ----------------------------------------------------------- */

static struct td_mem mem;
static struct bus bus;
static struct virtio_dev *vdev;
static int irqs;
static struct td_ring ring0, ring1;

static void count_irq(void *opaque)
{
	(void)opaque;
	__atomic_fetch_add(&irqs, 1, __ATOMIC_RELAXED);
}

static void setup(void)
{
	struct vmmio_params p = {
		.base = BASE, .irq = IRQ, .ops = &dummy_ops, .dev = &dev, .gm = &mem.gm,
	};

	td_mem_init(&mem, TD_MEM_SIZE);
	memset(&bus, 0, sizeof(bus));
	memset(&dev, 0, sizeof(dev));
	pthread_mutex_init(&dev.lock, NULL);
	/* cols 80, rows 25, max_nr_ports 1 */
	memcpy(dev.config, "\x50\x00\x19\x00\x01\x00\x00\x00\x00\x00\x00\x00", 12);
	ck_assert_int_eq(vmmio_create(&bus, &p, &vdev), 0);
	dev.vdev = vdev;
	vmmio_set_irq(vdev, count_irq, NULL);
	irqs = 0;
	td_ring_init(&ring0, &mem, QMAX, DESC(0), AVAIL(0), USED(0));
	td_ring_init(&ring1, &mem, QMAX, DESC(1), AVAIL(1), USED(1));
}

static void teardown(void)
{
	vmmio_destroy(vdev);
	pthread_mutex_destroy(&dev.lock);
	td_mem_free(&mem);
}

static uint32_t rd(uint64_t off)
{
	return td_rd(&bus, BASE, off);
}

static void wr(uint64_t off, uint32_t v)
{
	td_wr(&bus, BASE, off, v);
}

static struct vmmio_stats stats(void)
{
	struct vmmio_stats s;

	vmmio_get_stats(vdev, &s);
	return s;
}

/* Full bring-up with both queues; returns the final Status. */
static uint32_t bring_up(uint64_t features)
{
	ck_assert_uint_eq(td_negotiate(&bus, BASE, features), S_ACK | S_DRV | S_FOK);
	ck_assert_uint_eq(td_setup_queue(&bus, BASE, 0, &ring0), 1);
	ck_assert_uint_eq(td_setup_queue(&bus, BASE, 1, &ring1), 1);
	wr(VMMIO_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	return rd(VMMIO_STATUS);
}

/* A chain "readable hello, writable 64 bytes" at heads h, h+1 of ring r. */
static void add_echo_chain(struct td_ring *r, uint16_t h, const char *msg)
{
	size_t n = strlen(msg);

	memcpy(mem.host + BUF(h), msg, n);
	td_desc(r, h, BUF(h), (uint32_t)n, VIRTQ_DESC_F_NEXT, h + 1);
	td_desc(r, h + 1, BUF(h + 1), 64, VIRTQ_DESC_F_WRITE, 0);
	td_add(r, h);
}

/* --- identification and features -------------------------------------- */

START_TEST(identification)
{
	ck_assert_uint_eq(rd(VMMIO_MAGIC_VALUE), 0x74726976);
	ck_assert_uint_eq(rd(VMMIO_VERSION_REG), 2);
	ck_assert_uint_eq(rd(VMMIO_DEVICE_ID), VIRTIO_ID_CONSOLE);
	ck_assert_uint_eq(rd(VMMIO_VENDOR_ID_REG), VMMIO_VENDOR_ID);
	ck_assert_uint_eq(rd(VMMIO_STATUS), 0);
	ck_assert_uint_eq(vmmio_base(vdev), BASE);
	ck_assert_uint_eq(vmmio_irq(vdev), IRQ);
	ck_assert_uint_eq(vmmio_num_queues(vdev), 2);
	ck_assert_ptr_nonnull(virtio_queue(vdev, 1));
	ck_assert_ptr_null(virtio_queue(vdev, 2));
}
END_TEST

START_TEST(device_features)
{
	wr(VMMIO_DEVICE_FEATURES_SEL, 0);
	ck_assert_uint_eq(rd(VMMIO_DEVICE_FEATURES),
			  (1u << F_CONSOLE_SIZE) | (1u << VIRTIO_F_INDIRECT_DESC) |
			  (1u << VIRTIO_F_EVENT_IDX));
	wr(VMMIO_DEVICE_FEATURES_SEL, 1);
	ck_assert_uint_eq(rd(VMMIO_DEVICE_FEATURES), 1u << (VIRTIO_F_VERSION_1 - 32));
	wr(VMMIO_DEVICE_FEATURES_SEL, 2);
	ck_assert_uint_eq(rd(VMMIO_DEVICE_FEATURES), 0);
	wr(VMMIO_DEVICE_FEATURES_SEL, 0xffffffff);
	ck_assert_uint_eq(rd(VMMIO_DEVICE_FEATURES), 0);
}
END_TEST

START_TEST(negotiation_ok)
{
	uint64_t f = F_VERSION_1 | F_EVENT_IDX | (1ull << F_CONSOLE_SIZE);

	ck_assert_uint_eq(td_negotiate(&bus, BASE, f), S_ACK | S_DRV | S_FOK);
	wr(VMMIO_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	ck_assert_uint_eq(rd(VMMIO_STATUS), S_ACK | S_DRV | S_FOK | S_DOK);
	ck_assert_int_eq(dev.activate_calls, 1);
	ck_assert_uint_eq(dev.features_at_activate, f);
	ck_assert(virtio_has_feature(vdev, VIRTIO_F_EVENT_IDX));
	ck_assert(!virtio_has_feature(vdev, VIRTIO_F_INDIRECT_DESC));
	ck_assert(!virtio_has_feature(vdev, 64));
}
END_TEST

START_TEST(negotiation_without_version_1)
{
	/* A legacy-only driver: FEATURES_OK must not latch. */
	ck_assert_uint_eq(td_negotiate(&bus, BASE, 1ull << F_CONSOLE_SIZE), S_ACK | S_DRV);
	ck_assert_uint_eq(stats().refused_status, 1);
	/* ... and DRIVER_OK cannot follow. */
	wr(VMMIO_STATUS, S_ACK | S_DRV | S_DOK);
	ck_assert_uint_eq(rd(VMMIO_STATUS), S_ACK | S_DRV);
	ck_assert_int_eq(dev.activate_calls, 0);
	/* The driver gives up. */
	wr(VMMIO_STATUS, S_ACK | S_DRV | S_FAIL);
	ck_assert_uint_eq(rd(VMMIO_STATUS), S_ACK | S_DRV | S_FAIL);
}
END_TEST

START_TEST(negotiation_unoffered_bits)
{
	/* RING_PACKED was in the device's table but is not offered. */
	ck_assert_uint_eq(td_negotiate(&bus, BASE, F_VERSION_1 | (1ull << VIRTIO_F_RING_PACKED)),
			  S_ACK | S_DRV);
	ck_assert_uint_eq(td_negotiate(&bus, BASE, F_VERSION_1 | (1ull << 5)), S_ACK | S_DRV);
	ck_assert_uint_eq(td_negotiate(&bus, BASE, F_VERSION_1 | (1ull << 63)), S_ACK | S_DRV);

	/* Bits beyond 63 (DriverFeaturesSel 2). */
	td_wr(&bus, BASE, VMMIO_STATUS, 0);
	wr(VMMIO_STATUS, S_ACK);
	wr(VMMIO_STATUS, S_ACK | S_DRV);
	wr(VMMIO_DRIVER_FEATURES_SEL, 1);
	wr(VMMIO_DRIVER_FEATURES, 1);
	wr(VMMIO_DRIVER_FEATURES_SEL, 2);
	wr(VMMIO_DRIVER_FEATURES, 4);
	wr(VMMIO_STATUS, S_ACK | S_DRV | S_FOK);
	ck_assert_uint_eq(rd(VMMIO_STATUS), S_ACK | S_DRV);

	/* A reset clears it all and a clean negotiation works. */
	ck_assert_uint_eq(td_negotiate(&bus, BASE, F_VERSION_1), S_ACK | S_DRV | S_FOK);
}
END_TEST

START_TEST(features_frozen_after_features_ok)
{
	ck_assert_uint_eq(td_negotiate(&bus, BASE, F_VERSION_1), S_ACK | S_DRV | S_FOK);
	wr(VMMIO_DRIVER_FEATURES_SEL, 0);
	wr(VMMIO_DRIVER_FEATURES, 1u << VIRTIO_F_EVENT_IDX);
	ck_assert_uint_eq(virtio_features(vdev), F_VERSION_1);
	ck_assert_uint_eq(stats().ignored_write, 1);
}
END_TEST

/* --- status machine ---------------------------------------------------- */

START_TEST(status_machine)
{
	/* FEATURES_OK needs ACKNOWLEDGE and DRIVER. */
	wr(VMMIO_DRIVER_FEATURES_SEL, 1);
	wr(VMMIO_DRIVER_FEATURES, 1);
	wr(VMMIO_STATUS, S_FOK);
	ck_assert_uint_eq(rd(VMMIO_STATUS), 0);
	wr(VMMIO_STATUS, S_ACK);
	wr(VMMIO_STATUS, S_ACK | S_DRV | S_FOK);
	ck_assert_uint_eq(rd(VMMIO_STATUS), S_ACK | S_DRV | S_FOK);

	/* Clearing a bit other than by reset is refused. */
	wr(VMMIO_STATUS, S_ACK | S_FOK);
	ck_assert_uint_eq(rd(VMMIO_STATUS), S_ACK | S_DRV | S_FOK);

	/* Unknown bits are dropped; the driver cannot set NEEDS_RESET. */
	wr(VMMIO_STATUS, S_ACK | S_DRV | S_FOK | 0x30 | S_NR);
	ck_assert_uint_eq(rd(VMMIO_STATUS), S_ACK | S_DRV | S_FOK);

	/* DRIVER_OK with FAILED is not latched. */
	wr(VMMIO_STATUS, S_ACK | S_DRV | S_FOK | S_DOK | S_FAIL);
	ck_assert_uint_eq(rd(VMMIO_STATUS), S_ACK | S_DRV | S_FOK | S_FAIL);
	ck_assert_int_eq(dev.activate_calls, 0);

	wr(VMMIO_STATUS, 0);
	ck_assert_uint_eq(rd(VMMIO_STATUS), 0);
	ck_assert_uint_eq(bring_up(F_VERSION_1), S_ACK | S_DRV | S_FOK | S_DOK);
	ck_assert_int_eq(dev.activate_calls, 1);
	/* Writing the same value again does not re-activate. */
	wr(VMMIO_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	ck_assert_int_eq(dev.activate_calls, 1);
}
END_TEST

START_TEST(activate_failure_needs_reset)
{
	dev.activate_rc = -ENOMEM;
	ck_assert_uint_eq(bring_up(F_VERSION_1), S_ACK | S_DRV | S_FOK | S_DOK | S_NR);
	ck_assert_uint_eq(rd(VMMIO_INTERRUPT_STATUS), VMMIO_INT_CONFIG);
	ck_assert_int_eq(irqs, 1);
}
END_TEST

START_TEST(reset_clears_everything)
{
	ck_assert_uint_eq(bring_up(F_VERSION_1 | F_EVENT_IDX), S_ACK | S_DRV | S_FOK | S_DOK);
	virtio_signal(vdev, 0); /* the first signal of a live queue always fires */
	virtio_set_needs_reset(vdev);
	ck_assert_uint_eq(rd(VMMIO_INTERRUPT_STATUS), VMMIO_INT_VRING | VMMIO_INT_CONFIG);
	ck_assert(virtq_usable(virtio_queue(vdev, 0)));
	int resets = dev.reset_calls;

	wr(VMMIO_STATUS, 0);
	ck_assert_int_eq(dev.reset_calls, resets + 1);
	ck_assert(!dev.active);
	ck_assert_uint_eq(rd(VMMIO_STATUS), 0);
	ck_assert_uint_eq(rd(VMMIO_INTERRUPT_STATUS), 0);
	ck_assert_uint_eq(virtio_features(vdev), 0);
	for (unsigned q = 0; q < 2; q++) {
		wr(VMMIO_QUEUE_SEL, q);
		ck_assert_uint_eq(rd(VMMIO_QUEUE_READY), 0);
		ck_assert(!virtq_usable(virtio_queue(vdev, q)));
	}
	/* The device comes back cleanly. */
	ck_assert_uint_eq(bring_up(F_VERSION_1), S_ACK | S_DRV | S_FOK | S_DOK);
	ck_assert(dev.active);
}
END_TEST

/* --- queues -------------------------------------------------------------- */

START_TEST(queue_select_and_max)
{
	wr(VMMIO_QUEUE_SEL, 0);
	ck_assert_uint_eq(rd(VMMIO_QUEUE_NUM_MAX), QMAX);
	ck_assert_uint_eq(rd(VMMIO_QUEUE_READY), 0);
	wr(VMMIO_QUEUE_SEL, 1);
	ck_assert_uint_eq(rd(VMMIO_QUEUE_NUM_MAX), QMAX);
	/* Queues that do not exist read as unavailable; writes are dropped. */
	wr(VMMIO_QUEUE_SEL, 2);
	ck_assert_uint_eq(rd(VMMIO_QUEUE_NUM_MAX), 0);
	ck_assert_uint_eq(rd(VMMIO_QUEUE_READY), 0);
	wr(VMMIO_QUEUE_NUM, 4);
	wr(VMMIO_QUEUE_READY, 1);
	ck_assert_uint_eq(rd(VMMIO_QUEUE_READY), 0);
	ck_assert_uint_eq(stats().ignored_write, 2);
	wr(VMMIO_QUEUE_SEL, 0xffffffff);
	ck_assert_uint_eq(rd(VMMIO_QUEUE_NUM_MAX), 0);
}
END_TEST

/* Try QueueReady with the given geometry on queue 0 after FEATURES_OK. */
static uint32_t try_queue(uint32_t num, uint64_t d, uint64_t a, uint64_t u)
{
	td_negotiate(&bus, BASE, F_VERSION_1);
	wr(VMMIO_QUEUE_SEL, 0);
	wr(VMMIO_QUEUE_NUM, num);
	td_wr64(&bus, BASE, VMMIO_QUEUE_DESC_LOW, d);
	td_wr64(&bus, BASE, VMMIO_QUEUE_DRIVER_LOW, a);
	td_wr64(&bus, BASE, VMMIO_QUEUE_DEVICE_LOW, u);
	wr(VMMIO_QUEUE_READY, 1);
	return rd(VMMIO_QUEUE_READY);
}

START_TEST(queue_invalid_geometry)
{
	static const struct {
		uint32_t num;
		uint64_t d, a, u;
	} bad[] = {
		{ 0, DESC(0), AVAIL(0), USED(0) },           /* never written */
		{ 3, DESC(0), AVAIL(0), USED(0) },           /* not a power of 2 */
		{ QMAX * 2, DESC(0), AVAIL(0), USED(0) },    /* > QueueNumMax */
		{ 0x10000, DESC(0), AVAIL(0), USED(0) },     /* > 16 bits */
		{ 0x10010, DESC(0), AVAIL(0), USED(0) },     /* 16 in its low 16 bits */
		{ 0x80000010, DESC(0), AVAIL(0), USED(0) },
		{ 8, DESC(0) + 8, AVAIL(0), USED(0) },       /* desc align 16 */
		{ 8, DESC(0), AVAIL(0) + 1, USED(0) },       /* avail align 2 */
		{ 8, DESC(0), AVAIL(0), USED(0) + 2 },       /* used align 4 */
		{ 8, TD_MEM_SIZE, AVAIL(0), USED(0) },       /* outside RAM */
		{ 8, DESC(0), AVAIL(0), TD_MEM_SIZE - 68 },  /* avail_event beyond */
		{ 8, DESC(0), 0xfffffffffffffffeull, USED(0) },
		{ 8, DESC(0), AVAIL(0), BASE },              /* MMIO, not RAM */
	};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		irqs = 0;
		ck_assert_msg(try_queue(bad[i].num, bad[i].d, bad[i].a, bad[i].u) == 0,
			      "case %u enabled", i);
		ck_assert_msg(rd(VMMIO_STATUS) & S_NR, "case %u no NEEDS_RESET", i);
		ck_assert_uint_eq(rd(VMMIO_INTERRUPT_STATUS), VMMIO_INT_CONFIG);
		ck_assert_int_eq(irqs, 1);
		ck_assert(!virtq_usable(virtio_queue(vdev, 0)));
	}
	ck_assert_uint_eq(stats().queue_errors, sizeof(bad) / sizeof(bad[0]));
	/* And the good one after a reset. */
	ck_assert_uint_eq(try_queue(8, DESC(0), AVAIL(0), USED(0)), 1);
	ck_assert_uint_eq(rd(VMMIO_STATUS) & S_NR, 0);
	ck_assert_uint_eq(virtio_queue(vdev, 0)->size, 8);
}
END_TEST

START_TEST(queue_ready_before_features_ok)
{
	wr(VMMIO_STATUS, S_ACK);
	wr(VMMIO_STATUS, S_ACK | S_DRV);
	wr(VMMIO_QUEUE_SEL, 0);
	wr(VMMIO_QUEUE_NUM, 8);
	td_wr64(&bus, BASE, VMMIO_QUEUE_DESC_LOW, DESC(0));
	td_wr64(&bus, BASE, VMMIO_QUEUE_DRIVER_LOW, AVAIL(0));
	td_wr64(&bus, BASE, VMMIO_QUEUE_DEVICE_LOW, USED(0));
	wr(VMMIO_QUEUE_READY, 1);
	ck_assert_uint_eq(rd(VMMIO_QUEUE_READY), 0);
	ck_assert(rd(VMMIO_STATUS) & S_NR);
}
END_TEST

START_TEST(queue_registers_locked_when_ready)
{
	struct virtq *vq = virtio_queue(vdev, 0);

	ck_assert_uint_eq(try_queue(8, DESC(0), AVAIL(0), USED(0)), 1);
	ck_assert_uint_eq(vq->desc_gpa, DESC(0));
	ck_assert_uint_eq(vq->avail_gpa, AVAIL(0));
	ck_assert_uint_eq(vq->used_gpa, USED(0));
	/* The driver must not touch a ready queue: writes are ignored. */
	wr(VMMIO_QUEUE_NUM, 4);
	td_wr64(&bus, BASE, VMMIO_QUEUE_DESC_LOW, TD_MEM_SIZE);
	td_wr64(&bus, BASE, VMMIO_QUEUE_DEVICE_LOW, 0x40);
	ck_assert_uint_eq(stats().ignored_write, 5);
	ck_assert_uint_eq(vq->size, 8);
	ck_assert_uint_eq(vq->desc_gpa, DESC(0));
	/* QueueReady 0 disables it (not live yet: no DRIVER_OK). */
	wr(VMMIO_QUEUE_READY, 0);
	ck_assert_uint_eq(rd(VMMIO_QUEUE_READY), 0);
	ck_assert(!vq->ready);
	/* Values other than 0/1 are ignored. */
	wr(VMMIO_QUEUE_READY, 2);
	ck_assert_uint_eq(rd(VMMIO_QUEUE_READY), 0);
	/* After re-enabling, the earlier rejected writes were not kept. */
	wr(VMMIO_QUEUE_READY, 1);
	ck_assert_uint_eq(rd(VMMIO_QUEUE_READY), 1);
	ck_assert_uint_eq(vq->desc_gpa, DESC(0));
}
END_TEST

START_TEST(queue_frozen_after_driver_ok)
{
	ck_assert_uint_eq(td_negotiate(&bus, BASE, F_VERSION_1), S_ACK | S_DRV | S_FOK);
	ck_assert_uint_eq(td_setup_queue(&bus, BASE, 0, &ring0), 1);
	wr(VMMIO_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	/* Queue 1 cannot be set up while the device is live ... */
	ck_assert_uint_eq(td_setup_queue(&bus, BASE, 1, &ring1), 0);
	ck_assert(!virtq_usable(virtio_queue(vdev, 1)));
	/* ... and queue 0 cannot be switched off under the device. */
	wr(VMMIO_QUEUE_SEL, 0);
	wr(VMMIO_QUEUE_READY, 0);
	ck_assert_uint_eq(rd(VMMIO_QUEUE_READY), 1);
	ck_assert(virtq_usable(virtio_queue(vdev, 0)));
	ck_assert_uint_eq(rd(VMMIO_STATUS) & S_NR, 0);
}
END_TEST

START_TEST(queue_reset_register)
{
	/* VIRTIO_F_RING_RESET is not offered: QueueReset reads 0, writes are
	 * ignored. */
	ck_assert_uint_eq(bring_up(F_VERSION_1), S_ACK | S_DRV | S_FOK | S_DOK);
	wr(VMMIO_QUEUE_SEL, 0);
	wr(VMMIO_QUEUE_RESET, 1);
	ck_assert_uint_eq(rd(VMMIO_QUEUE_RESET), 0);
	ck_assert_uint_eq(rd(VMMIO_QUEUE_READY), 1);
	ck_assert(virtq_usable(virtio_queue(vdev, 0)));
}
END_TEST

/* --- notifications and interrupts -------------------------------------- */

START_TEST(notify_echo_and_interrupt)
{
	uint32_t id, len;

	ck_assert_uint_eq(bring_up(F_VERSION_1), S_ACK | S_DRV | S_FOK | S_DOK);
	add_echo_chain(&ring1, 0, "hello");
	add_echo_chain(&ring1, 2, "world!");
	wr(VMMIO_QUEUE_NOTIFY, 1);
	ck_assert_int_eq(dev.notify_calls[1], 1);
	ck_assert_uint_eq(td_used_idx(&ring1), 2);
	td_used_elem(&ring1, 0, &id, &len);
	ck_assert_uint_eq(id, 0);
	ck_assert_uint_eq(len, 5);
	ck_assert_mem_eq(mem.host + BUF(1), "hello", 5);
	td_used_elem(&ring1, 1, &id, &len);
	ck_assert_uint_eq(id, 2);
	ck_assert_uint_eq(len, 6);
	ck_assert_mem_eq(mem.host + BUF(3), "world!", 6);

	ck_assert_int_eq(irqs, 1);
	ck_assert_uint_eq(rd(VMMIO_INTERRUPT_STATUS), VMMIO_INT_VRING);
	wr(VMMIO_INTERRUPT_ACK, VMMIO_INT_VRING);
	ck_assert_uint_eq(rd(VMMIO_INTERRUPT_STATUS), 0);
	ck_assert_uint_eq(stats().notifies, 1);

	/* NO_INTERRUPT honoured without EVENT_IDX. */
	td_set_avail_flags(&ring1, VIRTQ_AVAIL_F_NO_INTERRUPT);
	add_echo_chain(&ring1, 4, "quiet");
	vmmio_notify(vdev, 1);              /* the ioeventfd path */
	ck_assert_uint_eq(td_used_idx(&ring1), 3);
	ck_assert_int_eq(irqs, 1);
	ck_assert_uint_eq(rd(VMMIO_INTERRUPT_STATUS), 0);
}
END_TEST

START_TEST(notify_filtered)
{
	/* Before DRIVER_OK, bad index, queue not ready: device not called. */
	ck_assert_uint_eq(td_negotiate(&bus, BASE, F_VERSION_1), S_ACK | S_DRV | S_FOK);
	ck_assert_uint_eq(td_setup_queue(&bus, BASE, 0, &ring0), 1);
	wr(VMMIO_QUEUE_NOTIFY, 0);
	ck_assert_int_eq(dev.notify_calls[0], 0);
	wr(VMMIO_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	wr(VMMIO_QUEUE_NOTIFY, 1);            /* not set up */
	wr(VMMIO_QUEUE_NOTIFY, 2);
	wr(VMMIO_QUEUE_NOTIFY, 0xffffffff);
	vmmio_notify(vdev, 1000);
	ck_assert_int_eq(dev.notify_calls[0] + dev.notify_calls[1], 0);
	wr(VMMIO_QUEUE_NOTIFY, 0);
	ck_assert_int_eq(dev.notify_calls[0], 1);
	ck_assert_uint_eq(stats().notifies, 1);
}
END_TEST

START_TEST(event_idx_interrupt_suppression)
{
	ck_assert_uint_eq(bring_up(F_VERSION_1 | F_EVENT_IDX),
			  S_ACK | S_DRV | S_FOK | S_DOK);
	/* used_event 1: interrupt only once entry 1 is used. */
	td_set_used_event(&ring1, 1);
	add_echo_chain(&ring1, 0, "a");
	wr(VMMIO_QUEUE_NOTIFY, 1);
	ck_assert_int_eq(irqs, 1);          /* first signal always goes out */
	add_echo_chain(&ring1, 2, "b");
	wr(VMMIO_QUEUE_NOTIFY, 1);
	ck_assert_int_eq(irqs, 2);          /* entry 1 used */
	add_echo_chain(&ring1, 4, "c");
	wr(VMMIO_QUEUE_NOTIFY, 1);
	ck_assert_int_eq(irqs, 2);          /* event already passed */
	ck_assert_uint_eq(td_used_idx(&ring1), 3);
	/* Device armed avail_event at the next index it will consume. */
	ck_assert_uint_eq(td_avail_event(&ring1), 3);
}
END_TEST

START_TEST(interrupt_ack_partial)
{
	ck_assert_uint_eq(bring_up(F_VERSION_1), S_ACK | S_DRV | S_FOK | S_DOK);
	virtio_signal(vdev, 0); /* the first signal of a live queue always fires */
	virtio_set_needs_reset(vdev);
	ck_assert_int_eq(irqs, 2);
	ck_assert_uint_eq(rd(VMMIO_INTERRUPT_STATUS), 3);
	wr(VMMIO_INTERRUPT_ACK, VMMIO_INT_CONFIG);
	ck_assert_uint_eq(rd(VMMIO_INTERRUPT_STATUS), VMMIO_INT_VRING);
	wr(VMMIO_INTERRUPT_ACK, 0xfffffffc); /* undefined bits: no effect */
	ck_assert_uint_eq(rd(VMMIO_INTERRUPT_STATUS), VMMIO_INT_VRING);
	wr(VMMIO_INTERRUPT_ACK, VMMIO_INT_VRING);
	ck_assert_uint_eq(rd(VMMIO_INTERRUPT_STATUS), 0);
	/* InterruptStatus is read-only. */
	wr(VMMIO_INTERRUPT_STATUS, 3);
	ck_assert_uint_eq(rd(VMMIO_INTERRUPT_STATUS), 0);
	ck_assert_uint_eq(stats().interrupts, 2);
}
END_TEST

/* --- config space ------------------------------------------------------ */

START_TEST(config_space_and_generation)
{
	uint8_t b = 0;
	uint16_t h = 0;
	uint32_t w = 0, gen;
	uint64_t q = ~0ull;

	gen = rd(VMMIO_CONFIG_GENERATION);
	bus_dispatch(&bus, BASE + 0x100, &h, 2, false);
	ck_assert_uint_eq(h, 80);
	bus_dispatch(&bus, BASE + 0x102, &b, 1, false);
	ck_assert_uint_eq(b, 25);
	bus_dispatch(&bus, BASE + 0x104, &w, 4, false);
	ck_assert_uint_eq(w, 1);
	bus_dispatch(&bus, BASE + 0x104, &q, 8, false);
	ck_assert_uint_eq(q, 1);

	/* Beyond config_size (12): reads 0, counted; 8 bytes across the end. */
	w = 0x12345678;
	bus_dispatch(&bus, BASE + 0x10c, &w, 4, false);
	ck_assert_uint_eq(w, 0);
	q = ~0ull;
	bus_dispatch(&bus, BASE + 0x108, &q, 8, false);
	ck_assert_uint_eq(q, 0);
	w = 0x12345678;
	bus_dispatch(&bus, BASE + 0xffc, &w, 4, false);
	ck_assert_uint_eq(w, 0);
	ck_assert_uint_eq(stats().bad_access, 3);

	/* Writes reach config_write; out-of-range ones don't. */
	w = 0xcafe;
	bus_dispatch(&bus, BASE + 0x108, &w, 4, true);
	ck_assert_mem_eq(dev.config + 8, "\xfe\xca\x00\x00", 4);
	bus_dispatch(&bus, BASE + 0x10a, &w, 4, true);
	ck_assert_mem_eq(dev.config + 8, "\xfe\xca\x00\x00", 4);

	/* No device changes its config on its own: the generation stays. */
	ck_assert_uint_eq(rd(VMMIO_CONFIG_GENERATION), gen);
	ck_assert_int_eq(irqs, 0);
}
END_TEST

/* --- bad register accesses --------------------------------------------- */

START_TEST(bad_register_accesses)
{
	uint8_t b = 0xff;
	uint16_t h = 0xffff;
	uint64_t q = ~0ull;
	uint32_t w = 0xffffffff;

	/* Non-32-bit or unaligned accesses below 0x100: ignored, read 0. */
	bus_dispatch(&bus, BASE + VMMIO_MAGIC_VALUE, &b, 1, false);
	ck_assert_uint_eq(b, 0);
	bus_dispatch(&bus, BASE + VMMIO_MAGIC_VALUE, &h, 2, false);
	ck_assert_uint_eq(h, 0);
	bus_dispatch(&bus, BASE + VMMIO_MAGIC_VALUE, &q, 8, false);
	ck_assert_uint_eq(q, 0);
	bus_dispatch(&bus, BASE + 1, &w, 4, false);
	ck_assert_uint_eq(w, 0);
	bus_dispatch(&bus, BASE + 0xfc, &q, 8, false); /* spans into config */
	ck_assert_uint_eq(q, 0);
	b = S_ACK;
	bus_dispatch(&bus, BASE + VMMIO_STATUS, &b, 1, true);
	q = S_ACK;
	bus_dispatch(&bus, BASE + VMMIO_STATUS, &q, 8, true);
	w = S_ACK;
	bus_dispatch(&bus, BASE + VMMIO_STATUS + 2, &w, 4, true);
	ck_assert_uint_eq(rd(VMMIO_STATUS), 0);
	ck_assert_uint_eq(stats().bad_access, 8);

	/* Write-only registers and holes read 0. */
	ck_assert_uint_eq(rd(VMMIO_QUEUE_NOTIFY), 0);
	ck_assert_uint_eq(rd(VMMIO_QUEUE_NUM), 0);
	ck_assert_uint_eq(rd(VMMIO_QUEUE_DESC_LOW), 0);
	ck_assert_uint_eq(rd(VMMIO_INTERRUPT_ACK), 0);
	ck_assert_uint_eq(rd(0x0f0), 0);
	/* Read-only registers ignore writes. */
	wr(VMMIO_MAGIC_VALUE, 0);
	wr(VMMIO_DEVICE_ID, 0);
	wr(VMMIO_QUEUE_NUM_MAX, 1);
	wr(VMMIO_CONFIG_GENERATION, 5);
	wr(0x0f0, 5);
	ck_assert_uint_eq(rd(VMMIO_MAGIC_VALUE), 0x74726976);
	ck_assert_uint_eq(rd(VMMIO_DEVICE_ID), VIRTIO_ID_CONSOLE);
	ck_assert_uint_eq(rd(VMMIO_QUEUE_NUM_MAX), QMAX);
	ck_assert_uint_eq(stats().ignored_write, 5);
}
END_TEST

START_TEST(shm_registers)
{
	for (uint32_t sel = 0; sel < 3; sel++) {
		wr(VMMIO_SHM_SEL, sel);
		ck_assert_uint_eq(rd(VMMIO_SHM_LEN_LOW), 0xffffffff);
		ck_assert_uint_eq(rd(VMMIO_SHM_LEN_HIGH), 0xffffffff);
		ck_assert_uint_eq(rd(VMMIO_SHM_BASE_LOW), 0xffffffff);
		ck_assert_uint_eq(rd(VMMIO_SHM_BASE_HIGH), 0xffffffff);
	}
}
END_TEST

/* --- hostile rings through the transport -------------------------------- */

START_TEST(broken_ring_sets_needs_reset)
{
	uint8_t *snap;

	ck_assert_uint_eq(bring_up(F_VERSION_1), S_ACK | S_DRV | S_FOK | S_DOK);
	/* A descriptor loop on queue 1. */
	td_desc(&ring1, 0, BUF(0), 8, VIRTQ_DESC_F_NEXT, 1);
	td_desc(&ring1, 1, BUF(1), 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 0);
	td_add(&ring1, 0);
	snap = td_snapshot(&mem);
	wr(VMMIO_QUEUE_NOTIFY, 1);
	ck_assert_int_eq(dev.last_rc, -EBADMSG);
	ck_assert_uint_eq(rd(VMMIO_STATUS), S_ACK | S_DRV | S_FOK | S_DOK | S_NR);
	ck_assert_uint_eq(rd(VMMIO_INTERRUPT_STATUS), VMMIO_INT_CONFIG);
	ck_assert_int_eq(irqs, 1);
	ck_assert_uint_eq(stats().queue_errors, 1);
	ck_assert_int_eq(memcmp(snap, mem.host, mem.size), 0);

	/* Further kicks: -EIO, no more interrupts, nothing written. */
	wr(VMMIO_QUEUE_NOTIFY, 1);
	ck_assert_int_eq(dev.last_rc, -EIO);
	ck_assert_int_eq(irqs, 1);
	ck_assert_int_eq(memcmp(snap, mem.host, mem.size), 0);

	/* The other queue still works. */
	add_echo_chain(&ring0, 0, "ok");
	wr(VMMIO_QUEUE_NOTIFY, 0);
	ck_assert_uint_eq(td_used_idx(&ring0), 1);
	free(snap);

	/* Reset recovers. */
	wr(VMMIO_STATUS, 0);
	ck_assert_uint_eq(rd(VMMIO_STATUS), 0);
	td_ring_init(&ring0, &mem, QMAX, DESC(0), AVAIL(0), USED(0));
	td_ring_init(&ring1, &mem, QMAX, DESC(1), AVAIL(1), USED(1));
	ck_assert_uint_eq(bring_up(F_VERSION_1), S_ACK | S_DRV | S_FOK | S_DOK);
	add_echo_chain(&ring1, 0, "again");
	wr(VMMIO_QUEUE_NOTIFY, 1);
	ck_assert_uint_eq(td_used_idx(&ring1), 1);
}
END_TEST

START_TEST(indirect_through_transport)
{
	uint32_t id, len;

	ck_assert_uint_eq(bring_up(F_VERSION_1 | F_INDIRECT), S_ACK | S_DRV | S_FOK | S_DOK);
	memcpy(mem.host + BUF(0), "indirect", 8);
	td_desc_at(&mem, 0x18000, 0, BUF(0), 8, VIRTQ_DESC_F_NEXT, 1);
	td_desc_at(&mem, 0x18000, 1, BUF(1), 64, VIRTQ_DESC_F_WRITE, 0);
	td_desc(&ring1, 5, 0x18000, 32, VIRTQ_DESC_F_INDIRECT, 0);
	td_add(&ring1, 5);
	wr(VMMIO_QUEUE_NOTIFY, 1);
	td_used_elem(&ring1, 0, &id, &len);
	ck_assert_uint_eq(id, 5);
	ck_assert_uint_eq(len, 8);
	ck_assert_mem_eq(mem.host + BUF(1), "indirect", 8);
	ck_assert_uint_eq(rd(VMMIO_STATUS) & S_NR, 0);
}
END_TEST

START_TEST(indirect_not_negotiated_through_transport)
{
	ck_assert_uint_eq(bring_up(F_VERSION_1), S_ACK | S_DRV | S_FOK | S_DOK);
	td_desc_at(&mem, 0x18000, 0, BUF(0), 8, 0, 0);
	td_desc(&ring1, 5, 0x18000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	td_add(&ring1, 5);
	wr(VMMIO_QUEUE_NOTIFY, 1);
	ck_assert_int_eq(dev.last_rc, -EBADMSG);
	ck_assert(rd(VMMIO_STATUS) & S_NR);
	ck_assert_uint_eq(td_used_idx(&ring1), 0);
}
END_TEST

/* --- concurrency smoke test --------------------------------------------- */

static volatile bool stop_kicker;

static void *kicker(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop_kicker, __ATOMIC_RELAXED)) {
		vmmio_notify(vdev, 0);
		vmmio_notify(vdev, 1);
	}
	return NULL;
}

START_TEST(notify_races_reset)
{
	pthread_t th;

	/* An I/O thread kicks continuously while the driver resets and
	 * re-initialises: nothing may crash (run under ASan/TSan). */
	stop_kicker = false;
	ck_assert_int_eq(pthread_create(&th, NULL, kicker, NULL), 0);
	for (int i = 0; i < 300; i++) {
		td_ring_init(&ring0, &mem, QMAX, DESC(0), AVAIL(0), USED(0));
		td_ring_init(&ring1, &mem, QMAX, DESC(1), AVAIL(1), USED(1));
		add_echo_chain(&ring0, 0, "x");
		ck_assert_uint_eq(bring_up(F_VERSION_1 | F_EVENT_IDX),
				  S_ACK | S_DRV | S_FOK | S_DOK);
		wr(VMMIO_STATUS, 0);
	}
	__atomic_store_n(&stop_kicker, true, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	ck_assert_int_eq(dev.activate_calls, 300);
}
END_TEST

/* A device that takes larger rings than virtio-mmio offers (vsock: 1024
 * for vhost-user front-ends, 256 for our guests): QueueNumMax is
 * queue_num_max, and it is the limit. */
START_TEST(queue_num_max_below_device_max)
{
	const uint64_t base2 = 0x1000000;
	struct virtio_device_ops o = dummy_ops;
	struct vmmio_params p = { .base = base2, .irq = IRQ, .ops = &o, .dev = &dev,
				  .gm = &mem.gm };
	struct virtio_dev *v = NULL;

	o.queue_num_max = QMAX / 2;
	ck_assert_int_eq(vmmio_create(&bus, &p, &v), 0);
	td_wr(&bus, base2, VMMIO_QUEUE_SEL, 0);
	ck_assert_uint_eq(td_rd(&bus, base2, VMMIO_QUEUE_NUM_MAX), QMAX / 2);
	td_negotiate(&bus, base2, F_VERSION_1);
	td_wr(&bus, base2, VMMIO_QUEUE_SEL, 0);
	td_wr(&bus, base2, VMMIO_QUEUE_NUM, QMAX);
	td_wr64(&bus, base2, VMMIO_QUEUE_DESC_LOW, DESC(0));
	td_wr64(&bus, base2, VMMIO_QUEUE_DRIVER_LOW, AVAIL(0));
	td_wr64(&bus, base2, VMMIO_QUEUE_DEVICE_LOW, USED(0));
	td_wr(&bus, base2, VMMIO_QUEUE_READY, 1);
	ck_assert_uint_eq(td_rd(&bus, base2, VMMIO_QUEUE_READY), 0);
	vmmio_destroy(v);
	/* Not a power of two, or above the device's maximum. */
	o.queue_num_max = 12;
	p.base = base2 + 0x1000;
	ck_assert_int_eq(vmmio_create(&bus, &p, &v), -EINVAL);
	o.queue_num_max = QMAX * 2;
	ck_assert_int_eq(vmmio_create(&bus, &p, &v), -EINVAL);
}
END_TEST

START_TEST(create_rejects_bad_ops)
{
	struct virtio_device_ops o = dummy_ops;
	struct vmmio_params p = { .base = 0x1000000, .ops = &o, .gm = &mem.gm };
	struct virtio_dev *v = NULL;

	o.device_id = 0;
	ck_assert_int_eq(vmmio_create(&bus, &p, &v), -EINVAL);
	o = dummy_ops;
	o.num_queues = 0;
	ck_assert_int_eq(vmmio_create(&bus, &p, &v), -EINVAL);
	o = dummy_ops;
	o.queue_max_size = 24;
	ck_assert_int_eq(vmmio_create(&bus, &p, &v), -EINVAL);
	o = dummy_ops;
	o.queue_notify = NULL;
	ck_assert_int_eq(vmmio_create(&bus, &p, &v), -EINVAL);
	o = dummy_ops;
	o.config_size = 0x1000;
	ck_assert_int_eq(vmmio_create(&bus, &p, &v), -EINVAL);
	/* Overlapping the existing window. */
	o = dummy_ops;
	p.base = BASE + 0x800;
	ck_assert_int_eq(vmmio_create(&bus, &p, &v), -EEXIST);
	ck_assert_ptr_null(v);
}
END_TEST

static Suite *mmio_suite(void)
{
	Suite *s = suite_create("virtio-mmio");
	TCase *tc = tcase_create("transport");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, identification);
	tcase_add_test(tc, queue_num_max_below_device_max);
	tcase_add_test(tc, device_features);
	tcase_add_test(tc, negotiation_ok);
	tcase_add_test(tc, negotiation_without_version_1);
	tcase_add_test(tc, negotiation_unoffered_bits);
	tcase_add_test(tc, features_frozen_after_features_ok);
	tcase_add_test(tc, status_machine);
	tcase_add_test(tc, activate_failure_needs_reset);
	tcase_add_test(tc, reset_clears_everything);
	tcase_add_test(tc, queue_select_and_max);
	tcase_add_test(tc, queue_invalid_geometry);
	tcase_add_test(tc, queue_ready_before_features_ok);
	tcase_add_test(tc, queue_registers_locked_when_ready);
	tcase_add_test(tc, queue_frozen_after_driver_ok);
	tcase_add_test(tc, queue_reset_register);
	tcase_add_test(tc, notify_echo_and_interrupt);
	tcase_add_test(tc, notify_filtered);
	tcase_add_test(tc, event_idx_interrupt_suppression);
	tcase_add_test(tc, interrupt_ack_partial);
	tcase_add_test(tc, config_space_and_generation);
	tcase_add_test(tc, bad_register_accesses);
	tcase_add_test(tc, shm_registers);
	tcase_add_test(tc, broken_ring_sets_needs_reset);
	tcase_add_test(tc, indirect_through_transport);
	tcase_add_test(tc, indirect_not_negotiated_through_transport);
	tcase_add_test(tc, notify_races_reset);
	tcase_add_test(tc, create_rejects_bad_ops);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(mmio_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
