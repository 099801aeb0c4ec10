use crate::context::Ctx;
use crate::declare_rule;
use crate::report::{Finding, Severity};
use crate::rules::privilege::caps::{self, Cap, Mode, Site, ADMISSION, WRITE};
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports create, update, patch or delete on `validatingwebhookconfigurations` or
    /// `mutatingwebhookconfigurations` (admissionregistration.k8s.io). They are cluster-scoped:
    /// only ClusterRoleBindings count.
    ///
    /// ### Why is this bad
    /// A mutating webhook sees, and can rewrite, every object sent to the API server, Secrets
    /// included: it can add a privileged container to every new pod. Deleting or loosening a
    /// validating webhook switches off the policy engine that guards the cluster.
    ///
    /// ### Example
    /// ```yaml
    /// kind: ClusterRole
    /// rules:
    /// - apiGroups: ["admissionregistration.k8s.io"]
    ///   resources: ["validatingwebhookconfigurations"]
    ///   verbs: ["patch"]
    /// ```
    ///
    /// ### Fix
    /// Keep webhook configuration writes with the operator that owns the webhook, restricted
    /// with `resourceNames` to its own configuration.
    pub WebhookWrite,
    code = "RG111",
    name = "webhook-write",
    severity = High,
    category = Unsafe,
    summary = "Admission webhooks can be changed",
}

impl Rule for WebhookWrite {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        caps::run(ctx, out, &Self::META, Mode::Capability, assess);
    }
}

const WEBHOOKS: &[(&str, &str)] = &[
    (ADMISSION, "validatingwebhookconfigurations"),
    (ADMISSION, "mutatingwebhookconfigurations"),
];

pub(crate) fn assess(ctx: &Ctx, site: &Site) -> Option<Cap> {
    let reqs = site.matched(ctx, WRITE, WEBHOOKS);
    if reqs.is_empty() {
        return None;
    }
    Some(Cap {
        severity: Severity::High,
        what: format!(
            "change admission webhooks ({}): intercept or rewrite every object sent to the API server, or switch policy enforcement off",
            caps::reqs_text(&reqs)
        ),
        power: "webhook-write".to_string(),
        help: format!(
            "{}; only the operator that owns a webhook should write its configuration, restricted with `resourceNames`.",
            caps::remove_help(site, &reqs)
        ),
    })
}

#[cfg(test)]
mod tests {
    use crate::rules::privilege::caps::fixture::{bound, rule};
    use crate::rules::testing::{fires, silent};

    const CODE: &str = "RG111";

    #[test]
    fn patch_fires() {
        fires(
            CODE,
            &bound(
                "ClusterRole",
                "ops",
                &rule(
                    "[\"admissionregistration.k8s.io\"]",
                    "[\"validatingwebhookconfigurations\"]",
                    "[\"patch\"]",
                ),
            ),
        );
    }

    #[test]
    fn read_only_and_roles_are_silent() {
        silent(
            CODE,
            &bound(
                "ClusterRole",
                "ops",
                &rule(
                    "[\"*\"]",
                    "[\"validatingwebhookconfigurations\"]",
                    "[\"get\", \"list\", \"watch\"]",
                ),
            ),
        );
        silent(
            CODE,
            &bound(
                "Role",
                "ops",
                &rule(
                    "[\"admissionregistration.k8s.io\"]",
                    "[\"mutatingwebhookconfigurations\"]",
                    "[\"*\"]",
                ),
            ),
        );
    }
}
