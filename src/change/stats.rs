//! What a change run found: the from-to matrix (pixels and m2), per statistics tile, per
//! zone, and the dates as they were compared.

use std::fmt;
use std::path::PathBuf;

use super::grid::CompareGrid;
use crate::raster::{AreaMethod, RasterInfo, Resampling};
use crate::segment::Summary;

/// The figures of one zone (a polygon of `--zones`).
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneStat {
    /// Index of the polygon in the zones file (0-based, in reading order).
    pub zone: usize,
    pub name: String,
    /// `matrix_px[from * N + to]` within the zone.
    pub matrix_px: Vec<u64>,
    pub matrix_area_m2: Vec<f64>,
}

/// One date as compared.
#[derive(Debug, Clone)]
pub struct DateInput {
    /// The imagery, when it was segmented (or given alongside its classes).
    pub imagery: Option<RasterInfo>,
    /// The class map compared.
    pub classes: RasterInfo,
    /// The segmentation run, when the model was used.
    pub segmented: Option<Summary>,
    /// The file the change raster's metadata names for this date when it is not the one
    /// above (a date series compares copies aligned on its grid).
    pub shown_as: Option<PathBuf>,
}

/// The figures of one statistics tile.
#[derive(Debug, Clone, PartialEq)]
pub struct TileStat {
    pub row: usize,
    pub col: usize,
    /// Window in comparison-grid pixels.
    pub x0_px: usize,
    pub y0_px: usize,
    pub width_px: usize,
    pub height_px: usize,
    pub valid_px: u64,
    pub changed_px: u64,
    pub changed_area_m2: f64,
    /// The changed (from, to) pair with most pixels, and its pixels.
    pub dominant: Option<(usize, usize, u64)>,
    /// Footprint in EPSG:4326 (lon, lat), counter-clockwise, closed.
    pub footprint_lonlat: Vec<(f64, f64)>,
}

/// What a change run found.
#[derive(Debug, Clone)]
pub struct ChangeStats {
    pub before: DateInput,
    pub after: DateInput,
    /// Where the change raster went.
    pub output: PathBuf,
    pub grid: CompareGrid,
    pub resampling: Resampling,
    pub class_names: Vec<String>,
    pub class_colors: Vec<[u8; 3]>,
    /// `matrix_px[from * N + to]`: pixels per transition.
    pub matrix_px: Vec<u64>,
    pub matrix_area_m2: Vec<f64>,
    pub valid_px: u64,
    pub valid_area_m2: f64,
    /// How the pixel areas were measured.
    pub area_method: AreaMethod,
    pub tiles: Vec<TileStat>,
    /// Per zone, with `--zones`.
    pub zones: Vec<ZoneStat>,
    pub seconds: f64,
    pub notes: Vec<String>,
}

impl ChangeStats {
    pub fn classes(&self) -> usize {
        self.class_names.len()
    }
    /// Pixels and m2 that changed class (the off-diagonal of the matrix).
    pub fn changed(&self) -> (u64, f64) {
        changed(&self.matrix_px, &self.matrix_area_m2, self.classes())
    }
    /// Pixels and m2 per class before (row sums of the matrix).
    pub fn before_totals(&self) -> (Vec<u64>, Vec<f64>) {
        let n = self.classes();
        let px = (0..n)
            .map(|f| self.matrix_px[f * n..(f + 1) * n].iter().sum())
            .collect();
        let m2 = (0..n)
            .map(|f| self.matrix_area_m2[f * n..(f + 1) * n].iter().sum())
            .collect();
        (px, m2)
    }
    /// Pixels and m2 per class after (column sums of the matrix).
    pub fn after_totals(&self) -> (Vec<u64>, Vec<f64>) {
        let n = self.classes();
        let px = (0..n)
            .map(|t| (0..n).map(|f| self.matrix_px[f * n + t]).sum())
            .collect();
        let m2 = (0..n)
            .map(|t| (0..n).map(|f| self.matrix_area_m2[f * n + t]).sum())
            .collect();
        (px, m2)
    }
}

/// The off-diagonal sums of an `n` x `n` matrix in pixels and m2: what changed class.
pub fn changed(matrix_px: &[u64], matrix_area_m2: &[f64], n: usize) -> (u64, f64) {
    let mut px = 0;
    let mut m2 = 0.0;
    for k in (0..n * n).filter(|k| k / n != k % n) {
        px += matrix_px[k];
        m2 += matrix_area_m2.get(k).copied().unwrap_or(0.0);
    }
    (px, m2)
}

/// The one-line summary printed after a run.
impl fmt::Display for ChangeStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (changed, _) = self.changed();
        write!(
            f,
            "{}: {}x{} px compared ({} classes, AFTER resampled by {}), {} valid, {} changed ({:.1}%), {:.1} s",
            self.output.display(),
            self.grid.width_px(),
            self.grid.height_px(),
            self.classes(),
            self.resampling.gdal_name(),
            self.valid_px,
            changed,
            100.0 * changed as f64 / self.valid_px.max(1) as f64,
            self.seconds
        )
    }
}
