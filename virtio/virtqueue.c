// SPDX-License-Identifier: MIT
/*
 * Split virtqueue, device side (virtio 1.2 section 2.7).  See virtqueue.h
 * for the layout and the contract.
 *
 * Memory ordering.  The driver (Linux drivers/virtio/virtio_ring.c) and
 * this device run concurrently on different CPUs and share only guest RAM.
 * Every barrier below names the driver-side barrier it pairs with.  Ring
 * fields are accessed with __atomic builtins (each is naturally aligned:
 * virtq_enable() checks the area alignment), so the compiler neither tears
 * nor repeats a load of a value the guest may change under us.
 */
#include "virtio/virtqueue.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

/* Offsets in 16-bit words inside the available ring. */
#define AVAIL_FLAGS 0
#define AVAIL_IDX   1
#define AVAIL_RING  2   /* ring[i] at 2 + i, used_event at 2 + N */

/* Offsets in 16-bit words inside the used ring. */
#define USED_FLAGS  0
#define USED_IDX    1
#define USED_RING   2   /* elems from word 2 (byte 4), avail_event after */

static inline uint16_t load16(const uint16_t *p, int order)
{
	return le16toh(__atomic_load_n(p, order));
}

static inline void store16(uint16_t *p, uint16_t v, int order)
{
	__atomic_store_n(p, htole16(v), order);
}

static inline uint16_t *used_event_ptr(const struct virtq *vq)
{
	return &vq->avail[AVAIL_RING + vq->size];
}

static inline uint16_t *avail_event_ptr(const struct virtq *vq)
{
	/* 4 bytes of header + 8 bytes per element = 2 + 4 * N words. */
	return &vq->used[USED_RING + 4u * vq->size];
}

static inline struct virtq_used_elem *used_elem(const struct virtq *vq,
						uint16_t slot)
{
	return (struct virtq_used_elem *)(void *)&vq->used[USED_RING] + slot;
}

/*
 * Read one descriptor exactly once.  Descriptors in indirect tables need
 * not be aligned (the spec places no alignment on tables), hence memcpy
 * rather than atomics.  The signal fence keeps the compiler from replacing
 * later uses of the local copy with fresh loads from guest memory: all
 * checks and uses are on `d`, which the guest cannot change.
 */
static void desc_read(const void *src, struct virtq_desc *d)
{
	struct virtq_desc raw;

	memcpy(&raw, src, sizeof(raw));
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	d->addr = le64toh(raw.addr);
	d->len = le32toh(raw.len);
	d->flags = le16toh(raw.flags);
	d->next = le16toh(raw.next);
}

/* Mark the queue broken (once) and tell the transport. */
static int virtq_break(struct virtq *vq, int err)
{
	if (!vq->broken) {
		vq->broken = true;
		vq->error = err;
		if (vq->on_broken)
			vq->on_broken(vq->on_broken_opaque, vq);
	}
	return err;
}

static bool is_pow2(uint32_t x)
{
	return x && !(x & (x - 1));
}

int virtq_enable(struct virtq *vq, const struct guest_mem *gm,
		 const struct virtq_config *cfg, uint16_t max_size)
{
	uint32_t n = cfg->size;
	void *desc, *avail, *used;

	if (!is_pow2(n) || n > max_size || n > VIRTQ_MAX_SIZE)
		return -EINVAL;
	if (cfg->desc % VIRTQ_DESC_ALIGN || cfg->avail % VIRTQ_AVAIL_ALIGN ||
	    cfg->used % VIRTQ_USED_ALIGN)
		return -EINVAL;
	/* Whole areas, including used_event / avail_event, checked once:
	 * from here on, indices below N are in bounds by construction. */
	desc = gm_ptr(gm, cfg->desc, VIRTQ_DESC_SIZE(n));
	avail = gm_ptr(gm, cfg->avail, VIRTQ_AVAIL_SIZE(n));
	used = gm_ptr(gm, cfg->used, VIRTQ_USED_SIZE(n));
	if (!desc || !avail || !used)
		return -EFAULT;
	/* Host alignment follows from guest alignment only if the region's
	 * host base is aligned; guest RAM is page-aligned, test buffers are
	 * malloc'd (16), but check rather than assume. */
	if ((uintptr_t)desc % VIRTQ_DESC_ALIGN ||
	    (uintptr_t)avail % VIRTQ_AVAIL_ALIGN ||
	    (uintptr_t)used % VIRTQ_USED_ALIGN)
		return -EINVAL;

	virtq_reset(vq);
	vq->gm = gm;
	vq->size = (uint16_t)n;
	vq->event_idx = cfg->event_idx;
	vq->indirect = cfg->indirect;
	vq->desc_gpa = cfg->desc;
	vq->avail_gpa = cfg->avail;
	vq->used_gpa = cfg->used;
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	vq->notify_enabled = true;
	vq->ready = true;
	return 0;
}

void virtq_set_base(struct virtq *vq, uint16_t last_avail)
{
	if (!vq->ready)
		return;
	vq->last_avail_idx = last_avail;
	vq->used_idx = load16(&vq->used[USED_IDX], __ATOMIC_ACQUIRE);
	vq->signalled_valid = false;
}

void virtq_reset(struct virtq *vq)
{
	void (*cb)(void *, struct virtq *) = vq->on_broken;
	void *opaque = vq->on_broken_opaque;

	memset(vq, 0, sizeof(*vq));
	vq->on_broken = cb;
	vq->on_broken_opaque = opaque;
}

bool virtq_usable(const struct virtq *vq)
{
	return vq->ready && !vq->broken;
}

uint16_t virtq_size(const struct virtq *vq)
{
	return vq->size;
}

/*
 * The driver's avail->idx.  Acquire: the ring entries and descriptors the
 * driver wrote before bumping idx are visible to the loads that follow.
 * Pairs with virtio_wmb() before the avail->idx store in
 * virtqueue_add_split() ("Descriptors and available array need to be set
 * before we expose the new available array entries").
 */
static uint16_t avail_idx_acquire(const struct virtq *vq)
{
	return load16(&vq->avail[AVAIL_IDX], __ATOMIC_ACQUIRE);
}

/*
 * Arm notifications and look again (virtio 1.2 §2.7.10: the device asks for
 * a kick with avail_event or by clearing NO_NOTIFY; virtq_pop() on an empty
 * ring, virtq_enable_notify() and virtq_pop_drain() all come here).  The
 * race this closes:
 *
 *   device                           driver (virtqueue_add + kick_prepare)
 *   sees avail->idx == last_avail
 *                                    avail->idx++
 *                                    mb; reads avail_event (old) or
 *                                    used->flags (NO_NOTIFY): no kick
 *   writes avail_event / clears flag
 *   sleeps                           ... buffer never processed
 *
 * So: publish avail_event (or clear NO_NOTIFY), full barrier, then re-read
 * avail->idx.  The full barrier orders our store before our load (x86 may
 * otherwise satisfy the load before the store is visible) and pairs with
 * virtio_mb() in virtqueue_kick_prepare_split() ("We need to expose
 * available array entries before checking avail event"): either the driver
 * sees our new event index and kicks, or we see its new idx.
 */
static uint16_t arm_and_recheck(struct virtq *vq)
{
	if (vq->event_idx)
		store16(avail_event_ptr(vq), vq->last_avail_idx, __ATOMIC_RELAXED);
	else
		store16(&vq->used[USED_FLAGS], 0, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return avail_idx_acquire(vq);
}

void virtq_disable_notify(struct virtq *vq)
{
	if (!virtq_usable(vq))
		return;
	vq->notify_enabled = false;
	/* A hint only; no barrier needed: a kick that still arrives is a
	 * spurious notification, which the device must tolerate anyway.
	 * With EVENT_IDX we simply stop advancing avail_event: once the
	 * driver passes it, it stops kicking. */
	if (!vq->event_idx)
		store16(&vq->used[USED_FLAGS], VIRTQ_USED_F_NO_NOTIFY,
			__ATOMIC_RELAXED);
}

bool virtq_enable_notify(struct virtq *vq)
{
	if (!virtq_usable(vq))
		return false;
	vq->notify_enabled = true;
	return arm_and_recheck(vq) != vq->last_avail_idx;
}

/* Walk the chain starting at `head` into iov / c.  0 or -errno. */
static int walk_chain(struct virtq *vq, uint16_t head, struct iovec *iov,
		      unsigned max_iov, struct virtq_chain *c)
{
	/* Bytes, not struct virtq_desc: indirect tables may be unaligned. */
	const uint8_t *table = (const uint8_t *)vq->desc;
	uint32_t tsize = vq->size;     /* entries in the current table */
	uint32_t steps = 0;            /* descriptors visited in it */
	bool in_indirect = false;
	uint64_t out_len = 0, in_len = 0;
	unsigned n = 0;
	uint16_t idx = head;

	c->head = head;
	c->n_out = c->n_in = 0;
	c->indirect = false;
	if (head >= vq->size)
		return -EBADMSG;

	for (;;) {
		struct virtq_desc d;
		void *p;

		/* More steps than entries means a loop (a legal chain visits
		 * each descriptor at most once). */
		if (++steps > tsize)
			return -EBADMSG;
		desc_read(table + (size_t)idx * sizeof(struct virtq_desc), &d);

		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			/* Spec 2.7.5.3: only with the feature, no nesting, no
			 * NEXT alongside; WRITE is ignored on this one. */
			if (!vq->indirect || in_indirect ||
			    (d.flags & VIRTQ_DESC_F_NEXT))
				return -EBADMSG;
			/* A table holds whole descriptors, at least one, and
			 * no more than a chain may have (the queue size). */
			if (d.len == 0 || d.len % sizeof(struct virtq_desc) ||
			    d.len / sizeof(struct virtq_desc) > vq->size)
				return -EBADMSG;
			table = gm_ptr(vq->gm, d.addr, d.len);
			if (!table)
				return -EFAULT;
			tsize = d.len / sizeof(struct virtq_desc);
			steps = 0;
			idx = 0;
			in_indirect = true;
			c->indirect = true;
			continue;
		}

		/* A chain is at most queue-size descriptors long (2.7.5.3.1),
		 * counting those inside an indirect table. */
		if (n >= vq->size)
			return -EBADMSG;
		if (n >= max_iov)
			return -ENOBUFS;
		p = gm_ptr(vq->gm, d.addr, d.len);
		if (!p)
			return -EFAULT;
		if (d.flags & VIRTQ_DESC_F_WRITE) {
			in_len += d.len;
			c->n_in++;
		} else {
			/* Readable after writable: spec 2.7.4.2 forbids it. */
			if (c->n_in)
				return -EBADMSG;
			out_len += d.len;
			c->n_out++;
		}
		/* "Drivers MUST NOT add a descriptor chain longer than 2^32
		 * bytes in total"; we also need each part to fit 32 bits. */
		if (out_len + in_len > UINT32_MAX)
			return -EBADMSG;
		iov[n].iov_base = p;
		iov[n].iov_len = d.len;
		n++;

		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		if (d.next >= tsize)
			return -EBADMSG;
		idx = d.next;
	}
	c->out_len = (uint32_t)out_len;
	c->in_len = (uint32_t)in_len;
	return 0;
}

int virtq_pop(struct virtq *vq, struct iovec *iov, unsigned max_iov,
	      struct virtq_chain *c)
{
	uint16_t avail, head;
	int rc;

	if (!vq->ready)
		return 0;
	if (vq->broken)
		return -EIO;

	avail = avail_idx_acquire(vq);
	if (avail == vq->last_avail_idx) {
		if (!vq->notify_enabled)
			return 0;
		avail = arm_and_recheck(vq);
		if (avail == vq->last_avail_idx)
			return 0;
	}
	/* The driver can never be more than N heads ahead of us. */
	if ((uint16_t)(avail - vq->last_avail_idx) > vq->size)
		return virtq_break(vq, -EBADMSG);

	/* Ordered after the acquire load of avail->idx above. */
	head = load16(&vq->avail[AVAIL_RING + (vq->last_avail_idx & (vq->size - 1))],
		      __ATOMIC_RELAXED);
	rc = walk_chain(vq, head, iov, max_iov, c);
	if (rc < 0)
		return virtq_break(vq, rc);
	vq->last_avail_idx++;
	return 1;
}

int virtq_pop_drain(struct virtq *vq, struct iovec *iov, unsigned max_iov,
		    struct virtq_chain *c)
{
	bool rechecked = false;
	int rc;

	/* Suppressed while we drain: pop() then neither arms nor re-checks. */
	if (vq->notify_enabled)
		virtq_disable_notify(vq);
	for (;;) {
		rc = virtq_pop(vq, iov, max_iov, c);
		if (rc != 0)
			return rc > 0 && rechecked ? VIRTQ_POP_RECHECK : rc;
		/* Empty: re-arm, full barrier, re-read avail->idx
		 * (arm_and_recheck).  Nothing new: armed, done. */
		if (!virtq_enable_notify(vq))
			return 0;
		/* The driver published a chain before it could see the
		 * re-arm, so it may not kick for it: take it now. */
		rechecked = true;
		virtq_disable_notify(vq);
	}
}

void virtq_unpop(struct virtq *vq, const struct virtq_chain *c)
{
	(void)c;
	if (virtq_usable(vq))
		vq->last_avail_idx--;
}

void virtq_push(struct virtq *vq, const struct virtq_chain *c, uint32_t written)
{
	struct virtq_used_elem *e;

	if (!virtq_usable(vq) || c->head >= vq->size)
		return;
	if (written > c->in_len)
		written = c->in_len;

	e = used_elem(vq, vq->used_idx & (vq->size - 1));
	__atomic_store_n(&e->id, htole32(c->head), __ATOMIC_RELAXED);
	__atomic_store_n(&e->len, htole32(written), __ATOMIC_RELAXED);
	vq->used_idx++;
	/* Release: the element (and the data written into the buffers) is
	 * visible before the new used->idx.  Pairs with virtio_rmb() after
	 * more_used_split() in virtqueue_get_buf_ctx_split() ("Only get used
	 * array entries after they have been exposed by host"). */
	store16(&vq->used[USED_IDX], vq->used_idx, __ATOMIC_RELEASE);
	/* 65536 pushes without a signal check: the remembered index is
	 * meaningless now, signal unconditionally next time. */
	if (vq->used_idx == vq->signalled_used)
		vq->signalled_valid = false;
}

/* Spec 2.7.7.2 / Linux vring_need_event(): has `new` moved past `event`,
 * coming from `old`?  All arithmetic modulo 2^16. */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

bool virtq_should_signal(struct virtq *vq)
{
	uint16_t old = vq->signalled_used, new_idx = vq->used_idx;
	bool valid = vq->signalled_valid;

	if (!virtq_usable(vq))
		return false;
	if (valid && old == new_idx)
		return false;
	vq->signalled_used = new_idx;
	vq->signalled_valid = true;

	/* Full barrier: our used->idx store must be visible before we read
	 * the driver's used_event / flags, else we may read a stale "no
	 * interrupt" while the driver, having just re-enabled interrupts,
	 * reads our stale used->idx and goes to sleep.  Pairs with
	 * virtio_mb() in virtqueue_poll() / virtqueue_enable_cb_delayed_split()
	 * and virtio_store_mb() of used_event in virtqueue_get_buf_ctx_split(). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);

	if (vq->event_idx) {
		uint16_t event = load16(used_event_ptr(vq), __ATOMIC_RELAXED);

		return !valid || need_event(event, new_idx, old);
	}
	return !(load16(&vq->avail[AVAIL_FLAGS], __ATOMIC_RELAXED) &
		 VIRTQ_AVAIL_F_NO_INTERRUPT);
}
