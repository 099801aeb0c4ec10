#!/usr/bin/env bash
# The fuzz smoke `make test` runs: each cargo-fuzz target for a few seconds (FUZZ_SMOKE_SECONDS,
# default 10). Skips cleanly (exit 0, with a message) where there is no nightly toolchain, as
# on a fresh machine; installs cargo-fuzz when nightly is there but cargo-fuzz is not (about
# 80 s on the 2-core reference machine; FUZZ_SMOKE_INSTALL=0 skips instead). A crash fails it.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$HERE/../.ci/ensure-tools.sh" fuzz

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz smoke: skipped (no nightly toolchain; cargo-fuzz needs one)"
  exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1 && [ "${FUZZ_SMOKE_INSTALL:-1}" = 0 ]; then
  echo "fuzz smoke: skipped (cargo-fuzz is not installed and FUZZ_SMOKE_INSTALL=0)"
  exit 0
fi
exec "$HERE/run.sh" "${FUZZ_SMOKE_SECONDS:-10}" yaml toml config check
