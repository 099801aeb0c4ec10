//! Attack 5: the compiled-module cache is trusted.
//!
//! `Module::deserialize` runs a cache entry's payload as machine code. Before issue 12 an
//! entry whose header named the embedded module's digest was loaded whatever its payload, so
//! anyone who could write the cache directory (a shared `~/.cache`, a cache directory inside
//! the project, a CI `cache:` folder) chose the verdict. Here the payload is a module that
//! passes everything, and a cluster-admin binding for the runner must still fail the gate.

use crate::common::{command, output, policy_module_wat, workspace, Output};
use hmac::{Hmac, Mac};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The runner's ServiceAccount bound to cluster-admin: the gate must fail this (exit 1).
const ADMIN_BINDING: &str = "examples/cluster-admin/rbac.yaml";

/// Entry layout (see `src/cache.rs`): the MAC follows the 64 signed header bytes.
const SIGNED_HEADER_LEN: usize = 64;
const HEADER_LEN: usize = SIGNED_HEADER_LEN + 32;
const MODULE_DIGEST: std::ops::Range<usize> = 16..48;

/// A user's own cache and key in a fresh temporary directory, and a project to check.
struct User {
    root: tempfile::TempDir,
}

impl User {
    fn new() -> User {
        let user = User {
            root: tempfile::tempdir().expect("tempdir"),
        };
        std::fs::create_dir(user.project()).expect("project");
        std::fs::copy(
            workspace().join(ADMIN_BINDING),
            user.project().join("rbac.yaml"),
        )
        .expect("fixture");
        user
    }

    fn cache(&self) -> PathBuf {
        self.root.path().join("cache")
    }

    fn key(&self) -> PathBuf {
        self.root.path().join("state").join("cache.key")
    }

    fn project(&self) -> PathBuf {
        self.root.path().join("project")
    }

    fn admin_binding(&self) -> String {
        utf8(&self.project().join("rbac.yaml"))
    }

    /// `rbac-gate ARGS` with this user's cache and key, timings on.
    fn command(&self, args: &[&str]) -> Command {
        self.command_with(args, &self.cache(), &self.key())
    }

    fn command_with(&self, args: &[&str], cache: &Path, key: &Path) -> Command {
        let mut cmd = command(args);
        cmd.env("RBAC_GATE_CACHE_DIR", cache)
            .env("RBAC_GATE_CACHE_KEY", key)
            .env("RBAC_GATE_TIMINGS", "1");
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        output(&mut self.command(args))
    }

    /// Compiles the embedded module into this user's cache; returns the entry's path.
    fn warm(&self) -> PathBuf {
        let out = self.run(&["version"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.stderr.contains("Miss"), "{}", out.stderr);
        let entries = entries(&self.cache());
        assert_eq!(entries.len(), 1, "{entries:?}");
        entries[0].clone()
    }
}

fn utf8(path: &Path) -> String {
    path.to_str().expect("utf-8 path").to_string()
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("cache dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    entries.sort();
    entries
}

/// A policy module that answers every request with a passing report without looking at it.
fn pass_everything_module(dir: &Path) -> PathBuf {
    let report = rbac_gate_core::handle_json(r#"{"op":"check","sources":[],"options":{}}"#);
    let data: String = report.bytes().map(|b| format!("\\{b:02x}")).collect();
    let wat = policy_module_wat(
        1,
        &format!(r#"(data (i32.const 4096) "{data}")"#),
        &format!(
            "(i64.or (i64.shl (i64.const 4096) (i64.const 32)) (i64.const {}))",
            report.len()
        ),
    );
    let path = dir.join("pass-everything.wasm");
    std::fs::write(&path, wat::parse_str(wat).expect("valid WAT")).expect("write module");
    path
}

/// The attacker's forgery: the pass-everything module compiled by rbac-gate itself (into the
/// attacker's own cache, under the attacker's own key), its header rewritten to name the
/// embedded module, and MAC'd with `key`: an attacker's key (the user's is private), or the
/// user's to play the worst case in which only the other checks stand in the way.
fn forged_entry(user: &User, real_entry: &Path, key: &Path) -> Vec<u8> {
    let attacker = tempfile::tempdir().expect("tempdir");
    let module = pass_everything_module(attacker.path());
    let (cache, attacker_key) = (attacker.path().join("cache"), attacker.path().join("key"));
    let out = output(&mut user.command_with(
        &["version", "--policy", &utf8(&module)],
        &cache,
        &attacker_key,
    ));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let compiled = entries(&cache);
    assert_eq!(compiled.len(), 1, "{compiled:?}");

    let mut forged = std::fs::read(&compiled[0]).expect("attacker's entry");
    let real = std::fs::read(real_entry).expect("real entry");
    forged[MODULE_DIGEST].copy_from_slice(&real[MODULE_DIGEST]);
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(&std::fs::read(key).expect("key")).expect("HMAC key");
    mac.update(&forged[..SIGNED_HEADER_LEN]);
    mac.update(&forged[HEADER_LEN..]);
    let tag = mac.finalize().into_bytes();
    forged[SIGNED_HEADER_LEN..HEADER_LEN].copy_from_slice(&tag);
    forged
}

fn assert_gate_fails(out: &Output, why: &str) {
    assert_eq!(
        out.code, 1,
        "the cluster-admin binding must fail the gate\nstdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    assert!(
        out.stderr.contains(why),
        "stderr should name `{why}`:\n{}",
        out.stderr
    );
}

#[test]
fn a_forged_entry_for_the_embedded_module_is_rejected_not_run() {
    let user = User::new();
    let entry = user.warm();
    let admin = user.admin_binding();

    // The forged payload really passes everything: run as a policy, the gate lets the
    // binding through.
    let module = pass_everything_module(user.root.path());
    let out = user.run(&["check", &admin, "--policy", &utf8(&module)]);
    assert_eq!(
        out.code, 0,
        "the forgery is live: {}{}",
        out.stdout, out.stderr
    );

    // Under the key it was MAC'd with, the forged entry is indistinguishable from a real one:
    // the key is the only thing that tells them apart.
    let attacker_key = user.root.path().join("attacker.key");
    std::fs::write(&attacker_key, [0x5a; 32]).expect("attacker key");
    std::fs::set_permissions(&attacker_key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    std::fs::write(&entry, forged_entry(&user, &entry, &attacker_key)).expect("plant");
    let out = output(&mut user.command_with(&["check", &admin], &user.cache(), &attacker_key));
    assert_eq!(out.code, 0, "control: {}", out.stderr);
    assert!(out.stderr.contains("Hit"), "control: {}", out.stderr);

    // The attack: the same forgery at the embedded module's entry, under the user's own key.
    std::fs::write(&entry, forged_entry(&user, &entry, &attacker_key)).expect("plant");
    let out = user.run(&["check", &admin]);
    assert_gate_fails(&out, "Rebuilt");
    assert!(out.stderr.contains("MAC mismatch"), "{}", out.stderr);
    // `version` names the module that ran, and the entry now holds the real one.
    let out = user.run(&["version"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("Hit"), "{}", out.stderr);
    assert_gate_fails(&user.run(&["check", &admin]), "Hit");
}

#[test]
fn a_group_writable_cache_directory_is_not_used() {
    let user = User::new();
    let entry = user.warm();
    let admin = user.admin_binding();
    // Worst case: an entry that passes the MAC (as if the key had leaked).
    let forged = forged_entry(&user, &entry, &user.key());
    std::fs::write(&entry, &forged).expect("plant");
    std::fs::set_permissions(user.cache(), std::fs::Permissions::from_mode(0o775)).expect("chmod");
    let out = user.run(&["check", &admin]);
    assert_gate_fails(&out, "Refused");
    assert!(
        out.stderr.contains("writable by group or others"),
        "{}",
        out.stderr
    );
    assert!(
        std::fs::read(&entry).expect("entry") == forged,
        "an entry in a directory others can write is never replaced"
    );

    // A group-writable entry in a private directory is rejected and replaced.
    std::fs::set_permissions(user.cache(), std::fs::Permissions::from_mode(0o700)).expect("chmod");
    std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o664)).expect("chmod");
    let out = user.run(&["check", &admin]);
    assert_gate_fails(&out, "Rebuilt");
    assert!(out.stderr.contains("writable by group"), "{}", out.stderr);
}

#[test]
fn a_cache_directory_inside_the_scanned_tree_is_not_used() {
    let user = User::new();
    let real = user.warm();
    // The merge request commits a cache directory next to its manifests (here with an entry
    // that even passes the MAC, so only the location check stands in the way).
    let planted = user.project().join(".rbac-gate-cache");
    std::fs::create_dir(&planted).expect("planted cache");
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let planted_entry = planted.join(real.file_name().expect("entry name"));
    std::fs::write(&planted_entry, forged_entry(&user, &real, &user.key())).expect("plant");

    // Scanned as the current directory, with a relative cache directory.
    let out = output(
        user.command_with(&["check"], Path::new(".rbac-gate-cache"), &user.key())
            .current_dir(user.project()),
    );
    assert_gate_fails(&out, "inside the scanned tree");
    // Scanned as a PATH argument.
    let project = utf8(&user.project());
    let out = output(&mut user.command_with(&["check", &project], &planted, &user.key()));
    assert_gate_fails(&out, "inside the scanned tree");

    // Control: the same directory, when it is not scanned, is a trusted cache (the entry is
    // MAC'd with the user's key), and the forgery runs. The location check is what stopped it.
    let elsewhere = user.root.path().join("elsewhere.yaml");
    std::fs::copy(workspace().join(ADMIN_BINDING), &elsewhere).expect("fixture");
    let out = output(&mut user.command_with(&["check", &utf8(&elsewhere)], &planted, &user.key()));
    assert_eq!(out.code, 0, "control: {}", out.stderr);
}

#[test]
fn version_works_with_a_fresh_cache_and_uses_it_next_time() {
    let user = User::new();
    let first = user.run(&["version"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(first.stderr.contains("Miss"), "{}", first.stderr);
    let second = user.run(&["version"]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(second.stderr.contains("Hit"), "{}", second.stderr);
    assert_eq!(first.stdout, second.stdout);
    let key = std::fs::metadata(user.key()).expect("key made on first use");
    assert_eq!(key.permissions().mode() & 0o777, 0o600);
}
