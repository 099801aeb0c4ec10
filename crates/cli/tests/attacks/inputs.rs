//! Attack: hiding a manifest from the gate. The gate used to walk the tree honouring
//! `.gitignore`, `.git/info/exclude` and ignore files above the repository, so a manifest
//! force-added under an ignored path was never read, and a checkout without `.git` inside an
//! ignored folder (a runner's builds directory, gitlab-ci-local's isolated build) saw no file
//! at all, and an empty run passed. Now the input set is what the merge request deploys:
//! every tracked file, the untracked ones the repository's own `.gitignore` files keep, and
//! everything where git does not describe the tree; finding nothing is an error.

use crate::common::{command, output, workspace, Output};
use std::path::Path;

/// A cluster-admin binding for the runner's ServiceAccount: exit 1 (RG101, critical).
const CLUSTER_ADMIN: &str = "examples/cluster-admin/rbac.yaml";

/// Copies the cluster-admin manifest to `dir/relative`.
fn plant(dir: &Path, relative: &str) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::copy(workspace().join(CLUSTER_ADMIN), path).expect("copy fixture");
}

fn write(dir: &Path, relative: &str, text: &str) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// Runs git in `dir`, as a developer would, without the machine's git configuration.
fn git(dir: &Path, args: &[&str]) {
    crate::common::git(dir, args);
}

/// A repository whose first commit holds a harmless manifest, so that it has tracked content.
fn repository(dir: &Path) {
    git(dir, &["init", "-q", "."]);
    write(
        dir,
        "deploy/namespace.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: ci}\n",
    );
    git(dir, &["add", "deploy/namespace.yaml"]);
    git(dir, &["commit", "-q", "-m", "base"]);
}

fn check_in(dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["check", "--format", "json"];
    all.extend_from_slice(args);
    output(command(&all).current_dir(dir))
}

/// Asserts that the run failed on the cluster-admin binding at `path`.
fn assert_flagged(out: &Output, path: &str) {
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON report");
    let flagged = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .any(|f| f["code"] == "RG101" && f["path"] == path);
    assert!(flagged, "no RG101 on {path}: {}", out.stdout);
}

#[test]
fn a_tracked_manifest_under_a_gitignored_path_is_checked() {
    let dir = tempfile::tempdir().expect("temp dir");
    repository(dir.path());
    write(dir.path(), ".gitignore", "generated/\n");
    plant(dir.path(), "generated/admin.yaml");
    git(dir.path(), &["add", ".gitignore"]);
    git(dir.path(), &["add", "-f", "generated/admin.yaml"]);
    git(dir.path(), &["commit", "-q", "-m", "admin"]);
    assert_flagged(&check_in(dir.path(), &[]), "generated/admin.yaml");
    // Also when the directory is named, and from below it.
    assert_flagged(
        &check_in(dir.path(), &["generated"]),
        "generated/admin.yaml",
    );
    assert_flagged(&check_in(&dir.path().join("generated"), &[]), "admin.yaml");
}

#[test]
fn git_info_exclude_never_hides_a_manifest() {
    let dir = tempfile::tempdir().expect("temp dir");
    repository(dir.path());
    plant(dir.path(), "deploy/admin.yaml");
    git(dir.path(), &["add", "deploy/admin.yaml"]);
    git(dir.path(), &["commit", "-q", "-m", "admin"]);
    // Not even an untracked one: the file is outside what a merge request carries.
    plant(dir.path(), "local/admin.yaml");
    write(dir.path(), ".git/info/exclude", "deploy/\nlocal/\n");
    let out = check_in(dir.path(), &[]);
    assert_flagged(&out, "deploy/admin.yaml");
    assert_flagged(&out, "local/admin.yaml");
}

#[test]
fn an_untracked_gitignored_file_is_skipped_unless_no_ignore() {
    let dir = tempfile::tempdir().expect("temp dir");
    repository(dir.path());
    write(dir.path(), ".gitignore", "scratch/\n");
    git(dir.path(), &["add", ".gitignore"]);
    plant(dir.path(), "scratch/admin.yaml");
    let out = check_in(dir.path(), &[]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_flagged(
        &check_in(dir.path(), &["--no-ignore"]),
        "scratch/admin.yaml",
    );
}

#[test]
fn a_gitignore_above_a_checkout_without_git_hides_nothing() {
    let parent = tempfile::tempdir().expect("temp dir");
    write(parent.path(), ".gitignore", "*\n");
    write(parent.path(), ".ignore", "*\n");
    let checkout = parent.path().join("checkout");
    plant(&checkout, "deploy/admin.yaml");
    write(&checkout, ".gitignore", "deploy/\n");
    assert_flagged(&check_in(&checkout, &[]), "deploy/admin.yaml");
}

#[test]
fn a_checkout_without_git_inside_an_ignored_folder_is_checked() {
    let outer = tempfile::tempdir().expect("temp dir");
    repository(outer.path());
    write(outer.path(), ".gitignore", "builds/\n");
    git(outer.path(), &["add", ".gitignore"]);
    git(outer.path(), &["commit", "-q", "-m", "ignore builds"]);
    // A runner's builds directory, and gitlab-ci-local's isolated build, which ignores itself.
    write(
        outer.path(),
        ".gitlab-ci-local/.gitignore",
        "*\n!.gitignore\n",
    );
    for build in ["builds/project", ".gitlab-ci-local/builds/rbac-gate"] {
        let checkout = outer.path().join(build);
        plant(&checkout, "deploy/admin.yaml");
        // Built-in skips apply only below the checked directory, never to its own path.
        write(&checkout, "node_modules/dep/broken.yaml", "dependency: [\n");
        assert_flagged(&check_in(&checkout, &[]), "deploy/admin.yaml");
        // Named from the outer repository, too.
        assert_flagged(
            &check_in(outer.path(), &[build]),
            &format!("{build}/deploy/admin.yaml"),
        );
    }
}

#[cfg(unix)]
#[test]
fn an_in_tree_symlink_to_a_file_that_is_not_an_input_is_read_through_the_link() {
    let dir = tempfile::tempdir().expect("temp dir");
    repository(dir.path());
    // kubectl apply -f deploy/ follows the link; the target's name is no candidate.
    plant(dir.path(), "notes/admin.txt");
    std::os::unix::fs::symlink("../notes/admin.txt", dir.path().join("deploy/admin.yaml"))
        .expect("link");
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-q", "-m", "link"]);
    assert_flagged(&check_in(dir.path(), &[]), "deploy/admin.yaml");
}

#[cfg(unix)]
#[test]
fn a_config_named_symlink_does_not_hide_its_target() {
    let dir = tempfile::tempdir().expect("temp dir");
    plant(dir.path(), "deploy/admin.yaml");
    std::os::unix::fs::symlink("deploy/admin.yaml", dir.path().join(".rbac-gate.yaml"))
        .expect("link");
    let out = check_in(dir.path(), &[]);
    // The manifest is not a valid config (exit 2), and is still checked as an input.
    assert_eq!(out.code, 2, "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON report");
    assert!(
        report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["code"] == "RG101" && f["path"] == "deploy/admin.yaml"),
        "{}",
        out.stdout
    );
}

#[test]
fn nothing_to_check_is_an_error_unless_allowed() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "README.md", "# no manifest here\n");
    let out = output(command(&["check"]).current_dir(dir.path()));
    assert_eq!(out.code, 2, "{}", out.stderr);
    for part in [
        "no input file found in .",
        ".yaml, .yml, .json, .toml and kubeconfig",
        "node_modules/",
        "--exclude",
        "--allow-empty",
    ] {
        assert!(out.stderr.contains(part), "no `{part}` in {}", out.stderr);
    }
    let out = output(command(&["check", "--allow-empty"]).current_dir(dir.path()));
    assert_eq!(out.code, 0, "{}", out.stderr);

    // Everything excluded is nothing, too; the message names the globs.
    plant(dir.path(), "deploy/admin.yaml");
    let out = output(command(&["check", "--exclude", "deploy"]).current_dir(dir.path()));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("`deploy`"), "{}", out.stderr);
}

#[test]
fn a_file_name_that_is_not_utf8_is_still_checked() {
    // kubectl matches `.yaml` on the name's bytes; so must the gate, tracked or not.
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().expect("temp dir");
    repository(dir.path());
    let name = std::ffi::OsStr::from_bytes(b"admin\xff.yaml");
    std::fs::create_dir_all(dir.path().join("deploy")).expect("mkdir");
    std::fs::copy(
        workspace().join(CLUSTER_ADMIN),
        dir.path().join("deploy").join(name),
    )
    .expect("copy");
    let out = check_in(dir.path(), &[]);
    assert_eq!(out.code, 1, "untracked: {}\n{}", out.stdout, out.stderr);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "admin"]);
    let out = check_in(dir.path(), &[]);
    assert_eq!(out.code, 1, "tracked: {}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("RG101"), "{}", out.stdout);
}

#[test]
fn a_committed_rendering_cannot_stand_in_for_a_chart() {
    // The config judges charts/web by its rendered output. The merge request puts cluster-admin
    // into a template and commits a harmless "rendering" at the output path: the templates
    // are skipped, so the committed file must not be taken for what the chart renders.
    let dir = tempfile::tempdir().expect("temp dir");
    repository(dir.path());
    write(
        dir.path(),
        ".rbac-gate.yaml",
        "rendered:\n  - {chart: charts/web, output: rendered/web.yaml}\n",
    );
    write(
        dir.path(),
        "charts/web/Chart.yaml",
        "apiVersion: v2\nname: web\nversion: 0.1.0\n",
    );
    let admin = std::fs::read_to_string(workspace().join(CLUSTER_ADMIN)).expect("fixture");
    write(
        dir.path(),
        "charts/web/templates/rbac.yaml",
        &format!("# {{{{ .Release.Name }}}}\n{admin}"),
    );
    write(
        dir.path(),
        "rendered/web.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n  namespace: apps\ndata:\n  a: b\n",
    );
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "web"]);
    let out = check_in(dir.path(), &[]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("is committed to the repository"),
        "{}",
        out.stdout
    );
    // Rendered in the pipeline (untracked), the output is judged as the config says.
    git(dir.path(), &["rm", "-q", "--cached", "rendered/web.yaml"]);
    git(dir.path(), &["commit", "-q", "-m", "rendered in CI"]);
    let out = check_in(dir.path(), &[]);
    assert_ne!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
}
