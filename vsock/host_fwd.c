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
#include "vsock/listener.h"
#include "vsock/packet.h"
#include "vsock/sock.h"

struct fwd_be;

struct fwd_out {
	uint32_t port;
	struct vsock_backend *be;
};

struct fwd_listener {
	struct fwd_be *f;
	uint32_t port;          /* guest port */
	struct vsock_listener l;
};

struct fwd_be {
	struct vsock_backend base;
	struct vsock_backend *fallback;
	struct fwd_out *out;    /* sorted by port */
	unsigned nout;
	struct fwd_listener *in;
	unsigned nin;
	struct evloop *ev;
	struct vsock_host_sink sink; /* from listen() */
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

/* A forward_in client: straight to the guest port, no handshake.
 * Refused (no driver, connection limit): it sees the connection closed at
 * once. */
static void on_client(void *opaque, int fd)
{
	struct fwd_listener *l = opaque;
	struct fwd_be *f = l->f;

	if (f->sink.accept(f->sink.opaque, fd, l->port, VIRTIO_VSOCK_TYPE_STREAM, false) < 0)
		close(fd);
}

static int fwd_listen(struct vsock_backend *base, const struct vsock_host_sink *sink)
{
	struct fwd_be *f = (struct fwd_be *)base;

	f->sink = *sink;
	for (unsigned i = 0; i < f->nin; i++) {
		int ret = vsock_listener_serve(&f->in[i].l, f->ev, on_client, &f->in[i]);

		if (ret)
			return ret;
	}
	if (f->fallback && f->fallback->listen)
		return f->fallback->listen(f->fallback, sink);
	return 0;
}

static void fwd_destroy(struct vsock_backend *base)
{
	struct fwd_be *f = (struct fwd_be *)base;

	for (unsigned i = 0; i < f->nin; i++)
		vsock_listener_close(&f->in[i].l);
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
	l->f = f;
	l->port = spec->port;
	if (spec->tcp)
		return vsock_listener_open_tcp(&l->l, spec->sa, spec->salen, "forward tcp",
					       err, errlen);
	return vsock_listener_open_unix(&l->l, spec->path, SOCK_STREAM, "forward unix",
					err, errlen);
}

int vsock_fwd_backend_create(const struct vsock_fwd *out, unsigned nout,
			     const struct vsock_fwd *in, unsigned nin,
			     struct vsock_backend *fallback, struct evloop *ev,
			     struct vsock_backend **res, char *err, size_t errlen)
{
	struct fwd_be *f = calloc(1, sizeof(*f));
	int ret = -ENOMEM;

	if (!f) {
		if (fallback)
			fallback->destroy(fallback);
		return -ENOMEM;
	}
	f->base.connect = fwd_connect;
	f->base.listen = fwd_listen;
	f->base.destroy = fwd_destroy;
	f->fallback = fallback;
	f->ev = ev;
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
