/* SPDX-License-Identifier: MIT */
#include "heap.h"

#include <asm/bootparam.h> /* struct layout only */

#include "base/layout.h"

#define E820_RAM 1

extern char __heap_start[]; /* testguest.ld: after .bss and the boot stack */

static uint64_t next, end;

void heap_init(uint64_t boot_params)
{
	const struct boot_params *bp = (const void *)(uintptr_t)boot_params;
	uint64_t start = (uintptr_t)__heap_start;

	next = end = start;
	if (!bp)
		return;
	for (unsigned i = 0; i < bp->e820_entries && i < E820_MAX_ENTRIES_ZEROPAGE; i++) {
		const struct boot_e820_entry *e = &bp->e820_table[i];
		uint64_t top = e->addr + e->size;

		if (e->type != E820_RAM || e->addr > start || top <= start)
			continue;
		/* Only what ring3.c maps: below the MMIO hole. */
		end = top < LAYOUT_MMIO_HOLE ? top : LAYOUT_MMIO_HOLE;
	}
}

void *heap_alloc(size_t size, size_t align)
{
	uint64_t p = (next + align - 1) & ~(uint64_t)(align - 1);

	if (p < next || p > end || size > end - p)
		return NULL;
	next = p + size;
	return (void *)(uintptr_t)p;
}

uint64_t heap_free_bytes(void)
{
	return end - next;
}
