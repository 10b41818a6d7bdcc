/* SPDX-License-Identifier: MIT */
/*
 * A listening host socket served on the I/O thread: the listen and accept
 * loop every vsock backend shares (the hybrid Unix listeners, forward_in).
 * Binding is separate from serving, so a backend binds when it is created
 * (a path or port in use is reported before the VM starts) and serves once
 * it knows where accepted clients go (backend.h, listen).
 *
 *   vsock_listener_open_unix / _tcp   bind + listen, or -errno and a message
 *   vsock_listener_serve              accept on `ev`, each client to on_client
 *   vsock_listener_close              stop, close, remove our socket file
 */
#ifndef VSOCK_LISTENER_H
#define VSOCK_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "base/evloop.h"
#include "vsock/sock.h"

struct vsock_listener {
	int fd;                         /* valid while `open` */
	bool open, served;
	struct vsock_sock_file file;    /* Unix: removed by close */
	struct evloop *ev;
	struct ev_source src;
	/* Takes the accepted fd (non-blocking, close-on-exec). */
	void (*on_client)(void *opaque, int fd);
	void *opaque;
};

/* A Unix listener of `type` at `path` (vsock_sock_unix_listen: a stale
 * socket file is replaced).  On error -errno and, in err,
 * "vsock <kind>:<path>: <reason>".  l may be zeroed memory. */
int vsock_listener_open_unix(struct vsock_listener *l, const char *path, int type,
			     const char *kind, char *err, size_t errlen);

/* A TCP listener on sa (numeric), error message as above with the address. */
int vsock_listener_open_tcp(struct vsock_listener *l, const struct sockaddr *sa,
			    socklen_t salen, const char *kind, char *err, size_t errlen);

/* Serve an open listener on ev: every accepted client goes to
 * on_client(opaque, fd), which owns the fd.  0 or -errno. */
int vsock_listener_serve(struct vsock_listener *l, struct evloop *ev,
			 void (*on_client)(void *opaque, int fd), void *opaque);

/* Stop serving, close, and remove the socket file if still ours.  Safe on
 * a listener never opened (zeroed).  On the I/O thread or after the loop
 * stopped. */
void vsock_listener_close(struct vsock_listener *l);

#endif
