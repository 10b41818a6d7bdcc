// SPDX-License-Identifier: MIT
/* vCPUs: creation, CPUID, boot state, and the KVM_RUN loop that dispatches
 * port I/O and MMIO exits to the buses. */
#include "vm.h"
#include "errmsg.h"
#include "base/layout.h"
#include "x86_boot.h"
#include "debug.h"
#include "base/log.h"
#include "sandbox.h"

#include <asm/kvm_para.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define VCPU_STACK_SIZE (256 * 1024)

/* CPUID bits we adjust (Intel SDM vol. 2A, CPUID). */
#define CPUID_1_ECX_HYPERVISOR  (1u << 31)
#define CPUID_1_ECX_X2APIC      (1u << 21)
#define CPUID_80000001_EDX_PDPE1GB (1u << 26) /* 1 GiB pages */

/* Local APIC register offsets and LVT delivery modes (SDM vol. 3A 10.5.1). */
#define APIC_LVT0        0x350
#define APIC_LVT1        0x360
#define APIC_MODE_NMI    0x4
#define APIC_MODE_EXTINT 0x7

static void filter_cpuid(struct kvm_cpuid2 *c, unsigned apic_id)
{
	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 1:
			/* EBX[31:24]: initial APIC ID of this vCPU. */
			e->ebx = (e->ebx & 0x00ffffffu) | (apic_id << 24);
			e->ecx |= CPUID_1_ECX_HYPERVISOR;
			break;
		case 0xb:
		case 0x1f:
			/* Extended topology: EDX is the x2APIC ID. */
			e->edx = apic_id;
			break;
		case 0x80000001:
			/* Hide 1 GiB pages: guests that map with them triple-fault
			 * on some hosts (docs/test-hosts.md) and we gain
			 * nothing from them in a microVM. */
			e->edx &= ~CPUID_80000001_EDX_PDPE1GB;
			break;
		}
	}
}

/* ---- Hypercall probe -------------------------------------------------
 *
 * Some KVM PV features make the guest kernel issue hypercalls (VMCALL on
 * Intel, VMMCALL on AMD; Documentation/virt/kvm/x86/cpuid.rst and
 * hypercalls.rst):
 *   PV_UNHALT       KVM_HC_KICK_CPU     PV spinlocks wake a halted waiter
 *   PV_SEND_IPI     KVM_HC_SEND_IPI     every IPI once there are 2+ CPUs
 *   PV_SCHED_YIELD  KVM_HC_SCHED_YIELD  yield to a preempted IPI target
 *   HC_MAP_GPA_RANGE KVM_HC_MAP_GPA_RANGE  (SEV guests)
 * On some hosts a guest VMCALL never completes: the PVM flavour of KVM
 * (kvm_pvm, docs/test-hosts.md) emulates it over and over without ever
 * running the hypercall (its insn_emulation count climbs, hypercalls stays
 * 0, RIP stays on the VMCALL).  A Linux 6.1 guest with 2+ vCPUs then hangs
 * in its first PV IPI, which is sent by the first AP
 * (docs/linux-smp-on-pvm.md).  Linux uses these hypercalls only with 2+
 * possible CPUs, so with more than one vCPU we try one VMCALL in a scratch
 * VM and hide the four features if it does not come back.  On an ordinary
 * KVM host the probe takes well under a millisecond and changes nothing. */
#define HC_PROBE_TIMEOUT_MS 50
#define HC_PROBE_PORT       0x80
#define KVM_FEATURES_HYPERCALL ((1u << KVM_FEATURE_PV_UNHALT) | \
				(1u << KVM_FEATURE_PV_SEND_IPI) | \
				(1u << KVM_FEATURE_PV_SCHED_YIELD) | \
				(1u << KVM_FEATURE_HC_MAP_GPA_RANGE))
#ifndef sigev_notify_thread_id /* timer_create(2)'s name; glibc may lack it */
#define sigev_notify_thread_id _sigev_un._tid
#endif

static void probe_alarm(int sig)
{
	(void)sig; /* only interrupts KVM_RUN (EINTR) */
}

/* Real-mode code at guest address 0: an unknown hypercall, which KVM
 * answers with -KVM_ENOSYS in EAX, then a port write that exits to us.
 * (On AMD, KVM rewrites VMCALL into VMMCALL and runs that.) */
static const uint8_t hc_probe_code[] = {
	0x66, 0xb8, 0x00, 0x00, 0x00, 0x00, /* mov eax, 0 (no such hypercall) */
	0x0f, 0x01, 0xc1,                   /* vmcall */
	0xe6, HC_PROBE_PORT,                /* out HC_PROBE_PORT, al */
	0xf4,                               /* hlt */
};

/* 1: a VMCALL completes; 0: it did not within HC_PROBE_TIMEOUT_MS (or
 * ended in anything but our port write); -1: the probe could not be set
 * up (then nothing is concluded). */
static int probe_hypercalls(int kvm_fd)
{
	struct sigevent sev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGALRM };
	struct itimerspec its = { .it_value.tv_nsec = HC_PROBE_TIMEOUT_MS * 1000000L };
	struct sigaction sa = { .sa_handler = probe_alarm }, old_sa;
	struct kvm_userspace_memory_region mr = { .slot = 0, .memory_size = 4096 };
	struct kvm_run *run = MAP_FAILED;
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rip = 0, .rflags = 0x2 };
	int vm_fd, cpu_fd = -1, mmap_size, ret = -1, r;
	sigset_t alrm, old_mask;
	timer_t timer;
	struct itimerspec left;
	void *mem;

	mmap_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm_fd < 0 || mmap_size <= 0)
		goto out_vm;
	mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		goto out_vm;
	memcpy(mem, hc_probe_code, sizeof(hc_probe_code));
	mr.userspace_addr = (uintptr_t)mem;
	/* Same TSS place as the real VM (kvm.c): Intel without unrestricted
	 * guest needs it for real mode. */
	if (ioctl(vm_fd, KVM_SET_TSS_ADDR, (unsigned long)LAYOUT_KVM_TSS) < 0 ||
	    ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &mr) < 0)
		goto out_mem;
	cpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0UL);
	if (cpu_fd < 0)
		goto out_mem;
	run = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, cpu_fd, 0);
	if (run == MAP_FAILED || ioctl(cpu_fd, KVM_GET_SREGS, &sregs) < 0)
		goto out_cpu;
	sregs.cs.selector = 0;
	sregs.cs.base = 0;
	if (ioctl(cpu_fd, KVM_SET_SREGS, &sregs) < 0 ||
	    ioctl(cpu_fd, KVM_SET_REGS, &regs) < 0)
		goto out_cpu;

	/* A timer that signals this thread only, so that KVM_RUN returns
	 * EINTR if the VMCALL never completes. */
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	if (sigaction(SIGALRM, &sa, &old_sa) < 0)
		goto out_cpu;
	pthread_sigmask(SIG_UNBLOCK, &alrm, &old_mask);
	sev.sigev_notify_thread_id = gettid();
	if (timer_create(CLOCK_MONOTONIC, &sev, &timer) < 0)
		goto out_sig;
	if (timer_settime(timer, 0, &its, NULL) < 0)
		goto out_timer;
	do {
		r = ioctl(cpu_fd, KVM_RUN, 0);
		/* Another signal: run on while the timer has not expired. */
	} while (r < 0 && errno == EINTR && timer_gettime(timer, &left) == 0 &&
		 (left.it_value.tv_sec || left.it_value.tv_nsec));
	ret = r == 0 && run->exit_reason == KVM_EXIT_IO &&
	      run->io.port == HC_PROBE_PORT;
	/* Anything but EINTR (our timer) is a setup problem, not a verdict. */
	if (r < 0 && errno != EINTR)
		ret = -1;
out_timer:
	/* Deleting the timer before restoring the old action: a signal that
	 * is already pending is taken by probe_alarm. */
	timer_delete(timer);
out_sig:
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	sigaction(SIGALRM, &old_sa, NULL);
out_cpu:
	if (run != MAP_FAILED)
		munmap(run, (size_t)mmap_size);
	if (cpu_fd >= 0)
		close(cpu_fd);
out_mem:
	munmap(mem, 4096);
out_vm:
	if (vm_fd >= 0)
		close(vm_fd);
	return ret;
}

/* Hide the KVM PV features that need hypercalls if the host cannot run
 * them (see above). */
static void hide_broken_hypercall_features(struct vm *vm)
{
	struct kvm_cpuid2 *c = vm->cpuid;

	if (probe_hypercalls(vm->kvm_fd) != 0)
		return;
	for (unsigned i = 0; i < c->nent; i++) {
		if (c->entries[i].function == KVM_CPUID_FEATURES)
			c->entries[i].eax &= ~KVM_FEATURES_HYPERCALL;
	}
	log_info("guest hypercalls (VMCALL) do not complete on this host: "
		 "KVM PV features PV_UNHALT, PV_SEND_IPI, PV_SCHED_YIELD and "
		 "HC_MAP_GPA_RANGE hidden from the guest");
}

static int set_lapic_lint(struct vcpu *v)
{
	struct kvm_lapic_state l;
	uint32_t *lvt0, *lvt1;

	if (ioctl(v->fd, KVM_GET_LAPIC, &l) < 0)
		return -errno;
	/* As on a PC after BIOS: LINT0 is the 8259's ExtINT, LINT1 the NMI.
	 * Linux (with an MP table) expects this "virtual wire" mode. */
	lvt0 = (uint32_t *)&l.regs[APIC_LVT0];
	lvt1 = (uint32_t *)&l.regs[APIC_LVT1];
	*lvt0 = (*lvt0 & ~0x700u) | (APIC_MODE_EXTINT << 8);
	*lvt1 = (*lvt1 & ~0x700u) | (APIC_MODE_NMI << 8);
	if (ioctl(v->fd, KVM_SET_LAPIC, &l) < 0)
		return -errno;
	return 0;
}

static int setup_boot_vcpu(struct vcpu *v, uint64_t entry)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu = {
		.fcw = 0x37f,     /* x87 default control word after FNINIT */
		.mxcsr = 0x1f80,  /* SSE default: all exceptions masked */
	};

	if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	x86_boot_regs(entry, &regs, &sregs);
	if (ioctl(v->fd, KVM_SET_SREGS, &sregs) < 0)
		return -errno;
	if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	if (ioctl(v->fd, KVM_SET_FPU, &fpu) < 0)
		return -errno;
	return 0;
}

int vm_create_vcpus(struct vm *vm, unsigned n, uint64_t entry, char *err, size_t errlen)
{
	int max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	int ret;

	if (max <= 0)
		max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (max > 0 && n > (unsigned)max)
		return errmsg(err, errlen, EINVAL, "%u vCPUs requested, this host's KVM allows %d", n, max);
	if (n > 1)
		hide_broken_hypercall_features(vm);
	vm->vcpus = calloc(n, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return errmsg(err, errlen, ENOMEM, "out of memory");
	for (unsigned i = 0; i < n; i++) {
		struct vcpu *v = &vm->vcpus[i];

		v->vm = vm;
		v->id = i;
		v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)i);
		if (v->fd < 0)
			return errmsg(err, errlen, errno, "KVM_CREATE_VCPU %u: %s", i, strerror(errno));
		vm->n_vcpus = i + 1;
		v->run = mmap(NULL, vm->run_mmap_size, PROT_READ | PROT_WRITE,
			      MAP_SHARED, v->fd, 0);
		if (v->run == MAP_FAILED) {
			v->run = NULL;
			return errmsg(err, errlen, errno, "mmap of vCPU %u state: %s", i, strerror(errno));
		}
		filter_cpuid(vm->cpuid, i);
		if (ioctl(v->fd, KVM_SET_CPUID2, vm->cpuid) < 0)
			return errmsg(err, errlen, errno, "KVM_SET_CPUID2: %s", strerror(errno));
		ret = set_lapic_lint(v);
		if (ret)
			return errmsg(err, errlen, -ret, "local APIC setup: %s", strerror(-ret));
		/* vCPU 0 is the BSP; the others wait in the in-kernel LAPIC for
		 * INIT/SIPI from the guest (KVM's default MP state for APs). */
		if (i == 0) {
			ret = setup_boot_vcpu(v, entry);
			if (ret)
				return errmsg(err, errlen, -ret, "boot vCPU setup: %s", strerror(-ret));
		}
	}
	return 0;
}

static uint64_t vcpu_rip(struct vcpu *v)
{
	struct kvm_regs r;

	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0)
		return 0;
	return r.rip;
}

static void handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

	/* String I/O (rep outsb/insb) arrives as `count` items of `size`. */
	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
		if (!bus_dispatch(&v->vm->pio, run->io.port, data, run->io.size, is_write)
		    && !is_write)
			memset(data, 0xff, run->io.size); /* nothing there: bus floats high */
	}
}

static void handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint32_t len = run->mmio.len;

	if (len > sizeof(run->mmio.data))
		len = sizeof(run->mmio.data);
	if (!bus_dispatch(&v->vm->mmio, run->mmio.phys_addr, run->mmio.data, len,
			  run->mmio.is_write) && !run->mmio.is_write)
		memset(run->mmio.data, 0xff, len);
}

/* Handle one exit. Returns false when this vCPU must stop. */
static bool handle_exit(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct kvm_run *run = v->run;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(v);
		return true;
	case KVM_EXIT_MMIO:
		handle_mmio(v);
		return true;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_HLT:
		/* With the in-kernel LAPIC, HLT is handled by KVM; we only see
		 * it if the guest halted for good. */
		vm_request_exit(vm, VMM_EXIT_OK, "vCPU %u halted", v->id);
		return false;
	case KVM_EXIT_SHUTDOWN:
		vm_request_exit(vm, VMM_EXIT_GUEST_CRASH,
				"guest triple fault (KVM_EXIT_SHUTDOWN) on vCPU %u at rip=0x%llx",
				v->id, (unsigned long long)vcpu_rip(v));
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		vm_request_exit(vm, VMM_EXIT_GUEST_CRASH,
				"KVM internal error (suberror %u) on vCPU %u at rip=0x%llx",
				run->internal.suberror, v->id,
				(unsigned long long)vcpu_rip(v));
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		vm_request_exit(vm, VMM_EXIT_GUEST_CRASH,
				"KVM entry failed (reason 0x%llx) on vCPU %u at rip=0x%llx",
				(unsigned long long)run->fail_entry.hardware_entry_failure_reason,
				v->id, (unsigned long long)vcpu_rip(v));
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_CRASH) {
			vm_request_exit(vm, VMM_EXIT_GUEST_CRASH, "guest reported a crash");
		} else {
			vm_request_exit(vm, VMM_EXIT_OK, NULL);
		}
		return false;
	default:
		vm_request_exit(vm, VMM_EXIT_GUEST_CRASH,
				"unhandled KVM exit reason %u on vCPU %u at rip=0x%llx",
				run->exit_reason, v->id, (unsigned long long)vcpu_rip(v));
		return false;
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;

	/* The vCPU filter, then wait until the I/O thread has its own. */
	sandbox_thread_start(SANDBOX_VCPU, v->id);
	while (!atomic_load(&vm->exiting)) {
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			/* EINTR: a signal; EAGAIN: an AP's first KVM_RUN before its
			 * SIPI arrived (test-hosts.md). Both: run again. */
			if (errno == EINTR || errno == EAGAIN) {
				if (errno == EINTR)
					debug_vcpu_kicked(v); /* SIGQUIT dump */
				continue;
			}
			vm_request_exit(vm, VMM_EXIT_GUEST_CRASH, "KVM_RUN on vCPU %u: %s",
					v->id, strerror(errno));
			break;
		}
		if (vm->trace_boot && v->id == 0 && !vm->t_first_exit)
			vm->t_first_exit = vm_now_ns();
		if (!handle_exit(v))
			break;
	}
	return NULL;
}

/* SIGUSR1 only interrupts KVM_RUN (EINTR); the handler does nothing. */
static void kick_handler(int sig)
{
	(void)sig;
}

void vm_stop_vcpus(struct vm *vm)
{
	struct timespec ts;

	atomic_store(&vm->exiting, true);
	for (unsigned i = 0; i < vm->n_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (!v->started)
			continue;
		/* immediate_exit makes a KVM_RUN that is about to start return
		 * EINTR at once, closing the window between the thread's check
		 * of `exiting` and its entry into KVM_RUN; the signal takes it
		 * out of a KVM_RUN already under way (e.g. a halted AP). */
		v->run->immediate_exit = 1;
		for (;;) {
			pthread_kill(v->thread, SIGUSR1);
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 10 * 1000 * 1000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			if (pthread_timedjoin_np(v->thread, NULL, &ts) == 0)
				break;
		}
		v->started = false;
	}
}

int vm_start_vcpus(struct vm *vm)
{
	struct sigaction sa = { .sa_handler = kick_handler };
	pthread_attr_t attr;
	int ret;

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		return -errno;
	/* SIGQUIT prints every vCPU's state (debug.h). */
	ret = debug_init(vm);
	if (ret)
		return ret;
	pthread_attr_init(&attr);
	/* The run loop needs little stack; keep the VMM's footprint small. */
	pthread_attr_setstacksize(&attr, VCPU_STACK_SIZE);
	for (unsigned i = 0; i < vm->n_vcpus; i++) {
		sandbox_expect_thread();
		ret = pthread_create(&vm->vcpus[i].thread, &attr, vcpu_thread, &vm->vcpus[i]);
		if (ret) {
			pthread_attr_destroy(&attr);
			return -ret;
		}
		vm->vcpus[i].started = true;
	}
	pthread_attr_destroy(&attr);
	return 0;
}
