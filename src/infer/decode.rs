//! Turning a model's raw output into per-class probabilities over the tile: where the
//! output's pixels sit in the input ([`Placement`]: the same grid, a coarser stride
//! resized bilinearly as Hugging Face's post-processing does, or a centred crop), the
//! bilinear resize itself, a fast softmax, and mask-classification decoding
//! (MaskFormer / Mask2Former / OneFormer). The loops work on contiguous class planes
//! and run on rayon's pool: ONNX Runtime is idle while a batch is decoded.

use std::fmt;

use rayon::prelude::*;

/// Strides an output may have: the output is 1/s of the input.
pub const STRIDES: [usize; 5] = [2, 4, 8, 16, 32];

/// Where a model's `oh x ow` output sits in its `h x w` input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// One output pixel per input pixel.
    Same,
    /// The whole tile at 1/s: resized bilinearly (half-pixel centres) to the tile.
    Stride(usize),
    /// A smaller output centred in the input (valid convolutions).
    Centred { off_y: usize, off_x: usize },
}

impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Placement::Same => f.write_str("same size as the input"),
            Placement::Stride(s) => write!(
                f,
                "stride {s}: the whole tile at 1/{s}, resized bilinearly (align_corners=false) to the tile"
            ),
            Placement::Centred { off_y, off_x } if off_y == off_x => {
                write!(f, "centred crop: {off_y} px short of the tile on every side")
            }
            Placement::Centred { off_y, off_x } => {
                write!(f, "centred crop: {off_y} px short of the tile at top and bottom, {off_x} at the sides")
            }
        }
    }
}

/// How an output shape was read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    pub placement: Placement,
    /// "from the sidecar's output_stride", "from the shapes", ...
    pub why: String,
}

/// Decides where an `oh x ow` output sits in an `h x w` input: the sidecar's
/// `output_stride` or `output_offset_px` when given; else equal sizes, an exact stride
/// of 2..32, or a centred crop. Err is the problem, for a one-line message.
pub fn placement(
    (h, w): (usize, usize),
    (oh, ow): (usize, usize),
    stride: Option<usize>,
    offset_px: Option<usize>,
) -> Result<Reading, String> {
    let shapes = format!("the model outputs {oh}x{ow} for {h}x{w} tiles");
    if let Some(s) = stride.filter(|&s| s > 1) {
        if oh * s == h && ow * s == w {
            return Ok(Reading {
                placement: Placement::Stride(s),
                why: format!("the sidecar's output_stride {s}"),
            });
        }
        return Err(format!(
            "{shapes}, not 1/{s} of it (sidecar output_stride {s}); use a tile that is a multiple of {s} (--tile)"
        ));
    }
    if let Some(o) = offset_px {
        if oh + 2 * o == h && ow + 2 * o == w {
            return Ok(Reading {
                placement: Placement::Centred { off_y: o, off_x: o },
                why: format!("the sidecar's output_offset_px {o}"),
            });
        }
        return Err(format!(
            "{shapes}, not {o} px short of it on every side (sidecar output_offset_px {o}); fix output_offset_px in the sidecar MODEL.onnx.json"
        ));
    }
    if oh == h && ow == w {
        return Ok(Reading {
            placement: Placement::Same,
            why: "the shapes".into(),
        });
    }
    if oh > h || ow > w {
        return Err(format!(
            "{shapes}: larger than the input; terratile reads outputs of the input's size, 1/2..1/32 of it (a stride), or smaller and centred"
        ));
    }
    if stride != Some(1) {
        // an exact stride: the output covers the whole tile
        if let Some(&s) = STRIDES.iter().find(|&&s| oh * s == h && ow * s == w) {
            let also = if (h - oh) % 2 == 0 && (w - ow) % 2 == 0 {
                "; a centred crop would fit too: set output_offset_px in the sidecar for that reading"
            } else {
                ""
            };
            return Ok(Reading {
                placement: Placement::Stride(s),
                why: format!("the shapes ({oh}x{ow} is 1/{s} of {h}x{w}){also}"),
            });
        }
        // nearly a stride: the tile is not a multiple of it
        if let Some(&s) = STRIDES
            .iter()
            .find(|&&s| h.div_ceil(s) == oh && w.div_ceil(s) == ow || h / s == oh && w / s == ow)
        {
            if oh * 2 <= h {
                return Err(format!(
                    "{shapes}: stride {s} does not divide the tile; use a tile that is a multiple of {s} (--tile), or set output_stride / output_offset_px in the sidecar MODEL.onnx.json"
                ));
            }
        }
    }
    Ok(Reading {
        placement: Placement::Centred {
            off_y: (h - oh) / 2,
            off_x: (w - ow) / 2,
        },
        why: "the shapes (a smaller output is centred)".into(),
    })
}

/// Source rows (or columns) of a bilinear resize from `n_in` to `n_out` with
/// half-pixel centres (`align_corners=false`), as PyTorch's `interpolate` computes
/// them: for each output index, the two input indices and the second one's weight.
pub(crate) fn taps(n_in: usize, n_out: usize) -> Vec<(usize, usize, f32)> {
    let scale = n_in as f32 / n_out as f32;
    (0..n_out)
        .map(|d| {
            let src = (scale * (d as f32 + 0.5) - 0.5).max(0.0);
            let i0 = (src.floor() as usize).min(n_in - 1);
            let i1 = if i0 < n_in - 1 { i0 + 1 } else { i0 };
            let l1 = (src - i0 as f32).clamp(0.0, 1.0);
            (i0, i1, l1)
        })
        .collect()
}

/// Bilinear resize of `planes` planes of `ih x iw` (`src`) to `oh x ow` (`dst`),
/// `align_corners=false`: columns first, then rows. Planes run in parallel.
pub fn resize_bilinear(
    src: &[f32],
    planes: usize,
    (ih, iw): (usize, usize),
    (oh, ow): (usize, usize),
    dst: &mut [f32],
) {
    debug_assert_eq!(src.len(), planes * ih * iw);
    debug_assert_eq!(dst.len(), planes * oh * ow);
    let tx = taps(iw, ow);
    let ty = taps(ih, oh);
    dst.par_chunks_mut(oh * ow)
        .zip(src.par_chunks(ih * iw))
        .for_each_init(Vec::new, |tmp, (d, s)| {
            resize_plane(s, (ih, iw), (oh, ow), &tx, &ty, tmp, d)
        });
}

/// One plane of [`resize_bilinear`]; `tmp` is scratch.
fn resize_plane(
    s: &[f32],
    (ih, iw): (usize, usize),
    (_oh, ow): (usize, usize),
    tx: &[(usize, usize, f32)],
    ty: &[(usize, usize, f32)],
    tmp: &mut Vec<f32>,
    d: &mut [f32],
) {
    // columns: every input row widened to ow
    tmp.resize(ih * ow, 0.0);
    for (row, out) in s.chunks_exact(iw).zip(tmp.chunks_exact_mut(ow)) {
        for (o, &(i0, i1, l1)) in out.iter_mut().zip(tx) {
            *o = (1.0 - l1) * row[i0] + l1 * row[i1];
        }
    }
    // rows: a weighted sum of two widened rows, a straight pass over slices
    for (out, &(i0, i1, l1)) in d.chunks_exact_mut(ow).zip(ty) {
        let (a, b) = (&tmp[i0 * ow..][..ow], &tmp[i1 * ow..][..ow]);
        let l0 = 1.0 - l1;
        for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
            *o = l0 * x + l1 * y;
        }
    }
}

/// `exp(x)` for `x <= 0` (after the softmax's maximum is subtracted) to about 2e-7
/// relative error, branch-free so that loops over slices vectorise: `2^n * p(r)` with
/// `r = x - n ln 2` and a degree-6 polynomial. Inputs below -87 give 0-ish values.
#[inline(always)]
pub fn exp_nonpositive(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.max(-87.0);
    // round to nearest via the 1.5 * 2^23 trick (vectorises, unlike round())
    let n = (x * LOG2E + 12_582_912.0) - 12_582_912.0;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (0.166_666_67
                    + r * (0.041_666_668 + r * (0.008_333_334 + r * 0.001_388_889)))));
    let bits = ((n as i32 + 127) as u32) << 23;
    p * f32::from_bits(bits)
}

/// Up to this many classes the softmax uses libm's `expf` and a division (the
/// arithmetic of ONNX Runtime's own Softmax to the last bit in practice: a model with
/// Softmax inside and the same model's logits give the same confidences); above it,
/// where the exponentials dominate a tile's decoding, the vectorised [`exp_nonpositive`].
pub const EXACT_SOFTMAX_MAX_CLASSES: usize = 32;

/// In-place softmax over `k` class planes of `px` pixels each (`d` is `[k, px]`), a
/// straight pass over slices per class. A NaN score gives NaN probabilities.
pub fn softmax_planes(d: &mut [f32], k: usize, px: usize) {
    debug_assert_eq!(d.len(), k * px);
    let mut max = vec![f32::NEG_INFINITY; px];
    let mut nan = vec![0f32; px];
    for plane in d.chunks_exact(px) {
        for ((m, n), &v) in max.iter_mut().zip(nan.iter_mut()).zip(plane) {
            *m = m.max(v);
            // 0, or NaN for a NaN (or infinite) score
            *n += if v.is_finite() { 0.0 } else { f32::NAN };
        }
    }
    let mut sum = vec![0f32; px];
    let exact = k <= EXACT_SOFTMAX_MAX_CLASSES;
    for plane in d.chunks_exact_mut(px) {
        for ((v, s), &m) in plane.iter_mut().zip(sum.iter_mut()).zip(&max) {
            *v = if exact {
                (*v - m).exp()
            } else {
                exp_nonpositive(*v - m)
            };
            *s += *v;
        }
    }
    for (s, n) in sum.iter_mut().zip(&nan) {
        *s += n;
    }
    if exact {
        for plane in d.chunks_exact_mut(px) {
            for (v, s) in plane.iter_mut().zip(&sum) {
                *v /= s;
            }
        }
        return;
    }
    for s in sum.iter_mut() {
        *s = 1.0 / *s;
    }
    for plane in d.chunks_exact_mut(px) {
        for (v, s) in plane.iter_mut().zip(&sum) {
            *v *= s;
        }
    }
}

/// Strides up to this use [`resize_softmax`] for logits: its tables hold `2s` powers.
pub const FUSED_MAX_STRIDE: usize = 8;

/// Bilinear resize (`align_corners=false`) of `k` logit planes from `ih x iw` to the
/// exact multiple `oh x ow = s * (ih x iw)` (`s` up to [`FUSED_MAX_STRIDE`]), then the
/// softmax over the classes at every output pixel: the same numbers as
/// [`resize_bilinear`] followed by [`softmax_planes`] (within 1e-5 relative), with a
/// quarter (stride 4) of the exponentials and one pass over the output.
///
/// Rows are widened first (`Z = resize along x`, shifted by each column's maximum over
/// the classes). An output row between low-resolution rows `i0` and `i1` at weights
/// `l0 = a / 2s` and `l1 = b / 2s` (half-pixel centres make every weight a multiple of
/// `1 / 2s`) has `exp(l0 Z0 + l1 Z1) = r0^a * r1^b` with `r = exp(Z / 2s)`: one
/// exponential per widened value, its powers by multiplication, one product per output
/// value. The shifts `l0 m0 + l1 m1` are the same for every class, so the softmax is
/// unchanged. Output row bands run in parallel. A non-finite logit under an output
/// pixel (through either row or column) gives NaN probabilities there, as the separate
/// steps do. Returns false (and writes nothing) when the sizes are not such a stride.
pub fn resize_softmax(
    src: &[f32],
    k: usize,
    (ih, iw): (usize, usize),
    (oh, ow): (usize, usize),
    dst: &mut [f32],
) -> bool {
    debug_assert_eq!(src.len(), k * ih * iw);
    debug_assert_eq!(dst.len(), k * oh * ow);
    let s = oh / ih.max(1);
    if k == 0 || !(2..=FUSED_MAX_STRIDE).contains(&s) || oh != s * ih || ow != s * iw {
        return false;
    }
    let two_s = 2 * s;
    let tx = taps(iw, ow);
    // per output row: (i0, a, i1, b) with exp(l0 Z0 + l1 Z1) = r0^a r1^b, a + b = 2s,
    // and the second row of the taps (its NaNs count even at weight 0, as in the resize)
    let mut rows = Vec::with_capacity(oh);
    for &(i0, i1, l1) in &taps(ih, oh) {
        let b = (l1 * two_s as f32).round();
        if (b - l1 * two_s as f32).abs() > 1e-3 {
            return false;
        }
        let b = b as usize;
        rows.push(if i0 == i1 || b == 0 {
            (i0, two_s, i0, 0, i1)
        } else {
            (i0, two_s - b, i1, b, i1)
        });
    }
    let plane = oh * ow;
    // bands of output rows, each written by one task (one slice per class plane)
    let band = s * 8;
    let mut tasks: Vec<(usize, Vec<&mut [f32]>)> = Vec::new();
    let mut planes: Vec<&mut [f32]> = dst.chunks_exact_mut(plane).collect();
    let mut y0 = 0;
    while y0 < oh {
        let y1 = (y0 + band).min(oh);
        let mut parts = Vec::with_capacity(k);
        for p in planes.iter_mut() {
            let (head, tail) = std::mem::take(p).split_at_mut((y1 - y0) * ow);
            *p = tail;
            parts.push(head);
        }
        tasks.push((y0, parts));
        y0 = y1;
    }
    tasks.into_par_iter().for_each(|(y0, mut parts)| {
        let n_rows = parts[0].len() / ow;
        // the powers r^1..r^2s of the low-resolution rows this band reads, by row
        let lo = rows[y0].0;
        let hi = (y0..y0 + n_rows).map(|y| rows[y].4).max().unwrap_or(lo);
        let per_row = two_s * k * ow;
        SCRATCH.with_borrow_mut(|[pow, nans, z, m, sum]| {
            pow.resize((hi - lo + 1) * per_row, 0.0);
            nans.resize((hi - lo + 1) * ow, 0.0);
            z.resize(k * ow, 0.0);
            m.resize(ow, 0.0);
            sum.resize(ow, 0.0);
            for i in lo..=hi {
                widen_row(src, k, (ih, iw), i, &tx, z);
                m.fill(f32::NEG_INFINITY);
                let nan = &mut nans[(i - lo) * ow..][..ow];
                for zc in z.chunks_exact(ow) {
                    for ((mm, nn), &v) in m.iter_mut().zip(nan.iter_mut()).zip(zc) {
                        *mm = mm.max(v);
                        *nn += if v.is_finite() { 0.0 } else { f32::NAN };
                    }
                }
                let inv = 1.0 / two_s as f32;
                let t = &mut pow[(i - lo) * per_row..][..per_row];
                for (c, zc) in z.chunks_exact(ow).enumerate() {
                    // r = exp((z - m) / 2s), NaN where the column holds a non-finite logit
                    let r1 = &mut t[c * ow..][..ow];
                    for (((r, &v), &mm), &nn) in r1.iter_mut().zip(zc).zip(m.iter()).zip(nan.iter())
                    {
                        *r = exp_nonpositive((v - mm) * inv) + nn;
                    }
                    for j in 1..two_s {
                        let (prev, next) = t.split_at_mut(j * k * ow);
                        let last = &prev[(j - 1) * k * ow + c * ow..][..ow];
                        let first = &prev[c * ow..][..ow];
                        for ((o, &a), &b) in next[c * ow..][..ow].iter_mut().zip(last).zip(first) {
                            *o = a * b;
                        }
                    }
                }
            }
            let power = |i: usize, e: usize, c: usize| -> &[f32] {
                &pow[(i - lo) * per_row + (e - 1) * k * ow + c * ow..][..ow]
            };
            for r in 0..n_rows {
                let (i0, a, i1, b, second) = rows[y0 + r];
                // 0 or NaN: a non-finite logit in the second row counts even at weight 0
                sum.copy_from_slice(&nans[(second - lo) * ow..][..ow]);
                for (c, part) in parts.iter_mut().enumerate() {
                    let out = &mut part[r * ow..][..ow];
                    if b == 0 {
                        out.copy_from_slice(power(i0, a, c));
                    } else {
                        for ((o, &p), &q) in
                            out.iter_mut().zip(power(i0, a, c)).zip(power(i1, b, c))
                        {
                            *o = p * q;
                        }
                    }
                    for (s, &o) in sum.iter_mut().zip(out.iter()) {
                        *s += o;
                    }
                }
                for v in sum.iter_mut() {
                    *v = 1.0 / *v;
                }
                for part in parts.iter_mut() {
                    for (o, &inv) in part[r * ow..][..ow].iter_mut().zip(sum.iter()) {
                        *o *= inv;
                    }
                }
            }
        });
    });
    true
}

thread_local! {
    /// [`resize_softmax`]'s scratch per worker thread: power tables, NaN flags, a
    /// widened row, column maxima, sums (reused: tens of MB for many classes).
    static SCRATCH: std::cell::RefCell<[Vec<f32>; 5]> = const { std::cell::RefCell::new([Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new()]) };
}

/// Low-resolution row `i` of every class plane resized along x (`z` is `[k, ow]`).
fn widen_row(
    src: &[f32],
    k: usize,
    (ih, iw): (usize, usize),
    i: usize,
    tx: &[(usize, usize, f32)],
    z: &mut [f32],
) {
    let ow = tx.len();
    for c in 0..k {
        let row = &src[(c * ih + i) * iw..][..iw];
        for (o, &(i0, i1, l1)) in z[c * ow..][..ow].iter_mut().zip(tx) {
            *o = (1.0 - l1) * row[i0] + l1 * row[i1];
        }
    }
}

/// Softmax of every item (`[k, px]` each) of a batch, items in parallel.
pub fn softmax_batch(d: &mut [f32], k: usize, px: usize) {
    d.par_chunks_mut(k * px)
        .for_each(|item| softmax_planes(item, k, px));
}

/// Mask classification of one item: `classes` `[q, k+1]` class logits (the last class
/// "no object") and `masks` `[q, mh, mw]` mask logits give `[k, h, w]` per-class
/// scores: `sum_q softmax(classes[q])[c] * sigmoid(resize(masks[q]))`, the masks
/// resized bilinearly (`align_corners=false`) to the tile before the sigmoid, as
/// Hugging Face's `post_process_semantic_segmentation` does. Row bands in parallel.
pub fn mask_classification(
    classes: &[f32],
    masks: &[f32],
    (q, k): (usize, usize),
    (mh, mw): (usize, usize),
    (h, w): (usize, usize),
    out: &mut [f32],
) {
    debug_assert_eq!(classes.len(), q * (k + 1));
    debug_assert_eq!(masks.len(), q * mh * mw);
    debug_assert_eq!(out.len(), k * h * w);
    // per-query class probabilities without "no object"
    let mut probs = classes.to_vec();
    for row in probs.chunks_exact_mut(k + 1) {
        let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        let mut s = 0.0;
        for v in row.iter_mut() {
            *v = (*v - m).exp();
            s += *v;
        }
        for v in row.iter_mut() {
            *v /= s;
        }
    }
    // columns of every query's mask widened to w once
    let tx = taps(mw, w);
    let ty = taps(mh, h);
    let mut wide = vec![0f32; q * mh * w];
    wide.par_chunks_mut(mh * w)
        .zip(masks.par_chunks(mh * mw))
        .for_each(|(dst, src)| {
            for (row, out) in src.chunks_exact(mw).zip(dst.chunks_exact_mut(w)) {
                for (o, &(i0, i1, l1)) in out.iter_mut().zip(&tx) {
                    *o = (1.0 - l1) * row[i0] + l1 * row[i1];
                }
            }
        });
    // bands of output rows: each query's rows resized, sigmoid, added into k planes
    let band = 8usize;
    let bands: Vec<(usize, Vec<f32>)> = (0..h.div_ceil(band))
        .into_par_iter()
        .map(|b| {
            let (y0, y1) = (b * band, ((b + 1) * band).min(h));
            let n = (y1 - y0) * w;
            let mut acc = vec![0f32; k * n];
            let mut sig = vec![0f32; n];
            for qi in 0..q {
                let plane = &wide[qi * mh * w..][..mh * w];
                for (y, out) in (y0..y1).zip(sig.chunks_exact_mut(w)) {
                    let (i0, i1, l1) = ty[y];
                    let (a, bb) = (&plane[i0 * w..][..w], &plane[i1 * w..][..w]);
                    let l0 = 1.0 - l1;
                    for ((o, &x), &z) in out.iter_mut().zip(a).zip(bb) {
                        let v = l0 * x + l1 * z;
                        // sigmoid(v) = 1 / (1 + exp(-v)), exp of a non-positive number
                        let e = exp_nonpositive(-v.abs());
                        let s = 1.0 / (1.0 + e);
                        *o = if v >= 0.0 { s } else { e * s };
                    }
                }
                let cp = &probs[qi * (k + 1)..][..k];
                for (c, &p) in cp.iter().enumerate() {
                    for (a, &s) in acc[c * n..][..n].iter_mut().zip(&sig) {
                        *a += p * s;
                    }
                }
            }
            (y0, acc)
        })
        .collect();
    let plane = h * w;
    for (y0, acc) in bands {
        let n = acc.len() / k;
        for c in 0..k {
            out[c * plane + y0 * w..][..n].copy_from_slice(&acc[c * n..][..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_is_close_to_exp() {
        let mut worst = 0f32;
        let mut x = -80.0f32;
        while x <= 0.0 {
            let (a, b) = (exp_nonpositive(x), x.exp());
            worst = worst.max(((a - b) / b).abs());
            x += 0.001_7;
        }
        assert!(worst < 1e-6, "relative error {worst}");
        assert_eq!(exp_nonpositive(0.0), 1.0);
    }

    #[test]
    fn softmax_sums_to_one_and_nan_stays_nan() {
        let mut d = vec![1.0, 5.0, f32::NAN, 0.0, 3.0, 2.0];
        softmax_planes(&mut d, 2, 3);
        for p in 0..2 {
            assert!((d[p] + d[3 + p] - 1.0).abs() < 1e-6);
        }
        assert!((d[0] - 1.0 / (1.0 + (-1.0f32).exp())).abs() < 1e-6);
        assert!(d[2].is_nan() && d[5].is_nan());
    }

    /// The fused resize + softmax equals the two steps, for strides 2, 4 and 8, many
    /// classes, wide logit ranges and a NaN logit.
    #[test]
    fn fused_resize_softmax_equals_resize_then_softmax() {
        let mut x = 12345u64;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / (1u64 << 24) as f32
        };
        for (k, s, ih, iw, spread) in [(150, 4, 5, 7, 8.0), (7, 2, 6, 3, 30.0), (40, 8, 3, 4, 2.0)]
        {
            let mut src: Vec<f32> = (0..k * ih * iw).map(|_| (rnd() - 0.5) * spread).collect();
            if k == 40 {
                src[k / 2 * ih * iw + iw + 1] = f32::NAN; // class 20, row 1, column 1
            }
            let (oh, ow) = (ih * s, iw * s);
            let mut two = vec![0f32; k * oh * ow];
            resize_bilinear(&src, k, (ih, iw), (oh, ow), &mut two);
            softmax_planes(&mut two, k, oh * ow);
            let mut fused = vec![0f32; k * oh * ow];
            assert!(resize_softmax(&src, k, (ih, iw), (oh, ow), &mut fused));
            for (i, (a, b)) in two.iter().zip(&fused).enumerate() {
                if a.is_nan() || b.is_nan() {
                    assert!(
                        a.is_nan() && b.is_nan(),
                        "k {k} s {s} value {i}: {a} vs {b}"
                    );
                } else {
                    assert!(
                        (a - b).abs() <= 1e-5 * a.abs().max(1e-3),
                        "k {k} s {s} value {i}: {a} vs {b}"
                    );
                }
            }
        }
        // not an exact stride of 2..8: refused, for the separate steps
        let mut out = vec![0f32; 2 * 10 * 10];
        assert!(!resize_softmax(
            &[0.0; 2 * 3 * 3],
            2,
            (3, 3),
            (10, 10),
            &mut out
        ));
    }

    /// The half-pixel taps PyTorch uses: 2 -> 8 gives source positions
    /// -0.375 (clamped to 0), -0.125 (0), 0.125, 0.375, 0.625, 0.875, 1.125, 1.375 (clamped
    /// to the last pixel).
    #[test]
    fn bilinear_matches_torch_half_pixel_centres() {
        let src = [0.0f32, 8.0];
        let mut dst = vec![0f32; 8];
        resize_bilinear(&src, 1, (1, 2), (1, 8), &mut dst);
        assert_eq!(dst, vec![0.0, 0.0, 1.0, 3.0, 5.0, 7.0, 8.0, 8.0]);
        // a constant plane stays constant; the identity size is a copy
        let src: Vec<f32> = (0..12).map(|v| v as f32).collect();
        let mut same = vec![0f32; 12];
        resize_bilinear(&src, 1, (3, 4), (3, 4), &mut same);
        assert_eq!(same, src);
    }

    #[test]
    fn placements() {
        let p = |hw, o, s, off| placement(hw, o, s, off).map(|r| r.placement);
        assert_eq!(p((256, 256), (256, 256), None, None), Ok(Placement::Same));
        assert_eq!(
            p((256, 256), (64, 64), None, None),
            Ok(Placement::Stride(4))
        );
        assert_eq!(
            p((256, 256), (252, 252), None, None),
            Ok(Placement::Centred { off_y: 2, off_x: 2 })
        );
        // ambiguous 128 of 256: the sidecar's offset says centred
        assert_eq!(
            p((256, 256), (128, 128), None, Some(64)),
            Ok(Placement::Centred {
                off_y: 64,
                off_x: 64
            })
        );
        assert_eq!(
            p((256, 256), (128, 128), Some(1), None),
            Ok(Placement::Centred {
                off_y: 64,
                off_x: 64
            })
        );
        assert!(p((250, 250), (63, 63), None, None).is_err());
        assert!(p((256, 256), (60, 60), Some(4), None).is_err());
    }

    #[test]
    fn one_query_mask_classification_is_its_class_times_its_mask() {
        // one query, 2 classes + no-object with logits [0, ln 2, ln 1]: softmax 1/4, 2/4, 1/4
        let classes = [0.0, 2f32.ln(), 0.0];
        let masks = [0.0f32, 10.0, -10.0, 0.0]; // 2x2, resized to 4x4
        let mut out = vec![0f32; 2 * 16];
        mask_classification(&classes, &masks, (1, 2), (2, 2), (4, 4), &mut out);
        let sig = |v: f32| 1.0 / (1.0 + (-v).exp());
        // top-left output pixel reads the top-left mask logit exactly
        assert!((out[0] - 0.25 * sig(0.0)).abs() < 1e-6);
        assert!((out[16] - 0.5 * sig(0.0)).abs() < 1e-6);
        // top-right reads 10
        assert!((out[3] - 0.25 * sig(10.0)).abs() < 1e-6);
        // the second pixel of the top row interpolates 0 and 10 at 1/4
        assert!((out[1] - 0.25 * sig(2.5)).abs() < 1e-6);
    }
}
