use crate::context::Ctx;
use crate::declare_rule;
use crate::report::Finding;
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports `privileged = true` in `[runners.kubernetes]`: every build, helper and service
    /// container of every job runs privileged.
    ///
    /// ### Why is this bad
    /// A privileged container has all capabilities and the host's devices: a CI script can
    /// mount the node's disk, read the kubelet's credentials and the tokens of every pod on the
    /// node, and so escape to the node and from there to the cluster. Usually it is turned on
    /// for Docker-in-Docker.
    ///
    /// ### Example
    /// ```toml
    /// [[runners]]
    ///   [runners.kubernetes]
    ///     privileged = true
    /// ```
    ///
    /// ### Fix
    /// Remove `privileged` (default `false`) and build images without a Docker daemon
    /// (BuildKit rootless, kaniko, buildah). If Docker-in-Docker is unavoidable, run those jobs
    /// on a dedicated runner with its own tainted node pool.
    pub PrivilegedJobs,
    code = "RG306",
    name = "privileged-jobs",
    severity = High,
    category = Unsafe,
    summary = "Job containers run privileged",
}

impl Rule for PrivilegedJobs {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        for r in &ctx.runner.runners {
            let Some(k) = r.kube().and_then(|k| k.privileged.as_ref()) else {
                continue;
            };
            if !k.value {
                continue;
            }
            let msg = format!(
                "{}: `privileged = true` runs every job container privileged in {}; any CI script can take over the node",
                r.name,
                r.job_namespaces_text()
            );
            let help = "Remove `privileged = true` from `[runners.kubernetes]` and build images daemonless (BuildKit rootless, kaniko, buildah); keep Docker-in-Docker, if needed, on a separate runner with a dedicated, tainted node pool.".to_string();
            let d = ctx
                .draft(&PrivilegedJobs::META, k.loc, msg, help)
                .object(r.name.clone())
                .key("privileged");
            ctx.emit(out, d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::util::fixture::runner;
    use crate::rules::testing::{fires, run, silent};

    #[test]
    fn fires_on_the_configmap_line() {
        let found = fires(
            "RG306",
            &runner("        image = \"alpine\"\n        privileged = true\n"),
        );
        assert_eq!((found[0].line, found[0].column), (9, 9));
    }

    #[test]
    fn helm_values_line() {
        let values = "gitlabUrl: https://gitlab.example.com/
runners:
  config: |
    [[runners]]
      [runners.kubernetes]
        privileged = true
";
        let found = run("RG306", &[("values.yaml", values)]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].line, 6);
    }

    #[test]
    fn false_is_silent() {
        silent("RG306", &runner("        privileged = false\n"));
    }

    #[test]
    fn docker_executor_privileged_is_not_kubernetes() {
        let toml =
            "[[runners]]\n  executor = \"docker\"\n  [runners.docker]\n    privileged = true\n";
        assert!(run("RG306", &[("config.toml", toml)]).is_empty());
    }
}
