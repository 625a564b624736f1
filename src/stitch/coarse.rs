//! Stitching at the model's own resolution, for models whose scores come out at 1/s of
//! the tile (SegFormer, UPerNet, DPT: s = 4 to 32).
//!
//! The tiles sit on the model's grid (every tile starts at a multiple of s, see
//! [`tiles::GridSpec::align_px`]), so each tile's s x s output cells are cells of one
//! grid over the whole raster. Their scores are blended there, each cell weighted by
//! the mean of the tile's pixel weights over it; once a cell row is final, the raster's
//! scores are resized bilinearly (half-pixel centres, `align_corners=false`, clamped at
//! the raster's edges) to each output pixel, as Hugging Face's post-processing resizes
//! a whole image's logits; the class is the argmax and the confidence the softmax of
//! the resized logits (or the resized probability, for models that output
//! probabilities). One tile over a whole raster gives exactly the model's own
//! post-processing.
//!
//! Nothing of the `classes` planes is held at full resolution: the band holds s² fewer
//! values, and an output pixel's argmax looks only at the classes that can win in its
//! cell: the difference of two classes' resized scores is bilinear between four cells,
//! so a class below another at all four cells is below it at every pixel between them
//! ([`candidates`]).

use std::ops::Range;

use tiles::{Grid, Tile};

use super::{Blend, Rows, Stripe, TileProbs};
use crate::infer::decode;
use crate::raster::buffer::Band;

/// Classes whose resized logit is this far below another's cannot change the softmax in
/// f32 (e^-30 per class is below f32's resolution of a sum near 1): the confidence
/// leaves them out.
const SOFTMAX_CUT: f32 = 30.0;

/// A cell's state once its row is final.
const CELL_OK: u8 = 0;
/// No tile gave it weight (its pixels are all nodata, or its tiles were skipped).
const CELL_MISSING: u8 = 1;
/// A tile gave NaN scores for it.
const CELL_NAN: u8 = 2;

/// How a tile's row of cells was touched before the tile: its first `k` cells (those it
/// shares with the tile on its left, or all of them, or none), or another pattern
/// (a skipped tile beside it), cell by cell.
enum Touched {
    Leading(usize),
    Mixed(Vec<u8>),
}

impl Touched {
    fn of(flags: &[u8]) -> Touched {
        let k = flags.iter().take_while(|&&f| f != 0).count();
        if flags[k..].iter().all(|&f| f == 0) {
            Touched::Leading(k)
        } else {
            Touched::Mixed(flags.to_vec())
        }
    }
}

/// Blends tiles at 1/s and finishes rows at full resolution; the same interface as
/// [`super::Stitcher`].
pub struct CoarseStitcher {
    grid: Grid,
    s: usize,
    classes: usize,
    /// Pixel columns held: `x0..x0 + width`; rows handed back cover `own` only.
    x0: usize,
    width: usize,
    own: Range<usize>,
    blend: Blend,
    nodata: u16,
    confidence: bool,
    /// Cells of the whole raster: `gw x gh`.
    gw: usize,
    gh: usize,
    /// Cell columns held: `cx0..cx0 + cw`.
    cx0: usize,
    cw: usize,
    /// Cell rows held, a ring: cell row `j` in slot `j % lh`.
    lh: usize,
    /// `classes` planes of `lh * cw` weighted score sums (divided by `wsum` as they are
    /// read).
    acc: Band,
    wsum: Vec<f32>,
    /// Per cell: whether a tile added to its sums since its ring slot was last freed;
    /// the first tile writes them (a freed slot's sums are not cleared), and a cell no
    /// tile touched reads as 0.
    touched: Vec<u8>,
    /// Cell rows below this are final (no tile adds to them any more); rows below
    /// `kept` are freed. A final cell has weight ([`CELL_OK`]) or not.
    settled: usize,
    kept: usize,
    /// Validity of pixel rows, a ring of `vh` rows (row `y` in slot `y % vh`).
    vh: usize,
    valid: Vec<u8>,
    /// First pixel row not yet handed back.
    band_y0: usize,
    /// The scores are logits (softmax for the confidence), else probabilities.
    logits: bool,
    /// Pixels whose scores were NaN (made nodata) in the rows finished so far.
    pub nan_px: u64,
    /// Scratch of [`CoarseStitcher::finish_row`].
    pair: RowPair,
    /// The resize's taps ([`decode::taps`]): per pixel row the two cell rows it reads and
    /// the second one's weight; per own pixel column the same in the stripe's cells.
    ytaps: Vec<(usize, usize, f32)>,
    xtaps: Vec<(usize, usize, f32)>,
    /// The stripe is the raster's last (rightmost): its last tile row is the run's.
    last_stripe: bool,
    /// Threads that finish the run's last rows ([`CoarseStitcher::finish_threads`]).
    finish_threads: usize,
}

/// Per-cell weights from a tile's per-pixel weights `w` (one per window pixel): the
/// mean over the cell's pixels in the window; cells past the window weigh nothing.
fn cell_weights(w: &[f32], s: usize) -> Vec<f32> {
    w.chunks(s)
        .map(|c| c.iter().sum::<f32>() / c.len() as f32)
        .collect()
}

/// The larger of two values; with NaN, either (unlike `f32::max`, it vectorises; a NaN
/// cell's pairs are not read).
#[inline]
fn max(a: f32, b: f32) -> f32 {
    if a > b {
        a
    } else {
        b
    }
}

/// The smaller of two values; as [`max`].
#[inline]
fn min(a: f32, b: f32) -> f32 {
    if a < b {
        a
    } else {
        b
    }
}

/// The margin a class's largest difference to the reference must reach to be a
/// candidate, from the reference's four cells: bilinear values round a few ulps away
/// from their exact value.
#[inline]
fn margin(r: [f32; 4]) -> f32 {
    let big = r[0].abs().max(r[1].abs()).max(r[2].abs().max(r[3].abs()));
    -1e-5 * (1.0 + big)
}

/// Adds `(c, t)` to `hits` for every pair `t` whose `gap` reaches `bar[t] - cut`: a few
/// per thousand, so eight pairs are tested at once first.
fn push_hits(c: usize, gap: &[f32], bar: &[f32], cut: f32, hits: &mut Vec<(u16, u32)>) {
    for (k, (g8, b8)) in gap.chunks(8).zip(bar.chunks(8)).enumerate() {
        let any = g8
            .iter()
            .zip(b8)
            .fold(false, |any, (&g, &b)| any | (g >= b - cut));
        if any {
            for (i, (&g, &b)) in g8.iter().zip(b8).enumerate() {
                if g >= b - cut {
                    hits.push((c as u16, (8 * k + i) as u32));
                }
            }
        }
    }
}

/// Two cell rows under the own pixel columns, gathered class by class, and for each
/// pair of neighbouring cells the classes that can win between the four cells.
///
/// Cell `u` of a gathered row is the stripe's cell `min(first + u, last)`; the pair `t`
/// is cells `t` and `t + 1` (the last pair is clamped at the raster's edge, as the
/// resize's taps are). A reference class is taken per pair (the one whose smallest
/// corner is largest); the difference of two classes' resized scores is bilinear
/// between the four cells, so it is largest at one of them: a class below the reference
/// at all four is below it at every pixel between them, and is no candidate. When the
/// four cells share their largest class, every other class below it by the margin the
/// search keeps, that class is the reference and the only candidate: no search.
#[derive(Default)]
struct RowPair {
    /// Pairs, and gathered cells per row (`n + 1`).
    n: usize,
    m: usize,
    /// Two gathered cell rows, each `[class][m]`, normalised: `vals[top]` is the pair's
    /// upper row, the other its lower one; `row_of` says which cell row each holds (the
    /// next pair's upper row is this pair's lower one: it is not gathered again).
    vals: [Vec<f32>; 2],
    top: usize,
    row_of: [Option<usize>; 2],
    /// Per pair: [`CELL_OK`] when all four cells are, [`CELL_NAN`] when any is NaN,
    /// else [`CELL_MISSING`].
    state: Vec<u8>,
    /// Candidates of pair `t`: `cand[cand_at[t]..cand_at[t + 1]]`, in class order; and
    /// (for the softmax) the classes within [`SOFTMAX_CUT`] of the winner somewhere.
    cand: Vec<u16>,
    cand_at: Vec<u32>,
    soft: Vec<u16>,
    soft_at: Vec<u32>,
    /// Per gathered row: each cell's largest value, the class it is the first of, and
    /// the largest value of the other classes.
    best: [Vec<f32>; 2],
    arg: [Vec<u32>; 2],
    second: [Vec<f32>; 2],
    /// The pairs searched class by class, and per such pair the reference class, its
    /// smallest corner, and its four corners and the margin (five values: five values
    /// per pair one by one, five planes of `n` for every pair at once).
    slow: Vec<u32>,
    reference: Vec<u32>,
    floor: Vec<f32>,
    refs: Vec<f32>,
    /// Scratch of [`RowPair::search_all`].
    gap: Vec<f32>,
    /// Scratch of [`RowPair::gather`]: the (class, pair) hits of the search and of the
    /// softmax's, and the counting sort's next slot per pair.
    hits: Vec<(u16, u32)>,
    soft_hits: Vec<(u16, u32)>,
    next: Vec<u32>,
    /// Per gathered row: its cells' inverse weights, and whether any class is NaN.
    inv: [Vec<f32>; 2],
    nan: [Vec<u8>; 2],
    /// Scratch of [`RowPair::gather_row`]: all ones for the cells a tile touched.
    keep: Vec<u32>,
}

impl RowPair {
    /// Gathers the pair of cell rows `j0` and `j1` (at `r0` and `r1` in the ring).
    #[allow(clippy::too_many_arguments)]
    fn gather(
        &mut self,
        (acc, wsum, touched): (&[f32], &[f32], &[u8]),
        (classes, plane): (usize, usize),
        (j0, j1, r0, r1): (usize, usize, usize, usize),
        (first, n, last): (usize, usize, usize),
        soft: bool,
    ) {
        let m = n + 1;
        if self.n != n {
            self.row_of = [None, None];
        }
        (self.n, self.m) = (n, m);
        // the upper row: the last pair's lower one, else gathered; then the lower row
        // into the other buffer
        self.top = match self.row_of {
            [Some(a), _] if a == j0 => 0,
            [_, Some(b)] if b == j0 => 1,
            _ => {
                self.gather_row(
                    0,
                    (acc, wsum, touched),
                    (classes, plane),
                    (j0, r0),
                    (first, m, last),
                );
                0
            }
        };
        let bottom = 1 - self.top;
        if self.row_of[bottom] != Some(j1) {
            self.gather_row(
                bottom,
                (acc, wsum, touched),
                (classes, plane),
                (j1, r1),
                (first, m, last),
            );
        }
        let (top, bot) = (self.top, bottom);
        let cell = |half: usize, r: usize, u: usize| {
            if self.nan[half][u] != 0 {
                CELL_NAN
            } else if wsum[r + (first + u).min(last)] > 0.0 {
                CELL_OK
            } else {
                CELL_MISSING
            }
        };
        self.state.clear();
        self.state.extend((0..n).map(|t| {
            let q = [
                cell(top, r0, t),
                cell(top, r0, t + 1),
                cell(bot, r1, t),
                cell(bot, r1, t + 1),
            ];
            if q.contains(&CELL_NAN) {
                CELL_NAN
            } else if q.iter().all(|&x| x == CELL_OK) {
                CELL_OK
            } else {
                CELL_MISSING
            }
        }));
        // A pair whose four cells have the same largest class, every other class below
        // it by more than the margin `bar` (which the search below keeps), has that class
        // as its only candidate: it is the reference, and no other class comes within
        // `bar` of it at any of the four cells. Most pairs are such (86% with 150 random
        // classes on the S2 scene, 96% with 7); the others are searched class by class.
        let mut hits = std::mem::take(&mut self.hits);
        let mut soft_hits = std::mem::take(&mut self.soft_hits);
        hits.clear();
        soft_hits.clear();
        self.slow.clear();
        {
            let (bt, bb) = (&self.best[top], &self.best[bot]);
            let (st, sb) = (&self.second[top], &self.second[bot]);
            let (at, ab) = (&self.arg[top], &self.arg[bot]);
            for t in 0..n {
                if self.state[t] != CELL_OK {
                    continue; // its pixels read no candidates
                }
                let a = at[t];
                let bar = margin([bt[t], bt[t + 1], bb[t], bb[t + 1]]);
                let cut = if soft { bar - SOFTMAX_CUT } else { bar };
                let alone = at[t + 1] == a
                    && ab[t] == a
                    && ab[t + 1] == a
                    && st[t] - bt[t] < cut
                    && st[t + 1] - bt[t + 1] < cut
                    && sb[t] - bb[t] < cut
                    && sb[t + 1] - bb[t + 1] < cut;
                if alone {
                    hits.push((a as u16, t as u32));
                    if soft {
                        soft_hits.push((a as u16, t as u32));
                    }
                } else {
                    self.slow.push(t as u32);
                }
            }
        }
        // Few other pairs (smooth scores) are searched pair by pair; past a quarter of
        // the pairs (noisy scores), every pair is searched, in loops over contiguous
        // cells. `perf` samples of the rows' finishing, SegFormer-B0 with 150 random
        // classes: on the S2 scene (14% of the pairs searched) 265 -> 180 pair by pair;
        // on random noise (47%) 298 for every pair, 366 pair by pair.
        if self.slow.len() * 4 > n {
            hits.clear();
            soft_hits.clear();
            self.search_all(classes, soft, &mut hits, &mut soft_hits);
        } else {
            // the other pairs: the reference class per pair, its four cells, then each
            // class's largest difference to them over the four (class by class, so that
            // each pair's hits come in class order)
            let k_slow = self.slow.len();
            self.floor.clear();
            self.floor.resize(k_slow, f32::NEG_INFINITY);
            self.reference.clear();
            self.reference.resize(k_slow, 0);
            for c in 0..classes {
                let (a, b) = (&self.vals[top][c * m..][..m], &self.vals[bot][c * m..][..m]);
                for ((&t, floor), reference) in self
                    .slow
                    .iter()
                    .zip(self.floor.iter_mut())
                    .zip(self.reference.iter_mut())
                {
                    let t = t as usize;
                    let lo = min(min(a[t], b[t]), min(a[t + 1], b[t + 1]));
                    if lo > *floor {
                        *floor = lo;
                        *reference = c as u32;
                    }
                }
            }
            // per slow pair: the reference's four cells and the margin
            self.refs.clear();
            for (&t, &c) in self.slow.iter().zip(&self.reference) {
                let (t, c) = (t as usize, c as usize);
                let (a, b) = (&self.vals[top][c * m..][..m], &self.vals[bot][c * m..][..m]);
                let r = [a[t], a[t + 1], b[t], b[t + 1]];
                self.refs.extend(r);
                self.refs.push(margin(r));
            }
            for c in 0..classes {
                let (a, b) = (&self.vals[top][c * m..][..m], &self.vals[bot][c * m..][..m]);
                for (&t, r) in self.slow.iter().zip(self.refs.chunks_exact(5)) {
                    let u = t as usize;
                    let gap = max(
                        max(a[u] - r[0], a[u + 1] - r[1]),
                        max(b[u] - r[2], b[u + 1] - r[3]),
                    );
                    if gap >= r[4] {
                        hits.push((c as u16, t));
                    }
                    if soft && gap >= r[4] - SOFTMAX_CUT {
                        soft_hits.push((c as u16, t));
                    }
                }
            }
        }
        for (hits, list, at) in [
            (&hits, &mut self.cand, &mut self.cand_at),
            (&soft_hits, &mut self.soft, &mut self.soft_at),
        ] {
            // a counting sort by pair keeps each pair's classes in class order
            at.clear();
            at.resize(n + 1, 0);
            for &(_, t) in hits.iter() {
                at[t as usize + 1] += 1;
            }
            for t in 0..n {
                at[t + 1] += at[t];
            }
            list.clear();
            list.resize(hits.len(), 0);
            let next = &mut self.next;
            next.clear();
            next.extend_from_slice(&at[..n]);
            for &(c, t) in hits.iter() {
                list[next[t as usize] as usize] = c;
                next[t as usize] += 1;
            }
        }
        (self.hits, self.soft_hits) = (hits, soft_hits);
    }

    /// The candidates of every pair (of the gathered rows `top` and its other): the
    /// reference class per pair (the one whose smallest corner is largest), its four
    /// cells, then each class's largest difference to them over the four, into `hits`
    /// (and `soft_hits`, within [`SOFTMAX_CUT`]) in class order per pair.
    fn search_all(
        &mut self,
        classes: usize,
        soft: bool,
        hits: &mut Vec<(u16, u32)>,
        soft_hits: &mut Vec<(u16, u32)>,
    ) {
        let (n, m, top) = (self.n, self.m, self.top);
        let bot = 1 - top;
        // the reference class per pair (branch-free loops over contiguous rows)
        self.floor.clear();
        self.floor.resize(n, f32::NEG_INFINITY);
        self.reference.clear();
        self.reference.resize(n, 0);
        self.gap.resize(m, 0.0);
        for c in 0..classes {
            let (a, b) = (&self.vals[top][c * m..][..m], &self.vals[bot][c * m..][..m]);
            let vmin = &mut self.gap[..m];
            for ((v, &x), &y) in vmin.iter_mut().zip(a).zip(b) {
                *v = min(x, y);
            }
            let (v0, v1) = (&vmin[..n], &vmin[1..=n]);
            let (floor, reference) = (&mut self.floor[..n], &mut self.reference[..n]);
            for t in 0..n {
                let lo = min(v0[t], v1[t]);
                // a mask of ones where `lo` is larger (a select the compiler vectorises)
                let better = ((lo > floor[t]) as u32).wrapping_neg();
                floor[t] = max(lo, floor[t]);
                reference[t] ^= (reference[t] ^ c as u32) & better;
            }
        }
        // the reference's four cells per pair and the margin: five planes of `n`
        self.refs.clear();
        self.refs.resize(5 * n, 0.0);
        for t in 0..n {
            let c = self.reference[t] as usize;
            let (a, b) = (&self.vals[top][c * m..][..m], &self.vals[bot][c * m..][..m]);
            let r = [a[t], a[t + 1], b[t], b[t + 1]];
            for (q, v) in r.into_iter().enumerate() {
                self.refs[q * n + t] = v;
            }
            self.refs[4 * n + t] = margin(r);
        }
        let (refs, gap) = (&self.refs, &mut self.gap[..n]);
        let r = |q: usize| &refs[q * n..][..n];
        let (r00, r01, r10, r11, bar) = (r(0), r(1), r(2), r(3), r(4));
        for c in 0..classes {
            let (a, b) = (&self.vals[top][c * m..][..m], &self.vals[bot][c * m..][..m]);
            let (a0, a1, b0, b1) = (&a[..n], &a[1..=n], &b[..n], &b[1..=n]);
            for t in 0..n {
                gap[t] = max(
                    max(a0[t] - r00[t], a1[t] - r01[t]),
                    max(b0[t] - r10[t], b1[t] - r11[t]),
                );
            }
            push_hits(c, gap, bar, 0.0, hits);
            if soft {
                push_hits(c, gap, bar, SOFTMAX_CUT, soft_hits);
            }
        }
    }

    /// Gathers cell row `j` (at `r` in the ring) into buffer `half`, normalised: the
    /// sums times their inverse weight (no pass of its own over every class plane), 0
    /// for cells without weight (whose value is then 0, or NaN from a NaN score given
    /// no weight); and which cells hold a NaN.
    fn gather_row(
        &mut self,
        half: usize,
        (acc, wsum, touched): (&[f32], &[f32], &[u8]),
        (classes, plane): (usize, usize),
        (j, r): (usize, usize),
        (first, m, last): (usize, usize, usize),
    ) {
        let straight = (last + 1 - first).min(m);
        let w = &wsum[r..];
        // the sums of cells no tile touched are stale: kept out by a mask of zero bits
        let keep = &mut self.keep;
        keep.clear();
        keep.extend((0..m).map(|u| {
            if touched[r + (first + u).min(last)] != 0 {
                u32::MAX
            } else {
                0
            }
        }));
        let inv = &mut self.inv[half];
        inv.clear();
        inv.extend((0..m).map(|u| {
            let w = w[(first + u).min(last)];
            if w > 0.0 {
                1.0 / w
            } else {
                0.0
            }
        }));
        let nan = &mut self.nan[half];
        nan.clear();
        nan.resize(m, 0);
        let vals = &mut self.vals[half];
        vals.resize(classes * m, 0.0);
        let (best, arg, second) = (
            &mut self.best[half],
            &mut self.arg[half],
            &mut self.second[half],
        );
        for v in [&mut *best, &mut *second] {
            v.clear();
            v.resize(m, f32::NEG_INFINITY);
        }
        arg.clear();
        arg.resize(m, 0);
        for c in 0..classes {
            let row = &acc[c * plane + r..];
            let d = &mut vals[c * m..][..m];
            for (((d, &v), &i), &k) in d[..straight]
                .iter_mut()
                .zip(&row[first..])
                .zip(inv.iter())
                .zip(keep.iter())
            {
                *d = f32::from_bits((v * i).to_bits() & k);
            }
            let edge = f32::from_bits((row[last] * inv[m - 1]).to_bits() & keep[m - 1]);
            d[straight..].fill(edge);
            // NaN compares false: it leaves the largest values as they are (and its
            // cell's pairs are not read)
            for (f, &v) in nan.iter_mut().zip(d.iter()) {
                *f |= v.is_nan() as u8;
            }
            let c = c as u32;
            for (((b, a), s2), &v) in best[..m]
                .iter_mut()
                .zip(arg[..m].iter_mut())
                .zip(second[..m].iter_mut())
                .zip(d.iter())
            {
                let above = v > *b;
                let mask = (above as u32).wrapping_neg();
                *s2 = max(*s2, min(*b, v));
                *a ^= (*a ^ c) & mask;
                *b = max(*b, v);
            }
        }
        self.row_of[half] = Some(j);
    }

    /// Class `c` resized to a pixel of pair `t`, `lx`, `ly` of the way to the next cells:
    /// columns first, then rows, as PyTorch's separable resize.
    fn value(&self, c: usize, t: usize, lx: f32, ly: f32) -> f32 {
        let m = self.m;
        let a = &self.vals[self.top][c * m..][..m];
        let b = &self.vals[1 - self.top][c * m..][..m];
        let top = a[t] + lx * (a[t + 1] - a[t]);
        let bottom = b[t] + lx * (b[t + 1] - b[t]);
        top + ly * (bottom - top)
    }

    fn candidates(&self, t: usize) -> &[u16] {
        &self.cand[self.cand_at[t] as usize..self.cand_at[t + 1] as usize]
    }

    fn soft(&self, t: usize) -> &[u16] {
        &self.soft[self.soft_at[t] as usize..self.soft_at[t + 1] as usize]
    }
}

impl CoarseStitcher {
    /// A stitcher for the tiles of one column stripe of `grid` (whose tiles start at
    /// multiples of `s`), for outputs at 1/`s`.
    pub fn for_stripe(
        grid: Grid,
        stripe: &Stripe,
        s: usize,
        classes: usize,
        blend: Blend,
        nodata: u16,
        confidence: bool,
    ) -> CoarseStitcher {
        let spec = *grid.spec();
        assert!(
            spec.align_px == s && stripe.x0.is_multiple_of(s),
            "tiles must start on the model's grid"
        );
        let (gw, gh) = (spec.width_px.div_ceil(s), spec.height_px.div_ceil(s));
        let cx0 = stripe.x0 / s;
        let cw = stripe.x1.div_ceil(s) - cx0;
        let tile_cells = spec.tile_px.div_ceil(s);
        let lh = (tile_cells + 3).min(gh);
        let vh = (spec.tile_px + 2 * s).min(spec.height_px);
        let width = stripe.x1 - stripe.x0;
        CoarseStitcher {
            s,
            classes,
            x0: stripe.x0,
            width,
            own: stripe.own.clone(),
            blend,
            nodata,
            confidence,
            gw,
            gh,
            cx0,
            cw,
            lh,
            acc: Band::zeros(classes * lh * cw),
            wsum: vec![0.0; lh * cw],
            touched: vec![0; lh * cw],
            settled: 0,
            kept: 0,
            vh,
            valid: vec![0; vh * width],
            band_y0: 0,
            logits: true,
            nan_px: 0,
            pair: RowPair::default(),
            // the cells of the whole raster resized to s px each: a pixel's two cells
            // and weight, clamped at the raster's edges
            ytaps: decode::taps(gh, gh * s)[..spec.height_px].to_vec(),
            xtaps: decode::taps(gw, gw * s)[stripe.own.clone()]
                .iter()
                .map(|&(i0, i1, l)| (i0 - cx0, i1 - cx0, l))
                .collect(),
            last_stripe: stripe.x1 >= spec.width_px,
            finish_threads: 1,
            grid,
        }
    }

    /// Finishes the run's last rows (the last tile row of the last stripe, once the
    /// model has nothing left to run) on up to `n` threads of the pool.
    pub fn finish_threads(&mut self, n: usize) {
        self.finish_threads = n.max(1);
    }

    /// Starts at tile row `row` (a run over a row window of the raster). The cell row
    /// above the tile row's first is not held, so the first `s` pixel rows (which need
    /// it, and lie above the window: the window's tile rows reach `s` px past it) are
    /// not handed back.
    pub fn start_at_row(&mut self, row: usize) {
        let start = self.grid.y_spans()[row].start;
        self.band_y0 = if row > 0 { start + self.s } else { 0 };
        self.settled = start / self.s;
        self.kept = start / self.s;
    }

    /// Adds one tile: its validity mask over the window and its scores at 1/s, or
    /// `None` when the tile was entirely nodata and not inferred.
    pub fn add(&mut self, tile: &Tile, valid: &[u8], probs: Option<TileProbs<'_>>) {
        let win = tile.window;
        let (ww, s) = (win.w, self.s);
        assert!(
            win.x0 >= self.x0 && win.x0 + ww <= self.x0 + self.width,
            "tiles must lie in the stitcher's stripe"
        );
        for j in 0..win.h {
            let r = (win.y0 + j) % self.vh;
            let wx0 = win.x0 - self.x0;
            self.valid[r * self.width + wx0..][..ww].copy_from_slice(&valid[j * ww..][..ww]);
        }
        let Some(p) = probs else { return };
        assert_eq!(p.stride, s, "scores must come at the stitcher's stride");
        self.logits = p.logits;
        let (wx, wy) = match self.blend {
            Blend::Hann => self.grid.blend_weights(tile.row, tile.col),
            Blend::Centre => self.grid.core_weights(tile.row, tile.col),
        };
        let (cwx, cwy) = (cell_weights(&wx, s), cell_weights(&wy, s));
        let (gx, gy) = (win.x0 / s - self.cx0, win.y0 / s);
        let n = p.w.min(cwx.len());
        let rows = p.h.min(cwy.len());
        assert!(
            gy >= self.kept && gy + rows <= self.kept + self.lh,
            "tiles must arrive in row order"
        );
        let (cw, lh) = (self.cw, self.lh);
        // `(tile cell row, first cell of its row in a plane of the ring, row weight,
        // how its cells were touched before)`
        let bases: Vec<(usize, usize, f32, Touched)> = (0..rows)
            .filter(|&a| cwy[a] > 0.0)
            .map(|a| {
                let base = (gy + a) % lh * cw + gx;
                let before = Touched::of(&self.touched[base..][..n]);
                self.touched[base..][..n].fill(1);
                (a, base, cwy[a], before)
            })
            .collect();
        for &(_, base, wy, _) in &bases {
            for (sum, &w) in self.wsum[base..][..n].iter_mut().zip(&cwx) {
                *sum += wy * w;
            }
        }
        let cwx = &cwx[..n];
        let plane = p.h * p.w;
        let blend_plane = |(acc, src): (&mut [f32], &[f32])| {
            for (a, base, wy, before) in &bases {
                let (dst, src) = (&mut acc[*base..][..n], &src[a * p.w..][..n]);
                let add = |dst: &mut [f32], src: &[f32], cwx: &[f32]| {
                    for ((d, &v), &w) in dst.iter_mut().zip(src).zip(cwx) {
                        *d += wy * w * v;
                    }
                };
                let set = |dst: &mut [f32], src: &[f32], cwx: &[f32]| {
                    for ((d, &v), &w) in dst.iter_mut().zip(src).zip(cwx) {
                        *d = wy * w * v;
                    }
                };
                match before {
                    // the common case: the cells shared with the tile on the left, then
                    // new ones
                    Touched::Leading(k) => {
                        add(&mut dst[..*k], &src[..*k], &cwx[..*k]);
                        set(&mut dst[*k..], &src[*k..], &cwx[*k..]);
                    }
                    Touched::Mixed(flags) => {
                        for (((d, &v), &w), &f) in dst.iter_mut().zip(src).zip(cwx).zip(flags) {
                            let x = wy * w * v;
                            *d = if f != 0 { *d + x } else { x };
                        }
                    }
                }
            }
        };
        // one thread: at 1/s a tile's planes are s² times smaller than at full resolution
        // (150 classes at 736 px: 5 M values, a few ms), less than waking a pool costs
        // on cores the model is using
        self.acc
            .chunks_exact_mut(lh * cw)
            .zip(p.data.chunks_exact(plane))
            .for_each(blend_plane);
    }

    /// Call after the last tile of tile row `row`: returns the pixel rows whose cells
    /// are all final, as classes over the stripe's own columns. The run's last rows
    /// (after which the model has nothing left to run) are finished on
    /// [`CoarseStitcher::finish_threads`] threads; the others on the caller's, beside
    /// the model's threads.
    pub fn finish_row(&mut self, row: usize) -> Rows {
        let s = self.s;
        let (h_px, last) = (self.grid.spec().height_px, row + 1 >= self.grid.rows());
        // cell rows below `m` get no more tiles
        let m = if last {
            self.gh
        } else {
            self.grid.y_spans()[row + 1].start / s
        };
        self.settled = self.settled.max(m);
        // pixel rows whose two cell rows are final
        let mut upto = self.band_y0;
        while upto < h_px && (last || self.ytaps[upto].1 < m) {
            upto += 1;
        }
        let own_w = self.own.len();
        let h = upto.saturating_sub(self.band_y0);
        let mut classes = vec![self.nodata; h * own_w];
        let mut confidence = self.confidence.then(|| vec![self.nodata; h * own_w]);
        let mut class_counts = vec![0u64; self.classes];
        // whole rows per part, on one thread unless these are the run's last rows; a part
        // on another thread gathers its own cell rows
        let threads = if last && self.last_stripe && h >= 2 * s {
            self.finish_threads.min(rayon::current_num_threads()).max(1)
        } else {
            1
        };
        let (part_rows, y0) = (h.div_ceil(threads).max(1), self.band_y0);
        let n = (part_rows * own_w).max(1);
        let mut conf_parts = confidence.as_deref_mut().map(|c| c.chunks_mut(n));
        let parts: Vec<_> = classes
            .chunks_mut(n)
            .enumerate()
            .map(|(i, cls)| {
                let ys = y0 + i * part_rows..(y0 + (i + 1) * part_rows).min(upto);
                (ys, cls, conf_parts.as_mut().and_then(|c| c.next()))
            })
            .collect();
        let mut pair = std::mem::take(&mut self.pair);
        let this = &*self;
        let finish = |(ys, cls, conf), pair: &mut RowPair| {
            let mut counts = vec![0u64; this.classes];
            let nan = this.finish_rows(ys, pair, cls, conf, &mut counts);
            (counts, nan)
        };
        let done: Vec<(Vec<u64>, u64)> = if parts.len() > 1 {
            use rayon::prelude::*;
            parts
                .into_par_iter()
                .map(|p| finish(p, &mut RowPair::default()))
                .collect()
        } else {
            parts.into_iter().map(|p| finish(p, &mut pair)).collect()
        };
        self.pair = pair;
        for (counts, nan) in done {
            for (c, n) in class_counts.iter_mut().zip(counts) {
                *c += n;
            }
            self.nan_px += nan;
        }
        // free the pixel rows handed back and the cell rows no later pixel row reads
        for y in self.band_y0..upto {
            self.valid[y % self.vh * self.width..][..self.width].fill(0);
        }
        let (cw, lh) = (self.cw, self.lh);
        let keep = if upto >= h_px {
            self.settled
        } else {
            self.ytaps[upto].0
        };
        for j in self.kept..keep.max(self.kept) {
            let at = j % lh * cw;
            self.wsum[at..at + cw].fill(0.0);
            self.touched[at..at + cw].fill(0);
        }
        self.kept = self.kept.max(keep);
        let rows = Rows {
            y0: self.band_y0,
            h,
            width: own_w,
            classes,
            confidence,
            class_counts,
        };
        self.band_y0 = upto;
        rows
    }

    /// Finishes pixel rows `ys` (their cells final) into `classes` and
    /// `confidence` (rows of the own columns, from `ys.start`), counting classes in
    /// `class_counts`; `pair` is scratch. Returns the pixels with NaN scores.
    fn finish_rows(
        &self,
        ys: Range<usize>,
        pair: &mut RowPair,
        classes: &mut [u16],
        mut confidence: Option<&mut [u16]>,
        class_counts: &mut [u64],
    ) -> u64 {
        let (own_x0, own_w) = (self.own.start, self.own.len());
        // the cell columns of the own pixels: pairs `first..first + n` of the stripe's
        // cells, the last clamped at the raster's edge
        let xt = &self.xtaps;
        let first = xt.first().map_or(0, |p| p.0);
        let n = xt.last().map_or(0, |p| p.0 + 1 - first);
        let last = (self.gw - 1 - self.cx0).min(self.cw - 1);
        debug_assert!(xt.iter().all(|&(i0, i1, _)| i1 == (i0 + 1).min(last)));
        let mut cached: Option<(usize, usize)> = None;
        let (k, cw, lh, plane) = (self.classes, self.cw, self.lh, self.lh * self.cw);
        let want_soft = self.confidence && self.logits;
        let mut z = vec![0f32; k];
        let mut nan_px = 0u64;
        // (class, pixels) of the last pixels given a class, not yet counted
        let mut run = (0usize, 0u64);
        // the own pixels by pair: runs of neighbouring pixels between the same two cells
        // (s of them inside the raster)
        let spans: Vec<(usize, Range<usize>)> = xt
            .chunk_by(|a, b| a.0 == b.0)
            .scan(0, |i, span| {
                let px = *i..*i + span.len();
                *i += span.len();
                Some((span[0].0 - first, px))
            })
            .collect();
        let vx0 = own_x0 - self.x0;
        for y in ys.clone() {
            let (j0, j1, ly) = self.ytaps[y];
            let (r0, r1) = (j0 % lh * cw, j1 % lh * cw);
            if cached != Some((j0, j1)) {
                pair.gather(
                    (&self.acc, &self.wsum, &self.touched),
                    (k, plane),
                    (j0, j1, r0, r1),
                    (first, n, last),
                    want_soft,
                );
                cached = Some((j0, j1));
            }
            let vrow = &self.valid[y % self.vh * self.width..][..self.width];
            let out_row = (y - ys.start) * own_w;
            for (t, px) in &spans {
                let t = *t;
                // one candidate and no confidence (most pairs): the class of all its pixels
                if pair.state[t] == CELL_OK && !self.confidence {
                    if let [c] = pair.candidates(t) {
                        let mut got = 0;
                        for (v, cls) in vrow[vx0..][px.clone()]
                            .iter()
                            .zip(&mut classes[out_row..][px.clone()])
                        {
                            if *v != 0 {
                                *cls = *c;
                                got += 1;
                            }
                        }
                        if *c as usize == run.0 {
                            run.1 += got;
                        } else {
                            class_counts[run.0] += run.1;
                            run = (*c as usize, got);
                        }
                        continue;
                    }
                }
                for i in px.clone() {
                    let (i0, i1, lx) = xt[i];
                    if vrow[vx0 + i] == 0 {
                        continue;
                    }
                    let (best, conf) = match pair.state[t] {
                        CELL_NAN => {
                            nan_px += 1;
                            continue;
                        }
                        CELL_OK => {
                            let list = pair.candidates(t);
                            let (mut best, mut best_v) = (list[0] as usize, f32::NEG_INFINITY);
                            if list.len() > 1 || self.confidence {
                                for &c in list {
                                    let v = pair.value(c as usize, t, lx, ly);
                                    if v > best_v {
                                        (best, best_v) = (c as usize, v);
                                    }
                                }
                            }
                            let conf = if !self.confidence {
                                0.0
                            } else if self.logits {
                                let sum: f32 = pair
                                    .soft(t)
                                    .iter()
                                    .map(|&c| (pair.value(c as usize, t, lx, ly) - best_v).exp())
                                    .sum();
                                1.0 / sum
                            } else {
                                best_v
                            };
                            (best, conf)
                        }
                        _ => {
                            // a corner without weight (nodata around it): the present
                            // corners, their weights renormalised
                            let corners = [(r0, i0), (r0, i1), (r1, i0), (r1, i1)];
                            let ok = corners.map(|(r, c)| self.wsum[r + c] > 0.0);
                            let weights = [
                                (1.0 - ly) * (1.0 - lx),
                                (1.0 - ly) * lx,
                                ly * (1.0 - lx),
                                ly * lx,
                            ];
                            let total: f32 = (0..4).filter(|&q| ok[q]).map(|q| weights[q]).sum();
                            if total <= 0.0 {
                                continue;
                            }
                            let inv = corners.map(|(r, c)| 1.0 / self.wsum[r + c]);
                            for (c, zc) in z.iter_mut().enumerate() {
                                let p = &self.acc[c * plane..];
                                *zc = (0..4)
                                    .filter(|&q| ok[q])
                                    .map(|q| weights[q] * (p[corners[q].0 + corners[q].1] * inv[q]))
                                    .sum::<f32>()
                                    / total;
                            }
                            let best = (0..k).fold(0, |b, c| if z[c] > z[b] { c } else { b });
                            let conf = if self.logits {
                                1.0 / z.iter().map(|&v| (v - z[best]).exp()).sum::<f32>()
                            } else {
                                z[best]
                            };
                            (best, conf)
                        }
                    };
                    classes[out_row + i] = best as u16;
                    // counted by runs: a count per pixel would wait on the last one's store
                    if best == run.0 {
                        run.1 += 1;
                    } else {
                        class_counts[run.0] += run.1;
                        run = (best, 1);
                    }
                    if let Some(cf) = confidence.as_deref_mut() {
                        cf[out_row + i] = (100.0 * conf).round().clamp(0.0, 100.0) as u16;
                    }
                }
            }
        }
        class_counts[run.0] += run.1;
        nan_px
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tiles::GridSpec;

    /// Scores of `cells x cells` cells at stride `s`.
    fn at_stride(data: &[f32], cells: usize, s: usize, logits: bool) -> TileProbs<'_> {
        TileProbs {
            data,
            h: cells,
            w: cells,
            off_y: 0,
            off_x: 0,
            sparse: false,
            stride: s,
            logits,
        }
    }

    /// A tile's scores at 1/s: a smooth field over the raster's cells (so that classes
    /// change within tiles) plus a perturbation that differs between tiles (so that
    /// blending matters), with `nan_cell` (global cell) NaN in every tile over it.
    fn scores(
        tile: &Tile,
        s: usize,
        cells: usize,
        k: usize,
        (spread, lead): (f32, f32),
        nan_cell: Option<(usize, usize)>,
    ) -> Vec<f32> {
        let mut d = vec![0f32; k * cells * cells];
        let (gx, gy) = (tile.window.x0 / s, tile.window.y0 / s);
        for c in 0..k {
            for a in 0..cells {
                for b in 0..cells {
                    let (x, y) = ((gx + b) as f32, (gy + a) as f32);
                    let h = (tile.row * 131 + tile.col * 71 + c * 31 + a * 17 + b * 7) % 23;
                    let mut v = spread
                        * ((x * 0.21 + c as f32 * 1.3).sin() + (y * 0.17 - c as f32).cos())
                        + 0.15 * h as f32 / 23.0;
                    // one class per region of cells above the others, by `lead` (by 5
                    // in the first 6 columns of cells)
                    let (cx, cy) = (gx + b, gy + a);
                    if c == (cx / 13 + cy / 17) % k {
                        v += if cx < 6 { lead.min(5.0) } else { lead };
                    }
                    if nan_cell == Some((gy + a, gx + b)) {
                        v = f32::NAN;
                    }
                    d[c * cells * cells + a * cells + b] = v;
                }
            }
        }
        d
    }

    struct Case {
        w: usize,
        h: usize,
        tile: usize,
        overlap: usize,
        s: usize,
        k: usize,
        spread: f32,
        /// How far above the others a region's class is ([`scores`]).
        lead: f32,
        logits: bool,
        blend: Blend,
        /// Pixels `x0..x1, y0..y1` are nodata.
        hole: (usize, usize, usize, usize),
        nan_cell: Option<(usize, usize)>,
        margin: usize,
    }

    impl Case {
        fn grid(&self) -> Grid {
            Grid::new(GridSpec {
                width_px: self.w,
                height_px: self.h,
                tile_px: self.tile,
                overlap_px: self.overlap,
                margin_px: self.margin,
                align_px: self.s,
            })
            .unwrap()
        }
        fn valid(&self, x: usize, y: usize) -> bool {
            let (x0, x1, y0, y1) = self.hole;
            !(x >= x0 && x < x1 && y >= y0 && y < y1)
        }
        fn tile_valid(&self, t: &Tile) -> Vec<u8> {
            let w = t.window;
            let mut v = vec![0u8; w.area()];
            for j in 0..w.h {
                for i in 0..w.w {
                    v[j * w.w + i] = self.valid(w.x0 + i, w.y0 + j) as u8;
                }
            }
            v
        }

        /// Straight from the definition: every cell's weighted mean over the tiles, then
        /// every class resized to every pixel, argmax and softmax.
        fn reference(&self) -> (Vec<u16>, Vec<u16>, u64, Vec<bool>) {
            let (grid, s, k) = (self.grid(), self.s, self.k);
            let cells = self.tile / s;
            let (gw, gh) = (self.w.div_ceil(s), self.h.div_ceil(s));
            let mut sum = vec![0f64; k * gw * gh];
            let mut wsum = vec![0f64; gw * gh];
            for t in grid.tiles() {
                if !self.tile_valid(&t).contains(&1) {
                    continue;
                }
                let d = scores(&t, s, cells, k, (self.spread, self.lead), self.nan_cell);
                let (wx, wy) = match self.blend {
                    Blend::Hann => grid.blend_weights(t.row, t.col),
                    Blend::Centre => grid.core_weights(t.row, t.col),
                };
                let (cx, cy) = (cell_weights(&wx, s), cell_weights(&wy, s));
                for (a, &wa) in cy.iter().enumerate() {
                    for (b, &wb) in cx.iter().enumerate() {
                        let (gy, gx) = (t.window.y0 / s + a, t.window.x0 / s + b);
                        let w = (wa * wb) as f64;
                        wsum[gy * gw + gx] += w;
                        for c in 0..k {
                            sum[c * gw * gh + gy * gw + gx] +=
                                w * d[c * cells * cells + a * cells + b] as f64;
                        }
                    }
                }
            }
            let mut classes = vec![255u16; self.w * self.h];
            let mut conf = vec![255u16; self.w * self.h];
            let mut nan = 0;
            // pixels whose two best classes are within float rounding of each other
            let mut tie = vec![false; self.w * self.h];
            let (ytaps, xtaps) = (decode::taps(gh, gh * s), decode::taps(gw, gw * s));
            for y in 0..self.h {
                let (j0, j1, ly) = ytaps[y];
                for x in 0..self.w {
                    if !self.valid(x, y) {
                        continue;
                    }
                    let (i0, i1, lx) = xtaps[x];
                    let corners = [(j0, i0), (j0, i1), (j1, i0), (j1, i1)];
                    let wts = [
                        (1.0 - ly) * (1.0 - lx),
                        (1.0 - ly) * lx,
                        ly * (1.0 - lx),
                        ly * lx,
                    ];
                    let present: Vec<usize> = (0..4)
                        .filter(|&q| wsum[corners[q].0 * gw + corners[q].1] > 0.0)
                        .collect();
                    let total: f32 = present.iter().map(|&q| wts[q]).sum();
                    let z: Vec<f32> = (0..k)
                        .map(|c| {
                            let v = |q: usize| {
                                let at = corners[q].0 * gw + corners[q].1;
                                (sum[c * gw * gh + at] / wsum[at]) as f32
                            };
                            if present.len() == 4 {
                                let top = v(0) + lx * (v(1) - v(0));
                                let bottom = v(2) + lx * (v(3) - v(2));
                                top + ly * (bottom - top)
                            } else {
                                present.iter().map(|&q| wts[q] * v(q)).sum::<f32>() / total
                            }
                        })
                        .collect();
                    if z.iter().any(|v| v.is_nan()) {
                        nan += 1;
                        continue;
                    }
                    if present.is_empty() {
                        continue;
                    }
                    let best = (0..k).fold(0, |b, c| if z[c] > z[b] { c } else { b });
                    let p = if self.logits {
                        1.0 / z.iter().map(|&v| (v - z[best]).exp()).sum::<f32>()
                    } else {
                        z[best]
                    };
                    classes[y * self.w + x] = best as u16;
                    conf[y * self.w + x] = (100.0 * p).round().clamp(0.0, 100.0) as u16;
                    tie[y * self.w + x] =
                        (0..k).any(|c| c != best && z[best] - z[c] <= 1e-5 * (1.0 + z[best].abs()));
                }
            }
            (classes, conf, nan, tie)
        }

        /// The stitcher over stripes of `own_px` columns, from tile row `first_row`.
        fn run(&self, own_px: usize, first_row: usize) -> (Vec<u16>, Vec<u16>, u64) {
            self.run_with(own_px, first_row, true)
        }

        /// [`Case::run`], with or without the confidence (255 throughout without); the
        /// rows' class counts are checked against their classes.
        fn run_with(
            &self,
            own_px: usize,
            first_row: usize,
            confidence: bool,
        ) -> (Vec<u16>, Vec<u16>, u64) {
            let (grid, s, k) = (self.grid(), self.s, self.k);
            let cells = self.tile / s;
            let mut classes = vec![255u16; self.w * self.h];
            let mut conf = vec![255u16; self.w * self.h];
            let mut nan = 0;
            for stripe in super::super::stripes(&grid, own_px) {
                let mut st = CoarseStitcher::for_stripe(
                    grid.clone(),
                    &stripe,
                    s,
                    k,
                    self.blend,
                    255,
                    confidence,
                );
                // one pass finishes its last rows on one thread, stripes on three: the
                // same classes either way
                st.finish_threads(if own_px == self.w { 1 } else { 3 });
                st.start_at_row(first_row);
                for r in first_row..grid.rows() {
                    for c in stripe.cols.clone() {
                        let t = grid.tile(r, c);
                        let valid = self.tile_valid(&t);
                        let d = scores(&t, s, cells, k, (self.spread, self.lead), self.nan_cell);
                        let probs =
                            valid
                                .contains(&1)
                                .then_some(at_stride(&d, cells, s, self.logits));
                        st.add(&t, &valid, probs);
                    }
                    let rows = st.finish_row(r);
                    assert_eq!(rows.width, stripe.own.len());
                    let mut counts = vec![0u64; k];
                    for &c in rows.classes.iter().filter(|&&c| c != 255) {
                        counts[c as usize] += 1;
                    }
                    assert_eq!(rows.class_counts, counts, "class counts of tile row {r}");
                    for y in 0..rows.h {
                        let dst = (rows.y0 + y) * self.w + stripe.own.start;
                        let src = y * rows.width..(y + 1) * rows.width;
                        classes[dst..dst + rows.width].copy_from_slice(&rows.classes[src.clone()]);
                        if let Some(cf) = rows.confidence.as_ref() {
                            conf[dst..dst + rows.width].copy_from_slice(&cf[src]);
                        }
                    }
                }
                nan += st.nan_px;
            }
            (classes, conf, nan)
        }

        fn check(&self) {
            let (classes, conf, nan, tie) = self.reference();
            let ties = tie.iter().filter(|&&t| t).count();
            assert!(
                ties * 1000 < tie.len(),
                "{ties} near-ties: the case is not a test"
            );
            let mut seen = classes.clone();
            seen.sort();
            seen.dedup();
            assert!(seen.len() >= self.k.min(4), "only classes {seen:?}");
            let first = super::super::stripes(&self.grid(), self.w).len();
            assert_eq!(first, 1);
            let one_pass = self.run(self.w, 0);
            // without the confidence (a narrower search for the classes that can win):
            // the same classes, bit for bit
            let plain = self.run_with(self.w, 0, false);
            assert!(
                plain.0 == one_pass.0,
                "classes differ without the confidence"
            );
            assert_eq!(plain.2, one_pass.2);
            for own_px in [self.w, 61, 64, 150] {
                let (c, f, n) = self.run(own_px, 0);
                // the same sums in the same order: the one-pass result, bit for bit
                assert!(
                    c == one_pass.0 && f == one_pass.1,
                    "{own_px} px stripes differ"
                );
                let differ = (0..classes.len())
                    .filter(|&i| c[i] != classes[i] && !tie[i])
                    .count();
                assert_eq!(differ, 0, "{own_px} px stripes: {differ} classes differ");
                // the confidence rounds a sum of exponentials taken in another order
                let worst = f
                    .iter()
                    .zip(&conf)
                    .map(|(&a, &b)| a.abs_diff(b))
                    .max()
                    .unwrap();
                assert!(worst <= 1, "{own_px} px stripes: confidence off by {worst}");
                assert_eq!(n, nan, "{own_px} px stripes: NaN pixels");
            }
            // a run from a later tile row (a row window's) gives the same rows beyond the
            // reach of the tile row above it (a window's tile rows reach s px past it)
            let grid = self.grid();
            if grid.rows() > 1 {
                let start = grid.y_spans()[0].end() + self.s;
                let (c, _, _) = self.run(self.w, 1);
                assert!(c[start * self.w..] == one_pass.0[start * self.w..]);
                let differ = (start * self.w..classes.len())
                    .filter(|&i| c[i] != classes[i] && !tie[i])
                    .count();
                assert_eq!(differ, 0, "a run from tile row 1: {differ} classes differ");
            }
        }
    }

    #[test]
    fn coarse_stitching_is_the_resize_of_the_blended_cells() {
        let base = Case {
            w: 203,
            h: 187,
            tile: 64,
            overlap: 16,
            s: 4,
            k: 40,
            spread: 1.0,
            lead: 0.0,
            logits: true,
            blend: Blend::Hann,
            hole: (0, 0, 0, 0),
            nan_cell: None,
            margin: 4,
        };
        base.check();
        // no margin: the last pixels of a tile weigh a little, so a stripe or a row window
        // needs the tiles that end within s px of it
        Case { margin: 0, ..base }.check();
        // flat scores: many candidate classes per cell (every pair searched)
        Case {
            spread: 0.05,
            ..base
        }
        .check();
        // a class far above the others in most cells, by less than SOFTMAX_CUT in some:
        // with the confidence too, few pairs are searched (one by one), and there the
        // classes below the candidates count in the softmax
        Case { lead: 60.0, ..base }.check();
        Case {
            blend: Blend::Centre,
            ..base
        }
        .check();
        Case {
            logits: false,
            k: 3,
            ..base
        }
        .check();
        // stride 8, a tile over the whole raster in one direction
        Case {
            s: 8,
            tile: 96,
            overlap: 32,
            w: 90,
            ..base
        }
        .check();
        // a hole of nodata holding a whole tile (not inferred): the pixels around it are
        // resized from the cells that have weight
        Case {
            hole: (40, 130, 30, 120),
            ..base
        }
        .check();
        // a hole that is one tile's window exactly: the tile below it finds the cells
        // of its top rows touched at both ends (by the skipped tile's neighbours) and not
        // between, and the pixels right of the hole are resized from such cells
        Case {
            hole: (48, 112, 48, 112),
            ..base
        }
        .check();
        // a NaN cell: the pixels around it are nodata, counted
        let nan = Case {
            nan_cell: Some((20, 30)),
            ..base
        };
        assert!(nan.reference().2 > 0);
        nan.check();
    }

    #[test]
    fn one_tile_gives_the_models_own_post_processing() {
        // one tile over the raster: each class's scores resized, then the argmax
        let (s, k, t) = (4usize, 5usize, 32usize);
        let grid = Grid::new(GridSpec {
            width_px: 30,
            height_px: 29,
            tile_px: t,
            overlap_px: 8,
            margin_px: 2,
            align_px: s,
        })
        .unwrap();
        let tile = grid.tile(0, 0);
        let cells = t / s;
        let d: Vec<f32> = (0..k * cells * cells)
            .map(|i| ((i * 37) % 11) as f32 * 0.3 - (i % 5) as f32 * 0.2)
            .collect();
        let mut big = vec![0f32; k * t * t];
        crate::infer::decode::resize_bilinear(&d, k, (cells, cells), (t, t), &mut big);
        let all = Stripe {
            own: 0..30,
            cols: 0..1,
            x0: 0,
            x1: 30,
        };
        let mut st = CoarseStitcher::for_stripe(grid.clone(), &all, s, k, Blend::Hann, 255, false);
        let probs = at_stride(&d, cells, s, true);
        st.add(&tile, &vec![1u8; tile.window.area()], Some(probs));
        let rows = st.finish_row(0);
        assert_eq!((rows.y0, rows.h), (0, 29));
        for y in 0..29 {
            for x in 0..30 {
                let z = |c: usize| big[c * t * t + y * t + x];
                let best = (0..k).fold(0, |b, c| if z(c) > z(b) { c } else { b });
                assert_eq!(rows.classes[y * 30 + x] as usize, best, "at {x},{y}");
            }
        }
    }
}
