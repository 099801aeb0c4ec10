//! `.rbac-gate.yaml`: threshold, severity overrides, disabled rules, identity selectors, runner
//! version and features, and exceptions. Unknown keys are errors with a line number, so a typo
//! never silently weakens the gate. The JSON Schema is `schema/rbac-gate.schema.json`.

use crate::api::Options;
use crate::report::{FileError, Severity};
use crate::yaml::{self, Node};
use std::collections::{BTreeMap, BTreeSet};

/// Newest GitLab Runner release the permission data covers.
pub const NEWEST_RUNNER: (u32, u32) = (19, 3);

#[derive(Debug, Clone)]
pub struct Exception {
    /// Rule code or name.
    pub rule: String,
    /// `Kind/name` or `Kind/namespace/name`; `None` matches any object.
    pub object: Option<String>,
    pub identity: Option<String>,
    pub reason: String,
    pub expires: Option<String>,
    pub line: u32,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub fail_on: Severity,
    pub runner_version: (u32, u32),
    /// Features forced on (`namespace_per_job`, `FF_PRINT_POD_EVENTS`, ...).
    pub features: BTreeSet<String>,
    /// Runner manager identities, as `namespace/name` of a ServiceAccount.
    pub runner_identities: Vec<String>,
    /// Job pod identities, as `namespace/name`.
    pub job_identities: Vec<String>,
    pub severity_overrides: BTreeMap<String, Severity>,
    pub disabled: BTreeSet<String>,
    pub exceptions: Vec<Exception>,
    pub today: Option<String>,
    /// Path of the config file, for messages.
    pub path: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            fail_on: Severity::High,
            runner_version: NEWEST_RUNNER,
            features: BTreeSet::new(),
            runner_identities: Vec::new(),
            job_identities: Vec::new(),
            severity_overrides: BTreeMap::new(),
            disabled: BTreeSet::new(),
            exceptions: Vec::new(),
            today: None,
            path: None,
        }
    }
}

/// `18.0` or `v18.0.1` → (18, 0).
pub fn parse_version(s: &str) -> Option<(u32, u32)> {
    let s = s.trim().trim_start_matches('v');
    let mut parts = s.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().map_or(Some(0), |m| m.parse().ok())?;
    Some((major, minor))
}

/// `YYYY-MM-DD`, checked for shape and ranges.
pub fn valid_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && s[..4].parse::<u32>().is_ok()
        && s[5..7].parse::<u32>().is_ok_and(|m| (1..=12).contains(&m))
        && s[8..].parse::<u32>().is_ok_and(|d| (1..=31).contains(&d))
}

struct Loader<'a> {
    path: &'a str,
    errors: Vec<FileError>,
}

impl Loader<'_> {
    fn err(&mut self, node: &Node, msg: impl Into<String>) {
        self.errors.push(FileError {
            path: self.path.to_string(),
            line: Some(node.pos.line),
            column: Some(node.pos.col),
            message: msg.into(),
        });
    }

    fn keys(&mut self, node: &Node, allowed: &[&str], what: &str) -> bool {
        let Some(entries) = node.as_map() else {
            self.err(node, format!("{what} must be a mapping"));
            return false;
        };
        for (k, _) in entries {
            let name = k.as_str().unwrap_or("");
            if !allowed.contains(&name) {
                self.err(
                    k,
                    format!(
                        "unknown key `{name}` in {what}; expected one of: {}",
                        allowed.join(", ")
                    ),
                );
            }
        }
        true
    }

    fn strings(&mut self, node: &Node, what: &str) -> Vec<String> {
        match node.as_seq() {
            Some(items) => items
                .iter()
                .filter_map(|n| match n.as_str() {
                    Some(s) => Some(s.to_string()),
                    None => {
                        self.err(n, format!("{what} entries must be strings"));
                        None
                    }
                })
                .collect(),
            None => {
                self.err(node, format!("{what} must be a list"));
                Vec::new()
            }
        }
    }

    fn severity(&mut self, node: &Node, what: &str) -> Option<Severity> {
        let s = node.as_str().and_then(Severity::parse);
        if s.is_none() {
            self.err(
                node,
                format!("{what} must be one of info, low, medium, high, critical"),
            );
        }
        s
    }
}

/// Reads the settings from the options (and the config file they carry).
pub fn load(options: &Options) -> (Settings, Vec<FileError>) {
    let mut settings = Settings {
        today: options.today.clone(),
        ..Settings::default()
    };
    let mut errors = Vec::new();
    if let Some(cfg) = &options.config {
        settings.path = Some(cfg.path.clone());
        let mut l = Loader {
            path: &cfg.path,
            errors: Vec::new(),
        };
        match yaml::parse_stream(&cfg.text) {
            Err(e) => l.errors.push(FileError {
                path: cfg.path.clone(),
                line: Some(e.line),
                column: Some(e.col),
                message: format!("invalid config: {}", e.message),
            }),
            Ok(docs) => {
                if docs.len() > 1 {
                    l.err(&docs[1].root, "the config file must hold one document");
                }
                if let Some(doc) = docs.first() {
                    apply(&mut l, &doc.root, &mut settings);
                }
            }
        }
        errors.extend(l.errors);
    }
    if let Some(f) = options.fail_on {
        settings.fail_on = f;
    }
    if let Some(v) = &options.runner_version {
        match parse_version(v) {
            Some(v) => settings.runner_version = v,
            None => errors.push(FileError {
                path: "--runner-version".to_string(),
                line: None,
                column: None,
                message: format!("runner version `{v}` is not X.Y"),
            }),
        }
    }
    (settings, errors)
}

const TOP_KEYS: &[&str] = &[
    "fail-on",
    "runner",
    "identities",
    "severity",
    "disable",
    "exceptions",
];

fn apply(l: &mut Loader, root: &Node, s: &mut Settings) {
    if !l.keys(root, TOP_KEYS, "the config file") {
        return;
    }
    for (key, value) in root.string_entries() {
        match key {
            "fail-on" => {
                if let Some(sev) = l.severity(value, "`fail-on`") {
                    s.fail_on = sev;
                }
            }
            "runner" => {
                if !l.keys(value, &["version", "features"], "`runner`") {
                    continue;
                }
                if let Some(v) = value.get("version") {
                    match v.as_str().and_then(parse_version) {
                        Some(ver) => s.runner_version = ver,
                        None => l.err(v, "`runner.version` must look like \"18.0\""),
                    }
                }
                if let Some(f) = value.get("features") {
                    s.features.extend(l.strings(f, "`runner.features`"));
                }
            }
            "identities" => {
                if !l.keys(value, &["runner", "jobs"], "`identities`") {
                    continue;
                }
                if let Some(r) = value.get("runner") {
                    s.runner_identities = l.strings(r, "`identities.runner`");
                }
                if let Some(j) = value.get("jobs") {
                    s.job_identities = l.strings(j, "`identities.jobs`");
                }
                for (what, list) in [
                    ("runner", &s.runner_identities),
                    ("jobs", &s.job_identities),
                ] {
                    for id in list {
                        if !id.contains('/') && !id.starts_with("system:serviceaccount:") {
                            let node = value.get(what).unwrap_or(value);
                            l.errors.push(FileError {
                                path: l.path.to_string(),
                                line: Some(node.pos.line),
                                column: Some(node.pos.col),
                                message: format!("identity `{id}` must be `namespace/name` or `system:serviceaccount:NS:NAME`"),
                            });
                        }
                    }
                }
            }
            "severity" => {
                for (code, node) in value.string_entries() {
                    if let Some(sev) = l.severity(node, "a severity override") {
                        match crate::rules::find(code) {
                            Some(rule) => {
                                s.severity_overrides
                                    .insert(rule.meta().code.to_string(), sev);
                            }
                            None => l.err(node, format!("unknown rule `{code}` in `severity`")),
                        }
                    }
                }
            }
            "disable" => {
                for code in l.strings(value, "`disable`") {
                    match crate::rules::find(&code) {
                        Some(rule) => {
                            s.disabled.insert(rule.meta().code.to_string());
                        }
                        None => l.err(value, format!("unknown rule `{code}` in `disable`")),
                    }
                }
            }
            "exceptions" => {
                for e in value.as_seq().unwrap_or(&[]) {
                    if !l.keys(
                        e,
                        &["rule", "object", "identity", "reason", "expires"],
                        "an exception",
                    ) {
                        continue;
                    }
                    let text = |k: &str| e.get(k).and_then(Node::as_str).map(str::to_string);
                    let Some(rule) = text("rule") else {
                        l.err(e, "an exception needs `rule`");
                        continue;
                    };
                    let Some(found) = crate::rules::find(&rule) else {
                        l.err(e, format!("unknown rule `{rule}` in an exception"));
                        continue;
                    };
                    let reason = text("reason").filter(|r| !r.trim().is_empty());
                    let Some(reason) = reason else {
                        l.err(e, "an exception needs a non-empty `reason`");
                        continue;
                    };
                    let expires = text("expires");
                    if let Some(x) = &expires {
                        if !valid_date(x) {
                            l.err(e, format!("`expires: {x}` is not YYYY-MM-DD"));
                            continue;
                        }
                    }
                    s.exceptions.push(Exception {
                        rule: found.meta().code.to_string(),
                        object: text("object"),
                        identity: text("identity"),
                        reason,
                        expires,
                        line: e.pos.line,
                    });
                }
                if value.as_seq().is_none() {
                    l.err(value, "`exceptions` must be a list");
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Source;

    fn load_text(text: &str) -> (Settings, Vec<FileError>) {
        load(&Options {
            config: Some(Source::new(".rbac-gate.yaml", text)),
            ..Options::default()
        })
    }

    #[test]
    fn unknown_keys_are_errors_with_lines() {
        let (_, errors) = load_text("fail-on: high\nfail_on: low\n");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, Some(2));
        assert!(errors[0].message.contains("unknown key `fail_on`"));
    }

    #[test]
    fn values_are_read() {
        let (s, errors) = load_text(
            "fail-on: medium\nrunner:\n  version: \"17.2\"\n  features: [namespace_per_job]\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(s.fail_on, Severity::Medium);
        assert_eq!(s.runner_version, (17, 2));
        assert!(s.features.contains("namespace_per_job"));
    }

    #[test]
    fn bad_threshold_is_an_error() {
        let (_, errors) = load_text("fail-on: major\n");
        assert_eq!(errors[0].line, Some(1));
    }

    #[test]
    fn versions_and_dates() {
        assert_eq!(parse_version("v18.11.2"), Some((18, 11)));
        assert_eq!(parse_version("18"), Some((18, 0)));
        assert!(valid_date("2026-11-26"));
        assert!(!valid_date("2026-13-01"));
    }
}
