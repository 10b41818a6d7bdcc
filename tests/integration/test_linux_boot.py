"""Real Linux 6.1 and 6.12 guest kernels (guest-images/linux) boot under vmm and
its virtio-mmio vsock driver binds our device, with either discovery mode,
on 2 vCPUs.

On this project's PVM hosts Linux user space cannot run (test-hosts.md), so
the boot ends at "Run /init as init process" followed by a panic, which vmm
reports as a guest panic (exit 4: pvpanic, or the panic=1 reboot; see
test_linux_panic.py).  On an ordinary KVM host /init runs, its shell sees
EOF on stdin and the guest reboots: exit 0.  One boot per kernel and mode; slow on PVM hosts (~40-70 s each,
up to 4 min under load)."""
import os
import pytest
from conftest import run_vmm, needs_kvm, linux_cmdline, linux_guest, is_pvm_host  # noqa: F401 (fixture)

pytestmark = needs_kvm

# Sized for a 2-core PVM host at load ~4, where one boot took almost 4 min;
# run_vmm prints the console tail when it runs out.
BOOT_TIMEOUT = float(os.environ.get("VMM_LINUX_BOOT_BUDGET", "600"))


@pytest.mark.parametrize("discovery", ["cmdline", "fdt"])
def test_linux_boots_and_binds_vsock(linux_guest, discovery, tmp_path):
    g = linux_guest.require()
    # Uncompressed initrd: inflating gzip in the guest costs ~20 s on PVM hosts.
    r = run_vmm(["run", "--kernel", g.vmlinux, "--initrd", g.initrd, "--mem", "256", "--vcpus", "2",
                 "--vsock-cid", "3", "--vsock-uds", str(tmp_path / "v.sock"),
                 "--discovery", discovery, "--trace-boot",
                 "--cmdline", linux_cmdline()], timeout=BOOT_TIMEOUT)
    out = r.stdout
    assert r.returncode == (4 if is_pvm_host() else 0), (r.returncode, out[-3000:], r.stderr)
    assert "Run /init as init process" in out, out[-3000:]
    # Both vCPUs came up (MP table, or the device tree's cpu nodes).
    assert "smp: Brought up 1 node, 2 CPUs" in out, out[-3000:]
    # Linux's 8250 driver found a 16550A (not a lesser UART) at COM1.
    assert "ttyS0 at I/O 0x3f8 (irq = 4, base_baud = 115200) is a 16550A" in out
    # The host saw the guest's virtio_vsock driver finish its probe.
    assert "virtio-mmio@0xd0000000: device 19 driver ready" in r.stderr, r.stderr
    if discovery == "cmdline":
        assert "virtio_mmio.device=4K@0xd0000000:5" in out
        assert "virtio-mmio: Registering device virtio-mmio.0 at 0xd0000000-0xd0000fff, IRQ 5." in out
    else:
        assert "virtio_mmio.device" not in out
        assert "found SMP MP-table" not in out  # the tree replaces the MP table
    for bad in ("probe of", "failed with error", "Call Trace", "BUG:", "WARNING:"):
        before_init = out.split("Run /init as init process")[0]
        assert bad not in before_init, bad
