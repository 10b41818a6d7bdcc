/* SPDX-License-Identifier: MIT */
/*
 * scenario=hostile mode=M port=P [echoport=E] [count=N]
 * Misbehave on purpose, report what the device did, then prove it still
 * works: a connection to host port E (default P) opened before the
 * misbehaviour must still echo afterwards (unless the device was reset),
 * and a normal verified echo on a fresh connection to E must work, after
 * resetting and re-initialising the device if it had set
 * DEVICE_NEEDS_RESET.
 *   testguest: hostile mode=M ok observed=WHAT
 *   testguest: hostile mode=M fail reason=WHY observed=WHAT
 *
 * Modes:
 *   credit-overrun   connect to P (a host listener that never reads), then
 *                    send RW far beyond the device's credit; expect RST.
 *                    observed=rst | no-rst
 *   unknown-type     REQUEST with type 99 to P; expect RST (normative).
 *                    observed=rst | none | <op>
 *   bogus-op         op 42 on an established connection to P.
 *                    observed=rst | drop (| response | shutdown | other)
 *   len-mismatch     RW whose header len (1000) exceeds the payload in the
 *                    chain (100) on a connection to P.  observed=rst | drop
 *   dup-request      a second REQUEST on an established connection to P
 *                    (an echo server), then an echo on that connection.
 *                    observed=ignored (no answer and the connection still
 *                    echoes) | drop-then-broken | rst | response |
 *                    shutdown | other
 *   wrong-dst-cid    on an established connection to P, an RW whose dst_cid
 *                    is D (dstcid=D, default 5; 0x100000002 tests that all
 *                    64 bits are compared).  observed=rst | drop | other
 *   credit-request   CREDIT_REQUEST on a connection to P; the device must
 *                    answer with CREDIT_UPDATE (§5.10.6.3).
 *                    observed=credit_update | none
 *   request-flood    N (default 5000) REQUESTs to ports P..P+N-1 without
 *                    waiting, and without reading rx meanwhile (only tx
 *                    completions are reaped) unless tx stalls for 1 s;
 *                    then every reply is collected.  A device may stop
 *                    taking tx while its replies cannot be delivered, but
 *                    must not drop them.  observed=rst:A,response:B,other:C,silent:D
 *   garbage-descriptors  tx chains with an address outside RAM, a `next`
 *                    loop, a huge length, a device-writable descriptor;
 *                    rx buffers outside RAM, of 16 bytes, read-only.  For
 *                    each, what happened: needs_reset, used (given back),
 *                    ignored, bad-used (a used entry the driver rejects),
 *                    OVERWRITTEN (memory the device must not touch was).
 *                    observed=oob:X,loop:Y,huge:Z,rx-oob:W,rx-tiny:V,rx-ro:U,tx-write:T
 *   dgram-*          datagram modes: scn_hostile_dgram.c
 */
#include "scenario.h"

#include "cmdline.h"
#include "delay.h"
#include "fmt.h"
#include "heap.h"
#include "io.h"
#include "scn_hostile_dgram.h"
#include "str.h"
#include "vstest.h"

#define ECHO_BYTES 100000
#define WAIT_US 1000000
#define FLOOD_BASE_LPORT 3000000

static char mode[32];
static char observed[400];
static uint8_t junk[65536] NOINIT;

/* The hook's filter and what it saw. */
static uint32_t watch_lport_lo, watch_lport_hi;
static uint64_t seen_rst, seen_resp, seen_other;
static uint8_t *flood_seen; /* per flood port: got a reply */

static void hook(const struct vsock_hdr *h)
{
	if (h->dst_port < watch_lport_lo || h->dst_port >= watch_lport_hi)
		return;
	if (flood_seen) {
		if (flood_seen[h->dst_port - watch_lport_lo])
			return;
		flood_seen[h->dst_port - watch_lport_lo] = 1;
	}
	if (h->op == VSOCK_OP_RST)
		seen_rst++;
	else if (h->op == VSOCK_OP_RESPONSE)
		seen_resp++;
	else
		seen_other++;
}

static bool wait_for(uint64_t us, const uint64_t *counter, uint64_t target)
{
	uint64_t d = deadline_us(us);
	const char *why;

	while (*counter < target && !deadline_passed(d))
		if (!vt_poll(&why))
			return false;
	return *counter >= target;
}

static struct vs_conn *open_conn(uint32_t port)
{
	struct vs_conn *c = vs_connect(port, VSOCK_TYPE_STREAM);

	if (c && vs_connect_wait(c, 5000000) == 0)
		return c;
	return NULL;
}

/* Poll until c is reset or `us` pass; true if it was reset. */
static bool wait_reset(struct vs_conn *c, uint64_t us)
{
	uint64_t d = deadline_us(us);
	const char *why;

	while (c->state != VS_CLOSED && !deadline_passed(d))
		if (!vt_poll(&why))
			break;
	return c->state == VS_CLOSED;
}

static int credit_overrun(uint32_t port)
{
	struct vs_conn *c = open_conn(port);
	uint64_t limit, sent = 0;
	const char *why;

	if (!c)
		return -1;
	/* Way past the credit: what the device advertised plus 4 MiB, more
	 * than any socket buffer on the host can absorb. */
	limit = (uint64_t)c->peer_buf_alloc + (4u << 20);
	while (sent < limit && c->state == VS_ESTABLISHED) {
		struct vsock_hdr h;
		uint32_t n = vsd_txpkt();

		vs_fill_hdr(c, &h, VSOCK_OP_RW, 0, n);
		if (vs_raw(&h, junk, n) == 0) {
			c->tx_cnt += n;
			sent += n;
		}
		if (!vt_poll(&why))
			break;
	}
	ksnprintf(observed, sizeof(observed), "%s", wait_reset(c, WAIT_US) ? "rst" : "no-rst");
	kprintf("tg-note: credit-overrun sent=%lu over=%ld\n", (unsigned long)sent,
		(long)(sent - c->peer_buf_alloc));
	vs_abort(c);
	return 0;
}

static int unknown_type(uint32_t port)
{
	struct vsock_hdr h = {
		.src_cid = vsd_cid(), .dst_cid = VSOCK_HOST_CID,
		.src_port = FLOOD_BASE_LPORT, .dst_port = port,
		.type = 99, .op = VSOCK_OP_REQUEST, .buf_alloc = 65536,
	};

	watch_lport_lo = FLOOD_BASE_LPORT;
	watch_lport_hi = FLOOD_BASE_LPORT + 1;
	if (vs_raw(&h, NULL, 0))
		return -1;
	vsd_kick();
	wait_for(WAIT_US, &seen_rst, 1);
	ksnprintf(observed, sizeof(observed), "%s",
		  seen_rst ? "rst" : seen_resp ? "response" : seen_other ? "other" : "none");
	return 0;
}

/* bogus-op, len-mismatch, dup-request: one bad packet on an established
 * connection; what the device answered, seen before our own processing. */
static uint16_t answer_op = 0xffff;

static void hook_answer(const struct vsock_hdr *h)
{
	if (h->dst_port == watch_lport_lo && answer_op == 0xffff &&
	    h->op != VSOCK_OP_CREDIT_UPDATE && h->op != VSOCK_OP_RW)
		answer_op = h->op;
}

enum bad { BAD_OP, BAD_LEN, BAD_DUP_REQUEST, BAD_DST_CID };

static int bad_packet(uint32_t port, enum bad kind, uint64_t dstcid)
{
	struct vs_conn *c = open_conn(port);
	struct vsock_hdr h;
	uint64_t d;
	const char *why;

	if (!c)
		return -1;
	watch_lport_lo = c->lport;
	vs_rx_hook = hook_answer;
	if (kind == BAD_LEN) {
		vs_fill_hdr(c, &h, VSOCK_OP_RW, 0, 1000);
		if (vs_raw(&h, junk, 100))
			return -1;
	} else if (kind == BAD_DST_CID) {
		/* Valid in every other way: a device that does not compare
		 * all 64 bits of dst_cid forwards it (echoed back as RW,
		 * which the hook ignores: "drop"). */
		vs_fill_hdr(c, &h, VSOCK_OP_RW, 0, 10);
		h.dst_cid = dstcid;
		if (vs_raw(&h, junk, 10))
			return -1;
	} else {
		vs_fill_hdr(c, &h, kind == BAD_OP ? 42 : VSOCK_OP_REQUEST, 0, 0);
		if (vs_raw(&h, NULL, 0))
			return -1;
	}
	vsd_kick();
	d = deadline_us(WAIT_US);
	while (answer_op == 0xffff && !deadline_passed(d))
		if (!vt_poll(&why))
			break;
	ksnprintf(observed, sizeof(observed), "%s",
		  answer_op == VSOCK_OP_RST ? "rst" :
		  answer_op == VSOCK_OP_RESPONSE ? "response" :
		  answer_op == VSOCK_OP_SHUTDOWN ? "shutdown" :
		  answer_op == 0xffff ? "drop" : "other");
	if (kind == BAD_DUP_REQUEST && answer_op == 0xffff) {
		/* Ignoring it (docs/vsock.md, as Linux) means the connection
		 * goes on as if nothing happened: it still echoes, and no
		 * answer came meanwhile either. */
		bool alive = c->state == VS_ESTABLISHED && vt_echo_conn(c, 1000, 23, &why) == 0;

		ksnprintf(observed, sizeof(observed), "%s",
			  answer_op != 0xffff ? "answered-late" :
			  alive ? "ignored" : "drop-then-broken");
	}
	vs_rx_hook = hook;
	vs_abort(c);
	return 0;
}

static uint64_t updates_seen;

static void hook_updates(const struct vsock_hdr *h)
{
	if (h->op == VSOCK_OP_CREDIT_UPDATE && h->dst_port == watch_lport_lo)
		updates_seen++;
}

static int credit_request(uint32_t port)
{
	struct vs_conn *c = open_conn(port);
	struct vsock_hdr h;

	if (!c)
		return -1;
	watch_lport_lo = c->lport;
	vs_rx_hook = hook_updates;
	vs_fill_hdr(c, &h, VSOCK_OP_CREDIT_REQUEST, 0, 0);
	if (vs_raw(&h, NULL, 0))
		return -1;
	vsd_kick();
	wait_for(WAIT_US, &updates_seen, 1);
	ksnprintf(observed, sizeof(observed), "%s", updates_seen ? "credit_update" : "none");
	vs_close(c);
	return 0;
}

static int request_flood(uint32_t port, unsigned count)
{
	uint64_t replies, stall = 0;
	bool reading = false;
	const char *why;
	int r;

	uint64_t give_up = deadline_us(30000000);

	flood_seen = heap_alloc(count, 8);
	if (!flood_seen)
		return -1;
	memset(flood_seen, 0, count);
	watch_lport_lo = FLOOD_BASE_LPORT;
	watch_lport_hi = FLOOD_BASE_LPORT + count;
	for (unsigned i = 0; i < count;) {
		struct vsock_hdr h = {
			.src_cid = vsd_cid(), .dst_cid = VSOCK_HOST_CID,
			.src_port = FLOOD_BASE_LPORT + i, .dst_port = port + i,
			.type = VSOCK_TYPE_STREAM, .op = VSOCK_OP_REQUEST,
			.buf_alloc = 65536,
		};

		if (vs_raw(&h, NULL, 0) == 0) {
			i++;
			continue;
		}
		/* tx full: kick and reap tx only, leaving rx alone, until the
		 * device stops taking tx for a second (its right, once its
		 * replies have nowhere to go); from then on read rx too. */
		vsd_kick();
		if (reading) {
			if (!vt_poll(&why))
				return -1;
		} else if ((r = vsd_reap_tx()) < 0) {
			return -1;
		} else if (r > 0) {
			stall = 0;
		} else if (!stall) {
			stall = deadline_us(1000000);
		} else if (deadline_passed(stall)) {
			reading = true;
		}
		if (deadline_passed(give_up)) {
			ksnprintf(observed, sizeof(observed), "tx-stuck-after:%u", i);
			flood_seen = NULL;
			return 0;
		}
	}
	kprintf("tg-note: request-flood tx %s while rx was neglected\n",
		reading ? "stalled" : "never stalled");
	vsd_kick();
	replies = 0;
	{
		/* Until every REQUEST got its answer, or none came for 2 s. */
		uint64_t d = deadline_us(20000000), quiet = deadline_us(2000000);
		uint64_t last = 0;

		while ((replies = seen_rst + seen_resp + seen_other) < count &&
		       !deadline_passed(d) && !deadline_passed(quiet)) {
			if (replies != last) {
				last = replies;
				quiet = deadline_us(2000000);
			}
			if (!vt_poll(&why))
				break;
		}
	}
	ksnprintf(observed, sizeof(observed), "rst:%lu,response:%lu,other:%lu,silent:%lu",
		  (unsigned long)seen_rst, (unsigned long)seen_resp,
		  (unsigned long)seen_other, (unsigned long)(count - replies));
	flood_seen = NULL;
	return 0;
}

/* Put one garbage chain on `vq`, kick, and see what the device makes of it. */
static const char *garbage(struct virtq *vq, const struct vq_desc *d, unsigned n,
			   bool *needs_reset)
{
	uint64_t used0 = vq->completed, dl = deadline_us(300000);

	*needs_reset = false;
	if (vq_add_raw(vq, d, n, junk) < 0)
		return "queue-full";
	vq_kick(vq);
	while (!deadline_passed(dl)) {
		if (vmmio_status(&vsd_mmio) & VS_DEVICE_NEEDS_RESET) {
			*needs_reset = true;
			return "needs_reset";
		}
		if (vs_poll() < 0) {
			if (vmmio_status(&vsd_mmio) & VS_DEVICE_NEEDS_RESET) {
				*needs_reset = true;
				return "needs_reset";
			}
			return "bad-used";
		}
		udelay(1000);
	}
	return vq->completed > used0 ? "used" : "ignored";
}

/* Memory the device must not write: junk[CANARY_AT + skip ..] stays CANARY. */
#define IND_AT     4096
#define CANARY_AT  8192
#define CANARY_LEN 8192
#define CANARY     0x5a

static bool canary_ok(unsigned skip)
{
	for (unsigned i = skip; i < CANARY_LEN; i++)
		if (junk[CANARY_AT + i] != CANARY)
			return false;
	return true;
}

/* After garbage in the rx queue: did the device notice? */
static const char *watch_rx(void)
{
	uint64_t dl = deadline_us(300000), raw0 = vsd_stats.raw_used;

	while (!deadline_passed(dl)) {
		if (vmmio_status(&vsd_mmio) & VS_DEVICE_NEEDS_RESET)
			return "needs_reset";
		if (vs_poll() < 0)
			return vmmio_status(&vsd_mmio) & VS_DEVICE_NEEDS_RESET ?
			       "needs_reset" : "bad-used";
		udelay(1000);
	}
	return vsd_stats.raw_used > raw0 ? "used" : "ignored";
}

static int reinit(const char **why)
{
	return vs_reset(why);
}

static int garbage_descriptors(uint32_t port, char *obs, size_t size)
{
	const uint64_t far = 0xfff0000000ull; /* far beyond any RAM we have */
	struct vq_desc oob[2] = {
		{ .addr = far, .len = VSOCK_HDR_LEN, .flags = 0, .next = 0 },
	};
	struct vq_desc loop[2] = {
		{ .addr = (uintptr_t)junk, .len = VSOCK_HDR_LEN, .flags = VQ_DESC_F_NEXT, .next = 1 },
		{ .addr = (uintptr_t)junk + 64, .len = 16, .flags = VQ_DESC_F_NEXT, .next = 0 },
	};
	struct vq_desc huge[2] = {
		{ .addr = (uintptr_t)junk, .len = VSOCK_HDR_LEN, .flags = VQ_DESC_F_NEXT, .next = 1 },
		{ .addr = (uintptr_t)junk + 64, .len = 0xffffff00u, .flags = 0, .next = 0 },
	};
	struct vq_desc rxoob[1] = {
		{ .addr = far, .len = 4096 + VSOCK_HDR_LEN, .flags = VQ_DESC_F_WRITE, .next = 0 },
	};
	/* Writable but smaller than a header: the device must not write past
	 * it (canary after it) and may give it back empty. */
	struct vq_desc rxtiny[1] = {
		{ .addr = (uintptr_t)junk + CANARY_AT, .len = 16, .flags = VQ_DESC_F_WRITE, .next = 0 },
	};
	/* Device-readable only, in the rx queue: must not be written. */
	struct vq_desc rxro[1] = {
		{ .addr = (uintptr_t)junk + CANARY_AT, .len = 4096 + VSOCK_HDR_LEN, .flags = 0, .next = 0 },
	};
	/* A device-writable descriptor in a tx chain (spec 2.7.4: tx buffers
	 * are read-only for the vsock device). */
	struct vq_desc txw[2] = {
		{ .addr = (uintptr_t)junk, .len = VSOCK_HDR_LEN, .flags = VQ_DESC_F_NEXT, .next = 1 },
		{ .addr = (uintptr_t)junk + CANARY_AT, .len = 64, .flags = VQ_DESC_F_WRITE, .next = 0 },
	};
	/* Indirect tables (only with INDIRECT_DESC negotiated, indirect=1):
	 * the table itself lives at junk + IND_AT. */
	struct vq_desc *tbl = (struct vq_desc *)(junk + IND_AT);
	struct vq_desc ind_oob[1] = {
		{ .addr = far, .len = 32, .flags = VQ_DESC_F_INDIRECT, .next = 0 },
	};
	struct vq_desc ind_table[1] = {
		{ .addr = (uintptr_t)tbl, .len = 32, .flags = VQ_DESC_F_INDIRECT, .next = 0 },
	};
	struct vq_desc ind_badlen[1] = {
		{ .addr = (uintptr_t)tbl, .len = 20, .flags = VQ_DESC_F_INDIRECT, .next = 0 },
	};
	const struct {
		const char *name;
		bool rx;
		const struct vq_desc *d;
		unsigned n;
		int ind; /* 0: plain; 1..: indirect case, needs INDIRECT_DESC */
	} cases[] = {
		{ "oob", false, oob, 1, 0 },
		{ "loop", false, loop, 2, 0 },
		{ "huge", false, huge, 2, 0 },
		{ "rx-oob", true, rxoob, 1, 0 },
		{ "rx-tiny", true, rxtiny, 1, 0 },
		{ "rx-ro", true, rxro, 1, 0 },
		{ "tx-write", false, txw, 2, 0 },
		{ "ind-oob", false, ind_oob, 1, 1 },      /* table outside RAM */
		{ "ind-nested", false, ind_table, 1, 2 }, /* INDIRECT inside (2.7.5.3.1) */
		{ "ind-loop", false, ind_table, 1, 3 },   /* next loop inside the table */
		{ "ind-badlen", false, ind_badlen, 1, 4 }, /* len not a multiple of 16 */
	};
	size_t len = 0;
	const char *why;

	/* A header for the tx cases that would be valid if it were read. */
	struct vsock_hdr *h = (struct vsock_hdr *)junk;
	*h = (struct vsock_hdr){ .src_cid = vsd_cid(), .dst_cid = VSOCK_HOST_CID,
		.src_port = FLOOD_BASE_LPORT, .dst_port = port,
		.type = VSOCK_TYPE_STREAM, .op = VSOCK_OP_REQUEST, .buf_alloc = 65536 };

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool nr = false;
		const char *what;

		if (cases[i].ind && !vsd_indirect())
			continue;
		/* The table: header descriptor, then a second entry that is
		 * broken in the way the case asks for. */
		tbl[0] = (struct vq_desc){ .addr = (uintptr_t)junk, .len = VSOCK_HDR_LEN,
					   .flags = VQ_DESC_F_NEXT, .next = 1 };
		tbl[1] = (struct vq_desc){ .addr = (uintptr_t)junk + 64, .len = 16 };
		if (cases[i].ind == 2)
			tbl[1].flags = VQ_DESC_F_INDIRECT;
		if (cases[i].ind == 3)
			tbl[1] = (struct vq_desc){ .addr = (uintptr_t)junk + 64, .len = 16,
						   .flags = VQ_DESC_F_NEXT, .next = 0 };

		/* The rx case: a single good rx buffer, so the garbage one
		 * is next in line for the device. */
		vsd_rx_spare = cases[i].rx ? VQ_MAX : 0;
		if (reinit(&why)) {
			kprintf("tg-note: re-init failed: %s\n", why);
			return -1;
		}
		if (cases[i].rx) {
			/* Then give the device something to write: REQUESTs
			 * to three ports (RST or RESPONSE each); the second
			 * reply is due in the garbage buffer. */
			if (vq_add_raw(vsd_rxq(), cases[i].d, cases[i].n, junk) >= 0)
				vq_kick(vsd_rxq());
			for (unsigned k = 0; k < 3; k++) {
				struct vsock_hdr q = *h;

				q.src_port += k + 1;
				q.dst_port += k + 1;
				vs_raw(&q, NULL, 0);
			}
			vsd_kick();
			what = watch_rx();
		} else {
			what = garbage(vsd_txq(), cases[i].d, cases[i].n, &nr);
		}
		if (!canary_ok(cases[i].d == rxtiny ? 16 : 0))
			what = "OVERWRITTEN";
		memset(junk + CANARY_AT, CANARY, CANARY_LEN);
		kprintf("tg-note: garbage %s: %s status=0x%x\n", cases[i].name, what,
			vmmio_status(&vsd_mmio));
		len += (size_t)ksnprintf(obs + len, size - len, "%s%s:%s", len ? "," : "",
					 cases[i].name, what);
		if (len >= size)
			len = size - 1;
	}
	/* Start clean either way: a queue holding garbage the device ignored
	 * is no base for the echo that follows. */
	vsd_rx_spare = 0;
	if (reinit(&why)) {
		kprintf("tg-note: re-init failed: %s\n", why);
		return -1;
	}
	return 0;
}

int scn_hostile(void)
{
	uint32_t port = (uint32_t)cmdline_u64("port", 1234);
	uint32_t echoport = (uint32_t)cmdline_u64("echoport", port);
	unsigned count = (unsigned)cmdline_u64("count", 5000);
	const char *why;
	char name[64];
	struct vs_conn *par;
	int r = -1;

	cmdline_str("mode", mode, sizeof(mode));
	ksnprintf(name, sizeof(name), "hostile mode=%s", mode);
	ksnprintf(observed, sizeof(observed), "none");
	if (vt_init(name, 65536, 64))
		return 0;
	memset(junk, 0x5a, sizeof(junk));
	/* A normal connection open across the misbehaviour must survive it
	 * (unless the device had to be reset). */
	par = vs_connect(echoport, VSOCK_TYPE_STREAM);
	if (!par || vs_connect_wait(par, 5000000) != 0 ||
	    vt_echo_conn(par, 1000, 21, &why))
		return vt_fail(name, "parallel-before");
	vs_rx_hook = hook;
	if (strcmp(mode, "credit-overrun") == 0)
		r = credit_overrun(port);
	else if (strcmp(mode, "unknown-type") == 0)
		r = unknown_type(port);
	else if (strcmp(mode, "bogus-op") == 0)
		r = bad_packet(port, BAD_OP, 0);
	else if (strcmp(mode, "len-mismatch") == 0)
		r = bad_packet(port, BAD_LEN, 0);
	else if (strcmp(mode, "dup-request") == 0)
		r = bad_packet(port, BAD_DUP_REQUEST, 0);
	else if (strcmp(mode, "wrong-dst-cid") == 0)
		r = bad_packet(port, BAD_DST_CID, cmdline_u64("dstcid", 5));
	else if (strcmp(mode, "credit-request") == 0)
		r = credit_request(port);
	else if (strcmp(mode, "request-flood") == 0)
		r = request_flood(port, count);
	else if (strcmp(mode, "garbage-descriptors") == 0)
		r = garbage_descriptors(port, observed, sizeof(observed));
	else if (hostile_dgram_mode(mode))
		r = hostile_dgram(mode, port, par, observed, sizeof(observed));
	else
		return vt_fail(name, "unknown-mode");
	vs_rx_hook = NULL;
	if (r)
		return vt_fail(name, "setup observed=%s", observed);

	/* The device may have given up on the queues: start over then. */
	if (vmmio_status(&vsd_mmio) & VS_DEVICE_NEEDS_RESET) {
		kprintf("tg-note: device needs reset; re-initialising\n");
		if (reinit(&why))
			return vt_fail(name, "reinit observed=%s", observed);
		par = NULL; /* gone with the reset */
	}
	if (strcmp(mode, "garbage-descriptors") == 0)
		par = NULL; /* re-initialised on purpose */
	if (par) {
		/* Fresh data both ways on the old connection. */
		if (par->state != VS_ESTABLISHED || vt_echo_conn(par, 50000, 22, &why))
			return vt_fail(name, "parallel-after:%s observed=%s",
				       par->state != VS_ESTABLISHED ? "reset" : why, observed);
		vs_close(par);
	}
	if (vt_echo(echoport, ECHO_BYTES, 11, &why))
		return vt_fail(name, "echo-after:%s observed=%s", why, observed);
	vt_drain(2000000);
	vt_stats();
	kprintf("testguest: %s ok observed=%s\n", name, observed);
	return 0;
}
