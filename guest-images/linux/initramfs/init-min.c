/* SPDX-License-Identifier: MIT */
/*
 * /init of initramfs-min.cpio: the smallest init that proves the kernel
 * reached user space.  No libc: build.sh compiles it with
 * "gcc -static -nostdlib".  It writes one line to the console and restarts
 * the machine (with the VMM's "reboot=k" that ends the VM).
 *
 * Meant for hosts where guest user space cannot run (the project's PVM
 * build/CI hosts, where the first SYSCALL faults) and only the kernel is
 * under test: unpacking this archive costs nothing, while the 2 MB busybox
 * archive takes seconds there.
 */
static long sys(long nr, long a, long b, long c, long d)
{
	register long r10 __asm__("r10") = d;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return ret;
}

#define SYS_write  1
#define SYS_exit   60
#define SYS_sync   162
#define SYS_reboot 169

void _start(void) __attribute__((noreturn, used));

void _start(void)
{
	static const char msg[] = "vmm-guest-init-min: up\n";

	sys(SYS_write, 1, (long)msg, sizeof(msg) - 1, 0);
	sys(SYS_sync, 0, 0, 0, 0);
	/* LINUX_REBOOT_MAGIC1, MAGIC2, LINUX_REBOOT_CMD_RESTART */
	sys(SYS_reboot, (long)0xfee1dead, 672274793, 0x01234567, 0);
	for (;;)
		sys(SYS_exit, 0, 0, 0, 0);
}
