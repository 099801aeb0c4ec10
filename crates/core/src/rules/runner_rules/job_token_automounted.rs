use super::util::kube_loc;
use crate::authz::Identity;
use crate::context::Ctx;
use crate::declare_rule;
use crate::report::Finding;
use crate::rules::{Rule, RuleMeta};
use crate::runner;

declare_rule! {
    /// ### What it does
    /// Reports a job identity (`service_account`, else the namespace's `default`) that has
    /// RBAC bindings while its token is mounted into job pods: `automount_service_account_token`
    /// is not `false` in `[runners.kubernetes]`, and the ServiceAccount does not opt out with
    /// `automountServiceAccountToken: false` (the runner's setting wins when it is set).
    ///
    /// ### Why is this bad
    /// Build, helper and service containers all get the token, so every CI script (and every
    /// image it pulls) can use what the account is bound to.
    ///
    /// ### Example
    /// ```toml
    /// [[runners]]
    ///   [runners.kubernetes]
    ///     service_account = "deployer"   # bound to a Role; token mounted in every job
    /// ```
    ///
    /// ### Fix
    /// Set `automount_service_account_token = false` in `[runners.kubernetes]` (runner 16.9+)
    /// unless jobs need the Kubernetes API; if they do, keep the account's bindings minimal.
    pub JobTokenAutomounted,
    code = "RG302",
    name = "job-token-automounted",
    severity = Medium,
    category = Unsafe,
    summary = "Job pods get a token with RBAC bindings",
}

impl Rule for JobTokenAutomounted {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        for r in &ctx.runner.runners {
            let Some(j) = &r.jobs else { continue };
            // Sharing the manager's identity is RG301's (worse) finding.
            if r.manager.as_ref() == Some(j) {
                continue;
            }
            let grants = runner::direct_grants(ctx.authz, j);
            if grants.is_empty() || !mounted(ctx, r, j) {
                continue;
            }
            let via: Vec<String> = grants.iter().map(|&g| ctx.authz.via(ctx.inv, g)).collect();
            let key = r.kube().and_then(|k| {
                k.automount_service_account_token
                    .as_ref()
                    .map(|l| l.loc)
                    .or(k.service_account().map(|l| l.loc))
            });
            let msg = format!(
                "job pods of {} mount the token of `{}`, which is bound: {}; every CI script can use it",
                r.name,
                j.id(),
                via.join("; ")
            );
            let help = "Set `automount_service_account_token = false` in `[runners.kubernetes]` (runner 16.9 and later) unless jobs need the Kubernetes API:\n```toml\n[runners.kubernetes]\n  automount_service_account_token = false\n```\nIf jobs do need it, keep the account's bindings to what they use.".to_string();
            let d = ctx
                .draft(&JobTokenAutomounted::META, kube_loc(r, key), msg, help)
                .object(r.name.clone())
                .identity(j)
                .key("automount");
            ctx.emit(out, d);
        }
    }
}

/// The runner sets the pod's `automountServiceAccountToken` only when the key is set;
/// otherwise the ServiceAccount's own setting (default: mounted) applies.
fn mounted(ctx: &Ctx, r: &runner::Runner, j: &Identity) -> bool {
    if let Some(l) = r
        .kube()
        .and_then(|k| k.automount_service_account_token.as_ref())
    {
        return l.value;
    }
    let Identity::ServiceAccount { namespace, name } = j else {
        return true;
    };
    ctx.service_account(namespace, name)
        .and_then(|sa| sa.automount)
        .unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::super::util::fixture::{bound, runner};
    use crate::rules::testing::{fires, silent};

    #[test]
    fn bound_job_account_with_token() {
        let found = fires(
            "RG302",
            &format!(
                "{}{}",
                runner("        service_account = \"jobs\"\n"),
                bound("jobs")
            ),
        );
        assert_eq!(found[0].line, 8);
        assert!(
            found[0].message.contains("RoleBinding ci/r-jobs"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn default_account_with_bindings() {
        fires("RG302", &format!("{}{}", runner(""), bound("default")));
    }

    #[test]
    fn automount_off_in_config() {
        silent(
            "RG302",
            &format!(
                "{}{}",
                runner("        service_account = \"jobs\"\n        automount_service_account_token = false\n"),
                bound("jobs")
            ),
        );
    }

    #[test]
    fn automount_off_on_the_service_account_unless_config_forces_it() {
        let sa = "---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: jobs, namespace: ci}\nautomountServiceAccountToken: false\n";
        silent(
            "RG302",
            &format!(
                "{}{}{sa}",
                runner("        service_account = \"jobs\"\n"),
                bound("jobs")
            ),
        );
        let found = fires(
            "RG302",
            &format!(
                "{}{}{sa}",
                runner("        service_account = \"jobs\"\n        automount_service_account_token = true\n"),
                bound("jobs")
            ),
        );
        assert_eq!(found[0].line, 9);
    }

    #[test]
    fn automount_off_as_a_yaml_1_1_boolean() {
        // kubectl decodes with goyaml.v2, where `no` and `off` are false.
        for no in ["no", "off", "N"] {
            let sa = format!("---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: jobs, namespace: ci}}\nautomountServiceAccountToken: {no}\n");
            let text = format!(
                "{}{}{sa}",
                runner("        service_account = \"jobs\"\n"),
                bound("jobs")
            );
            silent("RG302", &text);
        }
        // Quoted, it is a string (the API server rejects it): the token stays mounted.
        let sa = "---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: jobs, namespace: ci}\nautomountServiceAccountToken: \"no\"\n";
        fires(
            "RG302",
            &format!(
                "{}{}{sa}",
                runner("        service_account = \"jobs\"\n"),
                bound("jobs")
            ),
        );
    }

    #[test]
    fn unbound_job_account_is_silent() {
        silent("RG302", &runner("        service_account = \"jobs\"\n"));
    }
}
