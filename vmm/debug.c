// SPDX-License-Identifier: MIT
/*
 * SIGQUIT vCPU state dump (see debug.h).
 *
 * A vCPU's ioctls wait for its KVM_RUN to return (KVM holds the vCPU mutex
 * while it runs), so the dump is taken by each vCPU thread itself: the
 * dumper thread bumps a request counter, sets run->immediate_exit and kicks
 * every vCPU thread with SIGUSR1 (the same pattern as vm_stop_vcpus()); a
 * vCPU thread whose KVM_RUN returns EINTR calls debug_vcpu_kicked(), which
 * clears immediate_exit again (unless the VM is stopping) and prints.
 */
#include "debug.h"
#include "sandbox.h"
#include "vm.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

static struct vm *dbg_vm;
static atomic_uint dump_gen;      /* dump requests so far */
static atomic_uint *dump_seen;    /* per vCPU: the last request it served */
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *mp_state_name(uint32_t s)
{
	static const char *const names[] = {
		[KVM_MP_STATE_RUNNABLE] = "RUNNABLE",
		[KVM_MP_STATE_UNINITIALIZED] = "UNINITIALIZED",
		[KVM_MP_STATE_INIT_RECEIVED] = "INIT_RECEIVED",
		[KVM_MP_STATE_HALTED] = "HALTED",
		[KVM_MP_STATE_SIPI_RECEIVED] = "SIPI_RECEIVED",
		[KVM_MP_STATE_STOPPED] = "STOPPED",
		[KVM_MP_STATE_CHECK_STOP] = "CHECK_STOP",
		[KVM_MP_STATE_OPERATING] = "OPERATING",
		[KVM_MP_STATE_LOAD] = "LOAD",
	};

	if (s < sizeof(names) / sizeof(names[0]) && names[s])
		return names[s];
	return "?";
}

struct outbuf {
	char b[2048];
	size_t n;
};

__attribute__((format(printf, 2, 3)))
static void out(struct outbuf *o, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (o->n >= sizeof(o->b))
		return;
	va_start(ap, fmt);
	r = vsnprintf(o->b + o->n, sizeof(o->b) - o->n, fmt, ap);
	va_end(ap);
	if (r > 0)
		o->n += (size_t)r;
	if (o->n > sizeof(o->b) - 1)
		o->n = sizeof(o->b) - 1;
}

static uint32_t lapic_reg(const struct kvm_lapic_state *l, unsigned off)
{
	uint32_t v;

	memcpy(&v, &l->regs[off], sizeof(v));
	return v;
}

/* Highest vector set in a 256-bit LAPIC register array (ISR 0x100, IRR
 * 0x200), or -1. */
static int lapic_top_vector(const struct kvm_lapic_state *l, unsigned base)
{
	for (int i = 7; i >= 0; i--) {
		uint32_t w = lapic_reg(l, base + 0x10 * (unsigned)i);

		if (w)
			return i * 32 + 31 - __builtin_clz(w);
	}
	return -1;
}

static void dump_vcpu(struct vcpu *v)
{
	struct kvm_mp_state mp;
	struct kvm_regs r;
	struct kvm_sregs s;
	struct kvm_vcpu_events ev;
	struct kvm_lapic_state l;
	struct kvm_translation tr;
	struct outbuf o = { .n = 0 };

	out(&o, "vmm: vCPU %u:", v->id);
	if (ioctl(v->fd, KVM_GET_MP_STATE, &mp) == 0)
		out(&o, " mp_state=%s", mp_state_name(mp.mp_state));
	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
		out(&o, " (registers unavailable: %s)\n", strerror(errno));
		goto print;
	}
	out(&o, " rip=%#llx rsp=%#llx rflags=%#llx\n",
	    (unsigned long long)r.rip, (unsigned long long)r.rsp,
	    (unsigned long long)r.rflags);
	out(&o, "  rax=%#llx rbx=%#llx rcx=%#llx rdx=%#llx rsi=%#llx rdi=%#llx rbp=%#llx\n",
	    (unsigned long long)r.rax, (unsigned long long)r.rbx,
	    (unsigned long long)r.rcx, (unsigned long long)r.rdx,
	    (unsigned long long)r.rsi, (unsigned long long)r.rdi,
	    (unsigned long long)r.rbp);
	out(&o, "  cr0=%#llx cr2=%#llx cr3=%#llx cr4=%#llx efer=%#llx apic_base=%#llx\n",
	    (unsigned long long)s.cr0, (unsigned long long)s.cr2,
	    (unsigned long long)s.cr3, (unsigned long long)s.cr4,
	    (unsigned long long)s.efer, (unsigned long long)s.apic_base);
	out(&o, "  cs=%#x base=%#llx l=%u db=%u  ss=%#x  gdt=%#llx/%#x idt=%#llx/%#x\n",
	    s.cs.selector, (unsigned long long)s.cs.base, s.cs.l, s.cs.db,
	    s.ss.selector, (unsigned long long)s.gdt.base, s.gdt.limit,
	    (unsigned long long)s.idt.base, s.idt.limit);
	if (ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev) == 0)
		out(&o, "  events: exception %s%u, interrupt %s%u, nmi pending=%u masked=%u, sipi_vector=%#x\n",
		    ev.exception.injected ? "injected " : "none/",
		    ev.exception.nr,
		    ev.interrupt.injected ? "injected " : "none/",
		    ev.interrupt.nr, ev.nmi.pending, ev.nmi.masked,
		    ev.sipi_vector);
	if (ioctl(v->fd, KVM_GET_LAPIC, &l) == 0)
		out(&o, "  lapic: id=%u svr=%#x tpr=%#x icr=%#x:%08x lvtt=%#x tmict=%#x tmcct=%#x isr_top=%d irr_top=%d\n",
		    lapic_reg(&l, 0x20) >> 24, lapic_reg(&l, 0xf0),
		    lapic_reg(&l, 0x80), lapic_reg(&l, 0x310), lapic_reg(&l, 0x300),
		    lapic_reg(&l, 0x320), lapic_reg(&l, 0x380), lapic_reg(&l, 0x390),
		    lapic_top_vector(&l, 0x100), lapic_top_vector(&l, 0x200));
	/* The code at RIP: linear address -> guest physical via KVM_TRANSLATE,
	 * then up to 16 bytes that stay inside the page. */
	memset(&tr, 0, sizeof(tr));
	tr.linear_address = s.cs.base + r.rip;
	if (ioctl(v->fd, KVM_TRANSLATE, &tr) == 0 && tr.valid) {
		uint64_t pa = tr.physical_address;
		size_t len = 16;
		const uint8_t *p;

		if ((pa & 0xfff) + len > 0x1000)
			len = 0x1000 - (pa & 0xfff);
		p = gm_ptr(&v->vm->mem, pa, len);
		out(&o, "  code at gpa %#llx:", (unsigned long long)pa);
		for (size_t i = 0; p && i < len; i++)
			out(&o, " %02x", p[i]);
		out(&o, "%s\n", p ? "" : " (not RAM)");
	} else {
		out(&o, "  code: linear %#llx does not translate\n",
		    (unsigned long long)tr.linear_address);
	}
	/* The top of the stack (return addresses show the caller chain),
	 * as far as it stays in the page. */
	memset(&tr, 0, sizeof(tr));
	tr.linear_address = s.ss.base + r.rsp;
	if (ioctl(v->fd, KVM_TRANSLATE, &tr) == 0 && tr.valid) {
		uint64_t pa = tr.physical_address, w;
		unsigned n = (0x1000 - (unsigned)(pa & 0xfff)) / 8;
		const uint8_t *p;

		if (n > 8)
			n = 8;
		p = gm_ptr(&v->vm->mem, pa, n * 8);
		out(&o, "  stack:");
		for (unsigned i = 0; p && i < n; i++) {
			memcpy(&w, p + 8 * i, sizeof(w));
			out(&o, " %#llx", (unsigned long long)w);
		}
		out(&o, "\n");
	}
print:
	pthread_mutex_lock(&out_lock);
	fwrite(o.b, 1, o.n, stderr);
	fflush(stderr);
	pthread_mutex_unlock(&out_lock);
}

void debug_vcpu_kicked(struct vcpu *v)
{
	unsigned gen;

	if (!dump_seen)
		return;
	/* Only a dump request or vm_stop_vcpus() sets immediate_exit; keep it
	 * set while the VM stops (vm_stop_vcpus keeps kicking, so a clear that
	 * races with it only costs one more kick). */
	if (!atomic_load(&v->vm->exiting))
		v->run->immediate_exit = 0;
	gen = atomic_load(&dump_gen);
	if (atomic_exchange(&dump_seen[v->id], gen) != gen)
		dump_vcpu(v);
}

static void *dumper_thread(void *arg)
{
	sigset_t set;
	int sig;

	(void)arg;
	sandbox_thread_start(SANDBOX_DEBUG, 0);
	sigemptyset(&set);
	sigaddset(&set, SIGQUIT);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (atomic_load(&dbg_vm->exiting))
			continue;
		atomic_fetch_add(&dump_gen, 1);
		for (unsigned i = 0; i < dbg_vm->n_vcpus; i++) {
			struct vcpu *v = &dbg_vm->vcpus[i];

			if (!v->started)
				continue;
			v->run->immediate_exit = 1;
			pthread_kill(v->thread, SIGUSR1);
		}
	}
	return NULL;
}

int debug_init(struct vm *vm)
{
	pthread_attr_t attr;
	pthread_t t;
	sigset_t set;
	int ret;

	dump_seen = calloc(vm->n_vcpus, sizeof(*dump_seen));
	if (!dump_seen)
		return -ENOMEM;
	dbg_vm = vm;
	sigemptyset(&set);
	sigaddset(&set, SIGQUIT);
	ret = pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (ret)
		return -ret;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	sandbox_expect_thread();
	ret = pthread_create(&t, &attr, dumper_thread, NULL);
	pthread_attr_destroy(&attr);
	return -ret;
}
