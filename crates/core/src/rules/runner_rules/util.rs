//! Helpers shared by the runner rules: manager grants, where to point, and the YAML of fixes.

use crate::authz::{self, resources, Identity, Scope};
use crate::context::Ctx;
use crate::model::{Loc, Origin, PolicyRule, Role};
use crate::runner::{self, Impact, JobNamespaces, Need, NeedScope, Runner};
use std::collections::BTreeMap;

/// Every distinct runner manager identity, in model order.
pub fn managers<'a>(ctx: &'a Ctx) -> Vec<&'a Identity> {
    // In runner order; the set keeps a dump with thousands of runners linear.
    let mut seen: std::collections::HashSet<&Identity> = std::collections::HashSet::new();
    let mut out: Vec<&Identity> = Vec::new();
    for r in &ctx.runner.runners {
        if let Some(m) = &r.manager {
            if seen.insert(m) {
                out.push(m);
            }
        }
    }
    out
}

/// `file:line` of a place, for help texts.
pub fn place(ctx: &Ctx, loc: Loc) -> String {
    format!("{}:{}", ctx.path(loc.file), loc.line.max(1))
}

/// The namespace a grant applies in (`None`: cluster-wide).
pub fn scope_ns(scope: &Scope) -> Option<&str> {
    match scope {
        Scope::Cluster => None,
        Scope::Namespace(ns) => Some(ns),
    }
}

/// A role written in the inputs (or rendered from Helm values), not a built-in one.
pub fn editable(role: &Role) -> bool {
    role.meta.origin != Origin::Builtin
}

/// The manager's grants of editable roles that cover `ns` (`None`: cluster-wide ones).
pub fn covering_grants(ctx: &Ctx, manager: &Identity, ns: Option<&str>) -> Vec<usize> {
    runner::direct_grants(ctx.authz, manager)
        .into_iter()
        .filter(|&g| {
            let grant = &ctx.authz.grants[g];
            grant.scope.covers(ns) && editable(&ctx.inv.roles[grant.role])
        })
        .collect()
}

/// Verbs in the order people write them.
const VERB_ORDER: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
];

fn verb_rank(v: &str) -> usize {
    VERB_ORDER
        .iter()
        .position(|x| *x == v)
        .unwrap_or(VERB_ORDER.len())
}

/// A rule in flow style lines, `indent` spaces deep.
pub fn rule_yaml(
    group: &str,
    resource: &str,
    verbs: &[&str],
    indent: usize,
    comment: &str,
) -> String {
    let pad = " ".repeat(indent);
    let mut verbs: Vec<&str> = verbs.to_vec();
    verbs.sort_by_key(|v| verb_rank(v));
    verbs.dedup();
    let list = verbs
        .iter()
        .map(|v| format!("\"{v}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let comment = if comment.is_empty() {
        String::new()
    } else {
        format!("  # {comment}")
    };
    format!(
        "{pad}- apiGroups: [\"{group}\"]\n{pad}  resources: [\"{resource}\"]\n{pad}  verbs: [{list}]{comment}\n"
    )
}

/// The rules a runner needs in `scope` (namespaced or cluster-scoped ones), merged per
/// resource, with optional verbs named in a comment.
pub fn needed_rules(runner: &Runner, scope: NeedScope, indent: usize) -> String {
    // (first position, group, resource) -> (verbs, optional verbs)
    type Verbs<'a> = (Vec<&'a str>, Vec<&'a str>);
    let mut merged: BTreeMap<(usize, &str, &str), Verbs> = BTreeMap::new();
    for (i, n) in runner
        .needs
        .iter()
        .enumerate()
        .filter(|(_, n)| n.scope == scope)
    {
        let first = runner
            .needs
            .iter()
            .position(|o| o.group == n.group && o.resource == n.resource)
            .unwrap_or(i);
        let e = merged.entry((first, n.group, n.resource)).or_default();
        e.0.extend(n.verbs.iter().copied());
        if n.impact == Impact::Optional {
            e.1.extend(n.verbs.iter().copied());
        }
    }
    merged
        .into_iter()
        .map(|((_, g, r), (verbs, optional))| {
            let comment = if optional.is_empty() {
                String::new()
            } else {
                format!("optional: {}", optional.join(", "))
            };
            rule_yaml(g, r, &verbs, indent, &comment)
        })
        .collect()
}

/// The minimal Role (and, for cluster-scoped needs, ClusterRole) for a runner, in `ns`.
pub fn minimal_role(runner: &Runner, name: &str, ns: &str, helm: bool) -> String {
    let namespaced = needed_rules(runner, NeedScope::Namespaced, if helm { 4 } else { 0 });
    let cluster = needed_rules(runner, NeedScope::Cluster, 0);
    let any_ns = matches!(runner.job_namespaces, JobNamespaces::Any { .. });
    let mut out = if helm {
        format!("rbac:\n  create: true\n  clusterWideAccess: {any_ns}\n  rules:\n{namespaced}")
    } else if any_ns {
        format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole  # jobs may run in any namespace; bind with a ClusterRoleBinding\nmetadata:\n  name: {name}\nrules:\n{namespaced}{cluster}"
        )
    } else {
        format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: {name}\n  namespace: {ns}\nrules:\n{namespaced}"
        )
    };
    if !cluster.is_empty() && (!any_ns || helm) {
        out.push_str(&format!(
            "---\n# cluster-scoped resources need a ClusterRole and a ClusterRoleBinding\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: {name}-cluster\nrules:\n{cluster}"
        ));
    }
    out
}

/// `runner 19.3, features: a, b`.
pub fn runner_profile(runner: &Runner) -> String {
    let features: Vec<&str> = runner
        .features
        .iter()
        .map(String::as_str)
        .filter(|f| *f != runner::permissions::feature::PRINT_POD_WARNING_EVENTS)
        .collect();
    let (maj, min) = runner.version;
    let from = runner
        .version_from
        .as_ref()
        .map(|from| format!(" (from {from})"))
        .unwrap_or_default();
    if features.is_empty() {
        format!("runner {maj}.{min}{from}, default features")
    } else {
        format!(
            "runner {maj}.{min}{from}, features: {}",
            features.join(", ")
        )
    }
}

/// Whether `rule` in `scope` grants `verb` on `group`/`resource` at all (resourceNames rules
/// grant their names).
pub fn grants(scope: &Scope, rule: &PolicyRule, verb: &str, group: &str, resource: &str) -> bool {
    let name = rule.resource_names.first().map(String::as_str);
    authz::rule_allows(scope, rule, verb, group, resource, name)
}

/// The parts of `rule` (granted in `scope`) that `id` does not need as a runner manager, as
/// `resource: verbs` texts. Parts that grant nothing (unknown resources, cluster-scoped
/// resources in a namespaced grant) are not excess: the hygiene rules report them.
pub fn excess_parts(ctx: &Ctx, id: &Identity, scope: &Scope, rule: &PolicyRule) -> Vec<String> {
    let ns = scope_ns(scope);
    if !rule.non_resource_urls.is_empty() && rule.resources.is_empty() {
        return if *scope == Scope::Cluster {
            vec![format!(
                "nonResourceURLs [{}]",
                rule.non_resource_urls.join(", ")
            )]
        } else {
            Vec::new()
        };
    }
    let mut out = Vec::new();
    for group in &rule.api_groups {
        for resource in &rule.resources {
            let wild = group == "*" || resource == "*" || resource.starts_with("*/");
            if wild {
                out.push(format!(
                    "`{resource}` in apiGroup \"{group}\" (a wildcard: everything it matches, not only what the runner uses)"
                ));
                continue;
            }
            if resources::is_builtin_group(group) && !resources::exists(group, resource) {
                continue;
            }
            if rule.verbs.iter().any(|v| v == "*") {
                if grants(scope, rule, "get", group, resource)
                    || grants(scope, rule, "create", group, resource)
                {
                    out.push(format!("{} verbs `*`", shown(group, resource)));
                }
                continue;
            }
            let extra: Vec<&str> = rule
                .verbs
                .iter()
                .map(String::as_str)
                .filter(|v| grants(scope, rule, v, group, resource))
                .filter(|v| !needed_in_scope(ctx, id, v, group, resource, ns))
                .collect();
            if !extra.is_empty() {
                out.push(format!("{} {}", shown(group, resource), extra.join(", ")));
            }
        }
    }
    out
}

/// Whether the manager uses the verb in the grant's scope. A cluster-wide grant of what the
/// runner needs in its job namespaces is a scope problem (RG203), not an unused permission.
fn needed_in_scope(
    ctx: &Ctx,
    id: &Identity,
    verb: &str,
    group: &str,
    resource: &str,
    ns: Option<&str>,
) -> bool {
    if ctx.runner.needed(id, verb, group, resource, ns) {
        return true;
    }
    ns.is_none()
        && ctx
            .runner
            .runners_managed_by(id)
            .any(|r| match &r.job_namespaces {
                JobNamespaces::Listed(list) => list
                    .iter()
                    .any(|n| ctx.runner.needed(id, verb, group, resource, Some(n))),
                JobNamespaces::Any { .. } => false,
            })
}

/// `secrets` or `apps/deployments`.
pub fn shown(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{group}/{resource}")
    }
}

/// Short form of a need: `pods/attach: create`.
pub fn need_text(n: &Need, verbs: &[&str]) -> String {
    format!("{}: {}", shown(n.group, n.resource), verbs.join(", "))
}

/// Where a finding about a runner's `[runners.kubernetes]` key `key` should point: the key,
/// else the section, else the runner's anchor.
pub fn kube_loc(r: &Runner, key: Option<Loc>) -> Loc {
    key.or_else(|| r.kube().map(|k| k.loc)).unwrap_or(r.anchor)
}

#[cfg(test)]
pub mod fixture {
    //! A runner ConfigMap (namespace `ci`) and the Deployment mounting it, for test vectors.
    //! The TOML `[runners.kubernetes]` body starts at YAML line 8.

    pub fn runner(kube: &str) -> String {
        format!(
            "apiVersion: v1
kind: ConfigMap
metadata: {{name: runner-config, namespace: ci}}
data:
  config.toml: |
    [[runners]]
      [runners.kubernetes]
{kube}---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: gitlab-runner, namespace: ci}}
spec:
  template:
    spec:
      serviceAccountName: gitlab-runner
      containers: [{{name: runner, image: gitlab/gitlab-runner:v19.3.0}}]
      volumes: [{{name: config, configMap: {{name: runner-config}}}}]
"
        )
    }

    /// A Role in `ci` bound to `subject` (`ServiceAccount` name in `ci`).
    pub fn bound(subject: &str) -> String {
        format!(
            "---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: r-{subject}, namespace: ci}}
rules:
- apiGroups: [\"\"]
  resources: [\"configmaps\"]
  verbs: [\"get\"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: r-{subject}, namespace: ci}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: r-{subject}}}
subjects: [{{kind: ServiceAccount, name: {subject}, namespace: ci}}]
"
        )
    }
}
