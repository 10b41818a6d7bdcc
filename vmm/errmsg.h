/* SPDX-License-Identifier: MIT */
/* Set-up steps that explain their failure write one line into a caller's
 * buffer (err, errlen) and return -errno, like every other function that
 * can fail (docs/architecture.md, "Errors"). */
#ifndef VMM_ERRMSG_H
#define VMM_ERRMSG_H

#include <stddef.h>

/* Format one line into err (if any) and return -error; `error` is a
 * positive errno value: EINVAL for bad input (a flag, the config file, a
 * kernel image), the syscall's errno for a host failure. */
int errmsg(char *err, size_t errlen, int error, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
