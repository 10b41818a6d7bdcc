// SPDX-License-Identifier: MIT
/*
 * The per-connection guest → host buffer: bytes come out in order across
 * wrap-around and growth, the limit holds, memory is released when empty.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vsock/iov.h"
#include "vsock/txbuf.h"

static struct vsock_txbuf tb;

static void teardown(void)
{
	vsock_txbuf_free(&tb);
}

/* Pop n bytes through peek/consume into out. */
static size_t drain(void *out, size_t n)
{
	struct iovec v[2];
	unsigned k = vsock_txbuf_peek(&tb, v);
	size_t done = 0;

	for (unsigned i = 0; i < k && done < n; i++) {
		size_t c = v[i].iov_len < n - done ? v[i].iov_len : n - done;

		memcpy((char *)out + done, v[i].iov_base, c);
		done += c;
	}
	vsock_txbuf_consume(&tb, done);
	return done;
}

START_TEST(empty_costs_nothing)
{
	struct iovec v[2];

	vsock_txbuf_init(&tb, 1000);
	ck_assert_uint_eq(vsock_txbuf_len(&tb), 0);
	ck_assert_uint_eq(vsock_txbuf_peek(&tb, v), 0);
	ck_assert_ptr_null(tb.buf);
	ck_assert_int_eq(vsock_txbuf_push(&tb, "abc", 3), 0);
	ck_assert_ptr_nonnull(tb.buf);
	vsock_txbuf_consume(&tb, 3);
	ck_assert_ptr_null(tb.buf);
	ck_assert_int_eq(vsock_txbuf_push(&tb, "", 0), 0);
	ck_assert_ptr_null(tb.buf);
}
END_TEST

START_TEST(limit_holds)
{
	static char big[10000];

	vsock_txbuf_init(&tb, 5000);
	ck_assert_int_eq(vsock_txbuf_push(&tb, big, 5001), -ENOSPC);
	ck_assert_uint_eq(vsock_txbuf_len(&tb), 0);
	ck_assert_int_eq(vsock_txbuf_push(&tb, big, 4999), 0);
	ck_assert_int_eq(vsock_txbuf_push(&tb, big, 2), -ENOSPC);
	ck_assert_int_eq(vsock_txbuf_push(&tb, big, 1), 0);
	ck_assert_uint_eq(vsock_txbuf_len(&tb), 5000);
	ck_assert_uint_le(tb.cap, 5000);
}
END_TEST

START_TEST(push_iov_offsets)
{
	char a[] = "hello", b[] = " world";
	struct iovec iov[2] = { { a, 5 }, { b, 6 } };
	char out[16] = { 0 };

	vsock_txbuf_init(&tb, 100);
	ck_assert_int_eq(vsock_txbuf_push_iov(&tb, iov, 2, 3, 5), 0);
	ck_assert_uint_eq(drain(out, sizeof(out)), 5);
	ck_assert_str_eq(out, "lo wo");
	ck_assert_int_eq(vsock_txbuf_push_iov(&tb, iov, 2, 3, 9), -EINVAL);
	ck_assert_int_eq(vsock_txbuf_push_iov(&tb, iov, 2, 12, 0), 0);
	ck_assert_uint_eq(vsock_txbuf_len(&tb), 0);
}
END_TEST

/* Random pushes and pops against a model, with a limit that is not a power
 * of two, so the ring wraps and grows while holding wrapped data. */
START_TEST(fifo_model)
{
	enum { MAX = 70000 };
	static uint8_t model[1 << 24], in[20000], out[20000];
	size_t m_head = 0, m_tail = 0;
	uint32_t seed = 4242, wrong = 0;
	uint8_t next = 0;

	vsock_txbuf_init(&tb, MAX);
	for (int i = 0; i < 20000 && m_tail + sizeof(in) < sizeof(model); i++) {
		size_t n;

		seed = seed * 1103515245u + 12345u;
		n = (seed >> 8) % sizeof(in);
		if ((seed >> 4) & 1) {
			int r;

			for (size_t j = 0; j < n; j++)
				in[j] = next++;
			r = vsock_txbuf_push(&tb, in, n);
			if (m_tail - m_head + n > MAX) {
				wrong += r != -ENOSPC;
				next = (uint8_t)(next - n);
			} else {
				wrong += r != 0;
				memcpy(model + m_tail, in, n);
				m_tail += n;
			}
		} else {
			size_t got = drain(out, n);

			wrong += got != (n < m_tail - m_head ? n : m_tail - m_head);
			wrong += memcmp(out, model + m_head, got) != 0;
			m_head += got;
		}
		wrong += vsock_txbuf_len(&tb) != m_tail - m_head;
		wrong += tb.cap > MAX;
	}
	ck_assert_uint_eq(wrong, 0);
	ck_assert_uint_gt(m_head, 10u * MAX);
}
END_TEST

/* Pop the oldest complete message into out: its length. */
static uint32_t pop_msg(void *out, bool *eor)
{
	uint32_t len;
	struct iovec v[2], w[2];
	unsigned k;
	size_t done = 0;

	ck_assert(vsock_txbuf_msg_peek(&tb, &len, eor));
	k = vsock_txbuf_peek(&tb, v);
	k = vsock_iov_slice(v, k, 0, len, w, 2, NULL);
	for (unsigned i = 0; i < k; i++) {
		memcpy((char *)out + done, w[i].iov_base, w[i].iov_len);
		done += w[i].iov_len;
	}
	ck_assert_uint_eq(done, len);
	vsock_txbuf_msg_consume(&tb);
	return len;
}

START_TEST(messages_keep_boundaries)
{
	char out[64];
	bool eor;

	vsock_txbuf_init(&tb, 100);
	ck_assert_int_eq(vsock_txbuf_push(&tb, "ab", 2), 0);
	ck_assert_int_eq(vsock_txbuf_push(&tb, "cd", 2), 0);
	ck_assert_uint_eq(vsock_txbuf_msgs(&tb), 0);
	ck_assert_int_eq(vsock_txbuf_msg_end(&tb, true), 0);
	ck_assert_int_eq(vsock_txbuf_msg_end(&tb, false), 0); /* empty message */
	ck_assert_int_eq(vsock_txbuf_push(&tb, "efg", 3), 0);
	ck_assert_int_eq(vsock_txbuf_msg_end(&tb, false), 0);
	ck_assert_int_eq(vsock_txbuf_push(&tb, "partial", 7), 0);
	ck_assert_uint_eq(vsock_txbuf_msgs(&tb), 3);
	ck_assert_uint_eq(pop_msg(out, &eor), 4);
	ck_assert_mem_eq(out, "abcd", 4);
	ck_assert(eor);
	ck_assert_uint_eq(pop_msg(out, &eor), 0);
	ck_assert(!eor);
	ck_assert_uint_eq(pop_msg(out, &eor), 3);
	ck_assert_mem_eq(out, "efg", 3);
	ck_assert(!vsock_txbuf_msg_peek(&tb, &(uint32_t){ 0 }, &eor));
	ck_assert_uint_eq(vsock_txbuf_len(&tb), 7);
	ck_assert_uint_eq(vsock_txbuf_drop_partial(&tb), 7);
	ck_assert_uint_eq(vsock_txbuf_len(&tb), 0);
	ck_assert_ptr_null(tb.buf); /* memory given back */
}
END_TEST

/* Messages across the ring's wrap and growth, in order; dropping a
 * partial tail keeps the complete messages before it. */
START_TEST(messages_wrap_and_partial_drop)
{
	char in[300], out[300];
	bool eor;

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (char)i;
	vsock_txbuf_init(&tb, 5000);
	for (unsigned round = 0; round < 50; round++) {
		uint32_t n = 1 + (round * 37) % 299;

		ck_assert_int_eq(vsock_txbuf_push(&tb, in, n), 0);
		ck_assert_int_eq(vsock_txbuf_msg_end(&tb, round & 1), 0);
		ck_assert_int_eq(vsock_txbuf_push(&tb, in, 5), 0);
		ck_assert_int_eq(vsock_txbuf_msg_end(&tb, false), 0);
		if (round > 0) /* the previous round's 5-byte message */
			ck_assert_uint_eq(pop_msg(out, &eor), 5);
		ck_assert_uint_eq(pop_msg(out, &eor), n);
		ck_assert_mem_eq(out, in, n);
		ck_assert(eor == (round & 1));
	}
	ck_assert_int_eq(vsock_txbuf_push(&tb, "zz", 2), 0);
	ck_assert_uint_eq(vsock_txbuf_drop_partial(&tb), 2);
	ck_assert_uint_eq(vsock_txbuf_msgs(&tb), 1);
	ck_assert_uint_eq(pop_msg(out, &eor), 5);
	ck_assert_uint_eq(vsock_txbuf_len(&tb), 0);
}
END_TEST

/* Empty messages use no bytes, so their number has its own bound. */
START_TEST(message_count_bounded)
{
	vsock_txbuf_init(&tb, 10);
	for (unsigned i = 0; i < VSOCK_TXBUF_MAX_MSGS; i++)
		ck_assert_int_eq(vsock_txbuf_msg_end(&tb, false), 0);
	ck_assert_int_eq(vsock_txbuf_msg_end(&tb, false), -ENOSPC);
	ck_assert_uint_eq(vsock_txbuf_msgs(&tb), VSOCK_TXBUF_MAX_MSGS);
}
END_TEST

static Suite *txbuf_suite(void)
{
	Suite *s = suite_create("vsock_txbuf");
	TCase *tc = tcase_create("txbuf");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, empty_costs_nothing);
	tcase_add_test(tc, messages_keep_boundaries);
	tcase_add_test(tc, messages_wrap_and_partial_drop);
	tcase_add_test(tc, message_count_bounded);
	tcase_add_test(tc, limit_holds);
	tcase_add_test(tc, push_iov_offsets);
	tcase_add_test(tc, fifo_model);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(txbuf_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
