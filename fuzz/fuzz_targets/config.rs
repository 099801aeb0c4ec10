//! The config file (`.rbac-gate.yaml`): any text is either accepted or an error naming it.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use rbac_gate_core::Source;

const RBAC: &str = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: runner-admin\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: cluster-admin\nsubjects:\n- kind: ServiceAccount\n  name: gitlab-runner\n  namespace: ci\n";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (settings, errors) = rbac_gate_core::settings::load(&common::options(Some(text)));
    for e in &errors {
        assert_eq!(e.path, ".rbac-gate.yaml");
    }
    let _ = settings;
    // Whatever the config says, a cluster-admin binding is either failing, accepted (by an
    // exception or a lowered threshold or severity), or the config is an error: never a silent
    // pass without one of those.
    let report = common::check_invariants(
        &[Source::new("rbac.yaml", RBAC)],
        &common::options(Some(text)),
    );
    if report.verdict == "pass" {
        assert!(errors.is_empty());
    }
});
