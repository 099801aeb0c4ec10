use crate::context::Ctx;
use crate::declare_rule;
use crate::report::Finding;
use crate::rules::hygiene::util;
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports rules that grant `use` on `podsecuritypolicies` (apiGroups `policy` or
    /// `extensions`), such as the one the gitlab-runner chart renders with
    /// `rbac.podSecurityPolicy.enabled: true`.
    ///
    /// ### Why is this bad
    /// The PodSecurityPolicy API was removed in Kubernetes 1.25: the rule grants nothing, and a
    /// setup that still relies on it for pod hardening has none. It also signals that the RBAC
    /// was copied from an old chart version and is worth a review.
    ///
    /// ### Example
    /// ```yaml
    /// rules:
    /// - apiGroups: ["policy"]
    ///   resources: ["podsecuritypolicies"]
    ///   verbs: ["use"]
    ///   resourceNames: ["gitlab-runner"]
    /// ```
    ///
    /// ### Fix
    /// Remove the rule (Helm: `rbac.podSecurityPolicy.enabled: false`). Enforce pod security
    /// with Pod Security Admission instead: label the job namespace
    /// `pod-security.kubernetes.io/enforce: restricted` (or `baseline` when jobs need more).
    pub DeprecatedPspRule,
    code = "RG503",
    name = "deprecated-psp-rule",
    severity = Low,
    category = Hygiene,
    summary = "A rule grants use of PodSecurityPolicies (removed in Kubernetes 1.25)",
}

const PSP: &str = "podsecuritypolicies";

impl Rule for DeprecatedPspRule {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        for (_, role) in util::judged_roles(ctx.inv) {
            for rule in &role.rules {
                let Some(i) = rule.resources.iter().position(|r| r == PSP) else {
                    continue;
                };
                let group_ok = rule
                    .api_groups
                    .iter()
                    .any(|g| matches!(g.as_str(), "policy" | "extensions" | "*"));
                let verb_ok = rule.verbs.iter().any(|v| v == "use" || v == "*");
                if !group_ok || !verb_ok {
                    continue;
                }
                let loc = rule.resource_locs.get(i).copied().unwrap_or(rule.loc);
                let d = ctx
                    .draft(
                        &Self::META,
                        loc,
                        format!(
                            "{} grants `use` on podsecuritypolicies; the PodSecurityPolicy API was removed in Kubernetes 1.25, so this rule grants nothing and enforces nothing",
                            role.display()
                        ),
                        "Remove this rule (Helm: `rbac.podSecurityPolicy.enabled: false`) and enforce pod security with Pod Security Admission: label the job namespace `pod-security.kubernetes.io/enforce: restricted`.",
                    )
                    .object(role.display())
                    .key(rule.describe());
                ctx.emit(out, d);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{fires, run, silent};

    #[test]
    fn fires_on_psp_use() {
        let f = fires(
            "RG503",
            "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: psp}
rules:
- apiGroups: [policy]
  resources: [podsecuritypolicies]
  verbs: [use]
  resourceNames: [gitlab-runner]
",
        );
        assert_eq!(f[0].line, 6);
    }

    #[test]
    fn fires_on_helm_psp_values() {
        let f = run(
            "RG503",
            &[(
                "values.yaml",
                "gitlabUrl: https://gitlab.example.com
rbac:
  create: true
  rules:
  - resources: [pods]
    verbs: [get]
  podSecurityPolicy:
    enabled: true
    resourceNames: [gitlab-runner]
",
            )],
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].line, 8);
    }

    #[test]
    fn silent_on_other_verbs_and_wildcards() {
        silent(
            "RG503",
            "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: psp}
rules:
- apiGroups: [policy]
  resources: [podsecuritypolicies]
  verbs: [get, list]
- apiGroups: [\"*\"]
  resources: [\"*\"]
  verbs: [\"*\"]
",
        );
    }
}
