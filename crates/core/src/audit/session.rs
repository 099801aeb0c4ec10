//! Streaming sessions: `audit_begin` opens one, `audit_feed` adds batches of lines,
//! `audit_finish` returns the report and closes it.
//!
//! The protocol is request/response JSON, so the state a streaming host builds up has to live
//! somewhere between calls: here, in the module instance (the CLI keeps one sandbox instance
//! alive for a whole run). Sessions are numbered so concurrent native callers (tests) do not
//! mix, and at most [`MAX_SESSIONS`] are open at once; each holds bounded state.

use super::aggregate::{self, Aggregator};
use super::{analyse, report, watch_for, Analysis, AuditBegin, AuditFeed, AuditFinish};
use super::{totals, AuditProgress, AuditReport, AUDIT_SCHEMA};
use crate::report::FileError;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

pub const MAX_SESSIONS: usize = 8;

struct Session {
    id: u32,
    analysis: Analysis,
    agg: Aggregator,
}

static SESSIONS: Mutex<Vec<Session>> = Mutex::new(Vec::new());
static NEXT: AtomicU32 = AtomicU32::new(1);

fn err(message: impl Into<String>) -> FileError {
    FileError {
        path: "<audit>".to_string(),
        line: None,
        column: None,
        message: message.into(),
    }
}

fn progress(session: u32, agg: Option<&Aggregator>, errors: Vec<FileError>) -> AuditProgress {
    let (runners, jobs, namespaces) = agg.map_or_else(Default::default, |a| {
        let w = a.watch();
        (w.runners.clone(), w.jobs.clone(), w.namespaces.clone())
    });
    AuditProgress {
        schema: AUDIT_SCHEMA.to_string(),
        session,
        runners,
        jobs,
        namespaces,
        totals: agg.map_or_else(Default::default, |a| totals(&a.totals, a.key_count())),
        errors,
    }
}

/// Opens a session. Errors (bad manifests, no identity) come back with session 0.
pub fn begin(req: AuditBegin) -> AuditProgress {
    let analysis = analyse(&req.setup);
    let (watch, mut errors) = watch_for(&req.setup, &analysis);
    errors.extend(analysis.errors.iter().cloned());
    if !errors.is_empty() {
        return progress(0, None, errors);
    }
    let agg = Aggregator::new(
        watch,
        req.setup.max_keys.unwrap_or(aggregate::DEFAULT_MAX_KEYS),
    );
    let Ok(mut sessions) = SESSIONS.lock() else {
        return progress(0, None, vec![err("audit sessions are unavailable")]);
    };
    if sessions.len() >= MAX_SESSIONS {
        // The oldest session was abandoned by its host: drop it.
        sessions.remove(0);
    }
    let id = NEXT.fetch_add(1, Ordering::Relaxed).max(1);
    sessions.push(Session { id, analysis, agg });
    let s = sessions.last();
    progress(id, s.map(|s| &s.agg), Vec::new())
}

/// Adds a batch of lines to a session.
pub fn feed(req: &AuditFeed) -> AuditProgress {
    let Ok(mut sessions) = SESSIONS.lock() else {
        return progress(
            req.session,
            None,
            vec![err("audit sessions are unavailable")],
        );
    };
    match sessions.iter_mut().find(|s| s.id == req.session) {
        Some(s) => {
            s.agg.feed(&req.lines);
            progress(req.session, Some(&s.agg), Vec::new())
        }
        None => progress(
            req.session,
            None,
            vec![err(format!("no audit session {}", req.session))],
        ),
    }
}

/// `audit_feed` without the generic request path: an internally tagged enum buffers the whole
/// request (megabytes of lines) before deserializing it, this reads it once. `None` when the
/// request is not a well-formed `audit_feed` (the generic path then answers).
pub fn feed_fast(request: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Feed {
        op: String,
        session: u32,
        lines: String,
    }
    if !request.starts_with("{\"op\":\"audit_feed\"") {
        return None;
    }
    let f: Feed = serde_json::from_str(request).ok()?;
    if f.op != "audit_feed" {
        return None;
    }
    let p = feed(&AuditFeed {
        session: f.session,
        lines: f.lines,
    });
    serde_json::to_string(&p).ok()
}

/// Closes a session and returns its report.
pub fn finish(req: &AuditFinish) -> AuditReport {
    let taken = SESSIONS.lock().ok().and_then(|mut sessions| {
        let i = sessions.iter().position(|s| s.id == req.session)?;
        Some(sessions.remove(i))
    });
    match taken {
        Some(s) => report(&s.analysis, &s.agg, Vec::new()),
        None => AuditReport {
            schema: AUDIT_SCHEMA.to_string(),
            verdict: "error".to_string(),
            errors: vec![err(format!("no audit session {}", req.session))],
            ..AuditReport::default()
        },
    }
}
