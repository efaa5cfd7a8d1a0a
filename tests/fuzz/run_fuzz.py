#!/usr/bin/env python3
"""Runs one libFuzzer target for a short time and reports it as TAP (docs/FUZZING.md).

usage: run_fuzz.py FUZZER SEED_DIR WORK_DIR

The run starts from SEED_DIR (read only) and from WORK_DIR/corpus/<target>, where libFuzzer
keeps the inputs that found new coverage, so each run goes on where the last one stopped.
A crash, a sanitizer report, a failed invariant, a timeout or running out of memory is one
"not ok" line naming the input libFuzzer saved under WORK_DIR/crashes/ and the command that
replays it. CAMSTREAM_FUZZ_SECONDS sets the time (default 20)."""
import os
import re
import subprocess
import sys


def main():
    fuzzer, seeds, work = sys.argv[1:4]
    name = os.path.basename(fuzzer)
    seconds = int(os.environ.get("CAMSTREAM_FUZZ_SECONDS", "20"))
    corpus = os.path.join(work, "corpus", name)
    crashes = os.path.join(work, "crashes")
    os.makedirs(corpus, exist_ok=True)
    os.makedirs(crashes, exist_ok=True)
    env = dict(os.environ)
    # UBSan findings must stop the run, or libFuzzer never sees them
    env["UBSAN_OPTIONS"] = "halt_on_error=1:abort_on_error=1:print_stacktrace=1"
    env.setdefault("ASAN_OPTIONS", "abort_on_error=1")
    cmd = [fuzzer, f"-max_total_time={seconds}", "-timeout=5", "-rss_limit_mb=2048",
           "-print_final_stats=1", f"-artifact_prefix={crashes}/{name}-", corpus, seeds]
    print(f"# {' '.join(cmd)}")
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                          text=True, errors="replace")
    log = proc.stdout
    with open(os.path.join(work, f"{name}.log"), "w", encoding="utf-8") as f:
        f.write(log)

    runs = re.search(r"^stat::number_of_executed_units:\s+(\d+)", log, re.M)
    speed = re.search(r"^stat::average_exec_per_sec:\s+(\d+)", log, re.M)
    cov = re.findall(r"^#\d+\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)", log, re.M)
    saved = re.findall(r"Test unit written to (\S+)", log)
    what = f"{runs.group(1) if runs else '?'} runs"
    if speed:
        what += f", {speed.group(1)}/s"
    if cov:
        what += f", cov {cov[-1][0]}, ft {cov[-1][1]}, corpus {cov[-1][2]}"

    print("1..1")
    if proc.returncode == 0 and not saved:
        print(f"ok 1 - {name} ({what})")
        return 0
    print(f"not ok 1 - {name}: exit {proc.returncode} ({what})")
    for path in saved:
        print(f"# input saved to {path}")
        print(f"# replay: {fuzzer} {path}")
    tail = log.splitlines()[-60:]
    for line in tail:
        print(f"# {line}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
