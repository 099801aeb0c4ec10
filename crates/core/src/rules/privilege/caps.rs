//! Capability analysis shared by the privilege rules.
//!
//! Every rule of this group asks the same question of every (grant, rule, subject): which
//! dangerous requests does this rule authorize for this subject, beyond what a runner manager
//! needs? The answers come from probing the rule with concrete requests through
//! [`authz::rule_allows`], so `*`, `*/subresource`, `resourceNames` and scope (cluster-scoped
//! resources in a namespaced grant give nothing) follow Kubernetes exactly.
//!
//! A rule file implements `assess(ctx, site) -> Option<Cap>`; [`run`] walks the sites and
//! emits, and the escalation-path rule reuses the same `assess` functions to learn what each
//! identity holds.

use crate::authz::{self, Grant, Identity, Scope, RBAC_GROUP};
use crate::context::Ctx;
use crate::model::{Loc, Origin, PolicyRule, Role};
use crate::report::{Finding, Severity};
use crate::rules::RuleMeta;

pub const CORE: &str = "";
pub const APPS: &str = "apps";
pub const BATCH: &str = "batch";
pub const CERTS: &str = "certificates.k8s.io";
pub const ADMISSION: &str = "admissionregistration.k8s.io";
pub const AUTHN: &str = "authentication.k8s.io";
pub const KUBE_SYSTEM: &str = "kube-system";

/// Every kind of object that runs pods from a template (create, or change the template).
pub const WORKLOADS: &[(&str, &str)] = &[
    (APPS, "deployments"),
    (APPS, "daemonsets"),
    (APPS, "statefulsets"),
    (APPS, "replicasets"),
    (BATCH, "jobs"),
    (BATCH, "cronjobs"),
    (CORE, "replicationcontrollers"),
];

pub const RBAC_OBJECTS: &[(&str, &str)] = &[
    (RBAC_GROUP, "roles"),
    (RBAC_GROUP, "clusterroles"),
    (RBAC_GROUP, "rolebindings"),
    (RBAC_GROUP, "clusterrolebindings"),
];

pub const ROLES: &[(&str, &str)] = &[(RBAC_GROUP, "roles"), (RBAC_GROUP, "clusterroles")];

pub const WRITE: &[&str] = &["create", "update", "patch", "delete"];

/// Who a site concerns: a subject of the binding, or nobody yet (an unbound role, judged as if
/// bound where it could be).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    Id(Identity),
    Unbound,
}

/// One rule of one grant, seen by one subject.
pub struct Site<'a> {
    pub gi: usize,
    pub ri: usize,
    pub grant: &'a Grant,
    pub role: &'a Role,
    pub rule: &'a PolicyRule,
    pub who: Who,
}

/// What a site lets its subject do, as far as one rule is concerned.
#[derive(Debug, Clone)]
pub struct Cap {
    pub severity: Severity,
    /// A verb phrase completing "X can ...": `read every Secret in every namespace (get, list)`.
    pub what: String,
    /// Coarse, comparable name of the power (`secrets-read@*`), for escalation paths.
    pub power: String,
    /// The concrete fix.
    pub help: String,
}

/// An allowed request, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Req {
    pub verb: &'static str,
    pub group: &'static str,
    pub resource: &'static str,
}

/// kubectl style resource name: `pods/exec`, `deployments.apps`.
pub fn resource_text(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

/// `create, update, patch on deployments.apps, daemonsets.apps; create on pods`: resources that
/// share their verbs are listed together, in the order they were probed.
pub fn reqs_text(reqs: &[Req]) -> String {
    let mut per: Vec<(String, Vec<&str>)> = Vec::new();
    for r in reqs {
        let res = resource_text(r.group, r.resource);
        match per.iter_mut().find(|(x, _)| *x == res) {
            Some((_, verbs)) if !verbs.contains(&r.verb) => verbs.push(r.verb),
            Some(_) => {}
            None => per.push((res, vec![r.verb])),
        }
    }
    let mut groups: Vec<(Vec<&str>, Vec<String>)> = Vec::new();
    for (res, verbs) in per {
        match groups.iter_mut().find(|(v, _)| *v == verbs) {
            Some((_, list)) => list.push(res),
            None => groups.push((verbs, vec![res])),
        }
    }
    groups
        .iter()
        .map(|(verbs, list)| format!("{} on {}", verbs.join(", "), list.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The distinct verbs of `reqs`, in order: `get, list`.
pub fn verbs_text(reqs: &[Req]) -> String {
    let mut verbs: Vec<&str> = Vec::new();
    for r in reqs {
        if !verbs.contains(&r.verb) {
            verbs.push(r.verb);
        }
    }
    verbs.join(", ")
}

/// `verbs * on resources * in apiGroups *`: everything the API serves (cluster-admin when granted
/// cluster-wide).
pub fn is_full_wildcard(rule: &PolicyRule) -> bool {
    let star = |v: &[String]| v.iter().any(|s| s == "*");
    star(&rule.verbs) && star(&rule.resources) && star(&rule.api_groups)
}

/// Whether any of `rule`'s verbs, resources or apiGroups is `*`.
pub fn has_wildcard(rule: &PolicyRule) -> bool {
    rule.non_resource_urls.is_empty()
        && [&rule.verbs, &rule.resources, &rule.api_groups]
            .iter()
            .any(|v| v.iter().any(|s| s == "*"))
}

/// Built-in ClusterRoles that hand out every Secret and pod of a namespace.
pub fn is_builtin_admin(role: &Role) -> bool {
    role.meta.origin == Origin::Builtin && matches!(role.meta.name.as_str(), "admin" | "edit")
}

/// A grant whose whole role is reported as one finding by RG101/RG102 (a full wildcard, or the
/// built-in `admin`/`edit` granted cluster-wide): the capability rules stay quiet on it rather
/// than repeat every capability that follows from it.
pub fn subsumed(ctx: &Ctx, grant: &Grant) -> bool {
    let role = &ctx.inv.roles[grant.role];
    role.rules.iter().any(is_full_wildcard)
        || (is_builtin_admin(role) && grant.scope == Scope::Cluster)
}

impl Site<'_> {
    pub fn ns(&self) -> Option<&str> {
        match &self.grant.scope {
            Scope::Cluster => None,
            Scope::Namespace(ns) => Some(ns.as_str()),
        }
    }

    pub fn identity(&self) -> Option<&Identity> {
        match &self.who {
            Who::Id(id) => Some(id),
            Who::Unbound => None,
        }
    }

    /// Cluster-wide, or in `kube-system`, whose ServiceAccounts run the cluster's controllers:
    /// owning it is as good as owning the cluster.
    pub fn wide(&self) -> bool {
        self.ns().is_none_or(|ns| ns == KUBE_SYSTEM)
    }

    /// `wide` severity when [`Site::wide`], else `narrow`.
    pub fn pick(&self, wide: Severity, narrow: Severity) -> Severity {
        if self.wide() {
            wide
        } else {
            narrow
        }
    }

    /// `in every namespace` / `in namespace `ci``.
    pub fn scope_text(&self) -> String {
        match self.ns() {
            None => "in every namespace".to_string(),
            Some(ns) => format!("in namespace `{ns}`"),
        }
    }

    /// `*` or the namespace, for power keys.
    pub fn scope_key(&self) -> &str {
        self.ns().unwrap_or("*")
    }

    /// The subject is an SA of the grant's namespace (its own namespace).
    pub fn in_own_namespace(&self) -> bool {
        match (&self.who, self.ns()) {
            (Who::Id(Identity::ServiceAccount { namespace, .. }), Some(ns)) => namespace == ns,
            _ => false,
        }
    }

    pub fn is_manager(&self, ctx: &Ctx) -> bool {
        self.identity().is_some_and(|id| ctx.runner.is_manager(id))
    }

    /// Whether the rule, in this grant's scope, authorizes the request for any name.
    pub fn raw(&self, verb: &str, group: &str, resource: &str) -> bool {
        authz::rule_allows(&self.grant.scope, self.rule, verb, group, resource, None)
    }

    /// Like [`Site::raw`], minus what the subject needs as a runner manager here.
    pub fn allows(&self, ctx: &Ctx, verb: &str, group: &str, resource: &str) -> bool {
        self.raw(verb, group, resource) && !self.needed(ctx, verb, group, resource)
    }

    fn needed(&self, ctx: &Ctx, verb: &str, group: &str, resource: &str) -> bool {
        self.identity()
            .is_some_and(|id| ctx.runner.needed(id, verb, group, resource, self.ns()))
    }

    /// The names of `resourceNames` the rule authorizes the request for (empty when the rule is
    /// not restricted by names, or does not match).
    pub fn named(&self, verb: &str, group: &str, resource: &str) -> Vec<String> {
        self.rule
            .resource_names
            .iter()
            .filter(|n| {
                authz::rule_allows(&self.grant.scope, self.rule, verb, group, resource, Some(n))
            })
            .cloned()
            .collect()
    }

    /// Every (verb, target) pair the rule allows, minus runner needs, in the given order.
    pub fn matched(
        &self,
        ctx: &Ctx,
        verbs: &[&'static str],
        targets: &[(&'static str, &'static str)],
    ) -> Vec<Req> {
        let mut out = Vec::new();
        for &(group, resource) in targets {
            for &verb in verbs {
                if self.allows(ctx, verb, group, resource) {
                    out.push(Req {
                        verb,
                        group,
                        resource,
                    });
                }
            }
        }
        out
    }

    /// Grants through which the subject acts: all of an identity's (including its implicit
    /// groups'), or for an unbound role only this hypothetical grant.
    pub fn grants(&self, ctx: &Ctx) -> Vec<usize> {
        match &self.who {
            Who::Id(id) => ctx.authz.grants_of(id),
            Who::Unbound => vec![self.gi],
        }
    }

    /// Whether the subject may `verb` `group`/`resource` in `ns` (`None`: cluster-wide) through
    /// any of its grants, without the runner filter.
    pub fn can(
        &self,
        ctx: &Ctx,
        verb: &str,
        group: &str,
        resource: &str,
        ns: Option<&str>,
        name: Option<&str>,
    ) -> bool {
        !ctx.authz
            .who_allows(ctx.inv, &self.grants(ctx), verb, group, resource, ns, name)
            .is_empty()
    }

    /// Namespaces (`None` = every namespace) where the subject may `verb` the resource through
    /// any of its grants (without the runner filter): for any name, or with `with_names` also
    /// for some name listed in `resourceNames`.
    pub fn scopes_where(
        &self,
        ctx: &Ctx,
        verb: &str,
        group: &str,
        resource: &str,
        with_names: bool,
    ) -> std::rc::Rc<[Option<String>]> {
        // The answer depends on the subject only, not on the site asking: it is remembered,
        // since every rule of a subject with many grants asks it again (quadratic in the
        // grants of a group bound in many namespaces). It is shared, not copied, for the same
        // reason: the list can name every namespace.
        let key = ScopesKey {
            who: match &self.who {
                Who::Id(id) => Some(id.clone()),
                Who::Unbound => None,
            },
            gi: matches!(self.who, Who::Unbound).then_some(self.gi),
            query: [verb, group, resource].map(str::to_string),
            with_names,
        };
        if let Some(hit) = ctx.scopes_cache().borrow().get(&key) {
            return std::rc::Rc::clone(hit);
        }
        let mut out: Vec<Option<String>> = Vec::new();
        let mut seen: std::collections::HashSet<Option<String>> = std::collections::HashSet::new();
        for gi in self.grants(ctx) {
            let g = &ctx.authz.grants[gi];
            let hit = ctx.inv.roles[g.role].rules.iter().any(|r| {
                authz::rule_allows(&g.scope, r, verb, group, resource, None)
                    || with_names
                        && r.resource_names.iter().any(|n| {
                            authz::rule_allows(&g.scope, r, verb, group, resource, Some(n))
                        })
            });
            let ns = match &g.scope {
                Scope::Cluster => None,
                Scope::Namespace(ns) => Some(ns.clone()),
            };
            if hit && seen.insert(ns.clone()) {
                out.push(ns);
            }
        }
        let out: std::rc::Rc<[Option<String>]> = out.into();
        ctx.scopes_cache()
            .borrow_mut()
            .insert(key, std::rc::Rc::clone(&out));
        out
    }
}

/// What [`Site::scopes_where`] was asked: the subject (or, for an unbound role, its grant) and
/// the request.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ScopesKey {
    who: Option<Identity>,
    gi: Option<usize>,
    query: [String; 3],
    with_names: bool,
}

/// The subjects a grant reaches, without repeats; an unbound role stands for itself.
fn whos(grant: &Grant) -> Vec<Who> {
    if grant.hypothetical() {
        return vec![Who::Unbound];
    }
    let mut out: Vec<Who> = Vec::new();
    for s in &grant.subjects {
        let w = Who::Id(s.clone());
        if !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

/// Every (grant, rule, subject) of the inputs, in inventory order. A binding without subjects
/// grants nothing and is skipped.
pub fn sites<'a>(ctx: &'a Ctx) -> Vec<Site<'a>> {
    let mut out = Vec::new();
    for (gi, grant) in ctx.authz.grants.iter().enumerate() {
        let role = &ctx.inv.roles[grant.role];
        let whos = whos(grant);
        for (ri, rule) in role.rules.iter().enumerate() {
            for who in &whos {
                out.push(Site {
                    gi,
                    ri,
                    grant,
                    role,
                    rule,
                    who: who.clone(),
                });
            }
        }
    }
    out
}

/// Every rule of every grant that reaches `id` (directly or through its implicit groups).
pub fn identity_sites<'a>(ctx: &'a Ctx, id: &Identity) -> Vec<Site<'a>> {
    let mut out = Vec::new();
    for gi in ctx.authz.grants_of(id) {
        let grant = &ctx.authz.grants[gi];
        let role = &ctx.inv.roles[grant.role];
        for (ri, rule) in role.rules.iter().enumerate() {
            out.push(Site {
                gi,
                ri,
                grant,
                role,
                rule,
                who: Who::Id(id.clone()),
            });
        }
    }
    out
}

/// Which sites a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Skip grants reported as a whole by RG101/RG102.
    Capability,
    /// In such grants, only the full-wildcard rules.
    Wildcard,
    /// Every site.
    All,
}

pub type Assess = fn(&Ctx, &Site) -> Option<Cap>;

/// Runs `assess` over the sites `mode` selects and emits one finding per capability found.
pub fn run(ctx: &Ctx, out: &mut Vec<Finding>, meta: &'static RuleMeta, mode: Mode, assess: Assess) {
    let subsumed: Vec<bool> = ctx.authz.grants.iter().map(|g| subsumed(ctx, g)).collect();
    for site in sites(ctx) {
        let skip = match mode {
            Mode::Capability => subsumed[site.gi],
            Mode::Wildcard => subsumed[site.gi] && !is_full_wildcard(site.rule),
            Mode::All => false,
        };
        if skip {
            continue;
        }
        if let Some(cap) = assess(ctx, &site) {
            emit(ctx, out, meta, &site, cap);
        }
    }
}

/// What a finding about a grant is anchored on: the role when it is in the inputs, else the
/// binding (built-in roles are not in the inputs).
pub fn object(ctx: &Ctx, gi: usize) -> String {
    let g = &ctx.authz.grants[gi];
    let role = &ctx.inv.roles[g.role];
    match (role.meta.origin == Origin::Builtin, g.binding) {
        (true, Some(b)) => ctx.inv.bindings[b].display(),
        _ => role.display(),
    }
}

/// `X can <what> (through <via>)`, or for an unbound role `<via> would let its subjects <what>`.
pub fn sentence(ctx: &Ctx, site: &Site, what: &str) -> String {
    let via = ctx.authz.via(ctx.inv, site.gi);
    match &site.who {
        Who::Id(id) => format!("{} can {what} (through {via})", id.id()),
        Who::Unbound => format!("{via} would let its subjects {what}"),
    }
}

pub fn emit(ctx: &Ctx, out: &mut Vec<Finding>, meta: &'static RuleMeta, site: &Site, cap: Cap) {
    let loc = ctx.authz.rule_loc(ctx.inv, site.gi, site.ri);
    emit_at(ctx, out, meta, site, cap, loc);
}

/// [`emit`], pointing at `loc` rather than at the rule (or the roleRef of a built-in role).
pub fn emit_at(
    ctx: &Ctx,
    out: &mut Vec<Finding>,
    meta: &'static RuleMeta,
    site: &Site,
    cap: Cap,
    loc: Loc,
) {
    let via = ctx.authz.via(ctx.inv, site.gi);
    let mut d = ctx
        .draft(meta, loc, sentence(ctx, site, &cap.what), cap.help)
        .object(object(ctx, site.gi))
        .key(format!("{via} | {}", site.rule.describe()))
        .severity(cap.severity);
    if let Who::Id(id) = &site.who {
        d = d.identity(id);
    }
    ctx.emit(out, d);
}

/// The fix sentence for removing `reqs` from the rule.
pub fn remove_help(site: &Site, reqs: &[Req]) -> String {
    format!(
        "Remove {} from the rule `{}` of {}",
        reqs_text(reqs),
        site.rule.describe(),
        site.role.display()
    )
}

#[cfg(test)]
pub mod fixture {
    //! Small manifests for the rules' test vectors.

    /// A role named `r` with `rules` (YAML list items), bound to ServiceAccount `ns/app`: a
    /// ClusterRole through a ClusterRoleBinding, a Role through a RoleBinding in `ns`.
    pub fn bound(kind: &str, ns: &str, rules: &str) -> String {
        subject_bound(
            kind,
            ns,
            rules,
            &format!("- kind: ServiceAccount\n  name: app\n  namespace: {ns}"),
        )
    }

    /// Like [`bound`], with the given subjects (YAML list items).
    pub fn subject_bound(kind: &str, ns: &str, rules: &str, subjects: &str) -> String {
        let (binding, meta_ns) = if kind == "ClusterRole" {
            ("ClusterRoleBinding", String::new())
        } else {
            ("RoleBinding", format!("\n  namespace: {ns}"))
        };
        format!(
            "apiVersion: rbac.authorization.k8s.io/v1
kind: {kind}
metadata:
  name: r{meta_ns}
rules:
{rules}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: {binding}
metadata:
  name: b{meta_ns}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: {kind}
  name: r
subjects:
{subjects}
"
        )
    }

    /// A ClusterRole `r` bound with a RoleBinding in `ns` to ServiceAccount `ns/app`.
    pub fn cluster_role_in(ns: &str, rules: &str) -> String {
        format!(
            "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: r
rules:
{rules}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: b
  namespace: {ns}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: r
subjects:
- kind: ServiceAccount
  name: app
  namespace: {ns}
"
        )
    }

    /// One rule in YAML list-item form.
    pub fn rule(groups: &str, resources: &str, verbs: &str) -> String {
        format!("- apiGroups: {groups}\n  resources: {resources}\n  verbs: {verbs}")
    }

    /// GitLab's documented runner Role (docs/executors/kubernetes, default features) in namespace
    /// `gitlab-runner`, bound to ServiceAccount `gitlab-runner/gitlab-runner`, which the
    /// gitlab-runner Deployment runs as; jobs run in the same namespace.
    pub const GITLAB_RUNNER: &str = "apiVersion: v1
kind: ServiceAccount
metadata:
  name: gitlab-runner
  namespace: gitlab-runner
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: gitlab-runner
  namespace: gitlab-runner
rules:
- apiGroups: [\"\"]
  resources: [\"events\"]
  verbs: [\"list\", \"watch\"]
- apiGroups: [\"\"]
  resources: [\"pods\"]
  verbs: [\"create\", \"delete\", \"get\", \"list\", \"watch\"]
- apiGroups: [\"\"]
  resources: [\"pods/attach\", \"pods/exec\"]
  verbs: [\"create\", \"delete\", \"get\", \"patch\"]
- apiGroups: [\"\"]
  resources: [\"pods/log\"]
  verbs: [\"get\"]
- apiGroups: [\"\"]
  resources: [\"secrets\"]
  verbs: [\"create\", \"delete\", \"get\", \"update\"]
- apiGroups: [\"\"]
  resources: [\"serviceaccounts\"]
  verbs: [\"get\"]
- apiGroups: [\"\"]
  resources: [\"services\"]
  verbs: [\"create\", \"get\"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: gitlab-runner
  namespace: gitlab-runner
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: gitlab-runner
subjects:
- kind: ServiceAccount
  name: gitlab-runner
  namespace: gitlab-runner
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: gitlab-runner
  namespace: gitlab-runner
data:
  config.toml: |
    concurrent = 4
    [[runners]]
      name = \"k8s\"
      url = \"https://gitlab.example.com/\"
      executor = \"kubernetes\"
      [runners.kubernetes]
        namespace = \"gitlab-runner\"
        image = \"alpine:3.20\"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: gitlab-runner
  namespace: gitlab-runner
spec:
  selector:
    matchLabels:
      app: gitlab-runner
  template:
    metadata:
      labels:
        app: gitlab-runner
    spec:
      serviceAccountName: gitlab-runner
      containers:
      - name: gitlab-runner
        image: gitlab/gitlab-runner:v18.5.0
        volumeMounts:
        - name: config
          mountPath: /etc/gitlab-runner
      volumes:
      - name: config
        configMap:
          name: gitlab-runner
";
}
