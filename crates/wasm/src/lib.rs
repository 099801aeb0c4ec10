//! Browser bindings of [`rbac_gate_core`] for the playground (`web/`), built with
//! `wasm-pack build crates/wasm --target web`.
//!
//! Thin by design: every function hands strings to the core and returns what it returns, so
//! the playground shows exactly what the CLI computes. Everything crosses the boundary as JSON
//! text (the core's own protocol), which keeps the bindings free of JS-specific types and the
//! glue small.
//!
//! | export | returns |
//! |---|---|
//! | `handle(request)` | [`rbac_gate_core::handle_json`]: the raw protocol, `{"op":"check",...}` or `{"op":"rules"}` |
//! | `check(sources, options)` | the report JSON (`rbac-gate/report/v1`) for `sources` (`[{"path","text"}]`) and `options` |
//! | `rules()` | the rule docs, the same list `rbac-gate rules --format json` prints |
//! | `explain(rule)` | one rule's doc (by code, any case, or name), as `rbac-gate explain` finds it; `undefined` if unknown |
//! | `render(format, report, sources)` | a report rendered as the CLI renders it: `json` (and the core's renderers, see [`render`]) |
//! | `version()` | `{"policy","abi","report_schema"}` |
//! | `runner_info()` | `{"newest","features"}`: the runner version the needs default to, and the feature names `.rbac-gate.yaml` `runner.features` knows |

use rbac_gate_core::report::Report;
use rbac_gate_core::runner::permissions::feature;
use wasm_bindgen::prelude::*;

/// Runs one request of the core's JSON protocol and returns its JSON response. A malformed
/// request becomes an error report (verdict `error`), never an exception.
#[wasm_bindgen]
pub fn handle(request: &str) -> String {
    rbac_gate_core::handle_json(request)
}

/// Checks `sources` (a JSON array of `{"path","text"}`) with `options` (a JSON object:
/// `config`, `fail_on`, `today`, `runner_version`; `{}` for none) and returns the report JSON.
/// Malformed arguments give an error report, as [`handle`] does.
#[wasm_bindgen]
pub fn check(sources: &str, options: &str) -> String {
    let options = if options.trim().is_empty() {
        "{}"
    } else {
        options
    };
    rbac_gate_core::handle_json(&format!(
        "{{\"op\":\"check\",\"sources\":{sources},\"options\":{options}}}"
    ))
}

/// The rule docs (a JSON array of `{code,name,severity,category,summary,docs}`): the same source
/// as `rbac-gate rules` and `rbac-gate explain`.
#[wasm_bindgen]
pub fn rules() -> String {
    rbac_gate_core::handle_json("{\"op\":\"rules\"}")
}

/// One rule's doc as JSON, looked up the way `rbac-gate explain` does (code in any case, or
/// name); `undefined` when no rule matches.
#[wasm_bindgen]
pub fn explain(rule: &str) -> Option<String> {
    rbac_gate_core::rules::docs()
        .into_iter()
        .find(|r| r.code.eq_ignore_ascii_case(rule) || r.name.eq_ignore_ascii_case(rule))
        .and_then(|doc| serde_json::to_string(&doc).ok())
}

/// Versions: the policy (core crate), the request/response protocol and the report schema.
#[wasm_bindgen]
pub fn version() -> String {
    serde_json::json!({
        "policy": rbac_gate_core::POLICY_VERSION,
        "abi": rbac_gate_core::ABI_VERSION,
        "report_schema": rbac_gate_core::report::REPORT_SCHEMA,
    })
    .to_string()
}

/// What the runner selector offers: the runner version the permission data defaults to and the
/// feature names `.rbac-gate.yaml` `runner.features` recognises.
#[wasm_bindgen]
pub fn runner_info() -> String {
    let (major, minor) = rbac_gate_core::settings::NEWEST_RUNNER;
    let features = [
        feature::NAMESPACE_PER_JOB,
        feature::NAMESPACE_OVERWRITE,
        feature::SESSION_SERVER,
        feature::PRINT_POD_WARNING_EVENTS,
        feature::POD_DISRUPTION_BUDGET,
        feature::AUTOSCALER,
        feature::RESOURCE_CHECK,
        feature::LEGACY_EXEC,
        feature::HONOR_ENTRYPOINT,
        feature::PRINT_POD_EVENTS,
        feature::WAIT_REACHABLE,
        feature::CONCRETE,
        feature::SUSPENDABLE,
        feature::RETRIEVE_WARNING_EVENTS,
        feature::CI_DEBUG_SERVICES,
    ];
    serde_json::json!({
        "newest": format!("{major}.{minor}"),
        "features": features,
    })
    .to_string()
}

/// Renders a report (the JSON [`check`] returned) in one of the CLI's file formats, byte for
/// byte as `rbac-gate check --format FORMAT` writes it: `json`, `codequality`, `sarif` or `junit`.
/// `sources` is the JSON array of inputs (used by formats that list files); the rule docs come
/// from the core.
#[wasm_bindgen]
pub fn render(format: &str, report: &str, sources: &str) -> Result<String, JsError> {
    let report: Report =
        serde_json::from_str(report).map_err(|e| JsError::new(&format!("not a report: {e}")))?;
    let sources: Vec<rbac_gate_core::Source> = if sources.trim().is_empty() {
        Vec::new()
    } else {
        serde_json::from_str(sources).map_err(|e| JsError::new(&format!("bad sources: {e}")))?
    };
    let format: rbac_gate_core::render::Format =
        format.parse().map_err(|e: String| JsError::new(&e))?;
    let rules = rbac_gate_core::rules::docs();
    Ok(rbac_gate_core::render::render(
        format,
        &rbac_gate_core::render::Context {
            report: &report,
            sources: &sources,
            rules: &rules,
        },
    ))
}
