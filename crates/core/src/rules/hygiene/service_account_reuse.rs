use crate::authz::{Identity, Scope};
use crate::context::Ctx;
use crate::declare_rule;
use crate::model::{Loc, SubjectKind, Workload};
use crate::report::Finding;
use crate::rules::{Rule, RuleMeta};
use std::collections::BTreeMap;

declare_rule! {
    /// ### What it does
    /// Reports one ServiceAccount serving what should be separate identities:
    /// 1. **the runner manager's ServiceAccount, or the one CI job pods run as, is also used by
    ///    a workload that is not a gitlab-runner** (by image, `app` label or the runner model),
    ///    which then shares rights with the runner or with every pipeline;
    /// 2. **one ServiceAccount (same namespace and name) used by workloads of different apps or
    ///    environments**: their `app.kubernetes.io/name` (else `app`, `k8s-app`, else the workload
    ///    name), `app.kubernetes.io/instance` or `environment`/`env` labels differ. Only
    ///    workloads that mount its token count (`automountServiceAccountToken: false` on the pod,
    ///    or on the ServiceAccount without a pod override, opts out);
    /// 3. **the same ServiceAccount name from several namespaces granted the same role in the
    ///    same scope**, e.g. one ClusterRoleBinding listing `gitlab-runner` of `team-a` and
    ///    `team-b`, or two ClusterRoleBindings of one ClusterRole for them. (RoleBindings of one
    ///    role in different namespaces are separate scopes and are fine.)
    ///
    /// ### Why is this bad
    /// Rights follow the identity, not the workload: every pod running as the account can use
    /// everything granted to it, so a compromise of the least trusted one reaches the others.
    /// A shared binding for runners of several teams lets each team's runner (and, when job pods
    /// share the runner's identity, each team's CI jobs) act in the other teams' namespaces.
    ///
    /// ### Example
    /// ```yaml
    /// kind: ClusterRoleBinding
    /// metadata: {name: gitlab-runners}
    /// roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: gitlab-runner}
    /// subjects:
    /// - {kind: ServiceAccount, name: gitlab-runner, namespace: team-a}
    /// - {kind: ServiceAccount, name: gitlab-runner, namespace: team-b}
    /// ```
    ///
    /// ### Fix
    /// Give each app, environment and runner its own ServiceAccount
    /// (`serviceAccountName: <app>`), and bind each one separately: one RoleBinding per
    /// runner in its own job namespace instead of a shared ClusterRoleBinding.
    pub ServiceAccountReuse,
    code = "RG310",
    name = "service-account-reuse",
    severity = Medium,
    category = Unsafe,
    summary = "One ServiceAccount serves several apps, environments or runners",
}

impl Rule for ServiceAccountReuse {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        workloads(ctx, out);
        shared_grants(ctx, out);
    }
}

fn namespace_of(w: &Workload) -> &str {
    w.namespace.as_deref().unwrap_or("default")
}

fn identity_of(w: &Workload) -> Identity {
    Identity::sa(namespace_of(w), w.service_account_name())
}

/// Whether the pod gets the account's token (pod setting first, then the ServiceAccount's).
fn mounts_token(ctx: &Ctx, w: &Workload) -> bool {
    if let Some(a) = w.automount {
        return a;
    }
    ctx.service_account(namespace_of(w), w.service_account_name())
        .and_then(|sa| sa.automount)
        .unwrap_or(true)
}

/// What makes two workloads "different": app name, release instance and environment.
fn app_key(w: &Workload) -> (String, String, String) {
    let label = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| w.labels.get(k))
            .cloned()
            .unwrap_or_default()
    };
    let mut app = label(&["app.kubernetes.io/name", "app", "k8s-app"]);
    if app.is_empty() {
        app = w.meta.name.clone();
    }
    (
        app,
        label(&["app.kubernetes.io/instance"]),
        label(&["environment", "env", "app.kubernetes.io/environment"]),
    )
}

fn show(w: &Workload) -> String {
    format!("{} {}/{}", w.kind, namespace_of(w), w.meta.name)
}

fn sa_loc(w: &Workload) -> Loc {
    w.service_account_loc.unwrap_or(w.meta.loc)
}

/// A gitlab-runner manager workload: by image or label, or linked to a runner by the model.
fn is_runner_workload(ctx: &Ctx, wi: usize) -> bool {
    ctx.inv.workloads[wi].is_gitlab_runner()
        || ctx.runner.runners.iter().any(|r| r.workload == Some(wi))
}

fn workloads(ctx: &Ctx, out: &mut Vec<Finding>) {
    let mut by_id: BTreeMap<Identity, Vec<usize>> = BTreeMap::new();
    for (wi, w) in ctx.inv.workloads.iter().enumerate() {
        if mounts_token(ctx, w) {
            by_id.entry(identity_of(w)).or_default().push(wi);
        }
    }
    for (id, wis) in &by_id {
        let runner_account =
            ctx.runner.is_manager(id) || wis.iter().any(|&wi| is_runner_workload(ctx, wi));
        let others: Vec<&Workload> = wis
            .iter()
            .filter(|&&wi| !is_runner_workload(ctx, wi))
            .map(|&wi| &ctx.inv.workloads[wi])
            .collect();
        if runner_account {
            for w in others {
                shared_with_runner(ctx, out, id, w, Shared::Manager);
            }
            continue;
        }
        if ctx.runner.is_job(id) {
            for w in others {
                shared_with_runner(ctx, out, id, w, Shared::Jobs);
            }
            continue;
        }
        let ws: Vec<&Workload> = wis.iter().map(|&wi| &ctx.inv.workloads[wi]).collect();
        let first = app_key(ws[0]);
        let Some(other) = ws.iter().find(|w| app_key(w) != first) else {
            continue;
        };
        let names: Vec<String> = ws.iter().map(|w| show(w)).collect();
        let d = ctx
            .draft(
                &ServiceAccountReuse::META,
                sa_loc(other),
                format!(
                    "ServiceAccount {} is used by workloads of different apps or environments ({}): each can use every right granted to the others",
                    id.id().trim_start_matches("system:serviceaccount:").replacen(':', "/", 1),
                    names.join(", ")
                ),
                format!(
                    "Give {} its own ServiceAccount (`serviceAccountName: {}`) with only the bindings it needs.",
                    show(other),
                    app_key(other).0
                ),
            )
            .object(show(other))
            .identity(id)
            .key("workloads");
        ctx.emit(out, d);
    }
}

#[derive(Clone, Copy)]
enum Shared {
    Manager,
    Jobs,
}

fn shared_with_runner(ctx: &Ctx, out: &mut Vec<Finding>, id: &Identity, w: &Workload, how: Shared) {
    let sa = format!("{}/{}", namespace_of(w), w.service_account_name());
    let (whose, what, key) = match how {
        Shared::Manager => (
            "the gitlab-runner manager's identity",
            "it holds the runner's rights (creating pods, reading secrets in the job namespaces)",
            "runner-manager",
        ),
        Shared::Jobs => (
            "the identity of CI job pods",
            "every CI job can use the rights granted for it, and it gets whatever is granted to jobs",
            "job-identity",
        ),
    };
    let d = ctx
        .draft(
            &ServiceAccountReuse::META,
            sa_loc(w),
            format!("{} runs as ServiceAccount {sa}, {whose}: {what}", show(w)),
            format!(
                "Give {} its own ServiceAccount (`serviceAccountName: {}`), and keep {sa} for the runner only.",
                show(w),
                app_key(w).0
            ),
        )
        .object(show(w))
        .identity(id)
        .key(key);
    ctx.emit(out, d);
}

/// Same role, same scope, same ServiceAccount name from several namespaces.
fn shared_grants(ctx: &Ctx, out: &mut Vec<Finding>) {
    let broken: Vec<usize> = ctx.authz.binding_problems.iter().map(|(b, _)| *b).collect();
    // (role, scope) -> SA name -> [(namespace, binding, subject loc)], in inventory order.
    type Seen = Vec<(String, usize, Loc)>;
    let mut groups: BTreeMap<(usize, Scope), BTreeMap<String, Seen>> = BTreeMap::new();
    for g in ctx.authz.grants.iter() {
        let Some(bi) = g.binding else { continue };
        if broken.contains(&bi) {
            continue;
        }
        let b = &ctx.inv.bindings[bi];
        let entry = groups.entry((g.role, g.scope.clone())).or_default();
        for s in b
            .subjects
            .iter()
            .filter(|s| s.kind == SubjectKind::ServiceAccount)
        {
            let ns = s
                .namespace
                .clone()
                .or_else(|| b.meta.namespace.clone())
                .unwrap_or_else(|| "default".into());
            let seen = entry.entry(s.name.clone()).or_default();
            if !seen.iter().any(|(n, ..)| *n == ns) {
                seen.push((ns, bi, s.loc));
            }
        }
    }
    for ((role, scope), names) in &groups {
        for (name, seen) in names {
            if seen.len() < 2 {
                continue;
            }
            report_shared(ctx, out, *role, scope, name, seen);
        }
    }
}

fn report_shared(
    ctx: &Ctx,
    out: &mut Vec<Finding>,
    role: usize,
    scope: &Scope,
    name: &str,
    seen: &[(String, usize, Loc)],
) {
    let namespaces: Vec<&str> = seen.iter().map(|(n, ..)| n.as_str()).collect();
    let role_display = ctx.inv.roles[role].display();
    let (_, bi, loc) = &seen[1];
    let binding = ctx.inv.bindings[*bi].display();
    let fix = match scope {
        Scope::Cluster => format!(
            "Bind each ServiceAccount separately, with a RoleBinding in its own job namespace (e.g. `kind: RoleBinding`, `namespace: {}`, subject `{name}` of `{}` only), instead of one cluster-wide grant.",
            namespaces[0], namespaces[0]
        ),
        Scope::Namespace(ns) => format!(
            "Keep only the ServiceAccount of namespace `{ns}` (if any) in this grant; give each other namespace its own RoleBinding there."
        ),
    };
    let d = ctx
        .draft(
            &ServiceAccountReuse::META,
            *loc,
            format!(
                "{binding} grants {role_display} {} to ServiceAccount `{name}` of namespaces {}: one identity per namespace, but the same rights everywhere, so each can act where the others do",
                scope.display(),
                namespaces.join(", ")
            ),
            fix,
        )
        .object(binding)
        .key(format!("{role_display}:{}:{name}", scope.display()));
    ctx.emit(out, d);
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{fires, silent};

    fn deploy(name: &str, app: &str, sa: &str, extra: &str) -> String {
        format!(
            "---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: apps}}
spec:
  template:
    metadata:
      labels: {{app: {app}}}
    spec:
      serviceAccountName: {sa}
{extra}      containers: [{{name: c, image: example/{app}}}]
"
        )
    }

    #[test]
    fn two_apps_one_account() {
        let yaml = deploy("web", "web", "shared", "") + &deploy("worker", "worker", "shared", "");
        let f = fires("RG310", &yaml);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].line, 21);
    }

    #[test]
    fn same_app_or_no_token_is_fine() {
        silent(
            "RG310",
            &(deploy("web", "web", "shared", "") + &deploy("web-cron", "web", "shared", "")),
        );
        silent(
            "RG310",
            &(deploy("web", "web", "shared", "")
                + &deploy(
                    "worker",
                    "worker",
                    "shared",
                    "      automountServiceAccountToken: false\n",
                )),
        );
        // Same name, different namespaces: different identities.
        silent(
            "RG310",
            &(deploy("web", "web", "shared", "")
                + &deploy("worker", "worker", "shared", "")
                    .replace("namespace: apps", "namespace: jobs")),
        );
    }

    #[test]
    fn runner_account_used_by_another_workload() {
        let yaml = deploy("gitlab-runner", "gitlab-runner", "gitlab-runner", "")
            + &deploy("metrics", "metrics", "gitlab-runner", "");
        let f = fires("RG310", &yaml);
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("runner manager"), "{}", f[0].message);
        assert!(f[0].object.as_deref().unwrap_or("").contains("metrics"));
    }

    #[test]
    fn workload_running_as_the_job_identity() {
        let toml = "[[runners]]
  executor = \"kubernetes\"
  [runners.kubernetes]
    namespace = \"apps\"
    service_account = \"ci-job\"
";
        let found = crate::rules::testing::run(
            "RG310",
            &[
                ("config.toml", toml),
                ("d.yaml", &deploy("web", "web", "ci-job", "")),
            ],
        );
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            found[0].message.contains("CI job pods"),
            "{}",
            found[0].message
        );
    }

    const CR: &str = "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: gitlab-runner}
rules:
- apiGroups: [\"\"]
  resources: [pods]
  verbs: [create]
";

    #[test]
    fn one_cluster_role_binding_for_runners_of_several_namespaces() {
        let yaml = format!(
            "{CR}---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: gitlab-runners}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: gitlab-runner}}
subjects:
- {{kind: ServiceAccount, name: gitlab-runner, namespace: team-a}}
- {{kind: ServiceAccount, name: gitlab-runner, namespace: team-b}}
- {{kind: ServiceAccount, name: other, namespace: team-c}}
"
        );
        let f = fires("RG310", &yaml);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].line, 15);
        assert!(f[0].message.contains("team-a, team-b"));
    }

    #[test]
    fn separate_cluster_role_bindings_of_one_role_count_too() {
        let crb = |ns: &str| {
            format!(
                "---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: runner-{ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: gitlab-runner}}
subjects: [{{kind: ServiceAccount, name: gitlab-runner, namespace: {ns}}}]
"
            )
        };
        fires("RG310", &format!("{CR}{}{}", crb("a"), crb("b")));
    }

    #[test]
    fn role_bindings_per_namespace_are_fine() {
        let rb = |ns: &str| {
            format!(
                "---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: runner, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: gitlab-runner}}
subjects: [{{kind: ServiceAccount, name: gitlab-runner, namespace: {ns}}}]
"
            )
        };
        silent("RG310", &format!("{CR}{}{}", rb("a"), rb("b")));
    }
}
