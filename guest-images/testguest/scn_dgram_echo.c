/* SPDX-License-Identifier: MIT */
/*
 * scenario=dgram-echo port=P count=N size=S [gport=G] [seed=X] [window=W]
 * (needs `dgram=1`; S above 4096 also `rxbuf=`)
 * Send N datagrams of S bytes from guest port G (default 6000) to host port
 * P, where a host program echoes each one back by returning its "DGRAM G P"
 * line (docs/vsock.md, "Datagrams"); check every reply, in order, against
 * what was sent.  Datagram i is the PRNG stream seeded with X + i (csum.h).
 * At most W (default 8, at most 32) wait for their echo: the host
 * receiver's queue is short (net.unix.max_dgram_qlen, often 10) and what
 * waits there counts against the VMM socket's send buffer (wmem_default,
 * ~208 KiB: keep W * S below it); past either the VMM drops the datagram,
 * counted (dgram.tx_host_full), and nothing retries.
 *   testguest: dgram-echo ok count=N size=S bytes=B csum=HEX
 * (csum: CRC-32 of all N payloads in order, as the host received them)
 *   testguest: dgram-echo fail reason=no-dgram-feature | rxbuf-too-small |
 *              lost idx=I | mismatch idx=I len=L src=PORT | ...
 */
#include "scenario.h"

#include "cmdline.h"
#include "csum.h"
#include "delay.h"
#include "fmt.h"
#include "heap.h"
#include "io.h"
#include "str.h"
#include "vsock_dgram.h"
#include "vstest.h"

#define NAME "dgram-echo"
#define REPLY_US 5000000 /* no echo for 5 s: it was lost */

static uint8_t out[VDG_MAX] NOINIT, in[VDG_MAX] NOINIT, expect[VDG_MAX] NOINIT;

static void payload(uint64_t seed, uint8_t *buf, uint32_t n)
{
	struct prng g;

	prng_init(&g, seed);
	prng_fill(&g, buf, n);
}

int scn_dgram_echo(void)
{
	uint32_t port = (uint32_t)cmdline_u64("port", 1234);
	uint32_t gport = (uint32_t)cmdline_u64("gport", 6000);
	uint64_t count = cmdline_u64("count", 100);
	uint64_t size = cmdline_u64("size", 64);
	uint64_t seed = cmdline_u64("seed", 1);
	uint64_t window = cmdline_u64("window", 8);
	uint64_t sent = 0, got = 0, bytes = 0, last;
	uint32_t crc = 0;
	struct vdg_sock *s;
	const char *why;

	if (vt_init(NAME, 65536, 4))
		return 0;
	if (!vsd_dgram())
		return vt_fail(NAME, "no-dgram-feature");
	if (size == 0 || size > VDG_MAX || size > vsd_txpkt())
		return vt_fail(NAME, "bad-size size=%lu", (unsigned long)size);
	if (size > vsd_rxbuf()) /* the device would drop every echo */
		return vt_fail(NAME, "rxbuf-too-small size=%lu rxbuf=%u",
			       (unsigned long)size, vsd_rxbuf());
	if (window == 0 || window > 32)
		window = 8;
	s = vdg_open(gport, 64, (uint32_t)size);
	if (!s)
		return vt_fail(NAME, "bind gport=%u", gport);
	last = rdtsc();
	while (got < count) {
		long n;
		uint32_t src;

		while (sent < count && sent - got < window) {
			int r;

			payload(seed + sent, out, (uint32_t)size);
			r = vdg_send(gport, port, out, (uint32_t)size);
			if (r == -1)
				break; /* no tx slot now: poll first */
			if (r < 0)
				return vt_fail(NAME, "send idx=%lu", (unsigned long)sent);
			crc = crc32_update(crc, out, (size_t)size);
			sent++;
		}
		if (!vt_poll(&why))
			return vt_fail(NAME, "device why='%s'", why);
		while ((n = vdg_recv(s, in, sizeof(in), &src)) > 0) {
			payload(seed + got, expect, (uint32_t)size);
			if (src != port || (uint64_t)n != size || memcmp(in, expect, (size_t)size))
				return vt_fail(NAME, "mismatch idx=%lu len=%ld src=%u",
					       (unsigned long)got, n, src);
			got++;
			bytes += (uint64_t)n;
			last = rdtsc();
		}
		if (rdtsc() - last > tsc_from_us(REPLY_US))
			return vt_fail(NAME, "lost idx=%lu sent=%lu", (unsigned long)got,
				       (unsigned long)sent);
	}
	vt_stats();
	kprintf("testguest: %s ok count=%lu size=%lu bytes=%lu csum=%08x\n", NAME,
		(unsigned long)count, (unsigned long)size, (unsigned long)bytes, crc);
	return 0;
}
