// SPDX-License-Identifier: MIT
/*
 * Panic detection by reboot mode (vmm/panic_reboot.c): which command lines
 * allow it, where "reboot=panic_warm" goes, and the flag word in guest RAM
 * that Linux's native_machine_emergency_restart() writes.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/guest_mem.h"
#include "vmm/panic_reboot.h"

START_TEST(applicable)
{
	ck_assert(panic_reboot_applicable(""));
	ck_assert(panic_reboot_applicable("console=ttyS0 reboot=k panic=1"));
	ck_assert(panic_reboot_applicable("reboot=k,cold"));
	ck_assert(panic_reboot_applicable("reboot=panic_warm"));
	ck_assert(panic_reboot_applicable("reboot=k,panic_warm,s0"));
	ck_assert(panic_reboot_applicable("reboot=panic_w"));
	ck_assert(panic_reboot_applicable("xreboot=w"));
	/* After "--" the words are init's. */
	ck_assert(panic_reboot_applicable("console=ttyS0 -- reboot=w"));
	/* Inside quotes it is one word: not a reboot= parameter. */
	ck_assert(panic_reboot_applicable("foo=\"a reboot=w\""));
	/* Every reboot warm: the flag no longer means a panic. */
	ck_assert(!panic_reboot_applicable("reboot=w"));
	ck_assert(!panic_reboot_applicable("reboot=warm"));
	ck_assert(!panic_reboot_applicable("console=ttyS0 reboot=k,warm panic=1"));
	ck_assert(!panic_reboot_applicable("reboot=k reboot=w"));
	ck_assert(!panic_reboot_applicable("reboot=panic_cold,w"));
	ck_assert(!panic_reboot_applicable("reboot=\"k,w\""));
	ck_assert(!panic_reboot_applicable("\treboot=w\n"));
}
END_TEST

static void ck_add(const char *in, const char *want)
{
	char buf[256];

	strcpy(buf, in);
	ck_assert_int_eq(panic_reboot_add(buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, want);
}

START_TEST(add)
{
	ck_add("", "reboot=panic_warm");
	ck_add("console=ttyS0 reboot=k panic=1",
	       "console=ttyS0 reboot=k panic=1 reboot=panic_warm");
	ck_add("a ", "a reboot=panic_warm");
	ck_add("a -- b c", "a reboot=panic_warm -- b c");
	ck_add("-- b", "reboot=panic_warm -- b");
	ck_add("a --b", "a --b reboot=panic_warm");
	ck_add("a=\"x -- y\"", "a=\"x -- y\" reboot=panic_warm");
}
END_TEST

START_TEST(add_too_long)
{
	char buf[24] = "console=ttyS0";

	/* 13 + 1 + 17 + NUL does not fit in 24: unchanged. */
	ck_assert_int_eq(panic_reboot_add(buf, sizeof(buf)), -ENAMETOOLONG);
	ck_assert_str_eq(buf, "console=ttyS0");
	/* Exactly fits: "ab" + " " + 17 + NUL = 21. */
	char small[21] = "ab";

	ck_assert_int_eq(panic_reboot_add(small, sizeof(small)), 0);
	ck_assert_str_eq(small, "ab reboot=panic_warm");
	char tiny[20] = "ab";

	ck_assert_int_eq(panic_reboot_add(tiny, sizeof(tiny)), -ENAMETOOLONG);
}
END_TEST

START_TEST(flag_word)
{
	static uint8_t ram[0x1000];
	struct guest_mem gm;

	gm_init_with(&gm, ram, sizeof(ram));
	ck_assert(!panic_reboot_seen(&gm));
	/* Little-endian u16 0x1234 at 0x472, as Linux stores it. */
	ram[0x472] = 0x34;
	ram[0x473] = 0x12;
	ck_assert(panic_reboot_seen(&gm));
	ram[0x473] = 0x00;
	ck_assert(!panic_reboot_seen(&gm));
	ram[0x472] = 0x12;
	ram[0x473] = 0x34; /* byte-swapped: not the flag */
	ck_assert(!panic_reboot_seen(&gm));
}
END_TEST

START_TEST(flag_outside_ram)
{
	static uint8_t ram[0x400];
	struct guest_mem gm;

	gm_init_with(&gm, ram, sizeof(ram));
	ck_assert(!panic_reboot_seen(&gm));
}
END_TEST

static Suite *panic_reboot_suite(void)
{
	Suite *s = suite_create("panic_reboot");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, applicable);
	tcase_add_test(tc, add);
	tcase_add_test(tc, add_too_long);
	tcase_add_test(tc, flag_word);
	tcase_add_test(tc, flag_outside_ram);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(panic_reboot_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
