// SPDX-License-Identifier: MIT
/*
 * Unit tests for vmm/mptable.c.  The table is parsed back the way a guest
 * does (MP spec 1.4): find "_MP_" on a 16-byte boundary in the last KiB of
 * base memory, verify both checksums, then walk the entries by type.
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/config.h"
#include "base/guest_mem.h"
#include "base/layout.h"
#include "vmm/mptable.h"

#define RAM_SIZE (2ULL << 20)
#define POISON 0xa5

static struct guest_mem gm;
static uint8_t *ram;

static void ram_setup(void)
{
	ram = malloc(RAM_SIZE);
	ck_assert_ptr_nonnull(ram);
	memset(ram, POISON, RAM_SIZE);
	gm_init_with(&gm, ram, RAM_SIZE);
}

static void ram_teardown(void)
{
	free(ram);
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | (uint32_t)rd16(p + 2) << 16; }

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

struct parsed {
	unsigned cpus, bsp_count, buses, ioapics, intsrc, lintsrc;
	uint8_t ioapic_id;
	uint64_t end; /* guest address one past the table */
};

/* Parse and check everything that does not depend on n_cpus. */
static struct parsed parse(void)
{
	struct parsed r = { 0 };
	const uint8_t *fp = NULL, *t, *e;
	uint32_t table;
	uint16_t len, count;

	/* Linux's smp_scan_config(): 16-byte aligned, in [639K, 640K). */
	for (uint64_t a = 0x9fc00; a < 0xa0000; a += 16)
		if (memcmp(ram + a, "_MP_", 4) == 0) {
			fp = ram + a;
			break;
		}
	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fp - ram, LAYOUT_MPTABLE);
	ck_assert_uint_eq(fp[8], 1);        /* length in paragraphs */
	ck_assert_uint_eq(fp[9], 4);        /* spec 1.4 */
	ck_assert_uint_eq(sum(fp, 16), 0);
	ck_assert_uint_eq(fp[11], 0);       /* feature1: table present */
	ck_assert_uint_eq(fp[12], 0);       /* no IMCR: virtual wire */
	table = rd32(fp + 4);
	ck_assert_uint_eq(table, LAYOUT_MPTABLE + 16);

	t = ram + table;
	ck_assert_mem_eq(t, "PCMP", 4);
	len = rd16(t + 4);
	ck_assert_uint_eq(t[6], 4);
	ck_assert_uint_eq(sum(t, len), 0);
	ck_assert_uint_eq(rd32(t + 36), LAYOUT_LAPIC);
	ck_assert_uint_eq(rd16(t + 40), 0); /* no extended table */
	count = rd16(t + 34);
	r.end = table + len;
	ck_assert_uint_le(r.end, 0x100000);

	e = t + 44;
	for (unsigned i = 0, last_type = 0; i < count; i++) {
		/* 4.3: entries appear sorted by type. */
		ck_assert_uint_ge(e[0], last_type);
		last_type = e[0];
		switch (e[0]) {
		case 0: /* processor */
			ck_assert_uint_eq(e[1], r.cpus);   /* APIC IDs 0..n-1 */
			ck_assert_uint_eq(e[2], 0x14);
			ck_assert_uint_eq(e[3] & 1, 1);   /* enabled */
			if (e[3] & 2) {
				ck_assert_uint_eq(e[1], 0); /* BSP is APIC 0 */
				r.bsp_count++;
			}
			ck_assert_uint_eq((rd32(e + 4) >> 8) & 0xf, 6);
			ck_assert_uint_eq(rd32(e + 8) & (1u << 9), 1u << 9); /* APIC */
			r.cpus++;
			e += 20;
			break;
		case 1: /* bus */
			ck_assert_uint_eq(e[1], 0);
			ck_assert_mem_eq(e + 2, "ISA   ", 6);
			r.buses++;
			e += 8;
			break;
		case 2: /* I/O APIC */
			r.ioapic_id = e[1];
			ck_assert_uint_eq(e[2], 0x11);
			ck_assert_uint_eq(e[3], 1);
			ck_assert_uint_eq(rd32(e + 4), LAYOUT_IOAPIC);
			r.ioapics++;
			e += 8;
			break;
		case 3: /* I/O interrupt: ISA IRQ n -> pin n (KVM default GSI routing) */
			ck_assert_uint_eq(e[1], 0);        /* INT */
			ck_assert_uint_eq(rd16(e + 2), 0); /* conforms to bus */
			ck_assert_uint_eq(e[4], 0);        /* ISA */
			ck_assert_uint_eq(e[5], r.intsrc);
			ck_assert_uint_eq(e[6], r.ioapic_id);
			ck_assert_uint_eq(e[7], r.intsrc);
			r.intsrc++;
			e += 8;
			break;
		case 4: /* local interrupt: ExtINT -> LINT0, NMI -> LINT1, all CPUs */
			ck_assert_uint_eq(e[1], r.lintsrc == 0 ? 3 : 1);
			ck_assert_uint_eq(e[6], 0xff);
			ck_assert_uint_eq(e[7], r.lintsrc);
			r.lintsrc++;
			e += 8;
			break;
		default:
			ck_abort_msg("unknown entry type %u", e[0]);
		}
		ck_assert_uint_le(e - t, len);
	}
	ck_assert_uint_eq(e - t, len);
	ck_assert_uint_eq(r.bsp_count, 1);
	ck_assert_uint_eq(r.buses, 1);
	ck_assert_uint_eq(r.ioapics, 1);
	ck_assert_uint_eq(r.intsrc, 24);
	ck_assert_uint_eq(r.lintsrc, 2);
	return r;
}

static void check_cpus(unsigned n)
{
	struct parsed r;

	ck_assert_int_eq(mptable_write(&gm, n), 0);
	r = parse();
	ck_assert_uint_eq(r.cpus, n);
	ck_assert_uint_eq(r.ioapic_id, n);
	ck_assert_uint_eq(r.end, LAYOUT_MPTABLE + 16 + 44 + n * 20 + 8 + 8 + 26 * 8);
	/* Nothing written before the table or after it. */
	ck_assert_uint_eq(ram[LAYOUT_MPTABLE - 1], POISON);
	for (uint64_t a = r.end; a < 0x100000; a++)
		ck_assert_uint_eq(ram[a], POISON);
}

START_TEST(one_cpu)
{
	check_cpus(1);
}
END_TEST

START_TEST(four_cpus)
{
	check_cpus(4);
}
END_TEST

START_TEST(max_cpus)
{
	ck_assert_uint_eq(CONFIG_MAX_VCPUS, 254);
	check_cpus(CONFIG_MAX_VCPUS);
}
END_TEST

START_TEST(rewrite_smaller)
{
	/* A second, smaller table replaces the first cleanly. */
	ck_assert_int_eq(mptable_write(&gm, 8), 0);
	ck_assert_int_eq(mptable_write(&gm, 2), 0);
	ck_assert_uint_eq(parse().cpus, 2);
}
END_TEST

START_TEST(rejects)
{
	struct guest_mem small;

	ck_assert_int_eq(mptable_write(&gm, 0), -EINVAL);
	ck_assert_int_eq(mptable_write(&gm, CONFIG_MAX_VCPUS + 1), -E2BIG);
	ck_assert_int_eq(mptable_write(&gm, 255), -E2BIG);
	ck_assert_int_eq(mptable_write(&gm, UINT_MAX), -E2BIG);
	for (uint64_t a = 0x9fc00; a < 0xa0000; a++)
		ck_assert_uint_eq(ram[a], POISON);
	/* RAM that ends inside the table area. */
	gm_init_with(&small, ram, LAYOUT_MPTABLE + 100);
	ck_assert_int_eq(mptable_write(&small, 1), -EFAULT);
	ck_assert_uint_eq(ram[LAYOUT_MPTABLE], POISON);
}
END_TEST

static Suite *mptable_suite(void)
{
	Suite *s = suite_create("mptable");
	TCase *tc = tcase_create("mptable");

	tcase_add_checked_fixture(tc, ram_setup, ram_teardown);
	tcase_add_test(tc, one_cpu);
	tcase_add_test(tc, four_cpus);
	tcase_add_test(tc, max_cpus);
	tcase_add_test(tc, rewrite_smaller);
	tcase_add_test(tc, rejects);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(mptable_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
