//! GitLab Code Quality report (a JSON array of issues).

use super::{acceptance_text, check_name, pretty, Context};
use crate::report::fingerprint;
use serde::Serialize;

#[derive(Serialize)]
struct Issue {
    description: String,
    check_name: String,
    fingerprint: String,
    severity: &'static str,
    location: Location,
}

#[derive(Serialize)]
struct Location {
    path: String,
    lines: Lines,
}

#[derive(Serialize)]
struct Lines {
    begin: u32,
}

pub fn render(ctx: &Context<'_>) -> String {
    let report = ctx.report;
    let mut issues = Vec::with_capacity(report.findings.len() + report.errors.len());
    for f in &report.findings {
        let (severity, description) = match &f.accepted {
            // Accepted findings stay visible in the MR, as information carrying the reason.
            Some(acceptance) => (
                "info",
                format!("{} ({})", f.message, acceptance_text(acceptance)),
            ),
            None => (f.severity.code_quality(), f.message.clone()),
        };
        issues.push(Issue {
            description,
            check_name: check_name(&f.code, &f.rule),
            fingerprint: f.fingerprint.clone(),
            severity,
            location: Location {
                path: f.path.clone(),
                lines: Lines {
                    begin: f.line.max(1),
                },
            },
        });
    }
    for e in &report.errors {
        issues.push(Issue {
            description: format!("rbac-gate could not check this file: {}", e.message),
            check_name: "rbac-gate/error".to_string(),
            fingerprint: fingerprint(&["rbac-gate/error", &e.path, &e.message]),
            severity: "blocker",
            location: Location {
                path: e.path.clone(),
                lines: Lines {
                    begin: e.line.unwrap_or(1).max(1),
                },
            },
        });
    }
    pretty(&issues)
}
