// SPDX-License-Identifier: MIT
/*
 * --timeout (vmm/timeout.c) on a real event loop, without KVM: the timer
 * ends the VM through vm_request_exit() with VMM_EXIT_TIMEOUT and its one
 * line, not before its time, and an earlier exit request wins.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmm/timeout.h"
#include "vmm/vm.h"

static struct vm vm;
static struct vm_timeout t;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void setup(void)
{
	memset(&vm, 0, sizeof(vm));
	ck_assert_int_eq(evloop_create(&vm.ev), 0);
}

static void teardown(void)
{
	if (t.fd >= 0)
		close(t.fd);
	evloop_destroy(vm.ev);
}

START_TEST(fires_with_its_status_and_line)
{
	uint64_t t0 = now_ms(), dt;

	ck_assert_int_eq(vm_timeout_start(&t, &vm, 1), 0);
	ck_assert_int_ge(t.fd, 0);
	ck_assert_int_eq(evloop_run(vm.ev), 0);
	dt = now_ms() - t0;
	ck_assert(atomic_load(&vm.exiting));
	ck_assert_int_eq(vm.exit_code, VMM_EXIT_TIMEOUT);
	ck_assert_int_eq(vm.exit_code, 124);
	ck_assert_str_eq(vm.exit_msg, "timeout: the guest still ran after 1 s; stopped it");
	/* Not early (no upper bound: a loaded machine may be late). */
	ck_assert_uint_ge(dt, 990);
}
END_TEST

START_TEST(zero_means_none)
{
	ck_assert_int_eq(vm_timeout_start(&t, &vm, 0), 0);
	ck_assert_int_eq(t.fd, -1);
}
END_TEST

static void stop_soon(void *opaque)
{
	vm_request_exit(opaque, VMM_EXIT_OK, NULL);
}

/* Another ending first: the timeout changes nothing afterwards. */
START_TEST(earlier_exit_wins)
{
	ck_assert_int_eq(vm_timeout_start(&t, &vm, 1), 0);
	ck_assert_int_eq(evloop_call(vm.ev, stop_soon, &vm), 0);
	ck_assert_int_eq(evloop_run(vm.ev), 0);
	ck_assert_int_eq(vm.exit_code, VMM_EXIT_OK);
	ck_assert_str_eq(vm.exit_msg, "");
	usleep(1100 * 1000);
	vm_request_exit(&vm, VMM_EXIT_TIMEOUT, "late");
	ck_assert_int_eq(vm.exit_code, VMM_EXIT_OK);
}
END_TEST

START_TEST(large_values)
{
	/* The largest accepted value arms without overflow. */
	ck_assert_int_eq(vm_timeout_start(&t, &vm, 0xffffffffull), 0);
	ck_assert_int_ge(t.fd, 0);
}
END_TEST

static Suite *timeout_suite(void)
{
	Suite *s = suite_create("timeout");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, fires_with_its_status_and_line);
	tcase_add_test(tc, zero_means_none);
	tcase_add_test(tc, earlier_exit_wins);
	tcase_add_test(tc, large_values);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(timeout_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
