// SPDX-License-Identifier: MIT
/*
 * virtio-mmio transport, version 2 (virtio 1.2 section 4.2).  See mmio.h
 * for the register map and device.h for the threading contract.
 *
 * State and locking:
 *   - `lock` serialises every register access below 0x100 except
 *     QueueNotify, InterruptStatus and InterruptACK, and is held while
 *     ops->activate() / ops->reset() run (lock order: transport → device).
 *   - status, int_status, needs_reset, driver_features and the
 *     per-queue `ready` are also read without the lock (notify path, device
 *     calls), so they are accessed with __atomic builtins.
 *   - A queue's configuration (struct virtq) is written only under `lock`
 *     and only while DRIVER_OK is clear, i.e. while the device is inactive
 *     (activate() happens at DRIVER_OK, reset() before anything is cleared).
 */
#include "virtio/mmio.h"
#include "virtio/transport.h"
#include "base/log.h"

#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define STATUS_DRIVER_BITS (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | \
			    VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FEATURES_OK | \
			    VIRTIO_STATUS_FAILED)

struct vmmio_queue {
	uint32_t num;                  /* QueueNum as last written */
	uint32_t ready;                /* QueueReady as read back (atomic) */
	uint64_t desc, driver, device; /* QueueDesc / QueueDriver / QueueDevice */
	struct virtq vq;
};

struct vmmio {
	struct virtio_dev vdev;        /* first: what devices hold */
	pthread_mutex_t lock;
	const struct virtio_device_ops *ops;
	void *dev;
	const struct guest_mem *gm;
	uint64_t base;
	uint32_t irq;
	void (*raise)(void *opaque);
	void *raise_opaque;

	uint64_t offered;              /* DeviceFeatures, constant */
	uint64_t driver_features;      /* DriverFeatures (atomic reads) */
	bool driver_features_extra;    /* bits written above bit 63 */
	uint32_t dev_feat_sel, drv_feat_sel, queue_sel, shm_sel;
	uint32_t status;               /* driver-visible bits (atomic) */
	uint32_t needs_reset;          /* DEVICE_NEEDS_RESET (atomic) */
	uint32_t int_status;           /* InterruptStatus (atomic) */
	struct vmmio_stats stats;      /* atomic increments */

	unsigned nq;
	struct vmmio_queue q[];
};

#define STAT_INC(t, field) __atomic_fetch_add(&(t)->stats.field, 1, __ATOMIC_RELAXED)

static uint32_t ld32(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/* --- interrupts and device-facing calls (lock-free) ------------------- */

static void raise_irq(struct vmmio *t, uint32_t bits)
{
	/* The status bit is set before the edge, so the guest's handler
	 * reading InterruptStatus after the interrupt sees it. */
	__atomic_fetch_or(&t->int_status, bits, __ATOMIC_SEQ_CST);
	STAT_INC(t, interrupts);
	if (t->raise)
		t->raise(t->raise_opaque);
}

static struct vmmio *to_mmio(struct virtio_dev *vdev)
{
	return container_of(vdev, struct vmmio, vdev);
}

static const struct vmmio *to_mmio_c(const struct virtio_dev *vdev)
{
	return container_of(vdev, const struct vmmio, vdev);
}

static struct virtq *mmio_queue(struct virtio_dev *vdev, unsigned q)
{
	struct vmmio *t = to_mmio(vdev);

	return q < t->nq ? &t->q[q].vq : NULL;
}

static void mmio_interrupt(struct virtio_dev *vdev, unsigned q)
{
	/* One interrupt line for every queue. */
	(void)q;
	raise_irq(to_mmio(vdev), VMMIO_INT_VRING);
}

static void mmio_set_needs_reset(struct virtio_dev *vdev)
{
	struct vmmio *t = to_mmio(vdev);

	/* Spec 2.1.2: set DEVICE_NEEDS_RESET and send a configuration
	 * change notification — once per episode. */
	if (!__atomic_exchange_n(&t->needs_reset, 1, __ATOMIC_SEQ_CST)) {
		log_info("virtio-mmio@0x%llx: device %u needs reset",
			 (unsigned long long)t->base, t->ops->device_id);
		raise_irq(t, VMMIO_INT_CONFIG);
	}
}

static uint64_t mmio_features(const struct virtio_dev *vdev)
{
	return __atomic_load_n(&to_mmio_c(vdev)->driver_features, __ATOMIC_ACQUIRE);
}

static const struct virtio_transport_ops vmmio_transport_ops = {
	.queue = mmio_queue,
	.interrupt = mmio_interrupt,
	.set_needs_reset = mmio_set_needs_reset,
	.features = mmio_features,
};

static void queue_broken(void *opaque, struct virtq *vq)
{
	struct vmmio *t = opaque;

	(void)vq;
	STAT_INC(t, queue_errors);
	mmio_set_needs_reset(&t->vdev);
}

/* --- notifications ----------------------------------------------------- */

static void notify(struct vmmio *t, unsigned q)
{
	/* Without VIRTIO_F_NOTIFICATION_DATA the value is the queue index. */
	if (q >= t->nq) {
		STAT_INC(t, ignored_write);
		return;
	}
	/* Not a lock: a notify racing with reset may still reach the device,
	 * which ignores it unless active (device.h). */
	if (!(ld32(&t->status) & VIRTIO_STATUS_DRIVER_OK) ||
	    !ld32(&t->q[q].ready)) {
		STAT_INC(t, ignored_write);
		return;
	}
	STAT_INC(t, notifies);
	t->ops->queue_notify(t->dev, q);
}

void vmmio_notify(struct virtio_dev *vdev, unsigned q)
{
	notify(to_mmio(vdev), q);
}

/* --- status machine ---------------------------------------------------- */

/* Spec 2.1.1 / 4.2.3: everything back to the initial state.  Lock held. */
static void vmmio_reset(struct vmmio *t)
{
	/* The device first: after this returns it no longer touches the
	 * queues, so clearing them below cannot race with it. */
	t->ops->reset(t->dev);

	for (unsigned i = 0; i < t->nq; i++) {
		struct vmmio_queue *q = &t->q[i];

		virtq_reset(&q->vq);
		q->num = 0;
		q->desc = q->driver = q->device = 0;
		__atomic_store_n(&q->ready, 0, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&t->driver_features, 0, __ATOMIC_RELEASE);
	t->driver_features_extra = false;
	t->dev_feat_sel = t->drv_feat_sel = t->queue_sel = t->shm_sel = 0;
	__atomic_store_n(&t->status, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&t->needs_reset, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&t->int_status, 0, __ATOMIC_RELEASE);
}

/* FEATURES_OK may latch only for a subset of what we offered that includes
 * VERSION_1 (a version-2 transport has no legacy mode). */
static bool features_acceptable(const struct vmmio *t)
{
	uint64_t f = t->driver_features;

	return !t->driver_features_extra && !(f & ~t->offered) &&
	       (f & (1ull << VIRTIO_F_VERSION_1));
}

static void status_write(struct vmmio *t, uint32_t val)
{
	uint32_t old = t->status, next, added;

	if (val == 0) {
		vmmio_reset(t);
		return;
	}
	/* DEVICE_NEEDS_RESET belongs to the device; a driver writes back
	 * what it read, so ignore that bit rather than refuse. */
	val &= ~VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	if (val & ~STATUS_DRIVER_BITS) {
		STAT_INC(t, refused_status);
		val &= STATUS_DRIVER_BITS;
	}
	/* Bits are only ever added; clearing takes a reset. */
	if (old & ~val) {
		STAT_INC(t, refused_status);
		return;
	}
	next = val;
	added = next & ~old;

	if (added & VIRTIO_STATUS_FEATURES_OK) {
		/* Not latched: the driver's re-read of Status fails and it
		 * gives up (spec 3.1.1 step 6). */
		if (!features_acceptable(t) ||
		    !(next & VIRTIO_STATUS_ACKNOWLEDGE) ||
		    !(next & VIRTIO_STATUS_DRIVER)) {
			next &= ~VIRTIO_STATUS_FEATURES_OK;
			STAT_INC(t, refused_status);
		}
	}
	if (added & VIRTIO_STATUS_DRIVER_OK) {
		if (!(next & VIRTIO_STATUS_FEATURES_OK) ||
		    (next & VIRTIO_STATUS_FAILED)) {
			next &= ~VIRTIO_STATUS_DRIVER_OK;
			STAT_INC(t, refused_status);
		}
	}
	__atomic_store_n(&t->status, next, __ATOMIC_RELEASE);

	if (next & ~old & VIRTIO_STATUS_FAILED)
		log_info("virtio-mmio@0x%llx: driver of device %u gave up (FAILED)",
			 (unsigned long long)t->base, t->ops->device_id);
	if (next & ~old & VIRTIO_STATUS_DRIVER_OK) {
		int rc = t->ops->activate ? t->ops->activate(t->dev) : 0;

		/* Virtio core sets DRIVER_OK only after the driver's probe
		 * succeeded: this line is the host's proof of a bound driver. */
		log_info("virtio-mmio@0x%llx: device %u driver ready, features 0x%llx",
			 (unsigned long long)t->base, t->ops->device_id,
			 (unsigned long long)mmio_features(&t->vdev));
		if (rc < 0)
			mmio_set_needs_reset(&t->vdev);
	}
}

/* --- queue registers --------------------------------------------------- */

/* QueueNumMax: the largest QueueNum a driver may write. */
static uint16_t num_max(const struct vmmio *t)
{
	return t->ops->queue_num_max ? t->ops->queue_num_max : t->ops->queue_max_size;
}

/* The selected queue if it may be configured now, else NULL (counted). */
static struct vmmio_queue *sel_queue_writable(struct vmmio *t)
{
	struct vmmio_queue *q;

	if (t->queue_sel >= t->nq)
		goto ignored;
	q = &t->q[t->queue_sel];
	/* Spec 4.2.2.2: the driver must not touch a ready queue's
	 * registers; and no queue changes while the device is live. */
	if (q->ready || (t->status & VIRTIO_STATUS_DRIVER_OK))
		goto ignored;
	return q;
ignored:
	STAT_INC(t, ignored_write);
	return NULL;
}

static void queue_ready_write(struct vmmio *t, uint32_t val)
{
	struct vmmio_queue *q;
	struct virtq_config cfg;
	int rc;

	if (t->queue_sel >= t->nq || (t->status & VIRTIO_STATUS_DRIVER_OK)) {
		STAT_INC(t, ignored_write);
		return;
	}
	q = &t->q[t->queue_sel];
	if (val == 0) {
		/* Stop using the queue; the device is not active. */
		virtq_reset(&q->vq);
		__atomic_store_n(&q->ready, 0, __ATOMIC_RELEASE);
		return;
	}
	if (val != 1 || q->ready) {
		STAT_INC(t, ignored_write);
		return;
	}
	/* Queues are set up after FEATURES_OK (spec 3.1.1 step 7), so the
	 * ring format (EVENT_IDX, INDIRECT_DESC) is final. */
	if (!(t->status & VIRTIO_STATUS_FEATURES_OK)) {
		rc = -EINVAL;
		goto refuse;
	}
	cfg = (struct virtq_config){
		.size = q->num,
		.desc = q->desc,
		.avail = q->driver,
		.used = q->device,
		.event_idx = t->driver_features & (1ull << VIRTIO_F_EVENT_IDX),
		.indirect = t->driver_features & (1ull << VIRTIO_F_INDIRECT_DESC),
	};
	rc = virtq_enable(&q->vq, t->gm, &cfg, num_max(t));
	if (rc < 0)
		goto refuse;
	__atomic_store_n(&q->ready, 1, __ATOMIC_RELEASE);
	return;
refuse:
	/* The queue stays off; tell the driver something is wrong. */
	(void)rc;
	STAT_INC(t, queue_errors);
	mmio_set_needs_reset(&t->vdev);
}

static void set_lo(uint64_t *r, uint32_t v)
{
	*r = (*r & ~0xffffffffull) | v;
}

static void set_hi(uint64_t *r, uint32_t v)
{
	*r = (*r & 0xffffffffull) | (uint64_t)v << 32;
}

/* --- register decode --------------------------------------------------- */

static void reg_write(struct vmmio *t, uint64_t off, uint32_t val)
{
	struct vmmio_queue *q;

	switch (off) {
	case VMMIO_DEVICE_FEATURES_SEL:
		t->dev_feat_sel = val;
		break;
	case VMMIO_DRIVER_FEATURES:
		/* Frozen once FEATURES_OK is latched. */
		if (t->status & VIRTIO_STATUS_FEATURES_OK) {
			STAT_INC(t, ignored_write);
		} else if (t->drv_feat_sel < 2) {
			uint64_t f = t->driver_features;

			if (t->drv_feat_sel == 0)
				set_lo(&f, val);
			else
				set_hi(&f, val);
			__atomic_store_n(&t->driver_features, f, __ATOMIC_RELEASE);
		} else if (val) {
			t->driver_features_extra = true;
		}
		break;
	case VMMIO_DRIVER_FEATURES_SEL:
		t->drv_feat_sel = val;
		break;
	case VMMIO_QUEUE_SEL:
		t->queue_sel = val;
		break;
	case VMMIO_QUEUE_NUM:
		/* Checked at QueueReady: an unusable size refuses the queue. */
		if ((q = sel_queue_writable(t)))
			q->num = val;
		break;
	case VMMIO_QUEUE_READY:
		queue_ready_write(t, val);
		break;
	case VMMIO_STATUS:
		status_write(t, val);
		break;
	case VMMIO_QUEUE_DESC_LOW:
		if ((q = sel_queue_writable(t)))
			set_lo(&q->desc, val);
		break;
	case VMMIO_QUEUE_DESC_HIGH:
		if ((q = sel_queue_writable(t)))
			set_hi(&q->desc, val);
		break;
	case VMMIO_QUEUE_DRIVER_LOW:
		if ((q = sel_queue_writable(t)))
			set_lo(&q->driver, val);
		break;
	case VMMIO_QUEUE_DRIVER_HIGH:
		if ((q = sel_queue_writable(t)))
			set_hi(&q->driver, val);
		break;
	case VMMIO_QUEUE_DEVICE_LOW:
		if ((q = sel_queue_writable(t)))
			set_lo(&q->device, val);
		break;
	case VMMIO_QUEUE_DEVICE_HIGH:
		if ((q = sel_queue_writable(t)))
			set_hi(&q->device, val);
		break;
	case VMMIO_SHM_SEL:
		t->shm_sel = val;
		break;
	case VMMIO_QUEUE_RESET:
		/* VIRTIO_F_RING_RESET is not offered: writes are ignored. */
	default:
		/* Read-only registers and holes. */
		STAT_INC(t, ignored_write);
		break;
	}
}

static uint32_t reg_read(struct vmmio *t, uint64_t off)
{
	const struct vmmio_queue *q = t->queue_sel < t->nq ? &t->q[t->queue_sel] : NULL;

	switch (off) {
	case VMMIO_MAGIC_VALUE:
		return VMMIO_MAGIC;
	case VMMIO_VERSION_REG:
		return VMMIO_VERSION;
	case VMMIO_DEVICE_ID:
		return t->ops->device_id;
	case VMMIO_VENDOR_ID_REG:
		return VMMIO_VENDOR_ID;
	case VMMIO_DEVICE_FEATURES:
		if (t->dev_feat_sel == 0)
			return (uint32_t)t->offered;
		if (t->dev_feat_sel == 1)
			return (uint32_t)(t->offered >> 32);
		return 0;
	case VMMIO_QUEUE_NUM_MAX:
		return q ? num_max(t) : 0;
	case VMMIO_QUEUE_READY:
		return q ? q->ready : 0;
	case VMMIO_STATUS:
		return vmmio_status(&t->vdev);
	case VMMIO_SHM_LEN_LOW:
	case VMMIO_SHM_LEN_HIGH:
	case VMMIO_SHM_BASE_LOW:
	case VMMIO_SHM_BASE_HIGH:
		/* No shared memory regions: length and base read as -1. */
		return 0xffffffffu;
	case VMMIO_QUEUE_RESET:
		return 0;
	case VMMIO_CONFIG_GENERATION:
		/* No device changes its config space on its own. */
		return 0;
	default:
		/* Write-only registers and holes. */
		STAT_INC(t, bad_access);
		return 0;
	}
}

/* Device config space: [0x100, 0x100 + config_size). */
static bool config_range_ok(const struct vmmio *t, uint64_t off, uint32_t len)
{
	uint64_t coff = off - VMMIO_CONFIG;

	return coff < t->ops->config_size && len <= t->ops->config_size - coff &&
	       (len == 1 || len == 2 || len == 4 || len == 8);
}

static void vmmio_bus_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct vmmio *t = opaque;
	uint32_t v;

	if (off >= VMMIO_CONFIG) {
		if (config_range_ok(t, off, len)) {
			t->ops->config_read(t->dev, (uint32_t)(off - VMMIO_CONFIG),
					    data, len);
		} else {
			STAT_INC(t, bad_access);
			memset(data, 0, len);
		}
		return;
	}
	if (len != 4 || off % 4) {
		STAT_INC(t, bad_access);
		memset(data, 0, len);
		return;
	}
	if (off == VMMIO_INTERRUPT_STATUS) {
		v = ld32(&t->int_status);
	} else {
		pthread_mutex_lock(&t->lock);
		v = reg_read(t, off);
		pthread_mutex_unlock(&t->lock);
	}
	v = htole32(v);
	memcpy(data, &v, 4);
}

static void vmmio_bus_write(void *opaque, uint64_t off, const void *data,
			    uint32_t len)
{
	struct vmmio *t = opaque;
	uint32_t v;

	if (off >= VMMIO_CONFIG) {
		if (!config_range_ok(t, off, len))
			STAT_INC(t, bad_access);
		else if (!t->ops->config_write)
			STAT_INC(t, ignored_write);
		else
			t->ops->config_write(t->dev, (uint32_t)(off - VMMIO_CONFIG),
					     data, len);
		return;
	}
	if (len != 4 || off % 4) {
		STAT_INC(t, bad_access);
		return;
	}
	memcpy(&v, data, 4);
	v = le32toh(v);

	switch (off) {
	case VMMIO_QUEUE_NOTIFY:
		notify(t, v);
		return;
	case VMMIO_INTERRUPT_ACK:
		__atomic_fetch_and(&t->int_status, ~v, __ATOMIC_SEQ_CST);
		return;
	default:
		pthread_mutex_lock(&t->lock);
		reg_write(t, off, v);
		pthread_mutex_unlock(&t->lock);
	}
}

static const struct bus_ops vmmio_bus_ops = {
	.read = vmmio_bus_read,
	.write = vmmio_bus_write,
};

/* --- setup ------------------------------------------------------------- */

int vmmio_create(struct bus *bus, const struct vmmio_params *p,
		 struct virtio_dev **out)
{
	struct vmmio *t;
	int rc;

	if (!p || !p->gm || !virtio_device_ops_valid(p->ops, VMMIO_WINDOW_SIZE - VMMIO_CONFIG))
		return -EINVAL;
	t = calloc(1, sizeof(*t) + p->ops->num_queues * sizeof(t->q[0]));
	if (!t)
		return -ENOMEM;
	rc = -pthread_mutex_init(&t->lock, NULL);
	if (rc)
		goto err_free;
	t->vdev.tops = &vmmio_transport_ops;
	t->ops = p->ops;
	t->dev = p->dev;
	t->gm = p->gm;
	t->base = p->base;
	t->irq = p->irq;
	t->offered = (p->ops->features & ~VIRTIO_TRANSPORT_FEATURES_MASK) | VIRTIO_TRANSPORT_FEATURES;
	t->nq = p->ops->num_queues;
	for (unsigned i = 0; i < t->nq; i++) {
		t->q[i].vq.on_broken = queue_broken;
		t->q[i].vq.on_broken_opaque = t;
	}
	rc = bus_register(bus, p->base, VMMIO_WINDOW_SIZE, &vmmio_bus_ops, t);
	if (rc)
		goto err_mutex;
	*out = &t->vdev;
	return 0;

err_mutex:
	pthread_mutex_destroy(&t->lock);
err_free:
	free(t);
	return rc;
}

void vmmio_destroy(struct virtio_dev *vdev)
{
	struct vmmio *t;

	if (!vdev)
		return;
	t = to_mmio(vdev);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

void vmmio_set_irq(struct virtio_dev *vdev, void (*raise)(void *opaque), void *opaque)
{
	struct vmmio *t = to_mmio(vdev);

	t->raise = raise;
	t->raise_opaque = opaque;
}

uint64_t vmmio_base(const struct virtio_dev *vdev)
{
	const struct vmmio *t = to_mmio_c(vdev);

	return t->base;
}

uint32_t vmmio_irq(const struct virtio_dev *vdev)
{
	const struct vmmio *t = to_mmio_c(vdev);

	return t->irq;
}

unsigned vmmio_num_queues(const struct virtio_dev *vdev)
{
	const struct vmmio *t = to_mmio_c(vdev);

	return t->nq;
}

uint32_t vmmio_status(const struct virtio_dev *vdev)
{
	const struct vmmio *t = to_mmio_c(vdev);

	return ld32(&t->status) |
	       (ld32(&t->needs_reset) ? VIRTIO_STATUS_DEVICE_NEEDS_RESET : 0);
}

void vmmio_get_stats(const struct virtio_dev *vdev, struct vmmio_stats *out)
{
	const struct vmmio *t = to_mmio_c(vdev);

	out->bad_access = __atomic_load_n(&t->stats.bad_access, __ATOMIC_RELAXED);
	out->ignored_write = __atomic_load_n(&t->stats.ignored_write, __ATOMIC_RELAXED);
	out->refused_status = __atomic_load_n(&t->stats.refused_status, __ATOMIC_RELAXED);
	out->queue_errors = __atomic_load_n(&t->stats.queue_errors, __ATOMIC_RELAXED);
	out->notifies = __atomic_load_n(&t->stats.notifies, __ATOMIC_RELAXED);
	out->interrupts = __atomic_load_n(&t->stats.interrupts, __ATOMIC_RELAXED);
}
