#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the small seed corpora for the virtio fuzz targets.

    tests/fuzz/gen_corpus.py [OUTDIR]    (default: tests/fuzz/corpus)

The seeds are valid sessions a fuzzer would take long to find on its own:
well-formed rings (direct, indirect, mixed) for fuzz_virtq, and a full
driver bring-up plus ring building and QueueNotify for fuzz_mmio.  The
formats are documented at the top of fuzz_virtq.c and fuzz_mmio.c.
"""
import os
import struct
import sys

NEXT, WRITE, INDIRECT = 1, 2, 4


def desc(addr, length, flags=0, nxt=0):
    return struct.pack("<QIHH", addr, length, flags, nxt)


# --- fuzz_virtq: 8-byte header + memory image (desc 0, avail 0x1000, used 0x2000)

def virtq_seed(log2size, features, max_iov, seed, descs, tables, heads, gen=0):
    img = bytearray(0x3000)
    for i, d in enumerate(descs):
        img[16 * i:16 * i + 16] = d
    for addr, entries in tables:
        blob = b"".join(entries)
        if len(img) < addr + len(blob):
            img.extend(bytes(addr + len(blob) - len(img)))
        img[addr:addr + len(blob)] = blob
    # avail: flags, idx, ring[]
    struct.pack_into("<HH", img, 0x1000, 0, len(heads))
    for i, h in enumerate(heads):
        struct.pack_into("<H", img, 0x1004 + 2 * i, h)
    hdr = bytes([log2size, features, max_iov, seed, 0, 0, 0, gen])
    # Trim trailing zeros: the harness zero-fills.
    return hdr + bytes(img).rstrip(b"\0")


def virtq_seeds():
    yield "direct", virtq_seed(3, 3, 16, 1,
                               [desc(0x4000, 64, NEXT, 1), desc(0x4100, 128, WRITE),
                                desc(0x4200, 32, WRITE)],
                               [], [0, 2])
    yield "indirect", virtq_seed(3, 3, 16, 2,
                                 [desc(0x4000, 16, NEXT, 1), desc(0x3000, 48, INDIRECT)],
                                 [(0x3000, [desc(0x4100, 8, NEXT, 1),
                                            desc(0x4200, 64, WRITE | NEXT, 2),
                                            desc(0x4300, 64, WRITE)])],
                                 [0])
    yield "loop", virtq_seed(2, 0, 8, 3,
                             [desc(0x4000, 8, NEXT, 1), desc(0x4000, 8, NEXT, 0)],
                             [], [0])
    yield "event_idx_many", virtq_seed(4, 1, 4, 4,
                                       [desc(0x4000 + 0x100 * i, 16, WRITE) for i in range(16)],
                                       [], list(range(16)))
    # Generated (h[7] bit 7): a chain exactly as long as the queue (4), one
    # direct buffer (seed 1 % 5) and three in an indirect table.
    yield "gen_queue_size_chain", virtq_seed(2, 3, 16, 1, [], [], [0], gen=0x80 | 0x40 | 4)


# --- fuzz_mmio: 8-byte records

BASE_REGS = dict(STATUS=0x70, DFSEL=0x24, DF=0x20, QSEL=0x30, QNUM=0x38,
                 QREADY=0x44, QNOTIFY=0x50, QDESC=0x80, QDRV=0x90, QDEV=0xa0,
                 ACK=0x64, ISR=0x60, GEN=0xfc)


def mw(off, val):           # MMIO 32-bit write
    return struct.pack("<BHIB", 0x01, off, val & 0xffffffff, 0)


def mr(off):                # MMIO 32-bit read
    return struct.pack("<BHIB", 0x00, off, 0, 0)


def ram(off, data4):        # guest RAM write of 4 bytes
    return struct.pack("<BH", 0x80, off) + data4 + b"\0"


def ram_blob(off, blob):
    blob = blob + bytes(-len(blob) % 4)
    return b"".join(ram(off + i, blob[i:i + 4]) for i in range(0, len(blob), 4))


def bring_up(features_lo, features_hi=1, qsize=8):
    r = BASE_REGS
    out = [mw(r["STATUS"], 0), mw(r["STATUS"], 1), mw(r["STATUS"], 3),
           mw(r["DFSEL"], 0), mw(r["DF"], features_lo),
           mw(r["DFSEL"], 1), mw(r["DF"], features_hi),
           mw(r["STATUS"], 11), mr(r["STATUS"])]
    for q in range(2):
        base = 0x1000 + 0x4000 * q
        out += [mw(r["QSEL"], q), mr(0x34), mw(r["QNUM"], qsize),
                mw(r["QDESC"], base), mw(r["QDESC"] + 4, 0),
                mw(r["QDRV"], base + 0x1000), mw(r["QDRV"] + 4, 0),
                mw(r["QDEV"], base + 0x2000), mw(r["QDEV"] + 4, 0),
                mw(r["QREADY"], 1), mr(r["QREADY"])]
    out.append(mw(r["STATUS"], 15))
    return b"".join(out)


def ring_chain(q, descs, heads, tables=()):
    base = 0x1000 + 0x4000 * q
    out = [ram_blob(base + 16 * i, d) for i, d in enumerate(descs)]
    for addr, entries in tables:
        out.append(ram_blob(addr, b"".join(entries)))
    for i, h in enumerate(heads):
        out.append(ram(base + 0x1004 + 2 * i, struct.pack("<HH", h, 0)))
    out.append(ram(base + 0x1000, struct.pack("<HH", 0, len(heads))))
    return b"".join(out)


def mmio_seeds():
    r = BASE_REGS
    ev_ind = (1 << 28) | (1 << 29)
    yield "bringup_notify", (bring_up(ev_ind)
                             + ring_chain(1, [desc(0x9000, 16, NEXT, 1),
                                              desc(0x9100, 64, WRITE)], [0])
                             + mw(r["QNOTIFY"], 1) + mr(r["ISR"]) + mw(r["ACK"], 1)
                             + mr(r["GEN"]) + mr(0x100) + mw(r["STATUS"], 0))
    yield "indirect", (bring_up(ev_ind)
                       + ring_chain(0, [desc(0xa000, 32, INDIRECT)], [0],
                                    [(0xa000, [desc(0x9000, 8, NEXT, 1),
                                               desc(0x9100, 8, WRITE)])])
                       + mw(r["QNOTIFY"], 0) + struct.pack("<BHIB", 0x71, 0, 0, 0))
    yield "legacy_refused", (bring_up(0, 0) + mr(r["STATUS"]))
    yield "bad_queue", (mw(r["STATUS"], 1) + mw(r["STATUS"], 3) + mw(r["DFSEL"], 1)
                        + mw(r["DF"], 1) + mw(r["STATUS"], 11) + mw(r["QSEL"], 0)
                        + mw(r["QNUM"], 3) + mw(r["QREADY"], 1) + mr(r["STATUS"]))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus")
    for target, seeds in (("fuzz_virtq", virtq_seeds()), ("fuzz_mmio", mmio_seeds())):
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        for name, blob in seeds:
            with open(os.path.join(d, "seed-" + name), "wb") as f:
                f.write(blob)


if __name__ == "__main__":
    main()
