//! Large scratch buffers, zeros on ordinary 4 KiB pages, every page faulted in up
//! front: the decoded batches ([`touched_zeros`], a `Vec` to recycle) and the stitchers'
//! bands of class sums ([`Band`], on pages of their own, which may have been faulted in
//! while the model loaded: [`prefault_while`]).

use std::ops::{Deref, DerefMut};
use std::sync::Mutex;

/// `len` zeros, written (not calloc's untouched pages): a stitcher's band of class sums
/// is read before it is written, and a page first read maps the shared zero page, so its first
/// write is a copy-on-write fault with a TLB flush on every core, per 4 KiB (measured:
/// a tenth of a 150-class run).
///
/// No transparent huge pages: on the 2-core VM of the benches, a huge page's first touch
/// cost 1.7-2.4 ms per MiB once memory had been free a while (presumably the host
/// backing it again) against 0.42-0.48 ms for small pages. SegFormer-B0 with 150
/// classes, 2 cores, alternated runs: S2 scene 3.83 -> 3.78 s (median of 13), 2x2
/// mosaic 15.08 -> 14.66 s (median of 6), its 132 MB ring of sums the largest buffer.
pub fn touched_zeros(len: usize) -> Vec<f32> {
    let mut v: Vec<f32> = Vec::with_capacity(len);
    v.resize(len, 0.0);
    v
}

const PAGE: usize = 4096;
/// Linux's `MADV_POPULATE_WRITE` (5.14; the libc crate does not name it yet).
const MADV_POPULATE_WRITE: libc::c_int = 23;
/// Pages faulted in per step (1-2.5 ms here): [`prefault_while`] checks whether to go
/// on after each.
const STEP: usize = 2 << 20;

/// Anonymous pages of our own (`mmap`), unmapped on drop.
struct Pages {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the pages are plain memory owned by this value alone, written only through
// `&mut` (`Band::deref_mut`)
unsafe impl Send for Pages {}
unsafe impl Sync for Pages {}

impl Pages {
    fn map(len: usize) -> Pages {
        // SAFETY: a fresh private anonymous mapping; checked below
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            // as a Vec's allocation would
            let layout = std::alloc::Layout::from_size_align(len, PAGE)
                .unwrap_or(std::alloc::Layout::new::<u8>());
            std::alloc::handle_alloc_error(layout);
        }
        Pages {
            ptr: ptr.cast(),
            len,
        }
    }

    /// Faults in the pages of `range` (bytes, page-aligned) for writing: at once where
    /// the kernel can (a third cheaper than touching each page: 54 MB in 19 ms against
    /// 30 ms here), else by writing a zero to each (the pages are zeros either way).
    fn fault_in(&self, range: std::ops::Range<usize>) {
        // a step at a time: the kernel holds the process's memory-map lock while it
        // populates, which would stall another thread's mmap (ONNX Runtime's) meanwhile
        for at in range.clone().step_by(STEP) {
            let step = at..(at + STEP).min(range.end);
            // SAFETY: the step lies inside the mapping; the advice only maps its pages
            let done = unsafe {
                libc::madvise(
                    self.ptr.add(step.start).cast(),
                    step.len(),
                    MADV_POPULATE_WRITE,
                )
            } == 0;
            if !done {
                for page in step.step_by(PAGE) {
                    // SAFETY: inside the mapping; volatile, so that it is not elided
                    unsafe { std::ptr::write_volatile(self.ptr.add(page), 0) };
                }
            }
        }
    }

    /// Keeps the first `len` bytes (page-aligned): the rest is unmapped, or mapped
    /// after them (moving the mapping if need be, its pages with it). `None` when the
    /// kernel cannot grow it (the pages are then unmapped).
    fn resize(mut self, len: usize) -> Option<Pages> {
        if len < self.len {
            // SAFETY: the tail of our own mapping
            unsafe { libc::munmap(self.ptr.add(len).cast(), self.len - len) };
            self.len = len;
        } else if len > self.len {
            // SAFETY: our own mapping, grown (or moved) by the kernel; on failure it is
            // left as it was (and dropped)
            let p = unsafe { libc::mremap(self.ptr.cast(), self.len, len, libc::MREMAP_MAYMOVE) };
            if p == libc::MAP_FAILED {
                return None;
            }
            self.ptr = p.cast();
            self.len = len;
        }
        Some(self)
    }
}

impl Drop for Pages {
    fn drop(&mut self) {
        // SAFETY: our own mapping, no longer referenced
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// Pages faulted in ahead of need ([`prefault_while`]), every one of them.
static SPARE: Mutex<Option<Pages>> = Mutex::new(None);

/// Faults in up to `cap` bytes of zeroed pages, a few MiB at a time while `more()`
/// says so (while the model loads, on the core its loading leaves idle), for the next
/// [`Band`] to take. A page's first touch costs 0.4-0.5 ms per MiB here, twice that
/// when the host is busy: 54 MB for the band of SegFormer-B0's 150 classes on the S2
/// scene, which would otherwise be faulted in beside the model's second run.
pub fn prefault_while(cap: usize, more: impl Fn() -> bool) {
    let cap = cap / PAGE * PAGE;
    if cap == 0 || !more() {
        return;
    }
    let pages = Pages::map(cap);
    let mut ready = 0;
    while ready < cap && more() {
        let next = (ready + STEP).min(cap);
        pages.fault_in(ready..next);
        ready = next;
    }
    // the pages beyond `ready` are only address space: unmapped (shrinking cannot fail)
    let spare = (ready > 0).then(|| pages.resize(ready)).flatten();
    *SPARE.lock().unwrap_or_else(|e| e.into_inner()) = spare;
}

/// Unmaps the pages [`prefault_while`] faulted in if no [`Band`] took them.
pub fn drop_spare() {
    SPARE.lock().unwrap_or_else(|e| e.into_inner()).take();
}

/// A band of `f32` zeros on pages of its own, every page faulted in for writing (see
/// [`touched_zeros`]): the pages [`prefault_while`] readied if there are any, else
/// fresh ones.
pub struct Band {
    pages: Pages,
    len: usize,
}

impl Band {
    pub fn zeros(len: usize) -> Band {
        let bytes = (len * std::mem::size_of::<f32>())
            .next_multiple_of(PAGE)
            .max(PAGE);
        let spare = SPARE.lock().unwrap_or_else(|e| e.into_inner()).take();
        let (pages, ready) = spare
            .and_then(|pages| {
                let ready = pages.len.min(bytes);
                Some((pages.resize(bytes)?, ready))
            })
            .unwrap_or_else(|| (Pages::map(bytes), 0));
        pages.fault_in(ready..bytes);
        Band { pages, len }
    }
}

impl Deref for Band {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        // SAFETY: `len` f32s fit in the mapping (page-aligned, so aligned for f32), which
        // holds zeros or what was written through `deref_mut`
        unsafe { std::slice::from_raw_parts(self.pages.ptr.cast::<f32>(), self.len) }
    }
}

impl DerefMut for Band {
    fn deref_mut(&mut self) -> &mut [f32] {
        // SAFETY: as in `deref`, borrowed mutably through `self`
        unsafe { std::slice::from_raw_parts_mut(self.pages.ptr.cast::<f32>(), self.len) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_band_is_zeros_whether_it_takes_prefaulted_pages_or_not() {
        // fresh pages, then pages readied ahead (fewer, as many and more than needed),
        // each band written and dropped before the next takes the spare
        for spare in [None, Some(1 << 16), Some(1 << 20), Some(8 << 20)] {
            if let Some(cap) = spare {
                prefault_while(cap, || true);
            }
            let mut b = Band::zeros(300_001);
            assert_eq!(b.len(), 300_001);
            assert!(b.iter().all(|&v| v == 0.0), "spare {spare:?}");
            b.iter_mut().enumerate().for_each(|(i, v)| *v = i as f32);
            assert_eq!(b[300_000], 300_000.0);
            assert!(SPARE.lock().unwrap().is_none(), "the band took the spare");
        }
        // readied pages no band takes are given back
        prefault_while(1 << 20, || true);
        drop_spare();
        assert!(SPARE.lock().unwrap().is_none());
        // nothing readied when `more` says no at once
        prefault_while(1 << 20, || false);
        assert!(SPARE.lock().unwrap().is_none());
    }
}
