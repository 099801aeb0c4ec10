//! Data-driven cases: `tests/cases/<case>/` holds input files and an `expect.yaml`:
//!
//! ```yaml
//! exit: 1                                # optional: the exit code
//! findings:                              # each must be reported
//!   - {code: RG401, line: 18}            # on exactly this line (of the only input file)
//!   - {code: RG101, lines: [53, 62], file: bindings.yaml, severity: critical}
//!   - {code: RG306, line: 4, message: config.template.toml}  # message: a part of the text
//! absent: [RG501]                        # optional: codes that must not be reported
//! error_line: 8                          # optional: a file error on this line...
//! error_lines: [5, 8]                    # ...or within this range
//! ```
//!
//! `severity` is a minimum. The expectation file is read with the core's own YAML parser. A
//! `.rbac-gate.yaml` at the top of a case is the config the case runs with, not an input.

use rbac_gate_core::yaml::{parse_stream, Node};
use rbac_gate_core::{check, Options, Report, Severity, Source};
use std::path::{Path, PathBuf};

/// The config a case runs with, when its folder holds one.
const CONFIG: &str = ".rbac-gate.yaml";

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/cases")
}

struct Want {
    code: String,
    file: Option<String>,
    lines: (u32, u32),
    severity: Option<Severity>,
    message: Option<String>,
}

struct Expect {
    exit: Option<i32>,
    findings: Vec<Want>,
    absent: Vec<String>,
    error_lines: Option<(u32, u32)>,
}

fn int(node: &Node) -> u32 {
    node.as_i64()
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or_else(|| panic!("expected a line number at line {}", node.pos.line))
}

fn range(node: &Node) -> (u32, u32) {
    match node.as_seq() {
        Some([a, b]) => (int(a), int(b)),
        _ => panic!("expected [from, to] at line {}", node.pos.line),
    }
}

fn parse_expect(text: &str) -> Expect {
    let docs = parse_stream(text).unwrap_or_else(|e| panic!("expect.yaml: {e:?}"));
    let root = &docs.first().expect("expect.yaml is empty").root;
    for (key, _) in root.string_entries() {
        assert!(
            matches!(
                key,
                "exit" | "findings" | "absent" | "error_line" | "error_lines"
            ),
            "unknown key `{key}` in expect.yaml"
        );
    }
    let findings = root
        .get("findings")
        .and_then(Node::as_seq)
        .unwrap_or(&[])
        .iter()
        .map(|f| {
            for (key, _) in f.string_entries() {
                assert!(
                    matches!(
                        key,
                        "code" | "line" | "lines" | "file" | "severity" | "message"
                    ),
                    "unknown key `{key}` in a finding at line {}",
                    f.pos.line
                );
            }
            let lines = match (f.get("line"), f.get("lines")) {
                (Some(l), None) => (int(l), int(l)),
                (None, Some(r)) => range(r),
                (None, None) => (1, u32::MAX),
                _ => panic!("give `line` or `lines`, not both (line {})", f.pos.line),
            };
            Want {
                code: f
                    .get("code")
                    .and_then(Node::as_str)
                    .expect("finding needs a code")
                    .to_string(),
                file: f.get("file").and_then(Node::as_str).map(str::to_string),
                lines,
                severity: f.get("severity").map(|s| {
                    s.as_str()
                        .and_then(Severity::parse)
                        .expect("severity: info|low|medium|high|critical")
                }),
                message: f.get("message").and_then(Node::as_str).map(str::to_string),
            }
        })
        .collect();
    Expect {
        exit: root
            .get("exit")
            .map(|n| i32::try_from(int(n)).expect("exit code")),
        findings,
        absent: root
            .get("absent")
            .map(|n| n.string_list().into_iter().map(|(s, _)| s).collect())
            .unwrap_or_default(),
        error_lines: match (root.get("error_line"), root.get("error_lines")) {
            (Some(l), _) => Some((int(l), int(l))),
            (None, Some(r)) => Some(range(r)),
            (None, None) => None,
        },
    }
}

/// Every input below `dir`, named by its path relative to `dir` (`/`-separated): a case may
/// hold folders, such as a chart's `templates/`.
fn inputs(dir: &Path) -> Vec<Source> {
    let mut paths = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(folder) = todo.pop() {
        for entry in
            std::fs::read_dir(&folder).unwrap_or_else(|e| panic!("{}: {e}", folder.display()))
        {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                todo.push(path);
            } else if folder != dir
                || path
                    .file_name()
                    .is_some_and(|n| n != "expect.yaml" && n != "README.md" && n != CONFIG)
            {
                paths.push(path);
            }
        }
    }
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let relative = p.strip_prefix(dir).expect("below the case");
            let name = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            Source::new(name, std::fs::read_to_string(p).expect("readable input"))
        })
        .collect()
}

fn show(report: &Report) -> String {
    let mut s = format!("exit {}\n", report.exit_code());
    for e in &report.errors {
        s.push_str(&format!("  error {}:{:?} {}\n", e.path, e.line, e.message));
    }
    for f in &report.findings {
        s.push_str(&format!(
            "  {} {} {}:{} {}\n",
            f.code,
            f.severity.as_str(),
            f.path,
            f.line,
            f.message
        ));
    }
    s
}

/// The problems of one case, empty when it passes.
fn run_case(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("expect.yaml")).expect("expect.yaml");
    let expect = parse_expect(&text);
    let sources = inputs(dir);
    assert!(!sources.is_empty(), "{} has no inputs", dir.display());
    let config = std::fs::read_to_string(dir.join(CONFIG))
        .ok()
        .map(|text| Source::new(CONFIG, text));
    let report = check(
        &sources,
        &Options {
            config,
            ..Options::default()
        },
    );
    let mut problems = Vec::new();
    if let Some(exit) = expect.exit {
        if report.exit_code() != exit {
            problems.push(format!("exit {} (want {exit})", report.exit_code()));
        }
    }
    for w in &expect.findings {
        let hit = report.findings.iter().any(|f| {
            f.code == w.code
                && w.file.as_deref().is_none_or(|p| f.path == p)
                && (w.lines.0..=w.lines.1).contains(&f.line)
                && w.severity.is_none_or(|s| f.severity >= s)
                && w.message.as_deref().is_none_or(|m| f.message.contains(m))
        });
        if !hit {
            problems.push(format!(
                "no {} at lines {}-{}{}",
                w.code,
                w.lines.0,
                w.lines.1,
                w.severity
                    .map(|s| format!(" at {} or above", s.as_str()))
                    .unwrap_or_default()
                    + &w.message
                        .as_deref()
                        .map(|m| format!(" saying `{m}`"))
                        .unwrap_or_default()
            ));
        }
    }
    for code in &expect.absent {
        if report.findings.iter().any(|f| f.code == *code) {
            problems.push(format!("{code} reported but expected absent"));
        }
    }
    if let Some((a, b)) = expect.error_lines {
        if !report
            .errors
            .iter()
            .any(|e| e.line.is_some_and(|l| (a..=b).contains(&l)))
        {
            problems.push(format!("no file error at lines {a}-{b}"));
        }
    }
    if !problems.is_empty() {
        problems.push(show(&report));
    }
    problems
}

fn case(name: &str) {
    let problems = run_case(&cases_dir().join(name));
    assert!(problems.is_empty(), "case {name}: {}", problems.join("\n"));
}

#[test]
fn every_case_folder_has_a_test() {
    let mut found: Vec<String> = std::fs::read_dir(cases_dir())
        .expect("tests/cases")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir())
        .map(|p| p.file_name().expect("name").to_string_lossy().to_string())
        .collect();
    found.sort();
    let mut known: Vec<String> = CASES.iter().map(|s| s.to_string()).collect();
    known.sort();
    assert_eq!(found, known, "add new case folders to CASES");
}

/// One test per case folder, so a failure names the case.
macro_rules! cases {
    ($($test:ident => $dir:literal),* $(,)?) => {
        const CASES: &[&str] = &[$($dir),*];
        $(
            #[test]
            fn $test() {
                case($dir);
            }
        )*
    };
}

cases! {
    role => "role",
    clusterrole_aggregation => "clusterrole-aggregation",
    bindings => "bindings",
    serviceaccount => "serviceaccount",
    secret => "secret",
    workload => "workload",
    configmap_config_toml => "configmap-config-toml",
    config_toml => "config-toml",
    helm_values => "helm-values",
    kubeconfig => "kubeconfig",
    kubectl_list_dump => "kubectl-list-dump",
    unrendered_template => "unrendered-template",
    namespace_assumed => "namespace-assumed",
    sensitive_namespace => "sensitive-namespace",
    hidden_power_severities => "hidden-power-severities",
    authorization_subresources => "authorization-subresources",
    yaml_merge_keys => "yaml-merge-keys",
    yaml_duplicate_keys => "yaml-duplicate-keys",
    yaml_booleans => "yaml-booleans",
    bootstrap_redefined_role => "bootstrap-redefined-role",
    bootstrap_system_roles => "bootstrap-system-roles",
    bootstrap_defaults => "bootstrap-defaults",
    gitlab_tokens => "gitlab-tokens",
    wrapper_chart => "wrapper-chart",
    upstream_values => "upstream-values",
    gitlab_chart_defaults => "gitlab-chart-defaults",
    gitlab_chart_runner_off => "gitlab-chart-runner-off",
    flux_helmrelease => "flux-helmrelease",
    flux_valuesfrom_missing => "flux-valuesfrom-missing",
    argo_application_values_string => "argo-application-values-string",
    argo_application_values_object => "argo-application-values-object",
    chart_application => "chart-application",
    chart_rbac_templates => "chart-rbac-templates",
    monitoring_configmap => "monitoring-configmap",
    template_in_rbac_field => "template-in-rbac-field",
    cluster_admin_roleref => "cluster-admin-roleref",
    rendered_chart => "rendered-chart",
    rendered_output_missing => "rendered-output-missing",
    config_template_toml => "config-template-toml",
    runner_version_before_events => "runner-version-before-events",
    runner_version_with_events => "runner-version-with-events",
}
