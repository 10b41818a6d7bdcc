// SPDX-License-Identifier: MIT
/*
 * Unit tests for base/guest_mem.c: region layout around the MMIO hole and the
 * one checked gpa -> host translation (boundaries, len 0, wrap-around,
 * ranges straddling the hole, end of RAM).
 */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/guest_mem.h"
#include "base/layout.h"

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

START_TEST(layout_small)
{
	struct guest_mem gm;
	uint8_t *buf = malloc(16 * MIB);

	gm_init_with(&gm, buf, 16 * MIB);
	ck_assert_ptr_eq(gm.base, buf);
	ck_assert_uint_eq(gm.size, 16 * MIB);
	ck_assert_uint_eq(gm.nregions, 1);
	ck_assert_uint_eq(gm.region[0].gpa, 0);
	ck_assert_uint_eq(gm.region[0].size, 16 * MIB);
	ck_assert_ptr_eq(gm.region[0].host, buf);
	ck_assert_uint_eq(gm_low_top(&gm), 16 * MIB);
	free(buf);
}
END_TEST

/* Layout only: gm_init_with() never dereferences the host pointer, and
 * gm_ptr() only does arithmetic on it, so a fake base is enough. */
START_TEST(layout_around_hole)
{
	struct guest_mem gm;
	uint8_t *fake = (uint8_t *)0x10000000000ULL;

	gm_init_with(&gm, fake, 3 * GIB);
	ck_assert_uint_eq(gm.nregions, 1);
	ck_assert_uint_eq(gm_low_top(&gm), LAYOUT_MMIO_HOLE);

	gm_init_with(&gm, fake, 3 * GIB + 4096);
	ck_assert_uint_eq(gm.nregions, 2);
	ck_assert_uint_eq(gm.region[0].size, LAYOUT_MMIO_HOLE);
	ck_assert_uint_eq(gm.region[1].gpa, LAYOUT_4G);
	ck_assert_uint_eq(gm.region[1].size, 4096);
	ck_assert_ptr_eq(gm.region[1].host, fake + LAYOUT_MMIO_HOLE);
	ck_assert_uint_eq(gm_low_top(&gm), LAYOUT_MMIO_HOLE);

	gm_init_with(&gm, fake, 64 * GIB);
	ck_assert_uint_eq(gm.region[1].size, 61 * GIB);
	ck_assert_ptr_eq(gm_ptr(&gm, LAYOUT_4G + 61 * GIB - 1, 1), fake + 64 * GIB - 1);
	ck_assert_ptr_null(gm_ptr(&gm, LAYOUT_4G + 61 * GIB, 0));
}
END_TEST

START_TEST(ptr_boundaries_low)
{
	struct guest_mem gm;
	const uint64_t size = 16 * MIB;
	uint8_t *buf = malloc(size);

	gm_init_with(&gm, buf, size);
	ck_assert_ptr_eq(gm_ptr(&gm, 0, 0), buf);
	ck_assert_ptr_eq(gm_ptr(&gm, 0, size), buf);
	ck_assert_ptr_null(gm_ptr(&gm, 0, size + 1));
	ck_assert_ptr_eq(gm_ptr(&gm, size - 1, 1), buf + size - 1);
	ck_assert_ptr_eq(gm_ptr(&gm, size - 1, 0), buf + size - 1);
	ck_assert_ptr_null(gm_ptr(&gm, size - 1, 2));
	/* len 0 still requires gpa inside RAM: the end is not. */
	ck_assert_ptr_null(gm_ptr(&gm, size, 0));
	ck_assert_ptr_null(gm_ptr(&gm, size, 1));
	/* Wrap-around attempts. */
	ck_assert_ptr_null(gm_ptr(&gm, 1, UINT64_MAX));
	ck_assert_ptr_null(gm_ptr(&gm, 0, UINT64_MAX));
	ck_assert_ptr_null(gm_ptr(&gm, UINT64_MAX, 1));
	ck_assert_ptr_null(gm_ptr(&gm, UINT64_MAX, 0));
	ck_assert_ptr_null(gm_ptr(&gm, UINT64_MAX - 0xfff, 0x2000));
	ck_assert_ptr_null(gm_ptr(&gm, size / 2, UINT64_MAX - size / 2 + 1));
	free(buf);
}
END_TEST

START_TEST(ptr_high_region_and_hole)
{
	struct guest_mem gm;
	const uint64_t size = 5 * GIB, high = size - LAYOUT_MMIO_HOLE;

	/* A real sparse mapping: only the pages written below get touched. */
	ck_assert_int_eq(gm_init(&gm, size), 0);
	ck_assert_uint_eq(gm.nregions, 2);
	ck_assert_uint_eq(gm.region[1].size, 2 * GIB);
	/* Last byte below the hole; the hole itself; straddling it. */
	ck_assert_ptr_eq(gm_ptr(&gm, LAYOUT_MMIO_HOLE - 1, 1), gm.base + LAYOUT_MMIO_HOLE - 1);
	ck_assert_ptr_null(gm_ptr(&gm, LAYOUT_MMIO_HOLE - 1, 2));
	ck_assert_ptr_null(gm_ptr(&gm, LAYOUT_MMIO_HOLE, 0));
	ck_assert_ptr_null(gm_ptr(&gm, LAYOUT_VIRTIO_MMIO, 4));
	ck_assert_ptr_null(gm_ptr(&gm, LAYOUT_IOAPIC, 4));
	ck_assert_ptr_null(gm_ptr(&gm, LAYOUT_4G - 1, 1));
	ck_assert_ptr_null(gm_ptr(&gm, LAYOUT_4G - 1, 2));
	/* A range covering the hole from low to high RAM is refused. */
	ck_assert_ptr_null(gm_ptr(&gm, LAYOUT_MMIO_HOLE - 4096, LAYOUT_4G - LAYOUT_MMIO_HOLE + 8192));
	/* High RAM: first byte, whole region, one past. */
	ck_assert_ptr_eq(gm_ptr(&gm, LAYOUT_4G, 0), gm.base + LAYOUT_MMIO_HOLE);
	ck_assert_ptr_eq(gm_ptr(&gm, LAYOUT_4G, high), gm.base + LAYOUT_MMIO_HOLE);
	ck_assert_ptr_null(gm_ptr(&gm, LAYOUT_4G, high + 1));
	ck_assert_ptr_eq(gm_ptr(&gm, LAYOUT_4G + high - 1, 1), gm.base + size - 1);
	ck_assert_ptr_null(gm_ptr(&gm, LAYOUT_4G + high, 0));
	ck_assert_ptr_null(gm_ptr(&gm, LAYOUT_4G + high - 1, UINT64_MAX));

	/* Reads and writes reach the right host bytes in both regions. */
	ck_assert_int_eq(gm_write(&gm, LAYOUT_4G + 10, "high", 4), 0);
	ck_assert_mem_eq(gm.base + LAYOUT_MMIO_HOLE + 10, "high", 4);
	ck_assert_int_eq(gm_write(&gm, LAYOUT_MMIO_HOLE - 2, "ab", 2), 0);
	ck_assert_int_eq(gm_write(&gm, LAYOUT_MMIO_HOLE - 2, "abc", 3), -EFAULT);
	ck_assert_uint_eq(gm.base[LAYOUT_MMIO_HOLE], 0); /* not spilled over */
	gm_destroy(&gm);
	ck_assert_ptr_null(gm.base);
	ck_assert_uint_eq(gm.nregions, 0);
}
END_TEST

START_TEST(write_checks_range)
{
	struct guest_mem gm;
	uint8_t *buf = calloc(1, 2 * MIB);

	gm_init_with(&gm, buf, 2 * MIB);
	ck_assert_int_eq(gm_write(&gm, 0x1000, "guest", 6), 0);
	ck_assert_str_eq((char *)buf + 0x1000, "guest");
	ck_assert_int_eq(gm_write(&gm, 2 * MIB - 3, "abc", 3), 0);
	ck_assert_int_eq(gm_write(&gm, 2 * MIB - 2, "abc", 3), -EFAULT);
	ck_assert_int_eq(gm_write(&gm, UINT64_MAX, "a", 1), -EFAULT);
	ck_assert_int_eq(gm_write(&gm, 2 * MIB, "", 0), -EFAULT);
	ck_assert_int_eq(gm_write(&gm, 0, "", 0), 0);
	ck_assert_int_eq(gm_write(&gm, 2 * MIB - 1, "", 0), 0);
	free(buf);
}
END_TEST

START_TEST(init_errors)
{
	struct guest_mem gm;

	ck_assert_int_eq(gm_init(&gm, 0), -EINVAL);
	ck_assert_int_eq(gm_init(&gm, 16 * MIB), 0);
	ck_assert_uint_eq(gm.nregions, 1);
	ck_assert_uint_eq(gm.size, 16 * MIB);
	ck_assert_int_eq(gm_write(&gm, 16 * MIB - 1, "z", 1), 0);
	gm_destroy(&gm);
	/* Destroying twice is harmless. */
	gm_destroy(&gm);
}
END_TEST

/* gm_zero: unaligned edges and whole pages, over our own anonymous mapping
 * (pages dropped) and over caller memory (plain memset). */
static void check_zero(struct guest_mem *gm)
{
	uint8_t *p = gm_ptr(gm, 0x1000, 5 * 4096);

	ck_assert_ptr_nonnull(p);
	memset(p, 0xab, 5 * 4096);
	ck_assert_int_eq(gm_zero(gm, 0x1000 + 100, 3 * 4096 + 50), 0);
	for (size_t i = 0; i < 5 * 4096; i++) {
		bool inside = i >= 100 && i < 100 + 3 * 4096 + 50;

		ck_assert_uint_eq(p[i], inside ? 0 : 0xab);
	}
	ck_assert_int_eq(gm_zero(gm, gm->size - 10, 20), -EFAULT);
	ck_assert_int_eq(gm_zero(gm, 0, 0), 0);
}

START_TEST(zero_ranges)
{
	struct guest_mem gm;
	void *buf = calloc(1, 64 << 10);

	ck_assert_int_eq(gm_init(&gm, 64 << 10), 0);
	check_zero(&gm);
	gm_destroy(&gm);
	gm_init_with(&gm, buf, 64 << 10);
	check_zero(&gm);
	free(buf);
}
END_TEST

static Suite *guest_mem_suite(void)
{
	Suite *s = suite_create("guest_mem");
	TCase *tc = tcase_create("guest_mem");

	tcase_add_test(tc, layout_small);
	tcase_add_test(tc, layout_around_hole);
	tcase_add_test(tc, ptr_boundaries_low);
	tcase_add_test(tc, ptr_high_region_and_hole);
	tcase_add_test(tc, write_checks_range);
	tcase_add_test(tc, init_errors);
	tcase_add_test(tc, zero_ranges);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(guest_mem_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
