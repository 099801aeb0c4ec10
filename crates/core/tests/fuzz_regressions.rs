//! Inputs the fuzz targets (fuzz/) found, kept as regression tests with the invariant each one
//! broke. `make fuzz` records executions and findings in fuzz/README.md.

use rbac_gate_core::{check, Options, Report, Source};

fn options() -> Options {
    Options {
        today: Some("2026-11-26".into()),
        ..Options::default()
    }
}

/// What fuzz/fuzz_targets/common.rs checks on every report.
fn invariants(sources: &[Source]) -> Report {
    let report = check(sources, &options());
    let json = serde_json::to_string(&report).expect("serialises");
    let again = serde_json::to_string(&check(sources, &options())).expect("serialises");
    assert_eq!(json, again, "two runs differ");
    let failing = report.findings.iter().any(|f| f.fails(report.fail_on));
    match report.verdict.as_str() {
        "error" => assert!(!report.errors.is_empty()),
        "fail" => assert!(report.errors.is_empty() && failing),
        "pass" => assert!(report.errors.is_empty() && !failing),
        other => panic!("verdict {other}"),
    }
    report
}

/// The `toml` target's ConfigMap wrapping: the text as a literal block of a ConfigMap.
fn in_configmap(toml: &str) -> String {
    let mut cm = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: runner\n  namespace: ci\ndata:\n  config.toml: |\n",
    );
    for line in toml.lines() {
        cm.push_str("    ");
        cm.push_str(line);
        cm.push('\n');
    }
    cm
}

#[test]
fn toml_error_after_a_leading_blank_line_points_inside_the_file() {
    // fuzz/artifacts/toml/crash-7f57710ae7d455a7704943dd318cd9a6c10b58f6: a literal block that
    // starts with an empty line is positioned at its first non-empty line, but the TOML text
    // keeps the empty line, so every TOML line was mapped one YAML line too far (here: line
    // 10 of a 9-line file).
    let toml = "\ntps://k8s.example.cR# /etps://k8s.example.cRG10g'";
    let cm = in_configmap(toml);
    let lines = cm.lines().count() as u32;
    let report = invariants(&[Source::new("cm.yaml", cm)]);
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    let e = &report.errors[0];
    // TOML line 2 is YAML line 9, the line that holds it.
    assert_eq!((e.line, lines), (Some(9), 9), "{e:?}");
    assert!(e.message.contains("TOML line 2"), "{e:?}");
}

#[test]
fn an_empty_role_ref_field_does_not_hang_the_line_search() {
    // fuzz/artifacts/check/timeout-83cfb96a034257e5563b72c712e4701674b86651, minimised: the
    // roleRef has no `kind` (the key is `kind:ne`), so the line search for the kind looked for
    // "", which matches at every position without advancing: an endless loop, i.e. the
    // policy module's deadline and no report for any file.
    let text =
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nroleRef:\n  kind:ne:\n";
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let report = invariants(&[Source::new("crb.yaml", text)]);
        let _ = tx.send(report.findings.len());
    });
    let findings = rx
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("check returns instead of looping");
    assert!(findings >= 1);
}

#[test]
fn a_repeated_items_key_keeps_the_first_items_out_of_the_list() {
    // fuzz/artifacts/yaml/crash-f6078d4beaf47e3ed28aa355329dc3b7a0cbe79f (the `yaml` target's
    // streaming-vs-whole-tree oracle): with a second top-level `items:`, the items of one
    // list were checked as those of another. kubectl keeps the last `items` (goyaml.v2,
    // non-strict), so the List holds the ClusterRole, and the first (already streamed) items
    // must not be what is checked. Reduced with a ServiceAccount in the first list.
    let text = "kind: List\nitems:\n- {apiVersion: v1, kind: ServiceAccount, metadata: {name: first, namespace: ci}}\nitems:\n- apiVersion: rbac.authorization.k8s.io/v1\n  kind: ClusterRole\n  metadata: {name: everything}\n  rules:\n  - {apiGroups: ['*'], resources: ['*'], verbs: ['*']}\n";
    let report = invariants(&[Source::new("list.yaml", text)]);
    assert_eq!(report.counts.objects, 1, "{:?}", report.findings);
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.code == "RG507" && f.line == 4),
        "{:?}",
        report.findings
    );
    assert!(
        report.findings.iter().any(|f| f.code == "RG101"),
        "{:?}",
        report.findings
    );
    assert!(
        report.findings.iter().all(|f| !f.message.contains("first")),
        "{:?}",
        report.findings
    );
}
