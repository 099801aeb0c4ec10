use crate::context::Ctx;
use crate::declare_rule;
use crate::model::SubjectKind;
use crate::report::Finding;
use crate::rules::privilege::caps;
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports bindings whose subjects are a broad group: `system:authenticated`,
    /// `system:unauthenticated`, `system:serviceaccounts`, `system:serviceaccounts:<namespace>`,
    /// or the user `system:anonymous`. Kubernetes' own discovery bindings
    /// (`system:basic-user`, `system:discovery`, `system:public-info-viewer`,
    /// `system:service-account-issuer-discovery`) are not reported. What the group can then do
    /// is judged by the other rules, with the group as the identity.
    ///
    /// ### Why is this bad
    /// Every ServiceAccount is in `system:authenticated` and `system:serviceaccounts`, so every
    /// CI job's token carries the grant, whatever the runner's own RBAC says; on some managed
    /// clusters `system:authenticated` also includes any account of the cloud provider.
    ///
    /// ### Example
    /// ```yaml
    /// kind: ClusterRoleBinding
    /// roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: viewer}
    /// subjects:
    /// - apiGroup: rbac.authorization.k8s.io
    ///   kind: Group
    ///   name: system:authenticated
    /// ```
    ///
    /// ### Fix
    /// Bind the role to the specific users, groups or ServiceAccounts that need it.
    pub BroadGroupBinding,
    code = "RG115",
    name = "broad-group-binding",
    severity = Medium,
    category = Unsafe,
    summary = "A role is bound to a group everyone is in",
}

/// Bindings every cluster has, harmless by design.
const DEFAULT_PUBLIC: &[&str] = &[
    "system:basic-user",
    "system:discovery",
    "system:public-info-viewer",
    "system:service-account-issuer-discovery",
];

/// Who is in a broad subject, or `None` for an ordinary one.
fn members(kind: &SubjectKind, name: &str) -> Option<String> {
    match (kind, name) {
        (SubjectKind::Group, "system:authenticated") => Some(
            "every authenticated user and every ServiceAccount of the cluster, so every CI job"
                .into(),
        ),
        (SubjectKind::Group, "system:unauthenticated")
        | (SubjectKind::User, "system:anonymous") => {
            Some("every anonymous request to the API server".into())
        }
        (SubjectKind::Group, "system:serviceaccounts") => {
            Some("every ServiceAccount of the cluster, so every CI job".into())
        }
        (SubjectKind::Group, g) => g.strip_prefix("system:serviceaccounts:").map(|ns| {
            format!("every ServiceAccount of namespace `{ns}`, CI jobs running there included")
        }),
        _ => None,
    }
}

impl Rule for BroadGroupBinding {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        for (gi, grant) in ctx.authz.grants.iter().enumerate() {
            let Some(bi) = grant.binding else { continue };
            let binding = &ctx.inv.bindings[bi];
            let role = &ctx.inv.roles[grant.role];
            if DEFAULT_PUBLIC.contains(&role.meta.name.as_str()) {
                continue;
            }
            for s in &binding.subjects {
                let Some(who) = members(&s.kind, &s.name) else {
                    continue;
                };
                let kind = if s.kind == SubjectKind::User {
                    "user"
                } else {
                    "group"
                };
                let id = if s.kind == SubjectKind::User {
                    format!("user:{}", s.name)
                } else {
                    format!("group:{}", s.name)
                };
                let d = ctx
                    .draft(
                        &Self::META,
                        s.loc,
                        format!(
                            "{} grants {} {} to {kind} `{}`: {who}",
                            binding.display(),
                            role.display(),
                            grant.scope.display(),
                            s.name
                        ),
                        format!(
                            "Remove the subject `{}` from {} and bind {} to the specific users, groups or ServiceAccounts that need it.",
                            s.name,
                            binding.display(),
                            role.display()
                        ),
                    )
                    .object(binding.display())
                    .identity_str(id)
                    .key(format!("{} | {}", caps::object(ctx, gi), s.name));
                ctx.emit(out, d);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::report::Severity;
    use crate::rules::privilege::caps::fixture::{rule, subject_bound};
    use crate::rules::testing::{fires, silent};

    const CODE: &str = "RG115";

    fn to(subject: &str) -> String {
        subject_bound(
            "ClusterRole",
            "",
            &rule(
                "[\"\"]",
                "[\"configmaps\"]",
                "[\"get\", \"list\", \"watch\"]",
            ),
            subject,
        )
    }

    #[test]
    fn system_authenticated_is_medium_on_the_subject() {
        let f = fires(CODE, &to("- apiGroup: rbac.authorization.k8s.io\n  kind: Group\n  name: system:authenticated"));
        assert_eq!(f[0].severity, Severity::Medium);
        assert_eq!(f[0].line, 19, "points at the subject");
        assert_eq!(f[0].identity.as_deref(), Some("group:system:authenticated"));
    }

    #[test]
    fn namespace_serviceaccounts_group_and_anonymous_fire() {
        fires(
            CODE,
            &to("- kind: Group\n  name: system:serviceaccounts:ci"),
        );
        fires(CODE, &to("- kind: User\n  name: system:anonymous"));
    }

    #[test]
    fn ordinary_groups_and_default_discovery_bindings_are_silent() {
        silent(CODE, &to("- kind: Group\n  name: developers"));
        silent(
            CODE,
            "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: system:discovery
rules:
- nonResourceURLs: [\"/api\", \"/version\"]
  verbs: [\"get\"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: system:discovery
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: system:discovery
subjects:
- kind: Group
  name: system:authenticated
",
        );
    }

    #[test]
    fn dangling_binding_grants_nothing() {
        silent(
            CODE,
            "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: b
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: missing
subjects:
- kind: Group
  name: system:authenticated
",
        );
    }
}
