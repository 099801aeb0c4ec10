//! GitLab Code Quality report (a JSON array of issues).

use super::{acceptance_text, check_name, override_text, pretty_to, Context, Lazy};
use crate::report::{fingerprint, FileError, Finding};
use serde::Serialize;
use std::borrow::Cow;

/// One issue, borrowing from the report where it can: the issues are serialized one at a time.
#[derive(Serialize)]
struct Issue<'a> {
    description: Cow<'a, str>,
    check_name: String,
    fingerprint: Cow<'a, str>,
    severity: &'static str,
    location: Location<'a>,
}

#[derive(Serialize)]
struct Location<'a> {
    path: &'a str,
    lines: Lines,
}

#[derive(Serialize)]
struct Lines {
    begin: u32,
}

pub fn write(ctx: &Context<'_>, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let report = ctx.report;
    let issues = Lazy(|| {
        report
            .findings
            .iter()
            .map(finding_issue)
            .chain(report.errors.iter().map(error_issue))
    });
    pretty_to(out, &issues)
}

fn finding_issue(f: &Finding) -> Issue<'_> {
    let (severity, description) = match (&f.accepted, override_text(f)) {
        // Accepted findings stay visible in the MR, as information carrying the reason and the
        // severity they would have counted at.
        (Some(acceptance), changed) => (
            "info",
            Cow::Owned(format!(
                "{} ({}{})",
                f.message,
                acceptance_text(f.severity, acceptance),
                changed.map(|c| format!("; {c}")).unwrap_or_default()
            )),
        ),
        // A config override decided this finding's severity: the description says so.
        (None, Some(changed)) => (
            f.severity.code_quality(),
            Cow::Owned(format!("{} ({changed})", f.message)),
        ),
        (None, None) => (f.severity.code_quality(), Cow::Borrowed(f.message.as_str())),
    };
    Issue {
        description,
        check_name: check_name(&f.code, &f.rule),
        fingerprint: Cow::Borrowed(&f.fingerprint),
        severity,
        location: Location {
            path: &f.path,
            lines: Lines {
                begin: f.line.max(1),
            },
        },
    }
}

fn error_issue(e: &FileError) -> Issue<'_> {
    Issue {
        description: Cow::Owned(format!(
            "rbac-gate could not check this file: {}",
            e.message
        )),
        check_name: "rbac-gate/error".to_string(),
        fingerprint: Cow::Owned(fingerprint(&["rbac-gate/error", &e.path, &e.message])),
        severity: "blocker",
        location: Location {
            path: &e.path,
            lines: Lines {
                begin: e.line.unwrap_or(1).max(1),
            },
        },
    }
}
