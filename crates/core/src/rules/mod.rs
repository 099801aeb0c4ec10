//! The rule catalog: the one registry of every rule's code, name, severity and docs.
//!
//! One rule, one file. Each file declares its rule with [`declare_rule!`]: the doc comment
//! (What it does / Why is this bad / Example / Fix) becomes the text of `rbac-gate explain` and of
//! the playground, so there is one source for it. Each file also holds the check and its pass/fail
//! test vectors. Codes are stable and never reused.

use crate::context::Ctx;
use crate::report::{Category, Finding, Severity};
use serde::{Deserialize, Serialize};

pub mod duplicate_key;
pub mod expired_justification;
pub mod hygiene;
pub mod manager_token;
pub mod policy_changed;
pub mod privilege;
pub mod runner_rules;

/// Static description of a rule.
#[derive(Debug)]
pub struct RuleMeta {
    pub code: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    pub category: Category,
    pub summary: &'static str,
    pub docs: &'static str,
}

pub trait Rule: Sync {
    fn meta(&self) -> &'static RuleMeta;
    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>);
}

/// Declares a rule: its doc comment becomes its documentation.
///
/// ```text
/// declare_rule! {
///     /// ### What it does
///     /// ...
///     pub WildcardRule, META, code = "RG102", name = "wildcard-rule",
///     severity = Medium, category = Unsafe, summary = "Wildcards in RBAC rules"
/// }
/// ```
#[macro_export]
macro_rules! declare_rule {
    (
        $(#[doc = $doc:literal])*
        $vis:vis $ty:ident, code = $code:literal, name = $name:literal,
        severity = $sev:ident, category = $cat:ident, summary = $summary:literal $(,)?
    ) => {
        $(#[doc = $doc])*
        $vis struct $ty;

        impl $ty {
            pub const META: $crate::rules::RuleMeta = $crate::rules::RuleMeta {
                code: $code,
                name: $name,
                severity: $crate::report::Severity::$sev,
                category: $crate::report::Category::$cat,
                summary: $summary,
                docs: concat!($($doc, "\n"),*),
            };
        }
    };
}

/// What `rbac-gate rules`, `explain` and the playground show for a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleDoc {
    pub code: String,
    pub name: String,
    pub severity: Severity,
    pub category: Category,
    pub summary: String,
    /// Markdown: What it does / Why is this bad / Example / Fix.
    pub docs: String,
}

/// Every rule, in code order.
pub fn all() -> Vec<&'static dyn Rule> {
    let mut rules: Vec<&'static dyn Rule> = vec![
        &expired_justification::ExpiredJustification,
        &duplicate_key::DuplicateKey,
        &manager_token::ManagerToken,
        &policy_changed::PolicyChanged,
    ];
    rules.extend(privilege::all());
    rules.extend(runner_rules::all());
    rules.extend(hygiene::all());
    rules.sort_by_key(|r| r.meta().code);
    rules
}

/// Strips the one leading space rustdoc leaves on each doc line.
fn unindent(docs: &str) -> String {
    docs.lines()
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

pub fn docs() -> Vec<RuleDoc> {
    all()
        .into_iter()
        .map(|r| {
            let m = r.meta();
            RuleDoc {
                code: m.code.to_string(),
                name: m.name.to_string(),
                severity: m.severity,
                category: m.category,
                summary: m.summary.to_string(),
                docs: unindent(m.docs),
            }
        })
        .collect()
}

/// Looks a rule up by code (`RG102`, any case) or kebab name.
pub fn find(code_or_name: &str) -> Option<&'static dyn Rule> {
    all()
        .into_iter()
        .find(|r| r.meta().code.eq_ignore_ascii_case(code_or_name) || r.meta().name == code_or_name)
}

#[cfg(test)]
pub mod testing {
    //! Pass/fail vectors: run the whole engine on small inputs and look at one rule's findings.
    use crate::api::{Options, Source};
    use crate::report::Finding;

    /// Findings of rule `code` for the given files (`(path, text)`).
    pub fn run(code: &str, files: &[(&str, &str)]) -> Vec<Finding> {
        run_with(code, files, &Options::default())
    }

    pub fn run_with(code: &str, files: &[(&str, &str)], options: &Options) -> Vec<Finding> {
        let sources: Vec<Source> = files.iter().map(|(p, t)| Source::new(*p, *t)).collect();
        let report = crate::check(&sources, options);
        assert!(
            report.errors.is_empty(),
            "test input did not parse: {:?}",
            report.errors
        );
        report
            .findings
            .into_iter()
            .filter(|f| f.code == code)
            .collect()
    }

    /// Asserts that `code` fires on the single YAML document set `yaml`, and returns its findings.
    pub fn fires(code: &str, yaml: &str) -> Vec<Finding> {
        let found = run(code, &[("input.yaml", yaml)]);
        assert!(!found.is_empty(), "{code} should fire on:\n{yaml}");
        found
    }

    /// Asserts that `code` stays silent on `yaml`.
    pub fn silent(code: &str, yaml: &str) {
        let found = run(code, &[("input.yaml", yaml)]);
        assert!(
            found.is_empty(),
            "{code} should not fire on:\n{yaml}\ngot: {found:#?}"
        );
    }
}
