"""The exit-status table is one table: `vmm --help`, docs/config.md and
README.md list the same codes with the same words (issue 16).  No KVM
needed."""
import os
import re
from conftest import run_vmm, ROOT


def help_table():
    out = run_vmm(["--help"]).stdout
    lines = out.split("Exit status of 'run':\n", 1)[1].splitlines()
    rows = []
    for line in lines:
        if not line.startswith("  "):
            break
        m = re.match(r"  (\S+)\s+(.*)$", line)
        if m and not line.startswith("   "):
            rows.append([m.group(1), m.group(2)])
        else:                       # a wrapped meaning
            rows[-1][1] += " " + line.strip()
    return [tuple(r) for r in rows]


def markdown_table(path):
    text = open(os.path.join(ROOT, path)).read()
    assert text.count("| code | meaning |") == 1, path
    block = text.split("| code | meaning |\n", 1)[1]
    rows = []
    for line in block.splitlines()[1:]:    # after |---|---|
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert len(cells) == 2, line
        rows.append(tuple(cells))
    return rows


def test_help_docs_and_readme_agree():
    h = help_table()
    assert [c for c, _ in h] == ["0", "1", "2", "4", "124", "148", "2V+1", "128+N"], h
    assert markdown_table("docs/config.md") == h
    assert markdown_table("README.md") == h
