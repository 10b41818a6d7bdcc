/* SPDX-License-Identifier: MIT */
/*
 * scenario=echo-client port=P bytes=N [seed=S] [cid=C]
 * Connect to port P of the host (CID 2; cid=C: a sibling VM), send N PRNG
 * bytes (csum.h) while reading the echo back concurrently, verify every
 * byte, half-close, expect EOF, close.  Credit is respected both ways, so
 * N may be far larger than any buffer.
 *   testguest: echo-client ok bytes=N cycles=C [cid=C lport=L]
 *   testguest: echo-client fail reason=WHY
 * cid/lport (only when C is not the host): where we went and from which of
 * our ports, for the sibling's peer_port.
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
	uint64_t cid = cmdline_u64("cid", VSOCK_HOST_CID);
	uint32_t lport = 0;
	char where[48] = "";
	const char *why;
	uint64_t t0;

	if (vt_init("echo-client", 65536, 64))
		return 0;
	t0 = rdtsc();
	if (vt_echo(port, bytes, seed, &lport, &why))
		return vt_fail("echo-client", "%s", why);
	vt_drain(2000000);
	vt_stats();
	if (cid != VSOCK_HOST_CID)
		ksnprintf(where, sizeof(where), " cid=%lu lport=%u", (unsigned long)cid, lport);
	kprintf("testguest: echo-client ok bytes=%lu cycles=%lu%s\n",
		(unsigned long)bytes, (unsigned long)(rdtsc() - t0), where);
	return 0;
}
