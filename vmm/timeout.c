// SPDX-License-Identifier: MIT
#include "timeout.h"
#include "vm.h"

#include <errno.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static void timeout_cb(void *opaque, uint32_t events)
{
	struct vm_timeout *t = opaque;
	uint64_t n;

	/* One-shot: read it so the level-triggered source goes quiet. */
	if (read(t->fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		return;
	vm_request_exit(t->vm, VMM_EXIT_TIMEOUT, VM_TIMEOUT_MSG,
			(unsigned long long)t->seconds);
}

int vm_timeout_start(struct vm_timeout *t, struct vm *vm, uint64_t seconds)
{
	struct itimerspec its = { 0 };
	int ret;

	t->vm = vm;
	t->fd = -1;
	t->seconds = seconds;
	if (seconds == 0)
		return 0;
	/* CLOCK_MONOTONIC: a change of the wall clock neither hastens nor
	 * delays it. */
	t->fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (t->fd < 0)
		return -errno;
	its.it_value.tv_sec = (time_t)seconds;
	if (timerfd_settime(t->fd, 0, &its, NULL) < 0) {
		ret = -errno;
		goto fail;
	}
	ret = ev_add(vm->ev, &t->src, t->fd, EPOLLIN, timeout_cb, t);
	if (ret)
		goto fail;
	return 0;
fail:
	close(t->fd);
	t->fd = -1;
	return ret;
}
