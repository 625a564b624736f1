//! Large scratch buffers (the stitcher's band of class sums, decoded batches): zeros
//! written up front, on transparent huge pages where the system allows.

/// `len` zeros, written (not calloc's untouched pages): the band of class sums is read
/// before it is written, and a page first read maps the shared zero page, so its first
/// write is a copy-on-write fault with a TLB flush on every core, per 4 KiB (measured:
/// a tenth of a 150-class run). Large buffers ask for transparent huge pages too.
pub fn touched_zeros(len: usize) -> Vec<f32> {
    let mut v: Vec<f32> = Vec::with_capacity(len);
    #[cfg(target_os = "linux")]
    if len * 4 >= 4 << 20 {
        const HUGE: usize = 2 << 20;
        let start = v.as_mut_ptr() as usize;
        let (lo, hi) = (
            start.next_multiple_of(HUGE),
            (start + len * 4) / HUGE * HUGE,
        );
        if hi > lo {
            // SAFETY: the range lies inside the vector's own allocation; MADV_HUGEPAGE
            // only changes how the kernel backs it
            unsafe {
                libc::madvise(lo as *mut libc::c_void, hi - lo, libc::MADV_HUGEPAGE);
            }
        }
    }
    v.resize(len, 0.0);
    v
}
