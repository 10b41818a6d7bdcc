/* SPDX-License-Identifier: MIT */
/*
 * The test guest's C entry, called from start.S on the boot CPU with a stack,
 * a zeroed .bss, interrupts off, and the identity map the VMM built.
 */
#include <stdint.h>

#include "cmdline.h"
#include "fmt.h"
#include "heap.h"
#include "reset.h"
#include "ring3.h"
#include "scenario.h"
#include "serial.h"
#include "trap.h"

/* Called from start.S only. */
__attribute__((noreturn)) void tg_main(uint64_t boot_params);

/* Run a scenario and end the VM; in ring 0 or ring 3 alike. */
static __attribute__((noreturn)) void run(const void *arg)
{
	const struct scenario *s = arg;
	int rc = s->run();

	if (rc)
		kprintf("testguest: scenario '%s' failed rc=%d\n", s->name, rc);
	i8042_reset();
}

static void run_entry(const void *arg)
{
	run(arg);
}

void tg_main(uint64_t boot_params)
{
	char name[64];
	const struct scenario *s;

	serial_init();
	trap_init();
	cmdline_init(boot_params);
	heap_init(boot_params);

	cmdline_str("scenario", name, sizeof(name));
	s = scenario_find(name);
	if (!s) {
		kprintf("testguest: unknown scenario '%s'\n", name);
		kprintf("testguest: known scenarios:");
		for (s = scenarios; s->name; s++)
			kprintf(" %s", s->name);
		kprintf("\n");
		i8042_reset();
	}
	/* Data-moving scenarios run in ring 3 (ring3.h says why) unless
	 * `ring=0` asks for ring 0, for comparison. */
	if (s->ring3 && cmdline_u64("ring", 3) != 0)
		ring3_enter(run_entry, s);
	run(s);
}
