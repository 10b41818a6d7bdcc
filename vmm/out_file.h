/* SPDX-License-Identifier: MIT */
/*
 * Files the VMM writes for its user (the console file, the metrics file):
 * opened once at start-up, before anything is created on the host, with
 * one rule for the cases every such file meets.
 */
#ifndef VMM_OUT_FILE_H
#define VMM_OUT_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Open `path` for writing: O_CREAT with `mode` (minus the umask) plus
 * `flags` (O_TRUNC or O_APPEND).  Opening never blocks: a FIFO without a
 * reader is an error now, not a hang (the descriptor is blocking
 * afterwards, so a slow reader sets the pace).  Regular files and FIFOs
 * are taken; character devices and sockets only with `any_stream`.  The
 * fd (close-on-exec), or -errno with one line in err: "WHAT PATH: REASON",
 * control characters of the path shown as '?'. */
int out_file_open(const char *what, const char *path, int flags, mode_t mode,
		  bool any_stream, char *err, size_t errlen);

#endif
