/* SPDX-License-Identifier: MIT */
/*
 * Connection table: open addressing, linear probing, backward-shift
 * deletion.  See conntab.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>

#include "vsock/conntab.h"

static uint64_t random_seed(void)
{
	uint64_t seed;
	struct timespec ts;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == (ssize_t)sizeof(seed))
		return seed;
	/* No entropy yet (early boot): still better than a constant. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^ (uintptr_t)&ts;
}

/* splitmix64's finaliser over the seeded key: every key bit affects every
 * index bit. */
static uint32_t slot_of(const struct vsock_conntab *t, uint32_t k1, uint32_t k2)
{
	uint64_t x = (((uint64_t)k1 << 32) | k2) ^ t->seed;

	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return (uint32_t)x & t->mask;
}

int vsock_conntab_init(struct vsock_conntab *t, uint32_t max)
{
	uint32_t slots = 2;

	memset(t, 0, sizeof(*t));
	if (max == 0 || max > VSOCK_CONNTAB_LIMIT)
		return -EINVAL;
	while (slots < 2 * max) /* load factor <= 1/2 */
		slots <<= 1;
	t->slots = calloc(slots, sizeof(*t->slots));
	if (!t->slots)
		return -ENOMEM;
	t->mask = slots - 1;
	t->max = max;
	t->seed = random_seed();
	return 0;
}

void vsock_conntab_destroy(struct vsock_conntab *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

/* Slot holding (k1, k2), or the empty slot ending its probe run. */
static uint32_t find(const struct vsock_conntab *t, uint32_t k1, uint32_t k2)
{
	uint32_t i = slot_of(t, k1, k2);

	/* Terminates: the table is never more than half full. */
	while (t->slots[i].val &&
	       (t->slots[i].k1 != k1 || t->slots[i].k2 != k2))
		i = (i + 1) & t->mask;
	return i;
}

void *vsock_conntab_get(const struct vsock_conntab *t, uint32_t k1, uint32_t k2)
{
	if (!t->slots)
		return NULL;
	return t->slots[find(t, k1, k2)].val;
}

int vsock_conntab_add(struct vsock_conntab *t, uint32_t k1, uint32_t k2, void *val)
{
	uint32_t i;

	if (!val || !t->slots)
		return -EINVAL;
	i = find(t, k1, k2);
	if (t->slots[i].val)
		return -EEXIST;
	if (t->count >= t->max)
		return -ENOSPC;
	t->slots[i] = (struct vsock_conntab_slot){ .k1 = k1, .k2 = k2, .val = val };
	t->count++;
	return 0;
}

/* Empty slot i, pulling later members of its probe run back so that every
 * entry stays reachable from its home slot without gaps. */
static void remove_slot(struct vsock_conntab *t, uint32_t i)
{
	uint32_t j = i;

	for (;;) {
		uint32_t home;
		bool stays;

		j = (j + 1) & t->mask;
		if (!t->slots[j].val)
			break;
		home = slot_of(t, t->slots[j].k1, t->slots[j].k2);
		/* The entry at j may stay iff its home lies cyclically in (i, j]. */
		if (i <= j)
			stays = i < home && home <= j;
		else
			stays = i < home || home <= j;
		if (stays)
			continue;
		t->slots[i] = t->slots[j];
		i = j;
	}
	t->slots[i] = (struct vsock_conntab_slot){ 0 };
	t->count--;
}

void *vsock_conntab_del(struct vsock_conntab *t, uint32_t k1, uint32_t k2)
{
	uint32_t i;
	void *val;

	if (!t->slots)
		return NULL;
	i = find(t, k1, k2);
	val = t->slots[i].val;
	if (val)
		remove_slot(t, i);
	return val;
}

void *vsock_conntab_next(const struct vsock_conntab *t, uint32_t *pos,
			 uint32_t *k1, uint32_t *k2)
{
	if (!t->slots)
		return NULL;
	for (uint32_t i = *pos; i <= t->mask; i++) {
		if (!t->slots[i].val)
			continue;
		*pos = i + 1;
		if (k1)
			*k1 = t->slots[i].k1;
		if (k2)
			*k2 = t->slots[i].k2;
		return t->slots[i].val;
	}
	*pos = t->mask + 1;
	return NULL;
}

