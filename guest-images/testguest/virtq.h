/* SPDX-License-Identifier: MIT */
/*
 * Driver side of a split virtqueue (virtio v1.2 §2.7): a descriptor table,
 * the available ring we write and the used ring the device writes.
 *
 * Ownership: the driver writes descriptors and the available ring, the
 * device writes the used ring.  Which descriptors are free is tracked in
 * private arrays, never read back from shared memory, so whatever the device
 * writes (a bogus used id, a huge used length) is detected and reported
 * rather than believed.  Single-threaded, polled.  Kicks honour the
 * device's suppression: VIRTQ_USED_F_NO_NOTIFY, or with EVENT_IDX
 * negotiated (vq->event_idx) the avail_event word (§2.7.10).
 */
#ifndef TG_VIRTQ_H
#define TG_VIRTQ_H

#include <stdbool.h>
#include <stdint.h>

#define VQ_MAX 1024 /* largest queue we set up */

/* §2.7.5 descriptor flags. */
#define VQ_DESC_F_NEXT     1
#define VQ_DESC_F_WRITE    2
#define VQ_DESC_F_INDIRECT 4
/* §2.7.6 / §2.7.8 ring flags. */
#define VQ_AVAIL_F_NO_INTERRUPT 1
#define VQ_USED_F_NO_NOTIFY     1

struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
} __attribute__((packed));

struct vq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[]; /* num entries, then used_event (EVENT_IDX only) */
};

struct vq_used_elem {
	uint32_t id;  /* head of the chain */
	uint32_t len; /* bytes the device wrote into the chain's buffers */
};

struct vq_used {
	uint16_t flags;
	uint16_t idx;
	struct vq_used_elem ring[]; /* num entries, then avail_event */
};

/* One buffer of a chain: readable (device reads) or writable. */
struct vq_seg {
	uint64_t addr;
	uint32_t len;
	bool write;
};

struct virtq {
	unsigned index;          /* queue number, for QueueNotify */
	uint16_t num;            /* entries, a power of two */
	uint64_t notify_addr;    /* the QueueNotify register */
	bool event_idx;          /* VIRTIO_F_EVENT_IDX negotiated (set after vq_init) */
	struct vq_desc *desc;
	struct vq_avail *avail;
	struct vq_used *used;

	/* Private driver state. */
	uint16_t free_head, num_free;
	uint16_t avail_idx;      /* our copy of avail->idx */
	uint16_t kicked_idx;     /* avail_idx at the last kick decision */
	uint16_t last_used;      /* next used->ring entry to look at */
	uint16_t next[VQ_MAX];   /* free list and chain links */
	uint16_t chain[VQ_MAX];  /* per head: descriptors in the chain, 0 = free */
	uint32_t wcap[VQ_MAX];   /* per head: writable bytes in the chain */
	void *cookie[VQ_MAX];    /* per head: caller's token */

	/* Statistics and the first device error seen (NULL if none). */
	uint64_t added, completed, kicks;
	uint64_t kicks_saved;    /* kicks the device's suppression spared us */
	const char *err;
	uint32_t err_id, err_len;
};

/* Lay out the rings in `mem` (vq_mem_size(num) bytes, 4 KiB aligned, will be
 * zeroed) and reset all private state.  num: power of two <= VQ_MAX. */
int vq_init(struct virtq *vq, unsigned index, unsigned num, void *mem,
	    uint64_t notify_addr);
unsigned long vq_mem_size(unsigned num);
/* Guest-physical addresses for the transport (identity-mapped guest). */
uint64_t vq_desc_addr(const struct virtq *vq);
uint64_t vq_avail_addr(const struct virtq *vq);
uint64_t vq_used_addr(const struct virtq *vq);

/* Add a chain: readable segments first, then writable (§2.7.4.2).
 * Returns the head, or -1 if fewer than n descriptors are free. */
int vq_add(struct virtq *vq, const struct vq_seg *segs, unsigned n, void *cookie);

/* Add one descriptor with VIRTQ_DESC_F_INDIRECT pointing to `table`, which
 * the caller fills from segs here and keeps alive until the chain is used
 * (§2.7.5.3: only negotiated INDIRECT_DESC allows this). */
int vq_add_indirect(struct virtq *vq, struct vq_desc *table,
		    const struct vq_seg *segs, unsigned n, void *cookie);

/* Hostile: put n descriptors into the table verbatim (addr, len, flags),
 * except that a `next` below n names the n-th descriptor of this call and is
 * translated to its slot; other `next` values are written as they are. */
int vq_add_raw(struct virtq *vq, const struct vq_desc *descs, unsigned n,
	       void *cookie);

/* Notify the device if we added anything since the last kick decision and
 * it did not ask us not to: with EVENT_IDX only if avail->idx moved past
 * its avail_event (vring_need_event), else unless VIRTQ_USED_F_NO_NOTIFY. */
void vq_kick(struct virtq *vq);

/* Take one used chain: 1 with *cookie and *len set, 0 if none is pending,
 * -1 if the device wrote nonsense (vq->err says what; the queue is then
 * unusable until reset). */
int vq_get_used(struct virtq *vq, void **cookie, uint32_t *len);

static inline unsigned vq_free(const struct virtq *vq)
{
	return vq->num_free;
}

#endif
