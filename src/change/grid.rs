//! The comparison grid: BEFORE's pixel grid restricted to the part that AFTER covers.
//!
//! AFTER's footprint (its pixel boundary, each edge densified to 32 points) is
//! transformed into BEFORE's CRS; its bounding box, snapped outwards to BEFORE's pixel
//! edges and clipped to BEFORE, is the window compared. Pixels of the window that AFTER
//! does not actually cover (a rotated footprint) are nodata after alignment.

use std::path::Path;

use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};

use crate::error::{gdal_text, Error, Result};
use crate::read::RasterInfo;

/// A window of BEFORE's grid.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareGrid {
    /// Offset of the window in BEFORE's pixels.
    pub x0_px: usize,
    pub y0_px: usize,
    pub width_px: usize,
    pub height_px: usize,
    /// Geotransform of the window.
    pub geo_transform: [f64; 6],
    /// CRS (WKT), BEFORE's.
    pub projection: String,
}

impl CompareGrid {
    /// (xmin, ymin, xmax, ymax) of the window in its CRS (north-up grids).
    pub fn bounds(&self) -> [f64; 4] {
        let g = &self.geo_transform;
        let (x1, y1) = (
            g[0] + self.width_px as f64 * g[1],
            g[3] + self.height_px as f64 * g[5],
        );
        [g[0].min(x1), g[3].min(y1), g[0].max(x1), g[3].max(y1)]
    }
}

/// A CRS from WKT with x = easting/longitude, y = northing/latitude.
pub fn srs(path: &Path, wkt: &str) -> Result<SpatialRef> {
    if wkt.trim().is_empty() {
        return Err(Error::input(
            path,
            "has no coordinate reference system; assign one (gdal_edit.py -a_srs EPSG:...) so it can be compared",
        ));
    }
    let mut s = SpatialRef::from_wkt(wkt)
        .map_err(|e| Error::input(path, format!("its CRS cannot be read ({})", gdal_text(&e))))?;
    s.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    Ok(s)
}

/// Points along the boundary of a raster's pixel grid, `n` per edge, in its CRS, in ring
/// order (clockwise on a north-up map), not closed.
pub fn outline(gt: &[f64; 6], width: usize, height: usize, n: usize) -> (Vec<f64>, Vec<f64>) {
    let (w, h) = (width as f64, height as f64);
    let mut px = Vec::with_capacity(4 * n);
    let steps = |k: usize| {
        (0..n)
            .map(move |i| i as f64 / n as f64)
            .map(move |t| (k, t))
    };
    // top edge left to right, right edge down, bottom edge right to left, left edge up
    for (k, t) in steps(0).chain(steps(1)).chain(steps(2)).chain(steps(3)) {
        px.push(match k {
            0 => (t * w, 0.0),
            1 => (w, t * h),
            2 => (w - t * w, h),
            _ => (0.0, h - t * h),
        });
    }
    px.into_iter()
        .map(|(c, r)| (gt[0] + c * gt[1] + r * gt[2], gt[3] + c * gt[4] + r * gt[5]))
        .unzip()
}

fn north_up(info: &RasterInfo) -> Result<[f64; 6]> {
    let gt = info.geo_transform.ok_or_else(|| {
        Error::input(
            &info.path,
            "has no geotransform, so where it lies is unknown; georeference it first",
        )
    })?;
    if gt[2] != 0.0 || gt[4] != 0.0 || gt[1] <= 0.0 || gt[5] >= 0.0 {
        return Err(Error::input(
            &info.path,
            "is not a north-up grid (rotated or flipped geotransform); warp it to a north-up grid first (gdalwarp)",
        ));
    }
    Ok(gt)
}

/// The window of `before`'s grid covered by `after`, or an error naming both when they do
/// not overlap.
pub fn intersect(before: &RasterInfo, after: &RasterInfo) -> Result<CompareGrid> {
    let bgt = north_up(before)?;
    let agt = after.geo_transform.ok_or_else(|| {
        Error::input(
            &after.path,
            "has no geotransform, so where it lies is unknown; georeference it first",
        )
    })?;
    let bsrs = srs(&before.path, &before.projection)?;
    let asrs = srs(&after.path, &after.projection)?;
    let (mut xs, mut ys) = outline(&agt, after.width, after.height, 32);
    let ct = CoordTransform::new(&asrs, &bsrs).map_err(|e| {
        Error::mismatch(
            &after.path,
            format!(
                "its CRS cannot be transformed to the CRS of {} ({})",
                before.path.display(),
                gdal_text(&e)
            ),
        )
    })?;
    ct.transform_coords(&mut xs, &mut ys, &mut [])
        .map_err(|e| {
            Error::mismatch(
                &after.path,
                format!(
                    "its footprint cannot be transformed to the CRS of {} ({})",
                    before.path.display(),
                    gdal_text(&e)
                ),
            )
        })?;
    let fold = |v: &[f64], f: fn(f64, f64) -> f64, init| v.iter().copied().fold(init, f);
    let (xmin, xmax) = (
        fold(&xs, f64::min, f64::INFINITY),
        fold(&xs, f64::max, f64::NEG_INFINITY),
    );
    let (ymin, ymax) = (
        fold(&ys, f64::min, f64::INFINITY),
        fold(&ys, f64::max, f64::NEG_INFINITY),
    );
    // to BEFORE's pixel coordinates; a tolerance keeps exact edges from adding a pixel
    const EPS: f64 = 1e-6;
    let c0 = ((xmin - bgt[0]) / bgt[1] + EPS).floor().max(0.0);
    let c1 = ((xmax - bgt[0]) / bgt[1] - EPS)
        .ceil()
        .min(before.width as f64);
    let r0 = ((ymax - bgt[3]) / bgt[5] + EPS).floor().max(0.0);
    let r1 = ((ymin - bgt[3]) / bgt[5] - EPS)
        .ceil()
        .min(before.height as f64);
    if !(c1 > c0 && r1 > r0) {
        return Err(Error::mismatch(
            &after.path,
            format!(
                "does not overlap {} at all, so there is nothing to compare; pass two rasters of the same place",
                before.path.display()
            ),
        ));
    }
    let (x0, y0) = (c0 as usize, r0 as usize);
    Ok(CompareGrid {
        x0_px: x0,
        y0_px: y0,
        width_px: (c1 - c0) as usize,
        height_px: (r1 - r0) as usize,
        geo_transform: [
            bgt[0] + x0 as f64 * bgt[1],
            bgt[1],
            0.0,
            bgt[3] + y0 as f64 * bgt[5],
            0.0,
            bgt[5],
        ],
        projection: before.projection.clone(),
    })
}
