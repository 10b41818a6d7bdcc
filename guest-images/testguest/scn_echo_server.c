/* SPDX-License-Identifier: MIT */
/*
 * scenario=echo-server port=P [conns=N] [after_eof=1] [type=seqpacket]
 * Listen on P and echo every connection, several at once.  When a client
 * half-closes (SHUTDOWN with SEND), the rest is echoed and then we close
 * our side.  New connections keep being served; after N connections have
 * ended (default: never -- the host kills the VMM):
 *   testguest: echo-server ok conns=N bytes=B [peer_cid=C peer_port=P peer_conns=K]
 * B counts the bytes echoed; the peer_ keys appear when connections came
 * from another VM (vt_peer_str()).  A line `tg-note: echo-server listening
 * port=P` tells the host test when to connect.
 * after_eof=1: echo nothing of a connection before its client's
 * SHUTDOWN(SEND) (what `halfclose` expects; the client's bytes must fit in
 * bufsz=).  type=seqpacket: listen for SEQPACKET and echo each message
 * whole, with its EOM/EOR, as the one message it came as.
 */
#include "scenario.h"

#include "cmdline.h"
#include "delay.h"
#include "fmt.h"
#include "heap.h"
#include "str.h"
#include "vstest.h"

#define MAX_ACTIVE 1100

static struct vs_conn *active[MAX_ACTIVE];
static uint8_t msg[65536] NOINIT;

/* One SEQPACKET message echoed, if a whole one is there; true when c is
 * finished and released (as vt_echo_step). */
static bool seq_step(struct vs_conn *c, uint64_t *bytes)
{
	uint32_t full = 0, flags = 0, off = 0;
	uint64_t d;
	const char *why;
	long r = vs_recv_msg(c, msg, sizeof(msg), &full, &flags);

	if (r == VS_RESET) {
		vs_release(c);
		return true;
	}
	if (r == VS_EOF) {
		vs_close(c);
		return true;
	}
	if (r <= 0)
		return false;
	d = deadline_us(10000000);
	while (off < (uint32_t)r && c->state == VS_ESTABLISHED && !deadline_passed(d)) {
		off += (uint32_t)vs_send_seq(c, msg + off, (size_t)r - off, true,
					     (flags & VSOCK_SEQ_EOR) != 0);
		if (off < (uint32_t)r && !vt_poll(&why))
			break;
	}
	*bytes += off;
	return false;
}

int scn_echo_server(void)
{
	uint32_t port = (uint32_t)cmdline_u64("port", 1234);
	uint64_t want = cmdline_u64("conns", 0), done = 0, bytes = 0;
	bool after_eof = cmdline_u64("after_eof", 0) != 0;
	char type[16];
	bool seq;
	unsigned nactive = 0;
	struct vs_conn *l, *c;
	const char *why;

	cmdline_str("type", type, sizeof(type));
	seq = strcmp(type, "seqpacket") == 0;
	if (vt_init("echo-server", 65536, MAX_ACTIVE))
		return 0;
	if (seq && !vsd_seqpacket())
		return vt_fail("echo-server", "no-seqpacket-feature");
	l = vs_listen(port, seq ? VSOCK_TYPE_SEQPACKET : VSOCK_TYPE_STREAM);
	if (!l)
		return vt_fail("echo-server", "listen");
	kprintf("tg-note: echo-server listening port=%u\n", port);
	while (!want || done < want) {
		if (!vt_poll(&why))
			return vt_fail("echo-server", "device why='%s'", why);
		while (nactive < MAX_ACTIVE && (c = vs_accept(l))) {
			vt_peer_seen(c);
			active[nactive++] = c;
		}
		for (unsigned i = 0; i < nactive;) {
			c = active[i];
			if (after_eof && c->state == VS_ESTABLISHED &&
			    !(c->peer_shut & VSOCK_SHUTDOWN_SEND)) {
				i++;
				continue;
			}
			if (seq ? seq_step(c, &bytes) : vt_echo_step(c, &bytes)) {
				active[i] = active[--nactive];
				done++;
			} else {
				i++;
			}
		}
	}
	vs_close(l);
	vt_drain(3000000);
	vt_stats();
	kprintf("testguest: echo-server ok conns=%lu bytes=%lu%s\n",
		(unsigned long)done, (unsigned long)bytes, vt_peer_str());
	return 0;
}
