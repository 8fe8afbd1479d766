#!/usr/bin/env python3
"""Lists the functions over 100 lines outside tests (issue 25's rule), longest
first: `scripts/long-functions.py [ROOT]` (default: this checkout). A function
runs from its `fn` line to the closing brace at its own indentation; test
files (`tests.rs`, `proptests.rs`, `test_util.rs`, `*_tests.rs`, `tests/`,
`benches/`) and a file's `#[cfg(test)] mod` are left out. Exits 1 when any
is found."""
import os
import re
import subprocess
import sys

LIMIT = 100
ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
TEST_FILES = ("tests.rs", "proptests.rs", "test_util.rs")
FN = re.compile(r"^(\s*)(pub(\([\w:]+\))? )?(const )?(async )?(unsafe )?fn (\w+)")

long_functions = []
files = subprocess.check_output(["git", "ls-files", "*.rs"], cwd=ROOT).decode().split()
for path in files:
    base = os.path.basename(path)
    if path.startswith(("compare/", "tests/", "benches/")) or base in TEST_FILES or base.endswith("_tests.rs"):
        continue
    lines = open(os.path.join(ROOT, path)).read().split("\n")
    end = len(lines)
    for i, line in enumerate(lines):
        if line.strip() == "#[cfg(test)]" and i + 1 < len(lines) and re.match(r"\s*mod \w+ \{", lines[i + 1]):
            end = i
            break
    for i in range(end):
        m = FN.match(lines[i])
        if not m or lines[i].rstrip().endswith(";"):
            continue
        indent, j = m.group(1), i
        while j < len(lines) and not (lines[j] == indent + "}" or (j == i and lines[j].rstrip().endswith("}"))):
            j += 1
        if j - i + 1 > LIMIT:
            long_functions.append((j - i + 1, path, m.group(7), i + 1))

for n, path, name, line in sorted(long_functions, reverse=True):
    print(f"{n:5} {path}:{line} {name}")
print(f"{len(long_functions)} functions over {LIMIT} lines")
sys.exit(1 if long_functions else 0)
