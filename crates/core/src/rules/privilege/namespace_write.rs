use crate::authz;
use crate::context::Ctx;
use crate::declare_rule;
use crate::report::{Finding, Severity};
use crate::rules::privilege::caps::{self, Cap, Mode, Req, Site, CORE};
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports `update` or `patch` on `namespaces`: through a ClusterRoleBinding on every
    /// namespace; through a RoleBinding on the binding's own namespace, because the API server
    /// authorizes a request for namespace `X` itself as a request in namespace `X`.
    ///
    /// ### Why is this bad
    /// Namespace labels drive Pod Security Admission
    /// (`pod-security.kubernetes.io/enforce: restricted`) and often network policies and
    /// admission webhooks: whoever can relabel a namespace switches them off for it, then runs
    /// privileged pods there.
    ///
    /// ### Example
    /// ```yaml
    /// kind: Role   # in namespace ci
    /// rules:
    /// - apiGroups: [""]
    ///   resources: ["namespaces"]
    ///   verbs: ["get", "patch"]
    /// ```
    ///
    /// ### Fix
    /// Remove `update` and `patch` on namespaces; the runner needs only `create` and `delete`,
    /// and only with `namespace_per_job`.
    pub NamespaceWrite,
    code = "RG117",
    name = "namespace-write",
    severity = Medium,
    category = Unsafe,
    summary = "Namespaces can be relabelled",
}

impl Rule for NamespaceWrite {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        caps::run(ctx, out, &Self::META, Mode::Capability, assess);
    }
}

const VERBS: [&str; 2] = ["update", "patch"];

/// `update`/`patch` on the namespace object `ns` itself through a grant in `ns`: the request
/// for `/api/v1/namespaces/ns` carries namespace `ns`, so RoleBindings there apply to it.
/// (`authz::rule_allows` treats namespaces as cluster-scoped and so misses this.)
fn own_namespace(ctx: &Ctx, site: &Site, ns: &str) -> Vec<Req> {
    let rule = site.rule;
    if rule.resources.is_empty() {
        return Vec::new();
    }
    VERBS
        .iter()
        .filter(|v| {
            authz::verb_matches(rule, v)
                && authz::group_matches(rule, CORE)
                && authz::resource_matches(rule, "namespaces")
                && authz::name_matches(rule, Some(ns))
                && !site
                    .identity()
                    .is_some_and(|id| ctx.runner.needed(id, v, CORE, "namespaces", Some(ns)))
        })
        .map(|&verb| Req {
            verb,
            group: CORE,
            resource: "namespaces",
        })
        .collect()
}

pub(crate) fn assess(ctx: &Ctx, site: &Site) -> Option<Cap> {
    let (reqs, which) = match site.ns() {
        None => (
            site.matched(ctx, &VERBS, &[(CORE, "namespaces")]),
            "every namespace".to_string(),
        ),
        Some(ns) => (
            own_namespace(ctx, site, ns),
            format!("its own namespace `{ns}`"),
        ),
    };
    if reqs.is_empty() {
        return None;
    }
    Some(Cap {
        severity: Severity::Medium,
        what: format!(
            "relabel {which} ({}), e.g. remove the Pod Security Admission label `pod-security.kubernetes.io/enforce` and run privileged pods there",
            caps::reqs_text(&reqs)
        ),
        power: format!("namespace-write@{}", site.scope_key()),
        help: format!(
            "{}; the runner needs only `create` and `delete` on namespaces, and only with `namespace_per_job`.",
            caps::remove_help(site, &reqs)
        ),
    })
}

#[cfg(test)]
mod tests {
    use crate::rules::privilege::caps::fixture::{bound, cluster_role_in, rule};
    use crate::rules::testing::{fires, silent};

    const CODE: &str = "RG117";

    #[test]
    fn patch_cluster_wide_fires() {
        fires(
            CODE,
            &bound(
                "ClusterRole",
                "ci",
                &rule("[\"\"]", "[\"namespaces\"]", "[\"get\", \"patch\"]"),
            ),
        );
    }

    #[test]
    fn a_rolebinding_covers_its_own_namespace_object() {
        let f = fires(
            CODE,
            &cluster_role_in("ci", &rule("[\"\"]", "[\"namespaces\"]", "[\"update\"]")),
        );
        assert!(
            f[0].message.contains("own namespace `ci`"),
            "{}",
            f[0].message
        );
        let named = "- apiGroups: [\"\"]\n  resources: [\"namespaces\"]\n  verbs: [\"patch\"]\n  resourceNames: [\"other\"]";
        silent(CODE, &bound("Role", "ci", named));
    }

    #[test]
    fn create_and_delete_are_not_relabelling() {
        silent(
            CODE,
            &bound(
                "ClusterRole",
                "ci",
                &rule("[\"\"]", "[\"namespaces\"]", "[\"create\", \"delete\"]"),
            ),
        );
    }
}
