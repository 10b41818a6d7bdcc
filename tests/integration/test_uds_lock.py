"""One VMM per socket path: `<path>.lock` is taken before anything else, so
a second VMM on the same uds_path (or forward_in Unix path) exits 1 at once
with a clear message and never touches the first one's socket files."""
import fcntl
import os
import subprocess
import time

import pytest

from conftest import VMM, TESTGUEST, needs_kvm, run_vmm
from vsockhost import host_connect_once, wait_until

LOCKED = "is in use by another vmm (lock "


def only_line(r):
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("vmm: error: "), r.stderr
    return lines[0]


def test_locked_uds_path_is_refused(tmp_path):
    uds = str(tmp_path / "v.sock")
    with open(uds + ".lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        line = only_line(run_vmm(["run", "--kernel", TESTGUEST, "--vsock-cid", "3",
                                  "--vsock-uds", uds], timeout=10))
        assert line == f"vmm: error: vsock uds_path {uds} {LOCKED}{uds}.lock)", line
        line = only_line(run_vmm(["run", "--kernel", TESTGUEST, "--vsock-cid", "3",
                                  "--vsock-forward-in", f"unix:{uds}=5"], timeout=10))
        assert line == f"vmm: error: vsock forward unix:{uds} {LOCKED}{uds}.lock)", line
    # Nothing was created, probed or removed; the lock file stays.
    assert sorted(os.listdir(tmp_path)) == ["v.sock.lock"]


def start_many(uds, n, extra=()):
    args = [VMM, "run", "--kernel", TESTGUEST, "--mem", "32", "--vsock-cid", "3",
            "--vsock-uds", uds] + list(extra)
    return [subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(n)]


def test_fifty_at_once_refused_cleanly(tmp_path):
    """Without KVM every VMM ends, but each one either owned the path (and
    then failed at /dev/kvm) or was refused by the lock; none fails on the
    socket files of another, and none is left behind."""
    if os.access("/dev/kvm", os.R_OK | os.W_OK):
        pytest.skip("with KVM the owner keeps running: test_fifty_at_once_one_runs")
    uds = str(tmp_path / "v.sock")
    procs = start_many(uds, 50)
    locked = 0
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 1, (p.returncode, err)
        lines = err.splitlines()
        assert len(lines) == 1, err
        if LOCKED in lines[0]:
            locked += 1
        else:
            assert "/dev/kvm" in lines[0], err
    assert locked < 50
    assert sorted(os.listdir(tmp_path)) == ["v.sock.lock"]


@needs_kvm
def test_fifty_at_once_one_runs(tmp_path):
    """50 VMMs on one uds_path at once: exactly one runs and answers on the
    socket, the other 49 exit 1 saying the path is in use."""
    uds = str(tmp_path / "v.sock")
    procs = start_many(uds, 50, ["--cmdline", "scenario=echo-server port=4000 conns=1"])
    try:
        deadline = time.monotonic() + 60
        while sum(p.poll() is not None for p in procs) < 49 and time.monotonic() < deadline:
            time.sleep(0.05)
        ended = [p for p in procs if p.poll() is not None]
        running = [p for p in procs if p.poll() is None]
        assert len(ended) == 49 and len(running) == 1, [p.returncode for p in procs]
        for p in ended:
            err = p.stderr.read()
            assert p.returncode == 1 and LOCKED in err and len(err.splitlines()) == 1, err
        s = wait_until(lambda: host_connect_once(uds, 4000)[0], 30, "CONNECT 4000 via the owner")
        s.sendall(b"ping")
        s.shutdown(1)
        got = b""
        while len(got) < 4:
            b = s.recv(4)
            if not b:
                break
            got += b
        assert got == b"ping"
        s.close()
        assert running[0].wait(60) == 0  # conns=1: the guest is done
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait(10)
    assert not os.path.exists(uds)
