//! The `segment` job: read -> prepare -> infer -> stitch -> write, streamed.
//!
//! [`segment()`] reads as the table of contents; each stage is one call into its own
//! file:
//! 1. open: the input is described once, the output path checked, the model loaded;
//! 2. [`regrid`]: the grid the model reads (the input, or the input resampled to the
//!    model's resolution through a VRT);
//! 3. [`plan`]: bands, tiles, overlap, batch;
//! 4. [`mask`]: a second model's classes that become nodata;
//! 5. [`pipeline`]: three threads joined by bounded queues (reader, inference,
//!    stitcher/writer), so memory depends on the tile size, never on the raster's;
//! 6. [`regrid`] again: the class map back on the input grid, when it was resampled;
//! 7. [`crate::vector`]: `--min-area` sieves the published map, `--vector` traces its
//!    polygons.
//!
//! [`scaling`] applies `--scale`/`--offset`/`--src-nodata` and notes input values far
//! from what the model expects; [`metadata`] says what goes into the output's GDAL
//! metadata.

pub mod mask;
pub mod metadata;
pub mod pipeline;
pub mod plan;
pub mod regrid;
pub mod rows;
pub mod scaling;

use std::fmt;
use std::path::PathBuf;
use std::time::Instant;

use tiles::Grid;

use crate::error::{Error, Result};
use crate::infer::{self, Device};
use crate::prepare::BandSpec;
use crate::raster::RasterInfo;
use crate::read::Source;
use crate::stitch::Blend;
use crate::write::output::{
    check_writable, refuse_overwriting, remove_stale, stale_note, TempFiles,
};
use crate::write::{space, OutputSpec, Publish};
pub use plan::{choose_bands, ort_threads, plan, BandSource, Plan};

/// Everything `segment` can be told. `None` means "from the model, else a default".
#[derive(Debug, Clone, Default)]
pub struct SegmentOptions {
    pub input: PathBuf,
    pub model: PathBuf,
    pub output: PathBuf,
    pub tile_px: Option<usize>,
    pub overlap_px: Option<usize>,
    pub margin_px: Option<usize>,
    pub batch: Option<usize>,
    /// The model output to read (`--output-name`), before the sidecar's `output_name`.
    pub output_name: Option<String>,
    /// Raster bands, one per model input channel: numbers, or names matched against
    /// band descriptions or a sensor preset.
    pub bands: Option<BandSpec>,
    pub threads: Option<usize>,
    pub device: Device,
    pub confidence: bool,
    pub blend: Blend,
    pub progress: bool,
    pub ort_lib: Option<PathBuf>,
    /// A second model (e.g. ukis-csmask) run over the same raster; pixels it assigns to
    /// one of `mask_classes` (0-based class indices) become nodata in the output.
    pub mask_model: Option<PathBuf>,
    pub mask_classes: Vec<u32>,
    /// Test-time augmentation: average the 8 flips/rotations of every tile.
    pub tta: bool,
    /// Write on the model's grid (its resolution) instead of the input's grid when the
    /// input is resampled to the model's resolution.
    pub model_grid: bool,
    /// Bands of the mask model (default: its sidecar, band descriptions, first bands).
    pub mask_bands: Option<BandSpec>,
    /// Run the model on the raster's own pixels even when it declares another resolution.
    pub no_resample: bool,
    /// The output's format and creation options (`--of`, `--co`).
    pub publish: Publish,
    /// Resample even when that multiplies the pixel count by more than
    /// [`regrid::MAX_GROWTH`].
    pub force: bool,
    /// Input scaling `raw * scale + offset`, in place of the model's `input_scale` and
    /// `input_offset`.
    pub scale: Option<f32>,
    pub offset: Option<f32>,
    /// Values of the input that are no data, in place of its own nodata (as `gdalwarp
    /// -srcnodata`): one for every band, or one per band.
    pub src_nodata: Option<Vec<f64>>,
    /// `--min-area` sieve and `--vector` polygons of the written class map.
    pub polygons: crate::vector::PolygonOptions,
    /// Bytes the stitcher's rows and the tiles in flight may take (`--memory-budget`);
    /// a wider raster is walked in column stripes. None: [`plan::DEFAULT_MEMORY_BUDGET_BYTES`].
    pub memory_budget: Option<u64>,
    /// Run even when the class map's uncompressed size exceeds the output folder's free
    /// space (`--no-space-check`).
    pub no_space_check: bool,
    /// Only these output rows (a row-band shard of a job): the tile grid stays the whole
    /// raster's, only the tiles touching these rows run, and the output is a GeoTIFF of
    /// these rows, georeferenced (see [`rows`]). Not with resampling to the model grid.
    pub rows: Option<std::ops::Range<usize>>,
    /// More GDAL metadata items written into the output (a job's stamp).
    pub extra_metadata: Vec<(String, String)>,
}

impl SegmentOptions {
    /// The thread budget: `threads`, else every core.
    pub fn thread_budget(&self) -> usize {
        self.threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1)
    }

    /// The memory budget in bytes: `--memory-budget`, else
    /// [`plan::DEFAULT_MEMORY_BUDGET_BYTES`].
    pub fn memory_budget_bytes(&self) -> u64 {
        self.memory_budget
            .unwrap_or(plan::DEFAULT_MEMORY_BUDGET_BYTES)
    }
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Summary {
    pub output: PathBuf,
    pub width: usize,
    pub height: usize,
    pub tiles: usize,
    pub tiles_inferred: usize,
    pub tile_px: usize,
    pub overlap_px: usize,
    pub batch: usize,
    /// Model input per output pixel ([`Plan::work_per_pixel`]).
    pub work_per_pixel: f64,
    pub seconds: f64,
    /// Time in ONNX Runtime and in decoding its outputs ([`infer::Timing`]).
    pub timing: infer::Timing,
    pub class_names: Vec<String>,
    pub class_counts: Vec<u64>,
    pub notes: Vec<String>,
}

impl Summary {
    pub fn pixels(&self) -> usize {
        self.width * self.height
    }
    pub fn mpx_per_s(&self) -> f64 {
        self.pixels() as f64 / 1e6 / self.seconds.max(1e-9)
    }
}

/// The one-line summary printed after a run.
impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let valid: u64 = self.class_counts.iter().sum();
        write!(
            f,
            "{}: {}x{} px ({:.1} Mpx, {:.1}% valid), {} tiles ({} inferred, {} px, overlap {}, batch {}), {:.2}x work per output pixel, {:.1} s, {:.2} Mpx/s",
            self.output.display(),
            self.width,
            self.height,
            self.pixels() as f64 / 1e6,
            100.0 * valid as f64 / self.pixels().max(1) as f64,
            self.tiles,
            self.tiles_inferred,
            self.tile_px,
            self.overlap_px,
            self.batch,
            self.work_per_pixel,
            self.seconds,
            self.mpx_per_s()
        )?;
        let t = &self.timing;
        if t.items > 0 && self.seconds > 0.0 {
            let share = |d: std::time::Duration| 100.0 * d.as_secs_f64() / self.seconds;
            write!(
                f,
                " (model {:.0}% of the time, decoding its outputs {:.0}%: {:.1} ms per tile)",
                share(t.model),
                share(t.decode),
                1e3 * t.decode.as_secs_f64() / t.items as f64
            )?;
        }
        Ok(())
    }
}

/// At most this many bytes of pages are faulted in for the stitcher's band while the
/// model loads (and a sixteenth of the memory budget): SegFormer-B0's band with 150
/// classes is 54 MB on the S2 scene (132 MB on a 2x2 mosaic of it, whose band then
/// faults in the rest itself).
const SPARE_MAX_BYTES: u64 = 64 << 20;

/// Segments `opts.input` with `opts.model` into the COG `opts.output`.
pub fn segment(opts: &SegmentOptions) -> Result<Summary> {
    let started = Instant::now();
    let threads = opts.thread_budget();

    // 1. open: the input once; the output checked before any work (and before temporary
    //    files go beside it); the model, loading meanwhile (its errors come after the
    //    input's and the output's, as if it loaded after them)
    let loading = {
        let (model, lib, name) = (
            opts.model.clone(),
            opts.ort_lib.clone(),
            opts.output_name.clone(),
        );
        let device = opts.device;
        std::thread::spawn(move || {
            infer::load_output(
                &model,
                lib.as_deref(),
                ort_threads(threads),
                device,
                name.as_deref(),
            )
        })
    };
    let checked = || -> Result<_> {
        let raster = RasterInfo::open(&opts.input)?;
        refuse_overwriting(&opts.output, &[&opts.input], "the input raster")?;
        let models: Vec<&std::path::Path> = [Some(&opts.model), opts.mask_model.as_ref()]
            .into_iter()
            .flatten()
            .map(|p| p.as_path())
            .collect();
        refuse_overwriting(&opts.output, &models, "the model")?;
        check_writable(&opts.output)?;
        opts.publish.check(&opts.output)?;
        opts.polygons
            .check(&opts.output, &[&opts.input, &opts.model])?;
        let stale = remove_stale(&opts.output);
        mask::check_flags(opts)?;
        Ok((raster, stale))
    };
    let checked = checked();
    tracing::debug!(
        "{:.3} s: input and output checked",
        started.elapsed().as_secs_f64()
    );
    // the first tile's blocks, and the rows after it until the model is loaded, read on
    // this thread while the model loads on the other (a row window's first tile is
    // elsewhere)
    let _warm = (checked.is_ok() && opts.rows.is_none() && !loading.is_finished())
        .then(|| crate::read::warm::Warm::start(&opts.input, || !loading.is_finished()));
    // then, while it still loads, the pages of the stitcher's band of sums
    if checked.is_ok() {
        let cap = (opts.memory_budget_bytes() / 16).min(SPARE_MAX_BYTES) as usize;
        crate::raster::buffer::prefault_while(cap, || !loading.is_finished());
    }
    // the loading thread is joined even when a check failed: the process must not exit
    // while ONNX Runtime is being set up in it
    let loaded = loading.join();
    let (raster, stale) = checked?;
    let mut engine = loaded.map_err(|_| Error::Internal("loading the model panicked".into()))??;
    scaling::apply_flags(opts, &mut engine.info);
    // scores at 1/s of the tile are stitched at 1/s (plan.coarse): learn s first
    tracing::debug!("{:.3} s: model loaded", started.elapsed().as_secs_f64());
    engine.info.score_stride = engine.probe_score_stride();
    tracing::debug!(
        "{:.3} s: score stride {:?}",
        started.elapsed().as_secs_f64(),
        engine.info.score_stride
    );
    let info = engine.info.clone();
    let temps = TempFiles::beside(&opts.output);
    let mut notes: Vec<String> = stale_note(&opts.output, &stale).into_iter().collect();

    // 2. the file read (the input, or a VRT declaring --src-nodata) and the grid the
    //    model reads: the input's, or the input resampled on read
    let source = scaling::nodata_source(opts, &raster, &temps)?;
    let work = regrid::model_grid(opts, &source, &raster, &info, &temps, &mut notes)?;

    // the class map must fit the output folder's free space, uncompressed
    let on_input_grid = work.resample.is_some() && !opts.model_grid;
    let need = disk_needed(opts, &info, &raster, &work.raster, on_input_grid);
    if !opts.no_space_check {
        space::check(&opts.output, need, "the class map")?;
    }

    // 3. bands, tiles, batch (column stripes within the memory budget); values far
    //    from what the model expects are noted
    let plan = plan(opts, &info, &work.raster)?;
    let grid = Grid::new(plan.grid)?;
    engine.coarse = plan.coarse.is_some();
    if opts.rows.is_some() && work.resample.is_some() {
        return Err(Error::Usage(format!(
            "{}: a row-band shard cannot be resampled to the resolution of {}; plan the job with --no-resample, or without --shard-rows",
            opts.input.display(),
            opts.model.display()
        )));
    }
    let window = rows::RowWindow::new(opts.rows.as_ref(), &grid, &opts.input)?;
    notes.extend(scaling::check_values(&source, &raster, &plan.bands, &info)?);

    // 4. the mask model's classes, on the grid the model reads
    let mask = match &opts.mask_model {
        None => None,
        Some(m) => Some(mask::run(opts, m, &work.path, &temps, threads)?),
    };

    // 5. the streamed pass: straight into the output, or onto the model grid first
    let stage_path = if on_input_grid {
        temps.path("model-grid.tif")
    } else {
        opts.output.clone()
    };
    let spec = OutputSpec {
        path: stage_path.clone(),
        grid: window.output_grid(&work.raster.grid),
        class_names: info.class_names.clone(),
        class_colors: info.class_colors.clone(),
        confidence: opts.confidence,
        threads,
        metadata: metadata::of_run(
            opts,
            &plan,
            work.resample.as_ref(),
            on_input_grid,
            mask.as_ref(),
        ),
        publish: opts.publish.clone(),
        // the staging file is the output itself unless it goes back to the input grid
        overviews: !on_input_grid,
    };
    let final_spec = OutputSpec {
        path: opts.output.clone(),
        grid: raster.grid.clone(),
        ..spec.clone()
    };
    tracing::debug!("{:.3} s: planned", started.elapsed().as_secs_f64());
    let done = pipeline::run(
        opts,
        &mut engine,
        &plan,
        &grid,
        &window,
        &[Source {
            path: work.path.clone(),
            bands: plan.bands.clone(),
        }],
        mask.as_ref(),
        spec,
    )
    .map_err(|e| space::explain_full_disk(e, &opts.output, need))?;
    tracing::debug!("{:.3} s: tiles done", started.elapsed().as_secs_f64());
    if done.nan_px > 0 {
        notes.push(format!(
            "{}: the model gave NaN probabilities for {} px ({:.2}% of the grid); they are nodata",
            opts.model.display(),
            done.nan_px,
            100.0 * done.nan_px as f64 / work.raster.grid.pixels().max(1) as f64
        ));
    }
    if let (Some(m), Some(mk)) = (&opts.mask_model, &mask) {
        notes.push(format!(
            "{}: {} px ({:.1}% of the grid) masked as {}",
            m.display(),
            done.masked_px,
            100.0 * done.masked_px as f64 / work.raster.grid.pixels().max(1) as f64,
            mk.describe()
        ));
    }

    // 6. publish: back on the input grid, or as written
    let published = || -> Result<Vec<u64>> {
        Ok(match &work.resample {
            Some(r) if on_input_grid => {
                done.writer.finish_plain(&done.class_counts)?;
                regrid::to_input_grid(&stage_path, &source, &plan.bands, r, final_spec, &temps)?
            }
            _ => {
                done.writer.finish(&done.class_counts)?;
                done.class_counts
            }
        })
    };
    let class_counts = published().map_err(|e| space::explain_full_disk(e, &opts.output, need))?;
    tracing::debug!("{:.3} s: published", started.elapsed().as_secs_f64());
    let out_grid = if on_input_grid || work.resample.is_none() {
        &raster.grid
    } else {
        &work.raster.grid
    };
    // 7. --min-area and --vector: the published map sieved, its polygons traced
    let polygons =
        crate::vector::after_class_map(&opts.output, &opts.polygons, &opts.publish, threads, None)?;
    let class_counts = match polygons.sieved {
        Some(s) => (0..class_counts.len())
            .map(|c| s.counts.get(c).copied().unwrap_or(0))
            .collect(),
        None => class_counts,
    };
    notes.extend(polygons.notes);
    let shard_grid = opts.rows.as_ref().map(|_| window.output_grid(out_grid));
    let out_grid = shard_grid.as_ref().unwrap_or(out_grid);
    notes.extend(engine.notes.iter().chain(&plan.notes).cloned());
    Ok(Summary {
        output: opts.output.clone(),
        width: out_grid.width_px,
        height: out_grid.height_px,
        tiles: window.tile_rows.len() * grid.cols(),
        tiles_inferred: done.tiles_inferred,
        tile_px: plan.grid.tile_px,
        overlap_px: plan.grid.overlap_px,
        batch: plan.batch,
        work_per_pixel: plan.work_per_pixel(),
        seconds: started.elapsed().as_secs_f64(),
        timing: engine.timing,
        class_names: info.class_names.clone(),
        class_counts,
        notes,
    })
}

/// The most disk a run writes beside its output: the class map's staging file and COG,
/// and the class map on the model's grid when it is brought back to the input's.
fn disk_needed(
    opts: &SegmentOptions,
    info: &infer::ModelInfo,
    input: &RasterInfo,
    work: &RasterInfo,
    on_input_grid: bool,
) -> u128 {
    let bpp = if info.class_names.len() > 254 { 2 } else { 1 };
    let bands = 1 + opts.confidence as u64;
    let px = |r: &RasterInfo| r.grid.width_px as u64 * r.grid.height_px as u64;
    let out = if on_input_grid { input } else { work };
    let mut need = space::class_map_bound(px(out), bpp, bands);
    if on_input_grid {
        need += px(work) as u128 * bpp as u128 * bands as u128;
    }
    need
}

/// The file name of a path, for metadata.
pub(crate) fn file_name(p: &std::path::Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// An interruption of a job run inside another (the mask model, a date of `change`)
/// names the outer job's output.
pub(crate) fn renamed_interruption(e: Error, output: &std::path::Path) -> Error {
    match e {
        Error::Interrupted(_) => Error::Interrupted(output.to_path_buf()),
        other => other,
    }
}
