use crate::context::Ctx;
use crate::declare_rule;
use crate::report::Finding;
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports kubeconfig clusters with `insecure-skip-tls-verify: true`.
    ///
    /// ### Why is this bad
    /// The client no longer checks the API server's certificate, so anyone on the network path
    /// (a compromised node, a proxy, DNS spoofing) can pose as the API server and collect the
    /// credentials the client sends, including bearer tokens, and feed it false answers.
    ///
    /// ### Example
    /// ```yaml
    /// clusters:
    /// - name: prod
    ///   cluster:
    ///     server: https://k8s.example.com
    ///     insecure-skip-tls-verify: true
    /// ```
    ///
    /// ### Fix
    /// Remove `insecure-skip-tls-verify` and set `certificate-authority-data` (base64 of the
    /// cluster CA, e.g. from `kubectl config view --raw --minify`) or `certificate-authority`.
    pub InsecureSkipTlsVerify,
    code = "RG405",
    name = "insecure-skip-tls-verify",
    severity = Medium,
    category = Unsafe,
    summary = "A kubeconfig skips TLS verification of the API server",
}

impl Rule for InsecureSkipTlsVerify {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        for kc in &ctx.inv.kubeconfigs {
            for (cluster, loc) in &kc.insecure_clusters {
                let d = ctx
                    .draft(
                        &Self::META,
                        *loc,
                        format!(
                            "kubeconfig cluster `{cluster}` sets `insecure-skip-tls-verify: true`: the API server's certificate is not checked, so credentials can be sent to an impostor"
                        ),
                        format!(
                            "Remove `insecure-skip-tls-verify` from cluster `{cluster}` and set `certificate-authority-data` to the base64 of the cluster CA certificate."
                        ),
                    )
                    .object(format!("kubeconfig cluster {cluster}"))
                    .key(cluster.clone());
                ctx.emit(out, d);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{fires, silent};

    #[test]
    fn fires_on_true() {
        let f = fires(
            "RG405",
            "apiVersion: v1
kind: Config
clusters:
- name: dev
  cluster:
    server: https://10.0.0.1:6443
    insecure-skip-tls-verify: true
",
        );
        assert_eq!(f[0].line, 7);
        assert!(f[0].message.contains("`dev`"));
    }

    #[test]
    fn silent_on_false_or_quoted() {
        silent(
            "RG405",
            "apiVersion: v1
kind: Config
clusters:
- name: dev
  cluster:
    server: https://10.0.0.1:6443
    insecure-skip-tls-verify: false
    certificate-authority-data: REDACTED
",
        );
    }
}
