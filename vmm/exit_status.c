// SPDX-License-Identifier: MIT
#include "exit_status.h"

#include <string.h>

#define STR_(x) #x
#define STR(x) STR_(x)

/* docs/config.md "Exit status" and README.md repeat these rows word for
 * word; change all three together. */
const struct vmm_exit_status_row vmm_exit_statuses[] = {
	{ STR(VMM_EXIT_OK), "the guest reset or powered off the VM (also --help and --version)" },
	{ STR(VMM_EXIT_SETUP), "bad input (flags, config file, console file) or a host set-up "
	  "error (KVM, memory, sockets)" },
	{ STR(VMM_EXIT_GUEST_CRASH), "the guest crashed: triple fault, KVM internal error, "
	  "failed entry, or an exit the VMM does not handle" },
	{ STR(VMM_EXIT_GUEST_PANIC), "the guest kernel panicked (reported through pvpanic, or "
	  "the reboot that follows a panic)" },
	{ STR(VMM_EXIT_TIMEOUT), "the guest still ran when --timeout (x-vmm.timeout_s) expired" },
	{ STR(VMM_EXIT_SANDBOX), "a VMM thread made a system call its seccomp filter forbids "
	  "(docs/sandbox.md)" },
	{ "2V+1", "the guest wrote V to the debug-exit port 0xf4 (QEMU's isa-debug-exit); "
	  "only the low 8 bits reach the parent, so always odd" },
	{ "128+N", "the VMM was stopped by signal N (130 for SIGINT, 143 for SIGTERM)" },
	{ NULL, NULL },
};

#define CODE_WIDTH 9  /* "  CODE   " up to the meaning column */
#define LINE_WIDTH 79

void vmm_exit_status_print(FILE *f)
{
	for (const struct vmm_exit_status_row *r = vmm_exit_statuses; r->code; r++) {
		const char *p = r->meaning;
		int col = fprintf(f, "  %-*s", CODE_WIDTH - 2, r->code);

		while (*p) {
			size_t word = strcspn(p, " ");

			if (col > CODE_WIDTH && col + 1 + (int)word > LINE_WIDTH)
				col = fprintf(f, "\n%*s", CODE_WIDTH, "") - 1;
			else if (col > CODE_WIDTH)
				col += fprintf(f, " ");
			col += fprintf(f, "%.*s", (int)word, p);
			p += word;
			while (*p == ' ')
				p++;
		}
		fputc('\n', f);
	}
}
