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

/* A Unix socket of `type` (SOCK_STREAM or SOCK_SEQPACKET) connected (or,
 * *in_progress, connecting) to `path`.  -ENOENT / -ECONNREFUSED: nobody
 * listens; -EAGAIN: the listener's backlog is full. */
int vsock_sock_unix_connect(const char *path, int type, bool *in_progress);

/*
 * A listening Unix socket of `type` at `path`.  A socket file left there
 * by a process that died is replaced, but only when nothing listens on it
 * (a probe connect() fails with ECONNREFUSED); -EADDRINUSE if something
 * does, -EEXIST if the path is not a socket.  The caller unlinks `path`
 * when done with it.
 */
int vsock_sock_unix_listen(const char *path, int type, int backlog);

/* The socket file a listener bound, to remove it later only if it is
 * still the same file (another process may have replaced it). */
struct vsock_sock_file {
	char *path;       /* NULL: none */
	unsigned long dev, ino;
};

/* Note path's identity after a successful vsock_sock_unix_listen (copies
 * the path).  0 or -ENOMEM (then removed at once). */
int vsock_sock_file_note(struct vsock_sock_file *f, const char *path);

/* Unlink the file if it is still ours; forget it. */
void vsock_sock_file_remove(struct vsock_sock_file *f);

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

/* "127.0.0.1:80" / "[::1]:80" for messages; buf >= 64 bytes. */
const char *vsock_sock_addr_str(const struct sockaddr *sa, char *buf, size_t size);

/* The startup error for a listener: "vsock <kind>:<where>: <strerror>",
 * e.g. "vsock forward tcp:127.0.0.1:2222: Address already in use"; for
 * Unix paths a hint why the file was not replaced. */
void vsock_listen_error(char *err, size_t errlen, const char *kind,
			const char *where, int neg_errno);

#endif
