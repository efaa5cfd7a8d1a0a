#!/usr/bin/env python3
"""Prints 'tests: N passed, M failed' over meson testlog.json files.

Every test speaks TAP, so each 'ok'/'not ok' line is one behaviour. A test whose process
failed without reporting any failing case (a crash, a sanitizer report, a timeout) counts
as one more failure."""
import json
import re
import sys

passed = failed = 0
for path in sys.argv[1:]:
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError as e:
        print(f"# {path}: {e}")
        failed += 1
        continue
    for line in lines:
        rec = json.loads(line)
        out = rec.get("stdout") or ""
        ok = len(re.findall(r"^ok \d+", out, re.M))
        bad = len(re.findall(r"^not ok \d+", out, re.M))
        if rec.get("result") not in ("OK", "EXPECTEDFAIL", "SKIP") and bad == 0:
            bad = 1
            print(f"# {path}: {rec.get('name')} ended {rec.get('result')}")
        if ok == 0 and bad == 0 and rec.get("result") == "OK":
            ok = 1
        passed += ok
        failed += bad
print(f"tests: {passed} passed, {failed} failed")
