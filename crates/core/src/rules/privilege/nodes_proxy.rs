use crate::context::Ctx;
use crate::declare_rule;
use crate::report::{Finding, Severity};
use crate::rules::privilege::caps::{self, Cap, Mode, Site, CORE};
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports kubelet access that reaches into containers: `get` or `create` on `nodes/proxy`,
    /// and `create` on `nodes/checkpoint`, cluster-wide or on nodes named in `resourceNames`.
    /// Nodes are cluster-scoped, so only a ClusterRoleBinding (or an unbound ClusterRole, judged
    /// as if bound cluster-wide) makes them effective; in a Role they grant nothing.
    /// `nodes/*` is not a wildcard and matches nothing. The kubelet's other subresources
    /// (`nodes/metrics`, `nodes/stats`, `nodes/log`, and with the `KubeletFineGrainedAuthz`
    /// gate `nodes/pods`, `nodes/healthz`, `nodes/configz`) are real, and not reported here.
    ///
    /// ### Why is this bad
    /// The kubelet authorizes requests to its own API by asking the API server about
    /// `nodes/<subresource>` (`pkg/kubelet/server/auth.go`): `/metrics` is `nodes/metrics`,
    /// `/stats` `nodes/stats`, `/logs` `nodes/log`, `/checkpoint` `nodes/checkpoint`, and
    /// everything else `nodes/proxy`. So `nodes/proxy` reaches every kubelet endpoint; the
    /// kubelet maps `GET` on its WebSocket `exec` endpoint to `get`, so `get nodes/proxy` runs
    /// commands in any container on any node, past admission control and the API server's
    /// audit log. `create nodes/checkpoint` writes an archive of a container's memory, with
    /// every token and secret it holds, to the node's disk, where a hostPath mount or a node
    /// debug pod reads it.
    ///
    /// With `KubeletFineGrainedAuthz` (beta, on by default since Kubernetes 1.33) the kubelet
    /// asks about `nodes/pods`, `nodes/healthz` and `nodes/configz` first and falls back to
    /// `nodes/proxy`: monitoring agents granted `nodes/proxy` for those endpoints no longer
    /// need it.
    ///
    /// ### Example
    /// ```yaml
    /// kind: ClusterRole
    /// rules:
    /// - apiGroups: [""]
    ///   resources: ["nodes/proxy", "nodes/checkpoint"]
    ///   verbs: ["get", "create"]
    /// ```
    ///
    /// ### Fix
    /// Remove `nodes/proxy` and `nodes/checkpoint`. Monitoring agents read `nodes/metrics` or
    /// `nodes/stats`, and (Kubernetes 1.33 and later) `nodes/pods`, `nodes/healthz` or
    /// `nodes/configz`; the runner never needs nodes.
    pub NodesProxy,
    code = "RG109",
    name = "nodes-proxy",
    severity = High,
    category = Unsafe,
    summary = "Kubelet access through nodes/proxy or nodes/checkpoint",
}

impl Rule for NodesProxy {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        caps::run(ctx, out, &Self::META, Mode::Capability, assess);
    }
}

/// The kubelet subresources asked first under `KubeletFineGrainedAuthz`, whose endpoints fall
/// back to `nodes/proxy` (`pkg/kubelet/server/auth.go`).
const FINE_GRAINED: &[&str] = &["nodes/pods", "nodes/healthz", "nodes/configz"];

pub(crate) fn assess(ctx: &Ctx, site: &Site) -> Option<Cap> {
    proxy(ctx, site).or_else(|| checkpoint(ctx, site))
}

/// `every node`, `the nodes a, b` (from `resourceNames`), or `None` when the rule does not
/// allow any of `verbs` on `resource`.
fn nodes_reached(
    ctx: &Ctx,
    site: &Site,
    verbs: &[&'static str],
    resource: &'static str,
) -> Option<String> {
    if !site.matched(ctx, verbs, &[(CORE, resource)]).is_empty() {
        return Some("every node".to_string());
    }
    let mut named: Vec<String> = Vec::new();
    for verb in verbs {
        for n in site.named(verb, CORE, resource) {
            if !named.contains(&n) {
                named.push(n);
            }
        }
    }
    (!named.is_empty()).then(|| format!("the nodes {}", named.join(", ")))
}

fn proxy(ctx: &Ctx, site: &Site) -> Option<Cap> {
    let nodes = nodes_reached(ctx, site, &["get", "create"], "nodes/proxy")?;
    // The rule also names the fine-grained subresources: nodes/proxy is there as the fallback
    // for kubelets without the gate.
    let fallback = FINE_GRAINED
        .iter()
        .any(|r| site.rule.resources.iter().any(|x| x == r));
    let note = if fallback {
        " `nodes/proxy` here is only the fallback for kubelets without KubeletFineGrainedAuthz (before 1.33): the rule's `nodes/pods`, `nodes/healthz` or `nodes/configz` are enough on current nodes."
    } else {
        ""
    };
    Some(Cap {
        severity: Severity::High,
        what: format!(
            "reach the kubelet API of {nodes} through `nodes/proxy`: run commands in any container there, past admission and audit"
        ),
        power: "nodes-proxy".to_string(),
        help: format!(
            "Remove `nodes/proxy` from the rule `{}` of {}; for metrics grant `get` on `nodes/metrics` or `nodes/stats`, and on Kubernetes 1.33 and later `nodes/pods`, `nodes/healthz` or `nodes/configz` for those endpoints.{note}",
            site.rule.describe(),
            site.role.display()
        ),
    })
}

fn checkpoint(ctx: &Ctx, site: &Site) -> Option<Cap> {
    let nodes = nodes_reached(ctx, site, &["create"], "nodes/checkpoint")?;
    Some(Cap {
        severity: Severity::High,
        what: format!(
            "checkpoint any container on {nodes} through `nodes/checkpoint`: an archive of its memory, with the tokens and secrets it holds, written to the node's disk"
        ),
        power: "nodes-checkpoint".to_string(),
        help: format!(
            "Remove `nodes/checkpoint` from the rule `{}` of {}; only forensics tooling run by cluster administrators needs it.",
            site.rule.describe(),
            site.role.display()
        ),
    })
}

#[cfg(test)]
mod tests {
    use crate::report::Severity;
    use crate::rules::privilege::caps::fixture::{bound, rule};
    use crate::rules::testing::{fires, silent};

    const CODE: &str = "RG109";

    /// One core-group rule in a ClusterRole bound cluster-wide.
    fn core(resources: &str, verbs: &str) -> String {
        bound("ClusterRole", "mon", &rule("[\"\"]", resources, verbs))
    }

    #[test]
    fn get_cluster_wide_fires() {
        fires(CODE, &core("[\"nodes/proxy\"]", "[\"get\"]"));
        fires(CODE, &core("[\"*/proxy\"]", "[\"create\"]"));
    }

    #[test]
    fn in_a_role_it_grants_nothing() {
        silent(
            CODE,
            &bound(
                "Role",
                "default",
                &rule("[\"*\"]", "[\"nodes/proxy\"]", "[\"get\"]"),
            ),
        );
    }

    #[test]
    fn nodes_star_is_not_a_wildcard() {
        silent(
            CODE,
            &core("[\"nodes\", \"nodes/*\"]", "[\"get\", \"list\"]"),
        );
    }

    #[test]
    fn other_node_subresources_are_not_proxy() {
        silent(CODE, &core("[\"nodes/status\"]", "[\"patch\", \"get\"]"));
        // What Prometheus and metrics agents hold: real, and harmless.
        silent(
            CODE,
            &core(
                "[nodes/metrics, nodes/stats, nodes/log, nodes/pods, nodes/healthz, nodes/configz]",
                "[get, list, watch]",
            ),
        );
    }

    #[test]
    fn checkpoint_create_fires_get_does_not() {
        let f = fires(CODE, &core("[nodes/checkpoint]", "[create]"));
        assert_eq!(f[0].severity, Severity::High);
        assert!(f[0].message.contains("memory"), "{}", f[0].message);
        // The kubelet's checkpoint endpoint is POST only: `get` asks for nothing there.
        silent(CODE, &core("[nodes/checkpoint]", "[get]"));
        let named = "- apiGroups: [\"\"]\n  resources: [nodes/checkpoint]\n  resourceNames: [node-1]\n  verbs: [create]";
        let f = fires(CODE, &bound("ClusterRole", "mon", named));
        assert!(
            f[0].message.contains("the nodes node-1"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn proxy_beside_fine_grained_subresources_is_called_a_fallback() {
        let f = fires(
            CODE,
            &core("[nodes/proxy, nodes/pods, nodes/healthz]", "[get]"),
        );
        assert!(f[0].help.contains("only the fallback"), "{}", f[0].help);
        let f = fires(CODE, &core("[nodes/proxy]", "[get]"));
        assert!(!f[0].help.contains("only the fallback"), "{}", f[0].help);
    }
}
