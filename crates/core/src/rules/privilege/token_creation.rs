use crate::context::Ctx;
use crate::declare_rule;
use crate::report::{Finding, Severity};
use crate::rules::privilege::caps::{self, Cap, Mode, Site, CORE, KUBE_SYSTEM};
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports ways to mint a ServiceAccount token: `create` on `serviceaccounts/token` (the
    /// TokenRequest API), or `create` on `secrets` together with any read of Secrets (`get`,
    /// even of one name the subject chooses, `list` or `watch`), which mints a legacy
    /// `kubernetes.io/service-account-token` Secret and reads it back. `high` cluster-wide or in
    /// `kube-system`, `medium` in one namespace. A runner manager's `create` and `get` on
    /// Secrets in its job namespaces are what it needs and are not reported.
    ///
    /// ### Why is this bad
    /// A token for a ServiceAccount is its identity: whoever mints one holds every right of
    /// that ServiceAccount, e.g. a controller in `kube-system`.
    ///
    /// ### Example
    /// ```yaml
    /// kind: ClusterRole
    /// rules:
    /// - apiGroups: [""]
    ///   resources: ["secrets"]
    ///   verbs: ["create"]
    /// - apiGroups: [""]
    ///   resources: ["secrets"]
    ///   resourceNames: ["sa-token"]
    ///   verbs: ["get"]
    /// ```
    ///
    /// ### Fix
    /// Remove `create` on `serviceaccounts/token`; grant `create` on `secrets` only in the
    /// namespaces where it is needed, and never with a read of Secrets there.
    pub TokenCreation,
    code = "RG108",
    name = "token-creation",
    severity = High,
    category = Unsafe,
    summary = "ServiceAccount tokens can be minted",
}

impl Rule for TokenCreation {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        caps::run(ctx, out, &Self::META, Mode::Capability, assess);
    }
}

pub(crate) fn assess(ctx: &Ctx, site: &Site) -> Option<Cap> {
    token_request(ctx, site).or_else(|| legacy_secret(ctx, site))
}

fn token_request(ctx: &Ctx, site: &Site) -> Option<Cap> {
    let scope = site.scope_text();
    // Worded only when there is something to report: this runs for every rule of every
    // identity, and describing the rule was a tenth of the rule's time.
    let help = || {
        format!(
            "Remove `create` on `serviceaccounts/token` from the rule `{}` of {}; a workload gets its own token automatically.",
            site.rule.describe(),
            site.role.display()
        )
    };
    if site.allows(ctx, "create", CORE, "serviceaccounts/token") {
        return Some(Cap {
            severity: site.pick(Severity::High, Severity::Medium),
            what: format!("create a token for every ServiceAccount {scope} (create serviceaccounts/token) and act as it"),
            power: format!("token@{}", site.scope_key()),
            help: help(),
        });
    }
    let named = site.named("create", CORE, "serviceaccounts/token");
    if named.is_empty() {
        return None;
    }
    Some(Cap {
        severity: Severity::Medium,
        what: format!(
            "create tokens for the ServiceAccounts {} {scope}",
            named.join(", ")
        ),
        power: "token-named".to_string(),
        help: help(),
    })
}

/// `create secrets` here plus a read of Secrets in the same namespace: write a Secret of type
/// `kubernetes.io/service-account-token` naming any ServiceAccount, let the token controller
/// fill it, read it back.
fn legacy_secret(ctx: &Ctx, site: &Site) -> Option<Cap> {
    if !site.allows(ctx, "create", CORE, "secrets") {
        return None;
    }
    // Where Secrets can be read, per verb, in the order found. Shared with every other site of
    // the subject, and only looked through: an identity can read Secrets in thousands of
    // namespaces, and copying the list for each of its sites was quadratic.
    let readable = ["get", "list", "watch"]
        .map(|verb| site.scopes_where(ctx, verb, CORE, "secrets", verb == "get"));
    let readable = || readable.iter().flat_map(|scopes| scopes.iter());
    // Namespaces where both hold, the widest first.
    let (severity, place, key) = match site.ns() {
        Some(ns) => {
            if !readable().any(|r| r.as_deref().is_none_or(|x| x == ns)) {
                return None;
            }
            (
                site.pick(Severity::High, Severity::Medium),
                site.scope_text(),
                ns.to_string(),
            )
        }
        None if readable().any(Option::is_none) => {
            (Severity::High, site.scope_text(), "*".to_string())
        }
        None if readable().any(|r| r.as_deref() == Some(KUBE_SYSTEM)) => (
            Severity::High,
            format!("in namespace `{KUBE_SYSTEM}`"),
            KUBE_SYSTEM.to_string(),
        ),
        None => {
            let ns = readable().flatten().next()?;
            (Severity::Medium, format!("in namespace `{ns}`"), ns.clone())
        }
    };
    let help = if site.is_manager(ctx) {
        format!(
            "The runner manager needs `create` and `get` on `secrets` only in its job namespaces: bind this rule ({}) with RoleBindings there instead.",
            site.rule.describe()
        )
    } else {
        format!(
            "Remove `create` on `secrets` from the rule `{}` of {}, or every read of Secrets from this subject: together they mint long-lived tokens.",
            site.rule.describe(),
            site.role.display()
        )
    };
    Some(Cap {
        severity,
        what: format!(
            "mint a long-lived token for any ServiceAccount {place}: create a Secret of type `kubernetes.io/service-account-token` and read it back"
        ),
        power: format!("token@{key}"),
        help,
    })
}

#[cfg(test)]
mod tests {
    use crate::report::Severity;
    use crate::rules::privilege::caps::fixture::{bound, rule};
    use crate::rules::testing::{fires, silent};

    const CODE: &str = "RG108";

    #[test]
    fn token_request_cluster_wide_is_high_and_namespaced_medium() {
        let r = rule("[\"\"]", "[\"serviceaccounts/token\"]", "[\"create\"]");
        assert_eq!(
            fires(CODE, &bound("ClusterRole", "ops", &r))[0].severity,
            Severity::High
        );
        assert_eq!(
            fires(CODE, &bound("Role", "ops", &r))[0].severity,
            Severity::Medium
        );
    }

    #[test]
    fn create_secrets_with_a_chosen_name_readable_is_high() {
        let rules = format!(
            "{}\n- apiGroups: [\"\"]\n  resources: [\"secrets\"]\n  resourceNames: [\"sa-token\"]\n  verbs: [\"get\"]",
            rule("[\"\"]", "[\"secrets\"]", "[\"create\"]")
        );
        let f = fires(CODE, &bound("ClusterRole", "ops", &rules));
        assert_eq!(f[0].severity, Severity::High);
        assert_eq!(f[0].line, 6, "points at the create rule");
    }

    #[test]
    fn create_secrets_without_any_read_is_silent() {
        silent(
            CODE,
            &bound(
                "ClusterRole",
                "ops",
                &rule("[\"\"]", "[\"secrets\"]", "[\"create\"]"),
            ),
        );
    }

    #[test]
    fn serviceaccounts_without_the_subresource_is_silent() {
        silent(
            CODE,
            &bound(
                "ClusterRole",
                "ops",
                &rule("[\"\"]", "[\"serviceaccounts\"]", "[\"create\"]"),
            ),
        );
    }

    #[test]
    fn create_and_get_in_one_namespace_is_medium() {
        let r = rule("[\"\"]", "[\"secrets\"]", "[\"create\", \"get\"]");
        assert_eq!(
            fires(CODE, &bound("Role", "apps", &r))[0].severity,
            Severity::Medium
        );
    }
}
