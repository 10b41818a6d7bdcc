// SPDX-License-Identifier: MIT
/*
 * "vmm vhost-user --socket PATH --vsock-cid N [--vsock-* ...]": our vsock
 * device, with its usual host side (hybrid Unix sockets, forwards), served
 * to a vhost-user front-end instead of a guest of our own: e.g.
 *   qemu-system-x86_64 ... -chardev socket,id=vs,path=PATH
 *                          -device vhost-user-vsock-device,chardev=vs
 * (QEMU needs the guest RAM shareable: -object memory-backend-memfd,
 * share=on).  One I/O thread runs everything (virtio/vhost_user.h).
 *
 * Life cycle: listen on PATH (a stale socket file is replaced, a live one
 * is an error), accept ONE front-end and stop listening (the socket file is
 * removed), serve it, and exit 0 when it disconnects (the guest is gone with
 * it); exit 1 if we end the connection for a protocol error, 128+N on
 * signal N.  A supervisor that wants a fresh back-end per guest starts one
 * per QEMU.
 */
#include "vhost_user_cmd.h"
#include "base/evloop.h"
#include "base/log.h"
#include "errmsg.h"
#include "metrics.h"
#include "sandbox.h"
#include "virtio_devs.h"
#include "vm.h"
#include "virtio/vhost_user.h"
#include "vsock/device.h"
#include "vsock/sock.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

struct vhu_cmd {
	struct evloop *ev;
	struct virtio_dev *vdev;
	int lfd;
	struct ev_source lsrc;
	struct vsock_sock_file file;
	int sig_fd;
	struct ev_source sig_src;
	int exit_code;
	struct vsock_dev *vsock;
	int metrics_fd;             /* --metrics, or -1 */
};

static void write_metrics(struct vhu_cmd *c)
{
	int rc;

	if (c->metrics_fd < 0)
		return;
	rc = metrics_write(c->metrics_fd, &(struct metrics_sources){
		.vsock = c->vsock, .vhost_user = c->vdev });
	if (rc)
		log_warn("metrics file: %s", strerror(-rc));
}

static void stop(struct vhu_cmd *c, int code)
{
	c->exit_code = code;
	evloop_stop(c->ev);
}

static void stop_listening(struct vhu_cmd *c)
{
	if (c->lfd < 0)
		return;
	ev_del(c->ev, &c->lsrc);
	close(c->lfd);
	c->lfd = -1;
	vsock_sock_file_remove(&c->file);
}

static void accept_cb(void *opaque, uint32_t events)
{
	struct vhu_cmd *c = opaque;
	int fd, rc;

	(void)events;
	fd = vsock_sock_accept(c->lfd);
	if (fd < 0)
		return;   /* EAGAIN, or a client that went away */
	rc = vhost_user_serve(c->vdev, fd);
	if (rc) {
		log_warn("vhost-user: cannot serve the front-end: %s", strerror(-rc));
		stop(c, VMM_EXIT_SETUP);
		return;
	}
	/* One front-end per process. */
	stop_listening(c);
}

static void disconnected(void *opaque, int err)
{
	stop(opaque, err ? VMM_EXIT_SETUP : VMM_EXIT_OK);
}

static void signal_cb(void *opaque, uint32_t events)
{
	struct vhu_cmd *c = opaque;
	struct signalfd_siginfo si;

	(void)events;
	if (read(c->sig_fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return;
	if (si.ssi_signo == SIGUSR2 && c->metrics_fd >= 0)
		write_metrics(c);   /* as for "vmm run" */
	else
		stop(c, 128 + (int)si.ssi_signo);
}

static int signals_init(struct vhu_cmd *c)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR2);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	c->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (c->sig_fd < 0)
		return -errno;
	return ev_add(c->ev, &c->sig_src, c->sig_fd, EPOLLIN, signal_cb, c);
}

int vhost_user_main(const struct vm_config *cfg)
{
	struct vhu_cmd c = { .lfd = -1, .sig_fd = -1, .exit_code = VMM_EXIT_OK,
			     .metrics_fd = -1 };
	struct vsock_dev *vsock = NULL;
	char err[512];
	int rc;

	/* A back-end's few lines of state (connect, memory, driver ready,
	 * disconnect) are what one debugs it with. */
	log_set_level(LOG_INFO);
	rc = evloop_create(&c.ev);
	if (rc) {
		fprintf(stderr, "vmm: error: event loop: %s\n", strerror(-rc));
		return VMM_EXIT_SETUP;
	}
	rc = signals_init(&c);
	if (rc) {
		snprintf(err, sizeof(err), "signals: %s", strerror(-rc));
		goto fail;
	}
	/* Our socket paths are ours alone, as for "vmm run" (virtio_devs.h);
	 * the lock fds stay open for the life of the process. */
	if (virtio_devs_lock(cfg, err, sizeof(err)))
		goto fail;
	/* Before any listener: socket permissions; warns if seccomp is off. */
	if (sandbox_configure(cfg, err, sizeof(err)))
		goto fail;
	rc = vsock_sock_lock(cfg->vhost_user_socket);
	if (rc < 0) {
		snprintf(err, sizeof(err), "vhost-user socket %s: %s", cfg->vhost_user_socket,
			 rc == -EWOULDBLOCK ? "in use by another vmm" : strerror(-rc));
		goto fail;
	}
	if (cfg->metrics_path &&
	    (c.metrics_fd = metrics_open(cfg->metrics_path, err, sizeof(err))) < 0)
		goto fail;
	if (virtio_devs_vsock_create(cfg, c.ev, &vsock, err, sizeof(err)))
		goto fail;
	c.vsock = vsock;
	struct vhost_user_params p = {
		.ops = vsock_dev_ops(vsock),
		.dev = vsock,
		.ev = c.ev,
		.on_disconnect = disconnected,
		.opaque = &c,
	};
	rc = vhost_user_create(&p, &c.vdev);
	if (rc) {
		snprintf(err, sizeof(err), "vhost-user transport: %s", strerror(-rc));
		goto fail;
	}
	vsock_dev_attach(vsock, c.vdev);
	c.lfd = vsock_sock_unix_listen(cfg->vhost_user_socket, SOCK_STREAM, 1, &c.file);
	if (c.lfd < 0) {
		snprintf(err, sizeof(err), "vhost-user socket %s: %s%s", cfg->vhost_user_socket,
			 strerror(-c.lfd),
			 c.lfd == -EADDRINUSE ? " (another process is listening there)" :
			 c.lfd == -EEXIST ? " (not a socket; left alone)" : "");
		goto fail;
	}
	if (ev_add(c.ev, &c.lsrc, c.lfd, EPOLLIN, accept_cb, &c)) {
		snprintf(err, sizeof(err), "vhost-user socket %s: out of memory",
			 cfg->vhost_user_socket);
		close(c.lfd);
		c.lfd = -1;
		goto fail;
	}
	/* Set-up is over: from here on this thread runs under its seccomp
	 * filter, before any front-end (and guest) is served. */
	if (sandbox_prepare(SANDBOX_KIND_BIT(SANDBOX_VHOST_USER), NULL, err, sizeof(err)) ||
	    sandbox_enter(SANDBOX_VHOST_USER, 0, err, sizeof(err)))
		goto fail;
	log_info("vhost-user: vsock device (guest CID %u) listening on %s",
		 cfg->guest_cid, cfg->vhost_user_socket);

	rc = evloop_run(c.ev);
	if (rc && c.exit_code == VMM_EXIT_OK) {
		log_warn("event loop: %s", strerror(-rc));
		c.exit_code = VMM_EXIT_SETUP;
	}
	stop_listening(&c);
	/* The last line before anything is freed (the loop has stopped, so
	 * the counters are final). */
	write_metrics(&c);
	goto out;

fail:
	fprintf(stderr, "vmm: error: %s\n", err);
	c.exit_code = VMM_EXIT_SETUP;
	stop_listening(&c);
out:
	/* The transport first: its teardown resets the device. */
	vhost_user_destroy(c.vdev);
	if (vsock)
		vsock_dev_destroy(vsock);
	evloop_destroy(c.ev);
	if (c.sig_fd >= 0)
		close(c.sig_fd);
	if (c.metrics_fd >= 0)
		close(c.metrics_fd);
	return c.exit_code;
}
