use crate::context::Ctx;
use crate::declare_rule;
use crate::report::{Finding, Severity};
use crate::rules::privilege::caps::{self, Cap, Mode, Site, CORE};
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports `create` or `get` on `pods/exec` or `pods/attach` (a WebSocket `exec` is a `get`):
    /// `high` cluster-wide or in `kube-system`, `medium` in another namespace, `low` in the
    /// subject's own namespace. A runner manager's exec and attach in its job namespaces are
    /// what it needs and are not reported.
    ///
    /// ### Why is this bad
    /// Exec runs commands inside a running container: its ServiceAccount token, its mounted
    /// Secrets and its environment (cloud keys, the runner's registration token) belong to
    /// whoever can exec.
    ///
    /// ### Example
    /// ```yaml
    /// kind: RoleBinding   # in namespace gitlab-runner, for confluence/default
    /// roleRef: {kind: Role, name: pod-exec}
    /// ---
    /// kind: Role
    /// rules:
    /// - apiGroups: [""]
    ///   resources: ["pods/exec"]
    ///   verbs: ["create"]
    /// ```
    ///
    /// ### Fix
    /// Grant exec and attach only where the subject's own pods run: for the runner, its job
    /// namespaces.
    pub PodExecScope,
    code = "RG113",
    name = "pod-exec-scope",
    severity = High,
    category = Unsafe,
    summary = "Commands can be run in other pods",
}

impl Rule for PodExecScope {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        caps::run(ctx, out, &Self::META, Mode::Capability, assess);
    }
}

pub const EXEC: &[(&str, &str)] = &[(CORE, "pods/exec"), (CORE, "pods/attach")];

/// Severity of running code inside other pods in the site's scope.
pub(crate) fn exec_severity(site: &Site) -> Severity {
    if site.wide() {
        Severity::High
    } else if site.in_own_namespace() {
        Severity::Low
    } else {
        Severity::Medium
    }
}

pub(crate) fn assess(ctx: &Ctx, site: &Site) -> Option<Cap> {
    let reqs = site.matched(ctx, &["create", "get"], EXEC);
    if reqs.is_empty() {
        return None;
    }
    let own = if site.in_own_namespace() {
        " (its own namespace)"
    } else {
        ""
    };
    let help = if site.is_manager(ctx) {
        format!(
            "The runner manager needs exec and attach only in its job namespaces: bind the rule `{}` with a RoleBinding in each job namespace instead of {}.",
            site.rule.describe(),
            site.scope_text()
        )
    } else {
        format!(
            "{}; grant exec only in the namespace where the subject's own pods run.",
            caps::remove_help(site, &reqs)
        )
    };
    Some(Cap {
        severity: exec_severity(site),
        what: format!(
            "run commands in every pod {}{own} ({}), with those pods' tokens and Secrets",
            site.scope_text(),
            caps::reqs_text(&reqs)
        ),
        power: format!("exec@{}", site.scope_key()),
        help,
    })
}

#[cfg(test)]
mod tests {
    use crate::report::Severity;
    use crate::rules::privilege::caps::fixture::{bound, rule, subject_bound, GITLAB_RUNNER};
    use crate::rules::testing::{fires, run, silent};

    const CODE: &str = "RG113";

    #[test]
    fn cluster_wide_is_high() {
        let r = rule("[\"\"]", "[\"pods/exec\"]", "[\"create\"]");
        assert_eq!(
            fires(CODE, &bound("ClusterRole", "ci", &r))[0].severity,
            Severity::High
        );
    }

    #[test]
    fn another_namespace_is_medium_own_namespace_low() {
        let r = rule("[\"\"]", "[\"pods/exec\"]", "[\"create\"]");
        let other = subject_bound(
            "Role",
            "gitlab-runner",
            &r,
            "- kind: ServiceAccount\n  name: default\n  namespace: confluence",
        );
        assert_eq!(fires(CODE, &other)[0].severity, Severity::Medium);
        assert_eq!(
            fires(CODE, &bound("Role", "apps", &r))[0].severity,
            Severity::Low
        );
    }

    #[test]
    fn websocket_get_counts_and_star_subresource_matches() {
        let r = rule("[\"\"]", "[\"*/attach\"]", "[\"get\"]");
        fires(CODE, &bound("ClusterRole", "ci", &r));
    }

    #[test]
    fn pods_star_and_logs_are_not_exec() {
        silent(
            CODE,
            &bound(
                "ClusterRole",
                "ci",
                &rule(
                    "[\"\"]",
                    "[\"pods/*\", \"pods/log\"]",
                    "[\"get\", \"create\"]",
                ),
            ),
        );
    }

    /// Runner-aware: exec and attach in the job namespace are what the runner needs.
    #[test]
    fn runner_manager_exec_in_job_namespace_is_not_reported() {
        let f = run(CODE, &[("runner.yaml", GITLAB_RUNNER)]);
        assert!(f.is_empty(), "{f:#?}");
    }
}
