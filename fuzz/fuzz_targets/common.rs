//! Shared by the fuzz targets: the invariants every report must keep.

use rbac_gate_core::{check, Options, Report, Source};

pub fn options(config: Option<&str>) -> Options {
    Options {
        config: config.map(|text| Source::new(".rbac-gate.yaml", text)),
        today: Some("2026-11-26".into()),
        ..Options::default()
    }
}

/// Runs `check`, and checks what must hold whatever the input: the report serialises, it is
/// deterministic, errors mean `error` (exit 2) and a failing finding is never a pass, every
/// position is 1-based and inside a known file.
pub fn check_invariants(sources: &[Source], options: &Options) -> Report {
    let report = check(sources, options);
    let json = serde_json::to_string(&report).expect("the report serialises");
    let again = serde_json::to_string(&check(sources, options)).expect("serialises");
    assert_eq!(json, again, "two runs on the same input differ");
    let failing = report.findings.iter().any(|f| f.fails(report.fail_on));
    match report.verdict.as_str() {
        "error" => assert!(!report.errors.is_empty(), "verdict error without errors"),
        "fail" => assert!(
            report.errors.is_empty() && failing,
            "fail: {:?}",
            report.errors
        ),
        "pass" => assert!(report.errors.is_empty() && !failing, "a failure passed"),
        other => panic!("unknown verdict {other}"),
    }
    assert_eq!(report.counts.errors, report.errors.len());
    assert_eq!(report.counts.findings, report.findings.len());
    for s in sources {
        if s.read_error.is_some() {
            assert!(
                report.errors.iter().any(|e| e.path == s.path),
                "unreadable {} not reported",
                s.path
            );
        }
    }
    for f in &report.findings {
        assert!(
            f.line >= 1 && f.column >= 1 && f.end_line >= f.line,
            "{f:?}"
        );
    }
    rendered_formats_hold(&report, sources);
    report
}

/// Every machine format renders whatever the report holds: the JSON ones parse, and JUnit is
/// one document (its text is escaped, so no input closes it early).
fn rendered_formats_hold(report: &Report, sources: &[Source]) {
    use rbac_gate_core::render::{render, Context, Format};
    let ctx = Context {
        report,
        sources,
        rules: &[],
    };
    for format in [Format::Json, Format::CodeQuality, Format::Sarif] {
        let text = render(format, &ctx);
        assert!(
            serde_json::from_str::<serde_json::Value>(&text).is_ok(),
            "{format:?} output is not JSON: {text}"
        );
    }
    let junit = render(Format::Junit, &ctx);
    assert!(junit.starts_with("<?xml") && junit.ends_with("</testsuites>\n"), "{junit}");
    assert_eq!(junit.matches("<testsuites").count(), 1, "{junit}");
    assert_eq!(junit.matches("</testsuites>").count(), 1, "{junit}");
}
