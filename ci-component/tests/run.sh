#!/usr/bin/env bash
# Tests of the rbac-gate CI/CD component. Installs what they need (each step checks first:
# Debian packages through .ci/ensure-tools.sh, then `npm ci`), then runs them with Node's test
# runner; exits non-zero when a test fails.
#
#   ci-component/tests/run.sh            # uses target/release/rbac-gate (from `make build`)
#   RBAC_GATE_BIN=/path/to/rbac-gate ci-component/tests/run.sh
set -euo pipefail

component_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repo_root="$(cd "$component_dir/.." && pwd)"
cd "$component_dir"

# Every external command these tests run, gitlab-ci-local's included (rsync, git, ssh, awk,
# bash), installed when missing (.ci/tools lists them), before anything else runs.
bash "$repo_root/.ci/ensure-tools.sh" component

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
    echo "run.sh: Node.js 20 or later is required (found $(node --version))" >&2
    exit 1
fi

# npm packages, pinned in package.json and package-lock.json (gitlab-ci-local 4.65.1: later
# versions need Node 22). `npm ci` only when node_modules does not match the lock file.
if ! node -e '
    const fs = require("fs");
    const lock = require("./package-lock.json").packages;
    for (const [dir, pkg] of Object.entries(lock)) {
        if (!dir.startsWith("node_modules/")) continue;
        const manifest = dir + "/package.json";
        if (!fs.existsSync(manifest)) { if (pkg.optional) continue; process.exit(1); }
        if (JSON.parse(fs.readFileSync(manifest, "utf8")).version !== pkg.version) process.exit(1);
    }'; then
    echo "run.sh: npm ci"
    npm ci --no-audit --no-fund --loglevel=error
fi

# gitlab-ci-local is installed now: fail here, not in the middle of a pipeline, when it (or a
# test, or the job script) runs a command that .ci/tools does not list.
node "$repo_root/.ci/check-tools.mjs" --require-node-modules component

bin="${RBAC_GATE_BIN:-$repo_root/target/release/rbac-gate}"
if [ ! -x "$bin" ]; then
    echo "run.sh: rbac-gate binary not found at $bin: run \`make build\` first (or set RBAC_GATE_BIN)" >&2
    exit 1
fi
export RBAC_GATE_BIN="$bin"

# gitlab-ci-local must not pick up the machine's ~/.gitlab-ci-local/variables.yml.
test_home="$(mktemp -d)"
trap 'rm -rf "$test_home"' EXIT
export HOME="$test_home"

node --test --test-concurrency=1 tests/
