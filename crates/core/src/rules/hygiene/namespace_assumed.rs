use crate::context::Ctx;
use crate::declare_rule;
use crate::model::Assumed;
use crate::report::Finding;
use crate::rules::hygiene::util;
use crate::rules::{Rule, RuleMeta};
use crate::settings::DEFAULT_NAMESPACE;

declare_rule! {
    /// ### What it does
    /// Reports namespaced objects (Role, RoleBinding, ServiceAccount, Secret, workloads, a
    /// ConfigMap holding the runner's `config.toml`) written without `metadata.namespace`, and
    /// says where the gate judged them: in namespace `default`, or in the config's
    /// `default-namespace`. Also reports a ServiceAccount subject without a namespace in a
    /// ClusterRoleBinding, which the API server rejects. A ServiceAccount subject without a
    /// namespace in a RoleBinding is fine: it means the binding's namespace, as the RBAC
    /// authorizer reads it (`appliesToUser`).
    ///
    /// ### Why is this bad
    /// `kubectl apply` puts such an object into the namespace of its context (`default` unless
    /// the context or `-n` says otherwise), so the file alone does not say where a Role grants
    /// or where job pods run: applied with another context, the same file grants in another
    /// namespace, perhaps `kube-system`, and the verdict of the gate no longer holds.
    ///
    /// ### Example
    /// ```yaml
    /// apiVersion: rbac.authorization.k8s.io/v1
    /// kind: Role
    /// metadata:
    ///   name: gitlab-runner          # no namespace: wherever kubectl's context points
    /// ```
    ///
    /// ### Fix
    /// Write the namespace into `metadata.namespace`. If the manifests are applied with a
    /// fixed `-n` (kustomize `namespace:`, Helm `--namespace`), set `default-namespace` in
    /// `.rbac-gate.yaml` to it so that the gate judges them where they land.
    pub NamespaceAssumed,
    code = "RG510",
    name = "namespace-assumed",
    severity = Medium,
    category = Hygiene,
    summary = "A namespaced object names no namespace",
}

impl Rule for NamespaceAssumed {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        for a in &ctx.inv.assumed_namespaces {
            let ns = &a.namespace;
            let source = if ns == DEFAULT_NAMESPACE {
                "kubectl's default; `default-namespace` in the config names another"
            } else {
                "the config's `default-namespace`"
            };
            let d = match &a.why {
                Assumed::Object => ctx.draft(
                    &Self::META,
                    util::line_of(ctx, a.loc, "metadata:"),
                    format!(
                        "{} names no namespace: kubectl applies it to the namespace of its context, so it is judged in namespace `{ns}` ({source})",
                        a.object
                    ),
                    format!(
                        "Write `namespace: {ns}` (or the namespace it is meant for) into its metadata, so that the file says where it grants and runs."
                    ),
                ),
                Assumed::ClusterBindingSubject { subject } => ctx.draft(
                    &Self::META,
                    a.loc,
                    format!(
                        "ServiceAccount subject `{subject}` of {} names no namespace: the API server rejects the binding (only a RoleBinding may leave it out); judged as ServiceAccount {ns}/{subject} ({source})",
                        a.object
                    ),
                    format!(
                        "Write the ServiceAccount's namespace into the subject: `namespace: {ns}` if that is where `{subject}` lives."
                    ),
                ),
            };
            ctx.emit(out, d.object(a.object.clone()).key(a.object.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::api::{Options, Source};
    use crate::report::Severity;
    use crate::rules::testing::{fires, run_with, silent};

    const CODE: &str = "RG510";

    const ROLE: &str = "apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: r
rules:
- apiGroups: [\"\"]
  resources: [pods]
  verbs: [get]
";

    #[test]
    fn object_without_namespace_says_default() {
        let f = fires(CODE, ROLE);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Medium);
        assert_eq!(f[0].line, 3, "points at metadata");
        assert!(f[0].message.contains("`default`"), "{}", f[0].message);
        assert_eq!(f[0].object.as_deref(), Some("Role default/r"));
    }

    #[test]
    fn config_names_the_namespace() {
        let options = Options {
            config: Some(Source::new(".rbac-gate.yaml", "default-namespace: ci\n")),
            ..Options::default()
        };
        let f = run_with(CODE, &[("input.yaml", ROLE)], &options);
        assert!(f[0].message.contains("namespace `ci`"), "{}", f[0].message);
        assert!(
            f[0].message.contains("default-namespace"),
            "{}",
            f[0].message
        );
        // The grant is judged there too: a RoleBinding without a namespace binds in `ci`.
        let rb = format!(
            "{ROLE}---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: b}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}}
subjects: [{{kind: ServiceAccount, name: app}}]
"
        );
        let report = crate::check(&[Source::new("input.yaml", rb.as_str())], &options);
        let ids: Vec<&str> = report.identities.iter().map(|i| i.id.as_str()).collect();
        assert!(ids.contains(&"system:serviceaccount:ci:app"), "{ids:?}");
    }

    #[test]
    fn cluster_role_binding_subject_without_namespace_is_reported() {
        let f = fires(
            CODE,
            "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: crb}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects:
- kind: ServiceAccount
  name: app
",
        );
        assert_eq!(f[0].line, 6, "points at the subject");
        assert!(f[0].message.contains("rejects"), "{}", f[0].message);
    }

    #[test]
    fn namespaced_and_cluster_scoped_objects_are_silent() {
        silent(
            CODE,
            "apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rb, namespace: ci}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: ServiceAccount, name: app}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: cr}
rules: []
",
        );
    }
}
