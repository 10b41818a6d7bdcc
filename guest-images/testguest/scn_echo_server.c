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

static struct vs_conn *active[MAX_ACTIVE];

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
			if (vt_echo_step(active[i], &bytes)) {
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
