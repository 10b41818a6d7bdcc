// SPDX-License-Identifier: MIT
/* iovec helpers: windows and copies stay inside the list. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "vsock/iov.h"

START_TEST(iov_slice_and_copy)
{
	uint8_t a[4] = "abcd", b[3] = "efg", c[5] = "hijkl";
	struct iovec iov[3] = { { a, 4 }, { b, 3 }, { c, 5 } }, out[3];
	char buf[16] = { 0 };
	size_t covered;
	unsigned n;

	ck_assert_uint_eq(vsock_iov_len(iov, 3), 12);
	n = vsock_iov_slice(iov, 3, 2, 7, out, 3, &covered);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(covered, 7);
	ck_assert_ptr_eq(out[0].iov_base, a + 2);
	ck_assert_uint_eq(out[0].iov_len, 2);
	ck_assert_uint_eq(out[1].iov_len, 3);
	ck_assert_ptr_eq(out[2].iov_base, c);
	ck_assert_uint_eq(out[2].iov_len, 2);

	/* out[] too small: stops early, says how much it covered. */
	n = vsock_iov_slice(iov, 3, 0, 12, out, 2, &covered);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(covered, 7);
	/* Past the end. */
	n = vsock_iov_slice(iov, 3, 10, 100, out, 3, &covered);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(covered, 2);
	n = vsock_iov_slice(iov, 3, 12, 1, out, 3, &covered);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(covered, 0);

	ck_assert_uint_eq(vsock_iov_to_buf(iov, 3, 3, buf, 6), 6);
	ck_assert_str_eq(buf, "defghi");
	ck_assert_uint_eq(vsock_iov_to_buf(iov, 3, 11, buf, 6), 1);
	ck_assert_uint_eq(vsock_iov_from_buf(iov, 3, 6, "XYZ", 3), 3);
	ck_assert_uint_eq(b[2], 'X');
	ck_assert_uint_eq(c[0], 'Y');
	ck_assert_uint_eq(c[1], 'Z');
	ck_assert_uint_eq(vsock_iov_from_buf(iov, 3, 12, "Q", 1), 0);
}
END_TEST

START_TEST(iov_len_saturates)
{
	struct iovec iov[2] = { { NULL, SIZE_MAX - 1 }, { NULL, 5 } };

	ck_assert_uint_eq(vsock_iov_len(iov, 2), SIZE_MAX);
}
END_TEST

static Suite *iov_suite(void)
{
	Suite *s = suite_create("vsock_iov");
	TCase *tc = tcase_create("iov");

	tcase_add_test(tc, iov_slice_and_copy);
	tcase_add_test(tc, iov_len_saturates);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(iov_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
