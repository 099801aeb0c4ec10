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
    /// The `.rbac-gate.yaml` file the gate runs with, if any. With `config_revision` set, the
    /// trusted one: read from that revision, not from the tree under check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Source>,
    /// Where a trusted `config` was read from (e.g. the merge request's target revision).
    /// When set, `proposed_config` is compared with `config` and every loosening is reported
    /// (`policy-changed`); the proposed config itself never applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_revision: Option<String>,
    /// The config in the tree under check, when `config_revision` is set (`None`: the tree has
    /// none, or deletes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposed_config: Option<Source>,
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
    match answer(std::borrow::Cow::Borrowed(request)) {
        Answer::Text(text) => text,
        Answer::Value(response) => to_json_exact(&response).unwrap_or_else(|e| serialize_error(&e)),
    }
}

/// [`handle_json`] for a host that hands the request over: it is freed as soon as it is
/// decoded, before the check runs (a 40 MB request otherwise stayed alive, unused, through the
/// whole evaluation), and the response comes in chunks of [`CHUNK`] bytes, which fit in the
/// memory the check freed; one buffer for a 100 MB report had to be found above it all.
pub fn handle_json_chunked(request: String) -> Vec<Vec<u8>> {
    match answer(std::borrow::Cow::Owned(request)) {
        Answer::Text(text) => vec![text.into_bytes()],
        Answer::Value(response) => {
            let mut chunks = Chunks::default();
            match serde_json::to_writer(&mut chunks, &response) {
                Ok(()) => chunks.finish(),
                Err(e) => vec![serialize_error(&e).into_bytes()],
            }
        }
    }
}

/// Size of the pieces [`handle_json_chunked`] answers in.
pub const CHUNK: usize = 32 * 1024;

/// An `io::Write` into pieces of [`CHUNK`] bytes.
#[derive(Default)]
struct Chunks {
    done: Vec<Vec<u8>>,
    current: Vec<u8>,
}

impl std::io::Write for Chunks {
    fn write(&mut self, mut bytes: &[u8]) -> std::io::Result<usize> {
        let written = bytes.len();
        while !bytes.is_empty() {
            if self.current.capacity() == 0 {
                self.current = Vec::with_capacity(CHUNK);
            }
            let room = CHUNK - self.current.len();
            let (now, rest) = bytes.split_at(room.min(bytes.len()));
            self.current.extend_from_slice(now);
            bytes = rest;
            if self.current.len() == CHUNK {
                self.done.push(std::mem::take(&mut self.current));
            }
        }
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Chunks {
    fn finish(mut self) -> Vec<Vec<u8>> {
        if !self.current.is_empty() {
            self.current.shrink_to_fit();
            self.done.push(self.current);
        }
        self.done
    }
}

fn serialize_error(e: &serde_json::Error) -> String {
    format!(
        "{{\"schema\":\"rbac-gate/report/v1\",\"verdict\":\"error\",\"serialize_error\":\"{e}\"}}"
    )
}

/// A response: ready text (the audit fast path) or a value to serialize.
enum Answer {
    Text(String),
    Value(Response),
}

/// Decodes and runs one request. `request` is taken by value so that it can be dropped as
/// soon as it is decoded.
fn answer(request: std::borrow::Cow<'_, str>) -> Answer {
    if let Some(response) = crate::audit::session::feed_fast(&request) {
        return Answer::Text(response);
    }
    let decoded = serde_json::from_str::<Request>(&request);
    drop(request);
    let response = match decoded {
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
    Answer::Value(response)
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

#[cfg(test)]
mod chunked_tests {
    use super::*;

    #[test]
    fn the_pieces_join_into_what_handle_json_answers() {
        let big_role = format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: wide}}\nrules:\n{}",
            (0..400)
                .map(|i| format!("- apiGroups: ['*']\n  resources: ['r{i}', '*']\n  verbs: ['*']\n"))
                .collect::<String>()
        );
        let check = serde_json::to_string(&Request::Check {
            sources: vec![Source::new("wide.yaml", big_role)],
            options: Options::default(),
        })
        .expect("serializes");
        for request in [check.as_str(), "{\"op\":\"rules\"}", "not json", "\u{0}"] {
            let whole = handle_json(request);
            let pieces = handle_json_chunked(request.to_string());
            assert_eq!(pieces.concat(), whole.as_bytes(), "{request:.40}");
            let (last, full) = pieces.split_last().expect("at least one piece");
            assert!(full.iter().all(|p| p.len() == CHUNK));
            assert!(!last.is_empty() && last.len() <= CHUNK.max(whole.len()));
        }
        // The check answer really is in several pieces.
        assert!(handle_json_chunked(check).len() > 2);
    }
}
