use crate::context::Ctx;
use crate::declare_rule;
use crate::model::{Loc, Origin};
use crate::report::Finding;
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports a runner manager pod that gets no ServiceAccount token: token automounting is off
    /// (on the pod, or on its ServiceAccount, or with the Helm chart's top-level
    /// `automountServiceAccountToken: false`) and no projected `serviceAccountToken` volume
    /// replaces it, while the runner's config has no `host` of its own.
    ///
    /// ### Why is this bad
    /// Without `host`, the runner authenticates in-cluster with the mounted token. No token
    /// means every API call is refused: jobs fail to start, with an error about credentials
    /// rather than about RBAC. The Helm chart's session-server address script fails the same way.
    ///
    /// ### Example
    /// ```yaml
    /// # gitlab-runner Helm values
    /// automountServiceAccountToken: false
    /// rbac:
    ///   create: true
    /// ```
    ///
    /// ### Fix
    /// Mount the token on the runner pod (`automountServiceAccountToken: true`), or add a
    /// projected volume with a `serviceAccountToken` source at
    /// `/var/run/secrets/kubernetes.io/serviceaccount`. Keep automounting off for job pods
    /// (`automount_service_account_token = false` in `[runners.kubernetes]`), not for the manager.
    pub ManagerToken,
    code = "RG204",
    name = "manager-token-unavailable",
    severity = High,
    category = Missing,
    summary = "The runner manager pod has no ServiceAccount token to authenticate with",
}

impl Rule for ManagerToken {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        let mut seen = std::collections::BTreeSet::new();
        for r in &ctx.runner.runners {
            let (Some(wi), Some(manager)) = (r.workload, &r.manager) else {
                continue;
            };
            // Out-of-cluster credentials in the config do not need the pod's token.
            if r.kube().and_then(|k| k.host()).is_some() || !seen.insert(wi) {
                continue;
            }
            let w = &ctx.inv.workloads[wi];
            if !w.projected_tokens.is_empty() {
                continue;
            }
            let ns = w.namespace.as_deref().unwrap_or("default");
            let sa = ctx.service_account(ns, w.service_account_name());
            // The pod's own setting wins over its ServiceAccount's (Kubernetes' rule).
            let (off, loc, why) = match (w.automount, sa.and_then(|s| s.automount)) {
                (Some(false), _) => (
                    true,
                    automount_loc(ctx, w.meta.loc, w.meta.origin == Origin::Helm),
                    "the pod sets `automountServiceAccountToken: false`".to_string(),
                ),
                (None, Some(false)) => (
                    true,
                    sa.and_then(|s| s.automount_loc).unwrap_or(w.meta.loc),
                    format!(
                        "its ServiceAccount `{}` sets `automountServiceAccountToken: false`",
                        w.service_account_name()
                    ),
                ),
                _ => (false, w.meta.loc, String::new()),
            };
            if !off {
                continue;
            }
            let d = ctx
                .draft(
                    &Self::META,
                    loc,
                    format!(
                        "the runner manager pod ({} {}) gets no ServiceAccount token: {why}, and no projected `serviceAccountToken` volume replaces it; the runner authenticates in-cluster, so every API call is refused and jobs fail to start",
                        w.kind, w.meta.name
                    ),
                    "Mount the token on the runner pod (`automountServiceAccountToken: true`, or a projected volume with a `serviceAccountToken` source at /var/run/secrets/kubernetes.io/serviceaccount). Turn automounting off for job pods instead: `automount_service_account_token = false` in `[runners.kubernetes]`.",
                )
                .object(format!("{} {}", w.kind, w.meta.name))
                .identity(manager)
                .key("no-token");
            ctx.emit(out, d);
        }
    }
}

/// For Helm values the setting is the top-level `automountServiceAccountToken` key.
fn automount_loc(ctx: &Ctx, loc: Loc, helm: bool) -> Loc {
    if helm {
        if let Some(h) = ctx.inv.helm_values.iter().find(|h| h.file == loc.file) {
            if let Some(n) = ctx
                .lines(h.file, h.loc.line, h.loc.end_line)
                .find(|(_, t)| t.starts_with("automountServiceAccountToken:"))
                .map(|(n, _)| n)
            {
                return Loc {
                    file: h.file,
                    line: n,
                    col: 1,
                    end_line: n,
                };
            }
        }
    }
    loc
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{fires, silent};

    const DEPLOYMENT: &str = "apiVersion: v1
kind: ServiceAccount
metadata: {name: gitlab-runner, namespace: ci}
AUTOMOUNT
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: gitlab-runner, namespace: ci}
spec:
  template:
    spec:
      serviceAccountName: gitlab-runner
      containers: [{name: r, image: gitlab/gitlab-runner:v18.0.0}]
VOLUMES
";

    fn input(sa: &str, volumes: &str) -> String {
        DEPLOYMENT
            .replace("AUTOMOUNT", sa)
            .replace("VOLUMES", volumes)
    }

    #[test]
    fn fires_when_the_service_account_disables_automount() {
        let f = fires("RG204", &input("automountServiceAccountToken: false", ""));
        assert_eq!(f[0].line, 4);
        assert_eq!(
            f[0].identity.as_deref(),
            Some("system:serviceaccount:ci:gitlab-runner")
        );
    }

    #[test]
    fn silent_with_a_projected_token_volume() {
        silent(
            "RG204",
            &input(
                "automountServiceAccountToken: false",
                "      volumes:\n      - name: token\n        projected:\n          sources:\n          - serviceAccountToken: {path: token, expirationSeconds: 3600}",
            ),
        );
    }

    #[test]
    fn silent_when_the_token_is_mounted() {
        silent("RG204", &input("automountServiceAccountToken: true", ""));
    }

    #[test]
    fn fires_for_helm_values_that_disable_automount() {
        let f = fires(
            "RG204",
            "gitlabUrl: https://gitlab.example.com\nautomountServiceAccountToken: false\nrbac:\n  create: true\n  rules:\n  - resources: [pods]\n    verbs: [create]\n",
        );
        assert_eq!(f[0].line, 2);
    }
}
