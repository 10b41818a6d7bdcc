/* SPDX-License-Identifier: MIT */
/*
 * Port forwards, see backend.h: a router backend that sends guest
 * connections for forward_out ports to their own backend (TCP or a Unix
 * path) and every other port to the fallback (the hybrid Unix backend), and
 * the forward_in listeners, whose clients become streams into a fixed
 * guest port without any handshake.
 *
 * connect runs under the device lock on any thread and reads only what is
 * fixed after creation; the listeners run on the I/O thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/evloop.h"
#include "vsock/backend.h"
#include "vsock/device.h"
#include "vsock/packet.h"
#include "vsock/sock.h"

#define ACCEPT_BATCH   32
#define LISTEN_BACKLOG 128

struct fwd_be;

struct fwd_out {
	uint32_t port;
	struct vsock_backend *be;
};

struct fwd_listener {
	struct fwd_be *f;
	int fd;
	uint32_t port;          /* guest port */
	struct vsock_sock_file file; /* Unix: removed on destroy */
	struct ev_source src;
};

struct fwd_be {
	struct vsock_backend base;
	struct vsock_backend *fallback;
	struct fwd_out *out;    /* sorted by port */
	unsigned nout;
	struct fwd_listener *in;
	unsigned nin;
	struct evloop *ev;
	struct vsock_dev *dev;
};

static int fwd_connect(struct vsock_backend *base, uint32_t port, uint16_t type,
		       bool *in_progress)
{
	struct fwd_be *f = (struct fwd_be *)base;
	unsigned lo = 0, hi = f->nout;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (f->out[mid].port == port)
			return f->out[mid].be->connect(f->out[mid].be, port, type, in_progress);
		if (f->out[mid].port < port)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!f->fallback)
		return -ECONNREFUSED;
	return f->fallback->connect(f->fallback, port, type, in_progress);
}

static void accept_cb(void *opaque, uint32_t events)
{
	struct fwd_listener *l = opaque;

	(void)events;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = vsock_sock_accept(l->fd);

		if (fd < 0)
			return;
		/* Refused (no driver, connection limit): the client sees
		 * the connection closed at once. */
		if (vsock_dev_host_accept(l->f->dev, fd, l->port,
					  VIRTIO_VSOCK_TYPE_STREAM, false) < 0)
			close(fd);
	}
}

static void fwd_destroy(struct vsock_backend *base)
{
	struct fwd_be *f = (struct fwd_be *)base;

	for (unsigned i = 0; i < f->nin; i++) {
		struct fwd_listener *l = &f->in[i];

		if (l->fd >= 0) {
			ev_del(f->ev, &l->src);
			close(l->fd);
		}
		vsock_sock_file_remove(&l->file);
	}
	for (unsigned i = 0; i < f->nout; i++)
		if (f->out[i].be)
			f->out[i].be->destroy(f->out[i].be);
	if (f->fallback)
		f->fallback->destroy(f->fallback);
	free(f->in);
	free(f->out);
	free(f);
}

static int cmp_out(const void *a, const void *b)
{
	uint32_t x = ((const struct fwd_out *)a)->port, y = ((const struct fwd_out *)b)->port;

	return x < y ? -1 : x > y;
}

static int open_listener(struct fwd_be *f, struct fwd_listener *l,
			 const struct vsock_fwd *spec, char *err, size_t errlen)
{
	char where[80];
	int ret;

	l->f = f;
	l->port = spec->port;
	if (spec->tcp) {
		vsock_sock_addr_str(spec->sa, where, sizeof(where));
		l->fd = vsock_sock_tcp_listen(spec->sa, spec->salen, LISTEN_BACKLOG);
		if (l->fd < 0) {
			ret = l->fd;
			l->fd = -1;
			vsock_listen_error(err, errlen, "forward tcp", where, ret);
			return ret;
		}
	} else {
		l->fd = vsock_sock_unix_listen(spec->path, SOCK_STREAM, LISTEN_BACKLOG, &l->file);
		if (l->fd < 0) {
			ret = l->fd;
			l->fd = -1;
			vsock_listen_error(err, errlen, "forward unix", spec->path, ret);
			return ret;
		}
	}
	ret = ev_add(f->ev, &l->src, l->fd, EPOLLIN, accept_cb, l);
	if (ret) {
		close(l->fd);
		l->fd = -1;
		vsock_sock_file_remove(&l->file);
	}
	return ret;
}

int vsock_fwd_backend_create(const struct vsock_fwd *out, unsigned nout,
			     const struct vsock_fwd *in, unsigned nin,
			     struct vsock_backend *fallback, struct evloop *ev,
			     struct vsock_dev *dev, struct vsock_backend **res,
			     char *err, size_t errlen)
{
	struct fwd_be *f = calloc(1, sizeof(*f));
	int ret = -ENOMEM;

	if (!f) {
		if (fallback)
			fallback->destroy(fallback);
		return -ENOMEM;
	}
	f->base.connect = fwd_connect;
	f->base.destroy = fwd_destroy;
	f->fallback = fallback;
	f->ev = ev;
	f->dev = dev;
	f->out = calloc(nout ? nout : 1, sizeof(*f->out));
	f->in = calloc(nin ? nin : 1, sizeof(*f->in));
	if (!f->out || !f->in)
		goto fail;
	for (unsigned i = 0; i < nout; i++, f->nout++) {
		f->out[i].port = out[i].port;
		ret = out[i].tcp ? vsock_tcp_backend_create(out[i].sa, out[i].salen, &f->out[i].be)
				 : vsock_unix_path_backend_create(out[i].path, &f->out[i].be);
		if (ret)
			goto fail;
	}
	qsort(f->out, f->nout, sizeof(*f->out), cmp_out);
	for (unsigned i = 1; i < f->nout; i++)
		if (f->out[i].port == f->out[i - 1].port) {
			ret = -EINVAL; /* the config rejects duplicates */
			goto fail;
		}
	for (unsigned i = 0; i < nin; i++)
		f->in[i].fd = -1;
	for (unsigned i = 0; i < nin; i++, f->nin++) {
		ret = open_listener(f, &f->in[i], &in[i], err, errlen);
		if (ret) {
			f->nin++;
			goto fail;
		}
	}
	*res = &f->base;
	return 0;
fail:
	fwd_destroy(&f->base);
	return ret;
}
