"""Host-side helpers for the vsock integration tests (test_vsock_*.py).

The host side is Unix sockets only (never AF_VSOCK on these hosts):
  - the VMM listens on `uds`; a client writes "CONNECT <port>\\n" and reads
    "OK <host_port>\\n" when a guest socket listens on that port, else the
    VMM closes the connection without a reply;
  - a guest connection to CID 2 port P reaches the Unix listener `<uds>_<P>`.

The test guest (build/testguest, guest-images/testguest/) prints exactly one
result line per run starting with "testguest: "; diagnostics start with
"tg-note: " / "tg-stats: ".  Checksums are CRC-32 (zlib.crc32); the guest's
PRNG is xorshift64, see prng_bytes() (guest-images/testguest/csum.h).

Every wait here is bounded (deadline + polling), never a bare sleep.
"""
import os
import re
import socket
import subprocess
import threading
import time
import zlib

import pytest

from conftest import VMM, TESTGUEST

MASK64 = (1 << 64) - 1


def prng_bytes(seed, n):
    """The guest's payload stream (csum.h): xorshift64 13/7/17, state seeded
    with seed ^ 0x9E3779B97F4A7C15, 8 little-endian bytes per step."""
    s = (seed ^ 0x9E3779B97F4A7C15) & MASK64 or 1
    out = bytearray()
    while len(out) < n:
        s ^= (s << 13) & MASK64
        s ^= s >> 7
        s ^= (s << 17) & MASK64
        out += s.to_bytes(8, "little")
    return bytes(out[:n])


def crc32(data, crc=0):
    return zlib.crc32(data, crc) & 0xFFFFFFFF


def wait_until(pred, timeout, what, interval=0.01):
    """Poll pred() until true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Vmm:
    """build/vmm running the test guest with a vsock device, output collected
    by a thread so the pipe never fills."""

    def __init__(self, tmpdir, cmdline, mem=256, vcpus=1, cid=3, extra=()):
        self.uds = os.path.join(str(tmpdir), "v.sock")
        self.args = [VMM, "run", "--kernel", TESTGUEST, "--cmdline", cmdline,
                     "--vcpus", str(vcpus), "--mem", str(mem),
                     "--vsock-cid", str(cid), "--vsock-uds", self.uds] + list(extra)
        self.lines = []
        self.err = []
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.pid = self.proc.pid
        self._t = [threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines), daemon=True),
                   threading.Thread(target=self._pump, args=(self.proc.stderr, self.err), daemon=True)]
        for t in self._t:
            t.start()

    def _pump(self, f, dst):
        for raw in iter(f.readline, b""):
            with self.cond:
                dst.append(raw.decode(errors="replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def output(self):
        with self.cond:
            return "\n".join(self.lines) + "\n--- stderr\n" + "\n".join(self.err)

    def wait_line(self, pattern, timeout=30):
        """First stdout line matching regex `pattern` (re.search); fails the
        test on timeout or if the VMM exits first."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for l in self.lines:
                    m = rx.search(l)
                    if m:
                        return m
                if self.proc.poll() is not None and all(not t.is_alive() for t in self._t):
                    pytest.fail(f"vmm exited ({self.proc.returncode}) before /{pattern}/\n{self.output_unlocked()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"timed out waiting for /{pattern}/\n{self.output_unlocked()}")
                self.cond.wait(min(left, 0.2))

    def output_unlocked(self):
        return "\n".join(self.lines[-60:]) + "\n--- stderr\n" + "\n".join(self.err[-30:])

    def result(self, timeout=120):
        """Wait for the VMM to exit; return the guest's single result line."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"vmm did not finish within {timeout}s\n{self.output()}")
        for t in self._t:
            t.join(5)
        res = [l for l in self.lines if l.startswith("testguest: ")]
        assert len(res) == 1, f"want exactly one result line\n{self.output()}"
        assert self.proc.returncode == 0, f"vmm exit {self.proc.returncode}\n{self.output()}"
        return res[0]

    def alive(self):
        return self.proc.poll() is None

    def rss_kb(self):
        with open(f"/proc/{self.pid}/status") as f:
            for l in f:
                if l.startswith("VmRSS:"):
                    return int(l.split()[1])
        return 0

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()


def parse_kv(line):
    """'testguest: send ok bytes=1 csum=ab' -> {'bytes': '1', 'csum': 'ab'}"""
    return dict(w.split("=", 1) for w in line.split() if "=" in w)


# ---- host -> guest ---------------------------------------------------------

def host_connect_once(uds, port, timeout=5.0):
    """CONNECT once.  Returns (socket, host_port), or (None, reason) when the
    VMM closed without a reply (no guest listener) or refused."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(uds)
    except OSError as e:
        s.close()
        return None, f"connect: {e}"
    s.sendall(f"CONNECT {port}\n".encode())
    line = b""
    try:
        while not line.endswith(b"\n"):
            b = s.recv(1)
            if not b:
                s.close()
                return None, f"closed without reply after {line!r}"
            line += b
            if len(line) > 64:
                break
    except socket.timeout:
        s.close()
        return None, "timeout waiting for OK"
    m = re.fullmatch(rb"OK (\d+)\n", line)
    if not m:
        s.close()
        return None, f"bad reply {line!r}"
    s.settimeout(None)
    return s, int(m.group(1))


def host_connect(uds, port, timeout=20.0):
    """CONNECT with retries until the guest listens (bounded)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if os.path.exists(uds):
            s, r = host_connect_once(uds, port)
            if s:
                return s, r
            last = r
        time.sleep(0.02)
    pytest.fail(f"CONNECT {port} via {uds} never succeeded: {last}")


def recv_all(s, n, timeout=60):
    s.settimeout(timeout)
    buf = bytearray()
    while len(buf) < n:
        b = s.recv(min(1 << 20, n - len(buf)))
        if not b:
            break
        buf += b
    return bytes(buf)


def recv_to_eof(s, timeout=60):
    s.settimeout(timeout)
    buf = bytearray()
    while True:
        b = s.recv(1 << 20)
        if not b:
            return bytes(buf)
        buf += b


# ---- guest -> host: Unix listeners at <uds>_<port> --------------------------

class Listener:
    """A Unix listener at <uds>_<port>; each accepted connection is handled
    by handler(conn, listener) in its own thread.  Results go into
    self.results (appended by handlers), errors into self.errors."""

    def __init__(self, uds, port, handler, kind=socket.SOCK_STREAM, backlog=1024):
        self.path = f"{uds}_{port}"
        self.handler = handler
        self.results = []
        self.errors = []
        self.accepted = 0
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_UNIX, kind)
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        self.sock.bind(self.path)
        self.sock.listen(backlog)
        self.sock.settimeout(0.2)
        self.stop = False
        self.threads = []
        self.t = threading.Thread(target=self._loop, daemon=True)
        self.t.start()

    def _loop(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.accepted += 1
            t = threading.Thread(target=self._run, args=(c,), daemon=True)
            t.start()
            self.threads.append(t)

    def _run(self, c):
        try:
            r = self.handler(c, self)
            with self.lock:
                self.results.append(r)
        except Exception as e:  # reported by the test
            with self.lock:
                self.errors.append(repr(e))
        finally:
            c.close()

    def close(self):
        self.stop = True
        self.t.join(2)
        self.sock.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def h_echo(c, l):
    """Echo until EOF, then close (which the guest sees as EOF)."""
    n = 0
    c.settimeout(120)
    while True:
        b = c.recv(1 << 18)
        if not b:
            return n
        c.sendall(b)
        n += len(b)


def h_sink(c, l):
    """Read to EOF: (bytes, crc32)."""
    c.settimeout(120)
    n, crc = 0, 0
    while True:
        b = c.recv(1 << 20)
        if not b:
            return n, crc
        n += len(b)
        crc = zlib.crc32(b, crc)


def h_reply_after_eof(c, l):
    """Half-close peer: read everything to EOF, then send it all back."""
    data = recv_to_eof(c, 60)
    c.sendall(data)
    c.shutdown(socket.SHUT_WR)
    return len(data)


def h_never_read(c, l):
    """Accept and never read; hold the connection until the listener stops."""
    while not l.stop:
        time.sleep(0.05)
    return 0


def h_seq_echo(c, l):
    """SOCK_SEQPACKET echo: one message back per message, boundaries kept."""
    n = 0
    c.settimeout(60)
    while True:
        m = c.recv(1 << 20)
        if not m:
            return n
        c.send(m)
        n += 1


def make_source(data_len, chunk=1 << 20):
    """Handler that sends data_len bytes (pattern below) then closes;
    returns crc32 of what it sent."""
    block = bytes(range(256)) * (chunk // 256)

    def h(c, l):
        c.settimeout(120)
        left, crc = data_len, 0
        while left:
            b = block[:min(left, len(block))]
            c.sendall(b)
            crc = zlib.crc32(b, crc)
            left -= len(b)
        c.shutdown(socket.SHUT_WR)
        return crc
    return h


@pytest.fixture
def sockdir():
    """A short temporary directory (Unix socket paths are limited to 108
    bytes, pytest's tmp_path can be longer)."""
    import shutil
    import tempfile
    d = tempfile.mkdtemp(prefix="vs", dir="/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def run_guest(sockdir, cmdline, listeners=(), timeout=120, **kw):
    """Boot the test guest with `cmdline`, Unix listeners given as
    (port, handler[, kind]) tuples; return (result_line, vmm, listeners)."""
    uds = os.path.join(sockdir, "v.sock")
    ls = [Listener(uds, *spec) for spec in listeners]
    try:
        with Vmm(sockdir, cmdline, **kw) as v:
            line = v.result(timeout)
    finally:
        for l in ls:
            l.close()
    return line, v, ls


def guest_stats(v):
    """The guest driver's counters from its last `tg-stats:` line."""
    lines = [l for l in v.lines if l.startswith("tg-stats: ")]
    assert lines, f"no tg-stats line\n{v.output()}"
    return {k: int(x) for k, x in parse_kv(lines[-1]).items()}


# Counters that a correct device never makes the guest driver bump: packets
# shorter than a header or whose len disagrees with the used length, data
# beyond the credit the guest gave, credit the guest had to ask for because
# no CREDIT_UPDATE came, replies that break the protocol, unknown types,
# REQUEST/RESPONSE with buf_alloc 0, wrong CIDs.
CLEAN_COUNTERS = ("rx_short", "rx_len_bad", "credit_overruns", "credit_requests",
                  "proto_errors", "bad_type", "zero_credit", "bad_cid")


def assert_clean(v):
    st = guest_stats(v)
    bad = {k: st[k] for k in CLEAN_COUNTERS if st.get(k)}
    assert not bad, f"device protocol problems seen by the guest: {bad}\n{v.output()}"
