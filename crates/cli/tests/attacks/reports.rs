//! Attack: reports that touch inputs. The merge request commits a symlink where the job writes
//! a report (`gl-code-quality-report.json -> deploy/admin.yaml`). The gate used to drop the
//! manifest from its inputs because a report resolved to it, then overwrite it through the
//! link; pointed outside the tree, the write landed there (a shell profile). Now the inputs
//! never depend on report paths, a report replaces a link instead of following it, and a
//! report path that leaves the working directory is refused.

use crate::common::{command, output, workspace, Output};
use std::path::Path;

/// A cluster-admin binding for the runner's ServiceAccount: exit 1 (RG101, critical).
const CLUSTER_ADMIN: &str = "examples/cluster-admin/rbac.yaml";

/// A tree holding the cluster-admin manifest at `deploy/admin.yaml`.
fn tree_with_manifest() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("deploy")).expect("mkdir");
    std::fs::copy(
        workspace().join(CLUSTER_ADMIN),
        dir.path().join("deploy/admin.yaml"),
    )
    .expect("copy fixture");
    dir
}

fn check_in(dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["check", "--format", "json"];
    all.extend_from_slice(args);
    output(command(&all).current_dir(dir))
}

/// Whether the JSON report on stdout has a cluster-admin finding on `path`.
fn flags_cluster_admin(out: &Output, path: &str) -> bool {
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON report");
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .any(|f| f["code"] == "RG101" && f["path"] == path)
}

#[cfg(unix)]
#[test]
fn a_report_symlinked_to_a_manifest_neither_hides_nor_overwrites_it() {
    let dir = tree_with_manifest();
    let manifest = dir.path().join("deploy/admin.yaml");
    let before = std::fs::read(&manifest).expect("read");
    let report = dir.path().join("gl-code-quality-report.json");
    std::os::unix::fs::symlink("deploy/admin.yaml", &report).expect("symlink");

    let out = check_in(
        dir.path(),
        &["--report", "codequality=gl-code-quality-report.json"],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        flags_cluster_admin(&out, "deploy/admin.yaml"),
        "the manifest is still an input: {}",
        out.stdout
    );
    assert_eq!(
        std::fs::read(&manifest).expect("read"),
        before,
        "the manifest is untouched"
    );
    let meta = std::fs::symlink_metadata(&report).expect("report exists");
    assert!(meta.is_file(), "the link is replaced by a regular file");
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("read")).expect("JSON");
    assert!(written.is_array(), "a Code Quality report: {written}");
}

#[cfg(unix)]
#[test]
fn a_report_symlinked_outside_the_tree_never_writes_there() {
    let dir = tree_with_manifest();
    let outside = tempfile::tempdir().expect("temp dir");
    let profile = outside.path().join(".profile");
    std::fs::write(&profile, "export PATH=/usr/bin\n").expect("write");
    std::os::unix::fs::symlink(&profile, dir.path().join("rbac-gate-junit.xml")).expect("link");

    let out = check_in(dir.path(), &["--report", "junit=rbac-gate-junit.xml"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(&profile).expect("read"),
        "export PATH=/usr/bin\n",
        "the file outside the tree is untouched"
    );
    let junit = std::fs::read_to_string(dir.path().join("rbac-gate-junit.xml")).expect("read");
    assert!(junit.contains("<testsuites"), "{junit}");
    assert!(
        !std::fs::symlink_metadata(dir.path().join("rbac-gate-junit.xml"))
            .expect("exists")
            .is_symlink()
    );
}

#[test]
fn report_paths_outside_the_working_directory_are_refused() {
    let parent = tempfile::tempdir().expect("temp dir");
    let dir = parent.path().join("checkout");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::copy(workspace().join(CLUSTER_ADMIN), dir.join("admin.yaml")).expect("copy");
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let absolute = elsewhere.path().join("x.json");
    for (report, written) in [
        ("../x.json".to_string(), parent.path().join("x.json")),
        (
            "deploy/../../x.json".to_string(),
            parent.path().join("x.json"),
        ),
        (absolute.display().to_string(), absolute.clone()),
    ] {
        let out = check_in(&dir, &["--report", &format!("json={report}")]);
        assert_eq!(out.code, 2, "{report}: {}", out.stderr);
        assert!(
            out.stderr.contains("outside the working directory")
                && out.stderr.contains("give a path below it"),
            "{report}: {}",
            out.stderr
        );
        assert!(!written.exists(), "{report}: nothing is written");
    }
}

#[cfg(unix)]
#[test]
fn a_report_under_a_symlinked_directory_is_refused() {
    let dir = tree_with_manifest();
    let outside = tempfile::tempdir().expect("temp dir");
    std::os::unix::fs::symlink(outside.path(), dir.path().join("reports")).expect("link");
    for report in ["reports/junit.xml", "reports/new/junit.xml"] {
        let out = check_in(dir.path(), &["--report", &format!("junit={report}")]);
        assert_eq!(out.code, 2, "{report}: {}", out.stderr);
        assert!(
            out.stderr
                .contains("its directory reports is a symlink (remove the link)"),
            "{report}: {}",
            out.stderr
        );
    }
    assert_eq!(
        std::fs::read_dir(outside.path()).expect("list").count(),
        0,
        "nothing is written or created through the link"
    );
}
