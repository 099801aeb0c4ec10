//! `generate`: the minimal RBAC for a runner, derived from the needs table
//! ([`crate::runner::permissions`]), so the generator and the checker share one source of truth.
//!
//! Input: a runner version and features (given, or read from a `config.toml` / Helm values file
//! through the same runner model the checker builds), the manager's namespace and the job
//! namespaces, and the two ServiceAccount names. Output: the manager and job ServiceAccounts,
//! a Role and RoleBinding per job namespace, and a ClusterRole and ClusterRoleBinding only for
//! what needs cluster scope; or the gitlab-runner Helm chart's `rbac:` and `serviceAccount:`
//! values. Every rule carries a comment naming the feature that needs it.

use crate::api::Source;
use crate::authz::{Authz, Identity};
use crate::report::FileError;
use crate::runner::permissions::feature as f;
use crate::runner::{self, Impact, Need, NeedScope, Runner};
use crate::settings::{self, Settings, NEWEST_RUNNER};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Version of the generate response layout.
pub const GENERATE_SCHEMA: &str = "rbac-gate/generate/v1";

pub const DEFAULT_NAMESPACE: &str = "gitlab-runner";
pub const DEFAULT_SERVICE_ACCOUNT: &str = "gitlab-runner";
pub const DEFAULT_JOB_SERVICE_ACCOUNT: &str = "gitlab-runner-job";

/// Every feature name the needs depend on, with what it is, for `--feature` help and checks.
pub const FEATURES: &[(&str, &str)] = &[
    (
        f::NAMESPACE_PER_JOB,
        "config.toml `namespace_per_job = true`: a namespace per job (cluster scope)",
    ),
    (
        f::NAMESPACE_OVERWRITE,
        "config.toml `namespace_overwrite_allowed`: jobs choose among the job namespaces",
    ),
    (
        f::PRINT_POD_WARNING_EVENTS,
        "config.toml `print_pod_warning_events` (on by default; `=false` turns it off)",
    ),
    (
        f::POD_DISRUPTION_BUDGET,
        "config.toml `pod_disruption_budget = true` (18.11+)",
    ),
    (
        f::AUTOSCALER,
        "config.toml `[runners.kubernetes.autoscaler]` pause pods (18.11+)",
    ),
    (
        f::RESOURCE_CHECK,
        "config.toml `resource_availability_check_max_attempts > 0`",
    ),
    (
        f::SESSION_SERVER,
        "config.toml `[session_server]`: web terminal and services proxy",
    ),
    (
        f::LEGACY_EXEC,
        "feature flag: the exec strategy instead of attach (default before 14.0)",
    ),
    (f::HONOR_ENTRYPOINT, "feature flag"),
    (f::PRINT_POD_EVENTS, "feature flag"),
    (f::WAIT_REACHABLE, "feature flag"),
    (f::CONCRETE, "feature flag"),
    (f::SUSPENDABLE, "feature flag (19.0+; cluster scope)"),
    (
        f::RETRIEVE_WARNING_EVENTS,
        "feature flag (16.2–17.1; later on by default)",
    ),
    (
        f::CI_DEBUG_SERVICES,
        "job variable `CI_DEBUG_SERVICES=true`: service container logs",
    ),
];

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GenerateFormat {
    /// Kubernetes manifests (ServiceAccounts, Role, RoleBinding, ...).
    #[default]
    Manifests,
    /// gitlab-runner Helm chart values (`rbac:` and `serviceAccount:`).
    Helm,
}

/// What to do about feature flags a job can set (those `[runners.feature_flags]` does not pin:
/// gitlab-runner common/build_settings.go `populateFeatureFlags` lets a job variable set them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobFlags {
    /// Assume the runner pins them off: print the `[runners.feature_flags]` block that does.
    #[default]
    Pin,
    /// Grant what each job-settable flag needs where the runner fails the job without it.
    Grant,
}

/// What to generate. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateRequest {
    /// `X.Y`; default: the newest known runner, or what the sources say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner_version: Option<String>,
    /// Feature names (see [`FEATURES`]); `NAME=false` turns a default-on feature off. Applied
    /// after what the sources say.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
    /// A `config.toml` (or ConfigMap holding one) or gitlab-runner Helm values to read the
    /// features, the job namespace and the ServiceAccount names from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Source>,
    /// The runner manager's namespace (default: from the sources, else `gitlab-runner`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Where jobs run (default: from the sources, else the manager's namespace).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub job_namespaces: Vec<String>,
    /// The manager's ServiceAccount (default: from the sources, else `gitlab-runner`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    /// The job pods' ServiceAccount (default: from the sources, else `gitlab-runner-job`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_service_account: Option<String>,
    #[serde(default)]
    pub format: GenerateFormat,
    /// Job-settable feature flags: pin them (default) or grant what they need.
    #[serde(default)]
    pub job_flags: JobFlags,
    /// Add the verbs GitLab's docs list but the runner never sends, each with a comment
    /// saying so (off by default: least privilege).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub include_documented: bool,
}

/// One generated rule, for hosts that render their own view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneratedRule {
    /// `namespaced` (granted in every job namespace) or `cluster`.
    pub scope: String,
    pub api_group: String,
    pub resource: String,
    pub verbs: Vec<String>,
    /// The feature (or `always`) that needs it.
    pub feature: String,
    /// `required`, `feature` or `optional`.
    pub impact: String,
    /// What breaks without it.
    pub breaks: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerateResponse {
    pub schema: String,
    pub format: GenerateFormat,
    /// `X.Y` the needs were computed for.
    pub runner_version: String,
    /// Effective features (defaults included).
    pub features: Vec<String>,
    /// `system:serviceaccount:NS:NAME` of the manager.
    pub manager: String,
    /// The job pods' identity; `None` with `namespace_per_job` (each job namespace's own
    /// ServiceAccounts cannot be created ahead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobs: Option<String>,
    /// Where jobs run; empty with `namespace_per_job` (any namespace).
    pub job_namespaces: Vec<String>,
    /// The feature that needs namespaced permissions cluster-wide, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_wide: Option<String>,
    /// The manifests (multi-document YAML) or the Helm values.
    pub text: String,
    /// Helm only: manifests the chart cannot render (the job ServiceAccount, RBAC for further
    /// job namespaces, cluster-scoped rules next to a Role), to apply with kubectl.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub extra_manifests: String,
    /// A `.rbac-gate.yaml` that tells `rbac-gate check` the runner version, features and
    /// identities the output was made for (none of which the manifests say).
    pub gate_config: String,
    pub rules: Vec<GeneratedRule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FileError>,
}

fn error(path: &str, message: impl Into<String>) -> FileError {
    FileError {
        path: path.to_string(),
        line: None,
        column: None,
        message: message.into(),
    }
}

/// A DNS-1123 label (namespaces) or subdomain (ServiceAccount names): also keeps the output
/// free of YAML syntax.
fn valid_name(s: &str, max: usize, dots: bool) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || (dots && b == b'.')
        })
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && s.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
}

/// `FF_X=false` → (`FF_X`, false); aliases as the checker's settings accept them.
pub fn normalize_feature(raw: &str) -> (String, bool) {
    let (name, on) = match raw.split_once('=') {
        Some((n, v)) => (
            n.trim(),
            !matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "false" | "0" | "off" | "no"
            ),
        ),
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

/// What the generator works from, after sources, flags and defaults.
struct Plan {
    version: (u32, u32),
    runner: Runner,
    manager_ns: String,
    manager_sa: String,
    job_sa: String,
    /// `None`: any namespace (`namespace_per_job`).
    job_namespaces: Option<Vec<String>>,
    explicit_features: Vec<String>,
    /// Job-settable flags the output assumes pinned off (`JobFlags::Pin`).
    pinned: Vec<&'static str>,
    notes: Vec<String>,
}

/// The flags a job could set whose needs fail jobs without them, in table order.
fn job_settable(r: &Runner) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for j in &r.job_flags {
        if !out.contains(&j.flag) {
            out.push(j.flag);
        }
    }
    out
}

/// The rule comment for what a job-settable flag needs.
fn job_flag_label(flag: &str) -> &'static str {
    match flag {
        f::LEGACY_EXEC => "a job may set FF_USE_LEGACY_KUBERNETES_EXECUTION_STRATEGY (not pinned)",
        f::HONOR_ENTRYPOINT => "a job may set FF_KUBERNETES_HONOR_ENTRYPOINT (not pinned)",
        f::PRINT_POD_EVENTS => "a job may set FF_PRINT_POD_EVENTS (not pinned)",
        f::WAIT_REACHABLE => "a job may set FF_WAIT_FOR_POD_TO_BE_REACHABLE (not pinned)",
        f::CONCRETE => "a job may set FF_CONCRETE (not pinned)",
        f::SUSPENDABLE => "a job may set FF_SUSPENDABLE_ENVIRONMENTS (not pinned)",
        f::RETRIEVE_WARNING_EVENTS => "a job may set FF_RETRIEVE_POD_WARNING_EVENTS (not pinned)",
        _ => "a job may set a feature flag [runners.feature_flags] does not pin",
    }
}

/// What the output grants: the runner's needs, what job-settable flags need (`JobFlags::Grant`),
/// and the documented-but-never-sent verbs when asked.
fn granted_needs(r: &Runner, req: &GenerateRequest) -> Vec<Need> {
    let mut out = r.needs.clone();
    if req.job_flags == JobFlags::Grant {
        out.extend(r.job_flags.iter().map(|j| Need {
            feature: job_flag_label(j.flag),
            ..j.need.clone()
        }));
    }
    if req.include_documented {
        out.extend(r.documented.iter().map(|n| Need {
            feature: "documented by GitLab, never sent by the runner",
            ..n.clone()
        }));
    }
    out
}

fn plan(req: &GenerateRequest) -> Result<Plan, Vec<FileError>> {
    let mut errors = Vec::new();
    let version = match &req.runner_version {
        Some(v) => match settings::parse_version(v) {
            Some(v) => v,
            None => {
                errors.push(error(
                    "--runner-version",
                    format!("runner version `{v}` is not X.Y"),
                ));
                NEWEST_RUNNER
            }
        },
        None => NEWEST_RUNNER,
    };
    let known: BTreeSet<&str> = FEATURES.iter().map(|(n, _)| *n).collect();
    for raw in &req.features {
        let (name, _) = normalize_feature(raw);
        if !known.contains(name.as_str()) && !name.starts_with("FF_") {
            errors.push(error(
                "--feature",
                format!(
                    "unknown feature `{raw}`; known: {}",
                    FEATURES
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    for (what, value, max, dots) in [
        ("--namespace", req.namespace.as_deref(), 63, false),
        (
            "--service-account",
            req.service_account.as_deref(),
            253,
            true,
        ),
        (
            "--job-service-account",
            req.job_service_account.as_deref(),
            253,
            true,
        ),
    ] {
        if let Some(v) = value {
            if !valid_name(v, max, dots) {
                errors.push(error(
                    what,
                    format!(
                        "`{v}` is not a valid Kubernetes name (lowercase letters, digits and `-`)"
                    ),
                ));
            }
        }
    }
    for ns in &req.job_namespaces {
        if !valid_name(ns, 63, false) {
            errors.push(error(
                "--job-namespace",
                format!("`{ns}` is not a valid namespace name (lowercase letters, digits and `-`)"),
            ));
        }
    }
    let mut notes = Vec::new();
    let mut settings = Settings {
        runner_version: version,
        // Given on the command line, it wins over what the sources' images say.
        runner_version_from: req
            .runner_version
            .as_ref()
            .map(|_| "`--runner-version`".to_string()),
        ..Settings::default()
    };
    // Features the sources do not carry, applied on top of them.
    settings.features = req.features.iter().cloned().collect();

    let mut from_sources: Option<Runner> = None;
    if !req.sources.is_empty() {
        let mut inv = crate::model::build(&req.sources);
        crate::authz::complete_roles(&mut inv);
        errors.extend(inv.errors.iter().cloned());
        errors.extend(runner::config_errors(&req.sources, &inv));
        let az = Authz::build(&inv);
        let model = runner::build(&inv, &az, &settings);
        let with_config: Vec<&Runner> = model
            .runners
            .iter()
            .filter(|r| r.config.is_some() || r.helm.is_some())
            .collect();
        match with_config.first() {
            Some(r) => {
                if with_config.len() > 1 {
                    notes.push(format!(
                        "the sources describe {} runners; generated for the first, {}",
                        with_config.len(),
                        r.name
                    ));
                }
                from_sources = Some((*r).clone());
            }
            None if errors.is_empty() => errors.push(error(
                req.sources.first().map_or("-", |s| s.path.as_str()),
                "no Kubernetes-executor runner found: expected a config.toml with [[runners]] \
                 (standalone or in a ConfigMap) or gitlab-runner Helm values",
            )),
            None => {}
        }
    }
    if req.format == GenerateFormat::Helm && req.job_namespaces.len() > 1 {
        errors.push(error(
            "--job-namespace",
            "the gitlab-runner chart renders RBAC for one job namespace (`runners.jobNamespace`); use `--format manifests` for several",
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    // Names: flags, else the sources, else the defaults.
    let src_manager = from_sources.as_ref().and_then(|r| match &r.manager {
        Some(Identity::ServiceAccount { namespace, name }) => {
            Some((namespace.clone(), name.clone()))
        }
        _ => None,
    });
    // The manager is known from the sources when they hold the runner's workload or Helm values
    // (not when it was guessed from the RBAC).
    let src_known = from_sources
        .as_ref()
        .is_some_and(|r| r.helm.is_some() || r.workload.is_some());
    let manager_ns = req
        .namespace
        .clone()
        .or_else(|| {
            src_manager
                .as_ref()
                .map(|m| m.0.clone())
                .filter(|_| src_known)
        })
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string());
    let manager_sa = req
        .service_account
        .clone()
        .or_else(|| {
            src_manager
                .as_ref()
                .map(|m| m.1.clone())
                .filter(|n| src_known && n != "default")
        })
        .unwrap_or_else(|| DEFAULT_SERVICE_ACCOUNT.to_string());
    let src_job_sa = from_sources
        .as_ref()
        .and_then(|r| r.kube())
        .and_then(|k| k.service_account())
        .map(|l| l.value.clone())
        .filter(|s| valid_name(s, 253, true));
    let job_sa = req
        .job_service_account
        .clone()
        .or(src_job_sa)
        .unwrap_or_else(|| DEFAULT_JOB_SERVICE_ACCOUNT.to_string());

    // The runner the needs come from: the one the sources describe (their features, with the
    // flags on top), or one with default features and the flags.
    let runner = match from_sources {
        Some(r) => r,
        None => {
            settings.runner_identities = vec![format!("{manager_ns}/{manager_sa}")];
            // The output names the job ServiceAccount for `service_account` in config.toml, so
            // the resource check (when on) looks it up.
            if !settings
                .features
                .iter()
                .any(|x| normalize_feature(x).0 == f::SERVICE_ACCOUNT)
            {
                settings.features.insert(f::SERVICE_ACCOUNT.to_string());
            }
            let inv = crate::model::Inventory::default();
            let az = Authz::build(&inv);
            let mut model = runner::build(&inv, &az, &settings);
            if model.runners.is_empty() {
                return Err(vec![error("<generate>", "internal: no runner model")]);
            }
            model.runners.remove(0)
        }
    };
    let per_job = runner.features.contains(f::NAMESPACE_PER_JOB);
    let job_namespaces = if per_job {
        if !req.job_namespaces.is_empty() {
            notes.push(
                "namespace_per_job: the runner creates a namespace for every job, so the job namespaces given are ignored"
                    .to_string(),
            );
        }
        None
    } else if !req.job_namespaces.is_empty() {
        let mut seen = BTreeSet::new();
        Some(
            req.job_namespaces
                .iter()
                .filter(|n| seen.insert((*n).clone()))
                .cloned()
                .collect(),
        )
    } else if runner.config.is_some() || runner.helm.is_some() {
        Some(vec![runner.default_namespace.clone()])
    } else {
        Some(vec![manager_ns.clone()])
    };
    if runner.features.contains(f::NAMESPACE_OVERWRITE) && !per_job {
        notes.push(
            "namespace_overwrite_allowed: jobs can only run where the runner is granted; the RBAC covers the job namespaces given (--job-namespace), keep the overwrite expression to exactly those"
                .to_string(),
        );
    }
    let mut explicit_features = explicit_features(&runner.features, version);
    let pinned = match req.job_flags {
        JobFlags::Pin => job_settable(&runner),
        JobFlags::Grant => Vec::new(),
    };
    // The gate's settings say a flag is pinned with `FF_X=false`.
    explicit_features.extend(pinned.iter().map(|f| format!("{f}=false")));
    Ok(Plan {
        version,
        runner,
        manager_ns,
        manager_sa,
        job_sa,
        job_namespaces,
        explicit_features,
        pinned,
        notes,
    })
}

/// The features that differ from a runner's defaults, as `.rbac-gate.yaml` names them.
fn explicit_features(effective: &BTreeSet<String>, version: (u32, u32)) -> Vec<String> {
    let mut out: Vec<String> = effective
        .iter()
        .filter(|n| {
            !(n.as_str() == f::PRINT_POD_WARNING_EVENTS
                || (n.as_str() == f::LEGACY_EXEC && version < (14, 0)))
        })
        .cloned()
        .collect();
    if !effective.contains(f::PRINT_POD_WARNING_EVENTS) {
        out.push(format!("{}=false", f::PRINT_POD_WARNING_EVENTS));
    }
    if version < (14, 0) && !effective.contains(f::LEGACY_EXEC) {
        out.push(format!("{}=false", f::LEGACY_EXEC));
    }
    out
}

/// Verbs in the order people write them.
const VERB_ORDER: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
];

fn sorted_verbs(verbs: &[&str]) -> Vec<String> {
    let mut v: Vec<&str> = verbs.to_vec();
    v.sort_by_key(|x| VERB_ORDER.iter().position(|o| o == x).unwrap_or(usize::MAX));
    v.dedup();
    v.into_iter().map(str::to_string).collect()
}

fn impact_name(i: Impact) -> &'static str {
    match i {
        Impact::Required => "required",
        Impact::Feature => "feature",
        Impact::Optional => "optional",
    }
}

/// One rule as YAML, with its comment, `indent` spaces deep.
pub fn rule_block(need: &Need, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let verbs = sorted_verbs(&need.verbs)
        .iter()
        .map(|v| format!("\"{v}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let optional = if need.impact == Impact::Optional {
        " (optional)"
    } else {
        ""
    };
    format!(
        "{pad}# {}{optional}; without it: {}\n{pad}- apiGroups: [\"{}\"]\n{pad}  resources: [\"{}\"]\n{pad}  verbs: [{verbs}]\n",
        need.feature, need.breaks, need.group, need.resource
    )
}

fn rules_text(needs: &[&Need], indent: usize) -> String {
    needs.iter().map(|n| rule_block(n, indent)).collect()
}

fn service_account(name: &str, ns: &str, job: bool) -> String {
    if job {
        format!(
            "# The identity of job pods: no bindings, and no token in the pods (CI scripts run here).\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {name}\n  namespace: {ns}\nautomountServiceAccountToken: false\n"
        )
    } else {
        format!(
            "# The runner manager's identity. Its pod needs the token: do not turn automounting off here.\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {name}\n  namespace: {ns}\n"
        )
    }
}

fn role(kind: &str, name: &str, ns: Option<&str>, comment: &str, rules: &str) -> String {
    let ns = ns
        .map(|n| format!("  namespace: {n}\n"))
        .unwrap_or_default();
    format!(
        "# {comment}\napiVersion: rbac.authorization.k8s.io/v1\nkind: {kind}\nmetadata:\n  name: {name}\n{ns}rules:\n{rules}"
    )
}

#[allow(clippy::too_many_arguments)]
fn binding(
    kind: &str,
    name: &str,
    ns: Option<&str>,
    role_kind: &str,
    role_name: &str,
    sa: &str,
    sa_ns: &str,
    justification: Option<&str>,
) -> String {
    let ns = ns
        .map(|n| format!("  namespace: {n}\n"))
        .unwrap_or_default();
    let annotations = justification
        .map(|j| {
            format!(
                "  annotations:\n    {}: \"{}\"\n",
                crate::engine::JUSTIFICATION,
                j.replace('"', "'")
            )
        })
        .unwrap_or_default();
    format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: {kind}\nmetadata:\n  name: {name}\n{ns}{annotations}roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: {role_kind}\n  name: {role_name}\nsubjects:\n- kind: ServiceAccount\n  name: {sa}\n  namespace: {sa_ns}\n"
    )
}

fn justification(feature: &str) -> String {
    format!(
        "{feature}: jobs run in namespaces created per job, so the runner needs its pod permissions in every namespace (generated by rbac-gate; review and add an expiry)"
    )
}

fn profile(p: &Plan) -> String {
    let (maj, min) = p.version;
    if p.explicit_features.is_empty() {
        format!("GitLab Runner {maj}.{min}, default features")
    } else {
        format!(
            "GitLab Runner {maj}.{min}, features: {}",
            p.explicit_features.join(", ")
        )
    }
}

fn gate_config(p: &Plan, helm_cluster_feature: Option<&str>) -> String {
    let (maj, min) = p.version;
    let mut out = format!("runner:\n  version: \"{maj}.{min}\"\n");
    if !p.explicit_features.is_empty() {
        out.push_str(&format!(
            "  features: [{}]\n",
            p.explicit_features
                .iter()
                .map(|x| format!("\"{x}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out.push_str(&format!(
        "identities:\n  runner: [{}/{}]\n",
        p.manager_ns, p.manager_sa
    ));
    if let Some(list) = &p.job_namespaces {
        out.push_str(&format!(
            "  jobs: [{}]\n",
            list.iter()
                .map(|ns| format!("{ns}/{}", p.job_sa))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(feature) = helm_cluster_feature {
        out.push_str(&format!(
            "exceptions:\n  - rule: cluster-wide-scope\n    reason: \"{}\"\n",
            justification(feature)
        ));
    }
    out
}

fn comment_block(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                "#\n".to_string()
            } else {
                format!("#   {l}\n")
            }
        })
        .collect()
}

/// Generates the minimal RBAC. Never panics; bad input comes back in `errors` with no text.
pub fn generate(req: &GenerateRequest) -> GenerateResponse {
    let mut resp = GenerateResponse {
        schema: GENERATE_SCHEMA.to_string(),
        format: req.format,
        ..GenerateResponse::default()
    };
    let p = match plan(req) {
        Ok(p) => p,
        Err(errors) => {
            resp.errors = errors;
            return resp;
        }
    };
    let r = &p.runner;
    let needs = granted_needs(r, req);
    let namespaced: Vec<&Need> = needs
        .iter()
        .filter(|n| n.scope == NeedScope::Namespaced)
        .collect();
    let cluster: Vec<&Need> = needs
        .iter()
        .filter(|n| n.scope == NeedScope::Cluster)
        .collect();
    let per_job = p.job_namespaces.is_none();
    let cluster_feature = per_job.then(|| f::NAMESPACE_PER_JOB.to_string());

    resp.runner_version = format!("{}.{}", p.version.0, p.version.1);
    resp.features = r.features.iter().cloned().collect();
    resp.manager = Identity::sa(&p.manager_ns, &p.manager_sa).id();
    resp.jobs = p
        .job_namespaces
        .as_ref()
        .and_then(|l| l.first())
        .map(|ns| Identity::sa(ns, &p.job_sa).id());
    resp.job_namespaces = p.job_namespaces.clone().unwrap_or_default();
    resp.cluster_wide = cluster_feature.clone();
    resp.notes = p.notes.clone();
    resp.rules = needs
        .iter()
        .map(|n| GeneratedRule {
            scope: match n.scope {
                NeedScope::Namespaced => "namespaced",
                NeedScope::Cluster => "cluster",
            }
            .to_string(),
            api_group: n.group.to_string(),
            resource: n.resource.to_string(),
            verbs: sorted_verbs(&n.verbs),
            feature: n.feature.to_string(),
            impact: impact_name(n.impact).to_string(),
            breaks: n.breaks.to_string(),
        })
        .collect();
    if !p.pinned.is_empty() {
        resp.notes.push(format!(
            "jobs can set feature flags the runner's config does not pin; the RBAC assumes {} pinned off: add the [runners.feature_flags] block from the header to config.toml, or generate with job flags granted",
            p.pinned.join(", ")
        ));
    }
    if per_job {
        resp.notes.push("namespace_per_job: job pods run as the `default` ServiceAccount of each new namespace (no job ServiceAccount can be created ahead); set `automount_service_account_token = false` in [runners.kubernetes] so they get no token".to_string());
    }
    let helm = req.format == GenerateFormat::Helm;
    resp.gate_config = gate_config(
        &p,
        if helm {
            cluster_feature.as_deref()
        } else {
            None
        },
    );
    match req.format {
        GenerateFormat::Manifests => {
            resp.text = manifests(
                &p,
                &namespaced,
                &cluster,
                cluster_feature.as_deref(),
                &resp.gate_config,
            );
        }
        GenerateFormat::Helm => {
            let (values, extra) = helm_values(&p, &namespaced, &cluster, &resp.gate_config);
            resp.text = values;
            resp.extra_manifests = extra;
        }
    }
    resp
}

fn header(p: &Plan, gate: &str, what: &str) -> String {
    let jobs = match &p.job_namespaces {
        Some(l) => format!(
            "jobs run in {} as ServiceAccount `{}`",
            l.iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", "),
            p.job_sa
        ),
        None => "jobs run in a new namespace each (namespace_per_job)".to_string(),
    };
    let pins = if p.pinned.is_empty() {
        String::new()
    } else {
        let block: String = p
            .pinned
            .iter()
            .map(|f| format!("  {f} = false\n"))
            .collect();
        format!(
            "# A job can turn on any feature flag the runner's config does not pin; this RBAC does not\n# grant what these need, so pin them in config.toml, [[runners]]:\n{}",
            comment_block(&format!("[runners.feature_flags]\n{block}"))
        )
    };
    format!(
        "# {what} generated by rbac-gate {} for {}.\n# Runner manager: ServiceAccount `{}/{}`; {jobs}.\n# Every rule names the feature that needs it. The manifests do not say which features\n# the runner uses: check them with this .rbac-gate.yaml next to them (`rbac-gate check`):\n{}{pins}",
        crate::POLICY_VERSION,
        profile(p),
        p.manager_ns,
        p.manager_sa,
        comment_block(gate)
    )
}

fn manifests(
    p: &Plan,
    namespaced: &[&Need],
    cluster: &[&Need],
    cluster_feature: Option<&str>,
    gate: &str,
) -> String {
    let mut docs: Vec<String> = Vec::new();
    docs.push(header(p, gate, "Minimal RBAC"));
    let mut first = service_account(&p.manager_sa, &p.manager_ns, false);
    // The header comment belongs to the first document.
    first = format!("{}{first}", docs.pop().unwrap_or_default());
    docs.push(first);
    let name = &p.manager_sa;
    let ns_rules = rules_text(namespaced, 0);
    match &p.job_namespaces {
        Some(list) => {
            for ns in list {
                docs.push(service_account(&p.job_sa, ns, true));
                docs.push(role(
                    "Role",
                    name,
                    Some(ns),
                    &format!("What the runner manager needs in job namespace `{ns}`."),
                    &ns_rules,
                ));
                docs.push(binding(
                    "RoleBinding",
                    name,
                    Some(ns),
                    "Role",
                    name,
                    &p.manager_sa,
                    &p.manager_ns,
                    None,
                ));
            }
        }
        None => {
            let feature = cluster_feature.unwrap_or(f::NAMESPACE_PER_JOB);
            docs.push(role(
                "ClusterRole",
                name,
                None,
                &format!(
                    "What the runner manager needs in every job namespace: `{feature}` creates one per job, so this is bound cluster-wide."
                ),
                &ns_rules,
            ));
            docs.push(binding(
                "ClusterRoleBinding",
                name,
                None,
                "ClusterRole",
                name,
                &p.manager_sa,
                &p.manager_ns,
                Some(&justification(feature)),
            ));
        }
    }
    if !cluster.is_empty() {
        let cname = format!("{name}-cluster");
        docs.push(role(
            "ClusterRole",
            &cname,
            None,
            "Cluster-scoped resources: only a ClusterRole with a ClusterRoleBinding grants them.",
            &rules_text(cluster, 0),
        ));
        docs.push(binding(
            "ClusterRoleBinding",
            &cname,
            None,
            "ClusterRole",
            &cname,
            &p.manager_sa,
            &p.manager_ns,
            None,
        ));
    }
    docs.join("---\n")
}

fn helm_values(p: &Plan, namespaced: &[&Need], cluster: &[&Need], gate: &str) -> (String, String) {
    let per_job = p.job_namespaces.is_none();
    let first_ns = p.job_namespaces.as_ref().and_then(|l| l.first()).cloned();
    let mut rules = rules_text(namespaced, 4);
    if per_job {
        rules.push_str(&rules_text(cluster, 4));
    }
    let mut out = header(p, gate, "gitlab-runner Helm chart values");
    if per_job {
        out.push_str("# The chart cannot annotate its ClusterRoleBinding, so the exception above records why\n# `rbac.clusterWideAccess` is on.\n");
    }
    out.push_str(&format!("namespace: {}\n", p.manager_ns));
    out.push_str(&format!(
        "rbac:\n  create: true\n  clusterWideAccess: {per_job}\n  rules:\n{rules}"
    ));
    out.push_str(&format!(
        "serviceAccount:\n  create: true\n  name: {}\n",
        p.manager_sa
    ));
    if let Some(ns) = &first_ns {
        if *ns != p.manager_ns {
            out.push_str(&format!(
                "runners:\n  # The chart renders the Role in the job namespace.\n  jobNamespace: {ns}\n"
            ));
        }
    }
    let mut toml = String::from("# In runners.config, [runners.kubernetes]:\n");
    if let Some(ns) = &first_ns {
        toml.push_str(&format!("#   namespace = \"{ns}\"\n"));
        toml.push_str(&format!("#   service_account = \"{}\"\n", p.job_sa));
    }
    toml.push_str("#   automount_service_account_token = false\n");
    out.push_str(&toml);

    // What the chart cannot render.
    let mut extra: Vec<String> = Vec::new();
    let name = &p.manager_sa;
    if let Some(list) = &p.job_namespaces {
        for ns in list {
            extra.push(service_account(&p.job_sa, ns, true));
        }
        if !cluster.is_empty() {
            let cname = format!("{name}-cluster");
            extra.push(role(
                "ClusterRole",
                &cname,
                None,
                "Cluster-scoped resources: the chart renders a Role or a ClusterRole, not both.",
                &rules_text(cluster, 0),
            ));
            extra.push(binding(
                "ClusterRoleBinding",
                &cname,
                None,
                "ClusterRole",
                &cname,
                &p.manager_sa,
                &p.manager_ns,
                None,
            ));
        }
    }
    let extra = extra.join("---\n");
    if !extra.is_empty() {
        out.push_str(
            "# Apply with kubectl too (the chart cannot render these); `--format json` gives them\n# uncommented in `extra_manifests`:\n",
        );
        for line in extra.lines() {
            out.push_str(&format!("#   {line}\n"));
        }
    }
    (out, extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_request() {
        let r = generate(&GenerateRequest::default());
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.runner_version, "19.3");
        assert_eq!(
            r.manager,
            "system:serviceaccount:gitlab-runner:gitlab-runner"
        );
        assert!(r.text.contains("kind: Role\n"));
        assert!(!r.text.contains("ClusterRole"), "{}", r.text);
        assert!(r.text.contains("automountServiceAccountToken: false"));
        assert!(r.text.contains("resources: [\"pods/attach\"]"));
        // Every rule carries a comment.
        for (i, line) in r.text.lines().enumerate() {
            if line.trim_start().starts_with("- apiGroups:") {
                let prev = r.text.lines().nth(i - 1).unwrap_or("");
                assert!(prev.trim_start().starts_with("# "), "{prev}");
            }
        }
    }

    #[test]
    fn through_the_protocol() {
        let out = crate::handle_json(
            r#"{"op":"generate","features":["FF_PRINT_POD_EVENTS"],"format":"helm"}"#,
        );
        let r: GenerateResponse = serde_json::from_str(&out).expect("a generate response");
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.format, GenerateFormat::Helm);
        assert!(r.text.contains("rbac:\n  create: true"));
        // Unknown fields are refused (a typo must not silently change the output).
        let out = crate::handle_json(r#"{"op":"generate","feature":["x"]}"#);
        assert!(out.contains("malformed policy request"), "{out}");
    }

    #[test]
    fn bad_input_is_reported() {
        let r = generate(&GenerateRequest {
            features: vec!["namespace_per_jobs".into()],
            namespace: Some("Bad_NS".into()),
            ..GenerateRequest::default()
        });
        assert_eq!(r.errors.len(), 2, "{:?}", r.errors);
        assert!(r.text.is_empty());
    }

    #[test]
    fn namespace_per_job_is_cluster_scoped() {
        let r = generate(&GenerateRequest {
            features: vec!["namespace_per_job".into()],
            ..GenerateRequest::default()
        });
        assert_eq!(r.cluster_wide.as_deref(), Some("namespace_per_job"));
        assert!(r.text.contains("kind: ClusterRoleBinding"));
        assert!(r.text.contains("rbac-gate.dev/justification"));
        assert!(r.jobs.is_none());
    }

    fn grants(r: &GenerateResponse, resource: &str, verb: &str) -> bool {
        r.rules
            .iter()
            .any(|x| x.resource == resource && x.verbs.iter().any(|v| v == verb))
    }

    fn with(version: &str, features: &[&str]) -> GenerateResponse {
        let r = generate(&GenerateRequest {
            runner_version: Some(version.into()),
            features: features.iter().map(|s| s.to_string()).collect(),
            ..GenerateRequest::default()
        });
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        r
    }

    /// kubernetes.go setupPodLegacy -> captureContainerLogs returns the error (v19.3.0).
    #[test]
    fn legacy_with_honor_entrypoint_on_18() {
        let r = with("18.5", &[f::LEGACY_EXEC, f::HONOR_ENTRYPOINT]);
        assert!(grants(&r, "pods/log", "get"), "{}", r.text);
        assert!(grants(&r, "pods", "watch"), "{}", r.text);
        assert!(!grants(&r, "pods/attach", "create"));
    }

    /// Concrete runs the job through exec (19.2+).
    #[test]
    fn concrete_grants_no_attach() {
        let r = with("19.3", &[f::CONCRETE]);
        assert!(
            !r.rules.iter().any(|x| x.resource == "pods/attach"),
            "{}",
            r.text
        );
        assert!(grants(&r, "pods/log", "get"));
    }

    #[test]
    fn the_default_grants_only_what_is_sent() {
        let r = with("19.3", &[]);
        for (resource, verb) in [
            ("pods/exec", "get"),
            ("pods/exec", "patch"),
            ("pods/exec", "delete"),
            ("pods/attach", "get"),
            ("pods/attach", "patch"),
            ("pods/attach", "delete"),
            ("pods/log", "list"),
        ] {
            assert!(
                !grants(&r, resource, verb),
                "{resource} {verb}:\n{}",
                r.text
            );
        }
        assert!(grants(
            &with("19.3", &[f::SESSION_SERVER]),
            "pods/exec",
            "get"
        ));
        // Asked for, the documented verbs come with a comment saying they are never sent.
        let doc = generate(&GenerateRequest {
            include_documented: true,
            ..GenerateRequest::default()
        });
        assert!(grants(&doc, "pods/exec", "patch") && grants(&doc, "pods/attach", "get"));
        assert!(
            doc.text
                .contains("# documented by GitLab, never sent by the runner"),
            "{}",
            doc.text
        );
    }

    /// common/build_settings.go populateFeatureFlags: unpinned flags are the job's to set.
    #[test]
    fn job_settable_flags_are_pinned_or_granted() {
        let pin = with("19.3", &[]);
        assert!(!grants(&pin, "events", "watch"));
        assert!(
            pin.text
                .contains("#   [runners.feature_flags]\n#     FF_KUBERNETES_HONOR_ENTRYPOINT = false\n#     FF_PRINT_POD_EVENTS = false\n"),
            "{}",
            pin.text
        );
        assert!(
            pin.gate_config.contains("\"FF_PRINT_POD_EVENTS=false\""),
            "{}",
            pin.gate_config
        );
        let grant = generate(&GenerateRequest {
            job_flags: JobFlags::Grant,
            ..GenerateRequest::default()
        });
        assert!(grants(&grant, "events", "watch"), "{}", grant.text);
        assert!(grants(&grant, "pods/log", "get"));
        assert!(
            grant.text.contains(
                "# a job may set FF_PRINT_POD_EVENTS (not pinned); without it: jobs fail"
            ),
            "{}",
            grant.text
        );
        assert!(!grant.text.contains("[runners.feature_flags]"));
        assert!(
            !grant.gate_config.contains("=false"),
            "{}",
            grant.gate_config
        );
        // A flag the config turns on is the runner's, not a job's.
        let on = with("19.3", &[f::PRINT_POD_EVENTS]);
        assert!(grants(&on, "events", "watch"));
        assert!(!on.text.contains("FF_PRINT_POD_EVENTS = false"));
    }
}
