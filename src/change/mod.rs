//! After the class maps (segment -> **change** -> store): change detection between two
//! dates.
//!
//! [`change()`] orchestrates; each step is a file:
//! 1. [`dates`]: every input checked first, then each date becomes a class map:
//!    segmented with the streaming engine ([`crate::segment()`]) into a temporary COG
//!    beside the output, or given precomputed (`--before-classes`, `--after-classes`).
//! 2. [`grid`]: the comparison grid is BEFORE's grid restricted to the intersection of
//!    the two footprints; [`align`]: AFTER's class map is warped onto it by GDAL,
//!    nearest or mode.
//! 3. [`legend`]: the classes compared (names and colours from both maps) and the change
//!    raster's legend.
//! 4. [`compare`]: rows are streamed in blocks of one statistics-tile height
//!    ([`count`]): each pixel where both dates have a class adds to the from-to matrix
//!    (pixels and m2, [`crate::raster::PixelArea`]), to its zone's matrix ([`zones`]) and
//!    to its tile's figures, and gets its change code in the change raster (written as a
//!    COG by [`crate::write::ClassWriter`]).
//! 5. [`stats`]: what a run found.
//!
//! Change encoding: with N classes, `code = from * N + to` (so `from = code / N`,
//! `to = code % N`; unchanged pixels are the codes `k * (N + 1)`). Byte when `N * N <= 254`
//! (nodata 255), else UInt16 (nodata 65535); N is at most 255. Nodata where either date is
//! nodata or masked. Colours: unchanged pairs a muted grey tint of the class colour,
//! changed pairs the bright colour of the class they changed to. Category names
//! `"from -> to"` and `"class (unchanged)"`, plus a raster attribute table with counts.

pub mod align;
pub mod compare;
pub mod count;
pub mod dates;
pub mod grid;
pub mod legend;
pub mod model;
pub mod series;
pub mod stats;
pub mod zones;

use std::path::PathBuf;
use std::time::Instant;

use crate::error::Result;
use crate::segment::SegmentOptions;
use crate::write::output::{remove_stale, stale_note, TempFiles};
pub use compare::compare;
pub use grid::CompareGrid;
pub use legend::{change_legend, ClassMapping};
pub use model::{change_with_model, ModelChange};
pub use stats::{ChangeStats, DateInput, TileStat, ZoneStat};
pub use zones::Zones;

/// Everything `change` can be told.
#[derive(Debug, Clone, Default)]
pub struct ChangeOptions {
    /// Imagery of the first date (segmented unless `before_classes` is given).
    pub before: Option<PathBuf>,
    /// Imagery of the second date.
    pub after: Option<PathBuf>,
    /// The segmentation model for imagery.
    pub model: Option<PathBuf>,
    /// Precomputed class maps (skip the model for that date).
    pub before_classes: Option<PathBuf>,
    pub after_classes: Option<PathBuf>,
    /// The change raster (COG).
    pub output: PathBuf,
    /// Settings for segmenting imagery (bands, tile, threads, mask model, ...); its
    /// input, output and model are set per date.
    pub segment: SegmentOptions,
    /// Keep the class maps of segmented dates in this folder (else they are removed).
    pub keep_classes: Option<PathBuf>,
    /// Side of the statistics tiles in comparison-grid pixels.
    pub stats_tile_px: usize,
    /// Polygons for per-zone figures, and the field that names them.
    pub zones: Option<PathBuf>,
    pub zone_field: Option<String>,
    /// AFTER's class values recoded onto BEFORE's classes, for maps whose legends differ
    /// (without it such maps are refused).
    pub class_map: Option<ClassMapping>,
    /// A change model that sees both dates' imagery at once ([`model`]), in place of
    /// segmenting each date and comparing the class maps.
    pub change_model: Option<PathBuf>,
    /// `--min-area` sieve and `--vector` polygons of the change raster.
    pub polygons: crate::vector::PolygonOptions,
}

/// Compares two dates into the change raster `opts.output` and returns the statistics.
pub fn change(opts: &ChangeOptions) -> Result<ChangeStats> {
    let started = Instant::now();
    // 1. every input, flag and the output path, before any work
    dates::check(opts)?;
    opts.polygons.check(&opts.output, &inputs(opts))?;
    let stale = remove_stale(&opts.output);
    // 2. no overlap is found before any date is segmented, naming the files the user gave
    let early = grid::intersect(
        &dates::grid_raster(&opts.before, &opts.before_classes)?,
        &dates::grid_raster(&opts.after, &opts.after_classes)?,
    )?;
    let zones = opts
        .zones
        .as_deref()
        .map(|z| Zones::load(z, opts.zone_field.as_deref(), &early))
        .transpose()?;
    // 3. each date as a class map
    let temps = TempFiles::beside(&opts.output);
    let before = dates::date_input(opts, "before", &opts.before, &opts.before_classes, &temps)?;
    let after = dates::date_input(opts, "after", &opts.after, &opts.after_classes, &temps)?;
    // 4. the comparison, block by block, into the change raster
    let mut stats = compare(&before, &after, opts, zones.as_ref())?;
    stats.notes.extend(crate::vector::after_change_map(
        &opts.output,
        &opts.polygons,
        &opts.segment,
        stats.classes(),
    )?);
    stats.notes.extend(stale_note(&opts.output, &stale));
    for d in [&before, &after] {
        if let Some(s) = &d.segmented {
            stats.notes.extend(s.notes.iter().cloned());
        }
    }
    stats.before = before;
    stats.after = after;
    stats.seconds = started.elapsed().as_secs_f64();
    Ok(stats)
}

/// Every file the run reads (for the `--vector` path's checks).
fn inputs(opts: &ChangeOptions) -> Vec<&std::path::Path> {
    [
        &opts.before,
        &opts.after,
        &opts.before_classes,
        &opts.after_classes,
        &opts.model,
        &opts.zones,
    ]
    .into_iter()
    .filter_map(|p| p.as_deref())
    .collect()
}
