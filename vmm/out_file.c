// SPDX-License-Identifier: MIT
#include "out_file.h"
#include "errmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The path comes from the user and may hold anything: keep the message one
 * line. */
static int one_line(char *err, size_t errlen, int ret)
{
	for (size_t i = 0; err && i < errlen && err[i]; i++)
		if ((unsigned char)err[i] < 0x20 || err[i] == 0x7f)
			err[i] = '?';
	return ret;
}

int out_file_open(const char *what, const char *path, int flags, mode_t mode,
		  bool any_stream, char *err, size_t errlen)
{
	struct stat st;
	int fd, fl, e;

	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | flags, mode);
	if (fd < 0) {
		e = errno;
		return one_line(err, errlen,
				errmsg(err, errlen, e, "%s %s: cannot open: %s%s", what, path, strerror(e),
				       e == ENXIO ? " (a FIFO needs a reader first)" : ""));
	}
	if (fstat(fd, &st) < 0) {
		e = errno;
		close(fd);
		return one_line(err, errlen,
				errmsg(err, errlen, e, "%s %s: %s", what, path, strerror(e)));
	}
	if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) &&
	    !(any_stream && (S_ISCHR(st.st_mode) || S_ISSOCK(st.st_mode)))) {
		close(fd);
		return one_line(err, errlen,
				errmsg(err, errlen, EINVAL, "%s %s: not a regular file or FIFO%s",
				       what, path, any_stream ? " (or character device)" : ""));
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		e = errno;
		close(fd);
		return one_line(err, errlen,
				errmsg(err, errlen, e, "%s %s: %s", what, path, strerror(e)));
	}
	return fd;
}
