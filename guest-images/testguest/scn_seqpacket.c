/* SPDX-License-Identifier: MIT */
/*
 * scenario=seqpacket port=P
 * SEQPACKET connection to host port P (the SEQPACKET feature must have been
 * negotiated); send messages of 1, 100, 4096, 10000 and 65536 bytes (PRNG,
 * each with EOM and EOR) and expect each echoed back as one message with
 * its boundary (EOM) preserved.
 *   testguest: seqpacket ok msgs=5
 *   testguest: seqpacket fail reason=no-seqpacket-feature (device lacks it)
 */
#include "scenario.h"

#include "cmdline.h"
#include "csum.h"
#include "delay.h"
#include "fmt.h"
#include "heap.h"
#include "str.h"
#include "vstest.h"

static const uint32_t sizes[] = { 1, 100, 4096, 10000, 65536 };
static uint8_t out[65536] NOINIT, in[65536 + 1] NOINIT;

int scn_seqpacket(void)
{
	uint32_t port = (uint32_t)cmdline_u64("port", 1234);
	struct prng g;
	struct vs_conn *c;
	const char *why;
	unsigned i;

	if (vt_init("seqpacket", 128 * 1024, 16))
		return 0;
	if (!vsd_seqpacket())
		return vt_fail("seqpacket", "no-seqpacket-feature");
	prng_init(&g, cmdline_u64("seed", 3));
	c = vs_connect(port, VSOCK_TYPE_SEQPACKET);
	if (!c || vs_connect_wait(c, 5000000) != 0)
		return vt_fail("seqpacket", "connect");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint32_t n = sizes[i], sent = 0, full = 0, flags = 0;
		uint64_t d = deadline_us(20000000);
		long r;

		/* Linux refuses messages larger than the peer's buffer
		 * (EMSGSIZE); so do we. */
		if (n > c->peer_buf_alloc)
			return vt_fail("seqpacket", "msg-too-big size=%u peer_buf_alloc=%u",
				       n, c->peer_buf_alloc);
		prng_fill(&g, out, n);
		while (sent < n) {
			sent += (uint32_t)vs_send_seq(c, out + sent, n - sent, true, true);
			if (!vt_poll(&why))
				return vt_fail("seqpacket", "device why='%s'", why);
			if (c->state != VS_ESTABLISHED || deadline_passed(d))
				return vt_fail("seqpacket", "send size=%u", n);
		}
		while ((r = vs_recv_msg(c, in, sizeof(in), &full, &flags)) == 0) {
			if (!vt_poll(&why))
				return vt_fail("seqpacket", "device why='%s'", why);
			if (deadline_passed(d))
				return vt_fail("seqpacket", "reply-timeout size=%u have=%u", n,
					       vs_rx_avail(c));
		}
		if (r < 0)
			return vt_fail("seqpacket", "%s size=%u", r == VS_EOF ? "eof" : "reset", n);
		if (full != n)
			return vt_fail("seqpacket", "boundary size=%u got=%u", n, full);
		if (memcmp(in, out, n) != 0)
			return vt_fail("seqpacket", "data-mismatch size=%u", n);
		if (!(flags & VSOCK_SEQ_EOM))
			return vt_fail("seqpacket", "no-eom size=%u", n);
	}
	vs_close(c);
	vt_drain(3000000);
	vt_stats();
	kprintf("testguest: seqpacket ok msgs=%u\n", i);
	return 0;
}
