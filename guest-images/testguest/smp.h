/* SPDX-License-Identifier: MIT */
/*
 * Application processor (AP) start-up through the local xAPIC.  The APs run
 * a tiny real-mode trampoline (start.S) that checks in by incrementing a
 * counter and halts; they never reach C or long mode (yet).
 */
#ifndef TG_SMP_H
#define TG_SMP_H

#include <stdint.h>

#include "mptable.h"

struct smp_report {
	unsigned bsp_apic_id;
	unsigned aps_expected; /* enabled MP processor entries other than us */
	unsigned aps_started;  /* APs that checked in before the timeout */
};

/* Send INIT-SIPI-SIPI to every enabled AP listed in `mp` and wait up to
 * timeout_us for them to check in.  Returns CPUs up, the BSP included. */
unsigned smp_start_aps(const struct mp_info *mp, uint64_t timeout_us,
		       struct smp_report *rep);

#endif
