use crate::authz::RBAC_GROUP;
use crate::context::Ctx;
use crate::declare_rule;
use crate::report::{Finding, Severity};
use crate::rules::privilege::caps::{self, Cap, Mode, Site, ROLES};
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports the `escalate` verb on `roles` or `clusterroles` (rbac.authorization.k8s.io)
    /// where it is effective: `clusterroles` only through a ClusterRoleBinding, `roles` in the
    /// grant's namespace.
    ///
    /// ### Why is this bad
    /// The API server lets a subject write a role only with permissions it already holds,
    /// unless it has `escalate` on that role. With it, a subject can add `*` to a role bound to
    /// itself and hold every permission in the role's scope.
    ///
    /// ### Example
    /// ```yaml
    /// kind: ClusterRole
    /// rules:
    /// - apiGroups: ["rbac.authorization.k8s.io"]
    ///   resources: ["roles", "clusterroles"]
    ///   verbs: ["get", "update", "escalate"]
    /// ```
    ///
    /// ### Fix
    /// Remove `escalate`. Tools that manage roles need only `create`, `update` and `patch`; the
    /// API server lets them grant what they hold themselves.
    pub EscalateVerb,
    code = "RG104",
    name = "escalate-verb",
    severity = High,
    category = Unsafe,
    summary = "The escalate verb on roles",
}

impl Rule for EscalateVerb {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        caps::run(ctx, out, &Self::META, Mode::Capability, assess);
    }
}

pub(crate) fn assess(ctx: &Ctx, site: &Site) -> Option<Cap> {
    let reqs = site.matched(ctx, &["escalate"], ROLES);
    let mut named: Vec<String> = Vec::new();
    for &(group, resource) in ROLES {
        for n in site.named("escalate", group, resource) {
            named.push(format!("{resource}/{n}"));
        }
    }
    let targets = if !reqs.is_empty() {
        format!(
            "every one of {}",
            reqs.iter()
                .map(|r| format!("`{}`", r.resource))
                .collect::<Vec<_>>()
                .join(" and ")
        )
    } else if !named.is_empty() {
        named.join(", ")
    } else {
        return None;
    };
    Some(Cap {
        severity: Severity::High,
        what: format!(
            "`escalate` {targets} {}: write roles with permissions it does not hold, then use them",
            site.scope_text()
        ),
        power: format!("escalate@{}", site.scope_key()),
        help: format!(
            "Remove `escalate` from the rule `{}` of {} (and `*` from its verbs if it is there); role editors need only `create`, `update` and `patch` on `{RBAC_GROUP}` roles.",
            site.rule.describe(),
            site.role.display()
        ),
    })
}

#[cfg(test)]
mod tests {
    use crate::report::Severity;
    use crate::rules::privilege::caps::fixture::{bound, rule};
    use crate::rules::testing::{fires, silent};

    const CODE: &str = "RG104";
    const RBAC: &str = "[\"rbac.authorization.k8s.io\"]";

    #[test]
    fn escalate_on_roles_cluster_wide_is_high() {
        let r = rule(
            "[\"rbac.authorization.k8s.io\", \"\"]",
            "[\"roles\"]",
            "[\"get\", \"escalate\"]",
        );
        let f = fires(CODE, &bound("ClusterRole", "ops", &r));
        assert_eq!(f[0].severity, Severity::High);
    }

    #[test]
    fn wildcard_verbs_include_escalate() {
        fires(
            CODE,
            &bound(
                "ClusterRole",
                "ops",
                &rule(RBAC, "[\"roles\", \"rolebindings\"]", "[\"*\"]"),
            ),
        );
    }

    #[test]
    fn escalate_on_roles_in_a_role_counts_in_its_namespace() {
        fires(
            CODE,
            &bound("Role", "ops", &rule(RBAC, "[\"roles\"]", "[\"escalate\"]")),
        );
    }

    #[test]
    fn escalate_on_clusterroles_in_a_role_does_nothing() {
        silent(
            CODE,
            &bound(
                "Role",
                "ops",
                &rule("[\"*\"]", "[\"clusterroles\"]", "[\"*\", \"escalate\"]"),
            ),
        );
    }

    #[test]
    fn escalate_in_the_wrong_group_or_on_bindings_does_nothing() {
        silent(
            CODE,
            &bound(
                "ClusterRole",
                "ops",
                &rule("[\"\"]", "[\"roles\"]", "[\"escalate\"]"),
            ),
        );
        silent(
            CODE,
            &bound(
                "ClusterRole",
                "ops",
                &rule(RBAC, "[\"rolebindings\"]", "[\"escalate\"]"),
            ),
        );
    }
}
