/* SPDX-License-Identifier: MIT */
/*
 * The virtual machine: KVM file descriptors, guest RAM, the two buses, the
 * legacy devices, the vCPUs and the I/O thread's event loop.  Set up in
 * main() in a fixed order (see main.c); after the vCPU threads start, the
 * buses and the device list are read-only.
 */
#ifndef VMM_VM_H
#define VMM_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "devices/bus.h"
#include "devices/debug_exit.h"
#include "devices/i8042.h"
#include "devices/pvpanic.h"
#include "devices/serial.h"
#include "base/clock.h"
#include "base/guest_mem.h"
#include "base/evloop.h"
#include "exit_status.h"


struct vm;

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
};

struct vm {
	int kvm_fd, vm_fd;
	int run_mmap_size;
	struct guest_mem mem;
	struct bus pio, mmio;
	struct serial serial;
	struct i8042 i8042;
	struct pvpanic pvpanic;
	struct debug_exit debug_exit;
	struct evloop *ev;
	unsigned n_vcpus;
	struct vcpu *vcpus;
	struct kvm_cpuid2 *cpuid; /* KVM_GET_SUPPORTED_CPUID, filtered */

	/* The first vm_request_exit() wins; the I/O thread then ends the VMM. */
	atomic_bool exiting;
	int exit_code;
	char exit_msg[256];
	/* Panic detection (docs/config.md "Guest panics"): the reboot of a
	 * panic is recognised (we added reboot=panic_warm); the guest
	 * reported a panic and runs its crash kernel (a clean end is then
	 * still the panic status). */
	bool panic_reboot;
	atomic_bool crash_kernel;

	bool trace_boot;
	uint64_t t_main, t_first_exit; /* CLOCK_MONOTONIC ns, for --trace-boot */
};

/* Open /dev/kvm, check the API version and every capability we use, create
 * the VM with in-kernel irqchip and PIT and register vm->mem (already
 * mapped with gm_init) as guest RAM. 0 or -errno with a message in err. */
int vm_create(struct vm *vm, char *err, size_t errlen);

/* Create n vCPUs (not yet running) with filtered CPUID; vCPU 0 gets the
 * boot register state for `entry`. 0 or -errno with a message in err. */
int vm_create_vcpus(struct vm *vm, unsigned n, uint64_t entry, char *err, size_t errlen);

/* Start one thread per vCPU. 0 or -errno. */
int vm_start_vcpus(struct vm *vm);

/* Make every vCPU thread leave KVM_RUN and end, and wait for them (after an
 * exit request).  Afterwards no device is called from a vCPU thread. */
void vm_stop_vcpus(struct vm *vm);

/* Raise or lower a guest interrupt line (GSI) on the in-kernel irqchip. */
void vm_set_irq(struct vm *vm, unsigned gsi, int level);

/* Ask the VMM to end with `code`; the first request wins. Thread safe.
 * `fmt` describes why (printed to stderr unless code is VMM_EXIT_OK and
 * fmt is NULL). */
void vm_request_exit(struct vm *vm, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));


#endif
