/* SPDX-License-Identifier: MIT */
#include "vstest.h"

#include <stdarg.h>

#include "csum.h"
#include "delay.h"
#include "fmt.h"
#include "heap.h"
#include "io.h"
#include "str.h"
#include "vsock_dev.h"
#include "vsock_dgram.h"

#define CHUNK 65536
#define STALL_US 20000000 /* no progress for 20 s: give up */

static uint8_t txbuf[CHUNK] NOINIT, rxbuf[CHUNK] NOINIT, expect[CHUNK] NOINIT;

int vt_init(const char *name, uint32_t def_bufsz, unsigned def_conns)
{
	struct vs_params p;
	const char *why = "?";

	vs_params_from_cmdline(&p, def_bufsz, def_conns);
	if (vs_init(&p, &why)) {
		kprintf("testguest: %s fail reason=init why='%s'\n", name, why);
		return -1;
	}
	kprintf("tg-note: vsock cid=%lu features=0x%lx negotiated=0x%lx rxq=%u txq=%u "
		"rxlayout=%s indirect=%d seqpacket=%d eventidx=%d dgram=%d rxbuf=%u\n",
		(unsigned long)vsd_cid(), (unsigned long)vsd_mmio.dev_features,
		(unsigned long)vsd_mmio.features, vsd_rxq()->num, vsd_txq()->num,
		p.dev.rx_split ? "split" : "single", vsd_indirect(), vsd_seqpacket(),
		vsd_eventidx(), vsd_dgram(), vsd_rxbuf());
	return 0;
}

int vt_send_all(struct vs_conn *c, const void *buf, size_t n, uint64_t *bytes)
{
	const uint8_t *p = buf;
	size_t off = vs_send(c, p, n);
	uint64_t d = deadline_us(10000000);
	const char *why;

	while (off < n) {
		if (!vt_poll(&why) || c->state != VS_ESTABLISHED || deadline_passed(d))
			break;
		off += vs_send(c, p + off, n - off);
	}
	*bytes += off;
	return off < n ? -1 : 0;
}

void vt_stats(void)
{
	kprintf("tg-stats: rx_pkts=%lu rx_bytes=%lu tx_pkts=%lu tx_bytes=%lu kicks=%lu "
		"rx_short=%lu rx_len_bad=%lu rst_sent=%lu rst_rcvd=%lu "
		"credit_overruns=%lu credit_requests=%lu cu_sent=%lu cu_rcvd=%lu "
		"unmatched=%lu bad_type=%lu proto_errors=%lu transport_resets=%lu "
		"refused=%lu zero_credit=%lu bad_cid=%lu raw_used=%lu kicks_saved=%lu "
		"rx_empty=%lu dg_rx=%lu dg_tx=%lu dg_no_port=%lu dg_queue_full=%lu "
		"dg_too_long=%lu dg_bad=%lu dg_unexpected=%lu\n",
		vsd_stats.rx_pkts, vsd_stats.rx_bytes, vsd_stats.tx_pkts,
		vsd_stats.tx_bytes, vsd_stats.kicks, vsd_stats.rx_short,
		vsd_stats.rx_len_bad, vs_stats.rst_sent, vs_stats.rst_rcvd,
		vs_stats.credit_overruns, vs_stats.credit_requests,
		vs_stats.credit_updates_sent, vs_stats.credit_updates_rcvd,
		vs_stats.unmatched, vs_stats.bad_type, vs_stats.proto_errors,
		vs_stats.transport_resets, vs_stats.reqs_refused, vs_stats.zero_credit,
		vs_stats.bad_cid, vsd_stats.raw_used,
		vsd_stats.kicks_saved, vsd_stats.rx_empty, vdg_stats.rx_pkts,
		vdg_stats.tx_pkts, vdg_stats.no_port, vdg_stats.queue_full,
		vdg_stats.too_long, vdg_stats.bad, vdg_stats.unexpected);
}

int vt_fail(const char *name, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	kvsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	vt_stats();
	if (vsd_error())
		kprintf("tg-note: device error: %s\n", vsd_error());
	kprintf("testguest: %s fail reason=%s\n", name, buf);
	return 0;
}

bool vt_poll(const char **why)
{
	if (vs_poll() >= 0)
		return true;
	*why = vsd_error() ? vsd_error() : "device broken";
	return false;
}

int vt_dgram_send(uint32_t sport, uint32_t dport, const void *buf, uint32_t n,
		  const char **why)
{
	uint64_t d = deadline_us(10000000);
	int r;

	while ((r = vdg_send(sport, dport, buf, n)) == -1) {
		if (!vt_poll(why))
			return -1;
		if (deadline_passed(d)) {
			*why = "tx-stuck";
			return -1;
		}
	}
	if (r < 0) {
		*why = "dgram-invalid";
		return -1;
	}
	return 0;
}

uint64_t vt_hz(void)
{
	return tsc_hz();
}

long vt_wait_end(struct vs_conn *c, uint64_t timeout_us, uint64_t *extra)
{
	uint64_t d = deadline_us(timeout_us);
	const char *why;

	while (!deadline_passed(d)) {
		long r = vs_recv(c, rxbuf, sizeof(rxbuf));

		if (r < 0)
			return r;
		if (r > 0 && extra)
			*extra += (uint64_t)r;
		if (r == 0 && !vt_poll(&why))
			return 0;
	}
	return 0;
}

int vt_echo_conn(struct vs_conn *c, uint64_t bytes, uint64_t seed,
		 const char **why)
{
	struct prng tx, rx;
	uint64_t sent = 0, rcvd = 0, last = rdtsc();
	size_t pend_off = 0, pend_len = 0;

	prng_init(&tx, seed);
	prng_init(&rx, seed);
	while (rcvd < bytes) {
		long r;
		bool moved = false;

		if (!vt_poll(why))
			return -1;
		if (pend_off == pend_len && sent < bytes) {
			pend_len = bytes - sent < CHUNK ? (size_t)(bytes - sent) : CHUNK;
			pend_off = 0;
			prng_fill(&tx, txbuf, pend_len);
		}
		if (pend_off < pend_len) {
			size_t n = vs_send(c, txbuf + pend_off, pend_len - pend_off);

			pend_off += n;
			sent += n;
			moved |= n > 0;
		}
		r = vs_recv(c, rxbuf, sizeof(rxbuf));
		if (r == VS_EOF) {
			*why = "early-eof";
			return -1;
		}
		if (r == VS_RESET) {
			*why = "reset";
			return -1;
		}
		if (r > 0) {
			if ((uint64_t)r > bytes - rcvd) {
				*why = "too-many-bytes";
				return -1;
			}
			prng_fill(&rx, expect, (size_t)r);
			if (memcmp(rxbuf, expect, (size_t)r) != 0) {
				*why = "data-mismatch";
				return -1;
			}
			rcvd += (uint64_t)r;
			moved = true;
		}
		if (moved)
			last = rdtsc();
		else if (rdtsc() - last > tsc_from_us(STALL_US)) {
			*why = "stalled";
			return -1;
		}
	}
	return 0;
}

int vt_echo(uint32_t port, uint64_t bytes, uint64_t seed, const char **why)
{
	struct vs_conn *c = vs_connect(port, VSOCK_TYPE_STREAM);
	int r;

	if (!c) {
		*why = "no-free-connection";
		return -1;
	}
	r = vs_connect_wait(c, 5000000);
	if (r) {
		*why = r == -1 ? "connect-refused" : r == -2 ? "connect-timeout" : "device-broken";
		vs_abort(c);
		return -1;
	}
	if (vt_echo_conn(c, bytes, seed, why)) {
		vs_abort(c);
		return -1;
	}
	vs_shutdown(c, VSOCK_SHUTDOWN_SEND);
	if (vt_wait_end(c, 5000000, NULL) == 0) {
		*why = "no-eof-after-echo";
		vs_abort(c);
		return -1;
	}
	vs_close(c);
	return 0;
}

void vt_drain(uint64_t timeout_us)
{
	uint64_t d = deadline_us(timeout_us);
	const char *why;

	while (vs_conns_in_use() > 0 && !deadline_passed(d))
		if (!vt_poll(&why))
			return;
}

void vt_wait_used(uint64_t us)
{
	const volatile uint16_t *rx = &vsd_rxq()->used->idx;
	const volatile uint16_t *tx = &vsd_txq()->used->idx;
	uint16_t r0 = vsd_rxq()->last_used, t0 = vsd_txq()->last_used;
	uint64_t d = rdtsc() + tsc_from_us(us);

	while (*rx == r0 && *tx == t0 && (int64_t)(rdtsc() - d) < 0)
		cpu_relax();
}

/* Staging buffer of vt_echo_step (one connection is served at a time). */
static uint8_t echo_buf[65536] NOINIT;

bool vt_echo_step(struct vs_conn *c, uint64_t *bytes)
{
	for (;;) {
		uint32_t n = vs_rx_avail(c), credit = vs_tx_credit(c);
		uint32_t room = vsd_tx_free() * vsd_txpkt();
		long r;

		if (c->state == VS_CLOSED) {
			vs_release(c);
			return true;
		}
		if (c->peer_shut & VSOCK_SHUTDOWN_RCV) {
			/* The peer takes no more data (its host end went
			 * away): the echo has nowhere to go.  Drop what is
			 * left and finish once it stops sending too. */
			while (vs_recv(c, echo_buf, sizeof(echo_buf)) > 0)
				;
			if (c->peer_shut & VSOCK_SHUTDOWN_SEND) {
				vs_close(c);
				return true;
			}
			return false;
		}
		if (n == 0) {
			if (c->peer_shut & VSOCK_SHUTDOWN_SEND) {
				vs_close(c);
				return true;
			}
			return false;
		}
		if (credit > c->peer_buf_alloc)
			credit = 0; /* peer shrank its buffer: wait */
		if (n > credit)
			n = credit;
		if (n > room)
			n = room;
		if (n > sizeof(echo_buf))
			n = sizeof(echo_buf);
		if (n == 0)
			return false; /* wait for credit or tx slots */
		r = vs_recv(c, echo_buf, n);
		if (r <= 0)
			return false;
		/* Credit and slots were checked, but vs_send() may still take
		 * less: control packets other connections owe go first and
		 * can use the tx slots up.  What it did not take must not be
		 * dropped: keep polling until all of it left. */
		if (vt_send_all(c, echo_buf, (size_t)r, bytes))
			return false;
	}
}
