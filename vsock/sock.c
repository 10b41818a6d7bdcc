/* SPDX-License-Identifier: MIT */
/*
 * Host socket helpers.  See sock.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "vsock/sock.h"

#define LOCK_SUFFIX ".lock"

static int unix_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

/* connect() a non-blocking socket: the fd, with *in_progress set when the
 * connection completes later (EPOLLOUT); or -errno with fd closed. */
static int connect_nb(int fd, const struct sockaddr *sa, socklen_t len, bool *in_progress)
{
	int err;

	if (connect(fd, sa, len) == 0) {
		*in_progress = false;
		return fd;
	}
	if (errno == EINPROGRESS) {
		*in_progress = true;
		return fd;
	}
	err = -errno;
	close(fd);
	return err;
}

int vsock_sock_unix_connect(const char *path, int type, bool *in_progress)
{
	struct sockaddr_un sa;
	int fd, err;

	err = unix_addr(&sa, path);
	if (err)
		return err;
	fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	return connect_nb(fd, (struct sockaddr *)&sa, sizeof(sa), in_progress);
}

/* One fd held in reserve: out of fds, accept() fails but the client stays
 * queued and a level-triggered listener would wake the loop for ever.
 * Freeing the spare lets us accept and close that client (it sees the
 * connection closed), then the spare is taken again.  I/O thread only. */
static int spare_fd = -1;

/* Any fd will do; an eventfd needs no file, so taking it again after
 * start-up opens nothing (the sandbox allows no open() then). */
static void spare_take(void)
{
	if (spare_fd < 0)
		spare_fd = eventfd(0, EFD_CLOEXEC);
}

/* Listening socket files: owner only unless widened (sock.h). */
static mode_t listen_mode = 0600;
static gid_t listen_gid = (gid_t)-1;

void vsock_sock_set_listen_perms(mode_t mode, gid_t gid)
{
	listen_mode = mode & 0777;
	listen_gid = gid;
}

/* The socket file just bound at `path` (its mode is exactly listen_mode
 * already, see vsock_sock_unix_listen) gets listen_gid.  Still ours: the
 * caller noted its inode right after bind() (f->path set), and a file
 * replaced since is left; lchown never follows a link. */
static int file_set_perms(const struct vsock_sock_file *f)
{
	struct stat st;

	if (!f->path[0] || lstat(f->path, &st) < 0 || !S_ISSOCK(st.st_mode) ||
	    st.st_dev != f->dev || st.st_ino != f->ino)
		return 0;
	if (listen_gid != (gid_t)-1 && lchown(f->path, (uid_t)-1, listen_gid) < 0)
		return -errno;
	return 0;
}

/* Is anyone listening at the socket file `path`?  A probe of the same
 * type, non-blocking: ECONNREFUSED means a stale file (for SOCK_DGRAM:
 * no socket is bound to it). */
static bool unix_in_use(const struct sockaddr_un *sa, int type)
{
	int fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	bool used;

	if (fd < 0)
		return true; /* cannot tell: do not remove it */
	used = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 ||
	       errno != ECONNREFUSED;
	/* EPROTOTYPE: a listener of the other type is there: in use too. */
	close(fd);
	return used;
}

/*
 * The socket files this process created and has not removed yet, newest
 * first, for vsock_sock_files_remove_all().  A signal handler may walk the
 * list at any moment, interrupting the thread that is changing it (a VMM
 * starts up and tears down on one thread and blocks these signals while
 * it runs), so an entry is complete before one pointer store links it in,
 * and one pointer store unlinks it before it is reused.  The mutex only
 * serialises changers (unit tests create devices on several threads).
 */
static struct vsock_sock_file *files;
static pthread_mutex_t files_lock = PTHREAD_MUTEX_INITIALIZER;

/* Note the file just bound at `path`: that inode is ours to remove. */
static void file_note(struct vsock_sock_file *f, const char *path)
{
	struct stat st;

	f->path[0] = '\0';
	if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return; /* gone or replaced already: not ours to remove */
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	strcpy(f->path, path); /* fits: it fitted sun_path */
	pthread_mutex_lock(&files_lock);
	f->next = files;
	__atomic_store_n(&files, f, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&files_lock);
}

static void file_forget(struct vsock_sock_file *f)
{
	struct vsock_sock_file **pp;

	pthread_mutex_lock(&files_lock);
	for (pp = &files; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			__atomic_store_n(pp, f->next, __ATOMIC_RELEASE);
			break;
		}
	pthread_mutex_unlock(&files_lock);
	f->path[0] = '\0';
}

/* Unlink f's path if the file there is still the one we bound. */
static void file_unlink(const struct vsock_sock_file *f)
{
	struct stat st;

	if (lstat(f->path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_dev == f->dev && st.st_ino == f->ino)
		unlink(f->path);
}

void vsock_sock_files_each(void (*fn)(const char *path, void *opaque), void *opaque)
{
	const struct vsock_sock_file *f;

	pthread_mutex_lock(&files_lock);
	for (f = files; f; f = f->next)
		fn(f->path, opaque);
	pthread_mutex_unlock(&files_lock);
}

void vsock_sock_files_remove_all(void)
{
	const struct vsock_sock_file *f;

	/* lstat() and unlink() only: async-signal-safe. */
	for (f = __atomic_load_n(&files, __ATOMIC_ACQUIRE); f;
	     f = __atomic_load_n(&f->next, __ATOMIC_ACQUIRE))
		file_unlink(f);
}

int vsock_sock_unix_listen(const char *path, int type, int backlog,
			   struct vsock_sock_file *f)
{
	struct sockaddr_un sa;
	struct stat st;
	sigset_t all, old;
	mode_t um;
	int fd, err;

	f->path[0] = '\0';
	err = unix_addr(&sa, path);
	if (err)
		return err;
	spare_take(); /* now, not on the first accept: a steady fd count */
	fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* bind() creates the file with the socket inode's mode minus the
	 * umask (Linux af_unix.c): never wider than listen_mode. */
	if (fchmod(fd, listen_mode) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	/* No signal between bind() and file_note(): a handler that ends the
	 * process then would leave a socket file it does not know of. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	/* The file gets exactly listen_mode (the inode's mode, above): no
	 * chmod by path afterwards, which a path swapped for a symlink in
	 * between would redirect.  Set-up is single-threaded, so the
	 * process-wide umask is ours for these few calls. */
	um = umask(0);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		if (err != -EADDRINUSE)
			goto fail;
		if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
			err = -EEXIST; /* a file, not ours to remove */
			goto fail;
		}
		/* A VMM between its bind() and listen() also refuses the
		 * probe; the lock file (vsock_sock_lock) keeps other VMMs
		 * from being there for this path. */
		if (unix_in_use(&sa, type))
			goto fail; /* -EADDRINUSE */
		if (unlink(path) < 0 && errno != ENOENT) {
			err = -errno;
			goto fail;
		}
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			err = -errno;
			goto fail;
		}
	}
	/* The inode right after bind(), not later: by then another process
	 * may have replaced the file, and that one is not ours to delete. */
	file_note(f, path);
	umask(um);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	err = file_set_perms(f);
	if (err || (type != SOCK_DGRAM && listen(fd, backlog) < 0)) {
		if (!err)
			err = -errno;
		vsock_sock_file_remove(f);
		close(fd);
		return err;
	}
	return fd;
fail:
	umask(um);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(fd);
	return err;
}

void vsock_sock_file_remove(struct vsock_sock_file *f)
{
	if (!f->path[0])
		return;
	/* Unlink first: a signal in between finds the file gone. */
	file_unlink(f);
	file_forget(f);
}

int vsock_sock_lock(const char *path)
{
	char lock[sizeof(((struct sockaddr_un *)0)->sun_path) + sizeof(LOCK_SUFFIX)];
	struct stat st, now;
	int fd, err;

	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return -ENAMETOOLONG;
	snprintf(lock, sizeof(lock), "%s%s", path, LOCK_SUFFIX);
	for (;;) {
		/* Read-only is enough for flock(); O_NOFOLLOW and the type
		 * check: never lock (or create) through a planted symlink
		 * or on a FIFO. */
		fd = open(lock, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK |
			  O_NOCTTY, 0644);
		if (fd < 0)
			return -errno;
		if (fstat(fd, &st) < 0) {
			err = -errno;
			goto fail;
		}
		if (!S_ISREG(st.st_mode)) {
			err = -EEXIST;
			goto fail;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			err = errno == EWOULDBLOCK ? -EWOULDBLOCK : -errno;
			goto fail;
		}
		/* Still the file at that name?  If someone removed it while
		 * we waited, another VMM may hold a new one: retry there. */
		if (stat(lock, &now) == 0 && now.st_dev == st.st_dev && now.st_ino == st.st_ino)
			return fd;
		close(fd);
	}
fail:
	close(fd);
	return err;
}

static void nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int vsock_sock_tcp_connect(const struct sockaddr *sa, socklen_t len, bool *in_progress)
{
	int fd;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	nodelay(fd);
	return connect_nb(fd, sa, len, in_progress);
}

int vsock_sock_tcp_listen(const struct sockaddr *sa, socklen_t len, int backlog)
{
	int fd, err, one = 1;

	spare_take();
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, sa, len) < 0 || listen(fd, backlog) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int vsock_sock_accept(int lfd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd, err;

	spare_take();
	fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		if ((err == -EMFILE || err == -ENFILE) && spare_fd >= 0) {
			close(spare_fd);
			spare_fd = -1;
			fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				close(fd);
			spare_take();
		}
		return err;
	}
	if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)
		nodelay(fd);
	return fd;
}

const char *vsock_sock_addr_str(const struct sockaddr *sa, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)sa;

		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
		snprintf(buf, size, "%s:%u", ip, ntohs(a->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)sa;

		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
		snprintf(buf, size, "[%s]:%u", ip, ntohs(a->sin6_port));
	} else {
		snprintf(buf, size, "?");
	}
	return buf;
}

void vsock_listen_error(char *err, size_t errlen, const char *kind,
			const char *where, int neg_errno)
{
	const char *hint = "";

	if (!err || errlen == 0)
		return;
	if (strstr(kind, "unix")) {
		if (neg_errno == -EADDRINUSE)
			hint = " (another process is listening there)";
		else if (neg_errno == -EEXIST)
			hint = " (not a socket; left alone)";
	}
	snprintf(err, errlen, "vsock %s:%s: %s%s", kind, where, strerror(-neg_errno), hint);
}
