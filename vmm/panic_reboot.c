// SPDX-License-Identifier: MIT
/* Panic detection through Linux's reboot mode (see panic_reboot.h). */
#include "panic_reboot.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

/* Next word of a kernel command line as Linux splits it (lib/cmdline.c
 * next_arg(): spaces separate words, double quotes group).  *len = 0 at
 * the end. */
static const char *next_word(const char *p, size_t *len)
{
	const char *start;
	bool quoted = false;

	while (*p == ' ' || *p == '\t' || *p == '\n')
		p++;
	start = p;
	for (; *p; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (!quoted && (*p == ' ' || *p == '\t' || *p == '\n'))
			break;
	}
	*len = (size_t)(p - start);
	return start;
}

static bool is_end_of_kernel_args(const char *w, size_t len)
{
	return len == 2 && w[0] == '-' && w[1] == '-';
}

/* One reboot= value: does an item set the ordinary mode to warm? */
static bool sets_warm(const char *v, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t n = 0;

		while (i + n < len && v[i + n] != ',')
			n++;
		/* "panic_..." items set panic_reboot_mode only. */
		if (n >= 1 && v[i] == 'w')
			return true;
		i += n + 1;
	}
	return false;
}

bool panic_reboot_applicable(const char *cmdline)
{
	static const char key[] = "reboot=";
	const char *p = cmdline;
	size_t len;

	for (;;) {
		const char *w = next_word(p, &len);

		if (len == 0 || is_end_of_kernel_args(w, len))
			return true;
		if (len > sizeof(key) - 1 && memcmp(w, key, sizeof(key) - 1) == 0) {
			const char *v = w + sizeof(key) - 1;
			size_t vlen = len - (sizeof(key) - 1);

			if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
				v++;
				vlen -= 2;
			}
			if (sets_warm(v, vlen))
				return false;
		}
		p = w + len;
	}
}

int panic_reboot_add(char *cmdline, size_t size)
{
	static const char param[] = PANIC_REBOOT_PARAM;
	size_t total = strlen(cmdline), at = total, len;
	const char *p = cmdline;
	bool space_before, space_after = false;

	/* Before "--": what follows it goes to init. */
	for (;;) {
		const char *w = next_word(p, &len);

		if (len == 0)
			break;
		if (is_end_of_kernel_args(w, len)) {
			at = (size_t)(w - cmdline);
			space_after = true;
			break;
		}
		p = w + len;
	}
	space_before = at > 0 && cmdline[at - 1] != ' ';
	len = (space_before ? 1 : 0) + sizeof(param) - 1 + (space_after ? 1 : 0);
	if (total + len + 1 > size)
		return -ENAMETOOLONG;
	memmove(cmdline + at + len, cmdline + at, total - at + 1);
	if (space_before)
		cmdline[at++] = ' ';
	memcpy(cmdline + at, param, sizeof(param) - 1);
	if (space_after)
		cmdline[at + sizeof(param) - 1] = ' ';
	return 0;
}

bool panic_reboot_seen(const struct guest_mem *gm)
{
	/* The guest may be writing it on another vCPU: read each byte once. */
	const volatile uint8_t *b = gm_ptr(gm, PANIC_REBOOT_FLAG, 2);

	if (!b)
		return false;
	return (uint16_t)(b[0] | b[1] << 8) == PANIC_REBOOT_WARM;
}
