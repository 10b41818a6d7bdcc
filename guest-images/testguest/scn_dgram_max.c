/* SPDX-License-Identifier: MIT */
/*
 * scenario=dgram-max port=P [gport=G] [seed=X]  (needs `dgram=1 rxbuf=65536`)
 * The largest datagram, 65536 bytes (VIRTIO_VSOCK_MAX_PKT_BUF_SIZE), both
 * ways: send one (PRNG, seed X) from guest port G (default 6001) to host
 * port P; the host checks it and answers on the same line, first with
 * 65537 bytes (which the device must drop, dgram.rx_too_big), then with
 * the 65536 it got.  Exactly that one must arrive, whole; nothing else
 * within half a second after it.  The device never splits a datagram over
 * rx buffers, hence rxbuf=65536 (44 + 65536-byte buffers).
 *   testguest: dgram-max ok size=65536 csum=HEX
 *   testguest: dgram-max fail reason=no-dgram-feature | rxbuf-too-small |
 *              no-reply | mismatch len=L src=S | extra len=L | ...
 */
#include "scenario.h"

#include "cmdline.h"
#include "csum.h"
#include "delay.h"
#include "fmt.h"
#include "heap.h"
#include "str.h"
#include "vsock_dgram.h"
#include "vstest.h"

#define NAME "dgram-max"
#define REPLY_US 10000000
#define EXTRA_US 500000

static uint8_t out[VDG_MAX] NOINIT, in[VDG_MAX] NOINIT;

/* Poll until a datagram waits on s or `us` pass: its length, 0 if none. */
static long wait_dgram(struct vdg_sock *s, uint64_t us, uint32_t *src, const char **why)
{
	uint64_t d = deadline_us(us);

	while (vdg_pending(s) == 0) {
		if (!vt_poll(why))
			return -1;
		if (deadline_passed(d))
			return 0;
	}
	return vdg_recv(s, in, sizeof(in), src);
}

int scn_dgram_max(void)
{
	uint32_t port = (uint32_t)cmdline_u64("port", 1234);
	uint32_t gport = (uint32_t)cmdline_u64("gport", 6001);
	struct prng g;
	struct vdg_sock *s;
	const char *why = "?";
	uint32_t src = 0;
	long n;

	if (vt_init(NAME, 65536, 4))
		return 0;
	if (!vsd_dgram())
		return vt_fail(NAME, "no-dgram-feature");
	if (vsd_rxbuf() < VDG_MAX || vsd_txpkt() < VDG_MAX)
		return vt_fail(NAME, "rxbuf-too-small rxbuf=%u txpkt=%u", vsd_rxbuf(),
			       vsd_txpkt());
	s = vdg_open(gport, 4, VDG_MAX);
	if (!s)
		return vt_fail(NAME, "bind gport=%u", gport);
	prng_init(&g, cmdline_u64("seed", 5));
	prng_fill(&g, out, VDG_MAX);
	if (vt_dgram_send(gport, port, out, VDG_MAX, &why))
		return vt_fail(NAME, "send why='%s'", why);
	vsd_kick();
	n = wait_dgram(s, REPLY_US, &src, &why);
	if (n < 0)
		return vt_fail(NAME, "device why='%s'", why);
	if (n == 0)
		return vt_fail(NAME, "no-reply");
	if (n != VDG_MAX || src != port || memcmp(in, out, VDG_MAX) != 0)
		return vt_fail(NAME, "mismatch len=%ld src=%u", n, src);
	n = wait_dgram(s, EXTRA_US, &src, &why);
	if (n != 0)
		return vt_fail(NAME, "extra len=%ld", n);
	vt_stats();
	kprintf("testguest: %s ok size=%u csum=%08x\n", NAME, VDG_MAX,
		crc32_update(0, out, VDG_MAX));
	return 0;
}
