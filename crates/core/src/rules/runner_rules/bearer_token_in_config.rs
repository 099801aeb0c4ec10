use crate::context::Ctx;
use crate::declare_rule;
use crate::report::Finding;
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports a non-empty `bearer_token` in `[runners.kubernetes]` of a runner config
    /// (a `config.toml` file, a ConfigMap or Helm values). The token's value is never printed.
    ///
    /// ### Why is this bad
    /// The token is a credential in plain text, usually a long-lived token of a legacy
    /// `kubernetes.io/service-account-token` Secret: it does not expire, is not bound to a pod,
    /// and anyone who can read the file, the ConfigMap or the repository can use it.
    ///
    /// ### Example
    /// ```toml
    /// [[runners]]
    ///   [runners.kubernetes]
    ///     host = "https://k8s.example.com:6443"
    ///     bearer_token = "eyJhbGciOi..."
    /// ```
    ///
    /// ### Fix
    /// Run the runner in the cluster with a ServiceAccount (its projected token rotates), or
    /// pass the token at runtime (`KUBERNETES_BEARER_TOKEN` from a Secret, not a ConfigMap);
    /// then revoke the exposed token (delete its Secret).
    pub BearerTokenInConfig,
    code = "RG403",
    name = "bearer-token-in-config",
    severity = High,
    category = Unsafe,
    summary = "A Kubernetes bearer token is written in the runner config",
}

impl Rule for BearerTokenInConfig {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        for r in &ctx.runner.runners {
            let Some(loc) = r.kube().and_then(|k| k.bearer_token) else {
                continue;
            };
            let src = r.config.map(|c| &ctx.inv.runner_configs[c]);
            let holder = match src {
                Some(s) if s.configmap.is_some() => {
                    " (a ConfigMap: readable by anyone who may read ConfigMaps in the namespace)"
                }
                Some(s) if s.from_helm => " (Helm values, usually committed to the repository)",
                _ => "",
            };
            let msg = format!(
                "{}: `bearer_token` holds a Kubernetes API token in plain text{holder}; treat it as leaked",
                r.name
            );
            let help = "Remove `bearer_token`: run the runner in the cluster with a ServiceAccount (no `host`; the projected token rotates), or provide the token at runtime through the `KUBERNETES_BEARER_TOKEN` environment variable from a Secret. Then revoke the exposed token by deleting the Secret it came from.".to_string();
            let d = ctx
                .draft(&BearerTokenInConfig::META, loc, msg, help)
                .object(r.name.clone())
                .key("bearer_token");
            ctx.emit(out, d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::util::fixture::runner;
    use crate::rules::testing::{fires, run, silent};

    #[test]
    fn token_in_configmap_never_printed() {
        let found = fires(
            "RG403",
            &runner("        host = \"https://k8s:6443\"\n        bearer_token = \"sup3r-s3cret-t0ken\"\n"),
        );
        assert_eq!((found[0].line, found[0].column), (9, 9));
        assert!(!found[0].message.contains("sup3r") && !found[0].help.contains("sup3r"));
    }

    #[test]
    fn standalone_file() {
        let toml = "[[runners]]\n  executor = \"kubernetes\"\n  [runners.kubernetes]\n    host = \"https://k8s:6443\"\n    bearer_token = \"abc\"\n";
        let found = run("RG403", &[("config.toml", toml)]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].line, 5);
    }

    #[test]
    fn empty_or_absent_token_is_silent() {
        silent("RG403", &runner("        bearer_token = \"\"\n"));
        silent("RG403", &runner("        namespace = \"ci\"\n"));
    }
}
