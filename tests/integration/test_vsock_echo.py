"""vsock end to end with the test guest: echo in both directions, socat.

Guest scenarios and their result lines: guest-images/testguest/README.md.
"""
import os
import shutil
import socket
import subprocess
import threading

import pytest

from conftest import needs_kvm
from vsockhost import (Vmm, assert_clean, h_echo, host_connect, prng_bytes, recv_to_eof,
                       run_guest, sockdir)  # noqa: F401

pytestmark = needs_kvm


def echo_roundtrip(s, data):
    """Send data while reading the echo (a thread writes), then half-close
    and read to EOF: returns everything echoed."""
    err = []

    def writer():
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            err.append(e)
    t = threading.Thread(target=writer)
    t.start()
    got = recv_to_eof(s, 60)
    t.join(60)
    assert not err, err
    return got


def eventidx_negotiated(v):
    """From the guest's `tg-note: vsock ... eventidx=D` line."""
    import re
    m = re.search(r"tg-note: vsock .* eventidx=(\d)", v.output())
    assert m, v.output()
    return m.group(1) == "1"


# Both kick-suppression paths of the driver: EVENT_IDX (avail_event,
# the default) and without it (VIRTQ_USED_F_NO_NOTIFY).
@pytest.mark.parametrize("opts", ["", "eventidx=0"])
def test_host_connects_to_guest_echo_server(sockdir, opts):
    """Three host clients at once into the guest's echo server; each
    half-closes and must get everything back, then EOF."""
    n, size = 3, 1 << 20
    with Vmm(sockdir, f"scenario=echo-server port=4000 conns={n} {opts}") as v:
        v.wait_line(r"tg-note: echo-server listening")
        assert eventidx_negotiated(v) == (opts != "eventidx=0")
        socks = [host_connect(v.uds, 4000)[0] for _ in range(n)]
        results = [None] * n

        def client(i):
            results[i] = echo_roundtrip(socks[i], prng_bytes(100 + i, size))
        ts = [threading.Thread(target=client, args=(i,)) for i in range(n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(90)
        for i in range(n):
            assert results[i] == prng_bytes(100 + i, size), f"client {i}"
            socks[i].close()
        line = v.result(60)
    assert line == f"testguest: echo-server ok conns={n} bytes={n * size}", v.output()
    assert_clean(v)


def test_host_port_is_in_range(sockdir):
    with Vmm(sockdir, "scenario=echo-server port=4001 conns=1") as v:
        s, host_port = host_connect(v.uds, 4001)
        assert (1 << 30) <= host_port < (1 << 31)
        assert echo_roundtrip(s, b"ping\n") == b"ping\n"
        s.close()
        assert v.result(30) == "testguest: echo-server ok conns=1 bytes=5"


@pytest.mark.parametrize("opts", ["", "rxlayout=split", "indirect=1", "streambits=1", "rxq=8 txq=4 bufsz=4096",
                                  "eventidx=0", "eventidx=0 rxq=8 txq=4 bufsz=4096"])
def test_guest_echo_client(sockdir, opts):
    """The guest sends 8 MiB and verifies the echo, far more than any
    buffer on the way: credit must work both ways without deadlock."""
    size = 8 << 20
    line, v, (l,) = run_guest(sockdir, f"scenario=echo-client port=4100 bytes={size} {opts}",
                              [(4100, h_echo)])
    assert line.startswith(f"testguest: echo-client ok bytes={size} "), v.output()
    assert eventidx_negotiated(v) == ("eventidx=0" not in opts)
    assert l.results == [size] and not l.errors
    assert_clean(v)


@pytest.mark.skipif(shutil.which("socat") is None, reason="socat is not installed")
def test_socat_client(sockdir):
    with Vmm(sockdir, "scenario=echo-server port=4200 conns=1") as v:
        v.wait_line(r"tg-note: echo-server listening")
        # socat gets the CONNECT line and a payload on stdin, half-closes
        # after stdin's EOF and prints what comes back until the VMM's EOF.
        r = subprocess.run(["socat", "-t", "10", "-", f"UNIX-CONNECT:{v.uds}"],
                           input=b"CONNECT 4200\nhello from socat\n",
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        assert r.returncode == 0, r.stderr
        lines = r.stdout.split(b"\n", 1)
        assert lines[0].startswith(b"OK "), r.stdout
        assert lines[1] == b"hello from socat\n", r.stdout
        assert v.result(30) == "testguest: echo-server ok conns=1 bytes=17"


def test_connect_line_with_payload_and_lowercase(sockdir):
    """Bytes that follow the CONNECT line in the same write are stream
    payload for the guest; the keyword is case-insensitive."""
    import re
    from vsockhost import recv_all
    with Vmm(sockdir, "scenario=echo-server port=4203 conns=1") as v:
        v.wait_line(r"tg-note: echo-server listening")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        s.connect(v.uds)
        s.sendall(b"connect 4203\nearly payload")
        head = recv_all(s, len("OK 1073741824\n"), 30)
        assert re.fullmatch(rb"OK \d+\n", head), head
        s.shutdown(socket.SHUT_WR)
        assert recv_to_eof(s, 30) == b"early payload"
        s.close()
        assert v.result(30) == "testguest: echo-server ok conns=1 bytes=13"


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_many_sequential_host_connections_leak_nothing(sockdir):
    """2000 short host connections one after another into a guest echo
    server that runs on: afterwards the VMM holds no more file descriptors
    than before and its memory did not grow."""
    from vsockhost import wait_until
    with Vmm(sockdir, "scenario=echo-server port=4204") as v:
        v.wait_line(r"tg-note: echo-server listening")
        fds0 = fd_count(v.pid)
        s, _ = host_connect(v.uds, 4204)
        assert echo_roundtrip(s, b"warm-up") == b"warm-up"
        s.close()
        rss0 = v.rss_kb()
        for i in range(2000):
            s, _ = host_connect(v.uds, 4204)
            msg = f"seq {i}".encode()
            assert echo_roundtrip(s, msg) == msg, i
            s.close()
        wait_until(lambda: fd_count(v.pid) <= fds0, 20,
                   f"the VMM's fds to return to {fds0} (now {fd_count(v.pid)})")
        assert v.rss_kb() - rss0 < 16 * 1024, (rss0, v.rss_kb())
        assert v.alive()
