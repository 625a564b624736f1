//! Ground measures of a polygon traced from a class map: its area in m2 and its
//! perimeter in m, geodesic on the WGS 84 ellipsoid for every CRS.
//!
//! The polygon's edges are straight lines in the class map's CRS (pixel edges). Each is
//! cut into pieces of at most about 1 km ([`MAX_SEGMENT_M`], in the CRS's units) with
//! geo's Euclidean densify, the vertices are taken to longitude/latitude with PROJ
//! (`proj`, EPSG:4326, longitude first), and geo measures the result: `geodesic_area`
//! (rings oriented first: exterior counter-clockwise, holes clockwise, as geo's geodesic
//! area needs) and the geodesic length of every ring (the outer boundary plus the holes'
//! boundaries). The same ground areas as the raster's own class areas
//! ([`crate::raster::PixelArea`]), for geographic and projected CRSs alike: a projected
//! CRS's plane areas are not ground areas (Web Mercator at 35 N: +23%), so planar areas
//! are not used.

use std::path::Path;

use gdal::spatial_ref::{CoordTransform, SpatialRef};
use geo::line_measures::{Densify, Length};
use geo::{Euclidean, Geodesic, GeodesicArea, LineString, Orient, Polygon};

use crate::error::{Error, GdalContext, Result};

/// The longest piece of an edge measured as one geodesic, in metres (about: in a
/// geographic CRS, 0.01 degree). Straight lines of the map are curves on the
/// ellipsoid; over 1 km a geodesic and a parallel enclose about 11 m2 at 40 N.
pub const MAX_SEGMENT_M: f64 = 1_000.0;

/// Measures polygons of one CRS.
pub struct Measurer {
    to_lonlat: proj::Proj,
    /// [`MAX_SEGMENT_M`] in the CRS's units.
    max_segment: f64,
    ring: Vec<(f64, f64)>,
}

impl Measurer {
    /// A measurer for polygons in the CRS `crs_wkt` of the class map `path`.
    pub fn new(path: &Path, crs_wkt: &str) -> Result<Measurer> {
        if crs_wkt.trim().is_empty() {
            return Err(Error::input(
                path,
                "has no coordinate reference system, so polygon areas are unknown; assign one (gdal_edit.py -a_srs EPSG:...)",
            ));
        }
        let srs = SpatialRef::from_wkt(crs_wkt).gdal_err(|t| {
            Error::input(
                path,
                format!("its CRS cannot be read ({t}); assign a valid one"),
            )
        })?;
        let no_lonlat = |why: String| {
            Error::input(
                path,
                format!("its CRS cannot be transformed to longitude/latitude ({why}), so polygon areas are unknown; assign a CRS PROJ knows (gdal_edit.py -a_srs EPSG:...)"),
            )
        };
        // as in raster::area: GDAL asks PROJ first, so the proj crate never panics on a
        // CRS without an operation to EPSG:4326
        let lonlat = SpatialRef::from_epsg(4326)
            .gdal_err(|t| Error::Internal(format!("EPSG:4326 is unknown to PROJ ({t})")))?;
        CoordTransform::new(&srs, &lonlat)
            .gdal_err(|_| no_lonlat("PROJ finds no operation from it to EPSG:4326".into()))?;
        let to_lonlat = proj::Proj::new_known_crs(crs_wkt, "EPSG:4326", None)
            .map_err(|e| no_lonlat(e.to_string()))?;
        let max_segment = if srs.is_geographic() {
            // degrees per angular unit; ~111 km per degree
            MAX_SEGMENT_M / 111_000.0 / srs.angular_units().to_degrees()
        } else {
            MAX_SEGMENT_M / srs.linear_units()
        };
        Ok(Measurer {
            to_lonlat,
            max_segment,
            ring: Vec::new(),
        })
    }

    /// (area in m2, perimeter in m) of `poly`, given in the CRS.
    pub fn measure(&mut self, poly: &Polygon<f64>) -> Result<(f64, f64)> {
        let dense = Euclidean.densify(poly, self.max_segment);
        let exterior = self.lonlat(dense.exterior())?;
        let mut interiors = Vec::with_capacity(dense.interiors().len());
        for r in dense.interiors() {
            interiors.push(self.lonlat(r)?);
        }
        let mut perimeter_m = Geodesic.length(&exterior);
        for r in &interiors {
            perimeter_m += Geodesic.length(r);
        }
        let area_m2 = Polygon::new(exterior, interiors)
            .orient(geo::orient::Direction::Default)
            .geodesic_area_unsigned();
        Ok((area_m2, perimeter_m))
    }

    /// A ring taken to longitude/latitude.
    fn lonlat(&mut self, ring: &LineString<f64>) -> Result<LineString<f64>> {
        self.ring.clear();
        self.ring.extend(ring.coords().map(|c| (c.x, c.y)));
        self.to_lonlat
            .convert_array(&mut self.ring)
            .map_err(|e| Error::Internal(format!("PROJ failed on a polygon's vertices: {e}")))?;
        Ok(LineString::from(self.ring.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    #[test]
    fn a_utm_square_and_a_geographic_cell_measure_as_on_the_ground() {
        // a 1 km square with a 100 m hole at UTM 32N's central meridian, where the
        // scale is 0.9996: ground lengths are the plane's / 0.9996, areas / 0.9992
        let wkt = SpatialRef::from_epsg(32632).unwrap().to_wkt().unwrap();
        let mut m = Measurer::new(Path::new("t.tif"), &wkt).unwrap();
        let sq = polygon!(
            exterior: [(x: 500_000., y: 5_000_000.), (x: 501_000., y: 5_000_000.), (x: 501_000., y: 5_001_000.), (x: 500_000., y: 5_001_000.)],
            interiors: [[(x: 500_100., y: 5_000_100.), (x: 500_200., y: 5_000_100.), (x: 500_200., y: 5_000_200.), (x: 500_100., y: 5_000_200.)]],
        );
        let (a, p) = m.measure(&sq).unwrap();
        let plane = 1e6 - 1e4;
        assert!((a / plane - 1.0 / 0.9996f64.powi(2)).abs() < 5e-5, "{a}");
        assert!((p / 4400.0 - 1.0 / 0.9996).abs() < 5e-5, "{p}");
        // a geographic cell of 0.1 x 0.1 degree at 40..40.1 N: the exact ellipsoidal
        // cell, either way round
        let wkt = SpatialRef::from_epsg(4326).unwrap().to_wkt().unwrap();
        let mut m = Measurer::new(Path::new("t.tif"), &wkt).unwrap();
        let exact = crate::raster::area::cell_area_m2(6378137.0, 6356752.314245, 40.0, 40.1, 0.1);
        for cell in [
            polygon![(x: 10.0, y: 40.0), (x: 10.1, y: 40.0), (x: 10.1, y: 40.1), (x: 10.0, y: 40.1)],
            polygon![(x: 10.0, y: 40.0), (x: 10.0, y: 40.1), (x: 10.1, y: 40.1), (x: 10.1, y: 40.0)],
        ] {
            let (a, _) = m.measure(&cell).unwrap();
            assert!((a / exact - 1.0).abs() < 1e-5, "{a} vs {exact}");
        }
    }
}
