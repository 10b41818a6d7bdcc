// SPDX-License-Identifier: MIT
/*
 * Unit tests for vmm/loader.c: ELF64 and bzImage images are built in memory
 * (valid ones and one malformed variant per rejection path) and loaded into
 * fake guest RAM (gm_init_with() over a malloc'd buffer).
 */
#include <check.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/guest_mem.h"
#include "base/layout.h"
#include "vmm/loader.h"

#define RAM_SIZE (64ULL << 20)
#define POISON 0xee

static struct guest_mem gm;
static uint8_t *ram;
static char err[256];
static struct kernel_image ki;

static void ram_setup(void)
{
	ram = malloc(RAM_SIZE);
	ck_assert_ptr_nonnull(ram);
	memset(ram, POISON, RAM_SIZE);
	gm_init_with(&gm, ram, RAM_SIZE);
	memset(err, 0, sizeof(err));
}

static void ram_teardown(void)
{
	free(ram);
	ram = NULL;
}

/* True if guest bytes [gpa, gpa + n) all still hold the poison. */
static bool untouched(uint64_t gpa, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ram[gpa + i] != POISON)
			return false;
	return true;
}

/* The load must fail with -EINVAL and a one-line reason containing `what`. */
static void expect_fail(const void *img, size_t len, const char *what)
{
	int r;

	err[0] = 0;
	r = loader_load(&gm, img, len, &ki, err, sizeof(err));
	ck_assert_msg(r == -EINVAL, "expected failure \"%s\", got %d", what, r);
	ck_assert_msg(strstr(err, what), "error \"%s\" lacks \"%s\"", err, what);
	ck_assert_ptr_null(strchr(err, '\n'));
}

/* ------------------------------------------------------- ELF builder -- */

struct seg {
	uint32_t type;
	uint64_t paddr, filesz, memsz;
};

/* ELF header, then the program headers, then each segment's file data
 * (segment i filled with 0x40 + i), with nothing after the last byte. */
static uint8_t *mk_elf(uint64_t entry, const struct seg *s, unsigned n, size_t *len)
{
	size_t off = sizeof(Elf64_Ehdr) + n * sizeof(Elf64_Phdr), total = off;
	Elf64_Ehdr *eh;
	uint8_t *buf;

	for (unsigned i = 0; i < n; i++)
		total += s[i].filesz;
	buf = calloc(1, total);
	ck_assert_ptr_nonnull(buf);
	eh = (Elf64_Ehdr *)buf;
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = entry;
	eh->e_phoff = sizeof(Elf64_Ehdr);
	eh->e_ehsize = sizeof(Elf64_Ehdr);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = (uint16_t)n;
	for (unsigned i = 0; i < n; i++) {
		Elf64_Phdr *ph = (Elf64_Phdr *)(buf + sizeof(*eh)) + i;

		ph->p_type = s[i].type;
		ph->p_flags = PF_R | PF_X;
		ph->p_offset = off;
		ph->p_paddr = s[i].paddr;
		ph->p_vaddr = s[i].paddr;
		ph->p_filesz = s[i].filesz;
		ph->p_memsz = s[i].memsz;
		ph->p_align = 0x1000;
		memset(buf + off, 0x40 + (int)i, s[i].filesz);
		off += s[i].filesz;
	}
	*len = total;
	return buf;
}

static Elf64_Ehdr *ehdr(uint8_t *img)
{
	return (Elf64_Ehdr *)img;
}

static Elf64_Phdr *phdr(uint8_t *img, unsigned i)
{
	return (Elf64_Phdr *)(img + sizeof(Elf64_Ehdr)) + i;
}

/* The standard test image: text+bss at 1 MiB, a note (ignored, even though
 * its address is low), data at 2 MiB. */
static const struct seg std_segs[] = {
	{ PT_LOAD, 0x100000, 0x2000, 0x3000 },
	{ PT_NOTE, 0x0, 0x10, 0x10 },
	{ PT_LOAD, 0x200000, 0x1000, 0x1000 },
};
#define STD_ENTRY 0x100010ULL

static uint8_t *std_elf(size_t *len)
{
	return mk_elf(STD_ENTRY, std_segs, 3, len);
}

/* -------------------------------------------------------- ELF tests -- */

START_TEST(elf_valid)
{
	size_t len;
	uint8_t *img = std_elf(&len);

	ck_assert_int_eq(loader_load(&gm, img, len, &ki, err, sizeof(err)), 0);
	ck_assert_uint_eq(ki.entry, STD_ENTRY);
	ck_assert_uint_eq(ki.load_start, 0x100000);
	ck_assert_uint_eq(ki.load_end, 0x201000);
	ck_assert(!ki.is_bzimage);
	/* File bytes, then zeroed bss, then untouched memory. */
	for (uint64_t a = 0x100000; a < 0x102000; a++)
		ck_assert_uint_eq(ram[a], 0x40);
	for (uint64_t a = 0x102000; a < 0x103000; a++)
		ck_assert_uint_eq(ram[a], 0);
	ck_assert(untouched(0x103000, 0x1000));
	ck_assert(untouched(0xff000, 0x1000));
	for (uint64_t a = 0x200000; a < 0x201000; a++)
		ck_assert_uint_eq(ram[a], 0x42);
	ck_assert(untouched(0x201000, 0x100));
	/* The PT_NOTE at address 0 was not loaded. */
	ck_assert(untouched(0, 0x100));
	free(img);
}
END_TEST

START_TEST(elf_vmlinux_like)
{
	/* vmlinux: physical e_entry 0x1000000, pure-bss segment, an empty
	 * PT_LOAD (memsz 0) that must be ignored wherever it points. */
	const struct seg s[] = {
		{ PT_LOAD, 0x1000000, 0x1000, 0x1000 },
		{ PT_LOAD, 0x0, 0, 0 },
		{ PT_LOAD, 0x1400000, 0, 0x2000 },
	};
	size_t len;
	uint8_t *img = mk_elf(0x1000000, s, 3, &len);

	ck_assert_int_eq(loader_load(&gm, img, len, &ki, err, sizeof(err)), 0);
	ck_assert_uint_eq(ki.entry, 0x1000000);
	ck_assert_uint_eq(ki.load_start, 0x1000000);
	ck_assert_uint_eq(ki.load_end, 0x1402000);
	ck_assert_uint_eq(ram[0x1000000], 0x40);
	ck_assert_uint_eq(ram[0x1400000], 0);
	ck_assert_uint_eq(ram[0x1401fff], 0);
	ck_assert(untouched(0, 0x1000));
	free(img);
}
END_TEST

START_TEST(elf_entry_at_segment_edges)
{
	size_t len;
	uint8_t *img = std_elf(&len);

	/* First and last byte of a segment's memory (bss included) are in. */
	ehdr(img)->e_entry = 0x100000;
	ck_assert_int_eq(loader_load(&gm, img, len, &ki, err, sizeof(err)), 0);
	ehdr(img)->e_entry = 0x102fff;
	ck_assert_int_eq(loader_load(&gm, img, len, &ki, err, sizeof(err)), 0);
	ehdr(img)->e_entry = 0x200fff;
	ck_assert_int_eq(loader_load(&gm, img, len, &ki, err, sizeof(err)), 0);
	/* One past either segment is out. */
	ehdr(img)->e_entry = 0x103000;
	expect_fail(img, len, "entry point 0x103000 is outside");
	ehdr(img)->e_entry = 0x201000;
	expect_fail(img, len, "entry point");
	ehdr(img)->e_entry = 0xfffff;
	expect_fail(img, len, "entry point");
	free(img);
}
END_TEST

START_TEST(elf_segment_at_end_of_ram)
{
	const struct seg s[] = { { PT_LOAD, RAM_SIZE - 0x1000, 0x800, 0x1000 } };
	size_t len;
	uint8_t *img = mk_elf(RAM_SIZE - 0x1000, s, 1, &len);

	ck_assert_int_eq(loader_load(&gm, img, len, &ki, err, sizeof(err)), 0);
	ck_assert_uint_eq(ki.load_end, RAM_SIZE);
	/* One byte more does not fit. */
	phdr(img, 0)->p_memsz = 0x1001;
	expect_fail(img, len, "outside guest RAM");
	free(img);
}
END_TEST

START_TEST(elf_every_truncation_fails)
{
	size_t len;
	uint8_t *img = std_elf(&len);

	/* The image has no slack: cutting any byte must be refused, and the
	 * guest must not be written (ASan checks the reads). */
	for (size_t n = 0; n < len; n++) {
		uint8_t *cut = malloc(n ? n : 1);

		memcpy(cut, img, n);
		ck_assert_msg(loader_load(&gm, cut, n, &ki, err, sizeof(err)) == -EINVAL,
			      "truncated to %zu bytes accepted", n);
		ck_assert(err[0]);
		free(cut);
	}
	ck_assert(untouched(0x100000, 0x3000));
	ck_assert(untouched(0x200000, 0x1000));
	free(img);
}
END_TEST

START_TEST(elf_truncated_messages)
{
	size_t len;
	uint8_t *img = std_elf(&len);

	expect_fail(img, 0, "neither ELF nor bzImage (only 0 bytes)");
	expect_fail(img, 3, "neither ELF nor bzImage (only 3 bytes)");
	expect_fail(img, 4, "ELF: file too short");
	expect_fail(img, sizeof(Elf64_Ehdr) - 1, "ELF: file too short");
	/* Header complete, program header table cut. */
	expect_fail(img, sizeof(Elf64_Ehdr), "program header table");
	expect_fail(img, sizeof(Elf64_Ehdr) + 3 * sizeof(Elf64_Phdr) - 1, "program header table");
	/* Table complete, segment data cut. */
	expect_fail(img, len - 1, "segment 2: data");
	ck_assert_int_eq(loader_load(&gm, NULL, 0, &ki, err, sizeof(err)), -EINVAL);
	free(img);
}
END_TEST

START_TEST(elf_bad_ident_and_header)
{
	size_t len;
	uint8_t *img = std_elf(&len);
	uint8_t *copy = malloc(len);

#define MUTATE(stmt, what) do { \
		memcpy(copy, img, len); \
		{ uint8_t *m = copy; (void)m; stmt; } \
		expect_fail(copy, len, what); \
	} while (0)

	MUTATE(m[1] = 'F', "neither ELF nor bzImage");
	MUTATE(ehdr(m)->e_ident[EI_CLASS] = ELFCLASS32, "not a 64-bit ELF");
	MUTATE(ehdr(m)->e_ident[EI_CLASS] = ELFCLASSNONE, "not a 64-bit ELF");
	MUTATE(ehdr(m)->e_ident[EI_DATA] = ELFDATA2MSB, "not little-endian");
	MUTATE(ehdr(m)->e_ident[EI_VERSION] = 2, "ELF version");
	MUTATE(ehdr(m)->e_version = 0, "ELF version");
	MUTATE(ehdr(m)->e_type = ET_DYN, "not an executable (e_type 3)");
	MUTATE(ehdr(m)->e_type = ET_REL, "not an executable");
	MUTATE(ehdr(m)->e_machine = EM_386, "not x86-64 (e_machine 3)");
	MUTATE(ehdr(m)->e_machine = EM_AARCH64, "not x86-64");
	MUTATE(ehdr(m)->e_phentsize = 32, "program header entry size 32");
	MUTATE(ehdr(m)->e_phnum = 0, "no program headers");
	MUTATE(ehdr(m)->e_phnum = PN_XNUM, "PN_XNUM");
	MUTATE(ehdr(m)->e_phnum = 0xfffe, "program header table (offset 0x40, 65534 entries)");
	MUTATE(ehdr(m)->e_phoff = len, "program header table");
	MUTATE(ehdr(m)->e_phoff = UINT64_MAX - 8, "program header table");
	MUTATE(ehdr(m)->e_phoff = UINT64_MAX, "program header table");
	MUTATE(ehdr(m)->e_phoff = len - 3 * sizeof(Elf64_Phdr) + 1, "program header table");
#undef MUTATE
	ck_assert(untouched(0x100000, 0x3000));
	free(copy);
	free(img);
}
END_TEST

START_TEST(elf_bad_segments)
{
	size_t len;
	uint8_t *img = std_elf(&len);
	uint8_t *copy = malloc(len);

#define MUTATE(stmt, what) do { \
		memcpy(copy, img, len); \
		{ uint8_t *m = copy; stmt; } \
		expect_fail(copy, len, what); \
		ck_assert(untouched(0x100000, 0x3000)); \
		ck_assert(untouched(0x200000, 0x1000)); \
	} while (0)

	/* Segment 2 is the one broken, so a loader that wrote segment 0
	 * before checking segment 2 would show in guest RAM. */
	MUTATE(phdr(m, 2)->p_filesz = 0x1001, "segment 2: p_filesz 0x1001 > p_memsz 0x1000");
	MUTATE(phdr(m, 2)->p_offset = len - 0xfff, "segment 2: data");
	MUTATE(phdr(m, 2)->p_offset = UINT64_MAX - 0x10, "segment 2: data");
	MUTATE(phdr(m, 2)->p_offset = UINT64_MAX, "segment 2: data");
	MUTATE((phdr(m, 2)->p_filesz = UINT64_MAX, phdr(m, 2)->p_memsz = UINT64_MAX),
	       "segment 2: data");
	MUTATE(phdr(m, 2)->p_paddr = 0x9f000, "overlaps low memory");
	MUTATE(phdr(m, 2)->p_paddr = 0, "overlaps low memory");
	MUTATE(phdr(m, 2)->p_paddr = 0xfffff, "overlaps low memory");
	MUTATE(phdr(m, 2)->p_paddr = RAM_SIZE, "outside guest RAM");
	MUTATE(phdr(m, 2)->p_paddr = RAM_SIZE - 0xfff, "outside guest RAM");
	MUTATE(phdr(m, 2)->p_paddr = LAYOUT_MMIO_HOLE, "outside guest RAM");
	MUTATE(phdr(m, 2)->p_paddr = LAYOUT_4G, "outside guest RAM");
	/* paddr + memsz wraps around 2^64. */
	MUTATE(phdr(m, 2)->p_paddr = UINT64_MAX - 0x7ff, "outside guest RAM");
	MUTATE(phdr(m, 2)->p_memsz = UINT64_MAX, "outside guest RAM");
	MUTATE(phdr(m, 2)->p_paddr = 0x102fff, "overlaps another PT_LOAD");
	MUTATE(phdr(m, 2)->p_paddr = 0xff800 + 0x800, "overlaps another PT_LOAD");
	/* Only non-PT_LOAD segments left. */
	MUTATE((phdr(m, 0)->p_type = PT_NOTE, phdr(m, 2)->p_type = PT_DYNAMIC),
	       "no loadable (PT_LOAD) segment");
	/* A PT_LOAD of memsz 0 does not count as loadable. */
	MUTATE((phdr(m, 0)->p_type = PT_NOTE, phdr(m, 2)->p_filesz = 0, phdr(m, 2)->p_memsz = 0),
	       "no loadable (PT_LOAD) segment");
#undef MUTATE
	free(copy);
	free(img);
}
END_TEST

START_TEST(elf_adjacent_segments_ok)
{
	const struct seg s[] = {
		{ PT_LOAD, 0x100000, 0x1000, 0x1000 },
		{ PT_LOAD, 0x101000, 0x1000, 0x1000 },
	};
	size_t len;
	uint8_t *img = mk_elf(0x100000, s, 2, &len);

	ck_assert_int_eq(loader_load(&gm, img, len, &ki, err, sizeof(err)), 0);
	ck_assert_uint_eq(ram[0x100fff], 0x40);
	ck_assert_uint_eq(ram[0x101000], 0x41);
	free(img);
}
END_TEST

START_TEST(elf_too_many_segments)
{
	struct seg s[65];
	size_t len;
	uint8_t *img;

	for (unsigned i = 0; i < 65; i++)
		s[i] = (struct seg){ PT_LOAD, 0x100000 + i * 0x1000ULL, 0x10, 0x10 };
	img = mk_elf(0x100000, s, 64, &len);
	ck_assert_int_eq(loader_load(&gm, img, len, &ki, err, sizeof(err)), 0);
	free(img);
	img = mk_elf(0x100000, s, 65, &len);
	expect_fail(img, len, "more than 64 PT_LOAD segments");
	free(img);
}
END_TEST

START_TEST(err_buffer_optional)
{
	size_t len;
	uint8_t *img = std_elf(&len);

	ck_assert_int_eq(loader_load(&gm, img, 10, &ki, NULL, 0), -EINVAL);
	/* A tiny buffer gets a truncated, NUL-terminated message. */
	memset(err, 'x', sizeof(err));
	ck_assert_int_eq(loader_load(&gm, img, 10, &ki, err, 5), -EINVAL);
	ck_assert_uint_eq(strlen(err), 4);
	free(img);
}
END_TEST

/* --------------------------------------------------- bzImage builder -- */

#define BZ_HDR 0x1f1
#define BZ_PAYLOAD 0x3000
#define BZ_SECTS 4

static struct setup_header *bzh(uint8_t *img)
{
	return (struct setup_header *)(img + BZ_HDR);
}

/* A bzImage with `sects` setup sectors (0 meaning 4) and `payload` bytes of
 * protected-mode code (byte i = i * 7), protocol 2.15, relocatable, 64-bit. */
static uint8_t *mk_bz(unsigned sects, size_t payload, size_t *len)
{
	size_t setup = ((sects ? sects : 4) + 1) * 512;
	uint8_t *img = calloc(1, setup + payload);
	struct setup_header *h;

	ck_assert_ptr_nonnull(img);
	h = bzh(img);
	h->setup_sects = (uint8_t)sects;
	h->boot_flag = 0xaa55;
	h->jump = 0xeb | ((0x26c - 0x202) << 8); /* header ends at 0x26c */
	h->header = 0x53726448;
	h->version = 0x020f;
	h->kernel_version = 0x1234;
	h->loadflags = LOADED_HIGH;
	h->initrd_addr_max = 0x7fffffff;
	h->kernel_alignment = 0x200000;
	h->relocatable_kernel = 1;
	h->min_alignment = 21;
	h->xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G;
	h->cmdline_size = 2047;
	h->pref_address = 0x1000000;
	h->init_size = 0x800000;
	for (size_t i = 0; i < payload; i++)
		img[setup + i] = (uint8_t)(i * 7);
	*len = setup + payload;
	return img;
}

/* ---------------------------------------------------- bzImage tests -- */

START_TEST(bz_valid)
{
	size_t len;
	uint8_t *img = mk_bz(BZ_SECTS, BZ_PAYLOAD, &len);

	ck_assert_int_eq(loader_load(&gm, img, len, &ki, err, sizeof(err)), 0);
	ck_assert(ki.is_bzimage);
	ck_assert_uint_eq(ki.entry, 0x100200);
	ck_assert_uint_eq(ki.load_start, 0x100000);
	/* Relocatable: runtime start = align_up(max(1 MiB, pref 16 MiB), 2 MiB)
	 * = 16 MiB, plus init_size 8 MiB. */
	ck_assert_uint_eq(ki.load_end, 0x1800000);
	ck_assert_mem_eq(&ki.hdr, img + BZ_HDR, sizeof(ki.hdr));
	for (size_t i = 0; i < BZ_PAYLOAD; i++)
		ck_assert_uint_eq(ram[0x100000 + i], (uint8_t)(i * 7));
	ck_assert(untouched(0x100000 + BZ_PAYLOAD, 0x1000));
	ck_assert(untouched(0, 0x100000)); /* the setup sectors are not loaded */
	free(img);
}
END_TEST

START_TEST(bz_setup_sects_zero_means_4)
{
	size_t len;
	uint8_t *img = mk_bz(0, BZ_PAYLOAD, &len);

	ck_assert_uint_eq(len, 5 * 512 + BZ_PAYLOAD);
	ck_assert_int_eq(loader_load(&gm, img, len, &ki, err, sizeof(err)), 0);
	ck_assert_uint_eq(ram[0x100001], 7);
	free(img);
}
END_TEST

START_TEST(bz_many_setup_sects)
{
	size_t len;
	uint8_t *img = mk_bz(255, BZ_PAYLOAD, &len);

	ck_assert_uint_eq(len, 256 * 512 + BZ_PAYLOAD);
	ck_assert_int_eq(loader_load(&gm, img, len, &ki, err, sizeof(err)), 0);
	ck_assert_uint_eq(ram[0x100002], 14);
	free(img);
}
END_TEST

START_TEST(bz_load_end_variants)
{
	size_t len;
	uint8_t *img = mk_bz(BZ_SECTS, BZ_PAYLOAD, &len);

	/* No init_size: just the payload. */
	bzh(img)->init_size = 0;
	ck_assert_int_eq(loader_load(&gm, img, len, &ki, err, sizeof(err)), 0);
	ck_assert_uint_eq(ki.load_end, 0x100000 + BZ_PAYLOAD);
	/* init_size smaller than the payload area: payload end wins. */
	bzh(img)->relocatable_kernel = 0;
	bzh(img)->pref_address = 0x100000;
	bzh(img)->init_size = 0x1000;
	ck_assert_int_eq(loader_load(&gm, img, len, &ki, err, sizeof(err)), 0);
	ck_assert_uint_eq(ki.load_end, 0x100000 + BZ_PAYLOAD);
	/* Not relocatable: runs at pref_address whatever the alignment. */
	bzh(img)->pref_address = 0x1234000;
	bzh(img)->kernel_alignment = 0; /* unused when not relocatable */
	bzh(img)->init_size = 0x10000;
	ck_assert_int_eq(loader_load(&gm, img, len, &ki, err, sizeof(err)), 0);
	ck_assert_uint_eq(ki.load_end, 0x1244000);
	/* Relocatable, pref below the load address: align_up(1 MiB, 16 MiB). */
	bzh(img)->relocatable_kernel = 1;
	bzh(img)->pref_address = 0;
	bzh(img)->kernel_alignment = 0x1000000;
	ck_assert_int_eq(loader_load(&gm, img, len, &ki, err, sizeof(err)), 0);
	ck_assert_uint_eq(ki.load_end, 0x1010000);
	/* Relocatable, unaligned pref: rounded up to 2 MiB. */
	bzh(img)->pref_address = 0x1100000;
	bzh(img)->kernel_alignment = 0x200000;
	ck_assert_int_eq(loader_load(&gm, img, len, &ki, err, sizeof(err)), 0);
	ck_assert_uint_eq(ki.load_end, 0x1210000);
	free(img);
}
END_TEST

START_TEST(bz_short_header_fields_ignored)
{
	size_t len;
	uint8_t *img = mk_bz(BZ_SECTS, BZ_PAYLOAD, &len);

	/* A header that ends at 0x268 (before kernel_info_offset): the bytes
	 * after it are setup code, and must not appear in ki.hdr. */
	bzh(img)->jump = 0xeb | ((0x268 - 0x202) << 8);
	bzh(img)->kernel_info_offset = 0xdeadbeef;
	ck_assert_int_eq(loader_load(&gm, img, len, &ki, err, sizeof(err)), 0);
	ck_assert_uint_eq(ki.hdr.kernel_info_offset, 0);
	ck_assert_uint_eq(ki.hdr.init_size, 0x800000);
	free(img);
}
END_TEST

START_TEST(bz_rejects)
{
	size_t len;
	uint8_t *img = mk_bz(BZ_SECTS, BZ_PAYLOAD, &len);
	uint8_t *copy = malloc(len);

#define MUTATE(stmt, what) do { \
		memcpy(copy, img, len); \
		{ struct setup_header *h = bzh(copy); stmt; } \
		expect_fail(copy, len, what); \
		ck_assert(untouched(0x100000, BZ_PAYLOAD)); \
	} while (0)

	MUTATE(h->header = 0x53726449, "neither ELF nor bzImage");
	MUTATE(h->boot_flag = 0x55aa, "bad boot_flag 0x55aa");
	MUTATE(h->version = 0x0205, "boot protocol 2.05 too old");
	MUTATE(h->version = 0x0100, "too old");
	MUTATE(h->version = 0x020b, "boot protocol 2.11 has no 64-bit entry");
	MUTATE(h->jump = 0xeb | (0x60 << 8), "setup header ends at 0x262");
	MUTATE(h->jump = 0xeb, "too old"); /* header ends before version */
	MUTATE(h->xloadflags = XLF_CAN_BE_LOADED_ABOVE_4G, "XLF_KERNEL_64 not set");
	MUTATE(h->loadflags = CAN_USE_HEAP, "zImage");
	MUTATE(h->setup_sects = 0xff, "too short (14848 bytes) for its 255 setup sectors");
	MUTATE(h->setup_sects = 29, "for its 29 setup sectors");
	MUTATE(h->kernel_alignment = 0, "kernel_alignment 0 is not a power of two");
	MUTATE(h->kernel_alignment = 0x300000, "not a power of two");
	MUTATE(h->pref_address = UINT64_MAX - 0x1000, "overflows");
	MUTATE(h->pref_address = RAM_SIZE - 0x200000, "init_size");
	MUTATE(h->init_size = 0xffffffff, "init_size");
	MUTATE((h->relocatable_kernel = 0, h->pref_address = 0x10000),
	       "runtime address 0x10000 is below");
	MUTATE((h->relocatable_kernel = 0, h->pref_address = UINT64_MAX - 0x100), "init_size");
#undef MUTATE
	free(copy);
	free(img);
}
END_TEST

START_TEST(bz_truncated)
{
	size_t len, setup = (BZ_SECTS + 1) * 512;
	uint8_t *img = mk_bz(BZ_SECTS, BZ_PAYLOAD, &len);

	/* Too short to even see "HdrS". */
	expect_fail(img, 0x205, "neither ELF nor bzImage");
	/* "HdrS" visible but the setup header is cut. */
	expect_fail(img, 0x206, "too short (518 bytes) for the setup header");
	expect_fail(img, BZ_HDR + sizeof(struct setup_header) - 1, "for the setup header");
	/* Header complete, setup sectors cut or nothing after them. */
	expect_fail(img, BZ_HDR + sizeof(struct setup_header), "for its 4 setup sectors");
	expect_fail(img, setup, "for its 4 setup sectors");
	/* Protected-mode code too short to contain the 64-bit entry. */
	expect_fail(img, setup + 1, "too short for the 64-bit entry");
	expect_fail(img, setup + 0x200, "too short for the 64-bit entry");
	ck_assert_int_eq(loader_load(&gm, img, setup + 0x201, &ki, err, sizeof(err)), 0);
	for (size_t n = 0; n <= setup + 0x200; n++)
		ck_assert_int_eq(loader_load(&gm, img, n, &ki, err, sizeof(err)), -EINVAL);
	free(img);
}
END_TEST

START_TEST(bz_too_big_for_ram)
{
	struct guest_mem small;
	size_t len;
	uint8_t *img = mk_bz(BZ_SECTS, BZ_PAYLOAD, &len);

	/* RAM ends 0x2fff bytes after 1 MiB: one byte short of the payload. */
	gm_init_with(&small, ram, LAYOUT_HIGH_RAM + BZ_PAYLOAD - 1);
	ck_assert_int_eq(loader_load(&small, img, len, &ki, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "does not fit in guest RAM"));
	gm_init_with(&small, ram, LAYOUT_HIGH_RAM + BZ_PAYLOAD);
	bzh(img)->init_size = 0;
	ck_assert_int_eq(loader_load(&small, img, len, &ki, err, sizeof(err)), 0);
	free(img);
}
END_TEST

/* ------------------------------------------------------ read_file -- */

static char tmpdir[] = "/tmp/test_loader.XXXXXX";

static char *tmp_file(const char *name, const void *data, size_t n)
{
	static char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, n), (ssize_t)n);
	close(fd);
	return path;
}

/* loader_read_file() into buf/len with its message in rf_err. */
static char rf_err[128];

static int read_file(const char *path, void **buf, size_t *len)
{
	rf_err[0] = '\0';
	return loader_read_file(path, buf, len, rf_err, sizeof(rf_err));
}

START_TEST(read_file_cases)
{
	uint8_t data[70000];
	void *buf = (void *)1;
	size_t len = 1;
	char *p, fifo[300];

	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i ^ (i >> 8));
	p = tmp_file("kernel", data, sizeof(data));
	ck_assert_int_eq(read_file(p, &buf, &len), 0);
	ck_assert_uint_eq(len, sizeof(data));
	ck_assert_mem_eq(buf, data, sizeof(data));
	free(buf);
	unlink(p);

	p = tmp_file("empty", data, 0);
	ck_assert_int_eq(read_file(p, &buf, &len), -ENODATA);
	ck_assert_str_eq(rf_err, "empty file");
	ck_assert_ptr_null(buf);
	ck_assert_uint_eq(len, 0);
	unlink(p);

	ck_assert_int_eq(read_file(tmpdir, &buf, &len), -EISDIR);
	ck_assert_str_eq(rf_err, "not a regular file (a directory)");
	ck_assert_int_eq(read_file("/dev/null", &buf, &len), -EINVAL);
	ck_assert_str_eq(rf_err, "not a regular file (a character device)");
	ck_assert_int_eq(read_file("/dev/zero", &buf, &len), -EINVAL);
	ck_assert_str_eq(rf_err, "not a regular file (a character device)");
	/* A FIFO nobody writes to: refused at once, not a blocked open(). */
	snprintf(fifo, sizeof(fifo), "%s/fifo", tmpdir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	ck_assert_int_eq(read_file(fifo, &buf, &len), -EINVAL);
	ck_assert_str_eq(rf_err, "not a regular file (a FIFO)");
	unlink(fifo);
	p = tmp_file("gone", data, 1);
	unlink(p);
	ck_assert_int_eq(read_file(p, &buf, &len), -ENOENT);
	ck_assert_str_eq(rf_err, "No such file or directory");
	rmdir(tmpdir);
}
END_TEST

/* The two-step form main.c uses for the initrd: straight into guest RAM,
 * exactly len bytes, and a file that shrank in between is an error. */
START_TEST(open_then_read_into_ram)
{
	uint8_t data[70000];
	size_t len = 1;
	char *p;
	int fd = 7;
	void *dst;

	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + (i >> 9));
	p = tmp_file("initrd", data, sizeof(data));
	ck_assert_int_eq(loader_open_file(p, &fd, &len, rf_err, sizeof(rf_err)), 0);
	ck_assert_uint_eq(len, sizeof(data));
	dst = gm_ptr(&gm, 0x100000, len);
	ck_assert_ptr_nonnull(dst);
	ck_assert_int_eq(loader_read_fd(fd, dst, len, rf_err, sizeof(rf_err)), 0);
	ck_assert_mem_eq(dst, data, sizeof(data));
	close(fd);

	/* Shrunk after the open: the bytes are not all there. */
	ck_assert_int_eq(loader_open_file(p, &fd, &len, rf_err, sizeof(rf_err)), 0);
	ck_assert_int_eq(truncate(p, 1000), 0);
	ck_assert_int_eq(loader_read_fd(fd, dst, len, rf_err, sizeof(rf_err)), -EIO);
	ck_assert_str_eq(rf_err, "shrank while being read (1000 of 70000 bytes)");
	close(fd);
	unlink(p);

	/* Refusals leave no fd behind. */
	ck_assert_int_eq(loader_open_file(tmpdir, &fd, &len, rf_err, sizeof(rf_err)), -EISDIR);
	ck_assert_int_eq(fd, -1);
	ck_assert_uint_eq(len, 0);
	rmdir(tmpdir);
}
END_TEST

/* -------------------------------------------------- place_initrd -- */

START_TEST(initrd_placement)
{
	uint64_t gpa = 0;

	/* As high as possible below the top of RAM, page aligned. */
	ck_assert_int_eq(loader_place_initrd(&gm, 0x2000000, 0x100000, 0xffffffff, &gpa), 0);
	ck_assert_uint_eq(gpa, RAM_SIZE - 0x100000);
	ck_assert_int_eq(loader_place_initrd(&gm, 0x2000000, 0x1234, 0xffffffff, &gpa), 0);
	ck_assert_uint_eq(gpa, 0x3ffe000);
	/* max_addr is the last usable byte. */
	ck_assert_int_eq(loader_place_initrd(&gm, 0x2000000, 0x1000, 0x2ffffff, &gpa), 0);
	ck_assert_uint_eq(gpa, 0x2fff000);
	ck_assert_int_eq(loader_place_initrd(&gm, 0x2000000, 0x1000, UINT64_MAX, &gpa), 0);
	ck_assert_uint_eq(gpa, RAM_SIZE - 0x1000);
	/* Exactly fits between kernel_end and the top. */
	ck_assert_int_eq(loader_place_initrd(&gm, 0x2000000, RAM_SIZE - 0x2000000, UINT64_MAX, &gpa), 0);
	ck_assert_uint_eq(gpa, 0x2000000);
	/* One byte too many, or bigger than RAM, or max_addr below the kernel. */
	gpa = 42;
	ck_assert_int_eq(loader_place_initrd(&gm, 0x2000000, RAM_SIZE - 0x2000000 + 1, UINT64_MAX, &gpa), -ENOSPC);
	ck_assert_int_eq(loader_place_initrd(&gm, 0, RAM_SIZE + 1, UINT64_MAX, &gpa), -ENOSPC);
	ck_assert_int_eq(loader_place_initrd(&gm, 0, UINT64_MAX, UINT64_MAX, &gpa), -ENOSPC);
	ck_assert_int_eq(loader_place_initrd(&gm, 0x2000000, 0x1000, 0x1ffffff, &gpa), -ENOSPC);
	ck_assert_int_eq(loader_place_initrd(&gm, 0x2000000, 0x1000, 0, &gpa), -ENOSPC);
	/* Never below 1 MiB, even with kernel_end 0. */
	ck_assert_int_eq(loader_place_initrd(&gm, 0, 0x1000, 0xfffff, &gpa), -ENOSPC);
	ck_assert_uint_eq(gpa, 42);
}
END_TEST

START_TEST(initrd_placement_above_3g)
{
	struct guest_mem big;
	uint64_t gpa = 0;

	/* 5 GiB: the initrd still goes below the MMIO hole. */
	ck_assert_int_eq(gm_init(&big, 5ULL << 30), 0);
	ck_assert_int_eq(loader_place_initrd(&big, 0x2000000, 0x100000, UINT64_MAX, &gpa), 0);
	ck_assert_uint_eq(gpa, LAYOUT_MMIO_HOLE - 0x100000);
	ck_assert_int_eq(loader_place_initrd(&big, 0x2000000, 0x100000, 0x7fffffff, &gpa), 0);
	ck_assert_uint_eq(gpa, 0x80000000 - 0x100000);
	gm_destroy(&big);
}
END_TEST

START_TEST(initrd_max)
{
	struct kernel_image k = { .is_bzimage = false };

	ck_assert_uint_eq(loader_initrd_max(&k), 0xffffffff);
	k.is_bzimage = true;
	k.hdr.initrd_addr_max = 0x7fffffff;
	ck_assert_uint_eq(loader_initrd_max(&k), 0x7fffffff);
	k.hdr.initrd_addr_max = 0;
	ck_assert_uint_eq(loader_initrd_max(&k), 0x37ffffff);
}
END_TEST

static Suite *loader_suite(void)
{
	Suite *s = suite_create("loader");
	TCase *elf = tcase_create("elf");
	TCase *bz = tcase_create("bzimage");
	TCase *misc = tcase_create("misc");

	tcase_add_checked_fixture(elf, ram_setup, ram_teardown);
	tcase_add_test(elf, elf_valid);
	tcase_add_test(elf, elf_vmlinux_like);
	tcase_add_test(elf, elf_entry_at_segment_edges);
	tcase_add_test(elf, elf_segment_at_end_of_ram);
	tcase_add_test(elf, elf_every_truncation_fails);
	tcase_add_test(elf, elf_truncated_messages);
	tcase_add_test(elf, elf_bad_ident_and_header);
	tcase_add_test(elf, elf_bad_segments);
	tcase_add_test(elf, elf_adjacent_segments_ok);
	tcase_add_test(elf, elf_too_many_segments);
	tcase_add_test(elf, err_buffer_optional);
	suite_add_tcase(s, elf);

	tcase_add_checked_fixture(bz, ram_setup, ram_teardown);
	tcase_add_test(bz, bz_valid);
	tcase_add_test(bz, bz_setup_sects_zero_means_4);
	tcase_add_test(bz, bz_many_setup_sects);
	tcase_add_test(bz, bz_load_end_variants);
	tcase_add_test(bz, bz_short_header_fields_ignored);
	tcase_add_test(bz, bz_rejects);
	tcase_add_test(bz, bz_truncated);
	tcase_add_test(bz, bz_too_big_for_ram);
	suite_add_tcase(s, bz);

	tcase_add_checked_fixture(misc, ram_setup, ram_teardown);
	tcase_add_test(misc, read_file_cases);
	tcase_add_test(misc, open_then_read_into_ram);
	tcase_add_test(misc, initrd_placement);
	tcase_add_test(misc, initrd_placement_above_3g);
	tcase_add_test(misc, initrd_max);
	suite_add_tcase(s, misc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(loader_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
