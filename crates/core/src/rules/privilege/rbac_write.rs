use crate::context::Ctx;
use crate::declare_rule;
use crate::report::{Finding, Severity};
use crate::rules::privilege::caps::{self, Cap, Mode, Site, RBAC_OBJECTS, WRITE};
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports create, update, patch or delete on `roles`, `clusterroles`, `rolebindings` or
    /// `clusterrolebindings` (rbac.authorization.k8s.io) where effective. `medium`: without
    /// `escalate` or `bind` (RG104, RG105) the API server lets the subject grant only what it
    /// holds, but it can hand all of that to any identity, and delete the bindings others rely
    /// on.
    ///
    /// ### Why is this bad
    /// RBAC write access spreads the subject's rights to identities nobody reviewed (a CI job's
    /// ServiceAccount, `system:authenticated`), and is one verb away from full escalation.
    ///
    /// ### Example
    /// ```yaml
    /// kind: ClusterRole
    /// rules:
    /// - apiGroups: ["rbac.authorization.k8s.io"]
    ///   resources: ["rolebindings", "clusterrolebindings"]
    ///   verbs: ["create", "delete"]
    /// ```
    ///
    /// ### Fix
    /// Manage RBAC from the deployment pipeline's own identity, limited to the namespaces it
    /// deploys; the runner and CI jobs need no RBAC write access.
    pub RbacWrite,
    code = "RG107",
    name = "rbac-write",
    severity = Medium,
    category = Unsafe,
    summary = "Write access to RBAC objects",
}

impl Rule for RbacWrite {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        caps::run(ctx, out, &Self::META, Mode::Capability, assess);
    }
}

pub(crate) fn assess(ctx: &Ctx, site: &Site) -> Option<Cap> {
    let reqs = site.matched(ctx, WRITE, RBAC_OBJECTS);
    if reqs.is_empty() {
        return None;
    }
    Some(Cap {
        severity: Severity::Medium,
        what: format!(
            "write RBAC objects {} ({}): hand its own rights to any identity",
            site.scope_text(),
            caps::reqs_text(&reqs)
        ),
        power: format!("rbac-write@{}", site.scope_key()),
        help: format!(
            "{}; the runner and CI jobs need no access to RBAC objects.",
            caps::remove_help(site, &reqs)
        ),
    })
}

#[cfg(test)]
mod tests {
    use crate::report::Severity;
    use crate::rules::privilege::caps::fixture::{bound, rule};
    use crate::rules::testing::{fires, silent};

    const CODE: &str = "RG107";

    #[test]
    fn binding_writes_are_medium() {
        let r = rule(
            "[\"rbac.authorization.k8s.io\"]",
            "[\"pods\", \"rolebindings\"]",
            "[\"create\", \"watch\", \"list\"]",
        );
        let f = fires(CODE, &bound("ClusterRole", "ops", &r));
        assert_eq!(f[0].severity, Severity::Medium);
        assert!(
            f[0].message
                .contains("create on rolebindings.rbac.authorization.k8s.io"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn clusterrolebindings_in_a_role_do_nothing() {
        silent(
            CODE,
            &bound(
                "Role",
                "ops",
                &rule(
                    "[\"rbac.authorization.k8s.io\"]",
                    "[\"clusterrolebindings\"]",
                    "[\"create\"]",
                ),
            ),
        );
    }

    #[test]
    fn read_only_and_wrong_group_do_nothing() {
        silent(
            CODE,
            &bound(
                "ClusterRole",
                "ops",
                &rule(
                    "[\"*\"]",
                    "[\"roles\", \"rolebindings\"]",
                    "[\"get\", \"list\"]",
                ),
            ),
        );
        silent(
            CODE,
            &bound(
                "ClusterRole",
                "ops",
                &rule("[\"\"]", "[\"rolebindings\"]", "[\"create\"]"),
            ),
        );
    }
}
