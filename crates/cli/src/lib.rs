//! rbac-gate's command-line host: collects the input files, runs the policy module in a
//! wasmtime sandbox and renders the report.
//!
//! The library exists so the integration tests can drive the sandbox directly (the
//! native-vs-module equivalence test); the binary is `src/main.rs`.

pub mod cache;
pub mod cli;
pub mod collect;
pub mod commands;
pub mod date;
pub mod kustomize;
pub mod redact;
pub mod render;
pub mod sandbox;
pub mod trusted_config;
