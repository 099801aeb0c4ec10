#!/usr/bin/env bash
# `make web`: the static site in web/dist (installs missing tools first, idempotently).
set -euo pipefail
web="$(cd "$(dirname "$0")/.." && pwd)"
bash "$web/../.ci/ensure-tools.sh" web-build
bash "$web/scripts/toolchain.sh"
bash "$web/scripts/build-wasm.sh"
node "$web/scripts/bundle.mjs"
