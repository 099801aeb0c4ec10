use crate::context::Ctx;
use crate::declare_rule;
use crate::model::RoleKind;
use crate::report::{Finding, Severity};
use crate::rules::privilege::caps::{self, Cap, Mode, Site};
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports RBAC rules with `*` in `verbs`, `resources` or `apiGroups`. A full wildcard in a
    /// Role (everything in its namespace) and `*` verbs on `*` resources of the core group
    /// (`apiGroups: [""]`: Secrets, pods, ServiceAccounts) are `high`; other wildcards are
    /// `medium`, even over harmless or made-up resources. A full wildcard in a ClusterRole is
    /// reported by RG101 instead.
    ///
    /// ### Why is this bad
    /// A wildcard grants what nobody reviewed: every verb (`escalate`, `bind`, `impersonate`,
    /// `deletecollection`), every subresource (`pods/exec`, `serviceaccounts/token`) and every
    /// resource a future release or a new CRD adds. The gitlab-runner Helm chart writes
    /// `apiGroups: [""]`, `resources: ["*"]`, `verbs: ["*"]` when `rbac.rules` is empty, and
    /// every rule entry that omits `verbs` or `resources` becomes `*`.
    ///
    /// ### Example
    /// ```yaml
    /// kind: Role
    /// rules:
    /// - apiGroups: [""]
    ///   resources: ["*"]
    ///   verbs: ["*"]
    /// ```
    ///
    /// ### Fix
    /// List the verbs, resources and apiGroups explicitly. For the runner, set `rbac.rules` in
    /// the Helm values to the documented rules, each with explicit `resources` and `verbs`.
    pub WildcardRule,
    code = "RG102",
    name = "wildcard-rule",
    severity = Medium,
    category = Unsafe,
    summary = "A wildcard in an RBAC rule",
}

impl Rule for WildcardRule {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        caps::run(ctx, out, &Self::META, Mode::Wildcard, assess);
    }
}

fn star(v: &[String]) -> bool {
    v.iter().any(|s| s == "*")
}

pub(crate) fn assess(_ctx: &Ctx, site: &Site) -> Option<Cap> {
    let rule = site.rule;
    if !caps::has_wildcard(rule) {
        return None;
    }
    let full = caps::is_full_wildcard(rule);
    if full && site.role.kind == RoleKind::ClusterRole {
        return None; // RG101
    }
    let help = format!(
        "Replace the `*` in the rule `{}` of {} with the exact verbs, resources and apiGroups needed (e.g. `resources: [pods, pods/exec, pods/attach]`, `verbs: [create, get, delete]`); with the gitlab-runner Helm chart, give every `rbac.rules` entry explicit `resources` and `verbs`.",
        rule.describe(),
        site.role.display()
    );
    let scope = site.scope_text();
    let core = star(&rule.verbs)
        && star(&rule.resources)
        && rule.api_groups.iter().any(|g| g.is_empty() || g == "*");
    Some(if full {
        Cap {
            severity: Severity::High,
            what: format!("do anything {scope}: a full wildcard (`*` verbs on `*` resources in `*` apiGroups) over the namespace"),
            power: format!("namespace-admin@{}", site.scope_key()),
            help,
        }
    } else if core {
        Cap {
            severity: Severity::High,
            what: format!(
                "do anything to every core resource {scope} (`*` verbs on `*` resources of the core group: Secrets, pods, pods/exec, ServiceAccounts and their tokens)"
            ),
            power: format!("core-admin@{}", site.scope_key()),
            help,
        }
    } else {
        Cap {
            severity: Severity::Medium,
            what: format!(
                "use the wildcard rule `{}` {scope}; it covers every verb and resource it can match, including ones added later",
                rule.describe()
            ),
            power: "wildcard".to_string(),
            help,
        }
    })
}

#[cfg(test)]
mod tests {
    use crate::report::Severity;
    use crate::rules::testing::{fires, silent};

    const CODE: &str = "RG102";

    fn role(groups: &str, resources: &str, verbs: &str) -> String {
        format!(
            "apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: r
  namespace: ci
rules:
- apiGroups: {groups}
  resources: {resources}
  verbs: {verbs}
"
        )
    }

    #[test]
    fn core_group_wildcard_is_high() {
        let f = fires(CODE, &role("[\"\"]", "[\"*\"]", "[\"*\"]"));
        assert_eq!(f[0].severity, Severity::High);
        assert_eq!(f[0].line, 7);
    }

    #[test]
    fn full_wildcard_in_a_role_is_high() {
        let f = fires(CODE, &role("[\"*\"]", "[\"*\"]", "[\"*\"]"));
        assert_eq!(f[0].severity, Severity::High);
        assert!(f[0].message.contains("namespace `ci`"));
    }

    #[test]
    fn wildcard_verbs_on_a_made_up_resource_is_medium() {
        let f = fires(
            CODE,
            &role("[\"\", \"apps\"]", "[\"example\"]", "[\"example\", \"*\"]"),
        );
        assert_eq!(f[0].severity, Severity::Medium);
    }

    #[test]
    fn wildcard_api_groups_alone_is_medium() {
        let f = fires(CODE, &role("[\"*\"]", "[\"configmaps\"]", "[\"get\"]"));
        assert_eq!(f[0].severity, Severity::Medium);
    }

    #[test]
    fn explicit_rules_and_subresource_patterns_are_not_wildcards() {
        silent(
            CODE,
            &role(
                "[\"\"]",
                "[\"pods\", \"pods/exec\"]",
                "[\"create\", \"get\"]",
            ),
        );
        // `pods/*` is a literal name, not a wildcard (and matches nothing).
        silent(CODE, &role("[\"\"]", "[\"pods/*\"]", "[\"get\"]"));
    }

    #[test]
    fn full_wildcard_clusterrole_is_left_to_rg101() {
        silent(
            CODE,
            "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: all
rules:
- apiGroups: [\"*\"]
  resources: [\"*\"]
  verbs: [\"*\"]
- apiGroups: [\"\"]
  resources: [\"*\"]
  verbs: [\"get\"]
",
        );
    }
}
