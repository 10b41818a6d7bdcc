// SPDX-License-Identifier: MIT
#include "base/guest_mem.h"
#include "base/layout.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

void gm_init_with(struct guest_mem *gm, void *host, uint64_t size)
{
	uint64_t low = size < LAYOUT_MMIO_HOLE ? size : LAYOUT_MMIO_HOLE;

	memset(gm, 0, sizeof(*gm));
	gm->base = host;
	gm->size = size;
	gm->region[0] = (struct gm_region){ .gpa = 0, .size = low, .host = host };
	gm->nregions = 1;
	if (size > low) {
		gm->region[1] = (struct gm_region){
			.gpa = LAYOUT_4G, .size = size - low, .host = gm->base + low,
		};
		gm->nregions = 2;
	}
}

int gm_init(struct guest_mem *gm, uint64_t size)
{
	void *p;

	if (size == 0)
		return -EINVAL;
	/* MAP_NORESERVE: guest RAM is touched lazily; only what the guest uses
	 * becomes resident. */
	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	gm_init_with(gm, p, size);
	gm->anon = 1;
	return 0;
}

void gm_destroy(struct guest_mem *gm)
{
	if (gm->base)
		munmap(gm->base, gm->size);
	memset(gm, 0, sizeof(*gm));
}

void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < gm->nregions; i++) {
		const struct gm_region *r = &gm->region[i];

		/* Written so that no sum can overflow: gpa - r->gpa is only
		 * computed once gpa >= r->gpa. */
		if (gpa < r->gpa || gpa - r->gpa >= r->size)
			continue;
		if (len > r->size - (gpa - r->gpa))
			return NULL;
		return r->host + (gpa - r->gpa);
	}
	return NULL;
}

int gm_write(const struct guest_mem *gm, uint64_t gpa, const void *src, size_t len)
{
	void *p = gm_ptr(gm, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

int gm_zero(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	uint8_t *p = gm_ptr(gm, gpa, len);
	uintptr_t start, end, page = 4096;

	if (!p)
		return -EFAULT;
	start = ((uintptr_t)p + page - 1) & ~(page - 1);
	end = ((uintptr_t)p + len) & ~(page - 1);
	if (!gm->anon || end <= start ||
	    madvise((void *)start, end - start, MADV_DONTNEED) != 0) {
		memset(p, 0, len);
		return 0;
	}
	memset(p, 0, start - (uintptr_t)p);
	memset((void *)end, 0, (uintptr_t)p + len - end);
	return 0;
}

uint64_t gm_low_top(const struct guest_mem *gm)
{
	return gm->region[0].size;
}
