/* SPDX-License-Identifier: MIT */
/*
 * scenario=echo-server port=P [conns=N]
 * Listen on P and echo every connection, several at once.  When a host
 * client half-closes (SHUTDOWN with SEND), the rest is echoed and then we
 * close our side.  New connections keep being served; after N connections
 * have ended (default: never -- the host kills the VMM):
 *   testguest: echo-server ok conns=N bytes=B
 * B counts the bytes echoed.  A line `tg-note: echo-server listening port=P`
 * tells the host test when to connect.
 */
#include "scenario.h"

#include "cmdline.h"
#include "fmt.h"
#include "heap.h"
#include "vstest.h"

#define MAX_ACTIVE 1100

static uint8_t stage[65536] NOINIT;
static struct vs_conn *active[MAX_ACTIVE];

/* Echo what we can on c; true when it is finished (and closed). */
static bool serve(struct vs_conn *c, uint64_t *bytes)
{
	for (;;) {
		uint32_t n = vs_rx_avail(c), credit = vs_tx_credit(c);
		uint32_t room = vsd_tx_free() * vsd_txpkt();
		long r;

		if (c->state == VS_CLOSED) {
			vs_release(c);
			return true;
		}
		if (c->peer_shut & VSOCK_SHUTDOWN_RCV) {
			/* The peer takes no more data (its host end went
			 * away): the echo has nowhere to go.  Drop what is
			 * left and finish once it stops sending too. */
			while (vs_recv(c, stage, sizeof(stage)) > 0)
				;
			if (c->peer_shut & VSOCK_SHUTDOWN_SEND) {
				vs_close(c);
				return true;
			}
			return false;
		}
		if (n == 0) {
			if (c->peer_shut & VSOCK_SHUTDOWN_SEND) {
				vs_close(c);
				return true;
			}
			return false;
		}
		if (credit > c->peer_buf_alloc)
			credit = 0; /* peer shrank its buffer: wait */
		if (n > credit)
			n = credit;
		if (n > room)
			n = room;
		if (n > sizeof(stage))
			n = sizeof(stage);
		if (n == 0)
			return false; /* wait for credit or tx slots */
		r = vs_recv(c, stage, n);
		if (r <= 0)
			return false;
		/* Credit and slots were checked, but vs_send() may still take
		 * less: control packets other connections owe go first and
		 * can use the tx slots up.  What it did not take must not be
		 * dropped: keep polling until all of it left. */
		if (vt_send_all(c, stage, (size_t)r, bytes))
			return false;
	}
}

int scn_echo_server(void)
{
	uint32_t port = (uint32_t)cmdline_u64("port", 1234);
	uint64_t want = cmdline_u64("conns", 0), done = 0, bytes = 0;
	unsigned nactive = 0;
	struct vs_conn *l, *c;
	const char *why;

	if (vt_init("echo-server", 65536, MAX_ACTIVE))
		return 0;
	l = vs_listen(port, VSOCK_TYPE_STREAM);
	if (!l)
		return vt_fail("echo-server", "listen");
	kprintf("tg-note: echo-server listening port=%u\n", port);
	while (!want || done < want) {
		if (!vt_poll(&why))
			return vt_fail("echo-server", "device why='%s'", why);
		while (nactive < MAX_ACTIVE && (c = vs_accept(l)))
			active[nactive++] = c;
		for (unsigned i = 0; i < nactive;) {
			if (serve(active[i], &bytes)) {
				active[i] = active[--nactive];
				done++;
			} else {
				i++;
			}
		}
	}
	vs_close(l);
	vt_drain(3000000);
	vt_stats();
	kprintf("testguest: echo-server ok conns=%lu bytes=%lu\n",
		(unsigned long)done, (unsigned long)bytes);
	return 0;
}
