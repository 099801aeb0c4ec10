//! The gate's threat model as tests: each module is one way a merge-request author could try to
//! switch the gate off or hide a manifest, reproduced through the real binary and shown stopped.
//! `tests/attacks/README.md` lists them; the component's end-to-end counterparts are in
//! `ci-component/tests/attacks.test.mjs`.

#[path = "../common/mod.rs"]
mod common;

mod cache;
mod inputs;
mod policy;
mod redaction;
mod reports;
