//! rustc-style text report.

use super::{acceptance_text, check_name, override_text, Context};
use crate::redact::{redact_lines, RedactedLines};
use rbac_gate_core::report::{FileError, Finding, Report, Severity};
use std::collections::HashMap;
use std::fmt::Write as _;

struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn severity(&self, severity: Severity, text: &str) -> String {
        let code = match severity {
            Severity::Critical => "1;35",
            Severity::High => "1;31",
            Severity::Medium => "1;33",
            Severity::Low => "1;36",
            Severity::Info => "1;34",
        };
        self.paint(code, text)
    }

    fn gutter(&self, text: &str) -> String {
        self.paint("1;34", text)
    }

    fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }
}

/// Writes the report finding by finding: the text of 100,000 findings is about 90 MB, which
/// was held whole (on top of the report) before it was written.
pub fn write(ctx: &Context<'_>, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let report = ctx.report;
    let style = Style { color: ctx.color };
    if ctx.quiet {
        if report.verdict != "pass" {
            writeln!(out, "{}", summary(report, &style))?;
        }
        return Ok(());
    }
    let mut snippets = Snippets {
        texts: ctx
            .sources
            .iter()
            .filter(|s| s.read_error.is_none())
            .map(|s| (s.path.as_str(), s.text.as_str()))
            .collect(),
        redacted: HashMap::new(),
    };
    // One finding's text at a time.
    let mut block = String::new();
    for finding in &report.findings {
        block.clear();
        render_finding(&mut block, finding, &mut snippets, &style);
        out.write_all(block.as_bytes())?;
    }
    for error in &report.errors {
        block.clear();
        render_error(&mut block, error, &mut snippets, &style);
        out.write_all(block.as_bytes())?;
    }
    if report.counts.skipped > 0 && !report.skipped_kinds.is_empty() {
        let kinds: Vec<String> = report
            .skipped_kinds
            .iter()
            .map(|(kind, n)| format!("{n} {}", clean(kind)))
            .collect();
        writeln!(
            out,
            "{}: {} object(s) of kinds the gate does not judge: {}",
            style.bold("note"),
            report.counts.skipped,
            kinds.join(", ")
        )?;
    }
    // The policy that ran, whenever a config file was read: a disabled rule, an override or
    // an exception is never silent.
    if report.config.path.is_some() || report.config.revision.is_some() {
        for line in report.config.describe() {
            writeln!(out, "{}: {}", style.bold("policy"), clean(&line))?;
        }
    }
    writeln!(out, "{}", summary(report, &style))
}

struct Snippets<'a> {
    texts: HashMap<&'a str, &'a str>,
    redacted: HashMap<String, RedactedLines>,
}

impl Snippets<'_> {
    /// Line `line` (1-based) of `path`, redacted, if the host has the text.
    fn line(&mut self, path: &str, line: u32) -> Option<String> {
        let index = usize::try_from(line).ok()?.checked_sub(1)?;
        if !self.redacted.contains_key(path) {
            let text = self.texts.get(path)?;
            self.redacted.insert(path.to_string(), redact_lines(text));
        }
        self.redacted.get(path)?.get(index).map(str::to_string)
    }
}

fn render_finding(out: &mut String, f: &Finding, snippets: &mut Snippets<'_>, style: &Style) {
    let width = digits(f.line);
    let pad = " ".repeat(width);
    let label = format!("{}[{}]", f.severity.as_str(), check_name(&f.code, &f.rule));
    let accepted = if f.accepted.is_some() {
        format!("{} ", style.paint("1;32", "accepted"))
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "{accepted}{}: {}",
        style.severity(f.severity, &clean(&label)),
        style.bold(&indent_continuation(&clean(&f.message), pad.len() + 3))
    );
    let _ = writeln!(
        out,
        "{pad}{} {}:{}:{}",
        style.gutter("-->"),
        clean(&f.path),
        f.line,
        f.column
    );
    snippet(out, &pad, &f.path, f.line, f.column, snippets, style);
    let note = |out: &mut String, label: &str, text: &str| {
        let head = format!("{pad} = {label}: ");
        let _ = writeln!(
            out,
            "{pad} {} {label}: {}",
            style.gutter("="),
            indent_continuation(&clean(text), head.len())
        );
    };
    if let Some(object) = &f.object {
        note(out, "object", object);
    }
    if let Some(identity) = &f.identity {
        note(out, "identity", identity);
    }
    if !f.steps.is_empty() {
        let _ = writeln!(out, "{pad} {} escalation:", style.gutter("="));
        for (i, step) in f.steps.iter().enumerate() {
            let _ = writeln!(
                out,
                "{pad}     {}. {}",
                i + 1,
                indent_continuation(&clean(step), pad.len() + 8)
            );
        }
    }
    if !f.help.is_empty() {
        note(out, "help", &f.help);
    }
    if let Some(acceptance) = &f.accepted {
        let _ = writeln!(
            out,
            "{pad} {} {}",
            style.gutter("="),
            indent_continuation(
                &clean(&acceptance_text(f.severity, acceptance)),
                pad.len() + 3
            )
        );
    }
    if let Some(changed) = override_text(f) {
        note(out, "note", &changed);
    }
    out.push('\n');
}

fn render_error(out: &mut String, e: &FileError, snippets: &mut Snippets<'_>, style: &Style) {
    let location = match (e.line, e.column) {
        (Some(line), Some(col)) => format!("{}:{line}:{col}", e.path),
        (Some(line), None) => format!("{}:{line}", e.path),
        _ => e.path.clone(),
    };
    let _ = writeln!(
        out,
        "{}: {}: {}",
        style.paint("1;31", "error"),
        clean(&location),
        style.bold(&indent_continuation(&clean(&e.message), 7))
    );
    if let Some(line) = e.line.filter(|l| *l > 0) {
        let pad = " ".repeat(digits(line));
        let mut block = String::new();
        if snippet(
            &mut block,
            &pad,
            &e.path,
            line,
            e.column.unwrap_or(0),
            snippets,
            style,
        ) {
            out.push_str(&block);
        }
    }
    out.push('\n');
}

/// Writes the ` |`, numbered line and caret lines; returns whether there was a line to show.
fn snippet(
    out: &mut String,
    pad: &str,
    path: &str,
    line: u32,
    column: u32,
    snippets: &mut Snippets<'_>,
    style: &Style,
) -> bool {
    let Some(text) = snippets.line(path, line) else {
        return false;
    };
    let text = clean(&text);
    let bar = style.gutter("|");
    let _ = writeln!(out, "{pad} {bar}");
    let _ = writeln!(out, "{} {bar} {}", style.gutter(&line.to_string()), text);
    if column > 0 {
        let before: String = text
            .chars()
            .take(column as usize - 1)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let _ = writeln!(out, "{pad} {bar} {before}{}", style.paint("1;31", "^"));
    }
    true
}

fn summary(report: &Report, style: &Style) -> String {
    let active: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.accepted.is_none())
        .collect();
    let accepted = report.findings.len() - active.len();
    let mut parts = Vec::new();
    for severity in Severity::ALL.iter().rev() {
        let n = active.iter().filter(|f| f.severity == *severity).count();
        if n > 0 {
            parts.push(format!("{n} {}", severity.as_str()));
        }
    }
    let findings = plural(active.len(), "finding");
    let findings = if parts.is_empty() {
        findings
    } else {
        format!("{findings} ({})", parts.join(", "))
    };
    let exit = report.exit_code();
    let verdict = match exit {
        0 => style.paint("1;32", "PASS"),
        1 => style.paint("1;31", "FAIL"),
        _ => style.paint("1;31", "ERROR"),
    };
    // Objects identical to Kubernetes' bootstrap policy exist in every cluster: counted, so a
    // dump of a whole cluster says why they raised nothing.
    let defaults = match report.counts.defaults {
        0 => String::new(),
        n => format!(", {n} Kubernetes defaults"),
    };
    format!(
        "rbac-gate: {findings}, {accepted} accepted, {}{defaults}; fail-on {}: {verdict} (exit {exit})",
        plural(report.errors.len(), "error"),
        report.fail_on.as_str(),
    )
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn digits(n: u32) -> usize {
    n.max(1).to_string().len()
}

/// Indents every line after the first by `width` spaces, so multi-line help (e.g. a YAML
/// fix) stays inside its note.
fn indent_continuation(text: &str, width: usize) -> String {
    if !text.contains('\n') {
        return text.to_string();
    }
    let pad = " ".repeat(width);
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            if i == 0 || line.is_empty() {
                line.to_string()
            } else {
                format!("{pad}{line}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Neutralises terminal control characters that could come from input files (object names,
/// snippets): an escape sequence in a manifest must not drive the reader's terminal. Line
/// breaks are kept (callers indent them); carriage returns are not.
pub fn clean(text: &str) -> String {
    let bad = |c: char| c.is_control() && c != '\t' && c != '\n';
    if !text.chars().any(bad) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if bad(c) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Context;
    use rbac_gate_core::report::{Category, Counts, PolicyInfo, REPORT_SCHEMA};
    use rbac_gate_core::Source;

    fn report() -> Report {
        Report {
            schema: REPORT_SCHEMA.into(),
            policy: PolicyInfo {
                version: "0".into(),
                sha256: None,
            },
            config: Default::default(),
            fail_on: Severity::High,
            verdict: "fail".into(),
            findings: vec![Finding {
                code: "RG1".into(),
                rule: "r".into(),
                severity: Severity::High,
                category: Category::Unsafe,
                message: "bad \u{1b}[2J thing".into(),
                help: "line one\nline two".into(),
                path: "a.yaml".into(),
                line: 2,
                column: 3,
                end_line: 2,
                object: None,
                identity: None,
                steps: vec![],
                fingerprint: "f".into(),
                accepted: None,
                overridden_from: None,
            }],
            identities: vec![],
            errors: vec![],
            skipped_kinds: Default::default(),
            counts: Counts::default(),
        }
    }

    fn text(color: bool) -> String {
        let report = report();
        let sources = [Source::new("a.yaml", "x: 1\ntoken: abc\n")];
        let mut out = Vec::new();
        write(
            &Context {
                report: &report,
                sources: &sources,
                rules: &[],
                color,
                quiet: false,
            },
            &mut out,
        )
        .expect("a Vec takes everything");
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn colour_only_when_asked_and_input_escapes_neutralised() {
        let plain = text(false);
        assert!(!plain.contains('\u{1b}'), "{plain}");
        assert!(plain.contains("bad \\u{1b}[2J thing"), "{plain}");
        assert!(text(true).contains("\u{1b}[1;31m"));
    }

    #[test]
    fn layout() {
        let plain = text(false);
        let expected = "\
high[RG1/r]: bad \\u{1b}[2J thing
 --> a.yaml:2:3
  |
2 | token: [REDACTED]
  |   ^
  = help: line one
          line two

rbac-gate: 1 finding (1 high), 0 accepted, 0 errors; fail-on high: FAIL (exit 1)
";
        assert_eq!(plain, expected);
    }
}
