/* SPDX-License-Identifier: MIT */
/*
 * scenario=echo-peer port=P cid=C bytes=N [conns=K] [cport=Q] [seed=S] [retry_ms=R]
 * Both ends at once, for sibling VMs (docs/vsock.md "Sibling VMs"): listen
 * on P and echo every connection (as echo-server) while, as echo-client,
 * echoing N PRNG bytes (csum.h, seed S, default 1) through port Q (default
 * P) of CID C, every byte verified, then half-close, EOF, close.  Three VMs
 * each connecting to the next give a ring of concurrent flows.  A refused
 * connect is retried for up to R ms (default 0; the sibling may not have
 * booted yet), never once established.  The run ends when the client part
 * has ended and K connections (default 1) were served:
 *   testguest: echo-peer ok bytes=N lport=L conns=K served_bytes=B [peer_cid=...]
 *   testguest: echo-peer fail reason=client-WHY sent=S rcvd=R conns=K ...
 * peer_cid/peer_port/peer_conns as echo-server's (vt_peer_str()).  Notes:
 * `tg-note: echo-peer listening port=P` first, `tg-note: echo-peer
 * connected cid=C lport=L tries=T`, and the moment the client part ends,
 * `tg-note: echo-peer client ok|reason=WHY ...` (a test that kills the
 * sibling waits for this one).
 */
#include "scenario.h"

#include "cmdline.h"
#include "csum.h"
#include "delay.h"
#include "fmt.h"
#include "heap.h"
#include "io.h"
#include "str.h"
#include "vstest.h"

#define MAX_ACTIVE 64
#define CHUNK 65536
#define STALL_US 20000000

enum { CL_CONNECT, CL_ECHO, CL_EOF, CL_DONE };

static struct vs_conn *active[MAX_ACTIVE];
static uint8_t txbuf[CHUNK] NOINIT, rxbuf[CHUNK] NOINIT, expect[CHUNK] NOINIT;

static struct {
	int st;
	const char *why;            /* NULL: ok (once CL_DONE) */
	struct vs_conn *c;
	uint32_t port, lport;
	uint64_t bytes, sent, rcvd, tries;
	uint64_t retry_until, last, connect_by;  /* TSC */
	struct prng tx, rx;
	size_t off, len;            /* txbuf[off..len) not sent yet */
} cl;

static void cl_end(const char *why)
{
	if (why && cl.c)
		vs_abort(cl.c);
	cl.c = NULL;
	cl.st = CL_DONE;
	cl.why = why;
	if (why)
		kprintf("tg-note: echo-peer client reason=%s sent=%lu rcvd=%lu\n", why,
			(unsigned long)cl.sent, (unsigned long)cl.rcvd);
	else
		kprintf("tg-note: echo-peer client ok bytes=%lu\n", (unsigned long)cl.rcvd);
}

/* One step of the client; never waits. */
static void cl_step(void)
{
	struct vs_conn *c = cl.c;
	bool moved = false;
	long r;

	switch (cl.st) {
	case CL_CONNECT:
		if (!c) {
			cl.tries++;
			cl.c = vs_connect(cl.port, VSOCK_TYPE_STREAM);
			cl.connect_by = deadline_us(10000000);
			if (!cl.c)
				cl_end("no-free-connection");
			return;
		}
		if (c->state == VS_CONNECTING) {
			/* A sibling VMM answers (or closes) within 2 s. */
			if (deadline_passed(cl.connect_by))
				cl_end("connect-timeout");
			return;
		}
		if (c->state != VS_ESTABLISHED) {
			vs_release(c);
			cl.c = NULL;
			if ((int64_t)(rdtsc() - cl.retry_until) >= 0) {
				cl_end("connect-refused");
				return;
			}
			udelay(50000);
			return;
		}
		cl.lport = c->lport;
		kprintf("tg-note: echo-peer connected cid=%lu lport=%u tries=%lu\n",
			(unsigned long)c->pcid, c->lport, (unsigned long)cl.tries);
		cl.st = CL_ECHO;
		cl.last = rdtsc();
		return;
	case CL_ECHO:
		if (cl.off == cl.len && cl.sent < cl.bytes) {
			cl.len = cl.bytes - cl.sent < CHUNK ? (size_t)(cl.bytes - cl.sent) : CHUNK;
			cl.off = 0;
			prng_fill(&cl.tx, txbuf, cl.len);
		}
		if (cl.off < cl.len) {
			size_t n = vs_send(c, txbuf + cl.off, cl.len - cl.off);

			cl.off += n;
			cl.sent += n;
			moved |= n > 0;
		}
		r = vs_recv(c, rxbuf, sizeof(rxbuf));
		if (r == VS_EOF || r == VS_RESET) {
			cl_end(r == VS_EOF ? "early-eof" : "reset");
			return;
		}
		if (r > 0) {
			if ((uint64_t)r > cl.bytes - cl.rcvd) {
				cl_end("too-many-bytes");
				return;
			}
			prng_fill(&cl.rx, expect, (size_t)r);
			if (memcmp(rxbuf, expect, (size_t)r) != 0) {
				cl_end("data-mismatch");
				return;
			}
			cl.rcvd += (uint64_t)r;
			moved = true;
		}
		if (cl.rcvd == cl.bytes) {
			vs_shutdown(c, VSOCK_SHUTDOWN_SEND);
			cl.st = CL_EOF;
			moved = true;
		}
		break;
	case CL_EOF:
		r = vs_recv(c, rxbuf, sizeof(rxbuf));
		if (r > 0) {
			cl_end("too-many-bytes");
			return;
		}
		if (r == VS_RESET) {
			cl_end("reset-before-eof");
			return;
		}
		if (r == VS_EOF) {
			vs_close(c);
			cl.c = NULL;
			cl_end(NULL);
			return;
		}
		break;
	default:
		return;
	}
	if (moved)
		cl.last = rdtsc();
	else if (rdtsc() - cl.last > tsc_from_us(STALL_US))
		cl_end(cl.st == CL_EOF ? "no-eof-after-echo" : "stalled");
}

int scn_echo_peer(void)
{
	uint32_t port = (uint32_t)cmdline_u64("port", 1234);
	uint64_t want = cmdline_u64("conns", 1), done = 0, bytes = 0;
	uint64_t seed = cmdline_u64("seed", 1);
	unsigned nactive = 0;
	struct vs_conn *l, *c;
	const char *why;

	cl.port = (uint32_t)cmdline_u64("cport", port);
	cl.bytes = cmdline_u64("bytes", 65536);
	cl.retry_until = rdtsc() + tsc_from_us(cmdline_u64("retry_ms", 0) * 1000);
	prng_init(&cl.tx, seed);
	prng_init(&cl.rx, seed);
	if (vt_init("echo-peer", 65536, MAX_ACTIVE + 4))
		return 0;
	l = vs_listen(port, VSOCK_TYPE_STREAM);
	if (!l)
		return vt_fail("echo-peer", "listen");
	kprintf("tg-note: echo-peer listening port=%u\n", port);
	while (cl.st != CL_DONE || done < want) {
		if (!vt_poll(&why))
			return vt_fail("echo-peer", "device why='%s'", why);
		cl_step();
		while (nactive < MAX_ACTIVE && (c = vs_accept(l))) {
			vt_peer_seen(c);
			active[nactive++] = c;
		}
		for (unsigned i = 0; i < nactive;) {
			if (vt_echo_step(active[i], &bytes)) {
				active[i] = active[--nactive];
				done++;
			} else {
				i++;
			}
		}
	}
	vs_close(l);
	vt_drain(3000000);
	if (cl.why)
		return vt_fail("echo-peer", "client-%s sent=%lu rcvd=%lu conns=%lu served_bytes=%lu%s",
			       cl.why, (unsigned long)cl.sent, (unsigned long)cl.rcvd,
			       (unsigned long)done, (unsigned long)bytes, vt_peer_str());
	vt_stats();
	kprintf("testguest: echo-peer ok bytes=%lu lport=%u conns=%lu served_bytes=%lu%s\n",
		(unsigned long)cl.bytes, cl.lport, (unsigned long)done, (unsigned long)bytes,
		vt_peer_str());
	return 0;
}
