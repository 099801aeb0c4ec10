//! `explain_error` on the errors that show up in job logs: the RBAC failures of
//! gitlab-runner-rbac.md §5 (in the API server's message format), authentication failures, and
//! the Role to edit when manifests are given.

use rbac_gate_core::explain_error::{explain, ErrorKind, ExplainRequest, ExplainResponse};
use rbac_gate_core::{Options, Source};
use std::path::Path;

fn run(message: &str) -> ExplainResponse {
    explain(&ExplainRequest {
        message: message.to_string(),
        ..ExplainRequest::default()
    })
}

fn example(folder: &str) -> Vec<Source> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(folder);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("example folder")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "toml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            Source::new(
                format!(
                    "examples/{folder}/{}",
                    p.file_name().and_then(|n| n.to_str()).unwrap_or("")
                ),
                std::fs::read_to_string(p).expect("read"),
            )
        })
        .collect()
}

const ATTACH: &str = r#"pods "runner-xyz" is forbidden: User "system:serviceaccount:ci:gitlab-runner" cannot create resource "pods/attach" in API group "" in the namespace "ci""#;

#[test]
fn attach_since_14_0() {
    // §5.3, the issue's example.
    let r = run(ATTACH);
    assert_eq!(r.explanations.len(), 1);
    let e = &r.explanations[0];
    assert_eq!(e.kind, ErrorKind::Forbidden);
    assert_eq!(
        e.identity.as_deref(),
        Some("system:serviceaccount:ci:gitlab-runner")
    );
    assert_eq!(e.resource.as_deref(), Some("pods/attach"));
    assert!(e.failure.starts_with("jobs fail to start"), "{}", e.failure);
    assert!(
        e.features[0].feature.contains("attach execution strategy"),
        "{:?}",
        e.features
    );
    assert_eq!(e.features[0].impact, "required");
    assert_eq!(
        e.rule,
        "- apiGroups: [\"\"]\n  resources: [\"pods/attach\"]\n  verbs: [\"create\"]\n"
    );
    assert_eq!(e.scope.as_deref(), Some("namespaced"));
    assert!(e.notes.iter().any(|n| n.contains("14.0")), "{:?}", e.notes);
    assert!(e.edits.is_empty());
}

#[test]
fn events_list_since_16_2() {
    // §5.1.
    let r = run(
        r#"WARNING: Error streaming logs: events is forbidden: User "system:serviceaccount:gitlab:gitlab-runner" cannot list resource "events" in API group "" in the namespace "gitlab""#,
    );
    let e = &r.explanations[0];
    assert!(e.features[0].feature.contains("print_pod_warning_events"));
    assert!(
        e.failure.contains("warning events missing"),
        "{}",
        e.failure
    );
    assert!(e.notes.iter().any(|n| n.contains("16.2")), "{:?}", e.notes);
}

#[test]
fn serviceaccounts_get_in_15_0() {
    // §5.2: needs `service_account` set; 15.0.0 and 15.1.0 check it without the resource
    // check, later versions only with it (executors/kubernetes/kubernetes.go
    // serviceAccountExists). The default configuration sets no `service_account`.
    let msg = r#"ERROR: Job failed (system failure): prepare environment: serviceaccounts "ci-job" is forbidden: User "system:serviceaccount:gitlab-runner:gitlab-runner" cannot get resource "serviceaccounts" in API group "" in the namespace "gitlab-runner". Check https://docs.gitlab.com/runner/shells/index.html#shell-profile-loading for more information"#;
    let r = run(msg);
    let e = &r.explanations[0];
    assert_eq!(e.name.as_deref(), Some("ci-job"));
    assert!(e.excerpt.ends_with("\"gitlab-runner\""), "{}", e.excerpt);
    assert!(!e.features[0].applies);
    assert!(
        e.notes.iter().any(|n| n.contains("15.0.0")),
        "{:?}",
        e.notes
    );
    let r = explain(&ExplainRequest {
        message: msg.into(),
        options: Options {
            runner_version: Some("15.0".into()),
            ..Options::default()
        },
        ..ExplainRequest::default()
    });
    assert!(!r.explanations[0].features[0].applies);
}

#[test]
fn pods_log_for_ci_debug_services() {
    // §5.4 (and the pods/logs docs typo of §5.5).
    let r = run(
        r#"pods "runner-abc-project-1-concurrent-0" is forbidden: User "system:serviceaccount:ci:gitlab-runner" cannot get resource "pods/log" in API group "" in the namespace "ci""#,
    );
    let e = &r.explanations[0];
    // Three of the four triggers fail the job (the runner returns the log stream error:
    // HONOR_ENTRYPOINT, WAIT_FOR_POD_TO_BE_REACHABLE, CONCRETE); CI_DEBUG_SERVICES only warns.
    assert!(e.failure.starts_with("jobs fail"), "{}", e.failure);
    let debug_services = e
        .features
        .iter()
        .find(|f| f.feature.contains("CI_DEBUG_SERVICES"))
        .expect("CI_DEBUG_SERVICES is a trigger");
    assert!(
        debug_services.breaks.contains("jobs run"),
        "{}",
        debug_services.breaks
    );
    assert!(e.notes.iter().any(|n| n.contains("pods/logs")));
}

#[test]
fn informer_is_a_warning() {
    // §5.6.
    let r = run(
        r#"pods is forbidden: User "system:serviceaccount:ci:gitlab-runner" cannot watch resource "pods" in API group "" in the namespace "ci""#,
    );
    let e = &r.explanations[0];
    assert_eq!(e.features[0].impact, "optional");
    assert!(e.failure.contains("polling"), "{}", e.failure);
}

#[test]
fn namespace_per_job_needs_cluster_scope() {
    // §5.7.
    let r = run(
        r#"namespaces is forbidden: User "system:serviceaccount:gitlab-runner:gitlab-runner" cannot create resource "namespaces" in API group "" at the cluster scope"#,
    );
    let e = &r.explanations[0];
    assert_eq!(e.namespace, None);
    assert_eq!(e.scope.as_deref(), Some("cluster"));
    assert!(e.fix.contains("ClusterRoleBinding"), "{}", e.fix);
    assert!(e.features[0].feature.contains("namespace_per_job"));
    // Named like the runner's ServiceAccount: the runner made it, with namespace_per_job on.
    assert_eq!(e.identity_role.as_deref(), Some("runner-manager"));
    assert!(e.cause.contains("runner manager"), "{}", e.cause);
    assert!(e.failure.starts_with("jobs fail to start"), "{}", e.failure);
}

#[test]
fn job_identity_confusion() {
    // §5.8: maddevsio/aws-eks-base#258 (the elided part filled in), werf/werf#4409, StatCan/aaw#2048.
    for msg in [
        r#"secrets is forbidden: User "system:serviceaccount:gitlab-runner:gitlab-runner-executor" cannot list resource "secrets" in API group "" in the namespace "staging""#,
        r#"Error: configmaps "werf-synchronization" is forbidden: User "system:serviceaccount:werf:default" cannot get resource "configmaps" in API group "" in the namespace "werf""#,
        r#"servicemonitors.monitoring.coreos.com is forbidden: User "system:serviceaccount:jupyter:gitlab-runner" cannot list resource "servicemonitors" in API group "monitoring.coreos.com" in the namespace "jupyter""#,
    ] {
        let r = run(msg);
        let e = &r.explanations[0];
        assert!(e.cause.contains("job"), "{msg}: {}", e.cause);
        assert!(e.fix.contains("dedicated ServiceAccount"), "{}", e.fix);
    }
    let e = &run(r#"servicemonitors.monitoring.coreos.com is forbidden: User "u" cannot list resource "servicemonitors" in API group "monitoring.coreos.com" in the namespace "j""#).explanations[0];
    assert_eq!(e.api_group.as_deref(), Some("monitoring.coreos.com"));
}

#[test]
fn authentication_failures() {
    for (msg, kind) in [
        ("ERROR: Job failed (system failure): prepare environment: Unauthorized", ErrorKind::Unauthorized),
        ("error: You must be logged in to the server (the server has asked for the client to provide credentials)", ErrorKind::Unauthorized),
        ("Unable to connect to the server: token has expired", ErrorKind::TokenExpired),
        ("x509: certificate has expired or is not yet valid: current time 2026-11-26T10:00:00Z is after 2026-11-01T00:00:00Z", ErrorKind::CertificateExpired),
    ] {
        let r = run(msg);
        assert_eq!(r.explanations.len(), 1, "{msg}");
        assert_eq!(r.explanations[0].kind, kind, "{msg}");
        assert!(!r.explanations[0].fix.is_empty());
    }
    assert!(run("nothing to see here").explanations.is_empty());
}

#[test]
fn a_whole_job_log_folds_repeats() {
    let log = format!(
        "Running with gitlab-runner 19.3.0\n{ATTACH}\nretrying\n{}\n{ATTACH}\n",
        ATTACH.replace("runner-xyz", "runner-abc")
    );
    let r = run(&log);
    assert_eq!(r.explanations.len(), 1);
    assert_eq!(r.explanations[0].occurrences, 3);
}

#[test]
fn manifests_name_the_role_to_edit() {
    let sources = example("missing-permissions");
    let r = explain(&ExplainRequest {
        message: r#"pods "runner-xyz" is forbidden: User "system:serviceaccount:gitlab-runner:gitlab-runner" cannot create resource "pods/attach" in API group "" in the namespace "gitlab-runner""#.into(),
        sources,
        options: Options::default(),
    });
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let e = &r.explanations[0];
    assert_eq!(e.identity_role.as_deref(), Some("runner-manager"));
    assert_eq!(e.edits.len(), 1, "{:?}", e.edits);
    let edit = &e.edits[0];
    assert_eq!(edit.path, "examples/missing-permissions/rbac.yaml");
    assert_eq!(edit.line, 8);
    assert_eq!(edit.object, "Role gitlab-runner/gitlab-runner");
    assert!(edit.action.contains("after line"), "{}", edit.action);
}

#[test]
fn manifests_that_already_grant_it_point_at_the_rule() {
    let r = explain(&ExplainRequest {
        message: r#"pods "x" is forbidden: User "system:serviceaccount:gitlab-runner:gitlab-runner" cannot create resource "pods/exec" in API group "" in the namespace "gitlab-runner""#.into(),
        sources: example("missing-permissions"),
        options: Options::default(),
    });
    let edit = &r.explanations[0].edits[0];
    assert_eq!(edit.line, 17);
    assert!(edit.action.contains("already grant"), "{}", edit.action);
}

#[test]
fn wrong_namespace_and_wrong_identity() {
    let sources = example("safe-baseline");
    // The runner's Role lives in ci-jobs; a request in gitlab-runner is not covered.
    let r = explain(&ExplainRequest {
        message: r#"pods is forbidden: User "system:serviceaccount:gitlab-runner:gitlab-runner" cannot create resource "pods" in API group "" in the namespace "gitlab-runner""#.into(),
        sources: sources.clone(),
        options: Options::default(),
    });
    let e = &r.explanations[0];
    assert!(
        e.edits
            .iter()
            .any(|x| x.object.starts_with("RoleBinding ci-jobs/")
                && x.action.contains("add a Role and RoleBinding there")),
        "{:?}",
        e.edits
    );
    // The pod ran as `default`: the binding names another ServiceAccount.
    let r = explain(&ExplainRequest {
        message: r#"pods is forbidden: User "system:serviceaccount:gitlab-runner:default" cannot create resource "pods" in API group "" in the namespace "ci-jobs""#.into(),
        sources,
        options: Options::default(),
    });
    let e = &r.explanations[0];
    assert!(
        e.notes
            .iter()
            .any(|n| n.contains("`default` ServiceAccount")),
        "{:?}",
        e.notes
    );
    assert!(
        e.edits
            .iter()
            .any(|x| x.action.contains("run the runner pod as")),
        "{:?}",
        e.edits
    );
}

#[test]
fn unauthorized_points_at_the_static_token() {
    let r = explain(&ExplainRequest {
        message: "ERROR: Job failed (system failure): prepare environment: Unauthorized".into(),
        sources: example("static-token"),
        options: Options::default(),
    });
    let e = &r.explanations[0];
    assert!(
        e.edits.iter().any(|x| x.action.starts_with("RG403")),
        "{:?}",
        e.edits
    );
}
