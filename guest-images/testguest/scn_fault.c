/* SPDX-License-Identifier: MIT */
/*
 * scenario=fault: announce, then triple-fault.  The host test checks that
 * the VMM exits non-zero with a clear message (and that the announcement
 * came out, so the fault is this one and not an earlier crash).
 */
#include "scenario.h"

#include "fmt.h"
#include "reset.h"

int scn_fault(void)
{
	kprintf("testguest: fault: triple-faulting now\n");
	cpu_triple_fault();
}
