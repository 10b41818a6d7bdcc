// SPDX-License-Identifier: MIT
/*
 * The test-runner options, as flags and as JSON keys: --timeout /
 * x-vmm.timeout_s and --console-file / x-vmm.console_file (defaults, both
 * flag forms, the file's relative paths, flags over the file, and every
 * error message).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/cli.h"
#include "vmm/config.h"

static struct vm_config c;
static char err[512];

static enum cli_action run_args(const char *const *args)
{
	char *argv[32];
	int argc = 0;

	argv[argc++] = (char *)"vmm";
	for (; *args; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	err[0] = '\0';
	return cli_parse(argc, argv, &c, err, sizeof(err));
}

#define CLI(...) run_args((const char *const[]){ __VA_ARGS__, NULL })

#define ck_run(...) do {						\
	enum cli_action a_ = CLI(__VA_ARGS__);				\
	ck_assert_msg(a_ == CLI_RUN, "action %d: %s", (int)a_, err);	\
} while (0)

#define ck_cli_err(msg, ...) do {					\
	ck_assert_int_eq(CLI(__VA_ARGS__), CLI_ERROR);			\
	ck_assert_str_eq(err, msg);					\
} while (0)

static int load(const char *name, const char *json)
{
	err[0] = '\0';
	return config_load_json_buf(&c, name, json, strlen(json), err, sizeof(err));
}

#define ck_load_err(json, msg) do {					\
	ck_assert_int_eq(load("t.json", json), -EINVAL);			\
	ck_assert_str_eq(err, msg);					\
} while (0)

static void setup(void)
{
	config_defaults(&c);
}

static void teardown(void)
{
	config_free(&c);
}

START_TEST(defaults)
{
	ck_run("run", "--kernel", "k");
	ck_assert_uint_eq(c.timeout_s, 0);
	ck_assert_ptr_null(c.console_file);
}
END_TEST

START_TEST(flags)
{
	ck_run("run", "--kernel", "k", "--timeout", "30", "--console-file", "out.log");
	ck_assert_uint_eq(c.timeout_s, 30);
	ck_assert_str_eq(c.console_file, "out.log");
	config_free(&c);
	ck_run("run", "--kernel=k", "--timeout=0", "--console-file=/tmp/x y.log");
	ck_assert_uint_eq(c.timeout_s, 0);
	ck_assert_str_eq(c.console_file, "/tmp/x y.log");
	config_free(&c);
	ck_run("run", "--kernel", "k", "--timeout", "4294967295", "--timeout", "007");
	ck_assert_uint_eq(c.timeout_s, 7);
}
END_TEST

START_TEST(flag_errors)
{
	ck_cli_err("--timeout: '-5' is negative", "run", "--kernel", "k", "--timeout", "-5");
	ck_cli_err("--timeout: '1.5' is not a decimal number",
		   "run", "--kernel", "k", "--timeout", "1.5");
	ck_cli_err("--timeout: '30s' is not a decimal number",
		   "run", "--kernel", "k", "--timeout", "30s");
	ck_cli_err("--timeout: empty value, expected a number",
		   "run", "--kernel", "k", "--timeout", "");
	ck_cli_err("--timeout: 4294967296 is out of range 0..4294967295 seconds (0: none)",
		   "run", "--kernel", "k", "--timeout", "4294967296");
	ck_cli_err("option '--timeout' needs a value", "run", "--kernel", "k", "--timeout");
	ck_cli_err("--console-file: empty path", "run", "--kernel", "k", "--console-file", "");
	ck_cli_err("option '--console-file' needs a value (got option '--timeout')",
		   "run", "--kernel", "k", "--console-file", "--timeout", "3");
	ck_cli_err("option '--timeout' does not apply to 'vmm vhost-user'",
		   "vhost-user", "--socket", "s", "--vsock-cid", "3", "--timeout", "3");
	ck_cli_err("option '--console-file' does not apply to 'vmm vhost-user'",
		   "vhost-user", "--socket", "s", "--vsock-cid", "3", "--console-file", "x");
}
END_TEST

START_TEST(json_keys)
{
	ck_assert_int_eq(load("vms/a/vm.json",
			      "{\"x-vmm\": {\"timeout_s\": 60, \"console_file\": \"console.log\"}}"), 0);
	ck_assert_uint_eq(c.timeout_s, 60);
	/* Relative to the file's directory, like the other paths. */
	ck_assert_str_eq(c.console_file, "vms/a/console.log");
	ck_assert_int_eq(load("vm.json", "{\"x-vmm\": {\"console_file\": \"/var/log/c.log\"}}"), 0);
	ck_assert_str_eq(c.console_file, "/var/log/c.log");
	ck_assert_uint_eq(c.timeout_s, 60); /* untouched by the second file */
	ck_assert_int_eq(load("vm.json", "{\"x-vmm\": {\"timeout_s\": 0}}"), 0);
	ck_assert_uint_eq(c.timeout_s, 0);
	ck_assert_int_eq(load("vm.json", "{\"x-vmm\": {\"timeout_s\": 4294967295}}"), 0);
	ck_assert_uint_eq(c.timeout_s, 4294967295ull);
}
END_TEST

START_TEST(json_errors)
{
	ck_load_err("{\"x-vmm\": {\"timeout_s\": -1}}",
		    "t.json:1:25: x-vmm.timeout_s: -1 is out of range 0..4294967295");
	ck_load_err("{\"x-vmm\": {\"timeout_s\": 4294967296}}",
		    "t.json:1:25: x-vmm.timeout_s: 4294967296 is out of range 0..4294967295");
	ck_load_err("{\"x-vmm\": {\"timeout_s\": \"30\"}}",
		    "t.json:1:25: x-vmm.timeout_s: must be an integer, not a string");
	ck_load_err("{\"x-vmm\": {\"timeout_s\": 1.5}}",
		    "t.json:1:25: x-vmm.timeout_s: must be an integer, not a number with a "
		    "fraction or exponent");
	ck_load_err("{\"x-vmm\": {\"console_file\": 1}}",
		    "t.json:1:28: x-vmm.console_file: must be a string, not an integer");
	ck_load_err("{\"x-vmm\": {\"console_file\": null}}",
		    "t.json:1:28: x-vmm.console_file: must be a string, not null");
	ck_load_err("{\"x-vmm\": {\"console_file\": \"\"}}",
		    "t.json:1:28: x-vmm.console_file: path must not be empty");
	ck_load_err("{\"x-vmm\": {\"timeout\": 3}}",
		    "t.json:1:12: unknown key \"timeout\" in \"x-vmm\"");
	/* All or nothing: nothing of a bad file is kept. */
	ck_assert_uint_eq(c.timeout_s, 0);
	ck_assert_ptr_null(c.console_file);
}
END_TEST

START_TEST(flags_over_file)
{
	char dir[] = "/tmp/test_run_opts.XXXXXX", cfg[128];
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(cfg, sizeof(cfg), "%s/vm.json", dir);
	f = fopen(cfg, "w");
	ck_assert_ptr_nonnull(f);
	fputs("{\"boot-source\": {\"kernel_image_path\": \"k\"},\n"
	      " \"x-vmm\": {\"timeout_s\": 60, \"console_file\": \"c.log\"}}\n", f);
	fclose(f);
	ck_run("run", "--timeout", "0", "--config", cfg);
	ck_assert_uint_eq(c.timeout_s, 0);
	ck_assert_ptr_nonnull(strstr(c.console_file, "/c.log"));
	config_free(&c);
	ck_run("run", "--config", cfg, "--console-file", "mine.log");
	ck_assert_uint_eq(c.timeout_s, 60);
	ck_assert_str_eq(c.console_file, "mine.log");
	remove(cfg);
	rmdir(dir);
}
END_TEST

static Suite *run_opts_suite(void)
{
	Suite *s = suite_create("run_opts");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, flags);
	tcase_add_test(tc, flag_errors);
	tcase_add_test(tc, json_keys);
	tcase_add_test(tc, json_errors);
	tcase_add_test(tc, flags_over_file);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(run_opts_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
