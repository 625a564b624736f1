//! Stage 4 of the flow (read -> prepare -> infer -> **stitch** -> write): blending the
//! overlapping tile predictions back into one class map without seams.
//!
//! Per-pixel class probabilities are accumulated in f32, each tile weighted by a 2-D
//! Hann window that is flat toward the raster's outer edges and zero within a margin of
//! edges shared with another tile (see [`tiles::blend_weights_1d`]); the class is the
//! argmax; a pixel whose probabilities are NaN (from any tile over it) is nodata and
//! counted. Only a band of `tile_px` rows of the raster is held at a time, so memory
//! depends on tile size and raster width, never on raster height; a raster too wide for
//! the memory budget is walked in column [`Stripe`]s of the same global tile grid, so
//! every pixel gets the same tiles, weights and sums as in one pass.

pub mod coarse;

use std::ops::Range;

use tiles::{Grid, Tile};

use crate::raster::buffer::Band;

pub use coarse::CoarseStitcher;

/// From this many classes a tile's planes are blended in parallel (rayon), one class
/// plane per task.
pub const PARALLEL_BLEND_CLASSES: usize = 16;

/// How overlapping tiles are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Blend {
    /// Hann-window weighted average of probabilities (the default).
    #[default]
    Hann,
    /// Plain centre-crop: each pixel comes from the one tile whose core holds it.
    Centre,
}

/// One tile's class probabilities `[classes, h, w]`, placed at (`off_y`, `off_x`) in
/// the model input (the window sits at the input's top-left).
#[derive(Debug, Clone, Copy)]
pub struct TileProbs<'a> {
    pub data: &'a [f32],
    pub h: usize,
    pub w: usize,
    pub off_y: usize,
    pub off_x: usize,
    /// Pixels may have all-zero probabilities (a label outside the classes): those get
    /// no weight. Only label outputs need this check.
    pub sparse: bool,
    /// 1: one value per pixel of the model input. s > 1: scores of the whole tile at
    /// 1/s, for a [`CoarseStitcher`].
    pub stride: usize,
    /// At a stride: the scores are logits (else probabilities).
    pub logits: bool,
}

impl<'a> TileProbs<'a> {
    /// Probabilities covering the whole `h` x `w` model input, none of them all-zero.
    pub fn whole(data: &'a [f32], h: usize, w: usize) -> TileProbs<'a> {
        TileProbs {
            data,
            h,
            w,
            off_y: 0,
            off_x: 0,
            sparse: false,
            stride: 1,
            logits: false,
        }
    }
}

/// Finished rows of the class map.
#[derive(Debug, Clone, Default)]
pub struct Rows {
    /// First raster row.
    pub y0: usize,
    pub h: usize,
    pub width: usize,
    /// Class per pixel, `nodata` where no valid prediction exists.
    pub classes: Vec<u16>,
    /// Winning probability x 100, `nodata` where none.
    pub confidence: Option<Vec<u16>>,
    /// Valid pixels per class in these rows.
    pub class_counts: Vec<u64>,
}

/// A column stripe of the tile grid: it finishes the pixel columns `own` and needs every
/// tile whose window touches them, the tile columns `cols` (which read columns
/// `x0..x1`). Neighbouring stripes share the tiles over their boundary: those tiles run
/// once in each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stripe {
    pub own: Range<usize>,
    pub cols: Range<usize>,
    pub x0: usize,
    pub x1: usize,
}

/// The grid's columns cut into stripes that each finish `own_px` pixel columns (the
/// last one the rest); one stripe holding every tile when `own_px` covers the width.
/// On a grid aligned to a model's stride s, a stripe also holds the tiles within s px
/// of its own columns: their pixels are resized from the cells around them.
pub fn stripes(grid: &Grid, own_px: usize) -> Vec<Stripe> {
    let width = grid.spec().width_px;
    let own_px = own_px.max(1);
    let xs = grid.x_spans();
    let halo = halo_px(grid);
    (0..width.div_ceil(own_px))
        .map(|k| {
            let own = k * own_px..((k + 1) * own_px).min(width);
            let (a, b) = (own.start.saturating_sub(halo), own.end + halo);
            let first = xs.iter().position(|s| s.end() > a).unwrap_or(0);
            let last = xs.iter().rposition(|s| s.start < b).unwrap_or(0);
            Stripe {
                x0: xs[first].start,
                x1: xs[last].end(),
                cols: first..last + 1,
                own,
            }
        })
        .collect()
}

/// Pixels around a window of the raster whose tiles a run of that window needs too:
/// on a grid aligned to a model's stride s (a [`CoarseStitcher`]'s), s (a pixel is
/// resized from cells up to s px away); else none.
pub fn halo_px(grid: &Grid) -> usize {
    match grid.spec().align_px {
        a if a > 1 => a,
        _ => 0,
    }
}

/// A stitcher at the model input's resolution ([`Stitcher`]) or at the model's own
/// ([`CoarseStitcher`]).
pub enum Stitch {
    Full(Box<Stitcher>),
    Coarse(Box<CoarseStitcher>),
}

impl Stitch {
    pub fn start_at_row(&mut self, row: usize) {
        match self {
            Stitch::Full(s) => s.start_at_row(row),
            Stitch::Coarse(s) => s.start_at_row(row),
        }
    }
    pub fn add(&mut self, tile: &Tile, valid: &[u8], probs: Option<TileProbs<'_>>) {
        match self {
            Stitch::Full(s) => s.add(tile, valid, probs),
            Stitch::Coarse(s) => s.add(tile, valid, probs),
        }
    }
    pub fn finish_row(&mut self, row: usize) -> Rows {
        match self {
            Stitch::Full(s) => s.finish_row(row),
            Stitch::Coarse(s) => s.finish_row(row),
        }
    }
    /// Pixels with NaN scores so far.
    pub fn nan_px(&self) -> u64 {
        match self {
            Stitch::Full(s) => s.nan_px,
            Stitch::Coarse(s) => s.nan_px,
        }
    }
}

impl Rows {
    /// The rows of `self` inside raster rows `window`, with `y0` counted from the
    /// window's first row (a row-band shard writes only its own rows) and the class
    /// counts of those rows only.
    pub fn within(&self, window: std::ops::Range<usize>) -> Rows {
        let end = self.y0 + self.h;
        let top = self.y0.max(window.start).min(end);
        let bottom = end.min(window.end).max(top);
        let (a, b) = (
            (top - self.y0) * self.width,
            (bottom - self.y0) * self.width,
        );
        let classes = self.classes[a..b].to_vec();
        let mut class_counts = vec![0u64; self.class_counts.len()];
        for &c in &classes {
            if let Some(n) = class_counts.get_mut(c as usize) {
                *n += 1;
            }
        }
        Rows {
            y0: top.saturating_sub(window.start),
            h: bottom - top,
            width: self.width,
            classes,
            confidence: self.confidence.as_ref().map(|c| c[a..b].to_vec()),
            class_counts,
        }
    }
}

/// Accumulates tiles in row-major order and hands back rows as they become final.
pub struct Stitcher {
    grid: Grid,
    classes: usize,
    /// Columns held: `x0..x0 + width`; rows handed back cover `own` only.
    x0: usize,
    width: usize,
    own: Range<usize>,
    blend: Blend,
    nodata: u16,
    confidence: bool,
    band_y0: usize,
    band_h: usize,
    /// `classes` planes of `band_h * width`, a ring of rows (raster row `y` in slot
    /// `y % band_h`): each class's sums for a row are contiguous,
    /// so blending a tile row and the argmax are straight passes over slices.
    acc: Band,
    wsum: Vec<f32>,
    valid: Vec<u8>,
    /// Scratch: the weights of a tile (`[h, w]` of its output) and the rows it adds
    /// to, `(tile row, index of its first pixel in the band)`.
    wtile: Vec<f32>,
    bases: Vec<(usize, usize)>,
    /// Pixels whose probabilities were NaN (made nodata) in the rows finished so far.
    pub nan_px: u64,
}

impl Stitcher {
    pub fn new(
        grid: Grid,
        classes: usize,
        blend: Blend,
        nodata: u16,
        confidence: bool,
    ) -> Stitcher {
        let width = grid.spec().width_px;
        let all = Stripe {
            own: 0..width,
            cols: 0..grid.cols(),
            x0: 0,
            x1: width,
        };
        Stitcher::for_stripe(grid, &all, classes, blend, nodata, confidence)
    }

    /// A stitcher for the tiles of one column stripe: its buffers hold the stripe's
    /// columns only, and its rows cover the stripe's own columns.
    pub fn for_stripe(
        grid: Grid,
        stripe: &Stripe,
        classes: usize,
        blend: Blend,
        nodata: u16,
        confidence: bool,
    ) -> Stitcher {
        let width = stripe.x1 - stripe.x0;
        let band_h = grid.y_spans()[0].len;
        Stitcher {
            classes,
            x0: stripe.x0,
            width,
            own: stripe.own.clone(),
            blend,
            nodata,
            confidence,
            band_y0: 0,
            band_h,
            acc: Band::zeros(band_h * width * classes),
            wsum: vec![0.0; band_h * width],
            valid: vec![0; band_h * width],
            wtile: Vec::new(),
            bases: Vec::new(),
            nan_px: 0,
            grid,
        }
    }

    /// Starts the band at tile row `row` instead of the first (a run over a row window
    /// of the raster skips the tile rows above it).
    pub fn start_at_row(&mut self, row: usize) {
        self.band_y0 = self.grid.y_spans()[row].start;
    }

    /// Adds one tile: its validity mask over the window (`window.w * window.h`) and its
    /// probabilities, or `None` when the tile was entirely nodata and not inferred.
    pub fn add(&mut self, tile: &Tile, valid: &[u8], probs: Option<TileProbs<'_>>) {
        let win = tile.window;
        assert!(
            win.y0 >= self.band_y0 && win.y0 + win.h <= self.band_y0 + self.band_h,
            "tiles must arrive in row order"
        );
        assert!(
            win.x0 >= self.x0 && win.x0 + win.w <= self.x0 + self.width,
            "tiles must lie in the stitcher's stripe"
        );
        let (ww, wh) = (win.w, win.h);
        let wx0 = win.x0 - self.x0;
        for j in 0..wh {
            let r = (win.y0 + j) % self.band_h;
            let dst = &mut self.valid[r * self.width + wx0..r * self.width + wx0 + ww];
            dst.copy_from_slice(&valid[j * ww..(j + 1) * ww]);
        }
        let Some(p) = probs else { return };
        assert_eq!(p.stride, 1, "scores at a stride go to a CoarseStitcher");
        let (wx, wy) = match self.blend {
            Blend::Hann => self.grid.blend_weights(tile.row, tile.col),
            Blend::Centre => self.grid.core_weights(tile.row, tile.col),
        };
        let k = self.classes;
        let plane = p.h * p.w;
        let band_plane = self.band_h * self.width;
        debug_assert_eq!(p.data.len(), k * plane);
        // output pixels b in 0..n of each row land on window columns off_x + b. The
        // weights of the whole tile first, then one class plane at a time: long
        // contiguous runs through the tile's plane and the band's (many classes would
        // otherwise mean many short streams per row)
        let n = p.w.min(ww.saturating_sub(p.off_x));
        self.wtile.clear();
        self.wtile.resize(p.h * n, 0.0);
        self.bases.clear();
        for a in 0..p.h {
            let j = a + p.off_y;
            if j >= wh || wy[j] == 0.0 {
                continue;
            }
            let wrow = &mut self.wtile[a * n..][..n];
            let vrow = &valid[j * ww + p.off_x..][..n];
            for ((w, &ok), &x) in wrow.iter_mut().zip(vrow).zip(&wx[p.off_x..]) {
                *w = if ok != 0 { x * wy[j] } else { 0.0 };
            }
            if p.sparse {
                for (b, w) in wrow.iter_mut().enumerate() {
                    if (0..k).all(|c| p.data[c * plane + a * p.w + b] == 0.0) {
                        *w = 0.0;
                    }
                }
            }
            let base = (win.y0 + j) % self.band_h * self.width + wx0 + p.off_x;
            for (s, w) in self.wsum[base..base + n].iter_mut().zip(wrow.iter()) {
                *s += w;
            }
            self.bases.push((a, base));
        }
        let (wtile, bases) = (&self.wtile, &self.bases);
        let blend_plane = |(acc, src): (&mut [f32], &[f32])| {
            for &(a, base) in bases {
                let dst = &mut acc[base..][..n];
                let row = &src[a * p.w..][..n];
                for ((d, &v), &w) in dst.iter_mut().zip(row).zip(&wtile[a * n..][..n]) {
                    *d += w * v;
                }
            }
        };
        if k >= PARALLEL_BLEND_CLASSES {
            use rayon::prelude::*;
            self.acc
                .par_chunks_exact_mut(band_plane)
                .zip(p.data.par_chunks_exact(plane))
                .for_each(blend_plane);
        } else {
            self.acc
                .chunks_exact_mut(band_plane)
                .zip(p.data.chunks_exact(plane))
                .for_each(blend_plane);
        }
    }

    /// Call after the last tile of tile row `row`: returns the rows that no later tile
    /// touches, as classes over the stripe's own columns (`Rows::width` of them, from
    /// column `own.start`), and frees their rows of the band for the rows below.
    pub fn finish_row(&mut self, row: usize) -> Rows {
        let upto = self.grid.rows_final_after(row);
        let h = upto - self.band_y0;
        let (k, width, band_h) = (self.classes, self.width, self.band_h);
        let n = h * width;
        let band_plane = band_h * width;
        // the band is a ring of rows (raster row y in slot y % band_h): the finished rows
        // are at most two runs of slots, `(first slot's index, index in the output, len)`
        let s0 = self.band_y0 % band_h;
        let first = h.min(band_h - s0);
        let runs = [
            (s0 * width, 0, first * width),
            (0, first * width, (h - first) * width),
        ];
        // argmax, one class plane at a time (the first maximum wins ties); each sum is
        // taken out of the band as it is read, leaving the slot zeroed for the next rows
        let mut best = vec![0u16; n];
        let mut best_v = vec![f32::NEG_INFINITY; n];
        for c in 0..k {
            let plane = &mut self.acc[c * band_plane..][..band_plane];
            for &(at, out, len) in &runs {
                for ((b, bv), v) in best[out..out + len]
                    .iter_mut()
                    .zip(&mut best_v[out..out + len])
                    .zip(&mut plane[at..at + len])
                {
                    let v = std::mem::take(v);
                    if v > *bv {
                        *bv = v;
                        *b = c as u16;
                    }
                }
            }
        }
        let (own_x0, own_w) = (self.own.start - self.x0, self.own.len());
        let mut classes = vec![self.nodata; h * own_w];
        let mut confidence = self.confidence.then(|| vec![self.nodata; h * own_w]);
        let mut class_counts = vec![0u64; k];
        for r in 0..h {
            let slot = (s0 + r) % band_h * width;
            for i in 0..own_w {
                let (pix, at) = (r * width + own_x0 + i, slot + own_x0 + i);
                let ws = self.wsum[at];
                if self.valid[at] == 0 || ws <= 0.0 {
                    continue;
                }
                // a NaN probability from any tile over the pixel makes every class's sum
                // NaN, so no class wins: no prediction
                if best_v[pix] == f32::NEG_INFINITY {
                    self.nan_px += 1;
                    continue;
                }
                let o = r * own_w + i;
                classes[o] = best[pix];
                class_counts[best[pix] as usize] += 1;
                if let Some(conf) = confidence.as_mut() {
                    conf[o] = (100.0 * best_v[pix] / ws).round().clamp(0.0, 100.0) as u16;
                }
            }
        }
        for &(at, _, len) in &runs {
            self.wsum[at..at + len].fill(0.0);
            self.valid[at..at + len].fill(0);
        }
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use tiles::GridSpec;

    /// A constant per-pixel "model": stitching must give back exactly its argmax.
    #[test]
    fn per_pixel_predictions_come_back_exactly() {
        let (w, h, k) = (37usize, 29usize, 3usize);
        let grid = Grid::new(GridSpec {
            width_px: w,
            height_px: h,
            tile_px: 16,
            overlap_px: 6,
            margin_px: 2,
            align_px: 1,
        })
        .unwrap();
        let truth = |x: usize, y: usize| -> [f32; 3] {
            let a = ((x * 7 + y * 13) % 10) as f32;
            [a, 10.0 - a, 4.5]
        };
        let mut st = Stitcher::new(grid.clone(), k, Blend::Hann, 255, true);
        let mut out = vec![0u16; w * h];
        for r in 0..grid.rows() {
            for c in 0..grid.cols() {
                let t = grid.tile(r, c);
                let mut data = vec![0f32; k * 16 * 16];
                for j in 0..t.window.h {
                    for i in 0..t.window.w {
                        let p = truth(t.window.x0 + i, t.window.y0 + j);
                        for q in 0..k {
                            data[q * 256 + j * 16 + i] = p[q];
                        }
                    }
                }
                let valid = vec![1u8; t.window.area()];
                st.add(&t, &valid, Some(TileProbs::whole(&data, 16, 16)));
            }
            let rows = st.finish_row(r);
            out[rows.y0 * w..(rows.y0 + rows.h) * w].copy_from_slice(&rows.classes);
        }
        for y in 0..h {
            for x in 0..w {
                let p = truth(x, y);
                let best = (0..3).fold(0, |b, q| if p[q] > p[b] { q } else { b });
                assert_eq!(out[y * w + x] as usize, best, "at {x},{y}");
            }
        }
    }

    /// Tile-dependent probabilities (a model that sees context): column stripes of the
    /// same grid must give back exactly the one-pass classes and confidences.
    #[test]
    fn column_stripes_give_the_one_pass_result() {
        let (w, h, k, t) = (301usize, 70usize, 3usize, 32usize);
        let grid = Grid::new(GridSpec {
            width_px: w,
            height_px: h,
            tile_px: t,
            overlap_px: 12,
            margin_px: 2,
            align_px: 1,
        })
        .unwrap();
        let probs = |tile: &Tile| -> Vec<f32> {
            let mut d = vec![0f32; k * t * t];
            for (i, v) in d.iter_mut().enumerate() {
                let (c, p) = (i / (t * t), i % (t * t));
                let (y, x) = (p / t, p % t);
                *v = ((tile.row * 7 + tile.col * 3 + c * 5 + x * 11 + y * 13) % 17) as f32 / 17.0;
            }
            d
        };
        let run = |own_px: usize| -> (Vec<u16>, Vec<u16>, Vec<u64>) {
            let mut out = vec![0u16; w * h];
            let mut conf = vec![0u16; w * h];
            let mut counts = vec![0u64; k];
            for s in stripes(&grid, own_px) {
                let mut st = Stitcher::for_stripe(grid.clone(), &s, k, Blend::Hann, 255, true);
                for r in 0..grid.rows() {
                    for c in s.cols.clone() {
                        let tile = grid.tile(r, c);
                        let mut valid = vec![1u8; tile.window.area()];
                        valid[(r + c) % tile.window.area()] = 0;
                        let d = probs(&tile);
                        st.add(&tile, &valid, Some(TileProbs::whole(&d, t, t)));
                    }
                    let rows = st.finish_row(r);
                    assert_eq!(rows.width, s.own.len());
                    for y in 0..rows.h {
                        let dst = (rows.y0 + y) * w + s.own.start;
                        let src = y * rows.width..(y + 1) * rows.width;
                        out[dst..dst + rows.width].copy_from_slice(&rows.classes[src.clone()]);
                        let cf = rows.confidence.as_ref().unwrap();
                        conf[dst..dst + rows.width].copy_from_slice(&cf[src]);
                    }
                    for (a, b) in counts.iter_mut().zip(&rows.class_counts) {
                        *a += b;
                    }
                }
            }
            (out, conf, counts)
        };
        let whole = run(w);
        assert_eq!(stripes(&grid, w).len(), 1);
        for own_px in [1, 20, 64, 100, 300] {
            let n = stripes(&grid, own_px).len();
            assert_eq!(n, w.div_ceil(own_px));
            assert!(run(own_px) == whole, "stripes of {own_px} px differ");
        }
    }

    #[test]
    fn invalid_pixels_and_skipped_tiles_are_nodata() {
        let grid = Grid::new(GridSpec {
            width_px: 10,
            height_px: 10,
            tile_px: 10,
            overlap_px: 2,
            margin_px: 1,
            align_px: 1,
        })
        .unwrap();
        let mut st = Stitcher::new(grid.clone(), 2, Blend::Hann, 255, false);
        let t = grid.tile(0, 0);
        let mut valid = vec![1u8; 100];
        valid[5] = 0;
        let data = vec![0.5f32; 200];
        st.add(&t, &valid, Some(TileProbs::whole(&data, 10, 10)));
        let rows = st.finish_row(0);
        assert_eq!(rows.classes[5], 255);
        assert_eq!(rows.classes[6], 0);
        assert_eq!(rows.class_counts, vec![99, 0]);

        // a label outside the classes arrives as all-zero probabilities: nodata
        let mut st = Stitcher::new(grid.clone(), 2, Blend::Hann, 255, false);
        let mut data = vec![0.0f32; 200];
        data[100 + 7] = 1.0; // pixel 7 is class 1, every other pixel has no class
        st.add(
            &t,
            &[1u8; 100],
            Some(TileProbs {
                data: &data,
                h: 10,
                w: 10,
                off_y: 0,
                off_x: 0,
                sparse: true,
                stride: 1,
                logits: false,
            }),
        );
        let rows = st.finish_row(0);
        assert_eq!(rows.classes[7], 1);
        assert_eq!(rows.class_counts, vec![0, 1]);
        assert!(rows
            .classes
            .iter()
            .enumerate()
            .all(|(i, &c)| i == 7 || c == 255));

        // NaN probabilities: nodata, counted
        let mut st = Stitcher::new(grid.clone(), 2, Blend::Hann, 255, false);
        let mut data = vec![0.5f32; 200];
        data[3] = f32::NAN;
        data[103] = f32::NAN;
        st.add(&t, &[1u8; 100], Some(TileProbs::whole(&data, 10, 10)));
        let rows = st.finish_row(0);
        assert_eq!(rows.classes[3], 255);
        assert_eq!(rows.class_counts, vec![99, 0]);
        assert_eq!(st.nan_px, 1);

        let mut st = Stitcher::new(grid.clone(), 2, Blend::Hann, 255, false);
        st.add(&t, &[0u8; 100], None);
        assert!(st.finish_row(0).classes.iter().all(|&c| c == 255));
    }
}
