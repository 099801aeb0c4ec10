//! The built-in API resources of Kubernetes 1.34: group, plural name, scope and subresources.
//! RBAC matches resource names as exact strings, so a name that is not here (and is not a custom
//! resource in a non-built-in group) grants nothing: `pods/logs`, `serviceAccounts`.
//!
//! A resource is real when Kubernetes asks the authorizer about it, not only when the API
//! serves it: the kubelet, the CSR approver, admission plugins and the impersonation filter
//! ask about names no REST endpoint has (`nodes/metrics`, `certificatesigningrequests/nodeclient`,
//! `deployments/finalizers`, `signers`, `users`). They are listed with the served ones (for
//! existence and scope), and [`AUTHORIZATION_ONLY`] says who asks about each and what it allows.

/// (apiGroup, resource, namespaced, subresources), served and authorization-only alike. Every
/// resource's `finalizers` and every `userextras/<key>` also exist ([`exists`]).
pub const RESOURCES: &[(&str, &str, bool, &[&str])] = &[
    ("", "bindings", true, &[]),
    ("", "componentstatuses", false, &[]),
    ("", "configmaps", true, &[]),
    ("", "endpoints", true, &[]),
    ("", "events", true, &[]),
    ("", "limitranges", true, &[]),
    ("", "namespaces", false, &["finalize", "status"]),
    (
        "",
        "nodes",
        false,
        &[
            "proxy",
            "status",
            // Authorization-only (the kubelet asks): see AUTHORIZATION_ONLY.
            "metrics",
            "stats",
            "log",
            "checkpoint",
            "pods",
            "healthz",
            "configz",
        ],
    ),
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
    // Impersonation targets (authorization-only: see AUTHORIZATION_ONLY).
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
        // nodeclient and selfnodeclient are authorization-only (the CSR approver asks).
        &["approval", "status", "nodeclient", "selfnodeclient"],
    ),
    // Authorization-only (the certificates admission plugins ask): see AUTHORIZATION_ONLY.
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

/// Who asks the authorizer about an authorization-only resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checker {
    /// The kubelet, for a request to its own API (`pkg/kubelet/server/auth.go`,
    /// `GetRequestAttributes`): verb from the HTTP method (GET `get`, POST `create`, ...),
    /// resource `nodes`, name the node, no namespace.
    Kubelet,
    /// The kubelet with the `KubeletFineGrainedAuthz` gate (beta, on by default since v1.33):
    /// it asks about this subresource first and, when that is denied, about `nodes/proxy`.
    /// Without the gate it asks about `nodes/proxy` alone.
    KubeletFineGrained,
    /// The CSR approving controller of kube-controller-manager
    /// (`pkg/controller/certificates/approver/sarapprove.go`): a SubjectAccessReview for the
    /// CSR's requester, `create` on the subresource.
    CsrApprover,
    /// An admission plugin of the API server (its path in the Kubernetes repository).
    Admission(&'static str),
    /// The API server's impersonation filter
    /// (`staging/src/k8s.io/apiserver/pkg/endpoints/filters/impersonation.go`).
    Impersonation,
}

impl Checker {
    /// `the kubelet`, `the CSR approver`, ...: who asks, for messages.
    pub fn text(self) -> String {
        match self {
            Checker::Kubelet => "the kubelet".to_string(),
            Checker::KubeletFineGrained => {
                "the kubelet (KubeletFineGrainedAuthz; it falls back to `nodes/proxy`)".to_string()
            }
            Checker::CsrApprover => "the CSR approver of kube-controller-manager".to_string(),
            Checker::Admission(plugin) => format!("the admission plugin {plugin}"),
            Checker::Impersonation => "the API server's impersonation filter".to_string(),
        }
    }
}

/// A resource the authorizer is asked about without the API serving it.
#[derive(Debug)]
pub struct AuthorizationOnly {
    pub group: &'static str,
    /// `nodes/metrics`; `*/finalizers` stands for the `finalizers` of every resource.
    pub resource: &'static str,
    /// The verbs the checker asks for.
    pub verbs: &'static [&'static str],
    pub checker: Checker,
    /// A verb phrase completing "allows ...".
    pub allows: &'static str,
}

/// Who asks about each authorization-only resource, and what a grant of it allows (Kubernetes
/// v1.34; the paths are in the kubernetes/kubernetes repository).
pub const AUTHORIZATION_ONLY: &[AuthorizationOnly] = &[
    AuthorizationOnly {
        group: "",
        resource: "nodes/metrics",
        verbs: &["get"],
        checker: Checker::Kubelet,
        allows: "reading the kubelet's `/metrics` (what Prometheus scrapes)",
    },
    AuthorizationOnly {
        group: "",
        resource: "nodes/stats",
        verbs: &["get"],
        checker: Checker::Kubelet,
        allows: "reading the kubelet's `/stats`: resource usage of every pod on the node",
    },
    AuthorizationOnly {
        group: "",
        resource: "nodes/log",
        verbs: &["get"],
        checker: Checker::Kubelet,
        allows: "reading the node's log files through the kubelet's `/logs`",
    },
    AuthorizationOnly {
        group: "",
        resource: "nodes/checkpoint",
        verbs: &["create"],
        checker: Checker::Kubelet,
        allows: "checkpointing any container on the node (`/checkpoint`, the ContainerCheckpoint \
                 gate, beta and on since v1.30): an archive of its memory, with every secret it \
                 holds, written to the node's disk",
    },
    AuthorizationOnly {
        group: "",
        resource: "nodes/pods",
        verbs: &["get"],
        checker: Checker::KubeletFineGrained,
        allows: "listing the pods of the node with their specs (`/pods`, `/runningpods`)",
    },
    AuthorizationOnly {
        group: "",
        resource: "nodes/healthz",
        verbs: &["get"],
        checker: Checker::KubeletFineGrained,
        allows: "the kubelet's health checks (`/healthz`)",
    },
    AuthorizationOnly {
        group: "",
        resource: "nodes/configz",
        verbs: &["get"],
        checker: Checker::KubeletFineGrained,
        allows: "reading the kubelet's configuration (`/configz`)",
    },
    AuthorizationOnly {
        group: "certificates.k8s.io",
        resource: "certificatesigningrequests/nodeclient",
        verbs: &["create"],
        checker: Checker::CsrApprover,
        allows: "having any CSR for a kubelet client certificate the requester submits \
                 (`system:node:<name>` in group `system:nodes`) approved automatically: the \
                 identity of any node",
    },
    AuthorizationOnly {
        group: "certificates.k8s.io",
        resource: "certificatesigningrequests/selfnodeclient",
        verbs: &["create"],
        checker: Checker::CsrApprover,
        allows: "having a kubelet client certificate for the requester's own node name renewed \
                 automatically (only a node's own identity can ask)",
    },
    AuthorizationOnly {
        group: "certificates.k8s.io",
        resource: "signers",
        verbs: &["approve", "sign", "attest"],
        checker: Checker::Admission(
            "plugin/pkg/admission/certificates (approval, signing, ctbattest)",
        ),
        allows: "approving CSRs for, signing certificates of, or attesting ClusterTrustBundles \
                 of the signer named in `resourceNames` (`example.com/*` names a whole domain)",
    },
    AuthorizationOnly {
        group: "*",
        resource: "*/finalizers",
        verbs: &["update"],
        checker: Checker::Admission(
            "plugin/pkg/admission/gc (OwnerReferencesPermissionEnforcement)",
        ),
        allows: "setting `blockOwnerDeletion` on an ownerReference to the object (in the \
                 dependent's namespace): foreground deletion of the owner then waits for the \
                 dependent",
    },
    AuthorizationOnly {
        group: "",
        resource: "users",
        verbs: &["impersonate"],
        checker: Checker::Impersonation,
        allows: "acting as the named user (`--as`)",
    },
    AuthorizationOnly {
        group: "",
        resource: "groups",
        verbs: &["impersonate"],
        checker: Checker::Impersonation,
        allows: "acting as a member of the named group (`--as-group`)",
    },
    AuthorizationOnly {
        group: "authentication.k8s.io",
        resource: "userextras",
        verbs: &["impersonate"],
        checker: Checker::Impersonation,
        allows: "setting an extra field of the impersonated user (`userextras/<key>`)",
    },
    AuthorizationOnly {
        group: "authentication.k8s.io",
        resource: "uids",
        verbs: &["impersonate"],
        checker: Checker::Impersonation,
        allows: "setting the UID of the impersonated user (`--as-uid`)",
    },
];

/// What Kubernetes does with an authorization-only `group`/`resource` (`*/finalizers` covers
/// every `<resource>/finalizers`, `userextras` every `userextras/<key>`), or `None` for a
/// served resource.
pub fn authorization_only(group: &str, resource: &str) -> Option<&'static AuthorizationOnly> {
    let (base, sub) = split(resource);
    AUTHORIZATION_ONLY.iter().find(|a| {
        (a.group == group && a.resource == resource)
            || (a.resource == "*/finalizers" && sub == Some("finalizers"))
            || (a.group == group && a.resource == base && base == "userextras")
    })
}

/// Groups served by Kubernetes itself. A resource in one of these that is not listed above does
/// not exist; in any other group it may be a custom resource, so it is given the benefit of the
/// doubt (namespaced, exists).
pub fn is_builtin_group(group: &str) -> bool {
    RESOURCES.iter().any(|(g, ..)| *g == group)
}

/// Whether Kubernetes knows `group`/`resource` (`pods` or `pods/exec`): served, or asked about
/// by a component. `<resource>/finalizers` exists for every resource (the gc admission plugin
/// asks about the owner's), `userextras/<key>` for every key (impersonation of extra fields).
pub fn exists(group: &str, resource: &str) -> bool {
    let (base, sub) = split(resource);
    RESOURCES.iter().any(|(g, r, _, subs)| {
        *g == group
            && *r == base
            && sub.is_none_or(|s| subs.contains(&s) || s == "finalizers" || *r == "userextras")
    })
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
    fn authorization_only_resources_exist_and_say_who_asks() {
        for a in AUTHORIZATION_ONLY.iter().filter(|a| a.group != "*") {
            assert!(exists(a.group, a.resource), "{} {}", a.group, a.resource);
            assert!(namespaced(a.group, a.resource).is_some(), "{}", a.resource);
        }
        for r in ["nodes/metrics", "nodes/checkpoint", "nodes/configz"] {
            assert!(exists("", r), "{r}");
            assert_eq!(namespaced("", r), Some(false));
        }
        assert!(exists(
            "certificates.k8s.io",
            "certificatesigningrequests/nodeclient"
        ));
        assert!(exists("apps", "deployments/finalizers"));
        assert!(exists("", "services/finalizers"));
        assert!(exists("authentication.k8s.io", "userextras/scopes"));
        assert!(!exists("", "nodes/metric"), "still exact");
        assert!(
            !exists("apps", "widgets/finalizers"),
            "the resource must exist"
        );
        let a = authorization_only("", "nodes/pods").map(|a| a.checker);
        assert_eq!(a, Some(Checker::KubeletFineGrained));
        let a = authorization_only("apps", "deployments/finalizers").map(|a| a.verbs);
        assert_eq!(a, Some(&["update"][..]));
        assert!(authorization_only("", "pods/exec").is_none());
        assert!(authorization_only("", "nodes/proxy").is_none(), "served");
    }

    #[test]
    fn scopes() {
        assert_eq!(namespaced("", "nodes/proxy"), Some(false));
        assert_eq!(namespaced("", "pods/exec"), Some(true));
        assert_eq!(namespaced("example.com", "widgets"), None);
    }
}
