use crate::context::Ctx;
use crate::declare_rule;
use crate::report::{Finding, Severity};
use crate::rules::privilege::caps::{self, Cap, Mode, Site, CERTS};
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports CertificateSigningRequest approval: `update` (or `patch`) on
    /// `certificatesigningrequests/approval` together with `approve` on `signers` (any signer,
    /// or one named in `resourceNames`) in `certificates.k8s.io`, both held by the same subject.
    /// CSRs and signers are cluster-scoped, so only ClusterRoleBindings count.
    ///
    /// ### Why is this bad
    /// Approving a CSR for the `kubernetes.io/kube-apiserver-client` signer issues a client
    /// certificate with any user name and groups the requester chose: a long-lived credential
    /// for any identity, which cannot be revoked short of rotating the cluster CA.
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
    /// `approve` with `resourceNames` to its own signer.
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

#[cfg(test)]
mod tests {
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

    #[test]
    fn rolebinding_grants_nothing_cluster_scoped() {
        silent(CODE, &cluster_role_in("default", &both()));
    }
}
