/* SPDX-License-Identifier: MIT */
/*
 * scenario=rst port=P
 * Connect to a host port where nothing listens: the device must answer the
 * REQUEST with RST, quickly (well before the 2 s connect timeout).
 *   testguest: rst ok
 *   testguest: rst fail reason=timeout|established|...
 * `tg-note: rst us=N` gives the time to the RST.
 */
#include "scenario.h"

#include "cmdline.h"
#include "fmt.h"
#include "io.h"
#include "vstest.h"

int scn_rst(void)
{
	uint32_t port = (uint32_t)cmdline_u64("port", 1234);
	struct vs_conn *c;
	uint64_t t0;
	int r;

	if (vt_init("rst", 65536, 16))
		return 0;
	t0 = rdtsc();
	c = vs_connect(port, VSOCK_TYPE_STREAM);
	if (!c)
		return vt_fail("rst", "no-connection-slot");
	r = vs_connect_wait(c, 2000000);
	kprintf("tg-note: rst us=%lu\n",
		(unsigned long)((rdtsc() - t0) * 1000000 / vt_hz()));
	if (r == 0) {
		vs_abort(c);
		return vt_fail("rst", "established");
	}
	if (r == -2)
		return vt_fail("rst", "timeout");
	if (r != -1 || !c->got_rst)
		return vt_fail("rst", "device");
	vs_release(c);
	vt_stats();
	kprintf("testguest: rst ok\n");
	return 0;
}
