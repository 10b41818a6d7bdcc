// SPDX-License-Identifier: MIT
/*
 * The address bus: registration rules (overlaps, wrap-around, capacity) and
 * dispatch (range boundaries, relative offsets, accesses crossing a range
 * end, unclaimed addresses).
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/bus.h"

/* A fake device that records its last access and answers reads with
 * a pattern derived from its id and the offset. */
struct fake {
	int id;
	unsigned reads, writes;
	uint64_t off;
	uint32_t len;
	uint8_t wdata[8];
};

static void fake_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct fake *f = opaque;
	uint8_t *d = data;

	f->reads++;
	f->off = off;
	f->len = len;
	for (uint32_t i = 0; i < len; i++)
		d[i] = (uint8_t)(f->id * 16 + off + i);
}

static void fake_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct fake *f = opaque;

	f->writes++;
	f->off = off;
	f->len = len;
	memcpy(f->wdata, data, len);
}

static const struct bus_ops fake_ops = { .read = fake_read, .write = fake_write };
static const struct bus_ops no_ops = { 0 };

static struct bus bus;

static void setup(void)
{
	memset(&bus, 0, sizeof(bus));
}

static void check_sorted(void)
{
	for (unsigned i = 1; i < bus.n; i++)
		ck_assert(bus.r[i - 1].base + bus.r[i - 1].len <= bus.r[i].base);
}

START_TEST(register_and_dispatch_boundaries)
{
	struct fake f = { .id = 1 };
	uint8_t v;

	ck_assert_int_eq(bus_register(&bus, 0x100, 0x10, &fake_ops, &f), 0);

	ck_assert(bus_dispatch(&bus, 0x100, &v, 1, false)); /* first byte */
	ck_assert_uint_eq(f.off, 0);
	ck_assert_uint_eq(v, 16);
	ck_assert(bus_dispatch(&bus, 0x10f, &v, 1, false)); /* last byte */
	ck_assert_uint_eq(f.off, 0xf);
	ck_assert_uint_eq(v, 16 + 0xf);
	ck_assert_uint_eq(f.reads, 2);

	v = 0x77;
	ck_assert(!bus_dispatch(&bus, 0xff, &v, 1, false));  /* just below */
	ck_assert(!bus_dispatch(&bus, 0x110, &v, 1, false)); /* just above */
	ck_assert_uint_eq(v, 0x77);                          /* untouched */
	ck_assert_uint_eq(f.reads, 2);
}
END_TEST

START_TEST(dispatch_passes_offset_len_data)
{
	struct fake f = { .id = 2 };
	uint32_t w = 0x11223344;
	uint64_t q = 0;

	ck_assert_int_eq(bus_register(&bus, 0xd0000000, 0x1000, &fake_ops, &f), 0);
	ck_assert(bus_dispatch(&bus, 0xd0000070, &w, 4, true));
	ck_assert_uint_eq(f.writes, 1);
	ck_assert_uint_eq(f.off, 0x70);
	ck_assert_uint_eq(f.len, 4);
	ck_assert(memcmp(f.wdata, &w, 4) == 0);

	ck_assert(bus_dispatch(&bus, 0xd0000ff8, &q, 8, false)); /* ends at the end */
	ck_assert_uint_eq(f.off, 0xff8);
	ck_assert_uint_eq(f.len, 8);
}
END_TEST

START_TEST(access_crossing_range_end_refused)
{
	struct fake a = { .id = 1 }, b = { .id = 2 };
	uint32_t w = 0xdeadbeef;

	ck_assert_int_eq(bus_register(&bus, 0x3f8, 8, &fake_ops, &a), 0);
	ck_assert_int_eq(bus_register(&bus, 0x400, 8, &fake_ops, &b), 0);
	ck_assert(!bus_dispatch(&bus, 0x3ff, &w, 2, false)); /* into the neighbour */
	ck_assert(!bus_dispatch(&bus, 0x3fe, &w, 4, true));
	ck_assert(!bus_dispatch(&bus, 0x406, &w, 4, false)); /* past the last */
	ck_assert(bus_dispatch(&bus, 0x3fe, &w, 2, false));  /* fits exactly */
	ck_assert_uint_eq(a.reads, 1);
	ck_assert_uint_eq(a.writes, 0);
	ck_assert_uint_eq(b.reads + b.writes, 0);
}
END_TEST

START_TEST(unregistered_addresses)
{
	struct fake f = { .id = 3 };
	uint64_t v = 0x0123456789abcdefULL;

	ck_assert(!bus_dispatch(&bus, 0, &v, 1, false));   /* empty bus */
	ck_assert(!bus_dispatch(&bus, 0x80, &v, 1, true));
	ck_assert_int_eq(bus_register(&bus, 0x1000, 0x100, &fake_ops, &f), 0);
	ck_assert(!bus_dispatch(&bus, 0, &v, 8, false));
	ck_assert(!bus_dispatch(&bus, 0xfff, &v, 1, false));
	ck_assert(!bus_dispatch(&bus, 0x1100, &v, 4, false));
	ck_assert(!bus_dispatch(&bus, UINT64_MAX, &v, 1, false));
	ck_assert(!bus_dispatch(&bus, UINT64_MAX - 3, &v, 8, false));
	ck_assert_uint_eq(v, 0x0123456789abcdefULL);
	ck_assert_uint_eq(f.reads + f.writes, 0);
}
END_TEST

START_TEST(overlaps_refused)
{
	struct fake f = { .id = 1 };

	ck_assert_int_eq(bus_register(&bus, 0x100, 0x10, &fake_ops, &f), 0);
	ck_assert_int_eq(bus_register(&bus, 0x120, 0x10, &fake_ops, &f), 0);

	/* same, inside, straddling either end, enclosing */
	ck_assert_int_eq(bus_register(&bus, 0x100, 0x10, &fake_ops, &f), -EEXIST);
	ck_assert_int_eq(bus_register(&bus, 0x104, 0x4, &fake_ops, &f), -EEXIST);
	ck_assert_int_eq(bus_register(&bus, 0xf8, 0x9, &fake_ops, &f), -EEXIST);
	ck_assert_int_eq(bus_register(&bus, 0x10f, 0x2, &fake_ops, &f), -EEXIST);
	ck_assert_int_eq(bus_register(&bus, 0x80, 0x100, &fake_ops, &f), -EEXIST);
	/* overlapping two existing ranges at once */
	ck_assert_int_eq(bus_register(&bus, 0x10c, 0x18, &fake_ops, &f), -EEXIST);
	/* a range inserted before existing ones that reaches into the first */
	ck_assert_int_eq(bus_register(&bus, 0x0, 0x101, &fake_ops, &f), -EEXIST);
	ck_assert_uint_eq(bus.n, 2);

	/* touching is not overlapping */
	ck_assert_int_eq(bus_register(&bus, 0xf0, 0x10, &fake_ops, &f), 0);
	ck_assert_int_eq(bus_register(&bus, 0x110, 0x10, &fake_ops, &f), 0);
	ck_assert_int_eq(bus_register(&bus, 0x130, 0x1, &fake_ops, &f), 0);
	ck_assert_uint_eq(bus.n, 5);
	check_sorted();
}
END_TEST

START_TEST(insert_before_existing_keeps_dispatch)
{
	struct fake a = { .id = 1 }, b = { .id = 2 }, c = { .id = 3 };
	uint8_t v;

	ck_assert_int_eq(bus_register(&bus, 0x300, 0x10, &fake_ops, &c), 0);
	ck_assert_int_eq(bus_register(&bus, 0x200, 0x10, &fake_ops, &b), 0);
	ck_assert_int_eq(bus_register(&bus, 0x100, 0x10, &fake_ops, &a), 0);
	check_sorted();
	ck_assert_ptr_eq(bus.r[0].opaque, &a);
	ck_assert_ptr_eq(bus.r[2].opaque, &c);

	ck_assert(bus_dispatch(&bus, 0x105, &v, 1, false));
	ck_assert(bus_dispatch(&bus, 0x20f, &v, 1, false));
	ck_assert(bus_dispatch(&bus, 0x300, &v, 1, false));
	ck_assert(!bus_dispatch(&bus, 0x250, &v, 1, false));
	ck_assert_uint_eq(a.reads, 1);
	ck_assert_uint_eq(b.reads, 1);
	ck_assert_uint_eq(c.reads, 1);
	ck_assert_uint_eq(a.off, 5);
	ck_assert_uint_eq(b.off, 0xf);
}
END_TEST

START_TEST(invalid_ranges)
{
	struct fake f = { 0 };

	ck_assert_int_eq(bus_register(&bus, 0x100, 0, &fake_ops, &f), -EINVAL);
	ck_assert_int_eq(bus_register(&bus, UINT64_MAX - 7, 0x10, &fake_ops, &f), -EINVAL);
	ck_assert_int_eq(bus_register(&bus, UINT64_MAX, 2, &fake_ops, &f), -EINVAL);
	ck_assert_uint_eq(bus.n, 0);
	/* the highest range that does not wrap */
	ck_assert_int_eq(bus_register(&bus, UINT64_MAX - 0xf, 0xf, &fake_ops, &f), 0);
	uint8_t v;
	ck_assert(bus_dispatch(&bus, UINT64_MAX - 1, &v, 1, false));
	ck_assert(!bus_dispatch(&bus, UINT64_MAX - 1, &v, 2, false));
}
END_TEST

START_TEST(capacity_and_many_ranges)
{
	static struct fake f[BUS_MAX_RANGES];
	uint8_t v;
	unsigned i, k;

	/* Register in a scrambled order (37 is coprime to 64). */
	for (i = 0; i < BUS_MAX_RANGES; i++) {
		k = (i * 37) % BUS_MAX_RANGES;
		f[k].id = (int)k;
		ck_assert_int_eq(bus_register(&bus, 0x1000 + k * 0x20, 0x10, &fake_ops, &f[k]), 0);
	}
	check_sorted();
	ck_assert_int_eq(bus_register(&bus, 0x100000, 1, &fake_ops, &f[0]), -ENOSPC);

	for (k = 0; k < BUS_MAX_RANGES; k++) {
		uint64_t base = 0x1000 + k * 0x20;

		ck_assert(bus_dispatch(&bus, base, &v, 1, false));
		ck_assert(bus_dispatch(&bus, base + 0xf, &v, 1, true));
		ck_assert(!bus_dispatch(&bus, base + 0x10, &v, 1, false)); /* gap */
		ck_assert_uint_eq(f[k].reads, 1);
		ck_assert_uint_eq(f[k].writes, 1);
		ck_assert_uint_eq(f[k].off, 0xf);
	}
}
END_TEST

START_TEST(missing_ops)
{
	uint32_t v = 0xffffffff;

	ck_assert_int_eq(bus_register(&bus, 0x80, 4, &no_ops, NULL), 0);
	ck_assert(bus_dispatch(&bus, 0x80, &v, 4, false)); /* claimed, reads 0 */
	ck_assert_uint_eq(v, 0);
	v = 0x1234;
	ck_assert(bus_dispatch(&bus, 0x81, &v, 1, true));  /* write discarded */
	ck_assert_uint_eq(v, 0x1234);
}
END_TEST

static Suite *bus_suite(void)
{
	Suite *s = suite_create("bus");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, register_and_dispatch_boundaries);
	tcase_add_test(tc, dispatch_passes_offset_len_data);
	tcase_add_test(tc, access_crossing_range_end_refused);
	tcase_add_test(tc, unregistered_addresses);
	tcase_add_test(tc, overlaps_refused);
	tcase_add_test(tc, insert_before_existing_keeps_dispatch);
	tcase_add_test(tc, invalid_ranges);
	tcase_add_test(tc, capacity_and_many_ranges);
	tcase_add_test(tc, missing_ops);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(bus_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
