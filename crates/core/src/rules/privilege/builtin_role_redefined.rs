use crate::authz::bootstrap;
use crate::context::Ctx;
use crate::declare_rule;
use crate::model::Origin;
use crate::report::{Finding, Severity};
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports a Role or ClusterRole that has the name of one of Kubernetes' bootstrap roles
    /// (`cluster-admin`, `admin`, `edit`, `view`, every `system:` role) with other content than
    /// the default. Critical for `cluster-admin`, `admin`, `edit` and `system:` roles, high for
    /// the others.
    ///
    /// ### Why is this bad
    /// The file does not say what the cluster will hold. At every start the API server
    /// reconciles the bootstrap roles additively (`EnsureRBACPolicy`): each default rule that
    /// is missing is added back and the file's extra rules stay. A `cluster-admin` written with
    /// only `get deployments` is still cluster-admin, and everyone bound to it with it. Only the
    /// annotation `rbac.authorization.kubernetes.io/autoupdate: "false"` stops that, and then the
    /// file replaces a role that every cluster component and many bindings rely on.
    ///
    /// Bindings to such a role are judged with what the cluster will hold: the union of the
    /// defaults and the file, or the file alone with `autoupdate: "false"`.
    ///
    /// ### Example
    /// ```yaml
    /// kind: ClusterRole
    /// metadata: {name: cluster-admin}   # reconciled back to `*` on `*`
    /// rules:
    /// - {apiGroups: [apps], resources: [deployments], verbs: [get]}
    /// ```
    ///
    /// ### Fix
    /// Give the role a name of your own and bind that. Never edit a bootstrap role; to grant
    /// more through `admin`, `edit` or `view`, add a ClusterRole labelled
    /// `rbac.authorization.k8s.io/aggregate-to-edit: "true"` (or `-admin`, `-view`).
    pub BuiltinRoleRedefined,
    code = "RG119",
    name = "builtin-role-redefined",
    severity = Critical,
    category = Unsafe,
    summary = "A role has the name of a Kubernetes bootstrap role",
}

impl Rule for BuiltinRoleRedefined {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        if !bootstrap::mentioned(ctx.inv) {
            return;
        }
        let defaults = bootstrap::defaults();
        for (ri, role) in ctx.inv.roles.iter().enumerate() {
            let name = role.meta.name.as_str();
            if role.meta.origin == Origin::Builtin
                || ctx.authz.default_roles.get(ri).copied().unwrap_or(false)
                || !bootstrap::may_be_builtin(name)
                || defaults
                    .role(role.kind, role.meta.namespace.as_deref(), name)
                    .is_none()
            {
                continue;
            }
            let severity = if name.starts_with("system:")
                || matches!(name, "cluster-admin" | "admin" | "edit")
            {
                Severity::Critical
            } else {
                Severity::High
            };
            let display = role.display();
            let reading = if bootstrap::autoupdate_off(&role.meta) {
                format!(
                    "with `{}: \"false\"` the API server keeps the file's rules alone, replacing the role every binding to `{name}` relies on; it is judged with the file's rules",
                    bootstrap::AUTOUPDATE
                )
            } else {
                format!(
                    "the API server adds every default rule back at each start and keeps the file's extra rules, so it is judged as the union of the {} defaults and the file",
                    crate::authz::BUILTIN_RELEASE
                )
            };
            let d = ctx
                .draft(
                    &Self::META,
                    role.meta.loc,
                    format!("{display} redefines a Kubernetes bootstrap role: {reading}"),
                    format!(
                        "Give the role a name of your own and bind that instead; never edit `{name}`. To extend `admin`, `edit` or `view`, add a ClusterRole labelled `rbac.authorization.k8s.io/aggregate-to-edit: \"true\"` (or -admin, -view)."
                    ),
                )
                .severity(severity)
                .object(display)
                .key("redefined");
            ctx.emit(out, d);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::report::Severity;
    use crate::rules::testing::{fires, silent};

    const CODE: &str = "RG119";

    fn role(name: &str, annotations: &str, rules: &str) -> String {
        format!(
            "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: \"{name}\"
  annotations:
    {annotations}
rules:
{rules}"
        )
    }

    const GET_DEPLOYMENTS: &str = "- {apiGroups: [apps], resources: [deployments], verbs: [get]}\n";

    #[test]
    fn fires_on_a_redefined_cluster_admin_saying_union() {
        let f = fires(CODE, &role("cluster-admin", "team: ci", GET_DEPLOYMENTS));
        assert_eq!(f[0].severity, Severity::Critical);
        assert!(f[0].message.contains("union"), "{}", f[0].message);
    }

    #[test]
    fn fires_with_autoupdate_false_saying_file_only() {
        let f = fires(
            CODE,
            &role(
                "system:node",
                "rbac.authorization.kubernetes.io/autoupdate: \"false\"",
                GET_DEPLOYMENTS,
            ),
        );
        assert_eq!(f[0].severity, Severity::Critical);
        assert!(
            f[0].message.contains("file's rules alone"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn view_is_high() {
        let f = fires(CODE, &role("view", "team: ci", GET_DEPLOYMENTS));
        assert_eq!(f[0].severity, Severity::High);
    }

    #[test]
    fn silent_on_the_identical_default_and_on_other_names() {
        silent(
            CODE,
            &role(
                "system:controller:clusterrole-aggregation-controller",
                "team: ci",
                "- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [escalate, get, list, patch, update, watch]}\n",
            ),
        );
        silent(CODE, &role("runner", "team: ci", GET_DEPLOYMENTS));
    }
}
