use crate::context::Ctx;
use crate::declare_rule;
use crate::model::{Loc, Origin, RoleKind};
use crate::report::{Finding, Severity};
use crate::rules::hygiene::util::line_in_field;
use crate::rules::privilege::caps::{self, Cap, Site};
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports `cluster-admin`, or any ClusterRole with a full wildcard rule (`verbs: ["*"]` on
    /// `resources: ["*"]` in `apiGroups: ["*"]`), granted cluster-wide through a
    /// ClusterRoleBinding, or left unbound (judged as if bound cluster-wide): `critical`. The
    /// same ClusterRole bound with a RoleBinding makes its subjects admin of that namespace, and
    /// the built-in `admin`/`edit` ClusterRoles bound with a ClusterRoleBinding make them admin
    /// of every namespace (every Secret, pods as any ServiceAccount): `high`.
    ///
    /// ### Why is this bad
    /// A full wildcard is every permission the API server has, now and in future releases:
    /// Secrets, RBAC, admission webhooks, nodes. A runner manager or a CI job holding it owns the
    /// cluster, and so does anyone who can push a pipeline.
    ///
    /// ### Example
    /// ```yaml
    /// apiVersion: rbac.authorization.k8s.io/v1
    /// kind: ClusterRoleBinding
    /// metadata:
    ///   name: gitlab-runner
    /// roleRef:
    ///   apiGroup: rbac.authorization.k8s.io
    ///   kind: ClusterRole
    ///   name: cluster-admin
    /// subjects:
    /// - kind: ServiceAccount
    ///   name: gitlab-runner
    ///   namespace: gitlab-runner
    /// ```
    ///
    /// ### Fix
    /// Bind a Role in the job namespace with the rules the runner documents (pods, pods/exec,
    /// pods/attach, secrets, services, events) instead of `cluster-admin`.
    pub ClusterAdminBinding,
    code = "RG101",
    name = "cluster-admin-binding",
    severity = Critical,
    category = Unsafe,
    summary = "cluster-admin or a full wildcard granted",
}

const RUNNER_ROLE: &str = "a Role in the job namespace with only the rules the runner documents (`pods`: create, get, delete; `pods/exec`, `pods/attach`: create, get; `secrets`: create, get, update, delete; `services`: create, get; `events`: list)";

impl Rule for ClusterAdminBinding {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        // Every site (`Mode::All`): RG101 is the rule the others defer to.
        for site in caps::sites(ctx) {
            if let Some(cap) = assess(ctx, &site) {
                let loc = location(ctx, &site);
                caps::emit_at(ctx, out, &Self::META, &site, cap, loc);
            }
        }
    }
}

/// A built-in role (`cluster-admin`, `admin`, `edit`) is not in the inputs: the finding points
/// at the binding's `roleRef.name`, the line that names it (the roleRef's first line is
/// usually `apiGroup`, which is not what is wrong). A role in the inputs: at its rule.
fn location(ctx: &Ctx, site: &Site) -> Loc {
    let at_rule = ctx.authz.rule_loc(ctx.inv, site.gi, site.ri);
    match site.grant.binding {
        Some(b) if site.role.meta.origin == Origin::Builtin => {
            let role_ref = &ctx.inv.bindings[b].role_ref;
            line_in_field(ctx, role_ref.loc, "name", &role_ref.name)
        }
        _ => at_rule,
    }
}

pub(crate) fn assess(ctx: &Ctx, site: &Site) -> Option<Cap> {
    let role = site.role.display();
    if caps::is_full_wildcard(site.rule) && site.role.kind == RoleKind::ClusterRole {
        let fix = match (site.grant.binding, site.ns()) {
            (Some(b), _) => format!(
                "Delete {} and bind only what its subjects need: a Role in their namespace listing exact verbs, resources and apiGroups (for a GitLab Runner: {RUNNER_ROLE}).",
                ctx.inv.bindings[b].display()
            ),
            (None, _) => format!(
                "Replace the `*` in verbs, resources and apiGroups of {role} with the exact ones its users need, or delete it (for a GitLab Runner: {RUNNER_ROLE})."
            ),
        };
        return Some(match site.ns() {
            None => Cap {
                severity: Severity::Critical,
                what: format!("act as cluster-admin: {role} allows `*` on `*` in every API group, cluster-wide"),
                power: "cluster-admin".to_string(),
                help: fix,
            },
            Some(ns) => Cap {
                severity: Severity::High,
                what: format!(
                    "do anything in namespace `{ns}` ({role} is a full wildcard over the namespace: every Secret, pod, ServiceAccount and Role there)"
                ),
                power: format!("namespace-admin@{ns}"),
                help: fix,
            },
        });
    }
    // Reported once per grant: the built-in role is not in the inputs, every rule points at the
    // binding's roleRef.
    if caps::is_builtin_admin(site.role) && site.ns().is_none() && site.ri == 0 {
        let name = &site.role.meta.name;
        let binding = site
            .grant
            .binding
            .map(|b| ctx.inv.bindings[b].display())
            .unwrap_or_default();
        return Some(Cap {
            severity: Severity::High,
            what: format!(
                "act as `{name}` in every namespace: read every Secret and run pods as any ServiceAccount, cluster-wide"
            ),
            power: format!("{name}@*"),
            help: format!(
                "Replace {binding} with a RoleBinding to `{name}` in each namespace that needs it (for a GitLab Runner, bind {RUNNER_ROLE} instead)."
            ),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use crate::report::Severity;
    use crate::rules::testing::{fires, silent};

    const CODE: &str = "RG101";

    fn crb(role: &str) -> String {
        format!(
            "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: runner
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: {role}
subjects:
- kind: ServiceAccount
  name: gitlab-runner
  namespace: gitlab-runner
"
        )
    }

    #[test]
    fn builtin_cluster_admin_via_crb_is_critical() {
        let f = fires(CODE, &crb("cluster-admin"));
        assert_eq!(f[0].severity, Severity::Critical);
        assert_eq!(
            (f[0].line, f[0].column),
            (8, 9),
            "points at roleRef.name, which names cluster-admin"
        );
        assert_eq!(
            f[0].identity.as_deref(),
            Some("system:serviceaccount:gitlab-runner:gitlab-runner")
        );
    }

    #[test]
    fn unbound_full_wildcard_clusterrole_is_critical() {
        let f = fires(
            CODE,
            "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: all
rules:
- apiGroups: [\"*\"]
  resources: [\"*\"]
  verbs: [\"*\"]
",
        );
        assert_eq!(f[0].severity, Severity::Critical);
        assert!(f[0].message.contains("not bound"), "{}", f[0].message);
    }

    #[test]
    fn rolebinding_to_cluster_admin_is_namespace_admin() {
        let f = fires(
            CODE,
            "apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: admin
  namespace: ci
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
- kind: ServiceAccount
  name: deployer
  namespace: ci
",
        );
        assert_eq!(f[0].severity, Severity::High);
        assert!(f[0].message.contains("namespace `ci`"));
    }

    #[test]
    fn builtin_admin_cluster_wide_is_high_once() {
        let f = fires(CODE, &crb("admin"));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::High);
    }

    #[test]
    fn builtin_admin_in_a_namespace_and_view_are_not_reported() {
        silent(CODE, &crb("view"));
        silent(
            CODE,
            "apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: admin
  namespace: ci
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: admin
subjects:
- kind: User
  name: alice
",
        );
    }

    #[test]
    fn core_group_wildcard_is_not_cluster_admin() {
        // `[""] * *` is reported by the wildcard rule and the capability rules, not as cluster-admin.
        silent(
            CODE,
            "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: core
rules:
- apiGroups: [\"\"]
  resources: [\"*\"]
  verbs: [\"*\"]
",
        );
    }

    #[test]
    fn full_wildcard_in_a_role_is_left_to_the_wildcard_rule() {
        silent(
            CODE,
            "apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: all
  namespace: ci
rules:
- apiGroups: [\"*\"]
  resources: [\"*\"]
  verbs: [\"*\"]
",
        );
    }
}
