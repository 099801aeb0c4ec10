use crate::authz::RBAC_GROUP;
use crate::context::Ctx;
use crate::declare_rule;
use crate::model::{Loc, PolicyRule, Role, RoleKind};
use crate::report::{Finding, Severity};
use crate::rules::hygiene::util::{self, NsScope};
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports rule entries that grant nothing because of where they are granted: cluster-scoped
    /// resources (`nodes`, `nodes/proxy`, `namespaces`, `persistentvolumes`,
    /// `certificatesigningrequests`, `clusterroles`, `priorityclasses`, webhook
    /// configurations...) in a Role, or in a ClusterRole that is bound only by RoleBindings;
    /// and `nonResourceURLs` outside a ClusterRoleBinding. Two exceptions follow Kubernetes
    /// exactly: `bind` on `clusterroles` is checked in the RoleBinding's namespace and counts;
    /// and `get`/`watch`/`update`/`patch`/`delete` on `namespaces` apply to the grant's own
    /// namespace (the request for namespace `ci` is made "in" `ci`), so only `create`, `list`
    /// and `deletecollection` are reported there. A Role holding `nonResourceURLs` is rejected by
    /// the API server and is reported at `low`.
    ///
    /// ### Why is this bad
    /// The rule suggests a permission that does not exist: if the identity needs it, it fails
    /// with `forbidden`; if it does not, the entry is noise that hides the rules that matter,
    /// and a later switch to a ClusterRoleBinding would silently make it cluster-wide.
    ///
    /// ### Example
    /// ```yaml
    /// kind: Role
    /// metadata: {name: gitlab-runner, namespace: ci}
    /// rules:
    /// - apiGroups: [""]
    ///   resources: ["namespaces"]     # cluster-scoped: create does nothing in a Role
    ///   verbs: ["create", "delete"]
    /// ```
    ///
    /// ### Fix
    /// Remove the entry. If the identity really needs it (e.g. `namespace_per_job` needs
    /// namespaces create/delete), grant it in a separate ClusterRole bound with a
    /// ClusterRoleBinding, and review that cluster-wide grant.
    pub IneffectiveRule,
    code = "RG504",
    name = "ineffective-rule",
    severity = Info,
    category = Hygiene,
    summary = "A rule grants nothing where it is bound",
}

/// Verbs on `namespaces` that still work in a namespaced grant, on the namespace itself.
const OWN_NAMESPACE_VERBS: &[&str] = &["get", "watch", "update", "patch", "delete", "*"];

impl Rule for IneffectiveRule {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        let scopes = util::namespaced_only(ctx.inv, ctx.authz);
        for (ri, role) in util::judged_roles(ctx.inv) {
            let Some(Some(namespaces)) = scopes.get(ri) else {
                continue;
            };
            // Worded on first use: admin, edit and view are bound in every namespace of a
            // large cluster, and the list of them is long.
            let where_cell = std::cell::OnceCell::new();
            let where_ = || where_cell.get_or_init(|| place(role, namespaces)).as_str();
            for rule in &role.rules {
                let verbs: Vec<&str> = rule
                    .verbs
                    .iter()
                    .map(String::as_str)
                    .filter(|v| util::known_verb(rule, v))
                    .collect();
                if verbs.is_empty() {
                    continue;
                }
                if !rule.non_resource_urls.is_empty() {
                    urls(ctx, out, role, rule, where_());
                    continue;
                }
                for (i, resource) in rule.resources.iter().enumerate() {
                    let Some(dead) = dead_verbs(rule, resource, &verbs) else {
                        continue;
                    };
                    let loc = rule.resource_locs.get(i).copied().unwrap_or(rule.loc);
                    entry(
                        ctx,
                        out,
                        role,
                        rule,
                        resource,
                        &dead,
                        where_(),
                        namespaces,
                        loc,
                    );
                }
            }
        }
    }
}

/// "Role ci/x" or "ClusterRole x, bound only by RoleBindings in a, b".
fn place(role: &Role, namespaces: &[String]) -> String {
    match role.kind {
        RoleKind::Role => role.display(),
        RoleKind::ClusterRole => format!(
            "{}, bound only by RoleBindings (in {}),",
            role.display(),
            namespaces.join(", ")
        ),
    }
}

/// The verbs of `resource` that grant nothing in a namespaced grant, or `None` when the entry
/// is (partly) effective or not a known built-in resource.
fn dead_verbs(rule: &PolicyRule, resource: &str, verbs: &[&str]) -> Option<Vec<String>> {
    if util::ns_scope(rule, resource) != NsScope::ClusterScoped {
        return None;
    }
    let rbac = rule.api_groups.iter().any(|g| g == RBAC_GROUP || g == "*");
    let core = rule.api_groups.iter().any(|g| g.is_empty() || g == "*");
    let spared: &[&str] = if resource == "clusterroles" && rbac {
        &["bind", "*"]
    } else if core && crate::authz::resources::split(resource).0 == "namespaces" {
        OWN_NAMESPACE_VERBS
    } else {
        &[]
    };
    let dead: Vec<String> = verbs
        .iter()
        .filter(|v| !spared.contains(v))
        .map(|v| (*v).to_string())
        .collect();
    (!dead.is_empty()).then_some(dead)
}

#[allow(clippy::too_many_arguments)]
fn entry(
    ctx: &Ctx,
    out: &mut Vec<Finding>,
    role: &Role,
    rule: &PolicyRule,
    resource: &str,
    dead: &[String],
    where_: &str,
    namespaces: &[String],
    loc: Loc,
) {
    let all = dead.len() == rule.verbs.len();
    let what = if all {
        format!("`{resource}`")
    } else {
        format!(
            "{} on `{resource}`",
            dead.iter()
                .map(|v| format!("`{v}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let base = crate::authz::resources::split(resource).0;
    let note = if base == "namespaces" && !all {
        format!(
            "; the other verbs apply only to the namespace{} {} itself",
            if namespaces.len() > 1 { "s" } else { "" },
            namespaces.join(", ")
        )
    } else if base == "clusterroles" && !all {
        "; only `bind` on clusterroles is checked per namespace".to_string()
    } else {
        String::new()
    };
    let d = ctx
        .draft(
            &IneffectiveRule::META,
            loc,
            format!(
                "{what} in {where_} grants nothing: {base} is cluster-scoped and a namespaced grant only covers namespaced resources{note}"
            ),
            format!(
                "Remove {what} from this rule. If the identity needs it, grant it in a separate ClusterRole bound with a ClusterRoleBinding, and review that cluster-wide grant."
            ),
        )
        .object(role.display())
        .key(format!("{}:{resource}", rule.describe()));
    ctx.emit(out, d);
}

fn urls(ctx: &Ctx, out: &mut Vec<Finding>, role: &Role, rule: &PolicyRule, where_: &str) {
    let shown = rule.non_resource_urls.join(", ");
    let (message, severity) = match role.kind {
        RoleKind::Role => (
            format!(
                "{where_} lists nonResourceURLs ({shown}); only ClusterRoles may, so the API server rejects this Role"
            ),
            Severity::Low,
        ),
        RoleKind::ClusterRole => (
            format!(
                "nonResourceURLs ({shown}) in {where_} grant nothing: they are only honoured through a ClusterRoleBinding"
            ),
            Severity::Info,
        ),
    };
    let d = ctx
        .draft(
            &IneffectiveRule::META,
            util::line_of(ctx, rule.loc, "nonResourceURLs:"),
            message,
            "Remove the nonResourceURLs rule, or move it to a ClusterRole bound with a ClusterRoleBinding if the identity needs it.",
        )
        .object(role.display())
        .key(rule.describe())
        .severity(severity);
    ctx.emit(out, d);
}

#[cfg(test)]
mod tests {
    use crate::report::Severity;
    use crate::rules::testing::{fires, run, silent};

    fn role(resources: &str, verbs: &str) -> String {
        format!(
            "apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: r, namespace: ci}}
rules:
- apiGroups: [\"\", rbac.authorization.k8s.io, certificates.k8s.io]
  resources: [{resources}]
  verbs: [{verbs}]
"
        )
    }

    #[test]
    fn cluster_scoped_resources_in_a_role() {
        for res in [
            "nodes",
            "nodes/proxy",
            "persistentvolumes",
            "certificatesigningrequests/approval",
        ] {
            let f = fires("RG504", &role(res, "get, update"));
            assert_eq!(f[0].severity, Severity::Info);
            assert_eq!(f[0].line, 6);
        }
    }

    #[test]
    fn bind_on_clusterroles_counts_in_a_role() {
        silent("RG504", &role("clusterroles", "bind"));
        let f = fires("RG504", &role("clusterroles", "bind, escalate"));
        assert!(
            f[0].message.starts_with("`escalate` on `clusterroles`"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn namespaces_verbs_on_own_namespace_count() {
        silent("RG504", &role("namespaces", "get, delete, patch"));
        let f = fires("RG504", &role("namespaces", "create, delete, get"));
        assert!(f[0].message.contains("`create`"));
        assert!(
            f[0].message.contains("namespace ci itself"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn namespaced_and_wildcard_entries_are_fine() {
        silent("RG504", &role("pods, secrets, rolebindings", "get"));
        silent("RG504", &role("\"*\"", "get"));
        silent("RG504", &role("\"*/status\"", "get"));
    }

    #[test]
    fn cluster_role_bound_only_by_role_bindings() {
        let cr = "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: cr}
rules:
- apiGroups: [\"\"]
  resources: [nodes]
  verbs: [get]
- nonResourceURLs: [/metrics]
  verbs: [get]
";
        let rb = "---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rb, namespace: ci}
subjects: [{kind: ServiceAccount, name: runner}]
roleRef: {kind: ClusterRole, name: cr, apiGroup: rbac.authorization.k8s.io}
";
        let crb = "---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: crb}
subjects: [{kind: ServiceAccount, name: runner, namespace: ci}]
roleRef: {kind: ClusterRole, name: cr, apiGroup: rbac.authorization.k8s.io}
";
        let f = fires("RG504", &format!("{cr}{rb}"));
        assert_eq!(f.len(), 2);
        assert_eq!(f[1].line, 8);
        // Unbound (judged as if bound cluster-wide) or also bound cluster-wide: effective.
        silent("RG504", cr);
        silent("RG504", &format!("{cr}{rb}{crb}"));
    }

    #[test]
    fn role_with_urls_is_rejected() {
        let f = fires(
            "RG504",
            "apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: r, namespace: ci}
rules:
- nonResourceURLs: [/healthz]
  verbs: [get]
",
        );
        assert_eq!(f[0].severity, Severity::Low);
    }

    #[test]
    fn unknown_verbs_are_left_to_rg505() {
        silent("RG504", &role("clusterroles", "bind1"));
    }

    #[test]
    fn aggregated_into_a_cluster_wide_role_is_effective() {
        let found = run(
            "RG504",
            &[(
                "a.yaml",
                "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: part, labels: {agg: \"yes\"}}
rules:
- apiGroups: [\"\"]
  resources: [nodes]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: whole}
aggregationRule:
  clusterRoleSelectors: [{matchLabels: {agg: \"yes\"}}]
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rb, namespace: ci}
subjects: [{kind: ServiceAccount, name: runner}]
roleRef: {kind: ClusterRole, name: part, apiGroup: rbac.authorization.k8s.io}
",
            )],
        );
        assert!(found.is_empty(), "{found:#?}");
    }
}
