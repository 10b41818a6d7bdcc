"""Real Linux guests (6.1 and 6.12) drive OUR vsock device model without
/dev/kvm: QEMU runs the guest under software emulation (TCG) and its
vhost-user-vsock-device hands the device's rings to `vmm vhost-user`, which
serves them with the same device model and host side (hybrid Unix sockets)
as `vmm run`:

  qemu-system-x86_64 -accel tcg -M microvm ... (guest RAM a shared memfd)
      -chardev socket,id=vs,path=SOCK -device vhost-user-vsock-device,chardev=vs
  build/vmm vhost-user --socket SOCK --vsock-cid 3 --vsock-uds UDS

The guest side is the built-in kernel test driver (vsocktest.scenarios=...,
guest-images/linux/vsocktest/vsocktest.c) and, since guest user space runs
under TCG, also the user-space agent (/bin/vsock-agent); the host side of
every scenario is test_linux_vsock.py's (same listeners, same checks).  QEMU's
microvm adds virtio_mmio.device=... to the command line itself (with
acpi=off; the guests have no ACPI).  QEMU's vhost-user-vsock-device uses
1024-entry rings; -global virtio-mmio.force-legacy=false gives it a modern
(version 2) virtio-mmio transport like ours, so VERSION_1 is negotiated.
The back-end's metrics file gives each kernel's driver profile
(driver_profile; docs/vsock.md "What Linux drivers send").

Skips, with the reason, when qemu-system-x86_64 is not installed.  Budget:
VMM_LINUX_VSOCK_BUDGET (default 600 s) per boot; a boot under TCG on a busy
2-core host takes 10-60 s.  The console tail and both processes' stderr are
printed when it runs out.  VMM_BE_LOG=FILE also appends the back-end's stderr
to FILE as it comes (with VMM_SUITE_CASES, test_linux_vsock.py, for
iterating on one case)."""
import json
import os
import re
import shutil
import subprocess
import threading
import time

import pytest

from conftest import VMM, linux_guest  # noqa: F401 (fixture)
from vsockhost import sockdir  # noqa: F401 (fixture)
from test_linux_vsock import LinuxVmm, run_boot, report, guest_args, run_suite

QEMU = shutil.which("qemu-system-x86_64")
MEM_MIB = 256
# microvm has no keyboard controller: reboot by triple fault, which
# -no-reboot turns into QEMU's exit.  Under TCG RCU stall warnings mean a
# slow host, not a broken guest.
CMDLINE = "console=ttyS0 reboot=t panic=1 rcupdate.rcu_cpu_stall_suppress=1"


class QemuVhostUser(LinuxVmm):
    """`vmm vhost-user` (the back-end), then QEMU (the guest: its console is
    this object's `lines`).  Behaves like LinuxVmm for run_boot."""

    def __init__(self, sockdir, guest, initrd, uds, guest_cmd, deadline,
                 cid=3, be_args=(), name=""):
        # name: a suffix for the socket and metrics files, so that several
        # guests share a sockdir (test_linux_siblings_qemu.py); be_args:
        # more back-end flags (--vsock-peer ...).
        self.sock = os.path.join(sockdir, f"vhost-user{name}.sock")
        self.metrics_path = os.path.join(sockdir, f"metrics{name}.json")
        self.be_err, self.be_lock = [], threading.Lock()
        self.be = subprocess.Popen([VMM, "vhost-user", "--socket", self.sock,
                                    "--vsock-cid", str(cid), "--vsock-uds", uds,
                                    "--metrics", self.metrics_path, *be_args],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        self.be_thread = threading.Thread(target=self._pump_be, daemon=True)
        self.be_thread.start()
        # QEMU connects once at start: wait for the listener (bounded).
        while not os.path.exists(self.sock):
            if self.be.poll() is not None or time.monotonic() > deadline:
                if self.be.poll() is None:   # not left running: the test has no handle
                    self.be.kill()
                    self.be.wait(10)
                self.be_thread.join(5)
                pytest.fail("vmm vhost-user did not start listening:\n" + "\n".join(self.be_err))
            time.sleep(0.02)   # poll interval of a bounded wait
        # The PVH entry of the ELF vmlinux: qboot (microvm's firmware)
        # starts it directly, no decompression under TCG.
        kernel = guest.vmlinux
        argv = [QEMU, "-accel", "tcg",
                "-M", "microvm,x-option-roms=off,rtc=off,isa-serial=on,acpi=off",
                "-cpu", "max", "-m", str(MEM_MIB), "-smp", "1",
                "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio",
                "-global", "virtio-mmio.force-legacy=false",
                "-object", f"memory-backend-memfd,id=mem,size={MEM_MIB}M,share=on",
                "-machine", "memory-backend=mem",
                "-chardev", f"socket,id=vs,path={self.sock}",
                "-device", "vhost-user-vsock-device,chardev=vs",
                "-kernel", kernel, "-initrd", initrd,
                "-append", f"{CMDLINE} {guest_cmd}"]
        try:
            super().__init__(None, deadline, argv=argv)
        except BaseException:
            # No object for the caller's finally to kill: the back-end
            # would outlive the test (and QEMU, if it started).
            if getattr(self, "proc", None) is not None:
                self.proc.kill()
                self.proc.wait(10)
            self.be.kill()
            self.be.wait(10)
            raise

    def _pump_be(self):
        logf = open(os.environ["VMM_BE_LOG"], "a") if os.environ.get("VMM_BE_LOG") else None
        for raw in iter(self.be.stderr.readline, b""):
            if logf:
                logf.write(raw.decode(errors="replace"))
                logf.flush()
            with self.be_lock:
                self.be_err.append(raw.decode(errors="replace").rstrip("\n"))

    def backend_text(self, tail=None):
        with self.be_lock:
            return "\n".join(self.be_err[-tail:] if tail else self.be_err)

    def stderr_text(self):
        return ("--- qemu stderr\n" + super().stderr_text() +
                "\n--- vmm vhost-user stderr\n" + self.backend_text())

    def console(self, tail=80):
        return super().console(tail) + "\n--- vmm vhost-user stderr (tail)\n" + \
            self.backend_text(40)

    def metrics(self):
        """The back-end's last metrics line (written when it exits)."""
        with open(self.metrics_path) as f:
            lines = f.read().splitlines()
        assert lines, "vmm vhost-user wrote no metrics line"
        return json.loads(lines[-1])["vsock"]

    # kill() (run_boot's cleanup) is LinuxVmm's: QEMU only, so that the
    # back-end's own exit after the disconnect can be checked.
    def kill_all(self):
        self.kill()
        if self.be.poll() is None:
            self.be.kill()
            self.be.wait(10)


def driver_profile(version, prefix, m):
    """How this kernel drove the device (docs/vsock.md, "What Linux
    drivers send"), from the back-end's metrics, with the checks that hold
    for every driver: each tx chain was one packet, nothing was refused,
    every rx buffer holds at least a header."""
    s = m["shape"]
    feats = int(m["features"], 16)
    assert m["activations"] >= 1, m
    assert s["tx_chains"] == m["tx_packets_count"] > 0, m
    assert not any(m["pkt_err"].values()), m["pkt_err"]
    assert s["rx_buf_min"] >= 44 and s["rx_chains"] > 0, s
    names = {0: "STREAM", 1: "SEQPACKET", 28: "INDIRECT_DESC", 29: "EVENT_IDX",
             32: "VERSION_1"}
    got = [n for b, n in names.items() if feats >> b & 1]
    pkts = max(m["tx_packets_count"], 1)
    rx_pkts = max(m["rx_packets_count"], 1)
    print(f"  driver profile linux {version} ({prefix}): features {m['features']} "
          f"({' '.join(got)}), rings {m['queue_sizes']}")
    print(f"    tx: {s['tx_chains']} chains, descriptors/chain {s['tx_descs']}, "
          f"header alone {s['tx_hdr_alone']}, header+payload {s['tx_hdr_joined']}, "
          f"indirect {s['tx_indirect']}, largest descriptor {s['tx_desc_max']} B, "
          f"largest chain {s['tx_chain_max']} B")
    print(f"    rx: {s['rx_chains']} buffers, descriptors/buffer {s['rx_descs']}, "
          f"{s['rx_buf_min']}..{s['rx_buf_max']} B, indirect {s['rx_indirect']}")
    print(f"    kicks: tx {m['tx_queue_event_count']} for {m['tx_packets_count']} packets "
          f"({m['tx_queue_event_count'] / pkts:.2f}/packet), rx {m['rx_queue_event_count']}; "
          f"interrupts: rx {m['rx_interrupts']} for {m['rx_packets_count']} packets "
          f"({m['rx_interrupts'] / rx_pkts:.2f}/packet), tx {m['tx_interrupts']}; "
          f"bytes g2h {m['tx_bytes_count']} h2g {m['rx_bytes_count']}")


@pytest.mark.skipif(QEMU is None, reason="qemu-system-x86_64 is not installed "
                    "(Debian package qemu-system-x86)")
@pytest.mark.parametrize("prefix", ["vsocktest", "vsock-agent"])
def test_linux_vsock_over_vhost_user(linux_guest, prefix, sockdir):
    """vsocktest: the built-in kernel driver (tiny initramfs); vsock-agent:
    the same scenarios from guest user space (/bin/vsock-agent in the
    busybox initramfs; user space runs fine under TCG)."""
    g = linux_guest.require("vsocktest_init")
    initrd = g.initrd_min if prefix == "vsocktest" else g.initrd_gz
    vms = []

    def launch(uds, cmd, deadline):
        vms.append(QemuVhostUser(sockdir, g, initrd, uds, cmd, deadline))
        return vms[-1]

    try:
        results, vm, ls, client, times, done = run_boot(
            sockdir, g, "qemu-tcg", prefix, guest_args(prefix), initrd, launch=launch)
        assert vm.proc.returncode == 0, f"qemu exit {vm.proc.returncode}\n{vm.console()}"
        # The front-end went away with the guest: the back-end exits 0.
        try:
            rc = vm.be.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"vmm vhost-user still running after QEMU exited\n{vm.backend_text()}")
        vm.be_thread.join(5)
        assert rc == 0, f"vmm vhost-user exit {rc}\n{vm.backend_text()}"
        out = "\n".join(l for _, l in vm.lines)
        if prefix == "vsocktest":
            dev = re.search(r"vsocktest: device (\S+) virtio=\S+ id=19 driver=(\S+)", out)
            assert dev and dev.group(2) == "vmw_vsock_virtio_transport", out[-3000:]
            assert re.search(r"vsocktest: transport=virtio local_cid=3\b", out), out[-3000:]
        else:
            assert re.search(r"vsock-agent: transport=vsock local_cid=3\b", out), out[-3000:]
        assert "vhost-user: device 19 driver ready" in vm.backend_text(), vm.backend_text()
        print(f"linux {g.version} under QEMU TCG + vmm vhost-user ({prefix}):")
        report("qemu-tcg", prefix, results, vm, ls, client, times, done)
        driver_profile(g.version, prefix, vm.metrics())
        for bad in ("Call Trace", "BUG:", "WARNING:", "Kernel panic"):
            assert bad not in out, f"{bad}\n{vm.console()}"
    finally:
        for v in vms:
            v.kill_all()


@pytest.mark.skipif(QEMU is None, reason="qemu-system-x86_64 is not installed "
                    "(Debian package qemu-system-x86)")
def test_linux_vsock_suite_over_vhost_user(linux_guest, sockdir):
    """vsock_test.c's cases (vsocktest/cases.c, test_linux_vsock.py's
    host side and per-kernel skip table), one boot per kernel."""
    g = linux_guest.require("vsocktest_init")
    vms = []

    def launch(uds, guest_cmd, deadline):
        vms.append(QemuVhostUser(sockdir, g, g.initrd_min, uds, guest_cmd, deadline))
        return vms[-1]

    try:
        run_suite(g, sockdir, "qemu-tcg", launch)
    finally:
        for v in vms:
            v.kill_all()
