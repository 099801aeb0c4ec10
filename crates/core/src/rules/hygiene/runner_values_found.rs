use crate::context::Ctx;
use crate::declare_rule;
use crate::report::Finding;
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Notes where gitlab-runner chart values were found when they are not a plain values file
    /// of the chart: under a dependency key of a wrapper or umbrella chart (`gitlab-runner:`,
    /// an alias), under GitLab's own chart, inside a Flux `HelmRelease` or an Argo CD
    /// `Application`, or under any other top-level key whose values have the chart's shape
    /// (`upstream:`). Those values are judged as the gitlab-runner chart renders them.
    ///
    /// ### Why is this bad
    /// It is not: it is information. A runner deployed from values nested under another key is
    /// easy to miss in review, and the findings about it name the rendered objects (the
    /// Deployment, the Role), not the key; this note says which values they came from.
    ///
    /// ### Example
    /// ```yaml
    /// upstream:              # a wrapper's values for the gitlab-runner chart
    ///   rbac:
    ///     create: true
    /// ```
    ///
    /// ### Fix
    /// Nothing to fix. If the values are not meant for gitlab-runner, rename the keys so that
    /// they no longer look like the chart's (`runners`, `rbac`, `gitlabUrl`).
    pub RunnerValuesFound,
    code = "RG511",
    name = "runner-values-found",
    severity = Info,
    category = Hygiene,
    summary = "gitlab-runner values found nested in another object or key",
}

impl Rule for RunnerValuesFound {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        for values in &ctx.inv.helm_values {
            let Some(via) = &values.via else {
                continue;
            };
            let d = ctx
                .draft(
                    &Self::META,
                    values.loc,
                    format!(
                        "gitlab-runner chart values found: {via}; judged as the gitlab-runner chart renders them (release namespace `{}`)",
                        values.release_namespace
                    ),
                    "Nothing to fix; the findings about the rendered objects come from these values.",
                )
                .key(via.clone());
            ctx.emit(out, d);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{run, silent};

    #[test]
    fn values_under_another_key_are_named() {
        let values = "upstream:\n  gitlabUrl: https://gitlab.example.com/\n  rbac:\n    create: true\n  runners:\n    config: |\n      [[runners]]\n        [runners.kubernetes]\n          namespace = \"ci\"\n";
        let found = run("RG511", &[("values.yaml", values)]);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            found[0].message.contains("upstream"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn a_plain_values_file_needs_no_note() {
        silent(
            "RG511",
            "gitlabUrl: https://gitlab.example.com/\nrbac:\n  create: true\nrunners:\n  config: |\n    [[runners]]\n      [runners.kubernetes]\n        namespace = \"ci\"\n",
        );
    }
}
