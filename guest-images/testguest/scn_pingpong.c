/* SPDX-License-Identifier: MIT */
/*
 * scenario=pingpong port=P [size=N] [count=K] [listen=1]: request/response
 * latency.
 * Client (default): connect to host port P (a host echo server at
 * <uds>_P), then K rounds of: send N bytes, wait until N bytes came back.
 * Each round trip is timed with the TSC in ring 3 (rdtsc runs natively);
 * the echo is compared with what was sent (outside the timed part).
 *   testguest: pingpong ok size=N count=K min=C p50=C p99=C mean=C tsc_hz=H kicks=X
 * (C in TSC cycles per round trip; kicks: queue notifications we wrote.)
 * listen=1: the other side: listen on P, take one host connection and echo
 * everything until EOF (the host measures):
 *   testguest: pingpong ok mode=echo bytes=B kicks=X [peer_cid=C peer_port=P peer_conns=1]
 * (peer_ keys: a connection from another VM, vt_peer_str())
 * While waiting, the guest spins on the rx used index in its own memory
 * (no exit) and only then runs the driver's poll, so idle polls do not add
 * the driver's occasional status reads (MMIO exits) to the round trip.
 */
#include "scenario.h"

#include "cmdline.h"
#include "delay.h"
#include "fmt.h"
#include "heap.h"
#include "io.h"
#include "str.h"
#include "vstest.h"

static uint8_t sbuf[65536] NOINIT, rbuf[65536] NOINIT;


static int echo(uint32_t port)
{
	struct vs_conn *l, *c = NULL;
	uint64_t bytes = 0, d = deadline_us(60000000), last;
	const char *why;

	l = vs_listen(port, VSOCK_TYPE_STREAM);
	if (!l)
		return vt_fail("pingpong", "listen");
	kprintf("tg-note: pingpong listening port=%u\n", port);
	while (!(c = vs_accept(l))) {
		if (!vt_poll(&why))
			return vt_fail("pingpong", "device why='%s'", why);
		if (deadline_passed(d))
			return vt_fail("pingpong", "no-connection");
	}
	vt_peer_seen(c);
	last = rdtsc();
	for (;;) {
		long r = vs_recv(c, rbuf, sizeof(rbuf));

		if (r == VS_EOF)
			break;
		if (r == VS_RESET)
			return vt_fail("pingpong", "reset");
		if (r > 0) {
			size_t off = 0;

			while (off < (size_t)r) {
				off += vs_send(c, rbuf + off, (size_t)r - off);
				if (off < (size_t)r && !vt_poll(&why))
					return vt_fail("pingpong", "device why='%s'", why);
				if (rdtsc() - last > tsc_from_us(20000000))
					return vt_fail("pingpong", "stalled");
			}
			bytes += (uint64_t)r;
			last = rdtsc();
			continue;
		}
		vt_wait_used(1000);
		if (!vt_poll(&why))
			return vt_fail("pingpong", "device why='%s'", why);
		if (rdtsc() - last > tsc_from_us(60000000))
			return vt_fail("pingpong", "idle-timeout");
	}
	vs_close(c);
	vs_close(l);
	vt_drain(2000000);
	vt_stats();
	kprintf("testguest: pingpong ok mode=echo bytes=%lu kicks=%lu%s\n",
		(unsigned long)bytes, (unsigned long)vsd_stats.kicks, vt_peer_str());
	return 0;
}

int scn_pingpong(void)
{
	uint32_t port = (uint32_t)cmdline_u64("port", 1234);
	uint64_t size = cmdline_u64("size", 1), n = cmdline_u64("count", 10000);
	uint64_t warm = cmdline_u64("warmup", 100), total = 0, kicks0;
	struct vs_conn *c;
	uint32_t *lat;
	const char *why;

	if (vt_init("pingpong", 65536, 8))
		return 0;
	if (cmdline_u64("listen", 0))
		return echo(port);
	if (size < 1)
		size = 1;
	if (size > sizeof(sbuf))
		size = sizeof(sbuf);
	if (n < 1)
		n = 1;
	if (n > 1000000)
		n = 1000000;
	lat = heap_alloc(n * sizeof(*lat), 64);
	if (!lat)
		return vt_fail("pingpong", "oom");
	for (uint64_t i = 0; i < size; i++)
		sbuf[i] = (uint8_t)(i * 7 + 1);
	c = vs_connect(port, VSOCK_TYPE_STREAM);
	if (!c || vs_connect_wait(c, 5000000) != 0)
		return vt_fail("pingpong", "connect");
	kicks0 = vsd_stats.kicks;
	for (uint64_t i = 0; i < warm + n; i++) {
		uint64_t t0 = rdtsc(), sent = 0, got = 0, d;

		if (i == warm)
			kicks0 = vsd_stats.kicks;
		while (got < size) {
			if (sent < size)
				sent += vs_send(c, sbuf + sent, (size_t)(size - sent));
			long r = vs_recv(c, rbuf + got, (size_t)(size - got));

			if (r < 0)
				return vt_fail("pingpong", "%s round=%lu",
					       r == VS_EOF ? "eof" : "reset", (unsigned long)i);
			if (r > 0) {
				got += (uint64_t)r;
				continue;
			}
			if (rdtsc() - t0 > tsc_from_us(5000000))
				return vt_fail("pingpong", "timeout round=%lu", (unsigned long)i);
			vt_wait_used(1000);
			if (!vt_poll(&why))
				return vt_fail("pingpong", "device why='%s'", why);
		}
		d = rdtsc() - t0;
		if (memcmp(rbuf, sbuf, (size_t)size) != 0)
			return vt_fail("pingpong", "data-mismatch round=%lu", (unsigned long)i);
		if (i >= warm) {
			lat[i - warm] = d > 0xffffffffull ? 0xffffffffu : (uint32_t)d;
			total += d;
		}
	}
	kicks0 = vsd_stats.kicks - kicks0;
	vs_close(c);
	vt_drain(2000000);
	sort_u32(lat, n);
	vt_stats();
	kprintf("testguest: pingpong ok size=%lu count=%lu min=%u p50=%u p99=%u mean=%lu "
		"tsc_hz=%lu kicks=%lu\n",
		(unsigned long)size, (unsigned long)n, lat[0], lat[n / 2], lat[n * 99 / 100],
		(unsigned long)(total / n), (unsigned long)vt_hz(), (unsigned long)kicks0);
	return 0;
}
