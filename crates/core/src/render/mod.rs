//! Machine-readable report formats: JSON, GitLab Code Quality, SARIF 2.1.0 and JUnit XML.
//!
//! They live in the core so that every host (the CLI, the playground) writes byte-identical
//! files. Rendering is pure: the report, the inputs (JUnit lists a test case per clean file) and
//! the rule catalog (SARIF's rule metadata) in, text out. Terminal text stays with the CLI.

mod codequality;
mod junit;
mod sarif;

use crate::report::{Report, Severity};
use crate::rules::RuleDoc;
use crate::Source;
use std::str::FromStr;

/// The formats every host can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    CodeQuality,
    Sarif,
    Junit,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::CodeQuality => "codequality",
            Format::Sarif => "sarif",
            Format::Junit => "junit",
        }
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "json" => Ok(Format::Json),
            "codequality" | "code-quality" | "code_quality" => Ok(Format::CodeQuality),
            "sarif" => Ok(Format::Sarif),
            "junit" => Ok(Format::Junit),
            other => Err(format!(
                "unknown format `{other}` (expected one of: json, codequality, sarif, junit)"
            )),
        }
    }
}

/// Everything a renderer may use.
pub struct Context<'a> {
    pub report: &'a Report,
    /// The inputs, for the per-file test cases of JUnit.
    pub sources: &'a [Source],
    /// The rule catalog, for SARIF's `tool.driver.rules`.
    pub rules: &'a [RuleDoc],
}

/// The report in `format`, as one string (what the playground shows). Hosts that write a file
/// use [`write`], which never holds the whole output.
pub fn render(format: Format, ctx: &Context<'_>) -> String {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = write(format, ctx, &mut out);
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Writes the report in `format` to `out` as it is rendered. A report of 100,000 findings is
/// 50 to 120 MB in each format; built whole, and from intermediate trees, the output cost the
/// CLI up to 1.6 GB more than the report itself (SARIF).
pub fn write(
    format: Format,
    ctx: &Context<'_>,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    match format {
        Format::Json => pretty_to(out, ctx.report),
        Format::CodeQuality => codequality::write(ctx, out),
        Format::Sarif => sarif::write(ctx, out),
        Format::Junit => junit::write(ctx, out),
    }
}

/// Pretty JSON with a final newline. Serializing these plain data types cannot fail; should
/// it ever, the output says so instead of panicking. Only a failure of `out` is an error.
fn pretty_to<T: serde::Serialize>(out: &mut dyn std::io::Write, value: &T) -> std::io::Result<()> {
    match serde_json::to_writer_pretty(&mut *out, value) {
        Ok(()) => out.write_all(b"\n"),
        Err(e) if e.is_io() => Err(e.into()),
        Err(e) => writeln!(out, "{{\"error\": \"cannot serialize the report: {e}\"}}"),
    }
}

/// A JSON array of what `items()` yields, serialized one item at a time, so that the 100,000
/// entries of a large report are never all built at once. The iterator's size hint must be
/// exact or absent (serde_json writes `[]` at once for a hint of zero).
struct Lazy<F>(F);

impl<F, I> serde::Serialize for Lazy<F>
where
    F: Fn() -> I,
    I: Iterator,
    I::Item: serde::Serialize,
{
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq((self.0)())
    }
}

/// `code/name`, as shown in every format.
pub fn check_name(code: &str, rule: &str) -> String {
    if rule.is_empty() {
        code.to_string()
    } else {
        format!("{code}/{rule}")
    }
}

/// The acceptance of a finding, in words, with the severity it would have counted at:
/// "accepted (was critical; config, expires 2027-01-31): reason".
pub fn acceptance_text(severity: Severity, acceptance: &crate::report::Acceptance) -> String {
    let source = match acceptance.source.as_str() {
        "annotation" => "by annotation",
        "config" => "by config exception",
        other => other,
    };
    let mut s = format!("accepted (was {}; {source}", severity.as_str());
    if let Some(expires) = &acceptance.expires {
        s.push_str(&format!(", expires {expires}"));
    }
    s.push_str("): ");
    s.push_str(&acceptance.reason);
    s
}

/// How the config changed a finding's severity, in words, when it did.
pub fn override_text(f: &crate::report::Finding) -> Option<String> {
    let from = f.overridden_from?;
    let how = if f.severity < from {
        "lowered"
    } else {
        "raised"
    };
    Some(format!(
        "severity {how} from {} to {} by the config",
        from.as_str(),
        f.severity.as_str()
    ))
}
