use crate::authz::BindingProblem;
use crate::context::Ctx;
use crate::declare_rule;
use crate::report::Finding;
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports bindings to a `system:` Role or ClusterRole that is neither in the inputs nor in
    /// the bootstrap policy of Kubernetes v1.34 that the engine ships.
    ///
    /// ### Why is this bad
    /// `system:` roles are created by Kubernetes itself, by a newer release, a feature gate, a
    /// distribution or an add-on, and many of them are powerful (the garbage collector's role
    /// can delete every object, the aggregation controller's can escalate to cluster-admin). The
    /// gate cannot judge what it cannot see: passing such a binding would pass an unknown
    /// amount of power.
    ///
    /// ### Example
    /// ```yaml
    /// kind: ClusterRoleBinding
    /// metadata: {name: runner-csi}
    /// roleRef:
    ///   apiGroup: rbac.authorization.k8s.io
    ///   kind: ClusterRole
    ///   name: system:csi-external-provisioner   # from an add-on, not in the inputs
    /// subjects:
    /// - {kind: ServiceAccount, name: gitlab-runner, namespace: ci}
    /// ```
    ///
    /// ### Fix
    /// Add the role's definition to the checked files (`kubectl get clusterrole NAME -o yaml`)
    /// so that its rules are judged, or bind a role of your own with only what is needed.
    pub UnknownSystemRole,
    code = "RG118",
    name = "unknown-system-role",
    severity = High,
    category = Unsafe,
    summary = "A binding refers to a system: role the engine does not know",
}

impl Rule for UnknownSystemRole {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        for (bi, problem) in &ctx.authz.binding_problems {
            let b = &ctx.inv.bindings[*bi];
            let rr = &b.role_ref;
            if !matches!(problem, BindingProblem::Dangling)
                || !rr.name.starts_with("system:")
                || !matches!(rr.kind.as_str(), "Role" | "ClusterRole")
            {
                continue;
            }
            let display = b.display();
            let d = ctx
                .draft(
                    &Self::META,
                    rr.loc,
                    format!(
                        "{display} refers to {} `{}`, which is neither in the inputs nor in the bootstrap policy of {}: cannot judge an unknown system role",
                        rr.kind,
                        rr.name,
                        crate::authz::BUILTIN_RELEASE
                    ),
                    format!(
                        "Add the definition of {} `{}` to the checked files (`kubectl get {} {} -o yaml`) so that its rules are judged, or bind a role of your own that grants only what the subjects need.",
                        rr.kind,
                        rr.name,
                        rr.kind.to_lowercase(),
                        rr.name
                    ),
                )
                .object(display)
                .key(format!("{}:{}", rr.kind, rr.name));
            ctx.emit(out, d);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{fires, silent};

    const CODE: &str = "RG118";

    fn crb(role: &str) -> String {
        format!(
            "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: runner}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: \"{role}\"}}
subjects:
- {{kind: ServiceAccount, name: gitlab-runner, namespace: ci}}
"
        )
    }

    #[test]
    fn fires_on_an_unknown_system_role() {
        let f = fires(CODE, &crb("system:csi-external-provisioner"));
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("cannot judge an unknown system role"));
        assert_eq!(f[0].severity, crate::report::Severity::High);
    }

    #[test]
    fn silent_on_a_bootstrap_role_and_on_a_defined_one() {
        silent(CODE, &crb("system:node"));
        silent(
            CODE,
            &format!(
                "{}---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: \"system:csi-external-provisioner\"}}
rules:
- {{apiGroups: [\"\"], resources: [persistentvolumes], verbs: [get]}}
",
                crb("system:csi-external-provisioner")
            ),
        );
        // Not a system: name: the dangling-reference rule's business.
        silent(CODE, &crb("my-missing-role"));
    }
}
