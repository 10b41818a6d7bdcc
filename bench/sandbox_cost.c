// SPDX-License-Identifier: MIT
/*
 * What the seccomp sandbox costs (docs/sandbox.md), in-process, no KVM
 * needed: building the four filters (libseccomp + export), entering one,
 * and the time a filtered thread pays per system call (KVM_RUN's ioctl on
 * a vCPU, a socket read on the I/O thread), against the same calls
 * unfiltered.  bench/sandbox.py builds and runs it.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmm/sandbox.h"
#include "vsock/sock.h"

#define CALLS 200000

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* ns per call of `what` on fd, CALLS times. */
static double per_call(int what, int fd)
{
	char b;
	double t0 = now_ms();

	for (int i = 0; i < CALLS; i++) {
		if (what == 0)
			(void)!ioctl(-1, KVM_RUN, 0);
		else
			(void)!recv(fd, &b, 1, MSG_DONTWAIT);
	}
	return (now_ms() - t0) * 1e6 / CALLS;
}

int main(int argc, char **argv)
{
	unsigned all = (1u << SANDBOX_KINDS) - 1;
	char dir[] = "/tmp/vmm-sbcost-XXXXXX", path[128], err[256];
	struct vsock_sock_file f1, f2;
	int runs = argc > 1 ? atoi(argv[1]) : 20, sv[2], p[2];
	double best = 1e9, t0;

	if (sandbox_unsupported()) {
		printf("skip: %s\n", sandbox_unsupported());
		return 0;
	}
	if (!mkdtemp(dir) || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) || pipe(p))
		return 1;
	snprintf(path, sizeof(path), "%s/a.sock", dir);
	if (vsock_sock_unix_listen(path, SOCK_STREAM, 1, &f1) < 0)
		return 1;
	snprintf(path, sizeof(path), "%s/a.sock_seqpacket", dir);
	if (vsock_sock_unix_listen(path, SOCK_SEQPACKET, 1, &f2) < 0)
		return 1;
	/* Building the filters: vmm run's three kinds once at start-up,
	 * vmm vhost-user's one. */
	static const struct { const char *what; unsigned kinds; } builds[] = {
		{ "build_vmm_run_filters_ms", (1u << SANDBOX_VCPU) | (1u << SANDBOX_IO) |
					      (1u << SANDBOX_DEBUG) },
		{ "build_vhost_user_filter_ms", 1u << SANDBOX_VHOST_USER },
	};
	for (size_t b = 0; b < sizeof(builds) / sizeof(builds[0]); b++) {
		best = 1e9;
		for (int i = 0; i < runs; i++) {
			t0 = now_ms();
			if (sandbox_prepare(builds[b].kinds, NULL, err, sizeof(err))) {
				fprintf(stderr, "%s\n", err);
				return 1;
			}
			t0 = now_ms() - t0;
			if (t0 < best)
				best = t0;
		}
		printf("%s %.3f\n", builds[b].what, best);
	}
	if (sandbox_prepare(all, NULL, err, sizeof(err)))
		return 1;
	fflush(stdout);
	/* Per kind, the best of `runs` children: entering the filter, and a
	 * call before and after (so both see the same caches and CPU). */
	for (int k = 0; k < SANDBOX_KINDS; k++) {
		double r[5], m[5] = { 1e9, 1e9, 1e9, 1e9, 1e9 };

		for (int i = 0; i < runs; i++) {
			pid_t pid = fork();

			if (pid == 0) {
				r[0] = per_call(0, sv[0]);
				r[1] = per_call(1, sv[0]);
				t0 = now_ms();
				if (sandbox_enter(k, 0, err, sizeof(err)))
					_exit(1);
				r[2] = now_ms() - t0;
				r[3] = k == SANDBOX_VCPU ? per_call(0, sv[0]) : 0;
				r[4] = k != SANDBOX_DEBUG ? per_call(1, sv[0]) : 0;
				_exit(write(p[1], r, sizeof(r)) == sizeof(r) ? 0 : 1);
			}
			if (read(p[0], r, sizeof(r)) != sizeof(r))
				return 1;
			waitpid(pid, NULL, 0);
			for (int j = 0; j < 5; j++)
				if (r[j] < m[j])
					m[j] = r[j];
		}
		printf("%s syscalls %u bpf_insns %u enter_ms %.3f", sandbox_kind_name(k),
		       sandbox_table_count(k), sandbox_prog_insns(k), m[2]);
		if (k == SANDBOX_VCPU)
			printf(" ioctl(KVM_RUN)_ns %.0f (unfiltered %.0f)", m[3], m[0]);
		if (k != SANDBOX_DEBUG)
			printf(" recv_ns %.0f (unfiltered %.0f)", m[4], m[1]);
		printf("\n");
	}
	vsock_sock_file_remove(&f1);
	vsock_sock_file_remove(&f2);
	rmdir(dir);
	return 0;
}
