"""`vmm vhost-user` as a process (no KVM, no QEMU needed): bad input gives
one error line and exit 1; it serves one front-end and exits 0 when the
front-end disconnects, 1 when the front-end breaks the protocol.  The
protocol itself is unit-tested (tests/unit/test_vhost_user.c); the real
front-end is test_linux_vsock_qemu.py."""
import os
import socket
import struct
import subprocess
import time

import pytest

from conftest import VMM, run_vmm
from vsockhost import sockdir  # noqa: F401 (fixture)


def one_error(r):
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    errs = [l for l in r.stderr.splitlines() if l.startswith("vmm: error:")]
    assert len(errs) == 1, r.stderr
    return errs[0]


@pytest.mark.parametrize("args,needle", [
    (["vhost-user"], "--socket"),
    (["vhost-user", "--socket", "/tmp/x.sock"], "--vsock-cid"),
    (["vhost-user", "--socket", "/tmp/x.sock", "--vsock-cid", "3", "--kernel", "k"],
     "does not apply"),
    (["vhost-user", "--socket", "/nonexistent-dir/x.sock", "--vsock-cid", "3"],
     "/nonexistent-dir/x.sock"),
])
def test_bad_arguments(args, needle):
    line = one_error(run_vmm(args, timeout=30))
    assert needle in line, line


def test_socket_path_taken(sockdir):
    path = os.path.join(sockdir, "file")
    open(path, "w").close()
    line = one_error(run_vmm(["vhost-user", "--socket", path, "--vsock-cid", "3"], timeout=30))
    assert "not a socket" in line, line
    live = os.path.join(sockdir, "live.sock")
    l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    l.bind(live)
    l.listen(1)
    try:
        line = one_error(run_vmm(["vhost-user", "--socket", live, "--vsock-cid", "3"],
                                 timeout=30))
        assert "another process is listening" in line, line
    finally:
        l.close()


def start(sockdir):
    path = os.path.join(sockdir, "vu.sock")
    p = subprocess.Popen([VMM, "vhost-user", "--socket", path, "--vsock-cid", "3",
                          "--vsock-uds", os.path.join(sockdir, "v.sock")],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not os.path.exists(path):
        assert p.poll() is None and time.monotonic() < deadline, p.communicate()
        time.sleep(0.02)   # poll interval of a bounded wait
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.settimeout(10)
    return p, s, path


def test_serves_one_front_end_then_exits_0(sockdir):
    p, s, path = start(sockdir)
    try:
        s.sendall(struct.pack("<III", 1, 1, 0))            # GET_FEATURES
        req, flags, size = struct.unpack("<III", s.recv(12, socket.MSG_WAITALL))
        assert (req, flags, size) == (1, 5, 8)
        feats, = struct.unpack("<Q", s.recv(8, socket.MSG_WAITALL))
        assert feats & (1 << 32) and feats & (1 << 30), hex(feats)
        # One front-end only: the listener is gone.
        deadline = time.monotonic() + 10
        while os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not os.path.exists(path)
        s.close()
        out, err = p.communicate(timeout=30)
        assert p.returncode == 0, err
        assert "front-end disconnected" in err, err
        # The hybrid vsock listener was removed too.
        assert not os.path.exists(os.path.join(sockdir, "v.sock"))
    finally:
        p.kill()
        p.wait()


def test_protocol_error_exits_1(sockdir):
    p, s, _ = start(sockdir)
    try:
        s.sendall(struct.pack("<III", 1, 3, 0))            # version 3
        assert s.recv(1) == b""
        out, err = p.communicate(timeout=30)
        assert p.returncode == 1, err
        assert "connection ended: Protocol error" in err, err
    finally:
        s.close()
        p.kill()
        p.wait()


def test_sigterm_exits_143(sockdir):
    p, s, _ = start(sockdir)
    try:
        p.terminate()
        out, err = p.communicate(timeout=30)
        assert p.returncode == 143, err
    finally:
        s.close()
        p.kill()
        p.wait()


def test_metrics_lines_on_sigusr2_and_exit(sockdir):
    """--metrics: SIGUSR2 adds a line (also one sent while it starts: it
    waits, blocked, for the loop), SIGTERM ends it with 143 and a last
    line; the file is owner-only and every line is one JSON object."""
    import json
    import signal
    path = os.path.join(sockdir, "vu.sock")
    mpath = os.path.join(sockdir, "m.json")
    p = subprocess.Popen([VMM, "vhost-user", "--socket", path, "--vsock-cid", "3",
                          "--metrics", mpath],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60

    def wait_until(cond, what):
        while not cond():
            assert p.poll() is None, f"vmm exited {p.returncode} waiting for {what}"
            assert time.monotonic() < deadline, f"no {what} within 60 s"
            time.sleep(0.005)  # poll interval of a bounded wait

    def lines():
        with open(mpath) as f:
            return f.read().count("\n")

    try:
        # Its file exists: the signal below may come before the loop runs.
        wait_until(lambda: os.path.exists(mpath), "metrics file")
        p.send_signal(signal.SIGUSR2)
        wait_until(lambda: lines() >= 1, "first line")
        # One at a time: pending standard signals do not queue.
        p.send_signal(signal.SIGUSR2)
        wait_until(lambda: lines() >= 2, "second line")
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=60) == 128 + signal.SIGTERM
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert os.stat(mpath).st_mode & 0o777 == 0o600
    with open(mpath) as f:
        got = f.read().splitlines()
    assert len(got) == 3, got
    for l in got:
        m = json.loads(l)
        assert m["vsock"]["tx_packets_count"] == 0, m
        assert m["transport"]["kind"] == "vhost-user", m
