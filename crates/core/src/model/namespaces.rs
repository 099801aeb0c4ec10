//! Where namespaced objects that name no namespace land.
//!
//! `kubectl apply` puts a namespaced object without `metadata.namespace` into the namespace of
//! its context (`default` unless the context or `-n` says otherwise), so the file alone does not
//! say where it lands. The gate judges it in one namespace, `default` or the config's
//! `default-namespace`, fills that in once here (so every rule sees the same namespace) and
//! records each assumption for the `namespace-assumed` rule to report.
//!
//! A ServiceAccount subject without a namespace means the binding's namespace in a RoleBinding,
//! as the RBAC authorizer does (`appliesToUser` in
//! `plugin/pkg/auth/authorizer/rbac/rbac.go` defaults it to the namespace of the binding). In a
//! ClusterRoleBinding the API server rejects it (`subjects[].namespace` is required there,
//! `ValidateRoleBindingSubject` in `pkg/apis/rbac/validation/validation.go`); it is still judged
//! in the assumed namespace, so the grant it was meant to make is not missed, and reported.

use super::{BindingKind, Inventory, Loc, Meta, Origin, RoleKind, SubjectKind};

/// Why a namespace was filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assumed {
    /// A namespaced object without `metadata.namespace`.
    Object,
    /// A ServiceAccount subject without `namespace` in a ClusterRoleBinding, which the API
    /// server rejects.
    ClusterBindingSubject { subject: String },
}

/// One namespace the inputs leave open, as the gate filled it in.
#[derive(Debug, Clone)]
pub struct AssumedNamespace {
    /// `Role default/x`: the object as it is judged.
    pub object: String,
    pub loc: Loc,
    pub namespace: String,
    pub why: Assumed,
}

/// Fills in the namespace of every namespaced object written without one (as `namespace`)
/// and of ServiceAccount subjects without one, and records each object-level assumption in
/// `inv.assumed_namespaces`. Objects rendered from Helm values or shipped built in always
/// have their namespace set by the gate and are left alone.
pub fn assume(inv: &mut Inventory, namespace: &str) {
    let mut assumed = Vec::new();
    let fill = |assumed: &mut Vec<AssumedNamespace>, meta: &mut Meta, kind: &str| {
        if meta.origin == Origin::Manifest && meta.namespace.is_none() {
            meta.namespace = Some(namespace.to_string());
            assumed.push(AssumedNamespace {
                object: format!("{kind} {namespace}/{}", meta.name),
                loc: meta.loc,
                namespace: namespace.to_string(),
                why: Assumed::Object,
            });
        }
    };
    for role in inv.roles.iter_mut().filter(|r| r.kind == RoleKind::Role) {
        fill(&mut assumed, &mut role.meta, "Role");
    }
    for sa in &mut inv.service_accounts {
        fill(&mut assumed, &mut sa.meta, "ServiceAccount");
    }
    for secret in &mut inv.secrets {
        fill(&mut assumed, &mut secret.meta, "Secret");
    }
    for w in &mut inv.workloads {
        let kind = w.kind.clone();
        fill(&mut assumed, &mut w.meta, &kind);
        w.namespace = w.meta.namespace.clone();
    }
    for b in &mut inv.bindings {
        if b.kind == BindingKind::RoleBinding {
            fill(&mut assumed, &mut b.meta, "RoleBinding");
        }
        let binding_ns = b.meta.namespace.clone();
        for s in b
            .subjects
            .iter_mut()
            .filter(|s| s.kind == SubjectKind::ServiceAccount && s.namespace.is_none())
        {
            match (b.kind, &binding_ns) {
                (BindingKind::RoleBinding, Some(ns)) => s.namespace = Some(ns.clone()),
                _ => {
                    s.namespace = Some(namespace.to_string());
                    assumed.push(AssumedNamespace {
                        object: format!("ClusterRoleBinding {}", b.meta.name),
                        loc: s.loc,
                        namespace: namespace.to_string(),
                        why: Assumed::ClusterBindingSubject {
                            subject: s.name.clone(),
                        },
                    });
                }
            }
        }
    }
    // A runner config in a ConfigMap without a namespace: the ConfigMap lands in the context's
    // namespace, and the runner's jobs with it when the config names none.
    for c in inv
        .runner_configs
        .iter_mut()
        .filter(|c| c.configmap.is_some() && !c.from_helm && c.namespace.is_none())
    {
        c.namespace = Some(namespace.to_string());
        assumed.push(AssumedNamespace {
            object: format!(
                "ConfigMap {namespace}/{}",
                c.configmap.as_deref().unwrap_or("")
            ),
            loc: c.anchor,
            namespace: namespace.to_string(),
            why: Assumed::Object,
        });
    }
    assumed.sort_by_key(|a| (a.loc.file, a.loc.line, a.loc.col));
    inv.assumed_namespaces = assumed;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Source;

    fn assumed(yaml: &str, namespace: &str) -> Inventory {
        let mut inv = crate::model::build(&[Source::new("a.yaml", yaml)]);
        assume(&mut inv, namespace);
        inv
    }

    #[test]
    fn objects_without_a_namespace_land_in_the_given_one() {
        let inv = assumed(
            "apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: r}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: cr}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: sa, namespace: ci}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec: {template: {spec: {containers: [{name: c, image: x}]}}}
",
            "ops",
        );
        assert_eq!(inv.roles[0].meta.namespace.as_deref(), Some("ops"));
        assert_eq!(inv.roles[1].meta.namespace, None, "cluster-scoped");
        assert_eq!(
            inv.service_accounts[0].meta.namespace.as_deref(),
            Some("ci")
        );
        assert_eq!(inv.workloads[0].namespace.as_deref(), Some("ops"));
        let objects: Vec<&str> = inv
            .assumed_namespaces
            .iter()
            .map(|a| a.object.as_str())
            .collect();
        assert_eq!(objects, ["Role ops/r", "Deployment ops/d"]);
    }

    #[test]
    fn service_account_subjects_follow_the_authorizer() {
        let inv = assumed(
            "apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rb, namespace: ci}
roleRef: {kind: Role, name: r}
subjects: [{kind: ServiceAccount, name: a}, {kind: Group, name: g}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rb2}
roleRef: {kind: Role, name: r}
subjects: [{kind: ServiceAccount, name: b}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: crb}
roleRef: {kind: ClusterRole, name: r}
subjects: [{kind: ServiceAccount, name: c}]
",
            "default",
        );
        let ns = |b: usize, s: usize| inv.bindings[b].subjects[s].namespace.clone();
        assert_eq!(
            ns(0, 0).as_deref(),
            Some("ci"),
            "the RoleBinding's namespace"
        );
        assert_eq!(ns(0, 1), None, "groups have no namespace");
        assert_eq!(
            ns(1, 0).as_deref(),
            Some("default"),
            "the assumed binding's"
        );
        assert_eq!(ns(2, 0).as_deref(), Some("default"));
        let whys: Vec<&Assumed> = inv.assumed_namespaces.iter().map(|a| &a.why).collect();
        assert_eq!(
            whys,
            [
                &Assumed::Object,
                &Assumed::ClusterBindingSubject {
                    subject: "c".into()
                }
            ]
        );
    }
}
