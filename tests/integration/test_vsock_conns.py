"""vsock connection handling: many at once, half-close both ways, RST when
nothing listens on either side, SEQPACKET."""
import socket
import threading


from conftest import needs_kvm
from vsockhost import (Vmm, assert_clean, h_echo, h_reply_after_eof, h_seq_echo, host_connect,
                       host_connect_once, prng_bytes, recv_to_eof, run_guest,
                       sockdir)  # noqa: F401

pytestmark = needs_kvm


def test_1000_concurrent_guest_connections(sockdir):
    line, v, (l,) = run_guest(sockdir, "scenario=many port=4400 conns=1000",
                              [(4400, h_echo)], mem=512, timeout=180)
    assert line == "testguest: many ok conns=1000", v.output()
    assert l.accepted == 1000 and not l.errors
    assert_clean(v)


def test_1000_concurrent_host_connections(sockdir):
    """1000 host clients connected into the guest echo server at once."""
    n = 1000
    with Vmm(sockdir, f"scenario=echo-server port=4401 conns={n} bufsz=16384", mem=512) as v:
        v.wait_line(r"tg-note: echo-server listening")
        socks = [host_connect(v.uds, 4401)[0] for _ in range(n)]
        for i, s in enumerate(socks):
            s.sendall(f"conn {i}\n".encode())
        for i, s in enumerate(socks):
            s.shutdown(socket.SHUT_WR)
        for i, s in enumerate(socks):
            assert recv_to_eof(s, 60) == f"conn {i}\n".encode(), i
            s.close()
        line = v.result(120)
    total = sum(len(f"conn {i}\n") for i in range(n))
    assert line == f"testguest: echo-server ok conns={n} bytes={total}", v.output()


def test_guest_half_close(sockdir):
    """Guest shuts down its write side; the host's reply (sent only after
    it saw EOF) still arrives, then EOF."""
    line, v, (l,) = run_guest(sockdir, "scenario=halfclose port=4402 bytes=300000",
                              [(4402, h_reply_after_eof)])
    assert line == "testguest: halfclose ok bytes=300000", v.output()
    assert l.results == [300000]
    assert_clean(v)


def test_host_half_close(sockdir):
    """Host half-closes into the guest echo server after sending; the guest
    echoes everything still in flight, then closes: the host sees EOF."""
    data = prng_bytes(9, 2 << 20)
    with Vmm(sockdir, "scenario=echo-server port=4403 conns=1") as v:
        s, _ = host_connect(v.uds, 4403)
        # Send everything before reading anything: more than the guest's
        # and the device's buffers, so this also exercises credit.
        t = threading.Thread(target=lambda: (s.sendall(data), s.shutdown(socket.SHUT_WR)))
        t.start()
        got = recv_to_eof(s, 60)
        t.join(60)
        s.close()
        line = v.result(60)
    assert got == data
    assert line == f"testguest: echo-server ok conns=1 bytes={len(data)}", v.output()
    assert_clean(v)


def test_guest_connect_to_nothing_gets_rst(sockdir):
    line, v, _ = run_guest(sockdir, "scenario=rst port=4404")
    assert line == "testguest: rst ok", v.output()


def test_host_connect_to_nothing_is_closed(sockdir):
    """CONNECT to a guest port nobody listens on: the VMM closes the
    connection without a reply, and a listening port still works."""
    with Vmm(sockdir, "scenario=echo-server port=4405 conns=1") as v:
        v.wait_line(r"tg-note: echo-server listening")
        s, why = host_connect_once(v.uds, 4406)
        assert s is None and "closed without reply after b''" in why, why
        s, _ = host_connect(v.uds, 4405)
        s.sendall(b"x")
        s.shutdown(socket.SHUT_WR)
        assert recv_to_eof(s, 30) == b"x"
        s.close()
        assert v.result(30) == "testguest: echo-server ok conns=1 bytes=1"


def test_seqpacket(sockdir):
    line, v, (l,) = run_guest(sockdir, "scenario=seqpacket port=4407",
                              [(4407, h_seq_echo, socket.SOCK_SEQPACKET)])
    assert line == "testguest: seqpacket ok msgs=5", v.output()
    assert_clean(v)


def test_guest_connections_leak_nothing(sockdir):
    """Five rounds of 200 guest connections, each round opened, echoed and
    closed; with all of them gone the VMM holds no more file descriptors
    than before the first one."""
    import os
    from vsockhost import Listener, wait_until

    def fds(pid):
        return len(os.listdir(f"/proc/{pid}/fd"))

    with Listener(f"{sockdir}/v.sock", 4408, h_echo) as l, \
            Vmm(sockdir, "scenario=many port=4408 conns=200 rounds=5 hold=1") as v:
        v.wait_line(r"tg-note: vsock cid=")
        fds0 = fds(v.pid)
        m = v.wait_line(r"^testguest: many ", 120)
        assert m.string == "testguest: many ok conns=200", v.output()
        wait_until(lambda: fds(v.pid) <= fds0, 20,
                   f"the VMM's fds to return to {fds0} (now {fds(v.pid)})")
        assert l.accepted == 1000
        assert v.alive()
