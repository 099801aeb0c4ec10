//! Building the runner model from the inventory and settings: which runners exist, who their
//! manager and job identities are, where jobs run, which features are on, what they need.

use super::config::{self, KubernetesConfig, RunnerConfig, RunnerEntry};
use super::permissions::{self, feature as f};
use super::version::{self, VersionHint};
use super::{JobNamespaces, Need, NeedScope, Runner, RunnerModel};
use crate::authz::{Authz, Identity};
use crate::model::{Inventory, Loc, Origin, RunnerConfigSource, SubjectKind};
use crate::settings::Settings;
use std::collections::{BTreeMap, BTreeSet};

/// A manager identity and how it was found.
#[derive(Debug, Clone)]
struct Owner {
    manager: Option<Identity>,
    via: String,
    workload: Option<usize>,
    helm: Option<usize>,
    anchor: Option<Loc>,
}

impl Owner {
    fn none(via: &str) -> Owner {
        Owner {
            manager: None,
            via: via.to_string(),
            workload: None,
            helm: None,
            anchor: None,
        }
    }
}

/// `ns/name` or `system:serviceaccount:ns:name`.
pub(crate) fn parse_identity(s: &str) -> Option<Identity> {
    let s = s.trim();
    if let Some(rest) = s.strip_prefix("system:serviceaccount:") {
        let (ns, name) = rest.split_once(':')?;
        return Some(Identity::sa(ns, name));
    }
    let (ns, name) = s.split_once('/')?;
    (!ns.is_empty() && !name.is_empty()).then(|| Identity::sa(ns, name))
}

fn sa_namespace(id: &Identity) -> Option<&str> {
    match id {
        Identity::ServiceAccount { namespace, .. } => Some(namespace),
        _ => None,
    }
}

/// The first identity in `ids` in namespace `ns`, else the first.
fn pick(ids: &[Identity], ns: Option<&str>) -> Option<Identity> {
    ids.iter()
        .find(|i| ns.is_some() && sa_namespace(i) == ns)
        .or_else(|| ids.first())
        .cloned()
}

struct Builder<'a> {
    inv: &'a Inventory,
    authz: &'a Authz,
    settings: &'a Settings,
    managers: Vec<Identity>,
    jobs: Vec<Identity>,
    runner_workloads: Vec<usize>,
    claimed: BTreeSet<usize>,
    heuristic: Option<Vec<(Identity, Loc)>>,
    /// Per runner config: whether it (or a config of the same ConfigMap, as the chart splits
    /// `config.toml` and `config.template.toml`) has a `[session_server]`.
    sessions: Vec<bool>,
    /// ServiceAccounts named for jobs (`*job*`), by namespace: asked once per runner, so it is
    /// collected once (a scan per runner made dumps with thousands of runners quadratic).
    job_named: BTreeMap<String, BTreeSet<Identity>>,
}

/// ServiceAccounts (declared, or named by a binding) whose name contains `job`, by namespace.
fn job_named_accounts(inv: &Inventory, authz: &Authz) -> BTreeMap<String, BTreeSet<Identity>> {
    let mut out: BTreeMap<String, BTreeSet<Identity>> = BTreeMap::new();
    for sa in &inv.service_accounts {
        if sa.meta.name.contains("job") {
            let ns = sa.meta.namespace.as_deref().unwrap_or("default");
            out.entry(ns.to_string())
                .or_default()
                .insert(Identity::sa(ns, &sa.meta.name));
        }
    }
    for id in &authz.identities {
        if let Identity::ServiceAccount { name, namespace } = id {
            if name.contains("job") {
                out.entry(namespace.clone()).or_default().insert(id.clone());
            }
        }
    }
    out
}

impl<'a> Builder<'a> {
    fn workload_owner(&self, wi: usize, via: &str) -> Owner {
        let w = &self.inv.workloads[wi];
        let ns = w.namespace.as_deref().unwrap_or("default");
        Owner {
            manager: Some(Identity::sa(ns, w.service_account_name())),
            via: format!(
                "{via} {} {ns}/{} runs as ServiceAccount `{}`",
                w.kind,
                w.meta.name,
                w.service_account_name()
            ),
            workload: Some(wi),
            helm: None,
            anchor: Some(w.service_account_loc.unwrap_or(w.meta.loc)),
        }
    }

    fn helm_owner(&self, hi: usize) -> Owner {
        let h = &self.inv.helm_values[hi];
        let sa = if h.service_account.is_empty() {
            "default"
        } else {
            h.service_account.as_str()
        };
        let workload = self.inv.workloads.iter().position(|w| {
            w.meta.origin == Origin::Helm && w.meta.loc.file == h.file && w.is_gitlab_runner()
        });
        Owner {
            manager: Some(Identity::sa(&h.release_namespace, sa)),
            via: format!(
                "the Helm values run the runner as ServiceAccount `{sa}` in namespace `{}`",
                h.release_namespace
            ),
            workload,
            helm: Some(hi),
            anchor: Some(h.loc),
        }
    }

    fn settings_owner(&self, ns: Option<&str>) -> Option<Owner> {
        let id = pick(&self.managers, ns)?;
        Some(Owner {
            manager: Some(id.clone()),
            via: format!(
                "`identities.runner` in the gate's settings names `{}`",
                id.id()
            ),
            workload: None,
            helm: None,
            anchor: None,
        })
    }

    /// Identities bound to a role recognisably written for the runner.
    fn heuristic(&mut self) -> Vec<(Identity, Loc)> {
        if let Some(h) = &self.heuristic {
            return h.clone();
        }
        let found = heuristic_identities(self.inv, self.authz);
        self.heuristic = Some(found.clone());
        found
    }

    /// Who runs a config: Helm values, the runner workload mounting it, settings, or the RBAC.
    fn config_owner(&mut self, ci: usize) -> Owner {
        let src = &self.inv.runner_configs[ci];
        let ns = src.namespace.as_deref();
        if !self.managers.is_empty() {
            if let Some(o) = self.settings_owner(ns) {
                return o;
            }
        }
        if src.from_helm {
            if let Some(hi) = self
                .inv
                .helm_values
                .iter()
                .position(|h| {
                    h.file == src.file
                        && h.loc.line <= src.anchor.line
                        && src.anchor.line <= h.loc.end_line
                })
                .or_else(|| self.inv.helm_values.iter().position(|h| h.file == src.file))
            {
                let o = self.helm_owner(hi);
                if let Some(w) = o.workload {
                    self.claimed.insert(w);
                }
                return o;
            }
        }
        if let Some(cm) = &src.configmap {
            let ns = ns.unwrap_or("default");
            let in_ns: Vec<usize> = self
                .runner_workloads
                .iter()
                .copied()
                .filter(|&w| {
                    self.inv.workloads[w]
                        .namespace
                        .as_deref()
                        .unwrap_or("default")
                        == ns
                })
                .collect();
            let mounting = in_ns
                .iter()
                .copied()
                .find(|&w| self.inv.workloads[w].configmaps.iter().any(|c| c == cm));
            if let Some(w) = mounting.or_else(|| in_ns.first().copied()) {
                self.claimed.insert(w);
                return self.workload_owner(w, "the runner");
            }
        } else if !src.from_helm {
            // A standalone config.toml: the runner workload, when there is exactly one.
            let unclaimed: Vec<usize> = self
                .runner_workloads
                .iter()
                .copied()
                .filter(|w| !self.claimed.contains(w))
                .collect();
            if let [w] = unclaimed[..] {
                self.claimed.insert(w);
                return self.workload_owner(w, "the runner");
            }
        }
        let found = self.heuristic();
        let near = found
            .iter()
            .find(|(id, _)| ns.is_some() && sa_namespace(id) == ns)
            .or_else(|| found.first())
            .cloned();
        if let Some((id, loc)) = near {
            return Owner {
                manager: Some(id.clone()),
                via: format!("`{}` is bound to the RBAC written for the runner", id.id()),
                workload: None,
                helm: None,
                anchor: Some(loc),
            };
        }
        Owner::none("no runner identity found (set `identities.runner` in the gate's settings)")
    }
}

/// The identity behind a static `bearer_token`: such tokens are almost always the long-lived
/// token Secret of a ServiceAccount, so when exactly one runner-like identity has a legacy token
/// Secret in the inputs, it is the one the token belongs to.
fn static_token_owner(inv: &Inventory, candidates: &[(Identity, Loc)]) -> Option<Owner> {
    let with_secret: Vec<&(Identity, Loc)> = candidates
        .iter()
        .filter(|(id, _)| {
            let Identity::ServiceAccount { namespace, name } = id else {
                return false;
            };
            inv.secrets.iter().any(|s| {
                s.type_ == "kubernetes.io/service-account-token"
                    && s.service_account.as_deref() == Some(name.as_str())
                    && s.meta.namespace.as_deref().unwrap_or("default") == namespace
            })
        })
        .collect();
    let [(id, loc)] = with_secret[..] else {
        return None;
    };
    Some(Owner {
        manager: Some(id.clone()),
        via: format!(
            "`bearer_token` is most likely the legacy token Secret of `{}`, which is bound to the RBAC written for the runner",
            id.id()
        ),
        workload: None,
        helm: None,
        anchor: Some(*loc),
    })
}

/// Whether a role looks written for the runner: by name, or by granting what only the runner
/// asks for (creating pods and exec/attach into them, listed explicitly).
fn runner_like_role(role: &crate::model::Role) -> bool {
    let explicit = |res: &str| {
        role.rules.iter().any(|r| {
            r.resources.iter().any(|x| x == res)
                && r.verbs.iter().any(|v| v == "create" || v == "*")
                && r.api_groups.iter().any(|g| g.is_empty() || g == "*")
        })
    };
    role.meta.name.contains("runner")
        || (explicit("pods") && (explicit("pods/exec") || explicit("pods/attach")))
}

/// ServiceAccounts (also as `system:serviceaccount:` users) bound to runner-like roles or named
/// for the runner. Names saying `job` are the job identity, not the manager, when others exist.
fn heuristic_identities(inv: &Inventory, az: &Authz) -> Vec<(Identity, Loc)> {
    let mut found: Vec<(Identity, Loc)> = Vec::new();
    // First binding wins; the set keeps dumps with thousands of bound accounts linear.
    let mut seen: std::collections::HashSet<&Identity> = std::collections::HashSet::new();
    for g in &az.grants {
        let Some(bi) = g.binding else { continue };
        let b = &inv.bindings[bi];
        let role = &inv.roles[g.role];
        if role.meta.origin == Origin::Builtin && !b.meta.name.contains("runner") {
            continue;
        }
        let role_like = runner_like_role(role) || b.meta.name.contains("runner");
        for (s, id) in b.subjects.iter().zip(&g.subjects) {
            let Identity::ServiceAccount { name, .. } = id else {
                continue;
            };
            let is_sa = s.kind == SubjectKind::ServiceAccount || s.kind == SubjectKind::User;
            if is_sa && (role_like || name.contains("runner")) && seen.insert(id) {
                found.push((id.clone(), s.loc));
            }
        }
    }
    let not_jobs: Vec<(Identity, Loc)> = found
        .iter()
        .filter(
            |(id, _)| !matches!(id, Identity::ServiceAccount { name, .. } if name.contains("job")),
        )
        .cloned()
        .collect();
    if not_jobs.is_empty() {
        found
    } else {
        not_jobs
    }
}

/// `kubernetes.autoscaler` → `autoscaler`; `FF_X=false` → (`FF_X`, false).
fn normalize_feature(raw: &str) -> (String, bool) {
    let (name, on) = match raw.split_once('=') {
        Some((n, v)) => (n.trim(), !matches!(v.trim(), "false" | "0" | "off" | "no")),
        None => (raw.trim(), true),
    };
    let name = name.strip_prefix("kubernetes.").unwrap_or(name);
    let name = match name {
        "NamespacePerJob" => f::NAMESPACE_PER_JOB,
        "resource_availability_check_max_attempts" => f::RESOURCE_CHECK,
        "runners.kubernetes.autoscaler" => f::AUTOSCALER,
        other => other,
    };
    (name.to_string(), on)
}

/// The flags a job cannot set: `[runners.feature_flags]`, and flags the gate's settings turn
/// off (`FF_X=false` says the runner's config pins it).
fn pinned_flags(entry: Option<&RunnerEntry>, settings: &Settings) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = entry
        .map(|e| e.pinned_flags.keys().cloned().collect())
        .unwrap_or_default();
    for raw in &settings.features {
        let (name, on) = normalize_feature(raw);
        if !on && name.starts_with("FF_") {
            out.insert(name);
        }
    }
    out
}

/// Effective features: defaults, then the config, then the gate's settings.
fn features(
    entry: Option<&RunnerEntry>,
    session_server: bool,
    settings: &Settings,
    version: (u32, u32),
) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    let mut put = |name: &str, on: bool| {
        if on {
            set.insert(name.to_string());
        } else {
            set.remove(name);
        }
    };
    put(f::PRINT_POD_WARNING_EVENTS, true);
    if version < (14, 0) {
        put(f::LEGACY_EXEC, true);
    }
    if let Some(k) = entry.and_then(|e| e.kubernetes.as_ref()) {
        for (name, v) in [
            (f::NAMESPACE_PER_JOB, &k.namespace_per_job),
            (f::PRINT_POD_WARNING_EVENTS, &k.print_pod_warning_events),
            (f::POD_DISRUPTION_BUDGET, &k.pod_disruption_budget),
        ] {
            if let Some(l) = v {
                put(name, l.value);
            }
        }
        if k.autoscaler.is_some() {
            put(f::AUTOSCALER, true);
        }
        if k.resource_availability_check_max_attempts
            .as_ref()
            .is_some_and(|l| l.value > 0)
        {
            put(f::RESOURCE_CHECK, true);
        }
        if k.namespace_overwrite().is_some() {
            put(f::NAMESPACE_OVERWRITE, true);
        }
        if k.service_account().is_some() {
            put(f::SERVICE_ACCOUNT, true);
        }
    }
    if session_server {
        put(f::SESSION_SERVER, true);
    }
    for (name, l) in entry.map(|e| &e.feature_flags).into_iter().flatten() {
        put(name, l.value);
    }
    for raw in &settings.features {
        let (name, on) = normalize_feature(raw);
        put(&name, on);
    }
    set
}

fn cluster_feature(features: &BTreeSet<String>, version: (u32, u32)) -> Option<String> {
    [
        f::NAMESPACE_PER_JOB,
        f::NAMESPACE_OVERWRITE,
        f::AUTOSCALER,
        f::SUSPENDABLE,
    ]
    .into_iter()
    .filter(|n| *n != f::SUSPENDABLE || version >= permissions::SUSPEND_SINCE)
    .find(|n| features.contains(*n))
    .map(str::to_string)
}

/// The namespace jobs run in when not overridden: the `namespace` key; for a ConfigMap or
/// Helm config without one, the runner's own namespace; else `default` (the runner's default).
fn base_namespace(
    kube: Option<&KubernetesConfig>,
    src: Option<&RunnerConfigSource>,
    manager: Option<&Identity>,
) -> String {
    if let Some(ns) = kube.and_then(KubernetesConfig::namespace) {
        return ns.value.clone();
    }
    match src {
        Some(s) if s.configmap.is_some() || s.from_helm => s
            .namespace
            .clone()
            .or_else(|| manager.and_then(sa_namespace).map(str::to_string))
            .unwrap_or_else(|| "default".to_string()),
        Some(_) => "default".to_string(),
        None => manager
            .and_then(sa_namespace)
            .unwrap_or("default")
            .to_string(),
    }
}

fn job_namespaces(
    kube: Option<&KubernetesConfig>,
    features: &BTreeSet<String>,
    base: &str,
) -> JobNamespaces {
    if features.contains(f::NAMESPACE_PER_JOB) {
        return JobNamespaces::Any {
            reason: "`namespace_per_job = true` creates a new namespace for every job".to_string(),
        };
    }
    if let Some(re) = kube.and_then(KubernetesConfig::namespace_overwrite) {
        return JobNamespaces::Any {
            reason: format!(
                "`namespace_overwrite_allowed = \"{}\"` lets jobs choose their namespace",
                re.value
            ),
        };
    }
    JobNamespaces::Listed(vec![base.to_string()])
}

impl Builder<'_> {
    #[allow(clippy::too_many_arguments)]
    fn runner(
        &self,
        name: String,
        ci: Option<usize>,
        entry: Option<&RunnerEntry>,
        owner: Owner,
        fallback_anchor: Loc,
        base_override: Option<String>,
    ) -> Runner {
        let kube = entry.and_then(|e| e.kubernetes.as_ref());
        let src = ci.map(|i| &self.inv.runner_configs[i]);
        let session = ci.is_some_and(|i| self.sessions.get(i).copied().unwrap_or(false));
        let (version, version_from) = self.version(&owner);
        let features = features(entry, session, self.settings, version);
        // Without a config, jobs run where the manager may create pods (its own namespace
        // when the RBAC does not say).
        let granted = if ci.is_none() && base_override.is_none() {
            owner
                .manager
                .as_ref()
                .map(|m| self.pod_namespaces(m))
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let base = base_override
            .or_else(|| granted.first().cloned())
            .unwrap_or_else(|| base_namespace(kube, src, owner.manager.as_ref()));
        let mut job_namespaces = job_namespaces(kube, &features, &base);
        if granted.len() > 1 && matches!(job_namespaces, JobNamespaces::Listed(_)) {
            job_namespaces = JobNamespaces::Listed(granted.clone());
        }
        let jobs = if !self.jobs.is_empty() {
            pick(&self.jobs, Some(&base))
        } else if features.contains(f::NAMESPACE_PER_JOB) {
            // A fresh namespace per job: its ServiceAccounts cannot be named ahead.
            None
        } else if let Some(sa) = kube.and_then(KubernetesConfig::service_account) {
            Some(Identity::sa(&base, &sa.value))
        } else if entry.is_none() {
            self.job_identity_by_name(&job_namespaces, &base)
        } else {
            Some(Identity::sa(&base, "default"))
        };
        let needs: Vec<Need> = permissions::needs_for(version, &features);
        let pinned_flags = pinned_flags(entry, self.settings);
        let job_flags = permissions::job_flag_needs(version, &features, &pinned_flags);
        let documented = permissions::documented_for(version, &features);
        let anchor = entry
            .map(|e| e.kubernetes.as_ref().map_or(e.loc, |k| k.loc))
            .or(owner.anchor)
            .unwrap_or(fallback_anchor);
        Runner {
            name,
            config: ci,
            manager: owner.manager,
            jobs,
            job_namespaces,
            cluster_feature: cluster_feature(&features, version),
            features,
            needs,
            job_flags,
            pinned_flags,
            documented,
            entry: entry.cloned(),
            manager_via: owner.via,
            anchor,
            workload: owner.workload,
            helm: owner.helm,
            version,
            version_from,
            default_namespace: base,
        }
    }

    /// The runner's version and, when the inputs said it, where: `--runner-version` or the
    /// gate's config first, then the tag of its own runner image (a Deployment's, or the Helm
    /// values' `image.tag`), the version of the chart its values are for, and for a runner
    /// with no workload of its own the one version all runner images in the inputs agree on;
    /// else the newest the gate knows.
    fn version(&self, owner: &Owner) -> ((u32, u32), Option<String>) {
        let settings = self.settings;
        if settings.runner_version_from.is_some() {
            return (settings.runner_version, None);
        }
        let described = |w: &crate::model::Workload, hint: &VersionHint| {
            let of = if w.meta.origin == Origin::Helm {
                String::new()
            } else {
                format!(
                    " of {} {}/{}",
                    w.kind,
                    w.namespace.as_deref().unwrap_or("default"),
                    w.meta.name
                )
            };
            (
                hint.version,
                Some(format!("{}{of}, line {}", hint.what, hint.loc.line)),
            )
        };
        let own = owner.workload.map(|w| &self.inv.workloads[w]);
        if let Some((w, hint)) = own.and_then(|w| w.runner_version.as_ref().map(|h| (w, h))) {
            return described(w, hint);
        }
        let chart = owner
            .helm
            .and_then(|h| self.inv.helm_values[h].chart_version.as_deref());
        if let Some((chart, version)) = chart.and_then(|c| version::of_chart(c).map(|v| (c, v))) {
            return (
                version,
                Some(format!(
                    "the gitlab-runner chart version {chart}, whose appVersion it is"
                )),
            );
        }
        if own.is_none() {
            let hinted: Vec<(&crate::model::Workload, &VersionHint)> = self
                .runner_workloads
                .iter()
                .filter_map(|&w| {
                    let w = &self.inv.workloads[w];
                    w.runner_version.as_ref().map(|h| (w, h))
                })
                .collect();
            if let Some((w, hint)) = hinted.first() {
                if hinted.iter().all(|(_, h)| h.version == hint.version) {
                    return described(w, hint);
                }
            }
        }
        (settings.runner_version, None)
    }

    /// Without a config, a ServiceAccount named for jobs (`*job*`) in a job namespace is the
    /// job identity when there is exactly one; otherwise the namespace's `default`.
    fn job_identity_by_name(&self, namespaces: &JobNamespaces, base: &str) -> Option<Identity> {
        let mut named: BTreeSet<&Identity> = BTreeSet::new();
        match namespaces {
            JobNamespaces::Listed(l) => {
                for ns in l {
                    named.extend(self.job_named.get(ns).into_iter().flatten());
                }
            }
            JobNamespaces::Any { .. } => named.extend(self.job_named.values().flatten()),
        }
        if named.len() == 1 {
            return named.into_iter().next().cloned();
        }
        Some(Identity::sa(base, "default"))
    }

    /// Namespaces where `manager` may create pods through namespaced grants, in grant order.
    fn pod_namespaces(&self, manager: &Identity) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for gi in direct_grants(self.authz, manager) {
            let g = &self.authz.grants[gi];
            let crate::authz::Scope::Namespace(ns) = &g.scope else {
                continue;
            };
            let allows = self.inv.roles[g.role]
                .rules
                .iter()
                .any(|r| crate::authz::rule_allows(&g.scope, r, "create", "", "pods", None));
            if allows && !out.contains(ns) {
                out.push(ns.clone());
            }
        }
        out
    }
}

/// Helm values, and where they sit when that is not a plain values file.
fn helm_place(src: &RunnerConfigSource) -> String {
    match &src.via {
        Some(via) => format!("Helm values runners.config ({via})"),
        None => "Helm values runners.config".to_string(),
    }
}

fn entry_name(src: &RunnerConfigSource, entry: &RunnerEntry, i: usize, n: usize) -> String {
    let place = match (&src.configmap, src.from_helm) {
        (Some(cm), _) => format!(
            "ConfigMap {}{cm} {}",
            src.namespace
                .as_deref()
                .map(|n| format!("{n}/"))
                .unwrap_or_default(),
            src.label
        ),
        (None, true) => helm_place(src),
        (None, false) => src.label.clone(),
    };
    match (&entry.name, n) {
        (Some(nm), _) => format!("{place} [[runners]] \"{}\"", nm.value),
        (None, 1) => format!("{place} [[runners]]"),
        (None, _) => format!("{place} [[runners]] #{}", i + 1),
    }
}

pub fn build(inv: &Inventory, authz: &Authz, settings: &Settings) -> RunnerModel {
    let parsed: Vec<Option<RunnerConfig>> = (0..inv.runner_configs.len())
        .map(|ci| config::parse(inv, ci).ok())
        .collect();
    let sessions = (0..parsed.len())
        .map(|ci| {
            let src = &inv.runner_configs[ci];
            (0..parsed.len()).any(|o| {
                let other = &inv.runner_configs[o];
                let same = o == ci
                    || (src.configmap.is_some()
                        && other.configmap == src.configmap
                        && other.file == src.file
                        && other.namespace == src.namespace);
                same && parsed[o]
                    .as_ref()
                    .is_some_and(|c| c.session_server.is_some())
            })
        })
        .collect();
    let mut b = Builder {
        inv,
        authz,
        settings,
        managers: settings
            .runner_identities
            .iter()
            .filter_map(|s| parse_identity(s))
            .collect(),
        jobs: settings
            .job_identities
            .iter()
            .filter_map(|s| parse_identity(s))
            .collect(),
        runner_workloads: (0..inv.workloads.len())
            .filter(|&w| inv.workloads[w].is_gitlab_runner())
            .collect(),
        claimed: BTreeSet::new(),
        heuristic: None,
        sessions,
        job_named: job_named_accounts(inv, authz),
    };
    let mut model = RunnerModel::default();
    for (ci, cfg) in parsed.into_iter().enumerate() {
        let Some(cfg) = cfg else { continue };
        let src = &inv.runner_configs[ci];
        let embedded = src.from_helm || src.configmap.is_some();
        // Helm and ConfigMap configs leave `executor` to the chart or the registration.
        let entries: Vec<&RunnerEntry> = cfg
            .runners
            .iter()
            .filter(|e| e.is_kubernetes() || (embedded && e.executor.is_none()))
            .collect();
        if entries.is_empty() && !src.from_helm {
            model.configs.push(cfg);
            continue;
        }
        let owner = b.config_owner(ci);
        if entries.is_empty() {
            // Helm values whose config has no [[runners]]: the chart's default entry.
            let r = b.runner(
                helm_place(src),
                Some(ci),
                None,
                owner.clone(),
                src.anchor,
                None,
            );
            model.runners.push(r);
        }
        for (i, e) in entries.iter().enumerate() {
            let mut o = owner.clone();
            if let Some(k) = e.kubernetes.as_ref().and_then(KubernetesConfig::host) {
                // Out-of-cluster credentials (bearer_token, cert_file or a kubeconfig): the
                // identity behind them cannot be named from the files.
                if b.managers.is_empty() {
                    o = static_token_owner(inv, &b.heuristic()).unwrap_or_else(|| {
                        Owner::none(&format!(
                            "`host = \"{}\"` makes the runner authenticate with credentials from its config, not a ServiceAccount the gate can see",
                            k.value
                        ))
                    });
                }
            }
            let name = entry_name(src, e, i, entries.len());
            let r = b.runner(name, Some(ci), Some(e), o, src.anchor, None);
            model.runners.push(r);
        }
        model.configs.push(cfg);
    }
    // Runner workloads without a config of their own: default features, jobs in their namespace.
    for &wi in &b.runner_workloads.clone() {
        if b.claimed.contains(&wi) {
            continue;
        }
        let w = &inv.workloads[wi];
        let mut owner = b.workload_owner(wi, "the runner");
        let mut base = None;
        if w.meta.origin == Origin::Helm {
            if let Some(hi) = inv
                .helm_values
                .iter()
                .position(|h| h.file == w.meta.loc.file)
            {
                owner = b.helm_owner(hi);
                let h = &inv.helm_values[hi];
                // The chart's default config puts jobs in `runners.jobNamespace`, which is
                // where it renders the Role.
                base = h
                    .role
                    .and_then(|r| inv.roles[r].meta.namespace.clone())
                    .or_else(|| Some(h.release_namespace.clone()));
            }
        }
        let name = format!(
            "{} {}/{}",
            w.kind,
            w.namespace.as_deref().unwrap_or("default"),
            w.meta.name
        );
        let r = b.runner(name, None, None, owner, w.meta.loc, base);
        model.runners.push(r);
    }
    // Identities named in the settings that no config or workload accounted for.
    for id in b.managers.clone() {
        if model
            .runners
            .iter()
            .any(|r| r.manager.as_ref() == Some(&id))
        {
            continue;
        }
        let owner = Owner {
            manager: Some(id.clone()),
            via: format!(
                "`identities.runner` in the gate's settings names `{}`",
                id.id()
            ),
            workload: None,
            helm: None,
            anchor: None,
        };
        let r = b.runner(
            format!("runner `{}`", id.id()),
            None,
            None,
            owner,
            Loc::default(),
            None,
        );
        model.runners.push(r);
    }
    // Nothing else says where the runner is: the RBAC written for it does.
    if model.runners.is_empty() && inv.runner_configs.is_empty() && inv.helm_values.is_empty() {
        for (id, loc) in b.heuristic() {
            let owner = Owner {
                manager: Some(id.clone()),
                via: format!("`{}` is bound to RBAC written for the runner", id.id()),
                workload: None,
                helm: None,
                anchor: Some(loc),
            };
            let r = b.runner(
                format!("runner `{}`", id.id()),
                None,
                None,
                owner,
                loc,
                None,
            );
            model.runners.push(r);
        }
    }
    model.index();
    model
}

/// A needed permission the manager lacks.
#[derive(Debug, Clone)]
pub struct MissingNeed {
    pub need: Need,
    /// The job namespace it is missing in; `None`: cluster scope (a cluster-scoped resource,
    /// or jobs that may run in any namespace).
    pub namespace: Option<String>,
    pub verbs: Vec<&'static str>,
    /// The unpinned feature flag a job turns on to need it; `None`: the runner's config does.
    pub job_flag: Option<&'static str>,
}

/// The runner's needs its manager identity is not granted, per job namespace. Empty when the
/// manager cannot be named.
pub fn missing(inv: &Inventory, authz: &Authz, runner: &Runner) -> Vec<MissingNeed> {
    let needs: Vec<(Option<&'static str>, &Need)> =
        runner.needs.iter().map(|n| (None, n)).collect();
    missing_of(inv, authz, runner, &needs)
}

/// What jobs that turn on an unpinned flag need and the manager is not granted.
pub fn missing_job_flags(inv: &Inventory, authz: &Authz, runner: &Runner) -> Vec<MissingNeed> {
    let needs: Vec<(Option<&'static str>, &Need)> = runner
        .job_flags
        .iter()
        .map(|j| (Some(j.flag), &j.need))
        .collect();
    missing_of(inv, authz, runner, &needs)
}

fn missing_of(
    inv: &Inventory,
    authz: &Authz,
    runner: &Runner,
    needs: &[(Option<&'static str>, &Need)],
) -> Vec<MissingNeed> {
    let Some(manager) = &runner.manager else {
        return Vec::new();
    };
    let grants = authz.grants_of(manager);
    let mut out = Vec::new();
    for &(job_flag, need) in needs {
        // `namespace_overwrite_allowed` alone: jobs may go to any namespace the expression
        // matches, which the gate cannot list; it checks the default one, and RG304 reports
        // the overwrite.
        let overwrite_only = matches!(runner.job_namespaces, JobNamespaces::Any { .. })
            && !runner.features.contains(f::NAMESPACE_PER_JOB);
        let namespaces: Vec<Option<String>> = match (need.scope, &runner.job_namespaces) {
            (NeedScope::Namespaced, JobNamespaces::Any { .. }) if overwrite_only => {
                vec![Some(runner.default_namespace.clone())]
            }
            (NeedScope::Cluster, _) | (NeedScope::Namespaced, JobNamespaces::Any { .. }) => {
                vec![None]
            }
            (NeedScope::Namespaced, JobNamespaces::Listed(list)) => {
                list.iter().cloned().map(Some).collect()
            }
        };
        for ns in namespaces {
            let verbs: Vec<&'static str> = need
                .verbs
                .iter()
                .copied()
                .filter(|v| {
                    authz
                        .who_allows(
                            inv,
                            &grants,
                            v,
                            need.group,
                            need.resource,
                            ns.as_deref(),
                            None,
                        )
                        .is_empty()
                })
                .collect();
            if !verbs.is_empty() {
                out.push(MissingNeed {
                    need: need.clone(),
                    namespace: ns,
                    verbs,
                    job_flag,
                });
            }
        }
    }
    out
}

/// Grants bound to `id` by name (not through a group), in inventory order.
pub fn direct_grants(authz: &Authz, id: &Identity) -> Vec<usize> {
    authz
        .grants_of(id)
        .into_iter()
        .filter(|&g| authz.grants[g].subjects.contains(id))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Options, Source};
    use crate::authz;

    fn model(files: &[(&str, &str)], settings: &Settings) -> (Inventory, Authz, RunnerModel) {
        let sources: Vec<Source> = files.iter().map(|(p, t)| Source::new(*p, *t)).collect();
        let mut inv = crate::model::build(&sources);
        authz::complete_roles(&mut inv);
        let az = Authz::build(&inv);
        let m = build(&inv, &az, settings);
        (inv, az, m)
    }

    fn default_settings() -> Settings {
        crate::settings::load(&Options::default()).0
    }

    #[test]
    fn the_identity_index_answers_as_a_scan_does() {
        // Three runner managers found from their RBAC (one per binding), each with a job
        // identity named for jobs; plus accounts that are neither.
        let mut yaml = String::new();
        for i in 0..3 {
            yaml.push_str(&format!(
                "---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: runner-{i}, namespace: ci-{i}}}
rules:
- apiGroups: [\"\"]
  resources: [pods, pods/exec]
  verbs: [create, get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: runner-{i}, namespace: ci-{i}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: runner-{i}}}
subjects: [{{kind: ServiceAccount, name: sa-{i}, namespace: ci-{i}}}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: build-job-{i}, namespace: ci-{i}}}
"
            ));
        }
        let (_, _, m) = model(&[("rbac.yaml", &yaml)], &default_settings());
        assert_eq!(m.runners.len(), 3, "{:#?}", m.runners);
        let mut scan = m.clone();
        scan.index = crate::runner::RunnerIndex::default();
        assert!(m.indexed() && !scan.indexed());
        let mut asked: Vec<Identity> = vec![Identity::sa("ci-0", "default")];
        for r in &m.runners {
            asked.extend(r.manager.clone());
            asked.extend(r.jobs.clone());
        }
        for id in &asked {
            assert_eq!(m.is_manager(id), scan.is_manager(id), "{id:?}");
            assert_eq!(m.is_job(id), scan.is_job(id), "{id:?}");
            let names = |model: &RunnerModel| {
                model
                    .runners_managed_by(id)
                    .map(|r| r.name.clone())
                    .collect::<Vec<_>>()
            };
            assert_eq!(names(&m), names(&scan), "{id:?}");
        }
        assert!(
            m.is_job(&Identity::sa("ci-1", "build-job-1")),
            "job named per namespace"
        );
        assert!(m.is_manager(&Identity::sa("ci-2", "sa-2")));
        // A change after the index was built falls back to the scan.
        let mut changed = m.clone();
        changed.runners.truncate(1);
        assert!(!changed.is_manager(&Identity::sa("ci-2", "sa-2")));
    }

    const RUNNER_DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: gitlab-runner, namespace: ci}
spec:
  template:
    spec:
      serviceAccountName: gitlab-runner
      containers:
      - name: helper-first
        image: gitlab/gitlab-runner-helper:x86_64-v15.0.0
      - name: runner
        image: registry.gitlab.com/gitlab-org/gitlab-runner:alpine-v17.6.0
";

    #[test]
    fn version_from_the_runner_image_tag_unless_the_settings_say() {
        let (_, _, m) = model(&[("runner.yaml", RUNNER_DEPLOYMENT)], &default_settings());
        let r = &m.runners[0];
        assert_eq!(r.version, (17, 6));
        assert_eq!(
            r.version_from.as_deref(),
            Some("the image tag `alpine-v17.6.0` of Deployment ci/gitlab-runner, line 12")
        );
        // A config.toml beside it has no workload of its own: the one runner image says.
        let toml = "[[runners]]\n  executor = \"kubernetes\"\n  [runners.kubernetes]\n    namespace = \"ci\"\n";
        let (_, _, m) = model(
            &[("runner.yaml", RUNNER_DEPLOYMENT), ("config.toml", toml)],
            &default_settings(),
        );
        assert!(
            m.runners.iter().all(|r| r.version == (17, 6)),
            "{:#?}",
            m.runners
        );
        // `--runner-version` and the config's `runner.version` win.
        let options = Options {
            runner_version: Some("18.1".into()),
            ..Options::default()
        };
        let settings = crate::settings::load(&options).0;
        let (_, _, m) = model(&[("runner.yaml", RUNNER_DEPLOYMENT)], &settings);
        assert_eq!(
            (m.runners[0].version, m.runners[0].version_from.as_deref()),
            ((18, 1), None)
        );
        // No tag that names a version: the newest.
        let latest = RUNNER_DEPLOYMENT.replace("alpine-v17.6.0", "latest");
        let (_, _, m) = model(&[("runner.yaml", latest.as_str())], &default_settings());
        assert_eq!(m.runners[0].version, crate::settings::NEWEST_RUNNER);
        assert_eq!(m.runners[0].version_from, None);
    }

    #[test]
    fn version_from_helm_values_image_tag_or_image_string() {
        for (image, version, what) in [
            (
                "image:\n  registry: registry.gitlab.com\n  image: gitlab-org/gitlab-runner\n  tag: v18.0.2\n",
                (18, 0),
                "`image.tag` `v18.0.2` in the Helm values, line 5",
            ),
            (
                "image: gitlab/gitlab-runner:ubuntu-v16.11.1\n",
                (16, 11),
                "the image tag `ubuntu-v16.11.1`, line 2",
            ),
        ] {
            let values = format!("gitlabUrl: https://gitlab.example.com/\n{image}rbac:\n  create: true\n");
            let (_, _, m) = model(&[("values.yaml", values.as_str())], &default_settings());
            assert_eq!(m.runners[0].version, version, "{values}");
            assert_eq!(m.runners[0].version_from.as_deref(), Some(what));
        }
    }

    #[test]
    fn helm_values_runner() {
        let values = "gitlabUrl: https://gitlab.example.com/
namespace: ci
rbac:
  create: true
runners:
  config: |
    [[runners]]
      [runners.kubernetes]
        namespace = \"{{.Release.Namespace}}\"
        service_account = \"jobs\"
";
        let (_, _, m) = model(&[("values.yaml", values)], &default_settings());
        assert_eq!(m.runners.len(), 1, "{:#?}", m.runners);
        let r = &m.runners[0];
        assert_eq!(r.manager, Some(Identity::sa("ci", "gitlab-runner")));
        assert_eq!(r.jobs, Some(Identity::sa("ci", "jobs")));
        assert_eq!(r.job_namespaces, JobNamespaces::Listed(vec!["ci".into()]));
        assert!(r.features.contains(f::PRINT_POD_WARNING_EVENTS));
    }

    #[test]
    fn configmap_belongs_to_the_workload_mounting_it() {
        let yaml = "apiVersion: v1
kind: ConfigMap
metadata: {name: runner-config, namespace: ci}
data:
  config.toml: |
    [[runners]]
      [runners.kubernetes]
        namespace_per_job = true
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: other, namespace: ci}
spec:
  template:
    spec:
      serviceAccountName: wrong
      containers: [{name: r, image: gitlab/gitlab-runner:v18.0.0}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: runner, namespace: ci}
spec:
  template:
    spec:
      serviceAccountName: runner
      containers: [{name: r, image: gitlab/gitlab-runner:v18.0.0}]
      volumes: [{name: c, configMap: {name: runner-config}}]
";
        let (_, _, m) = model(&[("a.yaml", yaml)], &default_settings());
        let r = &m.runners[0];
        assert_eq!(r.manager, Some(Identity::sa("ci", "runner")));
        assert!(matches!(r.job_namespaces, JobNamespaces::Any { .. }));
        assert_eq!(r.cluster_feature.as_deref(), Some("namespace_per_job"));
        assert_eq!(r.jobs, None);
        // The other runner workload has no config: default features, jobs in its namespace.
        assert_eq!(m.runners.len(), 2);
        assert_eq!(m.runners[1].manager, Some(Identity::sa("ci", "wrong")));
    }

    #[test]
    fn a_config_template_is_named_as_its_file_or_key() {
        let toml = "[[runners]]\n  name = \"k8s\"\n  executor = \"kubernetes\"\n";
        let (_, _, m) = model(
            &[("runner/config.template.toml", toml)],
            &default_settings(),
        );
        assert_eq!(
            m.runners[0].name,
            "config.template.toml [[runners]] \"k8s\""
        );
        let (_, _, m) = model(&[("config.toml", toml)], &default_settings());
        assert_eq!(m.runners[0].name, "config.toml [[runners]] \"k8s\"");
        let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: runner\n  namespace: ci\ndata:\n  config.template.toml: |\n    [[runners]]\n      name = \"k8s\"\n      executor = \"kubernetes\"\n";
        let (_, _, m) = model(&[("cm.yaml", cm)], &default_settings());
        assert_eq!(
            m.runners[0].name,
            "ConfigMap ci/runner config.template.toml [[runners]] \"k8s\""
        );
    }

    #[test]
    fn static_token_runner_has_no_nameable_manager() {
        let toml = "[[runners]]\n  executor = \"kubernetes\"\n  [runners.kubernetes]\n    host = \"https://k8s:6443\"\n    bearer_token = \"x\"\n    namespace = \"ci\"\n";
        let (_, _, m) = model(&[("config.toml", toml)], &default_settings());
        assert_eq!(m.runners.len(), 1);
        assert_eq!(m.runners[0].manager, None);
        assert_eq!(m.runners[0].jobs, Some(Identity::sa("ci", "default")));
    }

    #[test]
    fn static_token_belongs_to_the_runner_sa_with_a_legacy_token_secret() {
        let toml = "[[runners]]\n  executor = \"kubernetes\"\n  [runners.kubernetes]\n    host = \"https://k8s:6443\"\n    bearer_token = \"x\"\n    namespace = \"ci\"\n";
        let rbac = "apiVersion: v1
kind: Secret
metadata:
  name: runner-token
  namespace: ci
  annotations: {kubernetes.io/service-account.name: gitlab-runner}
type: kubernetes.io/service-account-token
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: gitlab-runner, namespace: ci}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: gitlab-runner}
subjects: [{kind: ServiceAccount, name: gitlab-runner, namespace: ci}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: gitlab-runner, namespace: ci}
rules: [{apiGroups: [\"\"], resources: [pods, pods/attach], verbs: [create]}]
";
        let (_, _, m) = model(
            &[("config.toml", toml), ("rbac.yaml", rbac)],
            &default_settings(),
        );
        assert_eq!(
            m.runners[0].manager,
            Some(Identity::sa("ci", "gitlab-runner"))
        );
        // Without the token Secret nothing ties the static token to an identity.
        let no_secret = rbac
            .split("---\n")
            .skip(1)
            .collect::<Vec<_>>()
            .join("---\n");
        let (_, _, m) = model(
            &[("config.toml", toml), ("rbac.yaml", &no_secret)],
            &default_settings(),
        );
        assert_eq!(m.runners[0].manager, None);
    }

    #[test]
    fn chart_configmap_splits_session_server_and_runners() {
        let yaml = "apiVersion: v1
kind: ConfigMap
metadata: {name: gitlab-runner, namespace: ci}
data:
  config.toml: |
    concurrent = 4
    [session_server]
      session_timeout = 1800
  config.template.toml: |
    [[runners]]
      [runners.kubernetes]
        namespace_overwrite_allowed = \"ci-.*\"
";
        let (inv, az, m) = model(&[("cm.yaml", yaml)], &default_settings());
        assert_eq!(m.runners.len(), 1, "{:#?}", m.runners);
        let r = &m.runners[0];
        assert!(r.features.contains(f::SESSION_SERVER));
        assert!(r.needs.iter().any(|n| n.resource == "services"));
        assert!(matches!(r.job_namespaces, JobNamespaces::Any { .. }));
        assert_eq!(r.default_namespace, "ci");
        // No manager could be named (no workload, no RBAC): nothing is reported missing.
        assert!(missing(&inv, &az, r).is_empty());
    }

    #[test]
    fn docker_executor_is_not_a_kubernetes_runner() {
        let toml = "[[runners]]\n  executor = \"docker\"\n";
        let (_, _, m) = model(&[("config.toml", toml)], &default_settings());
        assert!(m.runners.is_empty());
    }

    #[test]
    fn settings_identities() {
        let mut s = default_settings();
        s.runner_identities = vec!["system:serviceaccount:ci:mgr".into()];
        s.job_identities = vec!["ci/jobs".into()];
        s.features.insert("kubernetes.autoscaler".into());
        let (_, _, m) = model(&[], &s);
        assert_eq!(m.runners.len(), 1);
        let r = &m.runners[0];
        assert_eq!(r.manager, Some(Identity::sa("ci", "mgr")));
        assert_eq!(r.jobs, Some(Identity::sa("ci", "jobs")));
        assert!(r.features.contains(f::AUTOSCALER));
        assert_eq!(r.cluster_feature.as_deref(), Some("autoscaler"));
    }

    #[test]
    fn rbac_written_for_the_runner_names_the_manager() {
        let yaml = "kind: Role
apiVersion: rbac.authorization.k8s.io/v1
metadata: {namespace: gitlab, name: gitlab-runner-role}
rules:
- apiGroups: [\"\"]
  resources: [\"pods\", \"pods/exec\"]
  verbs: [\"create\"]
---
kind: RoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: b, namespace: gitlab}
subjects:
- {kind: User, name: \"system:serviceaccount:gitlab:default\", apiGroup: rbac.authorization.k8s.io}
roleRef: {kind: Role, name: gitlab-runner-role, apiGroup: rbac.authorization.k8s.io}
";
        let (inv, az, m) = model(&[("rbac.yaml", yaml)], &default_settings());
        let r = &m.runners[0];
        assert_eq!(r.manager, Some(Identity::sa("gitlab", "default")));
        assert_eq!(r.jobs, Some(Identity::sa("gitlab", "default")));
        let miss = missing(&inv, &az, r);
        assert!(miss
            .iter()
            .any(|x| x.need.resource == "pods/attach" && x.verbs == vec!["create"]));
        assert!(!miss
            .iter()
            .any(|x| x.need.resource == "pods" && x.verbs.contains(&"create")));
    }

    #[test]
    fn unrelated_rbac_is_not_a_runner() {
        let yaml = "kind: ClusterRole
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: reader}
rules:
- apiGroups: [\"\"]
  resources: [\"pods\"]
  verbs: [\"get\"]
---
kind: ClusterRoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: reader}
subjects: [{kind: ServiceAccount, name: app, namespace: web}]
roleRef: {kind: ClusterRole, name: reader, apiGroup: rbac.authorization.k8s.io}
";
        let (_, _, m) = model(&[("rbac.yaml", yaml)], &default_settings());
        assert!(m.runners.is_empty());
    }
}
