//! The semantic mistakes peer tools make (reference: peer-checks.md, section 8), each with the
//! input that exposes it and what the Kubernetes RBAC authorizer really does.

use rbac_gate_core::{check, Finding, Options, Report, Severity, Source};

fn run(yaml: &str) -> Report {
    check(
        &[Source::new("input.yaml", yaml)],
        &Options {
            today: Some("2026-11-26".into()),
            ..Options::default()
        },
    )
}

fn worst(report: &Report) -> Option<Severity> {
    report.findings.iter().map(|f| f.severity).max()
}

fn with_code<'a>(report: &'a Report, code: &str) -> Vec<&'a Finding> {
    report.findings.iter().filter(|f| f.code == code).collect()
}

const SECRETS_READER: &str = "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: secret-reader}
rules:
- apiGroups: [\"\"]
  resources: [secrets]
  verbs: [get, list, watch]
";

/// kube-linter, kubescape #2579, checkov #7694: a RoleBinding to a ClusterRole grants only in the
/// binding's namespace, not cluster-wide.
#[test]
fn rolebinding_to_clusterrole_grants_only_in_its_namespace() {
    let report = run(&format!(
        "{SECRETS_READER}---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: read, namespace: team-a}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: secret-reader}}
subjects: [{{kind: ServiceAccount, name: app, namespace: team-a}}]
"
    ));
    let reads = with_code(&report, "RG103");
    assert!(!reads.is_empty());
    for f in reads {
        assert!(f.severity <= Severity::Medium, "{f:?}");
        assert!(f.message.contains("team-a"), "{}", f.message);
    }
}

/// A RoleBinding pairs with the Role of its own namespace only (checkov #7694 paired across
/// namespaces): a same-named Role elsewhere grants nothing.
#[test]
fn rolebinding_never_pairs_with_a_role_of_another_namespace() {
    let report = run("apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: admin-ish, namespace: other}
rules: [{apiGroups: [\"*\"], resources: [\"*\"], verbs: [\"*\"]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: b, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: admin-ish}
subjects: [{kind: ServiceAccount, name: app, namespace: team-a}]
");
    assert!(
        !with_code(&report, "RG501").is_empty(),
        "dangling roleRef reported"
    );
    assert!(
        !report.findings.iter().any(|f| f.identity.as_deref()
            == Some("system:serviceaccount:team-a:app")
            && f.severity >= Severity::High),
        "team-a/app gets nothing: {:#?}",
        report.findings
    );
}

/// Built-in roles are usually not in the manifests (Kubescape C-0185 and Checkov's graph checks
/// then see nothing): a binding to cluster-admin is still cluster-admin.
#[test]
fn builtin_cluster_admin_is_known_without_its_manifest() {
    let report = run("apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ci-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: deployer, namespace: ci}]
");
    assert_eq!(worst(&report), Some(Severity::Critical));
    assert_eq!(report.exit_code(), 1);
}

/// Cluster-scoped resources in a namespaced Role are ineffective (older Checkov/Kubescape
/// fixtures still flag them), except `bind` on clusterroles.
#[test]
fn cluster_scoped_resources_in_a_role_grant_nothing() {
    let report = run("apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: r, namespace: ci}
rules:
- apiGroups: [\"\"]
  resources: [nodes/proxy]
  verbs: [get, create]
- apiGroups: [certificates.k8s.io]
  resources: [certificatesigningrequests/approval]
  verbs: [update]
- apiGroups: [admissionregistration.k8s.io]
  resources: [validatingwebhookconfigurations]
  verbs: [patch]
");
    for code in ["RG109", "RG110", "RG111"] {
        assert!(with_code(&report, code).is_empty(), "{code} must not fire");
    }
    assert!(
        !with_code(&report, "RG504").is_empty(),
        "ineffective rules are explained"
    );
    assert_eq!(report.exit_code(), 0);
}

/// Checkov #6765, Kubescape fixtures: apiGroups must match. `pods` under the RBAC group is not
/// the core `pods`.
#[test]
fn api_groups_must_match() {
    let report = run("apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: c}
rules:
- apiGroups: [rbac.authorization.k8s.io]
  resources: [pods, services/status]
  verbs: [create, update]
");
    assert!(with_code(&report, "RG112").is_empty());
    assert!(
        !with_code(&report, "RG502").is_empty(),
        "nonexistent resources reported"
    );
    assert_eq!(report.exit_code(), 0);
}

/// Checkov PR #2938: `*/*` and `pods/*` are not wildcards; only `*` and `*/subresource` are.
#[test]
fn only_star_and_star_slash_sub_are_patterns() {
    let report = run("apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: c}
rules:
- apiGroups: [\"\"]
  resources: [\"*/*\", \"pods/*\"]
  verbs: [create]
");
    assert!(
        with_code(&report, "RG113").is_empty(),
        "no exec from pods/*"
    );
    assert_eq!(report.exit_code(), 0);
    let exec = run("apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: c}
rules:
- apiGroups: [\"\"]
  resources: [\"*/exec\"]
  verbs: [create]
");
    assert!(
        !with_code(&exec, "RG113").is_empty(),
        "*/exec covers pods/exec"
    );
}

/// Kubescape resourcenames-empty: `resourceNames: []` means every name.
#[test]
fn empty_resource_names_mean_every_name() {
    let named = run("apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: c}
rules: [{apiGroups: [\"\"], resources: [secrets], verbs: [get], resourceNames: [one]}]
");
    assert!(with_code(&named, "RG103").is_empty());
    let empty = run("apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: c}
rules: [{apiGroups: [\"\"], resources: [secrets], verbs: [get], resourceNames: []}]
");
    assert!(!with_code(&empty, "RG103").is_empty());
}

/// Checkov #7616: permissions correlate per rule, not per role. `create` from one rule and
/// `pods` from another do not make `create pods`.
#[test]
fn verbs_and_resources_correlate_per_rule() {
    let report = run("apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: c}
rules:
- apiGroups: [\"\"]
  resources: [configmaps]
  verbs: [create]
- apiGroups: [\"\"]
  resources: [pods]
  verbs: [get]
");
    assert!(with_code(&report, "RG112").is_empty());
}

/// kubernetes#65171: an aggregated ClusterRole holds the union of the selected roles' rules
/// (matchExpressions too; only kube-linter follows matchLabels, none follow expressions).
#[test]
fn aggregation_follows_match_expressions() {
    let report = run("apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: aggregate}
aggregationRule:
  clusterRoleSelectors:
  - matchExpressions:
    - {key: rbac.example.com/aggregate-to-ci, operator: In, values: [\"true\"]}
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: part
  labels: {rbac.example.com/aggregate-to-ci: \"true\"}
rules: [{apiGroups: [\"\"], resources: [secrets], verbs: [list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: b}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: aggregate}
subjects: [{kind: ServiceAccount, name: app, namespace: ci}]
");
    assert!(
        with_code(&report, "RG103")
            .iter()
            .any(
                |f| f.identity.as_deref() == Some("system:serviceaccount:ci:app")
                    && f.severity == Severity::High
            ),
        "{:#?}",
        report.findings
    );
}

/// Checkov CKV_K8S_157 and rbac-police bind_roles: `bind` matters on roles/clusterroles, not on
/// bindings.
#[test]
fn bind_on_rolebindings_does_nothing() {
    let report = run("apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: c}
rules: [{apiGroups: [rbac.authorization.k8s.io], resources: [rolebindings], verbs: [bind]}]
");
    assert!(with_code(&report, "RG105").is_empty());
}

/// Kubescape steal-pods same-name-distinct-namespaces: dev/node-agent and ops/node-agent are
/// different identities.
#[test]
fn same_service_account_name_in_two_namespaces_is_two_identities() {
    let report = run("apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: b}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: node-agent, namespace: ops}]
");
    let ids: Vec<&str> = report.identities.iter().map(|i| i.id.as_str()).collect();
    assert!(ids.contains(&"system:serviceaccount:ops:node-agent"));
    assert!(!report
        .findings
        .iter()
        .any(|f| f.identity.as_deref() == Some("system:serviceaccount:dev:node-agent")));
}

/// Peers flag GitLab's own documented runner Role (pods/exec, pod creation, secrets): for the
/// runner bound in its job namespace, that is what it needs, and it must not fail the gate.
#[test]
fn the_documented_runner_role_does_not_fail_the_gate() {
    let report = run("apiVersion: v1
kind: ServiceAccount
metadata: {name: gitlab-runner, namespace: gitlab-runner}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: gitlab-runner, namespace: gitlab-runner}
rules:
- {apiGroups: [\"\"], resources: [pods], verbs: [create, delete, get, list, watch]}
- {apiGroups: [\"\"], resources: [pods/exec, pods/attach], verbs: [create, delete, get, patch]}
- {apiGroups: [\"\"], resources: [secrets], verbs: [create, delete, get, update]}
- {apiGroups: [\"\"], resources: [services], verbs: [create, get]}
- {apiGroups: [\"\"], resources: [events], verbs: [list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: gitlab-runner, namespace: gitlab-runner}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: gitlab-runner}
subjects: [{kind: ServiceAccount, name: gitlab-runner, namespace: gitlab-runner}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: gitlab-runner, namespace: gitlab-runner}
spec:
  template:
    spec:
      serviceAccountName: gitlab-runner
      containers: [{name: runner, image: registry.gitlab.com/gitlab-org/gitlab-runner:v18.0.0}]
");
    assert_eq!(report.exit_code(), 0, "{:#?}", report.findings);
    for code in ["RG103", "RG108", "RG112", "RG113"] {
        assert!(
            with_code(&report, code)
                .iter()
                .all(|f| f.severity < Severity::Medium),
            "{code}: {:#?}",
            report.findings
        );
    }
}
