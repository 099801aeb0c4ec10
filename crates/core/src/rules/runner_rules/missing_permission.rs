use super::util::{self, covering_grants, editable, place, shown};
use crate::authz::Identity;
use crate::context::Ctx;
use crate::declare_rule;
use crate::model::{Loc, Origin, Role, RoleKind};
use crate::report::{Finding, Severity};
use crate::rules::{Rule, RuleMeta};
use crate::runner::{self, Impact, JobNamespaces, MissingNeed, NeedScope, Runner};

declare_rule! {
    /// ### What it does
    /// Checks that the runner manager's identity is granted every permission the GitLab Runner
    /// Kubernetes executor needs, for the runner's version and the features its `config.toml`
    /// turns on, in every namespace its jobs can run in. A permission every job needs (pods
    /// create/get/delete, pods/exec and pods/attach create, the registry Secret) is `high`; one
    /// only a feature needs (events for pod warning events, services for the session server,
    /// namespaces for `namespace_per_job`, ...) is `medium`; documented but optional ones
    /// (the pod informer's list/watch, the web terminal's exec get) are `low`. A job can turn on
    /// any feature flag `[runners.feature_flags]` does not pin: what such a flag needs where
    /// the runner fails the job without it (`FF_PRINT_POD_EVENTS`: events watch;
    /// `FF_KUBERNETES_HONOR_ENTRYPOINT`, `FF_WAIT_FOR_POD_TO_BE_REACHABLE`, `FF_CONCRETE`:
    /// pods/log get) is reported `low`, with both fixes.
    ///
    /// ### Why is this bad
    /// A missing permission breaks CI, often only after a runner upgrade or on the first job
    /// that uses a feature: jobs fail to start, logs are unavailable, cleanup fails, or warning
    /// events go missing from job logs. The classic cases: a Role written for the exec
    /// strategy without `pods/attach` (attach is the default since runner 14.0), a Role in the
    /// runner's namespace while `namespace` sends jobs elsewhere, and `namespace_per_job` with
    /// only a Role.
    ///
    /// ### Example
    /// ```yaml
    /// kind: Role
    /// metadata: {name: gitlab-runner, namespace: ci}
    /// rules:
    /// - apiGroups: [""]
    ///   resources: ["pods", "pods/exec", "secrets"]
    ///   verbs: ["get", "create", "delete", "update"]
    /// # pods/attach is missing: jobs fail to start
    /// ```
    ///
    /// ### Fix
    /// Add the rule the finding shows to the runner's Role (or `rbac.rules` in the Helm values),
    /// in the namespace where jobs run. For `namespace_per_job`, use a ClusterRole bound by a
    /// ClusterRoleBinding. For a job-settable flag, either pin it off in
    /// `[runners.feature_flags]` (`FF_PRINT_POD_EVENTS = false`) or grant what it needs.
    pub MissingPermission,
    code = "RG201",
    name = "missing-permission",
    severity = High,
    category = Missing,
    summary = "The runner manager lacks a permission it needs",
}

impl Rule for MissingPermission {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        for r in &ctx.runner.runners {
            let Some(manager) = &r.manager else { continue };
            let misses = runner::missing(ctx.inv, ctx.authz, r);
            if misses.is_empty() {
                continue;
            }
            if runner::direct_grants(ctx.authz, manager).is_empty() {
                // Nothing in the inputs is bound to it: one finding, not one per permission.
                unbound(ctx, out, r, manager, &misses);
                continue;
            }
            for m in &misses {
                report(ctx, out, r, manager, m);
            }
        }
        for r in &ctx.runner.runners {
            // Only a config in the inputs says which flags are pinned, and is where to pin one.
            let Some(manager) = r.manager.as_ref().filter(|_| r.entry.is_some()) else {
                continue;
            };
            if runner::direct_grants(ctx.authz, manager).is_empty() {
                continue;
            }
            for m in runner::missing_job_flags(ctx.inv, ctx.authz, r) {
                report_job_flag(ctx, out, r, manager, &m);
            }
        }
    }
}

/// A flag `[runners.feature_flags]` leaves to the jobs, whose need the manager lacks: a job that
/// sets it fails. Two fixes: pin it off, or grant the permission.
fn report_job_flag(
    ctx: &Ctx,
    out: &mut Vec<Finding>,
    r: &Runner,
    manager: &Identity,
    m: &MissingNeed,
) {
    let Some(flag) = m.job_flag else { return };
    let ns = m.namespace.as_deref();
    let t = target(ctx, r, manager, ns, ns.is_none());
    let message = format!(
        "a job can turn on `{flag}` (`[runners.feature_flags]` of {} does not pin it), and runner manager `{}` cannot {} {} {}: {}",
        r.name,
        manager.id(),
        m.verbs.join("/"),
        shown(m.need.group, m.need.resource),
        where_text(r, m),
        m.need.breaks
    );
    let rule = util::rule_yaml(m.need.group, m.need.resource, &m.verbs, 0, "");
    let grant = match t.role {
        Some(role) => format!(
            "add this rule to {} ({})",
            role.display(),
            place(ctx, role.meta.loc)
        ),
        None => "grant this rule where jobs run".to_string(),
    };
    let help = format!(
        "Either fix works:\n1. Pin the flag off in the runner's config.toml ({}), so jobs cannot set it:\n```toml\n[runners.feature_flags]\n  {flag} = false\n```\n2. Or let jobs use it: {grant}:\n```yaml\n{rule}```",
        r.name
    );
    let mut d = ctx
        .draft(&MissingPermission::META, t.loc, message, help)
        .identity(manager)
        .severity(Severity::Low)
        .key(format!(
            "{flag}:{}:{}",
            ns.unwrap_or("*"),
            util::need_text(&m.need, &m.verbs)
        ));
    if let Some(role) = t.role {
        d = d.object(role.display());
    }
    ctx.emit(out, d);
}

fn severity(i: Impact) -> Severity {
    match i {
        Impact::Required => Severity::High,
        Impact::Feature => Severity::Medium,
        Impact::Optional => Severity::Low,
    }
}

/// Where to add the rule: the role the manager already has there, else a runner role it has
/// elsewhere (the namespace mismatch), else nothing.
struct Target<'a> {
    role: Option<&'a Role>,
    loc: Loc,
    /// The role is bound in another namespace than the one missing the permission.
    elsewhere: Option<String>,
}

fn target<'a>(
    ctx: &'a Ctx,
    r: &Runner,
    manager: &Identity,
    ns: Option<&str>,
    cluster: bool,
) -> Target<'a> {
    let covering = covering_grants(ctx, manager, ns);
    // For a cluster-scoped need, only a ClusterRole can hold the rule.
    let fits = |g: &usize| {
        !cluster || ctx.inv.roles[ctx.authz.grants[*g].role].kind == RoleKind::ClusterRole
    };
    if let Some(&g) = covering.iter().find(|g| fits(g)) {
        let role = &ctx.inv.roles[ctx.authz.grants[g].role];
        return Target {
            role: Some(role),
            loc: role.meta.loc,
            elsewhere: None,
        };
    }
    let all = runner::direct_grants(ctx.authz, manager);
    if let Some(&g) = all
        .iter()
        .find(|&&g| editable(&ctx.inv.roles[ctx.authz.grants[g].role]))
    {
        let grant = &ctx.authz.grants[g];
        let role = &ctx.inv.roles[grant.role];
        return Target {
            role: Some(role),
            loc: role.meta.loc,
            elsewhere: Some(grant.scope.display()),
        };
    }
    let loc = r
        .kube()
        .and_then(|k| k.namespace())
        .map_or(r.anchor, |n| n.loc);
    Target {
        role: None,
        loc,
        elsewhere: None,
    }
}

/// The same ServiceAccount name bound in another namespace: the usual reason for a runner
/// without RBAC (manifests without `metadata.namespace`).
fn namesakes(ctx: &Ctx, manager: &Identity) -> Vec<String> {
    let Identity::ServiceAccount { namespace, name } = manager else {
        return Vec::new();
    };
    // Every namespace has a `default`: its namesakes say nothing.
    if name == "default" {
        return Vec::new();
    }
    ctx.authz
        .identities
        .iter()
        .filter(|id| matches!(id, Identity::ServiceAccount { namespace: n2, name: m2 } if m2 == name && n2 != namespace))
        .filter(|id| !runner::direct_grants(ctx.authz, id).is_empty())
        .map(Identity::id)
        .collect()
}

fn unbound(
    ctx: &Ctx,
    out: &mut Vec<Finding>,
    r: &Runner,
    manager: &Identity,
    misses: &[MissingNeed],
) {
    let worst = misses
        .iter()
        .map(|m| m.need.impact)
        .min()
        .unwrap_or(Impact::Optional);
    let mut merged: Vec<(String, Vec<&str>)> = Vec::new();
    for m in misses.iter().filter(|m| m.need.impact != Impact::Optional) {
        let res = shown(m.need.group, m.need.resource);
        match merged.iter_mut().find(|(r, _)| *r == res) {
            Some((_, verbs)) => verbs.extend(m.verbs.iter().copied()),
            None => merged.push((res, m.verbs.clone())),
        }
    }
    let listed: Vec<String> = merged
        .into_iter()
        .map(|(r, v)| format!("{r}: {}", v.join(", ")))
        .collect();
    let mut message = format!(
        "runner manager `{}` is not bound to any role in the inputs, so it lacks everything the runner needs in {} ({}): {}",
        manager.id(),
        r.job_namespaces_text(),
        listed.join("; "),
        misses
            .iter()
            .find(|m| m.need.impact == worst)
            .map_or("", |m| m.need.breaks)
    );
    let names = namesakes(ctx, manager);
    if !names.is_empty() {
        message.push_str(&format!(
            "; the RBAC binds {} instead, the same name in another namespace (a ServiceAccount's namespace is part of its identity; objects without `metadata.namespace` land where they are applied)",
            names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
        ));
    }
    let ns = match &r.job_namespaces {
        JobNamespaces::Listed(l) => l.first().cloned().unwrap_or_else(|| "default".into()),
        JobNamespaces::Any { .. } => "default".into(),
    };
    let (kind, binding_kind, ns_line) = if matches!(r.job_namespaces, JobNamespaces::Any { .. }) {
        ("ClusterRole", "ClusterRoleBinding", String::new())
    } else {
        ("Role", "RoleBinding", format!("  namespace: {ns}\n"))
    };
    let subject = match manager {
        Identity::ServiceAccount { namespace, name } => {
            format!("- kind: ServiceAccount\n  name: {name}\n  namespace: {namespace}\n")
        }
        other => format!("- kind: User\n  name: {}\n", other.id()),
    };
    let help = format!(
        "If the runner's RBAC is managed elsewhere, name its identity in `identities.runner` of the gate's settings and add those manifests to the check. Otherwise grant what this runner needs ({}):\n```yaml\n{}---\napiVersion: rbac.authorization.k8s.io/v1\nkind: {binding_kind}\nmetadata:\n  name: gitlab-runner\n{ns_line}roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: {kind}\n  name: gitlab-runner\nsubjects:\n{subject}```",
        util::runner_profile(r),
        util::minimal_role(r, "gitlab-runner", &ns, false)
    );
    let loc = r
        .workload
        .map(|w| &ctx.inv.workloads[w])
        .map_or(r.anchor, |w| w.service_account_loc.unwrap_or(w.meta.loc));
    let d = ctx
        .draft(&MissingPermission::META, loc, message, help)
        .identity(manager)
        .severity(severity(worst))
        .key("unbound");
    ctx.emit(out, d);
}

fn where_text(r: &Runner, m: &MissingNeed) -> String {
    match (&m.namespace, m.need.scope, &r.job_namespaces) {
        (Some(ns), _, _) => format!("in namespace `{ns}`"),
        (None, NeedScope::Cluster, _) => "cluster-wide (a cluster-scoped resource)".to_string(),
        (None, _, JobNamespaces::Any { reason }) => format!("in every namespace, because {reason}"),
        (None, _, _) => "cluster-wide".to_string(),
    }
}

fn report(ctx: &Ctx, out: &mut Vec<Finding>, r: &Runner, manager: &Identity, m: &MissingNeed) {
    let ns = m.namespace.as_deref();
    let cluster = ns.is_none();
    let t = target(ctx, r, manager, ns, cluster);
    let need = util::need_text(&m.need, &m.verbs);
    let mut message = format!(
        "runner manager `{}` cannot {} {} {} ({}): {}",
        manager.id(),
        m.verbs.join("/"),
        shown(m.need.group, m.need.resource),
        where_text(r, m),
        match m.need.impact {
            Impact::Required => "needed by every job".to_string(),
            Impact::Feature => format!("needed for {}", m.need.feature),
            Impact::Optional => "optional".to_string(),
        },
        m.need.breaks
    );
    if let (Some(role), Some(scope)) = (t.role, &t.elsewhere) {
        message.push_str(&format!(
            "; {} grants only in {scope}, but jobs run {}",
            role.display(),
            where_text(r, m)
        ));
    }
    if cluster && m.need.scope == NeedScope::Namespaced {
        message.push_str("; a Role or RoleBinding grants only in its own namespace");
    }
    let rule = util::rule_yaml(m.need.group, m.need.resource, &m.verbs, 0, "");
    let help = help_text(ctx, r, manager, &t, m, &rule);
    let mut d = ctx
        .draft(&MissingPermission::META, t.loc, message, help)
        .identity(manager)
        .severity(severity(m.need.impact))
        .key(format!("{}:{need}", m.namespace.as_deref().unwrap_or("*")));
    if let Some(role) = t.role {
        d = d.object(role.display());
    }
    ctx.emit(out, d);
}

fn help_text(
    ctx: &Ctx,
    r: &Runner,
    manager: &Identity,
    t: &Target,
    m: &MissingNeed,
    rule: &str,
) -> String {
    let ns = m.namespace.as_deref();
    let helm = t.role.is_some_and(|role| role.meta.origin == Origin::Helm);
    if helm && t.elsewhere.is_none() {
        let indented: String = rule.lines().map(|l| format!("    {l}\n")).collect();
        return format!(
            "Add this rule to `rbac.rules` in the Helm values ({}):\n```yaml\nrbac:\n  rules:\n{indented}```",
            place(ctx, t.loc)
        );
    }
    let sa_subject = match manager {
        Identity::ServiceAccount { namespace, name } => {
            format!("- kind: ServiceAccount\n  name: {name}\n  namespace: {namespace}\n")
        }
        other => format!("- kind: User\n  name: {}\n", other.id()),
    };
    match (t.role, &t.elsewhere, ns) {
        (Some(role), None, _) => format!(
            "Add this rule to {} ({}):\n```yaml\n{rule}```",
            role.display(),
            place(ctx, role.meta.loc)
        ),
        (_, _, Some(ns)) => format!(
            "Grant it in namespace `{ns}`, where jobs run{}: a Role and RoleBinding there\n```yaml\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: gitlab-runner\n  namespace: {ns}\nrules:\n{rule}---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: gitlab-runner\n  namespace: {ns}\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: gitlab-runner\nsubjects:\n{sa_subject}```\n(or set `namespace` in `[runners.kubernetes]` to the namespace the existing Role is in). The full set this runner needs ({}):\n```yaml\n{}```",
            t.role.map(|role| format!(" (move or copy the rules of {} at {})", role.display(), place(ctx, role.meta.loc))).unwrap_or_default(),
            util::runner_profile(r),
            util::needed_rules(r, NeedScope::Namespaced, 0)
        ),
        (_, _, None) => format!(
            "Grant it cluster-wide with a ClusterRole bound by a ClusterRoleBinding{}:\n```yaml\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: gitlab-runner\nrules:\n{rule}---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: gitlab-runner\n  annotations:\n    rbac-gate.dev/justification: \"{}\"\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: gitlab-runner\nsubjects:\n{sa_subject}```",
            t.role
                .map(|role| format!(" (or extend {} at {} and bind it cluster-wide)", role.display(), place(ctx, role.meta.loc)))
                .unwrap_or_default(),
            r.cluster_feature.as_deref().unwrap_or("runner feature needing cluster scope")
        ),
    }
}

#[cfg(test)]
mod tests {
    use crate::report::Severity;
    use crate::rules::testing::{fires, run, silent};

    const SA: &str = "apiVersion: v1
kind: ServiceAccount
metadata: {name: gitlab-runner, namespace: ci}
---
";

    fn role(ns: &str, rules: &str) -> String {
        format!(
            "apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: gitlab-runner, namespace: {ns}}}
rules:
{rules}---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: gitlab-runner, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: gitlab-runner}}
subjects: [{{kind: ServiceAccount, name: gitlab-runner, namespace: ci}}]
"
        )
    }

    const FULL: &str = "- apiGroups: [\"\"]
  resources: [\"pods\"]
  verbs: [\"create\", \"get\", \"delete\", \"list\", \"watch\"]
- apiGroups: [\"\"]
  resources: [\"pods/exec\", \"pods/attach\"]
  verbs: [\"create\", \"get\", \"patch\", \"delete\"]
- apiGroups: [\"\"]
  resources: [\"secrets\"]
  verbs: [\"create\", \"get\", \"update\", \"delete\"]
- apiGroups: [\"\"]
  resources: [\"events\"]
  verbs: [\"list\"]
";

    /// `[runners.feature_flags]` pinning every flag whose need a job could otherwise add.
    const PINNED: &str = "      [runners.feature_flags]
        FF_PRINT_POD_EVENTS = false
        FF_KUBERNETES_HONOR_ENTRYPOINT = false
        FF_WAIT_FOR_POD_TO_BE_REACHABLE = false
        FF_CONCRETE = false
";

    fn config(kube: &str) -> String {
        format!("{}---\n", super::util::fixture::runner(kube))
    }

    #[test]
    fn complete_role_is_silent() {
        silent(
            "RG201",
            &format!(
                "{}{SA}{}",
                config(&format!("        namespace = \"ci\"\n{PINNED}")),
                role("ci", FULL)
            ),
        );
    }

    #[test]
    fn missing_attach_is_high() {
        let rules = FULL.replace("\"pods/exec\", \"pods/attach\"", "\"pods/exec\"");
        let found = fires(
            "RG201",
            &format!("{}{SA}{}", config(""), role("ci", &rules)),
        );
        let f = found
            .iter()
            .find(|f| f.message.contains("pods/attach") && f.severity == Severity::High)
            .expect("attach");
        assert!(f.message.contains("jobs fail to start"), "{}", f.message);
        assert!(
            f.help.contains("resources: [\"pods/attach\"]"),
            "{}",
            f.help
        );
        assert!(f.help.contains("Role ci/gitlab-runner"), "{}", f.help);
        assert_eq!(f.object.as_deref(), Some("Role ci/gitlab-runner"));
    }

    #[test]
    fn missing_events_is_medium_and_optional_verbs_low() {
        let rules = FULL
            .replace(
                "  resources: [\"events\"]\n  verbs: [\"list\"]\n",
                "  resources: [\"configmaps\"]\n  verbs: [\"get\"]\n",
            )
            .replace("\"delete\", \"list\", \"watch\"", "\"delete\"");
        let found = fires(
            "RG201",
            &format!("{}{SA}{}", config(""), role("ci", &rules)),
        );
        let events = found
            .iter()
            .find(|f| f.message.contains("events"))
            .expect("events");
        assert_eq!(events.severity, Severity::Medium);
        assert!(events
            .message
            .contains("warning events missing from job logs"));
        let informer = found
            .iter()
            .find(|f| f.message.contains("list/watch pods"))
            .expect("informer");
        assert_eq!(informer.severity, Severity::Low);
        assert!(
            !found.iter().any(|f| f.severity == Severity::High),
            "{found:#?}"
        );
    }

    #[test]
    fn role_in_another_namespace_than_the_jobs() {
        let found = fires(
            "RG201",
            &format!(
                "{}{SA}{}",
                config("        namespace = \"builds\"\n"),
                role("ci", FULL)
            ),
        );
        let f = found
            .iter()
            .find(|f| f.message.contains("create/get pods in namespace `builds`"))
            .unwrap_or_else(|| panic!("pods in builds: {found:#?}"));
        assert_eq!(f.severity, Severity::High);
        assert!(
            f.message.contains("grants only in namespace `ci`"),
            "{}",
            f.message
        );
        assert!(f.help.contains("namespace: builds"), "{}", f.help);
    }

    #[test]
    fn namespace_per_job_with_only_a_role_lacks_cluster_scope() {
        let found = fires(
            "RG201",
            &format!(
                "{}{SA}{}",
                config("        namespace_per_job = true\n"),
                role("ci", FULL)
            ),
        );
        assert!(found
            .iter()
            .any(|f| f.message.contains("create/delete namespaces")));
        let pods = found
            .iter()
            .find(|f| f.message.contains("create/get pods in every namespace"))
            .expect("pods everywhere");
        assert!(pods.message.contains("namespace_per_job"));
        assert!(pods.help.contains("ClusterRoleBinding"));
    }

    #[test]
    fn namespace_overwrite_checks_the_default_namespace_only() {
        let kube = format!(
            "        namespace = \"ci\"\n        namespace_overwrite_allowed = \"^ci-.*$\"\n{PINNED}"
        );
        silent(
            "RG201",
            &format!("{}{SA}{}", config(&kube), role("ci", FULL)),
        );
    }

    #[test]
    fn autoscaler_needs_are_medium_and_cluster_scoped() {
        let kube = "        namespace = \"ci\"\n        [runners.kubernetes.autoscaler]\n          max_pause_pods = 2\n";
        let found = fires(
            "RG201",
            &format!("{}{SA}{}", config(kube), role("ci", FULL)),
        );
        let pc = found
            .iter()
            .find(|f| f.message.contains("priorityclasses"))
            .expect("priorityclasses");
        assert_eq!(pc.severity, Severity::Medium);
        assert!(pc.message.contains("cluster-scoped"), "{}", pc.message);
        assert!(pc.help.contains("kind: ClusterRole"), "{}", pc.help);
        let dep = found
            .iter()
            .find(|f| f.message.contains("apps/deployments"))
            .expect("deployments");
        assert!(dep.message.contains("in namespace `ci`"), "{}", dep.message);
        assert!(found.iter().all(|f| f.severity < Severity::High));
    }

    #[test]
    fn wildcards_and_cluster_role_binding_cover_needs() {
        let crb = "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: runner}
rules:
- apiGroups: [\"\"]
  resources: [\"*\"]
  verbs: [\"*\"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: runner, namespace: ci}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: runner}
subjects: [{kind: ServiceAccount, name: gitlab-runner, namespace: ci}]
";
        silent("RG201", &format!("{}{SA}{crb}", config("")));
    }

    #[test]
    fn resource_names_do_not_cover_generated_pod_names() {
        let rules = FULL.replace(
            "  resources: [\"pods\"]\n  verbs",
            "  resources: [\"pods\"]\n  resourceNames: [\"build\"]\n  verbs",
        );
        let found = fires(
            "RG201",
            &format!("{}{SA}{}", config(""), role("ci", &rules)),
        );
        assert!(found.iter().any(|f| f.message.contains("create/get pods")));
    }

    #[test]
    fn helm_values_missing_rule_points_at_rbac() {
        let values = "gitlabUrl: https://gitlab.example.com/
rbac:
  create: true
  rules:
  - resources: [\"pods\", \"secrets\"]
    verbs: [\"create\", \"get\", \"delete\", \"update\", \"list\", \"watch\"]
  - resources: [\"pods/exec\"]
    verbs: [\"create\"]
runners:
  config: |
    [[runners]]
      [runners.kubernetes]
";
        let found = run("RG201", &[("values.yaml", values)]);
        let f = found
            .iter()
            .find(|f| f.message.contains("pods/attach"))
            .expect("attach");
        assert_eq!(f.line, 3);
        assert!(f.help.contains("rbac:\n  rules:"), "{}", f.help);
    }

    #[test]
    fn runner_without_any_binding_is_one_finding() {
        let yaml = config("")
            .replace("namespace: ci}", "}")
            .replace("namespace: ci}", "}");
        let rb = "---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: gitlab-runner, namespace: gitlab}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects: [{kind: ServiceAccount, name: gitlab-runner, namespace: gitlab}]
";
        let found = fires("RG201", &format!("{yaml}{rb}"));
        assert_eq!(found.len(), 1, "{found:#?}");
        let f = &found[0];
        assert_eq!(f.severity, Severity::High);
        assert!(f.message.contains("not bound to any role"), "{}", f.message);
        assert!(
            f.message
                .contains("system:serviceaccount:gitlab:gitlab-runner"),
            "{}",
            f.message
        );
        assert!(f.help.contains("kind: RoleBinding"), "{}", f.help);
        // Points at serviceAccountName of the runner Deployment.
        assert_eq!(f.line, 15);
    }

    #[test]
    fn builtin_role_only_points_at_the_config_namespace_key() {
        let rb = "apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: runner-view, namespace: ci}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: ServiceAccount, name: gitlab-runner, namespace: ci}]
";
        let found = fires(
            "RG201",
            &format!("{}{SA}{rb}", config("        namespace = \"ci\"\n")),
        );
        let f = found
            .iter()
            .find(|f| f.message.contains("cannot create pods"))
            .expect("pods");
        // The `namespace` key inside the ConfigMap's config.toml, as a line of the YAML file.
        assert_eq!((f.line, f.column), (8, 9));
        assert!(f.help.contains("kind: RoleBinding"), "{}", f.help);
    }

    #[test]
    fn old_runner_without_attach_strategy() {
        let rules = FULL.replace("\"pods/exec\", \"pods/attach\"", "\"pods/exec\"");
        let files = format!("{}{SA}{}", config(""), role("ci", &rules));
        let options = crate::api::Options {
            runner_version: Some("13.12".into()),
            ..Default::default()
        };
        let found = crate::rules::testing::run_with("RG201", &[("a.yaml", &files)], &options);
        assert!(
            !found.iter().any(|f| f.message.contains("pods/attach")),
            "{found:#?}"
        );
    }

    /// A Role with everything the config needs, lacking events watch: a job setting
    /// FF_PRINT_POD_EVENTS fails (kubernetes.go handlePodEvents -> watchPodEvents returns the
    /// error, v19.3.0), and the flag is the job's unless pinned (common/build_settings.go
    /// populateFeatureFlags).
    #[test]
    fn unpinned_print_pod_events_is_reported_with_both_fixes() {
        let files = format!(
            "{}{SA}{}",
            config("        namespace = \"ci\"\n"),
            role("ci", FULL)
        );
        let found = run("RG201", &[("a.yaml", &files)]);
        let f = found
            .iter()
            .find(|f| f.message.contains("FF_PRINT_POD_EVENTS"))
            .unwrap_or_else(|| panic!("events watch: {found:#?}"));
        assert_eq!(f.severity, Severity::Low);
        assert!(f.message.contains("cannot watch events"), "{}", f.message);
        assert!(f.message.contains("jobs fail"), "{}", f.message);
        assert!(
            f.help
                .contains("[runners.feature_flags]\n  FF_PRINT_POD_EVENTS = false"),
            "{}",
            f.help
        );
        assert!(f.help.contains("resources: [\"events\"]"), "{}", f.help);
        assert!(f.help.contains("verbs: [\"watch\"]"), "{}", f.help);
        // pods/log get for the three log flags, pods watch for the entrypoint.
        for flag in [
            "FF_KUBERNETES_HONOR_ENTRYPOINT",
            "FF_WAIT_FOR_POD_TO_BE_REACHABLE",
            "FF_CONCRETE",
        ] {
            assert!(
                found
                    .iter()
                    .any(|f| f.message.contains(flag) && f.message.contains("pods/log")),
                "{flag}: {found:#?}"
            );
        }
        // Nothing else is reported: the config's own needs are granted.
        assert!(
            found
                .iter()
                .all(|f| f.message.contains("a job can turn on")),
            "{found:#?}"
        );
    }

    #[test]
    fn pinned_flags_are_not_the_jobs() {
        let kube = format!("        namespace = \"ci\"\n{PINNED}");
        silent(
            "RG201",
            &format!("{}{SA}{}", config(&kube), role("ci", FULL)),
        );
        // Pinning one leaves the others reported.
        let kube = "        namespace = \"ci\"\n      [runners.feature_flags]\n        FF_PRINT_POD_EVENTS = false\n";
        let found = fires(
            "RG201",
            &format!("{}{SA}{}", config(kube), role("ci", FULL)),
        );
        assert!(!found
            .iter()
            .any(|f| f.message.contains("FF_PRINT_POD_EVENTS")));
        // Granting the permission is the other fix.
        let granted = FULL.replace("verbs: [\"list\"]", "verbs: [\"list\", \"watch\"]");
        let found = fires(
            "RG201",
            &format!(
                "{}{SA}{}",
                config("        namespace = \"ci\"\n"),
                role("ci", &granted)
            ),
        );
        assert!(!found
            .iter()
            .any(|f| f.message.contains("FF_PRINT_POD_EVENTS")));
    }

    #[test]
    fn a_runner_without_its_config_in_the_inputs_is_not_judged_on_flags() {
        // Only the RBAC: which flags are pinned is unknown.
        let found = run("RG201", &[("a.yaml", &format!("{SA}{}", role("ci", FULL)))]);
        assert!(
            !found
                .iter()
                .any(|f| f.message.contains("a job can turn on")),
            "{found:#?}"
        );
    }
}
