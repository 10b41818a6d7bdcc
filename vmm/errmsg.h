/* SPDX-License-Identifier: MIT */
/* Setup functions that explain their failure write one line into a caller's
 * buffer and return -1 (the convention of config.h, loader.h, x86_boot.h). */
#ifndef VMM_ERRMSG_H
#define VMM_ERRMSG_H

#include <stddef.h>

/* Format into err (if any) and return -1. */
int errmsg(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
