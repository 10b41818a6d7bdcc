// SPDX-License-Identifier: MIT
/*
 * --console-file (vmm/console_file.c): files are created or truncated, a
 * FIFO with a reader or /dev/null is used as is, everything else is one
 * line that names the path and the reason; the descriptor is blocking.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/console_file.h"

static char dir[64], path[128], err[512];

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

static void setup(void)
{
	strcpy(dir, "/tmp/test_console_file.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	err[0] = '\0';
}

static void teardown(void)
{
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static const char *in_dir(const char *name)
{
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static void ck_blocking_cloexec(int fd)
{
	ck_assert_int_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
}

START_TEST(creates_a_file)
{
	struct stat st;
	int fd = console_file_open(in_dir("console.log"), err, sizeof(err));

	ck_assert_msg(fd >= 0, "%s", err);
	ck_blocking_cloexec(fd);
	ck_assert_int_eq(write(fd, "hello\n", 6), 6);
	close(fd);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(st.st_size, 6);
}
END_TEST

START_TEST(truncates_an_old_log)
{
	FILE *f = fopen(in_dir("old.log"), "w");
	struct stat st;
	int fd;

	ck_assert_ptr_nonnull(f);
	fputs("the previous run's console, quite long\n", f);
	fclose(f);
	fd = console_file_open(path, err, sizeof(err));
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "new\n", 4), 4);
	close(fd);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, 4);
}
END_TEST

START_TEST(dev_null)
{
	int fd = console_file_open("/dev/null", err, sizeof(err));

	ck_assert_msg(fd >= 0, "%s", err);
	ck_blocking_cloexec(fd);
	close(fd);
}
END_TEST

START_TEST(fifo_with_reader)
{
	int rd, fd;
	char buf[8];

	ck_assert_int_eq(mkfifo(in_dir("fifo"), 0600), 0);
	rd = open(path, O_RDONLY | O_NONBLOCK);
	ck_assert_int_ge(rd, 0);
	fd = console_file_open(path, err, sizeof(err));
	ck_assert_msg(fd >= 0, "%s", err);
	ck_blocking_cloexec(fd);
	ck_assert_int_eq(write(fd, "x", 1), 1);
	ck_assert_int_eq(read(rd, buf, sizeof(buf)), 1);
	close(fd);
	close(rd);
}
END_TEST

/* Never waits for a reader: an error at once. */
START_TEST(fifo_without_reader)
{
	char want[256];

	ck_assert_int_eq(mkfifo(in_dir("fifo"), 0600), 0);
	ck_assert_int_eq(console_file_open(path, err, sizeof(err)), -ENXIO);
	snprintf(want, sizeof(want), "console file %s: cannot open: No such device or "
		 "address (a FIFO needs a reader first)", path);
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(missing_directory)
{
	char want[256];

	ck_assert_int_eq(console_file_open(in_dir("no/such/dir.log"), err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "console file %s: cannot open: No such file or directory",
		 path);
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(a_directory)
{
	char want[256];

	ck_assert_int_eq(console_file_open(dir, err, sizeof(err)), -EISDIR);
	snprintf(want, sizeof(want), "console file %s: cannot open: Is a directory", dir);
	ck_assert_str_eq(err, want);
}
END_TEST

/* Root writes anywhere; a read-only file only stops other users. */
START_TEST(not_writable)
{
	char want[256];
	int fd;

	if (geteuid() == 0)
		return;
	fd = open(in_dir("ro.log"), O_CREAT | O_WRONLY, 0444);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(console_file_open(path, err, sizeof(err)), -EACCES);
	snprintf(want, sizeof(want), "console file %s: cannot open: Permission denied", path);
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(one_line_whatever_the_path)
{
	ck_assert_int_eq(console_file_open(in_dir("a\nb/c\rd"), err, sizeof(err)), -ENOENT);
	ck_assert_ptr_null(strchr(err, '\n'));
	ck_assert_ptr_null(strchr(err, '\r'));
	ck_assert_ptr_nonnull(strstr(err, "/a?b/c?d: cannot open: "));
}
END_TEST

static Suite *console_file_suite(void)
{
	Suite *s = suite_create("console_file");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, creates_a_file);
	tcase_add_test(tc, truncates_an_old_log);
	tcase_add_test(tc, dev_null);
	tcase_add_test(tc, fifo_with_reader);
	tcase_add_test(tc, fifo_without_reader);
	tcase_add_test(tc, missing_directory);
	tcase_add_test(tc, a_directory);
	tcase_add_test(tc, not_writable);
	tcase_add_test(tc, one_line_whatever_the_path);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(console_file_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
