//! JUnit XML, as GitLab's test report widget reads it: one `<testsuite>` per file, one
//! `<testcase>` per finding (with `<failure>` when it fails the gate, `<skipped>` when it is
//! accepted), a passing test case for a clean file, and an `<error>` test case per file error.

use super::{acceptance_text, check_name, override_text, Context};
use crate::report::{AppliedConfig, FileError, Finding};
use std::collections::BTreeMap;
use std::fmt::Write as _;

#[derive(Default)]
struct Suite<'a> {
    findings: Vec<&'a Finding>,
    errors: Vec<&'a FileError>,
}

/// A suite's counts, which its opening tag carries before its test cases.
#[derive(Default)]
struct Counts {
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
}

impl Counts {
    fn of(suite: &Suite<'_>, fail_on: crate::report::Severity) -> Counts {
        let skipped = suite
            .findings
            .iter()
            .filter(|f| f.accepted.is_some())
            .count();
        let failures = suite
            .findings
            .iter()
            .filter(|f| f.accepted.is_none() && f.fails(fail_on))
            .count();
        let cases = suite.findings.len() + suite.errors.len();
        Counts {
            // A clean file is one passing test case.
            tests: cases.max(1),
            failures,
            errors: suite.errors.len(),
            skipped,
        }
    }
}

/// Writes the document test case by test case: the counts come first (the opening tags carry
/// them), then each case straight to `out`. Built as one string, and copied into its suite and
/// then its document, the 116 MB of a 100,000-finding report was held three times.
pub fn write(ctx: &Context<'_>, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let report = ctx.report;
    let mut suites: BTreeMap<&str, Suite<'_>> = BTreeMap::new();
    for source in ctx.sources {
        suites.entry(source.path.as_str()).or_default();
    }
    for f in &report.findings {
        suites.entry(f.path.as_str()).or_default().findings.push(f);
    }
    for e in &report.errors {
        suites.entry(e.path.as_str()).or_default().errors.push(e);
    }
    let counts: Vec<Counts> = suites
        .values()
        .map(|suite| Counts::of(suite, report.fail_on))
        .collect();
    let mut total = counts.iter().fold(Counts::default(), |sum, c| Counts {
        tests: sum.tests + c.tests,
        failures: sum.failures + c.failures,
        errors: sum.errors + c.errors,
        skipped: sum.skipped + c.skipped,
    });
    if suites.is_empty() {
        // No input: still a valid document with one passing case, so the widget shows a run.
        total.tests = 1;
    }
    write!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"rbac-gate\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">\n",
        total.tests, total.failures, total.errors, total.skipped
    )?;
    let mut case = String::new();
    let properties = properties(&report.config);
    for ((path, suite), c) in suites.iter().zip(&counts) {
        writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
            attr(path),
            c.tests,
            c.failures,
            c.errors,
            c.skipped
        )?;
        out.write_all(properties.as_bytes())?;
        for f in &suite.findings {
            case.clear();
            finding_case(&mut case, path, f, report.fail_on);
            out.write_all(case.as_bytes())?;
        }
        for e in &suite.errors {
            case.clear();
            error_case(&mut case, path, e);
            out.write_all(case.as_bytes())?;
        }
        if suite.findings.is_empty() && suite.errors.is_empty() {
            writeln!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\"/>",
                attr(&format!("rbac-gate.{path}")),
                attr(&format!("{path}: no findings")),
                attr(path)
            )?;
        }
        out.write_all(b"  </testsuite>\n")?;
    }
    if suites.is_empty() {
        out.write_all(
            b"  <testsuite name=\"rbac-gate\" tests=\"1\" failures=\"0\" errors=\"0\" skipped=\"0\">\n",
        )?;
        out.write_all(properties.as_bytes())?;
        out.write_all(
            b"    <testcase classname=\"rbac-gate\" name=\"no input files\"/>\n  </testsuite>\n",
        )?;
    }
    out.write_all(b"</testsuites>\n")
}

/// The policy the run used, as `<properties>` of each suite: a disabled rule, an override or an
/// exception is visible in the test report too.
fn properties(config: &AppliedConfig) -> String {
    let mut entries: Vec<(&str, String)> = vec![
        (
            "rbac-gate.config",
            config
                .path
                .clone()
                .unwrap_or_else(|| "built-in defaults".to_string()),
        ),
        ("rbac-gate.fail-on", config.fail_on.as_str().to_string()),
    ];
    if let Some(revision) = &config.revision {
        entries.push(("rbac-gate.config-revision", revision.clone()));
    }
    if !config.disabled.is_empty() {
        entries.push(("rbac-gate.disabled", config.disabled.join(",")));
    }
    for o in &config.severity_overrides {
        entries.push((
            "rbac-gate.severity-override",
            format!("{}: {} -> {}", o.rule, o.from.as_str(), o.to.as_str()),
        ));
    }
    for e in &config.exceptions {
        let scope = [e.object.as_deref(), e.identity.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        entries.push((
            "rbac-gate.exception",
            format!("{} {}: {}", e.rule, scope, e.reason),
        ));
    }
    let j = &config.justifications;
    entries.push((
        "rbac-gate.justifications",
        if j.allowed {
            format!(
                "up to {}, expiry {}, max {} days",
                j.max_severity.as_str(),
                if j.require_expiry {
                    "required"
                } else {
                    "optional"
                },
                j.max_days
            )
        } else {
            "not accepted".to_string()
        },
    ));
    let mut s = String::from("    <properties>\n");
    for (name, value) in entries {
        let _ = writeln!(
            s,
            "      <property name=\"{}\" value=\"{}\"/>",
            attr(name),
            attr(&value)
        );
    }
    s.push_str("    </properties>\n");
    s
}

fn finding_case(out: &mut String, path: &str, f: &Finding, fail_on: crate::report::Severity) {
    let name = format!(
        "{} {}:{}{}",
        check_name(&f.code, &f.rule),
        f.line,
        f.column,
        f.object
            .as_deref()
            .map(|o| format!(" {o}"))
            .unwrap_or_default()
    );
    let _ = write!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\" line=\"{}\"",
        attr(&format!("rbac-gate.{path}")),
        attr(&name),
        attr(path),
        f.line
    );
    let details = details(f);
    if let Some(acceptance) = &f.accepted {
        let _ = write!(
            out,
            ">\n      <skipped message=\"{}\"/>\n      <system-out>{}</system-out>\n    </testcase>\n",
            attr(&acceptance_text(f.severity, acceptance)),
            text(&details)
        );
    } else if f.fails(fail_on) {
        let _ = write!(
            out,
            ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
            attr(&format!("{}: {}", f.severity.as_str(), f.message)),
            attr(f.severity.as_str()),
            text(&details)
        );
    } else {
        let _ = write!(
            out,
            ">\n      <system-out>{}</system-out>\n    </testcase>\n",
            text(&details)
        );
    }
}

fn error_case(out: &mut String, path: &str, e: &FileError) {
    let location = match e.line {
        Some(line) => format!("{path}:{line}:{}", e.column.unwrap_or(0)),
        None => path.to_string(),
    };
    let _ = write!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\">\n      <error message=\"{}\" type=\"error\">{}</error>\n    </testcase>\n",
        attr(&format!("rbac-gate.{path}")),
        attr(&format!("rbac-gate/error {location}")),
        attr(path),
        attr(&e.message),
        text(&format!("{location}: {}", e.message))
    );
}

fn details(f: &Finding) -> String {
    let mut s = format!(
        "{}[{}]: {}\n  --> {}:{}:{}\n",
        f.severity.as_str(),
        check_name(&f.code, &f.rule),
        f.message,
        f.path,
        f.line,
        f.column
    );
    if let Some(object) = &f.object {
        s.push_str(&format!("  = object: {object}\n"));
    }
    if let Some(identity) = &f.identity {
        s.push_str(&format!("  = identity: {identity}\n"));
    }
    for (i, step) in f.steps.iter().enumerate() {
        s.push_str(&format!("  = step {}: {step}\n", i + 1));
    }
    if !f.help.is_empty() {
        s.push_str(&format!("  = help: {}\n", f.help));
    }
    if let Some(acceptance) = &f.accepted {
        s.push_str(&format!(
            "  = {}\n",
            acceptance_text(f.severity, acceptance)
        ));
    }
    if let Some(changed) = override_text(f) {
        s.push_str(&format!("  = {changed}\n"));
    }
    s
}

/// Escapes text content. Characters XML 1.0 cannot carry at all are replaced by U+FFFD.
fn text(s: &str) -> String {
    escape(s, false)
}

/// Escapes an attribute value (quotes and line breaks too).
fn attr(s: &str) -> String {
    escape(s, true)
}

fn escape(s: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\'' if attribute => out.push_str("&apos;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(attr("a<b>&\"c'\n"), "a&lt;b&gt;&amp;&quot;c&apos;&#10;");
        assert_eq!(text("x\u{1b}y\n<"), "x\u{FFFD}y\n&lt;");
    }
}
