/* SPDX-License-Identifier: MIT */
#include "scenario.h"

#include <stddef.h>

#include "str.h"

/* Names are what the host tests pass in `scenario=`: keep them stable. */
const struct scenario scenarios[] = {
	{ "hello", scn_hello, "start all CPUs, print 'testguest: hello cpus=N', reset" },
	{ "fault", scn_fault, "triple-fault on purpose (the VMM must exit non-zero)" },
	{ "info",  scn_info,  "print the command line, TSC rate and MP table" },
	{ NULL, NULL, NULL },
};

const struct scenario *scenario_find(const char *name)
{
	for (const struct scenario *s = scenarios; s->name; s++)
		if (strcmp(s->name, name) == 0)
			return s;
	return NULL;
}
