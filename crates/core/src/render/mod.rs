//! Machine-readable report formats: JSON, GitLab Code Quality, SARIF 2.1.0 and JUnit XML.
//!
//! They live in the core so that every host (the CLI, the playground) writes byte-identical
//! files. Rendering is pure: the report, the inputs (JUnit lists a test case per clean file) and
//! the rule catalog (SARIF's rule metadata) in, text out. Terminal text stays with the CLI.

mod codequality;
mod junit;
mod sarif;

use crate::report::Report;
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

pub fn render(format: Format, ctx: &Context<'_>) -> String {
    match format {
        Format::Json => pretty(ctx.report),
        Format::CodeQuality => codequality::render(ctx),
        Format::Sarif => sarif::render(ctx),
        Format::Junit => junit::render(ctx),
    }
}

/// Pretty JSON with a final newline. Serializing these plain data types cannot fail; should
/// it ever, the output says so instead of panicking.
pub fn pretty<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_string_pretty(value) {
        Ok(mut s) => {
            s.push('\n');
            s
        }
        Err(e) => format!("{{\"error\": \"cannot serialize the report: {e}\"}}\n"),
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

/// The acceptance of a finding, in words.
pub fn acceptance_text(acceptance: &crate::report::Acceptance) -> String {
    let mut s = format!("accepted ({}", acceptance.source);
    if let Some(expires) = &acceptance.expires {
        s.push_str(&format!(", expires {expires}"));
    }
    s.push_str("): ");
    s.push_str(&acceptance.reason);
    s
}
