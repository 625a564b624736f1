//! Reading at the model's resolution. A model trained on 30 m pixels sees 10 m pixels
//! as a zoomed-in, different world; when a model declares its resolution and the input
//! differs by more than [`TOLERANCE`], the input is resampled on read: GDAL averages
//! when coarsening and interpolates bilinearly when refining, through a VRT (the same
//! code path as `gdal_translate -outsize W H -r average -ot Float32`), so memory stays
//! bounded and results equal GDAL's own. The class map is brought back onto the input's
//! grid afterwards (nearest when the model grid is coarser, mode when it is finer).

use gdal::spatial_ref::SpatialRef;

use crate::raster::{PixelGrid, RasterInfo, Resampling};

/// Resolutions within 10% of each other are used as they are.
pub const TOLERANCE: f64 = 0.10;

/// The grid the model reads: the input's extent at (about) the model's resolution, sized
/// per axis (a geographic raster's pixels are narrower east-west than north-south).
#[derive(Debug, Clone, PartialEq)]
pub struct Resample {
    /// The model grid.
    pub grid: PixelGrid,
    /// Size of the input grid, in pixels.
    pub input_width_px: usize,
    pub input_height_px: usize,
    /// Pixel width and height of the input, in metres.
    pub input_res_m: (f64, f64),
    /// Pixel size of the model, in metres.
    pub model_res_m: f64,
    /// Input -> model grid.
    pub method: Resampling,
}

impl Resample {
    /// Model grid -> input grid, for the class map: nearest when the model grid is
    /// coarser, mode when it is finer.
    pub fn back_method(&self) -> Resampling {
        if self.grid.pixels() <= self.input_width_px * self.input_height_px {
            Resampling::Nearest
        } else {
            Resampling::Mode
        }
    }

    /// How many times the input's pixel count the model grid holds.
    pub fn growth(&self) -> f64 {
        self.grid.pixels() as f64 / (self.input_width_px * self.input_height_px).max(1) as f64
    }
}

/// "10.00 m", or "127.63 x 166.52 m" when width and height differ (by more than 0.5%).
pub fn format_res((x, y): (f64, f64)) -> String {
    if (x / y - 1.0).abs() <= 0.005 {
        format!("{:.2} m", (x + y) / 2.0)
    } else {
        format!("{x:.2} x {y:.2} m")
    }
}

/// The input's pixel width and height in metres, from its geotransform and CRS: the
/// CRS's linear unit for projected CRSs; for geographic ones, metres per degree of
/// longitude and of latitude at the raster's centre latitude (on the WGS 84 ellipsoid,
/// good to well under 1%). None without a geotransform or CRS.
pub fn pixel_size_xy_m(raster: &RasterInfo) -> Option<(f64, f64)> {
    let g = &raster.grid;
    let gt = g.geo_transform?;
    if g.crs_wkt.is_empty() {
        return None;
    }
    let srs = SpatialRef::from_wkt(&g.crs_wkt).ok()?;
    let (px, py) = gt.pixel_size();
    if srs.is_geographic() {
        let lat = gt
            .apply(g.width_px as f64 / 2.0, g.height_px as f64 / 2.0)
            .1
            .to_radians();
        let m_lon = 111_412.84 * lat.cos() - 93.5 * (3.0 * lat).cos();
        let m_lat = 111_132.92 - 559.82 * (2.0 * lat).cos() + 1.175 * (4.0 * lat).cos();
        Some((px * m_lon, py * m_lat))
    } else {
        let unit = srs.linear_units();
        Some((px * unit, py * unit))
    }
}

/// The input's pixel size in metres as one number: the mean of its width and height
/// ([`pixel_size_xy_m`]).
pub fn pixel_size_m(raster: &RasterInfo) -> Option<f64> {
    pixel_size_xy_m(raster).map(|(x, y)| (x + y) / 2.0)
}

/// The model grid for `raster`, or None when no resampling is needed (both pixel sides
/// within [`TOLERANCE`] of the model's resolution, or either resolution unknown).
/// Each axis is scaled by its own pixel side, so the model sees square pixels.
pub fn plan(raster: &RasterInfo, model_res_m: Option<f64>) -> Option<Resample> {
    let model = model_res_m.filter(|r| *r > 0.0)?;
    let (in_x, in_y) = pixel_size_xy_m(raster)?;
    let (fx, fy) = (in_x / model, in_y / model);
    if (fx - 1.0).abs() <= TOLERANCE && (fy - 1.0).abs() <= TOLERANCE {
        return None;
    }
    let g = &raster.grid;
    g.geo_transform?;
    let width = ((g.width_px as f64 * fx).round() as usize).max(1);
    let height = ((g.height_px as f64 * fy).round() as usize).max(1);
    Some(Resample {
        grid: g.resized(width, height),
        input_width_px: g.width_px,
        input_height_px: g.height_px,
        input_res_m: (in_x, in_y),
        model_res_m: model,
        method: if fx * fy < 1.0 {
            Resampling::Average
        } else {
            Resampling::Bilinear
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(gt: [f64; 6], wkt: &str, w: usize, h: usize) -> RasterInfo {
        RasterInfo {
            path: "x.tif".into(),
            grid: PixelGrid {
                width_px: w,
                height_px: h,
                geo_transform: Some(crate::raster::GeoTransform(gt)),
                crs_wkt: wkt.into(),
            },
            band_count: 1,
            band_descriptions: vec![String::new()],
            alpha_bands: vec![],
            band_colours: vec!["Gray".into()],
        }
    }

    #[test]
    fn plans_the_model_grid_on_the_same_extent() {
        let utm = SpatialRef::from_epsg(32618).unwrap().to_wkt().unwrap();
        let r = info([500000.0, 10.0, 0.0, 4e6, 0.0, -10.0], &utm, 1933, 1947);
        assert_eq!(pixel_size_m(&r), Some(10.0));
        assert!(plan(&r, Some(10.5)).is_none(), "within 10%");
        assert!(plan(&r, None).is_none());
        let p = plan(&r, Some(30.0)).unwrap();
        assert_eq!(
            (p.grid.width_px, p.grid.height_px, p.method),
            (644, 649, Resampling::Average)
        );
        // same extent
        let gt = p.grid.geo_transform.unwrap().0;
        assert!((gt[1] * 644.0 - 19330.0).abs() < 1e-6);
        assert!((gt[5] * 649.0 + 19470.0).abs() < 1e-6);
        assert_eq!(p.back_method(), Resampling::Nearest);
        let p = plan(&r, Some(5.0)).unwrap();
        assert_eq!(
            (p.grid.width_px, p.method, p.back_method()),
            (3866, Resampling::Bilinear, Resampling::Mode)
        );
    }

    #[test]
    fn geographic_pixels_are_measured_in_metres() {
        let wgs = SpatialRef::from_epsg(4326).unwrap().to_wkt().unwrap();
        // 0.0003 deg at 60 N: ~16.7 m east-west, ~33.4 m north-south
        let r = info([10.0, 0.0003, 0.0, 60.05, 0.0, -0.0003], &wgs, 100, 333);
        let m = pixel_size_m(&r).unwrap();
        assert!((m - 25.0).abs() < 0.5, "{m}");
        // each side on its own, and the model grid sized per axis
        let (x, y) = pixel_size_xy_m(&r).unwrap();
        assert!(
            (x - 16.75).abs() < 0.1 && (y - 33.42).abs() < 0.1,
            "{x} x {y}"
        );
        let p = plan(&r, Some(30.0)).unwrap();
        assert_eq!((p.grid.width_px, p.grid.height_px), (56, 371));
        assert_eq!(format_res(p.input_res_m), format!("{x:.2} x {y:.2} m"));
    }
}
