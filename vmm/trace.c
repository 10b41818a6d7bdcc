// SPDX-License-Identifier: MIT
#include "trace.h"
#include "vm.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

const char trace_smaps_path[] = "/proc/self/smaps";

int trace_rss(const void *base, uint64_t size, uint64_t *total_kib, uint64_t *guest_kib)
{
	FILE *f = fopen(trace_smaps_path, "re");
	char line[256];
	uintptr_t lo, hi, b = (uintptr_t)base;
	bool in_guest = false;
	uint64_t kib;

	if (!f)
		return -errno;
	*total_kib = *guest_kib = 0;
	while (fgets(line, sizeof(line), f)) {
		/* Mapping header lines look like "lo-hi perms ..."; the fields
		 * that follow are "Name:   value kB". */
		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " ", &lo, &hi) == 2 &&
		    strchr(line, ':') > strchr(line, ' ')) {
			in_guest = lo >= b && hi <= b + size;
			continue;
		}
		if (sscanf(line, "Rss: %" SCNu64 " kB", &kib) == 1) {
			*total_kib += kib;
			if (in_guest)
				*guest_kib += kib;
		}
	}
	fclose(f);
	return 0;
}

void trace_report(FILE *f, const struct vm *vm)
{
	uint64_t total = 0, guest = 0;

	trace_rss(vm->mem.base, vm->mem.size, &total, &guest);
	fprintf(f, "vmm: trace-boot main=%" PRIu64 " first-exit=%" PRIu64 " end=%" PRIu64
		" rss-kib=%" PRIu64 " guest-rss-kib=%" PRIu64 " vmm-rss-kib=%" PRIu64 "\n",
		vm->t_main, vm->t_first_exit, vm_now_ns(), total, guest, total - guest);
}
