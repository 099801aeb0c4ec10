#!/usr/bin/env bash
# Builds the bindings (crates/wasm) into web/pkg with wasm-pack, offline: the wasm-bindgen CLI
# comes from PATH (`--mode no-install`) and wasm-opt from npm binaryen 132 (web/node_modules),
# never Debian's. Profile `wasm` of the workspace (LTO, panic=abort, strip = "debuginfo").
set -euo pipefail
web="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$web/.." && pwd)"
export PATH="$web/node_modules/.bin:$HOME/.cargo/bin:$PATH"
cd "$root"
wasm-pack --quiet build crates/wasm --target web --mode no-install --profile wasm \
  --out-dir "$web/pkg" --no-pack --no-typescript
