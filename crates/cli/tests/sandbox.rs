//! The wasmtime sandbox: limits, ABI checks, the module cache, and equivalence of the module
//! with the natively linked core.

mod common;

use common::{command, output, Output};
use rbac_gate::sandbox::{Limits, Policy, EMBEDDED_MODULE};
use std::path::{Path, PathBuf};

const SAFE: &str = "tests/cli/fixtures/safe-role.yaml";

/// A policy module in WAT implementing the ABI, with `rbac_evaluate`'s body and the version
/// it claims supplied by the test.
fn module(version: u32, evaluate_body: &str) -> String {
    common::policy_module_wat(
        version,
        r#"(data (i32.const 4096) "{\"schema\":\"rbac-gate/report/v1\"}")"#,
        evaluate_body,
    )
}

fn write_module(dir: &Path, name: &str, wat: &str) -> PathBuf {
    let wasm = wat::parse_str(wat).expect("valid WAT");
    let path = dir.join(format!("{name}.wasm"));
    std::fs::write(&path, wasm).expect("write module");
    path
}

/// Runs `check SAFE --policy module` with a private cache and extra flags.
fn run_policy(dir: &Path, module: &Path, extra: &[&str]) -> Output {
    let module = module.to_str().expect("utf-8 path");
    let mut args = vec!["check", SAFE, "--policy", module];
    args.extend_from_slice(extra);
    output(command(&args).env("RBAC_GATE_CACHE_DIR", dir.join("cache")))
}

fn assert_stopped(out: &Output, needle: &str) {
    assert_eq!(
        out.code, 2,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    assert!(
        out.stderr.contains(needle),
        "stderr should name `{needle}`:\n{}",
        out.stderr
    );
    // The report on stdout says so too: never a pass.
    assert!(out.stdout.contains(needle), "stdout:\n{}", out.stdout);
    assert!(
        out.stdout.contains("ERROR (exit 2)"),
        "stdout:\n{}",
        out.stdout
    );
}

#[test]
fn endless_loop_is_stopped_by_the_deadline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = write_module(
        dir.path(),
        "loop",
        &module(1, "(loop $l (br $l)) (i64.const 0)"),
    );
    let start = std::time::Instant::now();
    let out = run_policy(dir.path(), &m, &["--timeout-ms", "300"]);
    assert_stopped(&out, "deadline exceeded");
    assert!(start.elapsed().as_secs() < 30, "took {:?}", start.elapsed());
}

#[test]
fn endless_loop_is_stopped_by_fuel() {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = write_module(
        dir.path(),
        "loop",
        &module(1, "(loop $l (br $l)) (i64.const 0)"),
    );
    let out = run_policy(
        dir.path(),
        &m,
        &["--fuel", "5000000", "--timeout-ms", "60000"],
    );
    assert_stopped(&out, "fuel exhausted");
}

#[test]
fn memory_grab_is_stopped_by_the_cap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let grab =
        "(loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1)))) (i64.const 0)";
    let m = write_module(dir.path(), "grab", &module(1, grab));
    let out = run_policy(dir.path(), &m, &["--max-memory-mb", "64"]);
    assert_stopped(&out, "memory cap");
}

#[test]
fn trap_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = write_module(dir.path(), "trap", &module(1, "(unreachable)"));
    let out = run_policy(dir.path(), &m, &[]);
    assert_stopped(&out, "trap");
    assert!(out.stderr.contains("unreachable"), "{}", out.stderr);
}

#[test]
fn wrong_abi_version_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = write_module(dir.path(), "abi", &module(999, "(i64.const 0)"));
    let out = run_policy(dir.path(), &m, &[]);
    assert_stopped(&out, "ABI version mismatch");
}

#[test]
fn out_of_bounds_result_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let body = "(i64.or (i64.shl (i64.const 0xfffff000) (i64.const 32)) (i64.const 0x100000))";
    let m = write_module(dir.path(), "oob", &module(1, body));
    let out = run_policy(dir.path(), &m, &[]);
    assert_stopped(&out, "outside the module's memory");
}

/// Runs a module that answers through `rbac_evaluate_chunked` with the table `table` (WAT
/// string bytes, `len` of them) at 8192; its `rbac_evaluate` traps, so only the chunked path
/// can pass.
fn run_chunked(dir: &Path, name: &str, table: &str, len: u32) -> Output {
    let wat = module(1, "(unreachable)");
    let open = &wat[..wat.len() - 1];
    let wat = format!(
        r#"{open}
  (data (i32.const 8192) "{table}")
  (func (export "rbac_evaluate_chunked") (param i32 i32) (result i64)
    (i64.or (i64.shl (i64.const 8192) (i64.const 32)) (i64.const {len}))))"#
    );
    let m = write_module(dir, name, &wat);
    run_policy(dir, &m, &[])
}

#[test]
fn chunked_answers_are_joined_and_bounds_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    // The 32-byte report at 4096 in two pieces, 10 + 22 bytes: joined, it is a complete JSON
    // object (missing fields), not a truncated one.
    let two = r"\00\10\00\00\0a\00\00\00\0a\10\00\00\16\00\00\00";
    assert_stopped(&run_chunked(dir, "two-pieces", two, 16), "missing field");

    let outside = r"\00\10\00\00\ff\ff\ff\7f";
    assert_stopped(
        &run_chunked(dir, "piece-outside", outside, 8),
        "outside the module's memory",
    );

    assert_stopped(
        &run_chunked(dir, "ragged-table", two, 12),
        "not a whole number of (ptr, len) pairs",
    );

    // The whole first page, 16 times: pieces of a real answer are disjoint, and 16 copies of
    // a page (1 MiB, more than the module's memory) must not make the host allocate them.
    let repeated = r"\00\00\00\00\00\00\01\00".repeat(16);
    assert_stopped(
        &run_chunked(dir, "repeated-pieces", &repeated, 128),
        "overlapping pieces",
    );

    // Pieces are joined in table order, not address order. This table lists the second half
    // of the report first: joined in table order the text starts with the string
    // "rbac-gate/report/v1" (a type error), where joined by address it would be the complete
    // object of the first case (a missing field).
    let swapped = r"\0a\10\00\00\16\00\00\00\00\10\00\00\0a\00\00\00";
    assert_stopped(
        &run_chunked(dir, "swapped-pieces", swapped, 16),
        "invalid type: string \"rbac-gate/report/v1\"",
    );
}

#[test]
fn imports_and_missing_exports_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let importing = r#"(module (import "env" "now" (func)) (memory (export "memory") 1))"#;
    let m = write_module(dir.path(), "imports", importing);
    let out = run_policy(dir.path(), &m, &[]);
    assert_stopped(&out, "must import nothing");

    let m = write_module(
        dir.path(),
        "empty",
        r#"(module (memory (export "memory") 1))"#,
    );
    let out = run_policy(dir.path(), &m, &[]);
    assert_stopped(&out, "does not export function `rbac_abi_version`");
}

#[test]
fn a_custom_module_runs_and_its_digest_is_reported() {
    // A module whose report is not even complete: the host fails closed on it.
    let dir = tempfile::tempdir().expect("tempdir");
    let body = "(i64.or (i64.shl (i64.const 4096) (i64.const 32)) (i64.const 32))";
    let m = write_module(dir.path(), "partial", &module(1, body));
    let out = run_policy(dir.path(), &m, &["--format", "json"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("malformed report"), "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    let digest = rbac_gate::sandbox::hex(&sha256(&std::fs::read(&m).expect("module")));
    assert_eq!(report["policy"]["sha256"], digest.as_str());

    // The real policy, loaded from a file, behaves like the embedded one.
    let real = dir.path().join("policy.wasm");
    std::fs::write(&real, EMBEDDED_MODULE).expect("write");
    let out = run_policy(dir.path(), &real, &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
}

#[test]
fn embedded_module_imports_nothing() {
    let engine = wasmtime::Engine::default();
    let module = wasmtime::Module::new(&engine, EMBEDDED_MODULE).expect("module compiles");
    assert_eq!(
        module.imports().len(),
        0,
        "the policy module must be self-contained"
    );
    let exports: Vec<&str> = module.exports().map(|e| e.name()).collect();
    for name in [
        "memory",
        "rbac_abi_version",
        "rbac_alloc",
        "rbac_dealloc",
        "rbac_evaluate",
        "rbac_evaluate_chunked",
    ] {
        assert!(
            exports.contains(&name),
            "missing export {name}: {exports:?}"
        );
    }
}

fn cache_entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    entries.retain(|p| p.extension().is_some_and(|e| e == "cwasm"));
    entries.sort();
    entries
}

#[test]
fn corrupt_or_foreign_cache_entries_are_rebuilt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = dir.path().join("cache");
    let run = || {
        output(
            command(&["version"])
                .env("RBAC_GATE_CACHE_DIR", &cache)
                .env("RBAC_GATE_TIMINGS", "1"),
        )
    };
    let first = run();
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(first.stderr.contains("Miss"), "{}", first.stderr);
    let entries = cache_entries(&cache);
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = &entries[0];
    let good = std::fs::read(entry).expect("entry");
    assert!(good.starts_with(b"RBACGATE-CWASM2\n"));

    let second = run();
    assert!(second.stderr.contains("Hit"), "{}", second.stderr);

    // Garbage, a flipped payload byte, a truncated entry: each is detected and replaced.
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0xff;
    for (what, bytes) in [
        ("garbage", b"this is not a compiled module".to_vec()),
        ("flipped", flipped),
        ("truncated", good[..good.len() / 2].to_vec()),
    ] {
        std::fs::write(entry, &bytes).expect("corrupt the entry");
        let out = run();
        assert_eq!(out.code, 0, "{what}: {}", out.stderr);
        assert!(out.stderr.contains("Rebuilt"), "{what}: {}", out.stderr);
        assert_eq!(
            std::fs::read(entry).expect("entry"),
            good,
            "{what}: entry replaced"
        );
    }

    // A valid entry of another module under this module's name is foreign.
    let other_dir = tempfile::tempdir().expect("tempdir");
    let other = write_module(other_dir.path(), "trap", &module(1, "(unreachable)"));
    // (It traps when run, but is compiled and cached first.)
    output(
        command(&["version", "--policy", other.to_str().expect("utf-8")])
            .env("RBAC_GATE_CACHE_DIR", other_dir.path().join("cache")),
    );
    let foreign = cache_entries(&other_dir.path().join("cache"));
    assert_eq!(foreign.len(), 1, "{foreign:?}");
    std::fs::copy(&foreign[0], entry).expect("copy foreign entry");
    let out = run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("another module"), "{}", out.stderr);
    assert_eq!(std::fs::read(entry).expect("entry"), good);
}

/// Requests built from the fixtures and examples, as the CLI builds them.
fn requests() -> Vec<String> {
    let root = common::workspace();
    let mut inputs: Vec<Vec<String>> = Vec::new();
    let fixtures = root.join("tests/cli/fixtures");
    let mut names: Vec<String> = std::fs::read_dir(&fixtures)
        .expect("fixtures")
        .filter_map(|e| e.ok().map(|e| e.path().display().to_string()))
        .collect();
    names.sort();
    for name in &names {
        inputs.push(vec![name.clone()]);
    }
    inputs.push(vec![fixtures.display().to_string()]);
    let examples = root.join("examples");
    if examples.is_dir() {
        let mut dirs: Vec<String> = std::fs::read_dir(&examples)
            .expect("examples")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .map(|p| p.display().to_string())
            .collect();
        dirs.sort();
        for dir in dirs {
            inputs.push(vec![dir]);
        }
        inputs.push(vec![examples.display().to_string()]);
    }
    let options = rbac_gate::collect::CollectOptions {
        excludes: Vec::new(),
        stdin_path: "-".into(),
        max_file_size: rbac_gate::collect::DEFAULT_MAX_FILE_SIZE,
        skip: Vec::new(),
        cwd: root.clone(),
        no_ignore: false,
    };
    let mut requests: Vec<String> = inputs
        .iter()
        .map(|paths| {
            let sources = rbac_gate::collect::collect(paths, &options)
                .expect("collect")
                .sources;
            serde_json::to_string(&rbac_gate_core::Request::Check {
                sources,
                options: rbac_gate_core::Options {
                    today: Some(common::TODAY.into()),
                    ..Default::default()
                },
            })
            .expect("request")
        })
        .collect();
    requests.push(r#"{"op":"rules"}"#.into());
    requests.push(r#"{"op":"check","sources":[],"options":{"fail_on":"low"}}"#.into());
    requests.push(
        r#"{"op":"check","sources":[{"path":"x.yaml","text":"","read_error":"boom"}]}"#.into(),
    );
    requests.push(r#"{"op":"nonsense"}"#.into());
    requests.push("not json at all".into());
    requests
}

#[test]
fn module_and_native_core_agree_byte_for_byte() {
    common::warm_cache();
    let policy =
        Policy::embedded(Limits::default(), Some(&common::shared_module_cache())).expect("load");
    for request in requests() {
        let native = rbac_gate_core::handle_json(&request);
        let module = policy.evaluate(&request).expect("evaluate").json;
        assert!(
            native == module,
            "native and module differ for request {}…\nnative: {}…\nmodule: {}…",
            &request[..request.len().min(200)],
            &native[..native.len().min(400)],
            &module[..module.len().min(400)]
        );
    }
}

#[test]
fn wasmtime_version_matches_the_lockfile() {
    let lock = std::fs::read_to_string(common::workspace().join("Cargo.lock")).expect("Cargo.lock");
    let version = lock
        .split("[[package]]")
        .find(|p| p.contains("\nname = \"wasmtime\"\n"))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"'))
        .expect("wasmtime in Cargo.lock");
    assert_eq!(version, rbac_gate::sandbox::WASMTIME_VERSION);
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}
