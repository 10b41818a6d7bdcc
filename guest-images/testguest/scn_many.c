/* SPDX-License-Identifier: MIT */
/*
 * scenario=many port=P conns=N
 * Open N connections to host port P at once (all REQUESTs first, then wait
 * for the RESPONSEs), send a distinct message on each ("many <i> <lport>\n"),
 * read every echo back and compare, close all.
 *   testguest: many ok conns=N
 * Defaults for this scenario: bufsz=16384 (per connection), maxconns=N+8;
 * give the VM --mem 256 or more for N around 1000.
 * rounds=R repeats the whole open/echo/close R times (every connection
 * closed and gone before the next round); hold=1 keeps the guest idling
 * after the result line instead of ending the VM, so the host can inspect
 * the VMM (file descriptors, memory) with all connections closed.
 */
#include "scenario.h"

#include "cmdline.h"
#include "delay.h"
#include "fmt.h"
#include "str.h"
#include "vstest.h"

#define MAX_N 4000

static struct vs_conn *cs[MAX_N];
static uint8_t got[MAX_N];

static int round_once(uint32_t port, unsigned n);

/* In round_once(): print the fail line and give up. */
#define FAIL(...) do { vt_fail("many", __VA_ARGS__); return -1; } while (0)

int scn_many(void)
{
	uint32_t port = (uint32_t)cmdline_u64("port", 1234);
	unsigned n = (unsigned)cmdline_u64("conns", 100);
	uint64_t rounds = cmdline_u64("rounds", 1);
	const char *why;

	if (n > MAX_N)
		n = MAX_N;
	if (vt_init("many", 16384, n + 8))
		return 0;
	for (uint64_t r = 0; r < rounds; r++)
		if (round_once(port, n))
			return 0; /* it printed the fail line */
	vt_stats();
	kprintf("testguest: many ok conns=%u\n", n);
	if (cmdline_u64("hold", 0))
		for (;;)
			if (!vt_poll(&why))
				break;
	return 0;
}

/* One round: -1 after printing the fail line. */
static int round_once(uint32_t port, unsigned n)
{
	unsigned sent = 0, echoed = 0, established = 0;
	uint64_t d;
	const char *why;
	char msg[64], back[64];

	for (unsigned i = 0; i < n; i++) {
		cs[i] = vs_connect(port, VSOCK_TYPE_STREAM);
		if (!cs[i])
			FAIL("table-full at=%u", i);
		if ((i & 15) == 0 && !vt_poll(&why))
			FAIL("device why='%s'", why);
	}
	d = deadline_us(60000000);
	while (established < n) {
		established = 0;
		for (unsigned i = 0; i < n; i++) {
			if (cs[i]->state == VS_CLOSED)
				FAIL("refused at=%u", i);
			established += cs[i]->state == VS_ESTABLISHED;
		}
		if (deadline_passed(d))
			FAIL("connect-timeout established=%u", established);
		if (!vt_poll(&why))
			FAIL("device why='%s'", why);
	}
	d = deadline_us(60000000);
	memset(got, 0, sizeof(got));
	while (echoed < n) {
		for (unsigned i = 0; i < n; i++) {
			struct vs_conn *c = cs[i];
			int len = ksnprintf(msg, sizeof(msg), "many %u %u\n", i, c->lport);

			if (c->bytes_out < (uint64_t)len) {
				vs_send(c, msg + c->bytes_out, (size_t)len - c->bytes_out);
				sent += c->bytes_out == (uint64_t)len;
			}
			if (!got[i] && vs_rx_avail(c) >= (uint32_t)len) {
				vs_recv(c, back, (size_t)len);
				if (memcmp(back, msg, (size_t)len) != 0)
					FAIL("mismatch at=%u", i);
				got[i] = 1;
				echoed++;
			}
			if (c->state == VS_CLOSED)
				FAIL("reset at=%u", i);
		}
		if (deadline_passed(d))
			FAIL("echo-timeout sent=%u echoed=%u", sent, echoed);
		if (!vt_poll(&why))
			FAIL("device why='%s'", why);
	}
	for (unsigned i = 0; i < n; i++)
		vs_close(cs[i]);
	vt_drain(10000000);
	if (vs_conns_in_use())
		FAIL("close-timeout left=%u", vs_conns_in_use());
	return 0;
}
