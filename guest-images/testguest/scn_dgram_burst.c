/* SPDX-License-Identifier: MIT */
/*
 * scenario=dgram-burst port=P [hold=MS] [quiet=MS]  (needs `dgram=1`)
 * Bind guest port P, say so, then neither read nor re-post rx buffers for
 * MS milliseconds (default 2000) while the host sends a burst to P: the
 * device fills the posted rx buffers, holds at most 64 more
 * (VSOCK_DGRAM_QUEUE_MAX) and drops the rest, counting each drop
 * (dgram.rx_queue_full in the VMM's metrics; which ones survive is not
 * simply the first ones: the device reads its socket in batches of 64 and
 * hands out 16 per turn).  Then read until nothing
 * came for `quiet` ms (default 1000) and report how many arrived, so that
 * the host test can check received + the VMM's counted drops == sent.
 * Each datagram carries its index as 4 little-endian bytes first: indices
 * must rise (order is kept; gaps are drops).
 *   tg-note: dgram-burst ready port=P hold_ms=MS
 *   testguest: dgram-burst ok received=R bytes=B first=I last=J
 *   testguest: dgram-burst fail reason=no-dgram-feature | order idx=I prev=J | ...
 */
#include "scenario.h"

#include "cmdline.h"
#include "delay.h"
#include "fmt.h"
#include "heap.h"
#include "str.h"
#include "vsock_dgram.h"
#include "vstest.h"

#define NAME "dgram-burst"
#define MAXLEN 256 /* burst datagrams are small */

static uint8_t buf[MAXLEN];

int scn_dgram_burst(void)
{
	uint32_t port = (uint32_t)cmdline_u64("port", 1234);
	uint64_t hold = cmdline_u64("hold", 2000);
	uint64_t quiet = cmdline_u64("quiet", 1000);
	uint64_t received = 0, bytes = 0, quiet_until;
	uint32_t first = 0, prev = 0;
	struct vdg_sock *s;
	const char *why;

	if (vt_init(NAME, 65536, 4))
		return 0;
	if (!vsd_dgram())
		return vt_fail(NAME, "no-dgram-feature");
	s = vdg_open(port, VQ_MAX, MAXLEN);
	if (!s)
		return vt_fail(NAME, "bind port=%u", port);
	kprintf("tg-note: %s ready port=%u hold_ms=%lu\n", NAME, port, (unsigned long)hold);
	/* Hands off the queues: the used rx buffers stay ours, unposted. */
	udelay(hold * 1000);
	kprintf("tg-note: %s reading\n", NAME);
	quiet_until = deadline_us(quiet * 1000);
	while (!deadline_passed(quiet_until)) {
		uint32_t idx;
		long n;

		if (!vt_poll(&why))
			return vt_fail(NAME, "device why='%s'", why);
		while ((n = vdg_recv(s, buf, sizeof(buf), NULL)) > 0) {
			if (n < 4 || n > MAXLEN)
				return vt_fail(NAME, "len len=%ld", n);
			memcpy(&idx, buf, 4);
			if (received && idx <= prev)
				return vt_fail(NAME, "order idx=%u prev=%u", idx, prev);
			if (!received)
				first = idx;
			prev = idx;
			received++;
			bytes += (uint64_t)n;
			quiet_until = deadline_us(quiet * 1000);
		}
	}
	vt_stats();
	kprintf("testguest: %s ok received=%lu bytes=%lu first=%u last=%u\n", NAME,
		(unsigned long)received, (unsigned long)bytes, first, prev);
	return 0;
}
