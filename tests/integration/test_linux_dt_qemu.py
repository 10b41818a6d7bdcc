"""Our x86 device tree, as `vmm run --discovery fdt` builds it, is accepted by
real Linux 6.1 and 6.12 kernels: booted under QEMU's software emulation
(TCG), which needs no /dev/kvm, with the tree passed the way vmm passes it
(a SETUP_DTB entry in boot_params.setup_data; QEMU's -dtb does that for a
bzImage).

What must show that the kernel took the tree, and not QEMU's own MP table:
  - the virtio,mmio node became a platform device "d0000000.virtio" (QEMU has
    nothing at that address, so its probe reads a wrong magic value: the
    point is that the node was populated at all);
  - every vCPU of the tree is up, and no MP-table processor was parsed
    ("Processor #N" lines come only from the MP table);
  - the IO-APIC was registered.
Linux >= 6.7 ignores a tree whose root has no "compatible" (of_have_populated_dt),
which this test catches on 6.12.  vmm's own boot of both kernels in both
discovery modes is tests/integration/test_linux_boot.py (needs /dev/kvm).

Skips, with the reason, when qemu-system-x86_64 is not installed
(.ci/packages installs it)."""
import os
import shutil
import subprocess

import pytest

from conftest import BUILD, linux_guest  # noqa: F401 (fixture)

QEMU = shutil.which("qemu-system-x86_64")
DTB_TOOL = os.path.join(BUILD, "tests", "tools", "dtb-x86")
VCPUS = 2
MEM_MIB = 256
# Software emulation of a whole kernel boot on a busy 2-core host.
BUDGET = float(os.environ.get("VMM_QEMU_BOOT_BUDGET", "300"))


@pytest.mark.skipif(QEMU is None, reason="qemu-system-x86_64 is not installed "
                    "(Debian package qemu-system-x86)")
def test_linux_accepts_our_device_tree(linux_guest, tmp_path):
    g = linux_guest.require()
    bz = os.path.join(g.dir, "bzImage")
    if not os.path.exists(bz):
        pytest.fail(f"{bz} is missing: stale build, run 'make guest-linux'")
    cmdline = "console=ttyS0 reboot=k panic=1"
    dtb = str(tmp_path / "vm.dtb")
    subprocess.run([DTB_TOOL, dtb, str(MEM_MIB), str(VCPUS), "1", cmdline], check=True)
    args = [QEMU, "-accel", "tcg", "-M", "pc", "-cpu", "max", "-smp", str(VCPUS),
            "-m", str(MEM_MIB), "-nographic", "-no-reboot", "-nodefaults",
            "-serial", "stdio", "-kernel", bz, "-initrd", g.initrd_min,
            "-dtb", dtb, "-append", cmdline]
    try:
        r = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=BUDGET)
        out = r.stdout.decode(errors="replace")
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace")
        pytest.fail(f"linux {g.version} under QEMU did not finish within {BUDGET:.0f} s "
                    f"(a slow host is no failure of the tree: raise VMM_QEMU_BOOT_BUDGET)\n"
                    f"--- console tail\n{out[-4000:]}")
    tail = out[-4000:]
    print(f"linux {g.version}: " + "\n".join(l for l in out.splitlines()
          if "virtio" in l or "smp:" in l or "IOAPIC" in l or "init-min" in l))
    assert "vmm-guest-init-min: up" in out, tail
    assert "d0000000.virtio" in out, "the virtio,mmio node was not populated\n" + tail
    assert f"smp: Brought up 1 node, {VCPUS} CPUs" in out, tail
    assert "Processor #" not in out, "CPUs came from QEMU's MP table, not the tree\n" + tail
    assert "IOAPIC[0]: apic_id" in out, tail
    for bad in ("Call Trace", "BUG:", "WARNING:"):
        assert bad not in out, f"{bad}\n{tail}"
