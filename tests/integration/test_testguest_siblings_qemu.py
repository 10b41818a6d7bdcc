"""Sibling VMs (docs/vsock.md "Sibling VMs") with the freestanding test
guest: two and three test-guest VMs reach each other by CID, each under its
own QEMU (TCG, microvm) + `vmm vhost-user` back-end (qemu_testguest.py's
QemuVmm), each back-end listing the others with --vsock-peer:

  A: CID 3, <sockdir>/v-a.sock    B: CID 4, v-b.sock    C: CID 5, v-c.sock

The client scenarios take `cid=` (their destination, default 2); the
server scenarios end their result line with the peer_cid/peer_port they
saw (vt_peer_str() in guest-images/testguest/vstest.c), so every case
checks that the sibling saw the caller's real CID and port, not the host.
Every payload is checked: the echo clients compare each byte with their
PRNG stream, send/recv compare CRC-32s across the two VMs (and with the
host's own computation), and guest driver counters must stay clean.

Also here: the real Linux guest reaching a sibling test guest, from its
user-space agent (vsockagent.cid=4) and from the built-in kernel test
driver (vsocktest.cid=4, vsocktest.c vt_connect()).

Budget: the guests' waits are scaled by VMM_QEMU_TIME_SCALE (default 3).
Figures printed (round trips) are TCG on a shared 2-core host: indicative
only, never asserted.  Skips when qemu-system-x86_64 is not installed.
"""
import os
import re
import socket
import subprocess
import time
from zlib import crc32

import pytest

from qemu_testguest import QEMU, QemuVmm
from vsockhost import sockdir, Listener, h_echo, host_connect, prng_bytes  # noqa: F401
import vsockhost

pytestmark = pytest.mark.skipif(QEMU is None, reason="qemu-system-x86_64 is not installed")

CID = {"a": 3, "b": 4, "c": 5, "a2": 3}
NOT_A_PEER = 6


def uds(sockdir, name):
    return os.path.join(sockdir, f"v-{name}.sock")


def vm(sockdir, name, cmdline, peers, extra_be=()):
    """Test guest `name` (a, b, c) running `cmdline`, its back-end listing
    `peers` (names) as siblings."""
    be = [x for p in peers for x in ("--vsock-peer", f"{CID[p]}={uds(sockdir, p)}")]
    return QemuVmm(sockdir, cmdline, cid=CID[name], name=f"-{name}",
                   be_args=(*be, *extra_be))


def kv(line):
    return vsockhost.parse_kv(line)


def peer_keys(cid, port=None, conns=1):
    """The result line's tail a server prints for connections from a sibling."""
    s = f" peer_cid={cid}"
    return s + (f" peer_port={port}" if port is not None else "") + f" peer_conns={conns}"


def clean(*vms):
    for v in vms:
        vsockhost.assert_clean(v)


def killall(*vms):
    for v in vms:
        if v is not None:
            v.kill()


def serve_then_connect(sockdir, srv, srv_cmd, ready, cli, cli_cmd):
    """Boot the server guest `srv` with `srv_cmd`, wait for its line
    `ready`, then the client guest `cli` with `cli_cmd` (each lists the
    other as a peer).  Both result lines and both VMs, killed either way
    (after a failure, with no result to wait for)."""
    s = c = None
    try:
        s = vm(sockdir, srv, srv_cmd, [cli])
        s.wait_line(ready)
        c = vm(sockdir, cli, cli_cmd, [srv])
        lc = c.result(120)
        ls = s.result(60)
    finally:
        killall(c, s)
    return lc, ls, c, s


# ---- two VMs -----------------------------------------------------------------

@pytest.mark.parametrize("cli,srv", [("a", "b"), ("b", "a")], ids=["a-to-b", "b-to-a"])
def test_echo(sockdir, cli, srv):
    """echo-client on one VM through the sibling's echo-server, 4 MiB with
    every byte compared; the server saw the client's CID and port."""
    n = 4 << 20
    lc, ls, c, s = serve_then_connect(
        sockdir, srv, "scenario=echo-server port=5100 conns=1",
        r"tg-note: echo-server listening port=5100",
        cli, f"scenario=echo-client cid={CID[srv]} port=5100 bytes={n} seed=7")
    assert lc.startswith(f"testguest: echo-client ok bytes={n} "), c.output()
    assert kv(lc)["cid"] == str(CID[srv]), lc
    lport = kv(lc)["lport"]
    assert ls == f"testguest: echo-server ok conns=1 bytes={n}" + \
        peer_keys(CID[cli], lport), s.output()
    clean(c, s)


@pytest.mark.parametrize("cli,srv", [("a", "b"), ("b", "a")], ids=["a-to-b", "b-to-a"])
def test_bulk_crc(sockdir, cli, srv):
    """send on one VM, recv listen=1 on its sibling: both compute the
    CRC-32 of the stream, which must be the host's own of the payload."""
    n, seed = 4 << 20, 11
    want = f"{crc32(prng_bytes(seed, n)):08x}"
    lc, ls, c, s = serve_then_connect(
        sockdir, srv, f"scenario=recv port=5200 listen=1 bytes={n}", r"tg-note: vsock cid=",
        cli, f"scenario=send cid={CID[srv]} port=5200 bytes={n} seed={seed}")
    assert lc.startswith(f"testguest: send ok bytes={n} csum={want} "), c.output()
    assert ls.startswith(f"testguest: recv ok bytes={n} csum={want} "), s.output()
    assert ls.endswith(peer_keys(CID[cli], kv(ls)["peer_port"])), s.output()
    clean(c, s)


def test_many_connections(sockdir):
    """200 connections A -> B, two rounds of 100 open at once, each with its
    own message echoed (scenario=many); B saw all 200 from CID 3.  At most
    100 at once: A's back-end connects to B's socket without waiting, and
    beyond B's listen backlog (128) a burst that B's back-end has not
    accepted yet is refused by design (RST, docs/vsock.md "Refusals")."""
    n, rounds = 100, 2
    lc, ls, c, s = serve_then_connect(
        sockdir, "b", f"scenario=echo-server port=5300 conns={n * rounds}",
        r"tg-note: echo-server listening",
        "a", f"scenario=many cid=4 port=5300 conns={n} rounds={rounds}")
    assert lc == f"testguest: many ok conns={n}", c.output()
    assert re.fullmatch(rf"testguest: echo-server ok conns={n * rounds} bytes=\d+ "
                        rf"peer_cid=3 peer_port=\d+ peer_conns={n * rounds}", ls), s.output()
    clean(c, s)


@pytest.mark.parametrize("cli,srv", [("a", "b"), ("b", "a")], ids=["a-to-b", "b-to-a"])
def test_half_close(sockdir, cli, srv):
    """halfclose: the client sends, shuts down its write side; the sibling
    (after_eof=1) answers only once it saw that EOF, then closes: the whole
    answer must still reach the client, then EOF."""
    n = 200000
    lc, ls, c, s = serve_then_connect(
        sockdir, srv, "scenario=echo-server port=5400 conns=1 after_eof=1 bufsz=262144",
        r"tg-note: echo-server listening",
        cli, f"scenario=halfclose cid={CID[srv]} port=5400 bytes={n}")
    assert lc == f"testguest: halfclose ok bytes={n}", c.output()
    assert re.fullmatch(rf"testguest: echo-server ok conns=1 bytes={n}"
                        rf" peer_cid={CID[cli]} peer_port=\d+ peer_conns=1", ls), s.output()
    clean(c, s)


@pytest.mark.parametrize("cli,srv", [("a", "b"), ("b", "a")], ids=["a-to-b", "b-to-a"])
def test_seqpacket(sockdir, cli, srv):
    """SEQPACKET: five messages (1 B to 64 KiB) echoed by the sibling as
    the messages they came as (the client checks length, bytes and EOM)."""
    total = 1 + 100 + 4096 + 10000 + 65536
    lc, ls, c, s = serve_then_connect(
        sockdir, srv, "scenario=echo-server port=5500 conns=1 type=seqpacket",
        r"tg-note: echo-server listening",
        cli, f"scenario=seqpacket cid={CID[srv]} port=5500")
    assert lc == "testguest: seqpacket ok msgs=5", c.output()
    assert re.fullmatch(rf"testguest: echo-server ok conns=1 bytes={total}"
                        rf" peer_cid={CID[cli]} peer_port=\d+ peer_conns=1", ls), s.output()
    clean(c, s)


@pytest.mark.parametrize("cid,why", [(NOT_A_PEER, "not-a-peer"), (4, "peer-not-running")],
                         ids=["not-a-peer", "peer-not-running"])
def test_connect_refused(sockdir, cid, why):
    """A connection to a CID A does not list, and to a listed sibling whose
    VMM is not running: RST (scenario=rst), long before the guest's 2 s
    connect timeout.  The first is the device's destination check
    (pkt_err.dst_cid in A's back-end metrics), the second a refused
    connect() to the sibling's socket."""
    metrics = os.path.join(sockdir, "metrics-a.json")
    with vm(sockdir, "a", f"scenario=rst cid={cid} port=5700", ["b"],
            ("--metrics", metrics)) as a:
        line = a.result(60)
    assert line == "testguest: rst ok", a.output()
    us = [int(m.group(1)) for l in a.lines for m in [re.search(r"tg-note: rst us=(\d+)", l)] if m]
    print(f"\n{why}: RST after {us[0]} us (guest TSC, TCG)")
    with open(metrics) as f:
        import json
        pkt_err = json.loads(f.read().splitlines()[-1])["vsock"]["pkt_err"]
    assert pkt_err["dst_cid"] == (1 if why == "not-a-peer" else 0), pkt_err
    clean(a)


# ---- three VMs ---------------------------------------------------------------

RING = {"a": "b", "b": "c", "c": "a"}   # who each one connects to


def test_three_vms_ring(sockdir):
    """A -> B, B -> C and C -> A at the same time: each VM echoes the
    connection from the one before it while its own bytes go round through
    the next (scenario=echo-peer, 4 MiB, every byte compared).  Each saw exactly
    one connection, from the right CID and port.  The VMs boot together;
    a connect that finds its sibling not yet listening is refused and
    retried (retry_ms), never one that was established."""
    n = 4 << 20
    vms = {}
    try:
        for name, to in RING.items():
            vms[name] = vm(sockdir, name,
                           f"scenario=echo-peer port=5600 cid={CID[to]} bytes={n} conns=1 "
                           f"seed={CID[name]} retry_ms=30000",
                           [p for p in RING if p != name])
        lines = {name: v.result(180) for name, v in vms.items()}
    finally:
        killall(*vms.values())
    tries = {name: re.search(r"tg-note: echo-peer connected .* tries=(\d+)", v.output())
             for name, v in vms.items()}
    print("\nring: connect attempts " + ", ".join(
        f"{k}={m.group(1) if m else '?'}" for k, m in tries.items()))
    prev = {to: name for name, to in RING.items()}
    for name, l in lines.items():
        out = vms[name].output()
        assert l.startswith(f"testguest: echo-peer ok bytes={n} "), out
        p = prev[name]
        assert l.endswith(peer_keys(CID[p], kv(lines[p])["lport"])), (l, lines[p], out)
        assert kv(l)["conns"] == "1" and kv(l)["served_bytes"] == str(n), out
    clean(*vms.values())


def test_sibling_killed_mid_stream(sockdir):
    """A streams to B (echo-peer, 1 GiB: still going when) B's QEMU and
    B's `vmm vhost-user` both get SIGKILL.  A's flow must end with an
    error (reset or EOF, not the 20 s stall) soon after; A's back-end stays
    up; A then serves a fresh host connection (64 KiB echoed, compared);
    C, which streams into A meanwhile, finishes intact (128 MiB, every byte
    compared).  A's line reports the failure of its own flow only."""
    big, n_c, n_host = 1 << 30, 128 << 20, 64 << 10
    a = b = c = None
    try:
        b = vm(sockdir, "b", "scenario=echo-server port=5800", ["a"])
        b.wait_line(r"tg-note: echo-server listening")
        a = vm(sockdir, "a", f"scenario=echo-peer port=5800 cid=4 bytes={big} conns=2",
               ["b", "c"])
        a.wait_line(r"tg-note: echo-peer connected cid=4")
        c = vm(sockdir, "c", f"scenario=echo-peer port=5800 cid=3 bytes={n_c} conns=0",
               ["a"])
        c.wait_line(r"tg-note: echo-peer connected cid=3")
        assert a.alive() and b.alive() and c.alive(), (a.output(), b.output(), c.output())
        time.sleep(0.2)        # both flows moving
        for v in (a, c):       # and neither has ended
            with v.cond:
                assert not any("echo-peer client" in l for l in v.lines), v.output_unlocked()
        t_kill = time.monotonic()
        b.proc.kill()
        b.be.kill()
        m = a.wait_line(r"tg-note: echo-peer client (ok|reason=\S+)", 30)
        dt = time.monotonic() - t_kill
        assert m.group(1) in ("reason=reset", "reason=early-eof"), a.output()
        assert a.be.poll() is None, f"A's back-end died\n{a.output()}"
        # A's VMM and guest still serve: a fresh host connection.
        s, _ = host_connect(a.uds, 5800)
        data = prng_bytes(5, n_host)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        got = vsockhost.recv_to_eof(s, 60)
        s.close()
        assert got == data, f"host echo through A: {len(got)} of {n_host} bytes (or wrong)"
        la = a.result(60)
        lc = c.result(120)
    finally:
        killall(a, b, c)
    assert re.match(rf"testguest: echo-peer fail reason=client-{m.group(1)[7:]} "
                    r"sent=\d+ rcvd=\d+ conns=2 ", la), a.output()
    print(f"\nB killed after A sent {kv(la)['sent']} bytes to it: A's flow ended "
          f"({m.group(1)}) {dt:.2f} s later (host clock)")
    assert kv(la)["served_bytes"] == str(n_c + n_host), a.output()
    assert la.endswith(peer_keys(5, kv(lc)["lport"])), (la, lc)
    assert lc.startswith(f"testguest: echo-peer ok bytes={n_c} "), c.output()
    assert kv(lc)["conns"] == "0", lc
    clean(a, c)


# ---- round trips: sibling vs host ---------------------------------------------

def test_pingpong_sibling_vs_host(sockdir):
    """Round trips of 64 bytes from A: to sibling B (pingpong listen=1
    echoes) and, in the same run, to a host echo server through A's own
    Unix socket.  Both must complete with every echo equal to what was sent
    (the client compares); the figures are printed, never asserted (TCG on
    a shared 2-core host; the guest's TSC rate under TCG is a guess)."""
    size, count = 64, 1000
    res = {}
    s = c = None
    try:
        s = vm(sockdir, "b", "scenario=pingpong port=5900 listen=1", ["a"])
        s.wait_line(r"tg-note: pingpong listening")
        c = vm(sockdir, "a", f"scenario=pingpong cid=4 port=5900 size={size} count={count} "
               "warmup=20", ["b"])
        res["sibling"] = c.result(120)
        ls = s.result(60)
    finally:
        killall(c, s)
    assert res["sibling"].startswith(f"testguest: pingpong ok size={size} count={count} "), \
        c.output()
    assert ls.startswith("testguest: pingpong ok mode=echo ") and \
        ls.endswith(peer_keys(3, kv(ls)["peer_port"])), s.output()
    clean(c, s)
    with Listener(uds(sockdir, "a2"), 5901, h_echo):
        with vm(sockdir, "a2", f"scenario=pingpong port=5901 size={size} count={count} "
                "warmup=20", []) as h:
            res["host"] = h.result(120)
    assert res["host"].startswith(f"testguest: pingpong ok size={size} count={count} "), \
        h.output()
    clean(h)
    out = []
    for k, l in res.items():
        r = kv(l)
        us = 1e6 / int(r["tsc_hz"])
        out.append(f"{k}: p50 {int(r['p50']) * us:.0f} us, min {int(r['min']) * us:.0f} us, "
                   f"p99 {int(r['p99']) * us:.0f} us")
    print(f"\npingpong {size} B x {count} from A (TCG, indicative): " + "; ".join(out))


# ---- the real Linux guest -> a sibling test guest -------------------------------

AGENT = "vsock-agent"


@pytest.mark.parametrize("linux_guest", ["6.12"], indirect=True, ids=["linux-6.12"])
def test_linux_guest_to_sibling_testguest(linux_guest, sockdir):
    """Linux guest A (CID 3, its user-space agent: vsockagent.cid=4) sends
    512 KiB to test guest B (CID 4, echo-server) and checks the echo by
    CRC-32 (the agent's payload is prng_bytes(1, N)); B saw the bytes come
    from CID 3 and the agent's port.  Then A's connect to CID 6 (not a
    peer) gets ECONNRESET.  The kernel-space test driver does the same in
    test_linux_kernel_driver_to_sibling_testguest.  One kernel (6.12) to
    keep the time down: test_linux_siblings_qemu.py runs both with two
    Linux guests."""
    from test_linux_vsock import BOOT_BUDGET, RESULT
    from test_linux_vsock_qemu import QemuVhostUser
    g = linux_guest.require()
    n, port = 512 << 10, 6100
    want_crc = crc32(prng_bytes(1, n))
    b = a = None
    try:
        b = vm(sockdir, "b", f"scenario=echo-server port={port} conns=1", ["a"])
        b.wait_line(r"tg-note: echo-server listening")
        args = dict(scenarios="echo,refused", port=port, echo_bytes=n, cid=CID["b"],
                    refused_cid=NOT_A_PEER, timeout_s=int(BOOT_BUDGET))
        a = QemuVhostUser(sockdir, g, g.initrd_gz, uds(sockdir, "a"),
                          "vsockagent=1 " + " ".join(f"vsockagent.{k}={v}" for k, v in args.items()),
                          time.monotonic() + BOOT_BUDGET, cid=CID["a"], name="-linux-a",
                          be_args=("--vsock-peer", f"{CID['b']}={uds(sockdir, 'b')}"))
        try:
            _, done = a.wait_line(rf"{AGENT}: done passed=(\d+) failed=(\d+)")
        except (TimeoutError, EOFError) as e:
            pytest.fail(f"A: {e}\n{a.console()}\n--- B\n{b.output()}")
        lb = b.result(60)
    finally:
        if a is not None:
            a.kill_all()
        killall(b)
    res = {}
    for _, l in a.lines:
        m = RESULT.search(l)
        if m and m.group(1) == AGENT:
            res[m.group(2)] = (m.group(3), kv(m.group(4)), l)
    ctx = "\n".join(l for _, l in a.lines if l.startswith(AGENT)) + "\n--- B\n" + b.output()
    print(f"\nlinux {g.version} -> test guest: " + "; ".join(
        l for l in ctx.splitlines() if l.startswith((f"{AGENT}: echo", "testguest: "))))
    st, r, _ = res.get("echo", ("missing", {}, ""))
    assert st == "ok" and int(r["bytes"]) == n and int(r["crc"], 16) == want_crc, ctx
    assert int(r["cid"]) == CID["b"], ctx
    m = re.fullmatch(rf"testguest: echo-server ok conns=1 bytes={n} peer_cid=3 "
                     r"peer_port=(\d+) peer_conns=1", lb)
    assert m, ctx
    assert int(m.group(1)) >= 1024, ctx          # Linux's ephemeral port, not a host's
    st, r, _ = res.get("refused", ("missing", {}, ""))
    assert st == "ok" and int(r["err"]) == -104 and int(r["cid"]) == NOT_A_PEER, ctx
    assert done.group(2) == "0", ctx
    text = "\n".join(l for _, l in a.lines)
    for bad in ("Call Trace", "BUG:", "WARNING:", "Kernel panic"):
        assert bad not in text, ctx
    clean(b)


@pytest.mark.parametrize("linux_guest", ["6.1", "6.12"], indirect=True,
                         ids=["linux-6.1", "linux-6.12"])
def test_linux_kernel_driver_to_sibling_testguest(linux_guest, sockdir):
    """The real Linux guest driver from kernel space: guest A (CID 3) runs
    the built-in test driver (vsocktest, tiny initramfs, no user space)
    with vsocktest.cid=4: its echo scenario sends 512 KiB to test guest B
    (CID 4, echo-server) and checks the echo by CRC-32 (payload
    prng_bytes(1, N)); B saw the bytes come from CID 3 and a Linux
    ephemeral port.  Then "refused" with vsocktest.refused_cid=6 (not a
    peer of A's back-end) must get ECONNRESET, counted as a destination
    error (pkt_err.dst_cid) in A's back-end metrics."""
    from test_linux_vsock import BOOT_BUDGET, RESULT
    from test_linux_vsock_qemu import QemuVhostUser
    g = linux_guest.require("vt_local_cid")     # a vsocktest with vsocktest.cid
    n, port = 512 << 10, 6200
    want_crc = crc32(prng_bytes(1, n))
    b = a = None
    try:
        b = vm(sockdir, "b", f"scenario=echo-server port={port} conns=1", ["a"])
        b.wait_line(r"tg-note: echo-server listening")
        args = dict(scenarios="echo,refused", port=port, echo_bytes=n, cid=CID["b"],
                    refused_cid=NOT_A_PEER, timeout_s=int(BOOT_BUDGET))
        a = QemuVhostUser(sockdir, g, g.initrd_min, uds(sockdir, "a"),
                          " ".join(f"vsocktest.{k}={v}" for k, v in args.items()),
                          time.monotonic() + BOOT_BUDGET, cid=CID["a"], name="-linux-a",
                          be_args=("--vsock-peer", f"{CID['b']}={uds(sockdir, 'b')}"))
        try:
            _, done = a.wait_line(r"vsocktest: done passed=(\d+) failed=(\d+)")
        except (TimeoutError, EOFError) as e:
            pytest.fail(f"A: {e}\n{a.console()}\n--- B\n{b.output()}")
        lb = b.result(60)
        # vsocktest reboots: QEMU exits, then the back-end (its metrics).
        try:
            a.proc.wait(60)
            a.be.wait(30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"A did not exit after its tests\n{a.console()}")
        pkt_err = a.metrics()["pkt_err"]
    finally:
        if a is not None:
            a.kill_all()
        killall(b)
    res = {}
    for _, l in a.lines:
        m = RESULT.search(l)
        if m and m.group(1) == "vsocktest":
            res[m.group(2)] = (m.group(3), kv(m.group(4)), l)
    ctx = "\n".join(l for _, l in a.lines if "vsocktest:" in l) + "\n--- B\n" + b.output()
    print(f"\nlinux {g.version} vsocktest -> test guest: " + "; ".join(
        [v[2] for k, v in sorted(res.items())] + [lb]))
    st, r, _ = res.get("echo", ("missing", {}, ""))
    assert st == "ok" and int(r["bytes"]) == n and int(r["crc"], 16) == want_crc, ctx
    assert int(r["cid"]) == CID["b"], ctx
    m = re.fullmatch(rf"testguest: echo-server ok conns=1 bytes={n} peer_cid=3 "
                     r"peer_port=(\d+) peer_conns=1", lb)
    assert m, ctx
    assert int(m.group(1)) >= 1024, ctx          # Linux's ephemeral port, not a host's
    st, r, _ = res.get("refused", ("missing", {}, ""))
    assert st == "ok" and int(r["err"]) == -104 and int(r["cid"]) == NOT_A_PEER, ctx
    assert pkt_err["dst_cid"] == 1, (pkt_err, ctx)
    assert done.group(1) == "2" and done.group(2) == "0", ctx
    text = "\n".join(l for _, l in a.lines)
    assert re.search(r"vsocktest: transport=virtio local_cid=3\b", text), ctx
    for bad in ("Call Trace", "BUG:", "WARNING:", "Kernel panic"):
        assert bad not in text, ctx
    clean(b)


@pytest.mark.parametrize("bad", [(1, 0), (3, 0), (0xFFFFFFFF, 0), (4, 3)],
                         ids=["cid-1", "own-cid", "cid-any", "refused-own-cid"])
def test_linux_kernel_driver_bad_cid(linux_guest, sockdir, bad):
    """vsocktest.cid (or refused_cid) that is not 2 or 3..0xFFFFFFFE, or is
    the guest's own CID (3; it and CID 1 would stay inside the guest, on
    the loopback transport): every scenario fails with reason=bad_cid,
    nothing reaches the device."""
    from test_linux_vsock import BOOT_BUDGET
    from test_linux_vsock_qemu import QemuVhostUser
    g = linux_guest.require("vt_local_cid")
    cid, refused = bad
    a = None
    try:
        a = QemuVhostUser(sockdir, g, g.initrd_min, uds(sockdir, "a"),
                          f"vsocktest.scenarios=echo,listen,refused vsocktest.cid={cid} "
                          f"vsocktest.refused_cid={refused}",
                          time.monotonic() + BOOT_BUDGET, cid=CID["a"], name="-linux-a")
        try:
            _, done = a.wait_line(r"vsocktest: done passed=(\d+) failed=(\d+)")
        except (TimeoutError, EOFError) as e:
            pytest.fail(f"A: {e}\n{a.console()}")
    finally:
        if a is not None:
            a.kill_all()
    text = "\n".join(l for _, l in a.lines)
    assert (done.group(1), done.group(2)) == ("0", "3"), text
    for sc in ("echo", "listen", "refused"):
        assert re.search(rf"vsocktest: {sc} fail reason=bad_cid cid={cid} "
                         rf"refused_cid={refused} local_cid=3 ", text), text
