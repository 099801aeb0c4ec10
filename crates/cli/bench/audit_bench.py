#!/usr/bin/env python3
"""`make bench-audit`: `rbac-gate audit` throughput on a generated 1 GiB audit log, with the
peak memory (max RSS) of the process. The log is written into target/bench-audit/ (never
committed) and reused while its size matches. Prints figures; never fails on a number.

Usage: audit_bench.py [BINARY] [SIZE]   (default target/release/rbac-gate, 1G)
"""
import os
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/release/rbac-gate"))
SIZE = sys.argv[2] if len(sys.argv) > 2 else "1G"
WORK = os.path.join(ROOT, "target", "bench-audit")
GEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen_audit.py")
LOG = os.path.join(WORK, f"audit-{SIZE.lower()}.jsonl")
MANIFESTS = os.path.join(WORK, "manifests.yaml")
CACHE = os.path.join(WORK, "module-cache")


def parse_size(s):
    s = s.strip().upper()
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(s[-1:], 1)
    return int(float(s.rstrip("KMG")) * mult)


def ensure_log():
    os.makedirs(WORK, exist_ok=True)
    want = parse_size(SIZE)
    if not os.path.exists(LOG) or not (want <= os.path.getsize(LOG) < want + (1 << 20)):
        print(f"bench-audit: generating {LOG} ({SIZE}) ...", flush=True)
        subprocess.run([sys.executable, GEN, LOG, SIZE], check=True)
    subprocess.run([sys.executable, GEN, "--manifests", MANIFESTS], check=True)


def peak_rss(pid, proc):
    """Polls the child's VmHWM (its own peak RSS since exec) until it exits; ru_maxrss from
    wait4 would include this Python process's footprint inherited at fork."""
    peak = 0
    while proc.poll() is None:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.02)
    return peak / 1024


def run(label, extra, log):
    env = dict(os.environ, RBAC_GATE_CACHE_DIR=CACHE, RBAC_GATE_TIMINGS="1", NO_COLOR="1")
    args = [BIN, "audit", log, "--manifests", MANIFESTS, "--format", "json", "--no-progress"] + extra
    start = time.perf_counter()
    with open(os.devnull, "wb") as devnull, open(os.path.join(WORK, "stderr.txt"), "w+b") as err:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=devnull, stderr=err)
        rss = peak_rss(proc.pid, proc)
        elapsed = time.perf_counter() - start
        err.seek(0)
        stderr = err.read().decode()
    if proc.returncode not in (0, 1):
        sys.exit(f"bench-audit: {' '.join(args)} exited {proc.returncode}:\n{stderr}")
    size = os.path.getsize(log)
    rate = size / elapsed / (1 << 20)
    session = [line for line in stderr.splitlines() if line.startswith("timing: session")]
    print(f"  {label:<28} {size / (1 << 20):7.0f} MiB {elapsed:7.2f} s {rate:7.1f} MiB/s  peak RSS {rss:6.1f} MiB"
          + (f"  [{session[0][len('timing: '):]}]" if session else ""), flush=True)


def main():
    if not os.path.exists(BIN):
        sys.exit(f"bench-audit: {BIN} not found (make build)")
    ensure_log()
    size = os.path.getsize(LOG)
    print(f"bench-audit: {os.path.relpath(LOG, ROOT)}, {size / (1 << 30):.2f} GiB")
    # Warm the compiled-module cache so the figures are the audit, not the compiler.
    subprocess.run([BIN, "version"], env=dict(os.environ, RBAC_GATE_CACHE_DIR=CACHE),
                   stdout=subprocess.DEVNULL, check=True)
    run("sandboxed module (default)", [], LOG)
    run("native core (reference)", ["--engine", "native"], LOG)
    # Constant memory: a quarter of the log peaks at about the same RSS.
    quarter = os.path.join(WORK, "audit-quarter.jsonl")
    if not os.path.exists(quarter) or abs(os.path.getsize(quarter) - size // 4) > (1 << 20):
        with open(LOG, "rb") as src, open(quarter, "wb") as dst:
            data = src.read(size // 4)
            dst.write(data[: data.rfind(b"\n") + 1])
            del data
    run("sandboxed, 1/4 of the log", [], quarter)
    print(f"  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
