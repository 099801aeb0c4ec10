//! The JSON request/response protocol shared by the policy module (wasmtime), the browser build
//! and native callers. Everything a host passes in is here: no filesystem, clock or environment.

use crate::report::{FileError, Report, Severity};
use crate::rules::RuleDoc;
use serde::{Deserialize, Serialize};

/// Version of the request/response protocol (also exported by the policy module).
pub const ABI_VERSION: u32 = 1;

/// One input file, as the host read it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// Path as it should appear in the report (relative to the working directory, or `-`).
    pub path: String,
    pub text: String,
    /// Set by the host when the file could not be read (I/O error, invalid UTF-8, too large):
    /// the core reports it as a file error so every host fails closed the same way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_error: Option<String>,
}

impl Source {
    pub fn new(path: impl Into<String>, text: impl Into<String>) -> Self {
        Source {
            path: path.into(),
            text: text.into(),
            read_error: None,
        }
    }
}

/// What the host knows and the core must not look up itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Options {
    /// The `.rbac-gate.yaml` file, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Source>,
    /// `--fail-on`; overrides the config file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_on: Option<Severity>,
    /// Today's date, `YYYY-MM-DD`, for justification and exception expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub today: Option<String>,
    /// `--runner-version X.Y`; overrides the config file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner_version: Option<String>,
    /// Leave `Report::identities` (the permission matrix) empty. Only the JSON report and the
    /// playground show it; on a 100,000-object dump it is a third of the report's memory, so
    /// hosts rendering other formats skip it. Findings and verdict are the same either way.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_identities: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Request {
    Check {
        sources: Vec<Source>,
        #[serde(default)]
        options: Options,
    },
    Rules,
    /// The minimal RBAC for a runner ([`crate::generate`]).
    Generate(crate::generate::GenerateRequest),
    /// Explains Kubernetes API errors from job logs ([`crate::explain_error`]).
    #[serde(rename = "explain_error")]
    ExplainError(crate::explain_error::ExplainRequest),
    /// Audit-log analysis in one call ([`crate::audit`]); hosts streaming a large log use
    /// `audit_begin`, `audit_feed` and `audit_finish` instead.
    Audit(crate::audit::AuditRequest),
    #[serde(rename = "audit_begin")]
    AuditBegin(crate::audit::AuditBegin),
    #[serde(rename = "audit_feed")]
    AuditFeed(crate::audit::AuditFeed),
    #[serde(rename = "audit_finish")]
    AuditFinish(crate::audit::AuditFinish),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Response {
    Report(Box<Report>),
    Rules(Vec<RuleDoc>),
    Generate(Box<crate::generate::GenerateResponse>),
    ExplainError(Box<crate::explain_error::ExplainResponse>),
    Audit(Box<crate::audit::AuditReport>),
    AuditProgress(crate::audit::AuditProgress),
}

/// Handles one JSON request. Never panics on bad input: a malformed request becomes a report
/// with an error (verdict `error`, exit 2).
pub fn handle_json(request: &str) -> String {
    if let Some(response) = crate::audit::session::feed_fast(request) {
        return response;
    }
    let response = match serde_json::from_str::<Request>(request) {
        Ok(Request::Check { sources, options }) => {
            Response::Report(Box::new(crate::check(&sources, &options)))
        }
        Ok(Request::Rules) => Response::Rules(crate::rules::docs()),
        Ok(Request::Generate(r)) => Response::Generate(Box::new(crate::generate::generate(&r))),
        Ok(Request::ExplainError(r)) => {
            Response::ExplainError(Box::new(crate::explain_error::explain(&r)))
        }
        Ok(Request::Audit(r)) => Response::Audit(Box::new(crate::audit::audit(&r))),
        Ok(Request::AuditBegin(r)) => Response::AuditProgress(crate::audit::session::begin(r)),
        Ok(Request::AuditFeed(r)) => Response::AuditProgress(crate::audit::session::feed(&r)),
        Ok(Request::AuditFinish(r)) => Response::Audit(Box::new(crate::audit::session::finish(&r))),
        Err(e) => {
            let mut report = crate::check(&[], &Options::default());
            report.errors.push(FileError {
                path: "<request>".to_string(),
                line: Some(u32::try_from(e.line()).unwrap_or(0)),
                column: Some(u32::try_from(e.column()).unwrap_or(0)),
                message: format!("malformed policy request: {e}"),
            });
            report.counts.errors = report.errors.len();
            report.verdict = "error".to_string();
            Response::Report(Box::new(report))
        }
    };
    to_json_exact(&response).unwrap_or_else(|e| {
        format!("{{\"schema\":\"rbac-gate/report/v1\",\"verdict\":\"error\",\"serialize_error\":\"{e}\"}}")
    })
}

/// `serde_json::to_string` into a buffer of the exact size, measured by a first pass. A report
/// of 100,000 findings is about 100 MB of JSON: grown by doubling, the buffer left up to half
/// of itself unused and needed old and new copies at once, on top of the report itself (wasm
/// memory never shrinks, so that transient was the policy module's peak).
fn to_json_exact<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, value)?;
    let mut out = Vec::with_capacity(count.0);
    serde_json::to_writer(&mut out, value)?;
    // serde_json writes UTF-8 only.
    String::from_utf8(out).map_err(|e| serde::ser::Error::custom(e.to_string()))
}

#[cfg(test)]
mod exact_json_tests {
    use super::*;

    #[test]
    fn the_exact_size_buffer_holds_what_to_string_writes() {
        let report = crate::check(
            &[Source::new(
                "r.yaml",
                "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: \"x\\u00e9\"}\nrules:\n- apiGroups: ['*']\n  resources: ['*']\n  verbs: ['*']\n",
            )],
            &Options::default(),
        );
        assert!(!report.findings.is_empty());
        let json = to_json_exact(&report).expect("serializes");
        assert_eq!(json, serde_json::to_string(&report).expect("serializes"));
        assert_eq!(json.capacity(), json.len());
    }
}
