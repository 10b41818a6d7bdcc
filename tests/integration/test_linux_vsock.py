"""Real Linux guests (6.1 and 6.12) talk to the host over our virtio-mmio vsock device.

The guest side is Linux's own virtio_vsock driver and AF_VSOCK socket layer,
driven by
  - the built-in kernel test driver guest-images/linux/vsocktest/vsocktest.c
    (CONFIG_VMM_VSOCKTEST, "vsocktest.scenarios=..." on the kernel command
    line): runs everywhere, including this project's PVM hosts where guest
    user space cannot run (docs/test-hosts.md);
  - the user-space agent guest-images/linux/agent/vsock-agent.c
    (/bin/vsock-agent, started by /init for "vsockagent=1"): ordinary KVM
    hosts only; SKIPPED on PVM hosts.
One boot per kernel and discovery mode (cmdline, fdt) runs every scenario; the host side
here is real Unix sockets only (never AF_VSOCK on the host):

  port P+0 echo       Unix listener <uds>_P+0 echoes; guest sends >= 1 MiB
       P+1 listen     guest listens; we "CONNECT P+1" once the console shows
                      "vsocktest: listening port=P+1"; the guest echoes
       P+2 halfclose  guest SHUT_WR; we read to EOF, reply everything, SHUT_WR
       P+3 halfclose  we send, SHUT_WR; the guest replies after its EOF
       P+4 seqpacket  SOCK_SEQPACKET listener echoes message by message
       P+5 many       100 concurrent guest connections to an echo listener
       P+6 refused    nothing listens: the guest must get ECONNRESET
       P+7 slowread   we send 4 MiB while the guest does not read for 2 s:
                      our sender must stall, then everything arrives

Payloads the guest generates are vsockhost.prng_bytes(seed, n); checksums are
CRC-32 (zlib.crc32), computed by the guest with the kernel's crc32_le and
checked here against our own.  The console is parsed as it streams; every
wait is bounded (BOOT_BUDGET per boot, default 600 s, env
VMM_LINUX_VSOCK_BUDGET), and the console tail is printed when it runs out."""
import os
import re
import select
import socket
import subprocess
import threading
import time

import pytest

from conftest import VMM, needs_kvm, is_pvm_host, linux_cmdline, linux_guest  # noqa: F401
from vsockhost import (Listener, crc32, prng_bytes, host_connect_once, recv_to_eof,
                       h_echo, sockdir)  # noqa: F401 (sockdir is a fixture)

pytestmark = needs_kvm

# Sized for a 2-core PVM host at load ~4 (a boot alone took almost 4 min).
BOOT_BUDGET = float(os.environ.get("VMM_LINUX_VSOCK_BUDGET", "600"))
# "refused" before "many": the RST latency is then not queued behind the
# teardown of many's 100 connections.
SCENARIOS = ["echo", "listen", "halfclose", "seqpacket", "refused", "many", "slowread"]
PORT = 5000
SIZES = dict(echo_bytes=1 << 20, listen_bytes=256 << 10, half_bytes=64 << 10,
             many=100, slow_bytes=4 << 20, slow_pause_ms=2000)
SEQ_SIZES = [1, 100, 4096, 10000, 60000]
# Seeds of the guest's payload streams (vsocktest.c / vsock-agent.c) and ours.
SEED_ECHO, SEED_LISTEN, SEED_HALF_GUEST, SEED_HALF_HOST, SEED_SLOW = 1, 2, 3, 5, 7

RESULT = re.compile(r"(vsocktest|vsock-agent): (\w+) (ok|fail)\b(.*)$")




def kv(rest):
    return dict(w.split("=", 1) for w in rest.split() if "=" in w)


class LinuxVmm:
    """build/vmm booting the Linux guest; console lines collected by a thread
    as they stream, waits bounded by a deadline."""

    def __init__(self, args, deadline, argv=None):
        # argv: another program instead of build/vmm (test_linux_vsock_qemu.py)
        self.args = argv if argv else [VMM] + args
        self.deadline = deadline
        self.lines, self.err = [], []
        self.cond = threading.Condition()
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.threads = [threading.Thread(target=self._pump, args=(f, d), daemon=True)
                        for f, d in ((self.proc.stdout, self.lines), (self.proc.stderr, self.err))]
        for t in self.threads:
            t.start()

    def _pump(self, f, dst):
        for raw in iter(f.readline, b""):
            with self.cond:
                dst.append((time.monotonic() - self.t0,
                            raw.decode(errors="replace").rstrip("\r\n")))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def exited(self):
        return self.proc.poll() is not None and not any(t.is_alive() for t in self.threads)

    def wait_line(self, pattern):
        """(time, match) of the first console line matching `pattern`;
        raises TimeoutError / EOFError (vmm exited) otherwise."""
        rx = re.compile(pattern)
        with self.cond:
            while True:
                for t, l in self.lines:
                    m = rx.search(l)
                    if m:
                        return t, m
                if self.exited():
                    raise EOFError(f"vmm exited ({self.proc.returncode}) before /{pattern}/")
                left = self.deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no /{pattern}/ within the {BOOT_BUDGET:.0f} s budget")
                self.cond.wait(min(left, 0.5))

    def console(self, tail=80):
        with self.cond:
            out = [f"[{t:7.2f}] {l}" for t, l in self.lines[-tail:]]
            err = [l for _, l in self.err[-40:]]
        return "\n".join(out) + "\n--- vmm stderr (tail)\n" + "\n".join(err)

    def stderr_text(self):
        with self.cond:
            return "\n".join(l for _, l in self.err)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


# ---- host-side handlers -------------------------------------------------------

def h_echo_crc(c, l):
    """Echo until EOF, then close; (bytes, crc32) of what went through."""
    c.settimeout(120)
    n, crc = 0, 0
    while True:
        b = c.recv(1 << 18)
        if not b:
            return n, crc
        c.sendall(b)
        n += len(b)
        crc = crc32(b, crc)


def h_reply_after_eof_crc(c, l):
    """Guest half-closes first: read to EOF, send it all back, SHUT_WR."""
    data = recv_to_eof(c, 120)
    c.sendall(data)
    c.shutdown(socket.SHUT_WR)
    return len(data), crc32(data)


def make_host_shut(data):
    """Host half-closes first: send data, SHUT_WR, read the guest's reply to EOF."""
    def h(c, l):
        c.settimeout(120)
        c.sendall(data)
        c.shutdown(socket.SHUT_WR)
        back = recv_to_eof(c, 120)
        return len(back), crc32(back), back == data
    return h


def h_seq_echo_sizes(c, l):
    """SOCK_SEQPACKET echo; the sizes of the messages, in order."""
    sizes = []
    c.settimeout(120)
    while True:
        m = c.recv(1 << 20)
        if not m:
            return sizes
        c.send(m)
        sizes.append(len(m))


def make_slow_source(data):
    """Send data non-blocking, timing every wait for writability (the
    guest reads nothing for slow_pause_ms); SHUT_WR at the end."""
    def h(c, l):
        c.setblocking(False)
        mv = memoryview(data)
        off, stalls = 0, []
        deadline = time.monotonic() + 180
        while off < len(data):
            try:
                off += c.send(mv[off:off + (1 << 16)])
                continue
            except BlockingIOError:
                pass
            t = time.monotonic()
            select.select([], [c], [], 5.0)
            stalls.append((off, time.monotonic() - t))
            if time.monotonic() > deadline:
                raise TimeoutError(f"slowread sender stuck at {off} bytes")
        c.setblocking(True)
        c.shutdown(socket.SHUT_WR)
        longest = max(stalls, key=lambda s: s[1]) if stalls else (None, 0.0)
        return dict(bytes=off, crc=crc32(data), longest_stall_s=longest[1],
                    longest_stall_at=longest[0], stalls=len(stalls))
    return h


class ListenClient(threading.Thread):
    """Waits for "<prefix>: listening port=Q", then CONNECTs (retrying until
    the VMM answers OK, bounded), sends data while reading the echo."""

    def __init__(self, vm, uds, prefix, data):
        super().__init__(daemon=True)
        self.vm, self.uds, self.prefix, self.data = vm, uds, prefix, data
        self.result, self.error = None, None

    def run(self):
        try:
            _, m = self.vm.wait_line(rf"{self.prefix}: listening port=(\d+)")
            port = int(m.group(1))
            last = None
            while time.monotonic() < self.vm.deadline:
                s, r = host_connect_once(self.uds, port)
                if s:
                    break
                last = r
                if self.vm.exited():
                    raise EOFError("vmm exited")
                time.sleep(0.05)   # poll interval of a bounded retry loop
            else:
                raise TimeoutError(f"CONNECT {port} never answered OK: {last}")
            host_port = r
            tx = threading.Thread(target=lambda: (s.sendall(self.data), s.shutdown(socket.SHUT_WR)),
                                  daemon=True)
            tx.start()
            back = recv_to_eof(s, 120)
            tx.join(120)
            s.close()
            self.result = dict(host_port=host_port, bytes=len(back), crc=crc32(back),
                               same=back == self.data)
        except Exception as e:  # reported by the test
            self.error = repr(e)


# ---- one boot -------------------------------------------------------------------

_data_cache = {}


def payload(seed, n):
    if (seed, n) not in _data_cache:
        _data_cache[(seed, n)] = prng_bytes(seed, n)
    return _data_cache[(seed, n)]


def run_boot(sockdir, guest, discovery, prefix, guest_args, initrd, launch=None):
    """Boot, run the host side of every scenario; returns (results, vm,
    listeners, listen_client, times).  launch(uds, cmdline, deadline): start
    the guest some other way (a LinuxVmm-like object; test_linux_vsock_qemu.py)."""
    uds = os.path.join(sockdir, "v.sock")
    half = SIZES["half_bytes"]
    ls = {
        "echo": Listener(uds, PORT + 0, h_echo_crc),
        "half_guest": Listener(uds, PORT + 2, h_reply_after_eof_crc),
        "half_host": Listener(uds, PORT + 3, make_host_shut(payload(SEED_HALF_HOST, half))),
        "seqpacket": Listener(uds, PORT + 4, h_seq_echo_sizes, kind=socket.SOCK_SEQPACKET),
        "many": Listener(uds, PORT + 5, h_echo),
        "slowread": Listener(uds, PORT + 7, make_slow_source(payload(SEED_SLOW, SIZES["slow_bytes"]))),
    }
    assert not os.path.exists(f"{uds}_{PORT + 6}")   # "refused": nothing there
    cmd = linux_cmdline() + " " + guest_args
    args = ["run", "--kernel", guest.vmlinux, "--initrd", initrd, "--mem", "256", "--vcpus", "1",
            "--vsock-cid", "3", "--vsock-uds", uds, "--discovery", discovery,
            "--trace-boot", "--cmdline", cmd]
    if launch:
        vm = launch(uds, guest_args, time.monotonic() + BOOT_BUDGET)
    else:
        vm = LinuxVmm(args, time.monotonic() + BOOT_BUDGET)
    client = ListenClient(vm, uds, prefix, payload(SEED_LISTEN, SIZES["listen_bytes"]))
    client.start()
    times = {}
    try:
        try:
            times["start"], _ = vm.wait_line(rf"{prefix}: start ")
            times["done"], done = vm.wait_line(rf"{prefix}: done passed=(\d+) failed=(\d+)")
        except (TimeoutError, EOFError) as e:
            seen = [l for _, l in vm.lines if RESULT.search(l)]
            pytest.fail(f"{discovery}: {e}\nresult lines so far: {seen}\n{vm.console()}")
        try:
            vm.proc.wait(timeout=max(5.0, vm.deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pytest.fail(f"{discovery}: vmm still running after 'done'\n{vm.console()}")
        for t in vm.threads:
            t.join(5)
        times["exit"] = time.monotonic() - vm.t0
        client.join(10)
    finally:
        vm.kill()
        for l in ls.values():
            l.close()
    results = {}
    for _, l in vm.lines:
        m = RESULT.search(l)
        if m and m.group(1) == prefix:
            assert m.group(2) not in results, f"two result lines for {m.group(2)}\n{vm.console()}"
            results[m.group(2)] = (m.group(3), kv(m.group(4)), l)
    return results, vm, ls, client, times, done


def check_results(discovery, prefix, results, vm, ls, client, done):
    """Every scenario's guest line and host-side view; returns a list of
    problems (empty when all is well) and a one-line summary per scenario."""
    problems, summary = [], {}
    half = SIZES["half_bytes"]

    def want(cond, scen, msg):
        if not cond:
            problems.append(f"{scen}: {msg}")
        return cond

    def single(l):
        with l.lock:
            return list(l.results), list(l.errors)

    for scen in SCENARIOS:
        if scen not in results:
            problems.append(f"{scen}: no result line")
            continue
        status, r, line = results[scen]
        summary[scen] = status
        if not want(status == "ok", scen, f"guest reports: {line.split(prefix + ': ', 1)[1]}"):
            continue
        if scen == "echo":
            exp = crc32(payload(SEED_ECHO, SIZES["echo_bytes"]))
            res, errs = single(ls["echo"])
            want(int(r["bytes"]) == SIZES["echo_bytes"], scen, f"bytes {r['bytes']}")
            want(int(r["crc"], 16) == exp, scen, f"guest crc {r['crc']} != {exp:#010x}")
            want(res == [(SIZES["echo_bytes"], exp)] and not errs, scen, f"host side {res} {errs}")
        elif scen == "listen":
            exp = crc32(payload(SEED_LISTEN, SIZES["listen_bytes"]))
            want(client.error is None and client.result, scen, f"host client: {client.error}")
            if client.result:
                want(client.result["same"] and client.result["bytes"] == SIZES["listen_bytes"],
                     scen, f"echo back differs: {client.result}")
                want(int(r["peer_port"]) == client.result["host_port"], scen,
                     f"guest sees peer port {r['peer_port']}, OK said {client.result['host_port']}")
            want(int(r["crc"], 16) == exp, scen, f"guest crc {r['crc']} != {exp:#010x}")
            want(r.get("peer_cid") == "2", scen, f"peer_cid {r.get('peer_cid')}")
        elif scen == "halfclose":
            eg = crc32(payload(SEED_HALF_GUEST, half))
            eh = crc32(payload(SEED_HALF_HOST, half))
            want(int(r["guest_shut_crc"], 16) == eg, scen, "guest_shut crc")
            want(int(r["host_shut_crc"], 16) == eh, scen, "host_shut crc")
            res, errs = single(ls["half_guest"])
            want(res == [(half, eg)] and not errs, scen, f"host side (guest SHUT_WR) {res} {errs}")
            res, errs = single(ls["half_host"])
            want(res == [(half, eh, True)] and not errs, scen, f"host side (host SHUT_WR) {res[:1]} {errs}")
        elif scen == "seqpacket":
            res, errs = single(ls["seqpacket"])
            want(res == [SEQ_SIZES * 2] and not errs, scen,
                 f"host saw message sizes {res} (want {SEQ_SIZES * 2}) {errs}")
            want(int(r["msgs"]) == 2 * len(SEQ_SIZES), scen, f"msgs {r['msgs']}")
        elif scen == "many":
            res, errs = single(ls["many"])
            want(int(r["conns"]) >= 100, scen, f"conns {r['conns']}")
            want(ls["many"].accepted == SIZES["many"] and not errs, scen,
                 f"host accepted {ls['many'].accepted} errors {errs[:3]}")
            want(sorted(res) == [64] * SIZES["many"], scen, f"host echoed {sorted(set(res))}")
        elif scen == "refused":
            want(int(r["err"]) == -104, scen, f"err {r['err']}")
        elif scen == "slowread":
            exp = crc32(payload(SEED_SLOW, SIZES["slow_bytes"]))
            res, errs = single(ls["slowread"])
            want(int(r["crc"], 16) == exp and int(r["bytes"]) == SIZES["slow_bytes"], scen,
                 f"guest crc {r['crc']} bytes {r['bytes']}")
            want(len(res) == 1 and not errs, scen, f"host side {res} {errs}")
            if res:
                h = res[0]
                summary[scen] += f" (host stalled {h['longest_stall_s']:.1f}s at {h['longest_stall_at']} B)"
                # The guest read nothing for slow_pause_ms: our sender must
                # have been held back (credit + socket buffers) well before
                # the end of the data, for most of the pause.
                want(h["longest_stall_s"] >= 0.5 * SIZES["slow_pause_ms"] / 1000, scen,
                     f"host sender never stalled long: {h}")
                want(h["longest_stall_at"] is not None and h["longest_stall_at"] < SIZES["slow_bytes"],
                     scen, f"stall position {h}")
    passed, failed = int(done.group(1)), int(done.group(2))
    if passed != len(SCENARIOS) or failed:
        problems.append(f"guest summary: passed={passed} failed={failed}")
    return problems, summary


def guest_args(prefix):
    key = "vsocktest" if prefix == "vsocktest" else "vsockagent"
    a = [f"{key}.scenarios={','.join(SCENARIOS)}", f"{key}.port={PORT}"]
    a += [f"{key}.{k}={v}" for k, v in SIZES.items()]
    if prefix == "vsock-agent":
        a.insert(0, "vsockagent=1")
    return " ".join(a)


def report(discovery, prefix, results, vm, ls, client, times, done):
    problems, summary = check_results(discovery, prefix, results, vm, ls, client, done)
    info = (f"{discovery}: {prefix} start at {times['start']:.1f}s, done at {times['done']:.1f}s, "
            f"vmm exit at {times['exit']:.1f}s; " + ", ".join(f"{k}={v}" for k, v in summary.items()))
    lines = "\n".join(l for _, l in vm.lines if l.split("] ", 1)[-1].startswith(prefix))
    print(info + "\n" + lines + "\n--- vmm stderr\n" + vm.stderr_text()[-1500:])
    assert not problems, "\n".join(problems) + f"\n{info}\n--- guest lines\n{lines}\n{vm.console(30)}"
    return lines


@pytest.mark.parametrize("discovery", ["cmdline", "fdt"])
def test_linux_kernel_vsock(linux_guest, discovery, sockdir):
    """The built-in kernel driver: every scenario, one boot per kernel and
    discovery mode."""
    g = linux_guest.require("vsocktest_init")
    # The driver holds /init back until it is done, so the tiny initramfs
    # (no busybox to unpack) is enough.
    results, vm, ls, client, times, done = run_boot(sockdir, g, discovery, "vsocktest",
                                                    guest_args("vsocktest"), g.initrd_min)
    assert vm.proc.returncode == 0, f"vmm exit {vm.proc.returncode}\n{vm.console()}"
    out = "\n".join(l for _, l in vm.lines)
    # Which driver the guest bound to our device, and the transport it uses.
    dev = re.search(r"vsocktest: device (\S+) virtio=\S+ id=19 driver=(\S+)", out)
    assert dev and dev.group(2) == "vmw_vsock_virtio_transport", out[-3000:]
    if discovery == "cmdline":
        assert dev.group(1) == "virtio-mmio.0", dev.group(0)
    else:
        assert dev.group(1) == "d0000000.virtio", dev.group(0)
    assert re.search(r"vsocktest: transport=virtio local_cid=3\b", out), out[-3000:]
    assert "virtio-mmio@0xd0000000: device 19 driver ready" in vm.stderr_text()
    report(discovery, "vsocktest", results, vm, ls, client, times, done)
    for bad in ("Call Trace", "BUG:", "WARNING:", "Kernel panic"):
        assert bad not in out, f"{bad}\n{vm.console()}"


@pytest.mark.skipif(is_pvm_host(), reason="guest user space does not run on this KVM "
                    "(PVM host: /sys/module/kvm_pvm; the first SYSCALL faults), so "
                    "/bin/vsock-agent cannot run; the kernel driver test covers these scenarios")
@pytest.mark.parametrize("discovery", ["cmdline", "fdt"])
def test_linux_agent_vsock(linux_guest, discovery, sockdir):
    """The user-space agent in the initramfs (ordinary KVM hosts)."""
    g = linux_guest.require("vsocktest_init")
    results, vm, ls, client, times, done = run_boot(sockdir, g, discovery, "vsock-agent",
                                                    guest_args("vsock-agent"), g.initrd_gz)
    assert vm.proc.returncode == 0, f"vmm exit {vm.proc.returncode}\n{vm.console()}"
    out = "\n".join(l for _, l in vm.lines)
    assert re.search(r"vsock-agent: transport=vsock local_cid=3\b", out), out[-3000:]
    assert "virtio-mmio@0xd0000000: device 19 driver ready" in vm.stderr_text()
    report(discovery, "vsock-agent", results, vm, ls, client, times, done)
