// SPDX-License-Identifier: MIT
/*
 * The isa-debug-exit-compatible port: QEMU's status rule (value << 1) | 1
 * as a parent sees it (low 8 bits), every access width at every port of
 * 0xf4..0xf7, reads of 0, and nothing registered outside the range.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/bus.h"
#include "devices/debug_exit.h"

static struct bus bus;
static struct debug_exit dev;
static unsigned calls;
static uint32_t last_value;
static int last_status;

static void on_exit_cb(void *opaque, uint32_t value, int status)
{
	ck_assert_ptr_eq(opaque, &calls);
	calls++;
	last_value = value;
	last_status = status;
}

static void setup(void)
{
	memset(&bus, 0, sizeof(bus));
	calls = 0;
	last_value = 0xdeadbeef;
	last_status = -1;
	ck_assert_int_eq(debug_exit_init(&dev, &bus, DEBUG_EXIT_PORT, on_exit_cb, &calls), 0);
}

START_TEST(status_rule)
{
	/* exit((V << 1) | 1) and the parent's WEXITSTATUS: low 8 bits. */
	ck_assert_int_eq(debug_exit_status(0), 1);
	ck_assert_int_eq(debug_exit_status(1), 3);
	ck_assert_int_eq(debug_exit_status(5), 11);
	ck_assert_int_eq(debug_exit_status(0x3f), 0x7f);
	ck_assert_int_eq(debug_exit_status(127), 255);
	ck_assert_int_eq(debug_exit_status(128), 1);
	ck_assert_int_eq(debug_exit_status(0x80000000u), 1);
	ck_assert_int_eq(debug_exit_status(0xffffffffu), 255);
	for (uint32_t v = 0; v < 1024; v++) {
		int s = debug_exit_status(v);

		ck_assert_int_eq(s & 1, 1);
		ck_assert_int_ge(s, 1);
		ck_assert_int_le(s, 255);
		ck_assert_int_eq(s, (int)(((v << 1) | 1) & 0xff));
	}
}
END_TEST

START_TEST(byte_write)
{
	uint8_t v = 5;

	ck_assert(bus_dispatch(&bus, 0xf4, &v, 1, true));
	ck_assert_uint_eq(calls, 1);
	ck_assert_uint_eq(last_value, 5);
	ck_assert_int_eq(last_status, 11);
}
END_TEST

START_TEST(wide_writes_little_endian)
{
	uint16_t w = 0x0102;
	uint32_t l = 0x11223344;

	ck_assert(bus_dispatch(&bus, 0xf4, &w, 2, true));
	ck_assert_uint_eq(last_value, 0x0102);
	ck_assert_int_eq(last_status, (0x0102 * 2 + 1) & 0xff);
	ck_assert(bus_dispatch(&bus, 0xf4, &l, 4, true));
	ck_assert_uint_eq(last_value, 0x11223344);
	ck_assert_int_eq(last_status, 0x89);
	ck_assert_uint_eq(calls, 2);
}
END_TEST

/* QEMU ignores which port of the range was written. */
START_TEST(every_port_of_the_range)
{
	for (uint16_t port = 0xf4; port <= 0xf7; port++) {
		uint8_t v = (uint8_t)port;

		ck_assert(bus_dispatch(&bus, port, &v, 1, true));
		ck_assert_uint_eq(last_value, port);
	}
	ck_assert_uint_eq(calls, 4);
}
END_TEST

START_TEST(reads_zero_and_never_exit)
{
	uint32_t v = 0xffffffff;
	uint8_t b = 0xff;

	ck_assert(bus_dispatch(&bus, 0xf4, &v, 4, false));
	ck_assert_uint_eq(v, 0);
	ck_assert(bus_dispatch(&bus, 0xf7, &b, 1, false));
	ck_assert_uint_eq(b, 0);
	ck_assert_uint_eq(calls, 0);
}
END_TEST

START_TEST(only_its_ports)
{
	uint8_t v = 1;
	uint32_t l = 1;

	ck_assert(!bus_dispatch(&bus, 0xf3, &v, 1, true));
	ck_assert(!bus_dispatch(&bus, 0xf8, &v, 1, true));
	/* A 4-byte access that runs past 0xf7. */
	ck_assert(!bus_dispatch(&bus, 0xf6, &l, 4, true));
	ck_assert_uint_eq(calls, 0);
}
END_TEST

START_TEST(refuses_taken_ports)
{
	struct debug_exit other;

	ck_assert_int_eq(debug_exit_init(&other, &bus, 0xf6, on_exit_cb, &calls), -EEXIST);
}
END_TEST

START_TEST(no_callback)
{
	struct bus b2 = { 0 };
	struct debug_exit d2;
	uint8_t v = 1;

	ck_assert_int_eq(debug_exit_init(&d2, &b2, DEBUG_EXIT_PORT, NULL, NULL), 0);
	ck_assert(bus_dispatch(&b2, 0xf4, &v, 1, true));
}
END_TEST

static Suite *debug_exit_suite(void)
{
	Suite *s = suite_create("debug_exit");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, status_rule);
	tcase_add_test(tc, byte_write);
	tcase_add_test(tc, wide_writes_little_endian);
	tcase_add_test(tc, every_port_of_the_range);
	tcase_add_test(tc, reads_zero_and_never_exit);
	tcase_add_test(tc, only_its_ports);
	tcase_add_test(tc, refuses_taken_ports);
	tcase_add_test(tc, no_callback);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(debug_exit_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
