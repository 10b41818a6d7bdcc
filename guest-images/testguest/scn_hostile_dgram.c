/* SPDX-License-Identifier: MIT */
/*
 * scenario=hostile mode=dgram-* port=P ...: datagrams the device must drop
 * (docs/vsock.md, "Datagrams": each counted in the metrics, never answered
 * with RST, since a datagram has no flow to reset), then scn_hostile's
 * usual proof that streams still work.  Packets go out raw (vs_raw), from
 * guest port SPORT; every packet that comes back to SPORT is an answer.
 * Modes other than dgram-no-feature and dgram-rx-starve end with one valid
 * datagram "after" from SPORT to P, so the host sees that datagrams still
 * go through.
 *
 *   dgram-no-feature  (without dgram=1) a type-3 RW of 10 bytes to P while
 *                     F_DGRAM is not negotiated: pkt_err.type.
 *                     observed=drop | rst | other
 *   dgram-bad-op      type 3 with ops REQUEST, RESPONSE, RST, SHUTDOWN,
 *                     CREDIT_UPDATE, CREDIT_REQUEST (len 0; pkt_err.dgram_op)
 *                     and op 42 (len 3; pkt_err.op).  observed=drop | ...
 *   dgram-bad-len     RW with len 0, len 65537 (65536 bytes in the chain),
 *                     both pkt_err.dgram_len; len 1000 with 100 in the chain
 *                     (pkt_err.len_chain); len 10 with 100 in the chain,
 *                     which is valid: the host gets bytes 0..9 (byte i = i).
 *                     observed=drop | ...
 *   dgram-credit      buf_alloc 0xffffffff and fwd_cnt 0x12345678 on a
 *                     datagram "credit" to P, and buf_alloc 1 on a datagram
 *                     "stream" on the ports of the open stream connection to
 *                     E: both must be delivered as datagrams and change
 *                     nothing.  A device that took the second for a stream
 *                     packet would put "stream" into the connection (the
 *                     echo on it afterwards sees stray bytes); one that took
 *                     its credit would believe the guest has 1 byte of
 *                     buffer until the guest's next packet on the connection
 *                     says otherwise (the device unit test
 *                     dgram_len_chain_credit_fields_empty_buffer checks that
 *                     with nothing sent in between).  observed=ignored | ...
 *   dgram-rx-starve   bind guest port P, then neither read nor re-post rx
 *                     buffers for hold=MS (default 3000) while the host
 *                     floods P (the device must queue at most 64 and count
 *                     the rest); then read until 1 s passes without one.
 *                     observed=received:N
 *   tg-note: dgram-rx-starve ready port=P hold_ms=MS   (then flood)
 */
#include "scn_hostile_dgram.h"

#include "cmdline.h"
#include "delay.h"
#include "fmt.h"
#include "heap.h"
#include "str.h"
#include "vsock_dgram.h"
#include "vstest.h"

#define SPORT 3100000u
#define WAIT_US 500000
#define QUIET_US 1000000
#define STARVE_MAXLEN 256

static uint8_t big[VDG_MAX] NOINIT;

/* Answers: anything to SPORT, and an RST or a datagram on the stream
 * connection's ports (watch_par), seen before the driver processes it. */
static const struct vs_conn *watch_par;
static uint64_t answers;
static uint16_t answer_op;

static void hook(const struct vsock_hdr *h)
{
	bool on_par = watch_par && h->dst_port == watch_par->lport &&
		      (h->op == VSOCK_OP_RST || h->type == VSOCK_TYPE_DGRAM);

	if (h->dst_port != SPORT && !on_par)
		return;
	if (!answers)
		answer_op = h->op;
	answers++;
}

/* One packet as given: header fields, then n payload bytes from p. */
static int raw(uint16_t op, uint32_t sport, uint32_t dport, uint32_t len,
	       const void *p, uint32_t n, uint32_t buf_alloc, uint32_t fwd_cnt)
{
	struct vsock_hdr h = {
		.src_cid = vsd_cid(), .dst_cid = VSOCK_HOST_CID,
		.src_port = sport, .dst_port = dport, .len = len,
		.type = VSOCK_TYPE_DGRAM, .op = op,
		.buf_alloc = buf_alloc, .fwd_cnt = fwd_cnt,
	};
	uint64_t d = deadline_us(5000000);
	const char *why;

	while (vs_raw(&h, p, n)) {
		if (!vt_poll(&why) || deadline_passed(d))
			return -1;
	}
	vsd_kick();
	return 0;
}

/* Poll for a while; what came back. */
static const char *verdict(const char *none)
{
	uint64_t d = deadline_us(WAIT_US);
	const char *why;

	while (!deadline_passed(d))
		if (!vt_poll(&why))
			return "device-broken";
	if (!answers)
		return none;
	return answer_op == VSOCK_OP_RST ? "rst" : "other";
}

static int after(uint32_t port, char *obs, size_t size)
{
	const char *why;

	if (vt_dgram_send(SPORT, port, "after", 5, &why)) {
		ksnprintf(obs, size, "after-send:%s", why);
		return -1;
	}
	vsd_kick();
	return 0;
}

static int no_feature(uint32_t port, char *obs, size_t size)
{
	if (vsd_dgram()) {
		ksnprintf(obs, size, "dgram-negotiated");
		return -1;
	}
	kprintf("tg-note: dgram-no-feature device offers F_DGRAM=%u\n",
		(unsigned)((vsd_mmio.dev_features >> VSOCK_F_DGRAM) & 1));
	if (raw(VSOCK_OP_RW, SPORT, port, 10, big, 10, 0, 0))
		return -1;
	ksnprintf(obs, size, "%s", verdict("drop"));
	return 0;
}

static int bad_op(uint32_t port, char *obs, size_t size)
{
	static const uint16_t ops[] = {
		VSOCK_OP_REQUEST, VSOCK_OP_RESPONSE, VSOCK_OP_RST,
		VSOCK_OP_SHUTDOWN, VSOCK_OP_CREDIT_UPDATE, VSOCK_OP_CREDIT_REQUEST,
	};

	for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (raw(ops[i], SPORT, port, 0, NULL, 0, 0, 0))
			return -1;
	if (raw(42, SPORT, port, 3, "abc", 3, 0, 0))
		return -1;
	ksnprintf(obs, size, "%s", verdict("drop"));
	return after(port, obs, size);
}

static int bad_len(uint32_t port, char *obs, size_t size)
{
	uint32_t most = vsd_txpkt() < VDG_MAX ? vsd_txpkt() : VDG_MAX;

	if (raw(VSOCK_OP_RW, SPORT, port, 0, NULL, 0, 0, 0) ||
	    raw(VSOCK_OP_RW, SPORT, port, VDG_MAX + 1, big, most, 0, 0) ||
	    raw(VSOCK_OP_RW, SPORT, port, 1000, big, 100, 0, 0) ||
	    raw(VSOCK_OP_RW, SPORT, port, 10, big, 100, 0, 0))
		return -1;
	ksnprintf(obs, size, "%s", verdict("drop"));
	return after(port, obs, size);
}

static int credit(uint32_t port, struct vs_conn *par, char *obs, size_t size)
{
	if (raw(VSOCK_OP_RW, SPORT, port, 6, "credit", 6, 0xffffffffu, 0x12345678u))
		return -1;
	if (par) {
		watch_par = par;
		if (raw(VSOCK_OP_RW, par->lport, par->pport, 6, "stream", 6, 1,
			par->fwd_cnt))
			return -1;
	}
	ksnprintf(obs, size, "%s", verdict("ignored"));
	watch_par = NULL;
	return after(port, obs, size);
}

static int rx_starve(uint32_t port, char *obs, size_t size)
{
	uint64_t hold = cmdline_u64("hold", 3000), received = 0, quiet;
	struct vdg_sock *s = vdg_open(port, VQ_MAX, STARVE_MAXLEN);
	const char *why;

	if (!s) {
		ksnprintf(obs, size, "bind");
		return -1;
	}
	kprintf("tg-note: dgram-rx-starve ready port=%u hold_ms=%lu\n", port,
		(unsigned long)hold);
	udelay(hold * 1000); /* rx untouched: used buffers stay unposted */
	kprintf("tg-note: dgram-rx-starve reading\n");
	quiet = deadline_us(QUIET_US);
	while (!deadline_passed(quiet)) {
		if (!vt_poll(&why)) {
			ksnprintf(obs, size, "device-broken");
			return -1;
		}
		while (vdg_recv(s, big, STARVE_MAXLEN, NULL) > 0) {
			received++;
			quiet = deadline_us(QUIET_US);
		}
	}
	ksnprintf(obs, size, "received:%lu", (unsigned long)received);
	return 0;
}

bool hostile_dgram_mode(const char *mode)
{
	return strncmp(mode, "dgram-", 6) == 0;
}

int hostile_dgram(const char *mode, uint32_t port, struct vs_conn *par,
		  char *obs, size_t size)
{
	for (uint32_t i = 0; i < VDG_MAX; i++)
		big[i] = (uint8_t)i;
	answers = 0;
	vs_rx_hook = hook;
	if (strcmp(mode, "dgram-no-feature") != 0 && !vsd_dgram()) {
		ksnprintf(obs, size, "no-dgram-feature");
		return -1;
	}
	if (strcmp(mode, "dgram-no-feature") == 0)
		return no_feature(port, obs, size);
	if (strcmp(mode, "dgram-bad-op") == 0)
		return bad_op(port, obs, size);
	if (strcmp(mode, "dgram-bad-len") == 0)
		return bad_len(port, obs, size);
	if (strcmp(mode, "dgram-credit") == 0)
		return credit(port, par, obs, size);
	if (strcmp(mode, "dgram-rx-starve") == 0)
		return rx_starve(port, obs, size);
	ksnprintf(obs, size, "unknown-mode");
	return -1;
}
