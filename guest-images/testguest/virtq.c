/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueue, driver side (virtio v1.2 §2.7).
 *
 * Memory ordering.  x86 is TSO: stores become visible in program order and
 * loads are not reordered with older loads, so the only fences needed are
 *   - compiler barriers, so the compiler itself does not reorder or cache
 *     accesses to the shared rings (§2.7.13.3.1: the descriptor and ring
 *     entry must be visible before the new avail->idx; §2.7.14: read
 *     used->idx before the used entries it covers);
 *   - one full fence (mfence) between publishing avail->idx and reading
 *     used->flags or avail_event to decide whether to notify: that is a
 *     store followed by a load of a different location, the one reordering
 *     TSO allows (Linux's virtio_mb() in virtqueue_kick_prepare()).  See
 *     vq_kick() for the race it closes.
 */
#include "virtq.h"

#include "io.h"
#include "str.h"

#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~(unsigned long)((a) - 1))

/* Compiler barrier; names the intent at each use. */
#define wmb() barrier()
#define rmb() barrier()
static inline void mb(void)
{
	__asm__ volatile("mfence" : : : "memory");
}

static inline uint16_t read_u16(const volatile uint16_t *p)
{
	return *p;
}

/* §2.7: descriptors need 16-byte, the available ring 2-byte and the used
 * ring 4-byte alignment; we give each its own 4 KiB-aligned area. */
static unsigned long desc_size(unsigned num)
{
	return ALIGN_UP(16ul * num, 4096);
}

static unsigned long avail_size(unsigned num)
{
	return ALIGN_UP(6ul + 2ul * num, 4096);
}

unsigned long vq_mem_size(unsigned num)
{
	return desc_size(num) + avail_size(num) + ALIGN_UP(6ul + 8ul * num, 4096);
}

int vq_init(struct virtq *vq, unsigned index, unsigned num, void *mem,
	    uint64_t notify_addr)
{
	uint8_t *m = mem;

	if (num == 0 || num > VQ_MAX || (num & (num - 1)))
		return -1;
	memset(mem, 0, vq_mem_size(num));
	vq->index = index;
	vq->num = (uint16_t)num;
	vq->notify_addr = notify_addr;
	vq->event_idx = false;
	vq->desc = (struct vq_desc *)m;
	vq->avail = (struct vq_avail *)(m + desc_size(num));
	vq->used = (struct vq_used *)(m + desc_size(num) + avail_size(num));
	/* We poll: ask the device not to interrupt (a hint, §2.7.7). */
	vq->avail->flags = VQ_AVAIL_F_NO_INTERRUPT;
	vq->free_head = 0;
	vq->num_free = (uint16_t)num;
	vq->avail_idx = vq->kicked_idx = vq->last_used = 0;
	for (unsigned i = 0; i < num; i++) {
		vq->next[i] = (uint16_t)(i + 1);
		vq->chain[i] = 0;
		vq->wcap[i] = 0;
		vq->cookie[i] = NULL;
	}
	vq->added = vq->completed = vq->kicks = vq->kicks_saved = 0;
	vq->err = NULL;
	vq->err_id = vq->err_len = 0;
	return 0;
}

uint64_t vq_desc_addr(const struct virtq *vq)
{
	return (uintptr_t)vq->desc;
}

uint64_t vq_avail_addr(const struct virtq *vq)
{
	return (uintptr_t)vq->avail;
}

uint64_t vq_used_addr(const struct virtq *vq)
{
	return (uintptr_t)vq->used;
}

/* Make chain `head` available (§2.7.13): ring entry, then the index. */
static void publish(struct virtq *vq, uint16_t head, uint16_t ndesc,
		    uint32_t wcap, void *cookie)
{
	vq->chain[head] = ndesc;
	vq->wcap[head] = wcap;
	vq->cookie[head] = cookie;
	vq->avail->ring[vq->avail_idx & (vq->num - 1)] = head;
	wmb(); /* descriptors and ring entry before the index (§2.7.13.3.1) */
	vq->avail_idx++;
	*(volatile uint16_t *)&vq->avail->idx = vq->avail_idx;
	vq->added++;
}

/* Take n descriptors off the free list; their slots in order go to out[]. */
static int take(struct virtq *vq, unsigned n, uint16_t *out)
{
	uint16_t d = vq->free_head;

	if (n == 0 || n > vq->num_free)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		out[i] = d;
		d = vq->next[d];
	}
	vq->free_head = d;
	vq->num_free = (uint16_t)(vq->num_free - n);
	return 0;
}

int vq_add(struct virtq *vq, const struct vq_seg *segs, unsigned n, void *cookie)
{
	uint16_t slot[VQ_MAX];
	uint32_t wcap = 0;

	if (take(vq, n, slot))
		return -1;
	for (unsigned i = 0; i < n; i++) {
		struct vq_desc *d = &vq->desc[slot[i]];

		d->addr = segs[i].addr;
		d->len = segs[i].len;
		d->flags = (uint16_t)((segs[i].write ? VQ_DESC_F_WRITE : 0) |
				      (i + 1 < n ? VQ_DESC_F_NEXT : 0));
		d->next = i + 1 < n ? slot[i + 1] : 0;
		if (segs[i].write)
			wcap += segs[i].len;
	}
	publish(vq, slot[0], (uint16_t)n, wcap, cookie);
	return slot[0];
}

int vq_add_indirect(struct virtq *vq, struct vq_desc *table,
		    const struct vq_seg *segs, unsigned n, void *cookie)
{
	uint16_t slot;
	uint32_t wcap = 0;

	if (take(vq, 1, &slot))
		return -1;
	/* §2.7.5.3.1: the table's descriptors chain by index within it. */
	for (unsigned i = 0; i < n; i++) {
		table[i].addr = segs[i].addr;
		table[i].len = segs[i].len;
		table[i].flags = (uint16_t)((segs[i].write ? VQ_DESC_F_WRITE : 0) |
					    (i + 1 < n ? VQ_DESC_F_NEXT : 0));
		table[i].next = (uint16_t)(i + 1 < n ? i + 1 : 0);
		if (segs[i].write)
			wcap += segs[i].len;
	}
	vq->desc[slot].addr = (uintptr_t)table;
	vq->desc[slot].len = n * (uint32_t)sizeof(struct vq_desc);
	vq->desc[slot].flags = VQ_DESC_F_INDIRECT;
	vq->desc[slot].next = 0;
	publish(vq, slot, 1, wcap, cookie);
	return slot;
}

int vq_add_raw(struct virtq *vq, const struct vq_desc *descs, unsigned n,
	       void *cookie)
{
	uint16_t slot[VQ_MAX];
	uint64_t wcap = 0;

	if (take(vq, n, slot))
		return -1;
	for (unsigned i = 0; i < n; i++) {
		struct vq_desc *d = &vq->desc[slot[i]];

		if (descs[i].flags & VQ_DESC_F_WRITE)
			wcap += descs[i].len;
		d->addr = descs[i].addr;
		d->len = descs[i].len;
		d->flags = descs[i].flags;
		d->next = descs[i].next < n ? slot[descs[i].next] : descs[i].next;
		/* Private links follow the slots we took, whatever the
		 * descriptors say, so the chain can be freed. */
		if (i + 1 < n)
			vq->next[slot[i]] = slot[i + 1];
	}
	/* What the device may claim to have written: the writable lengths
	 * as given (the device is to follow the chain as listed). */
	publish(vq, slot[0], (uint16_t)n, wcap > 0xffffffffu ? 0xffffffffu : (uint32_t)wcap,
		cookie);
	return slot[0];
}

/* §2.7.10 / Linux vring_need_event(): did avail->idx move from old to
 * new_idx past event (all 16-bit, wrapping)? */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

void vq_kick(struct virtq *vq)
{
	uint16_t old = vq->kicked_idx, new_idx = vq->avail_idx;
	bool kick;

	if (old == new_idx)
		return;
	vq->kicked_idx = new_idx;
	/*
	 * Full fence: our avail->idx store (publish()) must be globally
	 * visible before we load the device's used->flags / avail_event.  The
	 * device does the mirror image when it re-enables notifications: it
	 * stores "kick me" (flag cleared / avail_event), fences, then re-reads
	 * avail->idx.  With both fences at least one side sees the other's
	 * store: we kick, or the device finds our buffer by itself.  Without
	 * ours, x86 may satisfy the load before the store leaves the store
	 * buffer: we read the stale "don't kick", the device reads the stale
	 * avail->idx and goes to sleep, and the buffer is never used.
	 */
	mb();
	if (vq->event_idx) {
		/* The device's avail_event lives after used->ring[num].  Any
		 * value is safe to use: a wrong one only costs a kick or
		 * stalls a device that chose to stall itself. */
		uint16_t event = read_u16((const volatile uint16_t *)&vq->used->ring[vq->num]);

		kick = need_event(event, new_idx, old);
	} else {
		kick = !(read_u16(&vq->used->flags) & VQ_USED_F_NO_NOTIFY);
	}
	if (!kick) {
		vq->kicks_saved++;
		return;
	}
	/* §4.2.2 QueueNotify: the queue index (no NOTIFICATION_DATA). */
	mmio_write32(vq->notify_addr, vq->index);
	vq->kicks++;
}

static int fail(struct virtq *vq, const char *why, uint32_t id, uint32_t len)
{
	if (!vq->err) {
		vq->err = why;
		vq->err_id = id;
		vq->err_len = len;
	}
	return -1;
}

int vq_get_used(struct virtq *vq, void **cookie, uint32_t *len)
{
	uint16_t idx, head, d, n;
	struct vq_used_elem e;

	if (vq->err)
		return -1;
	idx = read_u16(&vq->used->idx);
	if (idx == vq->last_used)
		return 0;
	/* More used entries than buffers we handed out: the device is confused. */
	if ((uint16_t)(idx - vq->last_used) > vq->num - vq->num_free)
		return fail(vq, "used->idx ran ahead of the buffers we made available",
			    idx, vq->last_used);
	rmb(); /* used->idx before the entry it covers (§2.7.14) */
	e = *(volatile struct vq_used_elem *)&vq->used->ring[vq->last_used & (vq->num - 1)];
	if (e.id >= vq->num || vq->chain[e.id] == 0)
		return fail(vq, "used id is not the head of a chain in flight", e.id, e.len);
	if (e.len > vq->wcap[e.id])
		return fail(vq, "used len exceeds the writable bytes of the chain", e.id, e.len);
	head = (uint16_t)e.id;
	vq->last_used++;

	/* Return the chain's descriptors to the free list (private links). */
	n = vq->chain[head];
	d = head;
	for (uint16_t i = 1; i < n; i++)
		d = vq->next[d];
	vq->next[d] = vq->free_head;
	vq->free_head = head;
	vq->num_free = (uint16_t)(vq->num_free + n);
	vq->chain[head] = 0;
	*cookie = vq->cookie[head];
	*len = e.len;
	vq->cookie[head] = NULL;
	vq->completed++;
	return 1;
}
