/* SPDX-License-Identifier: MIT */
/*
 * Host socket helpers shared by the backends: non-blocking connects that
 * never stall the caller, and listeners.  Every fd returned is
 * non-blocking and close-on-exec.  All return an fd or -errno.
 */
#ifndef VSOCK_SOCK_H
#define VSOCK_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

/* A Unix socket of `type` (SOCK_STREAM or SOCK_SEQPACKET) connected (or,
 * *in_progress, connecting) to `path`.  -ENOENT / -ECONNREFUSED: nobody
 * listens; -EAGAIN: the listener's backlog is full. */
int vsock_sock_unix_connect(const char *path, int type, bool *in_progress);

/* The socket file a listener bound, to remove it later only if it is
 * still the same file (another process may have replaced it). */
struct vsock_sock_file {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* "": none */
	dev_t dev;
	ino_t ino;
	struct vsock_sock_file *next; /* the process's list, see below */
};

/*
 * A listening Unix socket of `type` at `path` (SOCK_DGRAM: bound only,
 * `backlog` unused); the file's identity is noted
 * in *f right after bind() (f->path empty if the file is not ours).  A
 * socket file left there by a process that died is replaced, but only when
 * nothing listens on it (a probe connect() fails with ECONNREFUSED);
 * -EADDRINUSE if something does, -EEXIST if the path is not a socket.  The
 * caller removes the file with vsock_sock_file_remove() when done.  Hold
 * the path's lock (vsock_sock_lock) first: another VMM between its bind()
 * and listen() refuses the probe too and would lose its socket.
 */
int vsock_sock_unix_listen(const char *path, int type, int backlog,
			   struct vsock_sock_file *f);

/*
 * Who may connect to the Unix sockets vsock_sock_unix_listen() creates:
 * the file gets exactly `mode` (default 0600: the owner only), and group
 * `gid` unless it is (gid_t)-1.  The file is never wider than `mode`, not
 * even between bind() and the chmod.  Call before any listener is made.
 */
void vsock_sock_set_listen_perms(mode_t mode, gid_t gid);

/* Unlink the file if it is still ours (same device and inode); forget it. */
void vsock_sock_file_remove(struct vsock_sock_file *f);

/* Unlink every socket file this process created and has not removed yet
 * (if still ours), leaving the listeners as they are: for a process about
 * to end without tearing down (exit() during start-up, a fatal signal).
 * Async-signal-safe. */
void vsock_sock_files_remove_all(void);

/* Call fn(path, opaque) for each socket file noted now, with `path` the
 * very buffer vsock_sock_files_remove_all() and vsock_sock_file_remove()
 * pass to unlink(): the sandbox allows unlink() of these addresses only. */
void vsock_sock_files_each(void (*fn)(const char *path, void *opaque), void *opaque);

/*
 * Claim the Unix socket path `path` for this process: an exclusive flock()
 * on "<path>.lock" (created if missing, never removed: unlinking a lock
 * file another process is about to lock would let two owners in).  Returns
 * the fd, to keep open for as long as the path is used (the lock goes with
 * the process), or -EWOULDBLOCK if another process holds it, -EEXIST if
 * the lock path is not a regular file, or another -errno.
 */
int vsock_sock_lock(const char *path);

/* A TCP connection to sa (numeric IPv4/IPv6), TCP_NODELAY, connected or
 * (*in_progress) connecting. */
int vsock_sock_tcp_connect(const struct sockaddr *sa, socklen_t len, bool *in_progress);

/* A TCP listener on sa (SO_REUSEADDR, so TIME_WAIT leftovers do not block
 * a restart; a live listener still gives -EADDRINUSE). */
int vsock_sock_tcp_listen(const struct sockaddr *sa, socklen_t len, int backlog);

/* Accept one client, non-blocking and close-on-exec; TCP_NODELAY on TCP.
 * Out of fds (-EMFILE/-ENFILE) the waiting client is accepted and closed
 * with a spare fd kept for this, so a listener never spins.  I/O thread. */
int vsock_sock_accept(int lfd);

/* "127.0.0.1:80" / "[::1]:80" for messages: the one formatter of TCP
 * addresses (config_fwd_name() uses it too).  Fits VSOCK_ADDR_STR_MAX. */
#define VSOCK_ADDR_STR_MAX 64
const char *vsock_sock_addr_str(const struct sockaddr *sa, char *buf, size_t size);

/* The startup error for a listener: "vsock <kind>:<where>: <strerror>",
 * e.g. "vsock forward tcp:127.0.0.1:2222: Address already in use"; for
 * Unix paths a hint why the file was not replaced. */
void vsock_listen_error(char *err, size_t errlen, const char *kind,
			const char *where, int neg_errno);

#endif
