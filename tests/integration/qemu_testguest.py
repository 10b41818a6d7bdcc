"""The test guest under QEMU (TCG) instead of `vmm run`: for hosts without
/dev/kvm.  QEMU's microvm machine boots build/testguest through its PVH
entry (guest-images/testguest/pvh.h), its vhost-user-vsock-device hands the
vsock device's rings to `vmm vhost-user`, which serves them with our device
model and the same host side as `vmm run` (`<uds>` for CONNECT, `<uds>_<P>`
listeners):

  build/vmm vhost-user --socket SOCK --vsock-cid 3 --vsock-uds UDS
  qemu-system-x86_64 -accel tcg -M microvm,... -no-reboot
      -device isa-debug-exit,iobase=0xf4,iosize=4
      -object memory-backend-memfd,...,share=on -machine memory-backend=mem
      -chardev socket,id=vs,path=SOCK -device vhost-user-vsock-device,chardev=vs
      -kernel build/testguest -append CMDLINE

QEMU appends `virtio_mmio.device=512@0xfeb00e00:12` to the command line
(acpi=off), which the guest parses.  The guest ends a run with a write of
0x10 to the debug-exit port (microvm has no i8042, reset.h): QEMU exits 33.
A triple fault (-no-reboot) exits 0, `scenario=exit code=N` (2N+1).  The
verdict is still the guest's one `testguest: ` line on the console.

QemuVmm has the interface of vsockhost.Vmm (uds, lines, wait_line, result,
alive, rss_kb, kill, with-statement), so the vsock tests' bodies run
unchanged against it (test_testguest_qemu.py).  `pid` is the back-end's:
the process that holds the device and the host sockets, which is what the
fd and memory checks of those tests are about.  One vCPU only: microvm's
firmware lists no processors in its MP table, so the guest would not start
APs anyway, and the vsock scenarios use one.

Budgets: guest-side waits are the callers' times VMM_QEMU_TIME_SCALE
(default 3; a TCG guest on a loaded 2-core host).
"""
import os
import shutil
import subprocess
import threading
import time

import pytest

from conftest import VMM, TESTGUEST
import vsockhost

QEMU = shutil.which("qemu-system-x86_64")
TIME_SCALE = float(os.environ.get("VMM_QEMU_TIME_SCALE", "3"))
# isa-debug-exit: QEMU's exit status is (value << 1) | 1; the guest's PVH
# "reset" writes 0x10 (guest-images/testguest/reset.c).
STATUS_RESET = (0x10 << 1) | 1


def qemu_argv(cmdline, mem, vu_sock=None):
    argv = [QEMU, "-accel", "tcg",
            "-M", "microvm,x-option-roms=off,rtc=off,isa-serial=on,acpi=off",
            "-cpu", "max", "-m", str(mem), "-smp", "1",
            "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=4"]
    if vu_sock:
        # Guest RAM must be shareable with the back-end; a modern (v2)
        # virtio-mmio transport, as ours (the guest drives only version 2).
        argv += ["-global", "virtio-mmio.force-legacy=false",
                 "-object", f"memory-backend-memfd,id=mem,size={mem}M,share=on",
                 "-machine", "memory-backend=mem",
                 "-chardev", f"socket,id=vs,path={vu_sock}",
                 "-device", "vhost-user-vsock-device,chardev=vs"]
    return argv + ["-kernel", TESTGUEST, "-append", cmdline]


def run_qemu(cmdline, timeout=60, mem=256):
    """Boot the test guest without a device; CompletedProcess (text)."""
    try:
        return subprocess.run(qemu_argv(cmdline, mem), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, errors="replace", timeout=timeout * TIME_SCALE)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"qemu ({cmdline}) timed out\n{e.stdout!r}\n{e.stderr!r}")


class QemuVmm(vsockhost.Vmm):
    """`vmm vhost-user`, then QEMU running the test guest with `cmdline`."""

    def __init__(self, tmpdir, cmdline, mem=256, vcpus=1, cid=3, extra=(),
                 name="", be_args=()):
        # name: a suffix for the socket files, so that several VMs share a
        # directory (test_testguest_siblings_qemu.py); be_args: more
        # back-end flags (--vsock-peer CID=PATH, --metrics FILE).
        if vcpus != 1 or extra:
            pytest.skip("under QEMU: one vCPU and no `vmm run` flags")
        self.uds = os.path.join(str(tmpdir), f"v{name}.sock")
        self.vu_sock = os.path.join(str(tmpdir), f"vhost-user{name}.sock")
        self.lines, self.err = [], []
        self.cond = threading.Condition()
        self.be = subprocess.Popen([VMM, "vhost-user", "--socket", self.vu_sock,
                                    "--vsock-cid", str(cid), "--vsock-uds", self.uds,
                                    *be_args],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        self.pid = self.be.pid
        self._be_t = threading.Thread(target=self._pump, args=(self.be.stderr, self.err),
                                      daemon=True)
        self._be_t.start()
        # QEMU connects once, at start: wait for the listener (bounded).
        deadline = time.monotonic() + 30
        while not os.path.exists(self.vu_sock):
            if self.be.poll() is not None or time.monotonic() > deadline:
                self.kill()
                pytest.fail("vmm vhost-user did not start listening\n" + "\n".join(self.err))
            time.sleep(0.02)   # poll interval of a bounded wait
        self.args = qemu_argv(cmdline, mem, self.vu_sock)
        try:
            self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except BaseException:
            self.kill()        # the caller has no object to kill the back-end with
            raise
        self._t = [threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines), daemon=True),
                   threading.Thread(target=self._pump, args=(self.proc.stderr, self.err), daemon=True)]
        for t in self._t:
            t.start()

    def wait_line(self, pattern, timeout=30):
        """As Vmm.wait_line; then, if the guest has set up its vsock
        driver, also until the back-end has the device live.  Through
        vhost-user the rings reach the back-end as messages from QEMU
        (SET_VRING_KICK, SET_VRING_ENABLE) that it may read after the guest
        has printed "listening" and the test has connected: with `vmm run`
        DRIVER_OK is synchronous, here a loaded host could see the CONNECT
        refused or count the back-end's fds before the ring eventfds came."""
        deadline = time.monotonic() + timeout * TIME_SCALE
        m = super().wait_line(pattern, timeout * TIME_SCALE)
        with self.cond:
            while any(l.startswith("tg-note: vsock cid=") for l in self.lines) and \
                    not self._device_live():
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None or self.be.poll() is not None:
                    pytest.fail(f"the back-end never had the device live\n{self.output_unlocked()}")
                self.cond.wait(min(left, 0.2))
        return m

    def _device_live(self):
        """The back-end's log (virtio/vhost_user.c): "driver ready" when the
        first ring goes live (every ring's eventfds have come by then),
        "stopped" when the device resets."""
        ready = sum("vhost-user: device" in l and "driver ready" in l for l in self.err)
        stopped = sum("vhost-user: device" in l and l.endswith(" stopped") for l in self.err)
        return ready > stopped

    def result(self, timeout=120):
        """Wait for QEMU to exit; return the guest's single result line.
        QEMU must have exited through the guest's debug-exit "reset", and
        the back-end, left without its front-end, with 0."""
        timeout *= TIME_SCALE
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"qemu did not finish within {timeout:.0f}s\n{self.output()}")
        for t in self._t:
            t.join(5)
        res = [l for l in self.lines if l.startswith("testguest: ")]
        assert len(res) == 1, f"want exactly one result line\n{self.output()}"
        assert self.proc.returncode == STATUS_RESET, \
            f"qemu exit {self.proc.returncode}, want {STATUS_RESET}\n{self.output()}"
        try:
            self.be.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"vmm vhost-user still running 30 s after qemu\n{self.output()}")
        self._be_t.join(5)
        assert self.be.returncode == 0, f"vmm vhost-user exit {self.be.returncode}\n{self.output()}"
        return res[0]

    def alive(self):
        return self.proc.poll() is None and self.be.poll() is None

    def kill(self):
        for p in (getattr(self, "proc", None), self.be):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait(10)
