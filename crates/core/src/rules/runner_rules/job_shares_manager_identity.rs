use super::util::kube_loc;
use crate::authz::Identity;
use crate::context::Ctx;
use crate::declare_rule;
use crate::report::Finding;
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports a runner whose job pods run as the runner manager's own ServiceAccount:
    /// `service_account` in `[runners.kubernetes]` names the manager's account, or both use
    /// the `default` ServiceAccount of the same namespace (no `service_account` set and the
    /// runner deployed without one).
    ///
    /// ### Why is this bad
    /// Every CI script then holds the manager's token: it can create pods, exec into other
    /// jobs' pods and read or write the registry Secrets of other jobs in the namespace. Any
    /// developer who can push a `.gitlab-ci.yml` gets the runner's rights.
    ///
    /// ### Example
    /// ```toml
    /// [[runners]]
    ///   [runners.kubernetes]
    ///     namespace = "gitlab-runner"
    ///     service_account = "gitlab-runner"   # the manager's own account
    /// ```
    ///
    /// ### Fix
    /// Create a separate ServiceAccount for jobs, with no bindings (or only what the jobs
    /// need), and set `service_account = "<jobs-sa>"` and
    /// `automount_service_account_token = false` in `[runners.kubernetes]`.
    pub JobSharesManagerIdentity,
    code = "RG301",
    name = "job-shares-manager-identity",
    severity = High,
    category = Unsafe,
    summary = "Job pods run as the runner manager's identity",
}

impl Rule for JobSharesManagerIdentity {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        for r in &ctx.runner.runners {
            let (Some(m), Some(j)) = (&r.manager, &r.jobs) else {
                continue;
            };
            if m != j {
                continue;
            }
            let Identity::ServiceAccount { namespace, name } = j else {
                continue;
            };
            let sa_key = r.kube().and_then(|k| k.service_account()).map(|l| l.loc);
            let how = if sa_key.is_some() {
                format!("`service_account = \"{name}\"` is the manager's own ServiceAccount")
            } else if name == "default" {
                format!("no `service_account` is set, so jobs use `default`, which the runner manager also runs as ({})", r.manager_via)
            } else {
                format!("the gate's settings name `{}` as both", j.id())
            };
            let rights = if ctx.authz.grants_of(m).is_empty() {
                "every CI script gets whatever the runner is granted (create pods, exec into other jobs, read their Secrets)"
            } else {
                "every CI script can use the runner's grants (create pods, exec into other jobs, read their Secrets)"
            };
            let msg = format!(
                "job pods of {} run as the runner manager's identity `{}`: {how}; {rights}",
                r.name,
                j.id()
            );
            let help = format!(
                "Give jobs their own ServiceAccount without bindings, and use it in `[runners.kubernetes]`:\n```yaml\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: gitlab-runner-jobs\n  namespace: {namespace}\nautomountServiceAccountToken: false\n```\n```toml\n[runners.kubernetes]\n  service_account = \"gitlab-runner-jobs\"\n  automount_service_account_token = false\n```"
            );
            let d = ctx
                .draft(
                    &JobSharesManagerIdentity::META,
                    kube_loc(r, sa_key),
                    msg,
                    help,
                )
                .object(r.name.clone())
                .identity(j)
                .key("shared");
            ctx.emit(out, d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::util::fixture::runner;
    use crate::rules::testing::{fires, silent};

    #[test]
    fn service_account_is_the_managers() {
        let found = fires(
            "RG301",
            &runner("        service_account = \"gitlab-runner\"\n"),
        );
        assert_eq!(found[0].line, 8);
        assert_eq!(
            found[0].identity.as_deref(),
            Some("system:serviceaccount:ci:gitlab-runner")
        );
    }

    #[test]
    fn both_default() {
        let yaml = runner("").replace("      serviceAccountName: gitlab-runner\n", "");
        let found = fires("RG301", &yaml);
        assert!(
            found[0].message.contains("`default`"),
            "{}",
            found[0].message
        );
        // Points at the [runners.kubernetes] header inside the ConfigMap.
        assert_eq!(found[0].line, 7);
    }

    #[test]
    fn separate_job_account_is_silent() {
        silent("RG301", &runner("        service_account = \"jobs\"\n"));
        silent("RG301", &runner(""));
    }

    #[test]
    fn same_name_in_another_namespace_is_another_identity() {
        silent(
            "RG301",
            &runner(
                "        namespace = \"builds\"\n        service_account = \"gitlab-runner\"\n",
            ),
        );
    }
}
