/* SPDX-License-Identifier: MIT */
#include "pvh.h"

#include <stddef.h>
#include <asm/bootparam.h> /* struct layout only */

#include "base/layout.h"

/* In .data, not .bss: this runs before start.S zeroes .bss (_start), and
 * what it writes must survive that. */
int tg_boot_pvh __attribute__((section(".data")));
static struct boot_params pvh_bp __attribute__((section(".data"), aligned(4096)));

uint64_t pvh_boot_params(uint64_t start_info)
{
	const struct hvm_start_info *si = (const void *)(uintptr_t)start_info;
	struct boot_params *bp = &pvh_bp;

	tg_boot_pvh = 1;
	/* Only the fields cmdline.c and heap.c read; the rest stays 0. */
	if (!si || start_info >= LAYOUT_MMIO_HOLE || si->magic != HVM_START_MAGIC)
		return (uintptr_t)bp;
	if (si->cmdline_paddr && si->cmdline_paddr < LAYOUT_MMIO_HOLE) {
		bp->hdr.cmd_line_ptr = (uint32_t)si->cmdline_paddr;
		bp->ext_cmd_line_ptr = (uint32_t)(si->cmdline_paddr >> 32);
	}
	if (si->version >= 1 && si->memmap_paddr &&
	    si->memmap_paddr < LAYOUT_MMIO_HOLE) {
		const struct hvm_memmap_table_entry *m =
			(const void *)(uintptr_t)si->memmap_paddr;
		unsigned n = 0;

		for (uint32_t i = 0; i < si->memmap_entries &&
				     n < E820_MAX_ENTRIES_ZEROPAGE; i++, n++) {
			bp->e820_table[n].addr = m[i].addr;
			bp->e820_table[n].size = m[i].size;
			bp->e820_table[n].type = m[i].type;
		}
		bp->e820_entries = (uint8_t)n;
	}
	return (uintptr_t)bp;
}
