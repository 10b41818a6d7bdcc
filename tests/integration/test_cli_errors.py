"""Bad input gives one clear message and a non-zero exit, never a crash."""
import json
import os
import socket
import struct
import pytest
from conftest import run_vmm, needs_kvm, TESTGUEST


def one_error(r):
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    errs = [l for l in r.stderr.splitlines() if l.startswith("vmm: error:")]
    assert len(errs) == 1, r.stderr
    return errs[0]


def test_help_and_version():
    r = run_vmm(["--help"])
    assert r.returncode == 0 and "--kernel" in r.stdout
    r = run_vmm(["--version"])
    assert r.returncode == 0 and r.stdout.startswith("vmm ")


@pytest.mark.parametrize("args,needle", [
    (["run", "--bogus"], "bogus"),
    (["run"], "kernel"),
    (["run", "--kernel", "/nonexistent/vmlinux"], "/nonexistent/vmlinux"),
    (["run", "--kernel", TESTGUEST, "--vcpus", "0"], "vcpu"),
    (["run", "--kernel", TESTGUEST, "--vcpus", "100000"], "vcpu"),
    (["run", "--kernel", TESTGUEST, "--vcpus", "2x"], "vcpu"),
    (["run", "--kernel", TESTGUEST, "--mem", "0"], "mem"),
    (["run", "--kernel", TESTGUEST, "--mem", "999999999"], "mem"),
    (["fly"], "fly"),
    (["run", "--kernel", TESTGUEST, "--vsock-cid", "3", "--vsock-peer", "3=/x"],
     "vsock peer CID 3 is this VM's own CID"),
    (["run", "--kernel", TESTGUEST, "--vsock-cid", "3", "--vsock-peer", "2=/x"],
     "--vsock-peer: 2 is out of range 3..4294967294"),
    (["vhost-user", "--socket", "/tmp/x", "--vsock-cid", "3", "--vsock-peer", "4"],
     "--vsock-peer: '4' is not CID=PATH"),
])
def test_bad_arguments(args, needle):
    line = one_error(run_vmm(args))
    assert needle.lower() in line.lower(), line


def segments_end(elf):
    """End of the last PT_LOAD's file bytes in an ELF64 image."""
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    end = 0
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", elf, phoff + i * phentsize)
        if p_type == 1 and p_filesz:
            end = max(end, p_offset + p_filesz)
    return end


def test_malformed_kernels(tmp_path):
    data = open(TESTGUEST, "rb").read()
    cases = {
        "empty": b"",
        "garbage": os.urandom(4096),
        "truncated-elf": data[:100],
        "truncated-segments": data[:segments_end(data) - 16],
        "bzimage-header-only": b"\0" * 0x1f1 + b"\x01" + b"\0" * 0x0f + b"HdrS" + b"\0" * 64,
    }
    for name, blob in cases.items():
        p = tmp_path / name
        p.write_bytes(blob)
        r = run_vmm(["run", "--kernel", str(p)])
        line = one_error(r)
        assert name in line or str(p) in line, (name, line)


def test_kernel_is_directory(tmp_path):
    one_error(run_vmm(["run", "--kernel", str(tmp_path)]))


def test_bad_json_reports_position(tmp_path):
    cfg = tmp_path / "vm.json"
    cfg.write_text('{\n  "boot-source": {"kernel_image_path": "%s"},\n'
                   '  "machine-config": {"vcpu_count": 1, "vcpus": 2}\n}\n' % TESTGUEST)
    line = one_error(run_vmm(["run", "--config", str(cfg)]))
    assert "vm.json:3:" in line and "vcpus" in line, line


@needs_kvm
def test_json_config_boots(tmp_path):
    cfg = tmp_path / "vm.json"
    cfg.write_text(json.dumps({
        "boot-source": {"kernel_image_path": TESTGUEST, "boot_args": "scenario=hello"},
        "machine-config": {"vcpu_count": 2, "mem_size_mib": 64},
    }))
    r = run_vmm(["run", "--config", str(cfg)], timeout=60)
    assert r.returncode == 0, r.stderr
    assert "testguest: hello cpus=2" in r.stdout
    # Flags override the file.
    r = run_vmm(["run", "--config", str(cfg), "--vcpus", "3"], timeout=60)
    assert r.returncode == 0, r.stderr
    assert "testguest: hello cpus=3" in r.stdout


def only_line(r):
    """The whole of stderr is one `vmm: error:` line (docs/config.md)."""
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("vmm: error: "), r.stderr
    return lines[0]


def test_every_error_is_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"machine-config": {"vcpus": 2}}')
    cases = [
        ["run", "--bogus"],
        ["run", "--kernel"],
        ["run", "--kernel", TESTGUEST, "--vcpus", "2x"],
        ["fly"],
        ["run", "--config", str(bad)],
        ["run", "--config", str(tmp_path / "missing.json")],
        ["run"],
        ["run", "--kernel", str(tmp_path / "missing")],
    ]
    for args in cases:
        only_line(run_vmm(args))


def test_image_errors_say_what_is_wrong(tmp_path):
    """Empty files, devices, FIFOs, sockets and garbage each get their own
    reason; a FIFO nobody writes to is refused at once (run_vmm's timeout
    would fail the test if open() blocked)."""
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\x7fELG" + b"x" * 4096)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(tmp_path / "sock"))
    cases = [
        (str(empty), "empty file"),
        ("/dev/zero", "not a regular file (a character device)"),
        ("/dev/null", "not a regular file (a character device)"),
        ("/dev/urandom", "not a regular file (a character device)"),
        (str(fifo), "not a regular file (a FIFO)"),
        (str(tmp_path / "sock"), "not a regular file (a socket)"),
        (str(tmp_path), "not a regular file (a directory)"),
        (str(garbage), "neither ELF nor bzImage"),
    ]
    try:
        for path, why in cases:
            line = only_line(run_vmm(["run", "--kernel", path], timeout=10))
            assert line.startswith(f"vmm: error: kernel {path}: {why}"), line
            if why.startswith("neither"):
                continue
            line = only_line(run_vmm(["run", "--kernel", TESTGUEST, "--initrd", path], timeout=10))
            assert line == f"vmm: error: initrd {path}: {why}", line
    finally:
        sock.close()


def test_forward_in_same_file_as_uds_path(tmp_path):
    """Paths are compared by the file they name, not their text."""
    d = str(tmp_path)
    uds = f"{d}/v.sock"
    other = f"{d}/../{os.path.basename(d)}/v.sock"
    line = only_line(run_vmm(["run", "--kernel", TESTGUEST, "--vsock-cid", "3",
                              "--vsock-uds", uds, "--vsock-forward-in", f"unix:{other}=5"]))
    assert line == (f"vmm: error: vsock forward unix:{other}: clashes with the vsock "
                    f"uds_path {uds} (and its {uds}_* sockets)"), line
    line = only_line(run_vmm(["run", "--kernel", TESTGUEST, "--vsock-cid", "3",
                              "--vsock-forward-in", f"unix:{d}/a.sock=5",
                              "--vsock-forward-in", f"unix:{d}/./a.sock=6"]))
    assert line == (f"vmm: error: vsock forward unix:{d}/./a.sock: the same socket file "
                    f"as vsock forward unix:{d}/a.sock"), line
    assert sorted(os.listdir(d)) == []


def test_udp_forward_needs_dgram(tmp_path):
    """A udp forward without datagrams: the file's position, exit 1."""
    cfg = tmp_path / "vm.json"
    cfg.write_text('{"boot-source": {"kernel_image_path": "%s"},\n'
                   ' "vsock": {"guest_cid": 3, "uds_path": "v.sock",\n'
                   '  "forward_out": [{"port": 53, "udp": "127.0.0.1:5353"}]}}\n' % TESTGUEST)
    line = only_line(run_vmm(["run", "--config", str(cfg)]))
    assert line == (f"vmm: error: {cfg}:3:39: vsock.forward_out[0].udp: vsock forward "
                    "udp:127.0.0.1:5353 needs datagrams: set vsock.dgram to true or add "
                    "--vsock-dgram"), line
    line = only_line(run_vmm(["run", "--kernel", TESTGUEST, "--vsock-cid", "3",
                              "--vsock-uds", str(tmp_path / "v.sock"),
                              "--vsock-forward-in", "udp:127.0.0.1:7000=5"]))
    assert line == ("vmm: error: --vsock-forward-in: vsock forward udp:127.0.0.1:7000 "
                    "needs datagrams: set vsock.dgram to true or add --vsock-dgram"), line
    assert sorted(os.listdir(tmp_path)) == ["vm.json"]


def test_udp_forward_in_address_in_use(tmp_path):
    """A udp forward_in address taken: one line at start-up, sockets gone."""
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    try:
        line = only_line(run_vmm(["run", "--kernel", TESTGUEST, "--vsock-cid", "3",
                                  "--vsock-uds", str(tmp_path / "v.sock"), "--vsock-dgram",
                                  "--vsock-forward-in", f"udp:127.0.0.1:{port}=5"]))
    finally:
        taken.close()
    assert line == f"vmm: error: vsock forward udp:127.0.0.1:{port}: Address already in use", line
    assert [f for f in os.listdir(tmp_path) if not f.endswith(".lock")] == []


# --timeout and --console-file (issue 16): bad values are one line and exit
# 1, before KVM is touched (so these run on hosts without /dev/kvm too).
@pytest.mark.parametrize("value,msg", [
    ("-5", "--timeout: '-5' is negative"),
    ("1.5", "--timeout: '1.5' is not a decimal number"),
    ("10s", "--timeout: '10s' is not a decimal number"),
    ("", "--timeout: empty value, expected a number"),
    ("4294967296", "--timeout: 4294967296 is out of range 0..4294967295 seconds (0: none)"),
])
def test_bad_timeout(value, msg):
    line = only_line(run_vmm(["run", "--kernel", TESTGUEST, "--timeout", value]))
    assert line == f"vmm: error: {msg}", line


def test_bad_timeout_in_config(tmp_path):
    cfg = tmp_path / "vm.json"
    cfg.write_text('{"x-vmm": {"timeout_s": -1}}')
    line = only_line(run_vmm(["run", "--kernel", TESTGUEST, "--config", str(cfg)]))
    assert line == (f"vmm: error: {cfg}:1:25: x-vmm.timeout_s: -1 is out of range "
                    "0..4294967295"), line


def test_bad_console_file(tmp_path):
    d = str(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    cases = [
        (f"{d}/no/such/dir/c.log", "No such file or directory"),
        (d, "Is a directory"),
        # Nobody reads the FIFO: refused at once, never a wait.
        (str(fifo), "No such device or address (a FIFO needs a reader first)"),
    ]
    for path, why in cases:
        line = only_line(run_vmm(["run", "--kernel", TESTGUEST, "--console-file", path],
                                 timeout=10))
        assert line == f"vmm: error: console file {path}: cannot open: {why}", line
    # Not writable by this user (root writes anyway).
    if os.geteuid() != 0:
        ro = tmp_path / "ro.log"
        ro.write_text("")
        ro.chmod(0o444)
        line = only_line(run_vmm(["run", "--kernel", TESTGUEST, "--console-file", str(ro)]))
        assert line == f"vmm: error: console file {ro}: cannot open: Permission denied", line


def test_bad_console_file_in_config_removes_sockets(tmp_path):
    """A console file that cannot be opened is a set-up error like any
    other: exit 1, and no socket file is left."""
    cfg = tmp_path / "vm.json"
    cfg.write_text(json.dumps({"boot-source": {"kernel_image_path": TESTGUEST},
                               "vsock": {"guest_cid": 3, "uds_path": "v.sock"},
                               "x-vmm": {"console_file": "missing/c.log"}}))
    line = only_line(run_vmm(["run", "--config", str(cfg)]))
    assert line == (f"vmm: error: console file {tmp_path}/missing/c.log: cannot open: "
                    "No such file or directory"), line
    assert sorted(f for f in os.listdir(tmp_path) if not f.endswith(".lock")) == ["vm.json"]


def test_console_file_is_opened_before_kvm(tmp_path):
    """Without /dev/kvm the VMM still fails (exit 1), but only after it
    created the console file: a bad path is reported first."""
    from conftest import have_kvm
    if have_kvm():
        pytest.skip("checks the order of set-up on a host without /dev/kvm")
    log = tmp_path / "c.log"
    r = run_vmm(["run", "--kernel", TESTGUEST, "--console-file", str(log)])
    line = only_line(r)
    assert "/dev/kvm" in line, line
    assert log.exists() and log.read_text() == ""
