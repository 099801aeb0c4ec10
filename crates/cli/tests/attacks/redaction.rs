//! Attack 6: credentials in URLs and exec arguments.
//!
//! Key-based redaction hid `token:` and `password:` values, but a credential also travels
//! inside ordinary values: a kubeconfig `server: https://admin:PASS@host`, a runner
//! config.toml `host = "https://u:PASS@host"` (in a file of its own or a ConfigMap), and exec
//! plugin `args: ["--password=PASS", "--token", "PASS", "-p", "PASS"]`. The text report (the
//! CI log) quoted those lines, and an exec `command` line put its password in the finding's
//! message in every format. Each carrier below is checked through the real binary in all five
//! formats, on stdout and as `--report` files: the secret appears in none of stdout, stderr
//! and the report files, and the URL's host still does, so the finding stays useful.

use crate::common::{command, output};
use std::path::Path;

const FORMATS: [&str; 5] = ["text", "json", "codequality", "sarif", "junit"];

/// One way of carrying a credential, in a file whose findings point at the lines holding it.
struct Carrier {
    file: &'static str,
    text: &'static str,
    /// Must appear in no output.
    secrets: &'static [&'static str],
    /// Must appear in the text report (the snippet), as `https://[REDACTED]@host`.
    redacted_url: &'static str,
    /// Must appear in the finding messages of every format.
    in_every_format: Option<&'static str>,
}

const KUBECONFIG_SERVER: Carrier = Carrier {
    file: "kubeconfig.yaml",
    text: "apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster: {server: \"https://admin:Srv1Pass@k8s-api.example.com:6443\", insecure-skip-tls-verify: true}
- name: staging
  cluster:
    insecure-skip-tls-verify: true
    server: https://Srv2TokenUser@k8s-staging.example.com
",
    secrets: &["Srv1Pass", "Srv2TokenUser", "admin:"],
    redacted_url: "https://[REDACTED]@k8s-api.example.com:6443",
    in_every_format: None,
};

const RUNNER_HOST: Carrier = Carrier {
    file: "config.toml",
    text: "concurrent = 1
[[runners]]
  name = \"ci\"
  url = \"https://gitlab-ci-token:Url1Pass@gitlab.example.com\"
  executor = \"kubernetes\"
  kubernetes = { host = \"https://admin:Host1Pass@k8s-runner.example.com\", namespace = \"ci\", privileged = true }
",
    secrets: &["Host1Pass", "Url1Pass"],
    redacted_url: "https://[REDACTED]@k8s-runner.example.com",
    in_every_format: None,
};

const CONFIGMAP_HOST: Carrier = Carrier {
    file: "configmap.yaml",
    text: "apiVersion: v1
kind: ConfigMap
metadata:
  name: gitlab-runner
  namespace: ci
data:
  config.toml: |
    concurrent = 1
    [[runners]]
      name = \"ci\"
      executor = \"kubernetes\"
      kubernetes = { host = \"https://admin:Host2Pass@k8s-cm.example.com\", namespace = \"ci\", privileged = true }
",
    secrets: &["Host2Pass"],
    redacted_url: "https://[REDACTED]@k8s-cm.example.com",
    in_every_format: None,
};

const EXEC_ARGUMENTS: Carrier = Carrier {
    file: "exec.yaml",
    text: "apiVersion: v1
kind: Config
users:
- name: flow
  user: {token: abc, exec: {command: get-token, args: [\"--password=Arg1Pass\", \"--token\", \"Arg2Token\", \"-p\", \"Arg3Pass\", \"--namespace=ci\"]}}
- name: shell
  user:
    exec:
      command: sh -c \"get-token --client-secret Arg4Secret --server https://u:Arg5Pass@k8s-exec.example.com\"
      args:
      - --api-key
      - Arg6Key
",
    secrets: &[
        "Arg1Pass",
        "Arg2Token",
        "Arg3Pass",
        "Arg4Secret",
        "Arg5Pass",
        "Arg6Key",
    ],
    redacted_url: "https://[REDACTED]@k8s-exec.example.com",
    in_every_format: Some("--server https://[REDACTED]@k8s-exec.example.com"),
};

/// Runs `check` on the carrier in every format, each time also writing all five formats as
/// `--report` files, and returns (what, text) for every stdout, stderr and report file.
fn every_output(carrier: &Carrier, dir: &Path) -> Vec<(String, String)> {
    std::fs::write(dir.join(carrier.file), carrier.text).expect("write input");
    let mut outputs = Vec::new();
    for format in FORMATS {
        let mut args = vec![
            "check".to_string(),
            carrier.file.to_string(),
            "--format".into(),
            format.into(),
            // Every finding fails, so every format lists them all.
            "--fail-on".into(),
            "info".into(),
        ];
        let files: Vec<String> = FORMATS
            .iter()
            .map(|other| format!("report-{format}-as-{other}.out"))
            .collect();
        for (other, file) in FORMATS.iter().zip(&files) {
            args.push("--report".into());
            args.push(format!("{other}={file}"));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = output(command(&args).current_dir(dir));
        assert_eq!(
            out.code, 1,
            "{} {format}: the findings fail the gate\n{}{}",
            carrier.file, out.stdout, out.stderr
        );
        outputs.push((format!("{format} stdout"), out.stdout));
        outputs.push((format!("{format} stderr"), out.stderr));
        for file in files {
            let text = std::fs::read_to_string(dir.join(&file)).expect("report file written");
            outputs.push((file, text));
        }
    }
    outputs
}

fn assert_hidden(carrier: &Carrier) {
    let dir = tempfile::tempdir().expect("tempdir");
    let outputs = every_output(carrier, dir.path());
    for (what, text) in &outputs {
        for secret in carrier.secrets {
            assert!(
                !text.contains(secret),
                "{}: `{secret}` leaked into {what}:\n{text}",
                carrier.file
            );
        }
        if let Some(kept) = carrier.in_every_format {
            if !what.ends_with("stderr") {
                // JSON and SARIF escape nothing in it; XML neither.
                assert!(
                    text.contains(kept),
                    "{}: no `{kept}` in {what}:\n{text}",
                    carrier.file
                );
            }
        }
    }
    let (_, text) = &outputs[0];
    assert!(
        text.contains(carrier.redacted_url),
        "{}: the snippet should show `{}`:\n{text}",
        carrier.file,
        carrier.redacted_url
    );
}

#[test]
fn a_kubeconfig_server_url_with_userinfo_is_redacted_in_every_format() {
    assert_hidden(&KUBECONFIG_SERVER);
}

#[test]
fn a_runner_config_host_with_userinfo_is_redacted_in_every_format() {
    assert_hidden(&RUNNER_HOST);
}

#[test]
fn a_configmap_config_toml_host_with_userinfo_is_redacted_in_every_format() {
    assert_hidden(&CONFIGMAP_HOST);
}

#[test]
fn secret_exec_arguments_are_redacted_in_every_format() {
    assert_hidden(&EXEC_ARGUMENTS);
}

/// Redaction must not cost the report its RBAC content: verbs, resources, names, paths and
/// line numbers of a manifest that quotes no credential come out unchanged.
#[test]
fn ordinary_findings_are_not_redacted() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("role.yaml"),
        "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: token-reader
rules:
- {apiGroups: [\"\"], resources: [\"secrets\", \"serviceaccounts/token\"], verbs: [\"get\", \"list\", \"create\"]}  # https://git.example.com:8443/infra/rbac@v1 --namespace=ci -n ci git@gitlab.com:infra/rbac.git
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: token-reader
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: token-reader}
subjects: [{kind: ServiceAccount, name: gitlab-runner, namespace: ci}]
",
    )
    .expect("write input");
    let out = output(command(&["check", "role.yaml"]).current_dir(dir.path()));
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains("[REDACTED]"), "{}", out.stdout);
    for kept in [
        // The quoted rule line, comment and all.
        "6 | - {apiGroups: [\"\"], resources: [\"secrets\", \"serviceaccounts/token\"], verbs: [\"get\", \"list\", \"create\"]}  # https://git.example.com:8443/infra/rbac@v1 --namespace=ci -n ci git@gitlab.com:infra/rbac.git",
        "(create serviceaccounts/token)",
        "--> role.yaml:6:",
    ] {
        assert!(out.stdout.contains(kept), "no `{kept}` in:\n{}", out.stdout);
    }
}
