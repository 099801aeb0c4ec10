use crate::context::Ctx;
use crate::declare_rule;
use crate::report::{Finding, Severity};
use crate::rules::privilege::caps::{self, Cap, Mode, Site, CORE};
use crate::rules::{Rule, RuleMeta};

declare_rule! {
    /// ### What it does
    /// Reports `create` on `persistentvolumes`. PersistentVolumes are cluster-scoped: only a
    /// ClusterRoleBinding (or an unbound ClusterRole) makes it effective.
    ///
    /// ### Why is this bad
    /// A PersistentVolume can be a `hostPath` on any node (`/`, `/etc/kubernetes`). A pod that
    /// claims it mounts the node's filesystem, past the Pod Security Admission check on
    /// `hostPath` volumes in the pod itself.
    ///
    /// ### Example
    /// ```yaml
    /// kind: ClusterRole
    /// rules:
    /// - apiGroups: [""]
    ///   resources: ["persistentvolumes"]
    ///   verbs: ["create"]
    /// ```
    ///
    /// ### Fix
    /// Let a StorageClass provision volumes: workloads create PersistentVolumeClaims, not
    /// PersistentVolumes.
    pub PersistentVolumeCreate,
    code = "RG116",
    name = "persistentvolume-create",
    severity = Medium,
    category = Unsafe,
    summary = "PersistentVolumes can be created",
}

impl Rule for PersistentVolumeCreate {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, ctx: &Ctx, out: &mut Vec<Finding>) {
        caps::run(ctx, out, &Self::META, Mode::Capability, assess);
    }
}

pub(crate) fn assess(ctx: &Ctx, site: &Site) -> Option<Cap> {
    let reqs = site.matched(ctx, &["create"], &[(CORE, "persistentvolumes")]);
    if reqs.is_empty() {
        return None;
    }
    Some(Cap {
        severity: Severity::Medium,
        what: "create PersistentVolumes, e.g. a `hostPath` volume exposing a node's filesystem to any pod that claims it".to_string(),
        power: "pv-create".to_string(),
        help: format!(
            "{}; workloads should create PersistentVolumeClaims and let a StorageClass provision the volume.",
            caps::remove_help(site, &reqs)
        ),
    })
}

#[cfg(test)]
mod tests {
    use crate::rules::privilege::caps::fixture::{bound, rule};
    use crate::rules::testing::{fires, silent};

    const CODE: &str = "RG116";

    #[test]
    fn create_cluster_wide_fires() {
        fires(
            CODE,
            &bound(
                "ClusterRole",
                "ci",
                &rule("[\"\"]", "[\"persistentvolumes\"]", "[\"create\"]"),
            ),
        );
    }

    #[test]
    fn claims_and_roles_are_silent() {
        silent(
            CODE,
            &bound(
                "ClusterRole",
                "ci",
                &rule("[\"\"]", "[\"persistentvolumeclaims\"]", "[\"create\"]"),
            ),
        );
        silent(
            CODE,
            &bound(
                "Role",
                "ci",
                &rule("[\"\"]", "[\"persistentvolumes\"]", "[\"create\"]"),
            ),
        );
    }
}
