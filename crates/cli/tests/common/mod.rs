//! Helpers shared by the CLI's integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The date every test runs on (justification expiry).
pub const TODAY: &str = "2026-11-26";

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_rbac-gate")
}

/// A module cache shared by the tests of one build: the embedded module is compiled once.
/// It lives outside the workspace, which the tests scan (a cache inside a scanned tree is
/// refused), in a private directory per target directory.
pub fn shared_cache() -> PathBuf {
    shared_state().join("module-cache")
}

/// The key that authenticates [`shared_cache`]'s entries (outside the cache, as required).
pub fn shared_cache_key() -> PathBuf {
    shared_state().join("cache.key")
}

fn shared_state() -> PathBuf {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    env!("CARGO_TARGET_TMPDIR").hash(&mut hasher);
    std::env::temp_dir().join(format!("rbac-gate-tests-{:016x}", hasher.finish()))
}

/// [`shared_cache`] and its key, for tests that load the module in-process.
pub fn shared_module_cache() -> rbac_gate::cache::ModuleCache {
    rbac_gate::cache::ModuleCache {
        dir: shared_cache(),
        key_file: Some(shared_cache_key()),
        scanned: Vec::new(),
    }
}

/// A policy module in WAT implementing the ABI: `items` (data segments, helper functions) are
/// added to the module, `evaluate_body` is `rbac_evaluate`'s body (params `$ptr`, `$len`).
pub fn policy_module_wat(abi_version: u32, items: &str, evaluate_body: &str) -> String {
    format!(
        r#"(module
  (memory (export "memory") 1)
  {items}
  (func (export "rbac_abi_version") (result i32) (i32.const {abi_version}))
  (func (export "rbac_alloc") (param $len i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (i32.mul (memory.size) (i32.const 65536)))
    (if (i32.eq
          (memory.grow (i32.add (i32.div_u (local.get $len) (i32.const 65536)) (i32.const 1)))
          (i32.const -1))
      (then (return (i32.const 0))))
    (local.get $ptr))
  (func (export "rbac_dealloc") (param i32 i32))
  (func (export "rbac_evaluate") (param $ptr i32) (param $len i32) (result i64)
    {evaluate_body}))"#
    )
}

#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// A command for the real binary: cwd = workspace root, shared module cache, fixed date,
/// no colour, no inherited rbac-gate settings.
pub fn command(args: &[&str]) -> Command {
    warm_cache();
    raw_command(args)
}

fn raw_command(args: &[&str]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .current_dir(workspace())
        .env("RBAC_GATE_CACHE_DIR", shared_cache())
        .env("RBAC_GATE_CACHE_KEY", shared_cache_key())
        .env("RBAC_GATE_TODAY", TODAY)
        .env("NO_COLOR", "1")
        .env_remove("RBAC_GATE_FUEL")
        .env_remove("RBAC_GATE_TIMEOUT_MS")
        .env_remove("RBAC_GATE_MAX_MEMORY_MB")
        .env_remove("RBAC_GATE_TIMINGS")
        .stdin(Stdio::null());
    cmd
}

pub fn output(cmd: &mut Command) -> Output {
    finished(cmd.output().expect("run rbac-gate"))
}

fn finished(out: std::process::Output) -> Output {
    Output {
        code: out
            .status
            .code()
            .expect("exit code (not killed by a signal)"),
        stdout: String::from_utf8(out.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("UTF-8 stderr"),
    }
}

pub fn run(args: &[&str]) -> Output {
    output(&mut command(args))
}

/// Runs the binary with `input` on stdin, written from a thread so that an input larger than
/// the pipe buffer cannot deadlock against the binary's output.
pub fn run_with_stdin(args: &[&str], input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rbac-gate");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("wait for rbac-gate");
    writer.join().expect("stdin writer").expect("write stdin");
    finished(out)
}

/// Compiles the embedded module into the shared cache once, before tests run in parallel.
pub fn warm_cache() {
    static WARM: OnceLock<()> = OnceLock::new();
    WARM.get_or_init(|| {
        let out = output(&mut raw_command(&["version"]));
        assert_eq!(out.code, 0, "rbac-gate version failed: {}", out.stderr);
    });
}

/// Replaces 64-hex-digit runs (module digests) by `[SHA256]` so snapshots survive policy
/// changes that do not change the output.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let run = bytes[i..]
            .iter()
            .take_while(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            .count();
        let boundary_before = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        if run == 64 && boundary_before {
            out.push_str("[SHA256]");
            i += 64;
        } else {
            // At least one whole character (the text may hold non-ASCII, e.g. `×`).
            let step = if run > 0 {
                run
            } else {
                text[i..].chars().next().map_or(1, char::len_utf8)
            };
            out.push_str(&text[i..i + step]);
            i += step;
        }
    }
    out
}

/// The snapshot text of a run: command, exit code, stdout, stderr.
pub fn transcript(args: &[&str]) -> String {
    let out = run(args);
    format!(
        "$ rbac-gate {}\nexit: {}\n--- stdout\n{}--- stderr\n{}",
        args.join(" "),
        out.code,
        normalize(&out.stdout),
        normalize(&out.stderr)
    )
}

/// Runs git in `dir` without the machine's git configuration, as a fixed user; returns its
/// stdout and fails the test when git fails.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=dev", "-c", "user.email=dev@example.com"])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}
