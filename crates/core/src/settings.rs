//! `.rbac-gate.yaml`: threshold, severity overrides, disabled rules, identity selectors, runner
//! version and features, exceptions, and the rendered output of charts. Unknown keys are errors with a line number, so a typo
//! never silently weakens the gate. The JSON Schema is `schema/rbac-gate.schema.json`.

use crate::api::{Options, Source};
use crate::report::{
    AppliedConfig, ExceptionInfo, FileError, JustificationPolicy, Severity, SeverityOverride,
};
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

/// A `rendered:` entry: the chart whose templates the gate does not read, and the file holding
/// what `helm template` made of it, which the gate judges instead. Both are paths relative to
/// the working directory, `/`-separated, as the inputs are named (`.` or `""` for the top).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub chart: String,
    pub output: String,
    /// Line of the entry in the config file.
    pub line: u32,
}

impl Rendered {
    /// Whether the templates of the chart at `dir` (an input's chart folder) are covered: the
    /// chart itself or a subchart below it, which `helm template` renders with it.
    pub fn covers_chart(&self, dir: &str) -> bool {
        self.chart.is_empty()
            || dir == self.chart
            || dir
                .strip_prefix(self.chart.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

/// `path` as inputs are named: `/`-separated, without `.` components, an empty string for the
/// top; `None` when it is absolute or climbs out with `..` (the host reads only below the
/// working directory).
pub fn relative_input_path(path: &str) -> Option<String> {
    let path = path.trim().replace('\\', "/");
    if path.starts_with('/') {
        return None;
    }
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

/// The `rendered:` entries of a config file, for a host that must read their outputs before
/// the check runs; the check itself reports what is wrong with them.
pub fn rendered_entries(config: &Source) -> Vec<Rendered> {
    load_proposed(Some(config)).0.rendered
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub fail_on: Severity,
    pub runner_version: (u32, u32),
    /// Who set `runner_version` (`--runner-version`, the config's `runner.version`); `None`:
    /// nobody, and each runner's version is read from the inputs where they say it
    /// ([`crate::runner::version`]), else [`NEWEST_RUNNER`].
    pub runner_version_from: Option<String>,
    /// Features forced on (`namespace_per_job`, `FF_PRINT_POD_EVENTS`, ...).
    pub features: BTreeSet<String>,
    /// Runner manager identities, as `namespace/name` of a ServiceAccount.
    pub runner_identities: Vec<String>,
    /// Job pod identities, as `namespace/name`.
    pub job_identities: Vec<String>,
    pub severity_overrides: BTreeMap<String, Severity>,
    pub disabled: BTreeSet<String>,
    pub exceptions: Vec<Exception>,
    /// `rendered:`: charts judged by their rendered output instead of their templates.
    pub rendered: Vec<Rendered>,
    pub justifications: JustificationPolicy,
    /// Namespaces named in `sensitive-namespaces`: jobs or a runner there are as critical as in
    /// the built-in [`SENSITIVE_NAMESPACES`].
    pub sensitive_namespaces: BTreeSet<String>,
    /// `default-namespace`: the namespace of kubectl's context, where a namespaced object
    /// without `metadata.namespace` lands when applied (`default` unless the config says).
    pub default_namespace: String,
    pub today: Option<String>,
    /// Path of the config file, for messages.
    pub path: Option<String>,
    /// Line of each setting in the config file, by a key naming it (`fail-on`,
    /// `disable/RG101`, `severity/RG101`, `justifications/max-days`, `identities/runner`, ...):
    /// a finding about a setting points at its line.
    pub lines: BTreeMap<String, u32>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            fail_on: Severity::High,
            runner_version: NEWEST_RUNNER,
            runner_version_from: None,
            features: BTreeSet::new(),
            runner_identities: Vec::new(),
            job_identities: Vec::new(),
            severity_overrides: BTreeMap::new(),
            disabled: BTreeSet::new(),
            exceptions: Vec::new(),
            rendered: Vec::new(),
            justifications: JustificationPolicy::default(),
            sensitive_namespaces: BTreeSet::new(),
            default_namespace: DEFAULT_NAMESPACE.to_string(),
            today: None,
            path: None,
            lines: BTreeMap::new(),
        }
    }
}

/// Namespaces of the control plane: `kube-system` runs the controllers (their ServiceAccounts
/// hold cluster-wide rights), `kube-public` is readable by everyone, `kube-node-lease` holds the
/// nodes' heartbeats.
pub const SENSITIVE_NAMESPACES: &[&str] = &["kube-system", "kube-public", "kube-node-lease"];

/// Where kubectl puts a namespaced object that names no namespace, unless its context says
/// otherwise.
pub const DEFAULT_NAMESPACE: &str = "default";

/// A namespace name as Kubernetes accepts it (an RFC 1123 label: lowercase letters, digits and
/// `-`, at most 63, starting and ending with a letter or digit).
pub fn valid_namespace(name: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    (1..=63).contains(&name.len())
        && name.chars().all(|c| alnum(c) || c == '-')
        && name.starts_with(alnum)
        && name.ends_with(alnum)
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

/// Days from `from` to `to` (both `YYYY-MM-DD`); `None` when either is not a date.
pub fn days_between(from: &str, to: &str) -> Option<i64> {
    Some(day_number(to)? - day_number(from)?)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn day_number(date: &str) -> Option<i64> {
    if !valid_date(date) {
        return None;
    }
    let year: i64 = date[..4].parse().ok()?;
    let month: i64 = date[5..7].parse().ok()?;
    let day: i64 = date[8..].parse().ok()?;
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
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
        errors.extend(read_config(cfg, &mut settings));
    }
    if let Some(f) = options.fail_on {
        settings.fail_on = f;
    }
    if let Some(v) = &options.runner_version {
        match parse_version(v) {
            Some(v) => {
                settings.runner_version = v;
                settings.runner_version_from = Some("`--runner-version`".to_string());
            }
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

/// Reads one config file into `settings`; returns its errors.
fn read_config(cfg: &Source, settings: &mut Settings) -> Vec<FileError> {
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
                apply(&mut l, &doc.root, settings);
            }
        }
    }
    l.errors
}

/// The config a merge request proposes, read on its own (command-line overrides do not
/// apply): what it would set once merged, to compare with the trusted one.
pub fn load_proposed(config: Option<&Source>) -> (Settings, Vec<FileError>) {
    let mut settings = Settings::default();
    let errors = match config {
        Some(cfg) => read_config(cfg, &mut settings),
        None => Vec::new(),
    };
    (settings, errors)
}

impl Settings {
    /// The rule's severity under this config.
    pub fn effective_severity(&self, code: &str, default: Severity) -> Severity {
        self.severity_overrides
            .get(code)
            .copied()
            .unwrap_or(default)
    }

    /// What the report shows of the policy that ran.
    pub fn applied(&self, revision: Option<&str>) -> AppliedConfig {
        let severity_overrides = self
            .severity_overrides
            .iter()
            .filter_map(|(code, to)| {
                let from = crate::rules::find(code)?.meta().severity;
                (from != *to).then(|| SeverityOverride {
                    rule: code.clone(),
                    from,
                    to: *to,
                })
            })
            .collect();
        AppliedConfig {
            path: self.path.clone(),
            revision: revision.map(str::to_string),
            fail_on: self.fail_on,
            disabled: self.disabled.iter().cloned().collect(),
            severity_overrides,
            exceptions: self
                .exceptions
                .iter()
                .map(|e| ExceptionInfo {
                    rule: e.rule.clone(),
                    object: e.object.clone(),
                    identity: e.identity.clone(),
                    reason: e.reason.clone(),
                    expires: e.expires.clone(),
                })
                .collect(),
            justifications: self.justifications,
        }
    }

    /// Whether jobs or a runner in `namespace` are critical: a built-in sensitive namespace or
    /// one the config lists.
    pub fn is_sensitive_namespace(&self, namespace: &str) -> bool {
        SENSITIVE_NAMESPACES.contains(&namespace) || self.sensitive_namespaces.contains(namespace)
    }

    /// Line of a setting in the config file (see [`Settings::lines`]); the file's first line
    /// when it is not written there.
    pub fn line_of(&self, key: &str) -> u32 {
        self.lines.get(key).copied().unwrap_or(1)
    }
}

const TOP_KEYS: &[&str] = &[
    "fail-on",
    "runner",
    "identities",
    "severity",
    "disable",
    "exceptions",
    "justifications",
    "sensitive-namespaces",
    "default-namespace",
    "rendered",
];

fn apply(l: &mut Loader, root: &Node, s: &mut Settings) {
    if !l.keys(root, TOP_KEYS, "the config file") {
        return;
    }
    for (key, value) in root.string_entries() {
        s.lines.insert(key.to_string(), value.pos.line);
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
                    s.lines.insert("runner/version".to_string(), v.pos.line);
                    match v.as_str().and_then(parse_version) {
                        Some(ver) => {
                            s.runner_version = ver;
                            s.runner_version_from =
                                Some("`runner.version` in the gate's config".to_string());
                        }
                        None => l.err(v, "`runner.version` must look like \"18.0\""),
                    }
                }
                if let Some(f) = value.get("features") {
                    for item in f.as_seq().unwrap_or(&[]) {
                        if let Some(name) = item.as_str() {
                            s.lines.insert(format!("runner/features/{name}"), item.pos.line);
                        }
                    }
                    s.features.extend(l.strings(f, "`runner.features`"));
                }
            }
            "identities" => {
                if !l.keys(value, &["runner", "jobs"], "`identities`") {
                    continue;
                }
                if let Some(r) = value.get("runner") {
                    s.lines.insert("identities/runner".to_string(), r.pos.line);
                    s.runner_identities = l.strings(r, "`identities.runner`");
                }
                if let Some(j) = value.get("jobs") {
                    s.lines.insert("identities/jobs".to_string(), j.pos.line);
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
                                let code = rule.meta().code.to_string();
                                s.lines.insert(format!("severity/{code}"), node.pos.line);
                                s.severity_overrides.insert(code, sev);
                            }
                            None => l.err(node, format!("unknown rule `{code}` in `severity`")),
                        }
                    }
                }
            }
            "disable" => {
                let items = value.as_seq().unwrap_or(&[]);
                for (i, code) in l.strings(value, "`disable`").into_iter().enumerate() {
                    let node = items.get(i).unwrap_or(value);
                    match crate::rules::find(&code) {
                        Some(rule) => {
                            let code = rule.meta().code.to_string();
                            s.lines.insert(format!("disable/{code}"), node.pos.line);
                            s.disabled.insert(code);
                        }
                        None => l.err(node, format!("unknown rule `{code}` in `disable`")),
                    }
                }
            }
            "justifications" => justifications(l, value, s),
            "rendered" => rendered(l, value, s),
            "sensitive-namespaces" => {
                let items = value.as_seq().unwrap_or(&[]);
                for (i, ns) in l
                    .strings(value, "`sensitive-namespaces`")
                    .into_iter()
                    .enumerate()
                {
                    let node = items.get(i).unwrap_or(value);
                    if valid_namespace(&ns) {
                        s.lines
                            .insert(format!("sensitive-namespaces/{ns}"), node.pos.line);
                        s.sensitive_namespaces.insert(ns);
                    } else {
                        l.err(node, format!("`sensitive-namespaces`: `{ns}` is not a namespace name (lowercase letters, digits and `-`)"));
                    }
                }
            }
            "default-namespace" => match value.as_str() {
                Some(ns) if valid_namespace(ns) => s.default_namespace = ns.to_string(),
                _ => l.err(
                    value,
                    "`default-namespace` must be a namespace name (lowercase letters, digits and `-`), the namespace of the kubectl context the manifests are applied with",
                ),
            },
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

/// The [`Settings::lines`] key of a `rendered:` entry.
pub fn rendered_line_key(chart: &str, output: &str) -> String {
    format!("rendered/{chart}/{output}")
}

/// `rendered: [{chart, output}]`.
fn rendered(l: &mut Loader, value: &Node, s: &mut Settings) {
    let Some(items) = value.as_seq() else {
        l.err(
            value,
            "`rendered` must be a list of `{chart: CHART_DIR, output: FILE}`",
        );
        return;
    };
    for item in items {
        if !l.keys(item, &["chart", "output"], "a `rendered` entry") {
            continue;
        }
        let mut path = |key: &str| {
            let Some(node) = item.get(key) else {
                l.err(item, format!("a `rendered` entry needs `{key}`"));
                return None;
            };
            let found = node.as_str().and_then(relative_input_path);
            if found.is_none() {
                l.err(
                    node,
                    format!(
                        "`rendered` `{key}` must be a path relative to the working directory, \
                         without `..`"
                    ),
                );
            }
            found
        };
        let (Some(chart), Some(output)) = (path("chart"), path("output")) else {
            continue;
        };
        if output.is_empty() {
            l.err(item, "`rendered` `output` must name a file");
            continue;
        }
        s.lines
            .insert(rendered_line_key(&chart, &output), item.pos.line);
        s.rendered.push(Rendered {
            chart,
            output,
            line: item.pos.line,
        });
    }
}

/// `justifications: {allowed, max-severity, require-expiry, max-days}`.
fn justifications(l: &mut Loader, value: &Node, s: &mut Settings) {
    const KEYS: &[&str] = &["allowed", "max-severity", "require-expiry", "max-days"];
    if !l.keys(value, KEYS, "`justifications`") {
        return;
    }
    let j = &mut s.justifications;
    for (key, node) in value.string_entries() {
        s.lines
            .insert(format!("justifications/{key}"), node.pos.line);
        match key {
            "allowed" | "require-expiry" => match node.as_bool() {
                Some(b) if key == "allowed" => j.allowed = b,
                Some(b) => j.require_expiry = b,
                None => l.err(
                    node,
                    format!("`justifications.{key}` must be true or false"),
                ),
            },
            "max-severity" => {
                if let Some(sev) = l.severity(node, "`justifications.max-severity`") {
                    j.max_severity = sev;
                }
            }
            "max-days" => match node.as_str().and_then(|v| v.parse::<u32>().ok()) {
                Some(days) => j.max_days = days,
                None => l.err(
                    node,
                    "`justifications.max-days` must be a whole number of days",
                ),
            },
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
        assert_eq!(days_between("1970-01-01", "1970-01-02"), Some(1));
        assert_eq!(days_between("2026-12-06", "2027-12-06"), Some(365));
        assert_eq!(
            days_between("2028-02-28", "2028-03-01"),
            Some(2),
            "leap year"
        );
        assert_eq!(days_between("2026-12-06", "2026-01-01"), Some(-339));
        assert_eq!(days_between("2026-12-06", "soon"), None);
    }

    #[test]
    fn namespace_settings_are_read_and_checked() {
        let (s, errors) =
            load_text("sensitive-namespaces: [platform, ops]\ndefault-namespace: ci\n");
        assert!(errors.is_empty(), "{errors:?}");
        assert!(s.is_sensitive_namespace("platform"));
        assert!(s.is_sensitive_namespace("kube-system"), "built in");
        assert!(!s.is_sensitive_namespace("ci"));
        assert_eq!(s.default_namespace, "ci");
        assert_eq!(s.line_of("sensitive-namespaces/ops"), 1);
        assert_eq!(Settings::default().default_namespace, "default");
        let (_, errors) = load_text("sensitive-namespaces: [Bad_Name]\ndefault-namespace: [ci]\n");
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors[0].line, Some(1));
        assert!(!valid_namespace("-ci") && !valid_namespace("") && valid_namespace("ci-1"));
    }

    #[test]
    fn rendered_entries_are_read_and_checked() {
        let (s, errors) = load_text(
            "rendered:\n  - chart: ./charts/web/\n    output: rendered/web.yaml\n  - {chart: ., output: all.yaml}\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            s.rendered,
            vec![
                Rendered {
                    chart: "charts/web".into(),
                    output: "rendered/web.yaml".into(),
                    line: 2
                },
                Rendered {
                    chart: String::new(),
                    output: "all.yaml".into(),
                    line: 4
                },
            ]
        );
        assert!(s.rendered[0].covers_chart("charts/web"));
        assert!(s.rendered[0].covers_chart("charts/web/charts/db"));
        assert!(!s.rendered[0].covers_chart("charts/webapp"));
        assert!(s.rendered[1].covers_chart("anything"));
        let (s, errors) = load_text(
            "rendered:\n  - {chart: charts/web, output: ../x.yaml}\n  - {chart: /abs, output: a.yaml}\n  - {chart: c}\n  - {chart: c, output: o.yaml, values: v}\n",
        );
        assert_eq!(
            s.rendered.len(),
            1,
            "only the entry with an unknown key stays"
        );
        assert_eq!(
            errors.iter().map(|e| e.line).collect::<Vec<_>>(),
            vec![Some(2), Some(3), Some(4), Some(5)],
            "{errors:?}"
        );
        assert_eq!(load_text("rendered: web\n").1.len(), 1);
    }

    #[test]
    fn justification_limits_are_read() {
        let (s, errors) = load_text(
            "justifications:\n  allowed: true\n  max-severity: medium\n  require-expiry: true\n  max-days: 90\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(s.justifications.max_severity, Severity::Medium);
        assert!(s.justifications.require_expiry);
        assert_eq!(s.justifications.max_days, 90);
        assert_eq!(s.line_of("justifications/max-days"), 5);
        let (_, errors) =
            load_text("justifications:\n  allowed: maybe\n  max-days: -1\n  typo: 1\n");
        assert_eq!(errors.len(), 3, "{errors:?}");
    }
}
