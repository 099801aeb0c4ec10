//! Whole-engine properties: determinism, order independence, secrets never printed, fail-closed.

use rbac_gate_core::{check, handle_json, Options, Source};

const TOKEN: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6IkZBS0UtVEVTVC1UT0tFTiJ9.c2VjcmV0LXBheWxvYWQ";

fn kubeconfig() -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: prod\n  cluster:\n    server: https://k8s.example:6443\n    insecure-skip-tls-verify: true\nusers:\n- name: ci\n  user:\n    token: {TOKEN}\n    password: hunter2-{TOKEN}\n    client-key-data: {TOKEN}\ncontexts:\n- name: prod\n  context: {{cluster: prod, user: ci}}\ncurrent-context: prod\n"
    )
}

fn config_toml() -> String {
    format!(
        "concurrent = 4\n[[runners]]\n  name = \"k8s\"\n  executor = \"kubernetes\"\n  token = \"glrt-{TOKEN}\"\n  [runners.kubernetes]\n    host = \"https://k8s.example\"\n    bearer_token = \"{TOKEN}\"\n    namespace = \"ci\"\n"
    )
}

fn secret() -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: runner-token\n  namespace: ci\n  annotations:\n    kubernetes.io/service-account.name: gitlab-runner\ntype: kubernetes.io/service-account-token\ndata:\n  token: {TOKEN}\nstringData:\n  token: {TOKEN}\n"
    )
}

fn sources() -> Vec<Source> {
    vec![
        Source::new("kubeconfig.yaml", kubeconfig()),
        Source::new("config.toml", config_toml()),
        Source::new("secret.yaml", secret()),
        Source::new(
            "rbac.yaml",
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: runner-admin\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: cluster-admin\nsubjects:\n- kind: ServiceAccount\n  name: gitlab-runner\n  namespace: ci\n",
        ),
    ]
}

fn options() -> Options {
    Options {
        today: Some("2026-11-26".into()),
        ..Options::default()
    }
}

#[test]
fn secrets_never_appear_in_the_report() {
    let report = check(&sources(), &options());
    let json = serde_json::to_string(&report).expect("serialises");
    assert!(
        !json.contains("c2VjcmV0LXBheWxvYWQ"),
        "a token leaked into the report"
    );
    assert!(
        !json.contains("hunter2"),
        "a password leaked into the report"
    );
}

#[test]
fn output_is_deterministic_and_independent_of_input_order() {
    let a = serde_json::to_string(&check(&sources(), &options())).expect("json");
    let b = serde_json::to_string(&check(&sources(), &options())).expect("json");
    assert_eq!(a, b);
    let mut reversed = sources();
    reversed.reverse();
    let c = serde_json::to_string(&check(&reversed, &options())).expect("json");
    assert_eq!(a, c, "file order changed the report");
}

#[test]
fn an_unreadable_file_fails_closed_and_the_others_are_still_checked() {
    let mut s = sources();
    s.push(Source {
        path: "binary.yaml".into(),
        text: String::new(),
        read_error: Some("not valid UTF-8 (byte 0xff at offset 3)".into()),
    });
    s.push(Source::new("broken.yaml", "kind: Role\nrules: [\n"));
    let report = check(&s, &options());
    assert_eq!(report.exit_code(), 2);
    assert_eq!(report.verdict, "error");
    let paths: Vec<&str> = report.errors.iter().map(|e| e.path.as_str()).collect();
    assert!(
        paths.contains(&"binary.yaml") && paths.contains(&"broken.yaml"),
        "{paths:?}"
    );
    assert!(report
        .errors
        .iter()
        .any(|e| e.path == "broken.yaml" && e.line.is_some()));
    assert!(
        !report.findings.is_empty(),
        "the good files must still be reported"
    );
}

#[test]
fn malformed_request_is_an_error_report_not_a_panic() {
    let out = handle_json("{not json");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json out");
    assert_eq!(v["verdict"], "error");
}

#[test]
fn unrendered_template_never_passes() {
    let report = check(
        &[Source::new(
            "role.yaml",
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: {{ .Values.name }}\nrules: []\n",
        )],
        &options(),
    );
    assert_eq!(report.exit_code(), 2);
    assert!(report.errors[0].message.contains("helm template"));
}

#[test]
fn skipping_the_permission_matrix_changes_nothing_else() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut all = sources();
    for entry in walk(&examples) {
        let text = std::fs::read_to_string(&entry).expect("example is text");
        all.push(Source::new(entry.display().to_string(), text));
    }
    let full = check(&all, &options());
    let lean = check(
        &all,
        &Options {
            skip_identities: true,
            ..options()
        },
    );
    assert!(!full.identities.is_empty(), "the examples have identities");
    assert!(lean.identities.is_empty());
    let mut expected = full.clone();
    expected.identities.clear();
    assert_eq!(
        serde_json::to_string(&expected).expect("json"),
        serde_json::to_string(&lean).expect("json")
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("examples/ exists")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            out.extend(walk(&path));
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "toml" | "json")
        ) {
            out.push(path);
        }
    }
    out
}
