//! `audit`: Kubernetes audit logs against the runner's RBAC.
//!
//! What the runner's identities really did (permissions used), what they were refused (403:
//! missing permissions), what they hold and never used (candidates to remove, with the
//! tightened Role), and requests from unexpected namespaces or by unexpected identities.
//!
//! Streaming: [`aggregate::Aggregator`] keeps bounded counts, so a host can feed a log of any
//! size in batches (`audit_begin`, `audit_feed`, `audit_finish`, see [`session`]) in constant
//! memory. The one-shot `audit` request does the same on a log held in memory.

pub mod aggregate;
pub mod session;

use crate::api::{Options, Source};
use crate::authz::{self, resources, Authz, Identity, Scope};
use crate::model::{Inventory, Origin, PolicyRule, Role, RoleKind};
use crate::report::FileError;
use crate::runner::{self, JobNamespaces, NeedScope, RunnerModel};
use crate::settings::{self, Settings};
use aggregate::{Aggregator, Class, Entry, Totals, Watch};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

pub const AUDIT_SCHEMA: &str = "rbac-gate/audit/v1";

/// What to watch and what to compare with. Shared by `audit` and `audit_begin` (flattened
/// into both, so unknown fields are not refused).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditSetup {
    /// RBAC manifests, runner config, Helm values: what is granted, and who the runner is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Source>,
    #[serde(default)]
    pub options: Options,
    /// Runner manager identities: `system:serviceaccount:NS:NAME`, `NS/NAME`, or a username.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identities: Vec<String>,
    /// Job pod identities (same forms).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub job_identities: Vec<String>,
    /// Namespaces the runner may act in (added to those the sources give).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Cap on distinct (identity, verb, group, resource, namespace) keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_keys: Option<usize>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRequest {
    #[serde(flatten)]
    pub setup: AuditSetup,
    /// The whole log (JSON lines).
    pub log: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditBegin {
    #[serde(flatten)]
    pub setup: AuditSetup,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditFeed {
    pub session: u32,
    /// Whole lines (the host cuts batches at `\n`).
    pub lines: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditFinish {
    pub session: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditTotals {
    pub lines: u64,
    pub bytes: u64,
    pub events: u64,
    /// Requests of watched identities (final stage), counted.
    pub matched: u64,
    /// Lines that are not audit events.
    pub invalid: u64,
    /// Watched requests seen at a non-final stage only (not counted).
    pub other_stages: u64,
    /// Requests refused with 401 (unauthenticated: no identity to attribute).
    pub unauthenticated: u64,
    /// Requests not counted because a cap was reached.
    pub dropped: u64,
    /// Distinct keys held.
    pub keys: usize,
}

fn totals(t: &Totals, keys: usize) -> AuditTotals {
    AuditTotals {
        lines: t.lines,
        bytes: t.bytes,
        events: t.events,
        matched: t.matched,
        invalid: t.invalid,
        other_stages: t.other_stages,
        unauthenticated: t.unauthenticated,
        dropped: t.dropped,
        keys,
    }
}

/// Answer to `audit_begin` and `audit_feed`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditProgress {
    pub schema: String,
    pub session: u32,
    /// The identities and namespaces watched (after `audit_begin`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runners: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jobs: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    pub totals: AuditTotals,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FileError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsedPermission {
    /// `None`: cluster scope (or a non-resource path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub api_group: String,
    /// A non-resource request's path starts with `/`.
    pub resource: String,
    pub verb: String,
    pub count: u64,
    /// Whether the manifests grant it (`None`: no manifests given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granted: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// Authorized, then refused by admission (Pod Security, webhooks).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rejected: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnusedPermission {
    /// A namespace, or `*` for cluster-wide grants.
    pub namespace: String,
    pub api_group: String,
    pub resource: String,
    pub verbs: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_names: Vec<String>,
    /// Binding and role that grant it.
    pub via: String,
    pub path: String,
    pub line: u32,
    /// `remove`, or `keep` (the runner needs it, though not seen in this log).
    pub action: String,
    /// For `keep`: the feature that needs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needed_for: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeniedRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub api_group: String,
    pub resource: String,
    pub verb: String,
    pub count: u64,
    /// The API server's message for the first refusal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The runner feature that makes the request (`None`: not a runner request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature: Option<String>,
    /// What breaks without it.
    pub breaks: String,
    /// The minimal rule to add.
    pub rule: String,
    /// `namespaced` or `cluster`.
    pub scope: String,
    /// The manifests grant it, yet the cluster refused: they are not what runs.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub granted_in_manifests: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceUse {
    pub namespace: String,
    pub count: u64,
    /// `create pods`, ... (at most 10).
    pub requests: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentCount {
    pub agent: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityAudit {
    pub id: String,
    /// `runner-manager` or `job`.
    pub role: String,
    pub requests: u64,
    /// Requests made by someone impersonating this identity.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub impersonated: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_agents: Vec<AgentCount>,
    pub used: Vec<UsedPermission>,
    /// Granted but never used (only with manifests).
    pub unused: Vec<UnusedPermission>,
    pub denied: Vec<DeniedRequest>,
    pub unexpected_namespaces: Vec<NamespaceUse>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnexpectedIdentity {
    pub id: String,
    pub requests: u64,
    pub denied: u64,
    pub namespaces: Vec<String>,
    /// The most frequent requests (at most 10), `verb resource in namespace (count)`.
    pub top: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_agents: Vec<AgentCount>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TightenedRole {
    /// The role it replaces, e.g. `Role ci/gitlab-runner`.
    pub object: String,
    pub path: String,
    pub line: u32,
    /// The replacement (a Role/ClusterRole manifest, or Helm `rbac.rules` values).
    pub yaml: String,
    /// What it drops, `resource: verbs`.
    pub removed: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditReport {
    pub schema: String,
    /// `clean`, or `findings` (denied requests, unexpected namespaces or identities,
    /// impersonation); hosts exit 1 on `findings`, 2 on `error`.
    pub verdict: String,
    pub totals: AuditTotals,
    pub identities: Vec<IdentityAudit>,
    pub unexpected_identities: Vec<UnexpectedIdentity>,
    pub tightened: Vec<TightenedRole>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FileError>,
}

/// `ns/name`, `system:serviceaccount:ns:name` or a plain username → the audit username.
pub fn username(s: &str) -> String {
    let s = s.trim();
    if s.starts_with("system:") || s.contains(':') || s.contains('@') {
        return s.to_string();
    }
    match s.split_once('/') {
        Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
            format!("system:serviceaccount:{ns}:{name}")
        }
        _ => s.to_string(),
    }
}

fn sa_namespace(user: &str) -> Option<&str> {
    user.strip_prefix("system:serviceaccount:")
        .and_then(|r| r.split_once(':'))
        .map(|(ns, _)| ns)
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

/// The manifests, analysed.
pub(crate) struct Analysis {
    settings: Settings,
    sources: Vec<Source>,
    inv: Inventory,
    az: Authz,
    model: RunnerModel,
    errors: Vec<FileError>,
}

fn analyse(setup: &AuditSetup) -> Analysis {
    let (settings, mut errors) = settings::load(&setup.options);
    let mut inv = crate::model::build(&setup.sources);
    authz::complete_roles(&mut inv);
    errors.extend(inv.errors.iter().cloned());
    errors.extend(runner::config_errors(&setup.sources, &inv));
    let az = Authz::build(&inv);
    let model = runner::build(&inv, &az, &settings);
    Analysis {
        settings,
        sources: setup.sources.clone(),
        inv,
        az,
        model,
        errors,
    }
}

/// Who to watch: the identities given, and those the manifests name.
pub(crate) fn watch_for(setup: &AuditSetup, a: &Analysis) -> (Watch, Vec<FileError>) {
    let mut errors = Vec::new();
    let mut w = Watch::default();
    for id in &setup.identities {
        let u = username(id);
        if u.is_empty() {
            continue;
        }
        if !w.runners.contains(&u) {
            w.runners.push(u);
        }
    }
    for id in &setup.job_identities {
        let u = username(id);
        if !u.is_empty() && !w.jobs.contains(&u) {
            w.jobs.push(u);
        }
    }
    let mut namespaces: BTreeSet<String> = setup.namespaces.iter().cloned().collect();
    let given = !w.runners.is_empty();
    for r in &a.model.runners {
        if let Some(m) = &r.manager {
            let u = username_of(m);
            // Identities given on the command line replace the guessed managers.
            if !given && !w.runners.contains(&u) {
                w.runners.push(u);
            }
        }
        if given
            && !r
                .manager
                .as_ref()
                .is_some_and(|m| w.runners.contains(&username_of(m)))
        {
            continue;
        }
        if let Some(j) = &r.jobs {
            let u = username_of(j);
            if setup.job_identities.is_empty() && !w.jobs.contains(&u) && !w.runners.contains(&u) {
                w.jobs.push(u);
            }
        }
        if let JobNamespaces::Listed(l) = &r.job_namespaces {
            namespaces.extend(l.iter().cloned());
        }
    }
    for u in w.runners.iter().chain(&w.jobs) {
        if let Some(ns) = sa_namespace(u) {
            namespaces.insert(ns.to_string());
        }
    }
    w.namespaces = namespaces.into_iter().collect();
    if w.runners.is_empty() && w.jobs.is_empty() {
        errors.push(FileError {
            path: "<audit>".to_string(),
            line: None,
            column: None,
            message: "no runner identity: name it (`--identity system:serviceaccount:NS:NAME`) or give the manifests that run the runner".to_string(),
        });
    }
    (w, errors)
}

fn username_of(id: &Identity) -> String {
    match id {
        Identity::ServiceAccount { namespace, name } => {
            format!("system:serviceaccount:{namespace}:{name}")
        }
        Identity::User(u) => u.clone(),
        Identity::Group(g) => g.clone(),
    }
}

/// One-shot audit of a log held in memory.
pub fn audit(req: &AuditRequest) -> AuditReport {
    let a = analyse(&req.setup);
    let (watch, errors) = watch_for(&req.setup, &a);
    let mut agg = Aggregator::new(
        watch,
        req.setup.max_keys.unwrap_or(aggregate::DEFAULT_MAX_KEYS),
    );
    if errors.is_empty() {
        agg.feed(&req.log);
    }
    report(&a, &agg, errors)
}

fn shown(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{group}/{resource}")
    }
}

/// Whether `rule` in `scope` grants the request (a rule limited to names grants its names).
fn rule_grants(scope: &Scope, rule: &PolicyRule, verb: &str, group: &str, resource: &str) -> bool {
    let name = rule.resource_names.first().map(String::as_str);
    authz::rule_allows(scope, rule, verb, group, resource, name)
}

fn verb_rank(v: &str) -> usize {
    [
        "get",
        "list",
        "watch",
        "create",
        "update",
        "patch",
        "delete",
        "deletecollection",
    ]
    .iter()
    .position(|x| *x == v)
    .unwrap_or(99)
}

/// The feature a runner identity needs a permission for, if any.
fn needed_for(
    a: &Analysis,
    id: &Identity,
    verb: &str,
    group: &str,
    resource: &str,
    ns: Option<&str>,
) -> Option<String> {
    if !a.model.needed(id, verb, group, resource, ns) {
        return None;
    }
    a.model
        .runners_managed_by(id)
        .flat_map(|r| r.needs.iter())
        .find(|n| n.group == group && n.resource == resource && n.verbs.contains(&verb))
        .map(|n| n.feature.to_string())
}

/// Builds the report from the aggregated counts and the manifests.
pub(crate) fn report(a: &Analysis, agg: &Aggregator, mut errors: Vec<FileError>) -> AuditReport {
    errors.extend(a.errors.iter().cloned());
    let entries = agg.entries();
    let stats = agg.identity_stats();
    let have_manifests = !a.sources.is_empty();
    let watch = agg.watch();
    let mut identities = Vec::new();
    let mut notes = Vec::new();
    if !have_manifests {
        notes.push("no manifests given: used and denied requests only; give the RBAC manifests (and the runner config) to see what is granted and never used".to_string());
    }
    let t = &agg.totals;
    if t.other_stages > 0 && t.matched == 0 {
        notes.push("the log holds only RequestReceived/ResponseStarted stages for the runner: log the ResponseComplete stage (audit policy `omitStages`)".to_string());
    }
    if t.dropped > 0 {
        notes.push(format!(
            "{} requests were not counted: more distinct requests than the cap (max_keys); raise it",
            t.dropped
        ));
    }
    let mut by_user: BTreeMap<&str, Vec<&Entry>> = BTreeMap::new();
    for e in &entries {
        by_user.entry(e.user.as_str()).or_default().push(e);
    }
    let stat = |u: &str| {
        stats
            .iter()
            .find(|(n, _, _)| n == u)
            .map(|(_, _, s)| s.clone())
    };
    let agents = |s: &Option<aggregate::IdentityStats>| -> Vec<AgentCount> {
        s.as_ref()
            .map(|s| {
                let mut v: Vec<AgentCount> = s
                    .agents
                    .iter()
                    .map(|(a, c)| AgentCount {
                        agent: a.clone(),
                        count: *c,
                    })
                    .collect();
                v.sort_by(|x, y| y.count.cmp(&x.count).then(x.agent.cmp(&y.agent)));
                v
            })
            .unwrap_or_default()
    };
    let watched: Vec<(&String, &str)> = watch
        .runners
        .iter()
        .map(|u| (u, "runner-manager"))
        .chain(watch.jobs.iter().map(|u| (u, "job")))
        .collect();
    let mut findings = false;
    for (user, role) in watched {
        let id = identity_of(user);
        let mine: Vec<&Entry> = by_user.get(user.as_str()).cloned().unwrap_or_default();
        let st = stat(user);
        let grants: Vec<usize> = a.az.grants_of(&id);
        let mut used = Vec::new();
        let mut denied = Vec::new();
        let mut odd_ns: BTreeMap<String, (u64, Vec<String>)> = BTreeMap::new();
        let expected_ns = expected_namespaces(a, &id, user, watch, role);
        for e in &mine {
            let ns = e.namespace.as_deref();
            let nonresource = e.resource.starts_with('/');
            let hits = if nonresource || !have_manifests {
                Vec::new()
            } else {
                a.az.who_allows(&a.inv, &grants, &e.verb, &e.group, &e.resource, ns, None)
            };
            let hits = if hits.is_empty() && have_manifests && !nonresource {
                // Named grants: any resourceNames rule for it counts as granted.
                grants
                    .iter()
                    .flat_map(|&gi| {
                        let g = &a.az.grants[gi];
                        a.inv.roles[g.role]
                            .rules
                            .iter()
                            .enumerate()
                            .filter(move |(_, r)| {
                                g.scope.covers(ns)
                                    && rule_grants(&g.scope, r, &e.verb, &e.group, &e.resource)
                            })
                            .map(move |(ri, _)| (gi, ri))
                    })
                    .collect()
            } else {
                hits
            };
            if e.counts.allowed > 0 || e.counts.rejected > 0 {
                used.push(UsedPermission {
                    namespace: e.namespace.clone(),
                    api_group: e.group.clone(),
                    resource: e.resource.clone(),
                    verb: e.verb.clone(),
                    count: e.counts.allowed + e.counts.rejected,
                    granted: (have_manifests && !nonresource).then_some(!hits.is_empty()),
                    via: hits.first().map(|(gi, _)| a.az.via(&a.inv, *gi)),
                    rejected: e.counts.rejected,
                });
            }
            if e.counts.denied > 0 {
                findings = true;
                denied.push(denied_request(a, &id, e, !hits.is_empty()));
            }
            if let (Some(n), Some(expected)) = (ns, &expected_ns) {
                if !expected.contains(n) {
                    findings = true;
                    let slot = odd_ns.entry(n.to_string()).or_default();
                    slot.0 += e.counts.allowed + e.counts.denied + e.counts.rejected;
                    if slot.1.len() < 10 {
                        slot.1
                            .push(format!("{} {}", e.verb, shown(&e.group, &e.resource)));
                    }
                }
            }
        }
        let unused = if have_manifests {
            unused_permissions(a, &id, user, &mine)
        } else {
            Vec::new()
        };
        let impersonated = st.as_ref().map_or(0, |s| s.impersonated);
        if impersonated > 0 {
            findings = true;
        }
        identities.push(IdentityAudit {
            id: user.clone(),
            role: role.to_string(),
            requests: st.as_ref().map_or(0, |s| s.requests),
            impersonated,
            user_agents: agents(&st),
            used,
            unused,
            denied,
            unexpected_namespaces: odd_ns
                .into_iter()
                .map(|(namespace, (count, requests))| NamespaceUse {
                    namespace,
                    count,
                    requests,
                })
                .collect(),
        });
    }
    let mut unexpected = Vec::new();
    for (user, list) in &by_user {
        if list.iter().all(|e| e.class != Class::Unexpected) {
            continue;
        }
        findings = true;
        let mut sorted: Vec<&&Entry> = list.iter().collect();
        sorted.sort_by(|x, y| {
            let cx = x.counts.allowed + x.counts.denied + x.counts.rejected;
            let cy = y.counts.allowed + y.counts.denied + y.counts.rejected;
            cy.cmp(&cx)
        });
        let namespaces: BTreeSet<String> =
            list.iter().filter_map(|e| e.namespace.clone()).collect();
        let st = stat(user);
        unexpected.push(UnexpectedIdentity {
            id: (*user).to_string(),
            requests: list
                .iter()
                .map(|e| e.counts.allowed + e.counts.denied + e.counts.rejected)
                .sum(),
            denied: list.iter().map(|e| e.counts.denied).sum(),
            namespaces: namespaces.into_iter().collect(),
            top: sorted
                .iter()
                .take(10)
                .map(|e| {
                    format!(
                        "{} {}{} ({})",
                        e.verb,
                        shown(&e.group, &e.resource),
                        e.namespace
                            .as_deref()
                            .map(|n| format!(" in {n}"))
                            .unwrap_or_default(),
                        e.counts.allowed + e.counts.denied + e.counts.rejected
                    )
                })
                .collect(),
            user_agents: agents(&st),
        });
    }
    let tightened = if have_manifests {
        tighten(a, &entries, watch)
    } else {
        Vec::new()
    };
    let verdict = if !errors.is_empty() {
        "error"
    } else if findings {
        "findings"
    } else {
        "clean"
    };
    AuditReport {
        schema: AUDIT_SCHEMA.to_string(),
        verdict: verdict.to_string(),
        totals: totals(t, agg.key_count()),
        identities,
        unexpected_identities: unexpected,
        tightened,
        notes,
        errors,
    }
}

/// Namespaces an identity is expected to act in; `None`: anywhere.
fn expected_namespaces(
    a: &Analysis,
    id: &Identity,
    user: &str,
    watch: &Watch,
    role: &str,
) -> Option<BTreeSet<String>> {
    let mut out: BTreeSet<String> = BTreeSet::new();
    if let Some(ns) = sa_namespace(user) {
        out.insert(ns.to_string());
    }
    if role == "job" {
        return Some(out);
    }
    let runners: Vec<&runner::Runner> = a.model.runners_managed_by(id).collect();
    if runners
        .iter()
        .any(|r| matches!(r.job_namespaces, JobNamespaces::Any { .. }))
    {
        return None;
    }
    for r in &runners {
        if let JobNamespaces::Listed(l) = &r.job_namespaces {
            out.extend(l.iter().cloned());
        }
    }
    // Namespaces given on the command line (and the watched ones) are the runner's.
    out.extend(watch.namespaces.iter().cloned());
    Some(out)
}

fn denied_request(a: &Analysis, id: &Identity, e: &Entry, granted: bool) -> DeniedRequest {
    let ns = e.namespace.as_deref();
    let nonresource = e.resource.starts_with('/');
    let needs = crate::explain_error::matching_needs(
        &e.group,
        &e.resource,
        &e.verb,
        a.settings.runner_version,
        None,
    );
    let best = needs.first();
    let cluster_scoped = resources::namespaced(&e.group, &e.resource) == Some(false);
    let rule = if nonresource {
        format!(
            "- nonResourceURLs: [\"{}\"]\n  verbs: [\"{}\"]\n",
            e.resource, e.verb
        )
    } else {
        format!(
            "- apiGroups: [\"{}\"]\n  resources: [\"{}\"]\n  verbs: [\"{}\"]\n",
            e.group, e.resource, e.verb
        )
    };
    let _ = id;
    DeniedRequest {
        namespace: e.namespace.clone(),
        api_group: e.group.clone(),
        resource: e.resource.clone(),
        verb: e.verb.clone(),
        count: e.counts.denied,
        message: e.counts.message.clone(),
        feature: best.map(|b| b.feature.clone()),
        breaks: best.map_or_else(
            || {
                "not a request the runner makes: a job script or another client used this identity"
                    .to_string()
            },
            |b| b.breaks.clone(),
        ),
        rule,
        scope: if nonresource || cluster_scoped || ns.is_none() {
            "cluster"
        } else {
            "namespaced"
        }
        .to_string(),
        granted_in_manifests: granted,
    }
}

/// The identity's grants (from the inputs) that were never used, per rule and resource.
fn unused_permissions(
    a: &Analysis,
    id: &Identity,
    user: &str,
    mine: &[&Entry],
) -> Vec<UnusedPermission> {
    let _ = user;
    let mut out = Vec::new();
    for gi in a.az.grants_of(id) {
        let g = &a.az.grants[gi];
        let role = &a.inv.roles[g.role];
        let scope_ns = match &g.scope {
            Scope::Cluster => None,
            Scope::Namespace(n) => Some(n.as_str()),
        };
        let via = a.az.via(&a.inv, gi);
        for (ri, rule) in role.rules.iter().enumerate() {
            if rule.resources.is_empty() {
                continue;
            }
            let loc = a.az.rule_loc(&a.inv, gi, ri);
            let path = a
                .sources
                .get(loc.file)
                .map_or_else(|| "<builtin>".to_string(), |s| s.path.clone());
            for group in &rule.api_groups {
                for resource in &rule.resources {
                    let wild = group == "*" || resource == "*" || resource.starts_with("*/");
                    let verbs: Vec<&str> = if rule.verbs.iter().any(|v| v == "*") {
                        vec!["*"]
                    } else {
                        rule.verbs.iter().map(String::as_str).collect()
                    };
                    let used_by = |verb: &str| {
                        mine.iter().any(|e| {
                            e.counts.allowed + e.counts.rejected > 0
                                && !e.resource.starts_with('/')
                                && g.scope.covers(e.namespace.as_deref())
                                && (verb == "*" || e.verb == verb)
                                && authz::rule_allows(
                                    &g.scope,
                                    &PolicyRule {
                                        api_groups: vec![group.clone()],
                                        resources: vec![resource.clone()],
                                        verbs: vec![verb.to_string()],
                                        resource_names: rule.resource_names.clone(),
                                        ..PolicyRule::default()
                                    },
                                    &e.verb,
                                    &e.group,
                                    &e.resource,
                                    rule.resource_names.first().map(String::as_str),
                                )
                        })
                    };
                    // Unknown resources and cluster-scoped ones in namespaced grants grant
                    // nothing: the checker's hygiene rules report them, they are not "unused".
                    if !wild
                        && !authz::rule_allows(
                            &g.scope,
                            rule,
                            verbs[0],
                            group,
                            resource,
                            rule.resource_names.first().map(String::as_str),
                        )
                    {
                        continue;
                    }
                    let mut remove = Vec::new();
                    let mut keep: Vec<(String, String)> = Vec::new();
                    for verb in verbs {
                        if used_by(verb) {
                            continue;
                        }
                        let need = if wild || verb == "*" {
                            None
                        } else {
                            needed_for(a, id, verb, group, resource, scope_ns).or_else(|| {
                                // A cluster-wide grant of what is needed in the job namespaces.
                                if scope_ns.is_some() {
                                    return None;
                                }
                                a.model.runners_managed_by(id).find_map(|r| {
                                    match &r.job_namespaces {
                                        JobNamespaces::Listed(l) => l.iter().find_map(|n| {
                                            needed_for(a, id, verb, group, resource, Some(n))
                                        }),
                                        JobNamespaces::Any { .. } => None,
                                    }
                                })
                            })
                        };
                        match need {
                            Some(f) => keep.push((verb.to_string(), f)),
                            None => remove.push(verb.to_string()),
                        }
                    }
                    let base = |verbs: Vec<String>, action: &str, needed: Option<String>| {
                        UnusedPermission {
                            namespace: scope_ns.unwrap_or("*").to_string(),
                            api_group: group.clone(),
                            resource: resource.clone(),
                            verbs,
                            resource_names: rule.resource_names.clone(),
                            via: via.clone(),
                            path: path.clone(),
                            line: loc.line,
                            action: action.to_string(),
                            needed_for: needed,
                        }
                    };
                    if !remove.is_empty() {
                        remove.sort_by_key(|v| verb_rank(v));
                        out.push(base(remove, "remove", None));
                    }
                    let mut by_feature: BTreeMap<String, Vec<String>> = BTreeMap::new();
                    for (v, f) in keep {
                        by_feature.entry(f).or_default().push(v);
                    }
                    for (f, mut v) in by_feature {
                        v.sort_by_key(|x| verb_rank(x));
                        out.push(base(v, "keep", Some(f)));
                    }
                }
            }
        }
    }
    out
}

/// A tightened version of every editable role bound to a watched identity: what it grants
/// that was used, plus what the runner needs (though not seen in the log), nothing else.
fn tighten(a: &Analysis, entries: &[Entry], watch: &Watch) -> Vec<TightenedRole> {
    let watched: Vec<Identity> = watch
        .runners
        .iter()
        .chain(&watch.jobs)
        .map(|u| identity_of(u))
        .collect();
    // role index -> grants of it reaching a watched identity (directly).
    let mut roles: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for id in &watched {
        for gi in runner::direct_grants(&a.az, id) {
            let list = roles.entry(a.az.grants[gi].role).or_default();
            if !list.contains(&gi) {
                list.push(gi);
            }
        }
    }
    let mut out = Vec::new();
    for (ri, grants) in roles {
        let role = &a.inv.roles[ri];
        if role.aggregation.is_some() {
            continue;
        }
        // (group, resource, resourceNames) -> verb -> (count, why)
        type Kept =
            BTreeMap<(String, String, Vec<String>), BTreeMap<String, (u64, Option<String>)>>;
        let mut kept: Kept = BTreeMap::new();
        let mut notes = Vec::new();
        for &gi in &grants {
            let g = &a.az.grants[gi];
            let scope_ns = match &g.scope {
                Scope::Cluster => None,
                Scope::Namespace(n) => Some(n.as_str()),
            };
            for id in watched.iter().filter(|i| g.subjects.contains(i)) {
                let user = username_of(id);
                let mut candidates: Vec<(String, String, String, u64, Option<String>)> = entries
                    .iter()
                    .filter(|e| {
                        e.user == user
                            && e.counts.allowed + e.counts.rejected > 0
                            && !e.resource.starts_with('/')
                            && g.scope.covers(e.namespace.as_deref())
                    })
                    .map(|e| {
                        (
                            e.group.clone(),
                            e.resource.clone(),
                            e.verb.clone(),
                            e.counts.allowed + e.counts.rejected,
                            None,
                        )
                    })
                    .collect();
                for r in a.model.runners_managed_by(id) {
                    for n in &r.needs {
                        let scoped_ok = match (n.scope, scope_ns) {
                            (NeedScope::Cluster, None) => true,
                            (NeedScope::Cluster, Some(_)) => false,
                            (NeedScope::Namespaced, _) => true,
                        };
                        if !scoped_ok {
                            continue;
                        }
                        for v in &n.verbs {
                            let needed = match scope_ns {
                                Some(ns) => a.model.needed(id, v, n.group, n.resource, Some(ns)),
                                None => match &r.job_namespaces {
                                    JobNamespaces::Any { .. } => true,
                                    JobNamespaces::Listed(l) => {
                                        n.scope == NeedScope::Cluster
                                            || l.iter().any(|ns| {
                                                a.model.needed(id, v, n.group, n.resource, Some(ns))
                                            })
                                    }
                                },
                            };
                            if needed {
                                candidates.push((
                                    n.group.to_string(),
                                    n.resource.to_string(),
                                    (*v).to_string(),
                                    0,
                                    Some(n.feature.to_string()),
                                ));
                            }
                        }
                    }
                }
                for (group, resource, verb, count, why) in candidates {
                    for rule in &role.rules {
                        if rule.resources.is_empty() {
                            continue;
                        }
                        if !rule_grants(&g.scope, rule, &verb, &group, &resource) {
                            continue;
                        }
                        let slot = kept
                            .entry((group.clone(), resource.clone(), rule.resource_names.clone()))
                            .or_default()
                            .entry(verb.clone())
                            .or_insert((0, None));
                        slot.0 += count;
                        if slot.1.is_none() {
                            slot.1 = why.clone();
                        }
                        break;
                    }
                }
            }
            // Other subjects of the same role lose what they alone used.
            for s in &g.subjects {
                if !watched.contains(s) {
                    let n = format!(
                        "{} is also bound to `{}`, whose requests are not part of this audit: tightening may break it",
                        role.display(),
                        s.id()
                    );
                    if !notes.contains(&n) {
                        notes.push(n);
                    }
                }
            }
        }
        // What it drops.
        let mut removed = Vec::new();
        for rule in &role.rules {
            if !rule.non_resource_urls.is_empty() {
                removed.push(format!(
                    "nonResourceURLs {}",
                    rule.non_resource_urls.join(", ")
                ));
                continue;
            }
            for group in &rule.api_groups {
                for resource in &rule.resources {
                    let wild = group == "*"
                        || resource == "*"
                        || resource.starts_with("*/")
                        || rule.verbs.iter().any(|v| v == "*");
                    if wild {
                        removed.push(format!(
                            "{}: {} (a wildcard; only what was used or is needed stays)",
                            shown(group, resource),
                            rule.verbs.join(", ")
                        ));
                        continue;
                    }
                    let key = (group.clone(), resource.clone(), rule.resource_names.clone());
                    let verbs: Vec<&str> = rule
                        .verbs
                        .iter()
                        .map(String::as_str)
                        .filter(|v| !kept.get(&key).is_some_and(|k| k.contains_key(*v)))
                        .collect();
                    if !verbs.is_empty() {
                        removed.push(format!("{}: {}", shown(group, resource), verbs.join(", ")));
                    }
                }
            }
        }
        let rules_yaml = |indent: usize| -> String {
            let pad = " ".repeat(indent);
            let mut s = String::new();
            for ((group, resource, names), verbs) in &kept {
                let mut vs: Vec<(&String, &(u64, Option<String>))> = verbs.iter().collect();
                vs.sort_by_key(|(v, _)| verb_rank(v));
                let why: Vec<String> = vs
                    .iter()
                    .map(|(v, (c, f))| match (c, f) {
                        (0, Some(f)) => format!("{v}: not in the log, needed: {f}"),
                        (0, None) => format!("{v}: not in the log"),
                        (c, _) => format!("{v}: used {c}×"),
                    })
                    .collect();
                s.push_str(&format!("{pad}# {}\n", why.join("; ")));
                s.push_str(&format!("{pad}- apiGroups: [\"{group}\"]\n"));
                s.push_str(&format!("{pad}  resources: [\"{resource}\"]\n"));
                if !names.is_empty() {
                    s.push_str(&format!(
                        "{pad}  resourceNames: [{}]\n",
                        names
                            .iter()
                            .map(|n| serde_json::to_string(n).unwrap_or_default())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                s.push_str(&format!(
                    "{pad}  verbs: [{}]\n",
                    vs.iter()
                        .map(|(v, _)| format!("\"{v}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if s.is_empty() {
                s.push_str(&format!("{pad}[]  # nothing was used or is needed\n"));
            }
            s
        };
        let path = a
            .sources
            .get(role.meta.loc.file)
            .map_or_else(|| "<builtin>".to_string(), |s| s.path.clone());
        let yaml = match role.meta.origin {
            Origin::Helm => format!(
                "# Helm values: replace rbac.rules\nrbac:\n  rules:\n{}",
                rules_yaml(4)
            ),
            Origin::Builtin => {
                notes.push(format!(
                    "{} is built in: create this role instead and point the binding's roleRef at it (roleRef cannot change in place: recreate the binding)",
                    role.display()
                ));
                let g = &a.az.grants[grants[0]];
                let (kind, ns) = match &g.scope {
                    Scope::Cluster => ("ClusterRole", None),
                    Scope::Namespace(n) => ("Role", Some(n.clone())),
                };
                let name = grants
                    .first()
                    .and_then(|&gi| a.az.grants[gi].binding)
                    .map_or_else(
                        || "tightened".to_string(),
                        |b| format!("{}-tightened", a.inv.bindings[b].meta.name),
                    );
                role_manifest(kind, &name, ns.as_deref(), None, &rules_yaml(0))
            }
            Origin::Manifest => role_manifest(
                match role.kind {
                    RoleKind::Role => "Role",
                    RoleKind::ClusterRole => "ClusterRole",
                },
                &role.meta.name,
                role.meta.namespace.as_deref(),
                Some(role),
                &rules_yaml(0),
            ),
        };
        out.push(TightenedRole {
            object: role.display(),
            path,
            line: role.meta.loc.line,
            yaml,
            removed,
            notes,
        });
    }
    out
}

fn role_manifest(
    kind: &str,
    name: &str,
    ns: Option<&str>,
    role: Option<&Role>,
    rules: &str,
) -> String {
    let mut meta = format!("metadata:\n  name: {}\n", json_str(name));
    if let Some(ns) = ns {
        meta.push_str(&format!("  namespace: {}\n", json_str(ns)));
    }
    if let Some(r) = role {
        for (what, map) in [
            ("labels", &r.meta.labels),
            ("annotations", &r.meta.annotations),
        ] {
            if !map.is_empty() {
                meta.push_str(&format!("  {what}:\n"));
                for (k, v) in map {
                    meta.push_str(&format!("    {}: {}\n", json_str(k), json_str(v)));
                }
            }
        }
    }
    format!("apiVersion: rbac.authorization.k8s.io/v1\nkind: {kind}\n{meta}rules:\n{rules}")
}

/// A YAML-safe scalar (JSON strings are YAML).
fn json_str(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'/'))
        && !s.starts_with(['-', '.'])
    {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_default()
    }
}
