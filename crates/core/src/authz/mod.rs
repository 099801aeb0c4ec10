//! The RBAC authorizer, as Kubernetes applies it.
//!
//! * Rules match by exact strings, `*`, and `*/subresource` (`pods/*` is not a wildcard).
//! * An empty `resourceNames` means every name.
//! * A Role grants only in its namespace; a RoleBinding to a ClusterRole grants only in the
//!   binding's namespace; a ClusterRoleBinding grants everywhere.
//! * Cluster-scoped resources in a namespaced grant give nothing, with one exception: the `bind`
//!   check for a RoleBinding to a ClusterRole is made in the binding's namespace, so `bind` on
//!   `clusterroles` in a Role counts there.
//! * `nonResourceURLs` count only through a ClusterRoleBinding.
//! * `roleRef.apiGroup` empty defaults to `rbac.authorization.k8s.io`; anything else is invalid.
//! * Aggregated ClusterRoles hold the union of the selected roles' rules.
//! * The bootstrap policy ([`bootstrap`]) exists in every cluster and is reconciled at each start
//!   of the API server: an input object with a default's name holds what reconciliation makes of
//!   it.

pub mod bootstrap;
pub mod resources;

use crate::model::{
    Binding, BindingKind, Inventory, Loc, Meta, Origin, PolicyRule, Role, RoleKind, SubjectKind,
};
use std::collections::{BTreeMap, BTreeSet};

/// The release whose bootstrap policy is shipped.
pub const BUILTIN_RELEASE: &str = "Kubernetes v1.34";
pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    Cluster,
    Namespace(String),
}

impl Scope {
    pub fn display(&self) -> String {
        match self {
            Scope::Cluster => "cluster-wide".to_string(),
            Scope::Namespace(ns) => format!("namespace `{ns}`"),
        }
    }

    pub fn covers(&self, namespace: Option<&str>) -> bool {
        match (self, namespace) {
            (Scope::Cluster, _) => true,
            (Scope::Namespace(a), Some(b)) => a == b,
            (Scope::Namespace(_), None) => false,
        }
    }
}

/// Who is asking. Service accounts are also users `system:serviceaccount:NS:NAME` and members
/// of `system:serviceaccounts`, `system:serviceaccounts:NS` and `system:authenticated`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Identity {
    ServiceAccount { namespace: String, name: String },
    User(String),
    Group(String),
}

impl Identity {
    pub fn sa(namespace: &str, name: &str) -> Identity {
        Identity::ServiceAccount {
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }

    pub fn id(&self) -> String {
        match self {
            Identity::ServiceAccount { namespace, name } => {
                format!("system:serviceaccount:{namespace}:{name}")
            }
            Identity::User(u) => format!("user:{u}"),
            Identity::Group(g) => format!("group:{g}"),
        }
    }

    /// Groups whose members include every (authenticated or not) caller.
    pub fn is_broad_group(&self) -> bool {
        matches!(self, Identity::Group(g) if matches!(g.as_str(),
            "system:authenticated" | "system:unauthenticated" | "system:serviceaccounts")
            || g.starts_with("system:serviceaccounts:"))
    }

    fn from_user(name: &str) -> Identity {
        match name
            .strip_prefix("system:serviceaccount:")
            .and_then(|r| r.split_once(':'))
        {
            Some((ns, n)) => Identity::sa(ns, n),
            None => Identity::User(name.to_string()),
        }
    }
}

/// One binding (or, for an unbound role, a hypothetical one) giving a role's rules in a scope.
#[derive(Debug, Clone)]
pub struct Grant {
    pub role: usize,
    pub binding: Option<usize>,
    pub scope: Scope,
    /// Subjects the grant reaches (empty for hypothetical grants).
    pub subjects: Vec<Identity>,
}

impl Grant {
    pub fn hypothetical(&self) -> bool {
        self.binding.is_none()
    }
}

/// Resolution problems of a binding, reported by the hygiene rules.
#[derive(Debug, Clone)]
pub enum BindingProblem {
    Dangling,
    InvalidApiGroup,
    ClusterRoleBindingToRole,
}

#[derive(Debug, Default)]
pub struct Authz {
    pub grants: Vec<Grant>,
    pub binding_problems: Vec<(usize, BindingProblem)>,
    pub identities: BTreeSet<Identity>,
    /// Input roles identical (by content) to their bootstrap default: platform, not findings.
    pub default_roles: Vec<bool>,
    /// Input bindings identical (by content, after reconciliation) to their bootstrap default.
    pub default_bindings: Vec<bool>,
    by_identity: BTreeMap<Identity, Vec<usize>>,
    broad: Vec<(Identity, Vec<usize>)>,
}

pub fn verb_matches(rule: &PolicyRule, verb: &str) -> bool {
    rule.verbs.iter().any(|v| v == "*" || v == verb)
}

pub fn group_matches(rule: &PolicyRule, group: &str) -> bool {
    rule.api_groups.iter().any(|g| g == "*" || g == group)
}

pub fn resource_matches(rule: &PolicyRule, resource: &str) -> bool {
    let sub = resource.split_once('/').map(|(_, s)| s);
    rule.resources
        .iter()
        .any(|r| r == "*" || r == resource || sub.is_some_and(|s| r.strip_prefix("*/") == Some(s)))
}

pub fn name_matches(rule: &PolicyRule, name: Option<&str>) -> bool {
    rule.resource_names.is_empty()
        || name.is_some_and(|n| rule.resource_names.iter().any(|r| r == n))
}

/// Whether `rule` names the non-resource URL `path`: exactly, or by a prefix that ends in `*`
/// (`/apis/*` covers `/apis/v1` but not `/apis`; `*` covers every path), as
/// `NonResourceURLMatches` does (Kubernetes `pkg/apis/rbac/v1/evaluation_helpers.go`).
pub fn non_resource_url_matches(rule: &PolicyRule, path: &str) -> bool {
    rule.non_resource_urls
        .iter()
        .any(|url| url == path || url.ends_with('*') && path.starts_with(url.trim_end_matches('*')))
}

/// Whether `rule`, granted in `scope`, authorizes `verb` on `group`/`resource` (named `name`,
/// `None` for any/collection requests).
pub fn rule_allows(
    scope: &Scope,
    rule: &PolicyRule,
    verb: &str,
    group: &str,
    resource: &str,
    name: Option<&str>,
) -> bool {
    if rule.resources.is_empty() || !rule.non_resource_urls.is_empty() && rule.resources.is_empty()
    {
        return false;
    }
    if !(verb_matches(rule, verb)
        && group_matches(rule, group)
        && resource_matches(rule, resource)
        && name_matches(rule, name))
    {
        return false;
    }
    match scope {
        Scope::Cluster => true,
        Scope::Namespace(ns) => {
            let namespaced = resources::namespaced(group, resource).unwrap_or(true);
            namespaced
                || (verb == "bind" && group == RBAC_GROUP && resource == "clusterroles")
                // A request about namespace X itself (`/api/v1/namespaces/X`) is attributed to
                // namespace X, so a namespaced grant there covers it, for that one name.
                || (group.is_empty()
                    && resources::split(resource).0 == "namespaces"
                    && name == Some(ns.as_str()))
        }
    }
}

/// Brings the inventory to what the cluster will hold: input objects with a default's name are
/// reconciled as the API server does at every start, the default roles the inputs reference or
/// aggregate are added, and aggregation is expanded. The bootstrap policy is parsed only when
/// the inputs name a default object or aggregate roles.
pub fn complete_roles(inv: &mut Inventory) {
    if bootstrap::mentioned(inv) || inv.roles.iter().any(|r| r.aggregation.is_some()) {
        let defaults = bootstrap::defaults();
        reconcile(inv, defaults);
        add_referenced_defaults(inv, defaults);
    }
    aggregate(&mut inv.roles);
}

/// `EnsureRBACPolicy`: every input role and binding with a default's name.
fn reconcile(inv: &mut Inventory, defaults: &bootstrap::Defaults) {
    for role in &mut inv.roles {
        if !bootstrap::may_be_builtin(&role.meta.name) {
            continue;
        }
        let ns = role.meta.namespace.clone();
        if let Some(default) = defaults.role(role.kind, ns.as_deref(), &role.meta.name) {
            bootstrap::reconcile_role(role, default);
        }
    }
    for binding in &mut inv.bindings {
        if !bootstrap::may_be_builtin(&binding.meta.name) {
            continue;
        }
        if let Some(default) = defaults.binding(binding) {
            bootstrap::reconcile_binding(binding, default);
        }
    }
}

/// Adds the default roles that bindings reference and the inputs do not define, then those that
/// an aggregated role selects, until nothing changes (aggregation of aggregated roles).
fn add_referenced_defaults(inv: &mut Inventory, defaults: &bootstrap::Defaults) {
    let key = |r: &Role| match r.kind {
        RoleKind::ClusterRole => (true, String::new(), r.meta.name.clone()),
        RoleKind::Role => (
            false,
            r.meta.namespace.clone().unwrap_or_else(|| "default".into()),
            r.meta.name.clone(),
        ),
    };
    let mut defined: BTreeSet<(bool, String, String)> = inv.roles.iter().map(key).collect();
    for b in &inv.bindings {
        let ns = b.meta.namespace.as_deref().unwrap_or("default");
        let found = match b.role_ref.kind.as_str() {
            "ClusterRole" => defaults.role(RoleKind::ClusterRole, None, &b.role_ref.name),
            "Role" => defaults.role(RoleKind::Role, Some(ns), &b.role_ref.name),
            _ => None,
        };
        if let Some(role) = found {
            if defined.insert(key(role)) {
                inv.roles.push(role.clone());
            }
        }
    }
    for _round in 0..8 {
        let selectors: Vec<crate::model::LabelSelector> = inv
            .roles
            .iter()
            .filter(|r| r.kind == RoleKind::ClusterRole)
            .filter_map(|r| r.aggregation.clone())
            .flatten()
            .collect();
        let mut added = false;
        for role in &defaults.roles {
            if role.kind == RoleKind::ClusterRole
                && selectors.iter().any(|s| s.matches(&role.meta.labels))
                && defined.insert(key(role))
            {
                inv.roles.push(role.clone());
                added = true;
            }
        }
        if !added {
            break;
        }
    }
}

/// The clusterrole-aggregation controller: an aggregated role's rules are the union of the rules
/// of every ClusterRole its selectors match (its own `rules` are overwritten). Iterated to a
/// fixpoint so that aggregation of aggregated roles settles; each round is O(roles²).
fn aggregate(roles: &mut [Role]) {
    let aggregated: Vec<usize> = (0..roles.len())
        .filter(|&i| roles[i].aggregation.is_some() && roles[i].kind == RoleKind::ClusterRole)
        .collect();
    if aggregated.is_empty() {
        return;
    }
    for _round in 0..8 {
        let mut changed = false;
        for &i in &aggregated {
            let selectors = roles[i].aggregation.clone().unwrap_or_default();
            let sources: Vec<usize> = (0..roles.len())
                .filter(|&j| {
                    j != i
                        && roles[j].kind == RoleKind::ClusterRole
                        && selectors.iter().any(|s| s.matches(&roles[j].meta.labels))
                })
                .collect();
            let rules: Vec<PolicyRule> = sources
                .iter()
                .flat_map(|&j| roles[j].rules.clone())
                .collect();
            if sources != roles[i].aggregated_from || rules.len() != roles[i].rules.len() {
                changed = true;
                roles[i].aggregated_from = sources;
                roles[i].rules = rules;
            }
        }
        if !changed {
            break;
        }
    }
}

/// The first role of each kind, namespace and name, so that resolving every binding stays
/// linear (a lookup per binding, not a scan of every role).
struct RoleIndex<'a> {
    /// (is a ClusterRole, namespace (`""` for ClusterRoles), name) → first index.
    first: BTreeMap<(bool, &'a str, &'a str), usize>,
}

impl<'a> RoleIndex<'a> {
    fn new(inv: &'a Inventory) -> RoleIndex<'a> {
        let mut first = BTreeMap::new();
        for (i, r) in inv.roles.iter().enumerate() {
            let key = match r.kind {
                RoleKind::Role => (
                    false,
                    r.meta.namespace.as_deref().unwrap_or("default"),
                    r.meta.name.as_str(),
                ),
                RoleKind::ClusterRole => (true, "", r.meta.name.as_str()),
            };
            first.entry(key).or_insert(i);
        }
        RoleIndex { first }
    }
}

fn resolve_role(index: &RoleIndex, b: &Binding) -> Result<usize, BindingProblem> {
    let group = b.role_ref.api_group.as_str();
    if !(group.is_empty() || group == RBAC_GROUP) {
        return Err(BindingProblem::InvalidApiGroup);
    }
    let name = b.role_ref.name.as_str();
    match (b.role_ref.kind.as_str(), b.kind) {
        ("Role", BindingKind::ClusterRoleBinding) => Err(BindingProblem::ClusterRoleBindingToRole),
        ("Role", BindingKind::RoleBinding) => {
            let ns = b.meta.namespace.as_deref().unwrap_or("default");
            index
                .first
                .get(&(false, ns, name))
                .copied()
                .ok_or(BindingProblem::Dangling)
        }
        ("ClusterRole", _) => index
            .first
            .get(&(true, "", name))
            .copied()
            .ok_or(BindingProblem::Dangling),
        _ => Err(BindingProblem::Dangling),
    }
}

fn subject_identity(b: &Binding, s: &crate::model::Subject) -> Identity {
    match s.kind {
        SubjectKind::ServiceAccount => {
            // The API server requires a namespace on ServiceAccount subjects; when a manifest
            // omits it, kubectl's namespace (usually the binding's, else `default`) is the best
            // guess.
            let ns = s
                .namespace
                .clone()
                .or_else(|| b.meta.namespace.clone())
                .unwrap_or_else(|| "default".to_string());
            Identity::sa(&ns, &s.name)
        }
        SubjectKind::User => Identity::from_user(&s.name),
        SubjectKind::Group => Identity::Group(s.name.clone()),
    }
}

/// Which input roles and bindings are identical to their bootstrap default. Identity is by
/// content (name, and rules or roleRef and subjects): the `kubernetes.io/bootstrapping` label
/// can be copied onto anything.
fn identical_defaults(inv: &Inventory) -> (Vec<bool>, Vec<bool>) {
    let mut roles = vec![false; inv.roles.len()];
    let mut bindings = vec![false; inv.bindings.len()];
    if !bootstrap::mentioned(inv) {
        return (roles, bindings);
    }
    let defaults = bootstrap::defaults();
    // An object written twice is not the platform's: kubectl applies the last one, so a copy
    // of a default next to a changed one of the same name must not make either look untouched.
    let mut written: BTreeMap<(&str, Option<&str>, &str), usize> = BTreeMap::new();
    for m in inv
        .roles
        .iter()
        .map(|r| {
            (
                &r.meta,
                if r.kind == RoleKind::ClusterRole {
                    "ClusterRole"
                } else {
                    "Role"
                },
            )
        })
        .chain(inv.bindings.iter().map(|b| (&b.meta, binding_kind(b))))
        .filter(|(m, _)| m.origin != Origin::Builtin)
    {
        *written
            .entry((m.1, m.0.namespace.as_deref(), m.0.name.as_str()))
            .or_default() += 1;
    }
    let once = |kind: &'static str, meta: &Meta| {
        written.get(&(kind, meta.namespace.as_deref(), meta.name.as_str())) == Some(&1)
    };
    for (i, r) in inv.roles.iter().enumerate() {
        let kind = if r.kind == RoleKind::ClusterRole {
            "ClusterRole"
        } else {
            "Role"
        };
        if r.meta.origin == Origin::Builtin
            || !bootstrap::may_be_builtin(&r.meta.name)
            || !once(kind, &r.meta)
        {
            continue;
        }
        roles[i] = defaults
            .role(r.kind, r.meta.namespace.as_deref(), &r.meta.name)
            .is_some_and(|d| bootstrap::same_role(r, d));
    }
    for (i, b) in inv.bindings.iter().enumerate() {
        if b.meta.origin == Origin::Builtin
            || !bootstrap::may_be_builtin(&b.meta.name)
            || !once(binding_kind(b), &b.meta)
        {
            continue;
        }
        bindings[i] = defaults
            .binding(b)
            .is_some_and(|d| bootstrap::same_binding(b, d));
    }
    (roles, bindings)
}

fn binding_kind(b: &Binding) -> &'static str {
    match b.kind {
        BindingKind::RoleBinding => "RoleBinding",
        BindingKind::ClusterRoleBinding => "ClusterRoleBinding",
    }
}

/// Groups an identity belongs to implicitly.
pub fn implicit_groups(id: &Identity) -> Vec<Identity> {
    match id {
        Identity::ServiceAccount { namespace, .. } => vec![
            Identity::Group("system:authenticated".into()),
            Identity::Group("system:serviceaccounts".into()),
            Identity::Group(format!("system:serviceaccounts:{namespace}")),
        ],
        Identity::User(u) if u != "system:anonymous" => {
            vec![Identity::Group("system:authenticated".into())]
        }
        _ => Vec::new(),
    }
}

impl Authz {
    pub fn build(inv: &Inventory) -> Authz {
        let mut az = Authz::default();
        (az.default_roles, az.default_bindings) = identical_defaults(inv);
        let mut bound = vec![false; inv.roles.len()];
        let index = RoleIndex::new(inv);
        for (bi, b) in inv.bindings.iter().enumerate() {
            match resolve_role(&index, b) {
                Ok(role) => {
                    bound[role] = true;
                    for &src in &inv.roles[role].aggregated_from {
                        bound[src] = true;
                    }
                    let scope = match b.kind {
                        BindingKind::ClusterRoleBinding => Scope::Cluster,
                        BindingKind::RoleBinding => Scope::Namespace(
                            b.meta.namespace.clone().unwrap_or_else(|| "default".into()),
                        ),
                    };
                    let subjects: Vec<Identity> =
                        b.subjects.iter().map(|s| subject_identity(b, s)).collect();
                    az.grants.push(Grant {
                        role,
                        binding: Some(bi),
                        scope,
                        subjects,
                    });
                }
                Err(p) => az.binding_problems.push((bi, p)),
            }
        }
        // Roles aggregated into another role are judged through it.
        for r in &inv.roles {
            for &src in &r.aggregated_from {
                bound[src] = true;
            }
        }
        // Unbound roles are judged as if bound where they could be: a ClusterRole everywhere
        // (as every peer tool does), a Role in its namespace.
        for (ri, r) in inv.roles.iter().enumerate() {
            // A default role is there in every cluster, bound or not: it is judged through its
            // bindings only. A modified one is judged in full.
            if bound[ri] || r.meta.origin == Origin::Builtin || az.default_roles[ri] {
                continue;
            }
            let scope = match r.kind {
                RoleKind::ClusterRole => Scope::Cluster,
                RoleKind::Role => {
                    Scope::Namespace(r.meta.namespace.clone().unwrap_or_else(|| "default".into()))
                }
            };
            az.grants.push(Grant {
                role: ri,
                binding: None,
                scope,
                subjects: Vec::new(),
            });
        }
        for (gi, g) in az.grants.iter().enumerate() {
            for s in &g.subjects {
                az.identities.insert(s.clone());
                az.by_identity.entry(s.clone()).or_default().push(gi);
            }
        }
        for sa in &inv.service_accounts {
            let ns = sa
                .meta
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into());
            az.identities.insert(Identity::sa(&ns, &sa.meta.name));
        }
        for w in &inv.workloads {
            let ns = w.namespace.clone().unwrap_or_else(|| "default".into());
            az.identities
                .insert(Identity::sa(&ns, w.service_account_name()));
        }
        az.broad = az
            .by_identity
            .iter()
            .filter(|(id, _)| matches!(id, Identity::Group(_)))
            .map(|(id, g)| (id.clone(), g.clone()))
            .collect();
        az
    }

    /// Every grant that reaches `id`, directly or through its implicit groups.
    pub fn grants_of(&self, id: &Identity) -> Vec<usize> {
        let mut out: Vec<usize> = self.by_identity.get(id).cloned().unwrap_or_default();
        for g in implicit_groups(id) {
            if let Some(more) = self.by_identity.get(&g) {
                out.extend(more);
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Grants through which `id` may `verb` `group`/`resource` in `namespace` (`None`: a
    /// cluster-scoped or all-namespaces request). Returns (grant, rule index) pairs.
    #[allow(clippy::too_many_arguments)]
    pub fn who_allows(
        &self,
        inv: &Inventory,
        grants: &[usize],
        verb: &str,
        group: &str,
        resource: &str,
        namespace: Option<&str>,
        name: Option<&str>,
    ) -> Vec<(usize, usize)> {
        let mut hits = Vec::new();
        for &gi in grants {
            let g = &self.grants[gi];
            if !g.scope.covers(namespace) {
                continue;
            }
            for (ri, rule) in inv.roles[g.role].rules.iter().enumerate() {
                if rule_allows(&g.scope, rule, verb, group, resource, name) {
                    hits.push((gi, ri));
                }
            }
        }
        hits
    }

    /// Where a finding about a grant's rule should point: the rule itself when it is written in
    /// an input, else the binding (built-in roles are not in the inputs).
    pub fn rule_loc(&self, inv: &Inventory, gi: usize, ri: usize) -> Loc {
        let g = &self.grants[gi];
        let role = &inv.roles[g.role];
        if role.meta.origin != Origin::Builtin {
            if let Some(rule) = role.rules.get(ri) {
                return rule.loc;
            }
            return role.meta.loc;
        }
        g.binding
            .map(|b| inv.bindings[b].role_ref.loc)
            .unwrap_or(role.meta.loc)
    }

    /// `RoleBinding ns/x -> ClusterRole y`, or `ClusterRole y (not bound)`.
    pub fn via(&self, inv: &Inventory, gi: usize) -> String {
        let g = &self.grants[gi];
        let role = &inv.roles[g.role];
        let builtin = if role.meta.origin == Origin::Builtin {
            format!(" (built-in, {BUILTIN_RELEASE})")
        } else {
            String::new()
        };
        match g.binding {
            Some(b) => format!(
                "{} -> {}{builtin}",
                inv.bindings[b].display(),
                role.display()
            ),
            None => format!(
                "{} (not bound; judged as if bound {})",
                role.display(),
                g.scope.display()
            ),
        }
    }
}

/// One request as the RBAC authorizer is asked it (Kubernetes `authorizer.Attributes`). The
/// user's groups are exactly the ones the authenticator gave: the authorizer adds none, not
/// even `system:authenticated`. Empty strings mean "none", as there: no `namespace` is a
/// cluster-wide request, no `name` a request for a collection or a new object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes {
    pub user: String,
    pub groups: Vec<String>,
    pub verb: String,
    /// `Some`: a non-resource request for this path (`/healthz`); the resource fields are unread.
    pub path: Option<String>,
    pub api_group: String,
    pub resource: String,
    pub subresource: String,
    pub name: String,
    pub namespace: String,
}

impl Attributes {
    fn namespace(&self) -> Option<&str> {
        Some(self.namespace.as_str()).filter(|ns| !ns.is_empty())
    }
}

/// Whether `rule`, granted in `scope`, allows `request` (`RuleAllows`).
pub fn rule_allows_request(scope: &Scope, rule: &PolicyRule, request: &Attributes) -> bool {
    match &request.path {
        // A non-resource request has no namespace: only a ClusterRoleBinding reaches it.
        Some(path) => {
            *scope == Scope::Cluster
                && verb_matches(rule, &request.verb)
                && non_resource_url_matches(rule, path)
        }
        None => {
            let resource = if request.subresource.is_empty() {
                request.resource.clone()
            } else {
                format!("{}/{}", request.resource, request.subresource)
            };
            let name = Some(request.name.as_str()).filter(|n| !n.is_empty());
            rule_allows(
                scope,
                rule,
                &request.verb,
                &request.api_group,
                &resource,
                name,
            )
        }
    }
}

/// Questions a host can ask of the authorizer about the inventory it was built from.
impl Authz {
    /// Whether the RBAC authorizer allows `request` (`RBACAuthorizer.Authorize`): a rule of a
    /// role bound to the user or one of its groups, by a ClusterRoleBinding or by a RoleBinding
    /// in the request's namespace, matches it.
    pub fn authorize(&self, inv: &Inventory, request: &Attributes) -> bool {
        self.grants_of_user(&request.user, &request.groups)
            .into_iter()
            .any(|gi| self.grant_allows(inv, gi, request))
    }

    /// The subjects of every binding that allows `request`, each once, in binding order
    /// (`SubjectAccessEvaluator.AllowedSubjects`, which also always lists the group
    /// `system:masters` and its configured super-user: no binding names those).
    pub fn allowed_subjects(&self, inv: &Inventory, request: &Attributes) -> Vec<Identity> {
        let mut seen = BTreeSet::new();
        let mut subjects = Vec::new();
        for (gi, grant) in self.grants.iter().enumerate() {
            if grant.hypothetical() || !self.grant_allows(inv, gi, request) {
                continue;
            }
            for s in &grant.subjects {
                if seen.insert(s) {
                    subjects.push(s.clone());
                }
            }
        }
        subjects
    }

    /// The rules that apply to `user` with `groups` in `namespace` (`""`: cluster-wide only), as
    /// `RulesFor` (what `kubectl auth can-i --list` shows) lists them.
    pub fn rules_for<'a>(
        &self,
        inv: &'a Inventory,
        user: &str,
        groups: &[String],
        namespace: &str,
    ) -> Vec<&'a PolicyRule> {
        let namespace = Some(namespace).filter(|ns| !ns.is_empty());
        self.grants_of_user(user, groups)
            .into_iter()
            .filter(|&gi| self.grants[gi].scope.covers(namespace))
            .flat_map(|gi| inv.roles[self.grants[gi].role].rules.iter())
            .collect()
    }

    /// Grants bound to the user name or to one of `groups`. Unlike [`Authz::grants_of`], no
    /// implicit group is added: the request says which groups the user is in.
    fn grants_of_user(&self, user: &str, groups: &[String]) -> Vec<usize> {
        let mut out: Vec<usize> = std::iter::once(Identity::from_user(user))
            .chain(groups.iter().map(|g| Identity::Group(g.clone())))
            .filter_map(|id| self.by_identity.get(&id))
            .flatten()
            .copied()
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    fn grant_allows(&self, inv: &Inventory, gi: usize, request: &Attributes) -> bool {
        let grant = &self.grants[gi];
        grant.scope.covers(request.namespace())
            && inv.roles[grant.role]
                .rules
                .iter()
                .any(|rule| rule_allows_request(&grant.scope, rule, request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(groups: &[&str], res: &[&str], verbs: &[&str], names: &[&str]) -> PolicyRule {
        PolicyRule {
            api_groups: groups.iter().map(|s| s.to_string()).collect(),
            resources: res.iter().map(|s| s.to_string()).collect(),
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            resource_names: names.iter().map(|s| s.to_string()).collect(),
            ..PolicyRule::default()
        }
    }

    #[test]
    fn subresource_wildcards_are_exact() {
        let ns = Scope::Namespace("ci".into());
        let r = rule(&[""], &["*/exec"], &["create"], &[]);
        assert!(rule_allows(&ns, &r, "create", "", "pods/exec", None));
        assert!(!rule_allows(&ns, &r, "create", "", "pods", None));
        let r = rule(&[""], &["pods/*"], &["create"], &[]);
        assert!(
            !rule_allows(&ns, &r, "create", "", "pods/exec", None),
            "pods/* is not a wildcard"
        );
    }

    #[test]
    fn api_groups_must_match() {
        let r = rule(&[RBAC_GROUP], &["pods"], &["create"], &[]);
        assert!(!rule_allows(
            &Scope::Cluster,
            &r,
            "create",
            "",
            "pods",
            None
        ));
    }

    #[test]
    fn resource_names_restrict_named_requests_only() {
        let r = rule(&[""], &["secrets"], &["get"], &["one"]);
        assert!(rule_allows(
            &Scope::Cluster,
            &r,
            "get",
            "",
            "secrets",
            Some("one")
        ));
        assert!(!rule_allows(
            &Scope::Cluster,
            &r,
            "get",
            "",
            "secrets",
            None
        ));
        let r = rule(&[""], &["secrets"], &["get"], &[]);
        assert!(rule_allows(
            &Scope::Cluster,
            &r,
            "get",
            "",
            "secrets",
            Some("any")
        ));
    }

    #[test]
    fn cluster_scoped_resources_in_namespaced_grants_give_nothing() {
        let ns = Scope::Namespace("ci".into());
        let r = rule(&["*"], &["*"], &["*"], &[]);
        assert!(!rule_allows(&ns, &r, "get", "", "nodes/proxy", None));
        assert!(!rule_allows(
            &ns,
            &r,
            "escalate",
            RBAC_GROUP,
            "clusterroles",
            None
        ));
        // ...except `bind` on clusterroles, checked in the RoleBinding's namespace.
        assert!(rule_allows(
            &ns,
            &r,
            "bind",
            RBAC_GROUP,
            "clusterroles",
            None
        ));
        assert!(rule_allows(
            &Scope::Cluster,
            &r,
            "get",
            "",
            "nodes/proxy",
            None
        ));
        // ...and requests about the grant's own namespace object.
        assert!(rule_allows(&ns, &r, "patch", "", "namespaces", Some("ci")));
        assert!(!rule_allows(
            &ns,
            &r,
            "patch",
            "",
            "namespaces",
            Some("prod")
        ));
        assert!(!rule_allows(&ns, &r, "patch", "", "namespaces", None));
    }

    /// Kubernetes rbac_test.go TestRuleMatches, "star nonresource subpath" and "star verb,
    /// exact nonresource" (tests/authz/rbac_test.json): the engine had no non-resource matching.
    #[test]
    fn non_resource_urls_match_exactly_or_by_a_star_prefix() {
        let urls = |u: &[&str]| PolicyRule {
            non_resource_urls: u.iter().map(|s| s.to_string()).collect(),
            ..PolicyRule::default()
        };
        let subpath = urls(&["/foo/*"]);
        assert!(non_resource_url_matches(&subpath, "/foo/bar/one"));
        assert!(!non_resource_url_matches(&subpath, "/foo"));
        assert!(!non_resource_url_matches(&subpath, "/notfoo/bar"));
        let exact = urls(&["/foo", "/foo/bar/one"]);
        assert!(non_resource_url_matches(&exact, "/foo/bar/one"));
        assert!(!non_resource_url_matches(&exact, "/foo/bar"));
        assert!(non_resource_url_matches(&urls(&["*"]), "/anything"));
    }

    /// Kubernetes rule_test.go TestAppliesTo, "binding to all authenticated and unauthenticated
    /// subjects matches anonymous user": the request's own groups decide, not implicit ones.
    #[test]
    fn authorize_reads_the_groups_of_the_request() {
        let inv = crate::model::build(&[crate::api::Source::new(
            "b.yaml",
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: all}\n\
             rules: [{apiGroups: ['*'], resources: ['*'], verbs: ['*']}]\n---\n\
             apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n\
             metadata: {name: b, namespace: default}\n\
             roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: all}\n\
             subjects: [{kind: Group, name: 'system:unauthenticated'}]\n",
        )]);
        let az = Authz::build(&inv);
        let mut request = Attributes {
            user: "system:anonymous".into(),
            verb: "get".into(),
            resource: "pods".into(),
            namespace: "default".into(),
            ..Attributes::default()
        };
        assert!(!az.authorize(&inv, &request), "no group given, none added");
        request.groups = vec!["system:unauthenticated".into()];
        assert!(az.authorize(&inv, &request));
        request.namespace = "other".into();
        assert!(
            !az.authorize(&inv, &request),
            "a RoleBinding grants in its namespace only"
        );
        let cluster_wide = Attributes {
            namespace: String::new(),
            path: Some("/healthz".into()),
            ..request
        };
        assert!(!az.authorize(&inv, &cluster_wide));
    }
}
