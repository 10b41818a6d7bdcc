#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Apply one mutant (tests/mutants/*.mut) to a source tree, or just check it.

    apply.py MUTANT TREE           mutate TREE/<file> in place
    apply.py --check MUTANT TREE   only check that it applies
    apply.py --field NAME MUTANT   print a header field (file, kind, desc)

A mutant file:

    # free text (ignored)
    desc  one line for the table
    file  vsock/dev_io.c
    kind  unit            (unit: the unit tests must kill it; fuzz: a fuzzer)
    fuzz  fuzz_virtq      (kind fuzz: which target)
    @@ from
    <exact lines, tabs included>
    @@ to
    <replacement lines>

The `from` text must occur exactly once in the file, else the mutant no
longer fits the code: exit 2 with a message (fix or delete the mutant).
"""
import sys


def parse(path):
    hdr, sec, body = {}, None, {"from": [], "to": []}
    with open(path, encoding="utf-8") as f:
        for line in f.read().split("\n"):
            if line.startswith("@@ "):
                sec = line[3:].strip()
                if sec not in body:
                    sys.exit(f"{path}: unknown section {sec!r}")
                continue
            if sec:
                body[sec].append(line)
            elif line.strip() and not line.startswith("#"):
                k, _, v = line.partition(" ")
                hdr[k] = v.strip()
    # The file's final newline leaves one empty line at the end of "to".
    while body["to"] and body["to"][-1] == "":
        body["to"].pop()
    while body["from"] and body["from"][-1] == "":
        body["from"].pop()
    for k in ("desc", "file", "kind"):
        if k not in hdr:
            sys.exit(f"{path}: no {k!r} line")
    if not body["from"]:
        sys.exit(f"{path}: empty 'from' section")
    return hdr, "\n".join(body["from"]) + "\n", "\n".join(body["to"]) + (
        "\n" if body["to"] else "")


def main(argv):
    if len(argv) == 3 and argv[0] == "--field":
        hdr, _, _ = parse(argv[2])
        print(hdr.get(argv[1], ""))
        return 0
    check = argv[:1] == ["--check"]
    if check:
        argv = argv[1:]
    if len(argv) != 2:
        sys.exit(__doc__)
    hdr, old, new = parse(argv[0])
    target = f"{argv[1]}/{hdr['file']}"
    with open(target, encoding="utf-8") as f:
        src = f.read()
    n = src.count(old)
    if n != 1:
        print(f"{argv[0]}: the 'from' text occurs {n} times in {hdr['file']} "
              "(needs exactly 1): the mutant no longer fits the code",
              file=sys.stderr)
        return 2
    if not check:
        with open(target, "w", encoding="utf-8") as f:
            f.write(src.replace(old, new))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
