use super::util::{self, managers};
use crate::authz::{resources, Identity, Scope};
use crate::context::Ctx;
use crate::declare_rule;
use crate::engine::JUSTIFICATION;
use crate::model::{BindingKind, Origin};
use crate::report::Finding;
use crate::rules::{Rule, RuleMeta};
use crate::runner::{self, Runner};

declare_rule! {
    /// ### What it does
    /// Reports a ClusterRoleBinding (or Helm `rbac.clusterWideAccess: true`) that gives the
    /// runner manager its permissions in every namespace. Without a feature that needs cluster
    /// scope (`namespace_per_job`, `namespace_overwrite_allowed`, the autoscaler's
    /// PriorityClasses, suspendable environments) it is plain excess; with one it is still
    /// reported, so that the choice is reviewed and justified with an annotation. A
    /// ClusterRoleBinding that grants only the cluster-scoped resources a feature needs (for
    /// example `priorityclasses` for the autoscaler) is the documented pattern and is fine.
    ///
    /// ### Why is this bad
    /// The runner manager creates pods, execs into them and writes Secrets. Cluster-wide, that is
    /// pod creation in `kube-system` and every other namespace: whoever gets the runner's token
    /// (a CI job sharing its identity, a compromised runner pod) owns the cluster.
    ///
    /// ### Example
    /// ```yaml
    /// # Helm values
    /// rbac:
    ///   create: true
    ///   clusterWideAccess: true   # jobs only run in the release namespace
    /// ```
    ///
    /// ### Fix
    /// Bind the runner's role with a RoleBinding in each job namespace (Helm:
    /// `rbac.clusterWideAccess: false`). When jobs legitimately need cluster-wide access,
    /// annotate the ClusterRoleBinding or ClusterRole with
    /// `rbac-gate.dev/justification: "<reason>"`.
    pub ClusterWideScope,
    code = "RG203",
    name = "cluster-wide-scope",
    severity = High,
    category = Unsafe,
    summary = "The runner manager is bound cluster-wide",
}

impl Rule for ClusterWideScope {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        for id in managers(ctx) {
            let Some(r) = ctx.runner.runners_managed_by(id).next() else {
                continue;
            };
            for gi in runner::direct_grants(ctx.authz, id) {
                check_grant(ctx, out, id, r, gi);
            }
        }
    }
}

/// Whether the grant holds nothing namespaced (only cluster-scoped resources or
/// nonResourceURLs): the cluster scope then adds no power inside namespaces, and what it does
/// grant is judged by RG202 and the privilege rules.
fn nothing_namespaced(ctx: &Ctx, gi: usize) -> bool {
    let grant = &ctx.authz.grants[gi];
    ctx.inv.roles[grant.role].rules.iter().all(|rule| {
        !rule.api_groups.iter().any(|g| {
            rule.resources.iter().any(|res| {
                res == "*"
                    || g == "*"
                    || res.starts_with("*/")
                    || resources::namespaced(g, res).unwrap_or(!resources::is_builtin_group(g))
            })
        })
    })
}

fn check_grant(ctx: &Ctx, out: &mut Vec<Finding>, id: &Identity, r: &Runner, gi: usize) {
    let grant = &ctx.authz.grants[gi];
    let Some(bi) = grant.binding else { return };
    let binding = &ctx.inv.bindings[bi];
    if grant.scope != Scope::Cluster || binding.kind != BindingKind::ClusterRoleBinding {
        return;
    }
    if nothing_namespaced(ctx, gi) {
        return;
    }
    let role = &ctx.inv.roles[grant.role];
    let helm = binding.meta.origin == Origin::Helm;
    let helm_key = r
        .helm
        .and_then(|h| ctx.inv.helm_values[h].cluster_wide)
        .filter(|_| helm);
    let loc = helm_key.unwrap_or(binding.meta.loc);
    let via = ctx.authz.via(ctx.inv, gi);
    let what = if helm {
        "`rbac.clusterWideAccess: true` in the Helm values binds".to_string()
    } else {
        via.clone()
    };
    // Any runner of this manager may be the one needing cluster scope.
    let feature = ctx
        .runner
        .runners_managed_by(id)
        .find_map(|x| x.cluster_feature.clone());
    let (message, help) = match &feature {
        None => (
            format!(
                "{what} runner manager `{}` cluster-wide, but no runner feature needs cluster scope: its jobs run only in {}; every permission of {} applies in every namespace, kube-system included",
                id.id(),
                r.job_namespaces_text(),
                role.display()
            ),
            no_feature_help(r, id, helm),
        ),
        Some(feature) => (
            format!(
                "{what} runner manager `{}` cluster-wide; `{feature}` needs cluster scope, so accept it only when jobs legitimately need cluster-wide access, and document why",
                id.id()
            ),
            feature_help(feature, &binding.display(), &role.display(), helm),
        ),
    };
    let d = ctx
        .draft(&ClusterWideScope::META, loc, message, help)
        .object(binding.display())
        .identity(id)
        .key(role.display());
    ctx.emit(out, d);
}

fn no_feature_help(r: &Runner, id: &Identity, helm: bool) -> String {
    if helm {
        return "Set `rbac.clusterWideAccess: false` in the Helm values: the chart then renders a Role and RoleBinding in the job namespace (`runners.jobNamespace`, else the release namespace).".to_string();
    }
    let (sa_ns, sa) = match id {
        Identity::ServiceAccount { namespace, name } => (namespace.as_str(), name.as_str()),
        _ => ("<namespace>", "<name>"),
    };
    let namespaces = match &r.job_namespaces {
        runner::JobNamespaces::Listed(l) => l.clone(),
        runner::JobNamespaces::Any { .. } => vec!["<job-namespace>".to_string()],
    };
    let bindings: String = namespaces
        .iter()
        .map(|ns| {
            format!(
                "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: gitlab-runner\n  namespace: {ns}\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: gitlab-runner\nsubjects:\n- kind: ServiceAccount\n  name: {sa}\n  namespace: {sa_ns}\n"
            )
        })
        .collect();
    let ns0 = namespaces.first().map_or("default", String::as_str);
    format!(
        "Delete the ClusterRoleBinding and grant the runner only in its job namespace(s), with a Role and RoleBinding ({}):\n```yaml\n{}{bindings}```",
        util::runner_profile(r),
        util::minimal_role(r, "gitlab-runner", ns0, false)
    )
}

fn feature_help(feature: &str, binding: &str, role: &str, helm: bool) -> String {
    if helm {
        return format!(
            "`{feature}` needs a ClusterRoleBinding, which the Helm chart renders without annotations: keep `rbac.clusterWideAccess: true` only if jobs legitimately need it, and record the reason as an exception in `.rbac-gate.yaml` (rule RG203, a `reason` and an `expires` date)."
        );
    }
    format!(
        "Keep the cluster scope only if `{feature}` is really used, and say why on {binding} (or {role}):\n```yaml\nmetadata:\n  annotations:\n    {JUSTIFICATION}: \"<reason: e.g. {feature} creates a namespace per job>\"\n    rbac-gate.dev/justification-expires: \"YYYY-MM-DD\"\n```"
    )
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{fires, run, silent};

    fn setup(kube: &str, role_rules: &str, annotations: &str) -> String {
        format!(
            "{}---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: gitlab-runner}}
rules:
{role_rules}---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: gitlab-runner
{annotations}roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: gitlab-runner}}
subjects: [{{kind: ServiceAccount, name: gitlab-runner, namespace: ci}}]
",
            super::util::fixture::runner(kube)
        )
    }

    const PODS: &str = "- apiGroups: [\"\"]\n  resources: [\"pods\", \"pods/exec\", \"pods/attach\", \"secrets\"]\n  verbs: [\"create\", \"get\", \"delete\", \"update\"]\n";

    #[test]
    fn cluster_binding_without_feature_is_high() {
        let found = fires("RG203", &setup("", PODS, ""));
        assert!(
            found[0]
                .message
                .contains("no runner feature needs cluster scope"),
            "{}",
            found[0].message
        );
        assert!(
            found[0].help.contains("kind: RoleBinding"),
            "{}",
            found[0].help
        );
        assert_eq!(found[0].line, 27);
    }

    #[test]
    fn with_namespace_per_job_it_still_fails_until_justified() {
        let found = fires(
            "RG203",
            &setup("        namespace_per_job = true\n", PODS, ""),
        );
        assert!(
            found[0].message.contains("namespace_per_job"),
            "{}",
            found[0].message
        );
        assert!(
            found[0].help.contains("rbac-gate.dev/justification"),
            "{}",
            found[0].help
        );
        let justified = setup(
            "        namespace_per_job = true\n",
            PODS,
            "  annotations:\n    rbac-gate.dev/justification: \"namespace per job\"\n",
        );
        let found = run("RG203", &[("a.yaml", &justified)]);
        assert!(found.iter().all(|f| f.accepted.is_some()), "{found:#?}");
    }

    #[test]
    fn cluster_scoped_resources_only_are_fine() {
        let pc = "- apiGroups: [\"scheduling.k8s.io\"]\n  resources: [\"priorityclasses\"]\n  verbs: [\"create\", \"get\"]\n";
        silent(
            "RG203",
            &setup(
                "        [runners.kubernetes.autoscaler]\n          max_pause_pods = 1\n",
                pc,
                "",
            ),
        );
    }

    #[test]
    fn role_binding_of_a_cluster_role_is_not_cluster_wide() {
        let yaml = setup("", PODS, "").replace(
            "kind: ClusterRoleBinding\nmetadata:\n  name: gitlab-runner\n",
            "kind: RoleBinding\nmetadata:\n  name: gitlab-runner\n  namespace: ci\n",
        );
        silent("RG203", &yaml);
    }

    #[test]
    fn helm_cluster_wide_access() {
        let values = "gitlabUrl: https://gitlab.example.com/
rbac:
  create: true
  clusterWideAccess: true
  rules:
  - resources: [\"pods\"]
    verbs: [\"create\", \"get\", \"delete\"]
runners:
  config: |
    [[runners]]
      [runners.kubernetes]
";
        let found = run("RG203", &[("values.yaml", values)]);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].line, 4);
        assert!(found[0].help.contains("clusterWideAccess: false"));
    }
}
