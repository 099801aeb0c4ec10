use super::util::kube_loc;
use crate::authz::Identity;
use crate::context::Ctx;
use crate::declare_rule;
use crate::model::Loc;
use crate::report::Finding;
use crate::rules::{Rule, RuleMeta};
use crate::runner::Runner;

declare_rule! {
    /// ### What it does
    /// Reports a runner manager or runner job pods using a namespace's `default`
    /// ServiceAccount: the runner deployed without `serviceAccountName` (or Helm values that
    /// name none), RBAC bound to `default` (also as the User
    /// `system:serviceaccount:NS:default`), or `[runners.kubernetes]` without
    /// `service_account`.
    ///
    /// ### Why is this bad
    /// Every pod in the namespace that names no account runs as `default`, so whatever is
    /// bound to it is shared by all of them: grant the runner's rights to `default` and every
    /// pod there (job pods included) holds them; leave jobs on `default` and any later binding
    /// to it reaches every CI script.
    ///
    /// ### Example
    /// ```yaml
    /// kind: RoleBinding
    /// subjects:
    /// - kind: User
    ///   name: system:serviceaccount:gitlab:default
    /// ```
    ///
    /// ### Fix
    /// Create dedicated ServiceAccounts: one for the runner manager (`serviceAccountName`, Helm
    /// `serviceAccount.create: true`), bound to the runner's Role; one for jobs, unbound, set as
    /// `service_account` with `automount_service_account_token = false`.
    pub DefaultServiceAccount,
    code = "RG309",
    name = "default-service-account",
    severity = Medium,
    category = Unsafe,
    summary = "The runner or its jobs use the default ServiceAccount",
}

fn is_default(id: &Identity) -> Option<&str> {
    match id {
        Identity::ServiceAccount { namespace, name } if name == "default" => Some(namespace),
        _ => None,
    }
}

impl Rule for DefaultServiceAccount {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        let mut seen: Vec<(Identity, &str)> = Vec::new();
        for r in &ctx.runner.runners {
            if let Some(m) = &r.manager {
                if let Some(ns) = is_default(m) {
                    if !seen.contains(&(m.clone(), "manager")) {
                        seen.push((m.clone(), "manager"));
                        manager(ctx, out, r, m, ns);
                    }
                }
            }
            // Jobs sharing the manager's `default` account: RG301 and the manager finding.
            if let Some(j) = r.jobs.as_ref().filter(|j| r.manager.as_ref() != Some(*j)) {
                if let Some(ns) = is_default(j) {
                    jobs(ctx, out, r, j, ns);
                }
            }
        }
    }
}

fn manager_loc(ctx: &Ctx, r: &Runner) -> Loc {
    if let Some(w) = r.workload.map(|w| &ctx.inv.workloads[w]) {
        return w.service_account_loc.unwrap_or(w.meta.loc);
    }
    r.anchor
}

fn manager(ctx: &Ctx, out: &mut Vec<Finding>, r: &Runner, m: &Identity, ns: &str) {
    let msg = format!(
        "the runner manager runs as the `default` ServiceAccount of namespace `{ns}` ({}): every pod there that names no ServiceAccount, job pods included, gets the runner's rights",
        r.manager_via
    );
    let help = format!(
        "Create a ServiceAccount for the runner and use it: `serviceAccountName: gitlab-runner` on the runner pod (Helm: `serviceAccount.create: true`, `serviceAccount.name: gitlab-runner`), and bind the runner's Role to it instead of `default`:\n```yaml\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: gitlab-runner\n  namespace: {ns}\n---\nsubjects:\n- kind: ServiceAccount\n  name: gitlab-runner\n  namespace: {ns}\n```"
    );
    let d = ctx
        .draft(&DefaultServiceAccount::META, manager_loc(ctx, r), msg, help)
        .object(r.name.clone())
        .identity(m)
        .key("manager");
    ctx.emit(out, d);
}

fn jobs(ctx: &Ctx, out: &mut Vec<Finding>, r: &Runner, j: &Identity, ns: &str) {
    let key = r.kube().and_then(|k| k.service_account()).map(|l| l.loc);
    let how = if key.is_some() {
        "`service_account = \"default\"`"
    } else {
        "no `service_account` is set"
    };
    let msg = format!(
        "job pods of {} run as the `default` ServiceAccount of namespace `{ns}` ({how}): anything bound to it, now or later, reaches every CI script",
        r.name
    );
    let help = format!(
        "Create an unbound ServiceAccount for jobs and set it in `[runners.kubernetes]`:\n```yaml\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: gitlab-runner-jobs\n  namespace: {ns}\nautomountServiceAccountToken: false\n```\n```toml\n[runners.kubernetes]\n  service_account = \"gitlab-runner-jobs\"\n  automount_service_account_token = false\n```"
    );
    let d = ctx
        .draft(&DefaultServiceAccount::META, kube_loc(r, key), msg, help)
        .object(r.name.clone())
        .identity(j)
        .key("jobs");
    ctx.emit(out, d);
}

#[cfg(test)]
mod tests {
    use super::super::util::fixture::runner;
    use crate::rules::testing::{fires, silent};

    #[test]
    fn jobs_without_service_account() {
        let found = fires("RG309", &runner("        namespace = \"ci\"\n"));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].line, 7);
        assert!(found[0].message.contains("job pods"));
    }

    #[test]
    fn manager_on_default() {
        let yaml = runner("        service_account = \"jobs\"\n")
            .replace("      serviceAccountName: gitlab-runner\n", "");
        let found = fires("RG309", &yaml);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].message.contains("runner manager"));
    }

    #[test]
    fn user_subject_naming_the_default_account() {
        let yaml = "kind: Role
apiVersion: rbac.authorization.k8s.io/v1
metadata: {namespace: gitlab, name: gitlab-runner-role}
rules:
- apiGroups: [\"\"]
  resources: [\"pods\", \"pods/exec\"]
  verbs: [\"create\"]
---
kind: RoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: b, namespace: gitlab}
subjects:
- {kind: User, name: \"system:serviceaccount:gitlab:default\", apiGroup: rbac.authorization.k8s.io}
roleRef: {kind: Role, name: gitlab-runner-role, apiGroup: rbac.authorization.k8s.io}
";
        let found = fires("RG309", yaml);
        let m = found
            .iter()
            .find(|f| f.message.contains("runner manager"))
            .expect("manager");
        assert_eq!(m.line, 13);
    }

    #[test]
    fn dedicated_accounts_are_silent() {
        silent("RG309", &runner("        service_account = \"jobs\"\n"));
    }
}
