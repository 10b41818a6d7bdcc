/* SPDX-License-Identifier: MIT */
/*
 * A fixed-size hash table keyed by a pair of u32 (for connections: local
 * port, peer port) holding non-NULL pointers.  Open addressing with linear
 * probing and backward-shift deletion (no tombstones), at most half full,
 * so lookups stay O(1) however entries come and go.  The hash is keyed with
 * a random seed so a guest choosing its ports cannot build long probe runs.
 * Memory is allocated once at init: 16 bytes × 2 × max rounded up to a
 * power of two (4096 entries: 128 KiB).  Not thread safe.
 */
#ifndef VSOCK_CONNTAB_H
#define VSOCK_CONNTAB_H

#include <stdint.h>

#define VSOCK_CONNTAB_DEFAULT_MAX 4096u
#define VSOCK_CONNTAB_LIMIT       (1u << 22)

struct vsock_conntab_slot {
	uint32_t k1, k2;
	void *val;        /* NULL: empty */
};

struct vsock_conntab {
	struct vsock_conntab_slot *slots;
	uint32_t mask;    /* slots - 1 */
	uint32_t count;
	uint32_t max;
	uint64_t seed;
};

/* Room for `max` entries (1..VSOCK_CONNTAB_LIMIT).  0, -EINVAL, -ENOMEM. */
int vsock_conntab_init(struct vsock_conntab *t, uint32_t max);
void vsock_conntab_destroy(struct vsock_conntab *t);

/* The value stored under (k1, k2), or NULL. */
void *vsock_conntab_get(const struct vsock_conntab *t, uint32_t k1, uint32_t k2);

/* Store val (non-NULL) under a new key.  0, -EEXIST, -ENOSPC (max entries
 * reached), -EINVAL (val NULL). */
int vsock_conntab_add(struct vsock_conntab *t, uint32_t k1, uint32_t k2, void *val);

/* Remove the key; returns its value, or NULL if absent. */
void *vsock_conntab_del(struct vsock_conntab *t, uint32_t k1, uint32_t k2);

static inline uint32_t vsock_conntab_count(const struct vsock_conntab *t)
{
	return t->count;
}

/*
 * Iterate: start with *pos = 0; returns the next value (its key in *k1, *k2
 * if not NULL) and moves *pos past it, or NULL at the end.  No add or
 * delete while iterating: collect what to change first (backward-shift
 * deletion moves entries between slots).
 */
void *vsock_conntab_next(const struct vsock_conntab *t, uint32_t *pos,
			 uint32_t *k1, uint32_t *k2);

#endif
