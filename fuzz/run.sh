#!/usr/bin/env bash
# Fuzzes rbac-gate-core with cargo-fuzz (libFuzzer).
#
#   fuzz/run.sh [SECONDS [TARGET...]]   each target for SECONDS (default 600), one after another
#   FUZZ_PARALLEL=2 fuzz/run.sh ...     two targets at a time (the machine has 2 cores)
#
# Targets: yaml (the YAML front end), toml (runner config.toml, standalone and in a ConfigMap),
# config (.rbac-gate.yaml), check (`check` as a whole, and the JSON request protocol).
# Needs a nightly toolchain (`cargo +nightly`); installs cargo-fuzz (pinned) if it is missing.
# Builds without a sanitizer (safe Rust; ASan only slows it down) but with debug assertions and
# overflow checks. The corpus lives in fuzz/corpus/TARGET (not in git), seeded from examples/
# and tests/. Each run appends a line per target to fuzz/target/fuzz-log.tsv and prints
# executions and findings; a crash leaves its input in fuzz/artifacts/TARGET/ and fails the run.
set -euo pipefail

CARGO_FUZZ_VERSION=0.13.2
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
SECONDS_EACH="${1:-600}"
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(yaml toml config check)
PARALLEL="${FUZZ_PARALLEL:-1}"

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz: no nightly toolchain (cargo +nightly); cargo-fuzz needs one" >&2
  exit 3
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked \
    || cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi

cd "$HERE"
# Seeds: every manifest, config and values file the repository holds (small ones).
mkdir -p corpus/seed target
find "$ROOT/examples" "$ROOT/tests" -type f \( -name '*.yaml' -o -name '*.yml' -o -name '*.json' -o -name '*.toml' \) \
  -size -64k -not -path '*/schema/*' -print0 \
  | while IFS= read -r -d '' f; do
      cp "$f" "corpus/seed/$(printf '%s' "${f#"$ROOT"/}" | tr '/' '_')"
    done

if ! nice cargo +nightly fuzz build -s none >target/fuzz-build.log 2>&1; then
  tail -30 target/fuzz-build.log >&2
  exit 1
fi

run_one() {
  local t="$1" log="target/fuzz-$1.log"
  mkdir -p "corpus/$t" "artifacts/$t"
  local start=$SECONDS status=0
  nice cargo +nightly fuzz run -s none "$t" "corpus/$t" corpus/seed -- \
    -max_total_time="$SECONDS_EACH" -max_len=65536 -rss_limit_mb=4096 -timeout=60 \
    -print_final_stats=1 >"$log" 2>&1 || status=$?
  local execs crashes
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  crashes=$(find "artifacts/$t" -type f | wc -l)
  printf '%s\t%s\t%ss\t%s execs\t%s artifacts\texit %s\n' "$(date -u +%FT%TZ)" "$t" \
    "$((SECONDS - start))" "${execs:-?}" "$crashes" "$status" | tee -a target/fuzz-log.tsv
  if [ "$status" -ne 0 ]; then
    grep -E 'panicked|ERROR|SUMMARY|Test unit written' "$log" | head -20 >&2 || true
    return 1
  fi
}

failed=0
running=0
for t in "${TARGETS[@]}"; do
  if [ "$PARALLEL" -gt 1 ]; then
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$PARALLEL" ]; then
      wait -n || failed=1
      running=$((running - 1))
    fi
  else
    run_one "$t" || failed=1
  fi
done
while [ "$running" -gt 0 ]; do
  wait -n || failed=1
  running=$((running - 1))
done
exit "$failed"
