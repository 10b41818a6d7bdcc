"""A real Linux guest that panics ends vmm with the guest-panic status (4),
in both discovery modes, on 6.1 and 6.12 (issue 16).

- `--discovery fdt`: the device tree describes vmm's pvpanic register
  ("qemu,pvpanic-mmio"); the guest kernel (CONFIG_PVPANIC_MMIO) reports the
  panic from its panic notifier and vmm ends at once, before the panic=1
  reboot.
- `--discovery cmdline`: Linux cannot find pvpanic (no device tree, no
  ACPI); vmm adds `reboot=panic_warm` to the command line and recognises the
  reboot that follows the panic (panic=1: one second later).

The panic is the one a test runner meets most: /init dies.  The busybox
initramfs' /init exits at once with `vmminit=panic` on the command line
("Kernel panic - not syncing: Attempted to kill init!").  A second case
needs no user space at all: an initramfs without the init asked for
(`rdinit=`) and none of the fallbacks ("No working init found").

Then power-off: 6.12's pvpanic driver also reports a power-off
(PVPANIC_SHUTDOWN), so `poweroff` ends the VM with 0 under fdt discovery;
6.1's does not, and without a power-off method Linux halts for good, which
only --timeout ends (124)."""
import os
import pytest
from conftest import run_vmm, needs_kvm, linux_cmdline, linux_guest  # noqa: F401 (fixture)

pytestmark = needs_kvm

PANIC = 4
TIMEOUT = 124
BOOT_TIMEOUT = float(os.environ.get("VMM_LINUX_BOOT_BUDGET", "600"))


def boot(g, discovery, extra, initrd=None, more=()):
    return run_vmm(["run", "--kernel", g.vmlinux, "--initrd", initrd or g.initrd,
                    "--mem", "256", "--discovery", discovery,
                    "--cmdline", linux_cmdline() + " " + extra] + list(more),
                   timeout=BOOT_TIMEOUT)


def vmm_lines(r):
    return [l for l in r.stderr.splitlines() if l.startswith("vmm:")]


def expected_line(discovery):
    if discovery == "fdt":
        return "vmm: guest kernel panicked (pvpanic event 0x1)"
    return "vmm: guest kernel panicked (it rebooted in its panic reboot mode, reboot=panic_warm)"


@pytest.mark.parametrize("discovery", ["cmdline", "fdt"])
def test_init_exits_kernel_panics(linux_guest, discovery):
    g = linux_guest.require("pvpanic_panic_notify")
    r = boot(g, discovery, "vmminit=panic")
    out = r.stdout
    assert r.returncode == PANIC, (r.returncode, out[-3000:], r.stderr)
    assert "vmm-guest-init: exiting on purpose (vmminit=panic)" in out, out[-3000:]
    assert "Kernel panic - not syncing: Attempted to kill init!" in out, out[-3000:]
    assert vmm_lines(r) == [expected_line(discovery)], r.stderr
    if discovery == "cmdline":
        assert "reboot=panic_warm" in out   # the kernel's "Command line:" echo
    else:
        # Reported from the panic notifier: before the panic=1 reboot.
        assert "Rebooting in 1 seconds" not in out, out[-2000:]


@pytest.mark.parametrize("discovery", ["cmdline", "fdt"])
def test_no_init_kernel_panics(linux_guest, discovery):
    g = linux_guest.require("pvpanic_panic_notify")
    r = boot(g, discovery, "rdinit=/vmm-no-such-init", initrd=g.initrd_min)
    out = r.stdout
    assert r.returncode == PANIC, (r.returncode, out[-3000:], r.stderr)
    assert "Kernel panic - not syncing: No working init found" in out, out[-3000:]
    assert vmm_lines(r) == [expected_line(discovery)], r.stderr


def test_clean_reboot_is_still_zero(linux_guest):
    """The busybox shell sees EOF on stdin and /init reboots: no panic."""
    g = linux_guest.require()
    r = boot(g, "cmdline", "")
    assert r.returncode == 0, (r.returncode, r.stdout[-3000:], r.stderr)
    assert "vmm-guest-init: shell exited, rebooting" in r.stdout


@pytest.mark.parametrize("discovery", ["cmdline", "fdt"])
def test_poweroff(linux_guest, discovery):
    g = linux_guest.require()
    r = boot(g, discovery, "vmminit=poweroff", more=["--timeout", "60"])
    out = r.stdout
    assert "vmm-guest-init: powering off (vmminit=poweroff)" in out, out[-3000:]
    if discovery == "fdt" and g.version != "6.1":
        assert r.returncode == 0, (r.returncode, out[-3000:], r.stderr)
        assert vmm_lines(r) == [], r.stderr
    else:
        # No power-off method: "reboot: System halted", for good.
        assert r.returncode == TIMEOUT, (r.returncode, out[-3000:], r.stderr)
        assert vmm_lines(r) == ["vmm: timeout: the guest still ran after 60 s; stopped it"]
