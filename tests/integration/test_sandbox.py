"""The sandbox (docs/sandbox.md) from the outside: seccomp on by default in
every thread kind, a forbidden system call ends the VMM with exit 148 and
one line naming the thread and the call, with the socket files removed;
--no-seccomp and x-vmm.seccomp false turn it off with a warning; listening
Unix sockets are 0600 unless --vsock-socket-group widens them; the VMM runs
as an unprivileged user.

The forbidden calls come from the test-only trigger VMM_TEST_SECCOMP_TRIP
(KIND[:CALL]), which the first thread of KIND pulls right after entering
its filter.  `vmm vhost-user` needs no KVM and runs here everywhere; the
`vmm run` thread kinds (vcpu, io, debug) need /dev/kvm and skip without."""
import grp
import os
import pwd
import shutil
import socket
import stat
import struct
import subprocess
import tempfile
import time

import pytest

from conftest import VMM, TESTGUEST, have_kvm, needs_kvm, run_vmm
from vsockhost import sockdir  # noqa: F401 (fixture)

EXIT_SANDBOX = 148


def wait_for(path, p, timeout=30):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        assert p.poll() is None and time.monotonic() < deadline, p.communicate()
        time.sleep(0.02)   # poll interval of a bounded wait


def vhost_user(sockdir, extra=(), env=None, prefix=()):
    path = os.path.join(sockdir, "vu.sock")
    uds = os.path.join(sockdir, "v.sock")
    p = subprocess.Popen(list(prefix) + [VMM, "vhost-user", "--socket", path, "--vsock-cid", "3",
                                         "--vsock-uds", uds] + list(extra),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, **(env or {})))
    return p, path, uds


def get_features(path):
    """One vhost-user request over a fresh connection; the back-end answers
    from inside its filter."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    s.sendall(struct.pack("<III", 1, 1, 0))            # GET_FEATURES
    req, flags, size = struct.unpack("<III", s.recv(12, socket.MSG_WAITALL))
    assert (req, flags, size) == (1, 5, 8)
    s.recv(8, socket.MSG_WAITALL)
    return s


def proc_status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)


def sandbox_line(err):
    lines = [l for l in err.splitlines() if l.startswith("vmm: error: seccomp:")]
    assert len(lines) == 1, err
    return lines[0]


# ---- vmm vhost-user ---------------------------------------------------------

def test_vhost_user_is_filtered(sockdir):
    """No trigger: the back-end runs filtered (seccomp mode 2, no new
    privileges) and serves a front-end."""
    p, path, uds = vhost_user(sockdir)
    try:
        wait_for(path, p)
        s = get_features(path)
        st = proc_status(p.pid)
        assert st["Seccomp"] == "2" and st["NoNewPrivs"] == "1", st
        s.close()
        out, err = p.communicate(timeout=30)
        assert p.returncode == 0, err
        assert "seccomp" not in err, err
    finally:
        p.kill()
        p.wait()


@pytest.mark.parametrize("call,name", [
    ("execve", "execve"), ("vsock", "socket"), ("open", "openat"),
    ("ioctl", "ioctl"), ("mmap-exec", "mmap"),
])
def test_vhost_user_forbidden_call(sockdir, call, name):
    p, path, uds = vhost_user(sockdir, env={"VMM_TEST_SECCOMP_TRIP": f"vhost-user:{call}"})
    out, err = p.communicate(timeout=30)
    assert p.returncode == EXIT_SANDBOX, err
    line = sandbox_line(err)
    assert line.startswith(f"vmm: error: seccomp: vhost-user thread: forbidden system call "
                           f"{name} (nr "), line
    if call == "vsock":
        assert "args 0x28 " in line, line      # AF_VSOCK = 40
    # Every socket file the back-end made is gone (its lock files stay).
    for f in (path, uds, uds + "_seqpacket"):
        assert not os.path.exists(f), f


def test_vhost_user_no_seccomp_warns(sockdir):
    """--no-seccomp: a warning, no filter (the trigger is not even pulled),
    and the back-end still works."""
    p, path, uds = vhost_user(sockdir, extra=["--no-seccomp"],
                              env={"VMM_TEST_SECCOMP_TRIP": "vhost-user"})
    try:
        wait_for(path, p)
        s = get_features(path)
        assert proc_status(p.pid)["Seccomp"] == "0"
        s.close()
        out, err = p.communicate(timeout=30)
        assert p.returncode == 0, err
        warn = [l for l in err.splitlines() if "seccomp is off" in l]
        assert len(warn) == 1 and warn[0].startswith("vmm: warning: "), err
    finally:
        p.kill()
        p.wait()


def mode_of(path):
    st = os.lstat(path)
    assert stat.S_ISSOCK(st.st_mode), path
    return stat.S_IMODE(st.st_mode), st.st_gid


def test_socket_files_owner_only(sockdir):
    """Every listening Unix socket: uds_path, its _seqpacket twin, a
    forward_in path and the vhost-user socket itself, 0600 whatever the
    umask."""
    fin = os.path.join(sockdir, "in.sock")
    old = os.umask(0)
    try:
        p, path, uds = vhost_user(sockdir, extra=["--vsock-forward-in", f"unix:{fin}=1024"])
    finally:
        os.umask(old)
    try:
        wait_for(path, p)
        for f in (path, uds, uds + "_seqpacket", fin):
            assert mode_of(f)[0] == 0o600, (f, oct(mode_of(f)[0]))
    finally:
        p.terminate()
        p.communicate(timeout=30)


def test_socket_group_widens(sockdir):
    g = grp.getgrnam("nogroup") if "nogroup" in [x.gr_name for x in grp.getgrall()] else None
    if g is None or os.geteuid() != 0:
        pytest.skip("needs root and a 'nogroup' group to give the files to")
    fin = os.path.join(sockdir, "in.sock")
    old = os.umask(0o077)
    try:
        p, path, uds = vhost_user(sockdir, extra=["--vsock-forward-in", f"unix:{fin}=1024",
                                                  "--vsock-socket-group", "nogroup"])
    finally:
        os.umask(old)
    try:
        wait_for(path, p)
        for f in (path, uds, uds + "_seqpacket", fin):
            assert mode_of(f) == (0o660, g.gr_gid), (f, mode_of(f))
    finally:
        p.terminate()
        p.communicate(timeout=30)


def test_socket_group_unknown():
    r = run_vmm(["vhost-user", "--socket", "/tmp/vmm-nosuch.sock", "--vsock-cid", "3",
                 "--vsock-socket-group", "no-such-group-vmm"], timeout=30)
    assert r.returncode == 1, r.stderr
    assert "vmm: error: vsock socket group 'no-such-group-vmm': no such group" in r.stderr


def unprivileged_user():
    """(uid, gid) of 'nobody', or a reason to skip."""
    if os.geteuid() != 0:
        return None, "not root: cannot switch to another user to test"
    if not shutil.which("setpriv"):
        return None, "setpriv (util-linux) is not installed"
    try:
        pw = pwd.getpwnam("nobody")
    except KeyError:
        return None, "no user 'nobody'"
    r = subprocess.run(["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}",
                        "--clear-groups", VMM, "--version"], capture_output=True, text=True)
    if r.returncode != 0:
        return None, f"'nobody' cannot run {VMM}: {r.stderr.strip()}"
    return (pw.pw_uid, pw.pw_gid), None


def test_vhost_user_runs_unprivileged():
    """vmm vhost-user needs no privilege at all: as 'nobody' (no groups,
    no capabilities) it listens, is filtered and serves a front-end; its
    socket files are nobody's and 0600, so root connects but nobody else
    could."""
    ids, why = unprivileged_user()
    if ids is None:
        pytest.skip(why)
    d = tempfile.mkdtemp(prefix="vsu", dir="/tmp")
    try:
        os.chown(d, ids[0], ids[1])
        p, path, uds = vhost_user(d, prefix=["setpriv", f"--reuid={ids[0]}",
                                             f"--regid={ids[1]}", "--clear-groups",
                                             "--inh-caps=-all", "--bounding-set=-all"])
        try:
            wait_for(path, p)
            st = os.lstat(uds)
            assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (ids[0], 0o600)
            s = get_features(path)
            status = proc_status(p.pid)
            assert status["Uid"].split()[0] == str(ids[0]), status
            assert status["CapEff"] == "0000000000000000", status
            assert status["Seccomp"] == "2", status
            s.close()
            out, err = p.communicate(timeout=30)
            assert p.returncode == 0, err
        finally:
            p.kill()
            p.wait()
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---- vmm run ------------------------------------------------------------------

def test_run_config_seccomp_false_warns(tmp_path):
    """x-vmm.seccomp false warns at start-up, before KVM is opened: here
    and on KVM hosts alike."""
    cfg = tmp_path / "vm.json"
    cfg.write_text('{"boot-source": {"kernel_image_path": "%s", "boot_args": "scenario=hello"},'
                   ' "x-vmm": {"seccomp": false}}' % TESTGUEST)
    r = run_vmm(["run", "--config", str(cfg)], timeout=120)
    warn = [l for l in r.stderr.splitlines() if "seccomp is off" in l]
    assert len(warn) == 1 and warn[0].startswith("vmm: warning: "), r.stderr
    if have_kvm():
        assert r.returncode == 0, r.stderr
    else:
        assert r.returncode == 1 and "/dev/kvm" in r.stderr, r.stderr


@needs_kvm
@pytest.mark.parametrize("trip,thread,name", [
    ("vcpu", "vCPU 0 thread", "execve"),
    ("vcpu:ioctl", "vCPU 0 thread", "ioctl"),
    ("vcpu:vsock", "vCPU 0 thread", "socket"),
    ("io", "I/O thread", "execve"),
    ("io:open", "I/O thread", "openat"),
    ("debug", "SIGQUIT dumper thread", "execve"),
])
def test_run_forbidden_call(sockdir, trip, thread, name):
    uds = os.path.join(sockdir, "v.sock")
    r = run_vmm(["run", "--kernel", TESTGUEST, "--cmdline", "scenario=hello", "--vcpus", "2",
                 "--vsock-cid", "3", "--vsock-uds", uds], timeout=120,
                env=dict(os.environ, VMM_TEST_SECCOMP_TRIP=trip))
    assert r.returncode == EXIT_SANDBOX, r.stderr
    line = sandbox_line(r.stderr)
    assert line.startswith(f"vmm: error: seccomp: {thread}: forbidden system call {name} (nr "), line
    assert not os.path.exists(uds) and not os.path.exists(uds + "_seqpacket")


@needs_kvm
def test_run_is_filtered_and_boots(sockdir):
    """The guest runs with every thread filtered (the hello scenario goes
    through the UART, KVM_RUN, and the exit path)."""
    r = run_vmm(["run", "--kernel", TESTGUEST, "--cmdline", "scenario=hello", "--vcpus", "2",
                 "--vsock-cid", "3", "--vsock-uds", os.path.join(sockdir, "v.sock"),
                 "--trace-boot"], timeout=120)
    assert r.returncode == 0, r.stderr
    assert "seccomp" not in r.stderr, r.stderr
    assert "trace-boot" in r.stderr, r.stderr   # /proc/self/smaps read at exit


@needs_kvm
def test_run_unprivileged_kvm_group():
    """vmm run needs /dev/kvm and nothing else: as 'nobody' with /dev/kvm's
    group (no capabilities), it boots the test guest."""
    ids, why = unprivileged_user()
    if ids is None:
        pytest.skip(why)
    kvm_gid = os.stat("/dev/kvm").st_gid
    r = subprocess.run(["setpriv", f"--reuid={ids[0]}", f"--regid={ids[1]}",
                        f"--groups={kvm_gid}", "--inh-caps=-all", "--bounding-set=-all",
                        VMM, "run", "--kernel", TESTGUEST, "--cmdline", "scenario=hello"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    if r.returncode != 0 and "/dev/kvm" in r.stderr and not (os.stat("/dev/kvm").st_mode & 0o060):
        pytest.skip(f"/dev/kvm is not group read-write here: {r.stderr.strip()}")
    assert r.returncode == 0, r.stderr
