/* SPDX-License-Identifier: MIT */
/*
 * scenario=recv port=P [bytes=N] [listen=1]: bulk host -> guest.
 * Connect to host port P (or, with listen=1, listen on P and take one host
 * connection), read until EOF, checksum everything (CRC-32, csum.h).
 *   testguest: recv ok bytes=N csum=HEX cycles=C [peer_cid=C peer_port=P peer_conns=1]
 * bytes=N, when given, must match what arrived (else reason=short/long).
 * cycles: TSC from the connection being established to EOF; peer_ keys:
 * with listen=1, a connection from another VM (vt_peer_str()).
 * stall_ms=N: first keep polling for N ms without reading anything, so the
 * sender hits our credit (bufsz=) and must wait; a device that sends beyond
 * it is caught (credit_overruns in tg-stats, and the connection is reset).
 */
#include "scenario.h"

#include "cmdline.h"
#include "csum.h"
#include "delay.h"
#include "fmt.h"
#include "heap.h"
#include "io.h"
#include "vstest.h"

#define STALL_US 20000000

static uint8_t buf[65536] NOINIT;

int scn_recv(void)
{
	uint32_t port = (uint32_t)cmdline_u64("port", 1234);
	uint64_t want = cmdline_u64("bytes", 0);
	struct vs_conn *c = NULL, *l = NULL;
	uint64_t got = 0, t0, last;
	uint32_t crc = 0;
	const char *why;

	if (vt_init("recv", 256 * 1024, 16))
		return 0;
	if (cmdline_u64("listen", 0)) {
		uint64_t d = deadline_us(60000000);

		l = vs_listen(port, VSOCK_TYPE_STREAM);
		while (l && !(c = vs_accept(l))) {
			if (!vt_poll(&why))
				return vt_fail("recv", "device why='%s'", why);
			if (deadline_passed(d))
				return vt_fail("recv", "no-connection");
		}
		if (c)
			vt_peer_seen(c);
		kprintf("tg-note: recv listening on %u\n", port);
	} else {
		c = vs_connect(port, VSOCK_TYPE_STREAM);
		if (!c || vs_connect_wait(c, 5000000) != 0)
			return vt_fail("recv", "connect");
	}
	if (cmdline_has("stall_ms")) {
		/* A reader that stops: first let our whole receive buffer fill
		 * (bounded, so a slow host cannot make this hang), then keep
		 * not reading for stall_ms more.  Waiting for the fill instead
		 * of only sleeping keeps the check below independent of how
		 * fast the host starts sending. */
		uint64_t d = deadline_us(10000000);

		while (vs_rx_avail(c) < c->rsize && !deadline_passed(d))
			if (!vt_poll(&why))
				return vt_fail("recv", "device why='%s'", why);
		d = deadline_us(cmdline_u64("stall_ms", 0) * 1000);
		while (!deadline_passed(d))
			if (!vt_poll(&why))
				return vt_fail("recv", "device why='%s'", why);
		kprintf("tg-note: recv stalled with %u bytes buffered (bufsz %u)\n",
			vs_rx_avail(c), c->rsize);
	}
	t0 = last = rdtsc();
	for (;;) {
		long r = vs_recv(c, buf, sizeof(buf));

		if (r == VS_EOF)
			break;
		if (r == VS_RESET)
			return vt_fail("recv", "reset got=%lu", (unsigned long)got);
		if (r > 0) {
			crc = crc32_update(crc, buf, (size_t)r);
			got += (uint64_t)r;
			last = rdtsc();
			continue;
		}
		if (!vt_poll(&why))
			return vt_fail("recv", "device why='%s'", why);
		if (rdtsc() - last > tsc_from_us(STALL_US))
			return vt_fail("recv", "stalled got=%lu", (unsigned long)got);
	}
	t0 = rdtsc() - t0;
	vs_close(c);
	if (l)
		vs_close(l);
	vt_drain(2000000);
	vt_stats();
	if (want && got != want)
		return vt_fail("recv", "%s got=%lu csum=%08x", got < want ? "short" : "long",
			       (unsigned long)got, crc);
	kprintf("testguest: recv ok bytes=%lu csum=%08x cycles=%lu%s\n",
		(unsigned long)got, crc, (unsigned long)t0, vt_peer_str());
	return 0;
}
