/* SPDX-License-Identifier: MIT */
/*
 * The second way in: the PVH boot ABI (Xen's HVM direct boot, which QEMU's
 * microvm machine and its qboot firmware use for an ELF kernel with a
 * XEN_ELFNOTE_PHYS32_ENTRY note).  start.S enters pvh_start in 32-bit
 * protected mode with paging off and %ebx = &struct hvm_start_info, builds
 * long mode on its own identity map, and calls pvh_boot_params(), which
 * turns the start info into the struct boot_params that the rest of the
 * guest reads (command line, e820 map); then it joins _start like a Linux
 * boot protocol entry.
 *
 * Reference: xen/include/public/arch-x86/hvm/start_info.h.
 */
#ifndef TG_PVH_H
#define TG_PVH_H

#include <stdint.h>

#define HVM_START_MAGIC 0x336ec578u

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	/* version >= 1 */
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* e820 types: 1 is RAM */
	uint32_t reserved;
};

/* Non-zero when we came in through pvh_start (QEMU microvm): there is no
 * i8042 there, so i8042_reset() ends the VM through the debug-exit port
 * instead (reset.h). */
extern int tg_boot_pvh;

/* Called from start.S with a stack but before .bss is zeroed (so it
 * touches only .data): returns the address of a boot_params filled from
 * the start info at `start_info` (physical, identity-mapped). */
uint64_t pvh_boot_params(uint64_t start_info);

#endif
