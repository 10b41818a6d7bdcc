/* SPDX-License-Identifier: MIT */
/*
 * The vsock device as the VMM's wiring (vmm/virtio_devs.c) builds it, for
 * the device tests: the hybrid Unix backend on uds_path, behind the
 * forward router when there are forwards, handed to vsock_dev_create().
 * bench/dgram_dev.c builds its device with it too.
 */
#ifndef TESTS_UNIT_VSOCK_TEST_DEV_H
#define TESTS_UNIT_VSOCK_TEST_DEV_H

#include "vsock/backend.h"
#include "vsock/device.h"
#include "vsock/dgram.h"
#include "vsock/dgram_udp.h"

struct test_dev_params {
	uint64_t guest_cid;
	const char *uds_path;        /* NULL: no hybrid backend */
	struct evloop *ev;
	uint32_t max_conns;
	const struct vsock_fwd *fwd_out;
	unsigned n_fwd_out;
	const struct vsock_fwd *fwd_in;
	unsigned n_fwd_in;
	char *err;                   /* a listener's message; may be NULL */
	size_t errlen;
	bool dgram;                  /* datagrams on uds_path (--vsock-dgram) */
	const struct vsock_dgram_udp_fwd *udp_out, *udp_in; /* UDP forwards (dgram) */
	unsigned n_udp_out, n_udp_in;
};

static inline int test_dev_create(const struct test_dev_params *p, struct vsock_dev **out)
{
	struct vsock_dev_params dp = {
		.guest_cid = p->guest_cid, .ev = p->ev, .max_conns = p->max_conns,
	};
	int ret;

	if (p->err && p->errlen)
		p->err[0] = '\0';
	if (p->uds_path) {
		ret = vsock_unix_backend_create(p->uds_path, p->ev, &dp.be, p->err, p->errlen);
		if (ret)
			return ret;
	}
	if (p->n_fwd_out || p->n_fwd_in) {
		ret = vsock_fwd_backend_create(p->fwd_out, p->n_fwd_out, p->fwd_in, p->n_fwd_in,
					       dp.be, p->ev, &dp.be, p->err, p->errlen);
		if (ret)
			return ret;
	}
	if (p->dgram) {
		ret = vsock_dgram_create(p->uds_path, &dp.dgram, p->err, p->errlen);
		if (ret == 0) {
			ret = vsock_dgram_add_udp(dp.dgram, p->udp_out, p->n_udp_out, p->udp_in,
						  p->n_udp_in, p->err, p->errlen);
			if (ret)
				vsock_dgram_destroy(dp.dgram);
		}
		if (ret) {
			if (dp.be)
				dp.be->destroy(dp.be);
			return ret;
		}
	}
	return vsock_dev_create(&dp, out);
}

#endif
