/* SPDX-License-Identifier: MIT */
/*
 * Guest RAM and the one checked way from a guest physical address to a host
 * pointer.  For our own VMs RAM is one anonymous mapping; the guest sees it
 * as up to two regions: [0, min(size, 3 GiB)) and, for the rest,
 * [4 GiB, ...), leaving the MMIO hole between them (see layout.h).  The
 * vhost-user transport (virtio/vhost_user.c) fills the regions itself from
 * the front-end's memory table (up to GM_MAX_REGIONS, non-overlapping, each
 * with its own mapping; base NULL).
 *
 * Every guest-supplied address goes through gm_ptr(), which checks the whole
 * range [gpa, gpa + len) against a single region with overflow checks.  A
 * range that straddles two regions or touches the hole is refused.
 */
#ifndef BASE_GUEST_MEM_H
#define BASE_GUEST_MEM_H

#include <stddef.h>
#include <stdint.h>

#define GM_MAX_REGIONS 8 /* vhost-user's limit; gm_init uses 2 */

struct gm_region {
	uint64_t gpa;   /* guest physical start */
	uint64_t size;  /* bytes */
	uint8_t *host;  /* host address of gpa */
};

struct guest_mem {
	uint8_t *base;      /* the whole mapping (for munmap) */
	int anon;           /* base is our private anonymous mapping (gm_init) */
	uint64_t size;      /* total RAM bytes */
	unsigned nregions;
	struct gm_region region[GM_MAX_REGIONS];
};

/* Map `size` bytes of anonymous memory and lay out the regions. 0 or -errno. */
int gm_init(struct guest_mem *gm, uint64_t size);

/* Lay out regions over caller-provided memory (unit tests, fuzzers). */
void gm_init_with(struct guest_mem *gm, void *host, uint64_t size);

/* Unmap what gm_init() mapped. */
void gm_destroy(struct guest_mem *gm);

/* Host pointer for [gpa, gpa+len) if that whole range is guest RAM, else NULL.
 * len 0 is allowed and checks only gpa. */
void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* Copy into guest RAM; 0, or -EFAULT if the range is not RAM. */
int gm_write(const struct guest_mem *gm, uint64_t gpa, const void *src, size_t len);

/* Zero [gpa, gpa+len) of guest RAM; 0 or -EFAULT.  Whole pages of our own
 * anonymous mapping are dropped (MADV_DONTNEED) rather than written, so
 * zeroing a large, never-touched .bss costs neither time nor memory. */
int gm_zero(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* Highest guest address + 1 of RAM below 4 GiB. */
uint64_t gm_low_top(const struct guest_mem *gm);

#endif
