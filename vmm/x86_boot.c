// SPDX-License-Identifier: MIT
/*
 * Linux x86 64-bit boot protocol (Documentation/arch/x86/boot.rst, "64-bit
 * BOOT PROTOCOL"): the kernel is entered in long mode with paging on, a GDT
 * holding __BOOT_CS (0x10) and __BOOT_DS (0x18) flat 4 GiB segments,
 * interrupts off, and RSI = the guest physical address of struct
 * boot_params (the "zero page").  Section numbers "SDM" refer to the Intel
 * SDM Volume 3A.
 */
#include "errmsg.h"
#include "x86_boot.h"
#include "base/layout.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* E820 range types (ACPI 6.5, 15.1 "AddressRangeMemory" / "...Reserved"). */
#define E820_TYPE_RAM      1
#define E820_TYPE_RESERVED 2

/* boot.rst values. */
#define BOOT_FLAG        0xaa55     /* boot_flag magic */
#define HDRS_MAGIC       0x53726448 /* "HdrS" */
#define ELF_HDR_VERSION  0x020f     /* protocol 2.15: what we fill in for an ELF */
#define ELF_KERNEL_ALIGN 0x1000000  /* 16 MiB, x86-64 default physical alignment */
#define LOADER_UNDEFINED 0xff       /* type_of_loader: "undefined" boot loader ID */
/* heap_end_ptr: end of the real-mode setup heap, offset from the real-mode
 * segment, minus 0x200 ("Set this field to the offset ... minus 0x0200").
 * Only the 16-bit setup code uses it; 0xfe00 is the conventional value for
 * a 64 KiB real-mode segment. */
#define HEAP_END_PTR     0xfe00

/* Page-table entry bits (SDM 4.5, Tables 4-15..4-18). */
#define PTE_P    (1ULL << 0) /* present */
#define PTE_RW   (1ULL << 1) /* writable */
#define PTE_PS   (1ULL << 7) /* in a PDE: maps a 2 MiB page */
#define PAGE_SIZE 4096ULL
#define PT_ENTRIES 512
#define HUGE_2M  (2ULL << 20)
#define N_PD     4           /* 4 page directories x 1 GiB = 4 GiB */

/* Control register and EFER bits (SDM 2.5, 2.2.1). */
#define CR0_PE   (1ULL << 0)  /* protection enable */
#define CR0_MP   (1ULL << 1)  /* monitor coprocessor */
#define CR0_ET   (1ULL << 4)  /* extension type, hard-wired 1 */
#define CR0_NE   (1ULL << 5)  /* native x87 error reporting */
#define CR0_WP   (1ULL << 16) /* supervisor write protect */
#define CR0_PG   (1ULL << 31) /* paging */
#define CR4_PAE  (1ULL << 5)  /* physical address extension, required by long mode */
#define EFER_LME (1ULL << 8)  /* long mode enable */
#define EFER_LMA (1ULL << 10) /* long mode active */
#define RFLAGS_FIXED 0x2ULL   /* bit 1 is reserved and always 1; IF = 0 */

/* Segment types (SDM 3.4.5.1, Table 3-1); the accessed bit is preset so the
 * CPU never has to write the descriptor. */
#define SEG_TYPE_CODE_XRA 0xb /* execute/read, accessed */
#define SEG_TYPE_DATA_RWA 0x3 /* read/write, accessed */
#define GDT_ENTRIES 4         /* null, null, __BOOT_CS, __BOOT_DS */


/* The flat 4 GiB segments of the boot protocol.  The GDT entries and the
 * vCPU's hidden segment state are both derived from these, so they agree. */
static struct kvm_segment code_seg(void)
{
	return (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = LAYOUT_SEL_CODE64,
		.type = SEG_TYPE_CODE_XRA, .present = 1, .dpl = 0,
		.db = 0, /* must be 0 when L = 1 (SDM 3.4.5) */
		.s = 1, .l = 1, .g = 1,
	};
}

static struct kvm_segment data_seg(void)
{
	return (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = LAYOUT_SEL_DATA,
		.type = SEG_TYPE_DATA_RWA, .present = 1, .dpl = 0,
		.db = 1, .s = 1, .l = 0, .g = 1,
	};
}

/* Encode a segment as an 8-byte descriptor (SDM 3.4.5, Figure 3-8). */
static uint64_t gdt_entry(const struct kvm_segment *s)
{
	/* With G = 1 the descriptor limit counts 4 KiB units. */
	uint64_t lim = s->g ? s->limit >> 12 : s->limit;
	uint64_t base = s->base;

	return (lim & 0xffff) | ((base & 0xffffff) << 16) |
	       ((uint64_t)(s->type & 0xf) << 40) | ((uint64_t)(s->s & 1) << 44) |
	       ((uint64_t)(s->dpl & 3) << 45) | ((uint64_t)(s->present & 1) << 47) |
	       (((lim >> 16) & 0xf) << 48) | ((uint64_t)(s->avl & 1) << 52) |
	       ((uint64_t)(s->l & 1) << 53) | ((uint64_t)(s->db & 1) << 54) |
	       ((uint64_t)(s->g & 1) << 55) | (((base >> 24) & 0xff) << 56);
}

static void e820_add(struct boot_params *bp, uint64_t addr, uint64_t size, uint32_t type)
{
	struct boot_e820_entry *e = &bp->e820_table[bp->e820_entries++];

	e->addr = addr;
	e->size = size;
	e->type = type;
}

/* Low RAM up to the EBDA, the EBDA and BIOS area reserved (the MP table lives
 * there), RAM from 1 MiB to the MMIO hole, and RAM above 4 GiB. */
static int fill_e820(const struct guest_mem *gm, struct boot_params *bp,
		     char *err, size_t errlen)
{
	uint64_t low_top = gm_low_top(gm);

	if (low_top <= LAYOUT_HIGH_RAM)
		return errmsg(err, errlen, EINVAL, "guest RAM (%#" PRIx64 " bytes below 4 GiB) must extend beyond 1 MiB",
			    low_top);
	e820_add(bp, 0, LAYOUT_EBDA, E820_TYPE_RAM);
	e820_add(bp, LAYOUT_EBDA, LAYOUT_HIGH_RAM - LAYOUT_EBDA, E820_TYPE_RESERVED);
	e820_add(bp, LAYOUT_HIGH_RAM, low_top - LAYOUT_HIGH_RAM, E820_TYPE_RAM);
	for (unsigned i = 1; i < gm->nregions; i++)
		e820_add(bp, gm->region[i].gpa, gm->region[i].size, E820_TYPE_RAM);
	return 0;
}

/* The setup header: the bzImage's own, or a minimal one for an ELF kernel
 * (vmlinux reads only a few fields, but fills them as a bzImage would). */
static void fill_hdr(const struct kernel_image *k, struct setup_header *h)
{
	if (k->is_bzimage) {
		*h = k->hdr;
	} else {
		h->boot_flag = BOOT_FLAG;
		h->header = HDRS_MAGIC;
		h->version = ELF_HDR_VERSION;
		h->kernel_alignment = ELF_KERNEL_ALIGN;
		h->xloadflags = XLF_KERNEL_64;
		h->initrd_addr_max = (uint32_t)loader_initrd_max(k);
		h->cmdline_size = LAYOUT_CMDLINE_MAX - 1; /* excludes the NUL */
	}
	h->type_of_loader = LOADER_UNDEFINED;
	h->loadflags |= LOADED_HIGH | CAN_USE_HEAP;
	h->heap_end_ptr = HEAP_END_PTR;
}

static int check_ranges(const struct guest_mem *gm, const struct x86_boot_info *bi,
			char *err, size_t errlen)
{
	uint64_t end;

	if (bi->initrd_size) {
		if (!gm_ptr(gm, bi->initrd_gpa, bi->initrd_size))
			return errmsg(err, errlen, EINVAL, "initrd [%#" PRIx64 ", +%#" PRIx64 ") is outside guest RAM",
				    bi->initrd_gpa, bi->initrd_size);
		end = bi->initrd_gpa + bi->initrd_size - 1; /* no wrap: gm_ptr() */
		if (end > loader_initrd_max(bi->kernel))
			return errmsg(err, errlen, EINVAL, "initrd ends at %#" PRIx64 ", above the kernel's limit %#" PRIx64,
				    end, loader_initrd_max(bi->kernel));
	}
	if (bi->setup_data_gpa && !gm_ptr(gm, bi->setup_data_gpa, sizeof(struct setup_data)))
		return errmsg(err, errlen, EINVAL, "setup_data at %#" PRIx64 " is outside guest RAM",
			    bi->setup_data_gpa);
	return 0;
}

/* Identity map [0, 4 GiB) with 2 MiB pages: PML4[0] -> PDPT[0..3] -> four
 * page directories of 512 PS entries.  Never 1 GiB pages (PDPTE.PS): they
 * triple-fault on PVM hosts (docs/test-hosts.md). */
static void write_page_tables(const struct guest_mem *gm)
{
	uint64_t *pml4 = gm_ptr(gm, LAYOUT_PML4, PAGE_SIZE);
	uint64_t *pdpt = gm_ptr(gm, LAYOUT_PDPT, PAGE_SIZE);
	uint64_t *pd = gm_ptr(gm, LAYOUT_PD, N_PD * PAGE_SIZE);

	memset(pml4, 0, PAGE_SIZE);
	memset(pdpt, 0, PAGE_SIZE);
	pml4[0] = LAYOUT_PDPT | PTE_P | PTE_RW;
	for (unsigned i = 0; i < N_PD; i++)
		pdpt[i] = (LAYOUT_PD + i * PAGE_SIZE) | PTE_P | PTE_RW;
	for (uint64_t j = 0; j < N_PD * PT_ENTRIES; j++)
		pd[j] = (j * HUGE_2M) | PTE_P | PTE_RW | PTE_PS;
}

static void write_gdt(const struct guest_mem *gm)
{
	uint64_t *gdt = gm_ptr(gm, LAYOUT_GDT, GDT_ENTRIES * sizeof(uint64_t));
	struct kvm_segment cs = code_seg(), ds = data_seg();

	memset(gdt, 0, GDT_ENTRIES * sizeof(uint64_t));
	gdt[LAYOUT_SEL_CODE64 / 8] = gdt_entry(&cs);
	gdt[LAYOUT_SEL_DATA / 8] = gdt_entry(&ds);
}

int x86_boot_setup(const struct guest_mem *gm, const struct x86_boot_info *bi,
		   char *err, size_t errlen)
{
	struct boot_params bp; /* 4 KiB, built here, written once checked */
	const char *cmdline = bi->cmdline ? bi->cmdline : "";
	size_t n = strlen(cmdline);
	int ret;

	if (!bi->kernel)
		return errmsg(err, errlen, EINVAL, "no kernel image");
	memset(&bp, 0, sizeof(bp));
	fill_hdr(bi->kernel, &bp.hdr);
	if (n >= LAYOUT_CMDLINE_MAX)
		return errmsg(err, errlen, EINVAL, "command line too long (%zu bytes, max %llu)",
			    n, LAYOUT_CMDLINE_MAX - 1);
	if (bp.hdr.cmdline_size && n > bp.hdr.cmdline_size)
		return errmsg(err, errlen, EINVAL, "command line too long (%zu bytes, the kernel accepts %u)",
			    n, bp.hdr.cmdline_size);
	ret = fill_e820(gm, &bp, err, errlen);
	if (!ret)
		ret = check_ranges(gm, bi, err, errlen);
	if (ret)
		return ret;

	/* 64-bit addresses are split into the 32-bit header field and the
	 * ext_ field in boot_params (boot.rst, protocol 2.12+). */
	bp.hdr.cmd_line_ptr = (uint32_t)LAYOUT_CMDLINE;
	bp.ext_cmd_line_ptr = (uint32_t)(LAYOUT_CMDLINE >> 32);
	if (bi->initrd_size) {
		bp.hdr.ramdisk_image = (uint32_t)bi->initrd_gpa;
		bp.ext_ramdisk_image = (uint32_t)(bi->initrd_gpa >> 32);
		bp.hdr.ramdisk_size = (uint32_t)bi->initrd_size;
		bp.ext_ramdisk_size = (uint32_t)(bi->initrd_size >> 32);
	}
	bp.hdr.setup_data = bi->setup_data_gpa;

	/* Everything below LAYOUT_HIGH_RAM is RAM (fill_e820 checked), so
	 * these writes cannot fail. */
	if (gm_write(gm, LAYOUT_CMDLINE, cmdline, n + 1) ||
	    gm_write(gm, LAYOUT_ZERO_PAGE, &bp, sizeof(bp)))
		return errmsg(err, errlen, EINVAL, "boot structures outside guest RAM");
	write_page_tables(gm);
	write_gdt(gm);
	return 0;
}

void x86_boot_regs(uint64_t entry, struct kvm_regs *regs, struct kvm_sregs *sregs)
{
	struct kvm_segment cs = code_seg(), ds = data_seg();

	memset(regs, 0, sizeof(*regs));
	regs->rip = entry;
	regs->rsi = LAYOUT_ZERO_PAGE; /* boot.rst: %rsi = &boot_params */
	regs->rflags = RFLAGS_FIXED;  /* interrupts disabled */

	sregs->cs = cs;
	sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = ds;
	sregs->gdt.base = LAYOUT_GDT;
	sregs->gdt.limit = GDT_ENTRIES * 8 - 1;
	sregs->idt.base = 0;
	sregs->idt.limit = 0; /* the kernel loads its own IDT before STI */

	/* Long mode with paging (SDM 9.8.5): PAE, LME, then PG -> LMA. */
	sregs->cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	sregs->cr3 = LAYOUT_PML4;
	sregs->cr4 = CR4_PAE;
	sregs->efer = EFER_LME | EFER_LMA;
}
