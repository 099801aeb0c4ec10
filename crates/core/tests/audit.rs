//! The audit on generated, realistic audit logs: used, unused, denied and unexpected requests;
//! the streaming protocol; and the round trip (the tightened Role passes `check` and still
//! grants everything the log used).

#[path = "support/auditlog.rs"]
mod auditlog;

use auditlog::{scenario, JOB, MANIFESTS, RUNNER};
use rbac_gate_core::audit::{audit, AuditReport, AuditRequest, AuditSetup};
use rbac_gate_core::report::Severity;
use rbac_gate_core::{check, handle_json, Options, Source};

fn setup() -> AuditSetup {
    AuditSetup {
        sources: vec![Source::new("rbac.yaml", MANIFESTS)],
        ..AuditSetup::default()
    }
}

fn run(log: &str) -> AuditReport {
    audit(&AuditRequest {
        setup: setup(),
        log: log.to_string(),
    })
}

#[test]
fn identities_come_from_the_manifests() {
    let r = run(&scenario(5, 2));
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let ids: Vec<(&str, &str)> = r
        .identities
        .iter()
        .map(|i| (i.id.as_str(), i.role.as_str()))
        .collect();
    assert_eq!(ids, vec![(RUNNER, "runner-manager"), (JOB, "job")]);
}

#[test]
fn used_unused_denied_unexpected() {
    let r = run(&scenario(5, 2));
    assert_eq!(r.verdict, "findings");
    let runner = &r.identities[0];
    // Used, counted once per request (not per stage).
    let used = |verb: &str, res: &str| {
        runner
            .used
            .iter()
            .find(|u| u.verb == verb && u.resource == res && u.namespace.as_deref() == Some("ci"))
            .map(|u| (u.count, u.granted))
    };
    assert_eq!(used("create", "pods"), Some((5, Some(true))));
    assert_eq!(used("create", "pods/attach"), Some((20, Some(true))));
    assert_eq!(used("get", "pods"), Some((15, Some(true))));
    // Granted elsewhere (system:basic-user), not by the manifests.
    let ssar = runner
        .used
        .iter()
        .find(|u| u.resource == "selfsubjectaccessreviews")
        .expect("ssar");
    assert_eq!(ssar.granted, Some(false));
    // Unused: candidates to remove, and what the runner needs though the log does not show it.
    let unused = |res: &str, action: &str| {
        runner
            .unused
            .iter()
            .filter(|u| u.resource == res && u.action == action)
            .flat_map(|u| u.verbs.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        unused("services", "remove"),
        vec!["get", "list", "watch", "create", "patch", "delete"]
    );
    assert_eq!(unused("secrets", "remove"), vec!["list", "watch", "patch"]);
    // Two needs since the table follows the runner's code (registry-credential retries and
    // the image_pull_secrets check; cleanup after a failed pod create).
    let mut secrets_kept = unused("secrets", "keep");
    secrets_kept.sort();
    assert_eq!(secrets_kept, vec!["delete", "get"]);
    assert_eq!(unused("pods", "remove"), vec!["patch"]);
    // Documented by GitLab but never sent by the runner (SPDY exec is a POST, checked as
    // create): candidates to remove, not to keep.
    assert_eq!(unused("pods/exec", "keep"), Vec::<String>::new());
    assert_eq!(
        unused("pods/exec", "remove"),
        vec!["get", "patch", "delete"]
    );
    assert!(unused("configmaps", "remove").len() == 4);
    assert!(runner
        .unused
        .iter()
        .all(|u| u.path == "rbac.yaml" && u.line > 0));
    // Denied: pods/log get, with the feature that needs it and the rule to add.
    let log = runner
        .denied
        .iter()
        .find(|d| d.resource == "pods/log")
        .expect("pods/log denied");
    assert_eq!(log.count, 3);
    assert!(
        log.feature
            .as_deref()
            .is_some_and(|f| f.contains("FF_KUBERNETES_HONOR_ENTRYPOINT")),
        "{log:?}"
    );
    assert!(log.rule.contains("resources: [\"pods/log\"]"));
    assert!(log
        .message
        .as_deref()
        .is_some_and(|m| m.contains("is forbidden")));
    // Unexpected namespace.
    assert_eq!(runner.unexpected_namespaces.len(), 1);
    assert_eq!(runner.unexpected_namespaces[0].namespace, "kube-system");
    assert!(runner
        .user_agents
        .iter()
        .any(|a| a.agent.starts_with("kubectl/")));
    // The job identity used the API and was refused.
    let job = &r.identities[1];
    assert_eq!(job.denied.len(), 1);
    assert_eq!(job.denied[0].feature, None);
    // Unexpected identity.
    assert_eq!(r.unexpected_identities.len(), 1);
    assert_eq!(
        r.unexpected_identities[0].id,
        "system:serviceaccount:ci:default"
    );
    assert_eq!(r.unexpected_identities[0].denied, 2);
    // Totals.
    assert_eq!(r.totals.unauthenticated, 1);
    assert!(r.totals.other_stages > 0);
}

#[test]
fn tightened_role_round_trip() {
    let log = scenario(5, 2);
    let r = run(&log);
    assert_eq!(r.tightened.len(), 1, "{:#?}", r.tightened);
    let t = &r.tightened[0];
    assert_eq!(t.object, "Role ci/gitlab-runner");
    assert_eq!((t.path.as_str(), t.line), ("rbac.yaml", 14));
    assert!(
        t.removed.iter().any(|x| x.starts_with("services:")),
        "{:?}",
        t.removed
    );
    // Replace the Role in the manifests with the tightened one.
    let docs: Vec<&str> = MANIFESTS.split("---\n").collect();
    let replaced: Vec<String> = docs
        .iter()
        .map(|d| {
            if d.starts_with("apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\n") {
                t.yaml.clone()
            } else {
                (*d).to_string()
            }
        })
        .collect();
    let tightened = replaced.join("---\n");
    let report = check(
        &[Source::new("rbac.yaml", tightened.clone())],
        &Options {
            fail_on: Some(Severity::Info),
            ..Options::default()
        },
    );
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    // Feature flags a job could turn on that the runner's config does not pin are a config
    // matter (RG201, low), not a grant the log showed: the tightened Role leaves them out.
    let above: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.severity > Severity::Info)
        .filter(|f| !(f.code == "RG201" && f.message.contains("a job can turn on")))
        .map(|f| format!("{} {:?}: {}", f.code, f.severity, f.message))
        .collect();
    assert!(above.is_empty(), "{above:#?}\n{}", t.yaml);
    // Everything the log used (and was granted before) is still granted.
    let again = audit(&AuditRequest {
        setup: AuditSetup {
            sources: vec![Source::new("rbac.yaml", tightened)],
            ..AuditSetup::default()
        },
        log,
    });
    let before = &r.identities[0];
    let after = &again.identities[0];
    for u in before.used.iter().filter(|u| u.granted == Some(true)) {
        let still = after.used.iter().any(|a| {
            a.verb == u.verb
                && a.resource == u.resource
                && a.namespace == u.namespace
                && a.granted == Some(true)
        });
        assert!(still, "lost {} {} in {:?}", u.verb, u.resource, u.namespace);
    }
    assert!(
        after.unused.iter().all(|u| u.action == "keep"),
        "{:#?}",
        after.unused
    );
}

#[test]
fn explicit_identities_without_manifests() {
    let r = audit(&AuditRequest {
        setup: AuditSetup {
            identities: vec!["gitlab-runner/gitlab-runner".into()],
            namespaces: vec!["ci".into()],
            ..AuditSetup::default()
        },
        log: scenario(2, 1),
    });
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(r.identities.len(), 1);
    assert!(r.identities[0].used.iter().all(|u| u.granted.is_none()));
    assert!(r.identities[0].unused.is_empty());
    assert!(r.tightened.is_empty());
    // `ci` is watched: its default and ci-job ServiceAccounts are unexpected.
    let ids: Vec<&str> = r
        .unexpected_identities
        .iter()
        .map(|u| u.id.as_str())
        .collect();
    assert_eq!(
        ids,
        vec![
            "system:serviceaccount:ci:ci-job",
            "system:serviceaccount:ci:default"
        ]
    );
    assert!(!r.notes.is_empty());
}

#[test]
fn no_identity_is_an_error() {
    let r = audit(&AuditRequest {
        log: scenario(1, 0),
        ..AuditRequest::default()
    });
    assert_eq!(r.verdict, "error");
}

#[test]
fn streaming_protocol_matches_one_shot() {
    let log = scenario(20, 3);
    let one = serde_json::to_value(run(&log)).expect("json");
    let begin = serde_json::json!({"op": "audit_begin", "sources": [{"path": "rbac.yaml", "text": MANIFESTS}]});
    let started: serde_json::Value =
        serde_json::from_str(&handle_json(&begin.to_string())).expect("json");
    let session = started["session"].as_u64().expect("session");
    assert!(session > 0, "{started}");
    assert_eq!(started["runners"][0], RUNNER);
    // Odd batch boundaries, on line ends as hosts cut them.
    let mut batch = String::new();
    for (i, line) in log.lines().enumerate() {
        batch.push_str(line);
        batch.push('\n');
        if i % 37 == 0 {
            let feed = serde_json::json!({"op": "audit_feed", "session": session, "lines": batch});
            let p: serde_json::Value =
                serde_json::from_str(&handle_json(&feed.to_string())).expect("json");
            assert!(p.get("errors").is_none(), "{p}");
            batch.clear();
        }
    }
    let feed = serde_json::json!({"op": "audit_feed", "session": session, "lines": batch});
    handle_json(&feed.to_string());
    let fin = serde_json::json!({"op": "audit_finish", "session": session});
    let streamed: serde_json::Value =
        serde_json::from_str(&handle_json(&fin.to_string())).expect("json");
    assert_eq!(streamed, one);
    // The session is gone.
    let again: serde_json::Value =
        serde_json::from_str(&handle_json(&fin.to_string())).expect("json");
    assert_eq!(again["verdict"], "error");
}

#[test]
fn garbage_lines_are_counted_not_fatal() {
    let mut log = scenario(1, 0);
    log.push_str("not json\n{\"kind\":\"Event\",\"user\":{\"username\":\"system:serviceaccount:gitlab-runner:gitlab-runner\"},\"stage\":\"ResponseComplete\",\"verb\":\n\n{}\n");
    let r = run(&log);
    assert!(r.totals.invalid >= 2, "{:?}", r.totals);
}

#[test]
fn one_shot_through_the_protocol() {
    let req = serde_json::json!({
        "op": "audit",
        "identities": ["system:serviceaccount:gitlab-runner:gitlab-runner"],
        "log": scenario(1, 1),
    });
    let out: serde_json::Value =
        serde_json::from_str(&handle_json(&req.to_string())).expect("json");
    assert_eq!(out["schema"], "rbac-gate/audit/v1", "{out}");
    assert_eq!(out["identities"][0]["id"], RUNNER);
}
