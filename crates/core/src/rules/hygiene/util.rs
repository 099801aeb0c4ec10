//! Helpers shared by this group's rules: verb tables, scope questions about a role's grants,
//! and finding the exact line of a token inside an object whose model keeps only a span.

use crate::authz::{self, resources, Authz, Identity, Scope, RBAC_GROUP};
use crate::context::Ctx;
use crate::model::{Inventory, Loc, Origin, PolicyRule, Role, RoleKind};

/// Verbs the Kubernetes API checks on resources (`*` matches all of them).
pub const RESOURCE_VERBS: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "use",
    "bind",
    "escalate",
    "impersonate",
    "approve",
    "sign",
    "attest",
    "proxy",
    "*",
];

/// Extra verbs valid on `nonResourceURLs` (lowercased HTTP methods).
pub const URL_VERBS: &[&str] = &["post", "put", "head", "options"];

/// Whether `verb` is one the API server can ever check for this rule.
pub fn known_verb(rule: &PolicyRule, verb: &str) -> bool {
    RESOURCE_VERBS.contains(&verb)
        || (!rule.non_resource_urls.is_empty() && URL_VERBS.contains(&verb))
}

/// Roles whose own rules the hygiene rules judge: written in the inputs (or rendered from Helm
/// values), not built-in, and not aggregated (an aggregated role's rules are copies of other
/// roles' rules, which are judged where they are written).
pub fn judged_roles(inv: &Inventory) -> impl Iterator<Item = (usize, &Role)> {
    inv.roles
        .iter()
        .enumerate()
        .filter(|(_, r)| r.meta.origin != Origin::Builtin && r.aggregation.is_none())
}

/// For every role (by index): the namespaces it is granted in when every grant of it is
/// namespaced, `None` when some grant is cluster-wide, when it is aggregated into another role
/// (its rules then also count wherever that role is bound), or when nothing grants it at all.
/// Computed for all roles at once: per role it would be a scan of every role and grant.
pub fn namespaced_only(inv: &Inventory, az: &Authz) -> Vec<Option<Vec<String>>> {
    let mut aggregated = vec![false; inv.roles.len()];
    for r in &inv.roles {
        for &src in &r.aggregated_from {
            if let Some(a) = aggregated.get_mut(src) {
                *a = true;
            }
        }
    }
    // (some grant is cluster-wide, namespaces in grant order)
    let mut grants: Vec<(bool, Vec<String>)> = vec![(false, Vec::new()); inv.roles.len()];
    // Which (role, namespace) pairs are listed: admin, edit and view are bound in every
    // namespace of a large cluster, and a scan of the list per grant was quadratic.
    let mut listed: std::collections::BTreeSet<(usize, &str)> = std::collections::BTreeSet::new();
    for g in &az.grants {
        let Some((cluster, namespaces)) = grants.get_mut(g.role) else {
            continue;
        };
        match &g.scope {
            Scope::Cluster => *cluster = true,
            Scope::Namespace(ns) => {
                if !*cluster && listed.insert((g.role, ns.as_str())) {
                    namespaces.push(ns.clone());
                }
            }
        }
    }
    inv.roles
        .iter()
        .zip(grants)
        .zip(aggregated)
        .map(|((role, (cluster, mut namespaces)), aggregated)| {
            if aggregated || cluster {
                return None;
            }
            if namespaces.is_empty() {
                if role.kind == RoleKind::ClusterRole {
                    return None;
                }
                namespaces.push(
                    role.meta
                        .namespace
                        .clone()
                        .unwrap_or_else(|| "default".into()),
                );
            }
            Some(namespaces)
        })
        .collect()
}

/// A built-in group whose resources the tool knows. (`resources::is_builtin_group` also names
/// groups such as `metrics.k8s.io` whose resources are not listed; judging those would report
/// real resources like metrics.k8s.io `pods` as missing.)
pub fn served_group(group: &str) -> bool {
    resources::RESOURCES.iter().any(|(g, ..)| *g == group)
}

/// How a resource entry of a rule behaves in a namespaced grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NsScope {
    /// Namespaced, a custom resource, or cannot be told: the entry may grant something.
    Effective,
    /// Cluster-scoped in every listed group where it exists.
    ClusterScoped,
    /// Exists in none of the listed built-in groups (the typo rule reports it).
    Missing,
}

/// Scope of `resource` across the rule's apiGroups, for a namespaced grant.
pub fn ns_scope(rule: &PolicyRule, resource: &str) -> NsScope {
    if resource == "*" || resource.starts_with("*/") {
        return NsScope::Effective;
    }
    let (base, _) = resources::split(resource);
    let mut cluster = false;
    for group in &rule.api_groups {
        if group == "*" {
            // Every group: cluster-scoped only if each built-in resource of that name is
            // (a custom resource could share the name, but that is not what the author meant).
            let scopes: Vec<bool> = resources::RESOURCES
                .iter()
                .filter(|(_, r, ..)| *r == base)
                .map(|(_, _, ns, _)| *ns)
                .collect();
            if scopes.is_empty() || scopes.iter().any(|ns| *ns) {
                return NsScope::Effective;
            }
            cluster = true;
        } else if !served_group(group) {
            return NsScope::Effective;
        } else {
            match resources::namespaced(group, resource) {
                Some(true) => return NsScope::Effective,
                Some(false) => cluster = true,
                None => {}
            }
        }
    }
    if cluster {
        NsScope::ClusterScoped
    } else {
        NsScope::Missing
    }
}

/// Whether the rule, granted in `scope`, gives anything beyond reading harmless resources:
/// a write, a special verb, a read of secrets or a connect (`get` on exec, attach, proxy...).
pub fn rule_beyond_read(scope: &Scope, rule: &PolicyRule) -> bool {
    if rule.resources.is_empty() {
        return false;
    }
    const READ: &[&str] = &["get", "list", "watch"];
    /// Resources where a read is a credential read or a connection into a workload or node.
    const SENSITIVE_READS: &[(&str, &str)] = &[
        ("", "secrets"),
        ("", "pods/exec"),
        ("", "pods/attach"),
        ("", "pods/portforward"),
        ("", "pods/proxy"),
        ("", "services/proxy"),
        ("", "nodes/proxy"),
    ];
    let writes = rule.verbs.iter().any(|v| {
        !READ.contains(&v.as_str())
            && RESOURCE_VERBS.contains(&v.as_str())
            && entries_effective(scope, rule, v)
    });
    writes
        || SENSITIVE_READS.iter().any(|(g, r)| {
            READ.iter()
                .any(|v| authz::rule_allows(scope, rule, v, g, r, None))
        })
}

/// Whether some resource entry of the rule can be effective for `verb` in `scope`.
fn entries_effective(scope: &Scope, rule: &PolicyRule, verb: &str) -> bool {
    match scope {
        Scope::Cluster => rule
            .resources
            .iter()
            .any(|r| ns_scope(rule, r) != NsScope::Missing),
        Scope::Namespace(_) => rule.resources.iter().any(|r| {
            ns_scope(rule, r) == NsScope::Effective
                || (r == "clusterroles"
                    && (verb == "bind" || verb == "*")
                    && rule.api_groups.iter().any(|g| g == RBAC_GROUP || g == "*"))
                || (resources::split(r).0 == "namespaces"
                    && ["get", "watch", "update", "patch", "delete", "*"].contains(&verb))
        }),
    }
}

/// Whether any binding reaching `id` (directly or through its groups) gives it more than
/// harmless reads.
pub fn identity_beyond_read(inv: &Inventory, az: &Authz, id: &Identity) -> bool {
    az.grants_of(id).into_iter().any(|gi| {
        let g = &az.grants[gi];
        !g.hypothetical()
            && inv.roles[g.role]
                .rules
                .iter()
                .any(|rule| rule_beyond_read(&g.scope, rule))
    })
}

/// The first line in `span` (an object or rule) whose text contains `needle` as a whole token,
/// for pointing at a field the model keeps no position for. Falls back to `span`'s start.
pub fn line_of(ctx: &Ctx, span: Loc, needle: &str) -> Loc {
    let first = span.line.max(1);
    let last = span.end_line.max(first);
    for (n, text) in ctx.lines(span.file, first, last) {
        if let Some(col) = token_col(text, needle) {
            return Loc {
                file: span.file,
                line: n,
                col,
                end_line: n,
            };
        }
    }
    span
}

/// Like [`line_of`], but only inside the value of `field` (e.g. `verbs`) within `span`, so a
/// verb is not confused with a resource of the same name.
pub fn line_in_field(ctx: &Ctx, span: Loc, field: &str, needle: &str) -> Loc {
    let first = span.line.max(1);
    let last = span.end_line.max(first);
    let key = format!("{field}:");
    let mut inside = false;
    for (n, text) in ctx.lines(span.file, first, last) {
        let trimmed = text.trim_start();
        let item = trimmed.trim_start_matches("- ").trim_start();
        if item.starts_with(&key) {
            inside = true;
        } else if inside && !(trimmed.is_empty() || trimmed.starts_with('#')) {
            // Still the field's value only while the lines are plain list items; a `key:`
            // (of this rule or the next) ends it.
            inside = trimmed.starts_with('-') && !looks_like_key(item);
        }
        if !inside {
            continue;
        }
        let value_from = if item.starts_with(&key) {
            text.find(&key).map_or(0, |k| k + key.len())
        } else {
            0
        };
        if let Some(col) = token_col(&text[value_from..], needle) {
            let col = col + u32::try_from(value_from).unwrap_or(0);
            return Loc {
                file: span.file,
                line: n,
                col,
                end_line: n,
            };
        }
    }
    span
}

/// `name:` at the start of a line's content, i.e. a mapping key rather than a list value.
fn looks_like_key(item: &str) -> bool {
    item.split_once(':').is_some_and(|(k, _)| {
        !k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    })
}

/// 1-based column of `needle` in `line` when it stands alone (not part of a longer word), and
/// not inside a `#` comment.
fn token_col(line: &str, needle: &str) -> Option<u32> {
    // An empty needle (a missing `roleRef.kind`, say) matches everywhere without advancing:
    // the search below would never end.
    if needle.is_empty() || line.trim_start().starts_with('#') {
        return None;
    }
    let code = line.split(" #").next().unwrap_or(line);
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' || c == '/';
    let mut from = 0;
    while let Some(at) = code[from..].find(needle) {
        let start = from + at;
        let end = start + needle.len();
        let before = code[..start].chars().next_back();
        let after = code[end..].chars().next();
        if !before.is_some_and(word) && !after.is_some_and(word) {
            return u32::try_from(start + 1).ok();
        }
        from = end;
    }
    None
}

/// Edit distance, for "did you mean" help on short words.
pub fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(row[j]).min(cur)
            };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_columns_ignore_longer_words_and_comments() {
        assert_eq!(
            token_col("  verbs: [\"create1\", \"create\"]", "create"),
            Some(23)
        );
        assert_eq!(token_col("  - create # create", "create"), Some(5));
        assert_eq!(token_col("  - createx", "create"), None);
    }

    #[test]
    fn field_lines() {
        use crate::api::Source;
        let text = "rules:\n- apiGroups: [\"\"]\n  resources: [\"example\"]\n  verbs: [\"get\", \"example\"]\n- apiGroups: [x]\n  verbs:\n  - example\n  resources: [example]\n";
        let sources = [Source::new("a.yaml", text)];
        let inv = crate::model::Inventory::default();
        let az = crate::authz::Authz::default();
        let runner = crate::runner::RunnerModel::default();
        let settings = crate::settings::Settings::default();
        let ctx = Ctx::new(&sources, &inv, &az, &runner, &settings);
        let span = |a, b| Loc {
            file: 0,
            line: a,
            col: 1,
            end_line: b,
        };
        assert_eq!(line_in_field(&ctx, span(2, 4), "verbs", "example").line, 4);
        assert_eq!(line_in_field(&ctx, span(5, 8), "verbs", "example").line, 7);
        assert_eq!(
            line_in_field(&ctx, span(5, 8), "resources", "example").line,
            8
        );
        assert_eq!(line_of(&ctx, span(2, 4), "example").line, 3);
    }

    #[test]
    fn edit_distance() {
        assert_eq!(distance("create1", "create"), 1);
        assert_eq!(distance("lsit", "list"), 2);
        assert_eq!(distance("", "get"), 3);
    }

    #[test]
    fn scopes_of_entries() {
        let rule = |groups: &[&str]| PolicyRule {
            api_groups: groups.iter().map(|s| s.to_string()).collect(),
            ..PolicyRule::default()
        };
        assert_eq!(
            ns_scope(&rule(&[""]), "nodes/proxy"),
            NsScope::ClusterScoped
        );
        assert_eq!(ns_scope(&rule(&["*"]), "nodes"), NsScope::ClusterScoped);
        assert_eq!(ns_scope(&rule(&["*"]), "events"), NsScope::Effective);
        assert_eq!(
            ns_scope(&rule(&["", "apps"]), "nodes"),
            NsScope::ClusterScoped
        );
        assert_eq!(
            ns_scope(&rule(&["example.com"]), "nodes"),
            NsScope::Effective
        );
        assert_eq!(ns_scope(&rule(&["apps"]), "pods"), NsScope::Missing);
        assert_eq!(ns_scope(&rule(&[""]), "*"), NsScope::Effective);
    }
}
