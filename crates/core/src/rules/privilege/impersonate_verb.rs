use crate::context::Ctx;
use crate::declare_rule;
use crate::report::{Finding, Severity};
use crate::rules::privilege::caps::{self, Cap, Mode, Site, CORE};
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports the `impersonate` verb where it is effective. On `users` or `groups` (only
    /// through a ClusterRoleBinding: they are not namespaced) it is `critical`: the subject can
    /// act as group `system:masters`. On `serviceaccounts` it is `high`, cluster-wide or in one
    /// namespace. Impersonation limited by `resourceNames` is `medium`, except of group
    /// `system:masters`.
    ///
    /// ### Why is this bad
    /// `kubectl --as=anyone --as-group=system:masters` turns impersonation of groups into
    /// cluster-admin. Impersonating ServiceAccounts gives their rights without their tokens,
    /// and the audit log records the ServiceAccount. One namespace is not a limit: its
    /// ServiceAccounts include deployers and operators whose ClusterRoleBindings live
    /// elsewhere, so every right any of them holds anywhere in the cluster is the subject's.
    ///
    /// ### Example
    /// ```yaml
    /// kind: ClusterRole
    /// rules:
    /// - apiGroups: [""]
    ///   resources: ["users", "groups", "serviceaccounts"]
    ///   verbs: ["impersonate"]
    /// ```
    ///
    /// ### Fix
    /// Remove `impersonate`. A tool that must act for others gets impersonation of the named
    /// identities only (`resourceNames`).
    pub ImpersonateVerb,
    code = "RG106",
    name = "impersonate-verb",
    severity = High,
    category = Unsafe,
    summary = "The impersonate verb",
}

impl Rule for ImpersonateVerb {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        caps::run(ctx, out, &Self::META, Mode::Capability, assess);
    }
}

const MASTERS: &str = "system:masters";

pub(crate) fn assess(ctx: &Ctx, site: &Site) -> Option<Cap> {
    let principals = site.matched(ctx, &["impersonate"], &[(CORE, "users"), (CORE, "groups")]);
    let sas = site.matched(ctx, &["impersonate"], &[(CORE, "serviceaccounts")]);
    let mut named: Vec<String> = Vec::new();
    for (resource, kind) in [
        ("users", "user"),
        ("groups", "group"),
        ("serviceaccounts", "ServiceAccount"),
    ] {
        for n in site.named("impersonate", CORE, resource) {
            named.push(format!("{kind} `{n}`"));
        }
    }
    let masters = site
        .named("impersonate", CORE, "groups")
        .iter()
        .any(|n| n == MASTERS);
    let help = format!(
        "Remove `impersonate` from the rule `{}` of {} (and `*` from its verbs if it is there); if impersonation is really needed, list the exact identities in `resourceNames`.",
        site.rule.describe(),
        site.role.display()
    );
    let scope = site.scope_text();
    Some(if !principals.is_empty() || masters {
        let what = if masters {
            "impersonate group `system:masters`, which is cluster-admin".to_string()
        } else {
            format!(
                "impersonate any {} cluster-wide, e.g. `--as-group=system:masters`, which is cluster-admin",
                principals
                    .iter()
                    .map(|r| r.resource.trim_end_matches('s'))
                    .collect::<Vec<_>>()
                    .join(" or ")
            )
        };
        Cap {
            severity: Severity::Critical,
            what,
            power: "impersonate-any".to_string(),
            help,
        }
    } else if !sas.is_empty() {
        // High in one namespace too: its ServiceAccounts may hold cluster-wide rights.
        Cap {
            severity: Severity::High,
            what: format!("impersonate every ServiceAccount {scope} and use its rights, wherever they are granted"),
            power: format!("impersonate-sa@{}", site.scope_key()),
            help,
        }
    } else if !named.is_empty() {
        Cap {
            severity: Severity::Medium,
            what: format!("impersonate {} {scope}", named.join(", ")),
            power: "impersonate-named".to_string(),
            help,
        }
    } else {
        return None;
    })
}

#[cfg(test)]
mod tests {
    use crate::report::Severity;
    use crate::rules::privilege::caps::fixture::{bound, rule};
    use crate::rules::testing::{fires, silent};

    const CODE: &str = "RG106";

    #[test]
    fn users_and_groups_cluster_wide_are_critical() {
        let f = fires(
            CODE,
            &bound(
                "ClusterRole",
                "ops",
                &rule("[\"\"]", "[\"users\", \"groups\"]", "[\"impersonate\"]"),
            ),
        );
        assert_eq!(f[0].severity, Severity::Critical);
    }

    #[test]
    fn users_and_groups_in_a_role_do_nothing_but_serviceaccounts_count() {
        // Checkov's Role with impersonate on `*` (and a typo `serviceccounts`): only the
        // namespace's ServiceAccounts are impersonable.
        let r = rule(
            "[\"*\"]",
            "[\"groups\", \"users\", \"serviceccounts\", \"*\"]",
            "[\"impersonate\"]",
        );
        let f = fires(CODE, &bound("Role", "default", &r));
        assert_eq!(
            f[0].severity,
            Severity::High,
            "one namespace's ServiceAccounts"
        );
        assert!(f[0].message.contains("ServiceAccount"));
        silent(
            CODE,
            &bound(
                "Role",
                "default",
                &rule("[\"\"]", "[\"users\", \"groups\"]", "[\"impersonate\"]"),
            ),
        );
    }

    #[test]
    fn serviceaccounts_cluster_wide_are_high() {
        let f = fires(
            CODE,
            &bound(
                "ClusterRole",
                "ops",
                &rule("[\"\"]", "[\"serviceaccounts\"]", "[\"impersonate\"]"),
            ),
        );
        assert_eq!(f[0].severity, Severity::High);
    }

    #[test]
    fn named_impersonation_is_medium_unless_system_masters() {
        let named = |name: &str| {
            format!("- apiGroups: [\"\"]\n  resources: [\"groups\"]\n  verbs: [\"impersonate\"]\n  resourceNames: [\"{name}\"]")
        };
        assert_eq!(
            fires(CODE, &bound("ClusterRole", "ops", &named("devs")))[0].severity,
            Severity::Medium
        );
        assert_eq!(
            fires(CODE, &bound("ClusterRole", "ops", &named("system:masters")))[0].severity,
            Severity::Critical
        );
    }

    #[test]
    fn wrong_group_does_nothing() {
        silent(
            CODE,
            &bound(
                "ClusterRole",
                "ops",
                &rule(
                    "[\"rbac.authorization.k8s.io\"]",
                    "[\"users\"]",
                    "[\"impersonate\"]",
                ),
            ),
        );
    }
}
