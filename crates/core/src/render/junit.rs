//! JUnit XML, as GitLab's test report widget reads it: one `<testsuite>` per file, one
//! `<testcase>` per finding (with `<failure>` when it fails the gate, `<skipped>` when it is
//! accepted), a passing test case for a clean file, and an `<error>` test case per file error.

use super::{acceptance_text, check_name, Context};
use crate::report::{FileError, Finding};
use std::collections::BTreeMap;
use std::fmt::Write as _;

#[derive(Default)]
struct Suite<'a> {
    findings: Vec<&'a Finding>,
    errors: Vec<&'a FileError>,
}

pub fn render(ctx: &Context<'_>) -> String {
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

    let mut body = String::new();
    let (mut total, mut total_failures, mut total_errors, mut total_skipped) = (0, 0, 0, 0);
    for (path, suite) in &suites {
        let mut cases = String::new();
        let (mut tests, mut failures, mut errors, mut skipped) = (0, 0, 0, 0);
        for f in &suite.findings {
            tests += 1;
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
                cases,
                "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\" line=\"{}\"",
                attr(&format!("rbac-gate.{path}")),
                attr(&name),
                attr(path),
                f.line
            );
            let details = details(f);
            if let Some(acceptance) = &f.accepted {
                skipped += 1;
                let _ = write!(
                    cases,
                    ">\n      <skipped message=\"{}\"/>\n      <system-out>{}</system-out>\n    </testcase>\n",
                    attr(&acceptance_text(acceptance)),
                    text(&details)
                );
            } else if f.fails(report.fail_on) {
                failures += 1;
                let _ = write!(
                    cases,
                    ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
                    attr(&format!("{}: {}", f.severity.as_str(), f.message)),
                    attr(f.severity.as_str()),
                    text(&details)
                );
            } else {
                let _ = write!(
                    cases,
                    ">\n      <system-out>{}</system-out>\n    </testcase>\n",
                    text(&details)
                );
            }
        }
        for e in &suite.errors {
            tests += 1;
            errors += 1;
            let location = match e.line {
                Some(line) => format!("{path}:{line}:{}", e.column.unwrap_or(0)),
                None => path.to_string(),
            };
            let _ = write!(
                cases,
                "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\">\n      <error message=\"{}\" type=\"error\">{}</error>\n    </testcase>\n",
                attr(&format!("rbac-gate.{path}")),
                attr(&format!("rbac-gate/error {location}")),
                attr(path),
                attr(&e.message),
                text(&format!("{location}: {}", e.message))
            );
        }
        if tests == 0 {
            tests = 1;
            let _ = writeln!(
                cases,
                "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\"/>",
                attr(&format!("rbac-gate.{path}")),
                attr(&format!("{path}: no findings")),
                attr(path)
            );
        }
        let _ = write!(
            body,
            "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\">\n{cases}  </testsuite>\n",
            attr(path)
        );
        total += tests;
        total_failures += failures;
        total_errors += errors;
        total_skipped += skipped;
    }
    if suites.is_empty() {
        // No input: still a valid document with one passing case, so the widget shows a run.
        total = 1;
        body.push_str(
            "  <testsuite name=\"rbac-gate\" tests=\"1\" failures=\"0\" errors=\"0\" skipped=\"0\">\n    <testcase classname=\"rbac-gate\" name=\"no input files\"/>\n  </testsuite>\n",
        );
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"rbac-gate\" tests=\"{total}\" failures=\"{total_failures}\" errors=\"{total_errors}\" skipped=\"{total_skipped}\">\n{body}</testsuites>\n"
    )
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
        s.push_str(&format!("  = {}\n", acceptance_text(acceptance)));
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
