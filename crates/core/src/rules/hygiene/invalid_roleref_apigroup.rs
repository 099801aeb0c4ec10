use crate::authz::{BindingProblem, RBAC_GROUP};
use crate::context::Ctx;
use crate::declare_rule;
use crate::report::Finding;
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports bindings whose `roleRef.apiGroup` is neither `rbac.authorization.k8s.io` nor
    /// empty (an empty value is defaulted to `rbac.authorization.k8s.io` by the API server and
    /// is fine).
    ///
    /// ### Why is this bad
    /// The API server only accepts `rbac.authorization.k8s.io` there: a binding with
    /// `apiGroup: rbac.authorization.k8s.io/v1` (the apiVersion pasted in) or `apiGroup: v1` is
    /// rejected, so its subjects get nothing and whatever needed it fails with `forbidden`.
    ///
    /// ### Example
    /// ```yaml
    /// roleRef:
    ///   apiGroup: rbac.authorization.k8s.io/v1   # a version, not a group
    ///   kind: Role
    ///   name: gitlab-runner
    /// ```
    ///
    /// ### Fix
    /// Set `roleRef.apiGroup: rbac.authorization.k8s.io`.
    pub InvalidRolerefApigroup,
    code = "RG506",
    name = "invalid-roleref-apigroup",
    severity = Low,
    category = Hygiene,
    summary = "A binding's roleRef.apiGroup is not rbac.authorization.k8s.io",
}

impl Rule for InvalidRolerefApigroup {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        for (bi, problem) in &ctx.authz.binding_problems {
            if !matches!(problem, BindingProblem::InvalidApiGroup) {
                continue;
            }
            let b = &ctx.inv.bindings[*bi];
            let group = &b.role_ref.api_group;
            let loc = super::util::line_in_field(ctx, b.role_ref.loc, "apiGroup", group);
            let d = ctx
                .draft(
                    &Self::META,
                    loc,
                    format!(
                        "{} has roleRef.apiGroup `{group}`; only `{RBAC_GROUP}` is valid, so the API server rejects the binding and it grants nothing",
                        b.display()
                    ),
                    format!("Set `roleRef.apiGroup: {RBAC_GROUP}`."),
                )
                .object(b.display())
                .key(group.clone());
            ctx.emit(out, d);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{fires, silent};

    fn rb(group: &str) -> String {
        format!(
            "apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: b, namespace: ci}}
subjects: [{{kind: ServiceAccount, name: runner}}]
roleRef:
  kind: ClusterRole
  name: view
  apiGroup: {group}
"
        )
    }

    #[test]
    fn versioned_group_fires_on_its_line() {
        let f = fires("RG506", &rb("rbac.authorization.k8s.io/v1"));
        assert_eq!(f[0].line, 8);
    }

    #[test]
    fn core_or_other_group_fires() {
        fires("RG506", &rb("v1"));
        fires("RG506", &rb("rbac.example.com"));
    }

    #[test]
    fn empty_defaults_to_rbac() {
        silent("RG506", &rb("\"\""));
        silent("RG506", &rb("rbac.authorization.k8s.io"));
        silent(
            "RG506",
            "apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: b, namespace: ci}
subjects: [{kind: ServiceAccount, name: runner}]
roleRef: {kind: ClusterRole, name: view}
",
        );
    }
}
