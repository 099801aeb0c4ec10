use crate::authz::resources;
use crate::context::Ctx;
use crate::declare_rule;
use crate::report::Finding;
use crate::rules::hygiene::util;
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports a resource in a role rule that Kubernetes does not serve in any of the rule's
    /// built-in apiGroups: `pods/logs` (it is `pods/log`), `serviceAccounts` (names are
    /// lowercase), `services/status` under `rbac.authorization.k8s.io`, `pods` under `apps`.
    /// Also reports apiGroups written with a version (`apps/v1`). Resources in other groups may
    /// be custom resources and are left alone, as are `*` and `*/subresource`.
    ///
    /// ### Why is this bad
    /// RBAC compares resource names as exact strings, so the entry matches nothing: the
    /// permission the author meant is missing (CI fails with `forbidden`), and the rule gives a
    /// false impression of what the identity can do.
    ///
    /// ### Example
    /// ```yaml
    /// rules:
    /// - apiGroups: [""]
    ///   resources: ["pods/logs", "serviceAccounts"]   # pods/log, serviceaccounts
    ///   verbs: ["get"]
    /// ```
    ///
    /// ### Fix
    /// Use the resource's real name in the right group (the finding suggests it), or remove the
    /// entry.
    pub NonexistentResource,
    code = "RG502",
    name = "nonexistent-resource",
    severity = Low,
    category = Hygiene,
    summary = "A rule names a resource Kubernetes does not have",
}

impl Rule for NonexistentResource {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        for (_, role) in util::judged_roles(ctx.inv) {
            for rule in &role.rules {
                for group in rule.api_groups.iter().filter(|g| g.contains('/')) {
                    let bare = group.split('/').next().unwrap_or("");
                    let d = ctx
                        .draft(
                            &Self::META,
                            util::line_in_field(ctx, rule.loc, "apiGroups", group),
                            format!(
                                "apiGroup `{group}` in {} includes a version; apiGroups are group names, so this rule matches nothing",
                                role.display()
                            ),
                            format!("Write the group without its version: `apiGroups: [\"{}\"]`.", if bare == "v1" { "" } else { bare }),
                        )
                        .object(role.display())
                        .key(format!("group:{group}"));
                    ctx.emit(out, d);
                }
                if !rule.api_groups.iter().all(|g| util::served_group(g))
                    || rule.api_groups.is_empty()
                {
                    continue;
                }
                for (i, resource) in rule.resources.iter().enumerate() {
                    if resource == "*" || resource.starts_with("*/") || resource.is_empty() {
                        continue;
                    }
                    if rule
                        .api_groups
                        .iter()
                        .any(|g| resources::exists(g, resource))
                    {
                        continue;
                    }
                    let loc = rule.resource_locs.get(i).copied().unwrap_or(rule.loc);
                    emit(ctx, out, role.display(), &rule.api_groups, resource, loc);
                }
            }
        }
    }
}

fn emit(
    ctx: &Ctx,
    out: &mut Vec<Finding>,
    object: String,
    groups: &[String],
    resource: &str,
    loc: crate::model::Loc,
) {
    let shown: Vec<String> = groups.iter().map(|g| format!("\"{g}\"")).collect();
    let shown = shown.join(", ");
    let suggestion = groups.iter().find_map(|g| resources::suggest(g, resource));
    let (base, sub) = resources::split(resource);
    if sub == Some("*") {
        let d = ctx
            .draft(
                &NonexistentResource::META,
                loc,
                format!(
                    "resource `{resource}` in {object} is not a wildcard: RBAC only knows `*` and `*/subresource` patterns, so this entry matches nothing"
                ),
                format!(
                    "List the subresources you mean (e.g. `{base}/log`, `{base}/status`), or use `*/<subresource>` for one subresource of every resource; remove `{resource}`."
                ),
            )
            .object(object)
            .key(format!("{shown}:{resource}"));
        ctx.emit(out, d);
        return;
    }
    let help = match &suggestion {
        Some(s) if s.contains(' ') => format!("Kubernetes serves {s}: move `{resource}` to a rule with that apiGroup, or remove it."),
        Some(s) => format!("Replace `{resource}` with `{s}` (RBAC matches names exactly)."),
        None => format!("Remove `{resource}`, or use the resource's exact lowercase plural name as `kubectl api-resources` prints it."),
    };
    let d = ctx
        .draft(
            &NonexistentResource::META,
            loc,
            format!(
                "resource `{resource}` in {object} does not exist in apiGroups [{shown}]: RBAC matches names exactly, so this entry grants nothing"
            ),
            help,
        )
        .object(object)
        .key(format!("{shown}:{resource}"));
    ctx.emit(out, d);
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{fires, silent};

    fn role(groups: &str, resources: &str) -> String {
        format!(
            "apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: r, namespace: ci}}
rules:
- apiGroups: {groups}
  resources:
  - pods
  - {resources}
  verbs: [get]
"
        )
    }

    #[test]
    fn typo_points_at_the_entry_and_suggests() {
        let f = fires("RG502", &role("[\"\"]", "pods/logs"));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].line, 8);
        assert!(f[0].help.contains("`pods/log`"), "{}", f[0].help);
        let f = fires("RG502", &role("[\"\"]", "serviceAccounts"));
        assert!(f[0].help.contains("`serviceaccounts`"));
    }

    #[test]
    fn wrong_group() {
        let f = fires(
            "RG502",
            "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: r}
rules:
- apiGroups: [rbac.authorization.k8s.io]
  resources: [services/status]
  verbs: [patch]
- apiGroups: [apps]
  resources: [pods, deployments]
  verbs: [create]
",
        );
        assert_eq!(f.len(), 2);
        assert!(f[0].help.contains("core group"), "{}", f[0].help);
        assert_eq!(f[1].line, 9);
    }

    #[test]
    fn any_listed_group_serving_it_is_enough() {
        silent("RG502", &role("[\"\", apps]", "deployments"));
    }

    #[test]
    fn wildcards_and_custom_groups_are_left_alone() {
        silent("RG502", &role("[\"\"]", "\"*\""));
        silent("RG502", &role("[\"\"]", "\"*/log\""));
        silent("RG502", &role("[\"*\"]", "widgets"));
        silent("RG502", &role("[example.com]", "widgets"));
    }

    #[test]
    fn subresource_star_is_not_a_wildcard() {
        let f = fires("RG502", &role("[\"\"]", "\"pods/*\""));
        assert!(f[0].message.contains("not a wildcard"));
    }

    #[test]
    fn groups_without_known_resources_are_left_alone() {
        silent("RG502", &role("[metrics.k8s.io]", "nodes"));
    }

    #[test]
    fn versioned_group() {
        let f = fires("RG502", &role("[apps/v1]", "deployments"));
        assert!(f[0].help.contains("[\"apps\"]"));
    }
}
