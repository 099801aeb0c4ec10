//! The wasmtime sandbox that runs the policy module.
//!
//! Every evaluation gets a fresh [`Store`] and instance, bounded by an epoch deadline (wall
//! clock, driven by a ticker thread), a linear-memory cap (traps instead of failing
//! `memory.grow`), an explicit wasm stack limit and, with `--fuel`, a deterministic
//! instruction budget (off by default: metering costs about 12% of the evaluation time). The module must import nothing and export the ABI described in the policy crate;
//! everything read back from its memory is bounds-checked. Any failure is a [`PolicyError`]
//! naming the limit, which the CLI turns into exit code 2, never a pass.

mod release;
pub mod session;

use crate::cache::{self, CacheOutcome, ModuleCache};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use wasmtime::{
    Config, Engine, ExternType, Instance, Module, ResourceLimiter, Store, StoreLimits,
    StoreLimitsBuilder, Trap, TypedFunc, ValType,
};

/// The policy module built from `crates/policy`, embedded at build time (see `build.rs`).
pub static EMBEDDED_MODULE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/policy.wasm"));

/// The wasmtime this host is built against (pinned with `=` in the workspace manifest; a test
/// checks the two agree). Part of the compiled-module cache key.
pub const WASMTIME_VERSION: &str = "48.0.8";

const MIB: u64 = 1024 * 1024;

/// Resource limits of one evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Fuel units (about one per wasm instruction), when a deterministic budget is wanted.
    /// `None` (the default): no fuel metering, which costs about 12% of the evaluation time;
    /// the epoch deadline bounds the run instead.
    pub fuel: Option<u64>,
    /// Wall-clock deadline of one evaluation.
    pub timeout: Duration,
    /// Linear-memory cap in bytes. `None`: [`Limits::memory_for`] picks one from the input.
    pub max_memory: Option<u64>,
    /// Native stack the wasm code may use.
    pub max_wasm_stack: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // The deadline is the bound by default. `--fuel N` adds a deterministic,
            // machine-independent one (a 10,000-object dump uses about 1e10 units).
            fuel: None,
            timeout: Duration::from_secs(120),
            max_memory: None,
            max_wasm_stack: 8 * MIB as usize,
        }
    }
}

impl Limits {
    /// Default memory cap: 1 GiB, plus 48 bytes per request byte for big inputs, at most 4 GiB
    /// (wasm32). The request, its parsed form, the model and the report all live in linear
    /// memory: the JSON report of a 100,000-object dump (a 41 MB request, every identity's
    /// permission matrix included) needs about 660 MiB today, and once needed 1.7 GiB, which
    /// 8 bytes per request byte (1.3 GiB) refused; the margin stays for bigger dumps. A module
    /// that grabs memory on a small input still stops at ~1 GiB.
    pub fn memory_for(&self, request_len: usize) -> u64 {
        self.max_memory.unwrap_or_else(|| {
            let scaled = 1024 * MIB + 48 * request_len as u64;
            scaled.min(4096 * MIB)
        })
    }
}

/// Why an evaluation produced no report. The display text names the limit that was hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyError {
    /// The module could not be read, compiled or does not implement the ABI.
    Load(String),
    /// `rbac_abi_version` returned something else than this host speaks.
    AbiVersion {
        found: u32,
        expected: u32,
    },
    /// The module broke the ABI at run time (bad pointers, invalid UTF-8, not JSON).
    Abi(String),
    OutOfFuel {
        fuel: u64,
    },
    Deadline {
        timeout: Duration,
    },
    MemoryCap {
        limit: u64,
    },
    StackOverflow {
        limit: usize,
    },
    Trap(String),
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::Load(msg) => write!(f, "cannot load policy module: {msg}"),
            PolicyError::AbiVersion { found, expected } => write!(
                f,
                "policy module ABI version mismatch: module speaks version {found}, this host \
                 needs version {expected}"
            ),
            PolicyError::Abi(msg) => write!(f, "policy module broke the ABI: {msg}"),
            PolicyError::OutOfFuel { fuel } => write!(
                f,
                "policy module stopped: fuel exhausted (limit {fuel} units; raise with --fuel)"
            ),
            PolicyError::Deadline { timeout } => write!(
                f,
                "policy module stopped: deadline exceeded (limit {} ms; raise with --timeout-ms)",
                timeout.as_millis()
            ),
            PolicyError::MemoryCap { limit } => write!(
                f,
                "policy module stopped: memory cap reached (limit {} MiB; raise with \
                 --max-memory-mb)",
                limit / MIB
            ),
            PolicyError::StackOverflow { limit } => write!(
                f,
                "policy module stopped: trap: wasm stack exhausted (limit {} KiB)",
                limit / 1024
            ),
            PolicyError::Trap(msg) => write!(f, "policy module stopped: trap: {msg}"),
        }
    }
}

impl std::error::Error for PolicyError {}

/// Where the module came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Embedded,
    File(PathBuf),
}

/// Timing and cache details of loading, for `RBAC_GATE_TIMINGS`.
#[derive(Debug, Clone)]
pub struct LoadInfo {
    pub cache: CacheOutcome,
    pub elapsed: Duration,
}

/// A compiled, validated policy module.
pub struct Policy {
    engine: Engine,
    module: Module,
    sha256: String,
    origin: Origin,
    limits: Limits,
    load_info: LoadInfo,
}

/// Exports every policy module must have, with their signatures.
const REQUIRED_EXPORTS: &[(&str, &[ValType], &[ValType])] = &[
    ("rbac_abi_version", &[], &[ValType::I32]),
    ("rbac_alloc", &[ValType::I32], &[ValType::I32]),
    ("rbac_dealloc", &[ValType::I32, ValType::I32], &[]),
    (
        "rbac_evaluate",
        &[ValType::I32, ValType::I32],
        &[ValType::I64],
    ),
];

impl Policy {
    /// Loads the embedded module.
    pub fn embedded(limits: Limits, cache: Option<&ModuleCache>) -> Result<Policy, PolicyError> {
        Policy::from_bytes(EMBEDDED_MODULE, Origin::Embedded, limits, cache)
    }

    /// Loads a module (binary `.wasm`, or `.wat` text) from a file.
    pub fn from_file(
        path: &Path,
        limits: Limits,
        cache: Option<&ModuleCache>,
    ) -> Result<Policy, PolicyError> {
        let bytes = std::fs::read(path)
            .map_err(|e| PolicyError::Load(format!("{}: {e}", path.display())))?;
        Policy::from_bytes(&bytes, Origin::File(path.to_path_buf()), limits, cache)
    }

    pub fn from_bytes(
        bytes: &[u8],
        origin: Origin,
        limits: Limits,
        cache: Option<&ModuleCache>,
    ) -> Result<Policy, PolicyError> {
        let start = Instant::now();
        let engine = new_engine(&limits)?;
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        let sha256 = hex(&digest);
        let (module, outcome) = cache::load_or_compile(&engine, bytes, &digest, cache)
            .map_err(|e| PolicyError::Load(format!("{e:#}")))?;
        if !matches!(outcome, CacheOutcome::Hit(_)) {
            // Compiling freed tens of MB the allocator would otherwise keep under the
            // evaluation's peak (326 MB against 262 MB warm, at 100,000 objects).
            release::trim_host_heap();
        }
        validate_interface(&module)?;
        Ok(Policy {
            engine,
            module,
            sha256,
            origin,
            limits,
            load_info: LoadInfo {
                cache: outcome,
                elapsed: start.elapsed(),
            },
        })
    }

    /// Hex SHA-256 of the module bytes (as embedded or as read from `--policy`).
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    pub fn load_info(&self) -> &LoadInfo {
        &self.load_info
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Runs one JSON request in a fresh sandbox and returns the module's JSON response. An
    /// owned request is freed as soon as it is copied into the module's memory.
    pub fn evaluate(&self, request: impl Into<String>) -> Result<Evaluation, PolicyError> {
        let request = request.into();
        // Wasm frames run on the calling thread's native stack; give them a thread whose stack
        // comfortably exceeds `max_wasm_stack` so the limit, not the OS, stops deep recursion.
        let stack = self.limits.max_wasm_stack.saturating_add(16 * MIB as usize);
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("rbac-gate-policy".into())
                .stack_size(stack)
                .spawn_scoped(scope, move || self.evaluate_here(request))
                .map_err(|e| PolicyError::Load(format!("cannot start evaluation thread: {e}")))?
                .join()
                .unwrap_or_else(|_| {
                    Err(PolicyError::Trap(
                        "the evaluation thread panicked".to_string(),
                    ))
                })
        })
    }

    /// A fresh store with every limit of this policy: memory cap (trapping on failed growth),
    /// one instance, bounded tables, and a full fuel budget.
    fn new_store(&self, memory_limit: u64) -> Result<Store<Limiter>, PolicyError> {
        let mut store = Store::new(
            &self.engine,
            Limiter {
                inner: StoreLimitsBuilder::new()
                    .memory_size(usize::try_from(memory_limit).unwrap_or(usize::MAX))
                    .memories(1)
                    .tables(4)
                    .table_elements(1_000_000)
                    .instances(1)
                    .trap_on_grow_failure(true)
                    .build(),
                hit: false,
                peak: 0,
            },
        );
        store.limiter(|state| state);
        if let Some(fuel) = self.limits.fuel {
            store
                .set_fuel(fuel)
                .map_err(|e| PolicyError::Load(format!("cannot set fuel: {e}")))?;
        }
        Ok(store)
    }

    fn evaluate_here(&self, request: String) -> Result<Evaluation, PolicyError> {
        let start = Instant::now();
        let memory_limit = self.limits.memory_for(request.len());
        let mut store = self.new_store(memory_limit)?;

        let ticker = Ticker::start(&self.engine, self.limits.timeout)?;
        store.set_epoch_deadline(ticker.deadline_ticks);
        let result = self.run(&mut store, request, memory_limit);
        drop(ticker);
        let memory_bytes = store.data().peak;

        let fuel_used = self
            .limits
            .fuel
            .map(|fuel| fuel.saturating_sub(store.get_fuel().unwrap_or(0)));
        result.map(|json| Evaluation {
            json,
            fuel_used,
            elapsed: start.elapsed(),
            memory_bytes,
        })
    }

    fn run(
        &self,
        store: &mut Store<Limiter>,
        request: String,
        memory_limit: u64,
    ) -> Result<String, PolicyError> {
        let classify = |store: &Store<Limiter>, e: wasmtime::Error| -> PolicyError {
            self.classify(store.data().hit, memory_limit, &e)
        };
        let instance =
            Instance::new(&mut *store, &self.module, &[]).map_err(|e| classify(store, e))?;
        let memory = instance
            .get_memory(&mut *store, "memory")
            .ok_or_else(|| PolicyError::Load("the module exports no `memory`".into()))?;
        let abi: TypedFunc<(), u32> = typed(&instance, store, "rbac_abi_version")?;
        let alloc: TypedFunc<u32, u32> = typed(&instance, store, "rbac_alloc")?;
        let evaluate: TypedFunc<(u32, u32), u64> = typed(&instance, store, "rbac_evaluate")?;

        let found = abi.call(&mut *store, ()).map_err(|e| classify(store, e))?;
        if found != rbac_gate_core::ABI_VERSION {
            return Err(PolicyError::AbiVersion {
                found,
                expected: rbac_gate_core::ABI_VERSION,
            });
        }

        let len = u32::try_from(request.len()).map_err(|_| PolicyError::MemoryCap {
            limit: memory_limit,
        })?;
        let ptr = alloc
            .call(&mut *store, len)
            .map_err(|e| classify(store, e))?;
        if ptr == 0 && len > 0 {
            return Err(if store.data().hit {
                PolicyError::MemoryCap {
                    limit: memory_limit,
                }
            } else {
                PolicyError::Abi(format!("rbac_alloc({len}) returned a null pointer"))
            });
        }
        memory
            .write(&mut *store, ptr as usize, request.as_bytes())
            .map_err(|_| {
                PolicyError::Abi(format!(
                    "rbac_alloc({len}) returned {ptr:#x}, outside the module's memory"
                ))
            })?;
        drop(request);

        // The chunked answer when the module has it (the embedded one does): see
        // `rbac_evaluate_chunked` in crates/policy.
        if let Some(chunked) = instance
            .get_func(&mut *store, CHUNKED)
            .and_then(|f| f.typed::<(u32, u32), u64>(&*store).ok())
        {
            let packed = chunked
                .call(&mut *store, (ptr, len))
                .map_err(|e| classify(store, e))?;
            let memory = memory.data_mut(&mut *store);
            let pieces = chunk_table(memory, packed)?;
            return copy_out(memory, &pieces);
        }
        let packed = evaluate
            .call(&mut *store, (ptr, len))
            .map_err(|e| classify(store, e))?;
        let memory = memory.data_mut(&mut *store);
        let whole = span(memory.len(), packed, "rbac_evaluate")?;
        copy_out(memory, &[whole])
    }

    fn classify(
        &self,
        memory_hit: bool,
        memory_limit: u64,
        error: &wasmtime::Error,
    ) -> PolicyError {
        if memory_hit {
            return PolicyError::MemoryCap {
                limit: memory_limit,
            };
        }
        match error.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => PolicyError::OutOfFuel {
                fuel: self.limits.fuel.unwrap_or(0),
            },
            Some(Trap::Interrupt) => PolicyError::Deadline {
                timeout: self.limits.timeout,
            },
            Some(Trap::StackOverflow) => PolicyError::StackOverflow {
                limit: self.limits.max_wasm_stack,
            },
            Some(Trap::UnreachableCodeReached) => PolicyError::Trap(
                "wasm `unreachable` executed (the policy module panicked or aborted)".into(),
            ),
            Some(trap) => PolicyError::Trap(trap.to_string()),
            None => PolicyError::Trap(format!("{error:#}")),
        }
    }
}

/// The result of one evaluation.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// The module's JSON response, exactly as it produced it.
    pub json: String,
    /// `None` when fuel is not metered (no `--fuel`).
    pub fuel_used: Option<u64>,
    pub elapsed: Duration,
    /// Size of the module's linear memory at the end: wasm memory only grows, so this is the
    /// evaluation's peak.
    pub memory_bytes: usize,
}

/// The optional export answering in pieces.
const CHUNKED: &str = "rbac_evaluate_chunked";

/// A bounds-checked region of the module's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: usize,
    end: usize,
}

/// The region `(ptr << 32) | len` names, checked against a memory of `memory_len` bytes.
fn span(memory_len: usize, packed: u64, what: &str) -> Result<Span, PolicyError> {
    let ptr = (packed >> 32) as usize;
    let len = (packed & 0xffff_ffff) as usize;
    match ptr.checked_add(len) {
        Some(end) if end <= memory_len => Ok(Span { start: ptr, end }),
        _ => Err(PolicyError::Abi(format!(
            "{what} returned {len} bytes at {ptr:#x}, outside the module's memory ({memory_len} \
             bytes)"
        ))),
    }
}

/// The bytes `(ptr << 32) | len` names in the module's memory, bounds-checked.
fn region<'m>(memory: &'m [u8], packed: u64, what: &str) -> Result<&'m [u8], PolicyError> {
    let span = span(memory.len(), packed, what)?;
    Ok(&memory[span.start..span.end])
}

/// The UTF-8 response `(ptr << 32) | len` names, copied out of the module's memory.
fn response_text(memory: &[u8], packed: u64, what: &str) -> Result<String, PolicyError> {
    std::str::from_utf8(region(memory, packed, what)?)
        .map(str::to_string)
        .map_err(|e| PolicyError::Abi(format!("the response is not UTF-8: {e}")))
}

/// The pieces listed by the table `rbac_evaluate_chunked` returned, in response order.
fn chunk_table(memory: &[u8], packed: u64) -> Result<Vec<Span>, PolicyError> {
    let table = region(memory, packed, CHUNKED)?;
    if table.len() % 8 != 0 {
        return Err(PolicyError::Abi(format!(
            "{CHUNKED} returned a table of {} bytes, not a whole number of (ptr, len) pairs",
            table.len()
        )));
    }
    table
        .chunks_exact(8)
        .map(|pair| {
            let word = |at: usize| {
                u32::from_le_bytes([pair[at], pair[at + 1], pair[at + 2], pair[at + 3]])
            };
            let packed = (u64::from(word(0)) << 32) | u64::from(word(4));
            span(memory.len(), packed, "a piece of the chunked response")
        })
        .collect()
}

/// Copies the response `pieces` (in their order) out of the memory of an instance that has
/// answered and will not run again, as one UTF-8 string.
///
/// Pieces of a real answer are disjoint; overlapping ones are refused, which also keeps a table
/// naming one region over and over from making the host allocate without bound. Everything
/// outside the pieces, and each piece once copied, is released (see [`release`]), so the copy
/// reuses the module's spent memory instead of adding to it.
fn copy_out(memory: &mut [u8], pieces: &[Span]) -> Result<String, PolicyError> {
    let mut by_address = pieces.to_vec();
    by_address.sort_unstable_by_key(|piece| piece.start);
    let mut free_from = 0;
    for piece in &by_address {
        if piece.start < free_from {
            return Err(PolicyError::Abi(format!(
                "{CHUNKED} listed overlapping pieces (one at {:#x} starts inside another)",
                piece.start
            )));
        }
        release::pages(memory, free_from..piece.start);
        free_from = piece.end;
    }
    release::pages(memory, free_from..memory.len());

    // Disjoint pieces inside the memory add up to at most its size.
    let total = pieces.iter().map(|piece| piece.end - piece.start).sum();
    let mut bytes = Vec::with_capacity(total);
    for piece in pieces {
        bytes.extend_from_slice(&memory[piece.start..piece.end]);
        release::pages(memory, piece.start..piece.end);
    }
    // Validated whole: a piece may end inside a multi-byte character.
    String::from_utf8(bytes)
        .map_err(|e| PolicyError::Abi(format!("the response is not UTF-8: {}", e.utf8_error())))
}

fn typed<P, R>(
    instance: &Instance,
    store: &mut Store<Limiter>,
    name: &str,
) -> Result<TypedFunc<P, R>, PolicyError>
where
    P: wasmtime::WasmParams,
    R: wasmtime::WasmResults,
{
    instance
        .get_typed_func::<P, R>(&mut *store, name)
        .map_err(|e| PolicyError::Load(format!("export `{name}`: {e}")))
}

fn new_engine(limits: &Limits) -> Result<Engine, PolicyError> {
    let mut config = Config::new();
    config
        .consume_fuel(limits.fuel.is_some())
        .epoch_interruption(true)
        .max_wasm_stack(limits.max_wasm_stack)
        // Unused (no async support is compiled in), but wasmtime requires it to be at least
        // max_wasm_stack.
        .async_stack_size(limits.max_wasm_stack + MIB as usize)
        .cranelift_opt_level(wasmtime::OptLevel::Speed);
    Engine::new(&config).map_err(|e| PolicyError::Load(format!("wasmtime engine: {e:#}")))
}

/// Checks the module's imports and exports before anything runs.
fn validate_interface(module: &Module) -> Result<(), PolicyError> {
    if let Some(import) = module.imports().next() {
        return Err(PolicyError::Load(format!(
            "the module imports `{}::{}`; a policy module must import nothing",
            import.module(),
            import.name()
        )));
    }
    match module.get_export("memory") {
        Some(ExternType::Memory(memory)) if !memory.is_64() && !memory.is_shared() => {}
        Some(_) => {
            return Err(PolicyError::Load(
                "export `memory` must be a 32-bit, non-shared linear memory".into(),
            ))
        }
        None => return Err(PolicyError::Load("the module exports no `memory`".into())),
    }
    for (name, params, results) in REQUIRED_EXPORTS {
        let Some(ExternType::Func(ty)) = module.get_export(name) else {
            return Err(PolicyError::Load(format!(
                "the module does not export function `{name}` (not an rbac-gate policy module?)"
            )));
        };
        let same = |found: &mut dyn ExactSizeIterator<Item = ValType>, want: &[ValType]| {
            found.len() == want.len() && found.zip(want.iter()).all(|(a, b)| ValType::eq(&a, b))
        };
        if !same(&mut ty.params(), params) || !same(&mut ty.results(), results) {
            return Err(PolicyError::Load(format!(
                "export `{name}` has signature {ty}, expected params {params:?} results {results:?}"
            )));
        }
    }
    Ok(())
}

/// Store data: wasmtime's limits plus a flag recording that the memory cap was hit, so the
/// resulting trap can be reported as "memory cap" whatever shape it takes.
struct Limiter {
    inner: StoreLimits,
    hit: bool,
    /// Largest linear memory granted so far.
    peak: usize,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let verdict = self.inner.memory_growing(current, desired, maximum);
        if matches!(verdict, Ok(true)) {
            self.peak = self.peak.max(desired);
        } else {
            self.hit = true;
        }
        verdict
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.hit = true;
        self.inner.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.inner.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

/// Background thread advancing the engine's epoch while one evaluation runs.
struct Ticker {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    deadline_ticks: u64,
}

impl Ticker {
    fn start(engine: &Engine, timeout: Duration) -> Result<Ticker, PolicyError> {
        // About 100 ticks per deadline, between 1 ms and 100 ms each.
        let tick = (timeout / 100).clamp(Duration::from_millis(1), Duration::from_millis(100));
        let deadline_ticks =
            u64::try_from(timeout.as_nanos().div_ceil(tick.as_nanos().max(1))).unwrap_or(u64::MAX);
        let (stop, stopped) = mpsc::channel::<()>();
        let engine = engine.clone();
        let thread = std::thread::Builder::new()
            .name("rbac-gate-epoch".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(tick) {
                    engine.increment_epoch();
                }
            })
            .map_err(|e| PolicyError::Load(format!("cannot start the deadline thread: {e}")))?;
        Ok(Ticker {
            stop: Some(stop),
            thread: Some(thread),
            deadline_ticks: deadline_ticks.max(1),
        })
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packed(start: usize, len: usize) -> u64 {
        ((start as u64) << 32) | len as u64
    }

    #[test]
    fn pieces_are_joined_in_table_order_and_the_rest_of_the_memory_is_released() {
        let page = 4096;
        // 16 pages: the answer "héllo, world" in two pieces, the second at the lower address
        // (page 2), the first on page 5, with the multi-byte character split across them.
        let mut memory = vec![0x55u8; 16 * page];
        let text = "héllo, world".as_bytes();
        let (head, tail) = text.split_at(2);
        memory[5 * page..5 * page + head.len()].copy_from_slice(head);
        memory[2 * page + 100..2 * page + 100 + tail.len()].copy_from_slice(tail);
        let pieces = [
            span(memory.len(), packed(5 * page, head.len()), "test").expect("inside"),
            span(memory.len(), packed(2 * page + 100, tail.len()), "test").expect("inside"),
        ];
        assert_eq!(
            copy_out(&mut memory, &pieces).as_deref(),
            Ok("héllo, world")
        );
        // Released pages read back as zeros (this Vec is private anonymous memory, as wasm
        // linear memory is); at least the pages far from both pieces must have gone.
        if cfg!(target_os = "linux") {
            let base = memory.as_ptr() as usize;
            let released = (9 * page..15 * page)
                .filter(|&i| (base + i).is_multiple_of(page))
                .all(|i| {
                    memory[i..(i + page).min(memory.len())]
                        .iter()
                        .all(|&b| b == 0)
                });
            assert!(released, "pages outside the answer were not released");
        }
    }

    #[test]
    fn overlapping_and_out_of_bounds_pieces_are_refused() {
        let mut memory = vec![b'x'; 4096];
        let a = span(memory.len(), packed(0, 100), "test").expect("inside");
        let b = span(memory.len(), packed(50, 100), "test").expect("inside");
        let err = copy_out(&mut memory, &[a, b]).expect_err("overlap");
        assert!(err.to_string().contains("overlapping pieces"), "{err}");
        let err = span(4096, packed(4000, 200), "rbac_evaluate").expect_err("outside");
        assert!(
            err.to_string().contains("outside the module's memory"),
            "{err}"
        );
        // Touching pieces are fine.
        let c = span(memory.len(), packed(100, 10), "test").expect("inside");
        assert_eq!(copy_out(&mut memory, &[a, c]).map(|s| s.len()), Ok(110));
    }
}
