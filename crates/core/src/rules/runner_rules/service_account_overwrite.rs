use crate::context::Ctx;
use crate::declare_rule;
use crate::report::Finding;
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports `service_account_overwrite_allowed` in `[runners.kubernetes]`: jobs may pick the
    /// ServiceAccount their pod runs as with `KUBERNETES_SERVICE_ACCOUNT_OVERWRITE`, among the
    /// names the regular expression allows.
    ///
    /// ### Why is this bad
    /// Whoever writes `.gitlab-ci.yml` chooses the identity: any ServiceAccount in the job
    /// namespace that the expression matches, the runner manager's own or a deployer's
    /// included, with all its RBAC.
    ///
    /// ### Example
    /// ```toml
    /// [[runners]]
    ///   [runners.kubernetes]
    ///     service_account_overwrite_allowed = ".*"
    /// ```
    ///
    /// ### Fix
    /// Remove the key and set a fixed `service_account`. If projects truly need different
    /// identities, register one runner per identity (tags select it), or anchor the expression
    /// to a short list (`^(build|test)-jobs$`) of accounts that hold only what jobs need.
    pub ServiceAccountOverwrite,
    code = "RG303",
    name = "service-account-overwrite",
    severity = High,
    category = Unsafe,
    summary = "Jobs can choose their ServiceAccount",
}

impl Rule for ServiceAccountOverwrite {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        for r in &ctx.runner.runners {
            let Some(k) = r.kube().and_then(|k| k.service_account_overwrite()) else {
                continue;
            };
            let msg = format!(
                "{}: `service_account_overwrite_allowed = \"{}\"` lets every job choose the ServiceAccount its pod runs as (KUBERNETES_SERVICE_ACCOUNT_OVERWRITE) in {}",
                r.name,
                k.value,
                r.job_namespaces_text()
            );
            let help = "Remove `service_account_overwrite_allowed` and set a fixed `service_account` for jobs; for several identities, register one runner per identity and select it with tags.".to_string();
            let d = ctx
                .draft(&ServiceAccountOverwrite::META, k.loc, msg, help)
                .object(r.name.clone())
                .key("service_account_overwrite_allowed");
            ctx.emit(out, d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::util::fixture::runner;
    use crate::rules::testing::{fires, silent};

    #[test]
    fn fires_on_the_key_in_the_configmap() {
        let found = fires(
            "RG303",
            &runner(
                "        namespace = \"ci\"\n        service_account_overwrite_allowed = \".*\"\n",
            ),
        );
        assert_eq!((found[0].line, found[0].column), (9, 9));
    }

    #[test]
    fn empty_expression_disables_it() {
        silent(
            "RG303",
            &runner("        service_account_overwrite_allowed = \"\"\n"),
        );
        silent("RG303", &runner(""));
    }

    #[test]
    fn standalone_config_toml() {
        let toml = "[[runners]]\n  executor = \"kubernetes\"\n  [runners.kubernetes]\n    service_account_overwrite_allowed = \"^ci-.*$\"\n";
        let found = crate::rules::testing::run("RG303", &[("config.toml", toml)]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].line, 4);
    }
}
