// SPDX-License-Identifier: MIT
/*
 * The seccomp allow-lists, one per thread kind (sandbox.h), as data: what
 * each thread does after set-up, with the reason next to every call.
 * Everything else traps.  Set-up (opening files, KVM_CREATE_*, bind,
 * listen, threads) is over before any filter is installed, so none of it
 * is here: no open of a new file, no clone, no execve, no prctl.
 *
 * glibc 2.36 on x86-64 is what the names are for: lstat() and fstat() are
 * newfstatat, unlink() is unlink, poll() is poll, epoll_wait() is
 * epoll_wait; the alternatives a newer libc may pick (unlinkat, ppoll,
 * epoll_pwait) are listed too, with the same restrictions.
 */
#include "sandbox.h"

#include <linux/kvm.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

/* Every thread: memory, locks, signals, the clock, and what the SIGSYS
 * handler itself does (write, newfstatat + unlink of our socket files,
 * exit_group). */
static const struct sb_rule base[] = {
	{ "futex", SB_ANY },            /* mutexes, condition variables, join */
	{ "exit", SB_ANY },             /* a thread ends */
	{ "exit_group", SB_ANY },       /* the process ends */
	{ "rt_sigreturn", SB_ANY },     /* back from SIGUSR1 (vCPU kick) and others */
	{ "rt_sigprocmask", SB_ANY },   /* abort(), pthread_sigmask() */
	{ "restart_syscall", SB_ANY },  /* a wait interrupted by a stop signal */
	{ "getpid", SB_ANY },           /* abort() */
	{ "gettid", SB_ANY },           /* abort() */
	{ "tgkill", SB_OWN_PID },       /* pthread_kill(), abort(): our threads only */
	{ "mmap", SB_NOEXEC },          /* malloc; vhost-user guest RAM: never executable */
	{ "mprotect", SB_NOEXEC },      /* malloc arenas */
	{ "munmap", SB_ANY },           /* free */
	{ "mremap", SB_ANY },           /* realloc of large blocks */
	{ "madvise", SB_MADVISE },      /* free, thread exit: MADV_DONTNEED only */
	{ "brk", SB_ANY },              /* malloc */
	{ "clock_gettime", SB_ANY },    /* timeouts, when the vDSO falls back */
	{ "write", SB_ANY },            /* stderr, eventfds, the serial console */
	{ "newfstatat", SB_ANY },       /* lstat (socket file identity), fstat */
	{ "fstat", SB_ANY },            /* fstat on older libcs */
	{ "unlink", SB_SOCK_FILE },     /* our socket files, at teardown or on a fatal signal */
	{ "unlinkat", SB_SOCK_FILE_AT },
	{ NULL, SB_ANY },
};

/* Threads that run the vsock device: the I/O thread, and vCPU threads,
 * whose MMIO exits run it too (register writes; every queue notify with
 * --notify mmio).  A guest's REQUEST connects to a host socket. */
static const struct sb_rule device[] = {
	{ "read", SB_ANY },             /* eventfds, timerfds, signalfd */
	{ "readv", SB_ANY },            /* host stream data into guest RAM */
	{ "recvfrom", SB_ANY },         /* recv(): peeks, CONNECT lines */
	{ "recvmsg", SB_ANY },          /* SEQPACKET messages; vhost-user fds */
	{ "sendto", SB_ANY },           /* send(): OK replies, vhost-user replies */
	{ "sendmsg", SB_ANY },          /* guest data to host sockets */
	{ "writev", SB_ANY },
	{ "shutdown", SB_ANY },         /* half-close, reset */
	{ "socket", SB_SOCKET },        /* Unix, TCP, UDP forwards; never AF_VSOCK */
	{ "connect", SB_ANY },          /* guest flows; UDP forward_out peers */
	{ "getsockopt", SB_ANY },       /* SO_ERROR of a finished connect; SO_PEERCRED of a sibling VMM */
	{ "setsockopt", SB_ANY },       /* TCP_NODELAY, SO_SNDBUF for SEQPACKET */
	{ "close", SB_ANY },
	{ "epoll_ctl", SB_ANY },        /* host sockets come and go (UDP ones too) */
	{ "timerfd_settime", SB_ANY },  /* connection deadlines */
	{ "poll", SB_ANY },             /* zero-timeout hang-up checks; UART output */
	{ "ppoll", SB_ANY },
	{ "eventfd2", SB_ANY },         /* the accept spare fd, taken again */
	{ NULL, SB_ANY },
};

/* The loop of an I/O thread (vmm run, vmm vhost-user). */
static const struct sb_rule loop[] = {
	{ "epoll_wait", SB_ANY },
	{ "epoll_pwait", SB_ANY },
	{ "accept4", SB_ANY },          /* hybrid and forward_in clients; the front-end */
	{ NULL, SB_ANY },
};

static const struct sb_rule vcpu_only[] = {
	{ "ioctl", SB_IOCTL },          /* KVM_RUN and the few below */
	{ NULL, SB_ANY },
};

static const struct sb_rule io_only[] = {
	{ "ioctl", SB_IOCTL },
	{ "openat", SB_OPEN_RO },       /* --trace-boot's /proc/self/smaps at exit */
	{ "lseek", SB_ANY },            /* fopen/fgets of that file */
	{ NULL, SB_ANY },
};

static const struct sb_rule debug_only[] = {
	{ "rt_sigtimedwait", SB_ANY },  /* sigwait(SIGQUIT) */
	{ NULL, SB_ANY },
};

static const struct sb_rule vhost_user_only[] = {
	{ "fcntl", SB_FCNTL_FL },       /* O_NONBLOCK on the front-end's kick fds */
	{ NULL, SB_ANY },
};

/* vCPU ioctls: the run loop, vcpu_rip() on a crash, the SIGQUIT dump
 * (debug.c, run by each vCPU thread), and KVM_IRQ_LINE_STATUS on the VM fd
 * for the UART's interrupt. */
static const unsigned long vcpu_ioctls[] = {
	KVM_RUN, KVM_GET_REGS, KVM_GET_SREGS, KVM_GET_MP_STATE,
	KVM_GET_VCPU_EVENTS, KVM_GET_LAPIC, KVM_TRANSLATE, KVM_IRQ_LINE_STATUS,
};

/* I/O thread ioctls: the UART's interrupt (console input), the virtio
 * transport's ioeventfds and irqfd (deassigned at teardown), and the
 * terminal: restored at exit (tcsetattr), asked whether stdout is one when
 * stdio first buffers it (isatty). */
static const unsigned long io_ioctls[] = {
	KVM_IRQ_LINE_STATUS, KVM_IOEVENTFD, KVM_IRQFD, TCSETS, TCGETS,
};

static const struct sb_rule *const vcpu_groups[] = { base, device, vcpu_only, NULL };
static const struct sb_rule *const io_groups[] = { base, device, loop, io_only, NULL };
static const struct sb_rule *const debug_groups[] = { base, debug_only, NULL };
static const struct sb_rule *const vhost_user_groups[] = {
	base, device, loop, vhost_user_only, NULL,
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct sb_table tables[SANDBOX_KINDS] = {
	[SANDBOX_VCPU] = { vcpu_groups, vcpu_ioctls, N(vcpu_ioctls) },
	[SANDBOX_IO] = { io_groups, io_ioctls, N(io_ioctls) },
	[SANDBOX_DEBUG] = { debug_groups, NULL, 0 },
	[SANDBOX_VHOST_USER] = { vhost_user_groups, NULL, 0 },
};

const struct sb_table *sandbox_table(enum sandbox_kind k)
{
	return (unsigned)k < SANDBOX_KINDS ? &tables[k] : NULL;
}

unsigned sandbox_table_count(enum sandbox_kind k)
{
	const struct sb_table *t = sandbox_table(k);
	const char *seen[256];
	unsigned n = 0;

	if (!t)
		return 0;
	for (const struct sb_rule *const *g = t->groups; *g; g++)
		for (const struct sb_rule *r = *g; r->name; r++) {
			unsigned i = 0;

			while (i < n && strcmp(seen[i], r->name) != 0)
				i++;
			if (i == n && n < N(seen))
				seen[n++] = r->name;
		}
	return n;
}
