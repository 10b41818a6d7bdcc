/* SPDX-License-Identifier: MIT */
/*
 * GDT, TSS and page tables for ring 3 (see ring3.h).
 * References: Intel SDM Vol. 3A §3.4.5 (segment descriptors), §7.2.3 (64-bit
 * TSS descriptor), §7.7 (64-bit TSS), §4.5 (4-level paging: U/S bit, PS for
 * 2 MiB pages, PCD/PWT), §6.14.2 (64-bit interrupt stack frame, IRETQ).
 */
#include "ring3.h"

#include <stdint.h>

#include "fmt.h"
#include "heap.h"
#include "io.h"
#include "trap.h"
#include "base/layout.h"

/* Selectors.  0x10/0x18 are the boot protocol's __BOOT_CS/__BOOT_DS and stay
 * what they were, so the IDT that trap_init() built keeps working. */
#define SEL_KCODE 0x10
#define SEL_KDATA 0x18
#define SEL_UDATA 0x20
#define SEL_UCODE 0x28
#define SEL_TSS   0x30
#define RPL3      3

/* Flat descriptors (base 0, limit 4 GiB; base/limit ignored in 64-bit mode
 * for code, DS/ES/SS): P, DPL, S=1, type; G; L=1 for 64-bit code. */
#define DESC_KCODE64 0x00af9a000000ffffull /* DPL0 execute/read, L */
#define DESC_KDATA   0x00cf92000000ffffull /* DPL0 read/write */
#define DESC_UDATA   0x00cff2000000ffffull /* DPL3 read/write */
#define DESC_UCODE64 0x00affa000000ffffull /* DPL3 execute/read, L */

#define PTE_P   (1ull << 0)
#define PTE_RW  (1ull << 1)
#define PTE_US  (1ull << 2)  /* user-accessible: the point of all this */
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_PS  (1ull << 7)  /* in a PDE: 2 MiB page */

#define CR4_SMEP (1ull << 20) /* would forbid ring 0 running our (U) code */
#define CR4_SMAP (1ull << 21) /* would forbid ring 0 touching U pages */

#define RFLAGS_RESERVED1 (1ull << 1)
#define RFLAGS_IOPL3     (3ull << 12)

#define EXC_STACK_SIZE  16384
#define USER_STACK_SIZE 65536
#define PAGE 4096

struct tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iopb; /* offset of the I/O bitmap; >= limit means none */
} __attribute__((packed));

_Static_assert(sizeof(struct tss64) == 104, "64-bit TSS is 104 bytes");

static uint64_t gdt[8] __attribute__((aligned(16)));
static struct tss64 tss __attribute__((aligned(16)));
/* PML4, PDPT and 4 page directories: 4 GiB of 2 MiB pages. */
static uint64_t pml4[512] __attribute__((aligned(PAGE)));
static uint64_t pdpt[512] __attribute__((aligned(PAGE)));
static uint64_t pd[4][512] __attribute__((aligned(PAGE)));
static uint8_t exc_stack[EXC_STACK_SIZE] NOINIT __attribute__((aligned(16)));
static uint8_t user_stack[USER_STACK_SIZE] NOINIT __attribute__((aligned(16)));

unsigned cpu_cpl(void)
{
	uint16_t cs;

	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	return cs & 3;
}

static void build_page_tables(void)
{
	for (unsigned g = 0; g < 4; g++) {
		for (unsigned i = 0; i < 512; i++) {
			uint64_t pa = ((uint64_t)g << 30) | ((uint64_t)i << 21);
			uint64_t e = pa | PTE_P | PTE_RW | PTE_US | PTE_PS;

			/* Devices live in the hole: no caching there. */
			if (pa >= LAYOUT_MMIO_HOLE)
				e |= PTE_PCD | PTE_PWT;
			pd[g][i] = e;
		}
		pdpt[g] = (uintptr_t)pd[g] | PTE_P | PTE_RW | PTE_US;
	}
	pml4[0] = (uintptr_t)pdpt | PTE_P | PTE_RW | PTE_US;
}

static void build_gdt(void)
{
	uint64_t base = (uintptr_t)&tss, limit = sizeof(tss) - 1;

	gdt[SEL_KCODE / 8] = DESC_KCODE64;
	gdt[SEL_KDATA / 8] = DESC_KDATA;
	gdt[SEL_UDATA / 8] = DESC_UDATA;
	gdt[SEL_UCODE / 8] = DESC_UCODE64;
	/* 16-byte system descriptor: type 9 (available 64-bit TSS), P, DPL 0. */
	gdt[SEL_TSS / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16) |
			   (0x89ull << 40) | (((limit >> 16) & 0xf) << 48) |
			   (((base >> 24) & 0xff) << 56);
	gdt[SEL_TSS / 8 + 1] = base >> 32;

	tss.rsp[0] = (uintptr_t)(exc_stack + sizeof(exc_stack));
	tss.iopb = sizeof(tss); /* no bitmap: IOPL=3 alone grants port I/O */
}

void ring3_enter(void (*fn)(const void *arg), const void *arg)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) gdtr = { sizeof(gdt) - 1, (uintptr_t)gdt };
	uint64_t cr4;
	/* Entered like a called function: RSP+8 16-byte aligned. */
	uint64_t ursp = (uintptr_t)(user_stack + sizeof(user_stack)) - 8;

	build_page_tables();
	build_gdt();

	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	cr4 &= ~(CR4_SMEP | CR4_SMAP);
	__asm__ volatile("mov %0, %%cr4" : : "r"(cr4) : "memory");
	/* New page tables (identical mappings plus U/S): CR3 load flushes. */
	__asm__ volatile("mov %0, %%cr3" : : "r"((uint64_t)(uintptr_t)pml4) : "memory");

	/* New GDT; reload CS with a far return and the data segments, then
	 * the task register. */
	__asm__ volatile("lgdt %0\n\t"
			 "pushq %[kcode]\n\t"
			 "leaq 1f(%%rip), %%rax\n\t"
			 "pushq %%rax\n\t"
			 "lretq\n"
			 "1:\n\t"
			 "movl %[kdata], %%eax\n\t"
			 "movl %%eax, %%ds\n\t"
			 "movl %%eax, %%es\n\t"
			 "movl %%eax, %%ss\n\t"
			 "xorl %%eax, %%eax\n\t"
			 "movl %%eax, %%fs\n\t"
			 "movl %%eax, %%gs\n\t"
			 "movw %[tsssel], %%ax\n\t"
			 "ltr %%ax"
			 :
			 : "m"(gdtr), [kcode] "i"(SEL_KCODE), [kdata] "i"(SEL_KDATA),
			   [tsssel] "i"(SEL_TSS)
			 : "rax", "memory");

	/* IRETQ frame (SDM §6.14.2): SS, RSP, RFLAGS, CS, RIP.  IF stays 0:
	 * we poll, and an interrupt would find no IDT entry. */
	__asm__ volatile("movl %[udata], %%eax\n\t"
			 "movl %%eax, %%ds\n\t"
			 "movl %%eax, %%es\n\t"
			 "pushq %[udata]\n\t"
			 "pushq %[ursp]\n\t"
			 "pushq %[rflags]\n\t"
			 "pushq %[ucode]\n\t"
			 "pushq %[fn]\n\t"
			 "iretq"
			 :
			 : [udata] "i"(SEL_UDATA | RPL3), [ucode] "i"(SEL_UCODE | RPL3),
			   [ursp] "r"(ursp), [rflags] "i"(RFLAGS_RESERVED1 | RFLAGS_IOPL3),
			   [fn] "r"(fn), "D"(arg)
			 : "rax", "memory");
	__builtin_unreachable();
}
