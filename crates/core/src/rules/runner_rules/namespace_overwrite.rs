use crate::context::Ctx;
use crate::declare_rule;
use crate::report::Finding;
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports `namespace_overwrite_allowed` in `[runners.kubernetes]`: jobs may choose the
    /// namespace their pod runs in with `KUBERNETES_NAMESPACE_OVERWRITE`, among the names the
    /// regular expression allows.
    ///
    /// ### Why is this bad
    /// The runner must then hold its pod and Secret permissions in every namespace the
    /// expression matches, usually through a ClusterRoleBinding, and jobs can land next to
    /// workloads of other teams, with their `default` ServiceAccounts and Secrets.
    ///
    /// ### Example
    /// ```toml
    /// [[runners]]
    ///   [runners.kubernetes]
    ///     namespace_overwrite_allowed = "ci-.*"
    /// ```
    ///
    /// ### Fix
    /// Remove the key and use a fixed `namespace`; for isolation per job, prefer
    /// `namespace_per_job`, or one runner per namespace. If kept, anchor the expression
    /// (`^ci-[a-z0-9-]+$`) and grant the runner only in those namespaces.
    pub NamespaceOverwrite,
    code = "RG304",
    name = "namespace-overwrite",
    severity = Medium,
    category = Unsafe,
    summary = "Jobs can choose their namespace",
}

impl Rule for NamespaceOverwrite {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        for r in &ctx.runner.runners {
            let Some(k) = r.kube().and_then(|k| k.namespace_overwrite()) else {
                continue;
            };
            let anchored = k.value.starts_with('^') && k.value.ends_with('$');
            let msg = format!(
                "{}: `namespace_overwrite_allowed = \"{}\"` lets every job choose its namespace (KUBERNETES_NAMESPACE_OVERWRITE){}; the runner needs its permissions in each of them",
                r.name,
                k.value,
                if anchored { "" } else { "; the expression is not anchored with ^...$, so it matches any namespace containing it" }
            );
            let help = "Remove `namespace_overwrite_allowed` and set a fixed `namespace` (or `namespace_per_job = true` for a fresh namespace per job). If jobs must choose, anchor the expression, e.g. `namespace_overwrite_allowed = \"^ci-[a-z0-9-]+$\"`, and bind the runner only in those namespaces.".to_string();
            let d = ctx
                .draft(&NamespaceOverwrite::META, k.loc, msg, help)
                .object(r.name.clone())
                .key("namespace_overwrite_allowed");
            ctx.emit(out, d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::util::fixture::runner;
    use crate::rules::testing::{fires, silent};

    #[test]
    fn fires_on_the_key() {
        let found = fires(
            "RG304",
            &runner("        namespace_overwrite_allowed = \"ci-.*\"\n"),
        );
        assert_eq!(found[0].line, 8);
        assert!(found[0].message.contains("not anchored"));
    }

    #[test]
    fn unset_is_silent() {
        silent("RG304", &runner("        namespace = \"ci\"\n"));
    }
}
