/* SPDX-License-Identifier: MIT */
/*
 * Debug aid: send the VMM SIGQUIT (kill -QUIT <pid>, or Ctrl-\ on its
 * terminal) and every vCPU prints its state to stderr: MP state, RIP, the
 * control registers, EFER, CS, pending events, LAPIC ID/ICR, the code
 * bytes at RIP and the top 8 stack words.  The VMM keeps running.  Meant
 * for "where is the guest stuck" questions (see docs/linux-smp-on-pvm.md).
 */
#ifndef VMM_DEBUG_H
#define VMM_DEBUG_H

struct vm;
struct vcpu;

/* Called on the main thread before the vCPU threads are created: blocks
 * SIGQUIT (the vCPU threads inherit the mask) and starts a thread that
 * waits for it.  0 or -errno. */
int debug_init(struct vm *vm);

/* Called by a vCPU thread whenever its KVM_RUN returned EINTR: prints the
 * vCPU's state if a dump was requested since its last one. */
void debug_vcpu_kicked(struct vcpu *v);

#endif
