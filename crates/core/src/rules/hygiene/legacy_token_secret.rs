use crate::authz::Identity;
use crate::context::Ctx;
use crate::declare_rule;
use crate::report::{Finding, Severity};
use crate::rules::hygiene::util;
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports Secrets of `type: kubernetes.io/service-account-token`: legacy, long-lived tokens
    /// for the ServiceAccount named in the `kubernetes.io/service-account.name` annotation.
    /// Severity is `high` when the ServiceAccount is a runner manager or job identity, when it
    /// is named like a runner (`runner` in its name) and no binding in the inputs names it, or
    /// when its bindings give it more than harmless reads (any write, a special verb, reading
    /// secrets, exec/attach/proxy); `medium` otherwise.
    ///
    /// ### Why is this bad
    /// The token controller fills such a Secret with a token that never expires and is not
    /// bound to any pod: whoever reads the Secret (anyone with `get secrets` in the namespace,
    /// a backup, a copy pasted into `config.toml` as `bearer_token` or into a kubeconfig) holds
    /// the ServiceAccount's rights until the Secret is deleted. Kubernetes stopped creating them
    /// automatically in 1.24 and cleans up unused ones since 1.29 for exactly this reason.
    ///
    /// A ServiceAccount named like the runner whose bindings are not in the inputs is judged as
    /// the runner it is named for: its rights live in another repository or were granted by
    /// hand, and a runner's rights (creating pods, exec into them, Secrets) are what the token
    /// hands out. Judging the unseen as harmless would let the token pass for lack of evidence.    ///
    /// ### Example
    /// ```yaml
    /// apiVersion: v1
    /// kind: Secret
    /// metadata:
    ///   name: gitlab-runner-token
    ///   namespace: gitlab-runner
    ///   annotations:
    ///     kubernetes.io/service-account.name: gitlab-runner
    /// type: kubernetes.io/service-account-token
    /// ```
    ///
    /// ### Fix
    /// Delete the Secret. Pods use the automounted projected token (bound to the pod, about one
    /// hour, rotated by the kubelet). A runner outside the cluster gets a short-lived token from
    /// the TokenRequest API, e.g. `kubectl create token gitlab-runner -n gitlab-runner
    /// --duration=1h`, or better an exec credential plugin.
    pub LegacyTokenSecret,
    code = "RG401",
    name = "legacy-token-secret",
    severity = High,
    category = Unsafe,
    summary = "A long-lived ServiceAccount token Secret",
}

const TOKEN_TYPE: &str = "kubernetes.io/service-account-token";

impl Rule for LegacyTokenSecret {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        for secret in ctx.inv.secrets.iter().filter(|s| s.type_ == TOKEN_TYPE) {
            let ns = secret.meta.namespace.as_deref().unwrap_or("default");
            let object = format!("Secret {ns}/{}", secret.meta.name);
            let loc = util::line_of(ctx, secret.meta.loc, TOKEN_TYPE);
            let draft = match secret.service_account.as_deref().filter(|s| !s.is_empty()) {
                Some(sa) => {
                    let id = Identity::sa(ns, sa);
                    let (severity, why) = judge(ctx, &id);
                    ctx.draft(
                        &Self::META,
                        loc,
                        format!(
                            "{object} holds a long-lived token for ServiceAccount {ns}/{sa}{why}; the token never expires and is bound to no pod"
                        ),
                        format!(
                            "Delete {object}. Pods get a bound, rotated token through the automounted projected volume; outside the cluster use a short-lived token from the TokenRequest API (`kubectl create token {sa} -n {ns} --duration=1h`) or an exec credential plugin."
                        ),
                    )
                    .identity(&id)
                    .severity(severity)
                }
                None => ctx
                    .draft(
                        &Self::META,
                        loc,
                        format!(
                            "{object} is a ServiceAccount token Secret without the `kubernetes.io/service-account.name` annotation; the API server rejects it, and once annotated it would hold a long-lived token"
                        ),
                        format!(
                            "Delete {object}; use the automounted projected token, or `kubectl create token <serviceaccount> --duration=1h` for a short-lived one."
                        ),
                    )
                    .severity(Severity::Low),
            };
            ctx.emit(out, draft.object(object.clone()).key("token-secret"));
        }
    }
}

/// High for runner identities and identities with real rights, medium otherwise.
fn judge(ctx: &Ctx, id: &Identity) -> (Severity, &'static str) {
    if ctx.runner.is_manager(id) {
        (Severity::High, ", the runner manager's identity")
    } else if ctx.runner.is_job(id) {
        (Severity::High, ", the identity of CI job pods")
    } else if util::identity_beyond_read(ctx.inv, ctx.authz, id) {
        (Severity::High, ", whose bindings allow more than reading")
    } else if named_like_runner(id) && crate::runner::direct_grants(ctx.authz, id).is_empty() {
        (
            Severity::High,
            ", named like a runner and bound nowhere in the inputs: its rights are unseen, so it is judged as the runner's",
        )
    } else {
        (Severity::Medium, "")
    }
}

/// `gitlab-runner`, `runner-deployer`: the name says the account belongs to a runner.
fn named_like_runner(id: &Identity) -> bool {
    matches!(id, Identity::ServiceAccount { name, .. } if name.to_ascii_lowercase().contains("runner"))
}

#[cfg(test)]
mod tests {
    use crate::report::Severity;
    use crate::rules::testing::{fires, silent};

    const SECRET: &str = "apiVersion: v1
kind: Secret
metadata:
  name: deployer-token
  namespace: ci
  annotations:
    kubernetes.io/service-account.name: deployer
type: kubernetes.io/service-account-token
";

    #[test]
    fn unbound_sa_token_is_medium_and_points_at_type() {
        let f = fires("RG401", SECRET);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Medium);
        assert_eq!(f[0].line, 8);
        assert_eq!(
            f[0].identity.as_deref(),
            Some("system:serviceaccount:ci:deployer")
        );
    }

    #[test]
    fn runner_named_account_without_bindings_is_high() {
        let runner = SECRET.replace("deployer", "gitlab-runner");
        let f = fires("RG401", &runner);
        assert_eq!(f[0].severity, Severity::High);
        assert!(
            f[0].message.contains("named like a runner"),
            "{}",
            f[0].message
        );
        // Another account without bindings stays medium (`unbound_sa_token_is_medium...`).
    }

    #[test]
    fn read_only_bindings_stay_medium() {
        let yaml = format!(
            "{SECRET}---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: ro}}
subjects: [{{kind: ServiceAccount, name: deployer, namespace: ci}}]
roleRef: {{kind: ClusterRole, name: ro, apiGroup: rbac.authorization.k8s.io}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: ro}}
rules:
- apiGroups: [\"*\"]
  resources: [pods, roles]
  verbs: [get, list]
"
        );
        assert_eq!(fires("RG401", &yaml)[0].severity, Severity::Medium);
    }

    #[test]
    fn write_or_secret_read_bindings_are_high() {
        for (res, verbs) in [
            ("pods", "[create]"),
            ("secrets", "[get]"),
            ("pods/exec", "[get]"),
        ] {
            let yaml = format!(
                "{SECRET}---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: rw, namespace: ci}}
subjects: [{{kind: ServiceAccount, name: deployer}}]
roleRef: {{kind: Role, name: rw, apiGroup: rbac.authorization.k8s.io}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: rw, namespace: ci}}
rules:
- apiGroups: [\"\"]
  resources: [{res}]
  verbs: {verbs}
"
            );
            assert_eq!(fires("RG401", &yaml)[0].severity, Severity::High, "{res}");
        }
    }

    #[test]
    fn same_name_in_another_namespace_is_another_identity() {
        // The write grant is for ops/deployer, not ci/deployer.
        let yaml = format!(
            "{SECRET}---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: rw}}
subjects: [{{kind: ServiceAccount, name: deployer, namespace: ops}}]
roleRef: {{kind: ClusterRole, name: edit, apiGroup: rbac.authorization.k8s.io}}
"
        );
        assert_eq!(fires("RG401", &yaml)[0].severity, Severity::Medium);
    }

    #[test]
    fn ineffective_grant_does_not_raise_severity() {
        // nodes in a Role grants nothing.
        let yaml = format!(
            "{SECRET}---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: rw, namespace: ci}}
subjects: [{{kind: ServiceAccount, name: deployer}}]
roleRef: {{kind: Role, name: rw, apiGroup: rbac.authorization.k8s.io}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: rw, namespace: ci}}
rules:
- apiGroups: [\"\"]
  resources: [nodes]
  verbs: [delete]
"
        );
        assert_eq!(fires("RG401", &yaml)[0].severity, Severity::Medium);
    }

    #[test]
    fn other_secrets_are_silent() {
        silent(
            "RG401",
            "apiVersion: v1
kind: Secret
metadata: {name: registry, namespace: ci}
type: kubernetes.io/dockerconfigjson
",
        );
        silent(
            "RG401",
            "apiVersion: v1
kind: Secret
metadata:
  name: opaque
  annotations:
    kubernetes.io/service-account.name: deployer
",
        );
    }

    #[test]
    fn message_never_carries_the_token() {
        let yaml = format!("{SECRET}data:\n  token: c3VwZXJzZWNyZXQ=\n");
        let f = fires("RG401", &yaml);
        assert!(!f[0].message.contains("c3VwZXJzZWNyZXQ="));
        assert!(!f[0].help.contains("c3VwZXJzZWNyZXQ="));
    }
}
