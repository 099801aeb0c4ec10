use crate::context::Ctx;
use crate::declare_rule;
use crate::report::{Finding, Severity};
use crate::rules::privilege::caps::{self, Cap, Mode, Site, CORE, KUBE_SYSTEM, WORKLOADS};
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports who can run pods: `create` on `pods`, or create, update or patch on a workload
    /// (Deployments, DaemonSets, StatefulSets, ReplicaSets, Jobs, CronJobs,
    /// ReplicationControllers). `high` cluster-wide or in `kube-system`, `medium` in one
    /// namespace. A runner manager's `create pods` in its job namespaces is what it needs and
    /// is not reported; anywhere else it is.
    ///
    /// ### Why is this bad
    /// Whoever creates a pod chooses its `serviceAccountName`, so it acts as every
    /// ServiceAccount of the namespace, and (unless Pod Security Admission stops it) mounts the
    /// node's filesystem or runs privileged. In `kube-system` that means the controllers'
    /// ServiceAccounts, which can do almost anything.
    ///
    /// ### Example
    /// ```yaml
    /// kind: ClusterRole   # bound with a ClusterRoleBinding
    /// rules:
    /// - apiGroups: [""]
    ///   resources: ["pods"]
    ///   verbs: ["create"]
    /// ```
    ///
    /// ### Fix
    /// Grant pod creation with a RoleBinding in the runner's job namespace only
    /// (`[runners.kubernetes] namespace`), a namespace that holds no privileged ServiceAccount.
    pub WorkloadCreationScope,
    code = "RG112",
    name = "workload-creation-scope",
    severity = High,
    category = Unsafe,
    summary = "Pods can be created cluster-wide or in a sensitive namespace",
}

impl Rule for WorkloadCreationScope {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        caps::run(ctx, out, &Self::META, Mode::Capability, assess);
    }
}

pub(crate) fn assess(ctx: &Ctx, site: &Site) -> Option<Cap> {
    let mut reqs = site.matched(ctx, &["create"], &[(CORE, "pods")]);
    reqs.extend(site.matched(ctx, &["create", "update", "patch"], WORKLOADS));
    if reqs.is_empty() {
        return None;
    }
    let scope = site.scope_text();
    let whom = if site.ns() == Some(KUBE_SYSTEM) {
        "any ServiceAccount of `kube-system`, the controllers' included".to_string()
    } else {
        format!("any ServiceAccount {scope}")
    };
    let help = if site.is_manager(ctx) {
        let workloads = if reqs.iter().any(|r| r.resource != "pods") {
            "; drop the workload verbs unless `[runners.kubernetes.autoscaler]` is used (it needs `deployments.apps` only)"
        } else {
            ""
        };
        format!(
            "The runner manager needs `create` on `pods` only in its job namespaces: bind the rule `{}` with a RoleBinding in each job namespace (`[runners.kubernetes] namespace`) instead of {scope}{workloads}.",
            site.rule.describe()
        )
    } else {
        format!(
            "{}, or grant them with a RoleBinding in one namespace that holds no privileged ServiceAccount.",
            caps::remove_help(site, &reqs)
        )
    };
    Some(Cap {
        severity: site.pick(Severity::High, Severity::Medium),
        what: format!("run pods as {whom} ({})", caps::reqs_text(&reqs)),
        power: format!("run-pods@{}", site.scope_key()),
        help,
    })
}

#[cfg(test)]
mod tests {
    use crate::report::Severity;
    use crate::rules::privilege::caps::fixture::{bound, cluster_role_in, rule, GITLAB_RUNNER};
    use crate::rules::testing::{fires, run, silent};

    const CODE: &str = "RG112";

    #[test]
    fn pods_create_cluster_wide_or_in_kube_system_is_high() {
        let r = rule(
            "[\"\"]",
            "[\"nodes/proxy\", \"pods\"]",
            "[\"create\", \"list\"]",
        );
        assert_eq!(
            fires(CODE, &bound("ClusterRole", "ci", &r))[0].severity,
            Severity::High
        );
        assert_eq!(
            fires(CODE, &bound("Role", "kube-system", &r))[0].severity,
            Severity::High
        );
    }

    #[test]
    fn pods_create_in_one_namespace_is_medium() {
        let r = rule("[\"\"]", "[\"pods\"]", "[\"create\"]");
        assert_eq!(
            fires(CODE, &cluster_role_in("apps", &r))[0].severity,
            Severity::Medium
        );
    }

    #[test]
    fn workload_template_changes_count() {
        let r = rule("[\"apps\"]", "[\"deployments\"]", "[\"patch\"]");
        let f = fires(CODE, &bound("ClusterRole", "ci", &r));
        assert!(
            f[0].message.contains("patch on deployments.apps"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn wrong_group_or_read_only_is_silent() {
        silent(
            CODE,
            &bound(
                "ClusterRole",
                "ci",
                &rule(
                    "[\"rbac.authorization.k8s.io\"]",
                    "[\"pods\"]",
                    "[\"create\"]",
                ),
            ),
        );
        silent(
            CODE,
            &bound(
                "ClusterRole",
                "ci",
                &rule(
                    "[\"\", \"apps\"]",
                    "[\"pods\", \"deployments\"]",
                    "[\"get\", \"list\", \"delete\"]",
                ),
            ),
        );
        silent(
            CODE,
            &bound(
                "ClusterRole",
                "ci",
                &rule("[\"apps\"]", "[\"pods\"]", "[\"create\"]"),
            ),
        );
    }

    /// GitLab's documented runner Role, bound to the runner's ServiceAccount, with the runner
    /// Deployment using it: creating pods in the job namespace is what the runner needs.
    /// (Runner-aware: passes once the runner model recognises the Deployment.)
    #[test]
    fn runner_manager_pods_create_in_job_namespace_is_not_reported() {
        let f = run(CODE, &[("runner.yaml", GITLAB_RUNNER)]);
        assert!(f.is_empty(), "{f:#?}");
    }
}
