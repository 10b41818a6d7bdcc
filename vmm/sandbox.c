// SPDX-License-Identifier: MIT
/*
 * seccomp filters per thread kind, socket file permissions (sandbox.h,
 * docs/sandbox.md).  The filters are built by libseccomp from the tables
 * in seccomp_tables.c, once per kind, and exported as BPF programs, so a
 * thread enters its filter with one seccomp() call and 254 vCPUs do not
 * build the same program 254 times.
 */
#include "sandbox.h"
#include "config.h"
#include "errmsg.h"
#include "base/log.h"
#include "vsock/sock.h"

#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1 /* si_code of a SECCOMP_RET_TRAP SIGSYS (asm-generic/siginfo.h) */
#endif

static bool seccomp_on = true;
static uint32_t native_arch; /* AUDIT_ARCH_X86_64, as si_arch reports it */
static struct sock_fprog progs[SANDBOX_KINDS];

/* Who the calling thread is, for the violation message. */
static __thread int tl_kind = -1;
static __thread unsigned tl_index;

/* The gate: threads created before sandbox_release() wait there, filtered,
 * until the main thread is filtered too. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static unsigned gate_expected, gate_arrived, gate_failed;
static int gate_errno;
static bool gate_open;

/* Test-only (docs/sandbox.md): VMM_TEST_SECCOMP_TRIP=KIND[:CALL] makes the
 * first thread of KIND make a forbidden call right after it is filtered. */
#define TRIP_ENV "VMM_TEST_SECCOMP_TRIP"
static int trip_kind = -1;
static char trip_call[16];

static const char *const kind_names[SANDBOX_KINDS] = {
	[SANDBOX_VCPU] = "vcpu",
	[SANDBOX_IO] = "io",
	[SANDBOX_DEBUG] = "debug",
	[SANDBOX_VHOST_USER] = "vhost-user",
};

const char *sandbox_kind_name(enum sandbox_kind k)
{
	return (unsigned)k < SANDBOX_KINDS ? kind_names[k] : "?";
}

bool sandbox_enabled(void)
{
	return seccomp_on;
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define SANITIZER_BUILD 1
#endif
#endif

const char *sandbox_unsupported(void)
{
#ifdef SANITIZER_BUILD
	/* Seen: sigaltstack and madvise(MADV_DONTDUMP) at thread exit and in
	 * _exit(); a report would also open /proc/self/maps. */
	return "this is a sanitizer build (SAN=1): the ASan/UBSan runtimes make "
	       "system calls the allow-lists forbid";
#else
	return NULL;
#endif
}

/* ---- socket permissions and the on/off switch ------------------------- */

static int group_of(const char *name, gid_t *gid, char *err, size_t errlen)
{
	const char *p = name;
	struct group *g;

	while (*p >= '0' && *p <= '9')
		p++;
	if (*name && !*p && p - name < 10) {
		*gid = (gid_t)strtoul(name, NULL, 10);
		return 0;
	}
	errno = 0;
	g = getgrnam(name);
	if (!g)
		return errmsg(err, errlen, errno ? errno : EINVAL, "vsock socket group '%s': %s", name,
			      errno ? strerror(errno) : "no such group");
	*gid = g->gr_gid;
	return 0;
}

/* May this process give its files to gid (chown(2): root, or a member)? */
static bool may_use_group(gid_t gid)
{
	gid_t list[256];
	int n;

	if (geteuid() == 0 || getegid() == gid)
		return true;
	n = getgroups((int)(sizeof(list) / sizeof(list[0])), list);
	for (int i = 0; i < n; i++)
		if (list[i] == gid)
			return true;
	return false;
}

int sandbox_configure(const struct vm_config *cfg, char *err, size_t errlen)
{
	gid_t gid = (gid_t)-1;

	if (cfg->vsock_socket_group) {
		int rc = group_of(cfg->vsock_socket_group, &gid, err, errlen);

		if (rc)
			return rc;
		if (!may_use_group(gid))
			return errmsg(err, errlen, EPERM, "vsock socket group '%s': this user is not "
				      "a member, so it cannot give its socket files to it",
				      cfg->vsock_socket_group);
		vsock_sock_set_listen_perms(0660, gid);
	} else {
		vsock_sock_set_listen_perms(0600, (gid_t)-1);
	}
	seccomp_on = !cfg->no_seccomp;
	if (!seccomp_on)
		log_warn("warning: seccomp is off (--no-seccomp or \"x-vmm\": {\"seccomp\": "
			 "false}): a bug in device emulation has every system call of this "
			 "user behind it; for debugging only");
	return 0;
}

/* ---- building the filters --------------------------------------------- */

struct build {
	scmp_filter_ctx ctx;
	const struct sb_table *t;
	const char *const *open_ro;
	int rc;
};

static void add(struct build *b, int nr, unsigned n, const struct scmp_arg_cmp *c)
{
	int rc = seccomp_rule_add_array(b->ctx, SCMP_ACT_ALLOW, nr, n, c);

	if (rc && !b->rc)
		b->rc = rc;
}

struct file_rule {
	struct build *b;
	int nr;
	bool at;
};

static void add_sock_file(const char *path, void *opaque)
{
	struct file_rule *f = opaque;
	uint64_t p = (uintptr_t)path;

	if (f->at)
		add(f->b, f->nr, 3, (struct scmp_arg_cmp[]){
			SCMP_A0_32(SCMP_CMP_EQ, (uint32_t)AT_FDCWD),
			SCMP_A1_64(SCMP_CMP_EQ, p), SCMP_A2_32(SCMP_CMP_EQ, 0) });
	else
		add(f->b, f->nr, 1, (struct scmp_arg_cmp[]){ SCMP_A0_64(SCMP_CMP_EQ, p) });
}

static void add_rule(struct build *b, const struct sb_rule *r)
{
	static const int families[] = { AF_UNIX, AF_INET, AF_INET6 };
	int nr = seccomp_syscall_resolve_name(r->name);

	if (nr == __NR_SCMP_ERROR) {
		b->rc = -ENOSYS;
		return;
	}
	switch (r->arg) {
	case SB_ANY:
		add(b, nr, 0, NULL);
		break;
	case SB_IOCTL:
		/* 32 bits: the kernel takes the request as an unsigned int. */
		for (size_t i = 0; i < b->t->n_ioctls; i++)
			add(b, nr, 1, (struct scmp_arg_cmp[]){
				SCMP_A1_32(SCMP_CMP_EQ, (uint32_t)b->t->ioctls[i]) });
		break;
	case SB_SOCKET:
		for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
			add(b, nr, 1, (struct scmp_arg_cmp[]){
				SCMP_A0_32(SCMP_CMP_EQ, (uint32_t)families[i]) });
		break;
	case SB_NOEXEC:
		add(b, nr, 1, (struct scmp_arg_cmp[]){
			SCMP_A2_64(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0) });
		break;
	case SB_MADVISE:
		add(b, nr, 1, (struct scmp_arg_cmp[]){
			SCMP_A2_32(SCMP_CMP_EQ, MADV_DONTNEED) });
		break;
	case SB_OWN_PID:
		add(b, nr, 1, (struct scmp_arg_cmp[]){
			SCMP_A0_32(SCMP_CMP_EQ, (uint32_t)getpid()) });
		break;
	case SB_SOCK_FILE:
	case SB_SOCK_FILE_AT:
		vsock_sock_files_each(add_sock_file, &(struct file_rule){
			.b = b, .nr = nr, .at = r->arg == SB_SOCK_FILE_AT });
		break;
	case SB_OPEN_RO:
		for (const char *const *p = b->open_ro; p && *p; p++)
			add(b, nr, 3, (struct scmp_arg_cmp[]){
				SCMP_A0_32(SCMP_CMP_EQ, (uint32_t)AT_FDCWD),
				SCMP_A1_64(SCMP_CMP_EQ, (uintptr_t)*p),
				SCMP_A2_32(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC,
					   O_RDONLY) });
		break;
	case SB_FCNTL_FL:
		add(b, nr, 1, (struct scmp_arg_cmp[]){ SCMP_A1_32(SCMP_CMP_EQ, F_GETFL) });
		add(b, nr, 1, (struct scmp_arg_cmp[]){ SCMP_A1_32(SCMP_CMP_EQ, F_SETFL) });
		break;
	}
}

/* The BPF program libseccomp generates for ctx, copied out. */
static int export_prog(scmp_filter_ctx ctx, struct sock_fprog *out)
{
	int fd = memfd_create("vmm-seccomp", MFD_CLOEXEC);
	off_t len;
	void *buf = NULL;
	int rc;

	if (fd < 0)
		return -errno;
	rc = seccomp_export_bpf(ctx, fd);
	if (rc)
		goto out;
	len = lseek(fd, 0, SEEK_END);
	if (len <= 0 || len % (off_t)sizeof(struct sock_filter) ||
	    len / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS) {
		rc = len < 0 ? -errno : -E2BIG;
		goto out;
	}
	buf = malloc((size_t)len);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	if (pread(fd, buf, (size_t)len, 0) != len) {
		rc = -EIO;
		free(buf);
		goto out;
	}
	out->len = (unsigned short)(len / (off_t)sizeof(struct sock_filter));
	out->filter = buf;
	rc = 0;
out:
	close(fd);
	return rc;
}

unsigned sandbox_prog_insns(enum sandbox_kind k)
{
	return (unsigned)k < SANDBOX_KINDS ? progs[k].len : 0;
}

static int build_kind(enum sandbox_kind k, const char *const *open_ro)
{
	struct build b = { .t = sandbox_table(k), .open_ro = open_ro };
	int rc;

	b.ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!b.ctx)
		return -ENOMEM;
	/* A call through another ABI (int 0x80, x32) traps too, and a
	 * binary tree keeps the lookup short for KVM_RUN's ioctl. */
	rc = seccomp_attr_set(b.ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_TRAP);
	if (!rc)
		rc = seccomp_attr_set(b.ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	for (const struct sb_rule *const *g = b.t->groups; !rc && *g; g++)
		for (const struct sb_rule *r = *g; !b.rc && r->name; r++)
			add_rule(&b, r);
	if (!rc)
		rc = b.rc;
	if (!rc) {
		free(progs[k].filter);
		progs[k].filter = NULL;
		rc = export_prog(b.ctx, &progs[k]);
	}
	seccomp_release(b.ctx);
	return rc;
}

/* ---- the violation report ---------------------------------------------- */

/* Async-signal-safe formatting into a fixed line. */
struct line {
	char b[256];
	size_t n;
};

static void put(struct line *l, const char *s)
{
	while (*s && l->n < sizeof(l->b) - 1)
		l->b[l->n++] = *s++;
}

static void put_num(struct line *l, unsigned long long v, unsigned base)
{
	char d[24];
	int i = 0;

	if (base == 16)
		put(l, "0x");
	do {
		d[i++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (i > 0 && l->n < sizeof(l->b) - 1)
		l->b[l->n++] = d[--i];
}

static void put_thread(struct line *l)
{
	switch (tl_kind) {
	case SANDBOX_VCPU:
		put(l, "vCPU ");
		put_num(l, tl_index, 10);
		break;
	case SANDBOX_IO:
		put(l, "I/O");
		break;
	case SANDBOX_DEBUG:
		put(l, "SIGQUIT dumper");
		break;
	case SANDBOX_VHOST_USER:
		put(l, "vhost-user");
		break;
	default:
		put(l, "unknown");
	}
	put(l, " thread");
}

/*
 * SIGSYS: one line, the socket files removed, exit.  Only calls every
 * filter allows: write, newfstatat and unlink of our own socket files
 * (vsock_sock_files_remove_all), exit_group.  A SIGSYS someone sent with
 * kill() ends the VMM like any other terminating signal (128+N).
 */
static void sigsys_handler(int sig, siginfo_t *si, void *ucv)
{
	const ucontext_t *uc = ucv;
	struct line l = { .n = 0 };
	int nr = si->si_syscall;

	if (si->si_code != SYS_SECCOMP) {
		vsock_sock_files_remove_all();
		_exit(128 + sig);
	}
	put(&l, "vmm: error: seccomp: ");
	put_thread(&l);
	put(&l, ": forbidden system call ");
	if (si->si_arch == native_arch && nr >= 0 &&
	    (unsigned)nr < sandbox_syscall_names_n && sandbox_syscall_names[nr])
		put(&l, sandbox_syscall_names[nr]);
	else
		put(&l, "?");
	put(&l, " (nr ");
	put_num(&l, (unsigned)nr, 10);
	if (si->si_arch != native_arch) {
		put(&l, ", arch ");
		put_num(&l, si->si_arch, 16);
	}
	put(&l, ", args ");
	put_num(&l, (unsigned long long)uc->uc_mcontext.gregs[REG_RDI], 16);
	put(&l, " ");
	put_num(&l, (unsigned long long)uc->uc_mcontext.gregs[REG_RSI], 16);
	put(&l, " ");
	put_num(&l, (unsigned long long)uc->uc_mcontext.gregs[REG_RDX], 16);
	put(&l, "); stopping the VMM\n");
	if (write(STDERR_FILENO, l.b, l.n) < 0) {
		/* nothing more to tell anyone */
	}
	vsock_sock_files_remove_all();
	_exit(VMM_EXIT_SANDBOX);
}

/* ---- the test-only trigger --------------------------------------------- */

static void trip_parse(void)
{
	const char *v = getenv(TRIP_ENV), *colon;
	size_t klen;

	trip_kind = -1;
	if (!v || !*v)
		return;
	colon = strchr(v, ':');
	klen = colon ? (size_t)(colon - v) : strlen(v);
	for (int k = 0; k < SANDBOX_KINDS; k++)
		if (strlen(kind_names[k]) == klen && strncmp(v, kind_names[k], klen) == 0)
			trip_kind = k;
	snprintf(trip_call, sizeof(trip_call), "%s", colon ? colon + 1 : "execve");
}

/* A forbidden call with harmless arguments (should the filter let it
 * through, it fails or does nothing, and we say so and exit 1). */
static void trip(enum sandbox_kind k, unsigned index)
{
	long r;

	if (trip_kind != (int)k || index != 0)
		return;
	if (strcmp(trip_call, "vsock") == 0)
		r = syscall(SYS_socket, AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	else if (strcmp(trip_call, "open") == 0)
		r = syscall(SYS_openat, AT_FDCWD, "/etc/hostname", O_RDONLY | O_CLOEXEC);
	else if (strcmp(trip_call, "ioctl") == 0)
		r = syscall(SYS_ioctl, -1, 0xae01ul /* KVM_CREATE_VM */, 0);
	else if (strcmp(trip_call, "mmap-exec") == 0)
		r = (long)mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	else
		r = syscall(SYS_execve, NULL, NULL, NULL);
	fprintf(stderr, "vmm: error: %s=%s: the call was not stopped (returned %ld)\n",
		TRIP_ENV, getenv(TRIP_ENV), r);
	_exit(1);
}

/* ---- entering --------------------------------------------------------- */

int sandbox_prepare(unsigned kinds, const char *const *open_ro, char *err, size_t errlen)
{
	struct sigaction sa = { .sa_sigaction = sigsys_handler, .sa_flags = SA_SIGINFO };
	int rc;

	if (!seccomp_on)
		return 0;
	if (sandbox_unsupported()) {
		log_warn("warning: seccomp filters are not installed: %s", sandbox_unsupported());
		seccomp_on = false;
		return 0;
	}
	/*
	 * One malloc arena for every thread.  glibc gives threads heaps of
	 * their own, and the first time it shrinks one (memory freed at its
	 * top: a vCPU thread's connection buffers, or the I/O thread freeing
	 * them) it opens /proc/sys/vm/overcommit_memory, which no filter
	 * allows.  The main arena shrinks with brk instead.  Before any
	 * filtered thread exists, so none has an arena of its own yet.
	 */
	mallopt(M_ARENA_MAX, 1);
	/* No set-uid or file-capability gain past here, in any thread. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return errmsg(err, errlen, errno, "seccomp: PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	for (int k = 0; k < SANDBOX_KINDS; k++) {
		if (!(kinds & SANDBOX_KIND_BIT(k)))
			continue;
		rc = build_kind(k, open_ro);
		if (rc)
			return errmsg(err, errlen, -rc, "seccomp: building the %s filter: %s",
				      kind_names[k], strerror(-rc));
	}
	native_arch = seccomp_arch_native();
	sigfillset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return errmsg(err, errlen, errno, "seccomp: SIGSYS handler: %s", strerror(errno));
	trip_parse();
	return 0;
}

static int install(enum sandbox_kind k)
{
	if (!progs[k].filter)
		return -EINVAL;  /* not prepared */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &progs[k]) < 0)
		return -errno;
	return 0;
}

int sandbox_enter(enum sandbox_kind kind, unsigned index, char *err, size_t errlen)
{
	int rc;

	tl_kind = (int)kind;
	tl_index = index;
	if (!seccomp_on)
		return 0;
	rc = install(kind);
	if (rc)
		return errmsg(err, errlen, -rc, "seccomp: entering the %s filter: %s",
			      kind_names[kind], strerror(-rc));
	trip(kind, index);
	return 0;
}

void sandbox_expect_thread(void)
{
	pthread_mutex_lock(&gate_lock);
	gate_expected++;
	pthread_mutex_unlock(&gate_lock);
}

void sandbox_thread_start(enum sandbox_kind kind, unsigned index)
{
	int rc;

	tl_kind = (int)kind;
	tl_index = index;
	if (!seccomp_on)
		return;
	rc = install(kind);
	pthread_mutex_lock(&gate_lock);
	gate_arrived++;
	if (rc) {
		gate_failed++;
		gate_errno = -rc;
	}
	pthread_cond_broadcast(&gate_cond);
	while (!gate_open || rc)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
	trip(kind, index);
}

int sandbox_release(enum sandbox_kind kind, char *err, size_t errlen)
{
	int rc;

	if (!seccomp_on)
		return 0;
	/* Our own filter first, while the other threads enter theirs (each
	 * entry costs the kernel a BPF compile; docs/sandbox.md). */
	tl_kind = (int)kind;
	tl_index = 0;
	rc = install(kind);
	if (rc)
		return errmsg(err, errlen, -rc, "seccomp: entering the %s filter: %s",
			      kind_names[kind], strerror(-rc));
	pthread_mutex_lock(&gate_lock);
	while (gate_arrived < gate_expected)
		pthread_cond_wait(&gate_cond, &gate_lock);
	rc = gate_failed ? -gate_errno : 0;
	gate_open = !rc;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
	if (rc)
		return errmsg(err, errlen, -rc, "seccomp: a thread could not enter its filter: %s",
			      strerror(-rc));
	trip(kind, 0);
	return 0;
}
