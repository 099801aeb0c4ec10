//! Kustomize end to end: overlays are judged as `kubectl apply -k` deploys them, with the
//! real renderer (`kustomize` or `kubectl`). Skipped, with a message, only where neither is
//! on PATH.

mod common;

use common::{command, output};
use std::path::Path;

fn renderer_on_path() -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .any(|dir| dir.join("kustomize").is_file() || dir.join("kubectl").is_file())
}

macro_rules! require_renderer {
    () => {
        if !renderer_on_path() {
            eprintln!(
                "SKIPPED: neither kustomize nor kubectl is on PATH; install one to run this test"
            );
            return;
        }
    };
}

fn write(root: &Path, relative: &str, text: &str) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// A base (a Role, and a RoleBinding in a file without an extension) and two overlays: `prod`
/// moves everything into kube-system, `admin` patches the binding into a ClusterRoleBinding
/// to cluster-admin.
fn repository() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(
        root,
        "base/kustomization.yaml",
        "resources:\n- role.yaml\n- binding\n",
    );
    write(
        root,
        "base/role.yaml",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: runner\nrules:\n- apiGroups: [\"\"]\n  resources: [\"configmaps\"]\n  verbs: [\"get\"]\n",
    );
    write(
        root,
        "base/binding",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: runner\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: runner\nsubjects:\n- kind: ServiceAccount\n  name: runner\n",
    );
    write(
        root,
        "overlays/prod/kustomization.yaml",
        "resources:\n- ../../base\nnamespace: kube-system\n",
    );
    write(
        root,
        "overlays/admin/kustomization.yaml",
        "resources:\n- ../../base\nnamespace: ci\npatches:\n- path: admin-patch.yaml\n  target:\n    kind: RoleBinding\n    name: runner\n  options:\n    allowKindChange: true\n",
    );
    write(
        root,
        "overlays/admin/admin-patch.yaml",
        "- op: replace\n  path: /kind\n  value: ClusterRoleBinding\n- op: replace\n  path: /roleRef\n  value:\n    apiGroup: rbac.authorization.k8s.io\n    kind: ClusterRole\n    name: cluster-admin\n",
    );
    dir
}

fn check_json(dir: &Path) -> (i32, serde_json::Value, String) {
    let out = output(command(&["check", "--format", "json", "."]).current_dir(dir));
    let report = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("JSON report: {e}\n{}\n{}", out.stdout, out.stderr));
    (out.code, report, out.stderr)
}

fn findings(report: &serde_json::Value) -> Vec<(String, String, u64, String)> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap_or("").to_string(),
                f["path"].as_str().unwrap_or("").to_string(),
                f["line"].as_u64().unwrap_or(0),
                f["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn overlays_are_judged_as_they_render_with_findings_on_the_source_files() {
    require_renderer!();
    let repo = repository();
    let (code, report, stderr) = check_json(repo.path());
    assert_eq!(code, 1, "{report:#}\n{stderr}");
    let found = findings(&report);
    // The patch made the cluster-admin binding: the finding points at the patch's line.
    assert!(
        found.iter().any(|(c, p, l, m)| c == "RG101"
            && p == "overlays/admin/admin-patch.yaml"
            && *l == 9
            && m.contains("overlays/admin")),
        "{found:#?}"
    );
    // `namespace: kube-system` moved the Role and its binding into the control plane's
    // namespace: judged there, on the base's files (one without an extension).
    assert!(
        found
            .iter()
            .any(|(c, p, _, m)| c == "RG312" && p == "base/binding" && m.contains("overlays/prod")),
        "{found:#?}"
    );
    assert!(
        found
            .iter()
            .any(|(_, p, _, m)| p == "base/role.yaml" && m.contains("kube-system")),
        "{found:#?}"
    );
    // Every finding is on a file of the repository, none on a rendered stand-in, and nothing
    // is judged twice: the base alone, and its files as plain manifests, are not inputs.
    for (_, path, line, _) in &found {
        assert!(repo.path().join(path).is_file(), "{path} is not a file");
        assert!(*line >= 1);
    }
    let unpatched = found
        .iter()
        .filter(|(c, _, _, m)| c == "RG101" && !m.contains("overlays/admin"))
        .count();
    assert_eq!(unpatched, 0, "{found:#?}");
    assert!(
        found
            .iter()
            .all(|(_, _, _, m)| m.contains("(as kustomize renders overlays/")),
        "every finding comes from an overlay's render: {found:#?}"
    );
}

#[test]
fn the_text_report_quotes_the_patch_line() {
    require_renderer!();
    let repo = repository();
    let out = output(command(&["check", "."]).current_dir(repo.path()));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("--> overlays/admin/admin-patch.yaml:9:")
            && out.stdout.contains("name: cluster-admin"),
        "{}",
        out.stdout
    );
}

#[test]
fn one_overlay_checked_alone_renders_its_base_from_elsewhere_in_the_tree() {
    require_renderer!();
    let repo = repository();
    let out =
        output(command(&["check", "--format", "json", "overlays/admin"]).current_dir(repo.path()));
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    let found = findings(&report);
    assert!(
        found
            .iter()
            .any(|(c, p, _, _)| c == "RG101" && p == "overlays/admin/admin-patch.yaml"),
        "{found:#?}"
    );
    assert!(
        found
            .iter()
            .all(|(_, _, _, m)| !m.contains("overlays/prod")),
        "{found:#?}"
    );
}

#[test]
fn a_base_outside_the_repository_is_refused() {
    require_renderer!();
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(
        root,
        "outside/kustomization.yaml",
        "resources:\n- sa.yaml\n",
    );
    write(
        root,
        "outside/sa.yaml",
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: x\n",
    );
    write(
        root,
        "repo/app/kustomization.yaml",
        "resources:\n- ../../outside\n",
    );
    let status = std::process::Command::new("git")
        .args(["init", "-q", "."])
        .current_dir(root.join("repo"))
        .status()
        .expect("git runs");
    assert!(status.success());
    let (code, report, _) = check_json(&root.join("repo"));
    assert_eq!(code, 2, "{report:#}");
    assert_eq!(report["errors"][0]["path"], "app/kustomization.yaml");
    assert!(
        report["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("outside the checked tree"),
        "{report:#}"
    );
}

#[test]
fn remote_resources_are_refused_before_anything_runs() {
    require_renderer!();
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "kustomization.yaml",
        "resources:\n- https://github.com/example/runner//deploy?ref=v1\n",
    );
    let (code, report, _) = check_json(dir.path());
    assert_eq!(code, 2);
    let message = report["errors"][0]["message"].as_str().unwrap_or("");
    assert!(message.contains("remote resource"), "{report:#}");
}

#[test]
fn a_render_that_fails_is_an_error_of_the_kustomization() {
    require_renderer!();
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "app/kustomization.yaml",
        "resources:\n- missing.yaml\n",
    );
    let (code, report, _) = check_json(dir.path());
    assert_eq!(code, 2, "{report:#}");
    assert_eq!(report["errors"][0]["path"], "app/kustomization.yaml");
    assert!(report["errors"][0]["message"]
        .as_str()
        .unwrap_or("")
        .contains("kustomize cannot render"));
}

#[test]
fn without_a_renderer_a_kustomization_is_an_error_naming_what_to_install() {
    let repo = repository();
    let empty = tempfile::tempdir().expect("tempdir");
    let out = output(
        command(&["check", "--format", "json", "overlays/prod"])
            .current_dir(repo.path())
            .env("PATH", empty.path()),
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    let message = report["errors"][0]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("apt-get install kustomize") && message.contains("kubectl"),
        "{message}"
    );
}
