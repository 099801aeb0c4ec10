//! The report: what every host renders. Its JSON form is versioned (`schema`).

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Version of the JSON report layout. Bump on any breaking change.
pub const REPORT_SCHEMA: &str = "rbac-gate/report/v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|sev| sev.as_str() == s)
    }

    /// GitLab Code Quality severity names.
    pub fn code_quality(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "minor",
            Severity::Medium => "major",
            Severity::High => "critical",
            Severity::Critical => "blocker",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Grants or settings that expose the cluster.
    Unsafe,
    /// Permissions the runner needs and lacks: CI breaks.
    Missing,
    /// Dead references, typos, deprecated objects.
    Hygiene,
}

/// Why an otherwise failing finding is accepted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Acceptance {
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// `annotation` (on the object) or `config` (an exception in `.rbac-gate.yaml`).
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Borrowed from the rule's metadata when the core builds the finding (a report may hold
    /// 100,000 findings, and two small allocations each added 5 MB); owned when read back.
    pub code: Cow<'static, str>,
    pub rule: Cow<'static, str>,
    pub severity: Severity,
    pub category: Category,
    pub message: String,
    /// The concrete fix.
    pub help: String,
    pub path: String,
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    /// The object the finding is anchored on, e.g. `ClusterRole/gitlab-runner`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// The identity concerned, e.g. `system:serviceaccount:ci:gitlab-runner`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// Escalation path, step by step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<String>,
    /// Stable across line moves: derived from rule, path, object, identity and subject matter.
    pub fingerprint: String,
    /// Boxed: rarely set, and a report can hold 100,000 findings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted: Option<Box<Acceptance>>,
    /// The rule's own severity when the config's `severity:` changed it: every format shows
    /// that an override, not the rule, decided how much this finding counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overridden_from: Option<Severity>,
}

impl Finding {
    /// Whether the finding counts against the fail threshold.
    pub fn fails(&self, threshold: Severity) -> bool {
        self.accepted.is_none() && self.severity >= threshold
    }
}

/// A file (or a document in it) that could not be read or understood.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileError {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    pub message: String,
}

/// One effective permission of an identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionRow {
    /// A namespace name, or `*` for every namespace (cluster-wide).
    pub namespace: String,
    pub api_group: String,
    pub resource: String,
    pub verbs: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_names: Vec<String>,
    /// `needed` (the runner uses it), `excess`, `missing`, or `granted` (not a runner identity).
    pub status: String,
    /// Binding and role that grant it, e.g. `RoleBinding ci/runner -> Role ci/runner`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub via: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityReport {
    /// Canonical name, e.g. `system:serviceaccount:ci:gitlab-runner` or `group:system:authenticated`.
    pub id: String,
    /// `runner-manager`, `job`, `workload`, `subject`.
    pub roles: Vec<String>,
    pub permissions: Vec<PermissionRow>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub escalations: Vec<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub files: usize,
    pub documents: usize,
    pub objects: usize,
    /// Objects of kinds the gate does not judge (custom resources, unrelated kinds).
    pub skipped: usize,
    pub findings: usize,
    pub failing: usize,
    pub accepted: usize,
    pub errors: usize,
    pub by_severity: BTreeMap<String, usize>,
    /// Input objects identical to Kubernetes' bootstrap policy ("Kubernetes defaults"): they
    /// exist in every cluster, so nothing anchored on them is reported.
    #[serde(default)]
    pub defaults: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyInfo {
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// How far an annotation (`rbac-gate.dev/justification`) may accept a finding. Set only in
/// the config: a merge request can annotate its own objects, so what an annotation can accept
/// is the config owner's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct JustificationPolicy {
    /// Whether annotations accept anything at all.
    pub allowed: bool,
    /// The most severe finding an annotation can accept; above it only a config exception can.
    pub max_severity: Severity,
    /// An annotation without `rbac-gate.dev/justification-expires` accepts nothing.
    pub require_expiry: bool,
    /// The furthest an annotation's expiry may lie ahead of today, in days.
    pub max_days: u32,
}

impl Default for JustificationPolicy {
    fn default() -> Self {
        JustificationPolicy {
            allowed: true,
            max_severity: Severity::High,
            require_expiry: false,
            max_days: 365,
        }
    }
}

/// A config `severity:` entry that changed a rule's severity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityOverride {
    pub rule: String,
    pub from: Severity,
    pub to: Severity,
}

/// A config `exceptions:` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionInfo {
    pub rule: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// The policy the gate ran with: where its config came from and everything in it that departs
/// from the defaults, so that no format hides a disabled rule, an override or an exception.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedConfig {
    /// The config file; `None`: the built-in defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The trusted revision the config was read from (`--config-from-rev`), not the tree under
    /// check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    pub fail_on: Severity,
    /// Codes of the rules that did not run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disabled: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity_overrides: Vec<SeverityOverride>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exceptions: Vec<ExceptionInfo>,
    pub justifications: JustificationPolicy,
}

impl Default for AppliedConfig {
    fn default() -> Self {
        AppliedConfig {
            path: None,
            revision: None,
            fail_on: Severity::High,
            disabled: Vec::new(),
            severity_overrides: Vec::new(),
            exceptions: Vec::new(),
            justifications: JustificationPolicy::default(),
        }
    }
}

impl AppliedConfig {
    /// One line per departure from the defaults, for the text summary and JUnit properties:
    /// empty when the defaults ran.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let source = match (&self.path, &self.revision) {
            (Some(path), Some(rev)) if path.starts_with(rev.as_str()) => {
                format!("config {path} (from the trusted revision, not the tree under check)")
            }
            (Some(path), Some(rev)) => format!("config {path} as of {rev}"),
            (Some(path), None) => format!("config {path}"),
            (None, Some(rev)) => format!("built-in defaults (no config at {rev})"),
            (None, None) => "built-in defaults".to_string(),
        };
        lines.push(format!("{source}; fail-on {}", self.fail_on.as_str()));
        if !self.disabled.is_empty() {
            lines.push(format!("disabled rules: {}", self.disabled.join(", ")));
        }
        for o in &self.severity_overrides {
            lines.push(format!(
                "severity override: {} {} -> {}",
                o.rule,
                o.from.as_str(),
                o.to.as_str()
            ));
        }
        for e in &self.exceptions {
            let mut scope = Vec::new();
            if let Some(object) = &e.object {
                scope.push(format!("object {object}"));
            }
            if let Some(identity) = &e.identity {
                scope.push(format!("identity {identity}"));
            }
            if scope.is_empty() {
                scope.push("every object".to_string());
            }
            let expires = e
                .expires
                .as_deref()
                .map(|x| format!(", expires {x}"))
                .unwrap_or_default();
            lines.push(format!(
                "exception: {} for {}{expires}: {}",
                e.rule,
                scope.join(", "),
                e.reason
            ));
        }
        let j = &self.justifications;
        if *j != JustificationPolicy::default() {
            lines.push(if j.allowed {
                format!(
                    "justification annotations: up to {}, expiry {}, at most {} days ahead",
                    j.max_severity.as_str(),
                    if j.require_expiry {
                        "required"
                    } else {
                        "optional"
                    },
                    j.max_days
                )
            } else {
                "justification annotations: not accepted".to_string()
            });
        }
        lines
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    /// The policy (core) that produced the report; hosts add the module digest.
    pub policy: PolicyInfo,
    /// The config that policy ran with.
    #[serde(default)]
    pub config: AppliedConfig,
    pub fail_on: Severity,
    /// `pass`, `fail` or `error`; the exit code follows from it (0, 1, 2).
    pub verdict: String,
    pub findings: Vec<Finding>,
    pub identities: Vec<IdentityReport>,
    pub errors: Vec<FileError>,
    /// Skipped kinds and how many objects of each.
    pub skipped_kinds: BTreeMap<String, usize>,
    pub counts: Counts,
}

impl Report {
    /// 0: pass, 1: a finding at or above the threshold, 2: an error (takes precedence).
    pub fn exit_code(&self) -> i32 {
        match self.verdict.as_str() {
            "pass" => 0,
            "fail" => 1,
            _ => 2,
        }
    }
}

/// Fingerprint: 128-bit FNV-1a over the parts, hex. Not cryptographic; stable across platforms
/// and releases, and free of line numbers so moving code keeps the GitLab MR diff quiet.
pub fn fingerprint(parts: &[&str]) -> String {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut a: u64 = 0xcbf2_9ce4_8422_2325;
    let mut b: u64 = 0x6c62_272e_07bb_0142;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0xff)) {
            a ^= u64::from(byte);
            a = a.wrapping_mul(PRIME);
            b ^= u64::from(byte.rotate_left(3));
            b = b.wrapping_mul(PRIME);
        }
    }
    format!("{a:016x}{b:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_order_and_names() {
        assert!(Severity::Critical > Severity::High);
        assert_eq!(Severity::parse("medium"), Some(Severity::Medium));
        assert_eq!(Severity::Medium.code_quality(), "major");
        assert_eq!(Severity::parse("major"), None);
    }

    #[test]
    fn fingerprint_is_stable_and_part_sensitive() {
        assert_eq!(fingerprint(&["a", "b"]), fingerprint(&["a", "b"]));
        assert_ne!(fingerprint(&["a", "b"]), fingerprint(&["ab", ""]));
        assert_eq!(fingerprint(&["x"]).len(), 32);
    }
}
