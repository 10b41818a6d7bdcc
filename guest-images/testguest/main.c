/* SPDX-License-Identifier: MIT */
/*
 * The test guest's C entry, called from start.S on the boot CPU with a stack,
 * a zeroed .bss, interrupts off, and the identity map the VMM built.
 */
#include <stdint.h>

#include "cmdline.h"
#include "fmt.h"
#include "reset.h"
#include "scenario.h"
#include "serial.h"
#include "trap.h"

/* Called from start.S only. */
__attribute__((noreturn)) void tg_main(uint64_t boot_params);

void tg_main(uint64_t boot_params)
{
	char name[64];
	const struct scenario *s;
	int rc;

	serial_init();
	trap_init();
	cmdline_init(boot_params);

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
	rc = s->run();
	if (rc)
		kprintf("testguest: scenario '%s' failed rc=%d\n", s->name, rc);
	i8042_reset();
}
