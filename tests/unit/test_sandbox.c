// SPDX-License-Identifier: MIT
/*
 * The sandbox (vmm/sandbox.h): the allow-list tables (every name resolves,
 * nothing that starts programs, no AF_VSOCK), and each thread kind's real
 * filter, entered in a forked child: allowed calls work, forbidden ones
 * (execve, socket(AF_VSOCK), opening a file, a foreign ioctl, executable
 * memory, unlinking a path that is not our socket file's buffer) end the
 * process with exit code 148 and one line naming the thread and the call,
 * and the socket files are gone.  Also the start gate, the test-only
 * trigger, and the socket file permissions.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "tests/unit/vsock_test_dev.h"
#include "vmm/config.h"
#include "vmm/metrics.h"
#include "base/evloop.h"
#include "vmm/sandbox.h"
#include "vmm/trace.h"
#include "vsock/backend.h"
#include "vsock/device.h"
#include "vsock/sock.h"

#define ALL_KINDS ((1u << SANDBOX_KINDS) - 1)

/* ---- running a function in a child under a filter -------------------- */

struct child {
	int status;       /* waitpid() status */
	char err[4096];   /* its stderr */
};

typedef void (*child_fn)(void *arg);

/* Run fn(arg) in a forked child with stderr captured; the child ends with
 * _exit(0) if fn returns (no atexit handlers, no leak checker). */
static void run_child(child_fn fn, void *arg, struct child *c)
{
	int p[2];
	pid_t pid;
	size_t n = 0;
	ssize_t r;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], STDERR_FILENO);
		fn(arg);
		_exit(0);
	}
	close(p[1]);
	while (n < sizeof(c->err) - 1 && (r = read(p[0], c->err + n, sizeof(c->err) - 1 - n)) > 0)
		n += (size_t)r;
	c->err[n] = '\0';
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &c->status, 0), pid);
}

static void assert_exit(const struct child *c, int code)
{
	ck_assert_msg(WIFEXITED(c->status) && WEXITSTATUS(c->status) == code,
		      "expected exit %d, got status 0x%x; stderr: %s", code, c->status, c->err);
}

/* Exactly one line, and it contains `needle`. */
static void assert_one_line(const struct child *c, const char *needle)
{
	const char *nl = strchr(c->err, '\n');

	ck_assert_msg(strstr(c->err, needle), "no \"%s\" in: %s", needle, c->err);
	ck_assert_msg(nl && nl[1] == '\0', "not one line: %s", c->err);
}

static void enter(enum sandbox_kind k)
{
	char err[256];

	if (sandbox_prepare(ALL_KINDS, NULL, err, sizeof(err)) ||
	    sandbox_enter(k, 0, err, sizeof(err))) {
		fprintf(stderr, "setup: %s\n", err);
		_exit(99);
	}
}

/* Filters cannot be installed in sanitizer builds (sandbox.h): the tests
 * that install them say so and pass without checking anything. */
static bool skip_unsupported(const char *test)
{
	if (!sandbox_unsupported())
		return false;
	printf("sandbox: SKIP %s: %s\n", test, sandbox_unsupported());
	return true;
}

/* ---- the tables -------------------------------------------------------- */

START_TEST(tables_resolve)
{
	for (int k = 0; k < SANDBOX_KINDS; k++) {
		const struct sb_table *t = sandbox_table(k);

		ck_assert_ptr_nonnull(t);
		for (const struct sb_rule *const *g = t->groups; *g; g++)
			for (const struct sb_rule *r = *g; r->name; r++)
				ck_assert_msg(seccomp_syscall_resolve_name(r->name) != __NR_SCMP_ERROR,
					      "%s: \"%s\" is no system call here",
					      sandbox_kind_name(k), r->name);
		/* The count the docs quote (docs/sandbox.md). */
		printf("sandbox: %s allows %u system calls\n", sandbox_kind_name(k),
		       sandbox_table_count(k));
		ck_assert_uint_gt(sandbox_table_count(k), 10);
	}
	ck_assert_ptr_null(sandbox_table(SANDBOX_KINDS));
}
END_TEST

/* Nothing that starts a program, makes a thread or process, changes the
 * filter or privileges, or reaches outside; socket() and file access only
 * with their argument filters. */
START_TEST(tables_forbid_dangerous_calls)
{
	static const char *const never[] = {
		"execve", "execveat", "fork", "vfork", "clone", "clone3", "ptrace",
		"prctl", "seccomp", "bpf", "mount", "umount2", "chroot", "pivot_root",
		"setuid", "setgid", "setns", "unshare", "kill", "tkill", "open", "creat",
		"open_by_handle_at", "openat2", "rename", "renameat2", "link", "symlink",
		"chmod", "fchmod", "chown", "fchown", "truncate", "process_vm_writev",
		"memfd_create", "socketpair", "bind", "listen", "userfaultfd", "io_uring_setup",
		"init_module", "finit_module", "kexec_load", "reboot",
	};

	for (int k = 0; k < SANDBOX_KINDS; k++) {
		const struct sb_table *t = sandbox_table(k);

		for (const struct sb_rule *const *g = t->groups; *g; g++)
			for (const struct sb_rule *r = *g; r->name; r++) {
				for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
					ck_assert_msg(strcmp(r->name, never[i]) != 0,
						      "%s allows %s", sandbox_kind_name(k), r->name);
				if (!strcmp(r->name, "socket"))
					ck_assert_int_eq(r->arg, SB_SOCKET);
				if (!strcmp(r->name, "ioctl"))
					ck_assert_int_eq(r->arg, SB_IOCTL);
				if (!strcmp(r->name, "openat"))
					ck_assert_int_eq(r->arg, SB_OPEN_RO);
				if (!strcmp(r->name, "unlink") || !strcmp(r->name, "unlinkat"))
					ck_assert(r->arg == SB_SOCK_FILE || r->arg == SB_SOCK_FILE_AT);
				if (!strcmp(r->name, "mmap") || !strcmp(r->name, "mprotect"))
					ck_assert_int_eq(r->arg, SB_NOEXEC);
			}
		/* No KVM ioctl that creates or reconfigures anything. */
		for (size_t i = 0; i < t->n_ioctls; i++) {
			ck_assert_uint_ne(t->ioctls[i], KVM_CREATE_VM);
			ck_assert_uint_ne(t->ioctls[i], KVM_CREATE_VCPU);
			ck_assert_uint_ne(t->ioctls[i], KVM_SET_USER_MEMORY_REGION);
			ck_assert_uint_ne(t->ioctls[i], KVM_SET_CPUID2);
			ck_assert_uint_ne(t->ioctls[i], KVM_SET_REGS);
		}
	}
	/* Only vCPU threads run guests. */
	for (int k = 0; k < SANDBOX_KINDS; k++) {
		const struct sb_table *t = sandbox_table(k);
		bool run = false;

		for (size_t i = 0; i < t->n_ioctls; i++)
			run |= t->ioctls[i] == KVM_RUN;
		ck_assert_int_eq(run, k == SANDBOX_VCPU);
	}
}
END_TEST

/* ---- each kind, forbidden calls ---------------------------------------- */

static const char *const thread_names[SANDBOX_KINDS] = {
	[SANDBOX_VCPU] = "vCPU 0 thread",
	[SANDBOX_IO] = "I/O thread",
	[SANDBOX_DEBUG] = "SIGQUIT dumper thread",
	[SANDBOX_VHOST_USER] = "vhost-user thread",
};

struct forbid {
	enum sandbox_kind kind;
	const char *call;
};

static void do_forbidden(void *arg)
{
	const struct forbid *f = arg;

	enter(f->kind);
	if (!strcmp(f->call, "execve"))
		syscall(SYS_execve, "/bin/true", NULL, NULL);
	else if (!strcmp(f->call, "socket"))
		socket(AF_VSOCK, SOCK_STREAM, 0);
	else if (!strcmp(f->call, "openat"))
		open("/etc/hostname", O_RDONLY);
	else if (!strcmp(f->call, "ioctl"))
		ioctl(-1, KVM_CREATE_VM, 0);
	else if (!strcmp(f->call, "mmap"))
		mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	else if (!strcmp(f->call, "clone"))
		syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
	else if (!strcmp(f->call, "unlink"))
		unlink("/nonexistent/vmm-sandbox-test");
	fprintf(stderr, "%s was not stopped\n", f->call);
	_exit(98);
}

START_TEST(forbidden_calls_end_the_vmm)
{
	static const char *const calls[] = {
		"execve", "socket", "openat", "ioctl", "mmap", "clone", "unlink",
	};
	char want[128];
	struct child c;

	if (skip_unsupported("forbidden_calls_end_the_vmm"))
		return;

	for (int k = 0; k < SANDBOX_KINDS; k++)
		for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
			struct forbid f = { k, calls[i] };

			run_child(do_forbidden, &f, &c);
			assert_exit(&c, VMM_EXIT_SANDBOX);
			snprintf(want, sizeof(want), "vmm: error: seccomp: %s: forbidden system call %s (nr ",
				 thread_names[k], calls[i]);
			assert_one_line(&c, want);
		}
}
END_TEST

/* ---- each kind, allowed calls ------------------------------------------ */

static void do_allowed(void *arg)
{
	enum sandbox_kind k = *(enum sandbox_kind *)arg;
	static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	struct sockaddr_in srv = { .sin_family = AF_INET }, from;
	socklen_t slen = sizeof(srv);
	struct epoll_event ev = { .events = EPOLLIN };
	int p[2], us, ep;
	void *big;
	char b;

	if (pipe(p))
		_exit(97);
	/* A UDP peer on 127.0.0.1 and an epoll set, made before the filter
	 * as the VMM's set-up makes its listeners and the datagram set. */
	srv.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	us = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (us < 0 || ep < 0 || bind(us, (struct sockaddr *)&srv, sizeof(srv)) < 0 ||
	    getsockname(us, (struct sockaddr *)&srv, &slen) < 0)
		_exit(98);
	enter(k);
	/* Every kind: memory (small and mmap-sized), locks, writes. */
	for (int i = 0; i < 100; i++)
		free(malloc((size_t)i * 4096));
	big = malloc(1 << 20);
	big = realloc(big, 8 << 20);
	free(big);
	pthread_mutex_lock(&m);
	pthread_mutex_unlock(&m);
	if (write(p[1], "x", 1) != 1)
		_exit(96);
	if (k == SANDBOX_DEBUG)
		_exit(0);
	/* Threads that run the device: Unix and TCP sockets, reads. */
	if (read(p[0], &b, 1) != 1)
		_exit(95);
	for (int fam = 0; fam < 3; fam++) {
		int s = socket(fam == 0 ? AF_UNIX : fam == 1 ? AF_INET : AF_INET6,
			       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (s < 0 && errno != EAFNOSUPPORT)
			_exit(94);
		if (s >= 0)
			close(s);
	}
	/* UDP forwards (vsock/dgram_udp.c): a forward_out socket made on
	 * first use (socket, connect, into the epoll set), a datagram each
	 * way (sendmsg, recvmsg, as the forwards use them; recvfrom and
	 * sendto are allowed too). */
	{
		int s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		struct iovec v = { &b, 1 };
		struct msghdr mh = { .msg_iov = &v, .msg_iovlen = 1 };

		slen = sizeof(from);
		ev.data.fd = s;
		if (s < 0 || connect(s, (struct sockaddr *)&srv, sizeof(srv)) < 0 ||
		    epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev) < 0 || sendmsg(s, &mh, 0) != 1 ||
		    recvfrom(us, &b, 1, 0, (struct sockaddr *)&from, &slen) != 1 ||
		    sendto(us, &b, 1, 0, (struct sockaddr *)&from, slen) != 1)
			_exit(90);
		if (k != SANDBOX_VCPU && epoll_wait(ep, &ev, 1, 1000) != 1)
			_exit(89); /* the I/O loop's wait */
		if (recvmsg(s, &mh, MSG_DONTWAIT) != 1 || epoll_ctl(ep, EPOLL_CTL_DEL, s, NULL) < 0)
			_exit(88);
		close(s);
	}
	/* The kind's own ioctls are allowed (on no fd: EBADF). */
	if (k == SANDBOX_VCPU && (ioctl(-1, KVM_RUN, 0) != -1 || errno != EBADF))
		_exit(93);
	if (k == SANDBOX_IO && (ioctl(-1, TCSETS, NULL) != -1 || errno != EBADF))
		_exit(92);
	if (k == SANDBOX_VHOST_USER && (fcntl(p[0], F_GETFL) < 0))
		_exit(91);
	_exit(0);
}

START_TEST(allowed_calls_work)
{
	struct child c;

	if (skip_unsupported("allowed_calls_work"))
		return;

	for (int k = 0; k < SANDBOX_KINDS; k++) {
		enum sandbox_kind kind = k;

		run_child(do_allowed, &kind, &c);
		ck_assert_msg(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0,
			      "%s: status 0x%x: %s", sandbox_kind_name(k), c.status, c.err);
	}
}
END_TEST

/* ---- socket files: our buffer may be unlinked, they go on a violation -- */

struct files_arg {
	char dir[64];
	char path[128], seq[128];
};

static void do_files(void *arg)
{
	struct files_arg *a = arg;
	struct vsock_sock_file f1, f2;
	struct stat st;
	char copy[128];

	if (vsock_sock_unix_listen(a->path, SOCK_STREAM, 1, &f1) < 0 ||
	    vsock_sock_unix_listen(a->seq, SOCK_SEQPACKET, 1, &f2) < 0)
		_exit(90);
	enter(SANDBOX_IO);
	/* The noted buffer: allowed (teardown removes files this way). */
	vsock_sock_file_remove(&f1);
	if (lstat(a->path, &st) == 0)  /* access() is not allowed */
		_exit(89);
	/* The same path in another buffer is not our file's buffer. */
	strcpy(copy, a->seq);
	unlink(copy);
	_exit(88);
}

START_TEST(socket_files_removed_on_violation)
{
	struct files_arg a;
	struct child c;

	if (skip_unsupported("socket_files_removed_on_violation"))
		return;

	strcpy(a.dir, "/tmp/vmm-sandbox-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(a.dir));
	snprintf(a.path, sizeof(a.path), "%s/v.sock", a.dir);
	snprintf(a.seq, sizeof(a.seq), "%s/v.sock_seqpacket", a.dir);
	run_child(do_files, &a, &c);
	assert_exit(&c, VMM_EXIT_SANDBOX);
	assert_one_line(&c, "I/O thread: forbidden system call unlink (nr ");
	/* The handler removed the second file through its own buffer. */
	ck_assert_int_ne(access(a.path, F_OK), 0);
	ck_assert_int_ne(access(a.seq, F_OK), 0);
	ck_assert_int_eq(rmdir(a.dir), 0);
}
END_TEST

/* ---- the I/O thread's teardown, as vmm run's main thread does it -------- */

static void kicked(int sig)
{
	(void)sig;
}

static void *sleeper(void *arg)
{
	(void)arg;
	pause();  /* until SIGUSR1, as a vCPU in KVM_RUN */
	return NULL;
}

static void do_teardown(void *arg)
{
	struct files_arg *a = arg;
	struct sigaction sa = { .sa_handler = kicked };
	struct vsock_fwd in = { .port = 1024, .path = a->seq };
	struct vsock_dev *dev;
	struct evloop *ev;
	struct timespec ts;
	uint64_t total, guest;
	char err[256], mpath[200];
	pthread_t t;
	int mfd;

	if (evloop_create(&ev) || sigaction(SIGUSR1, &sa, NULL) ||
	    pthread_create(&t, NULL, sleeper, NULL))
		_exit(90);
	if (test_dev_create(&(struct test_dev_params){ .guest_cid = 3, .uds_path = a->path,
			    .ev = ev, .fwd_in = &in, .n_fwd_in = 1 }, &dev))
		_exit(89);
	snprintf(mpath, sizeof(mpath), "%s.metrics", a->path);
	mfd = metrics_open(mpath, err, sizeof(err));
	if (mfd < 0)
		_exit(86);
	if (sandbox_prepare(ALL_KINDS, (const char *const[]){ trace_smaps_path, NULL },
			    err, sizeof(err)) ||
	    sandbox_enter(SANDBOX_IO, 0, err, sizeof(err)))
		_exit(99);
	/* vm_stop_vcpus(): kick, timed join.  Kicked again every 10 ms for
	 * up to 10 s: a kick that lands before the sleeper reached pause()
	 * is lost (a vCPU has immediate_exit for that). */
	for (int i = 0;; i++) {
		pthread_kill(t, SIGUSR1);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 10 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (pthread_timedjoin_np(t, NULL, &ts) == 0)
			break;
		if (i == 1000)
			_exit(88);
	}
	/* The metrics line written at exit (and on SIGUSR2). */
	if (metrics_write(mfd, &(struct metrics_sources){ .vsock = dev }))
		_exit(85);
	close(mfd);
	/* Device teardown removes the socket files; --trace-boot's report. */
	vsock_dev_destroy(dev);
	evloop_destroy(ev);
	if (trace_rss(&total, 4096, &total, &guest) || total == 0)
		_exit(87);
	fprintf(stderr, "ok\n");
	exit(0);  /* atexit handlers and stdio, as main() ends */
}

START_TEST(io_thread_teardown_allowed)
{
	struct files_arg a;
	struct child c;
	char mpath[200];

	if (skip_unsupported("io_thread_teardown_allowed"))
		return;
	strcpy(a.dir, "/tmp/vmm-sandbox-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(a.dir));
	snprintf(a.path, sizeof(a.path), "%s/v.sock", a.dir);
	snprintf(a.seq, sizeof(a.seq), "%s/in.sock", a.dir);
	run_child(do_teardown, &a, &c);
	assert_exit(&c, 0);
	ck_assert_str_eq(c.err, "ok\n");
	ck_assert_int_ne(access(a.path, F_OK), 0);
	ck_assert_int_ne(access(a.seq, F_OK), 0);
	snprintf(mpath, sizeof(mpath), "%s.metrics", a.path);
	ck_assert_int_eq(unlink(mpath), 0);   /* the child wrote it */
	ck_assert_int_eq(rmdir(a.dir), 0);
}
END_TEST

/* ---- the gate and the test-only trigger -------------------------------- */

static atomic_int ran;

static void *gated(void *arg)
{
	(void)arg;
	sandbox_thread_start(SANDBOX_VCPU, 0);
	atomic_store(&ran, 1);
	return NULL;
}

static void do_gate(void *arg)
{
	const char *trip = arg;
	char err[256];
	pthread_t t;

	if (trip)
		setenv("VMM_TEST_SECCOMP_TRIP", trip, 1);
	if (sandbox_prepare(ALL_KINDS, NULL, err, sizeof(err)))
		_exit(99);
	sandbox_expect_thread();
	if (pthread_create(&t, NULL, gated, NULL))
		_exit(87);
	usleep(50 * 1000);
	/* Filtered, but held until the main thread is filtered too. */
	if (atomic_load(&ran))
		_exit(86);
	if (sandbox_release(SANDBOX_IO, err, sizeof(err)))
		_exit(85);
	pthread_join(t, NULL);
	_exit(atomic_load(&ran) ? 0 : 84);
}

/* ---- heaps: glibc's per-thread arenas ----------------------------------- */

#define HEAP_BLOCKS 64
#define HEAP_BLOCK  (100u << 10)  /* under the mmap threshold: from a heap */

static void *heap_user(void *arg)
{
	void **p = arg;

	sandbox_thread_start(SANDBOX_VCPU, 0);
	for (int i = 0; i < HEAP_BLOCKS; i++) {
		p[i] = malloc(HEAP_BLOCK);
		if (!p[i])
			_exit(83);
		memset(p[i], 1, HEAP_BLOCK);
	}
	/* The top half freed here, as a connection closing on the vCPU. */
	for (int i = HEAP_BLOCKS / 2; i < HEAP_BLOCKS; i++)
		free(p[i]);
	return NULL;
}

/* A vCPU thread allocates and frees megabytes, the I/O thread frees the
 * rest (as reaping connections does): heaps shrink without any system
 * call outside the lists (glibc's first trim of a thread's own heap opens
 * a /proc file). */
static void do_heap(void *arg)
{
	void *p[HEAP_BLOCKS];
	char err[256];
	pthread_t t;

	(void)arg;
	if (sandbox_prepare(ALL_KINDS, NULL, err, sizeof(err)))
		_exit(99);
	sandbox_expect_thread();
	if (pthread_create(&t, NULL, heap_user, p))
		_exit(87);
	if (sandbox_release(SANDBOX_IO, err, sizeof(err)))
		_exit(85);
	pthread_join(t, NULL);
	for (int i = 0; i < HEAP_BLOCKS / 2; i++)
		free(p[i]);
	fprintf(stderr, "ok\n");
	_exit(0);
}

START_TEST(freed_heaps_shrink_under_the_filters)
{
	struct child c;

	if (skip_unsupported("freed_heaps_shrink_under_the_filters"))
		return;
	run_child(do_heap, NULL, &c);
	assert_exit(&c, 0);
	ck_assert_str_eq(c.err, "ok\n");
}
END_TEST

START_TEST(gate_holds_threads_until_release)
{
	struct child c;

	if (skip_unsupported("gate_holds_threads_until_release"))
		return;

	run_child(do_gate, NULL, &c);
	assert_exit(&c, 0);
	/* The trigger: the vCPU thread's first call after the gate. */
	run_child(do_gate, "vcpu:vsock", &c);
	assert_exit(&c, VMM_EXIT_SANDBOX);
	assert_one_line(&c, "vCPU 0 thread: forbidden system call socket (nr 41, args 0x28 ");
	run_child(do_gate, "io", &c);
	assert_exit(&c, VMM_EXIT_SANDBOX);
	assert_one_line(&c, "I/O thread: forbidden system call execve (nr 59");
}
END_TEST

/* ---- off switch -------------------------------------------------------- */

static void do_off(void *arg)
{
	struct vm_config cfg;
	char err[256];
	int fd;

	(void)arg;
	config_defaults(&cfg);
	cfg.no_seccomp = true;
	setenv("VMM_TEST_SECCOMP_TRIP", "io", 1);
	if (sandbox_configure(&cfg, err, sizeof(err)) ||
	    sandbox_prepare(ALL_KINDS, NULL, err, sizeof(err)) ||
	    sandbox_enter(SANDBOX_IO, 0, err, sizeof(err)))
		_exit(99);
	/* Not filtered: a call the filter forbids goes through (and the
	 * test trigger was not pulled). */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	_exit(fd >= 0 ? 0 : 83);
}

START_TEST(off_warns_and_filters_nothing)
{
	struct child c;

	ck_assert(sandbox_enabled());
	run_child(do_off, NULL, &c);
	assert_exit(&c, 0);
	assert_one_line(&c, "vmm: warning: seccomp is off (--no-seccomp or");
}
END_TEST

/* ---- socket file permissions ------------------------------------------- */

static mode_t listen_mode_of(const char *dir, mode_t umask_val)
{
	char path[128];
	struct vsock_sock_file f;
	struct stat st;
	mode_t old = umask(umask_val);
	int fd;

	snprintf(path, sizeof(path), "%s/p.sock", dir);
	fd = vsock_sock_unix_listen(path, SOCK_STREAM, 1, &f);
	umask(old);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(lstat(path, &st), 0);
	vsock_sock_file_remove(&f);
	close(fd);
	return st.st_mode & 07777;
}

START_TEST(socket_file_modes)
{
	char dir[] = "/tmp/vmm-modes-XXXXXX";
	struct vm_config cfg;
	char err[256], gid[16];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	config_defaults(&cfg);
	/* Default: the owner only, whatever the umask allows. */
	ck_assert_int_eq(sandbox_configure(&cfg, err, sizeof(err)), 0);
	ck_assert_uint_eq(listen_mode_of(dir, 0), 0600);
	ck_assert_uint_eq(listen_mode_of(dir, 022), 0600);
	/* A group: 0660 even under umask 077, and the file's group is it. */
	snprintf(gid, sizeof(gid), "%u", (unsigned)getegid());
	cfg.vsock_socket_group = gid;
	ck_assert_int_eq(sandbox_configure(&cfg, err, sizeof(err)), 0);
	ck_assert_uint_eq(listen_mode_of(dir, 077), 0660);
	cfg.vsock_socket_group = "no-such-group-vmm";
	ck_assert_int_eq(sandbox_configure(&cfg, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "vsock socket group 'no-such-group-vmm'"), "%s", err);
	cfg.vsock_socket_group = NULL;
	ck_assert_int_eq(sandbox_configure(&cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

static Suite *sandbox_suite(void)
{
	Suite *s = suite_create("sandbox");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, tables_resolve);
	tcase_add_test(tc, tables_forbid_dangerous_calls);
	tcase_add_test(tc, forbidden_calls_end_the_vmm);
	tcase_add_test(tc, allowed_calls_work);
	tcase_add_test(tc, socket_files_removed_on_violation);
	tcase_add_test(tc, io_thread_teardown_allowed);
	tcase_add_test(tc, gate_holds_threads_until_release);
	tcase_add_test(tc, freed_heaps_shrink_under_the_filters);
	tcase_add_test(tc, off_warns_and_filters_nothing);
	tcase_add_test(tc, socket_file_modes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(sandbox_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
