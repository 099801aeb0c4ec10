//! `explain_error`: turns the Kubernetes API errors that show up in job logs into their cause,
//! the runner feature that needed the permission, the minimal rule to add and, when manifests
//! are given, the Role to edit (file and line).
//!
//! Recognised: RBAC denials (`... is forbidden: User "..." cannot VERB resource "R" in API group
//! "G" in the namespace "NS"`, the older `cannot VERB R in the namespace "NS"` form and
//! non-resource `cannot get path "/x"`), `Unauthorized`, `the server has asked for the client to
//! provide credentials`, expired or invalidated tokens, and expired client certificates. The
//! permission knowledge is the needs table ([`crate::runner::permissions::TABLE`]).

use crate::api::{Options, Source};
use crate::authz::{self, resources, Authz, Identity, Scope};
use crate::model::{BindingKind, Inventory, Origin, RoleKind};
use crate::report::FileError;
use crate::runner::permissions::{self, NeedSpec};
use crate::runner::{self, Impact, RunnerModel};
use crate::settings::{self, Settings};
use serde::{Deserialize, Serialize};

pub const EXPLAIN_SCHEMA: &str = "rbac-gate/explain/v1";

/// At most this many distinct errors are explained per message (a whole job log may repeat one
/// error thousands of times; duplicates are folded first).
const MAX_EXPLANATIONS: usize = 50;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExplainRequest {
    /// The error text: one message or a whole job log.
    pub message: String,
    /// Manifests (and runner config / Helm values) to find the Role to edit in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Source>,
    /// `.rbac-gate.yaml` (runner version, features, identities) and `runner_version`.
    #[serde(default)]
    pub options: Options,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// RBAC denied a request (HTTP 403).
    Forbidden,
    /// The API server did not accept the credentials (HTTP 401).
    Unauthorized,
    /// The token expired or was invalidated.
    TokenExpired,
    /// The client certificate expired (or is not yet valid).
    CertificateExpired,
}

/// A runner feature that needs the denied permission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureNeed {
    pub feature: String,
    /// `required` (every job), `feature` or `optional` (the runner degrades gracefully).
    pub impact: String,
    /// What breaks without it.
    pub breaks: String,
    /// Runner versions that need it: `runner 12.9+`, `runner 12.9–15.7`, `every runner version`.
    pub versions: String,
    /// Whether the runner (version and features from the options or the manifests) uses it.
    pub applies: bool,
}

/// Where to make the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edit {
    pub path: String,
    pub line: u32,
    /// `Role ci/gitlab-runner`, `RoleBinding ci/x`, `Helm values rbac.rules`, ...
    pub object: String,
    /// What to do there.
    pub action: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    pub kind: ErrorKind,
    /// The part of the input this explains.
    pub excerpt: String,
    /// How often the same error appears in the input.
    pub occurrences: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// `runner-manager`, `job`, or `unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verb: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_group: Option<String>,
    /// `pods/attach` (subresources included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `None`: cluster scope (or not a resource request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Non-resource requests: the path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// What the user sees, in failure-mode terms (`jobs fail to start: ...`).
    pub failure: String,
    /// Why it happens.
    pub cause: String,
    /// Runner features that need the permission (empty: the runner never makes this request).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<FeatureNeed>,
    /// The minimal rule to add (YAML), for forbidden requests.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub rule: String,
    /// `namespaced` (a Role in the namespace) or `cluster` (a ClusterRole with a
    /// ClusterRoleBinding).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The fix in words.
    pub fix: String,
    /// With manifests: where to make the change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edits: Vec<Edit>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExplainResponse {
    pub schema: String,
    pub explanations: Vec<Explanation>,
    /// Distinct errors beyond [`MAX_EXPLANATIONS`] that were not explained.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted: usize,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FileError>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A parsed RBAC denial.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Denial {
    pub user: String,
    pub verb: String,
    pub group: String,
    pub resource: String,
    pub name: Option<String>,
    pub namespace: Option<String>,
    /// Non-resource requests.
    pub path: Option<String>,
    pub reason: Option<String>,
}

/// `\"` and `\\\"` (JSON-escaped logs) become `"`.
fn unescape(text: &str) -> String {
    text.replace("\\\\\\\"", "\"").replace("\\\"", "\"")
}

/// The quoted string starting at `s` (which must start with `"`), and the rest after it.
fn quoted(s: &str) -> Option<(&str, &str)> {
    let rest = s.strip_prefix('"')?;
    let end = rest.find('"')?;
    Some((&rest[..end], &rest[end + 1..]))
}

/// `pods`, `deployments.apps`, `pods.metrics.k8s.io` → (group, resource).
fn qualified(token: &str) -> (String, String) {
    match token.split_once('.') {
        Some((res, group)) => (group.to_string(), res.to_string()),
        None => (String::new(), token.to_string()),
    }
}

/// Parses every `... is forbidden: User "U" cannot ...` in `text`, with the span it covers.
pub fn parse_denials(text: &str) -> Vec<(Denial, String)> {
    parse_with_lines(text)
        .into_iter()
        .map(|(d, e, _)| (d, e))
        .collect()
}

/// Denials with the line each was found on.
fn parse_with_lines(text: &str) -> Vec<(Denial, String, &str)> {
    let mut out = Vec::new();
    let mut from = 0;
    const MARK: &str = "forbidden: User \"";
    while let Some(pos) = text[from..].find(MARK) {
        let at = from + pos;
        from = at + MARK.len();
        let Some((d, excerpt)) = parse_one(text, at) else {
            continue;
        };
        out.push((d, excerpt, line_at(text, at)));
    }
    out
}

fn parse_one(text: &str, at: usize) -> Option<(Denial, String)> {
    // The excerpt starts at the qualified resource before ` is forbidden`, if any.
    let before = &text[..at];
    let mut start = at;
    let mut first_name = None;
    let mut first_res = None;
    if let Some(b) = before.strip_suffix(" is ") {
        let mut head = b;
        if let Some(h) = head.strip_suffix('"') {
            if let Some(q) = h.rfind('"') {
                first_name = Some(h[q + 1..].to_string());
                head = h[..q].trim_end();
            }
        }
        let tok_start = head
            .rfind(|c: char| c.is_whitespace() || c == ':' || c == '(' || c == '"')
            .map_or(0, |i| i + 1);
        let tok = &head[tok_start..];
        if !tok.is_empty()
            && tok
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        {
            first_res = Some(tok.to_string());
            start = tok_start;
        }
    }
    let after = &text[at + "forbidden: User ".len()..];
    let (user, rest) = quoted(after)?;
    let rest = rest.strip_prefix(" cannot ")?;
    let (verb, rest) = rest.split_once(' ')?;
    let mut d = Denial {
        user: user.to_string(),
        verb: verb.to_string(),
        group: String::new(),
        resource: String::new(),
        name: first_name,
        namespace: None,
        path: None,
        reason: None,
    };
    let mut rest = rest;
    if let Some(r) = rest.strip_prefix("path ") {
        let (path, r) = quoted(r)?;
        d.path = Some(path.to_string());
        rest = r;
    } else if let Some(r) = rest.strip_prefix("resource ") {
        let (res, r) = quoted(r)?;
        d.resource = res.to_string();
        rest = r;
        if let Some(r) = rest.strip_prefix(" in API group ") {
            let (g, r) = quoted(r)?;
            d.group = g.to_string();
            rest = r;
        }
    } else {
        // Kubernetes before 1.12: `cannot create pods/exec in the namespace "ci"`.
        let end = rest
            .find(|c: char| c.is_whitespace() || c == ':')
            .unwrap_or(rest.len());
        let res = &rest[..end];
        if res.is_empty() {
            return None;
        }
        let (g, r) = qualified(res);
        d.group = g;
        d.resource = r;
        rest = &rest[end..];
    }
    if d.path.is_none() && d.group.is_empty() {
        if let Some((g, _)) = first_res.as_deref().map(qualified) {
            if !g.is_empty() && resources::split(&d.resource).1.is_none() {
                d.group = g;
            }
        }
    }
    if let Some(r) = rest.strip_prefix(" in the namespace ") {
        let (ns, r) = quoted(r)?;
        d.namespace = Some(ns.to_string());
        rest = r;
    } else if let Some(r) = rest.strip_prefix(" at the cluster scope") {
        rest = r;
    }
    if let Some(r) = rest.strip_prefix(": ") {
        let end = r.find(['\n', '\r']).unwrap_or(r.len());
        let reason = r[..end].trim();
        // Stop at the runner's own suffixes.
        let reason = reason
            .split(". Check https://")
            .next()
            .unwrap_or(reason)
            .trim_end_matches(['.', '"', '\'']);
        if !reason.is_empty() {
            d.reason = Some(reason.chars().take(300).collect());
        }
        rest = &r[end..];
    }
    let end = text.len() - rest.len();
    Some((d, text[start..end].trim().to_string()))
}

/// The line of `text` around byte `at`.
fn line_at(text: &str, at: usize) -> &str {
    let at = at.min(text.len());
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    &text[start..end]
}

/// Whether the request is about an object the runner creates per job: build pods and their
/// credentials Secrets are named `runner-<token>-project-<id>-concurrent-<n>...`.
fn build_pod_object(d: &Denial) -> bool {
    let res = resources::split(&d.resource).0;
    matches!(res, "pods" | "secrets" | "services")
        && d.name.as_deref().is_some_and(|n| n.starts_with("runner-"))
}

/// A ServiceAccount named for the runner manager (`gitlab-runner`, `runner`), not for its jobs.
fn named_like_runner(id: &Identity) -> bool {
    match id {
        Identity::ServiceAccount { name, .. } => {
            name.contains("runner")
                && !["job", "executor", "build", "ci-"]
                    .iter()
                    .any(|x| name.contains(x))
        }
        _ => false,
    }
}

/// Whether the runner itself reported the error (a system failure while preparing the job),
/// rather than a job script.
fn runner_reported(line: &str) -> bool {
    line.contains("system failure") || line.contains("prepare environment")
}

/// Authentication failures: (kind, matched text, cause, fix).
const AUTH_PATTERNS: &[(&str, ErrorKind)] = &[
    (
        "the server has asked for the client to provide credentials",
        ErrorKind::Unauthorized,
    ),
    (
        "You must be logged in to the server",
        ErrorKind::Unauthorized,
    ),
    ("invalid bearer token", ErrorKind::Unauthorized),
    ("token has expired", ErrorKind::TokenExpired),
    ("token is expired", ErrorKind::TokenExpired),
    ("Token has expired", ErrorKind::TokenExpired),
    ("token has been invalidated", ErrorKind::TokenExpired),
    (
        "service account token has been invalidated",
        ErrorKind::TokenExpired,
    ),
    (
        "certificate has expired or is not yet valid",
        ErrorKind::CertificateExpired,
    ),
    ("Unauthorized", ErrorKind::Unauthorized),
];

fn auth_explanation(kind: ErrorKind, excerpt: String, ctx: &Context) -> Explanation {
    let failure = "every API call fails: jobs fail to start (`ERROR: Job failed (system failure): prepare environment: ...`), before RBAC is even consulted".to_string();
    let (cause, fix) = match kind {
        ErrorKind::Unauthorized => (
            "Authentication, not RBAC: the API server did not accept the credentials the runner sent (HTTP 401). Usual causes: the runner pod has no ServiceAccount token (`automountServiceAccountToken: false` on the manager's pod or ServiceAccount, or the Helm chart's top-level `automountServiceAccountToken: false`); a static `bearer_token` in config.toml (or `KUBERNETES_BEARER_TOKEN`) whose ServiceAccount or token Secret was deleted or recreated; a legacy token Secret invalidated by Kubernetes (LegacyServiceAccountTokenCleanUp, 1.29+); a token from another cluster than `host`; or, with `bearer_token_overwrite_allowed`, a job that sent a bad token.".to_string(),
            "Run the runner in the cluster with its own ServiceAccount and no `host`/`bearer_token`: client-go then reads the projected token, which the kubelet rotates. Keep token automounting on for the manager (off only for job pods). Out of the cluster, use a credential plugin or a kubeconfig that refreshes, and replace a deleted token.".to_string(),
        ),
        ErrorKind::TokenExpired => (
            "The token expired or was invalidated: a bound token from `kubectl create token` (1 hour by default) or a projected token copied out of a pod into config.toml or a kubeconfig stops working when it expires; an OIDC id-token expires the same way; a legacy Secret token is invalidated once Kubernetes cleans up unused ones.".to_string(),
            "Do not copy tokens into config.toml: in the cluster, let the runner read its projected token (rotated and re-read by client-go); outside, use an exec credential plugin. A longer `--duration` only postpones the failure.".to_string(),
        ),
        ErrorKind::CertificateExpired => (
            "TLS, not RBAC: a client certificate (`cert_file` in config.toml, or `client-certificate-data` in a kubeconfig) expired, or the clock is wrong. It can also be the API server's certificate as the client sees it.".to_string(),
            "Issue a new client certificate (or switch to a ServiceAccount token), and check the clocks of the runner host and the API server.".to_string(),
        ),
        ErrorKind::Forbidden => (String::new(), String::new()),
    };
    let mut e = Explanation {
        kind,
        excerpt,
        occurrences: 1,
        identity: None,
        identity_role: None,
        verb: None,
        api_group: None,
        resource: None,
        name: None,
        namespace: None,
        path: None,
        failure,
        cause,
        features: Vec::new(),
        rule: String::new(),
        scope: None,
        fix,
        edits: Vec::new(),
        notes: Vec::new(),
    };
    if let Some(c) = &ctx.checked {
        // The findings about the runner's credentials point at the place to change.
        let wanted: &[&str] = match kind {
            ErrorKind::CertificateExpired => &["RG402"],
            _ => &["RG204", "RG403", "RG401", "RG402", "RG305"],
        };
        for f in c.findings.iter().filter(|f| wanted.contains(&&*f.code)) {
            e.edits.push(Edit {
                path: f.path.clone(),
                line: f.line,
                object: f.object.clone().unwrap_or_else(|| f.rule.to_string()),
                action: format!("{} ({}): {}", f.code, f.rule, f.message),
            });
        }
    }
    e
}

/// Runner versions a needs row covers: `runner 12.9+`, `runner 12.9–15.7`, or
/// `every runner version`.
fn versions(s: &NeedSpec) -> String {
    match (s.since, s.until) {
        ((0, 0), None) => "every runner version".to_string(),
        ((0, 0), Some((a, b))) => format!("runner up to {a}.{b}"),
        ((x, y), None) => format!("runner {x}.{y}+"),
        ((x, y), Some((a, b))) => format!("runner {x}.{y}–{a}.{b}"),
    }
}

/// What the runner's history says about a permission (the known breakages, gitlab-runner-rbac.md §5).
fn history(group: &str, resource: &str, verb: &str) -> Option<&'static str> {
    Some(match (group, resource, verb) {
        ("", "pods/attach", "create") => "Runner 14.0 made the attach strategy the default (!2955): Roles written for the exec strategy lack `pods/attach`. The 17.0–17.6 docs also listed verbs `attach`/`exec` on `pods`, which grant nothing. (Turning FF_USE_LEGACY_KUBERNETES_EXECUTION_STRATEGY on hides the error but keeps a deprecated strategy.)",
        ("", "events", "list") => "Runner 16.2.0 started reading pod warning events (!4211) and broke setups without `events list`; 16.2.1 put it behind FF_RETRIEVE_POD_WARNING_EVENTS, 17.2 attempted it always, 18.0 made it `print_pod_warning_events` (on by default). Grant it, or set `print_pod_warning_events = false`.",
        ("", "serviceaccounts", "get") => "Runner 15.0.0 checked the job ServiceAccount before creating the pod (!3399, issue 27664); 15.0.1/15.1.1 turned the check off by default (!3513). Now only with `resource_availability_check_max_attempts > 0`.",
        ("", "pods/log", "get") => "`pods/log get` is needed for CI_DEBUG_SERVICES (added in 16.5, !4412), FF_KUBERNETES_HONOR_ENTRYPOINT, FF_WAIT_FOR_POD_TO_BE_REACHABLE and FF_CONCRETE. Roles copied from the 17.0–17.1 docs name `pods/logs`, which matches nothing.",
        ("", "pods", "list") | ("", "pods", "watch") => "Runner 17.9 added a pod informer (!5290): without `list`/`watch` on pods it logs a warning and polls instead, so jobs still run. Grant both to silence it.",
        ("", "namespaces", "create") | ("", "namespaces", "delete") => "`namespace_per_job` creates and deletes a namespace per job. Namespaces are cluster-scoped: a Role cannot grant them (Kubernetes ignores it); it takes a ClusterRole bound with a ClusterRoleBinding.",
        ("", "configmaps", _) => "Runners up to 15.7 kept attach-mode scripts in ConfigMaps; runners after 19.3 use them for suspendable environments (FF_SUSPENDABLE_ENVIRONMENTS; the Kubernetes code landed after v19.3.0). Anything else asking for ConfigMaps is a job script, not the runner (see werf/werf#4409).",
        _ => return None,
    })
}

/// The rows of the needs table a request matches, best first.
pub(crate) fn matching_needs(
    group: &str,
    resource: &str,
    verb: &str,
    version: (u32, u32),
    model_needs: Option<&[runner::Need]>,
) -> Vec<FeatureNeed> {
    let mut rows: Vec<(&NeedSpec, bool)> = permissions::TABLE
        .iter()
        .filter(|s| s.group == group && s.resource == resource && s.verbs.contains(&verb))
        .map(|s| {
            let in_version = s.since <= version && s.until.is_none_or(|u| version <= u);
            let applies = in_version
                && match model_needs {
                    Some(needs) => needs.iter().any(|n| {
                        n.group == s.group
                            && n.resource == s.resource
                            && n.feature == s.feature
                            && n.verbs.contains(&verb)
                    }),
                    None => permissions::applicable(version, &default_features(version))
                        .iter()
                        .any(|a| {
                            a.group == s.group
                                && a.resource == s.resource
                                && a.feature == s.feature
                                && a.since == s.since
                                && a.verbs == s.verbs
                        }),
                };
            (s, applies)
        })
        .collect();
    rows.sort_by_key(|(s, applies)| (!applies, s.impact));
    rows.into_iter()
        .map(|(s, applies)| FeatureNeed {
            feature: s.feature.to_string(),
            impact: match s.impact {
                Impact::Required => "required",
                Impact::Feature => "feature",
                Impact::Optional => "optional",
            }
            .to_string(),
            breaks: s.breaks.to_string(),
            versions: versions(s),
            applies,
        })
        .collect()
}

fn default_features(version: (u32, u32)) -> std::collections::BTreeSet<String> {
    let mut set = std::collections::BTreeSet::new();
    set.insert(permissions::feature::PRINT_POD_WARNING_EVENTS.to_string());
    if version < (14, 0) {
        set.insert(permissions::feature::LEGACY_EXEC.to_string());
    }
    set
}

/// Manifests, analysed once for all explanations.
struct Context {
    settings: Settings,
    inv: Option<Inventory>,
    authz: Option<Authz>,
    model: Option<RunnerModel>,
    checked: Option<crate::report::Report>,
    sources: Vec<Source>,
}

impl Context {
    fn path(&self, file: usize) -> String {
        self.sources
            .get(file)
            .map_or_else(|| "<builtin>".to_string(), |s| s.path.clone())
    }
}

fn identity_of(user: &str) -> Identity {
    match user
        .strip_prefix("system:serviceaccount:")
        .and_then(|r| r.split_once(':'))
    {
        Some((ns, name)) => Identity::sa(ns, name),
        None => Identity::User(user.to_string()),
    }
}

fn rule_yaml(group: &str, resource: &str, verb: &str, name: Option<&str>) -> String {
    let _ = name;
    format!("- apiGroups: [\"{group}\"]\n  resources: [\"{resource}\"]\n  verbs: [\"{verb}\"]\n")
}

fn forbidden_explanation(d: &Denial, excerpt: String, line: &str, ctx: &Context) -> Explanation {
    let id = identity_of(&d.user);
    let version = ctx.settings.runner_version;
    let model_needs: Option<Vec<runner::Need>> = ctx.model.as_ref().and_then(|m| {
        let rs: Vec<&runner::Runner> = m.runners_managed_by(&id).collect();
        (!rs.is_empty()).then(|| rs.iter().flat_map(|r| r.needs.clone()).collect())
    });
    let role = match &ctx.model {
        Some(m) if m.is_manager(&id) => "runner-manager",
        Some(m) if m.is_job(&id) => "job",
        _ => "unknown",
    };
    let mut e = Explanation {
        kind: ErrorKind::Forbidden,
        excerpt,
        occurrences: 1,
        identity: Some(d.user.clone()),
        identity_role: Some(role.to_string()),
        verb: Some(d.verb.clone()),
        api_group: d.path.is_none().then(|| d.group.clone()),
        resource: d.path.is_none().then(|| d.resource.clone()),
        name: d.name.clone(),
        namespace: d.namespace.clone(),
        path: d.path.clone(),
        failure: String::new(),
        cause: String::new(),
        features: Vec::new(),
        rule: String::new(),
        scope: None,
        fix: String::new(),
        edits: Vec::new(),
        notes: Vec::new(),
    };
    if let Some(path) = &d.path {
        e.failure = format!("the request to `{path}` is refused");
        e.cause = format!(
            "RBAC: `{}` may not `{}` the non-resource URL `{path}`.",
            d.user, d.verb
        );
        if d.user == "system:anonymous" {
            e.cause.push_str(" The client sent no credentials at all (or the API server rejected them and anonymous access is on): see `Unauthorized`.");
        }
        e.rule = format!(
            "- nonResourceURLs: [\"{path}\"]\n  verbs: [\"{}\"]\n",
            d.verb
        );
        e.scope = Some("cluster".to_string());
        e.fix = "nonResourceURLs only count in a ClusterRole bound with a ClusterRoleBinding. The runner itself needs none beyond what every authenticated user has (system:discovery).".to_string();
        return e;
    }
    let (group, resource, verb) = (d.group.as_str(), d.resource.as_str(), d.verb.as_str());
    e.features = matching_needs(group, resource, verb, version, model_needs.as_deref());
    let shown = if group.is_empty() {
        resource.to_string()
    } else {
        format!("{group}/{resource}")
    };
    let where_ = match &d.namespace {
        Some(ns) => format!("in namespace `{ns}`"),
        None => "at cluster scope".to_string(),
    };
    let cluster_scoped = resources::namespaced(group, resource) == Some(false);
    let all_namespaces = d.namespace.is_none() && !cluster_scoped;
    e.scope = Some(
        if cluster_scoped || all_namespaces {
            "cluster"
        } else {
            "namespaced"
        }
        .to_string(),
    );
    e.rule = rule_yaml(group, resource, verb, d.name.as_deref());
    if let Some(reason) = &d.reason {
        e.notes.push(format!("the API server added: {reason}"));
        if reason.contains("not found") && reason.contains("rbac.authorization.k8s.io") {
            e.notes.push("a binding refers to a role that does not exist in the cluster: create the role, or fix the binding's roleRef (RG501)".to_string());
        }
    }
    let best = e.features.first().cloned();
    // Who made the request: the manifests say; else the runner when it reported a system
    // failure, or when a feature it has (as far as the gate knows) makes this request.
    let runner_made = match role {
        "runner-manager" => best.is_some(),
        "job" => false,
        _ => {
            best.as_ref().is_some_and(|b| b.applies)
                || (best.is_some()
                    && (runner_reported(line) || build_pod_object(d) || named_like_runner(&id)))
        }
    };
    let runner_request = runner_made;
    if role == "unknown" && runner_made {
        e.identity_role = Some("runner-manager".to_string());
    }
    match &best {
        Some(b) if runner_made => {
            e.failure = if b.impact == "optional" {
                format!("{} (a warning, not a failure)", b.breaks)
            } else {
                b.breaks.clone()
            };
            e.cause = format!(
                "RBAC: the runner manager (`{}`) lacks `{verb}` on `{shown}` {where_}, which the runner needs for: {}.",
                d.user, b.feature
            );
            if !b.applies {
                e.notes.push(format!(
                    "for the runner the gate assumes (runner {}.{}, {}), `{}` is off; the runner that failed has it on",
                    version.0,
                    version.1,
                    if ctx.model.is_some() { "features from the manifests" } else { "default features" },
                    b.feature
                ));
            }
            if let Some(h) = history(group, resource, verb) {
                e.notes.push(h.to_string());
            }
        }
        _ => {
            e.failure = format!("the job (or the tool it runs) fails: `{verb} {shown}` is refused");
            e.cause = if role == "job" && best.as_ref().is_some_and(|b| b.applies) {
                format!(
                    "RBAC: `{}` lacks `{verb}` on `{shown}` {where_}. This is the job pods' identity, yet the runner manager makes this request: the runner runs as the job's ServiceAccount, or the manager's RBAC is bound to another ServiceAccount.",
                    d.user
                )
            } else {
                format!(
                    "RBAC: `{}` lacks `{verb}` on `{shown}` {where_}. The runner (as the gate assumes it) makes no such request: a CI job script (kubectl, helm, werf, ...) called the API with the job pod's ServiceAccount token. The runner manager needs nothing like this.",
                    d.user
                )
            };
            if let Some(b) = &best {
                e.notes.push(format!(
                    "unless the runner has `{}` on ({}): then the runner made it, and without it {}",
                    b.feature, b.versions, b.breaks
                ));
            }
            if let Some(h) = history(group, resource, verb) {
                e.notes.push(h.to_string());
            }
        }
    }
    if let Identity::ServiceAccount { namespace, name } = &id {
        if name == "default" {
            e.notes.push(format!(
                "`{}` is the `default` ServiceAccount of namespace `{namespace}`: the pod runs without a ServiceAccount of its own (Helm: `serviceAccount.name` / `rbac.create`; Deployment: `serviceAccountName`; jobs: `service_account` in [runners.kubernetes]); RBAC bound to another ServiceAccount does not reach it",
                d.user
            ));
        }
        if let Some(ns) = &d.namespace {
            if ns != namespace && role != "job" && runner_request {
                e.notes.push(format!(
                    "the identity lives in `{namespace}` but the request is in `{ns}`: permissions granted in the runner's own namespace do not reach the job namespace; grant them in `{ns}` (the Helm chart before 0.84 rendered the Role in the release namespace even with `runners.jobNamespace`)"
                ));
            }
        }
    }
    e.fix = if cluster_scoped {
        format!("Add the rule to a ClusterRole bound to `{}` with a ClusterRoleBinding (a Role cannot grant cluster-scoped `{shown}`).", d.user)
    } else if all_namespaces {
        "The request covers all namespaces: grant it in a ClusterRole with a ClusterRoleBinding, or (better) make the client ask in its namespace and add the rule to a Role there.".to_string()
    } else if runner_request && role != "job" {
        format!(
            "Add the rule to the Role bound to `{}` in namespace `{}`.",
            d.user,
            d.namespace.as_deref().unwrap_or("default")
        )
    } else {
        format!(
            "Do not widen the runner manager for this. Give the job that needs it a dedicated ServiceAccount with exactly this rule (a Role and RoleBinding in `{}`), selected with `service_account` in [runners.kubernetes] or `KUBERNETES_SERVICE_ACCOUNT_OVERWRITE` (allowed by `service_account_overwrite_allowed`).",
            d.namespace.as_deref().unwrap_or("default")
        )
    };
    if ctx.inv.is_some() {
        e.edits = edits(d, &id, ctx, cluster_scoped || all_namespaces);
    }
    e
}

/// With manifests: where the rule goes.
fn edits(d: &Denial, id: &Identity, ctx: &Context, cluster: bool) -> Vec<Edit> {
    let (Some(inv), Some(az)) = (&ctx.inv, &ctx.authz) else {
        return Vec::new();
    };
    let ns = if cluster {
        None
    } else {
        d.namespace.as_deref()
    };
    let grants = az.grants_of(id);
    let mut out = Vec::new();
    // Already granted in the manifests: the cluster differs from them.
    let hits = az.who_allows(
        inv,
        &grants,
        &d.verb,
        &d.group,
        &d.resource,
        ns,
        d.name.as_deref(),
    );
    if let Some(&(gi, ri)) = hits.first() {
        let loc = az.rule_loc(inv, gi, ri);
        out.push(Edit {
            path: ctx.path(loc.file),
            line: loc.line,
            object: az.via(inv, gi),
            action: "the manifests already grant this: the cluster does not run them as written (not applied, applied in another namespace, or the pod runs as another ServiceAccount)".to_string(),
        });
        return out;
    }
    let editable = |gi: usize| inv.roles[az.grants[gi].role].meta.origin != Origin::Builtin;
    let covering: Vec<usize> = runner::direct_grants(az, id)
        .into_iter()
        .filter(|&gi| {
            let g = &az.grants[gi];
            editable(gi) && g.scope.covers(ns) && (!cluster || g.scope == Scope::Cluster)
        })
        .collect();
    for gi in covering {
        let g = &az.grants[gi];
        let role = &inv.roles[g.role];
        let (path, line, object, action) = if role.meta.origin == Origin::Helm {
            (
                ctx.path(role.meta.loc.file),
                role.meta.loc.line,
                "Helm values `rbac.rules`".to_string(),
                "add the rule to `rbac.rules` (the chart renders it into its Role)".to_string(),
            )
        } else {
            let after = role.rules.last().map(|r| r.loc.end_line.max(r.loc.line));
            (
                ctx.path(role.meta.loc.file),
                role.meta.loc.line,
                role.display(),
                match after {
                    Some(l) => format!("add the rule to its `rules` (after line {l})"),
                    None => "add the rule to its `rules`".to_string(),
                },
            )
        };
        let shared = role.kind == RoleKind::ClusterRole
            && az
                .grants
                .iter()
                .filter(|o| o.role == g.role && o.binding.is_some())
                .count()
                > 1;
        out.push(Edit {
            path,
            line,
            object,
            action: if shared {
                format!("{action}; it is bound more than once, so every binding gains it")
            } else {
                action
            },
        });
    }
    if !out.is_empty() {
        return out;
    }
    // Bound, but not where the request is.
    for gi in runner::direct_grants(az, id) {
        let g = &az.grants[gi];
        let Some(bi) = g.binding else { continue };
        let b = &inv.bindings[bi];
        let role = &inv.roles[g.role];
        let action = if cluster {
            format!(
                "{} grants in {} only; `{}` needs a ClusterRole with a ClusterRoleBinding: add one (next to this binding) with the rule",
                b.display(),
                g.scope.display(),
                d.resource
            )
        } else {
            format!(
                "{} grants {} in {}, but the request is in namespace `{}`: add a Role and RoleBinding there (copy {} and this binding with `namespace: {}`)",
                b.display(),
                role.display(),
                g.scope.display(),
                d.namespace.as_deref().unwrap_or("default"),
                role.display(),
                d.namespace.as_deref().unwrap_or("default")
            )
        };
        out.push(Edit {
            path: ctx.path(b.meta.loc.file),
            line: b.meta.loc.line,
            object: b.display(),
            action,
        });
    }
    if !out.is_empty() {
        return out;
    }
    // Not bound at all: RBAC written for the runner is bound to someone else.
    if let Some(m) = &ctx.model {
        for r in &m.runners {
            let Some(mgr) = &r.manager else { continue };
            if mgr == id {
                continue;
            }
            for gi in runner::direct_grants(az, mgr) {
                let Some(bi) = az.grants[gi].binding else {
                    continue;
                };
                let b = &inv.bindings[bi];
                if b.meta.origin == Origin::Builtin {
                    continue;
                }
                out.push(Edit {
                    path: ctx.path(b.meta.loc.file),
                    line: b.meta.loc.line,
                    object: b.display(),
                    action: format!(
                        "this binding grants the runner's RBAC to `{}`, but the request came from `{}`: run the runner pod as `{}` or bind `{}` (subjects)",
                        mgr.id(),
                        d.user,
                        mgr.id(),
                        d.user
                    ),
                });
            }
        }
    }
    if out.is_empty() {
        out.push(Edit {
            path: ctx
                .sources
                .first()
                .map_or_else(String::new, |s| s.path.clone()),
            line: 0,
            object: "(nothing)".to_string(),
            action: format!(
                "no binding in the manifests reaches `{}`: add a {} and a {} for it",
                d.user,
                if cluster { "ClusterRole" } else { "Role" },
                if cluster {
                    "ClusterRoleBinding"
                } else {
                    "RoleBinding"
                }
            ),
        });
    }
    let _ = BindingKind::RoleBinding;
    out
}

fn context(req: &ExplainRequest) -> (Context, Vec<FileError>) {
    let (settings, mut errors) = settings::load(&req.options);
    if req.sources.is_empty() {
        return (
            Context {
                settings,
                inv: None,
                authz: None,
                model: None,
                checked: None,
                sources: Vec::new(),
            },
            errors,
        );
    }
    let mut inv = crate::model::build(&req.sources);
    authz::complete_roles(&mut inv);
    let az = Authz::build(&inv);
    let model = runner::build(&inv, &az, &settings);
    let checked = crate::check(&req.sources, &req.options);
    errors.extend(checked.errors.iter().cloned());
    (
        Context {
            settings,
            inv: Some(inv),
            authz: Some(az),
            model: Some(model),
            checked: Some(checked),
            sources: req.sources.clone(),
        },
        errors,
    )
}

/// Explains every recognised error in the message.
pub fn explain(req: &ExplainRequest) -> ExplainResponse {
    let (ctx, mut errors) = context(req);
    errors.sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
    errors.dedup();
    let text = unescape(&req.message);
    let mut out: Vec<Explanation> = Vec::new();
    let mut keys: Vec<Denial> = Vec::new();
    let mut omitted = 0;
    for (d, excerpt, line) in parse_with_lines(&text) {
        // Fold repeats (a job log retries); pod names differ per job, so they do not count.
        let key = Denial {
            name: None,
            reason: None,
            ..d.clone()
        };
        if let Some(i) = keys.iter().position(|k| *k == key) {
            out[i].occurrences += 1;
            continue;
        }
        if out.len() >= MAX_EXPLANATIONS {
            omitted += 1;
            continue;
        }
        keys.push(key);
        out.push(forbidden_explanation(&d, excerpt, line, &ctx));
    }
    // Authentication failures, once per kind (the first pattern that matches wins per line).
    let mut seen: Vec<ErrorKind> = Vec::new();
    for line in text.lines() {
        if line.contains("forbidden: User \"") {
            continue;
        }
        for (pat, kind) in AUTH_PATTERNS {
            if !line.contains(pat) {
                continue;
            }
            if *pat == "Unauthorized" && !unauthorized_word(line) {
                continue;
            }
            if let Some(i) = out.iter().position(|e| e.kind == *kind) {
                if seen.contains(kind) {
                    out[i].occurrences += 1;
                }
            } else {
                seen.push(*kind);
                let excerpt: String = line.trim().chars().take(300).collect();
                out.push(auth_explanation(*kind, excerpt, &ctx));
            }
            break;
        }
    }
    ExplainResponse {
        schema: EXPLAIN_SCHEMA.to_string(),
        explanations: out,
        omitted,
        errors,
    }
}

/// `Unauthorized` as a word (not `unauthorizedAccess` or a URL path).
fn unauthorized_word(line: &str) -> bool {
    line.match_indices("Unauthorized").any(|(i, m)| {
        let before = line[..i].chars().next_back();
        let after = line[i + m.len()..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '/')
            && !after.is_some_and(|c| c.is_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_issue_example() {
        let m = r#"pods "runner-xyz" is forbidden: User "system:serviceaccount:ci:gitlab-runner" cannot create resource "pods/attach" in API group "" in the namespace "ci""#;
        let d = parse_denials(m);
        assert_eq!(d.len(), 1);
        let (d, excerpt) = &d[0];
        assert_eq!(d.user, "system:serviceaccount:ci:gitlab-runner");
        assert_eq!(d.verb, "create");
        assert_eq!(d.resource, "pods/attach");
        assert_eq!(d.group, "");
        assert_eq!(d.name.as_deref(), Some("runner-xyz"));
        assert_eq!(d.namespace.as_deref(), Some("ci"));
        assert!(excerpt.starts_with("pods \"runner-xyz\""), "{excerpt}");
    }

    #[test]
    fn cluster_scope_groups_and_reasons() {
        let m = r#"ERROR: Job failed (system failure): prepare environment: namespaces is forbidden: User "system:serviceaccount:gitlab-runner:gitlab-runner" cannot create resource "namespaces" in API group "" at the cluster scope. Check https://docs.gitlab.com/runner/shells/index.html#shell-profile-loading for more information"#;
        let (d, _) = &parse_denials(m)[0];
        assert_eq!(d.namespace, None);
        assert_eq!(d.resource, "namespaces");
        let m = r#"deployments.apps is forbidden: User "u" cannot list resource "deployments" in API group "apps" in the namespace "x": RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found"#;
        let (d, _) = &parse_denials(m)[0];
        assert_eq!(d.group, "apps");
        assert!(d.reason.as_deref().is_some_and(|r| r.contains("not found")));
        let m = r#"User "system:serviceaccount:a:b" cannot create pods/exec in the namespace "default""#;
        assert!(parse_denials(m).is_empty(), "needs the `forbidden:` prefix");
        let m = r#"Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:a:b" cannot create pods/exec in the namespace "default""#;
        let (d, _) = &parse_denials(m)[0];
        assert_eq!(
            (d.verb.as_str(), d.resource.as_str()),
            ("create", "pods/exec")
        );
        let m = r#"forbidden: User "system:anonymous" cannot get path "/api""#;
        let (d, _) = &parse_denials(m)[0];
        assert_eq!(d.path.as_deref(), Some("/api"));
    }

    #[test]
    fn json_escaped_messages() {
        let m = r#"{"message":"pods \"x\" is forbidden: User \"system:serviceaccount:ci:r\" cannot get resource \"pods/log\" in API group \"\" in the namespace \"ci\""}"#;
        let r = explain(&ExplainRequest {
            message: m.into(),
            ..ExplainRequest::default()
        });
        assert_eq!(r.explanations.len(), 1);
        assert_eq!(r.explanations[0].resource.as_deref(), Some("pods/log"));
    }

    #[test]
    fn unauthorized_words() {
        assert!(unauthorized_word("error: Unauthorized"));
        assert!(!unauthorized_word("/api/Unauthorizedx"));
    }
}
