/* SPDX-License-Identifier: MIT */
/*
 * scenario=echo-client port=P bytes=N [seed=S]
 * Connect to the host (CID 2) port P, send N PRNG bytes (csum.h) while
 * reading the echo back concurrently, verify every byte, half-close, expect
 * EOF, close.  Credit is respected both ways, so N may be far larger than
 * any buffer.
 *   testguest: echo-client ok bytes=N cycles=C
 *   testguest: echo-client fail reason=WHY
 */
#include "scenario.h"

#include "cmdline.h"
#include "fmt.h"
#include "io.h"
#include "vstest.h"

int scn_echo_client(void)
{
	uint32_t port = (uint32_t)cmdline_u64("port", 1234);
	uint64_t bytes = cmdline_u64("bytes", 65536);
	uint64_t seed = cmdline_u64("seed", 1);
	const char *why;
	uint64_t t0;

	if (vt_init("echo-client", 65536, 64))
		return 0;
	t0 = rdtsc();
	if (vt_echo(port, bytes, seed, &why))
		return vt_fail("echo-client", "%s", why);
	vt_drain(2000000);
	vt_stats();
	kprintf("testguest: echo-client ok bytes=%lu cycles=%lu\n",
		(unsigned long)bytes, (unsigned long)(rdtsc() - t0));
	return 0;
}
