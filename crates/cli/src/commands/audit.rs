//! `rbac-gate audit`: streams Kubernetes audit logs through one sandboxed module instance.
//!
//! The host reads the logs (plain or gzipped, detected by content) in batches cut at line ends
//! and feeds them with `audit_feed`; the module keeps bounded counts. Host memory is one batch
//! plus the read buffer; module memory is one batch plus the bounded state: both constant,
//! whatever the log size.

use super::{decode, indent, print_errors, read_config, read_manifests};
use crate::cli::{print_stdout, Evaluator, EXIT_ERROR};
use clap::Args;
use rbac_gate_core::audit::{AuditProgress, AuditReport, AuditSetup};
use rbac_gate_core::Options;
use serde::Serialize;
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MIB: usize = 1024 * 1024;

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    rbac-gate audit /var/log/kubernetes/audit.log --manifests deploy/\n  \
    rbac-gate audit audit-*.log.gz --identity system:serviceaccount:ci:gitlab-runner\n  \
    zcat audit.log.gz | rbac-gate audit - --identity ci/gitlab-runner --format json\n\n\
    Exit codes: 0 nothing to report, 1 denied requests, unexpected namespaces or identities, \
    or impersonation, 2 error.")]
pub struct AuditArgs {
    /// Audit logs (`audit.k8s.io/v1` Event, JSON lines; gzipped is fine); `-` is stdin.
    #[arg(value_name = "LOG", required = true)]
    logs: Vec<String>,

    /// A runner manager identity (repeatable): `system:serviceaccount:NS:NAME`, `NS/NAME` or a
    /// username. Default: the identities the manifests name.
    #[arg(long = "identity", value_name = "ID")]
    identities: Vec<String>,

    /// A job pod identity (repeatable; same forms). Default: from the manifests.
    #[arg(long = "job-identity", value_name = "ID")]
    job_identities: Vec<String>,

    /// A namespace the runner works in (repeatable); its other ServiceAccounts are reported as
    /// unexpected identities.
    #[arg(long = "namespace", value_name = "NS")]
    namespaces: Vec<String>,

    /// RBAC manifests, runner config, Helm values (files or directories; repeatable): what is
    /// granted, and who the runner is.
    #[arg(long = "manifests", short = 'm', value_name = "PATH")]
    manifests: Vec<String>,

    /// Config file (runner version, features, identities; default: .rbac-gate.yaml if present).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// GitLab Runner version, X.Y (overrides the config).
    #[arg(long, value_name = "X.Y")]
    runner_version: Option<String>,

    /// Output: text or json.
    #[arg(long, short = 'f', value_parser = ["text", "json"], default_value = "text")]
    format: String,

    /// Show progress on stderr even when it is not a terminal.
    #[arg(long)]
    progress: bool,

    /// Never show progress.
    #[arg(long, conflicts_with = "progress")]
    no_progress: bool,

    /// Batch size in MiB sent to the policy module per call.
    #[arg(long, hide = true, default_value_t = 4)]
    batch_mb: usize,

    /// Longest line kept, in MiB (longer lines are skipped and counted).
    #[arg(long, hide = true, default_value_t = 16)]
    max_line_mb: usize,

    /// Cap on distinct (identity, verb, group, resource, namespace) keys.
    #[arg(long, hide = true)]
    max_keys: Option<usize>,
}

#[derive(Serialize)]
struct Begin<'a> {
    op: &'static str,
    #[serde(flatten)]
    setup: &'a AuditSetup,
}

/// Counts bytes read from the underlying (possibly compressed) file, for progress.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens a log, transparently gunzipping (by magic bytes, not by name).
fn open(path: &str, read: Arc<AtomicU64>) -> Result<Box<dyn Read + Send>, String> {
    let raw: Box<dyn Read + Send> = if path == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(path).map_err(|e| format!("cannot read {path}: {e}"))?)
    };
    let mut reader = BufReader::with_capacity(256 * 1024, Counting { inner: raw, read });
    let head = reader
        .fill_buf()
        .map_err(|e| format!("cannot read {path}: {e}"))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::bufread::MultiGzDecoder::new(reader)))
    } else {
        Ok(Box::new(reader))
    }
}

struct Progress {
    enabled: bool,
    tty: bool,
    total: u64,
    read: Arc<AtomicU64>,
    start: Instant,
    last: Instant,
    shown: bool,
}

impl Progress {
    fn tick(&mut self, lines: u64, force: bool) {
        if !self.enabled || (!force && self.last.elapsed() < Duration::from_millis(500)) {
            return;
        }
        self.last = Instant::now();
        let read = self.read.load(Ordering::Relaxed);
        let secs = self.start.elapsed().as_secs_f64().max(1e-3);
        let rate = read as f64 / secs / MIB as f64;
        let pct = if self.total > 0 {
            format!(" ({:.0}%)", 100.0 * read as f64 / self.total as f64)
        } else {
            String::new()
        };
        let total = if self.total > 0 {
            format!(" / {}", size(self.total))
        } else {
            String::new()
        };
        let line = format!(
            "audit: {}{total}{pct}, {} lines, {rate:.1} MiB/s",
            size(read),
            thousands(lines)
        );
        let mut err = std::io::stderr().lock();
        let _ = if self.tty {
            write!(err, "\r\x1b[2K{line}")
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
        self.shown = true;
    }

    fn done(&mut self, lines: u64) {
        if self.enabled {
            self.tick(lines, true);
            if self.tty && self.shown {
                eprintln!();
            }
        }
    }
}

fn size(n: u64) -> String {
    let n = n as f64;
    if n >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2} GiB", n / (1024.0 * 1024.0 * 1024.0))
    } else if n >= MIB as f64 {
        format!("{:.1} MiB", n / MIB as f64)
    } else {
        format!("{:.1} KiB", n / 1024.0)
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{} {many}", thousands(n))
    }
}

fn requests(n: u64) -> String {
    if n == 1 {
        "1 request".to_string()
    } else {
        format!("{} requests", thousands(n))
    }
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Reads the logs and sends `audit_feed` requests of about `batch` bytes, cut at line ends.
fn produce(
    logs: &[String],
    session: u32,
    batch: usize,
    max_line: usize,
    read: &Arc<AtomicU64>,
    oversized: &AtomicU64,
    tx: &std::sync::mpsc::SyncSender<Result<String, String>>,
) -> Result<(), String> {
    let mut buf: Vec<u8> = Vec::with_capacity(batch + 256 * 1024);
    let mut chunk = vec![0u8; 256 * 1024];
    // The consumer hung up (it failed): stop quietly.
    let send = |bytes: &[u8]| -> Result<bool, String> {
        Ok(tx.send(Ok(feed_request(session, bytes)?)).is_ok())
    };
    for log in logs {
        let mut reader = open(log, read.clone())?;
        // Skipping the rest of an over-long line.
        let mut skipping = false;
        loop {
            let n = match reader.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("cannot read {log}: {e}")),
            };
            let mut data = &chunk[..n];
            if skipping {
                match data.iter().position(|b| *b == b'\n') {
                    Some(i) => {
                        skipping = false;
                        data = &data[i + 1..];
                    }
                    None => continue,
                }
            }
            buf.extend_from_slice(data);
            if buf.len() >= batch {
                match buf.iter().rposition(|b| *b == b'\n') {
                    Some(i) => {
                        if !send(&buf[..=i])? {
                            return Ok(());
                        }
                        buf.drain(..=i);
                    }
                    None if buf.len() > max_line => {
                        // One line longer than the cap: drop it.
                        oversized.fetch_add(1, Ordering::Relaxed);
                        buf.clear();
                        skipping = true;
                    }
                    None => {}
                }
            }
        }
        if !buf.is_empty() && !skipping {
            // A log that does not end with a newline: its last line ends here.
            if buf.last() != Some(&b'\n') {
                buf.push(b'\n');
            }
            if !send(&buf)? {
                return Ok(());
            }
        }
        buf.clear();
    }
    Ok(())
}

/// `{"op":"audit_feed","session":N,"lines":"..."}` (invalid UTF-8 becomes U+FFFD).
fn feed_request(session: u32, bytes: &[u8]) -> Result<String, String> {
    let text = String::from_utf8_lossy(bytes);
    let lines =
        serde_json::to_string(&text).map_err(|e| format!("cannot encode the request: {e}"))?;
    Ok(format!(
        "{{\"op\":\"audit_feed\",\"session\":{session},\"lines\":{lines}}}"
    ))
}

/// What the feeding loop ends with.
struct Fed {
    report: Result<AuditReport, String>,
    oversized: u64,
}

pub(crate) fn run(args: &AuditArgs, evaluator: &Evaluator) -> Result<i32, String> {
    let setup = AuditSetup {
        sources: read_manifests(&args.manifests)?,
        options: Options {
            config: read_config(args.config.as_deref())?,
            runner_version: args.runner_version.clone(),
            ..Options::default()
        },
        identities: args.identities.clone(),
        job_identities: args.job_identities.clone(),
        namespaces: args.namespaces.clone(),
        max_keys: args.max_keys,
    };
    if args.logs.iter().filter(|l| *l == "-").count() > 1 {
        return Err("stdin (`-`) can be read once".to_string());
    }
    for log in args.logs.iter().filter(|l| *l != "-") {
        std::fs::metadata(log).map_err(|e| format!("cannot read {log}: {e}"))?;
    }
    let begin = serde_json::to_string(&Begin {
        op: "audit_begin",
        setup: &setup,
    })
    .map_err(|e| format!("cannot encode the request: {e}"))?;
    let batch = args.batch_mb.clamp(1, 256) * MIB;
    let max_line = args.max_line_mb.clamp(1, 1024) * MIB;
    let read = Arc::new(AtomicU64::new(0));
    let total: u64 = args
        .logs
        .iter()
        .filter(|l| *l != "-")
        .filter_map(|l| std::fs::metadata(l).ok().map(|m| m.len()))
        .sum();
    let stderr_tty = std::io::stderr().is_terminal();
    let mut progress = Progress {
        enabled: !args.no_progress && (args.progress || stderr_tty),
        tty: stderr_tty,
        total: if args.logs.iter().any(|l| l == "-") {
            0
        } else {
            total
        },
        read: read.clone(),
        start: Instant::now(),
        last: Instant::now(),
        shown: false,
    };
    // The request carrying a batch is the batch, JSON-escaped (at most 2× for quotes), plus a
    // little: the memory cap is sized for the largest one.
    let max_request = 2 * (batch + max_line) + 4096;
    let logs = args.logs.clone();
    let oversized = Arc::new(AtomicU64::new(0));
    let fed = evaluator
        .with_session(max_request, |call| -> Result<Fed, String> {
            let started: AuditProgress = decode(&call(&begin).map_err(|e| e.to_string())?)?;
            if !started.errors.is_empty() || started.session == 0 {
                print_errors(&started.errors);
                return Err("the audit could not start".to_string());
            }
            let session = started.session;
            // A reader thread cuts and encodes the next batch while the module works on this
            // one; the channel holds one batch, so memory stays at a few batches.
            let (tx, rx) = std::sync::mpsc::sync_channel::<Result<String, String>>(1);
            let fed = std::thread::scope(|scope| -> Result<Fed, String> {
                let reader = {
                    let (read, oversized) = (read.clone(), oversized.clone());
                    let logs = &logs;
                    std::thread::Builder::new()
                        .name("rbac-gate-audit-reader".into())
                        .spawn_scoped(scope, move || {
                            let result =
                                produce(logs, session, batch, max_line, &read, &oversized, &tx);
                            if let Err(e) = result {
                                let _ = tx.send(Err(e));
                            }
                        })
                        .map_err(|e| format!("cannot start the reader thread: {e}"))?
                };
                let mut lines = 0u64;
                let mut failure = None;
                for request in rx.iter() {
                    let result = request.and_then(|request| {
                        let p: AuditProgress = decode(&call(&request).map_err(|e| e.to_string())?)?;
                        if !p.errors.is_empty() {
                            print_errors(&p.errors);
                            return Err("the audit stopped".to_string());
                        }
                        lines = p.totals.lines;
                        Ok(())
                    });
                    if let Err(e) = result {
                        failure = Some(e);
                        break;
                    }
                    progress.tick(lines, false);
                }
                // Unblock and wait for the reader.
                drop(rx);
                let _ = reader.join();
                if let Some(e) = failure {
                    return Err(e);
                }
                progress.done(lines);
                let finish = format!("{{\"op\":\"audit_finish\",\"session\":{session}}}");
                let report = call(&finish)
                    .map_err(|e| e.to_string())
                    .and_then(|r| decode::<AuditReport>(&r));
                Ok(Fed {
                    report,
                    oversized: oversized.load(Ordering::Relaxed),
                })
            })?;
            Ok(fed)
        })
        .map_err(|e| e.to_string())??;
    let mut report = fed.report?;
    if fed.oversized > 0 {
        report.notes.push(format!(
            "{} lines longer than {} MiB were skipped",
            fed.oversized, args.max_line_mb
        ));
    }
    if !report.errors.is_empty() {
        print_errors(&report.errors);
    }
    let out = if args.format == "json" {
        serde_json::to_string_pretty(&report).map_err(|e| e.to_string())? + "\n"
    } else {
        text(&report)
    };
    print_stdout(&out)?;
    Ok(match report.verdict.as_str() {
        "clean" => 0,
        "findings" => 1,
        _ => EXIT_ERROR,
    })
}

fn shown(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{group}/{resource}")
    }
}

fn ns(n: Option<&str>) -> String {
    n.map_or_else(|| "(cluster)".to_string(), str::to_string)
}

/// The text report.
pub fn text(r: &AuditReport) -> String {
    let mut s = String::new();
    let t = &r.totals;
    s.push_str(&format!(
        "audit: {} lines ({}), {} events; {} requests by the runner's identities and others in its namespaces\n",
        thousands(t.lines),
        size(t.bytes),
        thousands(t.events),
        thousands(t.matched)
    ));
    if t.invalid > 0 || t.unauthenticated > 0 {
        s.push_str(&format!(
            "       {} not audit events; {} failed authentication (401)\n",
            plural(t.invalid, "line was", "lines were"),
            plural(t.unauthenticated, "request", "requests")
        ));
    }
    for id in &r.identities {
        s.push('\n');
        let role = if id.role == "job" {
            "job identity"
        } else {
            "runner manager"
        };
        let agents = if id.user_agents.is_empty() {
            String::new()
        } else {
            format!(
                "; clients: {}",
                id.user_agents
                    .iter()
                    .map(|a| format!("{} ×{}", a.agent, thousands(a.count)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        s.push_str(&format!(
            "{role} {}: {}{agents}\n",
            id.id,
            requests(id.requests)
        ));
        if id.role == "job" && id.requests > 0 {
            s.push_str("  job pods called the API: they should get no token (automount_service_account_token = false), or a ServiceAccount made for what they do\n");
        }
        if id.impersonated > 0 {
            s.push_str(&format!(
                "  {} requests were made by someone impersonating this identity\n",
                id.impersonated
            ));
        }
        if !id.used.is_empty() {
            s.push_str("  used:\n");
            // Group verbs per (namespace, resource).
            let mut rows: Vec<(String, String, Vec<String>, String)> = Vec::new();
            for u in &id.used {
                let key_ns = ns(u.namespace.as_deref());
                let res = shown(&u.api_group, &u.resource);
                let note = match u.granted {
                    Some(false) => {
                        "not granted by the manifests: granted elsewhere in the cluster".to_string()
                    }
                    _ => String::new(),
                };
                let v = format!("{} ×{}", u.verb, u.count);
                match rows
                    .iter_mut()
                    .find(|r| r.0 == key_ns && r.1 == res && r.3 == note)
                {
                    Some(r) => r.2.push(v),
                    None => rows.push((key_ns, res, vec![v], note)),
                }
            }
            for (n, res, verbs, note) in rows {
                let note = if note.is_empty() {
                    String::new()
                } else {
                    format!("  ({note})")
                };
                s.push_str(&format!("    {n:14} {res:24} {}{note}\n", verbs.join(", ")));
            }
        }
        let remove: Vec<_> = id.unused.iter().filter(|u| u.action == "remove").collect();
        let keep: Vec<_> = id.unused.iter().filter(|u| u.action == "keep").collect();
        if !remove.is_empty() {
            s.push_str("  granted, never used (candidates to remove):\n");
            for u in remove {
                s.push_str(&format!(
                    "    {:14} {:24} {}   {}:{} ({})\n",
                    u.namespace,
                    shown(&u.api_group, &u.resource),
                    u.verbs.join(", "),
                    u.path,
                    u.line,
                    u.via
                ));
            }
        }
        if !keep.is_empty() {
            s.push_str("  granted, not in the log, but the runner needs them (keep):\n");
            for u in keep {
                s.push_str(&format!(
                    "    {:14} {:24} {}   ({})\n",
                    u.namespace,
                    shown(&u.api_group, &u.resource),
                    u.verbs.join(", "),
                    u.needed_for.as_deref().unwrap_or("")
                ));
            }
        }
        if !id.denied.is_empty() {
            s.push_str("  denied (403): missing permissions\n");
            for d in &id.denied {
                let why = match &d.feature {
                    Some(f) => format!("needed by {f}: {}", d.breaks),
                    None => d.breaks.clone(),
                };
                s.push_str(&format!(
                    "    {:14} {:24} {} ×{} — {why}\n",
                    ns(d.namespace.as_deref()),
                    shown(&d.api_group, &d.resource),
                    d.verb,
                    d.count
                ));
                if d.granted_in_manifests {
                    s.push_str("      the manifests grant it, the cluster refused it: they are not what runs\n");
                } else {
                    let target = if d.scope == "cluster" {
                        "a ClusterRole with a ClusterRoleBinding".to_string()
                    } else {
                        format!(
                            "a Role in `{}`",
                            d.namespace.as_deref().unwrap_or("default")
                        )
                    };
                    s.push_str(&format!("      if it is legitimate, add to {target}:\n"));
                    s.push_str(&indent(&d.rule, 8));
                }
            }
        }
        if !id.unexpected_namespaces.is_empty() {
            s.push_str("  requests in unexpected namespaces:\n");
            for u in &id.unexpected_namespaces {
                s.push_str(&format!(
                    "    {:14} ×{}: {}\n",
                    u.namespace,
                    u.count,
                    u.requests.join(", ")
                ));
            }
        }
    }
    if !r.unexpected_identities.is_empty() {
        s.push_str("\nunexpected identities (in the runner's namespaces, neither the runner nor its jobs):\n");
        for u in &r.unexpected_identities {
            let agents = if u.user_agents.is_empty() {
                String::new()
            } else {
                format!(
                    "; clients: {}",
                    u.user_agents
                        .iter()
                        .map(|a| a.agent.clone())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            s.push_str(&format!(
                "  {}: {} ({} denied){agents}\n",
                u.id,
                requests(u.requests),
                u.denied
            ));
            for t in &u.top {
                s.push_str(&format!("    {t}\n"));
            }
        }
    }
    for t in &r.tightened {
        s.push_str(&format!(
            "\ntightened {} ({}:{}): keeps what was used and what the runner needs\n",
            t.object, t.path, t.line
        ));
        if !t.removed.is_empty() {
            s.push_str(&format!("  drops: {}\n", t.removed.join("; ")));
        }
        for n in &t.notes {
            s.push_str(&format!("  note: {n}\n"));
        }
        s.push_str("---\n");
        s.push_str(&t.yaml);
    }
    if !r.notes.is_empty() {
        s.push('\n');
        for n in &r.notes {
            s.push_str(&format!("note: {n}\n"));
        }
    }
    s.push_str(&format!("\nverdict: {}\n", r.verdict));
    s
}
