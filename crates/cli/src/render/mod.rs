//! Report renderers: `text`, `json`, `codequality`, `sarif`, `junit`.

mod codequality;
mod junit;
mod sarif;
mod text;

use rbac_gate_core::report::Report;
use rbac_gate_core::rules::RuleDoc;
use rbac_gate_core::Source;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    CodeQuality,
    Sarif,
    Junit,
}

impl Format {
    pub const NAMES: &'static str = "text, json, codequality, sarif, junit";

    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
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
            "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            "codequality" | "code-quality" | "code_quality" => Ok(Format::CodeQuality),
            "sarif" => Ok(Format::Sarif),
            "junit" => Ok(Format::Junit),
            other => Err(format!(
                "unknown format `{other}` (expected one of: {})",
                Format::NAMES
            )),
        }
    }
}

/// Everything a renderer may use.
pub struct Context<'a> {
    pub report: &'a Report,
    /// The inputs, for snippets (text) and the per-file test cases (junit).
    pub sources: &'a [Source],
    /// The rule catalog, for SARIF's `tool.driver.rules`.
    pub rules: &'a [RuleDoc],
    pub color: bool,
    pub quiet: bool,
}

pub fn render(format: Format, ctx: &Context<'_>) -> String {
    match format {
        Format::Text => text::render(ctx),
        Format::Json => json(ctx.report),
        Format::CodeQuality => codequality::render(ctx),
        Format::Sarif => sarif::render(ctx),
        Format::Junit => junit::render(ctx),
    }
}

fn json(report: &Report) -> String {
    pretty(report)
}

/// Pretty JSON with a final newline. Serializing these plain data types cannot fail; should
/// it ever, the output says so instead of panicking.
fn pretty<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_string_pretty(value) {
        Ok(mut s) => {
            s.push('\n');
            s
        }
        Err(e) => format!("{{\"error\": \"cannot serialize the report: {e}\"}}\n"),
    }
}

/// `code/name`, as shown in every format.
fn check_name(code: &str, rule: &str) -> String {
    if rule.is_empty() {
        code.to_string()
    } else {
        format!("{code}/{rule}")
    }
}

/// The acceptance of a finding, in words.
fn acceptance_text(acceptance: &rbac_gate_core::report::Acceptance) -> String {
    let mut s = format!("accepted ({}", acceptance.source);
    if let Some(expires) = &acceptance.expires {
        s.push_str(&format!(", expires {expires}"));
    }
    s.push_str("): ");
    s.push_str(&acceptance.reason);
    s
}
