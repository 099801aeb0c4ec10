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

fn layout(len: u32) -> Option<Layout> {
    Layout::from_size_align(len as usize, 1).ok()
}

/// Hands `output` to the host: `(ptr << 32) | len`, allocated with the [`rbac_alloc`] layout.
fn leak_output(output: String) -> u64 {
    let bytes = output.into_bytes().into_boxed_slice();
    let len = bytes.len() as u64;
    let ptr = Box::into_raw(bytes) as *mut u8 as usize as u64;
    (ptr << 32) | len
}
