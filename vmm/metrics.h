/* SPDX-License-Identifier: MIT */
/*
 * The metrics file (--metrics PATH, "metrics": {"metrics_path": PATH} as in
 * Firecracker): one JSON object per line with every vsock counter, written
 * when the VMM ends and whenever it receives SIGUSR2.  Counters are
 * cumulative since start; a reader takes differences between lines.  Key
 * names follow Firecracker's vsock metrics where it has one
 * (tx_packets_count, rx_bytes_count, ...); the rest are ours and listed in
 * docs/config.md.
 */
#ifndef VMM_METRICS_H
#define VMM_METRICS_H

#include <stdint.h>

#include "virtio/mmio.h"
#include "virtio/vhost_user.h"
#include "vsock/device.h"

/* What a line reports: the vsock device and the transport it is on. */
struct metrics_sources {
	struct vsock_dev *vsock;             /* NULL: no vsock device */
	const struct virtio_dev *mmio;       /* its virtio-mmio transport, or */
	const struct virtio_dev *vhost_user; /* its vhost-user one (or NULL) */
};

/* Open PATH for appending lines (created 0600; a regular file or a FIFO
 * that has a reader).  fd, or -errno with one line in err. */
int metrics_open(const char *path, char *err, size_t errlen);

/* The JSON line (with '\n') for `st` and the transport's counters (mm or
 * vu; both may be NULL) at wall-clock time `utc_ms`, or NULL (out of
 * memory).  Free with free(). */
char *metrics_format(const struct vsock_dev_stats *st, const struct vmmio_stats *mm,
		     const struct vhost_user_stats *vu, uint64_t utc_ms);

/* Append one line for the counters now (the vsock ones all 0 without a
 * vsock device).  0 or -errno. */
int metrics_write(int fd, const struct metrics_sources *src);

#endif
