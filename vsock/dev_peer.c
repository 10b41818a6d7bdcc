/* SPDX-License-Identifier: MIT */
/*
 * The device's side of a flow to a sibling VM (docs/vsock.md "Sibling
 * VMs"): host_peer.c connected and wrote CONNECT-FROM; the sibling VMM
 * answers "OK <port>\n" once its guest accepted, or closes.  Read here,
 * under the device lock, on the I/O thread (host_cb).
 */
#include <errno.h>
#include <sys/socket.h>

#include "vsock/dev_priv.h"
#include "vsock/hybrid.h"

int vd_peer_read_ok(struct hconn *hc)
{
	char buf[VSOCK_OK_LINE_MAX];
	size_t used = 0;
	uint32_t port;
	ssize_t n;
	int r;

	if (is_seq(hc)) {
		/* The line is one message, nothing else in it. */
		n = recv(hc->fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return 0;
		if (n <= 0 || (size_t)n > sizeof(buf))
			return -ECONNREFUSED;
		r = vsock_ok_parse(buf, (size_t)n, &used, &port);
		return r == 1 && used == (size_t)n ? 1 : -ECONNREFUSED;
	}
	/* Stream: peek, consume only the line; the sibling guest's data may
	 * follow right behind it and is the flow's. */
	n = recv(hc->fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_PEEK);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	if (n <= 0)
		return -ECONNREFUSED;
	r = vsock_ok_parse(buf, (size_t)n, &used, &port);
	if (r == 0) /* a partial line: the rest comes with the next edge */
		return 0;
	if (r < 0 || recv(hc->fd, buf, used, MSG_DONTWAIT) != (ssize_t)used)
		return -ECONNREFUSED;
	return 1;
}
