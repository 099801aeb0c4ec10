//! The inventory: every object the inputs describe, with where it came from.
//!
//! Inputs are recognised by content, not by file name: Kubernetes objects by `apiVersion`/`kind`
//! (including `List` and `*List`), kubeconfigs by `kind: Config`, gitlab-runner Helm values by
//! shape, and `config.toml` by being TOML with `[[runners]]`.

mod extract;
mod gitops;
mod helm;
mod kubeconfig;
mod namespaces;
mod string_map;
mod template;
mod workload;

pub use extract::{build, build_with};
pub use kubeconfig::Kubeconfig;
pub use namespaces::{assume as assume_namespaces, Assumed, AssumedNamespace};
pub use string_map::StringMap;
pub use workload::Workload;

use crate::yaml::Pos;
use std::collections::BTreeMap;

/// A place in an input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Loc {
    /// Index into the sources.
    pub file: usize,
    pub line: u32,
    pub col: u32,
    pub end_line: u32,
}

impl Loc {
    pub fn at(file: usize, pos: Pos) -> Loc {
        Loc {
            file,
            line: pos.line,
            col: pos.col,
            end_line: pos.line,
        }
    }

    pub fn span(file: usize, pos: Pos, end_line: u32) -> Loc {
        Loc {
            file,
            line: pos.line,
            col: pos.col,
            end_line: end_line.max(pos.line),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Meta {
    pub name: String,
    pub namespace: Option<String>,
    pub labels: StringMap,
    pub annotations: StringMap,
    /// The whole object.
    pub loc: Loc,
    /// Where the object came from when it is not written out: the Helm values that render it,
    /// or the Kubernetes release whose built-in role it is.
    pub origin: Origin,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Origin {
    /// Written in an input file.
    #[default]
    Manifest,
    /// Rendered from gitlab-runner Helm values at `Meta.loc`.
    Helm,
    /// A built-in ClusterRole shipped with the tool (not in the inputs).
    Builtin,
}

impl Meta {
    pub fn justification(&self) -> Option<&str> {
        self.annotations
            .get("rbac-gate.dev/justification")
            .map(String::as_str)
            .filter(|s| !s.trim().is_empty())
    }
}

#[derive(Debug, Clone, Default)]
pub struct PolicyRule {
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub verbs: Vec<String>,
    pub resource_names: Vec<String>,
    pub non_resource_urls: Vec<String>,
    pub loc: Loc,
    /// Where each listed resource is, for pointing at a typo.
    pub resource_locs: Vec<Loc>,
}

impl PolicyRule {
    /// Short form for messages: `[""] pods/exec: create, get`.
    pub fn describe(&self) -> String {
        if !self.non_resource_urls.is_empty() {
            return format!(
                "nonResourceURLs {}: {}",
                self.non_resource_urls.join(", "),
                self.verbs.join(", ")
            );
        }
        let groups: Vec<String> = self.api_groups.iter().map(|g| format!("\"{g}\"")).collect();
        let mut s = format!(
            "apiGroups [{}] resources [{}] verbs [{}]",
            groups.join(", "),
            self.resources.join(", "),
            self.verbs.join(", ")
        );
        if !self.resource_names.is_empty() {
            s.push_str(&format!(
                " resourceNames [{}]",
                self.resource_names.join(", ")
            ));
        }
        s
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleKind {
    Role,
    ClusterRole,
}

#[derive(Debug, Clone, Default)]
pub struct LabelSelector {
    pub match_labels: StringMap,
    /// (key, operator, values)
    pub match_expressions: Vec<(String, String, Vec<String>)>,
}

impl LabelSelector {
    /// Kubernetes label-selector semantics; an empty selector matches nothing in aggregation
    /// (the clusterrole-aggregation controller skips empty selectors).
    pub fn matches(&self, labels: &StringMap) -> bool {
        if self.match_labels.is_empty() && self.match_expressions.is_empty() {
            return false;
        }
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|(k, op, values)| {
                let value = labels.get(k);
                match op.as_str() {
                    "In" => value.is_some_and(|v| values.contains(v)),
                    "NotIn" => value.is_none_or(|v| !values.contains(v)),
                    "Exists" => value.is_some(),
                    "DoesNotExist" => value.is_none(),
                    _ => false,
                }
            })
    }
}

#[derive(Debug, Clone)]
pub struct Role {
    pub kind: RoleKind,
    pub meta: Meta,
    pub rules: Vec<PolicyRule>,
    /// `aggregationRule.clusterRoleSelectors`; when set, the controller replaces `rules` with
    /// the union of the selected ClusterRoles' rules.
    pub aggregation: Option<Vec<LabelSelector>>,
    /// For aggregated roles: the indices of the roles whose rules were merged in.
    pub aggregated_from: Vec<usize>,
}

impl Role {
    pub fn display(&self) -> String {
        match (&self.kind, &self.meta.namespace) {
            (RoleKind::Role, Some(ns)) => format!("Role {ns}/{}", self.meta.name),
            (RoleKind::Role, None) => format!("Role {}", self.meta.name),
            (RoleKind::ClusterRole, _) => format!("ClusterRole {}", self.meta.name),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SubjectKind {
    ServiceAccount,
    User,
    Group,
}

#[derive(Debug, Clone)]
pub struct Subject {
    pub kind: SubjectKind,
    pub name: String,
    pub namespace: Option<String>,
    pub loc: Loc,
}

#[derive(Debug, Clone)]
pub struct RoleRef {
    pub kind: String,
    pub name: String,
    pub api_group: String,
    pub loc: Loc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingKind {
    RoleBinding,
    ClusterRoleBinding,
}

#[derive(Debug, Clone)]
pub struct Binding {
    pub kind: BindingKind,
    pub meta: Meta,
    pub role_ref: RoleRef,
    pub subjects: Vec<Subject>,
}

impl Binding {
    pub fn display(&self) -> String {
        match (&self.kind, &self.meta.namespace) {
            (BindingKind::RoleBinding, Some(ns)) => format!("RoleBinding {ns}/{}", self.meta.name),
            (BindingKind::RoleBinding, None) => format!("RoleBinding {}", self.meta.name),
            (BindingKind::ClusterRoleBinding, _) => {
                format!("ClusterRoleBinding {}", self.meta.name)
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct ServiceAccount {
    pub meta: Meta,
    pub automount: Option<bool>,
    pub automount_loc: Option<Loc>,
}

#[derive(Debug, Clone)]
pub struct Secret {
    pub meta: Meta,
    pub type_: String,
    /// `kubernetes.io/service-account.name` for token Secrets.
    pub service_account: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Namespace {
    pub meta: Meta,
}

/// A GitLab Runner `config.toml`, from a file, a ConfigMap or Helm values.
#[derive(Debug, Clone)]
pub struct RunnerConfigSource {
    /// Where the TOML text starts: TOML line N is at file line `first_line + N - 1`, columns
    /// shifted by `col_offset`. Used to point inside a ConfigMap's embedded `config.toml`.
    pub file: usize,
    pub first_line: u32,
    pub col_offset: u32,
    /// Whether line mapping is exact (block scalars) or falls back to `anchor`.
    pub exact_lines: bool,
    pub anchor: Loc,
    /// Namespace of the ConfigMap or Helm release, when known.
    pub namespace: Option<String>,
    /// Name of the ConfigMap holding it, when it came from one.
    pub configmap: Option<String>,
    /// Helm values it was rendered from (template expressions resolved).
    pub from_helm: bool,
    /// Where those values sit when they are not a whole values file of the gitlab-runner chart
    /// (`values under \`gitlab-runner:\` (dependency in Chart.yaml)`, `HelmRelease ci/runner`):
    /// findings name it, so a runner found under another key is never a surprise.
    pub via: Option<String>,
    /// What findings call it: the file's name, or the ConfigMap key it was read from
    /// (`config.template.toml` is not `config.toml`).
    pub label: String,
    pub text: String,
}

/// A key set twice in one YAML mapping (see [`crate::yaml::Duplicate`]).
#[derive(Debug, Clone)]
pub struct DuplicateKey {
    /// The field, as `metadata.name` or `subjects[0].name`.
    pub path: String,
    /// The key whose value kubectl drops.
    pub dropped: Loc,
    /// The key whose value kubectl applies (a merge key `<<` when `by_merge`).
    pub applied: Loc,
    pub by_merge: bool,
}

/// Everything the inputs describe.
#[derive(Debug, Default)]
pub struct Inventory {
    pub roles: Vec<Role>,
    pub bindings: Vec<Binding>,
    pub service_accounts: Vec<ServiceAccount>,
    pub secrets: Vec<Secret>,
    pub namespaces: Vec<Namespace>,
    pub workloads: Vec<Workload>,
    pub runner_configs: Vec<RunnerConfigSource>,
    pub kubeconfigs: Vec<Kubeconfig>,
    /// Helm values files recognised (file index, location of the values root).
    pub helm_values: Vec<helm::HelmValues>,
    /// Keys a YAML mapping sets twice; the inventory holds the value kubectl applies.
    pub duplicate_keys: Vec<DuplicateKey>,
    /// Namespaces the inputs leave to kubectl's context, as [`assume_namespaces`] filled them.
    pub assumed_namespaces: Vec<AssumedNamespace>,
    pub documents: usize,
    pub objects: usize,
    pub skipped: BTreeMap<String, usize>,
    pub errors: Vec<crate::report::FileError>,
}

impl Inventory {
    /// Appends what another inventory (one file's, built on its own) holds, in order.
    /// Destructured field by field, so that a new field cannot be forgotten here.
    pub fn append(&mut self, other: Inventory) {
        let Inventory {
            roles,
            bindings,
            service_accounts,
            secrets,
            namespaces,
            workloads,
            runner_configs,
            kubeconfigs,
            mut helm_values,
            duplicate_keys,
            assumed_namespaces,
            documents,
            objects,
            skipped,
            errors,
        } = other;
        // Helm values point at the Role they render by index.
        let base = self.roles.len();
        for values in &mut helm_values {
            values.role = values.role.map(|i| i + base);
        }
        append_vec(&mut self.roles, roles);
        append_vec(&mut self.bindings, bindings);
        append_vec(&mut self.service_accounts, service_accounts);
        append_vec(&mut self.secrets, secrets);
        append_vec(&mut self.namespaces, namespaces);
        append_vec(&mut self.workloads, workloads);
        append_vec(&mut self.runner_configs, runner_configs);
        append_vec(&mut self.kubeconfigs, kubeconfigs);
        append_vec(&mut self.helm_values, helm_values);
        append_vec(&mut self.duplicate_keys, duplicate_keys);
        append_vec(&mut self.assumed_namespaces, assumed_namespaces);
        append_vec(&mut self.errors, errors);
        self.documents += documents;
        self.objects += objects;
        for (kind, n) in skipped {
            *self.skipped.entry(kind).or_default() += n;
        }
    }
}

/// `into.append(from)`, without a copy when `into` is still empty (one big file).
fn append_vec<T>(into: &mut Vec<T>, mut from: Vec<T>) {
    if into.is_empty() {
        *into = from;
    } else {
        into.append(&mut from);
    }
}

pub use helm::HelmValues;
