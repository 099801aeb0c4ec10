//! Embeds the policy module.
//!
//! The CLI `include_bytes!`s `$OUT_DIR/policy.wasm`. That file comes from, in order:
//!
//! 1. `RBAC_GATE_POLICY_WASM=/path/to/module.wasm`, if set (a prebuilt module, e.g. from CI);
//! 2. otherwise a nested `cargo build -p rbac-gate-policy --target wasm32-unknown-unknown
//!    --profile wasm` of the workspace this crate lives in, with its own target directory
//!    (`<target-dir>/policy-wasm`) so it never waits on the lock of the outer build.
//!
//! Both `make build` and `cargo install --path crates/cli` take path 2; it needs the
//! `wasm32-unknown-unknown` target (`rustup target add wasm32-unknown-unknown`).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-unknown-unknown";
const PROFILE: &str = "wasm";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RBAC_GATE_POLICY_WASM");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));

    let module = match env::var_os("RBAC_GATE_POLICY_WASM") {
        Some(path) if !path.is_empty() => {
            let path = PathBuf::from(path);
            println!("cargo:rerun-if-changed={}", path.display());
            path
        }
        _ => build_policy(&manifest_dir, &out_dir),
    };
    let bytes = std::fs::read(&module)
        .unwrap_or_else(|e| panic!("cannot read policy module {}: {e}", module.display()));
    assert!(
        bytes.starts_with(b"\0asm"),
        "{} is not a wasm module",
        module.display()
    );
    let dest = out_dir.join("policy.wasm");
    // Only rewrite on change so the CLI is not recompiled needlessly.
    if std::fs::read(&dest).ok().as_deref() != Some(bytes.as_slice()) {
        std::fs::write(&dest, &bytes)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", dest.display()));
    }
}

fn build_policy(manifest_dir: &Path, out_dir: &Path) -> PathBuf {
    let workspace = manifest_dir
        .parent()
        .and_then(Path::parent)
        .expect("crates/cli lives two levels below the workspace root");
    let policy_manifest = workspace.join("crates/policy/Cargo.toml");
    assert!(
        policy_manifest.is_file(),
        "policy crate not found at {}; set RBAC_GATE_POLICY_WASM to a prebuilt module",
        policy_manifest.display()
    );
    for watched in ["crates/policy", "crates/core", "Cargo.toml", "Cargo.lock"] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    check_target_installed();

    let target_dir = policy_target_dir(out_dir);
    let mut cmd = Command::new(&cargo);
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(&policy_manifest)
        .args([
            "-p",
            "rbac-gate-policy",
            "--target",
            TARGET,
            "--profile",
            PROFILE,
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        .current_dir(workspace);
    // Settings meant for the outer (host) build must not leak into the wasm build: flags for
    // the host CPU, clippy's driver, a target or target dir chosen for the outer build.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CLIPPY_ARGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", Path::new(&cargo).display()));
    assert!(
        status.success(),
        "building the policy module failed ({status}); run `cargo build -p rbac-gate-policy \
         --target {TARGET} --profile {PROFILE}` to see why"
    );
    target_dir
        .join(TARGET)
        .join(PROFILE)
        .join("rbac_gate_policy.wasm")
}

/// `<target-dir>/policy-wasm`: the outer build's target directory is the first ancestor of
/// OUT_DIR that holds cargo's `CACHEDIR.TAG`. Sharing it across profiles (debug, release,
/// clippy) means the module is built once. Falls back to a directory inside OUT_DIR.
fn policy_target_dir(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .skip(1)
        .find(|dir| dir.join("CACHEDIR.TAG").is_file())
        .map(|dir| dir.join("policy-wasm"))
        .unwrap_or_else(|| out_dir.join("policy-target"))
}

fn check_target_installed() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let Ok(output) = Command::new(&rustc).args(["--print", "sysroot"]).output() else {
        return; // let cargo report the problem
    };
    let sysroot = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let lib = Path::new(&sysroot).join("lib/rustlib").join(TARGET);
    assert!(
        sysroot.is_empty() || lib.is_dir(),
        "the {TARGET} target is not installed (needed to build the policy module): run \
         `rustup target add {TARGET}`, or set RBAC_GATE_POLICY_WASM to a prebuilt module"
    );
}
