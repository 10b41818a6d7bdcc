/* SPDX-License-Identifier: MIT */
#include "cmdline.h"

#include <stddef.h>
#include <asm/bootparam.h> /* only for struct layout: no code, no libc */

#include "str.h"
#include "base/layout.h"

/* Linux boot protocol (Documentation/arch/x86/boot.rst): the command line's
 * address is hdr.cmd_line_ptr (low 32 bits) and ext_cmd_line_ptr (high 32). */
_Static_assert(offsetof(struct boot_params, hdr.cmd_line_ptr) == 0x228,
	       "boot protocol: cmd_line_ptr at 0x228");
_Static_assert(offsetof(struct boot_params, ext_cmd_line_ptr) == 0x0c8,
	       "boot protocol: ext_cmd_line_ptr at 0x0c8");

/* Our copy; longer command lines are cut (the VMM allows up to
 * LAYOUT_CMDLINE_MAX, which the tests never come close to). */
static char line[4096];

void cmdline_init(uint64_t boot_params)
{
	const struct boot_params *bp = (const void *)(uintptr_t)boot_params;
	uint64_t addr;
	size_t n;

	line[0] = '\0';
	if (!bp)
		return;
	addr = ((uint64_t)bp->ext_cmd_line_ptr << 32) | bp->hdr.cmd_line_ptr;
	/* Only RAM below the MMIO hole is identity-mapped RAM we may read. */
	if (addr == 0 || addr >= LAYOUT_MMIO_HOLE)
		return;
	n = strnlen((const char *)(uintptr_t)addr, sizeof(line) - 1);
	memcpy(line, (const char *)(uintptr_t)addr, n);
	line[n] = '\0';
}

const char *cmdline_get(void)
{
	return line;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Walk the words; for each word whose key (the part before '=', or the whole
 * word) equals `key`, remember where its value starts.  Last match wins. */
static bool find_word(const char *key, const char **val, size_t *len,
		      bool *has_value)
{
	bool found = false;
	const char *p = line;

	while (*p) {
		const char *w, *eq = NULL;

		while (is_blank(*p))
			p++;
		if (!*p)
			break;
		w = p;
		while (*p && !is_blank(*p)) {
			if (*p == '=' && !eq)
				eq = p;
			p++;
		}
		if (str_eq_n(w, (size_t)((eq ? eq : p) - w), key)) {
			found = true;
			*has_value = eq != NULL;
			*val = eq ? eq + 1 : p;
			*len = eq ? (size_t)(p - eq - 1) : 0;
		}
	}
	return found;
}

bool cmdline_find(const char *key, const char **val, size_t *len)
{
	bool has_value;

	return find_word(key, val, len, &has_value) && has_value;
}

bool cmdline_str(const char *key, char *buf, size_t size)
{
	const char *v;
	size_t n;
	bool fits;

	if (size == 0)
		return false;
	buf[0] = '\0';
	if (!cmdline_find(key, &v, &n))
		return false;
	fits = n < size;
	if (!fits)
		n = size - 1;
	memcpy(buf, v, n);
	buf[n] = '\0';
	return fits;
}

uint64_t cmdline_u64(const char *key, uint64_t def)
{
	const char *v;
	size_t n;
	uint64_t x;

	if (cmdline_find(key, &v, &n) && str_to_u64(v, n, &x))
		return x;
	return def;
}

bool cmdline_has(const char *flag)
{
	const char *v;
	size_t n;
	bool has_value;

	return find_word(flag, &v, &n, &has_value);
}
