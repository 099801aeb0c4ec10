# rbac-gate: the two commands are `make demo` and `make test`. Everything else is a helper.
SHELL := /bin/bash
CARGO ?= cargo
WASM_TARGET := wasm32-unknown-unknown

.PHONY: all build demo test tools tools-rust tools-bench toolchain test-rust lint wasm-check corpus test-component bench-cli web serve-web test-web fuzz fuzz-smoke bench bench-audit bench-peers

all: build

## Every external command a suite runs is listed in .ci/tools, and .ci/ensure-tools.sh installs
## the missing ones (Debian packages; `apt-get update` once, before the first install). Each
## suite checks its own up front too; this installs them all at once and runs the check that
## no suite runs a command .ci/tools does not list (.ci/check-tools.mjs, .ci/tools.test.mjs).
tools:
	bash .ci/ensure-tools.sh rust component web fuzz
	node --test .ci/

tools-rust:
	@bash .ci/ensure-tools.sh rust

tools-bench:
	@bash .ci/ensure-tools.sh bench

## Toolchain pieces the tests need; each step checks before it installs (idempotent).
toolchain:
	@rustup target list --installed | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)
	@rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
	@rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt

## The CLI: one self-contained binary. Its build script compiles the policy module
## (crates/policy, wasm32-unknown-unknown, profile `wasm`) and embeds it.
build: toolchain
	$(CARGO) build --locked --release -p rbac-gate

## Builds what it needs, then checks the bundled examples. Prints the exit code the report
## implies and does not fail itself.
demo: build
	@status=0; ./target/release/rbac-gate check examples/ || status=$$?; \
	echo "demo: exit code $$status (0 pass, 1 findings at or above the threshold, 2 error)"

## The GitLab CI component: schema validation and gitlab-ci-local end to end, with the real binary.
test-component: build
	RBAC_GATE_BIN=$(CURDIR)/target/release/rbac-gate ci-component/tests/run.sh

## The browser playground: bindings (crates/wasm, wasm-pack --target web) and the static site in
## web/dist. Installs missing tools first (wasm-bindgen-cli 0.2.130, wasm-pack 0.15.1, npm ci).
web:
	bash web/scripts/build.sh

## Serves web/dist on http://127.0.0.1:8080/ (PORT=9000 make serve-web for another port).
serve-web: web
	node web/scripts/serve.mjs --port $${PORT:-8080}

## Playground tests: wasm-bindgen tests in Node, parity with the CLI on examples/, end to end in
## Debian's Chromium (installed with apt when missing).
test-web: build
	RBAC_GATE_BIN=$(CURDIR)/target/release/rbac-gate bash web/tests/run.sh

## cargo-fuzz (nightly) on the YAML and TOML front ends, the config file and `check` as a whole:
## 10 minutes per target (FUZZ_SECONDS to change, FUZZ_PARALLEL=2 for two at a time).
fuzz:
	bash .ci/ensure-tools.sh fuzz
	bash fuzz/run.sh $${FUZZ_SECONDS:-600}

## A few seconds of each fuzz target; skips cleanly where no nightly toolchain exists.
fuzz-smoke:
	bash fuzz/smoke.sh

## `rbac-gate audit` throughput and peak memory on a generated 1 GiB audit log (written to
## target/bench-audit/, never committed). Figures, not pass/fail.
bench-audit: tools-bench build
	python3 crates/cli/bench/audit_bench.py target/release/rbac-gate 1G

## Installs the peer tools `make bench` compares with (Checkov, pinned, in a venv), if missing.
bench-peers: tools-bench
	bash bench/peers.sh

## Synthetic cluster dumps of 1,000, 10,000 and 100,000 RBAC objects: native core, the CLI
## through wasmtime (cold and warm module cache), the playground build under Node, and Checkov
## where `make bench-peers` installed it. Writes bench/results.md.
bench: tools-bench build bench-cli bench-audit
	python3 bench/run.py

## The core must stay pure and portable: it builds for wasm32 in every `make test`.
wasm-check: toolchain tools-rust
	$(CARGO) build -p rbac-gate-core --target $(WASM_TARGET) --profile wasm

lint: toolchain tools-rust
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test-rust: toolchain tools-rust
	$(CARGO) test --workspace

## Accuracy against the 52-case corpus, with the per-case table.
corpus:
	$(CARGO) test -p rbac-gate-core --test corpus -- --nocapture

test: tools toolchain lint wasm-check test-rust test-component test-web fuzz-smoke
	@echo "make test: all suites passed"

## wasmtime vs native core on a generated 10,000-object dump, and cold start with and
## without the compiled-module cache (figures, not pass/fail).
bench-cli: tools-bench build
	python3 crates/cli/bench/bench.py target/release/rbac-gate
