/* SPDX-License-Identifier: MIT */
/*
 * iovec helpers: the length of a list, copies between a list and a flat
 * buffer, and windows onto a list without copying (so the device hands
 * guest buffers straight to readv()/writev()).  Nothing here knows about
 * vsock; they live here because the vsock device is their only user.
 */
#ifndef VSOCK_IOV_H
#define VSOCK_IOV_H

#include <stddef.h>
#include <sys/uio.h>

/* Sum of iov_len, saturating at SIZE_MAX. */
size_t vsock_iov_len(const struct iovec *iov, unsigned niov);

/* Copy up to len bytes starting at byte `off` of the iovec list into dst /
 * from src.  Return the number of bytes copied (short at the list's end). */
size_t vsock_iov_to_buf(const struct iovec *iov, unsigned niov, size_t off,
			void *dst, size_t len);
size_t vsock_iov_from_buf(const struct iovec *iov, unsigned niov, size_t off,
			  const void *src, size_t len);

/* Describe bytes [off, off + len) of iov[0..niov) as out[0..n), n <= max_out,
 * without copying data; returns n.  Stops early when out[] is full or the
 * list ends: *covered (if not NULL) gets the bytes actually described. */
unsigned vsock_iov_slice(const struct iovec *iov, unsigned niov, size_t off,
			 size_t len, struct iovec *out, unsigned max_out,
			 size_t *covered);

#endif
