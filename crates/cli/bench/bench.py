#!/usr/bin/env python3
"""`make bench-cli`: wasmtime path vs native core, and cold start with and without the
compiled-module cache. Prints figures and whether they meet the targets; never fails on a
missed target (benchmarks, not timed tests).

Usage: bench.py [BINARY]   (default target/release/rbac-gate, run from the workspace root)
"""
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/release/rbac-gate"))
WORK = os.path.join(ROOT, "target", "bench-cli")
DUMP = os.path.join(WORK, "rbac-dump-10k.yaml")
SMALL = os.path.join(ROOT, "tests/cli/fixtures/safe-role.yaml")
CACHE = os.path.join(WORK, "module-cache")


def run(args, env_extra=None):
    env = dict(os.environ)
    env.update({"RBAC_GATE_CACHE_DIR": CACHE, "NO_COLOR": "1"})
    env.update(env_extra or {})
    start = time.perf_counter()
    proc = subprocess.run([BIN] + args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"bench: {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
    return elapsed, proc.stderr


def timed(label, args, runs, env_extra=None, fresh_cache=False):
    times, evals = [], []
    for _ in range(runs):
        extra = dict(env_extra or {})
        if fresh_cache:
            extra["RBAC_GATE_CACHE_DIR"] = tempfile.mkdtemp(prefix="rbac-gate-bench-")
        elapsed, stderr = run(args, extra)
        if fresh_cache:
            shutil.rmtree(extra["RBAC_GATE_CACHE_DIR"], ignore_errors=True)
        times.append(elapsed)
        m = re.search(r"timing: evaluate \(\w+, \d+ request bytes\) ([\d.]+) ms", stderr)
        if m:
            evals.append(float(m.group(1)) / 1000)
    med = statistics.median(times)
    ev = statistics.median(evals) if evals else None
    print(f"  {label:<44} median {med * 1000:8.1f} ms  min {min(times) * 1000:8.1f} ms"
          + (f"  (evaluate {ev * 1000:.1f} ms)" if ev is not None else "") + f"  [{runs} runs]")
    return med, ev, min(times)


def verdict(ok):
    return "meets target" if ok else "MISSES target"


def main():
    if not os.path.exists(BIN):
        sys.exit(f"bench: {BIN} not found; run `make build` first")
    os.makedirs(WORK, exist_ok=True)
    subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "gen_dump.py"), DUMP, "10000"],
                   check=True)
    size = os.path.getsize(DUMP)
    print(f"bench-cli: {BIN}\n  dump: {DUMP} ({size / 1e6:.1f} MB)")
    run(["version"])  # warm the module cache

    print("10,000-object dump, --format json:")
    timing = {"RBAC_GATE_TIMINGS": "1"}
    wasm, wasm_eval, wasm_min = timed("wasmtime (default, warm module cache)", ["check", DUMP, "--format", "json"], 5, timing)
    native, native_eval, native_min = timed("native core (--engine native)", ["check", DUMP, "--format", "json", "--engine", "native"], 5, timing)
    ratio = wasm_min / native_min
    print(f"  end-to-end ratio wasm/native (fastest runs; medians: {wasm / native:.2f}x): "
          f"{ratio:.2f}x (target <= 1.5x: {verdict(ratio <= 1.5)})")
    if wasm_eval and native_eval:
        print(f"  evaluation-only ratio wasm/native: {wasm_eval / native_eval:.2f}x")

    print("cold start, small file:")
    warm, _, _ = timed("warm module cache", ["check", SMALL], 20)
    print(f"  warm-cache cold start: {warm * 1000:.1f} ms (target < 100 ms: {verdict(warm < 0.1)})")
    cold, _, _ = timed("no module cache (compile every run)", ["check", SMALL], 3, fresh_cache=True)
    print(f"  without the cache: {cold * 1000:.1f} ms ({cold / warm:.0f}x the cached start)")


if __name__ == "__main__":
    main()
