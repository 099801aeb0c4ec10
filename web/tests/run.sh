#!/usr/bin/env bash
# The playground's tests, from nothing: installs what is missing (idempotently: each step
# checks first), builds the CLI, the bindings and web/dist, then runs
#   1. the bindings' wasm-bindgen tests in Node (crates/wasm/tests/node.rs),
#   2. the config/share helpers (tests/config.test.mjs) and the parity test: playground build vs CLI, JSON reports of every file in examples/,
#   3. the end-to-end test in Debian's Chromium (playwright-core, no browser download),
# and exits non-zero on any failure. Set RBAC_GATE_BIN to test against a prebuilt CLI.
set -euo pipefail
web="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$web/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"
start=$(date +%s)
step() { printf '\n== %s (%ss)\n' "$1" "$(( $(date +%s) - start ))"; }

step "tools: Debian packages (Chromium, Node, ...; .ci/tools), wasm32 target, wasm-bindgen-cli, wasm-pack, npm ci"
bash "$root/.ci/ensure-tools.sh" web
bash "$web/scripts/toolchain.sh"

if [ -z "${RBAC_GATE_BIN:-}" ]; then
  step "the CLI (target/release/rbac-gate), for the parity checks"
  (cd "$root" && cargo build --release -p rbac-gate)
fi

step "bindings (wasm-pack build --target web) and web/dist"
bash "$web/scripts/build-wasm.sh"
node "$web/scripts/bundle.mjs"

step "wasm-bindgen tests of the bindings, in Node"
(cd "$root" && wasm-pack test --mode no-install --node crates/wasm)

step "parity with the CLI, then end to end in Chromium"
cd "$web"
node --test --test-concurrency=1 --test-reporter=spec tests/config.test.mjs tests/parity.test.mjs tests/e2e.test.mjs

step "playground tests passed in $(( $(date +%s) - start )) s"
