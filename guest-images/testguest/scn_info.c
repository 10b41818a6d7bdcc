/* SPDX-License-Identifier: MIT */
/*
 * scenario=info: print what the guest sees of its boot contract, one
 * "testguest: info ..." line per item.  A debugging aid for new hosts and
 * VMM changes; no test depends on the exact wording.
 */
#include "scenario.h"

#include "cmdline.h"
#include "delay.h"
#include "fmt.h"
#include "mptable.h"

static const char *const tsc_sources[] = {
	[TSC_FROM_PIT] = "pit",
	[TSC_FROM_CPUID] = "cpuid",
	[TSC_GUESSED] = "guess",
};

int scn_info(void)
{
	static struct mp_info mp;
	const char *why;

	kprintf("testguest: info cmdline='%s'\n", cmdline_get());
	kprintf("testguest: info tsc_hz=%lu source=%s\n", tsc_hz(),
		tsc_sources[tsc_source()]);
	if (mp_parse(&mp, &why) != 0) {
		kprintf("testguest: info mp error='%s'\n", why);
		return 0;
	}
	kprintf("testguest: info mp fps=0x%lx table=0x%lx lapic=0x%lx "
		"entries=%u cpus=%u enabled=%u\n",
		mp.fps_addr, mp.table_addr, mp.lapic_addr, mp.n_entries,
		mp.n_cpus, mp_enabled_cpus(&mp));
	for (unsigned i = 0; i < mp.n_cpus; i++)
		kprintf("testguest: info cpu apic_id=%u enabled=%d bsp=%d\n",
			mp.cpus[i].apic_id, mp.cpus[i].enabled, mp.cpus[i].bsp);
	return 0;
}
