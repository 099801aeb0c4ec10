#!/usr/bin/env bash
# Installs what building the playground needs, each piece only when missing or at the wrong
# version (idempotent): the wasm32 target, wasm-bindgen-cli 0.2.130 (the version the
# `wasm-bindgen = "=0.2.130"` pin in crates/wasm needs), wasm-pack 0.15.1, and web/node_modules
# (`npm ci`, which also brings binaryen 132's wasm-opt, esbuild and playwright-core).
# With `--chromium` it also installs Debian's Chromium when /usr/bin/chromium is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

WASM_BINDGEN_VERSION=0.2.130
WASM_PACK_VERSION=0.15.1

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  # Not --locked: its lockfile pins a webpki-roots version the crates.io mirror lacks.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

if [ "$(wasm-pack --version 2>/dev/null || true)" != "wasm-pack $WASM_PACK_VERSION" ]; then
  cargo install wasm-pack --version "$WASM_PACK_VERSION" --locked
fi

# npm ci when node_modules is missing or older than the lockfile.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

if [ "${1:-}" = "--chromium" ] && [ ! -x /usr/bin/chromium ]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
fi
