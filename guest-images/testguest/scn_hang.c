/* SPDX-License-Identifier: MIT */
/*
 * scenario=hang: print "testguest: hang" and halt for good, interrupts off,
 * so only the VMM can end the VM (its --timeout, or a signal).
 */
#include "scenario.h"

#include "fmt.h"
#include "io.h"

int scn_hang(void)
{
	kprintf("testguest: hang\n");
	cpu_halt_forever();
}
