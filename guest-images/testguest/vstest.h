/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the vsock scenarios: bring-up from the command line,
 * the one result line, bounded polling, a verified echo round trip.
 *
 * Result lines: `testguest: NAME ok ...` or `testguest: NAME fail
 * reason=WORD [key=value...]` -- exactly one per run.  Extra diagnostics go
 * to lines starting with `tg-note: ` / `tg-stats: `, which tests may print
 * but never parse for success.
 */
#ifndef TG_VSTEST_H
#define TG_VSTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vsock.h"

/* Bring up vsock (vs_params_from_cmdline with these defaults).  On failure
 * prints `testguest: NAME fail reason=init why='...'` and returns -1. */
int vt_init(const char *name, uint32_t def_bufsz, unsigned def_conns);

/* Print `testguest: NAME fail reason=...` (fmt continues after "reason=")
 * plus the statistics; returns 0 (the scenario did print its line). */
int vt_fail(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* `tg-stats:` line with the driver's counters. */
void vt_stats(void);

/* vs_poll(); false (and *why) when the device is broken. */
bool vt_poll(const char **why);

/* Send buf[0..n) on c, all of it.  vs_send() may take less than it was
 * offered even with free tx slots and credit (owed control packets of
 * other connections go first and can use the slots up), so poll until all
 * of it left (bounded: 10 s).  Adds what was sent to *bytes.  0, or -1 when
 * the device broke, the connection left ESTABLISHED or time ran out. */
int vt_send_all(struct vs_conn *c, const void *buf, size_t n, uint64_t *bytes);

/* Connect to host port, send `bytes` PRNG bytes (seed), read and verify the
 * echo, half-close, expect EOF, close.  0 or -1 with *why. */
int vt_echo(uint32_t port, uint64_t bytes, uint64_t seed, const char **why);

/* Like vt_echo on an already established connection (no close). */
int vt_echo_conn(struct vs_conn *c, uint64_t bytes, uint64_t seed,
		 const char **why);

/* Wait (polling) until c has no more data and the peer's EOF or a reset
 * arrived, up to timeout_us.  Returns VS_EOF, VS_RESET, or 0 on timeout
 * (data that arrives is counted in *extra). */
long vt_wait_end(struct vs_conn *c, uint64_t timeout_us, uint64_t *extra);

/* Poll until every connection but listeners is gone (bounded). */
void vt_drain(uint64_t timeout_us);

/* Spin until the device used an rx or tx buffer, or about `us` passed.
 * Waiting here rather than in the driver's idle polls keeps its periodic
 * status reads (MMIO exits, ~50 us each from ring 3 on PVM hosts) out of
 * timed sections. */
void vt_wait_used(uint64_t us);

/* Echo what can be echoed on c now (within the peer's credit and the free
 * tx slots, never dropping bytes); close it once the peer has finished
 * sending.  Returns true when c is finished and released. */
bool vt_echo_step(struct vs_conn *c, uint64_t *bytes);

/* vdg_send(), polling while no tx slot is free (bounded: 10 s).  0, or
 * -1 with *why ("dgram-invalid", "tx-stuck", or the device's error). */
int vt_dgram_send(uint32_t sport, uint32_t dport, const void *buf, uint32_t n,
		  const char **why);

/* TSC cycles per second, for reports. */
uint64_t vt_hz(void);

#endif
