//! Hands memory the host no longer uses back to the operating system: the spent pages of a
//! finished sandbox, and the heap a module compilation freed.
//!
//! Wasm linear memory only grows: once the module has answered, every page it ever touched is
//! still resident (261 MiB after a 100,000-object check), although all that is live in it is
//! the answer. The host then copies the answer out (96 MB of JSON), and the two used to stack:
//! that sum was the CLI's peak. Releasing the pages the answer does not occupy, and each piece
//! of the answer once it is copied, lets the copy reuse the memory instead.
//!
//! Only for an instance that will never run again: the released bytes read back as zeros (or
//! as the module's initial image), which would corrupt its allocator. On other systems than
//! Linux this does nothing; the result is the same, only the peak is higher.

#![allow(unsafe_code)]

use std::ops::Range;

/// Releases the whole pages inside `memory[range]`; the partial pages at either end are kept.
/// Afterwards those bytes read as zeros or as the mapping's initial contents, never as anything
/// the caller cannot handle as plain bytes. Out-of-range or empty ranges release nothing.
pub(super) fn pages(memory: &mut [u8], range: Range<usize>) {
    if range.start >= range.end || range.end > memory.len() {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        let page = page_size();
        let base = memory.as_mut_ptr() as usize;
        let Some(from) = (base + range.start).checked_next_multiple_of(page) else {
            return;
        };
        let to = (base + range.end) / page * page;
        if to <= from {
            return;
        }
        // SAFETY: `from..to` is a whole number of pages inside `memory`, which is borrowed
        // mutably, so nothing else reads or writes those bytes meanwhile. `MADV_DONTNEED` on a
        // private mapping (wasmtime maps linear memory privately) changes no mapping: it drops
        // the pages, and the next access sees zero-filled pages (or the file's contents, for
        // the copy-on-write image of the initial data). A failure leaves the pages as they were.
        let _ = unsafe { libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_DONTNEED) };
    }
}

/// Returns the free memory of the host's heap to the system. A cache miss compiles the module
/// with Cranelift first, and glibc keeps what that freed (about 40 MB, on several threads'
/// arenas) mapped through the evaluation that follows. Elsewhere than glibc this does nothing.
pub(super) fn trim_host_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the system; it has no preconditions
    // and leaves every live allocation as it is.
    let _ = unsafe { libc::malloc_trim(0) };
}

#[cfg(target_os = "linux")]
fn page_size() -> usize {
    // SAFETY: sysconf reads a constant of the running system and has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size)
        .ok()
        .filter(|s| s.is_power_of_two())
        .unwrap_or(4096)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn only_whole_pages_inside_the_range_are_released() {
        let page = page_size();
        let mut memory = vec![0xabu8; 8 * page];
        // Align the test to a page boundary inside the buffer.
        let skew = memory.as_ptr() as usize % page;
        let at = if skew == 0 { 0 } else { page - skew };
        // From the middle of page 1 to the middle of page 5: pages 2, 3 and 4 go.
        let range = at + page + page / 2..at + 5 * page + page / 2;
        pages(&mut memory, range.clone());
        for (i, byte) in memory.iter().enumerate() {
            let released = i >= at + 2 * page && i < at + 5 * page;
            assert_eq!(*byte, if released { 0 } else { 0xab }, "byte {i}");
        }
        // Ranges outside the buffer, backwards or empty, do nothing.
        let len = memory.len();
        pages(&mut memory, 0..len + 1);
        pages(&mut memory, range.end..range.start);
        pages(&mut memory, at..at);
        assert_eq!(memory[at + page], 0xab);
    }
}
