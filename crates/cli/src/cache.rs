//! On-disk cache of compiled policy modules.
//!
//! Compiling the policy module with Cranelift takes far longer than running it on a small
//! input, so the compiled form (`Module::serialize`) is kept in
//! `$RBAC_GATE_CACHE_DIR`, else `$XDG_CACHE_HOME/rbac-gate`, else `~/.cache/rbac-gate`.
//!
//! An entry is named after the module's SHA-256, the wasmtime version and the engine's
//! compatibility hash, and is laid out as:
//!
//! ```text
//! magic "RBACGATE-CWASM2\n" (16) | module sha256 (32) | engine hash (8, LE)
//!   | payload length (8, LE) | HMAC-SHA256 (32) | payload (serialized module)
//! ```
//!
//! The MAC covers every other byte of the entry (header and payload) and is keyed with a
//! per-user secret. The magic is the format version: an entry of an older format is rebuilt.
//!
//! # What an entry must pass before it runs
//!
//! `Module::deserialize` runs the payload as machine code, so whoever can write an entry that
//! the gate loads decides its verdict (issue 12, attack 5). An entry is loaded only when all of
//! these hold; otherwise the module is compiled again, the entry never runs, and the reason
//! shows with `RBAC_GATE_TIMINGS=1` ([`CacheOutcome::Refused`] or [`CacheOutcome::Rebuilt`]):
//!
//! - the cache directory is not inside a tree being scanned (the current directory and each
//!   path given to `check`): a merge request can commit files there;
//! - the cache directory and the entry are owned by the effective user and not writable by
//!   group or others; the entry is not a symbolic link (lstat, then opened with `O_NOFOLLOW`);
//! - the entry's HMAC-SHA256 verifies, in constant time, under the user's key, and its header
//!   names this module and this engine.
//!
//! The key is 32 bytes from `/dev/urandom` in `$RBAC_GATE_CACHE_KEY`, else
//! `$XDG_STATE_HOME/rbac-gate/cache.key` (when absolute), else
//! `~/.local/state/rbac-gate/cache.key`: outside the cache directory, so that being able to
//! write the cache (a shared cache folder, a CI `cache:` entry) does not give the key. It is
//! created when missing, with `O_EXCL` and mode 0600 in a 0700 directory. A key file that is
//! not owned by the user, is readable or writable by group or others, or lies inside the cache
//! directory or a scanned tree turns the cache off for that run. A rejected entry is replaced
//! (atomically, through a rename) only once the directory has passed the ownership checks.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::hash::{Hash, Hasher};
use std::io::{Read as _, Write as _};
use std::path::{Component, Path, PathBuf};
use wasmtime::{Engine, Module};

const MAGIC: &[u8; 16] = b"RBACGATE-CWASM2\n";
/// Header bytes before the MAC: magic, module digest, engine hash, payload length.
const SIGNED_HEADER_LEN: usize = 16 + 32 + 8 + 8;
const MAC_LEN: usize = 32;
const HEADER_LEN: usize = SIGNED_HEADER_LEN + MAC_LEN;
const KEY_LEN: usize = 32;

/// Mode bits that make the cache directory or an entry someone else's to write.
const WRITABLE_BY_OTHERS: u32 = 0o022;
/// Mode bits that let someone else read or replace the key.
const OPEN_TO_OTHERS: u32 = 0o077;

type HmacSha256 = Hmac<Sha256>;
type CacheKey = [u8; KEY_LEN];

/// What happened with the cache while loading a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheOutcome {
    /// No cache directory (disabled or no home).
    Disabled,
    /// The cache was not used for this run: the module was compiled, nothing was read from or
    /// written to the cache. The reason says why and how to fix it.
    Refused { reason: String },
    /// A valid entry was used.
    Hit(PathBuf),
    /// No entry: compiled and stored (or failed to store; see the message).
    Miss { path: PathBuf, stored: bool },
    /// An entry existed but was rejected; it never ran: the module was compiled again and the
    /// entry replaced.
    Rebuilt {
        path: PathBuf,
        reason: String,
        stored: bool,
    },
}

/// Where the compiled-module cache lives, the key that authenticates its entries, and the
/// trees it must stay out of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleCache {
    pub dir: PathBuf,
    /// The per-user MAC key; `None` when no place for it is known (no `HOME`): cache refused.
    pub key_file: Option<PathBuf>,
    /// Directories this run reads inputs from: a cache inside one of them is refused.
    pub scanned: Vec<PathBuf>,
}

impl ModuleCache {
    /// The cache the environment names (see the module doc), or `None` when caching is off.
    pub fn from_env(scanned: Vec<PathBuf>) -> Option<ModuleCache> {
        Some(ModuleCache {
            dir: default_dir()?,
            key_file: default_key_file(),
            scanned,
        })
    }

    /// Checks where the cache and its key are and who owns them; returns the key.
    fn authorize(&self) -> Result<CacheKey, String> {
        let dir = resolve(&self.dir)?;
        let scanned: Vec<PathBuf> = self
            .scanned
            .iter()
            .filter_map(|tree| tree.canonicalize().ok())
            .collect();
        let inside_scanned = |path: &Path| scanned.iter().find(|tree| path.starts_with(tree));
        if let Some(tree) = inside_scanned(&dir) {
            return Err(format!(
                "the cache directory {} is inside the scanned tree {}, where a merge request \
                 can plant entries: set RBAC_GATE_CACHE_DIR to a directory outside it",
                dir.display(),
                tree.display()
            ));
        }
        let key_file = self.key_file.as_deref().ok_or_else(|| {
            "no place for the cache key: set RBAC_GATE_CACHE_KEY (or HOME)".to_string()
        })?;
        let key_resolved = resolve(key_file)?;
        if key_resolved.starts_with(&dir) {
            return Err(format!(
                "the cache key {} is inside the cache directory {}: set RBAC_GATE_CACHE_KEY \
                 to a file outside it",
                key_resolved.display(),
                dir.display()
            ));
        }
        if let Some(tree) = inside_scanned(&key_resolved) {
            return Err(format!(
                "the cache key {} is inside the scanned tree {}: set RBAC_GATE_CACHE_KEY to a \
                 file outside it",
                key_resolved.display(),
                tree.display()
            ));
        }
        match std::fs::metadata(&self.dir) {
            Ok(meta) => check_private_dir(&meta, &self.dir)?,
            // Created (0700) when the first entry is stored, and checked again then.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(format!(
                    "cannot read the cache directory {}: {e}",
                    self.dir.display()
                ))
            }
        }
        load_or_create_key(key_file)
    }
}

/// The cache directory from the environment, or `None` when caching is off.
pub fn default_dir() -> Option<PathBuf> {
    if let Some(dir) = non_empty_env("RBAC_GATE_CACHE_DIR") {
        return Some(dir);
    }
    if let Some(dir) = non_empty_env("XDG_CACHE_HOME").filter(|d| d.is_absolute()) {
        return Some(dir.join("rbac-gate"));
    }
    non_empty_env("HOME").map(|home| home.join(".cache").join("rbac-gate"))
}

/// The key file from the environment (see the module doc), or `None` without a home.
pub fn default_key_file() -> Option<PathBuf> {
    if let Some(file) = non_empty_env("RBAC_GATE_CACHE_KEY") {
        return Some(file);
    }
    let state = non_empty_env("XDG_STATE_HOME")
        .filter(|d| d.is_absolute())
        .or_else(|| non_empty_env("HOME").map(|home| home.join(".local").join("state")))?;
    Some(state.join("rbac-gate").join("cache.key"))
}

fn non_empty_env(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
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
    cache: Option<&ModuleCache>,
) -> Result<(Module, CacheOutcome), wasmtime::Error> {
    let Some(cache) = cache else {
        return Ok((Module::new(engine, wasm)?, CacheOutcome::Disabled));
    };
    let key = match cache.authorize() {
        Ok(key) => key,
        Err(reason) => return Ok((Module::new(engine, wasm)?, CacheOutcome::Refused { reason })),
    };
    let path = entry_path(engine, &cache.dir, module_sha256);
    let rejection = match read_entry(&path) {
        Ok(None) => None,
        Ok(Some(bytes)) => match verify(engine, &key, &bytes, module_sha256) {
            Ok(payload) => match deserialize(engine, payload) {
                Ok(module) => return Ok((module, CacheOutcome::Hit(path))),
                Err(e) => Some(format!("wasmtime rejected the entry: {e}")),
            },
            Err(reason) => Some(reason),
        },
        Err(reason) => Some(reason),
    };
    let module = Module::new(engine, wasm)?;
    let stored = module
        .serialize()
        .ok()
        .map(|payload| store(engine, &cache.dir, &path, module_sha256, &key, &payload).is_ok())
        .unwrap_or(false);
    let outcome = match rejection {
        Some(reason) => CacheOutcome::Rebuilt {
            path,
            reason,
            stored,
        },
        None => CacheOutcome::Miss { path, stored },
    };
    Ok((module, outcome))
}

/// Reads an entry that passes the file checks; `None` when there is none.
fn read_entry(path: &Path) -> Result<Option<Vec<u8>>, String> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read the entry: {e}")),
    };
    if meta.file_type().is_symlink() {
        return Err("the entry is a symbolic link".into());
    }
    if !meta.is_file() {
        return Err("the entry is not a regular file".into());
    }
    check_owner(&meta, "the entry", path, WRITABLE_BY_OTHERS, "chmod go-w")?;
    let mut file = open_no_follow(path).map_err(|e| format!("cannot open the entry: {e}"))?;
    let opened = file
        .metadata()
        .map_err(|e| format!("cannot read the entry: {e}"))?;
    if !same_file(&meta, &opened) {
        return Err("the entry was replaced while it was being checked".into());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(opened.len()).unwrap_or(0));
    file.read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the entry: {e}"))?;
    Ok(Some(bytes))
}

/// Checks an entry's MAC and header; returns the payload only if every field matches.
fn verify<'a>(
    engine: &Engine,
    key: &CacheKey,
    bytes: &'a [u8],
    module_sha256: &[u8; 32],
) -> Result<&'a [u8], String> {
    let header = bytes
        .get(..HEADER_LEN)
        .ok_or_else(|| "entry is truncated".to_string())?;
    let (signed, tag) = header.split_at(SIGNED_HEADER_LEN);
    let (magic, rest) = signed.split_at(16);
    let (module_hash, rest) = rest.split_at(32);
    let (engine_bytes, len_bytes) = rest.split_at(8);
    if magic != MAGIC {
        return Err("not an rbac-gate cache entry of this format".into());
    }
    let payload = &bytes[HEADER_LEN..];
    let mut len = [0u8; 8];
    len.copy_from_slice(len_bytes);
    if u64::try_from(payload.len()).ok() != Some(u64::from_le_bytes(len)) {
        return Err("entry is truncated".into());
    }
    // Constant-time comparison (`verify_slice`), before any field is believed.
    entry_mac(key, signed, payload)?
        .verify_slice(tag)
        .map_err(|_| {
            "MAC mismatch: the entry was not written with this user's cache key (or was \
             altered)"
                .to_string()
        })?;
    if module_hash != module_sha256 {
        return Err("entry belongs to another module".into());
    }
    if engine_bytes != engine_hash(engine).to_le_bytes() {
        return Err("entry was compiled for another engine".into());
    }
    Ok(payload)
}

fn entry_mac(key: &CacheKey, signed_header: &[u8], payload: &[u8]) -> Result<HmacSha256, String> {
    let mut mac = HmacSha256::new_from_slice(key).map_err(|e| format!("cache key: {e}"))?;
    mac.update(signed_header);
    mac.update(payload);
    Ok(mac)
}

#[allow(unsafe_code)]
fn deserialize(engine: &Engine, payload: &[u8]) -> Result<Module, wasmtime::Error> {
    // SAFETY: `Module::deserialize` requires bytes produced by `Module::serialize` of a
    // compatible engine. `verify` established that these bytes are exactly what this user's
    // rbac-gate wrote for this module and this engine configuration: their HMAC-SHA256 under
    // the user's private key (never inside the cache directory or a scanned tree) matches, as
    // do the header's magic, module digest and engine hash; the entry and its directory
    // belong to the user and are writable by nobody else. wasmtime additionally checks its
    // own version and settings header.
    unsafe { Module::deserialize(engine, payload) }
}

fn store(
    engine: &Engine,
    dir: &Path,
    path: &Path,
    module_sha256: &[u8; 32],
    key: &CacheKey,
    payload: &[u8],
) -> Result<(), String> {
    create_private_dir(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    // Checked again: the directory may have been missing when the cache was authorized.
    let meta = std::fs::metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    check_private_dir(&meta, dir)?;

    let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(module_sha256);
    bytes.extend_from_slice(&engine_hash(engine).to_le_bytes());
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    let tag = entry_mac(key, &bytes, payload)?.finalize().into_bytes();
    bytes.extend_from_slice(&tag);
    bytes.extend_from_slice(payload);

    // Write to a unique temporary file, then rename: readers never see half an entry, and
    // concurrent writers of the same entry simply replace each other's identical bytes. The
    // rename replaces a rejected entry (even a symbolic link) rather than writing through it.
    let tmp = temp_path(dir, ".tmp");
    let result = (|| {
        let mut file = private_file(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e| format!("cannot store {}: {e}", path.display()))
}

/// Reads the user's cache key, creating it first when it does not exist.
fn load_or_create_key(path: &Path) -> Result<CacheKey, String> {
    if let Err(e) = std::fs::symlink_metadata(path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            return Err(format!("cannot read the cache key {}: {e}", path.display()));
        }
        create_key(path)
            .map_err(|e| format!("cannot create the cache key {}: {e}", path.display()))?;
    }
    read_key(path)
}

fn read_key(path: &Path) -> Result<CacheKey, String> {
    let file = open_no_follow(path).map_err(|e| {
        format!(
            "cannot open the cache key {} ({e}); a symbolic link is refused",
            path.display()
        )
    })?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read the cache key {}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!(
            "the cache key {} is not a regular file",
            path.display()
        ));
    }
    check_owner(&meta, "the cache key", path, OPEN_TO_OTHERS, "chmod 600")?;
    let mut bytes = Vec::with_capacity(KEY_LEN + 1);
    file.take(KEY_LEN as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the cache key {}: {e}", path.display()))?;
    CacheKey::try_from(bytes.as_slice()).map_err(|_| {
        format!(
            "the cache key {} does not hold exactly {KEY_LEN} bytes: remove it and a new one \
             is made",
            path.display()
        )
    })
}

/// Writes a new random key to a private temporary file, then links it into place: the link
/// fails when the key exists, so concurrent first runs agree on one key and no reader ever
/// sees a partly written one.
fn create_key(path: &Path) -> std::io::Result<()> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    create_private_dir(parent)?;
    let mut key: CacheKey = [0; KEY_LEN];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
    let tmp = temp_path(parent, ".cache.key.tmp");
    let result = (|| {
        let mut file = private_file(&tmp)?;
        file.write_all(&key)?;
        file.sync_all()?;
        match std::fs::hard_link(&tmp, path) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            linked => linked,
        }
    })();
    let _ = std::fs::remove_file(&tmp);
    result
}

/// A fresh name in `dir` for a file that is created with `O_EXCL`.
fn temp_path(dir: &Path, prefix: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    dir.join(format!("{prefix}-{}-{nanos}", std::process::id()))
}

/// `path` made absolute with its symbolic links resolved, for the parts that exist (a cache
/// directory is created on first use).
fn resolve(path: &Path) -> Result<PathBuf, String> {
    let absolute =
        std::path::absolute(path).map_err(|e| format!("cannot resolve {}: {e}", path.display()))?;
    let mut existing = absolute.as_path();
    let mut missing = Vec::new();
    loop {
        if let Ok(mut resolved) = existing.canonicalize() {
            resolved.extend(missing.iter().rev());
            return Ok(resolved);
        }
        match (existing.parent(), existing.components().next_back()) {
            (Some(parent), Some(Component::Normal(name))) => {
                missing.push(name);
                existing = parent;
            }
            _ => {
                return Err(format!(
                    "cannot resolve {}: use a path without `..` below a directory that does \
                     not exist yet",
                    path.display()
                ))
            }
        }
    }
}

fn check_private_dir(meta: &std::fs::Metadata, dir: &Path) -> Result<(), String> {
    if !meta.is_dir() {
        return Err(format!(
            "the cache directory {} is not a directory",
            dir.display()
        ));
    }
    check_owner(
        meta,
        "the cache directory",
        dir,
        WRITABLE_BY_OTHERS,
        "chmod go-w",
    )
}

/// Refuses a file or directory that is not the effective user's, or whose mode has any of
/// the `forbidden` bits (`fix` is the command that clears them).
#[cfg(unix)]
fn check_owner(
    meta: &std::fs::Metadata,
    what: &str,
    path: &Path,
    forbidden: u32,
    fix: &str,
) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    match ownership_problem(meta.uid(), meta.mode(), effective_uid(), forbidden, fix) {
        Some(problem) => Err(format!("{what} {} {problem}", path.display())),
        None => Ok(()),
    }
}

#[cfg(not(unix))]
fn check_owner(
    _meta: &std::fs::Metadata,
    what: &str,
    path: &Path,
    _forbidden: u32,
    _fix: &str,
) -> Result<(), String> {
    Err(format!(
        "{what} {}: ownership cannot be checked on this system, so the module cache is off",
        path.display()
    ))
}

fn ownership_problem(uid: u32, mode: u32, euid: u32, forbidden: u32, fix: &str) -> Option<String> {
    if uid != euid {
        return Some(format!(
            "is owned by uid {uid}, not by this user (uid {euid}): remove it, or use a \
             cache of your own"
        ));
    }
    let open = mode & forbidden;
    if open != 0 {
        let how = if open & 0o044 != 0 {
            "readable or writable"
        } else {
            "writable"
        };
        return Some(format!(
            "is {how} by group or others (mode {:04o}): `{fix}` it",
            mode & 0o7777
        ));
    }
    None
}

#[cfg(unix)]
#[allow(unsafe_code)]
fn effective_uid() -> u32 {
    // SAFETY: geteuid(2) takes no arguments, touches no memory of this program and cannot
    // fail; std has no safe wrapper for it.
    unsafe { libc::geteuid() }
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(_a: &std::fs::Metadata, _b: &std::fs::Metadata) -> bool {
    false
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

#[cfg(unix)]
fn open_no_follow(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

#[cfg(not(unix))]
fn open_no_follow(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::open(path)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const WAT: &str = r#"(module (func (export "answer") (result i32) (i32.const 42)))"#;
    const DIGEST: [u8; 32] = [7; 32];

    /// A cache in a fresh temporary directory, its key beside (not inside) it.
    struct Fixture {
        root: tempfile::TempDir,
        engine: Engine,
        cache: ModuleCache,
    }

    impl Fixture {
        fn new() -> Fixture {
            let root = tempfile::tempdir().expect("tempdir");
            let cache = ModuleCache {
                dir: root.path().join("cache"),
                key_file: Some(root.path().join("state").join("cache.key")),
                scanned: Vec::new(),
            };
            Fixture {
                root,
                engine: Engine::default(),
                cache,
            }
        }

        fn load(&self) -> CacheOutcome {
            load_or_compile(&self.engine, WAT.as_bytes(), &DIGEST, Some(&self.cache))
                .expect("compiles")
                .1
        }

        fn entry(&self) -> PathBuf {
            entry_path(&self.engine, &self.cache.dir, &DIGEST)
        }

        /// Stores an entry, then checks that the next load uses it.
        fn warm(&self) -> Vec<u8> {
            assert!(matches!(
                self.load(),
                CacheOutcome::Miss { stored: true, .. }
            ));
            assert_eq!(self.load(), CacheOutcome::Hit(self.entry()));
            std::fs::read(self.entry()).expect("entry")
        }

        fn key_file(&self) -> &Path {
            self.cache.key_file.as_deref().expect("key file")
        }
    }

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    fn rebuilt_reason(outcome: CacheOutcome) -> String {
        match outcome {
            CacheOutcome::Rebuilt {
                reason,
                stored: true,
                ..
            } => reason,
            other => panic!("expected a rebuilt entry, got {other:?}"),
        }
    }

    fn refused_reason(outcome: CacheOutcome) -> String {
        match outcome {
            CacheOutcome::Refused { reason } => reason,
            other => panic!("expected the cache to be refused, got {other:?}"),
        }
    }

    #[test]
    fn an_entry_round_trips_and_the_key_is_private() {
        let fx = Fixture::new();
        let entry = fx.warm();
        assert!(entry.starts_with(MAGIC));
        let key = std::fs::metadata(fx.key_file()).expect("key");
        assert_eq!(key.len(), KEY_LEN as u64);
        assert_eq!(key.permissions().mode() & 0o777, 0o600);
        let key_dir = std::fs::metadata(fx.root.path().join("state")).expect("key dir");
        assert_eq!(key_dir.permissions().mode() & 0o777, 0o700);
        let dir = std::fs::metadata(&fx.cache.dir).expect("cache dir");
        assert_eq!(dir.permissions().mode() & 0o777, 0o700);
    }

    #[test]
    fn an_altered_entry_fails_its_mac_and_is_replaced() {
        let fx = Fixture::new();
        let good = fx.warm();
        for at in [HEADER_LEN + 10, good.len() - 1, HEADER_LEN - 1] {
            let mut altered = good.clone();
            altered[at] ^= 0x01;
            std::fs::write(fx.entry(), &altered).expect("alter");
            assert!(
                rebuilt_reason(fx.load()).contains("MAC mismatch"),
                "byte {at}"
            );
            assert_eq!(std::fs::read(fx.entry()).expect("entry"), good);
        }
    }

    #[test]
    fn an_entry_written_with_another_key_is_rejected() {
        let fx = Fixture::new();
        fx.warm();
        std::fs::write(fx.key_file(), [9u8; KEY_LEN]).expect("replace the key");
        assert!(rebuilt_reason(fx.load()).contains("MAC mismatch"));
        assert_eq!(fx.load(), CacheOutcome::Hit(fx.entry()));
    }

    #[test]
    fn an_entry_of_the_old_format_is_rebuilt() {
        let fx = Fixture::new();
        let good = fx.warm();
        let mut old = good.clone();
        old[..16].copy_from_slice(b"RBACGATE-CWASM1\n");
        std::fs::write(fx.entry(), &old).expect("old entry");
        assert!(rebuilt_reason(fx.load()).contains("of this format"));
    }

    #[test]
    fn a_group_writable_cache_directory_is_refused_and_left_alone() {
        let fx = Fixture::new();
        let good = fx.warm();
        chmod(&fx.cache.dir, 0o770);
        let reason = refused_reason(fx.load());
        assert!(reason.contains("writable by group or others"), "{reason}");
        assert!(reason.contains("chmod go-w"), "{reason}");
        // Nothing was written into a directory someone else can write.
        std::fs::write(fx.entry(), b"planted").expect("plant");
        assert!(matches!(fx.load(), CacheOutcome::Refused { .. }));
        assert_eq!(std::fs::read(fx.entry()).expect("entry"), b"planted");
        chmod(&fx.cache.dir, 0o700);
        std::fs::write(fx.entry(), &good).expect("restore");
        assert_eq!(fx.load(), CacheOutcome::Hit(fx.entry()));
    }

    #[test]
    fn a_group_or_world_writable_entry_is_rejected() {
        let fx = Fixture::new();
        fx.warm();
        for mode in [0o620, 0o602] {
            chmod(&fx.entry(), mode);
            let reason = rebuilt_reason(fx.load());
            assert!(reason.contains("writable by group or others"), "{reason}");
            // Replaced by a private entry.
            let meta = std::fs::metadata(fx.entry()).expect("entry");
            assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn a_symlinked_entry_is_rejected_and_its_target_untouched() {
        let fx = Fixture::new();
        let good = fx.warm();
        let elsewhere = fx.root.path().join("elsewhere.cwasm");
        std::fs::write(&elsewhere, &good).expect("copy");
        std::fs::remove_file(fx.entry()).expect("remove");
        std::os::unix::fs::symlink(&elsewhere, fx.entry()).expect("symlink");
        assert!(rebuilt_reason(fx.load()).contains("symbolic link"));
        let meta = std::fs::symlink_metadata(fx.entry()).expect("entry");
        assert!(meta.is_file(), "the link was replaced by a file");
        assert_eq!(std::fs::read(&elsewhere).expect("target"), good);
    }

    #[test]
    fn a_cache_inside_a_scanned_tree_is_refused() {
        let mut fx = Fixture::new();
        fx.warm();
        // The scanned tree is the cache's parent, named through a path with a symbolic link.
        let link = fx.root.path().join("link");
        std::os::unix::fs::symlink(fx.root.path(), &link).expect("symlink");
        fx.cache.scanned = vec![PathBuf::from("/nonexistent-rbac-gate-tree"), link];
        let reason = refused_reason(fx.load());
        assert!(reason.contains("inside the scanned tree"), "{reason}");
        assert!(reason.contains("RBAC_GATE_CACHE_DIR"), "{reason}");
        // Also when the cache directory does not exist yet, and then nothing is created.
        fx.cache.dir = fx.root.path().join("new").join("cache");
        assert!(matches!(fx.load(), CacheOutcome::Refused { .. }));
        assert!(!fx.root.path().join("new").exists());
        // A scanned tree beside the cache is no reason to refuse it.
        let project = fx.root.path().join("project");
        std::fs::create_dir(&project).expect("project");
        fx.cache.scanned = vec![project];
        assert!(matches!(fx.load(), CacheOutcome::Miss { stored: true, .. }));
        // Nor is one that holds the key: the key must stay out of scanned trees too.
        fx.cache.scanned = vec![fx.root.path().join("state")];
        let reason = refused_reason(fx.load());
        assert!(reason.contains("cache key"), "{reason}");
    }

    #[test]
    fn a_key_open_to_others_misplaced_or_malformed_is_refused() {
        let fx = Fixture::new();
        fx.warm();
        for mode in [0o640, 0o604, 0o660] {
            chmod(fx.key_file(), mode);
            let reason = refused_reason(fx.load());
            assert!(reason.contains("readable or writable by group"), "{reason}");
            assert!(reason.contains("chmod 600"), "{reason}");
        }
        chmod(fx.key_file(), 0o600);
        assert_eq!(fx.load(), CacheOutcome::Hit(fx.entry()));

        let mut inside = fx.cache.clone();
        inside.key_file = Some(inside.dir.join("cache.key"));
        let outcome = load_or_compile(&fx.engine, WAT.as_bytes(), &DIGEST, Some(&inside));
        let reason = refused_reason(outcome.expect("compiles").1);
        assert!(reason.contains("inside the cache directory"), "{reason}");

        let mut linked = fx.cache.clone();
        let link = fx.root.path().join("key-link");
        std::os::unix::fs::symlink(fx.key_file(), &link).expect("symlink");
        linked.key_file = Some(link);
        let outcome = load_or_compile(&fx.engine, WAT.as_bytes(), &DIGEST, Some(&linked));
        assert!(refused_reason(outcome.expect("compiles").1).contains("symbolic link"));

        std::fs::write(fx.key_file(), b"short").expect("short key");
        assert!(refused_reason(fx.load()).contains("exactly 32 bytes"));
    }

    #[test]
    fn ownership_by_another_user_is_a_problem() {
        assert_eq!(
            ownership_problem(1000, 0o40700, 1000, WRITABLE_BY_OTHERS, "x"),
            None
        );
        let other = ownership_problem(0, 0o40700, 1000, WRITABLE_BY_OTHERS, "x");
        assert!(other.is_some_and(|p| p.contains("owned by uid 0, not by this user (uid 1000)")));
        let key = ownership_problem(1000, 0o100400, 1000, OPEN_TO_OTHERS, "chmod 600");
        assert_eq!(key, None);
        assert!(ownership_problem(1000, 0o100644, 1000, OPEN_TO_OTHERS, "chmod 600").is_some());
    }

    #[test]
    fn an_entry_owned_by_someone_else_is_rejected() {
        // Needs root to give the entry away; elsewhere the pure check above covers it.
        if effective_uid() != 0 {
            return;
        }
        let fx = Fixture::new();
        fx.warm();
        std::os::unix::fs::lchown(fx.entry(), Some(65534), None).expect("chown");
        assert!(rebuilt_reason(fx.load()).contains("owned by uid 65534"));
        std::os::unix::fs::lchown(fx.key_file(), Some(65534), None).expect("chown");
        assert!(refused_reason(fx.load()).contains("owned by uid 65534"));
    }
}
