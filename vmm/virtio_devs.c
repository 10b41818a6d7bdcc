// SPDX-License-Identifier: MIT
#include "virtio_devs.h"
#include "errmsg.h"
#include "base/layout.h"
#include "vm.h"
#include "virtio/mmio.h"
#include "vsock/backend.h"
#include "vsock/device.h"
#include "vsock/dgram_udp.h"
#include "vsock/sock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void virtio_devs_plan(struct virtio_devs *vd, const struct vm_config *cfg)
{
	memset(vd, 0, sizeof(*vd));
	if (cfg->has_vsock) {
		vd->slot[vd->n] = (struct virtio_slot){
			.base = LAYOUT_VIRTIO_MMIO + vd->n * LAYOUT_VIRTIO_MMIO_SIZE,
			.irq = LAYOUT_VIRTIO_IRQ_BASE + vd->n,
		};
		vd->n++;
	}
}

int virtio_devs_cmdline(const struct virtio_devs *vd, char *cmdline, size_t size)
{
	size_t len = strlen(cmdline);

	for (unsigned i = 0; i < vd->n; i++) {
		/* drivers/virtio/virtio_mmio.c: <size>@<baseaddr>:<irq>[:<id>] */
		int n = snprintf(cmdline + len, size - len, "%svirtio_mmio.device=4K@0x%llx:%u",
				 len ? " " : "", (unsigned long long)vd->slot[i].base,
				 vd->slot[i].irq);

		if (n < 0 || (size_t)n >= size - len)
			return -ENAMETOOLONG;
		len += (size_t)n;
	}
	return 0;
}

static int lock_path(const char *what, const char *path, char *err, size_t errlen)
{
	int fd = vsock_sock_lock(path);

	if (fd == -EWOULDBLOCK)
		return errmsg(err, errlen, EBUSY, "%s%s is in use by another vmm (lock %s.lock)",
			      what, path, path);
	if (fd == -EEXIST)
		return errmsg(err, errlen, EEXIST, "%s%s: lock %s.lock is not a regular file",
			      what, path, path);
	if (fd < 0)
		return errmsg(err, errlen, -fd, "%s%s: lock %s.lock: %s", what, path, path,
			      strerror(-fd));
	return 0; /* fd stays open: the lock lasts as long as the process */
}

int virtio_devs_lock(const struct vm_config *cfg, char *err, size_t errlen)
{
	int ret = 0;

	if (!cfg->has_vsock)
		return 0;
	if (cfg->uds_path)
		ret = lock_path("vsock uds_path ", cfg->uds_path, err, errlen);
	for (unsigned i = 0; i < cfg->n_fwd_in && !ret; i++)
		if (cfg->fwd_in[i].kind == CONFIG_FWD_UNIX)
			ret = lock_path("vsock forward unix:", cfg->fwd_in[i].path, err, errlen);
	return ret;
}

/* The config's stream forwards (tcp, unix) as the backends want them
 * (pointers into cfg); their number in *nres. */
static struct vsock_fwd *fwd_list(const struct config_fwd *src, unsigned n, unsigned *nres)
{
	struct vsock_fwd *v = calloc(n ? n : 1, sizeof(*v));

	*nres = 0;
	if (!v)
		return NULL;
	for (unsigned i = 0; i < n; i++)
		if (src[i].kind != CONFIG_FWD_UDP)
			v[(*nres)++] = (struct vsock_fwd){
				.port = src[i].port,
				.tcp = src[i].kind == CONFIG_FWD_TCP,
				.path = src[i].path,
				.sa = (const struct sockaddr *)&src[i].addr,
				.salen = src[i].addrlen,
			};
	return v;
}

/* The same for the UDP forwards (datagrams). */
static struct vsock_dgram_udp_fwd *udp_list(const struct config_fwd *src, unsigned n,
					    unsigned *nres)
{
	struct vsock_dgram_udp_fwd *v = calloc(n ? n : 1, sizeof(*v));

	*nres = 0;
	if (!v)
		return NULL;
	for (unsigned i = 0; i < n; i++)
		if (src[i].kind == CONFIG_FWD_UDP)
			v[(*nres)++] = (struct vsock_dgram_udp_fwd){
				.port = src[i].port,
				.sa = (const struct sockaddr *)&src[i].addr,
				.salen = src[i].addrlen,
			};
	return v;
}

/* Datagrams on uds_path, with the UDP forwards (config_validate made sure
 * there are none without --vsock-dgram).  0 or -errno, with the socket's
 * message in msg when one failed. */
static int vsock_dgram_setup(const struct vm_config *cfg, struct vsock_dgram **out,
			     char *msg, size_t msglen)
{
	struct vsock_dgram_udp_fwd *uo, *ui;
	unsigned nuo = 0, nui = 0;
	int ret;

	ret = vsock_dgram_create(cfg->uds_path, out, msg, msglen);
	if (ret)
		return ret;
	uo = udp_list(cfg->fwd_out, cfg->n_fwd_out, &nuo);
	ui = udp_list(cfg->fwd_in, cfg->n_fwd_in, &nui);
	ret = -ENOMEM;
	if (uo && ui)
		ret = vsock_dgram_add_udp(*out, uo, nuo, ui, nui, msg, msglen);
	free(uo);
	free(ui);
	if (ret) {
		vsock_dgram_destroy(*out);
		*out = NULL;
	}
	return ret;
}

/*
 * The vsock host side, built here so the device needs to know none of it:
 * the hybrid Unix backend on uds_path (if any), behind the forward router
 * if there are forwards (the router owns it from then on), behind the
 * sibling router if there are peers (docs/vsock.md "Sibling VMs").  0 or -errno,
 * with the listener's message in msg when one failed.
 */
static int vsock_backends_create(const struct vm_config *cfg, struct evloop *ev,
				 struct vsock_backend **out, char *msg, size_t msglen)
{
	struct vsock_backend *be = NULL;
	int ret;

	if (cfg->uds_path) {
		ret = vsock_unix_backend_create(cfg->uds_path, ev, &be, msg, msglen);
		if (ret)
			return ret;
	}
	if (cfg->n_fwd_out || cfg->n_fwd_in) {
		unsigned nfo, nfi;
		struct vsock_fwd *fo = fwd_list(cfg->fwd_out, cfg->n_fwd_out, &nfo);
		struct vsock_fwd *fi = fwd_list(cfg->fwd_in, cfg->n_fwd_in, &nfi);

		ret = -ENOMEM;
		if (fo && fi && !nfo && !nfi) /* UDP only: datagrams, not here */
			ret = 0;
		else if (fo && fi) /* takes be, also when it fails */
			ret = vsock_fwd_backend_create(fo, nfo, fi, nfi, be, ev, &be, msg, msglen);
		else if (be)
			be->destroy(be);
		free(fo);
		free(fi);
		if (ret)
			return ret;
	}
	if (cfg->n_peers) {
		struct vsock_peer *pl = calloc(cfg->n_peers, sizeof(*pl));

		ret = -ENOMEM;
		for (unsigned i = 0; pl && i < cfg->n_peers; i++)
			pl[i] = (struct vsock_peer){ .cid = cfg->peers[i].cid,
						     .path = cfg->peers[i].path };
		if (pl) /* takes be, also when it fails */
			ret = vsock_peer_backend_create(cfg->guest_cid, pl, cfg->n_peers,
							be, &be);
		else if (be)
			be->destroy(be);
		free(pl);
		if (ret)
			return ret;
	}
	*out = be;
	return 0;
}

int virtio_devs_vsock_create(const struct vm_config *cfg, struct evloop *ev,
			     struct vsock_dev **out, char *err, size_t errlen)
{
	char msg[256] = "";
	struct vsock_dev_params p = {
		.guest_cid = cfg->guest_cid,
		.ev = ev,
		.max_conns = cfg->max_conns,
	};
	uint64_t *cids = calloc(cfg->n_peers ? cfg->n_peers : 1, sizeof(*cids));
	int ret;

	if (!cids)
		return errmsg(err, errlen, ENOMEM, "vsock device: %s", strerror(ENOMEM));
	for (unsigned i = 0; i < cfg->n_peers; i++)
		cids[i] = cfg->peers[i].cid;
	p.peer_cids = cids;
	p.npeers = cfg->n_peers;
	ret = vsock_backends_create(cfg, ev, &p.be, msg, sizeof(msg));
	if (ret == 0 && cfg->vsock_dgram) {
		ret = vsock_dgram_setup(cfg, &p.dgram, msg, sizeof(msg));
		if (ret && p.be)
			p.be->destroy(p.be);
	}
	if (ret == 0)
		ret = vsock_dev_create(&p, out); /* owns p.be now; copies cids */
	free(cids);
	if (ret && msg[0])
		return errmsg(err, errlen, -ret, "%s", msg);
	if (ret)
		return errmsg(err, errlen, -ret, "vsock device%s%s: %s", cfg->uds_path ? " on " : "",
			      cfg->uds_path ? cfg->uds_path : "", strerror(-ret));
	return 0;
}

int virtio_devs_open(struct virtio_devs *vd, struct evloop *ev,
		     const struct vm_config *cfg, char *err, size_t errlen)
{
	if (!cfg->has_vsock)
		return 0;
	return virtio_devs_vsock_create(cfg, ev, &vd->vsock, err, errlen);
}

int virtio_devs_create(struct virtio_devs *vd, struct vm *vm,
		       const struct vm_config *cfg, char *err, size_t errlen)
{
	unsigned flags = cfg->notify == NOTIFY_IOEVENTFD ? VMMIO_KVM_IOEVENTFD : 0;
	int ret;

	if (!vd->vsock)
		return 0;
	struct vmmio_params mp = {
		.base = vd->slot[0].base,
		.irq = vd->slot[0].irq,
		.ops = vsock_dev_ops(vd->vsock),
		.dev = vd->vsock,
		.gm = &vm->mem,
	};
	ret = vmmio_create(&vm->mmio, &mp, &vd->vdev[0]);
	if (ret)
		return errmsg(err, errlen, -ret, "virtio-mmio transport: %s", strerror(-ret));
	vsock_dev_attach(vd->vsock, vd->vdev[0]);
	ret = vmmio_kvm_attach(vd->vdev[0], vm->vm_fd, vm->ev, flags, &vd->kvm[0]);
	if (ret)
		return errmsg(err, errlen, -ret, "virtio-mmio irqfd/ioeventfd: %s", strerror(-ret));
	return 0;
}

void virtio_devs_destroy(struct virtio_devs *vd)
{
	if (vd->vsock)
		vsock_dev_destroy(vd->vsock);
	vd->vsock = NULL;
	for (unsigned i = 0; i < vd->n; i++) {
		if (vd->kvm[i])
			vmmio_kvm_detach(vd->kvm[i]);
		vd->kvm[i] = NULL;
	}
	/* The transports stay registered on the bus, which has no unregister;
	 * the process is about to end. */
}
