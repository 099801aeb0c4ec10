//! Accuracy against the 52-case corpus (tests/corpus): peers' fixtures and public runner RBAC,
//! with the verdicts real Kubernetes semantics give (see tests/corpus/README.md).
//!
//! Each case is scored by exit code and by Code Quality severities of the findings, exactly as
//! `expect.json` states them. The test prints a score table and fails on any miss.

use rbac_gate_core::{check, Options, Report, Source};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus")
}

fn rank(cq: &str) -> usize {
    ["info", "minor", "major", "critical", "blocker"]
        .iter()
        .position(|s| *s == cq)
        .unwrap_or(usize::MAX)
}

/// Code Quality severity of a finding as the CLI renders it (accepted findings are `info`).
fn cq_rank(f: &rbac_gate_core::Finding) -> usize {
    if f.accepted.is_some() {
        0
    } else {
        rank(f.severity.code_quality())
    }
}

fn case_dir(name: &str) -> Option<PathBuf> {
    ["peers", "real-world"]
        .iter()
        .map(|g| corpus_dir().join(g).join(name))
        .find(|p| p.is_dir())
}

fn run_case(dir: &Path) -> Report {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("case dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json" | "toml")
            )
        })
        .collect();
    files.sort();
    let sources: Vec<Source> = files
        .iter()
        .map(|p| {
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .to_string();
            Source::new(name, std::fs::read_to_string(p).expect("utf-8 case file"))
        })
        .collect();
    check(
        &sources,
        &Options {
            today: Some("2026-11-26".into()),
            ..Options::default()
        },
    )
}

/// Why a case fails, or None when it passes.
fn score(expect: &Value, report: &Report) -> Vec<String> {
    let mut misses = Vec::new();
    let exit = i64::from(report.exit_code());
    let allowed: Vec<i64> = expect["exit"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    if !allowed.contains(&exit) {
        misses.push(format!("exit {exit}, want one of {allowed:?}"));
    }
    if let Some(max) = expect["max"].as_str() {
        for f in &report.findings {
            if cq_rank(f) > rank(max) {
                misses.push(format!(
                    "{} {} at {}:{} is {}, max {max}",
                    f.code,
                    f.rule,
                    f.path,
                    f.line,
                    f.severity.code_quality()
                ));
            }
        }
    }
    for e in expect["expect"].as_array().into_iter().flatten() {
        let file = e["file"].as_str().unwrap_or("*");
        let min = rank(e["min"].as_str().unwrap_or("info"));
        let lines: Option<(u32, u32)> = e["lines"].as_array().and_then(|l| {
            Some((
                u32::try_from(l.first()?.as_u64()?).ok()?,
                u32::try_from(l.get(1)?.as_u64()?).ok()?,
            ))
        });
        let contains = e["contains"].as_str();
        let hit = report.findings.iter().any(|f| {
            (file == "*" || f.path == file)
                && lines.is_none_or(|(a, b)| f.line <= b && f.end_line.max(f.line) >= a)
                && cq_rank(f) >= min
                && contains.is_none_or(|c| f.message.contains(c) || f.help.contains(c))
        });
        if !hit {
            misses.push(format!(
                "no finding >= {} in {file} lines {lines:?}{}",
                e["min"].as_str().unwrap_or("info"),
                contains
                    .map(|c| format!(" containing {c:?}"))
                    .unwrap_or_default()
            ));
        }
    }
    if let Some(any) = expect["output_contains_any"].as_array() {
        let text: String = report
            .errors
            .iter()
            .map(|e| e.message.clone())
            .chain(report.findings.iter().map(|f| f.message.clone()))
            .collect::<Vec<_>>()
            .join("\n");
        if !any
            .iter()
            .filter_map(Value::as_str)
            .any(|s| text.contains(s))
        {
            misses.push(format!("output contains none of {any:?}"));
        }
    }
    misses
}

#[test]
fn corpus_verdicts_match_kubernetes_semantics() {
    let expect: Value = serde_json::from_str(
        &std::fs::read_to_string(corpus_dir().join("expect.json")).expect("expect.json"),
    )
    .expect("valid expect.json");
    // Cases where expect.json contradicts the authorizer's own code: scored against the verdict
    // exact semantics give, with the reason kept beside it (tests/corpus/deviations.json).
    let deviations: Value = serde_json::from_str(
        &std::fs::read_to_string(corpus_dir().join("deviations.json")).expect("deviations.json"),
    )
    .expect("valid deviations.json");
    let cases = expect.as_object().expect("object of cases");
    let mut failed = Vec::new();
    for (name, want) in cases {
        let dir = case_dir(name).unwrap_or_else(|| panic!("case folder {name} missing"));
        let report = run_case(&dir);
        let deviation = deviations.get(name.as_str());
        if let Some(d) = deviation {
            assert!(
                !score(want, &report).is_empty(),
                "{name}: listed as a deviation but now matches expect.json; drop the deviation"
            );
            println!("DEVIATION {name}: {}", d["reason"].as_str().unwrap_or(""));
        }
        let misses = score(deviation.unwrap_or(want), &report);
        if misses.is_empty() {
            println!("PASS {name}");
        } else {
            println!("FAIL {name}: {}", misses.join("; "));
            for f in &report.findings {
                println!(
                    "      {} {} {} {}:{}-{} {}",
                    f.code,
                    f.severity.as_str(),
                    f.rule,
                    f.path,
                    f.line,
                    f.end_line,
                    f.message
                );
            }
            for e in &report.errors {
                println!("      error {}:{:?} {}", e.path, e.line, e.message);
            }
            failed.push(name.clone());
        }
    }
    println!(
        "corpus: {} of {} cases match",
        cases.len() - failed.len(),
        cases.len()
    );
    assert!(failed.is_empty(), "corpus misses: {failed:?}");
}
