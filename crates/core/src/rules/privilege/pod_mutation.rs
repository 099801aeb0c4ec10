use crate::context::Ctx;
use crate::declare_rule;
use crate::report::{Finding, Severity};
use crate::rules::privilege::caps::{self, Cap, Mode, Site, CORE};
use crate::rules::privilege::pod_exec_scope::exec_severity;
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports `update` or `patch` on running pods: on `pods` it is `medium` cluster-wide or in
    /// `kube-system` and `low` in one namespace; on `pods/ephemeralcontainers` it is as severe
    /// as exec (`high` cluster-wide, `medium` in another namespace, `low` in the subject's own).
    ///
    /// ### Why is this bad
    /// Patching a pod swaps a container's image: the new image runs with the pod's
    /// ServiceAccount, volumes and Secrets. An ephemeral container is a debug container added to
    /// a running pod: exec under another name.
    ///
    /// ### Example
    /// ```yaml
    /// kind: ClusterRole
    /// rules:
    /// - apiGroups: ["*"]
    ///   resources: ["pods"]
    ///   verbs: ["update", "patch", "get"]
    /// ```
    ///
    /// ### Fix
    /// Remove `update` and `patch` on pods; controllers change pods through their owners
    /// (Deployments), and the runner never patches pods.
    pub PodMutation,
    code = "RG114",
    name = "pod-mutation",
    severity = Medium,
    category = Unsafe,
    summary = "Running pods can be changed",
}

impl Rule for PodMutation {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        caps::run(ctx, out, &Self::META, Mode::Capability, assess);
    }
}

pub(crate) fn assess(ctx: &Ctx, site: &Site) -> Option<Cap> {
    let pods = site.matched(ctx, &["update", "patch"], &[(CORE, "pods")]);
    let ephemeral = site.matched(
        ctx,
        &["update", "patch"],
        &[(CORE, "pods/ephemeralcontainers")],
    );
    if pods.is_empty() && ephemeral.is_empty() {
        return None;
    }
    let mut severity = Severity::Info;
    if !pods.is_empty() {
        severity = site.pick(Severity::Medium, Severity::Low);
    }
    if !ephemeral.is_empty() {
        severity = severity.max(exec_severity(site));
    }
    let reqs: Vec<_> = pods.iter().chain(ephemeral.iter()).copied().collect();
    Some(Cap {
        severity,
        what: format!(
            "change running pods {} ({}): swap a container image or add a debug container, and run code as the pod's ServiceAccount",
            site.scope_text(),
            caps::reqs_text(&reqs)
        ),
        power: format!("pod-mutation@{}", site.scope_key()),
        help: format!(
            "{}; change pods through their Deployments instead (the runner never patches pods).",
            caps::remove_help(site, &reqs)
        ),
    })
}

#[cfg(test)]
mod tests {
    use crate::report::Severity;
    use crate::rules::privilege::caps::fixture::{bound, rule};
    use crate::rules::testing::{fires, silent};

    const CODE: &str = "RG114";

    #[test]
    fn patch_pods_cluster_wide_is_medium() {
        let r = rule("[\"*\"]", "[\"pods\"]", "[\"update\", \"patch\", \"get\"]");
        assert_eq!(
            fires(CODE, &bound("ClusterRole", "ci", &r))[0].severity,
            Severity::Medium
        );
        assert_eq!(
            fires(CODE, &bound("Role", "ci", &r))[0].severity,
            Severity::Low
        );
    }

    #[test]
    fn ephemeral_containers_cluster_wide_are_high() {
        let r = rule("[\"\"]", "[\"pods/ephemeralcontainers\"]", "[\"patch\"]");
        assert_eq!(
            fires(CODE, &bound("ClusterRole", "ci", &r))[0].severity,
            Severity::High
        );
    }

    #[test]
    fn delete_and_status_are_not_mutation_of_the_spec() {
        silent(
            CODE,
            &bound(
                "ClusterRole",
                "ci",
                &rule("[\"\"]", "[\"pods\", \"pods/status\"]", "[\"delete\"]"),
            ),
        );
        silent(
            CODE,
            &bound(
                "ClusterRole",
                "ci",
                &rule("[\"\"]", "[\"pods/status\"]", "[\"patch\"]"),
            ),
        );
    }
}
