use crate::context::Ctx;
use crate::declare_rule;
use crate::report::{Finding, Severity};
use crate::rules::privilege::caps::{self, Cap, Mode, Site, CERTS};
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports two ways to get a certificate for another identity, both held by the same
    /// subject cluster-wide (CSRs and signers are cluster-scoped, so only ClusterRoleBindings
    /// count):
    ///
    /// - CSR approval: `update` (or `patch`) on `certificatesigningrequests/approval` together
    ///   with `approve` on `signers` (any signer, or one named in `resourceNames`);
    /// - node client auto-approval: `create` on `certificatesigningrequests/nodeclient`
    ///   together with `create` on `certificatesigningrequests` (`high` when the subject can
    ///   also read CSRs back, `medium` otherwise).
    ///
    /// `certificatesigningrequests/selfnodeclient` is not reported: the approver grants it only
    /// for a CSR whose requester is the node the certificate names, so only a node's own
    /// identity can use it.
    ///
    /// ### Why is this bad
    /// Approving a CSR for the `kubernetes.io/kube-apiserver-client` signer issues a client
    /// certificate with any user name and groups the requester chose: a long-lived credential
    /// for any identity, which cannot be revoked short of rotating the cluster CA.
    ///
    /// `nodeclient` and `selfnodeclient` are not API endpoints: kube-controller-manager's CSR
    /// approver (`pkg/controller/certificates/approver/sarapprove.go`) asks whether the CSR's
    /// requester may `create` them, and if so approves a kubelet client certificate
    /// (`system:node:<name>`, group `system:nodes`, signer
    /// `kubernetes.io/kube-apiserver-client-kubelet`) on its own. With `nodeclient` the
    /// requester picks the node name: it becomes any node, and reads the Secrets, ConfigMaps
    /// and tokens of the pods scheduled there.
    ///
    /// ### Example
    /// ```yaml
    /// kind: ClusterRole
    /// rules:
    /// - apiGroups: ["certificates.k8s.io"]
    ///   resources: ["certificatesigningrequests/approval"]
    ///   verbs: ["update"]
    /// - apiGroups: ["certificates.k8s.io"]
    ///   resources: ["signers"]
    ///   verbs: ["approve"]
    /// ```
    ///
    /// ### Fix
    /// Leave CSR approval to the cluster's controllers; if a tool must approve, restrict
    /// `approve` with `resourceNames` to its own signer. Grant `nodeclient` only to the
    /// bootstrap tokens of new nodes (the built-in `system:node-bootstrapper` binding), never to
    /// a ServiceAccount.
    pub CsrApproval,
    code = "RG110",
    name = "csr-approval",
    severity = High,
    category = Unsafe,
    summary = "CertificateSigningRequests can be approved",
}

impl Rule for CsrApproval {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        caps::run(ctx, out, &Self::META, Mode::Capability, assess);
    }
}

pub(crate) fn assess(ctx: &Ctx, site: &Site) -> Option<Cap> {
    approval(ctx, site).or_else(|| node_client(ctx, site))
}

fn approval(ctx: &Ctx, site: &Site) -> Option<Cap> {
    let approval = site.matched(
        ctx,
        &["update", "patch"],
        &[(CERTS, "certificatesigningrequests/approval")],
    );
    if approval.is_empty() {
        return None;
    }
    // `approve` is checked on the signer's name (or `<domain>/*`): any grant of it counts.
    let signer = site
        .scopes_where(ctx, "approve", CERTS, "signers", true)
        .contains(&None);
    if !signer {
        return None;
    }
    Some(Cap {
        severity: Severity::High,
        what: "approve CertificateSigningRequests (update certificatesigningrequests/approval and approve signers): issue client certificates for other users and groups".to_string(),
        power: "csr-approve".to_string(),
        help: format!(
            "{}, or `approve` on `signers`; leave CSR approval to the cluster's controllers.",
            caps::remove_help(site, &approval)
        ),
    })
}

/// `create certificatesigningrequests/nodeclient` with `create certificatesigningrequests`: the
/// CSR approver approves a kubelet client certificate for any node name the subject asks for.
fn node_client(ctx: &Ctx, site: &Site) -> Option<Cap> {
    let reqs = site.matched(
        ctx,
        &["create"],
        &[(CERTS, "certificatesigningrequests/nodeclient")],
    );
    if reqs.is_empty() {
        return None;
    }
    let cluster_wide = |verb: &str| {
        site.scopes_where(ctx, verb, CERTS, "certificatesigningrequests", false)
            .contains(&None)
    };
    if !cluster_wide("create") {
        return None;
    }
    let reads = ["get", "list", "watch"].iter().any(|v| cluster_wide(v));
    let (severity, then) = if reads {
        (Severity::High, "and read the issued certificate back")
    } else {
        (
            Severity::Medium,
            "(reading the issued certificate back needs `get` on certificatesigningrequests, which it lacks here)",
        )
    };
    Some(Cap {
        severity,
        what: format!(
            "submit a CSR for a kubelet client certificate of any node (`system:node:<name>`) that kube-controller-manager's CSR approver approves on its own, {then}: the identity of any node, which reads the Secrets of the pods scheduled there"
        ),
        power: "csr-nodeclient".to_string(),
        help: format!(
            "{}; only the bootstrap tokens of joining nodes need it (the built-in `system:node-bootstrapper` binding).",
            caps::remove_help(site, &reqs)
        ),
    })
}

#[cfg(test)]
mod tests {
    use crate::report::Severity;
    use crate::rules::privilege::caps::fixture::{bound, cluster_role_in, rule};
    use crate::rules::testing::{fires, silent};

    const CODE: &str = "RG110";
    const CERTS: &str = "[\"certificates.k8s.io\"]";

    fn both() -> String {
        format!(
            "{}\n{}",
            rule(CERTS, "[\"*\"]", "[\"approve\"]"),
            rule(CERTS, "[\"*/approval\"]", "[\"update\"]")
        )
    }

    #[test]
    fn approval_and_signer_approve_fire() {
        let f = fires(CODE, &bound("ClusterRole", "ops", &both()));
        assert_eq!(f[0].line, 9, "points at the approval rule");
    }

    #[test]
    fn named_signer_counts() {
        let rules = format!(
            "{}\n- apiGroups: {CERTS}\n  resources: [\"signers\"]\n  verbs: [\"approve\"]\n  resourceNames: [\"kubernetes.io/kube-apiserver-client\"]",
            rule(CERTS, "[\"certificatesigningrequests/approval\"]", "[\"update\"]")
        );
        fires(CODE, &bound("ClusterRole", "ops", &rules));
    }

    #[test]
    fn approve_without_approval_update_is_silent() {
        silent(
            CODE,
            &bound(
                "ClusterRole",
                "ops",
                &rule("[\"*\"]", "[\"*\"]", "[\"approve\"]"),
            ),
        );
    }

    fn node_client(extra: &str) -> String {
        format!(
            "{}\n{extra}",
            rule(CERTS, "[certificatesigningrequests/nodeclient]", "[create]")
        )
    }

    #[test]
    fn nodeclient_with_csr_create_and_read_is_high() {
        let rules = node_client(&rule(
            CERTS,
            "[certificatesigningrequests]",
            "[create, get]",
        ));
        let f = fires(CODE, &bound("ClusterRole", "ops", &rules));
        assert_eq!(f[0].severity, Severity::High);
        assert!(f[0].message.contains("any node"), "{}", f[0].message);
        let rules = node_client(&rule(CERTS, "[certificatesigningrequests]", "[create]"));
        let f = fires(CODE, &bound("ClusterRole", "ops", &rules));
        assert_eq!(f[0].severity, Severity::Medium, "without a read of the CSR");
    }

    #[test]
    fn nodeclient_alone_selfnodeclient_and_namespaced_grants_are_silent() {
        silent(CODE, &bound("ClusterRole", "ops", &node_client("")));
        let rules = format!(
            "{}\n{}",
            rule(
                CERTS,
                "[certificatesigningrequests/selfnodeclient]",
                "[create]"
            ),
            rule(CERTS, "[certificatesigningrequests]", "[create, get]")
        );
        silent(CODE, &bound("ClusterRole", "ops", &rules));
        let rules = node_client(&rule(
            CERTS,
            "[certificatesigningrequests]",
            "[create, get]",
        ));
        silent(CODE, &cluster_role_in("default", &rules));
    }

    #[test]
    fn rolebinding_grants_nothing_cluster_scoped() {
        silent(CODE, &cluster_role_in("default", &both()));
    }
}
