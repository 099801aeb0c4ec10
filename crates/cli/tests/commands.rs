//! End-to-end tests of `generate`, `explain-error` and `audit` through the real binary (the
//! sandboxed policy module): output pinned with insta snapshots, exit codes, the round trips
//! (generate → check, audit's tightened Role → check), gzip, stdin, progress and the
//! per-call limits of the audit's long-lived sandbox session.
//!
//! Regenerate the snapshots with
//! `INSTA_UPDATE=always INSTA_FORCE_PASS=1 cargo test -p rbac-gate --test commands`.

mod common;

#[path = "../../core/tests/support/auditlog.rs"]
mod auditlog;

use common::{run, run_with_stdin, transcript};
use std::io::Write;
use std::path::{Path, PathBuf};

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

fn json(out: &common::Output) -> serde_json::Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

// ---- generate ------------------------------------------------------------------------------

#[test]
fn generate_snapshots() {
    insta::assert_snapshot!("generate_default", transcript(&["generate"]));
    insta::assert_snapshot!(
        "generate_namespace_per_job_helm",
        transcript(&[
            "generate",
            "--feature",
            "namespace_per_job",
            "--format",
            "helm"
        ])
    );
    insta::assert_snapshot!(
        "generate_from_config",
        transcript(&[
            "generate",
            "--from",
            "examples/safe-baseline/runner.yaml",
            "--feature",
            "FF_PRINT_POD_EVENTS"
        ])
    );
}

/// generate → check, through the binary: exit 0 at `--fail-on info`.
#[test]
fn generate_then_check_passes() {
    let cases: &[&[&str]] = &[
        &[],
        &["--feature", "namespace_per_job"],
        &[
            "--feature",
            "autoscaler",
            "--feature",
            "pod_disruption_budget",
        ],
        &[
            "--feature",
            "FF_SUSPENDABLE_ENVIRONMENTS",
            "--feature",
            "session_server",
            "--job-namespace",
            "ci",
            "--job-namespace",
            "ci-2",
        ],
        &[
            "--runner-version",
            "15.0",
            "--feature",
            "FF_USE_LEGACY_KUBERNETES_EXECUTION_STRATEGY",
        ],
        &["--format", "helm", "--feature", "namespace_per_job"],
        &[
            "--format",
            "helm",
            "--feature",
            "autoscaler",
            "--job-namespace",
            "ci",
        ],
    ];
    for args in cases {
        let dir = tempdir();
        let mut cmd = vec!["generate", "--format", "json"];
        cmd.extend(args.iter().filter(|a| **a != "--format" && **a != "helm"));
        if args.contains(&"helm") {
            cmd.push("--helm");
        }
        let out = run(&cmd);
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        let v = json(&out);
        write(
            dir.path(),
            "generated.yaml",
            v["text"].as_str().unwrap_or_default(),
        );
        if let Some(extra) = v["extra_manifests"].as_str() {
            write(dir.path(), "extra.yaml", extra);
        }
        let config = write(
            dir.path(),
            "gate.yml",
            v["gate_config"].as_str().unwrap_or_default(),
        );
        let checked = run(&[
            "check",
            s(dir.path()),
            "--config",
            s(&config),
            "--fail-on",
            "info",
        ]);
        assert_eq!(
            checked.code, 0,
            "{args:?}:\n{}\n{}",
            checked.stdout, checked.stderr
        );
    }
}

#[test]
fn generate_rejects_bad_input() {
    let out = run(&["generate", "--feature", "namespace_per_jobs"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("unknown feature `namespace_per_jobs`"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());
    let out = run(&["generate", "--namespace", "Not_A_Name"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let out = run(&["generate", "--list-features"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("namespace_per_job"));
}

// ---- explain-error -------------------------------------------------------------------------

const ATTACH: &str = r#"pods "runner-xyz" is forbidden: User "system:serviceaccount:ci:gitlab-runner" cannot create resource "pods/attach" in API group "" in the namespace "ci""#;

#[test]
fn explain_error_snapshots() {
    insta::assert_snapshot!(
        "explain_error_attach",
        transcript(&["explain-error", ATTACH])
    );
    let msg = r#"ERROR: Job failed (system failure): prepare environment: pods "runner-abc-project-1-concurrent-0" is forbidden: User "system:serviceaccount:gitlab-runner:gitlab-runner" cannot create resource "pods/attach" in API group "" in the namespace "gitlab-runner". Check https://docs.gitlab.com/runner/shells/index.html#shell-profile-loading for more information"#;
    insta::assert_snapshot!(
        "explain_error_with_manifests",
        transcript(&["explain-error", msg, "--", "examples/missing-permissions"])
    );
    insta::assert_snapshot!(
        "explain_error_unauthorized",
        transcript(&[
            "explain-error",
            "ERROR: Job failed (system failure): prepare environment: Unauthorized",
            "--manifests",
            "examples/static-token"
        ])
    );
}

#[test]
fn explain_error_reads_stdin_and_exits_1_on_nothing() {
    let out = run_with_stdin(
        &["explain-error", "--format", "json"],
        format!("Running with gitlab-runner 19.3.0\n{ATTACH}\n").as_bytes(),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(v["explanations"][0]["resource"], "pods/attach");
    let out = run(&["explain-error", "all good"]);
    assert_eq!(out.code, 1);
    assert!(out.stdout.contains("no Kubernetes API error found"));
    let out = run(&["explain-error", ATTACH, "--manifests", "does/not/exist"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
}

// ---- audit ---------------------------------------------------------------------------------

fn scenario_files(dir: &Path, jobs: usize, noise: usize) -> (PathBuf, PathBuf) {
    let log = write(dir, "audit.log", &auditlog::scenario(jobs, noise));
    let manifests = write(dir, "rbac.yaml", auditlog::MANIFESTS);
    (log, manifests)
}

/// Temp paths differ per run: show them as `$TMP` in snapshots.
fn audit_transcript(dir: &Path, args: &[&str]) -> String {
    transcript(args).replace(s(dir), "$TMP")
}

#[test]
fn audit_snapshot_and_exit_code() {
    let dir = tempdir();
    let (log, manifests) = scenario_files(dir.path(), 5, 2);
    insta::assert_snapshot!(
        "audit_text",
        audit_transcript(
            dir.path(),
            &["audit", s(&log), "--manifests", s(&manifests)]
        )
    );
}

#[test]
fn audit_gzip_stdin_and_engines_agree() {
    let dir = tempdir();
    let (log, manifests) = scenario_files(dir.path(), 20, 3);
    let plain = run(&[
        "audit",
        s(&log),
        "--manifests",
        s(&manifests),
        "--format",
        "json",
    ]);
    assert_eq!(plain.code, 1, "{}", plain.stderr);
    let v = json(&plain);
    // Gzipped (detected by content, whatever the name), two members as `cat a.gz b.gz` makes.
    let raw = std::fs::read(&log).expect("read");
    let mut gz = Vec::new();
    for _ in 0..2 {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&raw).expect("gzip");
        gz.extend(enc.finish().expect("gzip"));
    }
    let gz_path = dir.path().join("audit.log.1");
    std::fs::write(&gz_path, &gz).expect("write");
    let doubled = run(&[
        "audit",
        s(&gz_path),
        "--manifests",
        s(&manifests),
        "--format",
        "json",
    ]);
    assert_eq!(doubled.code, 1, "{}", doubled.stderr);
    let d = json(&doubled);
    assert_eq!(
        d["totals"]["lines"],
        2 * v["totals"]["lines"].as_u64().unwrap_or(0)
    );
    // stdin, small batches (many calls into one instance), and the native core: same report.
    let out = run_with_stdin(
        &[
            "audit",
            "-",
            "--manifests",
            s(&manifests),
            "--format",
            "json",
            "--batch-mb",
            "1",
        ],
        &raw,
    );
    let from_stdin: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(from_stdin, v);
    let native = run(&[
        "--engine",
        "native",
        "audit",
        s(&log),
        "--manifests",
        s(&manifests),
        "--format",
        "json",
    ]);
    assert_eq!(json(&native), v);
    // No progress on a non-terminal stderr unless asked.
    assert!(plain.stderr.is_empty(), "{}", plain.stderr);
    let with = run(&["audit", s(&log), "--manifests", s(&manifests), "--progress"]);
    assert!(with.stderr.contains("audit: "), "{}", with.stderr);
    assert!(with.stderr.contains("lines"), "{}", with.stderr);
}

#[test]
fn audit_tightened_role_round_trip_through_the_binary() {
    let dir = tempdir();
    let (log, manifests) = scenario_files(dir.path(), 5, 1);
    let out = run(&[
        "audit",
        s(&log),
        "--manifests",
        s(&manifests),
        "--format",
        "json",
    ]);
    let v = json(&out);
    let tightened = v["tightened"][0]["yaml"].as_str().expect("tightened role");
    let docs: Vec<String> = auditlog::MANIFESTS
        .split("---\n")
        .map(|d| {
            if d.starts_with("apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\n") {
                tightened.to_string()
            } else {
                d.to_string()
            }
        })
        .collect();
    let new = write(dir.path(), "tight.yaml", &docs.join("---\n"));
    // The tightened Role grants what was used; the only findings left are about feature flags
    // a job could turn on that the runner's config does not pin (a config matter, not a
    // grant the log showed).
    let checked = run(&["check", s(&new), "--fail-on", "info", "--format", "json"]);
    let report = json(&checked);
    for f in report["findings"].as_array().expect("findings") {
        let message = f["message"].as_str().unwrap_or("");
        assert!(
            f["code"] == "RG201" && message.contains("a job can turn on"),
            "{f}\n{tightened}"
        );
    }
    assert_eq!(
        run(&["check", s(&new), "--fail-on", "medium"]).code,
        0,
        "{tightened}"
    );
    // Everything used and granted before is still granted.
    let again = json(&run(&[
        "audit",
        s(&log),
        "--manifests",
        s(&new),
        "--format",
        "json",
    ]));
    for u in v["identities"][0]["used"].as_array().expect("used") {
        if u["granted"] == true {
            let still = again["identities"][0]["used"]
                .as_array()
                .expect("used")
                .iter()
                .any(|a| {
                    a["verb"] == u["verb"] && a["resource"] == u["resource"] && a["granted"] == true
                });
            assert!(still, "lost {u}");
        }
    }
}

#[test]
fn audit_session_gets_fresh_fuel_per_batch() {
    let dir = tempdir();
    let (log, manifests) = scenario_files(dir.path(), 400, 6);
    let size = std::fs::metadata(&log).expect("log").len();
    assert!(size > 4 * 1024 * 1024, "log of {size} bytes");
    // A budget that one 1 MiB batch fits in, but not the whole log.
    let ok = run(&[
        "--fuel",
        "400000000",
        "audit",
        s(&log),
        "--manifests",
        s(&manifests),
        "--batch-mb",
        "1",
        "--format",
        "json",
    ]);
    assert_eq!(ok.code, 1, "{}", ok.stderr);
    let fed = json(&ok)["totals"]["bytes"].as_u64().unwrap_or(0);
    assert_eq!(fed, size);
    // Too little for a batch: the session stops, exit 2, naming the limit.
    let starved = run(&[
        "--fuel",
        "3000000",
        "audit",
        s(&log),
        "--manifests",
        s(&manifests),
        "--batch-mb",
        "1",
    ]);
    assert_eq!(starved.code, 2);
    assert!(
        starved.stderr.contains("fuel exhausted"),
        "{}",
        starved.stderr
    );
}

#[test]
fn audit_usage_errors() {
    let out = run(&["audit", "no/such.log", "--identity", "ci/gitlab-runner"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("cannot read no/such.log"),
        "{}",
        out.stderr
    );
    let dir = tempdir();
    let (log, _) = scenario_files(dir.path(), 1, 0);
    // No identity and no manifests.
    let out = run(&["audit", s(&log)]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("no runner identity"), "{}", out.stderr);
}

#[test]
fn json_audit_shape_is_stable() {
    let dir = tempdir();
    let (log, manifests) = scenario_files(dir.path(), 2, 1);
    let out = run(&[
        "audit",
        s(&log),
        "--manifests",
        s(&manifests),
        "--format",
        "json",
    ]);
    let v = json(&out);
    for key in [
        "schema",
        "verdict",
        "totals",
        "identities",
        "unexpected_identities",
        "tightened",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(v["schema"], "rbac-gate/audit/v1");
}
