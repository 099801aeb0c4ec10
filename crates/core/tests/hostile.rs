//! Hostile and broken input (tests/hostile/): every case is analysed correctly or is an error
//! naming the file and its line, in bounded time, and the other files of the same run are still
//! reported. The large and binary cases are exercised through the real binary
//! (crates/cli/tests/hostile.rs); the ones here are those the core alone decides, plus the
//! shapes that used to crash or hang it, built in memory.

use rbac_gate_core::yaml::parse_stream;
use rbac_gate_core::{check, Options, Report, Source};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn hostile_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/hostile")
}

fn expectations() -> Value {
    let text = std::fs::read_to_string(hostile_dir().join("expect.json")).expect("expect.json");
    serde_json::from_str(&text).expect("expect.json is JSON")
}

fn options() -> Options {
    Options {
        today: Some("2026-11-26".into()),
        ..Options::default()
    }
}

/// The committed cases (`cases/NAME` → text).
fn committed() -> Vec<Source> {
    let dir = hostile_dir().join("cases");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/hostile/cases")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let bytes = std::fs::read(dir.join(&name)).expect("read case");
            let text = String::from_utf8(bytes).expect("committed cases are UTF-8");
            Source::new(format!("cases/{name}"), text)
        })
        .collect()
}

/// Checks one case's expectation against a report that includes it.
fn assert_case(report: &Report, path: &str, expect: &Value) {
    let errors: Vec<_> = report.errors.iter().filter(|e| e.path == path).collect();
    match expect["outcome"].as_str() {
        Some("error") => {
            let message = expect["message"].as_str().unwrap_or("");
            let line = expect["line"].as_u64().map(|l| l as u32);
            assert!(
                errors
                    .iter()
                    .any(|e| e.line == line && e.message.contains(message)),
                "{path}: expected an error at line {line:?} containing `{message}`, got {errors:?}"
            );
        }
        Some("ok") => {
            assert!(errors.is_empty(), "{path}: unexpected errors {errors:?}");
            for code in expect["codes"].as_array().into_iter().flatten() {
                let code = code.as_str().unwrap_or("");
                assert!(
                    report
                        .findings
                        .iter()
                        .any(|f| f.path == path && f.code == code),
                    "{path}: expected a {code} finding"
                );
            }
        }
        other => panic!("{path}: unknown outcome {other:?}"),
    }
}

#[test]
fn every_committed_case_on_its_own() {
    let expect = expectations();
    let sources = committed();
    assert!(sources.len() >= 40, "{} cases", sources.len());
    for source in &sources {
        let case = &expect["cases"][source.path.as_str()];
        assert!(
            case.is_object(),
            "{} has no expectation in expect.json",
            source.path
        );
        let start = Instant::now();
        let report = check(std::slice::from_ref(source), &options());
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{}: {:?}",
            source.path,
            start.elapsed()
        );
        assert_case(&report, &source.path, case);
        let want = if case["outcome"] == "error" { 2 } else { 0 };
        if want == 2 {
            assert_eq!(report.exit_code(), 2, "{}", source.path);
            assert_eq!(report.verdict, "error", "{}", source.path);
        }
    }
}

#[test]
fn all_committed_cases_in_one_run_are_all_reported() {
    let expect = expectations();
    let sources = committed();
    let report = check(&sources, &options());
    assert_eq!(report.exit_code(), 2);
    for source in &sources {
        assert_case(
            &report,
            &source.path,
            &expect["cases"][source.path.as_str()],
        );
    }
    // (Not order-independent as a whole: with several runner configs claiming one manager the
    // first one in input order is attributed. The CLI sorts its inputs by path, so its output
    // does not depend on the order on disk; crates/cli/tests/hostile.rs checks that.)
}

#[test]
fn no_secret_reaches_the_report() {
    let expect = expectations();
    let sources = committed();
    let json = serde_json::to_string(&check(&sources, &options())).expect("json");
    for (path, needles) in expect["secrets"].as_object().expect("secrets") {
        assert!(
            sources.iter().any(|s| &s.path == path),
            "{path} is not a case"
        );
        for needle in needles.as_array().expect("list") {
            let needle = needle.as_str().expect("string");
            assert!(!json.contains(needle), "{path}: `{needle}` leaked");
        }
    }
}

/// Runs `f` on a thread with the policy module's stack size (1 MiB, the wasm32 default), so a
/// recursion that would trap the sandbox overflows here too.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(f)
        .expect("thread")
        .join()
        .expect("no stack overflow")
}

fn assert_error(text: String, line: u32, needle: &str) {
    let start = Instant::now();
    let err = on_small_stack(move || parse_stream(&text)).expect_err("an error");
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(err.line, line, "{err:?}");
    assert!(err.message.contains(needle), "{err:?}");
}

#[test]
fn ten_thousand_deep_nesting_is_an_error_on_a_small_stack() {
    // yaml-rust2's `Parser::load` recursed once per block level: 10,000 levels overflowed the
    // policy module's stack, trapped it, and lost the report of every other file.
    assert_error("- ".repeat(10_000) + "x\n", 1, "nesting deeper than 256");
    let mapping: String = (0..10_000).map(|i| " ".repeat(i) + "a:\n").collect();
    assert_error(mapping, 257, "nesting deeper than 256");
    assert_error(
        format!("kind: List\nitems:\n{}x\n", "- ".repeat(10_000)),
        3,
        "nesting deeper than 256",
    );
    assert_error(
        "[".repeat(10_000) + &"]".repeat(10_000),
        1,
        "recursion limit",
    );
    assert_error(
        "{a: ".repeat(10_000) + "b" + &"}".repeat(10_000),
        1,
        "recursion limit",
    );
}

#[test]
fn deep_toml_is_an_error_on_a_small_stack() {
    let toml = format!(
        "concurrent = 1\nx = {}{}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let report = on_small_stack(move || check(&[Source::new("config.toml", toml)], &options()));
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert_eq!(report.errors[0].line, Some(2));
}

#[test]
fn alias_bombs_stop_at_the_budget() {
    // Billion laughs.
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    assert_error(text, 6, "alias bomb");
    // Anchors nested around one big list: each anchored level used to be copied unseen
    // (200 copies of 300,000 nodes exhausted the module's memory).
    let mut text = format!("[{}]", vec!["x"; 300_000].join(","));
    for i in 0..200 {
        text = format!("&n{i} [{text}]");
    }
    assert_error(format!("k: {text}\n"), 1, "alias bomb");
}

#[test]
fn many_keys_and_many_aliases_are_not_quadratic() {
    // Duplicate keys were found by scanning every earlier key, and aliases by scanning every
    // anchor: 200,000 keys took minutes, 100,000 aliases 16 s (release build).
    let keys: String = (0..200_000).map(|i| format!("  key{i}: v\n")).collect();
    let text = format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: w}}\ndata:\n{keys}");
    let start = Instant::now();
    let docs = parse_stream(&text).expect("parses");
    assert_eq!(docs.len(), 1);
    let keys_time = start.elapsed();
    let anchors: String = (0..100_000).map(|i| format!("- &a{i} x\n")).collect();
    let aliases = "- *a0\n".repeat(100_000);
    let start = Instant::now();
    parse_stream(&format!("a:\n{anchors}b:\n{aliases}")).expect("parses");
    let alias_time = start.elapsed();
    // Generous bounds for a debug build on a loaded machine; quadratic is minutes.
    assert!(keys_time < Duration::from_secs(30), "{keys_time:?}");
    assert!(alias_time < Duration::from_secs(30), "{alias_time:?}");
    // A duplicate among many keys is still found, with both lines, and its last value kept.
    let docs = parse_stream(&format!("{text}  key77: again\n")).expect("parses");
    let dup = &docs[0].duplicates;
    assert_eq!(dup.len(), 1, "{dup:?}");
    assert_eq!((dup[0].dropped.line, dup[0].applied.line), (82, 200_005));
    assert_eq!(dup[0].path, "data.key77");
    let value = docs[0]
        .root
        .path(&["data", "key77"])
        .and_then(|v| v.as_str());
    assert_eq!(value, Some("again"));
}

#[test]
fn a_nul_does_not_hide_the_rest_of_the_file() {
    // yaml-rust2 reads NUL as the end of the input: the binding after it was never seen and
    // the file passed.
    let text = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: x\u{0}}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: ServiceAccount, name: r, namespace: ci}]\n";
    let report = check(&[Source::new("a.yaml", text)], &options());
    assert_eq!(report.verdict, "error");
    assert_eq!(report.errors[0].line, Some(3));
    // UTF-16 without a BOM is valid UTF-8 full of NULs: it used to read as an empty file.
    let utf16: String = "kind: Role\n".chars().flat_map(|c| ['\u{0}', c]).collect();
    let report = check(&[Source::new("b.yaml", utf16)], &options());
    assert_eq!(report.verdict, "error");
}

#[test]
fn json_with_comments_is_an_error_not_a_pass() {
    // Read as YAML, `// note` swallowed the next key and the ClusterRole went unchecked.
    let text = "{\n  // note\n  \"apiVersion\": \"rbac.authorization.k8s.io/v1\",\n  \"kind\": \"ClusterRole\",\n  \"metadata\": {\"name\": \"x\"},\n  \"rules\": [{\"apiGroups\": [\"*\"], \"resources\": [\"*\"], \"verbs\": [\"*\"]}]\n}\n";
    let report = check(&[Source::new("role.json", text)], &options());
    assert_eq!(report.verdict, "error", "{:?}", report.findings);
    assert_eq!(report.errors[0].line, Some(2));
    // Valid JSON still works.
    let sa = "{\"apiVersion\": \"v1\", \"kind\": \"ServiceAccount\", \"metadata\": {\"name\": \"a\", \"namespace\": \"ci\"}}\n";
    let report = check(&[Source::new("sa.json", sa)], &options());
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.counts.objects, 1);
}

#[test]
fn a_bom_before_a_later_document_does_not_hide_it() {
    let crb = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: x}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: ServiceAccount, name: r, namespace: ci}]\n";
    let text =
        format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: ci}}\n---\n\u{feff}{crb}");
    let report = check(&[Source::new("a.yaml", text)], &options());
    assert!(
        report.findings.iter().any(|f| f.code == "RG101"),
        "{:?}",
        report.skipped_kinds
    );
}
