//! Large scratch buffers (the stitcher's band of class sums, decoded batches): zeros
//! written up front, on ordinary 4 KiB pages.

/// `len` zeros, written (not calloc's untouched pages): the band of class sums is read
/// before it is written, and a page first read maps the shared zero page, so its first
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
