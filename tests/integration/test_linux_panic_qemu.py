"""What vmm's command-line-discovery panic detection relies on, checked on
the real Linux 6.1 and 6.12 guests without KVM, under QEMU's software
emulation: with `reboot=panic_warm` (which vmm adds to every command line),
Linux's reboot after a panic leaves the warm-reboot flag 0x1234 at guest
address 0x472 and a clean reboot leaves 0 (docs/config.md, "Guest panics";
vmm/panic_reboot.h).  vmm reads that word when the guest resets the VM.

QEMU's `-action reboot=shutdown,shutdown=pause` stops the guest at its reset
with RAM intact, and the monitor reads the word.  microvm has no i8042, so
the guest reboots by triple fault (`reboot=t`); the flag is written before
any reboot method runs (native_machine_emergency_restart()).  A few seconds
a boot.  The end to end test under vmm itself: test_linux_panic.py (KVM)."""
import os
import shutil
import socket
import subprocess
import time

import pytest

from conftest import ROOT, linux_guest  # noqa: F401 (fixture)

QEMU = shutil.which("qemu-system-x86_64")
pytestmark = pytest.mark.skipif(QEMU is None, reason="qemu-system-x86_64 is not installed "
                                "(apt-get install qemu-system-x86)")
DEADLINE = float(os.environ.get("VMM_QEMU_BOOT_BUDGET", "300"))


class Monitor:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        for _ in range(100):
            try:
                self.s.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                time.sleep(0.1)
        self.s.settimeout(0.5)
        self.cmd("")

    def cmd(self, line):
        self.s.sendall((line + "\n").encode())
        out = b""
        end = time.monotonic() + 2
        while time.monotonic() < end:
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                if out.rstrip().endswith(b"(qemu)"):
                    break
                continue
            if not d:
                break
            out += d
        return out.decode(errors="replace")


def reset_flag(g, tmp_path, initrd, args):
    """Boot until the guest resets; return (flag word at 0x472, console)."""
    mon, log = str(tmp_path / "mon.sock"), str(tmp_path / "console.log")
    p = subprocess.Popen([
        QEMU, "-accel", "tcg", "-M", "microvm,x-option-roms=off,rtc=off,isa-serial=on,acpi=off",
        "-m", "256", "-nographic", "-nodefaults", "-serial", f"file:{log}",
        "-kernel", g.vmlinux, "-initrd", initrd,
        "-append", "console=ttyS0 reboot=t panic=1 reboot=panic_warm " + args,
        "-action", "reboot=shutdown,shutdown=pause", "-monitor", f"unix:{mon},server,nowait"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        m = Monitor(mon)
        end = time.monotonic() + DEADLINE
        while "paused (shutdown)" not in m.cmd("info status"):
            assert p.poll() is None, p.stderr.read().decode(errors="replace")
            if time.monotonic() > end:
                pytest.fail("the guest did not reset\n" + open(log, errors="replace").read()[-3000:])
            time.sleep(0.5)
        word = [l for l in m.cmd("xp /1hx 0x472").splitlines() if "0000000000000472:" in l]
        assert len(word) == 1, word
        m.cmd("quit")
        p.wait(10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return int(word[0].split(":")[1], 16), open(log, errors="replace").read()


def test_init_dies_panic_reboot_is_warm(linux_guest, tmp_path):
    g = linux_guest.require()
    flag, out = reset_flag(g, tmp_path, g.initrd, "vmminit=panic")
    assert "Kernel panic - not syncing: Attempted to kill init!" in out, out[-3000:]
    assert flag == 0x1234, (hex(flag), out[-2000:])


def test_no_init_panic_reboot_is_warm(linux_guest, tmp_path):
    g = linux_guest.require()
    flag, out = reset_flag(g, tmp_path, g.initrd_min, "rdinit=/vmm-no-such-init")
    assert "Kernel panic - not syncing: No working init found" in out, out[-3000:]
    assert flag == 0x1234, (hex(flag), out[-2000:])


def test_clean_reboot_is_cold(linux_guest, tmp_path):
    g = linux_guest.require()
    flag, out = reset_flag(g, tmp_path, g.initrd_min, "")
    assert "vmm-guest-init-min: up" in out, out[-3000:]
    assert "Kernel panic" not in out
    assert flag == 0, (hex(flag), out[-2000:])


def test_reboot_w_makes_every_reboot_warm(linux_guest, tmp_path):
    """Why vmm turns the detection off for reboot=w (panic_reboot_applicable)."""
    g = linux_guest.require()
    flag, out = reset_flag(g, tmp_path, g.initrd_min, "reboot=w")
    assert "Kernel panic" not in out
    assert flag == 0x1234, (hex(flag), out[-2000:])
