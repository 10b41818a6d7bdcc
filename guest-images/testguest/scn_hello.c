/* SPDX-License-Identifier: MIT */
/*
 * scenario=hello: start every CPU in the MP table, then print
 *   testguest: hello cpus=N
 * where N counts the CPUs that actually came up, the BSP included.
 * Problems (no MP table, APs missing) get their own "testguest: note:" line
 * first; the hello line is printed regardless so the host test sees N.
 */
#include "scenario.h"

#include "delay.h"
#include "fmt.h"
#include "mptable.h"
#include "smp.h"

#define AP_TIMEOUT_US 1000000 /* ~1 s for all APs to check in */

int scn_hello(void)
{
	static struct mp_info mp; /* ~1 KiB: keep it off the small stack */
	struct smp_report rep = { 0 };
	const char *why;
	unsigned cpus = 1;

	if (mp_parse(&mp, &why) == 0) {
		cpus = smp_start_aps(&mp, AP_TIMEOUT_US, &rep);
		if (rep.aps_started != rep.aps_expected)
			kprintf("testguest: note: %u of %u APs checked in "
				"(bsp apic id %u, tsc %lu Hz from %s)\n",
				rep.aps_started, rep.aps_expected, rep.bsp_apic_id,
				tsc_hz(),
				tsc_source() == TSC_FROM_PIT ? "pit" :
				tsc_source() == TSC_FROM_CPUID ? "cpuid" : "guess");
	} else {
		kprintf("testguest: note: MP table: %s; only the BSP runs\n", why);
	}
	kprintf("testguest: hello cpus=%u\n", cpus);
	return 0;
}
