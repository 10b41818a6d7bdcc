/* SPDX-License-Identifier: MIT */
/*
 * scenario=notify [count=N]: the cost of one guest notification.
 * After the vsock device is up (vt_init), write the tx queue's index to
 * QueueNotify N times with nothing queued, timing each write with the TSC
 * (ring 3: rdtsc runs natively).  With --notify mmio each write is an MMIO
 * exit handled on the vCPU thread; with --notify ioeventfd the kernel
 * consumes it and signals the I/O thread's eventfd.
 *   testguest: notify ok count=N min=C p50=C p99=C mean=C tsc_hz=H
 * (C in TSC cycles per write; bench/ turns them into microseconds.)
 */
#include "scenario.h"

#include "cmdline.h"
#include "delay.h"
#include "fmt.h"
#include "heap.h"
#include "io.h"
#include "str.h"
#include "vstest.h"


int scn_notify(void)
{
	uint64_t n = cmdline_u64("count", 10000), total, t0;
	uint64_t notify, warm = 100;
	uint32_t *lat;
	unsigned idx;

	if (n < 1)
		n = 1;
	if (n > 1000000)
		n = 1000000;
	if (vt_init("notify", 4096, 4))
		return 0;
	lat = heap_alloc(n * sizeof(*lat), 64);
	if (!lat)
		return vt_fail("notify", "oom");
	notify = vmmio_notify_addr(&vsd_mmio);
	idx = vsd_txq()->index;
	for (uint64_t i = 0; i < warm; i++)
		mmio_write32(notify, idx);
	total = rdtsc();
	for (uint64_t i = 0; i < n; i++) {
		uint64_t d;

		t0 = rdtsc();
		mmio_write32(notify, idx);
		d = rdtsc() - t0;
		lat[i] = d > 0xffffffffull ? 0xffffffffu : (uint32_t)d;
	}
	total = rdtsc() - total;
	sort_u32(lat, n);
	vt_stats();
	kprintf("testguest: notify ok count=%lu min=%u p50=%u p99=%u mean=%lu tsc_hz=%lu\n",
		(unsigned long)n, lat[0], lat[n / 2], lat[n * 99 / 100],
		(unsigned long)(total / n), (unsigned long)vt_hz());
	return 0;
}
