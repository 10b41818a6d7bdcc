"""A hostile guest: the test guest breaks the vsock protocol and the
virtqueue rules on purpose (scenario=hostile, guest-images/testguest/
scn_hostile.c).  The VMM must survive, a connection opened before the
misbehaviour must keep working (unless the device had to be reset), and a
fresh connection must work afterwards.  What the device did is reported as
observed=..., checked against what the spec and Linux expect."""

import pytest

from conftest import needs_kvm
from vsockhost import h_echo, h_never_read, parse_kv, run_guest, sockdir  # noqa: F401

pytestmark = needs_kvm

NOREAD, ECHO = 4700, 4701

# The answer docs/vsock.md documents for each case, and only that one: a
# device that does nothing ("drop") where an RST is documented fails.
EXPECT = {
    # The device must RST a guest that overruns its credit (conn.h).
    "credit-overrun": "rst",
    # vsock_pkt_parse: each refusal other than a short header or a spoofed
    # src_cid is answered with RST.  virtio 1.2 5.10.6.4: unknown type ->
    # RST (normative); op outside 1..7 -> RST; len beyond the bytes in the
    # chain -> RST.
    "unknown-type": "rst",
    "bogus-op": "rst",
    "len-mismatch": "rst",
    # A REQUEST on an open connection is ignored (as Linux): no answer, and
    # the connection still echoes afterwards.
    "dup-request": "ignored",
    # 5.10.6.3: CREDIT_REQUEST is answered with CREDIT_UPDATE.
    "credit-request": "credit_update",
}


def hostile(sockdir, mode, port, extra=""):
    line, v, ls = run_guest(sockdir,
                            f"scenario=hostile mode={mode} port={port} echoport={ECHO} {extra}",
                            [(NOREAD, h_never_read), (ECHO, h_echo)], timeout=120)
    assert line.startswith(f"testguest: hostile mode={mode} ok observed="), v.output()
    return parse_kv(line)["observed"], v


@pytest.mark.parametrize("opts", ["", "indirect=1"])
@pytest.mark.parametrize("mode", sorted(EXPECT))
def test_bad_packets(sockdir, mode, opts):
    port = NOREAD if mode == "credit-overrun" else ECHO
    observed, v = hostile(sockdir, mode, port, opts)
    assert observed == EXPECT[mode], v.output()


@pytest.mark.parametrize("dstcid", ["5", "0x100000002"])
def test_wrong_dst_cid(sockdir, dstcid):
    """An RW on an open connection whose dst_cid is not the host's (2):
    refused with RST (docs/vsock.md, DST_CID), never forwarded.
    0x100000002 is 2 in its low 32 bits: all 64 bits must be compared."""
    observed, v = hostile(sockdir, "wrong-dst-cid", ECHO, f"dstcid={dstcid}")
    assert observed == "rst", v.output()


def test_request_flood_every_request_answered(sockdir):
    """5000 REQUESTs to 5000 ports, sent without waiting while the guest
    neglects its rx queue: the device may pause tx (spec 5.10.6.1) but must
    answer every one (RST: nothing listens there; RESPONSE for the echo
    listener's port, which the guest then resets) and keep working."""
    observed, v = hostile(sockdir, "request-flood", ECHO, "count=5000")
    kv = dict(p.split(":") for p in observed.split(","))
    assert kv == {"rst": "4999", "response": "1", "other": "0", "silent": "0"}, v.output()


def test_request_flood_small_rx_queue(sockdir):
    observed, v = hostile(sockdir, "request-flood", ECHO, "count=3000 rxq=8 txq=512")
    kv = dict(p.split(":") for p in observed.split(","))
    assert kv == {"rst": "2999", "response": "1", "other": "0", "silent": "0"}, v.output()


def test_garbage_descriptors(sockdir):
    """Broken chains: the device must never crash, hang, or write memory it
    was not given; for plainly broken rings it sets DEVICE_NEEDS_RESET
    (status 0x40), after which the guest resets it and a normal echo works.
      tx: address outside RAM, a `next` loop, a 4 GiB length -> needs_reset
      rx: buffer outside RAM -> needs_reset
      rx: 16-byte buffer, read-only buffer -> given back unwritten, or reset
      tx: a device-writable descriptor -> used (header read) or reset
    "OVERWRITTEN" (a canary was written) and "bad-used" (a used entry with
    a bad id or length) are always failures."""
    observed, v = hostile(sockdir, "garbage-descriptors", ECHO)
    kv = dict(p.split(":") for p in observed.split(","))
    for case in ("oob", "loop", "huge", "rx-oob"):
        assert kv[case] == "needs_reset", (case, v.output())
    for case in ("rx-tiny", "rx-ro", "tx-write"):
        assert kv[case] in ("used", "needs_reset"), (case, v.output())


def test_garbage_indirect_descriptors(sockdir):
    """With INDIRECT_DESC: a table outside RAM, an INDIRECT flag inside a
    table (forbidden, 2.7.5.3.1), a `next` loop inside it, a table length
    that is not a multiple of 16: each ends in DEVICE_NEEDS_RESET."""
    observed, v = hostile(sockdir, "garbage-descriptors", ECHO, "indirect=1")
    kv = dict(p.split(":") for p in observed.split(","))
    assert "ind-oob" in kv, ("INDIRECT_DESC not negotiated?", v.output())
    for case in ("oob", "loop", "huge", "rx-oob", "ind-oob", "ind-nested", "ind-loop", "ind-badlen"):
        assert kv[case] == "needs_reset", (case, v.output())
    for case in ("rx-tiny", "rx-ro", "tx-write"):
        assert kv[case] in ("used", "needs_reset"), (case, v.output())
