// SPDX-License-Identifier: MIT
/*
 * i8042 controller through the PIO bus: the commands Linux 6.1's
 * drivers/input/serio/i8042.c sends while probing, and the two CPU-reset
 * paths (0xfe, and 0xd1 with output-port bit 0 clear).
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/bus.h"
#include "devices/i8042.h"

#define DATA 0x60
#define CMD  0x64

#define STR_OBF     0x01
#define STR_IBF     0x02
#define STR_SYS     0x04
#define STR_CMD     0x08
#define STR_UNLOCK  0x10
#define STR_AUXDATA 0x20

static struct bus bus;
static struct i8042 kbc;
static unsigned resets;

static uint8_t in8(uint16_t port)
{
	uint8_t v = 0;

	ck_assert(bus_dispatch(&bus, port, &v, 1, false));
	return v;
}

static void out8(uint16_t port, uint8_t v)
{
	ck_assert(bus_dispatch(&bus, port, &v, 1, true));
}

static void fake_reset(void *opaque)
{
	ck_assert_ptr_eq(opaque, &resets);
	resets++;
	/* The controller's lock must not be held here. */
	(void)in8(CMD);
}

static void setup(void)
{
	memset(&bus, 0, sizeof(bus));
	resets = 0;
	ck_assert_int_eq(i8042_init(&kbc, &bus, fake_reset, &resets), 0);
}

/* What Linux's i8042_command() does for a command with one result byte:
 * wait for IBF clear, write the command, wait for OBF, read the data. */
static uint8_t command_result(uint8_t cmd)
{
	ck_assert_uint_eq(in8(CMD) & STR_IBF, 0);
	out8(CMD, cmd);
	ck_assert_uint_ne(in8(CMD) & STR_OBF, 0);
	return in8(DATA);
}

START_TEST(status_after_reset)
{
	uint8_t st = in8(CMD);

	ck_assert_uint_eq(st & STR_OBF, 0);
	ck_assert_uint_eq(st & STR_IBF, 0);
	ck_assert_uint_ne(st & STR_SYS, 0);
	ck_assert_uint_ne(st & STR_UNLOCK, 0); /* else Linux: "Keylock active" */
	ck_assert_uint_ne(st, 0xff);           /* i8042_flush() would give up */
	ck_assert_uint_eq(resets, 0);
}
END_TEST

START_TEST(self_test_and_interface_tests)
{
	ck_assert_uint_eq(command_result(0xaa), 0x55);
	ck_assert_uint_eq(in8(CMD) & STR_OBF, 0);   /* reading emptied it */
	ck_assert_uint_eq(command_result(0xab), 0x00);
	ck_assert_uint_eq(command_result(0xa9), 0x00);
	ck_assert_uint_eq(in8(CMD) & STR_CMD, STR_CMD);
}
END_TEST

START_TEST(ctr_round_trip)
{
	uint8_t ctr = command_result(0x20);

	ck_assert_uint_eq(ctr & 0x04, 0x04);        /* system flag */
	/* i8042_controller_init() wants two equal reads in a row. */
	ck_assert_uint_eq(command_result(0x20), ctr);

	out8(CMD, 0x60);
	ck_assert_uint_eq(in8(CMD) & STR_IBF, 0);
	out8(DATA, 0x47);
	ck_assert_uint_eq(in8(CMD) & (STR_OBF | STR_CMD), 0);
	ck_assert_uint_eq(command_result(0x20), 0x47);

	/* The status system flag follows CTR bit 2. */
	out8(CMD, 0x60);
	out8(DATA, 0x43);
	ck_assert_uint_eq(in8(CMD) & STR_SYS, 0);
	ck_assert_uint_eq(command_result(0x20), 0x43);
	ck_assert_uint_eq(resets, 0);
}
END_TEST

START_TEST(port_enable_disable_bits)
{
	out8(CMD, 0xad);
	ck_assert_uint_eq(command_result(0x20) & 0x10, 0x10);
	out8(CMD, 0xae);
	ck_assert_uint_eq(command_result(0x20) & 0x10, 0);
	/* i8042_toggle_aux() checks these two */
	out8(CMD, 0xa7);
	ck_assert_uint_eq(command_result(0x20) & 0x20, 0x20);
	out8(CMD, 0xa8);
	ck_assert_uint_eq(command_result(0x20) & 0x20, 0);
	ck_assert_uint_eq(in8(CMD) & STR_OBF, 0);
}
END_TEST

START_TEST(aux_loop_echoes_with_auxdata)
{
	out8(CMD, 0xd3);
	out8(DATA, 0x5a);
	ck_assert_uint_eq(in8(CMD) & (STR_OBF | STR_AUXDATA), STR_OBF | STR_AUXDATA);
	ck_assert_uint_eq(in8(DATA), 0x5a);
	ck_assert_uint_eq(in8(CMD) & (STR_OBF | STR_AUXDATA), 0);

	out8(CMD, 0xd2);                      /* keyboard side: no AUXDATA */
	out8(DATA, 0xa5);
	ck_assert_uint_eq(in8(CMD) & (STR_OBF | STR_AUXDATA), STR_OBF);
	ck_assert_uint_eq(in8(DATA), 0xa5);
}
END_TEST

START_TEST(reset_on_fe)
{
	ck_assert_uint_eq(in8(CMD) & STR_IBF, 0); /* kb_wait() in reboot.c */
	out8(CMD, 0xfe);
	ck_assert_uint_eq(resets, 1);
	out8(CMD, 0xf0);                      /* pulse all four lines incl. reset */
	ck_assert_uint_eq(resets, 2);
	out8(CMD, 0xff);                      /* pulse none */
	ck_assert_uint_eq(resets, 2);
}
END_TEST

START_TEST(reset_on_output_port_write)
{
	out8(CMD, 0xd1);
	out8(DATA, 0x03);                     /* reset line high: nothing */
	ck_assert_uint_eq(resets, 0);
	out8(CMD, 0xd1);
	out8(DATA, 0x02);                     /* bit 0 low: reset */
	ck_assert_uint_eq(resets, 1);
	out8(DATA, 0x00);                     /* no pending command: a device byte */
	ck_assert_uint_eq(resets, 1);
}
END_TEST

START_TEST(unknown_commands_ignored)
{
	uint8_t ctr = command_result(0x20);

	for (unsigned c = 0; c < 0xf0; c++) {
		switch (c) {
		case 0x20: case 0xa9: case 0xaa: case 0xab:
		case 0x60: case 0xd1: case 0xd2: case 0xd3: case 0xd4:
		case 0xa7: case 0xa8: case 0xad: case 0xae:
			continue;
		}
		out8(CMD, (uint8_t)c);
		ck_assert_uint_eq(in8(CMD) & STR_OBF, 0);
	}
	ck_assert_uint_eq(resets, 0);
	ck_assert_uint_eq(command_result(0x20), ctr);
	/* a data byte with no command pending (keyboard write): no effect */
	out8(DATA, 0xff);
	ck_assert_uint_eq(in8(CMD) & STR_OBF, 0);
	ck_assert_uint_eq(command_result(0x20), ctr);
}
END_TEST

START_TEST(new_command_cancels_pending)
{
	out8(CMD, 0xd1);
	out8(CMD, 0x20);                      /* replaces the 0xd1 */
	(void)in8(DATA);
	out8(DATA, 0x00);                     /* not an output-port write now */
	ck_assert_uint_eq(resets, 0);
}
END_TEST

START_TEST(linux_probe_sequence)
{
	unsigned char param;
	int i;

	/* i8042_controller_check(): flush */
	for (i = 0; (in8(CMD) & STR_OBF) && i < 16; i++)
		(void)in8(DATA);
	ck_assert_int_lt(i, 16);
	/* i8042_controller_selftest() */
	ck_assert_uint_eq(command_result(0xaa), 0x55);
	/* i8042_controller_init(): CTR, keyboard disabled, written back */
	param = command_result(0x20);
	param = (uint8_t)((param | 0x10) & ~0x01);
	out8(CMD, 0x60);
	out8(DATA, param);
	/* i8042_check_mux(): three AUX loops, a plain echo means "no MUX" */
	const uint8_t mux[3] = { 0xf0, 0x56, 0xa4 };
	for (i = 0; i < 3; i++) {
		out8(CMD, 0xd3);
		out8(DATA, mux[i]);
		ck_assert_uint_eq(in8(CMD) & (STR_OBF | STR_AUXDATA), STR_OBF | STR_AUXDATA);
		ck_assert_uint_eq(in8(DATA), mux[i]);
	}
	ck_assert_uint_eq(command_result(0x20), param);
	ck_assert_uint_eq(resets, 0);
}
END_TEST

START_TEST(only_two_ports)
{
	uint8_t v = 0xab;

	/* 0x61 is the in-kernel PIT's; 0x62, 0x63 are nobody's */
	for (uint16_t p = 0x61; p < 0x64; p++) {
		ck_assert(!bus_dispatch(&bus, p, &v, 1, false));
		ck_assert(!bus_dispatch(&bus, p, &v, 1, true));
	}
	ck_assert_uint_eq(v, 0xab);
	ck_assert(!bus_dispatch(&bus, 0x5f, &v, 1, false));
	ck_assert(!bus_dispatch(&bus, 0x65, &v, 1, false));
	uint16_t w;
	ck_assert(!bus_dispatch(&bus, DATA, &w, 2, false));
	ck_assert(!bus_dispatch(&bus, CMD, &w, 2, true));
	ck_assert_uint_eq(bus.n, 2);
}
END_TEST

START_TEST(init_refuses_taken_ports)
{
	struct bus b2 = { 0 };
	struct i8042 k2;
	static const struct bus_ops none = { 0 };

	ck_assert_int_eq(bus_register(&b2, 0x64, 1, &none, NULL), 0);
	ck_assert_int_eq(i8042_init(&k2, &b2, NULL, NULL), -EEXIST);
	/* Without a reset callback the command is simply ignored. */
	struct bus b3 = { 0 };
	struct i8042 k3;
	uint8_t v = 0xfe;
	ck_assert_int_eq(i8042_init(&k3, &b3, NULL, NULL), 0);
	ck_assert(bus_dispatch(&b3, CMD, &v, 1, true));
}
END_TEST

static Suite *i8042_suite(void)
{
	Suite *s = suite_create("i8042");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, status_after_reset);
	tcase_add_test(tc, self_test_and_interface_tests);
	tcase_add_test(tc, ctr_round_trip);
	tcase_add_test(tc, port_enable_disable_bits);
	tcase_add_test(tc, aux_loop_echoes_with_auxdata);
	tcase_add_test(tc, reset_on_fe);
	tcase_add_test(tc, reset_on_output_port_write);
	tcase_add_test(tc, unknown_commands_ignored);
	tcase_add_test(tc, new_command_cancels_pending);
	tcase_add_test(tc, linux_probe_sequence);
	tcase_add_test(tc, only_two_ports);
	tcase_add_test(tc, init_refuses_taken_ports);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(i8042_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
