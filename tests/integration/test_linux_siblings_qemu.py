"""Two real Linux guests talk over vsock by CID (sibling VMs, docs/vsock.md
"Sibling VMs"), each under its own QEMU (TCG) + `vmm vhost-user` back-end
(test_linux_vsock_qemu.py's QemuVhostUser):

  guest A: CID 3, --vsock-uds a.sock, --vsock-peer 4=b.sock
  guest B: CID 4, --vsock-uds b.sock, --vsock-peer 3=a.sock

Guest side is the user-space agent (/bin/vsock-agent, busybox initramfs):
  B: scenarios=listen,echo port=P: an echo server on vsock port P+1 that
     reports the caller's CID (peer_cid=), then an echo through the host
     (CID 2, our Unix listener at b.sock_P) for a throughput figure in the
     same run;
  A: scenarios=echo,refused port=P+1 cid=4 refused_cid=5: N bytes to
     CID 4 port P+1 and back, checked by CRC; then a connect to CID 5 (no
     such peer) must get a reset (ECONNRESET, the device's DST_CID RST).
B boots first; A boots once B prints "listening", so A's connect needs no
retry.

Checks: A's echo ok with the CRC of the payload (vsockhost.prng_bytes(1, N)),
B's listen ok with peer_cid=3 and the same byte count and CRC, A's refused
ok and counted as A's back-end's only refused packet (metrics pkt_err
dst_cid), both QEMUs and both back-ends exit 0, no kernel BUG/WARNING/Call Trace.
The ms= figures are indicative only (two guests under TCG on 2 cores).

Below it, with the agents serving each other (vsockagent.serve_port):
test_linux_siblings_seqpacket_halfclose_figures (SEQPACKET, both
half-closes, ping-pong and echo figures sibling vs host) and
test_linux_siblings_three_and_kill (three guests with concurrent flows,
20 connections at once, one sibling SIGKILLed mid-stream); see their
docstrings and docs/vsock.md "Sibling VMs".
Budget: VMM_LINUX_VSOCK_BUDGET (default 600 s) per boot; console tails of
both guests are printed when it runs out.  Skips when qemu-system-x86_64
is not installed."""
import os
import re
import subprocess
import time
from zlib import crc32

import pytest

from conftest import linux_guest  # noqa: F401 (fixture)
from vsockhost import sockdir, Listener, prng_bytes, host_connect_once  # noqa: F401 (fixture)
from test_linux_vsock import BOOT_BUDGET, RESULT, kv, h_echo_crc
from test_linux_vsock_qemu import QEMU, QemuVhostUser

PORT = 6000           # B's agent port: listen on PORT+1, host echo to PORT
N = 512 << 10         # bytes through each echo
CID_A, CID_B, CID_NONE = 3, 4, 5
ECONNRESET = 104
PREFIX = "vsock-agent"


def agent_args(**kw):
    return "vsockagent=1 " + " ".join(f"vsockagent.{k}={v}" for k, v in kw.items())


def results_of(vm):
    out = {}
    for _, l in vm.lines:
        m = RESULT.search(l)
        if m and m.group(1) == PREFIX:
            assert m.group(2) not in out, f"two result lines for {m.group(2)}\n{vm.console()}"
            out[m.group(2)] = (m.group(3), kv(m.group(4)), l)
    return out


def both_consoles(vms):
    return "\n".join(f"=== guest {name} (CID {cid}) console tail\n{vm.console(60)}"
                     for name, cid, vm in vms)


@pytest.mark.skipif(QEMU is None, reason="qemu-system-x86_64 is not installed "
                    "(Debian package qemu-system-x86)")
def test_linux_siblings_over_vhost_user(linux_guest, sockdir):
    g = linux_guest.require()
    uds_a, uds_b = os.path.join(sockdir, "a.sock"), os.path.join(sockdir, "b.sock")
    want_crc = crc32(prng_bytes(1, N))       # sc_echo's payload: seed 1
    host_echo = Listener(uds_b, PORT, h_echo_crc)
    vms = []                                 # (name, cid, vm)
    try:
        b = QemuVhostUser(sockdir, g, g.initrd_gz, uds_b,
                          agent_args(scenarios="listen,echo", port=PORT,
                                     listen_bytes=N, echo_bytes=N,
                                     timeout_s=int(BOOT_BUDGET)),
                          time.monotonic() + BOOT_BUDGET, cid=CID_B, name="-b",
                          be_args=("--vsock-peer", f"{CID_A}={uds_a}"))
        vms.append(("B", CID_B, b))
        try:
            t_listen, _ = b.wait_line(rf"{PREFIX}: listening port={PORT + 1}\b")
        except (TimeoutError, EOFError) as e:
            pytest.fail(f"B: {e}\n{both_consoles(vms)}")
        a = QemuVhostUser(sockdir, g, g.initrd_gz, uds_a,
                          agent_args(scenarios="echo,refused", port=PORT + 1,
                                     echo_bytes=N, cid=CID_B, refused_cid=CID_NONE),
                          time.monotonic() + BOOT_BUDGET, cid=CID_A, name="-a",
                          be_args=("--vsock-peer", f"{CID_B}={uds_b}"))
        vms.append(("A", CID_A, a))
        done = {}
        for name, _, vm in (("A", CID_A, a), ("B", CID_B, b)):
            try:
                _, m = vm.wait_line(rf"{PREFIX}: done passed=(\d+) failed=(\d+)")
                done[name] = m
            except (TimeoutError, EOFError) as e:
                seen = {n: [l for _, l in v.lines if RESULT.search(l)] for n, _, v in vms}
                pytest.fail(f"{name}: {e}\nresult lines so far: {seen}\n{both_consoles(vms)}")
        for name, _, vm in vms:
            try:
                vm.proc.wait(timeout=max(5.0, vm.deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pytest.fail(f"{name}: qemu still running after 'done'\n{both_consoles(vms)}")
            for t in vm.threads:
                t.join(5)
        # Each front-end went away with its guest: each back-end exits 0.
        for name, _, vm in vms:
            try:
                rc = vm.be.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pytest.fail(f"{name}: vmm vhost-user still running after QEMU exited\n"
                            f"{vm.backend_text()}")
            vm.be_thread.join(5)
            assert rc == 0, f"{name}: vmm vhost-user exit {rc}\n{vm.backend_text()}"
            assert vm.proc.returncode == 0, \
                f"{name}: qemu exit {vm.proc.returncode}\n{vm.console()}"
        host_echo.close()

        ra, rb = results_of(a), results_of(b)
        lines = "\n".join(f"{n}: {l}" for n, _, v in vms for _, l in v.lines
                          if l.startswith(PREFIX))
        print(f"\nlinux {g.version}: two guests under QEMU TCG + vmm vhost-user "
              f"(B listening at {t_listen:.1f}s)\n{lines}")
        ctx = f"\n{lines}\n{both_consoles(vms)}"
        out = {n: "\n".join(l for _, l in v.lines) for n, _, v in vms}
        assert re.search(rf"{PREFIX}: transport=vsock local_cid={CID_A}\b", out["A"]), ctx
        assert re.search(rf"{PREFIX}: transport=vsock local_cid={CID_B}\b", out["B"]), ctx

        # A -> B by CID: the whole payload came back intact ...
        st, r, _ = ra.get("echo", ("missing", {}, ""))
        assert st == "ok", f"A echo: {st} {r}{ctx}"
        assert int(r["bytes"]) == N and int(r["crc"], 16) == want_crc, f"A echo: {r}{ctx}"
        assert int(r["cid"]) == CID_B, r
        # ... and B saw it come from A's real CID with the same bytes.
        st, r2, _ = rb.get("listen", ("missing", {}, ""))
        assert st == "ok", f"B listen: {st} {r2}{ctx}"
        assert int(r2["peer_cid"]) == CID_A, f"B listen: {r2}{ctx}"
        assert int(r2["bytes"]) == N and int(r2["crc"], 16) == want_crc, f"B listen: {r2}{ctx}"
        # A -> CID 5 (not a peer): reset.
        st, r3, _ = ra.get("refused", ("missing", {}, ""))
        assert st == "ok" and int(r3["err"]) == -ECONNRESET and int(r3["cid"]) == CID_NONE, \
            f"A refused: {st} {r3}{ctx}"
        # ... refused by our device's destination check (A's back-end
        # metrics), and only that: nothing else in either run was refused.
        ma, mb = a.metrics(), b.metrics()
        assert ma["pkt_err"]["dst_cid"] == 1, ma["pkt_err"]
        assert sum(ma["pkt_err"].values()) == 1 and not any(mb["pkt_err"].values()), \
            (ma["pkt_err"], mb["pkt_err"])
        # B -> host echo, the reference figure of the same run.
        st, r4, _ = rb.get("echo", ("missing", {}, ""))
        assert st == "ok" and int(r4["bytes"]) == N and int(r4["crc"], 16) == want_crc, \
            f"B host echo: {st} {r4}{ctx}"
        with host_echo.lock:
            assert host_echo.results == [(N, want_crc)], (host_echo.results, host_echo.errors)
        for name, m in done.items():
            assert m.group(2) == "0", f"{name}: {m.group(0)}{ctx}"
        for name, text in out.items():
            for bad in ("Call Trace", "BUG:", "WARNING:", "Kernel panic"):
                assert bad not in text, f"{name}: {bad}{ctx}"

        def rate(r):
            ms = max(int(r["ms"]), 1)
            return f"{N} B in {ms} ms = {N / ms:.0f} B/ms"
        print(f"throughput (TCG, indicative): sibling echo A->B {rate(r)}; "
              f"host echo B->host {rate(r4)}; refused in {r3['ms']} ms")
    finally:
        host_echo.close()
        for _, _, vm in vms:
            vm.kill_all()


# ---- more sibling scenarios: SEQPACKET, half-close, figures; three VMs, a kill ----
#
# The agents serve each other (vsockagent.serve_port=S, vsock-agent.c "server"):
# S+0 echo, S+2 replies after EOF, S+3 sends first, S+4 SEQPACKET echo, S+5
# echo (many), S+6 sink; one "served ..." console line per connection with
# the caller's CID, byte count, CRC and err (0 = the server's checks held).

SERVED = re.compile(r"vsock-agent: served port=(\d+) peer_cid=(\d+) peer_port=(\d+) "
                    r"bytes=(\d+) crc=0x([0-9a-f]+) msgs=(\d+) err=(-?\d+)")
SEQ_SIZES = [1, 100, 4096, 10000, 60000]      # vsock-agent.c seq_sizes, sent twice
BAD = ("Call Trace", "BUG:", "WARNING:", "Kernel panic")


def prng_messages(seed, sizes):
    """vsock-agent.c prng_fill() called once per size: each call starts on
    a fresh 8-byte step (a size's tail of the last step is dropped)."""
    s = (seed ^ 0x9E3779B97F4A7C15) & ((1 << 64) - 1) or 1
    out = []
    for n in sizes:
        b = bytearray()
        while len(b) < n:
            s ^= (s << 13) & ((1 << 64) - 1)
            s ^= s >> 7
            s ^= (s << 17) & ((1 << 64) - 1)
            b += s.to_bytes(8, "little")
        out.append(bytes(b[:n]))
    return out


def served_of(vm):
    """[(port, peer_cid, bytes, crc, msgs, err)] from the console."""
    return [(int(m.group(1)), int(m.group(2)), int(m.group(4)), int(m.group(5), 16),
             int(m.group(6)), int(m.group(7)))
            for _, l in vm.lines for m in [SERVED.search(l)] if m]


class Siblings:
    """Several guests, each under QEMU TCG + `vmm vhost-user`, each listing
    all the others as --vsock-peer (CID -> <sockdir>/<name>.sock)."""

    def __init__(self, g, sockdir, cids):
        self.g, self.sockdir, self.cids = g, sockdir, cids   # {name: cid}
        self.uds = {n: os.path.join(sockdir, f"{n.lower()}.sock") for n in cids}
        self.vms = {}

    def boot(self, name, **agent):
        peers = []
        for n, c in self.cids.items():
            if n != name:
                peers += ["--vsock-peer", f"{c}={self.uds[n]}"]
        vm = QemuVhostUser(self.sockdir, self.g, self.g.initrd_gz, self.uds[name],
                           agent_args(timeout_s=int(BOOT_BUDGET), **agent),
                           time.monotonic() + BOOT_BUDGET, cid=self.cids[name],
                           name=f"-{name.lower()}", be_args=peers)
        self.vms[name] = vm
        return vm

    def consoles(self):
        return both_consoles([(n, self.cids[n], v) for n, v in self.vms.items()])

    def wait(self, name, pattern):
        try:
            return self.vms[name].wait_line(pattern)
        except (TimeoutError, EOFError) as e:
            pytest.fail(f"{name}: {e}\n{self.consoles()}")

    def wait_served(self, name, ports, count):
        """Until `name` printed `count` served lines for these ports."""
        vm = self.vms[name]
        with vm.cond:
            while sum(1 for _, l in vm.lines for m in [SERVED.search(l)]
                      if m and int(m.group(1)) in ports) < count:
                left = vm.deadline - time.monotonic()
                if left <= 0 or vm.exited():
                    break
                vm.cond.wait(min(left, 0.5))
            else:
                return
        pytest.fail(f"{name}: fewer than {count} served lines for ports {ports}\n"
                    f"{self.consoles()}")

    def finish(self, names):
        """Each guest said done, its QEMU exited 0, then its back-end 0."""
        for n in names:
            self.wait(n, rf"{PREFIX}: done passed=\d+ failed=\d+")
        for n in names:
            vm = self.vms[n]
            try:
                vm.proc.wait(timeout=max(5.0, vm.deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pytest.fail(f"{n}: qemu still running after 'done'\n{self.consoles()}")
            for t in vm.threads:
                t.join(5)
            try:
                rc = vm.be.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pytest.fail(f"{n}: vmm vhost-user still running after QEMU exited\n"
                            f"{vm.backend_text()}")
            vm.be_thread.join(5)
            assert rc == 0, f"{n}: vmm vhost-user exit {rc}\n{vm.backend_text()}"
            assert vm.proc.returncode == 0, f"{n}: qemu exit {vm.proc.returncode}\n{vm.console()}"

    def lines(self):
        return "\n".join(f"{n}: {l}" for n, v in self.vms.items() for _, l in v.lines
                         if l.startswith(PREFIX))

    def check_clean(self, names):
        for n in names:
            text = "\n".join(l for _, l in self.vms[n].lines)
            for bad in BAD:
                assert bad not in text, f"{n}: {bad}\n{self.consoles()}"
            m = re.search(rf"{PREFIX}: done passed=(\d+) failed=(\d+)", text)
            assert m and m.group(2) == "0", f"{n}: {m and m.group(0)}\n{self.lines()}"

    def kill_all(self):
        for vm in self.vms.values():
            vm.kill_all()


def ok(results, name, scen, ctx):
    st, r, _ = results.get(scen, ("missing", {}, ""))
    assert st == "ok", f"{name} {scen}: {st} {r}{ctx}"
    return r


@pytest.mark.skipif(QEMU is None, reason="qemu-system-x86_64 is not installed "
                    "(Debian package qemu-system-x86)")
def test_linux_siblings_seqpacket_halfclose_figures(linux_guest, sockdir):
    """A (CID 3) -> B (CID 4): SEQPACKET echo of 1, 100, 4096, 10000 and
    60000-byte messages twice (boundaries and bytes checked on both sides),
    both half-closes (A shuts down first and B then sends everything back;
    B shuts down first and A replies), then the figures of the same run:
    1000 ping-pongs of 64 bytes and a 1 MiB echo, each to B and to the host."""
    g = linux_guest.require()
    P, N, H, PINGS = 6100, 1 << 20, 256 << 10, 1000
    sib = Siblings(g, sockdir, {"A": CID_A, "B": CID_B})
    host = Listener(sib.uds["A"], P, h_echo_crc)     # hostping, hostecho
    try:
        sib.boot("B", scenarios="wait", serve_port=P, serve_conns=5, half_bytes=H)
        sib.wait("B", rf"{PREFIX}: serving port={P}\b")
        a = sib.boot("A", scenarios="seqpacket,halfclose,pingpong,hostping,echo,hostecho",
                     port=P, cid=CID_B, echo_bytes=N, half_bytes=H, pings=PINGS)
        sib.finish(["A", "B"])
        host.close()
        lines = sib.lines()
        ctx = f"\n{lines}\n{sib.consoles()}"
        print(f"\nlinux {g.version}: A (CID 3) -> B (CID 4), SEQPACKET, half-close, figures\n{lines}")
        ra, rb = results_of(a), results_of(sib.vms["B"])
        sb = served_of(sib.vms["B"])

        # SEQPACKET: every message came back whole (A checks each length,
        # MSG_TRUNC and CRC), and B got exactly those 10 messages.
        msgs = prng_messages(4, SEQ_SIZES * 2)
        # (MSG_EOR is not carried: Unix SOCK_SEQPACKET between the two VMMs
        # drops it, docs/vsock.md "SEQPACKET"; every message keeps its EOM.)
        r = ok(ra, "A", "seqpacket", ctx)
        assert int(r["msgs"]) == 10, r
        want_seq = (P + 4, CID_A, sum(map(len, msgs)), crc32(b"".join(msgs)), 10, 0)
        # Half-close: A SHUT_WR first, B sends all back after its EOF; then
        # B SHUT_WR first, A replies, B checks the reply.
        r = ok(ra, "A", "halfclose", ctx)
        c3, c5 = crc32(prng_bytes(3, H)), crc32(prng_bytes(5, H))
        assert int(r["guest_shut_bytes"]) == H and int(r["guest_shut_crc"], 16) == c3, r
        assert int(r["host_shut_bytes"]) == H and int(r["host_shut_crc"], 16) == c5, r
        want = sorted([want_seq, (P + 2, CID_A, H, c3, 0, 0), (P + 3, CID_A, H, c5, 0, 0),
                       (P + 0, CID_A, 64 * PINGS, crc32(prng_bytes(9, 64 * PINGS)), 0, 0),
                       (P + 0, CID_A, N, crc32(prng_bytes(1, N)), 0, 0)])
        assert sorted(sb) == want, f"B served {sorted(sb)}\nwant {want}{ctx}"
        assert ok(rb, "B", "wait", ctx)["served"] == "5"
        # The figures' flows were right too.
        pp, hp = ok(ra, "A", "pingpong", ctx), ok(ra, "A", "hostping", ctx)
        assert pp["cid"] == str(CID_B) and hp["cid"] == "2", (pp, hp)
        es, eh = ok(ra, "A", "echo", ctx), ok(ra, "A", "hostecho", ctx)
        for r in (es, eh):
            assert int(r["bytes"]) == N and int(r["crc"], 16) == crc32(prng_bytes(1, N)), r
        with host.lock:
            assert sorted(host.results) == sorted([(64 * PINGS, crc32(prng_bytes(9, 64 * PINGS))),
                                                   (N, crc32(prng_bytes(1, N)))]), \
                (host.results, host.errors)
        ma, mb = a.metrics(), sib.vms["B"].metrics()
        assert not any(ma["pkt_err"].values()) and not any(mb["pkt_err"].values()), \
            (ma["pkt_err"], mb["pkt_err"])
        sib.check_clean(["A", "B"])
        load = os.getloadavg()
        print(f"figures (linux {g.version}, QEMU TCG, loadavg {load[0]:.1f} {load[1]:.1f}; "
              f"indicative only):\n"
              f"  ping-pong {PINGS} x 64 B  sibling A->B p50 {pp['p50_us']} us p99 {pp['p99_us']} us"
              f" (min {pp['min_us']}, max {pp['max_us']});  host A->CID 2 p50 {hp['p50_us']} us"
              f" p99 {hp['p99_us']} us (min {hp['min_us']}, max {hp['max_us']})\n"
              f"  echo {N} B both ways  sibling {int(es['us']) / 1000:.1f} ms = "
              f"{N / max(int(es['us']), 1):.1f} MB/s;  host {int(eh['us']) / 1000:.1f} ms = "
              f"{N / max(int(eh['us']), 1):.1f} MB/s")
    finally:
        host.close()
        sib.kill_all()


@pytest.mark.skipif(QEMU is None, reason="qemu-system-x86_64 is not installed "
                    "(Debian package qemu-system-x86)")
def test_linux_siblings_three_and_kill(linux_guest, sockdir):
    """A (3), B (4), C (5), each listing the other two.  Phase 1, started
    at once by a gate in each guest: A echoes 2 MiB to B and to C at the
    same time, B to C, C to A (CRCs on both ends), then A opens 20
    connections to B at once.  Phase 2: A holds a host flow open and
    streams to B; we SIGKILL B's QEMU and B's `vmm vhost-user`.  A's send
    must fail (not time out), A's host flow must go on intact, a new
    connect to B must get a reset, A's back-end must not crash; C, after
    the kill, reaches A (SEQPACKET) and gets a reset from B."""
    g = linux_guest.require()
    P, N, MANY = 6200, 2 << 20, 20
    CID_C = 5
    sib = Siblings(g, sockdir, {"A": CID_A, "B": CID_B, "C": CID_C})
    host = Listener(sib.uds["A"], P, h_echo_crc)     # A's host flow in "cut"
    crc_n = crc32(prng_bytes(1, N))
    try:
        common = dict(port=P, serve_port=P, echo_bytes=N)
        sib.boot("B", scenarios="gate,mesh,wait", cids=f"{CID_C}",
                 serve_conns=1 + MANY + 1, **common)          # killed in its wait
        sib.boot("C", scenarios="gate,echo,wait,gate2,refused,seqpacket", cid=CID_A,
                 refused_cid=CID_B, serve_conns=2, **common)
        a = sib.boot("A", scenarios="gate,mesh,many,cut,wait", cids=f"{CID_B},{CID_C}",
                     cid=CID_B, many=MANY, cut_timeout_s=30, serve_conns=2, **common)
        for n in ("B", "C", "A"):
            sib.wait(n, rf"{PREFIX}: listening port={P + 9}\b")
        for n in ("B", "C", "A"):                              # go
            s, r = host_connect_once(sib.uds[n], P + 9)
            assert s, f"gate of {n}: {r}"
            s.close()
        # Phase 2: kill B while A streams to it (once B has reported the
        # ends of phase 1's flows: its lines come as A closes them).
        sib.wait("A", rf"{PREFIX}: cut streaming ")
        sib.wait_served("B", (P + 0, P + 5), 1 + MANY)
        b = sib.vms["B"]
        t_kill = time.monotonic()
        b.proc.kill()
        b.be.kill()
        t_end, _ = sib.wait("A", rf"{PREFIX}: cut ended ")
        cut_s = a.t0 + t_end - t_kill
        assert cut_s > 0, f"A's stream to B ended before B was killed{sib.lines()}"
        assert b.proc.wait(10) == -9 and b.be.wait(10) == -9
        sib.wait("C", rf"{PREFIX}: listening port={P + 10}\b")
        s, r = host_connect_once(sib.uds["C"], P + 10)
        assert s, f"gate2 of C: {r}"
        s.close()
        sib.finish(["A", "C"])
        host.close()
        lines = sib.lines()
        ctx = f"\n{lines}\n{sib.consoles()}"
        print(f"\nlinux {g.version}: A (3), B (4), C (5); B killed mid-stream\n{lines}")
        ra, rb, rc = (results_of(sib.vms[n]) for n in "ABC")
        sa, sb, sc = (served_of(sib.vms[n]) for n in "ABC")

        # Phase 1: A<->B, A<->C, B<->C, each echo checked by its CRC on both ends.
        for name, res, to in (("A", ra, CID_B), ("A", ra, CID_C), ("B", rb, CID_C)):
            r = ok(res, name, f"mesh{to}", ctx)
            assert int(r["bytes"]) == N and int(r["crc"], 16) == crc_n, (name, r)
        r = ok(rc, "C", "echo", ctx)
        assert int(r["bytes"]) == N and int(r["crc"], 16) == crc_n and r["cid"] == str(CID_A), r
        r = ok(ra, "A", "many", ctx)
        assert int(r["conns"]) == MANY, r
        echo = (P + 0, N, crc_n, 0, 0)
        # B served A's echo and A's 20 connections of 64 bytes (seeds 100+i)
        # before it was killed (the sink of "cut" never ended there).
        many = sorted((P + 5, CID_A, 64, crc32(prng_bytes(100 + i, 64)), 0, 0) for i in range(MANY))
        assert sorted(x for x in sb if x[0] != P + 6) == sorted([(P, CID_A) + echo[1:]] + many), \
            f"B served {sorted(sb)}{ctx}"
        assert sorted(sc) == sorted([(P, CID_A) + echo[1:], (P, CID_B) + echo[1:]]), \
            f"C served {sc}{ctx}"
        # Phase 2: A's stream to B ended with an error, not a timeout ...
        r = ok(ra, "A", "cut", ctx)
        assert int(r["sibling_err"]) < 0 and int(r["reconnect_err"]) == -ECONNRESET, r
        # ... A's host flow went on intact, host side agrees ...
        assert int(r["host_bytes"]) == N and int(r["host_crc"], 16) == crc_n, r
        with host.lock:
            assert host.results == [(N, crc_n)], (host.results, host.errors)
        # ... and C, after the kill: a reset from B's CID, SEQPACKET to A.
        r = ok(rc, "C", "refused", ctx)
        assert int(r["err"]) == -ECONNRESET and r["cid"] == str(CID_B), r
        ok(rc, "C", "seqpacket", ctx)
        msgs = prng_messages(4, SEQ_SIZES * 2)
        assert sorted(sa) == sorted([(P, CID_C) + echo[1:],
                                     (P + 4, CID_C, sum(map(len, msgs)), crc32(b"".join(msgs)), 10, 0)]), \
            f"A served {sa}{ctx}"
        for n, res in (("A", ra), ("C", rc)):
            assert ok(res, n, "wait", ctx)["served"] == "2"
        # When phase 1's four 2 MiB echoes ran (host clock, from each
        # guest's ok line and its ms=): they overlap unless a guest stalls.
        t_go = min(sib.vms[n].t0 + sib.wait(n, rf"{PREFIX}: gate ok")[0] for n in "ABC")
        spans = []
        for n, scen in (("A", "mesh4"), ("A", "mesh5"), ("B", "mesh5"), ("C", "echo")):
            t, m = sib.wait(n, rf"{PREFIX}: {scen} ok .* ms=(\d+)")
            end = sib.vms[n].t0 + t - t_go
            spans.append(f"{n}->{m.group(0).split('cid=')[1].split()[0]} "
                         f"{end - int(m.group(1)) / 1000:.2f}..{end:.2f} s")
        print("phase 1 echoes after the gates opened: " + ", ".join(spans))
        sib.check_clean(["A", "C"])
        # Both surviving back-ends: nothing malformed, no flow left open
        # (A's flow to B freed), and the one refusal each (a connect to B).
        ma, mc = a.metrics(), sib.vms["C"].metrics()
        for n, m in (("A", ma), ("C", mc)):
            assert not any(m["pkt_err"].values()), (n, m["pkt_err"])
            assert m["conns_open"] == 0 and m["conn_refused"] == 1, \
                (n, m["conns_open"], m["conn_refused"])
        print(f"A's stream to B ended {cut_s * 1000:.0f} ms after the SIGKILL "
              f"(guest send error {ra['cut'][1]['sibling_err']}, {ra['cut'][1]['sent']} B sent); "
              f"A's host flow went on: {N} B echoed, CRC ok")
    finally:
        host.close()
        sib.kill_all()
