/* SPDX-License-Identifier: MIT */
/*
 * Test-side virtio driver helpers: fake guest RAM over a malloc'd buffer, a
 * driver's view of a split ring in it (build descriptors, publish heads,
 * read used entries), and register access through the MMIO bus as a vCPU
 * would.  Header-only; every function is static inline.  Also the fake
 * driver of the device-level benchmark bench/dgram_dev.c: keep it free of
 * Check (no ck_assert here).
 */
#ifndef TESTS_VIRTIO_TEST_DRIVER_H
#define TESTS_VIRTIO_TEST_DRIVER_H

#include <endian.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/bus.h"
#include "virtio/mmio.h"
#include "virtio/virtqueue.h"
#include "base/guest_mem.h"

#define TD_MEM_SIZE  (1u << 20)  /* 1 MiB of fake guest RAM */

struct td_mem {
	uint8_t *host;
	uint64_t size;
	struct guest_mem gm;
};

static inline void td_mem_init(struct td_mem *m, uint64_t size)
{
	m->host = aligned_alloc(4096, size);
	m->size = size;
	memset(m->host, 0, size);
	gm_init_with(&m->gm, m->host, size);
}

static inline void td_mem_free(struct td_mem *m)
{
	free(m->host);
	m->host = NULL;
}

/* A snapshot to prove that nothing outside an allowed range was written. */
static inline uint8_t *td_snapshot(const struct td_mem *m)
{
	uint8_t *s = malloc(m->size);

	memcpy(s, m->host, m->size);
	return s;
}

/* The driver's view of one split ring. */
struct td_ring {
	struct td_mem *m;
	uint16_t size;
	uint64_t desc, avail, used;  /* guest physical */
	uint16_t avail_idx;          /* driver's shadow of avail->idx */
	uint16_t last_used;
};

static inline void *td_gpa(struct td_mem *m, uint64_t gpa)
{
	return m->host + gpa;
}

static inline void td_w16(struct td_mem *m, uint64_t gpa, uint16_t v)
{
	v = htole16(v);
	memcpy(td_gpa(m, gpa), &v, 2);
}

static inline uint16_t td_r16(struct td_mem *m, uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, td_gpa(m, gpa), 2);
	return le16toh(v);
}

static inline uint32_t td_r32(struct td_mem *m, uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, td_gpa(m, gpa), 4);
	return le32toh(v);
}

static inline void td_ring_init(struct td_ring *r, struct td_mem *m, uint16_t size,
				uint64_t desc, uint64_t avail, uint64_t used)
{
	r->m = m;
	r->size = size;
	r->desc = desc;
	r->avail = avail;
	r->used = used;
	r->avail_idx = 0;
	r->last_used = 0;
	memset(td_gpa(m, desc), 0, VIRTQ_DESC_SIZE(size));
	memset(td_gpa(m, avail), 0, VIRTQ_AVAIL_SIZE(size));
	memset(td_gpa(m, used), 0, VIRTQ_USED_SIZE(size));
}

/* Write a descriptor into a table at guest address `table`. */
static inline void td_desc_at(struct td_mem *m, uint64_t table, unsigned i,
			      uint64_t addr, uint32_t len, uint16_t flags,
			      uint16_t next)
{
	struct virtq_desc d = {
		.addr = htole64(addr), .len = htole32(len),
		.flags = htole16(flags), .next = htole16(next),
	};

	memcpy(td_gpa(m, table + 16ull * i), &d, sizeof(d));
}

static inline void td_desc(struct td_ring *r, unsigned i, uint64_t addr,
			   uint32_t len, uint16_t flags, uint16_t next)
{
	td_desc_at(r->m, r->desc, i, addr, len, flags, next);
}

/* Publish a head: ring slot, then idx (single-threaded: no barrier). */
static inline void td_add(struct td_ring *r, uint16_t head)
{
	td_w16(r->m, r->avail + 4 + 2u * (r->avail_idx % r->size), head);
	r->avail_idx++;
	td_w16(r->m, r->avail + 2, r->avail_idx);
}

/* The same while the device may be popping on another thread (the I/O
 * thread): avail->idx is stored with release ordering, so the device's
 * acquire load of it also sees the ring slot written before (virtio 1.2
 * §2.7.13.3: the driver's write barrier before the idx update). */
static inline void td_post(struct td_ring *r, uint16_t head)
{
	uint16_t *idx = td_gpa(r->m, r->avail + 2);

	td_w16(r->m, r->avail + 4 + 2u * (r->avail_idx % r->size), head);
	r->avail_idx++;
	__atomic_store_n(idx, htole16(r->avail_idx), __ATOMIC_RELEASE);
}

/* used->idx as a device on another thread publishes it (acquire: the used
 * elements and the buffers it wrote are visible once the idx is). */
static inline uint16_t td_used_idx_acquire(struct td_ring *r)
{
	uint16_t *idx = td_gpa(r->m, r->used + 2);

	return le16toh(__atomic_load_n(idx, __ATOMIC_ACQUIRE));
}

static inline void td_set_avail_idx(struct td_ring *r, uint16_t idx)
{
	r->avail_idx = idx;
	td_w16(r->m, r->avail + 2, idx);
}

static inline void td_set_avail_flags(struct td_ring *r, uint16_t flags)
{
	td_w16(r->m, r->avail, flags);
}

static inline void td_set_used_event(struct td_ring *r, uint16_t v)
{
	td_w16(r->m, r->avail + 4 + 2u * r->size, v);
}

static inline uint16_t td_used_idx(struct td_ring *r)
{
	return td_r16(r->m, r->used + 2);
}

static inline uint16_t td_used_flags(struct td_ring *r)
{
	return td_r16(r->m, r->used);
}

static inline uint16_t td_avail_event(struct td_ring *r)
{
	return td_r16(r->m, r->used + 4 + 8u * r->size);
}

/* Used element in slot `slot % size`. */
static inline void td_used_elem(struct td_ring *r, uint16_t slot, uint32_t *id,
				uint32_t *len)
{
	uint64_t e = r->used + 4 + 8u * (slot % r->size);

	*id = td_r32(r->m, e);
	*len = td_r32(r->m, e + 4);
}

/* --- MMIO register access through the bus, as a vCPU would ------------ */

static inline uint32_t td_rd(struct bus *bus, uint64_t base, uint64_t off)
{
	uint32_t v = 0xdeadbeef;

	bus_dispatch(bus, base + off, &v, 4, false);
	return le32toh(v);
}

static inline void td_wr(struct bus *bus, uint64_t base, uint64_t off, uint32_t v)
{
	v = htole32(v);
	bus_dispatch(bus, base + off, &v, 4, true);
}

static inline void td_wr64(struct bus *bus, uint64_t base, uint64_t lo_off,
			   uint64_t v)
{
	td_wr(bus, base, lo_off, (uint32_t)v);
	td_wr(bus, base, lo_off + 4, (uint32_t)(v >> 32));
}

/* The standard driver init up to FEATURES_OK; returns the Status read back. */
static inline uint32_t td_negotiate(struct bus *bus, uint64_t base, uint64_t features)
{
	td_wr(bus, base, VMMIO_STATUS, 0);
	td_wr(bus, base, VMMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	td_wr(bus, base, VMMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	td_wr(bus, base, VMMIO_DRIVER_FEATURES_SEL, 0);
	td_wr(bus, base, VMMIO_DRIVER_FEATURES, (uint32_t)features);
	td_wr(bus, base, VMMIO_DRIVER_FEATURES_SEL, 1);
	td_wr(bus, base, VMMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	td_wr(bus, base, VMMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
	      VIRTIO_STATUS_FEATURES_OK);
	return td_rd(bus, base, VMMIO_STATUS);
}

/* Configure queue q with ring r; returns QueueReady read back. */
static inline uint32_t td_setup_queue(struct bus *bus, uint64_t base, unsigned q,
				      const struct td_ring *r)
{
	td_wr(bus, base, VMMIO_QUEUE_SEL, q);
	td_wr(bus, base, VMMIO_QUEUE_NUM, r->size);
	td_wr64(bus, base, VMMIO_QUEUE_DESC_LOW, r->desc);
	td_wr64(bus, base, VMMIO_QUEUE_DRIVER_LOW, r->avail);
	td_wr64(bus, base, VMMIO_QUEUE_DEVICE_LOW, r->used);
	td_wr(bus, base, VMMIO_QUEUE_READY, 1);
	return td_rd(bus, base, VMMIO_QUEUE_READY);
}

#endif
