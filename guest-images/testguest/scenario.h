/* SPDX-License-Identifier: MIT */
/*
 * Scenarios: what the guest does, chosen with `scenario=NAME` on the command
 * line.  Each scenario prints its own result line ("testguest: ...") for the
 * host test to parse, and returns; main() then resets the VM cleanly.
 *
 * To add one: write `int scn_NAME(void)` in its own file scn_NAME.c, declare
 * it below, and add a row to the table in scenario.c.  Parameters come from
 * the command line (cmdline.h), e.g. `scenario=echo-server port=1234`.
 */
#ifndef TG_SCENARIO_H
#define TG_SCENARIO_H

#include <stdbool.h>

struct scenario {
	const char *name;
	/* 0: done (its result line printed).  Non-zero: failed; main() adds
	 * "testguest: scenario 'NAME' failed rc=N" and still resets. */
	int (*run)(void);
	const char *help;
	/* Run in ring 3 (ring3.h) unless the command line says ring=0. */
	bool ring3;
};

/* The table, terminated by an entry with name NULL. */
extern const struct scenario scenarios[];

/* The scenario called `name`, or NULL. */
const struct scenario *scenario_find(const char *name);

/* Scenario functions, one file each. */
int scn_hello(void);
int scn_fault(void);
int scn_info(void);
int scn_speed(void);
int scn_echo_server(void);
int scn_echo_client(void);
int scn_send(void);
int scn_recv(void);
int scn_many(void);
int scn_halfclose(void);
int scn_seqpacket(void);
int scn_rst(void);
int scn_hostile(void);
int scn_pingpong(void);
int scn_connrate(void);
int scn_notify(void);
int scn_dgram_echo(void);
int scn_dgram_server(void);
int scn_dgram_burst(void);
int scn_dgram_max(void);
int scn_exit(void);
int scn_panic(void);
int scn_hang(void);

#endif
