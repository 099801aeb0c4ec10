//! The bootstrap policy: every ClusterRole, Role and binding the API server creates and
//! reconciles at each start (`EnsureRBACPolicy`), as Kubernetes ships it in its golden files.
//!
//! Source: kubernetes/kubernetes `plugin/pkg/auth/authorizer/rbac/bootstrappolicy/testdata/`.
//! The stored history of that directory did not show which version is the v1.34.0 tag, so each
//! file is the newest stored version without a marker of a later release (the Workload API and
//! EvictionRequest rules of `controller-roles-featuregates.yaml` are 1.35+, so that file is not
//! shipped), checked against its stored length:
//!
//! * `cluster-roles-featuregates.yaml` at 01899a7c86337b05a16a4155c9351cf947beaee9 (every gate
//!   on: a superset of `cluster-roles.yaml`, whose stored versions are all pre-1.31);
//! * `controller-roles.yaml`, `namespace-roles.yaml`, `namespace-role-bindings.yaml` at
//!   008b3652959ca58af8be3fb5b6ecfe9ae7638282 (DRA's resource-claim-controller on by default,
//!   as in 1.34);
//! * `controller-role-bindings.yaml`: one binding per controller role, to the ServiceAccount of
//!   the same name in `kube-system`, as `addControllerRole` writes it;
//! * `cluster-role-bindings.yaml`: the bindings of `ClusterRoleBindings()` in policy.go (the
//!   stored golden versions predate `system:monitoring` and
//!   `system:service-account-issuer-discovery`), in the golden files' format.
//!
//! Parsed with the core's own YAML reader, once, and only when an input names a built-in
//! object: a check that never mentions one pays nothing.

use crate::model::{Binding, Inventory, Origin, PolicyRule, Role, RoleKind};
use std::collections::BTreeSet;
use std::sync::OnceLock;

/// The shipped files, by name.
pub const FILES: &[(&str, &str)] = &[
    (
        "cluster-roles-featuregates.yaml",
        include_str!("bootstrap/cluster-roles-featuregates.yaml"),
    ),
    (
        "cluster-role-bindings.yaml",
        include_str!("bootstrap/cluster-role-bindings.yaml"),
    ),
    (
        "controller-roles.yaml",
        include_str!("bootstrap/controller-roles.yaml"),
    ),
    (
        "controller-role-bindings.yaml",
        include_str!("bootstrap/controller-role-bindings.yaml"),
    ),
    (
        "namespace-roles.yaml",
        include_str!("bootstrap/namespace-roles.yaml"),
    ),
    (
        "namespace-role-bindings.yaml",
        include_str!("bootstrap/namespace-role-bindings.yaml"),
    ),
];

/// `rbac.authorization.kubernetes.io/autoupdate`: exactly `"false"` stops reconciliation.
pub const AUTOUPDATE: &str = "rbac.authorization.kubernetes.io/autoupdate";

/// The default objects, parsed.
pub struct Defaults {
    pub roles: Vec<Role>,
    pub bindings: Vec<Binding>,
}

static DEFAULTS: OnceLock<Defaults> = OnceLock::new();

/// The bootstrap policy, parsed on first use.
pub fn defaults() -> &'static Defaults {
    DEFAULTS.get_or_init(|| {
        let sources: Vec<crate::api::Source> = FILES
            .iter()
            .map(|(name, text)| crate::api::Source::new(format!("<bootstrap>/{name}"), *text))
            .collect();
        let Inventory {
            mut roles,
            mut bindings,
            ..
        } = crate::model::build(&sources);
        for meta in roles
            .iter_mut()
            .map(|r| &mut r.meta)
            .chain(bindings.iter_mut().map(|b| &mut b.meta))
        {
            meta.origin = Origin::Builtin;
            meta.loc.file = usize::MAX;
        }
        Defaults { roles, bindings }
    })
}

/// Whether a name could be a default object's: every one is `system:*` or one of these. Lets a
/// check that names none skip the bootstrap policy entirely.
pub fn may_be_builtin(name: &str) -> bool {
    name.starts_with("system:")
        || matches!(
            name,
            "cluster-admin"
                | "admin"
                | "edit"
                | "view"
                | "extension-apiserver-authentication-reader"
        )
}

/// Whether the inputs name any default object (as an object or a roleRef).
pub fn mentioned(inv: &Inventory) -> bool {
    inv.roles.iter().any(|r| may_be_builtin(&r.meta.name))
        || inv
            .bindings
            .iter()
            .any(|b| may_be_builtin(&b.meta.name) || may_be_builtin(&b.role_ref.name))
}

impl Defaults {
    pub fn role(&self, kind: RoleKind, namespace: Option<&str>, name: &str) -> Option<&Role> {
        self.roles.iter().find(|d| {
            d.kind == kind
                && d.meta.name == name
                && (kind == RoleKind::ClusterRole || d.meta.namespace.as_deref() == namespace)
        })
    }

    pub fn binding(&self, b: &Binding) -> Option<&Binding> {
        self.bindings.iter().find(|d| {
            d.kind == b.kind
                && d.meta.name == b.meta.name
                && (b.kind == crate::model::BindingKind::ClusterRoleBinding
                    || d.meta.namespace == b.meta.namespace)
        })
    }
}

/// A rule as a comparable value (lists as sets: the authorizer ignores order and repeats).
type RuleKey = [BTreeSet<String>; 5];

pub fn rule_key(r: &PolicyRule) -> RuleKey {
    let set = |v: &[String]| v.iter().cloned().collect::<BTreeSet<String>>();
    [
        set(&r.api_groups),
        set(&r.resources),
        set(&r.verbs),
        set(&r.resource_names),
        set(&r.non_resource_urls),
    ]
}

fn rule_set(rules: &[PolicyRule]) -> BTreeSet<RuleKey> {
    rules.iter().map(rule_key).collect()
}

fn selector_key(s: &crate::model::LabelSelector) -> String {
    format!("{:?}{:?}", s.match_labels, s.match_expressions)
}

fn selector_keys(role: &Role) -> Option<BTreeSet<String>> {
    role.aggregation
        .as_ref()
        .map(|sels| sels.iter().map(selector_key).collect())
}

/// Whether `role` is the default `default` by content: the same rules (for an aggregated role,
/// the same selectors: the controller overwrites its rules). Labels prove nothing.
pub fn same_role(role: &Role, default: &Role) -> bool {
    if role.meta.annotations.get(MODIFIED).is_some() {
        return false;
    }
    match (selector_keys(role), selector_keys(default)) {
        (Some(a), Some(b)) => a == b,
        (None, None) => rule_set(&role.rules) == rule_set(&default.rules),
        _ => false,
    }
}

type SubjectKey = (String, String, String);

fn subject_key(s: &crate::model::Subject) -> SubjectKey {
    (
        format!("{:?}", s.kind),
        s.name.clone(),
        s.namespace.clone().unwrap_or_default(),
    )
}

fn subject_keys(b: &Binding) -> BTreeSet<SubjectKey> {
    b.subjects.iter().map(subject_key).collect()
}

fn same_role_ref(a: &Binding, b: &Binding) -> bool {
    a.role_ref.kind == b.role_ref.kind && a.role_ref.name == b.role_ref.name
}

/// Whether `binding` is the default `default` by content: the same roleRef and subjects.
pub fn same_binding(binding: &Binding, default: &Binding) -> bool {
    binding.meta.annotations.get(MODIFIED).is_none()
        && same_role_ref(binding, default)
        && subject_keys(binding) == subject_keys(default)
}

/// Set on an input object whose content differed from its default before reconciliation, so
/// that one reconciled into the default's exact content is still judged as the change it is.
/// Setting it by hand only makes an object count as modified: more findings, never fewer.
pub const MODIFIED: &str = "rbac-gate.dev/bootstrap-modified";

/// Whether the object opts out of reconciliation.
pub fn autoupdate_off(meta: &crate::model::Meta) -> bool {
    meta.annotations.get(AUTOUPDATE).map(String::as_str) == Some("false")
}

/// What the API server makes of an input role with a default's name (`computeReconciledRole`):
/// the default's missing rules and aggregation selectors are added, the file's extra ones stay;
/// with `autoupdate: "false"` the file's role stays as written.
pub fn reconcile_role(role: &mut Role, default: &Role) {
    if same_role(role, default) {
        return;
    }
    role.meta.annotations.insert(MODIFIED.into(), "true".into());
    if autoupdate_off(&role.meta) {
        return;
    }
    let have = rule_set(&role.rules);
    let at = role.meta.loc;
    for rule in &default.rules {
        if !have.contains(&rule_key(rule)) {
            let mut added = rule.clone();
            // Points at the role: the rule is not written anywhere in the inputs.
            added.loc = at;
            added.resource_locs = Vec::new();
            role.rules.push(added);
        }
    }
    if let Some(default_selectors) = &default.aggregation {
        let selectors = role.aggregation.get_or_insert_with(Vec::new);
        let have: BTreeSet<String> = selectors.iter().map(selector_key).collect();
        for s in default_selectors {
            if !have.contains(&selector_key(s)) {
                selectors.push(s.clone());
            }
        }
    }
}

/// What the API server makes of an input binding with a default's name
/// (`computeReconciledRoleBinding`): a changed roleRef means the binding is deleted and
/// recreated from the default; otherwise the default subjects are added back (extra ones stay),
/// unless `autoupdate: "false"`.
pub fn reconcile_binding(binding: &mut Binding, default: &Binding) {
    if same_binding(binding, default) {
        return;
    }
    binding
        .meta
        .annotations
        .insert(MODIFIED.into(), "true".into());
    if !same_role_ref(binding, default) {
        let at = binding.role_ref.loc;
        binding.role_ref = default.role_ref.clone();
        binding.role_ref.loc = at;
        binding.subjects = default.subjects.clone();
        for s in &mut binding.subjects {
            s.loc = at;
        }
        return;
    }
    if autoupdate_off(&binding.meta) {
        return;
    }
    let have = subject_keys(binding);
    let at = binding.meta.loc;
    for s in &default.subjects {
        if !have.contains(&subject_key(s)) {
            let mut added = s.clone();
            added.loc = at;
            binding.subjects.push(added);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_file_parses_without_errors() {
        for (name, text) in FILES {
            let inv = crate::model::build(&[crate::api::Source::new(*name, *text)]);
            assert!(inv.errors.is_empty(), "{name}: {:?}", inv.errors);
            assert!(
                !inv.roles.is_empty() || !inv.bindings.is_empty(),
                "{name} holds no RBAC object"
            );
        }
    }

    #[test]
    fn the_defaults_hold_the_roles_the_issue_names() {
        let d = defaults();
        for name in [
            "cluster-admin",
            "system:controller:clusterrole-aggregation-controller",
            "system:controller:generic-garbage-collector",
            "system:kube-controller-manager",
            "system:node",
            "system:aggregate-to-edit",
        ] {
            assert!(
                d.role(RoleKind::ClusterRole, None, name).is_some(),
                "{name} missing"
            );
        }
        assert!(d
            .role(
                RoleKind::Role,
                Some("kube-system"),
                "system:controller:token-cleaner"
            )
            .is_some());
        assert_eq!(d.bindings.len(), 12 + 38 + 7);
    }
}
