//! Every folder of `examples/` must give the outcome its README states: the exit code, the
//! rule codes present (at a minimum severity) and, for `justified/`, accepted findings.
//! The files are read here (tests may touch the filesystem; the core never does).

use rbac_gate_core::{check, Options, Report, Severity, Source};
use std::path::{Path, PathBuf};

/// Today's date for expiry checks, fixed so that the outcome does not drift.
const TODAY: &str = "2026-11-26";

struct Expected {
    folder: &'static str,
    exit: i32,
    /// Codes that must be reported (not accepted), each at least at the given severity.
    present: &'static [(&'static str, Severity)],
    /// Codes that must be reported and accepted by a justification.
    accepted: &'static [&'static str],
}

const EXAMPLES: &[Expected] = &[
    Expected {
        folder: "safe-baseline",
        exit: 0,
        present: &[],
        accepted: &[],
    },
    Expected {
        folder: "helm-default-wildcard",
        exit: 1,
        present: &[("RG102", Severity::High)],
        accepted: &[],
    },
    Expected {
        folder: "cluster-admin",
        exit: 1,
        present: &[("RG101", Severity::Critical)],
        accepted: &[],
    },
    Expected {
        folder: "missing-permissions",
        exit: 1,
        present: &[("RG201", Severity::High)],
        accepted: &[],
    },
    Expected {
        folder: "static-token",
        exit: 1,
        present: &[("RG403", Severity::High), ("RG401", Severity::High)],
        accepted: &[],
    },
    Expected {
        folder: "escalation-path",
        exit: 1,
        present: &[("RG601", Severity::Critical), ("RG101", Severity::Critical)],
        accepted: &[],
    },
    // CI pipelines using the component: no Kubernetes objects, nothing to report.
    Expected {
        folder: "pipelines",
        exit: 0,
        present: &[],
        accepted: &[],
    },
    Expected {
        folder: "justified",
        exit: 0,
        present: &[],
        accepted: &["RG203"],
    },
];

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// Every file of the folder except its README, as `examples/<folder>/<file>`, sorted.
fn sources(folder: &str) -> Vec<Source> {
    let dir = examples_dir().join(folder);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "{folder} has no input files");
    paths
        .iter()
        .map(|p| {
            let name = p.file_name().expect("file name").to_string_lossy();
            let text =
                std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            Source::new(format!("examples/{folder}/{name}"), text)
        })
        .collect()
}

fn run(folder: &str) -> Report {
    check(
        &sources(folder),
        &Options {
            today: Some(TODAY.to_string()),
            ..Options::default()
        },
    )
}

fn summary(report: &Report) -> String {
    let mut s = format!("exit {}; errors {:?}\n", report.exit_code(), report.errors);
    for f in &report.findings {
        s.push_str(&format!(
            "  {} {} {}:{}{} {}\n",
            f.code,
            f.severity.as_str(),
            f.path,
            f.line,
            if f.accepted.is_some() {
                " (accepted)"
            } else {
                ""
            },
            f.message
        ));
    }
    s
}

fn check_example(folder: &str) {
    let expected = EXAMPLES
        .iter()
        .find(|e| e.folder == folder)
        .unwrap_or_else(|| panic!("no expectation for {folder}"));
    assert!(
        examples_dir().join(folder).join("README.md").is_file(),
        "{folder} needs a README.md stating the expected outcome"
    );
    let report = run(folder);
    let shown = summary(&report);
    let mut problems = Vec::new();
    if report.exit_code() != expected.exit {
        problems.push(format!(
            "exit {} (want {})",
            report.exit_code(),
            expected.exit
        ));
    }
    for (code, min) in expected.present {
        let hit = report
            .findings
            .iter()
            .any(|f| f.code == *code && f.accepted.is_none() && f.severity >= *min);
        if !hit {
            problems.push(format!("no unaccepted {code} at {} or above", min.as_str()));
        }
    }
    for code in expected.accepted {
        if !report
            .findings
            .iter()
            .any(|f| f.code == *code && f.accepted.is_some())
        {
            problems.push(format!("no accepted {code}"));
        }
    }
    if expected.exit == 0 {
        let failing: Vec<&str> = report
            .findings
            .iter()
            .filter(|f| f.fails(report.fail_on))
            .map(|f| &*f.code)
            .collect();
        if !failing.is_empty() {
            problems.push(format!("failing findings {failing:?}"));
        }
    }
    assert!(
        problems.is_empty(),
        "{folder}: {}\n{shown}",
        problems.join("; ")
    );
}

#[test]
fn every_example_folder_has_an_expectation() {
    let mut folders: Vec<String> = std::fs::read_dir(examples_dir())
        .expect("examples/")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir())
        .map(|p| p.file_name().expect("name").to_string_lossy().to_string())
        .collect();
    folders.sort();
    let mut known: Vec<String> = EXAMPLES.iter().map(|e| e.folder.to_string()).collect();
    known.sort();
    assert_eq!(folders, known);
}

#[test]
fn examples_never_print_the_placeholder_token() {
    for e in EXAMPLES {
        let report = run(e.folder);
        for f in &report.findings {
            assert!(
                !f.message.contains("REDACTED-EXAMPLE-TOKEN")
                    && !f.help.contains("REDACTED-EXAMPLE-TOKEN"),
                "{}: {} prints the token: {}",
                e.folder,
                f.code,
                f.message
            );
        }
    }
}

#[test]
fn safe_baseline() {
    check_example("safe-baseline");
}

#[test]
fn helm_default_wildcard() {
    check_example("helm-default-wildcard");
}

#[test]
fn cluster_admin() {
    check_example("cluster-admin");
}

#[test]
fn missing_permissions() {
    check_example("missing-permissions");
}

#[test]
fn static_token() {
    check_example("static-token");
}

#[test]
fn escalation_path() {
    check_example("escalation-path");
}

#[test]
fn pipelines() {
    check_example("pipelines");
}

#[test]
fn justified() {
    check_example("justified");
}
