/* SPDX-License-Identifier: MIT */
/*
 * scenario=halfclose port=P [bytes=N] [seed=S]
 * Connect to host port P, send N PRNG bytes (default 10000), then shut down
 * our write side only (SHUTDOWN with SEND).  The host reads to EOF and only
 * then answers with the same bytes and closes: the reply must still reach
 * us in full, followed by EOF.
 *   testguest: halfclose ok bytes=N
 */
#include "scenario.h"

#include "cmdline.h"
#include "csum.h"
#include "delay.h"
#include "fmt.h"
#include "heap.h"
#include "str.h"
#include "vstest.h"

static uint8_t out[1 << 20] NOINIT, in[1 << 20] NOINIT;

int scn_halfclose(void)
{
	uint32_t port = (uint32_t)cmdline_u64("port", 1234);
	uint64_t n = cmdline_u64("bytes", 10000);
	struct prng g;
	struct vs_conn *c;
	uint64_t sent = 0, got = 0, d;
	const char *why;
	long r;

	if (n > sizeof(out))
		n = sizeof(out);
	if (vt_init("halfclose", 65536, 16))
		return 0;
	prng_init(&g, cmdline_u64("seed", 7));
	prng_fill(&g, out, n);
	c = vs_connect(port, VSOCK_TYPE_STREAM);
	if (!c || vs_connect_wait(c, 5000000) != 0)
		return vt_fail("halfclose", "connect");
	d = deadline_us(30000000);
	while (sent < n) {
		sent += vs_send(c, out + sent, n - sent);
		if (!vt_poll(&why))
			return vt_fail("halfclose", "device why='%s'", why);
		if (c->state != VS_ESTABLISHED || deadline_passed(d))
			return vt_fail("halfclose", "send sent=%lu", (unsigned long)sent);
		/* The host only answers after EOF: nothing may arrive yet. */
		if (vs_rx_avail(c))
			return vt_fail("halfclose", "reply-before-eof");
	}
	vs_shutdown(c, VSOCK_SHUTDOWN_SEND);
	for (;;) {
		r = vs_recv(c, in + got, sizeof(in) - got);
		if (r == VS_EOF)
			break;
		if (r == VS_RESET)
			return vt_fail("halfclose", "reset got=%lu", (unsigned long)got);
		if (r > 0) {
			got += (uint64_t)r;
			continue;
		}
		if (!vt_poll(&why))
			return vt_fail("halfclose", "device why='%s'", why);
		if (deadline_passed(d))
			return vt_fail("halfclose", "reply-timeout got=%lu", (unsigned long)got);
	}
	if (got != n || memcmp(in, out, n) != 0)
		return vt_fail("halfclose", "reply-mismatch got=%lu", (unsigned long)got);
	vs_close(c);
	vt_drain(3000000);
	vt_stats();
	kprintf("testguest: halfclose ok bytes=%lu\n", (unsigned long)n);
	return 0;
}
