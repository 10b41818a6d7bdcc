/* SPDX-License-Identifier: MIT */
/*
 * --console-file / x-vmm.console_file: the serial console's output goes to a
 * file instead of stdout (the terminal stays quiet; input still comes from
 * stdin).
 */
#ifndef VMM_CONSOLE_FILE_H
#define VMM_CONSOLE_FILE_H

#include <stddef.h>

/* Open `path` for the guest's output: a regular file is created (mode 0666
 * minus the umask) or truncated; a FIFO, character device (/dev/null, a
 * terminal) or socket is used as it is, but opening never blocks (a FIFO
 * without a reader is an error, not a wait).  The descriptor is blocking
 * and close-on-exec.  The fd, or -errno with one line in err ("console
 * file PATH: cannot open: Permission denied"; vmm/out_file.h). */
int console_file_open(const char *path, char *err, size_t errlen);

#endif
