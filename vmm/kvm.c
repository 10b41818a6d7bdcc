// SPDX-License-Identifier: MIT
/* KVM VM creation: /dev/kvm checks, in-kernel irqchip and PIT, guest RAM. */
#include "vm.h"
#include "errmsg.h"
#include "base/layout.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>


static const struct {
	int cap;
	const char *name;
} required_caps[] = {
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
	{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
	{ KVM_CAP_PIT2, "KVM_CAP_PIT2" },
	{ KVM_CAP_IRQ_INJECT_STATUS, "KVM_CAP_IRQ_INJECT_STATUS" },
	{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD" },
	{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	{ KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE" },
};

static int open_kvm(char *err, size_t errlen)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == ENOENT)
		return errmsg(err, errlen, errno, "/dev/kvm does not exist: this host has no KVM "
			      "(load kvm_intel or kvm_amd, or enable nested virtualisation)");
	if (errno == EACCES || errno == EPERM)
		return errmsg(err, errlen, errno, "/dev/kvm: permission denied (run as root or "
			      "join the group that owns /dev/kvm, usually 'kvm')");
	return errmsg(err, errlen, errno, "/dev/kvm: %s", strerror(errno));
}

static int fetch_cpuid(struct vm *vm, char *err, size_t errlen)
{
	/* KVM fails with E2BIG until the buffer is big enough. */
	for (int nent = 64; nent <= 4096; nent *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));

		if (!c)
			return errmsg(err, errlen, ENOMEM, "out of memory");
		c->nent = nent;
		if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			vm->cpuid = c;
			return 0;
		}
		free(c);
		if (errno != E2BIG)
			return errmsg(err, errlen, errno, "KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
	}
	return errmsg(err, errlen, E2BIG, "KVM_GET_SUPPORTED_CPUID: too many entries");
}

int vm_create(struct vm *vm, char *err, size_t errlen)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	int ver, ret;

	vm->kvm_fd = vm->vm_fd = -1;
	vm->kvm_fd = open_kvm(err, errlen);
	if (vm->kvm_fd < 0)
		return vm->kvm_fd;
	ver = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (ver != KVM_API_VERSION)
		return errmsg(err, errlen, ENOTSUP, "KVM API version %d, need %d", ver, KVM_API_VERSION);
	for (size_t i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++) {
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0)
			return errmsg(err, errlen, ENOTSUP, "KVM lacks %s", required_caps[i].name);
	}
	vm->run_mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->run_mmap_size < (int)sizeof(struct kvm_run))
		return errmsg(err, errlen, errno, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
	ret = fetch_cpuid(vm, err, errlen);
	if (ret)
		return ret;

	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return errmsg(err, errlen, errno, "KVM_CREATE_VM: %s", strerror(errno));
	/* Guest RAM first: once the TSS pages or the irqchip exist, adding a
	 * memory slot cost 4-7 ms on our hosts instead of ~0.1 ms (measured:
	 * docs/PERFORMANCE.md, start-up), most of the VMM's start-up time. */
	for (unsigned i = 0; i < vm->mem.nregions; i++) {
		const struct gm_region *r = &vm->mem.region[i];
		struct kvm_userspace_memory_region reg = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uintptr_t)r->host,
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &reg) < 0)
			return errmsg(err, errlen, errno, "KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
	}
	/* Intel needs both before the first KVM_RUN; AMD ignores them. */
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)LAYOUT_KVM_TSS) < 0)
		return errmsg(err, errlen, errno, "KVM_SET_TSS_ADDR: %s", strerror(errno));
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0) {
		uint64_t a = LAYOUT_KVM_IDENTITY_MAP;

		if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &a) < 0)
			return errmsg(err, errlen, errno, "KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return errmsg(err, errlen, errno, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return errmsg(err, errlen, errno, "KVM_CREATE_PIT2: %s", strerror(errno));

	return 0;
}

void vm_set_irq(struct vm *vm, unsigned gsi, int level)
{
	struct kvm_irq_level l = { .irq = gsi, .level = level };

	/* Fails only if the irqchip is gone, i.e. while the VM is being torn
	 * down; nothing useful to do then. */
	(void)ioctl(vm->vm_fd, KVM_IRQ_LINE_STATUS, &l);
}

void vm_request_exit(struct vm *vm, int code, const char *fmt, ...)
{
	bool expected = false;
	va_list ap;

	if (!atomic_compare_exchange_strong(&vm->exiting, &expected, true))
		return;
	vm->exit_code = code;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(vm->exit_msg, sizeof(vm->exit_msg), fmt, ap);
		va_end(ap);
	}
	evloop_stop(vm->ev);
}
