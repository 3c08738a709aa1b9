#!/usr/bin/env python3
"""Calls to malloc, calloc and realloc in a callgrind output file (bench/cost.sh's malloc
column): callgrind names a function once as `cfn=(id) name` and by id afterwards; each call
site's `calls=N ...` line follows its `cfn=` line."""
import re
import sys

ALLOC = {"malloc", "calloc", "realloc"}
names = {}
total = 0
current = None
with open(sys.argv[1], errors="replace") as f:
    for line in f:
        m = re.match(r"c?fn=\((\d+)\)(?: (.*))?", line)
        if m:
            fid, name = m.group(1), m.group(2)
            if name:
                names[fid] = name.strip()
            current = names.get(fid) if line.startswith("cfn=") else None
            continue
        if current in ALLOC and line.startswith("calls="):
            total += int(line.split()[0][len("calls="):])
            current = None
print(total)
