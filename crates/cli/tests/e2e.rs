//! End-to-end tests of the real binary: formats and exit codes pinned with insta snapshots,
//! plus the command-line contract (inputs, config, exit codes, secrets).
//!
//! Regenerate the snapshots after a policy change with
//! `INSTA_UPDATE=always INSTA_FORCE_PASS=1 cargo test -p rbac-gate --test e2e` and review the
//! diff in `crates/cli/tests/snapshots/`.

mod common;

use common::{command, output, run, transcript};
use std::path::Path;

const FIXTURES: &str = "tests/cli/fixtures";
const FORMATS: [&str; 5] = ["text", "json", "codequality", "sarif", "junit"];

#[test]
fn snapshot_each_fixture_text() {
    for fixture in [
        "safe-role.yaml",
        "broken.yaml",
        "wildcard-clusterrole.yaml",
        "ci-kubeconfig.yaml",
        "token-secret.yaml",
        "justified.yaml",
    ] {
        let path = format!("{FIXTURES}/{fixture}");
        let name = format!(
            "text_{}",
            fixture.trim_end_matches(".yaml").replace('-', "_")
        );
        insta::assert_snapshot!(name, transcript(&["check", &path]));
    }
}

#[test]
fn snapshot_every_format_on_fixtures() {
    for format in FORMATS {
        insta::assert_snapshot!(
            format!("fixtures_{format}"),
            transcript(&["check", FIXTURES, "--format", format])
        );
    }
}

#[test]
fn snapshot_every_format_on_examples() {
    if !common::workspace().join("examples").is_dir() {
        return;
    }
    for format in FORMATS {
        insta::assert_snapshot!(
            format!("examples_{format}"),
            transcript(&["check", "examples", "--format", format])
        );
    }
}

#[test]
fn snapshot_rules_and_quiet() {
    insta::assert_snapshot!("rules", transcript(&["rules"]));
    insta::assert_snapshot!(
        "quiet_fail",
        transcript(&[
            "check",
            "--quiet",
            &format!("{FIXTURES}/wildcard-clusterrole.yaml")
        ])
    );
}

/// The secret values in the fixtures: none may appear in any output.
const SECRETS: [&str; 6] = [
    "rbgtest-tok3n-5d1c9e07a4b26f38e91c",
    "UkJHVEVTVC1LRVktREFUQS0wYjNmNzFlOQ==",
    "UkJHVEVTVC1TRUNSRVQtZGF0YS02YzJlOGY0MQ==",
    "rbgtest-plain-secret-91ab",
    // Fragments, in case a renderer truncates or re-encodes.
    "tok3n-5d1c",
    "UkJHVEVTV",
];

#[test]
fn secrets_never_printed_in_any_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    for fixture in ["ci-kubeconfig.yaml", "token-secret.yaml", ""] {
        // "" is the whole fixture directory: the token Secret then belongs to a known runner.
        // Reports are written only inside the working directory: run in the temporary one.
        let path = common::workspace().join(FIXTURES).join(fixture);
        let path = path.display().to_string().trim_end_matches('/').to_string();
        let fixture = if fixture.is_empty() { "all" } else { fixture };
        for format in FORMATS {
            let mut args = vec![
                "check".to_string(),
                path.clone(),
                "--format".into(),
                format.into(),
            ];
            let mut files = Vec::new();
            for report in FORMATS {
                let name = format!("{fixture}.{format}.{report}");
                args.push("--report".into());
                args.push(format!("{report}={name}"));
                files.push(dir.path().join(name));
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = output(command(&args).current_dir(dir.path()));
            assert!(
                (0..=2).contains(&out.code),
                "{fixture} {format}: exit {}",
                out.code
            );
            if fixture == "ci-kubeconfig.yaml" && format == "text" {
                // The token's line is quoted, redacted.
                assert!(out.stdout.contains("token: [REDACTED]"), "{}", out.stdout);
            }
            let mut texts = vec![
                ("stdout".to_string(), out.stdout),
                ("stderr".to_string(), out.stderr),
            ];
            for file in files {
                let text = std::fs::read_to_string(&file).expect("report file written");
                texts.push((file.display().to_string(), text));
            }
            for (what, text) in &texts {
                assert!(!text.is_empty() || what == "stderr", "{what} is empty");
                for secret in SECRETS {
                    assert!(
                        !text.contains(secret),
                        "{fixture} --format {format}: {what} leaks `{secret}`:\n{text}"
                    );
                }
            }
        }
    }
}

#[test]
fn unparsable_file_is_an_error_and_other_files_are_still_checked() {
    let out = run(&[
        "check",
        &format!("{FIXTURES}/broken.yaml"),
        &format!("{FIXTURES}/wildcard-clusterrole.yaml"),
        "--format",
        "json",
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("json report");
    assert_eq!(report["verdict"], "error");
    let errors = report["errors"].as_array().expect("errors");
    assert!(
        errors
            .iter()
            .any(|e| e["path"] == "tests/cli/fixtures/broken.yaml"),
        "{errors:?}"
    );
    let findings = report["findings"].as_array().expect("findings");
    assert!(
        findings
            .iter()
            .any(|f| f["path"] == "tests/cli/fixtures/wildcard-clusterrole.yaml"),
        "the good file's findings are still reported: {findings:?}"
    );
    assert_eq!(report["policy"]["sha256"].as_str().map(str::len), Some(64));
}

const SEVERITIES: [&str; 5] = ["info", "low", "medium", "high", "critical"];

/// The highest severity among the findings that are not accepted.
fn worst_active_severity(report: &serde_json::Value) -> Option<usize> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["accepted"].is_null())
        .filter_map(|f| SEVERITIES.iter().position(|s| f["severity"] == *s))
        .max()
}

#[test]
fn exit_codes_follow_the_threshold() {
    let wildcard = format!("{FIXTURES}/wildcard-clusterrole.yaml");
    let out = run(&["check", &wildcard, "--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    let worst = worst_active_severity(&report).expect("the wildcard fixture has findings");
    // At every threshold: exit 1 exactly when some active finding reaches it.
    for (i, threshold) in SEVERITIES.iter().enumerate() {
        let code = run(&["check", &wildcard, "--fail-on", threshold]).code;
        assert_eq!(code, i32::from(i <= worst), "--fail-on {threshold}");
    }
    let justified = format!("{FIXTURES}/justified.yaml");
    let out = run(&["check", &justified, "--format", "json", "--fail-on", "info"]);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(worst_active_severity(&report), None, "{}", out.stdout);
    assert!(
        report["counts"]["accepted"].as_u64() > Some(0),
        "{}",
        out.stdout
    );
    // Accepted findings never count, whatever the threshold.
    assert_eq!(out.code, 0);
    let bad = run(&["check", &wildcard, "--fail-on", "severe"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("unknown severity"), "{}", bad.stderr);
}

#[test]
fn quiet_prints_nothing_on_pass() {
    let out = run(&["check", "--quiet", &format!("{FIXTURES}/justified.yaml")]);
    assert_eq!(out.code, 0);
    assert_eq!(out.stdout, "");
}

#[test]
fn config_file_handling() {
    let missing = run(&[
        "check",
        FIXTURES,
        "--config",
        "tests/cli/no-such-config.yaml",
    ]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("no-such-config.yaml"),
        "{}",
        missing.stderr
    );

    // The default `.rbac-gate.yaml` of the working directory is used, and is not itself
    // checked as an input.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(".rbac-gate.yaml"), "fail-on: critical\n").expect("write");
    std::fs::copy(
        common::workspace()
            .join(FIXTURES)
            .join("wildcard-clusterrole.yaml"),
        dir.path().join("rbac.yaml"),
    )
    .expect("copy");
    let out = output(command(&["check", "--format", "json"]).current_dir(dir.path()));
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(report["fail_on"], "critical");
    let critical = worst_active_severity(&report) == Some(4);
    assert_eq!(
        out.code,
        i32::from(critical),
        "{}{}",
        out.stdout,
        out.stderr
    );
    assert_eq!(report["counts"]["files"], 1);
}

#[test]
fn stdin_input() {
    let text = std::fs::read_to_string(
        common::workspace()
            .join(FIXTURES)
            .join("wildcard-clusterrole.yaml"),
    )
    .expect("fixture");
    for (args, path) in [
        (vec!["check", "-", "--format", "json"], "-"),
        (
            vec![
                "check",
                "-",
                "--stdin-path",
                "from-pipe.yaml",
                "--format",
                "json",
            ],
            "from-pipe.yaml",
        ),
    ] {
        let out = common::run_with_stdin(&args, text.as_bytes());
        assert_eq!(out.code, 1, "{}", out.stderr);
        let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
        assert!(report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .all(|f| f["path"] == path));
    }
}

/// File names a run checked, from the JUnit report (one test suite per input file).
fn checked_files(dir: &Path, args: &[&str]) -> (i32, Vec<String>, String) {
    let mut all = vec!["check"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "junit"]);
    let out = output(command(&all).current_dir(dir));
    let names = out
        .stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("<testsuite name=\""))
        .filter_map(|l| l.split('"').next())
        .map(str::to_string)
        .collect();
    (out.code, names, out.stderr)
}

#[test]
fn directory_walk_rules() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let safe = std::fs::read_to_string(common::workspace().join(FIXTURES).join("justified.yaml"))
        .expect("fixture");
    let write = |rel: &str, text: &str| {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    };
    write("deploy/rbac.yaml", &safe);
    write("deploy/extra.YML", &safe);
    write("deploy/values.json", "{}");
    write("runner/config.toml", "concurrent = 1\n");
    write("home/.kube/config", "apiVersion: v1\nkind: Config\n");
    write("ci.kubeconfig", "apiVersion: v1\nkind: Config\n");
    write("README.md", "# not an input\n");
    write("home/config", "not a kubeconfig: not under .kube\n");
    write("node_modules/dep/chart.yaml", "built-in skip: [\n");
    write("generated/out.yaml", "ignored: [\n");
    write(".gitignore", "generated/\n");
    write("vendor/dep.yaml", "excluded: [\n");
    write("old/legacy.yaml", "excluded: [\n");
    let inputs = [
        "ci.kubeconfig",
        "deploy/extra.YML",
        "deploy/rbac.yaml",
        "deploy/values.json",
        "home/.kube/config",
        "runner/config.toml",
    ];
    let excluded = ["--exclude", "vendor", "--exclude", "old/**"];

    // Without git no ignore file applies (the broken generated file is read: an error); the
    // built-in list skips node_modules.
    let (code, files, stderr) = checked_files(root, &excluded);
    let mut expected = inputs.to_vec();
    expected.insert(4, "generated/out.yaml");
    assert_eq!(files, expected, "{stderr}");
    assert_eq!(code, 2, "{stderr}");

    // In a git work tree the untracked files that .gitignore ignores are not inputs, and
    // nothing else is skipped by name (node_modules/dep/chart.yaml is tracked).
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .args(args)
            .current_dir(root)
            .status()
            .expect("git runs");
        assert!(status.success(), "git {args:?}");
    };
    git(&["init", "-q", "."]);
    git(&["add", "."]);
    let (code, files, stderr) = checked_files(root, &excluded);
    let mut expected = inputs.to_vec();
    expected.insert(5, "node_modules/dep/chart.yaml");
    assert_eq!(files, expected, "{stderr}");
    assert_eq!(code, 2, "{stderr}");
    std::fs::remove_file(root.join("node_modules/dep/chart.yaml")).expect("rm");
    let (code, files, stderr) = checked_files(root, &excluded);
    assert_eq!(files, inputs, "{stderr}");
    assert_eq!(code, 0, "{stderr}");

    // `--no-ignore` reads what `.gitignore` hides (the broken file there is then an error);
    // `.git` and `--exclude` still apply.
    let (code, files, stderr) = checked_files(root, &["--no-ignore", "--exclude", "vendor"]);
    assert!(files.iter().any(|f| f == "generated/out.yaml"), "{files:?}");
    assert!(
        !files
            .iter()
            .any(|f| f.starts_with(".git/") || f.starts_with("vendor/")),
        "{files:?}"
    );
    assert_eq!(code, 2, "{stderr}");

    // An explicitly named directory gives paths under it; sorted, deterministic.
    let (_, files, _) = checked_files(root, &["deploy", "runner/config.toml"]);
    assert_eq!(
        files,
        [
            "deploy/extra.YML",
            "deploy/rbac.yaml",
            "deploy/values.json",
            "runner/config.toml"
        ]
    );
}

#[cfg(unix)]
#[test]
fn symlinks_never_leave_the_tree_and_bad_files_are_errors() {
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(outside.path().join("secret.yaml"), "kind: Secret\n").expect("write");
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::write(
        root.join("good.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n",
    )
    .expect("write");
    std::os::unix::fs::symlink(outside.path().join("secret.yaml"), root.join("escape.yaml"))
        .expect("symlink");
    std::os::unix::fs::symlink(root.join("good.yaml"), root.join("inside.yaml")).expect("symlink");
    std::os::unix::fs::symlink(outside.path(), root.join("linked-dir")).expect("symlink");
    std::fs::write(root.join("latin1.yaml"), b"name: caf\xe9\n").expect("write");

    let out = output(command(&["check", "--format", "json"]).current_dir(root));
    assert_eq!(out.code, 2, "{}", out.stdout);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    let errors: Vec<(String, String)> = report["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap_or("").to_string(),
                e["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert!(
        errors
            .iter()
            .any(|(p, m)| p == "escape.yaml" && m.contains("outside")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|(p, m)| p == "latin1.yaml" && m.contains("UTF-8")),
        "{errors:?}"
    );
    // good.yaml, plus the two error entries; the in-tree link and the linked directory are
    // not followed.
    assert_eq!(report["counts"]["files"], 3, "{}", out.stdout);
}

#[test]
fn oversized_file_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("big.yaml"), "a: b\n".repeat(300_000)).expect("write");
    let out = output(command(&["check", "big.yaml", "--max-file-mb", "1"]).current_dir(dir.path()));
    assert_eq!(out.code, 2);
    assert!(out.stdout.contains("too large"), "{}", out.stdout);
}

#[test]
fn reports_written_to_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cq = dir.path().join("gl-code-quality-report.json");
    let junit = dir.path().join("junit.xml");
    let fixture = common::workspace()
        .join(FIXTURES)
        .join("wildcard-clusterrole.yaml");
    let out = output(
        command(&[
            "check",
            &fixture.display().to_string(),
            "--report",
            "codequality=gl-code-quality-report.json",
            "--report",
            // An absolute path inside the working directory is fine too.
            &format!("junit={}", junit.display()),
            "--quiet",
        ])
        .current_dir(dir.path()),
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let cq: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cq).expect("codequality file"))
            .expect("json");
    assert!(!cq.as_array().expect("array").is_empty());
    assert!(std::fs::read_to_string(&junit)
        .expect("junit file")
        .contains("<failure"));

    let bad = run(&["check", FIXTURES, "--report", "pdf=x.pdf"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("unknown format"), "{}", bad.stderr);
}

#[test]
fn rules_explain_version() {
    let rules = run(&["rules", "--format", "json"]);
    assert_eq!(rules.code, 0, "{}", rules.stderr);
    let catalog: Vec<serde_json::Value> = serde_json::from_str(&rules.stdout).expect("json");
    assert_eq!(
        catalog,
        serde_json::from_str::<Vec<serde_json::Value>>(
            &serde_json::to_string(&rbac_gate_core::rules::docs()).expect("json")
        )
        .expect("json"),
        "the module's catalog is the core's"
    );
    if let Some(first) = catalog.first() {
        let code = first["code"].as_str().expect("code");
        let name = first["name"].as_str().expect("name");
        for key in [code, name] {
            let out = run(&["explain", key]);
            assert_eq!(out.code, 0, "{}", out.stderr);
            assert!(
                out.stdout.starts_with(&format!("{code}/{name}")),
                "{}",
                out.stdout
            );
            assert!(out
                .stdout
                .contains(first["docs"].as_str().expect("docs").trim_end()));
        }
    }
    let unknown = run(&["explain", "RG000-no-such-rule"]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("unknown rule"),
        "{}",
        unknown.stderr
    );

    let version = run(&["version"]);
    assert_eq!(version.code, 0);
    let lines: Vec<&str> = version.stdout.lines().collect();
    assert_eq!(lines[0], format!("rbac-gate {}", env!("CARGO_PKG_VERSION")));
    assert_eq!(lines[1], "wasmtime 48.0.8");
    assert!(lines[2].starts_with(&format!("policy {} (abi ", rbac_gate_core::POLICY_VERSION)));
    let digest = lines[3]
        .strip_prefix("module sha256:")
        .and_then(|s| s.strip_suffix(" (embedded)"))
        .expect("module line");
    assert_eq!(
        digest,
        rbac_gate::sandbox::hex(&sha256(rbac_gate::sandbox::EMBEDDED_MODULE))
    );
}

#[test]
fn bad_today_override_is_an_error() {
    let out = output(command(&["check", FIXTURES]).env("RBAC_GATE_TODAY", "tomorrow"));
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("RBAC_GATE_TODAY"), "{}", out.stderr);
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

#[test]
fn report_files_are_read_like_any_file_and_their_directories_are_created() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(
        common::workspace().join("examples/cluster-admin/rbac.yaml"),
        dir.path().join("rbac.yaml"),
    )
    .expect("copy");
    let args = [
        "check",
        ".",
        "--format",
        "json",
        "--report",
        "codequality=gl-code-quality-report.json",
        "--report",
        "junit=reports/junit.xml",
    ];
    for run in 0..2 {
        let out = output(command(&args).current_dir(dir.path()));
        assert_eq!(out.code, 1, "run {run}: {}", out.stderr);
        let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("json report");
        // Which files are inputs never depends on report paths: the second run reads last
        // run's Code Quality file (a JSON array: a document the gate does not judge).
        assert_eq!(
            report["counts"]["files"],
            1 + run,
            "run {run}: {}",
            report["counts"]
        );
        assert_eq!(
            report["counts"]["errors"], 0,
            "run {run}: {}",
            report["counts"]
        );
        assert!(dir.path().join("reports/junit.xml").is_file());
    }
}
