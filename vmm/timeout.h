/* SPDX-License-Identifier: MIT */
/*
 * --timeout / x-vmm.timeout_s: a one-shot CLOCK_MONOTONIC timerfd on the
 * I/O thread's loop.  When it fires the VM ends like on any other exit
 * request (vCPUs stopped, devices and socket files torn down) with
 * VMM_EXIT_TIMEOUT and one line on stderr.
 */
#ifndef VMM_TIMEOUT_H
#define VMM_TIMEOUT_H

#include <stdint.h>

#include "base/evloop.h"

struct vm;

struct vm_timeout {
	struct vm *vm;
	struct ev_source src;
	int fd;            /* timerfd, -1 when none */
	uint64_t seconds;
};

/* Start counting `seconds` now (call right before the vCPUs start); 0 means
 * no timeout (nothing is set up).  0 or -errno. */
int vm_timeout_start(struct vm_timeout *t, struct vm *vm, uint64_t seconds);

/* The line printed when it fires (without the "vmm: " prefix). */
#define VM_TIMEOUT_MSG "timeout: the guest still ran after %llu s; stopped it"

#endif
