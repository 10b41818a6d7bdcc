// SPDX-License-Identifier: MIT
/*
 * The metrics file: the JSON line carries every counter under the name
 * docs/config.md gives it, the file is opened the way the docs say (0600,
 * appended, FIFOs only with a reader), and lines stay whole.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/metrics.h"

static char dir[64], path[128], err[256];

static void setup(void)
{
	strcpy(dir, "/tmp/test_metrics.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/m.json", dir);
}

static void teardown(void)
{
	unlink(path);
	rmdir(dir);
}

/* A VM without vsock or virtio transport. */
static const struct metrics_sources none;

static json_t *parse_line(const char *line)
{
	json_error_t je;
	json_t *j;

	ck_assert_ptr_nonnull(line);
	/* One line: its only newline ends it. */
	ck_assert_ptr_eq(strchr(line, '\n'), line + strlen(line) - 1);
	j = json_loads(line, 0, &je);
	ck_assert_msg(j, "not JSON: %s (%s)", line, je.text);
	return j;
}

static uint64_t num(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	ck_assert_msg(json_is_integer(v), "%s missing or not an integer", key);
	return (uint64_t)json_integer_value(v);
}

START_TEST(format_carries_every_counter)
{
	struct vsock_dev_stats st = { 0 };
	json_t *j, *v, *shape;
	char *line;

	st.features = (1ull << 32) | (1ull << 1) | 1;
	st.queue_size[0] = 128;
	st.queue_size[1] = 256;
	st.queue_size[2] = 64;
	st.activations = 1;
	st.tx_pkts = 11;
	st.rx_pkts = 12;
	st.tx_bytes = 13;
	st.rx_bytes = 14;
	st.tx_notifies = 15;
	st.rx_notifies = 16;
	st.tx_interrupts = 17;
	st.rx_interrupts = 18;
	st.pkt_err[VSOCK_PKT_ERR_TYPE] = 19;
	st.conn.credit_overrun = 20;
	st.shape.tx_descs[3] = 21;
	st.shape.tx_hdr_joined = 22;
	st.shape.rx_buf_max = 4140;
	line = metrics_format(&st, NULL, NULL, 1234567);
	j = parse_line(line);
	ck_assert_ptr_null(json_object_get(j, "transport"));
	ck_assert_uint_eq(num(j, "utc_timestamp_ms"), 1234567);
	v = json_object_get(j, "vsock");
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(json_string_value(json_object_get(v, "features")), "0x100000003");
	ck_assert_uint_eq(json_integer_value(json_array_get(json_object_get(v, "queue_sizes"), 1)), 256);
	ck_assert_uint_eq(num(v, "activations"), 1);
	ck_assert_uint_eq(num(v, "tx_packets_count"), 11);
	ck_assert_uint_eq(num(v, "rx_packets_count"), 12);
	ck_assert_uint_eq(num(v, "tx_bytes_count"), 13);
	ck_assert_uint_eq(num(v, "rx_bytes_count"), 14);
	ck_assert_uint_eq(num(v, "tx_queue_event_count"), 15);
	ck_assert_uint_eq(num(v, "rx_queue_event_count"), 16);
	ck_assert_uint_eq(num(v, "tx_interrupts"), 17);
	ck_assert_uint_eq(num(v, "rx_interrupts"), 18);
	ck_assert_uint_eq(num(json_object_get(v, "pkt_err"), "type"), 19);
	ck_assert_uint_eq(json_object_size(json_object_get(v, "pkt_err")), VSOCK_PKT_ERR_COUNT - 1);
	ck_assert_uint_eq(num(v, "credit_overrun"), 20);
	shape = json_object_get(v, "shape");
	ck_assert_uint_eq(num(json_object_get(shape, "tx_descs"), "4+"), 21);
	ck_assert_uint_eq(num(shape, "tx_hdr_joined"), 22);
	ck_assert_uint_eq(num(shape, "rx_buf_max"), 4140);
	json_decref(j);
	free(line);
}
END_TEST

/* The transport's counters ride along, under the transport's kind. */
START_TEST(format_carries_the_transport)
{
	struct vsock_dev_stats st = { 0 };
	struct vmmio_stats mm = { .bad_access = 1, .ignored_write = 2, .refused_status = 3,
				  .queue_errors = 4, .notifies = 5, .interrupts = 6 };
	struct vhost_user_stats vu = { .messages = 7, .refused = 8, .unknown = 9,
				       .kicks = 10, .calls = 11, .queue_errors = 12 };
	json_t *j, *t;
	char *line;

	line = metrics_format(&st, &mm, NULL, 1);
	j = parse_line(line);
	t = json_object_get(j, "transport");
	ck_assert_str_eq(json_string_value(json_object_get(t, "kind")), "virtio-mmio");
	ck_assert_uint_eq(num(t, "bad_access"), 1);
	ck_assert_uint_eq(num(t, "ignored_write"), 2);
	ck_assert_uint_eq(num(t, "refused_status"), 3);
	ck_assert_uint_eq(num(t, "queue_errors"), 4);
	ck_assert_uint_eq(num(t, "notifies"), 5);
	ck_assert_uint_eq(num(t, "interrupts"), 6);
	json_decref(j);
	free(line);

	line = metrics_format(&st, NULL, &vu, 1);
	j = parse_line(line);
	t = json_object_get(j, "transport");
	ck_assert_str_eq(json_string_value(json_object_get(t, "kind")), "vhost-user");
	ck_assert_uint_eq(num(t, "messages"), 7);
	ck_assert_uint_eq(num(t, "refused"), 8);
	ck_assert_uint_eq(num(t, "unknown"), 9);
	ck_assert_uint_eq(num(t, "kicks"), 10);
	ck_assert_uint_eq(num(t, "calls"), 11);
	ck_assert_uint_eq(num(t, "queue_errors"), 12);
	json_decref(j);
	free(line);
}
END_TEST

START_TEST(open_creates_owner_only_and_appends)
{
	struct stat sb;
	char buf[8192];
	ssize_t n;
	int fd, lines = 0;

	fd = metrics_open(path, err, sizeof(err));
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0600);
	/* A VM without vsock still gets lines, all zero. */
	ck_assert_int_eq(metrics_write(fd, &none), 0);
	ck_assert_int_eq(metrics_write(fd, &none), 0);
	close(fd);
	fd = metrics_open(path, err, sizeof(err));   /* appends, keeps old lines */
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(metrics_write(fd, &none), 0);
	close(fd);

	fd = open(path, O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ck_assert_int_gt(n, 0);
	buf[n] = 0;
	for (char *p = buf, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
		char save = nl[1];
		json_t *j;

		nl[1] = 0;
		j = parse_line(p);
		ck_assert_uint_eq(num(json_object_get(j, "vsock"), "tx_packets_count"), 0);
		json_decref(j);
		nl[1] = save;
		lines++;
	}
	ck_assert_int_eq(lines, 3);
}
END_TEST

START_TEST(open_refuses_what_it_cannot_use)
{
	char fifo[160];

	/* A directory. */
	ck_assert_int_eq(metrics_open(dir, err, sizeof(err)), -EISDIR);
	ck_assert_ptr_nonnull(strstr(err, dir));
	/* A FIFO nobody reads: an error now, not a hang at exit. */
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	ck_assert_int_eq(metrics_open(fifo, err, sizeof(err)), -ENXIO);
	ck_assert_ptr_nonnull(strstr(err, "a FIFO needs a reader first"));
	unlink(fifo);
	/* A character device. */
	ck_assert_int_eq(metrics_open("/dev/null", err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "metrics file /dev/null: not a regular file or FIFO");
	/* A missing directory. */
	ck_assert_int_eq(metrics_open("/nonexistent/dir/m.json", err, sizeof(err)), -ENOENT);
	ck_assert_str_eq(err, "metrics file /nonexistent/dir/m.json: cannot open: No such file or directory");
}
END_TEST

START_TEST(fifo_with_reader)
{
	char fifo[160], buf[4096];
	int rfd, fd;
	ssize_t n;
	json_t *j;

	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	rfd = open(fifo, O_RDONLY | O_NONBLOCK);
	ck_assert_int_ge(rfd, 0);
	fd = metrics_open(fifo, err, sizeof(err));
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(metrics_write(fd, &none), 0);
	n = read(rfd, buf, sizeof(buf) - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = 0;
	j = parse_line(buf);
	json_decref(j);
	close(fd);
	close(rfd);
	unlink(fifo);
}
END_TEST

static Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, format_carries_every_counter);
	tcase_add_test(tc, format_carries_the_transport);
	tcase_add_test(tc, open_creates_owner_only_and_appends);
	tcase_add_test(tc, open_refuses_what_it_cannot_use);
	tcase_add_test(tc, fifo_with_reader);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(metrics_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
