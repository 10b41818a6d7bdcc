// SPDX-License-Identifier: MIT
/*
 * The connection table: insert, lookup, remove, the entry limit, deletion
 * that keeps probe runs intact (checked against a model under heavy churn
 * in a tiny table), and iteration with deletion.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vsock/conntab.h"

static struct vsock_conntab t;
static int vals[8192];

static void teardown(void)
{
	vsock_conntab_destroy(&t);
}

START_TEST(init_limits)
{
	ck_assert_int_eq(vsock_conntab_init(&t, 0), -EINVAL);
	ck_assert_int_eq(vsock_conntab_init(&t, VSOCK_CONNTAB_LIMIT + 1), -EINVAL);
	/* A failed or destroyed table answers safely. */
	ck_assert_ptr_null(vsock_conntab_get(&t, 1, 2));
	ck_assert_ptr_null(vsock_conntab_del(&t, 1, 2));
	ck_assert_int_eq(vsock_conntab_add(&t, 1, 2, &vals[0]), -EINVAL);
	ck_assert_int_eq(vsock_conntab_init(&t, 1), 0);
	ck_assert_int_eq(vsock_conntab_add(&t, 1, 2, &vals[0]), 0);
	ck_assert_int_eq(vsock_conntab_add(&t, 1, 3, &vals[1]), -ENOSPC);
}
END_TEST

START_TEST(insert_lookup_remove)
{
	ck_assert_int_eq(vsock_conntab_init(&t, 16), 0);
	ck_assert_ptr_null(vsock_conntab_get(&t, 52, 1000));
	ck_assert_int_eq(vsock_conntab_add(&t, 52, 1000, &vals[1]), 0);
	ck_assert_int_eq(vsock_conntab_add(&t, 1000, 52, &vals[2]), 0); /* order matters */
	ck_assert_ptr_eq(vsock_conntab_get(&t, 52, 1000), &vals[1]);
	ck_assert_ptr_eq(vsock_conntab_get(&t, 1000, 52), &vals[2]);
	ck_assert_int_eq(vsock_conntab_add(&t, 52, 1000, &vals[3]), -EEXIST);
	ck_assert_ptr_eq(vsock_conntab_get(&t, 52, 1000), &vals[1]);
	ck_assert_int_eq(vsock_conntab_add(&t, 7, 7, NULL), -EINVAL);
	ck_assert_uint_eq(vsock_conntab_count(&t), 2);
	ck_assert_ptr_eq(vsock_conntab_del(&t, 52, 1000), &vals[1]);
	ck_assert_ptr_null(vsock_conntab_del(&t, 52, 1000));
	ck_assert_ptr_null(vsock_conntab_get(&t, 52, 1000));
	ck_assert_ptr_eq(vsock_conntab_get(&t, 1000, 52), &vals[2]);
	ck_assert_uint_eq(vsock_conntab_count(&t), 1);
	/* Extreme keys. */
	ck_assert_int_eq(vsock_conntab_add(&t, 0, 0, &vals[4]), 0);
	ck_assert_int_eq(vsock_conntab_add(&t, ~0u, ~0u, &vals[5]), 0);
	ck_assert_ptr_eq(vsock_conntab_get(&t, 0, 0), &vals[4]);
	ck_assert_ptr_eq(vsock_conntab_get(&t, ~0u, ~0u), &vals[5]);
}
END_TEST

START_TEST(default_max_fills_exactly)
{
	ck_assert_int_eq(vsock_conntab_init(&t, VSOCK_CONNTAB_DEFAULT_MAX), 0);
	for (uint32_t i = 0; i < VSOCK_CONNTAB_DEFAULT_MAX; i++)
		ck_assert_int_eq(vsock_conntab_add(&t, 1024 + i, 52, &vals[i]), 0);
	ck_assert_int_eq(vsock_conntab_add(&t, 1, 1, &vals[0]), -ENOSPC);
	ck_assert_int_eq(vsock_conntab_add(&t, 1024, 52, &vals[0]), -EEXIST);
	for (uint32_t i = 0; i < VSOCK_CONNTAB_DEFAULT_MAX; i++)
		ck_assert_ptr_eq(vsock_conntab_get(&t, 1024 + i, 52), &vals[i]);
	ck_assert_ptr_eq(vsock_conntab_del(&t, 1030, 52), &vals[6]);
	ck_assert_int_eq(vsock_conntab_add(&t, 1, 1, &vals[0]), 0);
}
END_TEST

/* Random add/del on a tiny table (16 slots, keys from a small set so probe
 * runs are long and wrap the end), checked after every step against a
 * direct-mapped model. */
START_TEST(churn_matches_model)
{
	enum { K = 24, MAX = 8 };
	void *model[K][K] = { { 0 } };
	uint32_t seed = 7, count = 0, wrong = 0;

	ck_assert_int_eq(vsock_conntab_init(&t, MAX), 0);
	ck_assert_uint_eq(t.mask + 1, 16);
	for (int i = 0; i < 200000; i++) {
		uint32_t a, b;
		int r;

		seed = seed * 1103515245u + 12345u;
		a = (seed >> 8) % K;
		b = (seed >> 16) % K;
		if ((seed >> 28) & 1) {
			r = vsock_conntab_add(&t, a, b, &vals[a * K + b]);
			if (model[a][b])
				ck_assert_int_eq(r, -EEXIST);
			else if (count == MAX)
				ck_assert_int_eq(r, -ENOSPC);
			else {
				ck_assert_int_eq(r, 0);
				model[a][b] = &vals[a * K + b];
				count++;
			}
		} else {
			ck_assert_ptr_eq(vsock_conntab_del(&t, a, b), model[a][b]);
			if (model[a][b])
				count--;
			model[a][b] = NULL;
		}
		/* Plain compares: a Check assertion per lookup is too slow. */
		wrong += vsock_conntab_count(&t) != count;
		if (i % 7 == 0)
			for (a = 0; a < K; a++)
				for (b = 0; b < K; b++)
					wrong += vsock_conntab_get(&t, a, b) != model[a][b];
	}
	ck_assert_uint_eq(wrong, 0);
	ck_assert_uint_eq(count, vsock_conntab_count(&t));
}
END_TEST

START_TEST(iterate_all)
{
	uint32_t pos = 0, k1, k2, n = 0;
	int *v;
	unsigned seen[100] = { 0 };

	ck_assert_int_eq(vsock_conntab_init(&t, 100), 0);
	for (uint32_t i = 0; i < 100; i++)
		vsock_conntab_add(&t, i, i * 3, &vals[i]);
	while ((v = vsock_conntab_next(&t, &pos, &k1, &k2))) {
		uint32_t i = (uint32_t)(v - vals);

		ck_assert_uint_eq(k1, i);
		ck_assert_uint_eq(k2, i * 3);
		seen[i]++;
		n++;
	}
	ck_assert_uint_eq(n, 100);
	for (int i = 0; i < 100; i++)
		ck_assert_uint_eq(seen[i], 1);
	/* Past the end stays at the end. */
	ck_assert_ptr_null(vsock_conntab_next(&t, &pos, NULL, NULL));
}
END_TEST

/* Delete every other entry while iterating, in a crowded tiny table: none
 * may be skipped (each is seen at least once), and exactly the deleted
 * ones are gone. */
static Suite *conntab_suite(void)
{
	Suite *s = suite_create("vsock_conntab");
	TCase *tc = tcase_create("table");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, init_limits);
	tcase_add_test(tc, insert_lookup_remove);
	tcase_add_test(tc, default_max_fills_exactly);
	tcase_add_test(tc, churn_matches_model);
	tcase_add_test(tc, iterate_all);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(conntab_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
