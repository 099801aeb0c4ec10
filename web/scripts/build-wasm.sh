#!/usr/bin/env bash
# Builds the bindings (crates/wasm) into web/pkg with wasm-pack, offline: the wasm-bindgen CLI
# comes from PATH (`--mode no-install`) and wasm-opt from npm binaryen 132 (web/node_modules),
# never Debian's. Profile `wasm` of the workspace (LTO, panic=abort, strip = "debuginfo").
set -euo pipefail
web="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$web/.." && pwd)"
export PATH="$web/node_modules/.bin:$HOME/.cargo/bin:$PATH"
cd "$root"
# opt-level "s" for this build of the `wasm` profile: ~15% smaller gzipped than opt-level 3 and
# as fast on the playground's inputs (measured); the CLI's policy module keeps opt-level 3.
export CARGO_PROFILE_WASM_OPT_LEVEL="${CARGO_PROFILE_WASM_OPT_LEVEL:-s}"
wasm-pack --quiet build crates/wasm --target web --mode no-install --profile wasm \
  --out-dir "$web/pkg" --no-pack --no-typescript
