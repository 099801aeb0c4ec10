//! GitLab Runner knowledge: who the runner manager and its jobs are, where jobs run, which
//! features are on, and what the manager needs (per runner version and feature).

use crate::authz::Identity;
use crate::model::Loc;
mod build;
pub mod config;
pub mod permissions;
pub use build::{build, direct_grants, missing, MissingNeed};
pub use config::config_errors;

use std::collections::BTreeSet;

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
}

impl RunnerModel {
    pub fn is_manager(&self, id: &Identity) -> bool {
        self.runners.iter().any(|r| r.manager.as_ref() == Some(id))
    }

    pub fn is_job(&self, id: &Identity) -> bool {
        self.runners.iter().any(|r| r.jobs.as_ref() == Some(id))
    }

    pub fn runners_managed_by<'a>(&'a self, id: &'a Identity) -> impl Iterator<Item = &'a Runner> {
        self.runners
            .iter()
            .filter(move |r| r.manager.as_ref() == Some(id))
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
            r.needs.iter().any(|n| {
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
