/* SPDX-License-Identifier: MIT */
/*
 * scenario=send port=P bytes=N [seed=S]: bulk guest -> host.
 * Connect to host port P, send N PRNG bytes (csum.h), half-close, wait for
 * the host to close (it has then read everything), close.
 *   testguest: send ok bytes=N csum=HEX cycles=C
 * csum: CRC-32 (zlib.crc32) of the bytes sent, 8 hex digits; cycles: TSC
 * from the first byte sent to the host's EOF.
 * close=1: close (SHUTDOWN both ways) right after the last byte is queued,
 * without waiting for the host: the device must still deliver every byte.
 * rst_at=N: after N bytes, reset the connection (RST) instead; the line
 * then reports bytes=N (what was sent before the RST).
 */
#include "scenario.h"

#include "cmdline.h"
#include "csum.h"
#include "delay.h"
#include "fmt.h"
#include "heap.h"
#include "io.h"
#include "vstest.h"

#define CHUNK 65536
#define STALL_US 20000000

static uint8_t buf[CHUNK] NOINIT;

int scn_send(void)
{
	uint32_t port = (uint32_t)cmdline_u64("port", 1234);
	uint64_t bytes = cmdline_u64("bytes", 1 << 20);
	uint64_t rst_at = cmdline_u64("rst_at", 0);
	bool fast_close = cmdline_u64("close", 0) != 0;
	struct prng g;
	struct vs_conn *c;
	uint64_t sent = 0, t0, last;
	uint32_t crc = 0;
	size_t off = 0, len = 0;
	const char *why;
	long end;
	int r;

	if (vt_init("send", 65536, 16))
		return 0;
	prng_init(&g, cmdline_u64("seed", 1));
	c = vs_connect(port, VSOCK_TYPE_STREAM);
	if (!c || (r = vs_connect_wait(c, 5000000)) != 0)
		return vt_fail("send", "connect");
	t0 = last = rdtsc();
	if (rst_at && rst_at < bytes)
		bytes = rst_at;
	while (sent < bytes) {
		size_t n;

		if (!vt_poll(&why))
			return vt_fail("send", "device why='%s'", why);
		if (c->state != VS_ESTABLISHED)
			return vt_fail("send", "reset sent=%lu", (unsigned long)sent);
		if (off == len) {
			len = bytes - sent < CHUNK ? (size_t)(bytes - sent) : CHUNK;
			off = 0;
			prng_fill(&g, buf, len);
			crc = crc32_update(crc, buf, len);
		}
		n = vs_send(c, buf + off, len - off);
		off += n;
		sent += n;
		if (n)
			last = rdtsc();
		else if (rdtsc() - last > tsc_from_us(STALL_US))
			return vt_fail("send", "stalled sent=%lu", (unsigned long)sent);
	}
	if (rst_at) {
		vs_abort(c);
	} else if (fast_close) {
		vs_close(c);
	} else {
		vs_shutdown(c, VSOCK_SHUTDOWN_SEND);
		end = vt_wait_end(c, 30000000, NULL);
		if (end == 0)
			return vt_fail("send", "no-close-from-host");
		vs_close(c);
	}
	vt_drain(2000000);
	vt_stats();
	kprintf("testguest: send ok bytes=%lu csum=%08x cycles=%lu\n",
		(unsigned long)bytes, crc, (unsigned long)(rdtsc() - t0));
	return 0;
}
