//! Kubernetes' own bootstrap policy (crates/core/src/authz/bootstrap/, the golden files of
//! kubernetes/kubernetes plugin/pkg/auth/authorizer/rbac/bootstrappolicy/testdata/) is the
//! platform: a dump of it passes and is counted, while binding to its powerful roles,
//! redefining them or referring to an unknown system role is judged.

use rbac_gate_core::{check, Options, Report, Severity, Source};

/// The files exactly as shipped in the core (the same bytes the engine reads).
const SHIPPED: &[(&str, &str)] = &[
    (
        "cluster-roles-featuregates.yaml",
        include_str!("../src/authz/bootstrap/cluster-roles-featuregates.yaml"),
    ),
    (
        "cluster-role-bindings.yaml",
        include_str!("../src/authz/bootstrap/cluster-role-bindings.yaml"),
    ),
    (
        "controller-roles.yaml",
        include_str!("../src/authz/bootstrap/controller-roles.yaml"),
    ),
    (
        "controller-role-bindings.yaml",
        include_str!("../src/authz/bootstrap/controller-role-bindings.yaml"),
    ),
    (
        "namespace-roles.yaml",
        include_str!("../src/authz/bootstrap/namespace-roles.yaml"),
    ),
    (
        "namespace-role-bindings.yaml",
        include_str!("../src/authz/bootstrap/namespace-role-bindings.yaml"),
    ),
];

fn run(files: &[(&str, &str)]) -> Report {
    let sources: Vec<Source> = files.iter().map(|(p, t)| Source::new(*p, *t)).collect();
    check(&sources, &Options::default())
}

#[test]
fn the_shipped_bootstrap_policy_passes_and_is_counted_as_defaults() {
    let report = run(SHIPPED);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.verdict, "pass", "{:#?}", report.findings);
    assert_eq!(report.counts.failing, 0);
    // Every role and binding of the files: 32 cluster roles, 38 controller roles, 7 roles,
    // 12 + 38 + 7 bindings.
    assert_eq!(report.counts.defaults, 32 + 38 + 7 + 12 + 38 + 7);
    assert!(
        report.findings.is_empty(),
        "nothing is anchored on a default object: {:#?}",
        report.findings
    );
}

#[test]
fn each_shipped_file_alone_passes_too() {
    for file in SHIPPED {
        let report = run(&[*file]);
        assert_eq!(report.verdict, "pass", "{}: {:#?}", file.0, report.findings);
        assert!(report.counts.defaults > 0, "{}", file.0);
    }
}

#[test]
fn a_copied_label_proves_nothing() {
    // The bootstrapping label and a default's name on other content: judged in full.
    let report = run(&[(
        "fake.yaml",
        "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: system:heapster
  labels: {kubernetes.io/bootstrapping: rbac-defaults}
rules:
- {apiGroups: [\"\"], resources: [secrets], verbs: [get, list]}
",
    )]);
    assert_eq!(report.counts.defaults, 0);
    assert_eq!(report.verdict, "fail", "{:#?}", report.findings);
    assert!(report.findings.iter().any(|f| f.code == "RG119"));
}

fn runner_bound_to(role: &str) -> Report {
    run(&[(
        "binding.yaml",
        &format!(
            "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: runner-{n}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: \"{role}\"}}
subjects:
- {{kind: ServiceAccount, name: gitlab-runner, namespace: ci}}
",
            n = role.replace(':', "-")
        ),
    )])
}

#[test]
fn binding_the_runner_to_a_powerful_system_role_is_judged() {
    for role in [
        "system:controller:clusterrole-aggregation-controller",
        "system:controller:generic-garbage-collector",
        "system:kube-controller-manager",
        "system:node",
        "system:aggregate-to-edit",
    ] {
        let report = runner_bound_to(role);
        assert!(
            report.findings.iter().any(|f| f.severity >= Severity::High),
            "{role}: {:#?}",
            report.findings
        );
        assert_eq!(report.verdict, "fail", "{role}");
    }
}

#[test]
fn an_unknown_system_role_is_high() {
    let report = runner_bound_to("system:controller:not-in-v1-34");
    let f: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.code == "RG118")
        .collect();
    assert_eq!(f.len(), 1, "{:#?}", report.findings);
    assert_eq!(f[0].severity, Severity::High);
}

const CLUSTER_ADMIN_GET_DEPLOYMENTS: &str = "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: cluster-admin
  annotations:
    ANNOTATIONS
rules:
- {apiGroups: [apps], resources: [deployments], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: jane}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: jane}
";

#[test]
fn a_redefined_cluster_admin_is_still_cluster_admin() {
    let yaml = CLUSTER_ADMIN_GET_DEPLOYMENTS.replace("ANNOTATIONS", "team: ci");
    let report = run(&[("input.yaml", &yaml)]);
    let admin: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.code == "RG101" && f.identity.as_deref() == Some("user:jane"))
        .collect();
    assert!(!admin.is_empty(), "{:#?}", report.findings);
    assert_eq!(admin[0].severity, Severity::Critical);
    let redefined: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.code == "RG119")
        .collect();
    assert_eq!(redefined.len(), 1);
    assert_eq!(redefined[0].severity, Severity::Critical);
    assert!(redefined[0].message.contains("union"));
}

#[test]
fn with_autoupdate_false_the_file_alone_counts() {
    let yaml = CLUSTER_ADMIN_GET_DEPLOYMENTS.replace(
        "ANNOTATIONS",
        "rbac.authorization.kubernetes.io/autoupdate: \"false\"",
    );
    let report = run(&[("input.yaml", &yaml)]);
    assert!(
        !report
            .findings
            .iter()
            .any(|f| f.code == "RG101" && f.identity.as_deref() == Some("user:jane")),
        "get deployments is not cluster-admin: {:#?}",
        report.findings
    );
    let redefined: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.code == "RG119")
        .collect();
    assert_eq!(
        redefined.len(),
        1,
        "{:#?} {:?}",
        report.findings,
        report.errors
    );
    assert!(redefined[0].message.contains("file's rules alone"));
}

#[test]
fn a_default_binding_gets_its_subjects_back_and_keeps_extra_ones() {
    // system:node-proxier with an extra subject: the runner keeps it, kube-proxy is added back.
    let report = run(&[(
        "crb.yaml",
        "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: \"system:kube-controller-manager\"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: \"system:kube-controller-manager\"}
subjects:
- {kind: ServiceAccount, name: gitlab-runner, namespace: ci}
",
    )]);
    assert_eq!(report.counts.defaults, 0);
    assert!(
        report.findings.iter().any(|f| f.identity.as_deref()
            == Some("system:serviceaccount:ci:gitlab-runner")
            && f.severity >= Severity::High),
        "{:#?}",
        report.findings
    );
}

/// The built-in `cluster-admin` binding, exactly as the bootstrap policy has it.
const DEFAULT_CLUSTER_ADMIN_BINDING: &str = "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  annotations:
    rbac.authorization.kubernetes.io/autoupdate: \"true\"
  labels:
    kubernetes.io/bootstrapping: rbac-defaults
  name: cluster-admin
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: Group
  name: system:masters
";

fn fails_with_cluster_admin(report: &Report, what: &str) {
    assert_eq!(report.verdict, "fail", "{what}: {:#?}", report.findings);
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.code == "RG101" && f.severity == Severity::Critical),
        "{what}: {:#?}",
        report.findings
    );
}

#[test]
fn a_copy_of_a_default_does_not_hide_a_changed_object_of_the_same_name() {
    // kubectl applies the second document last: the runner becomes cluster-admin. A verbatim
    // copy of the default in front of it must not make the pair look like platform policy.
    let changed = DEFAULT_CLUSTER_ADMIN_BINDING.replace(
        "  name: system:masters\n",
        "  name: system:masters\n- kind: ServiceAccount\n  name: gitlab-runner\n  namespace: ci\n",
    );
    let text = format!("{DEFAULT_CLUSTER_ADMIN_BINDING}---\n{changed}");
    let report = run(&[("deploy/cluster-admin.yaml", &text)]);
    fails_with_cluster_admin(&report, "same-named copy");
    assert_eq!(
        report.counts.defaults, 0,
        "neither copy is untouched platform"
    );
}

#[test]
fn an_object_on_the_same_line_as_a_default_is_judged() {
    // One-line JSON: a default and a runner-admin binding share line 1.
    let json = r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"annotations":{"rbac.authorization.kubernetes.io/autoupdate":"true"},"labels":{"kubernetes.io/bootstrapping":"rbac-defaults"},"name":"cluster-admin"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"},"subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"Group","name":"system:masters"}]},{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"runner-admin"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"},"subjects":[{"kind":"ServiceAccount","name":"gitlab-runner","namespace":"ci"}]}]}"#;
    let report = run(&[("dump.json", json)]);
    fails_with_cluster_admin(&report, "same line");
    assert_eq!(report.counts.defaults, 1, "the default itself still counts");
}
