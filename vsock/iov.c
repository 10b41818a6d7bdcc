// SPDX-License-Identifier: MIT
/* iovec helpers.  See iov.h. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "vsock/iov.h"

size_t vsock_iov_len(const struct iovec *iov, unsigned niov)
{
	size_t total = 0;

	for (unsigned i = 0; i < niov; i++) {
		if (iov[i].iov_len > SIZE_MAX - total)
			return SIZE_MAX;
		total += iov[i].iov_len;
	}
	return total;
}

/* Copy between a flat buffer and bytes [off, off + len) of an iovec list. */
static size_t iov_copy(const struct iovec *iov, unsigned niov, size_t off,
		       void *buf, size_t len, bool to_buf)
{
	uint8_t *p = buf;
	size_t done = 0;

	for (unsigned i = 0; i < niov && done < len; i++) {
		size_t n = iov[i].iov_len;

		if (off >= n) {
			off -= n;
			continue;
		}
		n -= off;
		if (n > len - done)
			n = len - done;
		if (to_buf)
			memcpy(p + done, (uint8_t *)iov[i].iov_base + off, n);
		else
			memcpy((uint8_t *)iov[i].iov_base + off, p + done, n);
		done += n;
		off = 0;
	}
	return done;
}

size_t vsock_iov_to_buf(const struct iovec *iov, unsigned niov, size_t off,
			void *dst, size_t len)
{
	return iov_copy(iov, niov, off, dst, len, true);
}

size_t vsock_iov_from_buf(const struct iovec *iov, unsigned niov, size_t off,
			  const void *src, size_t len)
{
	return iov_copy(iov, niov, off, (void *)src, len, false);
}

unsigned vsock_iov_slice(const struct iovec *iov, unsigned niov, size_t off,
			 size_t len, struct iovec *out, unsigned max_out,
			 size_t *covered)
{
	size_t done = 0;
	unsigned n = 0;

	for (unsigned i = 0; i < niov && done < len && n < max_out; i++) {
		size_t l = iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l -= off;
		if (l > len - done)
			l = len - done;
		out[n].iov_base = (uint8_t *)iov[i].iov_base + off;
		out[n].iov_len = l;
		n++;
		done += l;
		off = 0;
	}
	if (covered)
		*covered = done;
	return n;
}
