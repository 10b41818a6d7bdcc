// SPDX-License-Identifier: MIT
/*
 * The exit-status table (vmm/exit_status.c): its codes are the constants the
 * VMM exits with, --help prints every row within 79 columns, and the
 * printed text is the rows' text (docs and README are compared with --help
 * by tests/integration/test_cli_errors.py).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/debug_exit.h"
#include "vmm/cli.h"
#include "vmm/exit_status.h"

static char *print_to_string(void (*fn)(FILE *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	fn(f);
	ck_assert_int_eq(fclose(f), 0);
	return buf;
}

START_TEST(codes_are_the_constants)
{
	const char *want[] = { "0", "1", "2", "4", "124", "148", "2V+1", "128+N", NULL };
	unsigned i = 0;

	for (; vmm_exit_statuses[i].code; i++) {
		ck_assert_ptr_nonnull(want[i]);
		ck_assert_str_eq(vmm_exit_statuses[i].code, want[i]);
		ck_assert(strlen(vmm_exit_statuses[i].meaning) > 10);
	}
	ck_assert_ptr_null(want[i]);
	ck_assert_int_eq(VMM_EXIT_OK, 0);
	ck_assert_int_eq(VMM_EXIT_SETUP, 1);
	ck_assert_int_eq(VMM_EXIT_GUEST_CRASH, 2);
	ck_assert_int_eq(VMM_EXIT_GUEST_PANIC, 4);
	ck_assert_int_eq(VMM_EXIT_TIMEOUT, 124);
	/* The VMM's own statuses are even (1 aside), the guest's odd. */
	ck_assert_int_eq(VMM_EXIT_GUEST_PANIC % 2, 0);
	ck_assert_int_eq(VMM_EXIT_TIMEOUT % 2, 0);
	ck_assert_int_eq(debug_exit_status(VMM_EXIT_GUEST_PANIC) % 2, 1);
}
END_TEST

/* Undo the wrapping: each row's code and its meaning as one line. */
START_TEST(printed_table)
{
	char *out = print_to_string(vmm_exit_status_print);
	char *save = NULL, joined[4096] = "";

	for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		ck_assert_msg(strlen(line) <= 79, "too long: '%s'", line);
		ck_assert(strncmp(line, "  ", 2) == 0);
		if (line[2] != ' ')
			strcat(joined, *joined ? "\n" : "");
		else
			strcat(joined, " ");
		strcat(joined, line + strspn(line, " "));
	}
	free(out);
	/* "CODE  MEANING" per row, in order. */
	save = NULL;
	unsigned i = 0;

	for (char *row = strtok_r(joined, "\n", &save); row; row = strtok_r(NULL, "\n", &save), i++) {
		const struct vmm_exit_status_row *r = &vmm_exit_statuses[i];
		size_t n = strlen(r->code);

		ck_assert_ptr_nonnull(r->code);
		ck_assert_msg(strncmp(row, r->code, n) == 0 && row[n] == ' ', "row '%s'", row);
		ck_assert_str_eq(row + n + strspn(row + n, " "), r->meaning);
	}
	ck_assert_ptr_null(vmm_exit_statuses[i].code);
}
END_TEST

START_TEST(help_has_the_table)
{
	char *help = print_to_string(cli_usage);
	char *table = print_to_string(vmm_exit_status_print);

	ck_assert_ptr_nonnull(strstr(help, "Exit status of 'run':\n"));
	ck_assert_ptr_nonnull(strstr(help, table));
	ck_assert_ptr_nonnull(strstr(help, "--timeout SECONDS"));
	ck_assert_ptr_nonnull(strstr(help, "--console-file PATH"));
	free(help);
	free(table);
}
END_TEST

static Suite *exit_status_suite(void)
{
	Suite *s = suite_create("exit_status");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, codes_are_the_constants);
	tcase_add_test(tc, printed_table);
	tcase_add_test(tc, help_has_the_table);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(exit_status_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
