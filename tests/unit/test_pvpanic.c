// SPDX-License-Identifier: MIT
/*
 * pvpanic: what Linux's drivers/misc/pvpanic does with the register
 * (devm_pvpanic_probe() reads the capabilities once, the panic notifier
 * writes PANICKED or CRASH_LOADED, 6.12's power-off handler SHUTDOWN), at
 * the ISA port and in MMIO space, and the action the VMM takes for each.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/bus.h"
#include "devices/pvpanic.h"
#include "base/layout.h"

static struct bus pio, mmio;
static struct pvpanic dev;
static unsigned calls;
static enum pvpanic_action last_action;
static uint8_t last_value;

static void on_event(void *opaque, enum pvpanic_action a, uint8_t v)
{
	ck_assert_ptr_eq(opaque, &calls);
	calls++;
	last_action = a;
	last_value = v;
}

static void setup(void)
{
	memset(&pio, 0, sizeof(pio));
	memset(&mmio, 0, sizeof(mmio));
	calls = 0;
	last_action = PVPANIC_IGNORE;
	last_value = 0;
	pvpanic_init(&dev, on_event, &calls);
	ck_assert_int_eq(pvpanic_register(&dev, &pio, PVPANIC_PORT, PVPANIC_PORT_LEN), 0);
	ck_assert_int_eq(pvpanic_register(&dev, &mmio, LAYOUT_PVPANIC_MMIO,
					  LAYOUT_PVPANIC_MMIO_SIZE), 0);
}

static void write8(struct bus *b, uint64_t addr, uint8_t v)
{
	ck_assert(bus_dispatch(b, addr, &v, 1, true));
}

START_TEST(event_bits_match_linux)
{
	/* include/uapi/misc/pvpanic.h */
	ck_assert_uint_eq(PVPANIC_PANICKED, 1);
	ck_assert_uint_eq(PVPANIC_CRASH_LOADED, 2);
	ck_assert_uint_eq(PVPANIC_SHUTDOWN, 4);
	ck_assert_uint_eq(PVPANIC_PORT, 0x505);
}
END_TEST

START_TEST(capabilities_read)
{
	uint8_t v = 0;

	ck_assert(bus_dispatch(&pio, PVPANIC_PORT, &v, 1, false));
	ck_assert_uint_eq(v, PVPANIC_EVENTS);
	v = 0;
	ck_assert(bus_dispatch(&mmio, LAYOUT_PVPANIC_MMIO, &v, 1, false));
	ck_assert_uint_eq(v, 7);
	ck_assert_uint_eq(calls, 0);
}
END_TEST

START_TEST(action_table)
{
	ck_assert_int_eq(pvpanic_action(0), PVPANIC_IGNORE);
	ck_assert_int_eq(pvpanic_action(PVPANIC_PANICKED), PVPANIC_PANIC);
	ck_assert_int_eq(pvpanic_action(PVPANIC_CRASH_LOADED), PVPANIC_CRASH_KERNEL);
	ck_assert_int_eq(pvpanic_action(PVPANIC_SHUTDOWN), PVPANIC_POWER_OFF);
	/* A panic outranks everything else written with it. */
	ck_assert_int_eq(pvpanic_action(PVPANIC_PANICKED | PVPANIC_SHUTDOWN), PVPANIC_PANIC);
	ck_assert_int_eq(pvpanic_action(PVPANIC_CRASH_LOADED | PVPANIC_SHUTDOWN),
			 PVPANIC_CRASH_KERNEL);
	/* Bits nobody defines are ignored (as QEMU does). */
	ck_assert_int_eq(pvpanic_action(0x08), PVPANIC_IGNORE);
	ck_assert_int_eq(pvpanic_action(0xf8), PVPANIC_IGNORE);
	ck_assert_int_eq(pvpanic_action(0xf9), PVPANIC_PANIC);
}
END_TEST

START_TEST(panic_through_port)
{
	write8(&pio, PVPANIC_PORT, PVPANIC_PANICKED);
	ck_assert_uint_eq(calls, 1);
	ck_assert_int_eq(last_action, PVPANIC_PANIC);
	ck_assert_uint_eq(last_value, 1);
}
END_TEST

START_TEST(events_through_mmio)
{
	write8(&mmio, LAYOUT_PVPANIC_MMIO, PVPANIC_PANICKED);
	ck_assert_int_eq(last_action, PVPANIC_PANIC);
	write8(&mmio, LAYOUT_PVPANIC_MMIO, PVPANIC_CRASH_LOADED);
	ck_assert_int_eq(last_action, PVPANIC_CRASH_KERNEL);
	write8(&mmio, LAYOUT_PVPANIC_MMIO, PVPANIC_SHUTDOWN);
	ck_assert_int_eq(last_action, PVPANIC_POWER_OFF);
	ck_assert_uint_eq(calls, 3);
}
END_TEST

START_TEST(nothing_for_unknown_or_zero)
{
	write8(&pio, PVPANIC_PORT, 0);
	write8(&pio, PVPANIC_PORT, 0x80);
	write8(&mmio, LAYOUT_PVPANIC_MMIO, 0x10);
	ck_assert_uint_eq(calls, 0);
}
END_TEST

/* One byte: nothing answers next to it, and a wider access does not fit. */
START_TEST(one_byte_register)
{
	uint32_t l = PVPANIC_PANICKED;
	uint8_t b = PVPANIC_PANICKED;

	ck_assert(!bus_dispatch(&pio, PVPANIC_PORT + 1, &b, 1, true));
	ck_assert(!bus_dispatch(&pio, PVPANIC_PORT - 1, &b, 1, true));
	ck_assert(!bus_dispatch(&mmio, LAYOUT_PVPANIC_MMIO, &l, 4, true));
	ck_assert(!bus_dispatch(&mmio, LAYOUT_PVPANIC_MMIO + 1, &b, 1, true));
	ck_assert_uint_eq(calls, 0);
}
END_TEST

/* A register registered wider than one byte: byte 0 only. */
START_TEST(wider_range_byte_zero_only)
{
	struct bus b = { 0 };
	uint32_t v = 0xffffffff;
	uint8_t one = PVPANIC_PANICKED;

	ck_assert_int_eq(pvpanic_register(&dev, &b, 0x1000, 4), 0);
	ck_assert(bus_dispatch(&b, 0x1000, &v, 4, false));
	ck_assert_uint_eq(v, PVPANIC_EVENTS);
	ck_assert(bus_dispatch(&b, 0x1002, &one, 1, true));
	ck_assert_uint_eq(calls, 0);
	v = 0x100 | PVPANIC_SHUTDOWN;
	ck_assert(bus_dispatch(&b, 0x1000, &v, 4, true));
	ck_assert_int_eq(last_action, PVPANIC_POWER_OFF);
}
END_TEST

START_TEST(refuses_taken_range)
{
	ck_assert_int_eq(pvpanic_register(&dev, &pio, PVPANIC_PORT, 1), -EEXIST);
}
END_TEST

static Suite *pvpanic_suite(void)
{
	Suite *s = suite_create("pvpanic");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, event_bits_match_linux);
	tcase_add_test(tc, capabilities_read);
	tcase_add_test(tc, action_table);
	tcase_add_test(tc, panic_through_port);
	tcase_add_test(tc, events_through_mmio);
	tcase_add_test(tc, nothing_for_unknown_or_zero);
	tcase_add_test(tc, one_byte_register);
	tcase_add_test(tc, wider_range_byte_zero_only);
	tcase_add_test(tc, refuses_taken_range);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(pvpanic_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
