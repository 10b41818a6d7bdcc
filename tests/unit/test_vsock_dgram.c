// SPDX-License-Identifier: MIT
/*
 * vsock/dgram.c on its own: reading host datagrams into the bounded queue
 * (1 MiB: 16 of the largest), and stopping for room instead of dropping
 * when the caller can deliver first (the device's dgram_cb; found by
 * bench/dgram_dev: a wake-up read 64 datagrams of 64 KiB, 4 MiB, against
 * the 1 MiB queue, and dropped most of them with the guest's buffers free).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "vsock/dgram.h"
#include "vsock/packet.h"

static char dir[40], uds[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/vsock-dgram-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(uds, sizeof(uds), "%s/v.sock", dir);
}

static void teardown(void)
{
	char cmd[80];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* One largest datagram from a socket of its own (a socket's send buffer
 * holds only about three of them until they are read). */
static void send_big(void)
{
	static char buf[16 + VSOCK_DGRAM_MAX];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int n = snprintf(buf, sizeof(buf), "DGRAM 1 2\n");

	ck_assert_int_ge(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s%s", uds, VSOCK_DGRAM_SUFFIX);
	ck_assert_int_eq(sendto(fd, buf, (size_t)n + VSOCK_DGRAM_MAX, MSG_DONTWAIT,
				(struct sockaddr *)&sa, sizeof(sa)), n + VSOCK_DGRAM_MAX);
	close(fd);
}

START_TEST(recv_waits_for_room)
{
	struct vsock_dgram_stats st = { 0 };
	struct vsock_dgram *g;
	char err[160];

	ck_assert_int_eq(vsock_dgram_create(uds, &g, err, sizeof(err)), 0);
	/* 16 fill the queue; 8 at a time (the kernel keeps at most
	 * net.unix.max_dgram_qlen, 10 by default, waiting on the socket). */
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 8; i++)
			send_big();
		ck_assert_uint_eq(vsock_dgram_recv(g, true, VSOCK_DGRAM_RECV_BATCH, true, &st), 8);
	}
	ck_assert_uint_eq(st.queued, 16);
	ck_assert(!vsock_dgram_has_room(g));
	/* Waiting for room: the next one stays in the socket, not dropped. */
	send_big();
	ck_assert_uint_eq(vsock_dgram_recv(g, true, VSOCK_DGRAM_RECV_BATCH, true, &st), 0);
	ck_assert_uint_eq(st.rx_queue_full, 0);
	/* One delivered: room again, it is read and queued. */
	vsock_dgram_pop(g, &st);
	ck_assert(vsock_dgram_has_room(g));
	ck_assert_uint_eq(vsock_dgram_recv(g, true, VSOCK_DGRAM_RECV_BATCH, true, &st), 1);
	ck_assert_uint_eq(st.queued, 16);
	ck_assert_uint_eq(st.rx_queue_full, 0);
	/* Not waiting (the guest takes none): read, dropped, counted. */
	send_big();
	ck_assert_uint_eq(vsock_dgram_recv(g, true, VSOCK_DGRAM_RECV_BATCH, false, &st), 1);
	ck_assert_uint_eq(st.rx_queue_full, 1);
	ck_assert_uint_eq(st.queued, 16);
	/* `max` bounds a read, and without a driver all are dropped. */
	send_big();
	send_big();
	ck_assert_uint_eq(vsock_dgram_recv(g, false, 1, true, &st), 1);
	ck_assert_uint_eq(st.rx_no_driver, 1);
	ck_assert_uint_eq(vsock_dgram_recv(g, false, VSOCK_DGRAM_RECV_BATCH, true, &st), 1);
	ck_assert_uint_eq(st.rx_no_driver, 2);
	vsock_dgram_destroy(g);
}
END_TEST

static Suite *dgram_suite(void)
{
	Suite *s = suite_create("vsock_dgram");
	TCase *tc = tcase_create("dgram");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, recv_waits_for_room);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(dgram_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
