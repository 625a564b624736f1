//! A row window of the output: one row-band shard of a job (`SegmentOptions::rows`).
//!
//! The tile grid stays the whole raster's (the same tile origins, overlaps and blending
//! weights as an unsharded run); only the tile rows whose windows touch the window's
//! rows are read, inferred and stitched, and only the window's rows are written. So the
//! shards of a raster, put side by side, equal one unsharded run pixel for pixel.

use std::ops::Range;
use std::path::Path;

use tiles::{Grid, Tile};

use crate::error::{Error, Result};
use crate::raster::PixelGrid;
use crate::stitch::Rows;

/// The output rows a run writes and the tile rows it needs for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowWindow {
    /// Output rows, on the grid the model reads.
    pub rows: Range<usize>,
    /// Tile rows whose windows touch `rows` (or come within [`crate::stitch::halo_px`]).
    pub tile_rows: Range<usize>,
}

impl RowWindow {
    /// Every row of `grid`.
    pub fn whole(grid: &Grid) -> RowWindow {
        RowWindow {
            rows: 0..grid.spec().height_px,
            tile_rows: 0..grid.rows(),
        }
    }

    /// The window `rows` of `grid` (None: the whole grid), or why it cannot be run.
    pub fn new(rows: Option<&Range<usize>>, grid: &Grid, input: &Path) -> Result<RowWindow> {
        let Some(rows) = rows else {
            return Ok(RowWindow::whole(grid));
        };
        let height = grid.spec().height_px;
        if rows.start >= rows.end || rows.end > height {
            return Err(Error::Usage(format!(
                "rows {}..{} of {}: the raster has rows 0..{height}; give a non-empty range inside them (re-plan the job if the raster changed)",
                rows.start,
                rows.end,
                input.display()
            )));
        }
        // and the tiles within the halo of a grid on a model's stride (see stitch::halo_px)
        let halo = crate::stitch::halo_px(grid);
        let ys = grid.y_spans();
        let (a, b) = (rows.start.saturating_sub(halo), rows.end + halo);
        let first = ys.iter().position(|s| s.end() > a).unwrap_or(0);
        let last = ys.iter().rposition(|s| s.start < b).unwrap_or(0);
        Ok(RowWindow {
            rows: rows.clone(),
            tile_rows: first..last + 1,
        })
    }

    /// True when the window is the whole raster.
    pub fn is_whole(&self, grid: &Grid) -> bool {
        *self == RowWindow::whole(grid)
    }

    /// The tiles to run, in row-major order.
    pub fn tiles<'a>(&'a self, grid: &'a Grid) -> impl Iterator<Item = Tile> + 'a {
        self.tile_rows
            .clone()
            .flat_map(move |r| (0..grid.cols()).map(move |c| grid.tile(r, c)))
    }

    /// The output grid: the window's rows of `grid`, georeferenced.
    pub fn output_grid(&self, grid: &PixelGrid) -> PixelGrid {
        grid.window(0, self.rows.start, grid.width_px, self.rows.len())
    }

    /// The part of finished rows inside the window, with rows counted from its top.
    pub fn clip(&self, rows: Rows) -> Rows {
        if self.rows.start == 0 && rows.y0 + rows.h <= self.rows.end {
            return rows;
        }
        rows.within(self.rows.clone())
    }
}
