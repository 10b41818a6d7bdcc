// SPDX-License-Identifier: MIT
/* Host port allocator: range, uniqueness, wrap-around, exhaustion. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "vsock/port_alloc.h"

static struct vsock_port_alloc pa;

static void pa_teardown(void)
{
	vsock_port_alloc_destroy(&pa);
}

START_TEST(ports_in_range_and_sequential)
{
	uint32_t p;

	ck_assert_int_eq(vsock_port_alloc_init(&pa, 16, 0), 0); /* 0 → clamped */
	for (uint32_t i = 0; i < 16; i++) {
		ck_assert_int_eq(vsock_port_alloc(&pa, &p), 0);
		ck_assert_uint_eq(p, VSOCK_HOST_PORT_FIRST + i);
	}
	ck_assert_uint_eq(vsock_conntab_count(&pa.used), 16);
}
END_TEST

START_TEST(ports_exhaustion)
{
	uint32_t p, first;

	ck_assert_int_eq(vsock_port_alloc_init(&pa, 8, VSOCK_HOST_PORT_FIRST), 0);
	ck_assert_int_eq(vsock_port_alloc(&pa, &first), 0);
	for (int i = 1; i < 8; i++)
		ck_assert_int_eq(vsock_port_alloc(&pa, &p), 0);
	ck_assert_int_eq(vsock_port_alloc(&pa, &p), -ENOSPC);
	vsock_port_release(&pa, first);
	ck_assert_int_eq(vsock_port_alloc(&pa, &p), 0);
	ck_assert_uint_eq(p, VSOCK_HOST_PORT_FIRST + 8); /* round-robin, not LIFO */
	ck_assert_int_eq(vsock_port_alloc(&pa, &p), -ENOSPC);
	/* Releasing a port never handed out changes nothing. */
	vsock_port_release(&pa, 12345);
	vsock_port_release(&pa, VSOCK_HOST_PORT_FIRST + 100);
	ck_assert_uint_eq(vsock_conntab_count(&pa.used), 8);
	ck_assert_int_eq(vsock_port_alloc(&pa, &p), -ENOSPC);
}
END_TEST

START_TEST(ports_wrap_around)
{
	uint32_t p;

	ck_assert_int_eq(vsock_port_alloc_init(&pa, 8, VSOCK_HOST_PORT_END - 2), 0);
	ck_assert_int_eq(vsock_port_alloc(&pa, &p), 0);
	ck_assert_uint_eq(p, VSOCK_HOST_PORT_END - 2);
	ck_assert_int_eq(vsock_port_alloc(&pa, &p), 0);
	ck_assert_uint_eq(p, VSOCK_HOST_PORT_END - 1);
	ck_assert_int_eq(vsock_port_alloc(&pa, &p), 0);
	ck_assert_uint_eq(p, VSOCK_HOST_PORT_FIRST); /* never 2^31 */
	/* Init with a start outside the range is clamped. */
	vsock_port_alloc_destroy(&pa);
	ck_assert_int_eq(vsock_port_alloc_init(&pa, 8, VSOCK_HOST_PORT_END), 0);
	ck_assert_int_eq(vsock_port_alloc(&pa, &p), 0);
	ck_assert_uint_eq(p, VSOCK_HOST_PORT_FIRST);
}
END_TEST

START_TEST(ports_skip_in_use_after_wrap)
{
	uint32_t a, b, p;

	ck_assert_int_eq(vsock_port_alloc_init(&pa, 8, VSOCK_HOST_PORT_FIRST), 0);
	vsock_port_alloc(&pa, &a);
	vsock_port_alloc(&pa, &b);
	vsock_port_alloc(&pa, &p);
	vsock_port_release(&pa, b);
	/* The counter comes round again (after 2^30 allocations in real
	 * life): ports still in use are skipped, freed ones reused. */
	pa.next = a;
	ck_assert_int_eq(vsock_port_alloc(&pa, &p), 0);
	ck_assert_uint_eq(p, b);
	ck_assert_int_eq(vsock_port_alloc(&pa, &p), 0);
	ck_assert_uint_eq(p, a + 3);
}
END_TEST

START_TEST(ports_unique_under_churn)
{
	enum { MAX = 64 };
	uint32_t held[MAX];
	unsigned n = 0, wrong = 0;
	uint32_t seed = 99;

	ck_assert_int_eq(vsock_port_alloc_init(&pa, MAX, VSOCK_HOST_PORT_END - 500), 0);
	for (int i = 0; i < 50000; i++) {
		seed = seed * 1103515245u + 12345u;
		if ((seed >> 16) % 3 != 0 && n < MAX) {
			uint32_t p;

			/* Plain compares: Check asserts are slow in loops. */
			wrong += vsock_port_alloc(&pa, &p) != 0;
			wrong += p < VSOCK_HOST_PORT_FIRST || p >= VSOCK_HOST_PORT_END;
			for (unsigned j = 0; j < n; j++)
				wrong += held[j] == p;
			held[n++] = p;
		} else if (n > 0) {
			unsigned j = (seed >> 4) % n;

			vsock_port_release(&pa, held[j]);
			held[j] = held[--n];
		} else {
			continue;
		}
		/* Now and then jump the counter back onto live ports. */
		if (i % 1000 == 0 && n > 0)
			pa.next = held[0];
		wrong += vsock_conntab_count(&pa.used) != n;
	}
	ck_assert_uint_eq(wrong, 0);
}
END_TEST

static Suite *port_alloc_suite(void)
{
	Suite *s = suite_create("vsock_port_alloc");
	TCase *tc = tcase_create("ports");

	tcase_add_checked_fixture(tc, NULL, pa_teardown);
	tcase_add_test(tc, ports_in_range_and_sequential);
	tcase_add_test(tc, ports_exhaustion);
	tcase_add_test(tc, ports_wrap_around);
	tcase_add_test(tc, ports_skip_in_use_after_wrap);
	tcase_add_test(tc, ports_unique_under_churn);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(port_alloc_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
