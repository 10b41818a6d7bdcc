"""Shared helpers for integration tests: paths, running vmm with a deadline."""
import os
import subprocess
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, "build")
VMM = os.path.join(BUILD, "vmm")
TESTGUEST = os.path.join(BUILD, "testguest")
# The Linux guests (guest-images/linux/build.sh VERSION): one folder each.
# VMM_GUEST_LINUX_DIR: test other builds (a folder with the same layout).
LINUX_DIR = os.environ.get("VMM_GUEST_LINUX_DIR", os.path.join(BUILD, "guest-linux"))
LINUX_VERSIONS = ("6.1", "6.12")


class LinuxGuest:
    """The files of one Linux guest build."""

    def __init__(self, version):
        self.version = version
        d = os.path.join(LINUX_DIR, version)
        self.dir = d
        self.vmlinux = os.path.join(d, "vmlinux")
        self.initrd = os.path.join(d, "initramfs.cpio")        # uncompressed
        self.initrd_gz = os.path.join(d, "initramfs.cpio.gz")
        self.initrd_min = os.path.join(d, "initramfs-min.cpio")
        self.sysmap = os.path.join(d, "System.map")

    def require(self, symbol=None):
        """Fail (not skip) when the build is missing or stale: `make test`
        builds both guests first."""
        if not os.path.exists(self.vmlinux):
            pytest.fail(f"{self.vmlinux} is missing: run 'make guest-linux' first")
        if symbol:
            with open(self.sysmap) as f:
                if symbol not in f.read():
                    pytest.fail(f"{self.vmlinux} has no {symbol}: stale build, "
                                "run 'make guest-linux'")
        return self


@pytest.fixture(params=LINUX_VERSIONS, ids=lambda v: f"linux-{v}")
def linux_guest(request):
    return LinuxGuest(request.param)


def have_kvm():
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


def is_pvm_host():
    """This project's build/CI hosts run KVM's PVM flavour (see
    docs/test-hosts.md): Linux guests need extra command-line flags."""
    return os.path.isdir("/sys/module/kvm_pvm")


def linux_cmdline():
    """The Linux guest's base command line; on PVM hosts plus the
    clearcpuid= list the guest needs there and the suppression of RCU stall
    warnings, which a guest whose ring 0 is interpreted prints on a busy
    host (guest-images/linux/cmdline-pvm.txt, see docs/test-hosts.md).  The
    VMM's own defaults stay those of an ordinary KVM host."""
    cmd = "console=ttyS0 reboot=k panic=1"
    if is_pvm_host():
        with open(os.path.join(ROOT, "guest-images", "linux", "cmdline-pvm.txt")) as f:
            cmd += " " + f.read().strip()
    return cmd


needs_kvm = pytest.mark.skipif(not have_kvm(), reason="/dev/kvm is not available on this host")


def run_vmm(args, timeout=60, **kw):
    """Run build/vmm with args; return CompletedProcess (text mode).
    A timeout is a test failure with the output so far."""
    try:
        return subprocess.run([VMM] + list(args), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, errors="replace", timeout=timeout, **kw)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = (e.stderr or b"").decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        pytest.fail(f"vmm {' '.join(args)} timed out after {timeout}s\n"
                    f"--- stdout (tail)\n{out[-3000:]}\n--- stderr\n{err[-2000:]}")
