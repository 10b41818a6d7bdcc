"""vsock datagrams (--vsock-dgram, docs/vsock.md "Datagrams") end to end with
the test guest's datagram driver (`dgram=1`, guest-images/testguest/
vsock_dgram.c): echo both ways, a late-read burst whose drops the VMM
counts exactly, the largest size, and hostile datagram packets.

The host side is Unix SOCK_DGRAM sockets only: a host program binds
<uds>_dgram_<H> and sends "DGRAM <guest_port> <H>\\n<payload>" to <uds>_dgram;
the guest's datagrams to host port H arrive at <uds>_dgram_H with the line
"DGRAM <guest_port> <H>\\n".  The VMM's counters come from its metrics file
(--metrics, a JSON line at exit and on SIGUSR2).

Tests that boot the guest need /dev/kvm; the host-only ones at the end run
anywhere.
"""
import json
import os
import signal
import socket
import struct
import threading

import pytest

from conftest import TESTGUEST, needs_kvm, run_vmm
from vsockhost import (Listener, Vmm, assert_clean, crc32, guest_stats, h_echo, parse_kv,
                       prng_bytes, sockdir, wait_until)  # noqa: F401

DGRAM_QUEUE_MAX = 64        # VSOCK_DGRAM_QUEUE_MAX: host datagrams the VMM holds
DGRAM_MAX = 65536           # the largest datagram
SPORT = 3100000             # scn_hostile_dgram.c: the hostile modes' guest port
# Guest-side datagram counters a correct device never makes non-zero.
DGRAM_CLEAN = ("dg_bad", "dg_unexpected", "dg_too_long", "rx_empty")


class DgramPeer:
    """A host program on the datagram family: bound at <uds>_dgram_<port>."""

    def __init__(self, uds, port):
        self.port = port
        self.path = f"{uds}_dgram_{port}"
        self.vmm_path = f"{uds}_dgram"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        self.sock.bind(self.path)
        # Room for 64 KiB datagrams (the VMM never blocks: a full queue
        # is a counted drop, dgram.tx_host_full).
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)

    def send(self, gport, payload, hport=None):
        """To guest port gport, from host port hport (default ours)."""
        line = f"DGRAM {gport} {self.port if hport is None else hport}\n".encode()
        self.sendraw(line + payload)

    def sendraw(self, data):
        wait_until(lambda: os.path.exists(self.vmm_path), 20, self.vmm_path)
        self.sock.sendto(data, self.vmm_path)

    def recv(self, timeout=10.0):
        """(guest_port, host_port, payload), or None after timeout."""
        self.sock.settimeout(timeout)
        try:
            d = self.sock.recv(DGRAM_MAX + 64)
        except socket.timeout:
            return None
        line, _, payload = d.partition(b"\n")
        w = line.split(b" ")
        assert len(w) == 3 and w[0] == b"DGRAM", d[:40]
        return int(w[1]), int(w[2]), payload

    def drain(self, timeout=0.5):
        """Everything that arrives until `timeout` passes without one."""
        out = []
        while (m := self.recv(timeout)) is not None:
            out.append(m)
        return out

    def close(self):
        self.sock.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def uds_of(sockdir):
    """Vmm's socket path, for receivers that must be bound before boot."""
    return os.path.join(sockdir, "v.sock")


def metrics_lines(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def dgram_vmm(sockdir, cmdline, dgram=True, **kw):
    """The guest on a VMM with datagrams and a metrics file."""
    mpath = os.path.join(sockdir, "metrics.json")
    extra = (["--vsock-dgram"] if dgram else []) + ["--metrics", mpath]
    v = Vmm(sockdir, cmdline, extra=extra, **kw)
    v.metrics_path = mpath
    return v


def final_metrics(v):
    """The VMM's counters as it exited: (vsock.dgram, vsock.pkt_err)."""
    m = metrics_lines(v.metrics_path)[-1]["vsock"]
    return m["dgram"], m["pkt_err"]


def assert_dgram_clean(v):
    assert_clean(v)
    st = guest_stats(v)
    bad = {k: st[k] for k in DGRAM_CLEAN if st.get(k)}
    assert not bad, f"datagram problems seen by the guest: {bad}\n{v.output()}"


def assert_no_drops(dg, *allowed):
    drops = {k: n for k, n in dg.items()
             if k.startswith(("tx_no_", "tx_host_", "rx_bad", "rx_too", "rx_no", "rx_queue",
                              "rx_buf")) and n and k not in allowed}
    assert not drops, dg


# ---- echo both ways ----------------------------------------------------------

def echo_thread(peer, stop, got):
    """Answer each datagram by sending its line back unchanged."""
    while not stop.is_set():
        m = peer.recv(0.2)
        if m is None:
            continue
        gport, hport, payload = m
        got.append(payload)
        peer.send(gport, payload, hport)


@needs_kvm
@pytest.mark.parametrize("size,opts", [
    (1, ""), (64, ""), (4096, ""), (4096, "rxlayout=split"),
    # Few in flight: what waits at the receiver counts against the VMM's
    # socket send buffer (wmem_default, ~208 KiB), and past it is a drop.
    (60000, "rxbuf=65536 window=2"),
    (1000, "indirect=1 eventidx=0"),
])
def test_dgram_echo_guest_to_host(sockdir, size, opts):
    """The guest sends, a host program echoes via the DGRAM line, the guest
    checks every reply; the host saw exactly what the guest's CRC says."""
    count = 200 if size < 10000 else 20
    peer = DgramPeer(uds_of(sockdir), 7000)
    with dgram_vmm(sockdir, f"scenario=dgram-echo port=7000 count={count} size={size} "
                   f"seed=9 dgram=1 {opts}") as v:
        stop, got = threading.Event(), []
        t = threading.Thread(target=echo_thread, args=(peer, stop, got), daemon=True)
        t.start()
        try:
            line = v.result(120)
        finally:
            stop.set()
            t.join(5)
            peer.close()
    kv = parse_kv(line)
    assert line.startswith("testguest: dgram-echo ok"), v.output()
    assert int(kv["count"]) == count and int(kv["bytes"]) == count * size
    assert got == [prng_bytes(9 + i, size) for i in range(count)]
    assert int(kv["csum"], 16) == crc32(b"".join(got))
    dg, _ = final_metrics(v)
    assert dg["tx_packets"] == dg["rx_packets"] == count, dg
    assert dg["tx_bytes"] == dg["rx_bytes"] == count * size, dg
    assert_no_drops(dg)
    assert_dgram_clean(v)
    assert guest_stats(v)["dg_rx"] == guest_stats(v)["dg_tx"] == count


@needs_kvm
def test_dgram_host_to_guest_server(sockdir):
    """The host sends, the guest echoes each datagram to its source port;
    a stream listener on the same port number is a different thing."""
    count = 100
    with dgram_vmm(sockdir, f"scenario=dgram-server port=5000 count={count} dgram=1") as v:
        v.wait_line(r"tg-note: dgram-server listening port=5000")
        peer = DgramPeer(v.uds, 7100)
        try:
            for i in range(count):
                data = prng_bytes(500 + i, 1 + (i * 37) % 4096)
                peer.send(5000, data)
                m = peer.recv(10)
                assert m == (5000, 7100, data), (i, m and m[:2], v.output_unlocked())
        finally:
            peer.close()
        line = v.result(60)
    assert line.startswith(f"testguest: dgram-server ok count={count} "), v.output()
    dg, _ = final_metrics(v)
    assert dg["rx_packets"] == dg["tx_packets"] == count, dg
    assert_no_drops(dg)
    assert_dgram_clean(v)


# ---- a burst read late: drops counted exactly --------------------------------

def send_burst(peer, gport, n):
    """n datagrams of 8 bytes, index first (little-endian)."""
    for i in range(n):
        peer.send(gport, struct.pack("<II", i, ~i & 0xFFFFFFFF))


@needs_kvm
@pytest.mark.parametrize("rxq", [32, 128])
def test_dgram_burst_drops_counted(sockdir, rxq):
    """While the guest neither reads nor re-posts rx buffers, the device
    fills the posted ones, holds at most 64 more and drops the rest,
    counting each: received (guest) + dropped (VMM) == sent, exactly, and at
    least rxq + 64 get through (not necessarily the first ones: the VMM
    reads its socket 64 at a time into the queue and hands out 16 per turn,
    so drops can start before the last rx buffer is filled)."""
    sent = 1000
    with dgram_vmm(sockdir, f"scenario=dgram-burst port=5000 hold=2000 dgram=1 rxq={rxq}") as v:
        v.wait_line(r"tg-note: dgram-burst ready port=5000")
        peer = DgramPeer(v.uds, 7300)
        try:
            send_burst(peer, 5000, sent)
        finally:
            peer.close()
        line = v.result(60)
    assert line.startswith("testguest: dgram-burst ok "), v.output()
    received = int(parse_kv(line)["received"])
    dg, _ = final_metrics(v)
    assert dg["rx_packets"] == received, (dg, line)
    assert received + dg["rx_queue_full"] == sent, (dg, line)
    assert dg["queued"] == 0, dg
    assert_no_drops(dg, "rx_queue_full")
    assert received >= min(sent, rxq + DGRAM_QUEUE_MAX), (dg, line)
    st = guest_stats(v)
    assert st["dg_queue_full"] == st["dg_no_port"] == 0, v.output()
    assert_dgram_clean(v)


# ---- the largest size ----------------------------------------------------------

@needs_kvm
@pytest.mark.parametrize("opts", ["", "rxlayout=split"])
def test_dgram_largest_both_ways(sockdir, opts):
    """65536 bytes guest -> host and back; 65537 from the host is dropped
    (rx_too_big) and never reaches the guest."""
    peer = DgramPeer(uds_of(sockdir), 7200)
    with dgram_vmm(sockdir, f"scenario=dgram-max port=7200 dgram=1 rxbuf=65536 {opts}") as v:
        try:
            m = peer.recv(60)
            assert m is not None, v.output_unlocked()
            gport, hport, payload = m
            assert (hport, len(payload)) == (7200, DGRAM_MAX)
            peer.send(gport, bytes(b ^ 0xFF for b in payload) + b"!")  # one byte too many
            peer.send(gport, payload)
        finally:
            peer.close()
        line = v.result(60)
    assert line == f"testguest: dgram-max ok size={DGRAM_MAX} csum={crc32(payload):08x}", \
        v.output()
    dg, _ = final_metrics(v)
    assert dg["rx_too_big"] == 1 and dg["rx_packets"] == 1 and dg["tx_packets"] == 1, dg
    assert dg["rx_bytes"] == dg["tx_bytes"] == DGRAM_MAX, dg
    assert_no_drops(dg, "rx_too_big")
    assert_dgram_clean(v)


# ---- hostile datagrams -----------------------------------------------------------

ECHO = 4801


def hostile_dgram(sockdir, mode, port, opts="dgram=1", dgram=True, during=None):
    """scenario=hostile mode=M: a stream echo listener at ECHO, datagram
    receivers at host ports `port` and ECHO; `during(v, peers)` runs while
    the guest does.  Returns (observed, vmm, {port: datagrams received})."""
    lst = Listener(uds_of(sockdir), ECHO, h_echo)
    peers = {p: DgramPeer(uds_of(sockdir), p) for p in {port, ECHO}}
    try:
        with dgram_vmm(sockdir, f"scenario=hostile mode={mode} port={port} echoport={ECHO} "
                       f"{opts}", dgram=dgram) as v:
            if during:
                during(v, peers)
            line = v.result(120)
        got = {p: peer.drain(0.2) for p, peer in peers.items()}
    finally:
        for peer in peers.values():
            peer.close()
        lst.close()
    assert line.startswith(f"testguest: hostile mode={mode} ok observed="), v.output()
    return parse_kv(line)["observed"], v, got


@needs_kvm
@pytest.mark.parametrize("offered", [True, False])
def test_dgram_without_feature_dropped(sockdir, offered):
    """Type 3 while F_DGRAM is not negotiated (offered or not): dropped,
    counted pkt_err.type, no RST; a host datagram is dropped too
    (rx_no_driver) and never reaches the guest."""
    def during(v, peers):
        if offered:
            # As soon as the socket exists (before the guest runs): the
            # I/O thread then has the whole boot and scenario to read
            # and drop it, however loaded the host.
            wait_until(lambda: os.path.exists(v.uds + "_dgram"), 10, v.uds + "_dgram")
            peers[7400].send(1234, b"to a guest without datagrams")
    observed, v, got = hostile_dgram(sockdir, "dgram-no-feature", 7400, opts="",
                                     dgram=offered, during=during)
    assert observed == "drop", v.output()
    dg, err = final_metrics(v)
    assert err["type"] == 1, err
    assert got == {7400: [], ECHO: []}
    assert dg["rx_no_driver"] == (1 if offered else 0), dg
    assert dg["tx_packets"] == 0, dg
    assert os.path.exists(v.uds + "_dgram") is False  # removed at exit either way
    assert_dgram_clean(v)


@needs_kvm
def test_dgram_bad_ops_dropped(sockdir):
    observed, v, got = hostile_dgram(sockdir, "dgram-bad-op", 7401)
    assert observed == "drop", v.output()
    dg, err = final_metrics(v)
    assert err["dgram_op"] == 6 and err["op"] == 1, err
    assert got[7401] == [(SPORT, 7401, b"after")], got
    assert dg["tx_packets"] == 1, dg
    assert_dgram_clean(v)


@needs_kvm
def test_dgram_bad_lengths_dropped(sockdir):
    """len 0 and 65537: dgram_len; len beyond the chain: len_chain; len
    shorter than the chain: valid, only len bytes go out."""
    observed, v, got = hostile_dgram(sockdir, "dgram-bad-len", 7402)
    assert observed == "drop", v.output()
    dg, err = final_metrics(v)
    assert err["dgram_len"] == 2 and err["len_chain"] == 1, err
    assert got[7402] == [(SPORT, 7402, bytes(range(10))), (SPORT, 7402, b"after")], got
    assert dg["tx_packets"] == 2, dg
    assert_dgram_clean(v)


@needs_kvm
def test_dgram_credit_fields_ignored(sockdir):
    """buf_alloc/fwd_cnt on a datagram change nothing, also when its ports
    are those of an open stream connection (whose echo still works: the
    hostile scenario checks it afterwards)."""
    observed, v, got = hostile_dgram(sockdir, "dgram-credit", 7403)
    assert observed == "ignored", v.output()
    assert got[7403] == [(SPORT, 7403, b"credit"), (SPORT, 7403, b"after")], got
    assert [m[1:] for m in got[ECHO]] == [(ECHO, b"stream")], got
    dg, err = final_metrics(v)
    assert dg["tx_packets"] == 3, dg
    assert not any(err.values()), err
    assert_dgram_clean(v)


@needs_kvm
def test_dgram_rx_starve_bounded(sockdir):
    """The guest posts no rx buffers for 3 s while the host floods: the VMM
    holds at most 64 datagrams (mid-flood metrics via SIGUSR2), counts every
    drop, and a stream connection works afterwards (scenario=hostile)."""
    sent, port = 3000, 5100
    mid = []

    def during(v, peers):
        v.wait_line(r"tg-note: dgram-rx-starve ready port=5100")
        send_burst(peers[port], port, sent)
        os.kill(v.pid, signal.SIGUSR2)
        wait_until(lambda: os.path.exists(v.metrics_path) and metrics_lines(v.metrics_path),
                   10, "the SIGUSR2 metrics line")
        mid.append(metrics_lines(v.metrics_path)[0]["vsock"]["dgram"])

    observed, v, got = hostile_dgram(sockdir, "dgram-rx-starve", port, during=during)
    received = int(observed.split(":")[1])
    assert mid[0]["queued"] <= DGRAM_QUEUE_MAX, mid
    dg, _ = final_metrics(v)
    assert dg["rx_packets"] == received, (dg, observed)
    assert received + dg["rx_queue_full"] == sent, (dg, observed)
    assert dg["queued"] == 0, dg
    assert_no_drops(dg, "rx_queue_full")
    assert_dgram_clean(v)


# ---- host only: no guest needed -------------------------------------------------

def one_error(r):
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    errs = [l for l in r.stderr.splitlines() if l.startswith("vmm: error:")]
    assert len(errs) == 1, r.stderr
    return errs[0]


def test_dgram_needs_a_socket_path():
    line = one_error(run_vmm(["run", "--kernel", TESTGUEST, "--vsock-cid", "3",
                              "--vsock-dgram"]))
    assert "datagrams need a socket path" in line, line


def test_dgram_socket_path_too_long():
    uds = "/tmp/" + "a" * 98
    line = one_error(run_vmm(["run", "--kernel", TESTGUEST, "--vsock-cid", "3",
                              "--vsock-uds", uds, "--vsock-dgram"]))
    assert "too long for datagrams" in line, line


def test_dgram_path_not_a_socket_left_alone(sockdir):
    """Something that is not a socket at <uds>_dgram is an error and stays."""
    uds = os.path.join(sockdir, "v.sock")
    os.mkdir(uds + "_dgram")
    line = one_error(run_vmm(["run", "--kernel", TESTGUEST, "--vsock-cid", "3",
                              "--vsock-uds", uds, "--vsock-dgram"]))
    assert uds + "_dgram" in line and "not a socket" in line, line
    assert os.path.isdir(uds + "_dgram")


def test_dgram_stale_socket_replaced_and_removed(sockdir):
    """A stale socket file at <uds>_dgram is replaced, and the VMM removes
    its own at exit, also when it fails later (no /dev/kvm here)."""
    uds = os.path.join(sockdir, "v.sock")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    stale.bind(uds + "_dgram")
    stale.close()
    # Here it fails without /dev/kvm; with KVM the guest runs and resets.
    run_vmm(["run", "--kernel", TESTGUEST, "--cmdline", "scenario=hello",
             "--vsock-cid", "3", "--vsock-uds", uds, "--vsock-dgram"])
    assert not os.path.exists(uds + "_dgram")
