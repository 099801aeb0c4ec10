# rbac-gate: the two commands are `make demo` and `make test`. Everything else is a helper.
SHELL := /bin/bash
CARGO ?= cargo
WASM_TARGET := wasm32-unknown-unknown

.PHONY: all build demo test toolchain test-rust lint wasm-check corpus bench clean-cache

all: build

## Toolchain pieces the tests need; each step checks before it installs (idempotent).
toolchain:
	@rustup target list --installed | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)
	@rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
	@rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt

## The core must stay pure and portable: it builds for wasm32 in every `make test`.
wasm-check: toolchain
	$(CARGO) build -p rbac-gate-core --target $(WASM_TARGET) --profile wasm

lint: toolchain
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test-rust: toolchain
	$(CARGO) test --workspace

## Accuracy against the 52-case corpus, with the per-case table.
corpus:
	$(CARGO) test -p rbac-gate-core --test corpus -- --nocapture

test: toolchain lint wasm-check test-rust
	@echo "make test: all suites passed"
