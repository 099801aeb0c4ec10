use crate::context::Ctx;
use crate::declare_rule;
use crate::report::{Finding, Severity};
use crate::rules::privilege::caps::{self, Cap, Mode, Site, CORE};
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports `get`, `list` or `watch` on every Secret (not restricted by `resourceNames`):
    /// `high` cluster-wide, in `kube-system`, or when the subject is a broad group
    /// (`system:serviceaccounts:<namespace>`, `system:serviceaccounts`, `system:authenticated`,
    /// `system:unauthenticated`); `medium` for one identity in one namespace. A runner
    /// manager's `get` in its job namespaces is what it needs and is not reported; `list` and
    /// `watch` there are.
    ///
    /// ### Why is this bad
    /// Secrets hold registry credentials, TLS keys, cloud keys and ServiceAccount tokens. `list`
    /// and `watch` return every Secret's data, not just names. Reading every Secret of a
    /// namespace means acting as every ServiceAccount whose legacy token lives there.
    ///
    /// A broad group is every pod's identity: bound to `system:serviceaccounts:ci`, every pod
    /// in namespace `ci` (every CI job, whatever ServiceAccount the runner gives it) reads the
    /// runner's registry credentials, the deploy keys and every other Secret there. One
    /// namespace is not a narrow grant when everyone in it holds it.    ///
    /// ### Example
    /// ```yaml
    /// kind: ClusterRole
    /// rules:
    /// - apiGroups: [""]
    ///   resources: ["secrets"]
    ///   verbs: ["get", "list", "watch"]
    /// ```
    ///
    /// ### Fix
    /// Grant `get` only, in the one namespace, and where possible only on the named Secrets
    /// (`resourceNames: [registry-credentials]`).
    pub SecretsRead,
    code = "RG103",
    name = "secrets-read",
    severity = High,
    category = Unsafe,
    summary = "Every Secret readable",
}

impl Rule for SecretsRead {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        caps::run(ctx, out, &Self::META, Mode::Capability, assess);
    }
}

pub(crate) fn assess(ctx: &Ctx, site: &Site) -> Option<Cap> {
    let reqs = site.matched(ctx, &["get", "list", "watch"], &[(CORE, "secrets")]);
    if reqs.is_empty() {
        return None;
    }
    let verbs = caps::verbs_text(&reqs);
    let help = if site.is_manager(ctx) {
        format!(
            "The runner manager needs only `get` on `secrets`, and only in its job namespaces: remove `{verbs}` on `secrets` from the rule `{}` of {}.",
            site.rule.describe(),
            site.role.display()
        )
    } else {
        format!(
            "{}; if one Secret is needed, grant `get` with `resourceNames: [<secret-name>]` through a RoleBinding in its namespace.",
            caps::remove_help(site, &reqs)
        )
    };
    // Every pod of the namespace (all CI jobs) carries a broad group: no narrow grant.
    let broad = site.identity().is_some_and(|id| id.is_broad_group());
    let severity = if broad {
        Severity::High
    } else {
        site.pick(Severity::High, Severity::Medium)
    };
    Some(Cap {
        severity,
        what: format!("read every Secret {} ({verbs})", site.scope_text()),
        power: format!("secrets-read@{}", site.scope_key()),
        help,
    })
}

#[cfg(test)]
mod tests {
    use crate::report::Severity;
    use crate::rules::privilege::caps::fixture::bound;
    use crate::rules::testing::{fires, silent};

    const CODE: &str = "RG103";

    const READ: &str =
        "- apiGroups: [\"\"]\n  resources: [\"secrets\"]\n  verbs: [\"get\", \"list\", \"watch\"]";

    #[test]
    fn cluster_wide_is_high() {
        let f = fires(CODE, &bound("ClusterRole", "apps", READ));
        assert_eq!(f[0].severity, Severity::High);
        assert!(f[0].message.contains("every namespace"));
    }

    #[test]
    fn one_namespace_is_medium_and_kube_system_is_high() {
        let f = fires(CODE, &bound("Role", "apps", READ));
        assert_eq!(f[0].severity, Severity::Medium);
        let f = fires(CODE, &bound("Role", "kube-system", READ));
        assert_eq!(f[0].severity, Severity::High);
    }

    #[test]
    fn broad_group_in_one_namespace_is_high() {
        let to = |subject: &str| {
            crate::rules::privilege::caps::fixture::subject_bound("Role", "ci", READ, subject)
        };
        let f = fires(
            CODE,
            &to("- kind: Group\n  name: system:serviceaccounts:ci"),
        );
        assert_eq!(f[0].severity, Severity::High);
        assert_eq!(
            f[0].identity.as_deref(),
            Some("group:system:serviceaccounts:ci")
        );
        let f = fires(CODE, &to("- kind: Group\n  name: developers"));
        assert_eq!(f[0].severity, Severity::Medium, "an ordinary group");
    }

    #[test]
    fn wildcard_api_group_still_matches_the_core_group() {
        let rule =
            "- apiGroups: [\"*\"]\n  resources: [\"secrets\", \"users\"]\n  verbs: [\"get\"]";
        assert_eq!(
            fires(CODE, &bound("ClusterRole", "apps", rule))[0].severity,
            Severity::High
        );
    }

    #[test]
    fn named_secrets_wrong_group_and_create_only_are_not_reads() {
        silent(
            CODE,
            &bound(
                "ClusterRole",
                "apps",
                "- apiGroups: [\"\"]\n  resources: [\"secrets\"]\n  resourceNames: [\"one\"]\n  verbs: [\"get\"]",
            ),
        );
        silent(
            CODE,
            &bound(
                "ClusterRole",
                "apps",
                "- apiGroups: [\"apps\"]\n  resources: [\"secrets\"]\n  verbs: [\"get\"]",
            ),
        );
        silent(
            CODE,
            &bound(
                "ClusterRole",
                "apps",
                "- apiGroups: [\"\"]\n  resources: [\"secrets\"]\n  verbs: [\"create\"]",
            ),
        );
    }

    #[test]
    fn empty_resource_names_means_every_secret() {
        let rule = "- apiGroups: [\"\"]\n  resources: [\"secrets\"]\n  resourceNames: []\n  verbs: [\"get\"]";
        fires(CODE, &bound("ClusterRole", "apps", rule));
    }
}
