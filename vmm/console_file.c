// SPDX-License-Identifier: MIT
#include "console_file.h"
#include "errmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The path comes from the user and may hold anything: keep the message one
 * line. */
static int one_line(char *err, size_t errlen)
{
	for (size_t i = 0; err && i < errlen && err[i]; i++)
		if ((unsigned char)err[i] < 0x20 || err[i] == 0x7f)
			err[i] = '?';
	return -1;
}

int console_file_open(const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd, flags;

	/* O_NONBLOCK only for the open itself: a FIFO nobody reads would
	 * otherwise hang the VMM here (ENXIO instead). */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0666);
	if (fd < 0) {
		int e = errno;

		if (e == ENXIO)
			errmsg(err, errlen, "console file %s: cannot open: %s "
			       "(a FIFO needs a reader first)", path, strerror(e));
		else
			errmsg(err, errlen, "console file %s: cannot open: %s", path,
			       strerror(e));
		return one_line(err, errlen);
	}
	if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode) || S_ISBLK(st.st_mode)) {
		close(fd);
		errmsg(err, errlen, "console file %s: not a file, FIFO or "
		       "character device", path);
		return one_line(err, errlen);
	}
	/* Written like stdout: blocking, the reader sets the pace (the UART
	 * drops output only if a reader stalls for long; devices/serial.c). */
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
		int e = errno;

		close(fd);
		errmsg(err, errlen, "console file %s: %s", path, strerror(e));
		return one_line(err, errlen);
	}
	return fd;
}
