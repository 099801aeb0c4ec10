//! Attacks 3 and 4: the merge request brings its own policy (`.rbac-gate.yaml` disabling rules,
//! lowering severities, adding exceptions) or justifies itself (`rbac-gate.dev/justification`
//! on the very binding that is unsafe). The policy comes from the target branch
//! (`--config-from-rev`), what the merge request would loosen is reported (`policy-changed`),
//! every format says which policy ran, and an annotation accepts only what the config allows.

use crate::common::{command, output, Output};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A cluster-admin binding for the runner's ServiceAccount, justified by its own author.
const ADMIN_BINDING: &str = "\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: runner-admin
  annotations:
    rbac-gate.dev/justification: \"x\"
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
- kind: ServiceAccount
  name: gitlab-runner
  namespace: ci
";

const BASE_CONFIG: &str = "fail-on: high\n";

/// A git repository with a base commit (the target branch) and a merge-request commit.
struct Repo {
    _dir: tempfile::TempDir,
    root: PathBuf,
    base: String,
}

impl Repo {
    /// `base` files are committed first; `change` files (path, Some(text) or None to delete)
    /// on top, as the merge request.
    fn new(base: &[(&str, &str)], change: &[(&str, Option<&str>)]) -> Repo {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().canonicalize().expect("canonical tempdir");
        git(&root, &["init", "-q", "-b", "main"]);
        for (path, text) in base {
            write(&root.join(path), text);
        }
        git(&root, &["add", "-A"]);
        git(&root, &["commit", "-q", "--allow-empty", "-m", "base"]);
        let base_sha = git(&root, &["rev-parse", "HEAD"]);
        for (path, text) in change {
            match text {
                Some(text) => write(&root.join(path), text),
                None => std::fs::remove_file(root.join(path)).expect("remove"),
            }
        }
        git(&root, &["add", "-A"]);
        git(
            &root,
            &["commit", "-q", "--allow-empty", "-m", "merge request"],
        );
        Repo {
            _dir: dir,
            root,
            base: base_sha.trim().to_string(),
        }
    }

    fn check(&self, args: &[&str]) -> Output {
        let mut all = vec!["check"];
        all.extend_from_slice(args);
        output(command(&all).current_dir(&self.root))
    }

    fn trusted(&self, args: &[&str]) -> Output {
        let mut all = vec!["--config-from-rev", self.base.as_str()];
        all.extend_from_slice(args);
        self.check(&all)
    }
}

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("mkdir");
    }
    std::fs::write(path, text).expect("write");
}

fn git(dir: &Path, args: &[&str]) -> String {
    crate::common::git(dir, args)
}

fn json(out: &Output) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

fn codes(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["accepted"].is_null())
        .map(|f| f["code"].as_str().unwrap_or("").to_string())
        .collect()
}

/// The merge request's config, loosening in every way the issue names.
const LOOSENED: &str = "\
fail-on: critical
disable: [cluster-admin-binding]
severity:
  RG104: info
exceptions:
  - rule: RG203
    object: ClusterRoleBinding/runner-admin
    reason: trust me
";

#[test]
fn a_config_the_merge_request_brings_does_not_apply_and_its_loosening_is_reported() {
    let repo = Repo::new(
        &[(".rbac-gate.yaml", BASE_CONFIG)],
        &[
            (".rbac-gate.yaml", Some(LOOSENED)),
            ("deploy/admin.yaml", Some(ADMIN_BINDING)),
        ],
    );
    // Read from the tree, the merge request's config switches the gate off...
    let untrusted = repo.check(&["--format", "json"]);
    assert_eq!(untrusted.code, 0, "{}", untrusted.stdout);
    // ...read from the target branch, it does not.
    let out = repo.trusted(&["--format", "json"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let report = json(&out);
    let active = codes(&report);
    assert!(active.contains(&"RG101".to_string()), "{active:?}");
    let changed: Vec<(u64, String)> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["code"] == "RG902")
        .map(|f| {
            assert_eq!(f["path"], ".rbac-gate.yaml");
            assert_eq!(f["severity"], "high");
            (
                f["line"].as_u64().unwrap_or(0),
                f["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let lines: Vec<u64> = changed.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, [1, 2, 4, 6], "{changed:#?}");
    for what in [
        "raises `fail-on` from high to critical",
        "disables rule RG101/cluster-admin-binding",
        "lowers the severity of RG104/escalate-verb from high to info",
        "adds an exception for RG203/cluster-wide-scope on ClusterRoleBinding/runner-admin",
    ] {
        assert!(
            changed.iter().any(|(_, m)| m.contains(what)),
            "{what}: {changed:#?}"
        );
    }
    assert_eq!(report["config"]["revision"], repo.base.as_str());
    assert!(
        report["config"]["disabled"].is_null(),
        "{}",
        report["config"]
    );
}

#[test]
fn a_config_change_that_only_tightens_passes() {
    let tighter = "fail-on: medium\njustifications:\n  allowed: false\n";
    let safe_role = "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: reader\n  namespace: apps\nrules:\n- apiGroups: [\"\"]\n  resources: [\"configmaps\"]\n  verbs: [\"get\"]\n";
    let repo = Repo::new(
        &[(".rbac-gate.yaml", BASE_CONFIG), ("role.yaml", safe_role)],
        &[(".rbac-gate.yaml", Some(tighter))],
    );
    let out = repo.trusted(&["--format", "json"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(!codes(&json(&out)).contains(&"RG902".to_string()));
}

#[test]
fn deleting_the_config_and_adding_one_are_judged_against_the_target() {
    let repo = Repo::new(
        &[(".rbac-gate.yaml", "fail-on: low\n")],
        &[(".rbac-gate.yaml", None)],
    );
    let out = repo.trusted(&["--format", "json", "--allow-empty"]);
    let report = json(&out);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(codes(&report).contains(&"RG902".to_string()));
    let repo = Repo::new(
        &[("README.md", "no config\n")],
        &[(".rbac-gate.yaml", Some("disable: [RG101]\n"))],
    );
    let out = repo.trusted(&["--format", "json", "--allow-empty"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert_eq!(json(&out)["config"]["path"], Value::Null);
}

#[test]
fn the_trusted_revision_must_be_a_revision_of_this_clone() {
    let repo = Repo::new(&[(".rbac-gate.yaml", BASE_CONFIG)], &[]);
    for (rev, says) in [
        ("--output=/tmp/pwned", "is not a revision"),
        (
            "0123456789abcdef0123456789abcdef01234567",
            "is not in this clone",
        ),
    ] {
        let out = repo.check(&[&format!("--config-from-rev={rev}"), "--allow-empty"]);
        assert_eq!(out.code, 2, "{rev}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{rev}: {}", out.stderr);
    }
    // Outside a git checkout there is nothing to trust: fail closed, saying how to fix it.
    let dir = tempfile::tempdir().expect("tempdir");
    let out = output(
        command(&["check", "--config-from-rev", "main", "--allow-empty"]).current_dir(dir.path()),
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("needs a git checkout"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_symlink_named_like_the_config_neither_hides_a_manifest_nor_becomes_the_policy() {
    let repo = Repo::new(&[(".rbac-gate.yaml", BASE_CONFIG)], &[]);
    std::fs::remove_file(repo.root.join(".rbac-gate.yaml")).expect("rm");
    write(&repo.root.join("deploy/admin.yaml"), ADMIN_BINDING);
    std::os::unix::fs::symlink("deploy/admin.yaml", repo.root.join(".rbac-gate.yaml"))
        .expect("symlink");
    let out = repo.trusted(&[]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("not a regular file"), "{}", out.stderr);
}

#[test]
fn an_annotation_cannot_accept_a_critical_finding_and_shows_what_it_accepted() {
    let repo = Repo::new(&[("deploy/admin.yaml", ADMIN_BINDING)], &[]);
    let out = repo.check(&["--format", "json"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let report = json(&out);
    let admin = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["code"] == "RG101")
        .expect("RG101");
    assert!(admin["accepted"].is_null(), "{admin}");
    assert!(
        admin["help"]
            .as_str()
            .unwrap_or("")
            .contains("a critical finding can only be accepted by an exception in the config"),
        "{admin}"
    );
    // In Code Quality the self-justified binding stays a blocking issue, not `info`.
    let cq = repo.check(&["--format", "codequality"]);
    let issues: Value = serde_json::from_str(&cq.stdout).expect("code quality");
    let issue = issues
        .as_array()
        .expect("issues")
        .iter()
        .find(|i| i["check_name"] == "RG101/cluster-admin-binding")
        .expect("RG101 issue");
    assert_eq!(issue["severity"], "blocker", "{issue}");

    // A config exception accepts it; every format still shows it was critical.
    let config = "exceptions:\n  - rule: RG101\n    object: ClusterRoleBinding/runner-admin\n    reason: break-glass account, SEC-7\n    expires: \"2027-01-31\"\n";
    write(&repo.root.join(".rbac-gate.yaml"), config);
    for (format, needle) in [
        ("text", "accepted (was critical; by config exception"),
        ("json", "\"severity\": \"critical\""),
        ("codequality", "accepted (was critical; by config exception"),
        ("junit", "accepted (was critical; by config exception"),
        ("sarif", "[was critical]"),
    ] {
        let out = repo.check(&["--format", format]);
        assert!(out.stdout.contains(needle), "{format}: {}", out.stdout);
    }
}

#[test]
fn justification_limits_come_from_the_config() {
    let repo = Repo::new(&[], &[]);
    let wide = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: wide\n  annotations:\n    rbac-gate.dev/justification: \"reviewed\"\n    rbac-gate.dev/justification-expires: \"EXPIRES\"\nrules:\n- apiGroups: [\"apps\"]\n  resources: [\"*\"]\n  verbs: [\"get\"]\n";
    let accepted = |expires: &str, config: Option<&str>| -> usize {
        write(
            &repo.root.join("wide.yaml"),
            &wide.replace("EXPIRES", expires),
        );
        let config_path = repo.root.join(".rbac-gate.yaml");
        match config {
            Some(text) => write(&config_path, text),
            None => {
                let _ = std::fs::remove_file(&config_path);
            }
        }
        let report = json(&repo.check(&["--format", "json", "--fail-on", "info"]));
        report["counts"]["accepted"].as_u64().unwrap_or(0) as usize
    };
    // common::TODAY is 2026-11-26: 2027-06-30 is within the default 365 days, 2099 is not.
    assert!(accepted("2027-06-30", None) > 0);
    assert_eq!(accepted("2099-12-31", None), 0);
    assert_eq!(
        accepted("2027-06-30", Some("justifications:\n  allowed: false\n")),
        0
    );
    assert_eq!(
        accepted("2027-06-30", Some("justifications:\n  max-days: 30\n")),
        0
    );
}

#[test]
fn every_format_says_which_policy_ran() {
    let config = "fail-on: high\ndisable: [wildcard-rule]\nseverity:\n  RG203: low\nexceptions:\n  - rule: RG101\n    object: ClusterRoleBinding/runner-admin\n    reason: SEC-7\n";
    let repo = Repo::new(
        &[
            (".rbac-gate.yaml", config),
            ("deploy/admin.yaml", ADMIN_BINDING),
        ],
        &[],
    );
    let text = repo.check(&[]);
    for needle in [
        "policy: config .rbac-gate.yaml; fail-on high",
        "policy: disabled rules: RG102",
        "policy: severity override: RG203 high -> low",
        "policy: exception: RG101 for object ClusterRoleBinding/runner-admin",
    ] {
        assert!(text.stdout.contains(needle), "{needle}: {}", text.stdout);
    }
    let report = json(&repo.check(&["--format", "json"]));
    assert_eq!(report["config"]["disabled"][0], "RG102");
    assert_eq!(report["config"]["severity_overrides"][0]["from"], "high");
    assert_eq!(report["config"]["exceptions"][0]["rule"], "RG101");
    let sarif: Value =
        serde_json::from_str(&repo.check(&["--format", "sarif"]).stdout).expect("sarif");
    let props = &sarif["runs"][0]["invocations"][0]["properties"]["rbacGateConfig"];
    assert_eq!(props["disabled"][0], "RG102", "{props}");
    let junit = repo.check(&["--format", "junit"]).stdout;
    assert!(
        junit.contains("<property name=\"rbac-gate.disabled\" value=\"RG102\"/>"),
        "{junit}"
    );
    let cq = repo.check(&["--format", "codequality"]).stdout;
    assert!(
        cq.contains("severity lowered from high to low by the config"),
        "{cq}"
    );
}

#[test]
fn a_symlinked_directory_cannot_swap_the_trusted_config_for_another() {
    // The target branch keeps its policy in ci/; the merge request replaces ci/ by a link to a
    // permissive example, so that the tree's config and the one read "at the revision" through
    // the same path would both be the example's.
    let permissive = "disable: [cluster-admin-binding]\n";
    let repo = Repo::new(
        &[
            ("ci/rbac-gate.yaml", "fail-on: low\n"),
            ("docs/example/rbac-gate.yaml", permissive),
        ],
        &[("deploy/admin.yaml", Some(ADMIN_BINDING))],
    );
    std::fs::remove_dir_all(repo.root.join("ci")).expect("rm ci");
    std::os::unix::fs::symlink("docs/example", repo.root.join("ci")).expect("symlink");
    let out = repo.trusted(&["--config", "ci/rbac-gate.yaml"]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("is a symlink"), "{}", out.stderr);
}
