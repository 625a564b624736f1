//! Pixel areas in square metres: true ground areas on the ellipsoid, in every CRS.
//!
//! A geographic grid's pixel is a cell between two meridians and two parallels: each row
//! gets the exact area of that cell on the CRS's ellipsoid (the closed form for the area
//! of an ellipsoidal band between two latitudes).
//!
//! In a projected CRS the plane's pixel area is not the ground area (a conformal
//! projection scales areas by k^2: +23% for Web Mercator at 35 N, up to ~0.2% in UTM at a
//! zone's edge), and it varies along x as well as y. So the grid is cut into a lattice of
//! cells of `step_px` x `step_px` pixels; each cell's outline, densified, is taken to
//! longitude/latitude with PROJ and measured with geo's geodesic area on the WGS 84
//! ellipsoid, which gives the mean ground area of a pixel of that cell. A pixel's area is
//! then interpolated bilinearly between the cell centres, per block of
//! [`LATTICE_BLOCK_PX`] columns of a row (the counting loops take one area per block).

use std::path::Path;

use gdal::spatial_ref::{CoordTransform, SpatialRef};
use geo::{GeodesicArea, LineString, Orient, Polygon};

use super::{GeoTransform, PixelGrid};
use crate::error::{Error, GdalContext, Result};

/// Columns per area block on a lattice (a pixel row's areas are interpolated once per
/// block of this many pixels).
pub const LATTICE_BLOCK_PX: usize = 16;
/// The ground size a lattice cell aims at, in metres (its area field is smooth well
/// beyond that).
const LATTICE_CELL_M: f64 = 2_000.0;
/// At most this many pixels per lattice cell side.
const LATTICE_MAX_STEP_PX: usize = 64;
/// At most this many lattice cells (the step doubles on very large grids: a 20,000 px
/// square of 10 m pixels gets cells of 128 px), so measuring takes a second or two.
const LATTICE_MAX_CELLS: usize = 1 << 16;
/// Segments per cell edge when its outline is taken to lon/lat (straight map lines are
/// curves there; 4 segments leave well under 1e-5 of a 2 km cell in Web Mercator at 60 N).
const DENSIFY: usize = 4;

/// How pixel areas were measured; recorded with each run and shown by `report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AreaMethod {
    /// Geographic CRS: the exact ellipsoidal cell between two parallels, per row.
    EllipsoidalRows,
    /// Projected CRS: geodesic areas of pixel footprints taken to lon/lat, on a lattice.
    GeodesicFootprints,
}

impl AreaMethod {
    /// The name stored in the database and the JSON report.
    pub fn code(self) -> &'static str {
        match self {
            AreaMethod::EllipsoidalRows => "ellipsoidal-rows",
            AreaMethod::GeodesicFootprints => "geodesic-footprints",
        }
    }

    /// What a stored method name means, for people (None: a run recorded before
    /// methods were, whose areas were planar pixel areas in the CRS).
    pub fn describe(code: Option<&str>) -> String {
        match code {
            Some("ellipsoidal-rows") => {
                "ground areas on the CRS's ellipsoid: each row's cells between two parallels, exact (geographic CRS)".into()
            }
            Some("geodesic-footprints") => format!(
                "ground areas on the WGS 84 ellipsoid: pixel footprints taken to lon/lat (PROJ), geodesic area of cells of about 2 km, interpolated every {LATTICE_BLOCK_PX} px"
            ),
            Some(other) => format!("method {other}"),
            None => "planar pixel areas in the CRS (recorded before ground areas; not ground areas in conformal projections)".into(),
        }
    }
}

/// The ground area of the pixels of one grid.
#[derive(Debug, Clone, PartialEq)]
pub enum PixelArea {
    /// A geographic grid: row `y` spans latitudes `top_deg + y*dlat_deg .. + dlat_deg`.
    Geographic {
        width_px: usize,
        top_deg: f64,
        dlat_deg: f64,
        dlon_deg: f64,
        semi_major_m: f64,
        semi_minor_m: f64,
    },
    /// A projected grid: the mean pixel area of each lattice cell.
    Lattice(Lattice),
}

/// Mean ground pixel areas of cells of `step_px` x `step_px` pixels (the last row and
/// column of cells may be smaller), row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Lattice {
    width_px: usize,
    height_px: usize,
    step_px: usize,
    cols: usize,
    /// Cell centres along x and y, in pixels.
    cx: Vec<f64>,
    cy: Vec<f64>,
    cell_m2: Vec<f64>,
}

impl PixelArea {
    /// Pixel areas of a grid (it needs a geotransform and a CRS). `path` names the
    /// raster in errors.
    pub fn of_grid(path: &Path, grid: &PixelGrid) -> Result<PixelArea> {
        let gt = grid.geo_transform.ok_or_else(|| {
            Error::input(
                path,
                "has no geotransform, so pixel areas are unknown; georeference it first",
            )
        })?;
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
            let g = &gt.0;
            if g[2] != 0.0 || g[4] != 0.0 {
                return Err(Error::input(
                    path,
                    "has a rotated geotransform in a geographic CRS; warp it to a north-up grid first (gdalwarp)",
                ));
            }
            let deg = srs.angular_units().to_degrees(); // degrees per angular unit
            let a = srs.semi_major().gdal_err(|t| Error::input(path, t))?;
            let b = srs.semi_minor().gdal_err(|t| Error::input(path, t))?;
            Ok(PixelArea::Geographic {
                width_px: grid.width_px,
                top_deg: g[3] * deg,
                dlat_deg: g[5] * deg,
                dlon_deg: g[1] * deg,
                semi_major_m: a,
                semi_minor_m: b,
            })
        } else {
            Lattice::new(path, grid, gt, &srs).map(PixelArea::Lattice)
        }
    }

    /// How the areas are measured.
    pub fn method(&self) -> AreaMethod {
        match self {
            PixelArea::Geographic { .. } => AreaMethod::EllipsoidalRows,
            PixelArea::Lattice(_) => AreaMethod::GeodesicFootprints,
        }
    }

    /// Columns per area block: a whole row for a geographic grid, whose pixels of one row
    /// have the same area.
    pub fn block_px(&self) -> usize {
        match self {
            PixelArea::Geographic { width_px, .. } => (*width_px).max(1),
            PixelArea::Lattice(_) => LATTICE_BLOCK_PX,
        }
    }

    /// The area in m2 of each pixel of each area block of rows `y0 .. y0 + h`, into
    /// `out` (replacing its contents): `out[r * blocks + j]` for row `y0 + r` and columns
    /// `j * block_px() ..`, with `blocks = width.div_ceil(block_px())`.
    pub fn fill_blocks(&self, y0: usize, h: usize, out: &mut Vec<f64>) {
        out.clear();
        match self {
            PixelArea::Geographic {
                top_deg,
                dlat_deg,
                dlon_deg,
                semi_major_m,
                semi_minor_m,
                ..
            } => out.extend((y0..y0 + h).map(|y| {
                let lat1 = top_deg + y as f64 * dlat_deg;
                cell_area_m2(
                    *semi_major_m,
                    *semi_minor_m,
                    lat1,
                    lat1 + dlat_deg,
                    *dlon_deg,
                )
            })),
            PixelArea::Lattice(l) => l.fill_blocks(y0, h, out),
        }
    }
}

impl Lattice {
    /// Measures the cells of `grid` (geotransform `gt`, CRS `srs`).
    fn new(path: &Path, grid: &PixelGrid, gt: GeoTransform, srs: &SpatialRef) -> Result<Lattice> {
        let unit_m = srs.linear_units();
        let (w, h) = (grid.width_px, grid.height_px);
        let (sx, sy) = gt.pixel_size();
        let px_m = sx.max(sy) * unit_m;
        let mut step_px = if px_m > 0.0 {
            ((LATTICE_CELL_M / px_m) as usize).clamp(1, LATTICE_MAX_STEP_PX)
        } else {
            LATTICE_MAX_STEP_PX
        };
        while w.div_ceil(step_px) * h.div_ceil(step_px) > LATTICE_MAX_CELLS {
            step_px *= 2;
        }
        let no_lonlat = |why: String| {
            Error::input(
                path,
                format!("its CRS cannot be transformed to longitude/latitude ({why}), so ground areas are unknown; assign a CRS PROJ knows (gdal_edit.py -a_srs EPSG:...)"),
            )
        };
        // PROJ 9.1 sets no error number when it finds no operation (an engineering CRS),
        // and the proj crate panics then: GDAL asks the same PROJ first
        let lonlat = SpatialRef::from_epsg(4326)
            .gdal_err(|t| Error::Internal(format!("EPSG:4326 is unknown to PROJ ({t})")))?;
        CoordTransform::new(srs, &lonlat)
            .gdal_err(|_| no_lonlat("PROJ finds no operation from it to EPSG:4326".into()))?;
        let to_lonlat = proj::Proj::new_known_crs(&grid.crs_wkt, "EPSG:4326", None)
            .map_err(|e| no_lonlat(e.to_string()))?;
        let (cols, rows) = (w.div_ceil(step_px), h.div_ceil(step_px));
        let edges = |n: usize, len: usize| -> Vec<f64> {
            (0..=n).map(|i| (i * step_px).min(len) as f64).collect()
        };
        let (ex, ey) = (edges(cols, w), edges(rows, h));
        let centres =
            |e: &[f64]| -> Vec<f64> { e.windows(2).map(|p| (p[0] + p[1]) / 2.0).collect() };
        let mut cell_m2 = Vec::with_capacity(cols * rows);
        let mut ring: Vec<(f64, f64)> = Vec::with_capacity(4 * DENSIFY);
        for i in 0..rows {
            for j in 0..cols {
                let (x0, x1, y0, y1) = (ex[j], ex[j + 1], ey[i], ey[i + 1]);
                outline(&mut ring, (x0, y0), (x1, y1));
                for p in ring.iter_mut() {
                    *p = gt.apply(p.0, p.1);
                }
                to_lonlat
                    .convert_array(&mut ring)
                    .map_err(|e| no_lonlat(format!("pixels {x0}..{x1} x {y0}..{y1}: {e}")))?;
                if ring.iter().any(|p| !p.0.is_finite() || !p.1.is_finite()) {
                    return Err(no_lonlat(format!(
                        "pixels {x0}..{x1} x {y0}..{y1} fall outside the projection's domain"
                    )));
                }
                cell_m2.push(geodesic_area_m2(&ring) / ((x1 - x0) * (y1 - y0)));
            }
        }
        Ok(Lattice {
            width_px: w,
            height_px: h,
            step_px,
            cols,
            cx: centres(&ex),
            cy: centres(&ey),
            cell_m2,
        })
    }

    /// See [`PixelArea::fill_blocks`]: bilinear between cell centres, at the centre of
    /// each pixel row and block of columns.
    fn fill_blocks(&self, y0: usize, h: usize, out: &mut Vec<f64>) {
        let w = self.width_px;
        let xs: Vec<(usize, usize, f64)> = (0..w.div_ceil(LATTICE_BLOCK_PX))
            .map(|j| {
                let (a, b) = (j * LATTICE_BLOCK_PX, ((j + 1) * LATTICE_BLOCK_PX).min(w));
                bracket(&self.cx, (a + b) as f64 / 2.0)
            })
            .collect();
        let v = |i: usize, j: usize| self.cell_m2[i * self.cols + j];
        for y in y0..(y0 + h).min(self.height_px) {
            let (i0, i1, ty) = bracket(&self.cy, y as f64 + 0.5);
            out.extend(xs.iter().map(|&(j0, j1, tx)| {
                let top = v(i0, j0) + tx * (v(i0, j1) - v(i0, j0));
                let bottom = v(i1, j0) + tx * (v(i1, j1) - v(i1, j0));
                top + ty * (bottom - top)
            }));
        }
    }

    /// Pixels per cell side.
    pub fn step_px(&self) -> usize {
        self.step_px
    }
}

/// The closed outline of the pixel rectangle (x0, y0)..(x1, y1), `DENSIFY` points per
/// edge (the first point is not repeated), into `ring`.
fn outline(ring: &mut Vec<(f64, f64)>, (x0, y0): (f64, f64), (x1, y1): (f64, f64)) {
    ring.clear();
    for k in 0..4 * DENSIFY {
        let t = (k % DENSIFY) as f64 / DENSIFY as f64;
        ring.push(match k / DENSIFY {
            0 => (x0 + t * (x1 - x0), y0),
            1 => (x1, y0 + t * (y1 - y0)),
            2 => (x1 - t * (x1 - x0), y1),
            _ => (x0, y1 - t * (y1 - y0)),
        });
    }
}

/// The geodesic area in m2 (WGS 84) of the polygon with vertices `lonlat` (degrees),
/// whichever way it turns, also across the antimeridian.
fn geodesic_area_m2(lonlat: &[(f64, f64)]) -> f64 {
    let lon0 = lonlat[0].0;
    let ring: Vec<(f64, f64)> = lonlat
        .iter()
        .map(|&(lon, lat)| (lon0 + (lon - lon0 + 540.0).rem_euclid(360.0) - 180.0, lat))
        .collect();
    Polygon::new(LineString::from(ring), vec![])
        .orient(geo::orient::Direction::Default)
        .geodesic_area_unsigned()
}

/// The two neighbouring centres around `x` and the weight of the second (below 0 or
/// above 1 before the first or past the last: linear extrapolation).
fn bracket(centres: &[f64], x: f64) -> (usize, usize, f64) {
    let n = centres.len();
    if n < 2 {
        return (0, 0, 0.0);
    }
    let i0 = centres.partition_point(|&c| c <= x).clamp(1, n - 1) - 1;
    let (a, b) = (centres[i0], centres[i0 + 1]);
    (i0, i0 + 1, (x - a) / (b - a))
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

    /// A grid in `epsg` with its top-left corner at (x0, y0) and square pixels.
    fn grid(epsg: u32, (x0, y0): (f64, f64), px: f64, (w, h): (usize, usize)) -> PixelGrid {
        PixelGrid {
            width_px: w,
            height_px: h,
            geo_transform: Some(GeoTransform([x0, px, 0.0, y0, 0.0, -px])),
            crs_wkt: SpatialRef::from_epsg(epsg).unwrap().to_wkt().unwrap(),
        }
    }

    /// The sum of the pixel areas of `g`.
    fn total_m2(g: &PixelGrid) -> f64 {
        let pa = PixelArea::of_grid(Path::new("t.tif"), g).unwrap();
        let (w, b) = (g.width_px, pa.block_px());
        let mut out = Vec::new();
        pa.fill_blocks(0, g.height_px, &mut out);
        let blocks = w.div_ceil(b);
        assert_eq!(out.len(), blocks * g.height_px);
        out.chunks_exact(blocks)
            .map(|row| {
                row.iter()
                    .enumerate()
                    .map(|(j, a)| a * (((j + 1) * b).min(w) - j * b) as f64)
                    .sum::<f64>()
            })
            .sum()
    }

    /// The geodesic area of the whole outline of `g`, densified finely.
    fn outline_m2(g: &PixelGrid) -> f64 {
        let (xs, ys) = g.outline(2000).unwrap();
        let p = proj::Proj::new_known_crs(&g.crs_wkt, "EPSG:4326", None).unwrap();
        let mut ring: Vec<(f64, f64)> = xs.into_iter().zip(ys).collect();
        p.convert_array(&mut ring).unwrap();
        geodesic_area_m2(&ring)
    }

    #[test]
    fn lattice_areas_add_up_to_the_geodesic_footprint() {
        for (what, g) in [
            // Web Mercator at 60 N: ground areas are a quarter of the plane's
            (
                "3857",
                grid(3857, (1_600_000.0, 8_400_000.0), 60.0, (700, 500)),
            ),
            // UTM 33N at a zone's edge, 10 m pixels, a partial last lattice cell
            (
                "UTM edge",
                grid(32633, (830_000.0, 5_300_000.0), 10.0, (1001, 777)),
            ),
        ] {
            let (got, want) = (total_m2(&g), outline_m2(&g));
            let rel = (got - want).abs() / want;
            assert!(rel < 1e-6, "{what}: {got} vs {want} ({rel:.2e})");
            let planar = g.geo_transform.unwrap().pixel_area() * (g.width_px * g.height_px) as f64;
            assert!(
                (planar - want).abs() / want > 1e-3,
                "{what}: planar is right too?"
            );
        }
    }

    #[test]
    fn bracket_interpolates_and_extrapolates() {
        let c = [5.0, 15.0, 22.0];
        assert_eq!(bracket(&c, 10.0), (0, 1, 0.5));
        assert_eq!(bracket(&c, 0.0), (0, 1, -0.5));
        assert_eq!(bracket(&c, 22.0), (1, 2, 1.0));
        assert_eq!(bracket(&c, 29.0), (1, 2, 2.0));
        assert_eq!(bracket(&[3.0], 100.0), (0, 0, 0.0));
    }

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
