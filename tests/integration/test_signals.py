"""Terminating signals end the VMM promptly at any point, with 128+N, and
leave no socket files behind (only the `<path>.lock` files, which stay by
design, docs/vsock.md).

To stop the VMM at a known point of its start-up without KVM, its stderr is
a pipe that is already full: the first line it writes (on a host without
KVM, the /dev/kvm error, after the vsock sockets exist) blocks.  With KVM
the test guest runs an echo server instead, and the signal reaches the
running VMM; either way the outcome must be the same."""
import os
import signal
import subprocess
import threading
import time

import pytest

from conftest import VMM, TESTGUEST, have_kvm
from vsockhost import wait_until


def full_pipe():
    """(read end, write end) of a pipe whose buffer is full."""
    r, w = os.pipe()
    os.set_blocking(w, False)
    try:
        while True:
            os.write(w, b"x" * 65536)
    except BlockingIOError:
        pass
    os.set_blocking(w, True)  # the VMM's writes must block, not fail
    return r, w


def start_stalled(tmp_path, preexec=None):
    uds = str(tmp_path / "v.sock")
    r, w = full_pipe()
    args = [VMM, "run", "--kernel", TESTGUEST, "--mem", "32",
            "--cmdline", "scenario=echo-server port=4000",
            "--vsock-cid", "3", "--vsock-uds", uds,
            "--vsock-forward-in", f"unix:{tmp_path}/in.sock=5"]
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=w, preexec_fn=preexec)
    os.close(w)
    wait_until(lambda: os.path.exists(uds) or p.poll() is not None, 10, "the socket file")
    assert p.poll() is None, p.returncode
    return p, r


def drain(fd):
    """Read the stderr pipe to EOF in the background (a running VMM writes
    its exit line there)."""
    def run():
        while os.read(fd, 65536):
            pass
        os.close(fd)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def leftovers(tmp_path):
    return sorted(f for f in os.listdir(tmp_path) if not f.endswith(".lock"))


TERMINATING = ["SIGTERM", "SIGINT", "SIGHUP", "SIGALRM", "SIGUSR2", "SIGVTALRM",
               "SIGPROF", "SIGXCPU", "SIGXFSZ", "SIGPWR", "SIGIO"]


@pytest.mark.parametrize("name", TERMINATING + ["SIGRTMIN", "SIGRTMAX", "SIGQUIT", "SIGUSR1"])
def test_signal_ends_vmm_and_removes_sockets(tmp_path, name):
    if name in ("SIGQUIT", "SIGUSR1") and have_kvm():
        pytest.skip(f"{name} is the VMM's own once the vCPUs run (vCPU dump, kick)")
    sig = getattr(signal, name)
    p, r = start_stalled(tmp_path)
    try:
        time.sleep(0.2)  # let it reach the blocked write (or the running guest)
        assert p.poll() is None, p.returncode
        p.send_signal(sig)
        t = drain(r)
        assert p.wait(10) == 128 + sig
        t.join(10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert leftovers(tmp_path) == []


def test_signal_blocked_at_exec_still_ends_vmm(tmp_path):
    """A parent's blocked mask is inherited across exec; a SIGTERM pending
    under it ends the VMM as soon as it starts."""
    def block_and_raise():
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM])
        os.kill(os.getpid(), signal.SIGTERM)
    uds = str(tmp_path / "v.sock")
    p = subprocess.run([VMM, "run", "--kernel", TESTGUEST, "--vsock-cid", "3", "--vsock-uds", uds],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=10,
                       preexec_fn=block_and_raise)
    assert p.returncode == 143, (p.returncode, p.stderr)
    assert leftovers(tmp_path) == []


def test_ignored_sighup_stays_ignored(tmp_path):
    """nohup: a SIGHUP ignored by the parent stays ignored; SIGTERM still
    ends the VMM."""
    p, r = start_stalled(tmp_path, preexec=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    try:
        p.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        assert p.poll() is None, p.returncode
        p.send_signal(signal.SIGTERM)
        drain(r)
        assert p.wait(10) == 143
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert leftovers(tmp_path) == []


def test_failed_start_removes_sockets(tmp_path):
    """exit(1) after the sockets exist (here: no KVM) removes them."""
    if have_kvm():
        pytest.skip("needs a start-up that fails after the sockets exist: no /dev/kvm")
    uds = str(tmp_path / "v.sock")
    p = subprocess.run([VMM, "run", "--kernel", TESTGUEST, "--vsock-cid", "3", "--vsock-uds", uds,
                        "--vsock-forward-in", f"unix:{tmp_path}/in.sock=5"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10)
    assert p.returncode == 1 and "/dev/kvm" in p.stderr, p.stderr
    assert leftovers(tmp_path) == []
