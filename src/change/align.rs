//! Alignment: AFTER's class map resampled onto the comparison grid with GDAL's warper.
//!
//! The class maps are compared, not the imagery: each date is segmented on its own grid
//! (so the model sees the pixels it was trained on), then AFTER's classes are warped onto
//! the comparison grid (BEFORE's grid, restricted to the intersection). Resampling is
//! nearest neighbour, or mode where AFTER's pixels are markedly smaller than BEFORE's
//! (several AFTER pixels vote for one comparison pixel). The result is a virtual raster
//! (GDAL's warped VRT, in memory): rows are warped as they are read, so memory stays
//! bounded by the rows in flight.

use gdal::spatial_ref::CoordTransform;

use super::grid::{srs, CompareGrid};
use crate::error::{Error, GdalContext, Result};
use crate::raster::programs::{self, Warped};
use crate::raster::{RasterInfo, Resampling};

/// The nodata value of the warped raster (UInt16).
pub const WARPED_NODATA: u16 = u16::MAX;

/// Nearest unless AFTER's pixels, measured in BEFORE's CRS, are less than 2/3 the size of
/// the comparison pixels (coarsening): then mode.
pub fn choose_resampling(after: &RasterInfo, grid: &CompareGrid) -> Result<Resampling> {
    let mut g = after.grid.clone();
    g.geo_transform
        .get_or_insert(crate::raster::GeoTransform([0.0, 1.0, 0.0, 0.0, 0.0, -1.0]));
    let (mut xs, mut ys) = g.outline(8).expect("georeferenced above");
    let ct = CoordTransform::new(
        &srs(&after.path, &after.grid.crs_wkt)?,
        &srs(&after.path, &grid.grid.crs_wkt)?,
    )
    .gdal_err(|t| Error::mismatch(&after.path, t))?;
    ct.transform_coords(&mut xs, &mut ys, &mut [])
        .gdal_err(|t| Error::mismatch(&after.path, t))?;
    let span = |v: &[f64]| {
        v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
            - v.iter().copied().fold(f64::INFINITY, f64::min)
    };
    let after_px = (span(&xs) / g.width_px as f64).min(span(&ys) / g.height_px as f64);
    let gt = grid.gt().0;
    let grid_px = gt[1].abs().min(gt[5].abs());
    Ok(if after_px < grid_px * 2.0 / 3.0 {
        Resampling::Mode
    } else {
        Resampling::Nearest
    })
}

/// Warps `src` (a class map: band 1 is read; a confidence band is warped along, since
/// GDAL 3.6's warper has no band selection) onto `grid`: UInt16, nodata
/// [`WARPED_NODATA`] where AFTER has nodata or no data at all.
pub fn warp_onto(src: &RasterInfo, grid: &CompareGrid, resampling: Resampling) -> Result<Warped> {
    programs::warp_u16(&src.path, &grid.grid, resampling, WARPED_NODATA)
}
