//! The comparison grid: BEFORE's pixel grid restricted to the part that AFTER covers.
//!
//! AFTER's footprint (its pixel boundary, each edge densified to 32 points) is
//! transformed into BEFORE's CRS; its bounding box, snapped outwards to BEFORE's pixel
//! edges and clipped to BEFORE, is the window compared. Pixels of the window that AFTER
//! does not actually cover (a rotated footprint) are nodata after alignment.

use std::path::Path;

use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};

use crate::error::{Error, GdalContext, Result};
use crate::raster::{GeoTransform, PixelGrid, RasterInfo};

/// A window of BEFORE's grid.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareGrid {
    /// Offset of the window in BEFORE's pixels.
    pub x0_px: usize,
    pub y0_px: usize,
    /// The window: its size, geotransform and CRS (BEFORE's).
    pub grid: PixelGrid,
}

impl CompareGrid {
    /// The window's geotransform (a comparison grid is always georeferenced).
    pub fn gt(&self) -> GeoTransform {
        self.grid
            .geo_transform
            .expect("a comparison grid is made from a georeferenced raster")
    }
    pub fn width_px(&self) -> usize {
        self.grid.width_px
    }
    pub fn height_px(&self) -> usize {
        self.grid.height_px
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
        .gdal_err(|t| Error::input(path, format!("its CRS cannot be read ({t})")))?;
    s.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    Ok(s)
}

fn north_up(info: &RasterInfo) -> Result<GeoTransform> {
    let gt = info.require_geo_transform()?;
    if !gt.is_north_up() {
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
    let bgt = north_up(before)?.0;
    after.require_geo_transform()?;
    let bsrs = srs(&before.path, &before.grid.crs_wkt)?;
    let asrs = srs(&after.path, &after.grid.crs_wkt)?;
    let (mut xs, mut ys) = after.grid.outline(32).expect("georeferenced");
    let ct = CoordTransform::new(&asrs, &bsrs).gdal_err(|t| {
        Error::mismatch(
            &after.path,
            format!(
                "its CRS cannot be transformed to the CRS of {} ({t})",
                before.path.display()
            ),
        )
    })?;
    ct.transform_coords(&mut xs, &mut ys, &mut [])
        .gdal_err(|t| {
            Error::mismatch(
                &after.path,
                format!(
                    "its footprint cannot be transformed to the CRS of {} ({t})",
                    before.path.display()
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
        .min(before.grid.width_px as f64);
    let r0 = ((ymax - bgt[3]) / bgt[5] + EPS).floor().max(0.0);
    let r1 = ((ymin - bgt[3]) / bgt[5] - EPS)
        .ceil()
        .min(before.grid.height_px as f64);
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
        grid: before
            .grid
            .window(x0, y0, (c1 - c0) as usize, (r1 - r0) as usize),
    })
}
