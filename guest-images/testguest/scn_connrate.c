/* SPDX-License-Identifier: MIT */
/*
 * scenario=connrate: connection set-up, and holding many connections.
 *
 * mode=connect port=P [count=N]: guest-initiated.  N times, one after the
 * other: connect to host port P (<uds>_P), wait until established, close
 * (graceful; the slot is reused once the close completed).
 *   testguest: connrate ok mode=connect conns=N cycles=C min=C p50=C p99=C tsc_hz=H
 * cycles: TSC from the first REQUEST to the last connection established;
 * min/p50/p99: per connection, REQUEST to RESPONSE.
 *
 * mode=accept port=P [count=N]: host-initiated.  Listen on P and serve
 * every host connection (`CONNECT P`): echo whatever arrives, close after
 * the host's EOF.  Ends after N connections have ended:
 *   testguest: connrate ok mode=accept conns=N bytes=B max_open=M
 * `tg-note: connrate listening port=P` tells the host when to start.  With
 * maxconns= and bufsz=4096 it holds 10,000 idle connections (bench/).
 */
#include "scenario.h"

#include "cmdline.h"
#include "delay.h"
#include "fmt.h"
#include "heap.h"
#include "io.h"
#include "str.h"
#include "vstest.h"

#define MAX_ACTIVE 16384

static struct vs_conn *active[MAX_ACTIVE] NOINIT;


static int do_connect(uint32_t port, uint64_t n)
{
	uint32_t *lat = heap_alloc(n * sizeof(*lat), 64);
	uint64_t t_all = 0;
	const char *why;

	if (!lat)
		return vt_fail("connrate", "oom");
	for (uint64_t i = 0; i < n; i++) {
		struct vs_conn *c;
		uint64_t t0, d = deadline_us(5000000);
		int r;

		/* A free slot: earlier closes finish in the background. */
		while (!(c = vs_connect(port, VSOCK_TYPE_STREAM))) {
			if (!vt_poll(&why))
				return vt_fail("connrate", "device why='%s'", why);
			if (deadline_passed(d))
				return vt_fail("connrate", "table-full at=%lu", (unsigned long)i);
		}
		t0 = rdtsc();
		if (i == 0)
			t_all = t0;
		d = deadline_us(5000000);
		while (c->state == VS_CONNECTING && !deadline_passed(d)) {
			vt_wait_used(1000);
			if (!vt_poll(&why))
				return vt_fail("connrate", "device why='%s'", why);
		}
		r = c->state == VS_ESTABLISHED ? 0 : c->state == VS_CONNECTING ? -2 : -1;
		if (r)
			return vt_fail("connrate", "connect at=%lu r=%d", (unsigned long)i, r);
		lat[i] = (uint32_t)(rdtsc() - t0);
		vs_close(c);
	}
	t_all = rdtsc() - t_all;
	vt_drain(5000000);
	sort_u32(lat, n);
	vt_stats();
	kprintf("testguest: connrate ok mode=connect conns=%lu cycles=%lu min=%u p50=%u p99=%u "
		"tsc_hz=%lu\n", (unsigned long)n, (unsigned long)t_all, lat[0], lat[n / 2],
		lat[n * 99 / 100], (unsigned long)vt_hz());
	return 0;
}

static int do_accept(uint32_t port, uint64_t want)
{
	uint64_t done = 0, bytes = 0, last = rdtsc(), end = deadline_us(900000000);
	unsigned nactive = 0, max_open = 0;
	struct vs_conn *l, *c;
	const char *why;

	l = vs_listen(port, VSOCK_TYPE_STREAM);
	if (!l)
		return vt_fail("connrate", "listen");
	kprintf("tg-note: connrate listening port=%u\n", port);
	while (done < want) {
		bool moved = false;

		if (!vt_poll(&why))
			return vt_fail("connrate", "device why='%s'", why);
		while (nactive < MAX_ACTIVE && (c = vs_accept(l))) {
			active[nactive++] = c;
			moved = true;
		}
		if (nactive > max_open)
			max_open = nactive;
		for (unsigned i = 0; i < nactive;) {
			uint64_t b = bytes;

			if (vt_echo_step(active[i], &bytes)) {
				active[i] = active[--nactive];
				done++;
				moved = true;
			} else {
				i++;
			}
			moved |= b != bytes;
		}
		if (deadline_passed(end))
			return vt_fail("connrate", "overall-timeout done=%lu", (unsigned long)done);
		if (!moved)
			vt_wait_used(1000);
		if (moved || nactive)
			last = rdtsc();
		else if (rdtsc() - last > tsc_from_us(120000000))
			return vt_fail("connrate", "idle-timeout done=%lu", (unsigned long)done);
	}
	vs_close(l);
	vt_drain(5000000);
	vt_stats();
	kprintf("testguest: connrate ok mode=accept conns=%lu bytes=%lu max_open=%u\n",
		(unsigned long)done, (unsigned long)bytes, max_open);
	return 0;
}

int scn_connrate(void)
{
	uint32_t port = (uint32_t)cmdline_u64("port", 1234);
	uint64_t n = cmdline_u64("count", 1000);
	char mode[16];

	if (n < 1)
		n = 1;
	if (n > 10000000)
		n = 10000000;
	cmdline_str("mode", mode, sizeof(mode));
	if (vt_init("connrate", 4096, 64))
		return 0;
	if (strcmp(mode, "accept") == 0)
		return do_accept(port, n);
	return do_connect(port, n);
}
