//! Report renderers: `text`, `json`, `codequality`, `sarif`, `junit`.

mod text;

use rbac_gate_core::render as machine;
pub use rbac_gate_core::render::{acceptance_text, check_name, override_text};

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

/// Writes the report in `format` to `out` as it is rendered (`out` should be buffered).
pub fn write(
    format: Format,
    ctx: &Context<'_>,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let machine = |f, out: &mut dyn std::io::Write| {
        machine::write(
            f,
            &machine::Context {
                report: ctx.report,
                sources: ctx.sources,
                rules: ctx.rules,
            },
            out,
        )
    };
    match format {
        Format::Text => text::write(ctx, out),
        Format::Json => machine(machine::Format::Json, out),
        Format::CodeQuality => machine(machine::Format::CodeQuality, out),
        Format::Sarif => machine(machine::Format::Sarif, out),
        Format::Junit => machine(machine::Format::Junit, out),
    }
}
