//! On-disk cache of compiled policy modules.
//!
//! Compiling the policy module with Cranelift takes far longer than running it on a small
//! input, so the compiled form (`Module::serialize`) is kept in
//! `$RBAC_GATE_CACHE_DIR`, else `$XDG_CACHE_HOME/rbac-gate`, else `~/.cache/rbac-gate`.
//!
//! An entry is named after the module's SHA-256, the wasmtime version and the engine's
//! compatibility hash, and starts with a header:
//!
//! ```text
//! magic "RBACGATE-CWASM1\n" (16) | module sha256 (32) | engine hash (8, LE)
//!   | payload sha256 (32) | payload length (8, LE) | payload (serialized module)
//! ```
//!
//! Every field is checked before the payload reaches `Module::deserialize` (which must only
//! see bytes `Module::serialize` produced). A truncated, corrupted or foreign entry is
//! rebuilt, never trusted. The header guards against corruption and mix-ups, not against an
//! attacker who can write to the user's cache directory (they could run code as the user
//! anyway); the directory is created private (0700) and entries are replaced atomically.

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use wasmtime::{Engine, Module};

const MAGIC: &[u8; 16] = b"RBACGATE-CWASM1\n";
const HEADER_LEN: usize = 16 + 32 + 8 + 32 + 8;

/// What happened with the cache while loading a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheOutcome {
    /// No cache directory (disabled or no home).
    Disabled,
    /// A valid entry was used.
    Hit(PathBuf),
    /// No entry: compiled and stored (or failed to store; see the message).
    Miss { path: PathBuf, stored: bool },
    /// An entry existed but failed verification; it was compiled again and replaced.
    Rebuilt {
        path: PathBuf,
        reason: String,
        stored: bool,
    },
}

/// The cache directory from the environment, or `None` when caching is off.
pub fn default_dir() -> Option<PathBuf> {
    let non_empty = |var: &str| std::env::var_os(var).filter(|v| !v.is_empty());
    if let Some(dir) = non_empty("RBAC_GATE_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = non_empty("XDG_CACHE_HOME").map(PathBuf::from) {
        if dir.is_absolute() {
            return Some(dir.join("rbac-gate"));
        }
    }
    non_empty("HOME").map(|home| PathBuf::from(home).join(".cache").join("rbac-gate"))
}

/// The cache file for a module in `dir`.
pub fn entry_path(engine: &Engine, dir: &Path, module_sha256: &[u8; 32]) -> PathBuf {
    dir.join(format!(
        "{}-wasmtime{}-{:016x}.cwasm",
        crate::sandbox::hex(module_sha256),
        crate::sandbox::WASMTIME_VERSION,
        engine_hash(engine)
    ))
}

/// Loads the module from the cache, or compiles (and caches) it.
pub fn load_or_compile(
    engine: &Engine,
    wasm: &[u8],
    module_sha256: &[u8; 32],
    dir: Option<&Path>,
) -> Result<(Module, CacheOutcome), wasmtime::Error> {
    let Some(dir) = dir else {
        return Ok((Module::new(engine, wasm)?, CacheOutcome::Disabled));
    };
    let path = entry_path(engine, dir, module_sha256);
    let rebuild_reason = match std::fs::read(&path) {
        Ok(bytes) => match verify(engine, &bytes, module_sha256) {
            Ok(payload) => match deserialize(engine, payload) {
                Ok(module) => return Ok((module, CacheOutcome::Hit(path))),
                Err(e) => Some(format!("wasmtime rejected the entry: {e}")),
            },
            Err(reason) => Some(reason),
        },
        Err(_) => None,
    };
    let module = Module::new(engine, wasm)?;
    let stored = module
        .serialize()
        .ok()
        .map(|payload| store(engine, dir, &path, module_sha256, &payload).is_ok())
        .unwrap_or(false);
    let outcome = match rebuild_reason {
        Some(reason) => CacheOutcome::Rebuilt {
            path,
            reason,
            stored,
        },
        None => CacheOutcome::Miss { path, stored },
    };
    Ok((module, outcome))
}

/// Checks an entry's header; returns the payload only if every field matches.
fn verify<'a>(
    engine: &Engine,
    bytes: &'a [u8],
    module_sha256: &[u8; 32],
) -> Result<&'a [u8], String> {
    let header = bytes
        .get(..HEADER_LEN)
        .ok_or_else(|| "entry is truncated".to_string())?;
    let (magic, rest) = header.split_at(16);
    let (module_hash, rest) = rest.split_at(32);
    let (engine_bytes, rest) = rest.split_at(8);
    let (payload_hash, len_bytes) = rest.split_at(32);
    if magic != MAGIC {
        return Err("not an rbac-gate cache entry".into());
    }
    if module_hash != module_sha256 {
        return Err("entry belongs to another module".into());
    }
    if engine_bytes != engine_hash(engine).to_le_bytes() {
        return Err("entry was compiled for another engine".into());
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(len_bytes);
    let payload = &bytes[HEADER_LEN..];
    if u64::try_from(payload.len()).ok() != Some(u64::from_le_bytes(len)) {
        return Err("entry is truncated".into());
    }
    let digest: [u8; 32] = Sha256::digest(payload).into();
    if digest.as_slice() != payload_hash {
        return Err("entry is corrupted (checksum mismatch)".into());
    }
    Ok(payload)
}

#[allow(unsafe_code)]
fn deserialize(engine: &Engine, payload: &[u8]) -> Result<Module, wasmtime::Error> {
    // SAFETY: `Module::deserialize` requires bytes produced by `Module::serialize` of a
    // compatible engine. `verify` established that these bytes are exactly what this program
    // wrote for this module and this engine configuration: the header's magic, module digest
    // and engine hash match and the payload's SHA-256 matches the one recorded when it was
    // serialized. wasmtime additionally checks its own version and settings header.
    unsafe { Module::deserialize(engine, payload) }
}

fn store(
    engine: &Engine,
    dir: &Path,
    path: &Path,
    module_sha256: &[u8; 32],
    payload: &[u8],
) -> std::io::Result<()> {
    create_private_dir(dir)?;
    let digest: [u8; 32] = Sha256::digest(payload).into();
    let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(module_sha256);
    bytes.extend_from_slice(&engine_hash(engine).to_le_bytes());
    bytes.extend_from_slice(&digest);
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(payload);

    // Write to a unique temporary file, then rename: readers never see half an entry, and
    // concurrent writers of the same entry simply replace each other's identical bytes.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = dir.join(format!(".tmp-{}-{nanos}", std::process::id()));
    let result = (|| {
        let mut file = private_file(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn engine_hash(engine: &Engine) -> u64 {
    // `DefaultHasher::new()` uses fixed keys: stable for a given build of this program, which
    // is all the cache needs (the wasmtime version is in the name too).
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.finish()
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}
