/* SPDX-License-Identifier: MIT */
/*
 * scenario=dgram-server port=P count=N  (needs `dgram=1`)
 * Bind guest port P and send every datagram that arrives back to the host
 * port it came from (from P), unchanged, until N were echoed.  A host
 * program sends "DGRAM P H\n<payload>" to <uds>_dgram and gets the echo at
 * <uds>_dgram_H (docs/vsock.md, "Datagrams").  Datagrams up to `rxbuf`
 * bytes (default 4096) fit the rx buffers; larger ones the device drops.
 *   tg-note: dgram-server listening port=P      (once bound)
 *   testguest: dgram-server ok count=N bytes=B
 *   testguest: dgram-server fail reason=no-dgram-feature | stalled got=K | ...
 */
#include "scenario.h"

#include "cmdline.h"
#include "delay.h"
#include "fmt.h"
#include "heap.h"
#include "io.h"
#include "vsock_dgram.h"
#include "vstest.h"

#define NAME "dgram-server"
#define STALL_US 30000000 /* nothing for 30 s: the host gave up */

static uint8_t buf[VDG_MAX] NOINIT;

int scn_dgram_server(void)
{
	uint32_t port = (uint32_t)cmdline_u64("port", 1234);
	uint64_t count = cmdline_u64("count", 100);
	uint64_t done = 0, bytes = 0, last;
	struct vdg_sock *s;
	const char *why;

	if (vt_init(NAME, 65536, 4))
		return 0;
	if (!vsd_dgram())
		return vt_fail(NAME, "no-dgram-feature");
	/* As deep as the rx queue: what one poll usually delivers. */
	s = vdg_open(port, vsd_rxq()->num, vsd_rxbuf());
	if (!s)
		return vt_fail(NAME, "bind port=%u", port);
	kprintf("tg-note: %s listening port=%u\n", NAME, port);
	last = rdtsc();
	while (done < count) {
		uint32_t src;
		long n;

		if (!vt_poll(&why))
			return vt_fail(NAME, "device why='%s'", why);
		while (done < count && (n = vdg_recv(s, buf, sizeof(buf), &src)) > 0) {
			if (vt_dgram_send(port, src, buf, (uint32_t)n, &why))
				return vt_fail(NAME, "send why='%s' got=%lu", why,
					       (unsigned long)done);
			done++;
			bytes += (uint64_t)n;
			last = rdtsc();
		}
		if (rdtsc() - last > tsc_from_us(STALL_US))
			return vt_fail(NAME, "stalled got=%lu", (unsigned long)done);
	}
	/* The last echoes out before the result line (and the reset). */
	vsd_kick();
	vt_wait_used(100000);
	vt_poll(&why);
	vt_stats();
	kprintf("testguest: %s ok count=%lu bytes=%lu\n", NAME, (unsigned long)count,
		(unsigned long)bytes);
	return 0;
}
