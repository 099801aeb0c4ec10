//! GitLab Runner knowledge: who the runner manager and its jobs are, where jobs run, which
//! features are on, and what the manager needs (per runner version and feature).

use crate::authz::Identity;
use crate::model::Loc;
mod build;
pub mod config;
pub mod permissions;
pub mod version;
pub use build::{build, direct_grants, missing, missing_job_flags, MissingNeed};
pub use config::config_errors;

use std::collections::{BTreeSet, HashMap, HashSet};

/// Where job pods can land.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobNamespaces {
    Listed(Vec<String>),
    /// Any namespace: `namespace_per_job`, or a broad `namespace_overwrite_allowed`.
    Any {
        reason: String,
    },
}

/// How badly CI breaks when a needed permission is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Impact {
    /// Every job needs it: missing is `high`.
    Required,
    /// Only a feature needs it: missing is `medium`.
    Feature,
    /// The runner degrades gracefully or never issues the verb: missing is `low`.
    Optional,
}

/// What the runner's code does when the API refuses the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The error is returned: the job fails.
    JobFails,
    /// The runner prints or logs a warning; the job runs.
    Warning,
    /// A resource is left behind.
    Leak,
    /// A feature stops working (web terminal, services proxy, informer, autoscaler); jobs run.
    Degrades,
    /// Documented by GitLab, but no code path sends it.
    NeverSent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeedScope {
    Namespaced,
    Cluster,
}

/// One permission the runner manager needs.
#[derive(Debug, Clone)]
pub struct Need {
    pub group: &'static str,
    pub resource: &'static str,
    pub verbs: Vec<&'static str>,
    pub scope: NeedScope,
    pub impact: Impact,
    /// What the runner does without it.
    pub outcome: Outcome,
    /// The feature or condition that needs it (`always`, `namespace_per_job`, ...).
    pub feature: &'static str,
    /// What breaks without it, in the failure-mode terms users know.
    pub breaks: &'static str,
    /// Where the fact comes from.
    pub source: &'static str,
}

#[derive(Debug, Clone)]
pub struct Runner {
    /// Human name for messages, e.g. `config.toml [[runners]] "k8s"` or `Helm values`.
    pub name: String,
    /// Index into `Inventory::runner_configs`, when a config was found.
    pub config: Option<usize>,
    pub manager: Option<Identity>,
    /// The identity job pods run as.
    pub jobs: Option<Identity>,
    pub job_namespaces: JobNamespaces,
    pub features: BTreeSet<String>,
    pub needs: Vec<Need>,
    /// What jobs that turn on a flag `[runners.feature_flags]` does not pin need beyond
    /// `needs`, where the runner fails such a job without it.
    pub job_flags: Vec<permissions::FlagNeed>,
    /// Verbs GitLab's docs list for this runner that its code never sends
    /// ([`permissions::documented_for`]): `generate` leaves them out, the checker tolerates
    /// them (a Role copied from the docs is not reported for them).
    pub documented: Vec<Need>,
    /// The flags the config pins (`[runners.feature_flags]`, or `FF_X=false` in the gate's
    /// settings, which say what the runner's config holds).
    pub pinned_flags: BTreeSet<String>,
    /// The feature that legitimately needs cluster-wide scope, if any.
    pub cluster_feature: Option<String>,
    /// The parsed `[[runners]]` entry (with key locations), when a config was found.
    pub entry: Option<config::RunnerEntry>,
    /// How the manager identity was found, for messages (`Helm values serviceAccount`, ...).
    pub manager_via: String,
    /// Where to point when no more precise place exists: the config entry, the runner
    /// workload, the Helm values or the binding that made the identity recognisable.
    pub anchor: Loc,
    /// The runner workload (index into `Inventory::workloads`), when one was found.
    pub workload: Option<usize>,
    /// The Helm values (index into `Inventory::helm_values`) it was rendered from.
    pub helm: Option<usize>,
    /// Runner version the needs were computed for.
    pub version: (u32, u32),
    /// Where the inputs said `version` (`the image tag `alpine-v17.6.0` of Deployment
    /// ci/gitlab-runner, line 21`); `None` when the gate's settings set it or nothing did.
    pub version_from: Option<String>,
    /// The namespace jobs run in unless a job overrides it (`namespace`, else the default).
    pub default_namespace: String,
}

impl Runner {
    /// The `[runners.kubernetes]` section, when the config has one.
    pub fn kube(&self) -> Option<&config::KubernetesConfig> {
        self.entry.as_ref().and_then(|e| e.kubernetes.as_ref())
    }

    /// `namespace `ci``, `namespaces `a`, `b``, or `any namespace (reason)`.
    pub fn job_namespaces_text(&self) -> String {
        match &self.job_namespaces {
            JobNamespaces::Listed(l) if l.len() == 1 => format!("namespace `{}`", l[0]),
            JobNamespaces::Listed(l) => format!(
                "namespaces {}",
                l.iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            JobNamespaces::Any { reason } => format!("any namespace ({reason})"),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct RunnerModel {
    pub runners: Vec<Runner>,
    /// Every runner config that parsed (TOML syntax errors: [`config_errors`]).
    pub configs: Vec<config::RunnerConfig>,
    /// Runners by manager and by job identity, built once the model is complete
    /// ([`RunnerModel::index`]). The rules ask "is this identity a manager, and what does it
    /// need" for every identity and every rule line; a dump whose service accounts all look
    /// like runners has thousands of runners, and a linear scan per question made the check
    /// quadratic (72 s for 7,000 roles). Queries fall back to the scan when `runners` changed
    /// since the index was built.
    index: RunnerIndex,
}

#[derive(Debug, Clone, Default)]
struct RunnerIndex {
    /// `runners.len()` when the index was built.
    built_for: Option<usize>,
    by_manager: HashMap<Identity, Vec<usize>>,
    jobs: HashSet<Identity>,
}

impl RunnerModel {
    /// Builds the identity index; call after the last change to `runners`.
    pub fn index(&mut self) {
        let mut index = RunnerIndex {
            built_for: Some(self.runners.len()),
            ..RunnerIndex::default()
        };
        for (i, r) in self.runners.iter().enumerate() {
            if let Some(m) = &r.manager {
                index.by_manager.entry(m.clone()).or_default().push(i);
            }
            if let Some(j) = &r.jobs {
                index.jobs.insert(j.clone());
            }
        }
        self.index = index;
    }

    fn indexed(&self) -> bool {
        self.index.built_for == Some(self.runners.len())
    }

    pub fn is_manager(&self, id: &Identity) -> bool {
        if self.indexed() {
            return self.index.by_manager.contains_key(id);
        }
        self.runners.iter().any(|r| r.manager.as_ref() == Some(id))
    }

    pub fn is_job(&self, id: &Identity) -> bool {
        if self.indexed() {
            return self.index.jobs.contains(id);
        }
        self.runners.iter().any(|r| r.jobs.as_ref() == Some(id))
    }

    pub fn runners_managed_by<'a>(&'a self, id: &'a Identity) -> impl Iterator<Item = &'a Runner> {
        let (indexed, scan): (&[usize], &[Runner]) = if self.indexed() {
            let hits = self.index.by_manager.get(id).map_or(&[][..], Vec::as_slice);
            (hits, &[])
        } else {
            (&[], &self.runners)
        };
        indexed
            .iter()
            .map(move |&i| &self.runners[i])
            .chain(scan.iter().filter(move |r| r.manager.as_ref() == Some(id)))
    }

    /// Whether `id` is a runner manager that needs `verb` on `group`/`resource` in `namespace`
    /// (`None`: cluster scope). Such permissions never fail the gate on their own.
    pub fn needed(
        &self,
        id: &Identity,
        verb: &str,
        group: &str,
        resource: &str,
        namespace: Option<&str>,
    ) -> bool {
        self.runners_managed_by(id).any(|r| {
            let in_job_ns = match (&r.job_namespaces, namespace) {
                (JobNamespaces::Any { .. }, _) => true,
                (JobNamespaces::Listed(list), Some(ns)) => list.iter().any(|n| n == ns),
                (JobNamespaces::Listed(_), None) => false,
            };
            r.needs
                .iter()
                .chain(r.job_flags.iter().map(|j| &j.need))
                .chain(&r.documented)
                .any(|n| {
                    n.group == group
                        && n.resource == resource
                        && n.verbs.contains(&verb)
                        && match n.scope {
                            NeedScope::Namespaced => in_job_ns,
                            NeedScope::Cluster => true,
                        }
                })
        })
    }
}
