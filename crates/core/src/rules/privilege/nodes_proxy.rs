use crate::context::Ctx;
use crate::declare_rule;
use crate::report::{Finding, Severity};
use crate::rules::privilege::caps::{self, Cap, Mode, Site, CORE};
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports `get` or `create` on `nodes/proxy`. Nodes are cluster-scoped, so only a
    /// ClusterRoleBinding (or an unbound ClusterRole, judged as if bound cluster-wide) makes it
    /// effective; in a Role it grants nothing. `nodes/*` is not a wildcard and matches nothing.
    ///
    /// ### Why is this bad
    /// `nodes/proxy` reaches the kubelet API of every node. The kubelet maps `GET` on its
    /// WebSocket `exec` endpoint to `get`, so `get nodes/proxy` runs commands in any container
    /// on any node, past admission control and the API server's audit log.
    ///
    /// ### Example
    /// ```yaml
    /// kind: ClusterRole
    /// rules:
    /// - apiGroups: [""]
    ///   resources: ["nodes/proxy"]
    ///   verbs: ["get"]
    /// ```
    ///
    /// ### Fix
    /// Remove `nodes/proxy`. Monitoring agents read metrics through `nodes/metrics` or
    /// `nodes/stats`; the runner never needs nodes.
    pub NodesProxy,
    code = "RG109",
    name = "nodes-proxy",
    severity = High,
    category = Unsafe,
    summary = "Kubelet access through nodes/proxy",
}

impl Rule for NodesProxy {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        caps::run(ctx, out, &Self::META, Mode::Capability, assess);
    }
}

pub(crate) fn assess(ctx: &Ctx, site: &Site) -> Option<Cap> {
    let reqs = site.matched(ctx, &["get", "create"], &[(CORE, "nodes/proxy")]);
    let named: Vec<String> = ["get", "create"]
        .iter()
        .flat_map(|v| site.named(v, CORE, "nodes/proxy"))
        .collect();
    let nodes = if !reqs.is_empty() {
        "every node".to_string()
    } else if !named.is_empty() {
        format!("the nodes {}", named.join(", "))
    } else {
        return None;
    };
    Some(Cap {
        severity: Severity::High,
        what: format!(
            "reach the kubelet API of {nodes} through `nodes/proxy`: run commands in any container there, past admission and audit"
        ),
        power: "nodes-proxy".to_string(),
        help: format!(
            "Remove `nodes/proxy` from the rule `{}` of {}; for metrics grant `get` on `nodes/metrics` or `nodes/stats` instead.",
            site.rule.describe(),
            site.role.display()
        ),
    })
}

#[cfg(test)]
mod tests {
    use crate::rules::privilege::caps::fixture::{bound, rule};
    use crate::rules::testing::{fires, silent};

    const CODE: &str = "RG109";

    #[test]
    fn get_cluster_wide_fires() {
        fires(
            CODE,
            &bound(
                "ClusterRole",
                "mon",
                &rule("[\"\"]", "[\"nodes/proxy\"]", "[\"get\"]"),
            ),
        );
        fires(
            CODE,
            &bound(
                "ClusterRole",
                "mon",
                &rule("[\"\"]", "[\"*/proxy\"]", "[\"create\"]"),
            ),
        );
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
            &bound(
                "ClusterRole",
                "mon",
                &rule("[\"\"]", "[\"nodes\", \"nodes/*\"]", "[\"get\", \"list\"]"),
            ),
        );
    }

    #[test]
    fn other_node_subresources_are_not_proxy() {
        silent(
            CODE,
            &bound(
                "ClusterRole",
                "mon",
                &rule("[\"\"]", "[\"nodes/status\"]", "[\"patch\", \"get\"]"),
            ),
        );
    }
}
