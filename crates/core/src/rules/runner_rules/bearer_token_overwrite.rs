use crate::context::Ctx;
use crate::declare_rule;
use crate::report::Finding;
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports `bearer_token_overwrite_allowed = true` in `[runners.kubernetes]`: jobs may set
    /// `KUBERNETES_BEARER_TOKEN` and the runner then talks to the Kubernetes API with the job's
    /// token instead of its own.
    ///
    /// ### Why is this bad
    /// Job authors choose the identity the runner acts as, and have to hold tokens to do so:
    /// long-lived tokens end up in CI/CD variables. (With an in-cluster runner and no `host`,
    /// the mounted token still wins, so the setting mostly signals a token-based setup.)
    ///
    /// ### Example
    /// ```toml
    /// [[runners]]
    ///   [runners.kubernetes]
    ///     bearer_token_overwrite_allowed = true
    /// ```
    ///
    /// ### Fix
    /// Remove the key (default `false`); give each identity its own runner instead.
    pub BearerTokenOverwrite,
    code = "RG305",
    name = "bearer-token-overwrite",
    severity = Medium,
    category = Unsafe,
    summary = "Jobs can replace the runner's API token",
}

impl Rule for BearerTokenOverwrite {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        for r in &ctx.runner.runners {
            let Some(k) = r
                .kube()
                .and_then(|k| k.bearer_token_overwrite_allowed.as_ref())
            else {
                continue;
            };
            if !k.value {
                continue;
            }
            let msg = format!(
                "{}: `bearer_token_overwrite_allowed = true` lets jobs replace the runner's Kubernetes API token with their own (KUBERNETES_BEARER_TOKEN)",
                r.name
            );
            let help = "Remove `bearer_token_overwrite_allowed` (or set it to `false`); register one runner per identity instead of passing tokens through CI/CD variables.".to_string();
            let d = ctx
                .draft(&BearerTokenOverwrite::META, k.loc, msg, help)
                .object(r.name.clone())
                .key("bearer_token_overwrite_allowed");
            ctx.emit(out, d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::util::fixture::runner;
    use crate::rules::testing::{fires, silent};

    #[test]
    fn fires_when_true() {
        let found = fires(
            "RG305",
            &runner("        bearer_token_overwrite_allowed = true\n"),
        );
        assert_eq!(found[0].line, 8);
    }

    #[test]
    fn silent_when_false_or_unset() {
        silent(
            "RG305",
            &runner("        bearer_token_overwrite_allowed = false\n"),
        );
        silent("RG305", &runner(""));
    }
}
