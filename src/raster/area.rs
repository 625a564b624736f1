//! Pixel areas in square metres, right in every CRS.
//!
//! In a projected CRS every pixel has the same area: the geotransform's determinant
//! `|a*e - b*d|` times the square of the CRS's linear unit in metres (1 for metres,
//! 0.3048 for international feet, ...). In a geographic CRS a pixel is a cell between two
//! meridians and two parallels, whose area shrinks with latitude: each pixel row gets the
//! exact area of that cell on the CRS's ellipsoid (the closed form for the area of an
//! ellipsoidal band between two latitudes).

use std::path::Path;

use gdal::spatial_ref::SpatialRef;

use super::PixelGrid;
use crate::error::{Error, GdalContext, Result};

/// The area of the pixels of one grid, by row.
#[derive(Debug, Clone, PartialEq)]
pub enum PixelArea {
    /// Every pixel has this area (projected CRS).
    Constant { pixel_area_m2: f64 },
    /// A geographic grid: row `y` spans latitudes `top_deg + y*dlat_deg .. + dlat_deg`.
    Geographic {
        top_deg: f64,
        dlat_deg: f64,
        dlon_deg: f64,
        semi_major_m: f64,
        semi_minor_m: f64,
    },
}

impl PixelArea {
    /// Pixel areas of a grid (it needs a geotransform and a CRS). `path` names the
    /// raster in errors.
    pub fn of_grid(path: &Path, grid: &PixelGrid) -> Result<PixelArea> {
        let gt = &grid
            .geo_transform
            .ok_or_else(|| {
                Error::input(
                    path,
                    "has no geotransform, so pixel areas are unknown; georeference it first",
                )
            })?
            .0;
        let wkt = &grid.crs_wkt;
        if wkt.trim().is_empty() {
            return Err(Error::input(
                path,
                "has no coordinate reference system, so pixel areas are unknown; assign one (gdal_edit.py -a_srs EPSG:...)",
            ));
        }
        let srs = SpatialRef::from_wkt(wkt).gdal_err(|t| {
            Error::input(
                path,
                format!("its CRS cannot be read ({t}); assign a valid one"),
            )
        })?;
        if srs.is_geographic() {
            if gt[2] != 0.0 || gt[4] != 0.0 {
                return Err(Error::input(
                    path,
                    "has a rotated geotransform in a geographic CRS; warp it to a north-up grid first (gdalwarp)",
                ));
            }
            let deg = srs.angular_units().to_degrees(); // degrees per angular unit
            let a = srs.semi_major().gdal_err(|t| Error::input(path, t))?;
            let b = srs.semi_minor().gdal_err(|t| Error::input(path, t))?;
            Ok(PixelArea::Geographic {
                top_deg: gt[3] * deg,
                dlat_deg: gt[5] * deg,
                dlon_deg: gt[1] * deg,
                semi_major_m: a,
                semi_minor_m: b,
            })
        } else {
            let unit_m = srs.linear_units();
            Ok(PixelArea::Constant {
                pixel_area_m2: super::GeoTransform(*gt).pixel_area() * unit_m * unit_m,
            })
        }
    }

    /// The area in m2 of one pixel of row `y`.
    pub fn row_m2(&self, y: usize) -> f64 {
        match *self {
            PixelArea::Constant { pixel_area_m2 } => pixel_area_m2,
            PixelArea::Geographic {
                top_deg,
                dlat_deg,
                dlon_deg,
                semi_major_m,
                semi_minor_m,
            } => {
                let lat1 = top_deg + y as f64 * dlat_deg;
                let lat2 = lat1 + dlat_deg;
                cell_area_m2(semi_major_m, semi_minor_m, lat1, lat2, dlon_deg)
            }
        }
    }

    /// The pixel area when it is the same for every pixel.
    pub fn constant_m2(&self) -> Option<f64> {
        match *self {
            PixelArea::Constant { pixel_area_m2 } => Some(pixel_area_m2),
            PixelArea::Geographic { .. } => None,
        }
    }
}

/// Area in m2 of the cell between latitudes `lat1_deg`, `lat2_deg` spanning `dlon_deg` of
/// longitude on the ellipsoid with semi-axes `a` and `b`: `b^2/2 * dlon * [q(lat)]`, with
/// `q(p) = sin p / (1 - e^2 sin^2 p) + atanh(e sin p) / e`.
pub fn cell_area_m2(a: f64, b: f64, lat1_deg: f64, lat2_deg: f64, dlon_deg: f64) -> f64 {
    let e2 = (1.0 - (b * b) / (a * a)).max(0.0);
    let e = e2.sqrt();
    let q = |lat_deg: f64| {
        let s = lat_deg.to_radians().sin();
        if e < 1e-12 {
            2.0 * s
        } else {
            s / (1.0 - e2 * s * s) + (e * s).atanh() / e
        }
    };
    (b * b / 2.0 * dlon_deg.to_radians() * (q(lat2_deg) - q(lat1_deg))).abs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sphere_band_matches_the_spherical_formula() {
        // on a sphere the band area is R^2 * dlon * (sin lat2 - sin lat1)
        let r = 6_371_000.0;
        let got = cell_area_m2(r, r, 10.0, 11.0, 2.0);
        let want =
            r * r * 2f64.to_radians() * (11f64.to_radians().sin() - 10f64.to_radians().sin());
        assert!((got - want).abs() / want < 1e-12, "{got} vs {want}");
    }

    #[test]
    fn whole_ellipsoid_area() {
        // WGS 84 surface area: 510,065,621.7 km2
        let a = 6_378_137.0;
        let b = a * (1.0 - 1.0 / 298.257_223_563);
        let got = cell_area_m2(a, b, -90.0, 90.0, 360.0);
        assert!((got / 1e6 - 510_065_621.7).abs() < 1.0, "{}", got / 1e6);
    }
}
