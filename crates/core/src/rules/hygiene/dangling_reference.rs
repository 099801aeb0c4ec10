use crate::authz::BindingProblem;
use crate::context::Ctx;
use crate::declare_rule;
use crate::model::{Binding, BindingKind};
use crate::report::Finding;
use crate::rules::hygiene::util;
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports bindings whose `roleRef` cannot work:
    /// * it names a Role or ClusterRole that is not in the inputs and is not built in (the
    ///   tool ships Kubernetes' whole bootstrap policy; a `system:` name it does not know is
    ///   `unknown-system-role`, RG118, instead);
    /// * a ClusterRoleBinding refers to a `Role` (the API server rejects it);
    /// * `roleRef.kind` is neither `Role` nor `ClusterRole`.
    ///
    /// ### Why is this bad
    /// The binding grants nothing today, so whatever needed it fails with `forbidden`. Worse,
    /// it is a loaded gun: whoever later creates a role with that name (a Role in the binding's
    /// namespace, or any ClusterRole) silently grants its rules to the binding's subjects.
    ///
    /// ### Example
    /// ```yaml
    /// kind: RoleBinding
    /// metadata: {name: gitlab-runner, namespace: ci}
    /// roleRef:
    ///   apiGroup: rbac.authorization.k8s.io
    ///   kind: Role
    ///   name: gitlab-runer   # typo: no such Role
    /// ```
    ///
    /// ### Fix
    /// Point `roleRef` at the intended role (note that `roleRef` cannot be changed in place:
    /// delete and recreate the binding), add the missing role to the inputs, or delete the
    /// binding.
    pub DanglingReference,
    code = "RG501",
    name = "dangling-reference",
    severity = Low,
    category = Hygiene,
    summary = "A binding refers to a role that does not exist",
}

impl Rule for DanglingReference {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        for (bi, problem) in &ctx.authz.binding_problems {
            let b = &ctx.inv.bindings[*bi];
            let Some((message, help)) = describe(b, problem) else {
                continue;
            };
            // Point at the roleRef field at fault: the name of a missing role, else the kind.
            let loc = match (problem, b.role_ref.kind.as_str()) {
                (BindingProblem::Dangling, "Role" | "ClusterRole") => {
                    util::line_in_field(ctx, b.role_ref.loc, "name", &b.role_ref.name)
                }
                _ => util::line_in_field(ctx, b.role_ref.loc, "kind", &b.role_ref.kind),
            };
            let d = ctx
                .draft(&Self::META, loc, message, help)
                .object(b.display())
                .key(format!("{}:{}", b.role_ref.kind, b.role_ref.name));
            ctx.emit(out, d);
        }
    }
}

fn describe(b: &Binding, problem: &BindingProblem) -> Option<(String, String)> {
    let rr = &b.role_ref;
    let display = b.display();
    match problem {
        BindingProblem::InvalidApiGroup => None,
        BindingProblem::ClusterRoleBindingToRole => Some((
            format!(
                "{display} refers to Role `{}`: a ClusterRoleBinding can only refer to a ClusterRole, so the API server rejects it",
                rr.name
            ),
            format!(
                "Use a RoleBinding in the Role's namespace (roleRef kind `Role`, name `{}`), or refer to a ClusterRole with `kind: ClusterRole`.",
                rr.name
            ),
        )),
        BindingProblem::Dangling => match rr.kind.as_str() {
            "ClusterRole" if rr.name.starts_with("system:") => None,
            "ClusterRole" => Some((
                format!(
                    "{display} refers to ClusterRole `{}`, which is not in the inputs and is not built in: it grants nothing, and whoever creates a ClusterRole of that name later grants it to the subjects",
                    rr.name
                ),
                format!(
                    "Add ClusterRole `{}` to the checked files, fix the name in `roleRef` (recreate the binding: roleRef is immutable), or delete {display}.",
                    rr.name
                ),
            )),
            "Role" => {
                let ns = b.meta.namespace.as_deref().unwrap_or("default");
                Some((
                    format!(
                        "{display} refers to Role `{ns}/{}`, which is not in the inputs: it grants nothing, and whoever can create Roles in `{ns}` can fill it in later",
                        rr.name
                    ),
                    format!(
                        "Add Role `{}` in namespace `{ns}` to the checked files, fix the name in `roleRef` (recreate the binding: roleRef is immutable), or delete {display}.",
                        rr.name
                    ),
                ))
            }
            other => {
                let wanted = match b.kind {
                    BindingKind::ClusterRoleBinding => "`ClusterRole`",
                    BindingKind::RoleBinding => "`Role` or `ClusterRole`",
                };
                Some((
                    format!(
                        "{display} has roleRef kind `{other}`, which is not a role kind (exact, case-sensitive): the API server rejects the binding"
                    ),
                    format!("Set `roleRef.kind` to {wanted}."),
                ))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{fires, silent};

    fn crb(kind: &str, name: &str) -> String {
        format!(
            "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: b
subjects:
- kind: ServiceAccount
  name: runner
  namespace: ci
roleRef:
  kind: {kind}
  name: {name}
  apiGroup: rbac.authorization.k8s.io
"
        )
    }

    #[test]
    fn dangling_cluster_role_points_at_role_ref() {
        let f = fires("RG501", &crb("ClusterRole", "not-existing-role"));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].line, 11);
        assert!(f[0].message.contains("not-existing-role"));
    }

    #[test]
    fn builtins_and_system_roles_exist() {
        silent("RG501", &crb("ClusterRole", "view"));
        silent("RG501", &crb("ClusterRole", "cluster-admin"));
        silent("RG501", &crb("ClusterRole", "system:auth-delegator"));
    }

    #[test]
    fn cluster_role_binding_to_role_is_invalid() {
        let f = fires("RG501", &crb("Role", "runner"));
        assert!(f[0].message.contains("rejects"));
        assert_eq!(f[0].line, 10);
    }

    #[test]
    fn lowercase_kind_is_invalid() {
        let f = fires("RG501", &crb("clusterrole", "view"));
        assert!(f[0].message.contains("`clusterrole`"));
    }

    #[test]
    fn role_in_another_namespace_does_not_count() {
        let yaml = "apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: runner, namespace: other}
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: runner, namespace: ci}
subjects: [{kind: ServiceAccount, name: runner}]
roleRef: {kind: Role, name: runner, apiGroup: rbac.authorization.k8s.io}
";
        let f = fires("RG501", yaml);
        assert!(f[0].message.contains("ci/runner"));
        silent("RG501", &yaml.replace("namespace: other", "namespace: ci"));
    }

    #[test]
    fn invalid_api_group_is_left_to_rg506() {
        silent(
            "RG501",
            &crb("ClusterRole", "missing").replace(
                "apiGroup: rbac.authorization.k8s.io",
                "apiGroup: rbac.authorization.k8s.io/v1",
            ),
        );
    }
}
