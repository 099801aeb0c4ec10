//! What the runner manager needs from the Kubernetes API, per runner version and feature.
//!
//! Every row follows gitlab-runner's own code (`executors/kubernetes/*.go` and
//! `common/build_settings.go` at tag v19.3.0, older tags for the version bounds), not the
//! generated docs table: the docs' `kubeAPI:` annotations disagree with the code in places
//! (tests/runner/REFERENCE-ERRATA.md lists where). Each row names the function that makes the
//! call and what the code does when the call is refused ([`Outcome`]).

use super::{Impact, Need, NeedScope, Outcome};
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
    /// config.toml `service_account` is set (the resource check looks it up).
    pub const SERVICE_ACCOUNT: &str = "service_account";
    /// A job variable, not a runner setting: only known when forced in the gate's settings.
    pub const CI_DEBUG_SERVICES: &str = "CI_DEBUG_SERVICES";
}

use feature as f;

/// When a permission is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cond {
    Always,
    /// The attach execution strategy (default since 14.0; not under Concrete, 19.2+).
    Attach,
    /// A feature is on.
    Feature(&'static str),
    /// A feature is off.
    Without(&'static str),
    /// The attach strategy and a feature.
    AttachAnd(&'static str),
    /// `FF_KUBERNETES_HONOR_ENTRYPOINT` (17.4+) waiting for the container: attach mode always,
    /// the legacy exec strategy only before the pod informer (17.4–17.8).
    HonorWatch,
    /// Container logs whose stream error fails the job: `FF_KUBERNETES_HONOR_ENTRYPOINT`
    /// (17.4+, either strategy), `FF_WAIT_FOR_POD_TO_BE_REACHABLE`, `FF_CONCRETE` (19.2+).
    FatalPodLogs,
    /// Pod warning events: 16.2.0 always (16.2 is taken as 16.2.0), 16.2.1–17.1 behind
    /// `FF_RETRIEVE_POD_WARNING_EVENTS`, 17.2–17.11 always, 18.0+ `print_pod_warning_events`.
    WarningEvents,
    /// The ServiceAccount check: `service_account` set, and the resource check on
    /// (`resource_availability_check_max_attempts > 0`) or runner 15.0.0/15.1.0.
    ServiceAccountCheck,
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
    /// What the code does when the call is refused.
    pub outcome: Outcome,
    /// The same, in the failure-mode terms users know.
    pub breaks: &'static str,
    /// The runner source that makes the call: file, function, tag.
    pub source: &'static str,
}

const NS: NeedScope = NeedScope::Namespaced;
const CL: NeedScope = NeedScope::Cluster;
const FAILS: Outcome = Outcome::JobFails;

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
        outcome: FAILS,
        breaks: "jobs fail to start: the runner cannot create the build pod or poll its status",
        source: "executors/kubernetes/kubernetes.go requestPodCreation (create; get on a create conflict), util.go getPodPhase/waitForPodRunning (get), v19.3.0",
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
        outcome: Outcome::Leak,
        breaks: "build pods leak: the runner logs the failed delete and the pod keeps running after the job ends",
        source: "executors/kubernetes/kubernetes.go cleanupResources (pods delete), v19.3.0",
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
        outcome: FAILS,
        breaks: "jobs fail: the runner cannot run commands in the build and helper containers (SPDY exec is a POST, checked as create)",
        source: "executors/kubernetes/exec.go ExecOptions.executeRequest (remotecommand POST), kubernetes.go runInContainerWithExec, v19.3.0",
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
        outcome: FAILS,
        breaks: "jobs fail to start: the attach strategy streams the job scripts through pods/attach",
        source: "executors/kubernetes/exec.go AttachOptions.Run (remotecommand POST), kubernetes.go runInContainer, v19.3.0; attach since v12.9.0 (!1775), default since v14.0.0 (!2955)",
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
        outcome: FAILS,
        breaks: "jobs fail to start: the per-job registry credentials Secret cannot be created or given its owner reference",
        source: "executors/kubernetes/kubernetes.go setupCredentials/requestSecretCreation (create), setOwnerReferencesForResources (update), v19.3.0",
    },
    NeedSpec {
        group: "",
        resource: "secrets",
        verbs: &["get"],
        scope: NS,
        impact: Impact::Feature,
        cond: Cond::Always,
        feature: "registry credentials Secret retries and the image_pull_secrets check",
        since: (0, 0),
        until: None,
        outcome: FAILS,
        breaks: "a job fails when its credentials Secret create is retried after a conflict (the runner re-reads the Secret it made), and, with the resource check, jobs whose image_pull_secrets cannot be confirmed; Secret names carry a random suffix, so leftovers never conflict",
        source: "executors/kubernetes/kubernetes.go requestSecretCreation (get on AlreadyExists), secretExists (resource check of image_pull_secrets), v19.3.0",
    },
    NeedSpec {
        group: "",
        resource: "secrets",
        verbs: &["delete"],
        scope: NS,
        impact: Impact::Feature,
        cond: Cond::Always,
        feature: "cleanup after a failed build pod create",
        since: (0, 0),
        until: None,
        outcome: Outcome::Leak,
        breaks: "credentials Secrets leak when the build pod cannot be created (otherwise the pod's owner reference garbage-collects them)",
        source: "executors/kubernetes/kubernetes.go cleanupResources (secrets delete when no owner reference was set), v19.3.0",
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
        outcome: FAILS,
        breaks: "jobs whose services expose ports fail to start: the runner returns the Service create error (get re-reads it on a create conflict)",
        source: "executors/kubernetes/kubernetes.go makePodProxyServices/createKubernetesService, v19.3.0",
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
        outcome: Outcome::Degrades,
        breaks: "requests through the session server's services proxy are refused (the verb is the proxied HTTP method)",
        source: "executors/kubernetes/service_proxy.go ProxyRequest (services/proxy, kubeAPI: ignore), v19.3.0",
    },
    NeedSpec {
        group: "",
        resource: "pods/exec",
        verbs: &["get"],
        scope: NS,
        impact: Impact::Optional,
        cond: Cond::Feature(f::SESSION_SERVER),
        feature: "session_server (web terminal)",
        since: (0, 0),
        until: None,
        outcome: Outcome::Degrades,
        breaks: "the interactive web terminal does not open (its exec is a WebSocket GET); jobs run",
        source: "executors/kubernetes/terminal.go Connect/terminalConn (WebSocket exec), v19.3.0",
    },
    NeedSpec {
        group: "",
        resource: "serviceaccounts",
        verbs: &["get"],
        scope: NS,
        impact: Impact::Feature,
        cond: Cond::ServiceAccountCheck,
        feature: "service_account with resource_availability_check_max_attempts > 0",
        since: (15, 0),
        until: None,
        outcome: FAILS,
        breaks: "jobs fail to start: the resource check cannot confirm the job ServiceAccount exists",
        source: "executors/kubernetes/kubernetes.go checkDependantResources/serviceAccountExists, v19.3.0; unconditional in v15.0.0 and v15.1.0 (!3399, off by default since !3513)",
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
        outcome: Outcome::Warning,
        breaks: "warning events missing from job logs (the list error is only logged at debug level; jobs run)",
        source: "executors/kubernetes/kubernetes.go Run -> logPodWarningEvents, v19.3.0; v16.2.0 unconditional (!4211), FF_RETRIEVE_POD_WARNING_EVENTS 16.2.1-17.1 (!4246), config key since v18.0.0 (!5377)",
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
        outcome: FAILS,
        breaks: "jobs fail to start: setupPodLegacy/setupPod return the events watch error",
        source: "executors/kubernetes/kubernetes.go handlePodEvents -> watchPodEvents (error returned by setupPod and setupPodLegacy), v19.3.0",
    },
    NeedSpec {
        group: "",
        resource: "pods",
        verbs: &["watch"],
        scope: NS,
        impact: Impact::Feature,
        cond: Cond::HonorWatch,
        feature: f::HONOR_ENTRYPOINT,
        since: (17, 4),
        until: None,
        outcome: FAILS,
        breaks: "jobs fail to start: the runner cannot wait for the honored entrypoint's container to run",
        source: "executors/kubernetes/util.go waitForRunningContainer (pods watch), kubernetes.go setupPod and, before the v17.9.0 informer, setupPodLegacy, v17.4.0-v19.3.0",
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
        outcome: Outcome::Degrades,
        breaks: "the runner logs a warning and falls back to polling pod status",
        source: "executors/kubernetes/internal/watchers/pod.go, feature.go IsResourceVerbAllowed (SelfSubjectAccessReview first), v17.9.0 (!5290)-v19.3.0",
    },
    NeedSpec {
        group: "",
        resource: "pods/log",
        verbs: &["get"],
        scope: NS,
        impact: Impact::Feature,
        cond: Cond::FatalPodLogs,
        feature: "FF_KUBERNETES_HONOR_ENTRYPOINT, FF_WAIT_FOR_POD_TO_BE_REACHABLE or FF_CONCRETE",
        since: (0, 0),
        until: None,
        outcome: FAILS,
        breaks: "jobs fail: the runner returns the log stream error (entrypoint logs, the reachability probe, Concrete's step logs)",
        source: "executors/kubernetes/kubernetes.go setupPodLegacy/setupPod -> captureContainerLogs (returned), util.go waitForPodReachable, steps.go (Concrete, v19.2.0+), v19.3.0",
    },
    NeedSpec {
        group: "",
        resource: "pods/log",
        verbs: &["get"],
        scope: NS,
        impact: Impact::Optional,
        cond: Cond::AttachAnd(f::CI_DEBUG_SERVICES),
        feature: f::CI_DEBUG_SERVICES,
        since: (16, 5),
        until: None,
        outcome: Outcome::Warning,
        breaks: "service container logs are not streamed (the runner prints a warning; jobs run)",
        source: "executors/kubernetes/kubernetes.go captureServiceContainersLogs -> captureContainerLogs (Warningln), v16.5.0 (!4412)-v19.3.0",
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
        outcome: FAILS,
        breaks: "jobs fail to start: the per-job namespace cannot be created (and cleanup failures leave namespaces behind)",
        source: "executors/kubernetes/kubernetes.go setupBuildNamespace (create), teardownBuildNamespace (delete), v19.3.0",
    },
    NeedSpec {
        group: "",
        resource: "namespaces",
        verbs: &["get"],
        scope: CL,
        impact: Impact::Feature,
        cond: Cond::Feature(f::SUSPENDABLE),
        feature: f::SUSPENDABLE,
        since: SUSPEND_SINCE,
        until: None,
        outcome: FAILS,
        breaks: "jobs fail to resume a suspended environment: the runner returns the namespace lookup error",
        source: "executors/kubernetes/suspend.go (namespaces get), after v19.3.0 (commit bbcd5520a)",
    },
    NeedSpec {
        group: "",
        resource: "configmaps",
        verbs: &["create", "get", "update", "delete"],
        scope: NS,
        impact: Impact::Feature,
        cond: Cond::Feature(f::SUSPENDABLE),
        feature: f::SUSPENDABLE,
        since: SUSPEND_SINCE,
        until: None,
        outcome: FAILS,
        breaks: "jobs fail: the suspend state ConfigMap cannot be created",
        source: "executors/kubernetes/suspend.go (configmaps), after v19.3.0 (commit bbcd5520a)",
    },
    NeedSpec {
        group: "",
        resource: "configmaps",
        verbs: &["create", "update", "delete"],
        scope: NS,
        impact: Impact::Required,
        cond: Cond::Attach,
        feature: "the attach execution strategy on runner 15.7 and older",
        since: (12, 9),
        until: Some((15, 7)),
        outcome: FAILS,
        breaks: "jobs fail to start: runner 15.7 and older keep the attach-mode scripts in ConfigMaps",
        source: "executors/kubernetes/kubernetes.go setupScriptsConfigMap (create/update), cleanupResources (delete), v12.9.0-v15.7.x; removed in v15.8.0 (!3751)",
    },
    NeedSpec {
        group: "",
        resource: "persistentvolumeclaims",
        verbs: &["create", "delete"],
        scope: NS,
        impact: Impact::Feature,
        cond: Cond::Feature(f::SUSPENDABLE),
        feature: f::SUSPENDABLE,
        since: SUSPEND_SINCE,
        until: None,
        outcome: FAILS,
        breaks: "jobs fail: the suspended environment's PersistentVolumeClaim cannot be created",
        source: "executors/kubernetes/suspend.go (persistentvolumeclaims), after v19.3.0 (commit bbcd5520a)",
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
        outcome: FAILS,
        breaks: "jobs fail to start: the runner returns the PodDisruptionBudget create error (get re-reads it on a conflict)",
        source: "executors/kubernetes/kubernetes.go createPodDisruptionBudget, v18.11.0 (!6331)-v19.3.0",
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
        outcome: Outcome::Degrades,
        breaks: "the autoscaler cannot keep warm pause pods",
        source: "executors/kubernetes/autoscaler/pause_pod_manager.go, v18.11.0 (!6334)-v19.3.0",
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
        outcome: Outcome::Degrades,
        breaks: "the autoscaler cannot create the low-priority class for its pause pods",
        source: "executors/kubernetes/autoscaler/pause_pod_manager.go, v18.11.0-v19.3.0",
    },
    // Documented, never sent: the docs' `kubeAPI:` annotations list these verbs, but no code
    // path issues them (SPDY exec and attach are POSTs, checked as `create`; logs are a GET).
    // `generate` leaves them out unless asked (`include_documented`).
    NeedSpec {
        group: "",
        resource: "pods/exec",
        verbs: &["patch", "delete"],
        scope: NS,
        impact: Impact::Optional,
        cond: Cond::Always,
        feature: "documented, never sent",
        since: (0, 0),
        until: None,
        outcome: Outcome::NeverSent,
        breaks: "nothing: no code path sends PATCH or DELETE to pods/exec",
        source: "executors/kubernetes/exec.go (POST only), terminal.go (GET only), v19.3.0",
    },
    NeedSpec {
        group: "",
        resource: "pods/exec",
        verbs: &["get"],
        scope: NS,
        impact: Impact::Optional,
        cond: Cond::Without(f::SESSION_SERVER),
        feature: "documented, sent only for the session_server web terminal",
        since: (0, 0),
        until: None,
        outcome: Outcome::NeverSent,
        breaks: "nothing without [session_server]: only the web terminal's WebSocket exec is a GET",
        source: "executors/kubernetes/terminal.go (the only GET on pods/exec), v19.3.0",
    },
    NeedSpec {
        group: "",
        resource: "pods/attach",
        verbs: &["get", "patch", "delete"],
        scope: NS,
        impact: Impact::Optional,
        cond: Cond::Attach,
        feature: "documented, never sent",
        since: (12, 9),
        until: None,
        outcome: Outcome::NeverSent,
        breaks: "nothing: attach is a POST, checked as create",
        source: "executors/kubernetes/exec.go AttachOptions.Run (POST only), v19.3.0",
    },
    NeedSpec {
        group: "",
        resource: "pods/log",
        verbs: &["list"],
        scope: NS,
        impact: Impact::Optional,
        cond: Cond::FatalPodLogs,
        feature: "documented, never sent",
        since: (0, 0),
        until: None,
        outcome: Outcome::NeverSent,
        breaks: "nothing: log streaming is a GET, checked as get",
        source: "executors/kubernetes/kubernetes.go captureContainerLogs (GetLogs().Stream, a GET), v19.3.0",
    },
    NeedSpec {
        group: "",
        resource: "configmaps",
        verbs: &["get"],
        scope: NS,
        impact: Impact::Optional,
        cond: Cond::Attach,
        feature: "documented, never sent",
        since: (12, 9),
        until: Some((15, 7)),
        outcome: Outcome::NeverSent,
        breaks: "nothing: the scripts ConfigMap is created and updated, never read back",
        source: "executors/kubernetes/kubernetes.go setupScriptsConfigMap, v12.9.0-v15.7.x",
    },
];

/// The suspendable environments' Kubernetes code landed after v19.3.0 (commit bbcd5520a).
pub const SUSPEND_SINCE: (u32, u32) = (19, 4);
/// Concrete runs on the Kubernetes executor from 19.2.
pub const CONCRETE_SINCE: (u32, u32) = (19, 2);

/// Flags a job variable can turn on unless `[runners.feature_flags]` pins them
/// (common/build_settings.go `populateFeatureFlags`, v19.3.0), among those the table knows.
pub const JOB_SETTABLE: &[&str] = &[
    f::LEGACY_EXEC,
    f::HONOR_ENTRYPOINT,
    f::PRINT_POD_EVENTS,
    f::WAIT_REACHABLE,
    f::CONCRETE,
    f::SUSPENDABLE,
    f::RETRIEVE_WARNING_EVENTS,
];

/// Whether the attach execution strategy is on (`features` is the effective set, which carries
/// the legacy flag by default on runners older than 14.0). Concrete (19.2+) runs the job
/// through exec, not attach.
pub fn attach(version: (u32, u32), features: &BTreeSet<String>) -> bool {
    version >= (12, 9) && !features.contains(f::LEGACY_EXEC) && !concrete(version, features)
}

fn concrete(version: (u32, u32), features: &BTreeSet<String>) -> bool {
    version >= CONCRETE_SINCE && features.contains(f::CONCRETE)
}

fn holds(cond: Cond, version: (u32, u32), features: &BTreeSet<String>) -> bool {
    let on = |name: &str| features.contains(name);
    let honor = version >= (17, 4) && on(f::HONOR_ENTRYPOINT);
    match cond {
        Cond::Always => true,
        Cond::Attach => attach(version, features),
        Cond::Feature(name) => on(name),
        Cond::Without(name) => !on(name),
        Cond::AttachAnd(name) => attach(version, features) && on(name),
        Cond::HonorWatch => {
            honor
                && !concrete(version, features)
                && (attach(version, features) || version < (17, 9))
        }
        Cond::FatalPodLogs => honor || on(f::WAIT_REACHABLE) || concrete(version, features),
        Cond::WarningEvents => match version {
            v if v < (16, 2) => false,
            (16, 2) => true,
            v if v < (17, 2) => on(f::RETRIEVE_WARNING_EVENTS),
            v if v < (18, 0) => true,
            _ => on(f::PRINT_POD_WARNING_EVENTS),
        },
        Cond::ServiceAccountCheck => {
            on(f::SERVICE_ACCOUNT)
                && (on(f::RESOURCE_CHECK) || matches!(version, (15, 0) | (15, 1)))
        }
    }
}

fn in_versions(s: &NeedSpec, version: (u32, u32)) -> bool {
    s.since <= version && s.until.is_none_or(|u| version <= u)
}

/// The rows of calls the runner makes, for a runner of `version` with the effective `features`
/// (documented-but-never-sent rows are left out: [`documented_for`]).
pub fn applicable(version: (u32, u32), features: &BTreeSet<String>) -> Vec<&'static NeedSpec> {
    TABLE
        .iter()
        .filter(|s| s.outcome != Outcome::NeverSent)
        .filter(|s| in_versions(s, version))
        .filter(|s| holds(s.cond, version, features))
        .collect()
}

fn need_of(s: &NeedSpec, verbs: Vec<&'static str>) -> Need {
    Need {
        group: s.group,
        resource: s.resource,
        verbs,
        scope: s.scope,
        impact: s.impact,
        outcome: s.outcome,
        feature: s.feature,
        breaks: s.breaks,
        source: s.source,
    }
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
        out.push(need_of(s, verbs));
    }
    out
}

/// Verbs GitLab's docs list for this runner that no code path sends: `generate` adds them
/// only when asked, each with a comment saying so.
pub fn documented_for(version: (u32, u32), features: &BTreeSet<String>) -> Vec<Need> {
    TABLE
        .iter()
        .filter(|s| s.outcome == Outcome::NeverSent)
        .filter(|s| in_versions(s, version))
        .filter(|s| holds(s.cond, version, features))
        .map(|s| need_of(s, s.verbs.to_vec()))
        .collect()
}

/// What a job-settable flag adds: the needs whose absence fails jobs that set it.
#[derive(Debug, Clone)]
pub struct FlagNeed {
    pub flag: &'static str,
    pub need: Need,
}

/// For each flag of [`JOB_SETTABLE`] that is off and not in `pinned`: what a job that turns it
/// on needs beyond `needs_for(version, features)` and whose absence fails that job.
pub fn job_flag_needs(
    version: (u32, u32),
    features: &BTreeSet<String>,
    pinned: &BTreeSet<String>,
) -> Vec<FlagNeed> {
    let base = needs_for(version, features);
    let covered = |n: &Need, v: &str| {
        base.iter().any(|b| {
            b.impact <= n.impact
                && b.group == n.group
                && b.resource == n.resource
                && b.scope == n.scope
                && b.verbs.contains(&v)
        })
    };
    let mut out: Vec<FlagNeed> = Vec::new();
    for &flag in JOB_SETTABLE {
        if pinned.contains(flag) || features.contains(flag) {
            continue;
        }
        let mut with = features.clone();
        with.insert(flag.to_string());
        for n in needs_for(version, &with) {
            if n.outcome != Outcome::JobFails {
                continue;
            }
            let verbs: Vec<&'static str> = n
                .verbs
                .iter()
                .copied()
                .filter(|v| !covered(&n, v))
                .collect();
            if !verbs.is_empty() {
                out.push(FlagNeed {
                    flag,
                    need: Need { verbs, ..n },
                });
            }
        }
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

    /// The feature set with `names` on (and the default warning events).
    fn on(names: &[&str]) -> BTreeSet<String> {
        let mut s = set(names);
        s.insert(f::PRINT_POD_WARNING_EVENTS.to_string());
        s
    }

    fn outcome(needs: &[Need], resource: &str, verb: &str) -> Option<Outcome> {
        needs
            .iter()
            .find(|n| n.resource == resource && n.verbs.contains(&verb))
            .map(|n| n.outcome)
    }

    #[test]
    fn every_row_cites_the_runner_code_and_a_tag() {
        for s in TABLE {
            assert!(
                s.source.contains(".go") && s.source.contains(" v1")
                    || s.source.contains("after v19.3.0"),
                "{}/{}: {}",
                s.group,
                s.resource,
                s.source
            );
            assert!(!s.breaks.is_empty());
        }
    }

    #[test]
    fn default_configuration() {
        let needs = needs_for((19, 3), &on(&[]));
        assert_eq!(has(&needs, "pods/attach", "create"), Some(Impact::Required));
        assert_eq!(has(&needs, "events", "list"), Some(Impact::Feature));
        assert_eq!(has(&needs, "pods", "list"), Some(Impact::Optional));
        assert_eq!(has(&needs, "services", "create"), None);
        assert_eq!(has(&needs, "namespaces", "create"), None);
        assert_eq!(has(&needs, "configmaps", "get"), None);
        // Never sent (exec.go and AttachOptions.Run are POSTs, logs a GET, v19.3.0).
        for (resource, verb) in [
            ("pods/exec", "patch"),
            ("pods/exec", "delete"),
            ("pods/attach", "get"),
            ("pods/attach", "patch"),
            ("pods/attach", "delete"),
        ] {
            assert_eq!(has(&needs, resource, verb), None, "{resource} {verb}");
        }
        // terminal.go: the WebSocket GET is the session server's web terminal only.
        assert_eq!(has(&needs, "pods/exec", "get"), None);
        let session = needs_for((19, 3), &on(&[f::SESSION_SERVER]));
        assert_eq!(has(&session, "pods/exec", "get"), Some(Impact::Optional));
        // The documented verbs are kept apart, for `generate --include-documented`.
        let documented = documented_for((19, 3), &on(&[]));
        assert!(has(&documented, "pods/exec", "patch").is_some());
        assert!(has(&documented, "pods/exec", "get").is_some());
        assert!(has(
            &documented_for((19, 3), &on(&[f::SESSION_SERVER])),
            "pods/exec",
            "get"
        )
        .is_none());
    }

    /// kubernetes.go setupPodLegacy -> captureContainerLogs returns the stream error (v19.3.0);
    /// util.go waitForRunningContainer watches pods (before the v17.9.0 informer for legacy).
    #[test]
    fn honor_entrypoint_under_the_legacy_strategy() {
        let legacy = |v| needs_for(v, &on(&[f::LEGACY_EXEC, f::HONOR_ENTRYPOINT]));
        for v in [(17, 4), (17, 8), (18, 5)] {
            assert_eq!(
                outcome(&legacy(v), "pods/log", "get"),
                Some(Outcome::JobFails),
                "{v:?}"
            );
        }
        assert_eq!(
            has(&legacy((17, 8)), "pods", "watch"),
            Some(Impact::Feature)
        );
        assert_eq!(
            has(&legacy((17, 9)), "pods", "watch"),
            Some(Impact::Optional)
        );
        // Before 17.4 the flag asked for neither.
        assert_eq!(has(&legacy((17, 3)), "pods/log", "get"), None);
        let attach = needs_for((17, 3), &on(&[f::HONOR_ENTRYPOINT]));
        assert_eq!(has(&attach, "pods", "watch"), None);
        assert_eq!(
            has(
                &needs_for((17, 4), &on(&[f::HONOR_ENTRYPOINT])),
                "pods",
                "watch"
            ),
            Some(Impact::Feature)
        );
    }

    /// kubernetes.go handlePodEvents -> watchPodEvents: the error is returned (v19.3.0).
    #[test]
    fn print_pod_events_fails_jobs() {
        let needs = needs_for((19, 3), &on(&[f::PRINT_POD_EVENTS]));
        assert_eq!(outcome(&needs, "events", "watch"), Some(Outcome::JobFails));
        assert!(has(
            &needs_for((16, 4), &on(&[f::PRINT_POD_EVENTS])),
            "events",
            "watch"
        )
        .is_none());
    }

    /// Fatal outcomes: captureContainerLogs (3 of 4 triggers), createPodDisruptionBudget,
    /// makePodProxyServices; CI_DEBUG_SERVICES only warns (captureServiceContainersLogs).
    #[test]
    fn failure_texts_follow_the_code() {
        for flag in [f::HONOR_ENTRYPOINT, f::WAIT_REACHABLE, f::CONCRETE] {
            let n = needs_for((19, 3), &on(&[flag]));
            assert_eq!(
                outcome(&n, "pods/log", "get"),
                Some(Outcome::JobFails),
                "{flag}"
            );
        }
        let debug = needs_for((19, 3), &on(&[f::CI_DEBUG_SERVICES]));
        assert_eq!(outcome(&debug, "pods/log", "get"), Some(Outcome::Warning));
        let pdb = needs_for((19, 3), &on(&[f::POD_DISRUPTION_BUDGET]));
        assert_eq!(
            outcome(&pdb, "poddisruptionbudgets", "create"),
            Some(Outcome::JobFails)
        );
        let session = needs_for((19, 3), &on(&[f::SESSION_SERVER]));
        assert_eq!(
            outcome(&session, "services", "create"),
            Some(Outcome::JobFails)
        );
        let base = needs_for((19, 3), &on(&[]));
        assert_eq!(outcome(&base, "events", "list"), Some(Outcome::Warning));
        for n in TABLE.iter().filter(|s| s.outcome == Outcome::JobFails) {
            assert!(n.breaks.contains("fail"), "{}: {}", n.resource, n.breaks);
        }
    }

    /// Secret names carry a random suffix: get is the conflict retry and the image_pull_secrets
    /// check (requestSecretCreation, secretExists), delete the cleanup after a failed pod create.
    #[test]
    fn secrets_get_and_delete_tell_the_code_story() {
        let base = needs_for((19, 3), &on(&[]));
        assert_eq!(outcome(&base, "secrets", "delete"), Some(Outcome::Leak));
        let get = base
            .iter()
            .find(|n| n.resource == "secrets" && n.verbs.contains(&"get"));
        assert!(
            get.is_some_and(|n| n.breaks.contains("conflict") && !n.breaks.contains("works once"))
        );
    }

    /// Concrete on the Kubernetes executor (19.2+) runs the job through exec (steps.go).
    #[test]
    fn concrete_needs_no_attach() {
        let c = needs_for((19, 3), &on(&[f::CONCRETE]));
        assert!(!c.iter().any(|n| n.resource == "pods/attach"));
        assert!(has(&c, "pods/exec", "create").is_some());
        assert!(has(&c, "pods/log", "get").is_some());
        let old = needs_for((19, 1), &on(&[f::CONCRETE]));
        assert!(has(&old, "pods/attach", "create").is_some());
        assert!(has(&old, "pods/log", "get").is_none());
    }

    /// suspend.go landed after v19.3.0 (commit bbcd5520a).
    #[test]
    fn suspendable_environments_start_after_19_3() {
        let s = on(&[f::SUSPENDABLE]);
        for v in [(19, 0), (19, 3)] {
            let n = needs_for(v, &s);
            assert!(
                !n.iter()
                    .any(|n| n.resource == "configmaps" || n.resource == "namespaces"),
                "{v:?}"
            );
        }
        let n = needs_for((19, 4), &s);
        assert_eq!(
            outcome(&n, "persistentvolumeclaims", "create"),
            Some(Outcome::JobFails)
        );
        assert!(has(&n, "namespaces", "get").is_some());
    }

    #[test]
    fn versions() {
        // Before 14.0 the legacy exec strategy was the default (the builder adds the flag).
        let old = needs_for((13, 12), &set(&[f::LEGACY_EXEC]));
        assert_eq!(has(&old, "pods/attach", "create"), None);
        // 15.7 with attach stored scripts in ConfigMaps (never read back); 15.8 no longer.
        assert!(has(&needs_for((15, 7), &set(&[])), "configmaps", "create").is_some());
        assert!(has(&needs_for((15, 7), &set(&[])), "configmaps", "get").is_none());
        assert!(has(&needs_for((15, 8), &set(&[])), "configmaps", "create").is_none());
        // serviceAccountExists: a resource check and `service_account`; 15.0.0/15.1.0 checked
        // without the resource check.
        let sa = set(&[f::SERVICE_ACCOUNT]);
        assert!(has(&needs_for((15, 1), &sa), "serviceaccounts", "get").is_some());
        assert!(has(&needs_for((15, 1), &set(&[])), "serviceaccounts", "get").is_none());
        assert!(has(&needs_for((15, 2), &sa), "serviceaccounts", "get").is_none());
        let checked = set(&[f::SERVICE_ACCOUNT, f::RESOURCE_CHECK]);
        assert!(has(&needs_for((19, 3), &checked), "serviceaccounts", "get").is_some());
        assert!(has(
            &needs_for((19, 3), &set(&[f::RESOURCE_CHECK])),
            "serviceaccounts",
            "get"
        )
        .is_none());
        // Informer only from 17.9.
        assert!(has(&needs_for((17, 8), &set(&[])), "pods", "list").is_none());
        // Warning events: unconditional in 16.2.0, behind a flag to 17.1, always 17.2–17.x.
        assert!(has(&needs_for((16, 2), &set(&[])), "events", "list").is_some());
        assert!(has(&needs_for((16, 8), &set(&[])), "events", "list").is_none());
        assert!(has(&needs_for((17, 5), &set(&[])), "events", "list").is_some());
    }

    /// common/build_settings.go populateFeatureFlags: an unpinned flag is the job's to set.
    #[test]
    fn job_settable_flags() {
        let none = BTreeSet::new();
        let fl = job_flag_needs((19, 3), &on(&[]), &none);
        let of = |flag: &str| -> Vec<String> {
            fl.iter()
                .filter(|j| j.flag == flag)
                .flat_map(|j| {
                    j.need
                        .verbs
                        .iter()
                        .map(|v| format!("{} {v}", j.need.resource))
                })
                .collect()
        };
        assert_eq!(of(f::PRINT_POD_EVENTS), vec!["events watch"]);
        assert_eq!(of(f::HONOR_ENTRYPOINT), vec!["pods watch", "pods/log get"]);
        assert_eq!(of(f::WAIT_REACHABLE), vec!["pods/log get"]);
        assert_eq!(of(f::CONCRETE), vec!["pods/log get"]);
        // Only what fails jobs: the retired warning-events flag adds nothing here.
        assert!(of(f::RETRIEVE_WARNING_EVENTS).is_empty());
        // Pinned flags are not the job's.
        let pinned = set(&[f::PRINT_POD_EVENTS]);
        assert!(job_flag_needs((19, 3), &on(&[]), &pinned)
            .iter()
            .all(|j| j.flag != f::PRINT_POD_EVENTS));
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
            (19, 4),
            &set(&[f::NAMESPACE_PER_JOB, f::AUTOSCALER, f::SUSPENDABLE]),
        );
        let scope = |r: &str| needs.iter().find(|n| n.resource == r).map(|n| n.scope);
        assert_eq!(scope("namespaces"), Some(NeedScope::Cluster));
        assert_eq!(scope("priorityclasses"), Some(NeedScope::Cluster));
        assert_eq!(scope("deployments"), Some(NeedScope::Namespaced));
    }
}
