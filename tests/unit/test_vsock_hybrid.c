// SPDX-License-Identifier: MIT
/*
 * Hybrid vsock host protocol: the CONNECT line parser (case, whitespace,
 * partial reads down to one byte, garbage, overlong lines, EOF mid-line,
 * payload right behind the line) and the OK reply.
 */
#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vsock/hybrid.h"

/* Feed the whole string in one call. */
static enum vsock_connect_status parse_all(const char *s, uint32_t *port, size_t *used)
{
	struct vsock_connect_parser p;
	enum vsock_connect_status st;
	size_t u;

	vsock_connect_init(&p);
	st = vsock_connect_feed(&p, s, strlen(s), &u);
	if (port)
		*port = vsock_connect_port(&p);
	if (used)
		*used = u;
	return st;
}

/* Feed one byte at a time until the parser decides; a DONE must come
 * exactly at the '\n', and the verdict must then be sticky. */
static enum vsock_connect_status parse_bytes(const char *s, uint32_t *port)
{
	struct vsock_connect_parser p;
	enum vsock_connect_status st = VSOCK_CONNECT_MORE;
	size_t n = strlen(s), i, u;

	vsock_connect_init(&p);
	for (i = 0; i < n && st == VSOCK_CONNECT_MORE; i++) {
		st = vsock_connect_feed(&p, s + i, 1, &u);
		ck_assert_uint_eq(u, 1);
	}
	if (st == VSOCK_CONNECT_DONE)
		ck_assert_int_eq(s[i - 1], '\n');
	ck_assert_int_eq(vsock_connect_feed(&p, "5\n", 2, &u), st);
	if (st != VSOCK_CONNECT_MORE)
		ck_assert_uint_eq(u, 0);
	if (port)
		*port = vsock_connect_port(&p);
	return st;
}

static void expect(const char *line, enum vsock_connect_status want, uint32_t want_port)
{
	uint32_t port;

	ck_assert_msg(parse_all(line, &port, NULL) == want, "whole: \"%s\"", line);
	if (want == VSOCK_CONNECT_DONE)
		ck_assert_uint_eq(port, want_port);
	ck_assert_msg(parse_bytes(line, &port) == want, "bytes: \"%s\"", line);
	if (want == VSOCK_CONNECT_DONE)
		ck_assert_uint_eq(port, want_port);
}

START_TEST(connect_basic)
{
	uint32_t port;
	size_t used;

	ck_assert_int_eq(parse_all("CONNECT 52\n", &port, &used), VSOCK_CONNECT_DONE);
	ck_assert_uint_eq(port, 52);
	ck_assert_uint_eq(used, 11);
	expect("CONNECT 1024\n", VSOCK_CONNECT_DONE, 1024);
	expect("connect 0\n", VSOCK_CONNECT_DONE, 0);
	expect("CoNnEcT 7\n", VSOCK_CONNECT_DONE, 7);
	expect("CONNECT 4294967295\n", VSOCK_CONNECT_DONE, 4294967295u);
	expect("CONNECT 0000000052\n", VSOCK_CONNECT_DONE, 52);
}
END_TEST

START_TEST(connect_whitespace)
{
	expect("  \tCONNECT 5\n", VSOCK_CONNECT_DONE, 5);
	expect("CONNECT \t  5\n", VSOCK_CONNECT_DONE, 5);
	expect("CONNECT\t5\n", VSOCK_CONNECT_DONE, 5);
	expect("CONNECT 5\r\n", VSOCK_CONNECT_DONE, 5);
	expect("CONNECT 5 \t \r\n", VSOCK_CONNECT_DONE, 5);
	expect("CONNECT\v5\f\n", VSOCK_CONNECT_DONE, 5);
	/* Rust's u32 parser, which Firecracker uses, takes a leading '+'. */
	expect("CONNECT +5\n", VSOCK_CONNECT_DONE, 5);
}
END_TEST

START_TEST(connect_garbage)
{
	expect("\n", VSOCK_CONNECT_ERR_KEYWORD, 0);
	expect("HELLO 5\n", VSOCK_CONNECT_ERR_KEYWORD, 0);
	expect("CONNEC 5\n", VSOCK_CONNECT_ERR_KEYWORD, 0);
	expect("CONNECTX 5\n", VSOCK_CONNECT_ERR_KEYWORD, 0);
	expect("CONNECT5\n", VSOCK_CONNECT_ERR_KEYWORD, 0);
	expect("CONN\n", VSOCK_CONNECT_ERR_KEYWORD, 0);
	expect("\xc3\xa9 5\n", VSOCK_CONNECT_ERR_KEYWORD, 0);
	expect("CONNECT\n", VSOCK_CONNECT_ERR_PORT, 0);
	expect("CONNECT \n", VSOCK_CONNECT_ERR_PORT, 0);
	expect("CONNECT abc\n", VSOCK_CONNECT_ERR_PORT, 0);
	expect("CONNECT -5\n", VSOCK_CONNECT_ERR_PORT, 0);
	expect("CONNECT ++5\n", VSOCK_CONNECT_ERR_PORT, 0);
	expect("CONNECT +\n", VSOCK_CONNECT_ERR_PORT, 0);
	expect("CONNECT 12ab\n", VSOCK_CONNECT_ERR_PORT, 0);
	expect("CONNECT 0x10\n", VSOCK_CONNECT_ERR_PORT, 0);
	expect("CONNECT 4294967296\n", VSOCK_CONNECT_ERR_RANGE, 0);
	expect("CONNECT 99999999999\n", VSOCK_CONNECT_ERR_RANGE, 0);
	expect("CONNECT 12 34\n", VSOCK_CONNECT_ERR_TRAILING, 0);
	expect("CONNECT 5 x\n", VSOCK_CONNECT_ERR_TRAILING, 0);
}
END_TEST

START_TEST(connect_nul_byte)
{
	struct vsock_connect_parser p;
	size_t used;

	vsock_connect_init(&p);
	ck_assert_int_eq(vsock_connect_feed(&p, "CONNECT \0005\n", 11, &used),
			 VSOCK_CONNECT_ERR_PORT);
}
END_TEST

START_TEST(connect_payload_follows_line)
{
	static const char msg[] = "CONNECT 1234\nhello guest";
	const size_t line = 13, total = sizeof(msg) - 1;

	/* Every split point, fed in two pieces. */
	for (size_t cut = 0; cut <= total; cut++) {
		struct vsock_connect_parser p;
		enum vsock_connect_status st;
		size_t u1, u2 = 0;

		vsock_connect_init(&p);
		st = vsock_connect_feed(&p, msg, cut, &u1);
		if (cut < line) {
			ck_assert_int_eq(st, VSOCK_CONNECT_MORE);
			ck_assert_uint_eq(u1, cut);
			st = vsock_connect_feed(&p, msg + cut, total - cut, &u2);
		}
		ck_assert_int_eq(st, VSOCK_CONNECT_DONE);
		/* Exactly the line is consumed; the payload is left alone. */
		ck_assert_uint_eq(u1 + u2, line);
		ck_assert_uint_eq(vsock_connect_port(&p), 1234);
	}
}
END_TEST

START_TEST(connect_sticky_after_done_or_error)
{
	struct vsock_connect_parser p;
	size_t used;

	vsock_connect_init(&p);
	ck_assert_int_eq(vsock_connect_feed(&p, "CONNECT 9\n", 10, &used), VSOCK_CONNECT_DONE);
	ck_assert_int_eq(vsock_connect_feed(&p, "CONNECT 8\n", 10, &used), VSOCK_CONNECT_DONE);
	ck_assert_uint_eq(used, 0);
	ck_assert_uint_eq(vsock_connect_port(&p), 9);
	ck_assert_int_eq(vsock_connect_eof(&p), VSOCK_CONNECT_DONE);

	vsock_connect_init(&p);
	ck_assert_int_eq(vsock_connect_feed(&p, "X", 1, &used), VSOCK_CONNECT_ERR_KEYWORD);
	ck_assert_int_eq(vsock_connect_feed(&p, "CONNECT 8\n", 10, &used),
			 VSOCK_CONNECT_ERR_KEYWORD);
	ck_assert_uint_eq(used, 0);
	ck_assert_int_eq(vsock_connect_eof(&p), VSOCK_CONNECT_ERR_KEYWORD);
}
END_TEST

START_TEST(connect_empty_feed)
{
	struct vsock_connect_parser p;
	size_t used = 99;

	vsock_connect_init(&p);
	ck_assert_int_eq(vsock_connect_feed(&p, "", 0, &used), VSOCK_CONNECT_MORE);
	ck_assert_uint_eq(used, 0);
}
END_TEST

START_TEST(connect_overlong)
{
	char line[64];

	/* Exactly 32 bytes including '\n': accepted. */
	memset(line, ' ', sizeof(line));
	memcpy(line, "CONNECT", 7);
	memcpy(line + 29, "52\n", 3);
	line[32] = 0;
	expect(line, VSOCK_CONNECT_DONE, 52);
	/* 33 bytes: refused. */
	memset(line, ' ', sizeof(line));
	memcpy(line, "CONNECT", 7);
	memcpy(line + 30, "52\n", 3);
	line[33] = 0;
	ck_assert_int_eq(parse_all(line, NULL, NULL), VSOCK_CONNECT_ERR_TOO_LONG);
	/* 32 bytes and no '\n' yet: refused at once, even one byte at a time. */
	line[32] = 0;
	ck_assert_int_eq(parse_bytes(line, NULL), VSOCK_CONNECT_ERR_TOO_LONG);
	/* An endless stream of whitespace is not a line either. */
	memset(line, ' ', sizeof(line));
	ck_assert_int_eq(parse_all("", NULL, NULL), VSOCK_CONNECT_MORE);
	{
		struct vsock_connect_parser p;
		size_t used;

		vsock_connect_init(&p);
		ck_assert_int_eq(vsock_connect_feed(&p, line, sizeof(line), &used),
				 VSOCK_CONNECT_ERR_TOO_LONG);
		ck_assert_uint_eq(used, VSOCK_CONNECT_LINE_MAX);
	}
}
END_TEST

START_TEST(connect_closed_mid_line)
{
	struct vsock_connect_parser p;
	size_t used;

	vsock_connect_init(&p);
	ck_assert_int_eq(vsock_connect_eof(&p), VSOCK_CONNECT_ERR_EOF);

	vsock_connect_init(&p);
	ck_assert_int_eq(vsock_connect_feed(&p, "CONNECT 52", 10, &used), VSOCK_CONNECT_MORE);
	ck_assert_int_eq(vsock_connect_eof(&p), VSOCK_CONNECT_ERR_EOF);
	ck_assert_int_eq(vsock_connect_feed(&p, "\n", 1, &used), VSOCK_CONNECT_ERR_EOF);
}
END_TEST

START_TEST(ok_line)
{
	char buf[VSOCK_OK_LINE_MAX];

	ck_assert_uint_eq(vsock_format_ok(buf, sizeof(buf), 1u << 30), 14);
	ck_assert_mem_eq(buf, "OK 1073741824\n", 14);
	ck_assert_uint_eq(vsock_format_ok(buf, sizeof(buf), 4294967295u), 14);
	ck_assert_mem_eq(buf, "OK 4294967295\n", 14);
	ck_assert_uint_eq(vsock_format_ok(buf, sizeof(buf), 7), 5);
	ck_assert_mem_eq(buf, "OK 7\n", 5);
	ck_assert_uint_eq(vsock_format_ok(buf, sizeof(buf) - 1, 7), 0);
}
END_TEST

/* A sibling VMM's line: three numbers, its own length limit; a plain
 * CONNECT line is not a FROM line. */
START_TEST(connect_from_line)
{
	struct vsock_connect_parser p;
	char line[VSOCK_CONNECT_FROM_LINE_MAX + 8];
	size_t u, n;

	expect("CONNECT-FROM 3 1025 5000\n", VSOCK_CONNECT_DONE, 5000);
	expect("connect-from\t4294967294  +1 4294967295 \r\n", VSOCK_CONNECT_DONE, 4294967295u);
	vsock_connect_init(&p);
	ck_assert_int_eq(vsock_connect_feed(&p, "CONNECT-FROM 7 99 5\nxyz", 23, &u),
			 VSOCK_CONNECT_DONE);
	ck_assert_uint_eq(u, 20);
	ck_assert(vsock_connect_is_from(&p));
	ck_assert_uint_eq(vsock_connect_from_cid(&p), 7);
	ck_assert_uint_eq(vsock_connect_from_port(&p), 99);
	ck_assert_uint_eq(vsock_connect_port(&p), 5);
	vsock_connect_init(&p);
	ck_assert_int_eq(vsock_connect_feed(&p, "CONNECT 5\n", 10, &u), VSOCK_CONNECT_DONE);
	ck_assert(!vsock_connect_is_from(&p));

	expect("CONNECT-FROM 3 1025\n", VSOCK_CONNECT_ERR_PORT, 0);
	expect("CONNECT-FROM 3\n", VSOCK_CONNECT_ERR_PORT, 0);
	expect("CONNECT-FROM\n", VSOCK_CONNECT_ERR_PORT, 0);
	expect("CONNECT-FROM 3 1025 5000 6\n", VSOCK_CONNECT_ERR_TRAILING, 0);
	expect("CONNECT-FROM 4294967296 1 1\n", VSOCK_CONNECT_ERR_RANGE, 0);
	expect("CONNECT-FROMX 3 1 1\n", VSOCK_CONNECT_ERR_KEYWORD, 0);
	expect("CONNECT-TO 3 1 1\n", VSOCK_CONNECT_ERR_KEYWORD, 0);
	expect("CONNECT -FROM 3 1 1\n", VSOCK_CONNECT_ERR_PORT, 0);
	expect("CONNECT-FROM-FROM 3 1 1\n", VSOCK_CONNECT_ERR_KEYWORD, 0);
	expect("CONNECT-FROM 3 x 1\n", VSOCK_CONNECT_ERR_PORT, 0);

	/* The longest valid line fits; 64 bytes without '\n' do not. */
	n = (size_t)snprintf(line, sizeof(line), "CONNECT-FROM %u %u %u\n", 4294967294u,
			     4294967295u, 4294967295u);
	ck_assert_uint_le(n, VSOCK_CONNECT_FROM_LINE_MAX);
	ck_assert_uint_eq(vsock_format_connect_from(line, sizeof(line), 4294967294u,
						    4294967295u, 4294967295u), n);
	expect(line, VSOCK_CONNECT_DONE, 4294967295u);
	memset(line, ' ', sizeof(line));
	memcpy(line, "CONNECT-FROM", 12);
	line[sizeof(line) - 1] = '\0';
	ck_assert_int_eq(parse_all(line, NULL, &u), VSOCK_CONNECT_ERR_TOO_LONG);
	ck_assert_uint_eq(u, VSOCK_CONNECT_FROM_LINE_MAX);
	ck_assert_uint_eq(vsock_format_connect_from(line, VSOCK_CONNECT_FROM_LINE_MAX - 1, 3, 1, 1), 0);
}
END_TEST

START_TEST(ok_parse)
{
	size_t used = 0;
	uint32_t port = 0;

	ck_assert_int_eq(vsock_ok_parse("OK 1025\nabc", 11, &used, &port), 1);
	ck_assert_uint_eq(used, 8);
	ck_assert_uint_eq(port, 1025);
	ck_assert_int_eq(vsock_ok_parse("OK 4294967295\n", 14, &used, &port), 1);
	ck_assert_uint_eq(port, 4294967295u);
	ck_assert_int_eq(vsock_ok_parse("OK 12", 5, &used, &port), 0);
	ck_assert_int_eq(vsock_ok_parse("O", 1, &used, &port), 0);
	ck_assert_int_eq(vsock_ok_parse("", 0, &used, &port), 0);
	ck_assert_int_eq(vsock_ok_parse("OK \n", 4, &used, &port), -EPROTO);
	ck_assert_int_eq(vsock_ok_parse("NO 1\n", 5, &used, &port), -EPROTO);
	ck_assert_int_eq(vsock_ok_parse("OK 1x\n", 6, &used, &port), -EPROTO);
	ck_assert_int_eq(vsock_ok_parse("OK 4294967296\n", 14, &used, &port), -EPROTO);
	ck_assert_int_eq(vsock_ok_parse("OK 0000000000001\n", 17, &used, &port), -EPROTO);
}
END_TEST

static Suite *hybrid_suite(void)
{
	Suite *s = suite_create("vsock_hybrid");
	TCase *tc;

	tc = tcase_create("connect");
	tcase_add_test(tc, connect_basic);
	tcase_add_test(tc, connect_whitespace);
	tcase_add_test(tc, connect_garbage);
	tcase_add_test(tc, connect_nul_byte);
	tcase_add_test(tc, connect_payload_follows_line);
	tcase_add_test(tc, connect_sticky_after_done_or_error);
	tcase_add_test(tc, connect_empty_feed);
	tcase_add_test(tc, connect_overlong);
	tcase_add_test(tc, connect_closed_mid_line);
	tcase_add_test(tc, ok_line);
	tcase_add_test(tc, connect_from_line);
	tcase_add_test(tc, ok_parse);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(hybrid_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
