use crate::context::Ctx;
use crate::declare_rule;
use crate::report::Finding;
use crate::rules::hygiene::util;
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports verbs that no Kubernetes API request ever uses. Valid verbs are `get`, `list`,
    /// `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`, `use`, `bind`,
    /// `escalate`, `impersonate`, `approve`, `sign`, `attest`, `proxy` and `*`; rules with
    /// `nonResourceURLs` may also use the HTTP verbs `post`, `put`, `head` and `options`.
    /// Verbs are compared exactly, so `Get` or `LIST` are unknown too.
    ///
    /// ### Why is this bad
    /// The verb matches nothing: the permission the author meant is missing, and scanners that
    /// only look for dangerous verbs may be misled either way (a typo like `create1` hides the
    /// intent; a test fixture with made-up verbs proves nothing).
    ///
    /// ### Example
    /// ```yaml
    /// rules:
    /// - apiGroups: ["rbac.authorization.k8s.io"]
    ///   resources: ["rolebindings"]
    ///   verbs: ["create1"]   # not a verb
    /// ```
    ///
    /// ### Fix
    /// Use the intended verb (the finding suggests the closest one) or remove it.
    pub UnknownVerb,
    code = "RG505",
    name = "unknown-verb",
    severity = Low,
    category = Hygiene,
    summary = "A rule uses a verb Kubernetes never checks",
}

impl Rule for UnknownVerb {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        for (_, role) in util::judged_roles(ctx.inv) {
            for rule in &role.rules {
                for verb in rule.verbs.iter().filter(|v| !util::known_verb(rule, v)) {
                    let help = match closest(rule, verb) {
                        Some(s) => format!("Replace `{verb}` with `{s}`, or remove it."),
                        None => format!(
                            "Remove `{verb}`; valid verbs are {}.",
                            util::RESOURCE_VERBS.join(", ")
                        ),
                    };
                    let d = ctx
                        .draft(
                            &Self::META,
                            util::line_in_field(ctx, rule.loc, "verbs", verb),
                            format!(
                                "verb `{verb}` in {} is not a Kubernetes API verb; it matches no request",
                                role.display()
                            ),
                            help,
                        )
                        .object(role.display())
                        .key(format!("{}:{verb}", rule.describe()));
                    ctx.emit(out, d);
                }
            }
        }
    }
}

/// The valid verb nearest to `verb`: its lowercase form, or one within two edits.
fn closest(rule: &crate::model::PolicyRule, verb: &str) -> Option<String> {
    let lower = verb.to_ascii_lowercase();
    let candidates = util::RESOURCE_VERBS
        .iter()
        .chain(if rule.non_resource_urls.is_empty() {
            [].iter()
        } else {
            util::URL_VERBS.iter()
        })
        .filter(|v| **v != "*");
    candidates
        .map(|v| (util::distance(&lower, v), *v))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, v)| v.to_string())
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{fires, silent};

    #[test]
    fn made_up_verbs_fire_on_their_lines() {
        // trivy-ksv051 fixture shape.
        let f = fires(
            "RG505",
            "apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {namespace: default, name: pod-reader}
rules:
- apiGroups: [rbac.authorization.k8s.io]
  resources: [rolebindings]
  verbs: [create1]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [clusterroles]
  verbs:
  - bind1
  resourceNames: [aa]
",
        );
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].line, f[1].line), (7, 11));
        assert!(f[0].help.contains("`create`"));
        assert!(f[1].help.contains("`bind`"));
    }

    #[test]
    fn points_at_the_verb_not_a_resource_of_the_same_name() {
        let f = fires(
            "RG505",
            "apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: r, namespace: test}
rules:
- apiGroups: [\"\", extensions, apps]
  resources: [\"example\"]
  verbs: [\"example\", \"*\"]
",
        );
        assert_eq!(f[0].line, 7);
    }

    #[test]
    fn case_matters() {
        let f = fires(
            "RG505",
            "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: r}
rules:
- apiGroups: [\"\"]
  resources: [pods]
  verbs: [Get, list]
",
        );
        assert_eq!(f.len(), 1);
        assert!(f[0].help.contains("`get`"));
    }

    #[test]
    fn http_verbs_only_on_urls() {
        silent(
            "RG505",
            "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: r}
rules:
- nonResourceURLs: [/api/*]
  verbs: [get, post, head, options, put]
- apiGroups: [\"\"]
  resources: [pods]
  verbs: [\"*\", get, list, watch, create, update, patch, delete, deletecollection]
",
        );
        fires(
            "RG505",
            "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: r}
rules:
- apiGroups: [\"\"]
  resources: [pods]
  verbs: [post]
",
        );
    }
}
