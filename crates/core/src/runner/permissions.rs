//! What the runner manager needs from the Kubernetes API, per runner version and feature.
//!
//! Transcribed from `runner-permissions.yaml` (GitLab Runner docs "Configure runner API
//! permissions", generated from the executor's `// kubeAPI:` annotations, plus the code-level
//! facts and version history in `gitlab-runner-rbac.md` §1.3–1.4).

use super::{Impact, Need, NeedScope};
use std::collections::BTreeSet;

/// Feature names as they appear in `config.toml` keys or as feature flags.
pub mod feature {
    pub const NAMESPACE_PER_JOB: &str = "namespace_per_job";
    pub const PRINT_POD_WARNING_EVENTS: &str = "print_pod_warning_events";
    pub const POD_DISRUPTION_BUDGET: &str = "pod_disruption_budget";
    pub const AUTOSCALER: &str = "autoscaler";
    pub const RESOURCE_CHECK: &str = "resource_availability_check";
    pub const SESSION_SERVER: &str = "session_server";
    pub const NAMESPACE_OVERWRITE: &str = "namespace_overwrite_allowed";
    pub const LEGACY_EXEC: &str = "FF_USE_LEGACY_KUBERNETES_EXECUTION_STRATEGY";
    pub const HONOR_ENTRYPOINT: &str = "FF_KUBERNETES_HONOR_ENTRYPOINT";
    pub const PRINT_POD_EVENTS: &str = "FF_PRINT_POD_EVENTS";
    pub const WAIT_REACHABLE: &str = "FF_WAIT_FOR_POD_TO_BE_REACHABLE";
    pub const CONCRETE: &str = "FF_CONCRETE";
    pub const SUSPENDABLE: &str = "FF_SUSPENDABLE_ENVIRONMENTS";
    pub const RETRIEVE_WARNING_EVENTS: &str = "FF_RETRIEVE_POD_WARNING_EVENTS";
    /// A job variable, not a runner setting: only known when forced in the gate's settings.
    pub const CI_DEBUG_SERVICES: &str = "CI_DEBUG_SERVICES";
}

use feature as f;

/// When a permission is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cond {
    Always,
    /// The attach execution strategy (default since 14.0).
    Attach,
    /// A feature is on.
    Feature(&'static str),
    /// The attach strategy and a feature.
    AttachAnd(&'static str),
    /// Any of: `FF_KUBERNETES_HONOR_ENTRYPOINT` or `CI_DEBUG_SERVICES` in attach mode,
    /// `FF_WAIT_FOR_POD_TO_BE_REACHABLE`, `FF_CONCRETE`.
    PodLogs,
    /// Pod warning events: 16.2–17.1 behind `FF_RETRIEVE_POD_WARNING_EVENTS`, 17.2–17.11 always,
    /// 18.0+ `print_pod_warning_events` (default on).
    WarningEvents,
    /// The resource check: `resource_availability_check_max_attempts > 0`, or always on
    /// runner 15.0.0 and 15.1.0.
    ResourceCheck,
}

/// One row of the needs table.
#[derive(Debug, Clone, Copy)]
pub struct NeedSpec {
    pub group: &'static str,
    pub resource: &'static str,
    pub verbs: &'static [&'static str],
    pub scope: NeedScope,
    pub impact: Impact,
    pub cond: Cond,
    /// Label of the condition for messages (`always`, `namespace_per_job`, ...).
    pub feature: &'static str,
    /// First runner version (major, minor) that needs it.
    pub since: (u32, u32),
    /// Last runner version that needs it.
    pub until: Option<(u32, u32)>,
    pub breaks: &'static str,
    pub source: &'static str,
}

const DOC: &str = "GitLab Runner docs, Kubernetes executor, \"Configure runner API permissions\"";
const NS: NeedScope = NeedScope::Namespaced;
const CL: NeedScope = NeedScope::Cluster;

/// The needs table.
pub const TABLE: &[NeedSpec] = &[
    NeedSpec {
        group: "",
        resource: "pods",
        verbs: &["create", "get"],
        scope: NS,
        impact: Impact::Required,
        cond: Cond::Always,
        feature: "always",
        since: (0, 0),
        until: None,
        breaks: "jobs fail to start: the runner cannot create the build pod or poll its status",
        source: DOC,
    },
    NeedSpec {
        group: "",
        resource: "pods",
        verbs: &["delete"],
        scope: NS,
        impact: Impact::Required,
        cond: Cond::Always,
        feature: "always",
        since: (0, 0),
        until: None,
        breaks: "cleanup failures: build pods keep running after the job ends",
        source: DOC,
    },
    NeedSpec {
        group: "",
        resource: "pods/exec",
        verbs: &["create"],
        scope: NS,
        impact: Impact::Required,
        cond: Cond::Always,
        feature: "always",
        since: (0, 0),
        until: None,
        breaks: "jobs fail to start: the runner cannot run commands in the build and helper containers",
        source: DOC,
    },
    NeedSpec {
        group: "",
        resource: "pods/attach",
        verbs: &["create"],
        scope: NS,
        impact: Impact::Required,
        cond: Cond::Attach,
        feature: "the attach execution strategy, the default since runner 14.0",
        since: (12, 9),
        until: None,
        breaks: "jobs fail to start: the attach strategy streams the job scripts through pods/attach",
        source: DOC,
    },
    NeedSpec {
        group: "",
        resource: "secrets",
        verbs: &["create", "update"],
        scope: NS,
        impact: Impact::Required,
        cond: Cond::Always,
        feature: "always",
        since: (0, 0),
        until: None,
        breaks: "jobs fail to start: the per-job registry credentials Secret cannot be created or given its owner reference",
        source: DOC,
    },
    NeedSpec {
        group: "",
        resource: "secrets",
        verbs: &["get", "delete"],
        scope: NS,
        impact: Impact::Required,
        cond: Cond::Always,
        feature: "always",
        since: (0, 0),
        until: None,
        breaks: "works once, then fails: a leftover credentials Secret cannot be re-read on a name conflict, and cleanup failures leave Secrets behind",
        source: DOC,
    },
    NeedSpec {
        group: "",
        resource: "services",
        verbs: &["create", "get"],
        scope: NS,
        impact: Impact::Feature,
        cond: Cond::Feature(f::SESSION_SERVER),
        feature: "session_server (services proxy)",
        since: (0, 0),
        until: None,
        breaks: "the session server cannot proxy to job services (web terminal and service ports fail)",
        source: DOC,
    },
    NeedSpec {
        group: "",
        resource: "services/proxy",
        verbs: &["get", "create", "update", "patch", "delete"],
        scope: NS,
        impact: Impact::Optional,
        cond: Cond::Feature(f::SESSION_SERVER),
        feature: "session_server (services proxy)",
        since: (0, 0),
        until: None,
        breaks: "requests through the session server's services proxy are refused",
        source: "gitlab-runner executors/kubernetes/service_proxy.go (not in the docs table)",
    },
    NeedSpec {
        group: "",
        resource: "serviceaccounts",
        verbs: &["get"],
        scope: NS,
        impact: Impact::Feature,
        cond: Cond::ResourceCheck,
        feature: "resource_availability_check_max_attempts > 0",
        since: (15, 0),
        until: None,
        breaks: "jobs fail to start: the resource check cannot confirm the job ServiceAccount exists",
        source: DOC,
    },
    NeedSpec {
        group: "",
        resource: "events",
        verbs: &["list"],
        scope: NS,
        impact: Impact::Feature,
        cond: Cond::WarningEvents,
        feature: "print_pod_warning_events, on by default",
        since: (16, 2),
        until: None,
        breaks: "warning events missing from job logs (failed pulls and scheduling problems are not shown)",
        source: DOC,
    },
    NeedSpec {
        group: "",
        resource: "events",
        verbs: &["watch"],
        scope: NS,
        impact: Impact::Feature,
        cond: Cond::Feature(f::PRINT_POD_EVENTS),
        feature: f::PRINT_POD_EVENTS,
        since: (16, 5),
        until: None,
        breaks: "pod events missing from job logs",
        source: DOC,
    },
    NeedSpec {
        group: "",
        resource: "pods",
        verbs: &["watch"],
        scope: NS,
        impact: Impact::Feature,
        cond: Cond::AttachAnd(f::HONOR_ENTRYPOINT),
        feature: f::HONOR_ENTRYPOINT,
        since: (0, 0),
        until: None,
        breaks: "jobs fail to start: the runner cannot wait for the honored entrypoint to start",
        source: DOC,
    },
    NeedSpec {
        group: "",
        resource: "pods",
        verbs: &["list", "watch"],
        scope: NS,
        impact: Impact::Optional,
        cond: Cond::Always,
        feature: "pod informer",
        since: (17, 9),
        until: None,
        breaks: "the runner logs a warning and falls back to polling pod status",
        source: DOC,
    },
    NeedSpec {
        group: "",
        resource: "pods/exec",
        verbs: &["get", "patch", "delete"],
        scope: NS,
        impact: Impact::Optional,
        cond: Cond::Always,
        feature: "always (documented)",
        since: (0, 0),
        until: None,
        breaks: "get: the interactive web terminal does not open; patch and delete are documented but never issued",
        source: DOC,
    },
    NeedSpec {
        group: "",
        resource: "pods/attach",
        verbs: &["get", "patch", "delete"],
        scope: NS,
        impact: Impact::Optional,
        cond: Cond::Attach,
        feature: "the attach execution strategy (documented)",
        since: (12, 9),
        until: None,
        breaks: "nothing observed: documented, but the runner only issues create",
        source: DOC,
    },
    NeedSpec {
        group: "",
        resource: "pods/log",
        verbs: &["get"],
        scope: NS,
        impact: Impact::Feature,
        cond: Cond::PodLogs,
        feature: "FF_KUBERNETES_HONOR_ENTRYPOINT, FF_WAIT_FOR_POD_TO_BE_REACHABLE, FF_CONCRETE or CI_DEBUG_SERVICES",
        since: (0, 0),
        until: None,
        breaks: "logs unavailable: entrypoint and service container logs are not streamed",
        source: DOC,
    },
    NeedSpec {
        group: "",
        resource: "pods/log",
        verbs: &["list"],
        scope: NS,
        impact: Impact::Optional,
        cond: Cond::AttachAnd(f::HONOR_ENTRYPOINT),
        feature: f::HONOR_ENTRYPOINT,
        since: (0, 0),
        until: None,
        breaks: "nothing observed: documented, but log streaming is checked as get",
        source: DOC,
    },
    NeedSpec {
        group: "",
        resource: "namespaces",
        verbs: &["create", "delete"],
        scope: CL,
        impact: Impact::Feature,
        cond: Cond::Feature(f::NAMESPACE_PER_JOB),
        feature: f::NAMESPACE_PER_JOB,
        since: (0, 0),
        until: None,
        breaks: "jobs fail to start: the per-job namespace cannot be created (and cleanup failures leave namespaces behind)",
        source: DOC,
    },
    NeedSpec {
        group: "",
        resource: "namespaces",
        verbs: &["get"],
        scope: CL,
        impact: Impact::Feature,
        cond: Cond::Feature(f::SUSPENDABLE),
        feature: f::SUSPENDABLE,
        since: (19, 0),
        until: None,
        breaks: "suspended environments cannot be resumed",
        source: DOC,
    },
    NeedSpec {
        group: "",
        resource: "configmaps",
        verbs: &["create", "get", "update", "delete"],
        scope: NS,
        impact: Impact::Feature,
        cond: Cond::Feature(f::SUSPENDABLE),
        feature: f::SUSPENDABLE,
        since: (19, 0),
        until: None,
        breaks: "suspendable environments lose their state",
        source: DOC,
    },
    NeedSpec {
        group: "",
        resource: "configmaps",
        verbs: &["create", "get", "update", "delete"],
        scope: NS,
        impact: Impact::Feature,
        cond: Cond::Attach,
        feature: "the attach execution strategy on runner 15.7 and older",
        since: (12, 9),
        until: Some((15, 7)),
        breaks: "jobs fail to start: runner 15.7 and older keep the attach-mode scripts in ConfigMaps",
        source: "GitLab Runner docs v16.6 footnote (2); CHANGELOG v15.8.0 !3751",
    },
    NeedSpec {
        group: "",
        resource: "persistentvolumeclaims",
        verbs: &["create", "delete"],
        scope: NS,
        impact: Impact::Feature,
        cond: Cond::Feature(f::SUSPENDABLE),
        feature: f::SUSPENDABLE,
        since: (19, 0),
        until: None,
        breaks: "suspended environments cannot keep their build directory",
        source: DOC,
    },
    NeedSpec {
        group: "policy",
        resource: "poddisruptionbudgets",
        verbs: &["create", "get"],
        scope: NS,
        impact: Impact::Feature,
        cond: Cond::Feature(f::POD_DISRUPTION_BUDGET),
        feature: f::POD_DISRUPTION_BUDGET,
        since: (18, 11),
        until: None,
        breaks: "build pods run without their PodDisruptionBudget and may be evicted mid-job",
        source: DOC,
    },
    NeedSpec {
        group: "apps",
        resource: "deployments",
        verbs: &["create", "delete", "get", "list", "update"],
        scope: NS,
        impact: Impact::Feature,
        cond: Cond::Feature(f::AUTOSCALER),
        feature: "[runners.kubernetes.autoscaler]",
        since: (18, 11),
        until: None,
        breaks: "the autoscaler cannot keep warm pause pods",
        source: DOC,
    },
    NeedSpec {
        group: "scheduling.k8s.io",
        resource: "priorityclasses",
        verbs: &["create", "get"],
        scope: CL,
        impact: Impact::Feature,
        cond: Cond::Feature(f::AUTOSCALER),
        feature: "[runners.kubernetes.autoscaler]",
        since: (18, 11),
        until: None,
        breaks: "the autoscaler cannot create the low-priority class for its pause pods",
        source: DOC,
    },
];

/// Whether the attach execution strategy is on (`features` is the effective set, which carries
/// the legacy flag by default on runners older than 14.0).
pub fn attach(version: (u32, u32), features: &BTreeSet<String>) -> bool {
    version >= (12, 9) && !features.contains(f::LEGACY_EXEC)
}

fn holds(cond: Cond, version: (u32, u32), features: &BTreeSet<String>) -> bool {
    let on = |name: &str| features.contains(name);
    match cond {
        Cond::Always => true,
        Cond::Attach => attach(version, features),
        Cond::Feature(name) => on(name),
        Cond::AttachAnd(name) => attach(version, features) && on(name),
        Cond::PodLogs => {
            (attach(version, features) && (on(f::HONOR_ENTRYPOINT) || on(f::CI_DEBUG_SERVICES)))
                || on(f::WAIT_REACHABLE)
                || on(f::CONCRETE)
        }
        Cond::WarningEvents => match version {
            v if v < (16, 2) => false,
            v if v < (17, 2) => on(f::RETRIEVE_WARNING_EVENTS),
            v if v < (18, 0) => true,
            _ => on(f::PRINT_POD_WARNING_EVENTS),
        },
        Cond::ResourceCheck => on(f::RESOURCE_CHECK) || matches!(version, (15, 0) | (15, 1)),
    }
}

/// The rows that apply to a runner of `version` with the effective `features`.
pub fn applicable(version: (u32, u32), features: &BTreeSet<String>) -> Vec<&'static NeedSpec> {
    TABLE
        .iter()
        .filter(|s| s.since <= version && s.until.is_none_or(|u| version <= u))
        .filter(|s| holds(s.cond, version, features))
        .collect()
}

/// The needs of a runner: applicable rows, with each verb kept only at its highest impact
/// (`pods watch` is optional for the informer but needed with `FF_KUBERNETES_HONOR_ENTRYPOINT`).
pub fn needs_for(version: (u32, u32), features: &BTreeSet<String>) -> Vec<Need> {
    let specs = applicable(version, features);
    let mut out = Vec::new();
    for s in &specs {
        let verbs: Vec<&'static str> = s
            .verbs
            .iter()
            .copied()
            .filter(|v| {
                !specs.iter().any(|o| {
                    o.impact < s.impact
                        && o.group == s.group
                        && o.resource == s.resource
                        && o.verbs.contains(v)
                })
            })
            .collect();
        if verbs.is_empty() {
            continue;
        }
        out.push(Need {
            group: s.group,
            resource: s.resource,
            verbs,
            scope: s.scope,
            impact: s.impact,
            feature: s.feature,
            breaks: s.breaks,
            source: s.source,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn has(needs: &[Need], resource: &str, verb: &str) -> Option<Impact> {
        needs
            .iter()
            .find(|n| n.resource == resource && n.verbs.contains(&verb))
            .map(|n| n.impact)
    }

    #[test]
    fn default_configuration() {
        let needs = needs_for((19, 3), &set(&[f::PRINT_POD_WARNING_EVENTS]));
        assert_eq!(has(&needs, "pods/attach", "create"), Some(Impact::Required));
        assert_eq!(has(&needs, "pods/exec", "patch"), Some(Impact::Optional));
        assert_eq!(has(&needs, "events", "list"), Some(Impact::Feature));
        assert_eq!(has(&needs, "pods", "list"), Some(Impact::Optional));
        assert_eq!(has(&needs, "services", "create"), None);
        assert_eq!(has(&needs, "namespaces", "create"), None);
        assert_eq!(has(&needs, "configmaps", "get"), None);
    }

    #[test]
    fn versions() {
        // Before 14.0 the legacy exec strategy was the default (the builder adds the flag).
        let old = needs_for((13, 12), &set(&[f::LEGACY_EXEC]));
        assert_eq!(has(&old, "pods/attach", "create"), None);
        // 15.7 with attach stored scripts in ConfigMaps; 15.8 no longer.
        assert!(has(&needs_for((15, 7), &set(&[])), "configmaps", "create").is_some());
        assert!(has(&needs_for((15, 8), &set(&[])), "configmaps", "create").is_none());
        // 15.0/15.1 checked the ServiceAccount unconditionally.
        assert!(has(&needs_for((15, 1), &set(&[])), "serviceaccounts", "get").is_some());
        assert!(has(&needs_for((15, 2), &set(&[])), "serviceaccounts", "get").is_none());
        // Informer only from 17.9.
        assert!(has(&needs_for((17, 8), &set(&[])), "pods", "list").is_none());
        // Warning events: always attempted 17.2–17.x.
        assert!(has(&needs_for((17, 5), &set(&[])), "events", "list").is_some());
        assert!(has(&needs_for((16, 8), &set(&[])), "events", "list").is_none());
    }

    #[test]
    fn a_verb_keeps_its_highest_impact() {
        let needs = needs_for((19, 3), &set(&[f::HONOR_ENTRYPOINT]));
        assert_eq!(has(&needs, "pods", "watch"), Some(Impact::Feature));
        assert_eq!(has(&needs, "pods", "list"), Some(Impact::Optional));
        assert_eq!(has(&needs, "pods/log", "get"), Some(Impact::Feature));
    }

    #[test]
    fn cluster_scoped_features() {
        let needs = needs_for(
            (19, 3),
            &set(&[f::NAMESPACE_PER_JOB, f::AUTOSCALER, f::SUSPENDABLE]),
        );
        let scope = |r: &str| needs.iter().find(|n| n.resource == r).map(|n| n.scope);
        assert_eq!(scope("namespaces"), Some(NeedScope::Cluster));
        assert_eq!(scope("priorityclasses"), Some(NeedScope::Cluster));
        assert_eq!(scope("deployments"), Some(NeedScope::Namespaced));
    }
}
