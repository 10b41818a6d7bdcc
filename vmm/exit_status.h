/* SPDX-License-Identifier: MIT */
/*
 * Exit statuses of "vmm run": the constants and the one table that
 * `vmm --help`, docs/config.md and README.md show (tests/integration/
 * test_cli_errors.py checks that the three agree).
 */
#ifndef VMM_EXIT_STATUS_H
#define VMM_EXIT_STATUS_H

#include <stdio.h>

#define VMM_EXIT_OK          0   /* guest reset or powered off */
#define VMM_EXIT_SETUP       1   /* bad input or host setup failure */
#define VMM_EXIT_GUEST_CRASH 2   /* triple fault, internal error, unhandled exit */
#define VMM_EXIT_GUEST_PANIC 4   /* the guest kernel panicked */
#define VMM_EXIT_TIMEOUT     124 /* --timeout expired (as coreutils timeout(1)) */
/* A thread made a system call its seccomp filter forbids (vmm/sandbox.h);
 * Firecracker's too.  Not 128+N for any signal the VMM ends on (N = 20,
 * SIGTSTP, stops a process rather than ending it). */
#define VMM_EXIT_SANDBOX     148
/* Also: odd statuses chosen by the guest (devices/debug_exit.h), and
 * 128+N for signal N. */

struct vmm_exit_status_row {
	const char *code;    /* "0", "124", "2V+1", "128+N" */
	const char *meaning; /* one sentence, plain text (no markup) */
};

/* The table, in order, ended by a row with code NULL. */
extern const struct vmm_exit_status_row vmm_exit_statuses[];

/* Print the table for --help: "  CODE   MEANING", meanings wrapped to 79
 * columns with continuation lines indented under the meaning. */
void vmm_exit_status_print(FILE *f);

#endif
