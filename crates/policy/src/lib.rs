//! rbac-gate's policy module: [`rbac_gate_core`] behind a minimal, import-free wasm ABI.
//!
//! Built with `cargo build -p rbac-gate-policy --target wasm32-unknown-unknown --profile wasm`.
//! The module imports nothing and exports:
//!
//! | export                                   | meaning                                          |
//! |------------------------------------------|--------------------------------------------------|
//! | `memory`                                 | the linear memory                                |
//! | `rbac_abi_version() -> u32`              | [`rbac_gate_core::ABI_VERSION`]                  |
//! | `rbac_alloc(len: u32) -> u32`            | a buffer of `len` bytes for the host to fill (0: out of memory) |
//! | `rbac_dealloc(ptr: u32, len: u32)`       | frees a buffer from `rbac_alloc` or a result     |
//! | `rbac_evaluate(ptr: u32, len: u32) -> u64` | runs one JSON request, returns `(out_ptr << 32) \| out_len` |
//! | `rbac_evaluate_chunked(ptr: u32, len: u32) -> u64` | the same, answered in pieces: returns `(table_ptr << 32) \| table_len`, a table of little-endian `u32` pairs `(ptr, len)` whose pieces, in order, are the response |
//!
//! `rbac_evaluate` takes ownership of the request buffer (it frees it). The response is UTF-8
//! JSON from [`rbac_gate_core::handle_json`]; invalid UTF-8 in the request becomes an error
//! report, never a trap. The host owns the response buffer and may free it with
//! `rbac_dealloc(out_ptr, out_len)` (the CLI simply drops the whole instance instead).

use std::alloc::{alloc, dealloc, Layout};

/// Returns the ABI version the module implements; the host refuses any other.
#[no_mangle]
pub extern "C" fn rbac_abi_version() -> u32 {
    rbac_gate_core::ABI_VERSION
}

/// Allocates `len` bytes (alignment 1). Returns 0 when the allocation fails.
#[no_mangle]
pub extern "C" fn rbac_alloc(len: u32) -> u32 {
    let Some(layout) = layout(len) else {
        return 0;
    };
    if layout.size() == 0 {
        // A non-null, never dereferenced address for empty buffers.
        return 1;
    }
    // SAFETY: the layout has a non-zero size.
    let ptr = unsafe { alloc(layout) };
    ptr as usize as u32
}

/// Frees a buffer returned by [`rbac_alloc`] or by [`rbac_evaluate`].
///
/// # Safety
/// `ptr`/`len` must describe a live buffer from this module's allocator.
#[no_mangle]
pub unsafe extern "C" fn rbac_dealloc(ptr: u32, len: u32) {
    let Some(layout) = layout(len) else {
        return;
    };
    if ptr == 0 || layout.size() == 0 {
        return;
    }
    // SAFETY: the caller passes a buffer allocated with exactly this layout.
    unsafe { dealloc(ptr as usize as *mut u8, layout) }
}

/// Evaluates one JSON request and returns `(out_ptr << 32) | out_len`.
///
/// # Safety
/// `ptr`/`len` must describe a buffer from [`rbac_alloc`] that the host filled; the module
/// takes ownership of it.
#[no_mangle]
pub unsafe extern "C" fn rbac_evaluate(ptr: u32, len: u32) -> u64 {
    let input: &[u8] = if len == 0 || ptr == 0 {
        &[]
    } else {
        // SAFETY: the host wrote `len` bytes at `ptr`, a buffer obtained from `rbac_alloc(len)`.
        unsafe { std::slice::from_raw_parts(ptr as usize as *const u8, len as usize) }
    };
    let output = match std::str::from_utf8(input) {
        Ok(request) => rbac_gate_core::handle_json(request),
        // `handle_json` turns a request it cannot parse into an error report; reuse that path
        // so an invalid byte sequence fails closed in the same shape.
        Err(_) => rbac_gate_core::handle_json("\u{0}request is not valid UTF-8"),
    };
    // SAFETY: the request buffer is no longer used.
    unsafe { rbac_dealloc(ptr, len) };
    leak_output(output)
}

/// Evaluates one JSON request and returns its response as a table of pieces (see the module
/// docs). The CLI uses it for `check`: the request buffer is freed as soon as it is decoded and
/// the pieces fit in the memory the check freed, where `rbac_evaluate` needed both the request
/// and one contiguous response on top of the evaluation's peak (395 MiB of module memory
/// against 261 MiB on a 100,000-object dump). Hosts that do not know this export use
/// `rbac_evaluate`.
///
/// # Safety
/// As for [`rbac_evaluate`]: `ptr`/`len` must describe a buffer from [`rbac_alloc`] that the
/// host filled; the module takes ownership of it.
#[no_mangle]
pub unsafe extern "C" fn rbac_evaluate_chunked(ptr: u32, len: u32) -> u64 {
    let request: Vec<u8> = if len == 0 || ptr == 0 {
        Vec::new()
    } else {
        // SAFETY: `rbac_alloc(len)` allocated exactly `len` bytes with alignment 1 from the
        // global allocator, which is the allocation of a `Vec<u8>` of capacity `len`; the host
        // filled all of them, and ownership passes to this Vec (which frees it).
        unsafe { Vec::from_raw_parts(ptr as usize as *mut u8, len as usize, len as usize) }
    };
    let chunks = match String::from_utf8(request) {
        Ok(request) => rbac_gate_core::api::handle_json_chunked(request),
        Err(_) => {
            rbac_gate_core::api::handle_json_chunked("\u{0}request is not valid UTF-8".to_string())
        }
    };
    let mut table = Vec::with_capacity(chunks.len() * 8);
    for chunk in chunks {
        let chunk = chunk.into_boxed_slice();
        let len = chunk.len() as u32;
        let ptr = Box::into_raw(chunk) as *mut u8 as usize as u32;
        table.extend_from_slice(&ptr.to_le_bytes());
        table.extend_from_slice(&len.to_le_bytes());
    }
    leak_output(table)
}

fn layout(len: u32) -> Option<Layout> {
    Layout::from_size_align(len as usize, 1).ok()
}

/// Hands `output` to the host: `(ptr << 32) | len`, allocated with the [`rbac_alloc`] layout.
fn leak_output(output: impl Into<Vec<u8>>) -> u64 {
    let bytes = output.into().into_boxed_slice();
    let len = bytes.len() as u64;
    let ptr = Box::into_raw(bytes) as *mut u8 as usize as u64;
    (ptr << 32) | len
}
