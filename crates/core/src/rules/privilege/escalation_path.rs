use crate::authz::{Identity, Scope};
use crate::context::Ctx;
use crate::declare_rule;
use crate::report::{Finding, Severity};
use crate::rules::privilege::caps::{self, Cap, Site, CORE, WORKLOADS};
use crate::rules::privilege::ASSESSORS;
use crate::rules::{Rule, RuleMeta};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

declare_rule! {
    /// ### What it does
    /// Follows what each identity can turn into: creating pods (or workloads) in a namespace
    /// makes it any ServiceAccount of that namespace; exec into, or patching, running pods makes
    /// it the ServiceAccount of the pods that run there; reading Secrets makes it the owner of
    /// every legacy token Secret it reads; creating tokens, minting token Secrets or
    /// impersonating ServiceAccounts makes it those ServiceAccounts. When a chain of such steps
    /// reaches an identity holding a `high` or `critical` capability the origin lacks, the chain
    /// is reported on the origin's first step: `critical` when it ends at cluster-admin or
    /// equivalent, else `high`.
    ///
    /// ### Why is this bad
    /// A runner that may create pods in a namespace where a deployment ServiceAccount with
    /// `cluster-admin` lives is `cluster-admin`, whatever its own Role says: any job that can
    /// choose its ServiceAccount, or anyone who steals the runner's token, takes that path.
    ///
    /// ### Example
    /// ```yaml
    /// # gitlab-runner may create pods in namespace ci ...
    /// kind: RoleBinding
    /// metadata: {name: runner, namespace: ci}
    /// roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: runner}
    /// subjects: [{kind: ServiceAccount, name: gitlab-runner, namespace: gitlab-runner}]
    /// ---
    /// # ... where ServiceAccount deployer is cluster-admin
    /// kind: ClusterRoleBinding
    /// metadata: {name: deployer-admin}
    /// roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
    /// subjects: [{kind: ServiceAccount, name: deployer, namespace: ci}]
    /// ```
    ///
    /// ### Fix
    /// Keep privileged ServiceAccounts out of the namespaces where the runner and its jobs
    /// create pods, or remove the first step of the path from the origin's role.
    pub EscalationPath,
    code = "RG601",
    name = "escalation-path",
    severity = High,
    category = Unsafe,
    summary = "An identity can become a more privileged one",
}

impl Rule for EscalationPath {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        for p in ctx.escalations(|| analyze(ctx)) {
            let role = &ctx.inv.roles[ctx.authz.grants[p.first.0].role];
            let d = ctx
                .draft(
                    &Self::META,
                    ctx.authz.rule_loc(ctx.inv, p.first.0, p.first.1),
                    format!("escalation path: {}", p.chain),
                    format!(
                        "Break the path at its first step: {} should not {} (rule `{}` of {}). Or break it at its end: keep {} out of reach (its own namespace, no pods there that others can exec into, no token Secret), or drop its rights ({}).",
                        p.origin.id(),
                        p.first_action,
                        role.rules[p.first.1].describe(),
                        role.display(),
                        p.target.id(),
                        p.target_via,
                    ),
                )
                .object(caps::object(ctx, p.first.0))
                .identity(&p.origin)
                .key(format!("{} | {}", p.target.id(), p.powers.join(",")))
                .severity(p.severity)
                .steps(p.steps.clone());
            ctx.emit(out, d);
        }
    }
}

/// Escalation paths per origin identity (`Identity::id()`), each as its steps, for the
/// identity report.
pub fn escalation_paths(ctx: &Ctx) -> BTreeMap<String, Vec<Vec<String>>> {
    let mut out: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    for p in ctx.escalations(|| analyze(ctx)) {
        out.entry(p.origin.id()).or_default().push(p.steps.clone());
    }
    out
}

/// Paths reported per origin, and how far a search may go: the analysis stays linear in the
/// size of the inputs per origin, whatever they hold.
const MAX_PATHS: usize = 5;
const MAX_VISITS: usize = 20_000;
const MAX_DEPTH: usize = 12;
/// Distinct power keys tracked per node by [`reachable_keys`] before it stops telling.
const MAX_REACH_KEYS: usize = 64;

/// One reported path.
pub struct Path {
    origin: Identity,
    target: Identity,
    /// (grant, rule) of the first step, and what it does.
    first: (usize, usize),
    first_action: String,
    /// The grant giving the target its worst capability.
    target_via: String,
    severity: Severity,
    /// Power keys the target adds.
    powers: Vec<String>,
    chain: String,
    steps: Vec<String>,
}

/// Graph nodes. Intermediate nodes keep the graph linear: "any ServiceAccount of namespace N"
/// is one node, not an edge to each of them from every identity that creates pods there.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Node {
    Id(Identity),
    /// Any ServiceAccount of the namespace (`None`: of every namespace).
    Sas(Option<String>),
    /// The ServiceAccounts of the pods running there (with an automounted token).
    Pods(Option<String>),
    /// The ServiceAccounts of the legacy token Secrets there.
    Tokens(Option<String>),
}

/// The step an identity takes onto a node.
#[derive(Debug, Clone)]
struct Step {
    gi: usize,
    ri: usize,
    /// `create pods in namespace `ci``.
    action: String,
}

#[derive(Debug, Clone)]
struct Edge {
    to: usize,
    step: Option<Step>,
}

struct Graph {
    nodes: Vec<Node>,
    index: BTreeMap<Node, usize>,
    adj: Vec<Vec<Edge>>,
}

impl Graph {
    fn node(&mut self, n: Node) -> usize {
        if let Some(&i) = self.index.get(&n) {
            return i;
        }
        let i = self.nodes.len();
        self.nodes.push(n.clone());
        self.index.insert(n, i);
        self.adj.push(Vec::new());
        i
    }

    fn edge(&mut self, from: usize, to: Node, step: Option<Step>) {
        let to = self.node(to);
        if from != to {
            self.adj[from].push(Edge { to, step });
        }
    }
}

fn ns_of(ns: &Option<String>) -> &str {
    ns.as_deref().unwrap_or("default")
}

/// What the inputs say lives in each namespace.
#[derive(Default)]
struct World {
    sas: BTreeMap<String, BTreeSet<Identity>>,
    pods: BTreeMap<String, BTreeSet<Identity>>,
    /// (Secret name, ServiceAccount) of legacy token Secrets.
    tokens: BTreeMap<String, Vec<(String, Identity)>>,
}

impl World {
    fn build(ctx: &Ctx) -> World {
        let mut w = World::default();
        let inv = ctx.inv;
        let add_sa = |w: &mut World, ns: &str, name: &str| {
            let set = w.sas.entry(ns.to_string()).or_default();
            set.insert(Identity::sa(ns, "default"));
            set.insert(Identity::sa(ns, name));
        };
        for ns in &inv.namespaces {
            add_sa(&mut w, &ns.meta.name, "default");
        }
        for sa in &inv.service_accounts {
            add_sa(&mut w, ns_of(&sa.meta.namespace), &sa.meta.name);
        }
        for id in &ctx.authz.identities {
            if let Identity::ServiceAccount { namespace, name } = id {
                add_sa(&mut w, namespace, name);
            }
        }
        for g in &ctx.authz.grants {
            if let Scope::Namespace(ns) = &g.scope {
                add_sa(&mut w, ns, "default");
            }
        }
        let sa_automount: BTreeMap<Identity, Option<bool>> = inv
            .service_accounts
            .iter()
            .map(|s| {
                (
                    Identity::sa(ns_of(&s.meta.namespace), &s.meta.name),
                    s.automount,
                )
            })
            .collect();
        for wl in &inv.workloads {
            let ns = ns_of(&wl.namespace);
            let id = Identity::sa(ns, wl.service_account_name());
            add_sa(&mut w, ns, wl.service_account_name());
            // The pod's setting wins over the ServiceAccount's; both default to mounting.
            let mounted = wl
                .automount
                .or_else(|| sa_automount.get(&id).copied().flatten())
                .unwrap_or(true);
            if mounted {
                w.pods.entry(ns.to_string()).or_default().insert(id);
            }
        }
        for s in &inv.secrets {
            if s.type_ != "kubernetes.io/service-account-token" {
                continue;
            }
            if let Some(sa) = s.service_account.as_deref().filter(|n| !n.is_empty()) {
                let ns = ns_of(&s.meta.namespace);
                add_sa(&mut w, ns, sa);
                w.tokens
                    .entry(ns.to_string())
                    .or_default()
                    .push((s.meta.name.clone(), Identity::sa(ns, sa)));
            }
        }
        w
    }

    /// ServiceAccounts named `name` in `ns` (`None`: in any namespace).
    fn named_sas(&self, ns: Option<&str>, name: &str) -> Vec<Identity> {
        match ns {
            Some(ns) => vec![Identity::sa(ns, name)],
            None => self
                .sas
                .values()
                .flatten()
                .filter(|id| matches!(id, Identity::ServiceAccount { name: n, .. } if n == name))
                .cloned()
                .collect(),
        }
    }
}

/// `system:serviceaccount:ns:name` names a ServiceAccount, anything else a user.
fn user_identity(name: &str) -> Identity {
    match name
        .strip_prefix("system:serviceaccount:")
        .and_then(|r| r.split_once(':'))
    {
        Some((ns, n)) => Identity::sa(ns, n),
        None => Identity::User(name.to_string()),
    }
}

/// The steps a site lets its identity take, raw (a runner manager's needed permissions are real
/// steps too: they are exactly what an attacker holding its token uses).
fn steps_of(ctx: &Ctx, world: &World, site: &Site) -> Vec<(Node, String)> {
    let ns = site.ns().map(str::to_string);
    let scope = site.scope_text();
    let mut out: Vec<(Node, String)> = Vec::new();
    let runs = site.raw("create", CORE, "pods")
        || WORKLOADS.iter().any(|&(g, r)| {
            ["create", "update", "patch"]
                .iter()
                .any(|v| site.raw(v, g, r))
        });
    if runs {
        let what = if site.raw("create", CORE, "pods") {
            "create pods"
        } else {
            "create or change workloads"
        };
        out.push((Node::Sas(ns.clone()), format!("{what} {scope}")));
    }
    if site.raw("create", CORE, "serviceaccounts/token") {
        out.push((
            Node::Sas(ns.clone()),
            format!("create ServiceAccount tokens {scope}"),
        ));
    }
    for n in site.named("create", CORE, "serviceaccounts/token") {
        for id in world.named_sas(site.ns(), &n) {
            out.push((
                Node::Id(id),
                format!("create a token for ServiceAccount `{n}` {scope}"),
            ));
        }
    }
    if site.raw("impersonate", CORE, "serviceaccounts") {
        out.push((
            Node::Sas(ns.clone()),
            format!("impersonate ServiceAccounts {scope}"),
        ));
    }
    for n in site.named("impersonate", CORE, "serviceaccounts") {
        for id in world.named_sas(site.ns(), &n) {
            out.push((
                Node::Id(id),
                format!("impersonate ServiceAccount `{n}` {scope}"),
            ));
        }
    }
    for n in site.named("impersonate", CORE, "users") {
        out.push((
            Node::Id(user_identity(&n)),
            format!("impersonate user `{n}`"),
        ));
    }
    for n in site.named("impersonate", CORE, "groups") {
        out.push((
            Node::Id(Identity::Group(n.clone())),
            format!("impersonate group `{n}`"),
        ));
    }
    let exec = ["create", "get"]
        .iter()
        .any(|v| site.raw(v, CORE, "pods/exec") || site.raw(v, CORE, "pods/attach"));
    let mutate = ["update", "patch"]
        .iter()
        .any(|v| site.raw(v, CORE, "pods") || site.raw(v, CORE, "pods/ephemeralcontainers"));
    if exec || mutate {
        let what = if exec {
            "exec into pods"
        } else {
            "patch running pods"
        };
        out.push((Node::Pods(ns.clone()), format!("{what} {scope}")));
    }
    if ["get", "list", "watch"]
        .iter()
        .any(|v| site.raw(v, CORE, "secrets"))
    {
        out.push((
            Node::Tokens(ns.clone()),
            format!("read the token Secrets {scope}"),
        ));
    } else {
        let named = site.named("get", CORE, "secrets");
        // Looked up, not scanned: this runs for every rule of every identity, and a scan of
        // every namespace's token Secrets per rule was quadratic on a large dump.
        let in_scope: Vec<(&String, &Vec<(String, Identity)>)> = match site.ns() {
            _ if named.is_empty() => Vec::new(),
            Some(ns) => world.tokens.get_key_value(ns).into_iter().collect(),
            None => world.tokens.iter().collect(),
        };
        for (sns, list) in in_scope {
            for (secret, sa) in list.iter().filter(|(s, _)| named.contains(s)) {
                out.push((
                    Node::Id(sa.clone()),
                    format!("read Secret `{sns}/{secret}`"),
                ));
            }
        }
    }
    if site.raw("create", CORE, "secrets") {
        let readable = ["get", "list", "watch"].iter().any(|v| {
            site.scopes_where(ctx, v, CORE, "secrets", *v == "get")
                .iter()
                .any(|s| s.is_none() || s.as_deref() == site.ns())
        });
        if readable {
            out.push((Node::Sas(ns), format!("mint token Secrets {scope}")));
        }
    }
    out
}

/// The `high`/`critical` capabilities of an identity: power key → (capability, grant).
type Power = BTreeMap<String, (Cap, usize)>;

fn power_of(ctx: &Ctx, id: &Identity) -> Power {
    let mut out: Power = BTreeMap::new();
    for site in caps::identity_sites(ctx, id) {
        for assess in ASSESSORS {
            if let Some(cap) = assess(ctx, &site).filter(|c| c.severity >= Severity::High) {
                match out.get(&cap.power) {
                    Some((old, _)) if old.severity >= cap.severity => {}
                    _ => {
                        out.insert(cap.power.clone(), (cap, site.gi));
                    }
                }
            }
        }
    }
    out
}

fn build_graph(ctx: &Ctx, world: &World) -> Graph {
    let mut g = Graph {
        nodes: Vec::new(),
        index: BTreeMap::new(),
        adj: Vec::new(),
    };
    let mut ids: BTreeSet<Identity> = ctx.authz.identities.clone();
    ids.extend(world.sas.values().flatten().cloned());
    let namespaces: Vec<String> = world.sas.keys().cloned().collect();
    for id in &ids {
        let from = g.node(Node::Id(id.clone()));
        for site in caps::identity_sites(ctx, id) {
            for (to, action) in steps_of(ctx, world, &site) {
                let step = Step {
                    gi: site.gi,
                    ri: site.ri,
                    action,
                };
                g.edge(from, to, Some(step));
            }
        }
    }
    // Expand only the intermediate nodes some identity reaches.
    let mut i = 0;
    while i < g.nodes.len() {
        let node = g.nodes[i].clone();
        match node {
            Node::Id(_) => {}
            Node::Sas(None) => namespaces
                .iter()
                .for_each(|n| g.edge(i, Node::Sas(Some(n.clone())), None)),
            Node::Pods(None) => namespaces
                .iter()
                .for_each(|n| g.edge(i, Node::Pods(Some(n.clone())), None)),
            Node::Tokens(None) => namespaces
                .iter()
                .for_each(|n| g.edge(i, Node::Tokens(Some(n.clone())), None)),
            Node::Sas(Some(ns)) => {
                let mut sas: Vec<Identity> =
                    world.sas.get(&ns).into_iter().flatten().cloned().collect();
                if sas.is_empty() {
                    sas.push(Identity::sa(&ns, "default"));
                }
                sas.into_iter().for_each(|id| g.edge(i, Node::Id(id), None));
            }
            Node::Pods(Some(ns)) => {
                for id in world.pods.get(&ns).into_iter().flatten() {
                    g.edge(i, Node::Id(id.clone()), None);
                }
            }
            Node::Tokens(Some(ns)) => {
                for (_, id) in world.tokens.get(&ns).into_iter().flatten() {
                    g.edge(i, Node::Id(id.clone()), None);
                }
            }
        }
        i += 1;
    }
    g
}

fn analyze(ctx: &Ctx) -> Vec<Path> {
    let world = World::build(ctx);
    let g = build_graph(ctx, &world);
    let mut powers: Vec<Option<Power>> = vec![None; g.nodes.len()];
    let mut out = Vec::new();
    // Reused across searches: which search last saw a node, and how it got there.
    let mut seen: Vec<usize> = vec![usize::MAX; g.nodes.len()];
    let mut parent: Vec<Option<(usize, usize)>> = vec![None; g.nodes.len()];
    let mut depth: Vec<usize> = vec![0; g.nodes.len()];
    // Per search (stamped with its origin): whether everything reachable from a node is a
    // power the origin already holds. Such a node is not explored: nothing behind it can be
    // reported. On a 100,000-object dump most identities reach thousands of nodes through
    // "any ServiceAccount of any namespace", and exploring them all made every search hit
    // MAX_VISITS, so the analysis grew faster than the input.
    let mut hopeless_for: Vec<usize> = vec![usize::MAX; g.nodes.len()];
    let mut hopeless: Vec<bool> = vec![false; g.nodes.len()];
    let (reach, keys) = reachable_keys(ctx, &g, &mut powers);
    let mut held = Held::new(&keys);
    for origin in 0..g.nodes.len() {
        let Node::Id(origin_id) = &g.nodes[origin] else {
            continue;
        };
        // Only steps through grants naming the origin itself: a grant to a group is reported
        // once, for the group, not again for each of its members.
        let direct = |e: &Edge| {
            e.step
                .as_ref()
                .is_some_and(|s| ctx.authz.grants[s.gi].subjects.contains(origin_id))
        };
        if !g.adj[origin].iter().any(direct) {
            continue;
        }
        let own = powers[origin].get_or_insert_with(|| power_of(ctx, origin_id));
        if own.values().any(|(c, _)| c.severity == Severity::Critical) {
            continue; // nothing to gain
        }
        // The search asks `held`, not `own`: no copy of the origin's power is needed.
        held.set(&keys, origin, own);
        // Nothing reachable holds a power the origin lacks: the search would find no path.
        // (Skipping it changes nothing but the time: on a large cluster most identities reach
        // thousands of others through "any ServiceAccount of any namespace".)
        let mut gains = false;
        for e in g.adj[origin].iter().filter(|e| direct(e)) {
            match &reach[e.to] {
                None => gains = true,
                Some(ids) => gains = ids.iter().any(|&k| !held.covers(&keys, k)),
            }
            if gains {
                break;
            }
        }
        if !gains {
            continue;
        }
        let mut reported: BTreeSet<String> = BTreeSet::new();
        let mut found = 0;
        let mut visits = 0;
        // Nodes queued so far: a node queued as the k-th is the k-th the search takes off the
        // queue (breadth first), so it is judged when queued. That is the order, and the
        // MAX_VISITS cut, of judging it when taken off; but the search stops at its
        // MAX_PATHS-th path at once, instead of first taking off every node queued before it.
        // Through "any ServiceAccount of any namespace" that was every namespace's nodes, for
        // every such identity: the analysis grew with the square of the cluster.
        let mut queued = 1;
        let mut queue = VecDeque::new();
        seen[origin] = origin;
        parent[origin] = None;
        depth[origin] = 0;
        queue.push_back(origin);
        'search: while let Some(n) = queue.pop_front() {
            visits += 1;
            if visits > MAX_VISITS || found >= MAX_PATHS {
                break;
            }
            if depth[n] >= MAX_DEPTH {
                continue;
            }
            for (ei, e) in g.adj[n].iter().enumerate() {
                if seen[e.to] == origin || (n == origin && !direct(e)) {
                    continue;
                }
                if hopeless_for[e.to] != origin {
                    hopeless_for[e.to] = origin;
                    hopeless[e.to] = reach[e.to]
                        .as_ref()
                        .is_some_and(|ids| ids.iter().all(|&k| held.covers(&keys, k)));
                }
                if hopeless[e.to] {
                    continue;
                }
                seen[e.to] = origin;
                parent[e.to] = Some((n, ei));
                depth[e.to] = depth[n] + 1;
                queue.push_back(e.to);
                queued += 1;
                if queued > MAX_VISITS {
                    continue; // never taken off within the budget
                }
                let Node::Id(target) = &g.nodes[e.to] else {
                    continue;
                };
                let power = powers[e.to].get_or_insert_with(|| power_of(ctx, target));
                let new: Vec<(&String, &(Cap, usize))> = power
                    .iter()
                    .filter(|(k, _)| !held.covers_key(&keys, k) && !reported.contains(*k))
                    .collect();
                if !new.is_empty() {
                    let path = describe(ctx, &g, &parent, (origin_id, target), e.to, &new);
                    reported.extend(new.iter().map(|(k, _)| (*k).clone()));
                    out.push(path);
                    found += 1;
                    if found >= MAX_PATHS {
                        break 'search;
                    }
                }
            }
        }
    }
    out
}

/// For every node, the power keys (as indexes into the returned key list) held by the
/// identities reachable from it, itself included, at any depth; `None` past
/// [`MAX_REACH_KEYS`]. A superset of what a bounded search from the node can find, so a search
/// whose every reachable key is already the origin's can be skipped without changing its
/// result. Fills `powers` for every identity on the way.
#[allow(clippy::type_complexity)]
fn reachable_keys(
    ctx: &Ctx,
    g: &Graph,
    powers: &mut [Option<Power>],
) -> (Vec<Option<BTreeSet<usize>>>, Keys) {
    let mut key_ids: BTreeMap<String, usize> = BTreeMap::new();
    let mut reach: Vec<Option<BTreeSet<usize>>> = vec![Some(BTreeSet::new()); g.nodes.len()];
    let mut queue = VecDeque::new();
    let mut queued = vec![false; g.nodes.len()];
    for (n, node) in g.nodes.iter().enumerate() {
        let Node::Id(id) = node else { continue };
        let power = powers[n].get_or_insert_with(|| power_of(ctx, id));
        if power.is_empty() {
            continue;
        }
        let mut ids = BTreeSet::new();
        for key in power.keys() {
            let next = key_ids.len();
            ids.insert(*key_ids.entry(key.clone()).or_insert(next));
        }
        reach[n] = (ids.len() <= MAX_REACH_KEYS).then_some(ids);
        queue.push_back(n);
        queued[n] = true;
    }
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); g.nodes.len()];
    for (from, edges) in g.adj.iter().enumerate() {
        for e in edges {
            preds[e.to].push(from);
        }
    }
    // Worklist to the fixpoint: a node's set only grows, and stops growing at the cap.
    while let Some(m) = queue.pop_front() {
        queued[m] = false;
        let from = reach[m].clone();
        for &p in &preds[m] {
            let changed = match (&from, &mut reach[p]) {
                (_, None) => false,
                (None, slot) => {
                    *slot = None;
                    true
                }
                (Some(add), Some(set)) => {
                    let before = set.len();
                    set.extend(add.iter().copied());
                    if set.len() > MAX_REACH_KEYS {
                        reach[p] = None;
                        true
                    } else {
                        set.len() != before
                    }
                }
            };
            if changed && !queued[p] {
                queued[p] = true;
                queue.push_back(p);
            }
        }
    }
    let mut wildcard = vec![None; key_ids.len()];
    for (key, &id) in &key_ids {
        wildcard[id] = key
            .split_once('@')
            .and_then(|(k, _)| key_ids.get(&format!("{k}@*")).copied());
    }
    (
        reach,
        Keys {
            ids: key_ids,
            wildcard,
        },
    )
}

/// The power keys that some identity of the graph holds, numbered.
struct Keys {
    ids: BTreeMap<String, usize>,
    /// For `X@ns`, the number of `X@*` (which covers it), when some identity holds that.
    wildcard: Vec<Option<usize>>,
}

/// Whether the current origin already holds a power key, or one that covers it (`X@*` covers
/// `X@ns`), by key number: `held[k] == stamp` marks the keys the origin holds. The searches ask
/// this for every edge they look at; with strings (and a formatted `X@*` per question) it was a
/// third of the escalation analysis on a large dump.
struct Held {
    held: Vec<usize>,
    stamp: usize,
}

impl Held {
    fn new(keys: &Keys) -> Held {
        Held {
            held: vec![usize::MAX; keys.wildcard.len()],
            stamp: usize::MAX,
        }
    }

    /// Marks `own` as the current origin's power (`stamp` is unique per origin).
    fn set(&mut self, keys: &Keys, stamp: usize, own: &Power) {
        self.stamp = stamp;
        for key in own.keys() {
            if let Some(&id) = keys.ids.get(key) {
                self.held[id] = stamp;
            }
        }
    }

    /// By string, for a power of an identity of the graph: [`reachable_keys`] numbers every
    /// such key, so an unnumbered key is held by no identity, the origin included.
    fn covers_key(&self, keys: &Keys, key: &str) -> bool {
        keys.ids.get(key).is_some_and(|&id| self.covers(keys, id))
    }

    fn covers(&self, keys: &Keys, id: usize) -> bool {
        self.held[id] == self.stamp || keys.wildcard[id].is_some_and(|w| self.held[w] == self.stamp)
    }
}

/// Walks the parents back from `target` and words the path.
fn describe(
    ctx: &Ctx,
    g: &Graph,
    parent: &[Option<(usize, usize)>],
    (origin, target_id): (&Identity, &Identity),
    target: usize,
    new: &[(&String, &(Cap, usize))],
) -> Path {
    // Edges from the origin to the target, in order.
    let mut edges: Vec<(usize, usize)> = Vec::new();
    let mut n = target;
    while let Some((p, ei)) = parent[n] {
        edges.push((p, ei));
        n = p;
    }
    edges.reverse();
    let mut steps = Vec::new();
    let mut chain = vec![origin.id()];
    let mut first = (0, 0);
    let mut first_action = String::new();
    let mut pending: Option<(Identity, Step)> = None;
    for (i, &(from, ei)) in edges.iter().enumerate() {
        let e = &g.adj[from][ei];
        if let (Node::Id(who), Some(step)) = (&g.nodes[from], &e.step) {
            if i == 0 {
                first = (step.gi, step.ri);
                first_action = step.action.clone();
            }
            pending = Some((who.clone(), step.clone()));
        }
        if let (Node::Id(to), Some((who, step))) = (&g.nodes[e.to], pending.as_ref()) {
            steps.push(format!(
                "{} can {} (through {}), so it can act as {}",
                who.id(),
                step.action,
                ctx.authz.via(ctx.inv, step.gi),
                to.id()
            ));
            chain.push(format!("{} as {}", step.action, to.id()));
            pending = None;
        }
    }
    // The worst capability first.
    let mut new: Vec<&(&String, &(Cap, usize))> = new.iter().collect();
    new.sort_by_key(|(_, (c, _))| std::cmp::Reverse(c.severity));
    let (_, (cap, gi)) = new[0];
    let via = ctx.authz.via(ctx.inv, *gi);
    steps.push(format!(
        "{} can {} (through {via})",
        target_id.id(),
        cap.what
    ));
    // Everything else follows from cluster-admin.
    let more = if new.len() > 1 && cap.power != "cluster-admin" {
        format!(" (and {} more)", new.len() - 1)
    } else {
        String::new()
    };
    chain.push(format!("{via}: {}{more}", cap.what));
    Path {
        origin: origin.clone(),
        target: target_id.clone(),
        first,
        first_action,
        target_via: via,
        severity: if cap.severity >= Severity::Critical {
            Severity::Critical
        } else {
            Severity::High
        },
        powers: new.iter().map(|(k, _)| (*k).clone()).collect(),
        chain: chain.join(" → "),
        steps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{fires, silent};

    const CODE: &str = "RG601";

    const DEPLOYER: &str = "apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: runner
  namespace: ci
rules:
- apiGroups: [\"\"]
  resources: [\"pods\"]
  verbs: [\"create\", \"get\", \"delete\"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: runner
  namespace: ci
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: runner
subjects:
- kind: ServiceAccount
  name: gitlab-runner
  namespace: gitlab-runner
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: deployer
  namespace: ci
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: deployer-admin
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
- kind: ServiceAccount
  name: deployer
  namespace: ci
";

    #[test]
    fn pod_creation_next_to_a_cluster_admin_sa_is_critical() {
        let f = fires(CODE, DEPLOYER);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].severity, Severity::Critical);
        assert_eq!(
            f[0].identity.as_deref(),
            Some("system:serviceaccount:gitlab-runner:gitlab-runner")
        );
        assert_eq!(f[0].line, 7, "anchored on the origin's pod-create rule");
        assert_eq!(f[0].steps.len(), 2, "{:#?}", f[0].steps);
        assert!(
            f[0].message
                .contains("create pods in namespace `ci` as system:serviceaccount:ci:deployer"),
            "{}",
            f[0].message
        );
        assert!(
            f[0].message.contains("ClusterRoleBinding deployer-admin"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn nothing_to_gain_is_silent() {
        // The cluster-admin SA itself, and a runner in a namespace with no privileged SA.
        let only_runner: String = DEPLOYER
            .split("---\napiVersion: v1\nkind: ServiceAccount")
            .next()
            .unwrap_or("")
            .to_string();
        silent(CODE, &only_runner);
    }

    #[test]
    fn reading_a_legacy_token_secret_is_a_step() {
        let yaml = "apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: reader
  namespace: kube-system
rules:
- apiGroups: [\"\"]
  resources: [\"secrets\"]
  resourceNames: [\"ctrl-token\"]
  verbs: [\"get\"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: reader
  namespace: kube-system
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: reader
subjects:
- kind: User
  name: alice
---
apiVersion: v1
kind: Secret
metadata:
  name: ctrl-token
  namespace: kube-system
  annotations:
    kubernetes.io/service-account.name: ctrl
type: kubernetes.io/service-account-token
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: ctrl
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: ctrl
subjects:
- kind: ServiceAccount
  name: ctrl
  namespace: kube-system
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: ctrl
rules:
- apiGroups: [\"\"]
  resources: [\"secrets\"]
  verbs: [\"list\"]
";
        let f = fires(CODE, yaml);
        assert_eq!(f[0].severity, Severity::High);
        assert_eq!(f[0].identity.as_deref(), Some("user:alice"));
        assert!(
            f[0].message
                .contains("read Secret `kube-system/ctrl-token`"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn exec_reaches_only_running_pods_with_a_token() {
        let base = "apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: exec
  namespace: apps
rules:
- apiGroups: [\"\"]
  resources: [\"pods/exec\"]
  verbs: [\"create\"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: exec
  namespace: apps
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: exec
subjects:
- kind: User
  name: bob
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: op
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
- kind: ServiceAccount
  name: operator
  namespace: apps
";
        // No pod runs as the operator: exec reaches nobody.
        silent(CODE, base);
        let pod = |automount: &str| {
            format!(
                "{base}---
apiVersion: v1
kind: Pod
metadata:
  name: op
  namespace: apps
spec:
  serviceAccountName: operator{automount}
  containers:
  - name: op
    image: example/op
"
            )
        };
        fires(CODE, &pod(""));
        silent(CODE, &pod("\n  automountServiceAccountToken: false"));
    }

    #[test]
    fn group_grants_are_reported_once_for_the_group() {
        let yaml = DEPLOYER.replace(
            "- kind: ServiceAccount\n  name: gitlab-runner\n  namespace: gitlab-runner",
            "- kind: Group\n  name: system:serviceaccounts:gitlab-runner",
        );
        let yaml = format!(
            "{yaml}---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: gitlab-runner
  namespace: gitlab-runner
"
        );
        let f = fires(CODE, &yaml);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(
            f[0].identity.as_deref(),
            Some("group:system:serviceaccounts:gitlab-runner")
        );
    }

    #[test]
    fn paths_are_exposed_per_identity() {
        let sources = [crate::api::Source::new("in.yaml", DEPLOYER)];
        let settings = crate::settings::Settings::default();
        let mut inv = crate::model::build(&sources);
        crate::authz::complete_roles(&mut inv);
        let az = crate::authz::Authz::build(&inv);
        let runners = crate::runner::build(&inv, &az, &settings);
        let ctx = Ctx::new(&sources, &inv, &az, &runners, &settings);
        let paths = escalation_paths(&ctx);
        let runner = paths
            .get("system:serviceaccount:gitlab-runner:gitlab-runner")
            .expect("the runner has a path");
        assert_eq!(runner.len(), 1);
        assert!(
            runner[0][0].contains("create pods in namespace `ci`"),
            "{runner:?}"
        );
    }

    /// Thousands of identities that may each become every ServiceAccount of another namespace
    /// (so every one of them reaches every other) stay fast: one search per origin, each linear.
    #[test]
    fn large_inputs_stay_polynomial() {
        let mut yaml = String::new();
        for i in 0..1000 {
            yaml.push_str(&format!(
                "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: sa{i}\n  namespace: ns{}\n---\n",
                i % 20
            ));
            yaml.push_str(&format!(
                "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: rb{i}\n  namespace: ns{}\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: runner\nsubjects:\n- kind: ServiceAccount\n  name: sa{i}\n  namespace: ns{}\n---\n",
                i % 20,
                (i + 1) % 20
            ));
        }
        yaml.push_str("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: runner\nrules:\n- apiGroups: [\"\"]\n  resources: [\"pods\", \"pods/exec\", \"secrets\"]\n  verbs: [\"create\", \"get\"]\n---\n");
        yaml.push_str("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: top\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: cluster-admin\nsubjects:\n- kind: ServiceAccount\n  name: sa7\n  namespace: ns7\n");
        let start = std::time::Instant::now();
        let f = crate::rules::testing::run(CODE, &[("big.yaml", &yaml)]);
        assert!(!f.is_empty());
        assert!(start.elapsed().as_secs() < 60, "took {:?}", start.elapsed());
    }
}
