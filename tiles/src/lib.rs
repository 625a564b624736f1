//! Tile-grid geometry for terratile: where each tile is read, which pixels it owns
//! (its *core*), and how much each of its pixels weighs when overlapping predictions
//! are blended back together.
//!
//! This crate sits before everything else in the data flow (read -> prepare -> infer ->
//! stitch -> write): the reader asks it for windows, the stitcher for weights. It knows
//! nothing about GDAL or ONNX; every function is pure and property-tested.
//!
//! Conventions: `x` is the column axis, `y` the row axis; a [`Rect`] is `(x0, y0, w, h)`
//! in raster pixels; all sizes are in pixels (`_px`).
//!
//! ```
//! use tiles::{Grid, GridSpec};
//! let grid = Grid::new(GridSpec { width_px: 1000, height_px: 700, tile_px: 256, overlap_px: 64, margin_px: 16, align_px: 1 }).unwrap();
//! assert_eq!(grid.tile_count(), grid.cols() * grid.rows());
//! let t = grid.tile(0, 0);
//! assert_eq!((t.window.x0, t.window.y0, t.window.w, t.window.h), (0, 0, 256, 256));
//! ```

use std::fmt;

/// An axis-aligned pixel rectangle: columns `x0..x0+w`, rows `y0..y0+h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rect {
    pub x0: usize,
    pub y0: usize,
    pub w: usize,
    pub h: usize,
}

impl Rect {
    /// True when the pixel `(x, y)` lies inside.
    pub fn contains(&self, x: usize, y: usize) -> bool {
        x >= self.x0 && x < self.x0 + self.w && y >= self.y0 && y < self.y0 + self.h
    }
    /// Number of pixels.
    pub fn area(&self) -> usize {
        self.w * self.h
    }
}

/// One tile position along one axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// First pixel read for this tile.
    pub start: usize,
    /// Pixels read (the tile size, or the whole axis when the axis is shorter).
    pub len: usize,
    /// First pixel this tile owns (its core).
    pub core_start: usize,
    /// One past the last pixel this tile owns.
    pub core_end: usize,
    /// The tile's first pixel is the raster's first pixel (no neighbour before it).
    pub at_start: bool,
    /// The tile's last pixel is the raster's last pixel (no neighbour after it).
    pub at_end: bool,
}

impl Span {
    /// One past the last pixel read.
    pub fn end(&self) -> usize {
        self.start + self.len
    }
}

/// What the grid is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GridSpec {
    pub width_px: usize,
    pub height_px: usize,
    /// Side of the (square) model input.
    pub tile_px: usize,
    /// Pixels shared by two neighbouring tiles.
    pub overlap_px: usize,
    /// Pixels along each tile edge that borders another tile that get no blending
    /// weight: there the model's convolutions saw padding instead of data.
    /// At most `overlap_px / 2` so that every pixel keeps a positive total weight.
    pub margin_px: usize,
    /// Every tile starts at a multiple of this (1: anywhere). A model whose output is
    /// 1/s of its input needs tiles on its own grid (`align_px` = s, with tile and
    /// overlap multiples of s): then the last tile is not shifted back to end at the
    /// raster's edge but starts on the grid and reads a shorter window (padded).
    pub align_px: usize,
}

/// Why a [`GridSpec`] cannot make a grid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GridError {
    EmptyRaster,
    ZeroTile,
    OverlapTooLarge {
        tile_px: usize,
        overlap_px: usize,
    },
    MarginTooLarge {
        overlap_px: usize,
        margin_px: usize,
    },
    Misaligned {
        tile_px: usize,
        overlap_px: usize,
        align_px: usize,
    },
}

impl fmt::Display for GridError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GridError::EmptyRaster => write!(f, "the raster has no pixels"),
            GridError::ZeroTile => write!(f, "the tile size must be at least 1 pixel"),
            GridError::OverlapTooLarge {
                tile_px,
                overlap_px,
            } => write!(
                f,
                "overlap {overlap_px} px must be smaller than the tile size {tile_px} px"
            ),
            GridError::MarginTooLarge {
                overlap_px,
                margin_px,
            } => write!(
                f,
                "edge margin {margin_px} px must be at most half the overlap ({overlap_px} px)"
            ),
            GridError::Misaligned {
                tile_px,
                overlap_px,
                align_px,
            } => write!(
                f,
                "tile {tile_px} px and overlap {overlap_px} px must be multiples of {align_px} px"
            ),
        }
    }
}

impl std::error::Error for GridError {}

/// Tile positions along one axis of `len_px` pixels.
///
/// Tiles start every `tile_px - overlap_px` pixels; the last one is shifted back so it
/// ends at the raster edge (a full tile is always read when the axis is long enough).
/// The cores partition the axis at the middle of each overlap.
pub fn spans(len_px: usize, tile_px: usize, overlap_px: usize) -> Vec<Span> {
    spans_aligned(len_px, tile_px, overlap_px, 1)
}

/// Like [`spans`], with every start a multiple of `align_px`: the last tile is shifted
/// back only to the multiple at or after `len_px - tile_px`, so it may read fewer than
/// `tile_px` pixels (the rest of the model input is padding). `tile_px - overlap_px`
/// must be a multiple of `align_px`.
pub fn spans_aligned(
    len_px: usize,
    tile_px: usize,
    overlap_px: usize,
    align_px: usize,
) -> Vec<Span> {
    assert!(len_px > 0 && tile_px > 0 && overlap_px < tile_px);
    let align = align_px.max(1);
    assert!(
        (tile_px - overlap_px).is_multiple_of(align),
        "the tile stride must be a multiple of the alignment"
    );
    if len_px <= tile_px {
        return vec![Span {
            start: 0,
            len: len_px,
            core_start: 0,
            core_end: len_px,
            at_start: true,
            at_end: true,
        }];
    }
    let stride = tile_px - overlap_px;
    let n = (len_px - tile_px).div_ceil(stride) + 1;
    let last = (len_px - tile_px).div_ceil(align) * align;
    let starts: Vec<usize> = (0..n).map(|i| (i * stride).min(last)).collect();
    let boundary = |i: usize| -> usize {
        // boundary between tile i-1 and tile i: middle of their shared pixels
        if i == 0 {
            0
        } else if i == n {
            len_px
        } else {
            (starts[i] + starts[i - 1] + tile_px) / 2
        }
    };
    (0..n)
        .map(|i| Span {
            start: starts[i],
            len: tile_px.min(len_px - starts[i]),
            core_start: boundary(i),
            core_end: boundary(i + 1),
            at_start: starts[i] == 0,
            at_end: starts[i] + tile_px >= len_px,
        })
        .collect()
}

/// Blending weights along one axis for a tile described by `span`.
///
/// A Hann window over the pixels between the margins, flattened to 1 on any half that
/// faces the raster's outer edge (those pixels have no other tile to share with), and 0
/// within `margin_px` of an edge that borders another tile. Written into `out`
/// (`out.len() == span.len`).
pub fn blend_weights_1d(span: &Span, margin_px: usize, out: &mut [f32]) {
    let n = span.len;
    assert_eq!(out.len(), n);
    let lo = if span.at_start { 0 } else { margin_px.min(n) };
    let hi = if span.at_end {
        n
    } else {
        n.saturating_sub(margin_px)
    };
    let inner = hi.saturating_sub(lo).max(1) as f64;
    let mid = (lo + hi) as f64 / 2.0;
    for (i, w) in out.iter_mut().enumerate() {
        *w = if i < lo || i >= hi {
            0.0
        } else {
            let c = i as f64 + 0.5;
            if (span.at_start && c <= mid) || (span.at_end && c >= mid) {
                1.0
            } else {
                let s = (std::f64::consts::PI * (c - lo as f64) / inner).sin();
                (s * s) as f32
            }
        };
    }
}

/// Weights that keep only the tile's core (plain centre-crop stitching): 1 inside the
/// core, 0 outside.
pub fn core_weights_1d(span: &Span, out: &mut [f32]) {
    assert_eq!(out.len(), span.len);
    for (i, w) in out.iter_mut().enumerate() {
        let p = span.start + i;
        *w = if p >= span.core_start && p < span.core_end {
            1.0
        } else {
            0.0
        };
    }
}

/// One tile: where to read it and which pixels it owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    /// Tile row and column in the grid.
    pub row: usize,
    pub col: usize,
    /// Pixels read from the raster (always inside it).
    pub window: Rect,
    /// Pixels this tile owns: the cores of all tiles partition the raster.
    pub core: Rect,
}

/// The tiling of a raster.
#[derive(Debug, Clone)]
pub struct Grid {
    spec: GridSpec,
    xs: Vec<Span>,
    ys: Vec<Span>,
}

impl Grid {
    /// Builds the grid, or says why the spec cannot make one.
    pub fn new(spec: GridSpec) -> Result<Grid, GridError> {
        if spec.width_px == 0 || spec.height_px == 0 {
            return Err(GridError::EmptyRaster);
        }
        if spec.tile_px == 0 {
            return Err(GridError::ZeroTile);
        }
        if spec.overlap_px >= spec.tile_px {
            return Err(GridError::OverlapTooLarge {
                tile_px: spec.tile_px,
                overlap_px: spec.overlap_px,
            });
        }
        if 2 * spec.margin_px > spec.overlap_px {
            return Err(GridError::MarginTooLarge {
                overlap_px: spec.overlap_px,
                margin_px: spec.margin_px,
            });
        }
        let a = spec.align_px.max(1);
        if !spec.tile_px.is_multiple_of(a) || !spec.overlap_px.is_multiple_of(a) {
            return Err(GridError::Misaligned {
                tile_px: spec.tile_px,
                overlap_px: spec.overlap_px,
                align_px: a,
            });
        }
        Ok(Grid {
            spec,
            xs: spans_aligned(spec.width_px, spec.tile_px, spec.overlap_px, a),
            ys: spans_aligned(spec.height_px, spec.tile_px, spec.overlap_px, a),
        })
    }

    pub fn spec(&self) -> &GridSpec {
        &self.spec
    }
    /// Tiles per row.
    pub fn cols(&self) -> usize {
        self.xs.len()
    }
    /// Tile rows.
    pub fn rows(&self) -> usize {
        self.ys.len()
    }
    pub fn tile_count(&self) -> usize {
        self.xs.len() * self.ys.len()
    }
    pub fn x_spans(&self) -> &[Span] {
        &self.xs
    }
    pub fn y_spans(&self) -> &[Span] {
        &self.ys
    }

    /// The tile at grid position (`row`, `col`).
    pub fn tile(&self, row: usize, col: usize) -> Tile {
        let (sx, sy) = (self.xs[col], self.ys[row]);
        Tile {
            row,
            col,
            window: Rect {
                x0: sx.start,
                y0: sy.start,
                w: sx.len,
                h: sy.len,
            },
            core: Rect {
                x0: sx.core_start,
                y0: sy.core_start,
                w: sx.core_end - sx.core_start,
                h: sy.core_end - sy.core_start,
            },
        }
    }

    /// All tiles in row-major order (the order they are read, inferred and stitched).
    pub fn tiles(&self) -> impl Iterator<Item = Tile> + '_ {
        (0..self.rows()).flat_map(move |r| (0..self.cols()).map(move |c| self.tile(r, c)))
    }

    /// Raster rows that are final once tile row `row` has been stitched: no later tile
    /// touches them. Returns one past the last final row.
    pub fn rows_final_after(&self, row: usize) -> usize {
        if row + 1 >= self.ys.len() {
            self.spec.height_px
        } else {
            self.ys[row + 1].start
        }
    }

    /// Blending weights of tile (`row`, `col`) as two 1-D profiles `(wx, wy)`; the 2-D
    /// weight of window pixel `(i, j)` is `wx[i] * wy[j]`.
    pub fn blend_weights(&self, row: usize, col: usize) -> (Vec<f32>, Vec<f32>) {
        let (sx, sy) = (&self.xs[col], &self.ys[row]);
        let mut wx = vec![0.0; sx.len];
        let mut wy = vec![0.0; sy.len];
        blend_weights_1d(sx, self.spec.margin_px, &mut wx);
        blend_weights_1d(sy, self.spec.margin_px, &mut wy);
        (wx, wy)
    }

    /// Centre-crop weights of tile (`row`, `col`): 1 in the core, 0 elsewhere.
    pub fn core_weights(&self, row: usize, col: usize) -> (Vec<f32>, Vec<f32>) {
        let (sx, sy) = (&self.xs[col], &self.ys[row]);
        let mut wx = vec![0.0; sx.len];
        let mut wy = vec![0.0; sy.len];
        core_weights_1d(sx, &mut wx);
        core_weights_1d(sy, &mut wy);
        (wx, wy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_tile_when_raster_is_small() {
        let s = spans(100, 256, 64);
        assert_eq!(s.len(), 1);
        assert_eq!(
            (s[0].start, s[0].len, s[0].core_start, s[0].core_end),
            (0, 100, 0, 100)
        );
        let mut w = vec![0.0; 100];
        blend_weights_1d(&s[0], 16, &mut w);
        assert!(w.iter().all(|&v| v == 1.0));
    }

    #[test]
    fn last_tile_is_shifted_inside() {
        let s = spans(1000, 256, 64);
        assert_eq!(s.len(), 5);
        assert_eq!(s[4].start, 1000 - 256);
        assert!(s[4].at_end && !s[4].at_start);
        assert!(s[0].at_start && !s[0].at_end);
    }

    #[test]
    fn interior_weights_are_zero_in_margin_and_peak_in_middle() {
        let s = spans(2000, 256, 64);
        let mut w = vec![0.0; 256];
        blend_weights_1d(&s[2], 16, &mut w);
        assert!(w[..16].iter().all(|&v| v == 0.0));
        assert!(w[240..].iter().all(|&v| v == 0.0));
        assert!(w[16] > 0.0 && w[239] > 0.0);
        assert!(w[128] > 0.99);
        // first tile: flat toward the raster's edge
        blend_weights_1d(&s[0], 16, &mut w);
        assert!(w[..120].iter().all(|&v| v == 1.0));
        assert!(w[250] == 0.0);
    }

    #[test]
    fn bad_specs_are_refused() {
        let base = GridSpec {
            width_px: 10,
            height_px: 10,
            tile_px: 8,
            overlap_px: 4,
            margin_px: 2,
            align_px: 1,
        };
        assert!(Grid::new(base).is_ok());
        assert_eq!(
            Grid::new(GridSpec {
                width_px: 0,
                ..base
            })
            .unwrap_err(),
            GridError::EmptyRaster
        );
        assert!(matches!(
            Grid::new(GridSpec {
                overlap_px: 8,
                ..base
            }),
            Err(GridError::OverlapTooLarge { .. })
        ));
        assert!(matches!(
            Grid::new(GridSpec {
                margin_px: 3,
                ..base
            }),
            Err(GridError::MarginTooLarge { .. })
        ));
    }
}
