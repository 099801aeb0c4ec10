use crate::authz::Identity;
use crate::context::Ctx;
use crate::declare_rule;
use crate::report::Finding;
use crate::rules::{Rule, RuleMeta};
use crate::runner::{JobNamespaces, Runner};

declare_rule! {
    /// ### What it does
    /// Reports a runner whose jobs run, or whose manager lives, in a sensitive namespace:
    /// `kube-system`, `kube-public`, `kube-node-lease`, or one listed under
    /// `sensitive-namespaces` in the config. It points at the runner's `namespace` key when the
    /// config sets one, else at the runner.
    ///
    /// ### Why is this bad
    /// Where jobs run, the runner manager needs to create pods, exec and attach into them and
    /// read and write Secrets, so those permissions are not reported as excess there. In
    /// `kube-system` they are the keys to the cluster: a pod may name any ServiceAccount of its
    /// namespace, so any pod created in `kube-system` can run as a control-plane account (the
    /// controllers', which hold cluster-wide rights), and the namespace's Secrets include
    /// their tokens. A CI job, or whoever controls the runner or its token, owns the cluster.
    /// `kube-public` holds `cluster-info`, which joining nodes and anonymous clients trust;
    /// `kube-node-lease` holds the nodes' heartbeats, which decide whether a node is alive.
    /// A namespace the config lists is one the platform team declared off limits for CI.
    ///
    /// ### Example
    /// ```toml
    /// [[runners]]
    ///   [runners.kubernetes]
    ///     namespace = "kube-system"
    /// ```
    ///
    /// ### Fix
    /// Give jobs a namespace of their own that nothing else uses (`namespace = "ci-jobs"`),
    /// install the runner in its own namespace, and bind its Role there instead.
    pub SensitiveJobNamespace,
    code = "RG312",
    name = "sensitive-job-namespace",
    severity = Critical,
    category = Unsafe,
    summary = "Jobs or the runner run in a sensitive namespace",
}

impl Rule for SensitiveJobNamespace {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        for r in &ctx.runner.runners {
            for ns in job_namespaces(r) {
                if ctx.settings.is_sensitive_namespace(ns) {
                    jobs_finding(ctx, out, r, ns);
                }
            }
            let manager_ns = match &r.manager {
                Some(Identity::ServiceAccount { namespace, .. }) => Some(namespace.as_str()),
                _ => None,
            };
            if let Some(ns) = manager_ns.filter(|ns| ctx.settings.is_sensitive_namespace(ns)) {
                manager_finding(ctx, out, r, ns);
            }
        }
    }
}

/// Where jobs run unless a job picks another namespace (which RG304 reports): the listed
/// namespaces, or the default one when jobs may choose.
fn job_namespaces(r: &Runner) -> Vec<&str> {
    match &r.job_namespaces {
        JobNamespaces::Listed(list) => list.iter().map(String::as_str).collect(),
        JobNamespaces::Any { .. } => vec![r.default_namespace.as_str()],
    }
}

/// Why `ns` is sensitive, completing "namespace `ns` ...".
fn why(ctx: &Ctx, ns: &str) -> &'static str {
    match ns {
        "kube-system" => "runs the control plane: any pod created there can run as a control-plane ServiceAccount (the controllers', with cluster-wide rights), and its Secrets hold their tokens",
        "kube-public" => "holds `cluster-info`, which joining nodes and anonymous clients trust: a pod or Secret written there misleads the whole cluster",
        "kube-node-lease" => "holds the nodes' heartbeat Leases, which decide whether a node is alive and its pods stay scheduled",
        _ if ctx.settings.sensitive_namespaces.contains(ns) => "is listed under `sensitive-namespaces` in the config: the platform keeps CI out of it",
        _ => "is sensitive",
    }
}

fn jobs_finding(ctx: &Ctx, out: &mut Vec<Finding>, r: &Runner, ns: &str) {
    let loc = r
        .kube()
        .and_then(|k| k.namespace())
        .filter(|k| k.value == ns)
        .map_or(r.anchor, |k| k.loc);
    let d = ctx
        .draft(
            &SensitiveJobNamespace::META,
            loc,
            format!(
                "{}: jobs run in namespace `{ns}`, which {}. The runner manager creates pods, execs into them and reads and writes Secrets there: what it needs to run jobs, and in `{ns}` what lets a job, or whoever controls the runner, take over what the namespace guards",
                r.name,
                why(ctx, ns)
            ),
            format!(
                "Run jobs in a namespace of their own that nothing else uses (e.g. `namespace = \"ci-jobs\"` in `[runners.kubernetes]`), and bind the runner manager's Role there instead of in `{ns}`."
            ),
        )
        .object(r.name.clone())
        .key(format!("jobs:{ns}"));
    let d = match &r.manager {
        Some(id) => d.identity(id),
        None => d,
    };
    ctx.emit(out, d);
}

fn manager_finding(ctx: &Ctx, out: &mut Vec<Finding>, r: &Runner, ns: &str) {
    let Some(id) = &r.manager else { return };
    let d = ctx
        .draft(
            &SensitiveJobNamespace::META,
            r.anchor,
            format!(
                "{}: the runner manager {} lives in namespace `{ns}`, which {}. Its token, its config and the runner authentication token sit beside what the namespace guards, and what it may do there it may do to them",
                r.name,
                id.id(),
                why(ctx, ns)
            ),
            format!(
                "Install the runner in a namespace of its own (e.g. `gitlab-runner`) with its own ServiceAccount, and remove it from `{ns}`."
            ),
        )
        .object(r.name.clone())
        .identity(id)
        .key(format!("manager:{ns}"));
    ctx.emit(out, d);
}

#[cfg(test)]
mod tests {
    use super::super::util::fixture::runner;
    use crate::api::{Options, Source};
    use crate::report::Severity;
    use crate::rules::testing::{fires, run_with, silent};

    const CODE: &str = "RG312";

    #[test]
    fn jobs_in_kube_system_are_critical_on_the_namespace_key() {
        let f = fires(CODE, &runner("        namespace = \"kube-system\"\n"));
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].severity, Severity::Critical);
        assert_eq!(f[0].line, 8);
        assert!(
            f[0].message.contains("control-plane ServiceAccount"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn other_control_plane_namespaces_fire() {
        for ns in ["kube-public", "kube-node-lease"] {
            let f = fires(CODE, &runner(&format!("        namespace = \"{ns}\"\n")));
            assert!(f[0].message.contains(ns), "{}", f[0].message);
        }
    }

    #[test]
    fn a_runner_installed_in_kube_system_fires() {
        let yaml = runner("        namespace = \"ci\"\n")
            .replace("namespace: ci}", "namespace: kube-system}");
        let f = fires(CODE, &yaml);
        assert!(
            f.iter().any(|f| f.message.contains("the runner manager")),
            "{f:#?}"
        );
    }

    #[test]
    fn configured_namespaces_fire_and_ordinary_ones_do_not() {
        let yaml = runner("        namespace = \"platform\"\n");
        silent(CODE, &yaml);
        silent(CODE, &runner("        namespace = \"ci\"\n"));
        let options = Options {
            config: Some(Source::new(
                ".rbac-gate.yaml",
                "sensitive-namespaces: [platform]\n",
            )),
            ..Options::default()
        };
        let f = run_with(CODE, &[("input.yaml", yaml.as_str())], &options);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert!(
            f[0].message.contains("sensitive-namespaces"),
            "{}",
            f[0].message
        );
    }
}
