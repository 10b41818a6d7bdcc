/* SPDX-License-Identifier: MIT */
/*
 * The VMM's confinement (docs/sandbox.md): a seccomp-bpf allow-list per
 * thread kind, built with libseccomp from the tables in seccomp_tables.c,
 * and the permissions of the Unix sockets the VMM listens on.
 *
 * Order, for `vmm run` (main.c):
 *   sandbox_configure(cfg)        before any listener: socket permissions;
 *                                 warns if seccomp is off
 *   ... set-up: KVM, devices, vCPUs, signals ...
 *   sandbox_prepare(kinds)        build every filter once (libseccomp), set
 *                                 PR_SET_NO_NEW_PRIVS, install the SIGSYS
 *                                 handler
 *   creator of each thread:       sandbox_expect_thread(); pthread_create()
 *   the new thread, first thing:  sandbox_thread_start(kind, index): enters
 *                                 its filter, then waits for the gate
 *   main: sandbox_release(SANDBOX_IO)  enters its own filter, waits until
 *                                 every expected thread is in its own,
 *                                 opens the gate: only then does a guest run
 * `vmm vhost-user` has one thread: sandbox_prepare() then sandbox_enter().
 *
 * A forbidden system call traps (SECCOMP_RET_TRAP): the SIGSYS handler
 * prints one line naming the thread and the call, removes the socket files
 * (vsock_sock_files_remove_all) and exits with VMM_EXIT_SANDBOX.
 */
#ifndef VMM_SANDBOX_H
#define VMM_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

#include "exit_status.h"

struct vm_config;

/* VMM_EXIT_SANDBOX (exit_status.h): the exit code after a forbidden
 * system call. */

enum sandbox_kind {
	SANDBOX_VCPU,        /* a vCPU thread: KVM_RUN and the devices it exits to */
	SANDBOX_IO,          /* vmm run's main thread = I/O thread, and teardown */
	SANDBOX_DEBUG,       /* the SIGQUIT dumper thread (debug.c) */
	SANDBOX_VHOST_USER,  /* vmm vhost-user's only thread */
	SANDBOX_KINDS
};

#define SANDBOX_KIND_BIT(k) (1u << (k))

/* "vcpu", "io", "debug", "vhost-user" (tables, tests, the test trigger). */
const char *sandbox_kind_name(enum sandbox_kind k);

/*
 * From the configuration, before any listening socket is made: the socket
 * files' mode and group (vsock_sock_set_listen_perms: 0600, or 0660 and
 * the group of --vsock-socket-group), and whether seccomp is on; if it is
 * off, one warning line on stderr.  0, or -errno with a message (an unknown
 * group, or one this user may not give files to).
 */
int sandbox_configure(const struct vm_config *cfg, char *err, size_t errlen);

/* Is seccomp on (the default; off with --no-seccomp / x-vmm.seccomp)? */
bool sandbox_enabled(void);

/* NULL if this build can install filters; else why not (sanitizer builds:
 * the ASan/UBSan runtimes make system calls no allow-list should have). */
const char *sandbox_unsupported(void);

/*
 * Build the filters of the kinds in `kinds` (SANDBOX_KIND_BIT mask), once.
 * `open_ro`: NULL or a NULL-terminated list of path strings the I/O thread
 * may still open read-only afterwards (compared by address, so pass the
 * very pointer that will be opened).  The unlink() of socket files is
 * allowed for the files noted now (vsock_sock_files_each): call after the
 * listeners exist.  Sets PR_SET_NO_NEW_PRIVS (inherited by threads created
 * afterwards) and the SIGSYS handler.  A no-op when seccomp is off.  0, or
 * -errno with a message.
 */
int sandbox_prepare(unsigned kinds, const char *const *open_ro, char *err, size_t errlen);

/* The calling thread enters the filter of `kind`; `index` names it in the
 * violation message (the vCPU number).  0, or -errno with a message. */
int sandbox_enter(enum sandbox_kind kind, unsigned index, char *err, size_t errlen);

/* Before creating a thread that will call sandbox_thread_start(). */
void sandbox_expect_thread(void);

/* First thing in such a thread: enter the filter of `kind`, report to
 * sandbox_release(), and return once it opened the gate (never, if a
 * filter failed: the VMM then exits). */
void sandbox_thread_start(enum sandbox_kind kind, unsigned index);

/* Enter `kind`'s filter on the calling thread, wait until every expected
 * thread is in its own, then let those threads go on.  0, or -errno with a
 * message (the gate then stays shut). */
int sandbox_release(enum sandbox_kind kind, char *err, size_t errlen);

/* ---- the tables (seccomp_tables.c) ----------------------------------- */

/* How a rule restricts a call's arguments (seccomp compares values, never
 * memory: a path is allowed by the address of our own buffer). */
enum sb_arg {
	SB_ANY,        /* no restriction */
	SB_IOCTL,      /* arg1: one of the kind's ioctl request numbers */
	SB_SOCKET,     /* arg0: AF_UNIX, AF_INET or AF_INET6 (never AF_VSOCK) */
	SB_NOEXEC,     /* arg2 (prot): no PROT_EXEC */
	SB_MADVISE,    /* arg2: MADV_DONTNEED */
	SB_OWN_PID,    /* arg0: this process (tgkill) */
	SB_SOCK_FILE,  /* arg0 (path): one of our socket files' buffers */
	SB_SOCK_FILE_AT, /* arg0 AT_FDCWD, arg1 such a buffer, arg2 0 (unlinkat) */
	SB_OPEN_RO,    /* openat(AT_FDCWD, an open_ro path, O_RDONLY|O_CLOEXEC) */
	SB_FCNTL_FL,   /* arg1: F_GETFL or F_SETFL */
};

struct sb_rule {
	const char *name;  /* resolved with seccomp_syscall_resolve_name() */
	enum sb_arg arg;
};

/* One kind's allow-list: its rules (NULL name ends the list; a name may
 * repeat across groups) and its ioctl numbers (SB_IOCTL). */
struct sb_table {
	const struct sb_rule *const *groups;  /* NULL-terminated */
	const unsigned long *ioctls;
	size_t n_ioctls;
};

const struct sb_table *sandbox_table(enum sandbox_kind k);

/* Instructions of a kind's prepared BPF program (0 if not prepared). */
unsigned sandbox_prog_insns(enum sandbox_kind k);

/* Distinct system calls a kind allows (any arguments). */
unsigned sandbox_table_count(enum sandbox_kind k);

/* The syscall name table generated from libseccomp at build time
 * (vmm/tools/gen_syscall_names.c): NULL where a number has no name. */
extern const char *const sandbox_syscall_names[];
extern const unsigned sandbox_syscall_names_n;

#endif
