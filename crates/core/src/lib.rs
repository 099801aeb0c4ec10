//! rbac-gate core: a pure policy engine for GitLab Runner RBAC on Kubernetes.
//!
//! Text in, report out: [`check`] takes the files the host read and the options it knows
//! (config text, threshold, today's date) and returns a [`Report`]. No filesystem, clock,
//! environment or stdout is touched here, so the same code runs natively, inside the wasmtime
//! sandbox of the CLI and in the browser.

pub mod api;
pub mod audit;
pub mod authz;
pub(crate) mod base64;
pub mod context;
pub mod explain_error;
pub mod generate;
pub mod model;
pub mod redact;
pub mod render;
pub mod report;
pub mod rules;
pub mod runner;
pub mod settings;
pub mod yaml;

pub use api::{handle_json, Options, Request, Response, Source, ABI_VERSION};
pub use report::{Category, FileError, Finding, Report, Severity};

/// Version of the policy (this crate), reported in every report.
pub const POLICY_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Checks the given files and returns the report.
pub fn check(sources: &[Source], options: &Options) -> Report {
    engine::run(sources, options)
}

mod engine;
