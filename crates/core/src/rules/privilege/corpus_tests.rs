//! The privilege rules against corpus cases (tests/corpus): the most severe finding of this
//! group per case, as exact Kubernetes semantics give it. Other groups' findings are ignored.

use crate::api::{Options, Source};
use crate::report::Severity;
use crate::rules::privilege::caps::fixture::GITLAB_RUNNER;

macro_rules! case {
    ($dir:literal, [$($file:literal),+ $(,)?]) => {
        (
            $dir,
            vec![$(($file, include_str!(concat!("../../../../../tests/corpus/", $dir, "/", $file)))),+],
        )
    };
}

/// The most severe finding of this group (RG1xx, RG6xx) and its code.
fn worst(files: &[(&str, &str)]) -> Option<(Severity, String)> {
    let sources: Vec<Source> = files.iter().map(|(p, t)| Source::new(*p, *t)).collect();
    let report = crate::check(&sources, &Options::default());
    report
        .findings
        .iter()
        .filter(|f| f.code.starts_with("RG1") || f.code.starts_with("RG6"))
        .map(|f| (f.severity, f.code.to_string()))
        .max()
}

/// A case: its name and files (path, text).
type Case = (&'static str, Vec<(&'static str, &'static str)>);

fn check(cases: Vec<(Case, Option<Severity>)>) {
    let mut misses = Vec::new();
    for ((name, files), want) in cases {
        let got = worst(&files);
        if got.as_ref().map(|(s, _)| *s) != want {
            misses.push(format!("{name}: got {got:?}, want {want:?}"));
        }
    }
    assert!(misses.is_empty(), "{}", misses.join("\n"));
}

#[test]
fn cluster_admin_and_wildcards() {
    check(vec![
        (
            case!(
                "real-world/cntf-main-clusteradmin-default-sa",
                ["gitlab-runner-rbac.yaml"]
            ),
            Some(Severity::Critical),
        ),
        (
            case!(
                "peers/kubelinter-cluster-admin-role-binding",
                ["cluster-admin-role-binding.yml"]
            ),
            Some(Severity::Critical),
        ),
        (
            case!(
                "peers/kubescape-wl-takeover-pass-not-mount-sa-token",
                [
                    "clusterrole.yaml",
                    "clusterrolebinding.yaml",
                    "file.yaml",
                    "sa.json"
                ]
            ),
            Some(Severity::Critical),
        ),
        (
            case!(
                "peers/kubescape-cluster-admin-clusterrole-rolebinding",
                ["cluterrole.yaml", "rolebinding.yaml"]
            ),
            // The file's `cluster-admin` is reconciled back to `*` on `*` by the API server.
            Some(Severity::Critical),
        ),
        (
            case!(
                "peers/checkov-wildcardroles-role-failed-2",
                ["role-failed-2.yaml"]
            ),
            Some(Severity::Medium),
        ),
        (
            case!(
                "peers/checkov-wildcardroles-role-passed-1",
                ["role-passed-1.yaml"]
            ),
            None,
        ),
        (
            case!(
                "real-world/ijzerbroot-namespace-core-wildcard",
                ["role.yaml"]
            ),
            Some(Severity::High),
        ),
        (
            case!(
                "real-world/pixelated-unbound-clusterrole-wildcard-verbs",
                ["gitlab-runner-rbac.yaml"]
            ),
            Some(Severity::High),
        ),
    ]);
}

#[test]
fn secrets_and_tokens() {
    check(vec![
        (
            case!(
                "peers/checkov-graph-readallsecrets-failing",
                ["ClusterRole.yaml", "ClusterRoleBinding.yaml"]
            ),
            Some(Severity::High),
        ),
        (
            case!(
                "peers/checkov-graph-readallsecrets-passing-resourcename",
                ["RoleResourceName.yaml"]
            ),
            None,
        ),
        (
            case!(
                "peers/kubescape-list-get-secrets-clusterrole-rolebinding",
                ["cluterrole.yaml", "rolebinding.yaml"]
            ),
            Some(Severity::High),
        ),
        (
            case!(
                "peers/kubelinter-access-to-secrets",
                ["access-to-secrets.yml"]
            ),
            Some(Severity::Medium),
        ),
        (
            case!(
                "peers/kubescape-issue-token-split-create-named-get",
                ["clusterrole.yaml", "clusterrolebinding.yaml"]
            ),
            Some(Severity::High),
        ),
        (
            case!(
                "peers/kubescape-issue-token-create-only",
                ["clusterrole.yaml", "clusterrolebinding.yaml"]
            ),
            None,
        ),
    ]);
}

#[test]
fn rbac_verbs() {
    check(vec![
        (
            case!(
                "peers/checkov-escalate-clusterrole-failed-1",
                ["clusterrole-failed-1.yaml"]
            ),
            Some(Severity::High),
        ),
        // `bind` on rolebindings does nothing; cluster-wide pods patch is medium.
        (
            case!(
                "peers/checkov-bindrolebindings-clusterrole-failed-1",
                ["clusterrole-failed-1.yaml"]
            ),
            Some(Severity::Medium),
        ),
        (
            case!(
                "peers/kubescape-bind-roles-resourcenames-empty",
                [
                    "clusterrole.yaml",
                    "clusterrolebinding.yaml",
                    "serviceaccount.yaml"
                ]
            ),
            Some(Severity::Medium),
        ),
        (
            case!(
                "peers/kubescape-bind-escalate-role-rolebinding",
                ["role.yaml", "rolebinding.yaml"]
            ),
            Some(Severity::Medium),
        ),
        (
            case!(
                "peers/kubescape-create-pod-clusterrole-clusterrolebinding",
                ["clusterrole.yaml", "clusterrolebinding.yaml"]
            ),
            Some(Severity::Medium),
        ),
        (
            case!(
                "peers/checkov-graph-impersonate-failing-3",
                ["Role.yaml", "RoleBinding.yaml"]
            ),
            // Impersonating every ServiceAccount of namespace default: high (RG106).
            Some(Severity::High),
        ),
        (
            case!(
                "real-world/alekc-operator-clusterrole-rbac-star",
                ["role.yaml", "role_binding.yaml"]
            ),
            Some(Severity::High),
        ),
        (
            case!("peers/trivy-ksv051-resourcenames-not-any", ["role.yaml"]),
            None,
        ),
    ]);
}

#[test]
fn cluster_scoped_capabilities() {
    check(vec![
        (
            case!(
                "peers/checkov-csr-clusterrole-failed-3",
                ["clusterrole-failed-3.yaml"]
            ),
            Some(Severity::High),
        ),
        (
            case!(
                "peers/kubescape-approve-csr-full-chain",
                ["clusterrole.yaml", "clusterrolebinding.yaml"]
            ),
            Some(Severity::High),
        ),
        (
            case!(
                "peers/kubescape-approve-csr-rolebinding-clusterrole",
                ["clusterrole.yaml", "rolebinding.yaml"]
            ),
            None,
        ),
        (
            case!(
                "peers/checkov-webhooks-clusterrole-failed-2",
                ["clusterrole-failed-2.yaml"]
            ),
            Some(Severity::High),
        ),
        (
            case!(
                "peers/checkov-webhooks-clusterrole-passed-2",
                ["clusterrole-passed-2.yaml"]
            ),
            Some(Severity::Medium),
        ),
        // nodes/proxy in a Role grants nothing; only `apiGroups: ["*"]` remains (medium).
        (
            case!("peers/trivy-ksv047-node-proxy-get", ["role.yaml"]),
            Some(Severity::Medium),
        ),
        (
            case!(
                "peers/checkov-csr-clusterrole-passed-1",
                ["clusterrole-passed-1.yaml"]
            ),
            Some(Severity::Medium),
        ),
    ]);
}

#[test]
fn pods_and_groups() {
    check(vec![
        (
            case!(
                "peers/checkov-graph-nodesproxy-podsexec-failing-3",
                ["role3.yaml", "rolebinding3.yaml"]
            ),
            Some(Severity::High),
        ),
        (
            case!(
                "peers/kubescape-proxy-subresource-role-rolebinding",
                ["role.yaml", "rolebinding.yaml"]
            ),
            Some(Severity::High),
        ),
        (
            case!(
                "real-world/xavier-cross-ns-pods-exec",
                [
                    "RoleBinding.yaml",
                    "clusterRole.yaml",
                    "gilab-runner.yaml",
                    "namespace.yaml",
                    "role.yaml"
                ]
            ),
            Some(Severity::Medium),
        ),
        (
            case!(
                "peers/kubescape-system-authenticated-success",
                ["rolebinding.yaml"]
            ),
            Some(Severity::Medium),
        ),
        (
            case!(
                "peers/kubescape-steal-pods-same-name-distinct-ns",
                [
                    "clusterrole-node-cordoner.yaml",
                    "clusterrole-pod-deleter.yaml",
                    "clusterrolebinding-node-cordoner.yaml",
                    "clusterrolebinding-pod-deleter.yaml",
                ]
            ),
            None,
        ),
        (
            case!(
                "real-world/sempernow-jobs-sa-clusterrolebinding",
                ["rbac.gitlab-runner.yaml"]
            ),
            Some(Severity::High),
        ),
    ]);
}

/// Runner-aware cases: what the runner needs in its job namespaces never reaches `high`.
#[test]
fn runner_needs_do_not_fail_the_gate() {
    check(vec![
        (
            case!("real-world/gitlab-docs-reference-role", ["role.yaml"]),
            Some(Severity::Medium),
        ),
        (
            case!(
                "real-world/tiket-helm-values-explicit-rules",
                ["gitlab-runner.yaml"]
            ),
            Some(Severity::Medium),
        ),
        (
            (
                "gitlab-runner fixture",
                vec![("runner.yaml", GITLAB_RUNNER)],
            ),
            None,
        ),
    ]);
}

#[test]
fn cluster_wide_runner_is_high() {
    check(vec![(
        case!(
            "real-world/egel-helm-values-clusterwide",
            ["gitlab-runner-values.yaml"]
        ),
        Some(Severity::High),
    )]);
}
