// SPDX-License-Identifier: MIT
/*
 * Unit tests for vmm/x86_boot.c: zero page (setup header, e820, command
 * line, initrd, setup_data), identity page tables, GDT and boot registers,
 * checked byte by byte in fake guest RAM.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/guest_mem.h"
#include "base/layout.h"
#include "vmm/loader.h"
#include "vmm/x86_boot.h"

#define RAM_SIZE (64ULL << 20)
#define POISON 0xa5

static struct guest_mem gm;
static uint8_t *ram;
static char err[256];
static struct kernel_image elf_k = {
	.entry = 0x100000, .load_start = 0x100000, .load_end = 0x200000,
};

static void ram_setup(void)
{
	ram = malloc(RAM_SIZE);
	ck_assert_ptr_nonnull(ram);
	memset(ram, POISON, RAM_SIZE);
	gm_init_with(&gm, ram, RAM_SIZE);
	err[0] = 0;
}

static void ram_teardown(void)
{
	free(ram);
}

static const struct boot_params *zp(const struct guest_mem *g)
{
	return gm_ptr(g, LAYOUT_ZERO_PAGE, sizeof(struct boot_params));
}

static void setup_ok(const struct guest_mem *g, const struct x86_boot_info *bi)
{
	int r = x86_boot_setup(g, bi, err, sizeof(err));

	ck_assert_msg(r == 0, "x86_boot_setup: %d (%s)", r, err);
}

static void check_e820(const struct boot_params *bp, unsigned i, uint64_t addr,
		       uint64_t size, uint32_t type)
{
	const struct boot_e820_entry *e = &bp->e820_table[i];

	ck_assert_uint_eq(e->addr, addr);
	ck_assert_uint_eq(e->size, size);
	ck_assert_uint_eq(e->type, type);
}

/* The first byte in [lo, hi) that is not POISON, or hi.  (One Check
 * assertion per byte would take seconds: each one is a syscall.) */
static uint64_t first_not_poison(uint64_t lo, uint64_t hi)
{
	while (lo < hi && ram[lo] == POISON)
		lo++;
	return lo;
}

START_TEST(zero_page_elf)
{
	struct x86_boot_info bi = {
		.kernel = &elf_k, .cmdline = "console=ttyS0 panic=1",
		.initrd_gpa = 0x3f00000, .initrd_size = 0x1234,
		.setup_data_gpa = LAYOUT_SETUP_DATA,
	};
	const struct boot_params *bp;

	setup_ok(&gm, &bi);
	bp = zp(&gm);
	ck_assert_uint_eq(bp->hdr.boot_flag, 0xaa55);
	ck_assert_uint_eq(bp->hdr.header, 0x53726448);
	ck_assert_uint_eq(bp->hdr.version, 0x020f);
	ck_assert_uint_eq(bp->hdr.kernel_alignment, 0x1000000);
	ck_assert_uint_eq(bp->hdr.type_of_loader, 0xff);
	ck_assert_uint_eq(bp->hdr.loadflags, LOADED_HIGH | CAN_USE_HEAP);
	ck_assert_uint_eq(bp->hdr.heap_end_ptr, 0xfe00);
	ck_assert_uint_eq(bp->hdr.cmd_line_ptr, LAYOUT_CMDLINE);
	ck_assert_uint_eq(bp->ext_cmd_line_ptr, 0);
	ck_assert_uint_eq(bp->hdr.cmdline_size, LAYOUT_CMDLINE_MAX - 1);
	ck_assert_uint_eq(bp->hdr.ramdisk_image, 0x3f00000);
	ck_assert_uint_eq(bp->ext_ramdisk_image, 0);
	ck_assert_uint_eq(bp->hdr.ramdisk_size, 0x1234);
	ck_assert_uint_eq(bp->ext_ramdisk_size, 0);
	ck_assert_uint_eq(bp->hdr.setup_data, LAYOUT_SETUP_DATA);
	ck_assert_str_eq((const char *)ram + LAYOUT_CMDLINE, "console=ttyS0 panic=1");
	/* The rest of the zero page is zero (e.g. screen_info, acpi_rsdp). */
	ck_assert_uint_eq(bp->acpi_rsdp_addr, 0);
	ck_assert_uint_eq(bp->screen_info.orig_video_isVGA, 0);

	ck_assert_uint_eq(bp->e820_entries, 3);
	check_e820(bp, 0, 0, LAYOUT_EBDA, 1);
	check_e820(bp, 1, LAYOUT_EBDA, 0x100000 - LAYOUT_EBDA, 2);
	check_e820(bp, 2, 0x100000, RAM_SIZE - 0x100000, 1);

	/* Nothing written outside the boot structures, e.g. the SIPI
	 * trampoline page, the MP table area, the kernel. */
	ck_assert_uint_eq(first_not_poison(LAYOUT_TRAMPOLINE, LAYOUT_PML4), LAYOUT_PML4);
	ck_assert_uint_eq(first_not_poison(LAYOUT_EBDA, 0x100000), 0x100000);
	ck_assert_uint_eq(ram[LAYOUT_SETUP_DATA], POISON);
	ck_assert_uint_eq(ram[0x100000], POISON);
}
END_TEST

START_TEST(zero_page_bzimage)
{
	struct kernel_image k = {
		.entry = 0x100200, .load_start = 0x100000, .load_end = 0x1800000,
		.is_bzimage = true,
	};
	struct x86_boot_info bi = { .kernel = &k, .cmdline = "0123456789" };
	const struct boot_params *bp;

	k.hdr.boot_flag = 0xaa55;
	k.hdr.header = 0x53726448;
	k.hdr.version = 0x020c;
	k.hdr.kernel_version = 0x4321;
	k.hdr.loadflags = LOADED_HIGH | KASLR_FLAG;
	k.hdr.xloadflags = XLF_KERNEL_64;
	k.hdr.init_size = 0x777000;
	k.hdr.cmdline_size = 10;
	k.hdr.initrd_addr_max = 0x37fffff;
	k.hdr.type_of_loader = 0x12;

	setup_ok(&gm, &bi);
	bp = zp(&gm);
	/* The kernel's own header is passed through ... */
	ck_assert_uint_eq(bp->hdr.version, 0x020c);
	ck_assert_uint_eq(bp->hdr.kernel_version, 0x4321);
	ck_assert_uint_eq(bp->hdr.init_size, 0x777000);
	ck_assert_uint_eq(bp->hdr.xloadflags, XLF_KERNEL_64);
	ck_assert_uint_eq(bp->hdr.cmdline_size, 10);
	/* ... with the loader's fields filled in. */
	ck_assert_uint_eq(bp->hdr.type_of_loader, 0xff);
	ck_assert_uint_eq(bp->hdr.loadflags, LOADED_HIGH | KASLR_FLAG | CAN_USE_HEAP);
	ck_assert_uint_eq(bp->hdr.cmd_line_ptr, LAYOUT_CMDLINE);
	ck_assert_uint_eq(bp->hdr.ramdisk_image, 0);
	ck_assert_uint_eq(bp->hdr.ramdisk_size, 0);
	ck_assert_uint_eq(bp->hdr.setup_data, 0);
	ck_assert_str_eq((const char *)ram + LAYOUT_CMDLINE, "0123456789");

	/* One character over the kernel's cmdline_size. */
	bi.cmdline = "0123456789a";
	ck_assert_int_eq(x86_boot_setup(&gm, &bi, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "command line too long (11 bytes, the kernel accepts 10)"));

	/* initrd past the kernel's initrd_addr_max. */
	bi.cmdline = "";
	bi.initrd_gpa = 0x3800000 - 0x1000; /* 56 MiB - 4 KiB */
	bi.initrd_size = 0x1000;
	setup_ok(&gm, &bi);
	bi.initrd_size = 0x1001;
	ck_assert_int_eq(x86_boot_setup(&gm, &bi, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "above the kernel's limit 0x37fffff"));
}
END_TEST

START_TEST(cmdline_limits)
{
	struct x86_boot_info bi = { .kernel = &elf_k };
	char *big = malloc(LAYOUT_CMDLINE_MAX + 1);

	/* NULL: an empty command line. */
	setup_ok(&gm, &bi);
	ck_assert_uint_eq(ram[LAYOUT_CMDLINE], 0);

	/* The longest that fits: LAYOUT_CMDLINE_MAX - 1 characters + NUL. */
	memset(big, 'x', LAYOUT_CMDLINE_MAX - 1);
	big[LAYOUT_CMDLINE_MAX - 1] = 0;
	bi.cmdline = big;
	setup_ok(&gm, &bi);
	ck_assert_uint_eq(ram[LAYOUT_CMDLINE + LAYOUT_CMDLINE_MAX - 2], 'x');
	ck_assert_uint_eq(ram[LAYOUT_CMDLINE + LAYOUT_CMDLINE_MAX - 1], 0);
	ck_assert_uint_eq(ram[LAYOUT_CMDLINE + LAYOUT_CMDLINE_MAX], POISON);

	/* One more is refused, and nothing is written. */
	memset(ram, POISON, 0x100000);
	big[LAYOUT_CMDLINE_MAX - 1] = 'x';
	big[LAYOUT_CMDLINE_MAX] = 0;
	ck_assert_int_eq(x86_boot_setup(&gm, &bi, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "command line too long (65536 bytes, max 65535)"));
	ck_assert_ptr_null(strchr(err, '\n'));
	ck_assert_uint_eq(ram[LAYOUT_CMDLINE], POISON);
	ck_assert_uint_eq(ram[LAYOUT_ZERO_PAGE], POISON);
	ck_assert_uint_eq(ram[LAYOUT_PML4], POISON);
	free(big);
}
END_TEST

START_TEST(bad_ranges)
{
	struct x86_boot_info bi = { .kernel = &elf_k, .cmdline = "x" };

	bi.initrd_gpa = RAM_SIZE - 0x1000;
	bi.initrd_size = 0x1001;
	ck_assert_int_eq(x86_boot_setup(&gm, &bi, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "initrd"));
	bi.initrd_gpa = UINT64_MAX - 0xff;
	bi.initrd_size = 0x1000;
	ck_assert_int_eq(x86_boot_setup(&gm, &bi, err, sizeof(err)), -EINVAL);
	bi.initrd_size = 0x1000;
	bi.initrd_gpa = RAM_SIZE - 0x1000;
	setup_ok(&gm, &bi);
	/* initrd_size 0 means none, whatever the address. */
	bi.initrd_gpa = UINT64_MAX;
	bi.initrd_size = 0;
	setup_ok(&gm, &bi);
	ck_assert_uint_eq(zp(&gm)->hdr.ramdisk_image, 0);

	bi.setup_data_gpa = RAM_SIZE;
	ck_assert_int_eq(x86_boot_setup(&gm, &bi, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "setup_data"));
	bi.kernel = NULL;
	ck_assert_int_eq(x86_boot_setup(&gm, &bi, err, sizeof(err)), -EINVAL);
}
END_TEST

START_TEST(ram_too_small)
{
	struct guest_mem tiny;
	struct x86_boot_info bi = { .kernel = &elf_k, .cmdline = "x" };

	gm_init_with(&tiny, ram, LAYOUT_HIGH_RAM);
	ck_assert_int_eq(x86_boot_setup(&tiny, &bi, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "beyond 1 MiB"));
	gm_init_with(&tiny, ram, LAYOUT_HIGH_RAM + 0x1000);
	setup_ok(&tiny, &bi);
	check_e820(zp(&tiny), 2, 0x100000, 0x1000, 1);
}
END_TEST

/* >3 GiB: a sparse mapping (MAP_NORESERVE), only low pages get touched. */
START_TEST(e820_above_4g)
{
	struct guest_mem big;
	struct x86_boot_info bi = { .kernel = &elf_k, .cmdline = "x" };
	const struct boot_params *bp;

	ck_assert_int_eq(gm_init(&big, 5ULL << 30), 0);
	bi.initrd_gpa = LAYOUT_MMIO_HOLE - 0x100000;
	bi.initrd_size = 0x100000;
	setup_ok(&big, &bi);
	bp = zp(&big);
	ck_assert_uint_eq(bp->e820_entries, 4);
	check_e820(bp, 0, 0, LAYOUT_EBDA, 1);
	check_e820(bp, 1, LAYOUT_EBDA, 0x100000 - LAYOUT_EBDA, 2);
	check_e820(bp, 2, 0x100000, LAYOUT_MMIO_HOLE - 0x100000, 1);
	check_e820(bp, 3, LAYOUT_4G, (5ULL << 30) - LAYOUT_MMIO_HOLE, 1);
	/* An initrd in the hole or straddling it is refused. */
	bi.initrd_gpa = LAYOUT_MMIO_HOLE - 0x1000;
	bi.initrd_size = 0x2000;
	ck_assert_int_eq(x86_boot_setup(&big, &bi, err, sizeof(err)), -EINVAL);
	gm_destroy(&big);

	/* Exactly 3 GiB: no second region, no fourth entry. */
	ck_assert_int_eq(gm_init(&big, 3ULL << 30), 0);
	bi.initrd_size = 0;
	setup_ok(&big, &bi);
	bp = zp(&big);
	ck_assert_uint_eq(bp->e820_entries, 3);
	check_e820(bp, 2, 0x100000, LAYOUT_MMIO_HOLE - 0x100000, 1);
	gm_destroy(&big);
}
END_TEST

START_TEST(initrd_above_4g_refused)
{
	/* An initrd above 4 GiB exceeds every initrd_addr_max (a 32-bit field). */
	struct guest_mem big;
	struct kernel_image k = elf_k;
	struct x86_boot_info bi = { .kernel = &k, .cmdline = "x" };

	ck_assert_int_eq(gm_init(&big, 5ULL << 30), 0);
	/* An ELF kernel caps the initrd below 4 GiB ... */
	bi.initrd_gpa = LAYOUT_4G + 0x1000;
	bi.initrd_size = 0x2000;
	ck_assert_int_eq(x86_boot_setup(&big, &bi, err, sizeof(err)), -EINVAL);
	/* ... a bzImage with a high initrd_addr_max does not. */
	k.is_bzimage = true;
	k.hdr.initrd_addr_max = 0xffffffff;
	ck_assert_int_eq(x86_boot_setup(&big, &bi, err, sizeof(err)), -EINVAL);
	gm_destroy(&big);
}
END_TEST

/* Walk the guest page tables for a 4-level translation of `va`. */
static uint64_t walk(uint64_t va, uint64_t *page_size)
{
	const uint64_t *pml4 = (const uint64_t *)(ram + LAYOUT_PML4);
	uint64_t e = pml4[(va >> 39) & 511];
	const uint64_t *pdpt, *pd;

	ck_assert_uint_eq(e & 1, 1);
	pdpt = (const uint64_t *)(ram + (e & ~0xfffULL));
	e = pdpt[(va >> 30) & 511];
	ck_assert_uint_eq(e & 1, 1);
	ck_assert_uint_eq(e & 0x80, 0); /* never a 1 GiB page */
	pd = (const uint64_t *)(ram + (e & ~0xfffULL));
	e = pd[(va >> 21) & 511];
	ck_assert_uint_eq(e & 1, 1);
	ck_assert_uint_eq(e & 0x80, 0x80); /* a 2 MiB page */
	*page_size = 2ULL << 20;
	return (e & ~0x1fffffULL & ((1ULL << 52) - 1)) | (va & 0x1fffff);
}

START_TEST(page_tables)
{
	struct x86_boot_info bi = { .kernel = &elf_k, .cmdline = "x" };
	const uint64_t *pml4 = (const uint64_t *)(ram + LAYOUT_PML4);
	const uint64_t *pdpt = (const uint64_t *)(ram + LAYOUT_PDPT);
	const uint64_t *pd = (const uint64_t *)(ram + LAYOUT_PD);
	const uint64_t probes[] = {
		0, 0x7000, 0x1fffff, 0x200000, 0x1000000, 0xbfffffff,
		0xc0000000, 0xd0000000, 0xfec00000, 0xfee00000, 0xffffffff,
	};
	uint64_t ps;

	setup_ok(&gm, &bi);
	ck_assert_uint_eq(pml4[0], LAYOUT_PDPT | 3);
	for (unsigned i = 1; i < 512; i++)
		ck_assert_uint_eq(pml4[i], 0);
	for (unsigned i = 0; i < 4; i++)
		ck_assert_uint_eq(pdpt[i], (LAYOUT_PD + i * 0x1000) | 3);
	for (unsigned i = 4; i < 512; i++)
		ck_assert_uint_eq(pdpt[i], 0);
	for (uint64_t j = 0; j < 4 * 512; j++)
		ck_assert_uint_eq(pd[j], (j << 21) | 0x83); /* P | RW | PS */
	for (unsigned i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		ck_assert_uint_eq(walk(probes[i], &ps), probes[i]);
	ck_assert_uint_eq(ps, 2ULL << 20);
	/* The page after the four directories is not touched. */
	ck_assert_uint_eq(ram[LAYOUT_PD + 4 * 0x1000], POISON);
}
END_TEST

/* Decode an 8-byte GDT descriptor (SDM Vol. 3A 3.4.5). */
static void check_desc(uint64_t d, const struct kvm_segment *s)
{
	uint64_t lim = (d & 0xffff) | ((d >> 32) & 0xf0000);
	uint64_t base = ((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000);

	ck_assert_uint_eq(base, s->base);
	ck_assert_uint_eq(((d >> 55) & 1) ? (lim << 12) | 0xfff : lim, s->limit);
	ck_assert_uint_eq((d >> 40) & 0xf, s->type);
	ck_assert_uint_eq((d >> 44) & 1, s->s);
	ck_assert_uint_eq((d >> 45) & 3, s->dpl);
	ck_assert_uint_eq((d >> 47) & 1, s->present);
	ck_assert_uint_eq((d >> 52) & 1, s->avl);
	ck_assert_uint_eq((d >> 53) & 1, s->l);
	ck_assert_uint_eq((d >> 54) & 1, s->db);
	ck_assert_uint_eq((d >> 55) & 1, s->g);
}

START_TEST(gdt_and_regs)
{
	struct x86_boot_info bi = { .kernel = &elf_k, .cmdline = "x" };
	const uint64_t *gdt = (const uint64_t *)(ram + LAYOUT_GDT);
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	const struct kvm_segment *data[5];

	setup_ok(&gm, &bi);
	ck_assert_uint_eq(gdt[0], 0);
	ck_assert_uint_eq(gdt[1], 0);
	/* The well-known flat long-mode code and data descriptors. */
	ck_assert_uint_eq(gdt[2], 0x00af9b000000ffffULL);
	ck_assert_uint_eq(gdt[3], 0x00cf93000000ffffULL);
	ck_assert_uint_eq(ram[LAYOUT_GDT + 32], POISON);

	memset(&regs, 0x5a, sizeof(regs));
	memset(&sregs, 0x5a, sizeof(sregs));
	sregs.apic_base = 0xfee00900;
	x86_boot_regs(0x1000000, &regs, &sregs);
	ck_assert_uint_eq(regs.rip, 0x1000000);
	ck_assert_uint_eq(regs.rsi, LAYOUT_ZERO_PAGE);
	ck_assert_uint_eq(regs.rflags, 2);
	ck_assert_uint_eq(regs.rax, 0);
	ck_assert_uint_eq(regs.rsp, 0);

	ck_assert_uint_eq(sregs.cs.selector, LAYOUT_SEL_CODE64);
	ck_assert_uint_eq(sregs.cs.l, 1);
	ck_assert_uint_eq(sregs.cs.db, 0);
	ck_assert_uint_eq(sregs.cs.unusable, 0);
	check_desc(gdt[LAYOUT_SEL_CODE64 / 8], &sregs.cs);
	data[0] = &sregs.ds;
	data[1] = &sregs.es;
	data[2] = &sregs.fs;
	data[3] = &sregs.gs;
	data[4] = &sregs.ss;
	for (unsigned i = 0; i < 5; i++) {
		ck_assert_uint_eq(data[i]->selector, LAYOUT_SEL_DATA);
		ck_assert_uint_eq(data[i]->unusable, 0);
		ck_assert_uint_eq(data[i]->type & 0x8, 0); /* data, not code */
		ck_assert_uint_eq(data[i]->type & 0x2, 0x2); /* writable */
		check_desc(gdt[LAYOUT_SEL_DATA / 8], data[i]);
	}
	ck_assert_uint_eq(sregs.gdt.base, LAYOUT_GDT);
	ck_assert_uint_eq(sregs.gdt.limit, 31);
	ck_assert_uint_eq(sregs.idt.limit, 0);

	ck_assert_uint_eq(sregs.cr0 & 1, 1);                  /* PE */
	ck_assert_uint_eq(sregs.cr0 & (1ULL << 31), 1ULL << 31); /* PG */
	ck_assert_uint_eq(sregs.cr0 & (3ULL << 29), 0);       /* caches on: CD = NW = 0 */
	ck_assert_uint_eq(sregs.cr0 & (1ULL << 2), 0);        /* no x87 emulation */
	ck_assert_uint_eq(sregs.cr3, LAYOUT_PML4);
	ck_assert_uint_eq(sregs.cr4, 1ULL << 5);              /* PAE only */
	ck_assert_uint_eq(sregs.efer, (1ULL << 8) | (1ULL << 10)); /* LME | LMA */
	/* Fields the protocol does not define are left alone. */
	ck_assert_uint_eq(sregs.apic_base, 0xfee00900);
	ck_assert_uint_eq(sregs.tr.selector, 0x5a5a);
}
END_TEST

static Suite *x86_boot_suite(void)
{
	Suite *s = suite_create("x86_boot");
	TCase *tc = tcase_create("boot");

	tcase_add_checked_fixture(tc, ram_setup, ram_teardown);
	tcase_add_test(tc, zero_page_elf);
	tcase_add_test(tc, zero_page_bzimage);
	tcase_add_test(tc, cmdline_limits);
	tcase_add_test(tc, bad_ranges);
	tcase_add_test(tc, ram_too_small);
	tcase_add_test(tc, e820_above_4g);
	tcase_add_test(tc, initrd_above_4g_refused);
	tcase_add_test(tc, page_tables);
	tcase_add_test(tc, gdt_and_regs);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(x86_boot_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
