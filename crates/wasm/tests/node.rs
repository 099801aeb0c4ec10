//! Tests of the bindings, compiled to wasm32 and run in Node by wasm-bindgen-test
//! (`wasm-pack test --node crates/wasm`, from `web/tests/run.sh`). On native targets this file
//! is empty: the core's own tests cover the logic.
#![cfg(target_arch = "wasm32")]

use serde_json::Value;
use wasm_bindgen_test::wasm_bindgen_test;

const CLUSTER_ADMIN: &str = "\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: gitlab-runner-admin
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
- kind: ServiceAccount
  name: gitlab-runner
  namespace: gitlab-runner
";

fn parse(json: &str) -> Value {
    serde_json::from_str(json).expect("the bindings return JSON")
}

fn sources(path: &str, text: &str) -> String {
    serde_json::json!([{ "path": path, "text": text }]).to_string()
}

#[wasm_bindgen_test]
fn check_reports_cluster_admin_as_a_failing_critical_finding() {
    let report = parse(&rbac_gate_wasm::check(
        &sources("rbac.yaml", CLUSTER_ADMIN),
        r#"{"today":"2026-01-01"}"#,
    ));
    assert_eq!(report["schema"], "rbac-gate/report/v1");
    assert_eq!(report["verdict"], "fail");
    let findings = report["findings"].as_array().expect("findings");
    let rg101 = findings
        .iter()
        .find(|f| f["code"] == "RG101")
        .expect("RG101 cluster-admin-binding");
    assert_eq!(rg101["severity"], "critical");
    assert_eq!(rg101["path"], "rbac.yaml");
    assert!(rg101["line"].as_u64().expect("line") >= 1);
}

#[wasm_bindgen_test]
fn check_is_the_core_protocol() {
    let sources = sources("rbac.yaml", CLUSTER_ADMIN);
    let options = r#"{"today":"2026-01-01","fail_on":"critical"}"#;
    let direct = rbac_gate_wasm::check(&sources, options);
    let via_handle = rbac_gate_wasm::handle(&format!(
        r#"{{"op":"check","sources":{sources},"options":{options}}}"#
    ));
    assert_eq!(direct, via_handle);
    let native = rbac_gate_core::handle_json(&format!(
        r#"{{"op":"check","sources":{sources},"options":{options}}}"#
    ));
    assert_eq!(direct, native);
    assert_eq!(parse(&direct)["fail_on"], "critical");
}

#[wasm_bindgen_test]
fn empty_input_passes_and_malformed_arguments_are_an_error_report() {
    let empty = parse(&rbac_gate_wasm::check("[]", ""));
    assert_eq!(empty["verdict"], "pass");
    let bad = parse(&rbac_gate_wasm::check("not json", "{}"));
    assert_eq!(bad["verdict"], "error");
    assert!(bad["errors"][0]["message"]
        .as_str()
        .expect("message")
        .contains("malformed policy request"));
}

#[wasm_bindgen_test]
fn rules_and_explain_come_from_the_rule_catalog() {
    let rules = parse(&rbac_gate_wasm::rules());
    let rules = rules.as_array().expect("an array of rule docs");
    assert!(!rules.is_empty());
    assert_eq!(rules.len(), rbac_gate_core::rules::docs().len());
    let first = &rules[0];
    let code = first["code"].as_str().expect("code");
    let name = first["name"].as_str().expect("name");
    let by_code = parse(&rbac_gate_wasm::explain(&code.to_lowercase()).expect("found by code"));
    let by_name = parse(&rbac_gate_wasm::explain(name).expect("found by name"));
    assert_eq!(&by_code, first);
    assert_eq!(by_code, by_name);
    assert!(rbac_gate_wasm::explain("RG000-no-such-rule").is_none());
}

#[wasm_bindgen_test]
fn version_and_runner_info() {
    let version = parse(&rbac_gate_wasm::version());
    assert_eq!(version["policy"], rbac_gate_core::POLICY_VERSION);
    assert_eq!(version["abi"], rbac_gate_core::ABI_VERSION);
    let info = parse(&rbac_gate_wasm::runner_info());
    let (major, minor) = rbac_gate_core::settings::NEWEST_RUNNER;
    assert_eq!(info["newest"], format!("{major}.{minor}"));
    assert!(info["features"]
        .as_array()
        .expect("features")
        .iter()
        .any(|f| f == "namespace_per_job"));
}

#[wasm_bindgen_test]
fn json_rendering_is_the_cli_layout() {
    let sources = sources("rbac.yaml", CLUSTER_ADMIN);
    let report = rbac_gate_wasm::check(&sources, r#"{"today":"2026-01-01"}"#);
    let json = rbac_gate_wasm::render("json", &report, &sources).expect("json renders");
    assert!(json.ends_with("}\n"));
    assert!(json.starts_with("{\n  \"schema\": \"rbac-gate/report/v1\",\n"));
    assert_eq!(parse(&json), parse(&report));
}
