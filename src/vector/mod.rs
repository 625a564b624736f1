//! After the class map (segment / change -> **vector**): the final class map as
//! polygons in a GeoPackage (`--vector OUT.gpkg`, and `terratile polygons`).
//!
//! [`after_class_map`] (for `segment` and `change`, once their raster is published) and
//! [`polygons`] (a class map the user has) read as the table of contents:
//! 1. [`sieve`] (`--min-area M2`): patches smaller than M2 join their largest neighbour
//!    (GDAL's sieve); `segment` and `change` republish their raster sieved, so the
//!    raster and the polygons agree (`polygons` sieves a temporary copy and leaves the
//!    user's map as it is);
//! 2. [`trace`]: GDAL's polygonizer over the whole stitched map, row by row (never the
//!    whole raster in memory), into a temporary FlatGeobuf;
//! 3. [`simplify`] (`--simplify TOLERANCE`): borders cut into arcs between the points
//!    where three or more regions meet, each arc simplified once (Douglas-Peucker) and
//!    given to both polygons it separates, so shared borders stay shared;
//! 4. [`measure`]: ground area (m2) and perimeter (m) of every polygon, geodesic on
//!    WGS 84 (geo, after PROJ takes the vertices to longitude/latitude);
//! 5. [`layer`]: the GeoPackage layer `polygons` (class, class_name, [from_class,
//!    to_class,] area_m2, perimeter_m) with a default QGIS style in `layer_styles`,
//!    written beside the output under a temporary name and renamed into place.
//!
//! Connectivity: 4 by default (pixels that touch only at a corner are separate
//! polygons, so every polygon is a valid OGC polygon), 8 with `--connectivity 8`
//! (sieve and polygons alike).

pub mod layer;
pub mod measure;
pub mod sieve;
pub mod simplify;
pub mod trace;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::write::output::{check_writable, refuse_overwriting, remove_stale, TempFiles};
use crate::write::Publish;

/// How pixels connect into one patch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Connectivity {
    /// Edge neighbours only (GDAL's default).
    #[default]
    Four,
    /// Edge and corner neighbours.
    Eight,
}

impl Connectivity {
    pub fn neighbours(self) -> usize {
        match self {
            Connectivity::Four => 4,
            Connectivity::Eight => 8,
        }
    }
}

/// Polygons of a class map, and the sieve before them.
#[derive(Debug, Clone, Default)]
pub struct PolygonOptions {
    /// The GeoPackage to write (None: no polygons; `min_area_m2` may still sieve the
    /// raster).
    pub vector: Option<PathBuf>,
    /// Patches smaller than this many m2 join their largest neighbour first.
    pub min_area_m2: Option<f64>,
    /// Douglas-Peucker tolerance of the shared borders, in the CRS's units.
    pub simplify: Option<f64>,
    pub connectivity: Connectivity,
}

impl PolygonOptions {
    /// Whether there is anything to do.
    pub fn is_set(&self) -> bool {
        self.vector.is_some() || self.min_area_m2.is_some()
    }

    /// Checks the flags and the GeoPackage path before any work: the values in range,
    /// the folder writable, and the path neither the raster output nor an input.
    pub fn check(&self, raster_output: &Path, inputs: &[&Path]) -> Result<()> {
        if let Some(m) = self.min_area_m2 {
            if !(m.is_finite() && m > 0.0) {
                return Err(Error::Usage(format!(
                    "--min-area {m} must be a positive area in m2, such as 500"
                )));
            }
        }
        if let Some(t) = self.simplify {
            if !(t.is_finite() && t > 0.0) {
                return Err(Error::Usage(format!(
                    "--simplify {t} must be a positive distance in the map's CRS units, such as 10"
                )));
            }
            if self.vector.is_none() {
                return Err(Error::Usage(
                    "--simplify needs --vector OUT.gpkg (it simplifies the polygons)".into(),
                ));
            }
        }
        let Some(v) = &self.vector else {
            return Ok(());
        };
        if same_file(v, raster_output) {
            return Err(Error::output(
                v,
                format!(
                    "is also the raster output {}; give the polygons their own file, such as polygons.gpkg",
                    raster_output.display()
                ),
            ));
        }
        refuse_overwriting(v, inputs, "one of the inputs")?;
        check_writable(v)
    }
}

/// The polygon flags of a run, as JSON (for the run's record).
pub fn parameters(o: &PolygonOptions) -> serde_json::Value {
    serde_json::json!({
        "vector": o.vector.as_ref().map(|p| p.display().to_string()),
        "min_area_m2": o.min_area_m2, "simplify": o.simplify,
        "connectivity": o.connectivity.neighbours(),
    })
}

/// Whether two paths name the same file (existing or not).
fn same_file(a: &Path, b: &Path) -> bool {
    let abs = |p: &Path| {
        p.canonicalize().ok().or_else(|| {
            let dir = crate::write::output::folder_of(p).canonicalize().ok()?;
            Some(dir.join(p.file_name()?))
        })
    };
    a == b || matches!((abs(a), abs(b)), (Some(x), Some(y)) if x == y)
}

/// What the polygon step did, for the run's notes.
#[derive(Debug, Clone, Default)]
pub struct PolygonReport {
    /// The sieve threshold in pixels and the counts after it.
    pub sieved: Option<sieve::Sieved>,
    /// Polygons written (with `--vector`).
    pub polygons: Option<usize>,
    pub notes: Vec<String>,
}

/// After `segment` or `change` published the class map `map` (in `publish`'s format):
/// sieves it in place with `--min-area` (republished atomically), then writes its
/// polygons to `--vector`. `change_classes`: N for a change map (codes `from * N +
/// to`), which adds `from_class` and `to_class`.
pub fn after_class_map(
    map: &Path,
    opts: &PolygonOptions,
    publish: &Publish,
    threads: usize,
    change_classes: Option<usize>,
) -> Result<PolygonReport> {
    let mut report = PolygonReport::default();
    if !opts.is_set() {
        return Ok(report);
    }
    let temps = TempFiles::beside(map);
    if let Some(m2) = opts.min_area_m2 {
        let stage = temps.path("sieve.tif");
        let s = sieve::sieve_copy(map, &stage, m2, opts.connectivity)?;
        sieve::republish(&stage, &temps.path("sieved.tif"), map, publish, threads)?;
        report.notes.push(format!(
            "--min-area {m2} m2: patches under {} px removed from {} (they joined their largest neighbour)",
            s.threshold_px,
            map.display()
        ));
        report.sieved = Some(s);
    }
    if let Some(v) = &opts.vector {
        let n = write_polygons(map, v, opts, change_classes)?;
        report.notes.push(format!(
            "{}: {n} polygons of {}",
            v.display(),
            map.display()
        ));
        report.polygons = Some(n);
    }
    Ok(report)
}

/// [`after_class_map`] for `change`'s raster of `classes` classes; returns the notes.
/// The from-to statistics count the comparison before the sieve.
pub fn after_change_map(
    map: &Path,
    opts: &PolygonOptions,
    segment: &crate::segment::SegmentOptions,
    classes: usize,
) -> Result<Vec<String>> {
    let r = after_class_map(
        map,
        opts,
        &segment.publish,
        segment.thread_budget(),
        Some(classes),
    )?;
    let mut notes = r.notes;
    if r.sieved.is_some() {
        notes.push(
            "--min-area: the change raster and its polygons are sieved; the from-to statistics count the comparison before the sieve"
                .into(),
        );
    }
    Ok(notes)
}

/// `terratile polygons`: the polygons of the class map `map` (sieved first, in a
/// temporary copy, with `--min-area`) into `opts.vector`.
pub fn polygons(map: &Path, opts: &PolygonOptions) -> Result<PolygonReport> {
    let Some(v) = &opts.vector else {
        return Err(Error::Usage(
            "give the GeoPackage to write with -o OUT.gpkg".into(),
        ));
    };
    crate::raster::open(map)?;
    opts.check(map, &[map])?;
    let _ = remove_stale(v);
    let mut report = PolygonReport::default();
    let temps = TempFiles::beside(v);
    let source = match opts.min_area_m2 {
        None => map.to_path_buf(),
        Some(m2) => {
            let stage = temps.path("sieve.tif");
            let s = sieve::sieve_copy(map, &stage, m2, opts.connectivity)?;
            report.notes.push(format!(
                "--min-area {m2} m2: patches under {} px removed before tracing ({} is unchanged)",
                s.threshold_px,
                map.display()
            ));
            report.sieved = Some(s);
            stage
        }
    };
    let n = write_polygons(&source, v, opts, None)?;
    report.polygons = Some(n);
    Ok(report)
}

/// Traces `map`, simplifies and measures its polygons and writes them to `out`
/// (atomically); returns the number of polygons.
fn write_polygons(
    map: &Path,
    out: &Path,
    opts: &PolygonOptions,
    change_classes: Option<usize>,
) -> Result<usize> {
    let temps = TempFiles::beside(out);
    let raw = temps.path("raw.fgb");
    trace::trace(map, &raw, opts.connectivity)?;
    if crate::cancel::requested() {
        return Err(Error::Interrupted(out.to_path_buf()));
    }
    let tmp = temps.path("gpkg");
    let n = layer::write(map, &raw, &tmp, opts, change_classes)?;
    std::fs::rename(&tmp, out).map_err(|e| {
        Error::output(out, format!("cannot move the GeoPackage into place: {e}")).caused_by(e)
    })?;
    Ok(n)
}
