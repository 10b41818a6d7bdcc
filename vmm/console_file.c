// SPDX-License-Identifier: MIT
#include "console_file.h"
#include "out_file.h"

#include <fcntl.h>

int console_file_open(const char *path, char *err, size_t errlen)
{
	/* Created 0666 minus the umask, like a shell's redirection. */
	return out_file_open("console file", path, O_TRUNC, 0666, true, err, errlen);
}
