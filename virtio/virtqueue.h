/* SPDX-License-Identifier: MIT */
/*
 * The split virtqueue (virtio 1.2, section 2.7), device side.
 *
 * A virtqueue of N entries (N a power of two, 1..32768) lives in guest RAM as
 * three separately placed areas whose guest physical addresses the driver
 * gives the transport (virtio-mmio: QueueDesc, QueueDriver, QueueDevice).
 * All fields are little-endian.
 *
 *   Descriptor table, 16-byte aligned, 16 * N bytes:
 *     struct virtq_desc { le64 addr; le32 len; le16 flags; le16 next; } [N]
 *       flags: NEXT (1) "the chain continues at `next`",
 *              WRITE (2) "device writes this buffer" (else device reads it),
 *              INDIRECT (4) "addr/len is a table of further descriptors".
 *
 *   Available ("driver") ring, 2-byte aligned, 6 + 2 * N bytes, driver-written:
 *     le16 flags;          NO_INTERRUPT (1): "don't interrupt me" (no EVENT_IDX)
 *     le16 idx;            free-running count of heads the driver has added
 *     le16 ring[N];        head descriptor indices, slot = count % N
 *     le16 used_event;     EVENT_IDX: interrupt me when used idx passes this
 *
 *   Used ("device") ring, 4-byte aligned, 6 + 8 * N bytes, device-written:
 *     le16 flags;          NO_NOTIFY (1): "don't kick me" (no EVENT_IDX)
 *     le16 idx;            free-running count of chains the device returned
 *     struct { le32 id; le32 len; } ring[N];  head index, bytes written
 *     le16 avail_event;    EVENT_IDX: kick me when avail idx passes this
 *
 * The driver builds a chain (readable descriptors first, then writable ones),
 * puts its head into avail->ring[avail->idx % N] and then increments
 * avail->idx.  The device consumes heads from its private last_avail_idx up to
 * avail->idx, and returns each chain by writing {head, written bytes} into
 * used->ring[used_idx % N] and then incrementing used->idx.  Both indices are
 * 16-bit and wrap; their difference is never more than N.
 *
 * With INDIRECT_DESC a descriptor may point at a table of descriptors in
 * guest RAM (len = 16 * entries); the chain continues inside that table,
 * whose `next` fields index the table.  Such a descriptor must be the last of
 * its chain in the ring (no NEXT) and tables do not nest.
 *
 * Devices never see these indices: they pop a chain as iovecs, push it back
 * with the number of bytes written, and ask whether to interrupt.
 *
 * The guest is hostile.  Every descriptor is read once into a local copy,
 * checked (each buffer's whole range through gm_ptr(), the chain length
 * bounded by N, loops, out-of-range indices, writable-before-readable order,
 * nested or chained indirect tables, ...), and a queue that violates the
 * rules is marked broken: every later pop returns -EIO and the transport is
 * told (DEVICE_NEEDS_RESET).  The buffers themselves stay shared with the
 * guest, which may change them at any time: copy out what you validate
 * (e.g. a packet header) before acting on it.
 *
 * Threading: a struct virtq is not locked.  The device serialises every call
 * below for one queue (normally under the device lock).  The transport sets
 * the queue up (virtq_enable) and tears it down (virtq_reset) only while the
 * device is not active, see device.h.
 */
#ifndef VIRTIO_VIRTQUEUE_H
#define VIRTIO_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "base/guest_mem.h"

#define VIRTQ_MAX_SIZE       32768u

#define VIRTQ_DESC_F_NEXT     1u
#define VIRTQ_DESC_F_WRITE    2u
#define VIRTQ_DESC_F_INDIRECT 4u
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1u
#define VIRTQ_USED_F_NO_NOTIFY     1u

/* Guest-memory layouts (little-endian; for tests and the transport). */
struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

/* Ring area sizes for a queue of n entries, including the event words. */
#define VIRTQ_DESC_SIZE(n)  (16ull * (n))
#define VIRTQ_AVAIL_SIZE(n) (6ull + 2ull * (n))
#define VIRTQ_USED_SIZE(n)  (6ull + 8ull * (n))

/* Required alignment of each area (spec 2.7, table "Virtqueue Part Alignment"). */
#define VIRTQ_DESC_ALIGN  16u
#define VIRTQ_AVAIL_ALIGN 2u
#define VIRTQ_USED_ALIGN  4u

/*
 * One queue.  The fields are private to virtqueue.c and the transport;
 * devices use the functions below.
 */
struct virtq {
	const struct guest_mem *gm;
	uint16_t size;                 /* N; 0 while not enabled */
	bool ready;                    /* enabled by the transport */
	bool broken;                   /* rule violation seen; see virtq_pop */
	bool event_idx;                /* VIRTIO_F_EVENT_IDX negotiated */
	bool indirect;                 /* VIRTIO_F_INDIRECT_DESC negotiated */
	bool notify_enabled;           /* see virtq_disable_notify */
	bool signalled_valid;          /* signalled_used holds a value */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	/* Host pointers for the three whole areas, from gm_ptr() at enable. */
	struct virtq_desc *desc;
	uint16_t *avail;               /* flags, idx, ring[N], used_event */
	uint16_t *used;                /* flags, idx, then elems; see .c */
	uint16_t last_avail_idx;       /* next avail slot to consume */
	uint16_t used_idx;             /* next used slot to fill (= used->idx) */
	uint16_t signalled_used;       /* used_idx at the last signal check */
	int error;                     /* first error that broke the queue */
	/* Called once when the queue breaks (the transport sets NEEDS_RESET). */
	void (*on_broken)(void *opaque, struct virtq *vq);
	void *on_broken_opaque;
};

/* A popped chain.  iov[0 .. n_out) are device-readable (driver → device),
 * iov[n_out .. n_out + n_in) are device-writable (device → driver). */
struct virtq_chain {
	uint16_t head;       /* head descriptor index: identifies the chain */
	uint16_t n_out, n_in;
	uint32_t out_len;    /* total bytes of the readable part */
	uint32_t in_len;     /* total bytes of the writable part */
	bool indirect;       /* the descriptors came from an indirect table */
};

/* --- device API ------------------------------------------------------- */

/*
 * Take the next available chain.  Fills at most max_iov iovecs (readable
 * first, then writable) and *c.  Returns
 *   1        a chain was popped; give it back with virtq_push() (or
 *            virtq_unpop());
 *   0        nothing available (or the queue is not enabled).  If
 *            notifications are enabled (the default) they are armed, and
 *            the caller may sleep until the next queue_notify;
 *   -EIO     the queue is broken (earlier error), -EBADMSG a malformed
 *            ring or chain, -EFAULT a buffer outside guest RAM, -ENOBUFS a
 *            chain with more than max_iov descriptors (pass max_iov >= the
 *            queue size to accept every legal chain).  Any negative return
 *            breaks the queue for good: stop using it; the transport has
 *            already set DEVICE_NEEDS_RESET.
 */
int virtq_pop(struct virtq *vq, struct iovec *iov, unsigned max_iov,
	      struct virtq_chain *c);

/* Return a chain to the driver with `written` bytes written into its
 * writable part (clamped to c->in_len).  Publishes the used index. */
void virtq_push(struct virtq *vq, const struct virtq_chain *c, uint32_t written);

/* Undo the most recent virtq_pop() (nothing was written and nothing was
 * read that matters).  Several pops may be undone, newest first. */
void virtq_unpop(struct virtq *vq, const struct virtq_chain *c);

/* True if pushes since the last call need an interrupt (spec 2.7.7:
 * EVENT_IDX used_event, else the NO_INTERRUPT flag).  Remembers the used
 * index, so call it once per batch of pushes and interrupt when it says so.
 * Devices normally call virtio_signal() (device.h), which does both. */
bool virtq_should_signal(struct virtq *vq);

/*
 * Take the next chain of a queue the device drains: the one call that owns
 * available-buffer notification suppression (virtio 1.2 §2.7.10; the
 * interrupt side, §2.7.7, is virtq_should_signal).  While chains keep
 * coming the driver is asked not to kick (NO_NOTIFY, or with EVENT_IDX
 * avail_event left behind): each kick would be an exit for nothing.  When
 * the ring is empty, notifications are re-armed and the ring is read once
 * more behind a full barrier (arm_and_recheck in virtqueue.c has the race
 * and the driver barrier it pairs with); a chain the driver added before it
 * could see the re-arm is popped here, one added after it gets a kick.
 * Returns
 *   VIRTQ_POP_CHAIN (1)     a chain; notifications stay suppressed;
 *   VIRTQ_POP_RECHECK (2)   a chain found only by that last look (the
 *                           driver raced the re-arm; worth counting only);
 *   0                       empty and armed: sleeping until the next
 *                           queue_notify is safe;
 *   < 0                     broken, as virtq_pop().
 * A device that stops before 0 (backpressure) and still wants a kick for
 * what is left calls virtq_enable_notify().
 */
#define VIRTQ_POP_CHAIN   1
#define VIRTQ_POP_RECHECK 2
int virtq_pop_drain(struct virtq *vq, struct iovec *iov, unsigned max_iov,
		    struct virtq_chain *c);

/* Ask the driver not to notify (kick) this queue while the device is busy
 * draining it anyway (spec 2.7.10: NO_NOTIFY flag, or with EVENT_IDX simply
 * not advancing avail_event).  Devices normally let virtq_pop_drain() do
 * this; a device that wants no kicks before it pops (rx buffers it has no
 * use for yet) may call it first. */
void virtq_disable_notify(struct virtq *vq);

/* Re-enable notifications.  Returns true if buffers became available
 * meanwhile; the caller must then keep popping, because the driver may
 * have decided not to notify for them. */
bool virtq_enable_notify(struct virtq *vq);

/* Enabled and not broken. */
bool virtq_usable(const struct virtq *vq);

/* The ring size the driver chose (0 while not enabled). */
uint16_t virtq_size(const struct virtq *vq);

/* --- transport API ---------------------------------------------------- */

struct virtq_config {
	uint32_t size;               /* as the driver wrote QueueNum; checked by virtq_enable */
	uint64_t desc, avail, used;  /* guest physical addresses */
	bool event_idx, indirect;    /* negotiated features */
};

/* Check the ring geometry (size a power of two <= max_size, each area
 * aligned and wholly inside guest RAM) and enable the queue.  0, or
 * -EINVAL (size/alignment) / -EFAULT (not RAM) and the queue stays off. */
int virtq_enable(struct virtq *vq, const struct guest_mem *gm,
		 const struct virtq_config *cfg, uint16_t max_size);

/* After virtq_enable: continue a ring the driver has been using (vhost-user
 * VHOST_USER_SET_VRING_BASE): the next available slot to consume is
 * `last_avail`, and the used index is taken from the ring itself (the
 * device wrote it last; the driver never does). */
void virtq_set_base(struct virtq *vq, uint16_t last_avail);

/* Disable and forget everything (keeps the on_broken callback). */
void virtq_reset(struct virtq *vq);

#endif
