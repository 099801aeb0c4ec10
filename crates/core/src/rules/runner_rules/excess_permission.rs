use super::util::{self, excess_parts, managers, scope_ns};
use crate::authz::Identity;
use crate::context::Ctx;
use crate::declare_rule;
use crate::model::{Origin, Role};
use crate::report::Finding;
use crate::rules::{Rule, RuleMeta};
use crate::runner::{self, JobNamespaces, Runner};

declare_rule! {
    /// ### What it does
    /// For each role bound to the runner manager, reports the rules that grant verbs or
    /// resources the runner does not use, given its version, its `config.toml` features and the
    /// namespaces its jobs run in. One finding per offending rule; the help is the minimal
    /// replacement Role for this runner. Dangerous extras (Secrets read, RBAC writes,
    /// wildcards) are also rated by the privilege rules; this rule lists them here too so the
    /// minimal Role is complete.
    ///
    /// ### Why is this bad
    /// Everything the runner manager holds is one stolen token away from an attacker: the
    /// runner pod runs next to untrusted CI jobs. Roles copied from old documentation (which
    /// listed `list`, `watch`, `patch` on Secrets and Services, and ConfigMaps for the attach
    /// strategy up to 15.7) carry permissions no current runner uses.
    ///
    /// ### Example
    /// ```yaml
    /// kind: Role
    /// metadata: {name: gitlab-runner, namespace: ci}
    /// rules:
    /// - apiGroups: [""]
    ///   resources: ["secrets"]
    ///   verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
    ///   # list, watch and patch are never used by the runner
    /// ```
    ///
    /// ### Fix
    /// Replace the role's rules with the minimal set shown in the help.
    pub ExcessPermission,
    code = "RG202",
    name = "excess-permission",
    severity = Low,
    category = Unsafe,
    summary = "The runner manager holds permissions it does not use",
}

impl Rule for ExcessPermission {
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

fn minimal(ctx: &Ctx, r: &Runner, role: &Role, ns: Option<&str>) -> String {
    let job_ns = match &r.job_namespaces {
        JobNamespaces::Listed(l) => l.first().map(String::as_str),
        JobNamespaces::Any { .. } => None,
    };
    let ns = job_ns.or(ns).unwrap_or("default");
    let helm = role.meta.origin == Origin::Helm;
    // A built-in role cannot be edited: the fix is a new Role for the runner.
    let builtin = role.meta.origin == Origin::Builtin;
    let name = if builtin {
        "gitlab-runner"
    } else {
        role.meta.name.as_str()
    };
    let yaml = util::minimal_role(r, name, ns, helm);
    let what = if helm {
        format!(
            "Replace the rules of the Helm values ({})",
            util::place(ctx, role.meta.loc)
        )
    } else if builtin {
        format!(
            "Stop binding the built-in {} and bind this Role instead",
            role.display()
        )
    } else {
        format!("Replace the rules of {}", role.display())
    };
    format!(
        "{what}; it holds what this runner needs ({}; jobs in {}):\n```yaml\n{yaml}```",
        util::runner_profile(r),
        r.job_namespaces_text()
    )
}

fn check_grant(ctx: &Ctx, out: &mut Vec<Finding>, id: &Identity, r: &Runner, gi: usize) {
    let grant = &ctx.authz.grants[gi];
    let role = &ctx.inv.roles[grant.role];
    let ns = scope_ns(&grant.scope);
    let via = ctx.authz.via(ctx.inv, gi);
    let per_rule: Vec<(usize, Vec<String>)> = role
        .rules
        .iter()
        .enumerate()
        .map(|(ri, rule)| (ri, excess_parts(ctx, id, &grant.scope, rule)))
        .filter(|(_, parts)| !parts.is_empty())
        .collect();
    if per_rule.is_empty() {
        return;
    }
    let help = minimal(ctx, r, role, ns);
    let scope = grant.scope.display();
    if !util::editable(role) {
        // A built-in role: its rules are not in the inputs, so one finding on the binding.
        let parts: Vec<String> = per_rule.into_iter().flat_map(|(_, p)| p).collect();
        let loc = ctx.authz.rule_loc(ctx.inv, gi, 0);
        let msg = format!(
            "{via} gives runner manager `{}` {scope} permissions it does not use: {}",
            id.id(),
            summarize(&parts)
        );
        let d = ctx
            .draft(&ExcessPermission::META, loc, msg, help)
            .object(role.display())
            .identity(id)
            .key(format!("{scope}:builtin"));
        ctx.emit(out, d);
        return;
    }
    for (ri, parts) in per_rule {
        let rule = &role.rules[ri];
        let loc = ctx.authz.rule_loc(ctx.inv, gi, ri);
        let msg = format!(
            "{} grants runner manager `{}` {scope} what it does not use ({}; jobs in {}): {}",
            role.display(),
            id.id(),
            util::runner_profile(r),
            r.job_namespaces_text(),
            parts.join("; ")
        );
        let d = ctx
            .draft(&ExcessPermission::META, loc, msg, help.clone())
            .object(role.display())
            .identity(id)
            .key(format!("{scope}:{}", rule.describe()));
        ctx.emit(out, d);
    }
}

fn summarize(parts: &[String]) -> String {
    const MAX: usize = 8;
    if parts.len() <= MAX {
        parts.join("; ")
    } else {
        format!(
            "{}; and {} more",
            parts[..MAX].join("; "),
            parts.len() - MAX
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{fires, silent};

    fn setup(rules: &str, kube: &str) -> String {
        format!(
            "{}---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: gitlab-runner, namespace: ci}}
rules:
{rules}---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: gitlab-runner, namespace: ci}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: gitlab-runner}}
subjects: [{{kind: ServiceAccount, name: gitlab-runner, namespace: ci}}]
",
            super::util::fixture::runner(kube)
        )
    }

    const MINIMAL: &str = "- apiGroups: [\"\"]
  resources: [\"pods\"]
  verbs: [\"create\", \"get\", \"delete\", \"list\", \"watch\"]
- apiGroups: [\"\"]
  resources: [\"pods/exec\", \"pods/attach\"]
  verbs: [\"create\", \"get\"]
- apiGroups: [\"\"]
  resources: [\"secrets\"]
  verbs: [\"create\", \"get\", \"update\", \"delete\"]
- apiGroups: [\"\"]
  resources: [\"events\"]
  verbs: [\"list\"]
";

    #[test]
    fn minimal_role_is_silent() {
        silent("RG202", &setup(MINIMAL, ""));
    }

    #[test]
    fn old_docs_role_has_excess() {
        let rules = format!(
            "{MINIMAL}- apiGroups: [\"\"]\n  resources: [\"configmaps\", \"services\"]\n  verbs: [\"get\", \"list\", \"watch\", \"create\", \"patch\", \"delete\"]\n"
        );
        let found = fires("RG202", &setup(&rules, ""));
        assert_eq!(found.len(), 1, "{found:#?}");
        let f = &found[0];
        assert!(
            f.message
                .contains("configmaps get, list, watch, create, patch, delete"),
            "{}",
            f.message
        );
        assert!(f.message.contains("services"), "{}", f.message);
        assert!(f.help.contains("kind: Role"), "{}", f.help);
        assert!(
            f.help.contains("resources: [\"pods/attach\"]"),
            "{}",
            f.help
        );
        assert!(!f.help.contains("configmaps"), "{}", f.help);
        assert_eq!(f.line, 35);
    }

    #[test]
    fn features_make_permissions_needed() {
        let rules = format!(
            "{MINIMAL}- apiGroups: [\"\"]\n  resources: [\"services\"]\n  verbs: [\"create\", \"get\"]\n"
        );
        // Without a session server, services are not used...
        fires("RG202", &setup(&rules, ""));
        // ...with one, they are.
        let with_session = setup(&rules, "").replace(
            "    [[runners]]\n",
            "    [session_server]\n      listen_address = \"0.0.0.0:8093\"\n    [[runners]]\n",
        );
        silent("RG202", &with_session);
    }

    #[test]
    fn wildcard_rule_is_excess() {
        let found = fires(
            "RG202",
            &setup(
                "- apiGroups: [\"\"]\n  resources: [\"*\"]\n  verbs: [\"*\"]\n",
                "",
            ),
        );
        assert!(
            found[0].message.contains("wildcard"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn builtin_edit_role_is_one_finding_on_the_binding() {
        let yaml = setup(MINIMAL, "").replace(
            "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: gitlab-runner}",
            "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}",
        );
        let found = fires("RG202", &yaml);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].object.as_deref(), Some("ClusterRole edit"));
        assert!(
            found[0].message.contains("(built-in"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn rules_granting_nothing_are_not_excess() {
        // A typo (`pods/logs`) and a cluster-scoped resource in a Role grant nothing.
        let rules = format!(
            "{MINIMAL}- apiGroups: [\"\"]\n  resources: [\"pods/logs\", \"namespaces\"]\n  verbs: [\"get\"]\n"
        );
        silent("RG202", &setup(&rules, ""));
    }
}
