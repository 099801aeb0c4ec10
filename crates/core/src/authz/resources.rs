//! The built-in API resources of Kubernetes 1.34: group, plural name, scope and subresources.
//! RBAC matches resource names as exact strings, so a name that is not here (and is not a custom
//! resource in a non-built-in group) grants nothing: `pods/logs`, `serviceAccounts`.

/// (apiGroup, resource, namespaced, subresources)
pub const RESOURCES: &[(&str, &str, bool, &[&str])] = &[
    ("", "bindings", true, &[]),
    ("", "componentstatuses", false, &[]),
    ("", "configmaps", true, &[]),
    ("", "endpoints", true, &[]),
    ("", "events", true, &[]),
    ("", "limitranges", true, &[]),
    ("", "namespaces", false, &["finalize", "status"]),
    ("", "nodes", false, &["proxy", "status"]),
    ("", "persistentvolumeclaims", true, &["status"]),
    ("", "persistentvolumes", false, &["status"]),
    (
        "",
        "pods",
        true,
        &[
            "attach",
            "binding",
            "ephemeralcontainers",
            "eviction",
            "exec",
            "log",
            "portforward",
            "proxy",
            "resize",
            "status",
        ],
    ),
    ("", "podtemplates", true, &[]),
    ("", "replicationcontrollers", true, &["scale", "status"]),
    ("", "resourcequotas", true, &["status"]),
    ("", "secrets", true, &[]),
    ("", "serviceaccounts", true, &["token"]),
    ("", "services", true, &["proxy", "status"]),
    // Impersonation targets (not REST resources, but RBAC checks them).
    ("", "users", false, &[]),
    ("", "groups", false, &[]),
    ("", "userextras", false, &[]),
    ("authentication.k8s.io", "userextras", false, &[]),
    ("authentication.k8s.io", "uids", false, &[]),
    ("authentication.k8s.io", "tokenreviews", false, &[]),
    ("authentication.k8s.io", "selfsubjectreviews", false, &[]),
    (
        "admissionregistration.k8s.io",
        "mutatingwebhookconfigurations",
        false,
        &[],
    ),
    (
        "admissionregistration.k8s.io",
        "validatingwebhookconfigurations",
        false,
        &[],
    ),
    (
        "admissionregistration.k8s.io",
        "validatingadmissionpolicies",
        false,
        &["status"],
    ),
    (
        "admissionregistration.k8s.io",
        "validatingadmissionpolicybindings",
        false,
        &[],
    ),
    (
        "admissionregistration.k8s.io",
        "mutatingadmissionpolicies",
        false,
        &[],
    ),
    (
        "admissionregistration.k8s.io",
        "mutatingadmissionpolicybindings",
        false,
        &[],
    ),
    (
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        false,
        &["status"],
    ),
    ("apiregistration.k8s.io", "apiservices", false, &["status"]),
    ("apps", "controllerrevisions", true, &[]),
    ("apps", "daemonsets", true, &["status"]),
    ("apps", "deployments", true, &["scale", "status"]),
    ("apps", "replicasets", true, &["scale", "status"]),
    ("apps", "statefulsets", true, &["scale", "status"]),
    (
        "authorization.k8s.io",
        "localsubjectaccessreviews",
        true,
        &[],
    ),
    (
        "authorization.k8s.io",
        "selfsubjectaccessreviews",
        false,
        &[],
    ),
    (
        "authorization.k8s.io",
        "selfsubjectrulesreviews",
        false,
        &[],
    ),
    ("authorization.k8s.io", "subjectaccessreviews", false, &[]),
    ("autoscaling", "horizontalpodautoscalers", true, &["status"]),
    ("batch", "cronjobs", true, &["status"]),
    ("batch", "jobs", true, &["status"]),
    (
        "certificates.k8s.io",
        "certificatesigningrequests",
        false,
        &["approval", "status"],
    ),
    ("certificates.k8s.io", "signers", false, &[]),
    ("certificates.k8s.io", "clustertrustbundles", false, &[]),
    ("coordination.k8s.io", "leases", true, &[]),
    ("discovery.k8s.io", "endpointslices", true, &[]),
    ("events.k8s.io", "events", true, &[]),
    ("extensions", "deployments", true, &["scale", "status"]),
    ("extensions", "daemonsets", true, &["status"]),
    ("extensions", "replicasets", true, &["scale", "status"]),
    ("extensions", "ingresses", true, &["status"]),
    ("extensions", "networkpolicies", true, &[]),
    ("extensions", "podsecuritypolicies", false, &[]),
    (
        "flowcontrol.apiserver.k8s.io",
        "flowschemas",
        false,
        &["status"],
    ),
    (
        "flowcontrol.apiserver.k8s.io",
        "prioritylevelconfigurations",
        false,
        &["status"],
    ),
    ("metrics.k8s.io", "nodes", false, &[]),
    ("metrics.k8s.io", "pods", true, &[]),
    ("networking.k8s.io", "ingressclasses", false, &[]),
    ("networking.k8s.io", "ingresses", true, &["status"]),
    ("networking.k8s.io", "networkpolicies", true, &["status"]),
    ("networking.k8s.io", "ipaddresses", false, &[]),
    ("networking.k8s.io", "servicecidrs", false, &["status"]),
    ("node.k8s.io", "runtimeclasses", false, &[]),
    ("policy", "poddisruptionbudgets", true, &["status"]),
    ("policy", "podsecuritypolicies", false, &[]),
    (
        "rbac.authorization.k8s.io",
        "clusterrolebindings",
        false,
        &[],
    ),
    ("rbac.authorization.k8s.io", "clusterroles", false, &[]),
    ("rbac.authorization.k8s.io", "rolebindings", true, &[]),
    ("rbac.authorization.k8s.io", "roles", true, &[]),
    ("resource.k8s.io", "deviceclasses", false, &[]),
    ("resource.k8s.io", "resourceclaims", true, &["status"]),
    ("resource.k8s.io", "resourceclaimtemplates", true, &[]),
    ("resource.k8s.io", "resourceslices", false, &[]),
    ("scheduling.k8s.io", "priorityclasses", false, &[]),
    (
        "storagemigration.k8s.io",
        "storageversionmigrations",
        false,
        &["status"],
    ),
    ("storage.k8s.io", "csidrivers", false, &[]),
    ("storage.k8s.io", "csinodes", false, &[]),
    ("storage.k8s.io", "csistoragecapacities", true, &[]),
    ("storage.k8s.io", "storageclasses", false, &[]),
    ("storage.k8s.io", "volumeattachments", false, &["status"]),
    ("storage.k8s.io", "volumeattributesclasses", false, &[]),
    (
        "security.openshift.io",
        "securitycontextconstraints",
        false,
        &[],
    ),
];

/// Groups served by Kubernetes itself. A resource in one of these that is not listed above does
/// not exist; in any other group it may be a custom resource, so it is given the benefit of the
/// doubt (namespaced, exists).
pub fn is_builtin_group(group: &str) -> bool {
    RESOURCES.iter().any(|(g, ..)| *g == group)
}

/// Whether `group`/`resource` (`pods` or `pods/exec`) is served by Kubernetes.
pub fn exists(group: &str, resource: &str) -> bool {
    let (base, sub) = split(resource);
    RESOURCES
        .iter()
        .any(|(g, r, _, subs)| *g == group && *r == base && sub.is_none_or(|s| subs.contains(&s)))
}

/// Scope of a known resource: `Some(true)` namespaced, `Some(false)` cluster-scoped, `None` unknown
/// (a custom resource: treated as namespaced, the common case).
pub fn namespaced(group: &str, resource: &str) -> Option<bool> {
    // Asked for every rule match of every identity: a binary search over a sorted copy of the
    // table, not a scan of it (the first entry wins on a repeat, as a scan would).
    static SORTED: std::sync::OnceLock<Vec<(&str, &str, bool)>> = std::sync::OnceLock::new();
    let sorted = SORTED.get_or_init(|| {
        let mut v: Vec<(&str, &str, bool)> = RESOURCES
            .iter()
            .map(|(g, r, ns, _)| (*g, *r, *ns))
            .collect();
        v.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        v
    });
    let (base, _) = split(resource);
    let at = sorted.partition_point(|(g, r, _)| (*g, *r) < (group, base));
    sorted
        .get(at)
        .filter(|(g, r, _)| *g == group && *r == base)
        .map(|(_, _, ns)| *ns)
}

pub fn split(resource: &str) -> (&str, Option<&str>) {
    match resource.split_once('/') {
        Some((b, s)) => (b, Some(s)),
        None => (resource, None),
    }
}

/// The nearest real resource name, for typo help (`pods/logs` → `pods/log`).
pub fn suggest(group: &str, resource: &str) -> Option<String> {
    let lower = resource.to_ascii_lowercase();
    if lower != resource && exists(group, &lower) {
        return Some(lower);
    }
    let (base, sub) = split(&lower);
    let candidates = RESOURCES.iter().filter(|(g, ..)| *g == group);
    for (_, r, _, subs) in candidates {
        match sub {
            None if r.trim_end_matches('s') == base.trim_end_matches('s') => {
                return Some((*r).to_string())
            }
            Some(s) if *r == base || r.trim_end_matches('s') == base.trim_end_matches('s') => {
                if let Some(best) = subs
                    .iter()
                    .find(|x| x.trim_end_matches('s') == s.trim_end_matches('s'))
                {
                    return Some(format!("{r}/{best}"));
                }
            }
            _ => {}
        }
    }
    // The same name in another group (pods under apps, deployments under the core group).
    RESOURCES
        .iter()
        .find(|(_, r, _, subs)| *r == base && sub.is_none_or(|s| subs.contains(&s)))
        .map(|(g, ..)| {
            if g.is_empty() {
                format!("{resource} in the core group \"\"")
            } else {
                format!("{resource} in apiGroup \"{g}\"")
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn existence_is_exact() {
        assert!(exists("", "pods/log"));
        assert!(!exists("", "pods/logs"));
        assert!(!exists("", "serviceAccounts"));
        assert!(!exists("rbac.authorization.k8s.io", "services/status"));
        assert_eq!(suggest("", "pods/logs").as_deref(), Some("pods/log"));
        assert_eq!(
            suggest("", "serviceAccounts").as_deref(),
            Some("serviceaccounts")
        );
    }

    #[test]
    fn scopes() {
        assert_eq!(namespaced("", "nodes/proxy"), Some(false));
        assert_eq!(namespaced("", "pods/exec"), Some(true));
        assert_eq!(namespaced("example.com", "widgets"), None);
    }
}
