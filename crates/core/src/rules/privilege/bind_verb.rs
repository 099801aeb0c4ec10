use crate::authz::RBAC_GROUP;
use crate::context::Ctx;
use crate::declare_rule;
use crate::report::{Finding, Severity};
use crate::rules::privilege::caps::{self, Cap, Mode, Site, ROLES};
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports the `bind` verb on `roles` or `clusterroles` (rbac.authorization.k8s.io): `high`
    /// when the subject can also create, update or patch RoleBindings (or ClusterRoleBindings)
    /// where the `bind` counts, `medium` while it cannot (the `bind` is idle). `bind` on
    /// `rolebindings` does nothing: Kubernetes checks `bind` on the role a binding refers to.
    /// `bind` on `clusterroles` in a Role counts in that Role's namespace.
    ///
    /// ### Why is this bad
    /// The API server lets a subject create a binding only to a role whose permissions it
    /// holds, unless it has `bind` on that role. With `bind` on every role and the right to
    /// write bindings, a subject binds itself to `cluster-admin` (cluster-wide with a
    /// ClusterRoleBinding, or inside a namespace with a RoleBinding).
    ///
    /// ### Example
    /// ```yaml
    /// kind: ClusterRole
    /// rules:
    /// - apiGroups: ["rbac.authorization.k8s.io"]
    ///   resources: ["clusterroles"]
    ///   verbs: ["bind"]
    /// - apiGroups: ["rbac.authorization.k8s.io"]
    ///   resources: ["rolebindings"]
    ///   verbs: ["create"]
    /// ```
    ///
    /// ### Fix
    /// Remove `bind`, or restrict it with `resourceNames` to the few roles the subject hands out.
    pub BindVerb,
    code = "RG105",
    name = "bind-verb",
    severity = High,
    category = Unsafe,
    summary = "The bind verb on roles",
}

impl Rule for BindVerb {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        caps::run(ctx, out, &Self::META, Mode::Capability, assess);
    }
}

/// Whether the subject can write the bindings in which this site's `bind` is checked: any
/// binding for a cluster-wide `bind`, RoleBindings in the namespace for a namespaced one.
fn can_write_bindings(ctx: &Ctx, site: &Site) -> bool {
    let resources: &[&str] = match site.ns() {
        None => &["rolebindings", "clusterrolebindings"],
        Some(_) => &["rolebindings"],
    };
    resources.iter().any(|res| {
        ["create", "update", "patch"].iter().any(|verb| {
            let scopes = site.scopes_where(ctx, verb, RBAC_GROUP, res, false);
            match site.ns() {
                None => !scopes.is_empty(),
                Some(ns) => scopes.iter().any(|s| s.as_deref().is_none_or(|x| x == ns)),
            }
        })
    })
}

const POWERFUL: &[&str] = &["cluster-admin", "admin", "edit"];

pub(crate) fn assess(ctx: &Ctx, site: &Site) -> Option<Cap> {
    let reqs = site.matched(ctx, &["bind"], ROLES);
    let mut named: Vec<String> = Vec::new();
    for &(group, resource) in ROLES {
        named.extend(site.named("bind", group, resource));
    }
    if reqs.is_empty() && named.is_empty() {
        return None;
    }
    let targets = if reqs.is_empty() {
        format!("the roles {}", named.join(", "))
    } else {
        format!(
            "every one of {}",
            reqs.iter()
                .map(|r| format!("`{}`", r.resource))
                .collect::<Vec<_>>()
                .join(" and ")
        )
    };
    let scope = site.scope_text();
    let active = can_write_bindings(ctx, site);
    let strong = !reqs.is_empty() || named.iter().any(|n| POWERFUL.contains(&n.as_str()));
    let help = format!(
        "Remove `bind` from the rule `{}` of {}, or restrict it with `resourceNames` to the few roles the subject may hand out.",
        site.rule.describe(),
        site.role.display()
    );
    Some(if active && strong {
        Cap {
            severity: Severity::High,
            what: format!(
                "`bind` {targets} {scope} and write bindings: grant itself any of them (cluster-admin included) {scope}"
            ),
            power: format!("bind@{}", site.scope_key()),
            help,
        }
    } else {
        let why = if active {
            "it can write bindings, but only to these roles"
        } else {
            "idle for now: it cannot create, update or patch the bindings where this `bind` counts, but that one permission more grants it any of them"
        };
        Cap {
            severity: Severity::Medium,
            what: format!("`bind` {targets} {scope} ({why})"),
            power: "bind-idle".to_string(),
            help,
        }
    })
}

#[cfg(test)]
mod tests {
    use crate::report::Severity;
    use crate::rules::privilege::caps::fixture::{bound, rule};
    use crate::rules::testing::{fires, silent};

    const CODE: &str = "RG105";
    const RBAC: &str = "[\"rbac.authorization.k8s.io\"]";

    #[test]
    fn bind_with_binding_create_is_high() {
        let rules = format!(
            "{}\n{}",
            rule(RBAC, "[\"clusterroles\"]", "[\"bind\"]"),
            rule(RBAC, "[\"rolebindings\"]", "[\"create\"]")
        );
        let f = fires(CODE, &bound("ClusterRole", "ops", &rules));
        assert_eq!(f[0].severity, Severity::High);
    }

    #[test]
    fn bind_alone_is_idle_and_medium() {
        let f = fires(
            CODE,
            &bound(
                "ClusterRole",
                "ops",
                &rule(RBAC, "[\"clusterroles\"]", "[\"bind\"]"),
            ),
        );
        assert_eq!(f[0].severity, Severity::Medium);
        assert!(f[0].message.contains("idle"));
    }

    #[test]
    fn bind_on_clusterroles_counts_in_a_role() {
        let f = fires(
            CODE,
            &bound(
                "Role",
                "dev",
                &rule("[\"*\"]", "[\"clusterroles\"]", "[\"*\", \"escalate\"]"),
            ),
        );
        assert_eq!(f[0].severity, Severity::Medium);
        let rules = format!(
            "{}\n{}",
            rule(RBAC, "[\"clusterroles\"]", "[\"bind\"]"),
            rule(RBAC, "[\"rolebindings\"]", "[\"create\"]")
        );
        assert_eq!(
            fires(CODE, &bound("Role", "dev", &rules))[0].severity,
            Severity::High
        );
    }

    #[test]
    fn bind_on_rolebindings_does_nothing() {
        silent(
            CODE,
            &bound(
                "ClusterRole",
                "ops",
                &rule(
                    "[\"rbac.authorization.k8s.io\", \"\"]",
                    "[\"rolebindings\"]",
                    "[\"delete\", \"bind\"]",
                ),
            ),
        );
    }

    #[test]
    fn misspelled_verbs_do_nothing() {
        let rules = format!(
            "{}\n- apiGroups: {RBAC}\n  resources: [\"clusterroles\"]\n  verbs: [\"bind1\"]\n  resourceNames: [\"aa\"]",
            rule(RBAC, "[\"rolebindings\"]", "[\"create1\"]")
        );
        silent(CODE, &bound("Role", "default", &rules));
    }

    #[test]
    fn named_bind_of_a_harmless_role_is_medium() {
        let rules = format!(
            "- apiGroups: {RBAC}\n  resources: [\"clusterroles\"]\n  verbs: [\"bind\"]\n  resourceNames: [\"view\"]\n{}",
            rule(RBAC, "[\"rolebindings\"]", "[\"create\"]")
        );
        assert_eq!(
            fires(CODE, &bound("ClusterRole", "ops", &rules))[0].severity,
            Severity::Medium
        );
    }
}
