"""vsock under bad host peers: one that never reads, one that dies."""
import socket
import threading
import time
import zlib

from conftest import needs_kvm
from vsockhost import (Listener, Vmm, host_connect, parse_kv, prng_bytes, recv_to_eof,
                       sockdir, wait_until)  # noqa: F401

pytestmark = needs_kvm

MIB = 1 << 20


def test_host_never_reads_memory_stays_bounded(sockdir):
    """The host accepts the guest's connection and does not read: the guest
    must block on credit and the VMM must not buffer the stream.  Then the
    host starts reading and everything arrives intact."""
    size = 256 * MIB
    go = threading.Event()

    def late_sink(c, l):
        go.wait(120)
        c.settimeout(120)
        n, crc = 0, 0
        while True:
            b = c.recv(MIB)
            if not b:
                return n, crc
            n += len(b)
            crc = zlib.crc32(b, crc)

    with Listener(f"{sockdir}/v.sock", 4600, late_sink) as l, \
            Vmm(sockdir, f"scenario=send port=4600 bytes={size}") as v:
        wait_until(lambda: l.accepted == 1, 30, "the guest's connection")
        base = v.rss_kb()
        peak = base
        # Watch for 2 s while the guest pushes against a host that does
        # not read: whatever the device buffers must stay small.
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            peak = max(peak, v.rss_kb())
            time.sleep(0.05)
        assert v.alive()
        assert peak - base < 32 * 1024, f"VMM RSS grew {peak - base} KiB (from {base} KiB)"
        go.set()
        line = v.result(90)
    assert line.startswith(f"testguest: send ok bytes={size} "), v.output()
    assert l.results == [(size, int(parse_kv(line)["csum"], 16))]


def test_host_client_dies_mid_transfer(sockdir):
    """A host client pushes data into the guest echo server and vanishes
    without reading the echo; the guest and VMM carry on and the next
    client is served normally."""
    with Vmm(sockdir, "scenario=echo-server port=4601 conns=2") as v:
        s, _ = host_connect(v.uds, 4601)
        blob = prng_bytes(1, 4 * MIB)
        sent = 0

        def pusher():
            nonlocal sent
            try:
                for i in range(0, len(blob), 64 * 1024):
                    s.sendall(blob[i:i + 64 * 1024])
                    sent += 64 * 1024
            except OSError:
                pass
        t = threading.Thread(target=pusher, daemon=True)
        t.start()
        s.settimeout(30)
        got = s.recv(100000)
        assert got, "no echo at all"
        # It does not read the echo, so backpressure stops it after a few
        # hundred KiB (socket buffers + credit windows): wait for some.
        wait_until(lambda: sent >= 256 * 1024 or not t.is_alive(), 30, "256 KiB to be sent")
        # Dies: unread echo, data still in flight.  shutdown() first: it
        # wakes the pusher's blocked sendall(), close() alone would not.
        s.shutdown(socket.SHUT_RDWR)
        s.close()
        t.join(30)
        assert not t.is_alive()

        s2, _ = host_connect(v.uds, 4601)
        data = prng_bytes(2, MIB)
        threading.Thread(target=lambda: (s2.sendall(data), s2.shutdown(socket.SHUT_WR)),
                         daemon=True).start()
        assert recv_to_eof(s2, 60) == data
        s2.close()
        line = v.result(60)
        assert line.startswith("testguest: echo-server ok conns=2 "), v.output()


def test_guest_close_right_after_send_delivers_everything(sockdir):
    """The guest queues 16 MiB and closes at once (SHUTDOWN both ways, no
    waiting): the device must still hand every byte to the host."""
    from vsockhost import assert_clean, h_sink, run_guest
    size = 16 * MIB
    line, v, (l,) = run_guest(sockdir, f"scenario=send port=4602 bytes={size} close=1",
                              [(4602, h_sink)])
    assert line.startswith(f"testguest: send ok bytes={size} "), v.output()
    wait_until(lambda: l.results or l.errors, 30, "the host end to finish")
    assert l.results == [(size, int(parse_kv(line)["csum"], 16))], (l.results, l.errors)
    assert_clean(v)


def h_count_to_end(c, l):
    """Read until the connection ends: (bytes read, "eof" or "reset")."""
    c.settimeout(120)
    n = 0
    try:
        while True:
            b = c.recv(1 << 20)
            if not b:
                return n, "eof"
            n += len(b)
    except ConnectionResetError:
        return n, "reset"


def test_guest_rst_mid_transfer_ends_host_connection(sockdir):
    """A guest RST mid-stream ends the host's connection (EOF or reset)
    promptly; the host never gets more than was sent."""
    from vsockhost import run_guest
    line, v, (l,) = run_guest(sockdir, "scenario=send port=4603 bytes=64000000 rst_at=3000000",
                              [(4603, h_count_to_end)])
    assert line.startswith("testguest: send ok bytes=3000000 "), v.output()
    wait_until(lambda: l.results or l.errors, 30, "the host end to see the reset")
    assert not l.errors, l.errors
    assert l.accepted == 1 and len(l.results) == 1, (l.accepted, l.results)
    n, how = l.results[0]
    assert how in ("eof", "reset"), l.results
    assert n <= 3000000, l.results


def test_device_respects_guest_credit(sockdir):
    """The guest advertises a 4 KiB buffer and does not read for half a
    second while the host sends 4 MiB: the device must stop at the credit
    (the guest driver counts and resets any overrun), then deliver it all."""
    from vsockhost import assert_clean, make_source, run_guest
    size = 4 * MIB
    line, v, (l,) = run_guest(sockdir, f"scenario=recv port=4604 bytes={size} bufsz=4096 stall_ms=500",
                              [(4604, make_source(size))])
    assert line.startswith(f"testguest: recv ok bytes={size} "), v.output()
    assert "tg-note: recv stalled with 4096 bytes buffered" in v.output()
    assert l.results == [int(parse_kv(line)["csum"], 16)]
    assert_clean(v)
