//! The `segment` job: read -> prepare -> infer -> stitch -> write, streamed.
//!
//! Three threads overlap in time, joined by bounded queues so that memory stays
//! bounded: a reader (GDAL windows + preparation), the caller's thread running ONNX
//! Runtime on batches, and a stitcher that blends tiles and writes rows as soon as they
//! are final. ONNX Runtime gets the thread budget less what the pipeline needs.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{bounded, Receiver, Sender};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tiles::{Grid, GridSpec, Tile};

use crate::error::{Error, Result};
use crate::infer::{self, BatchProbs, Device, Engine, ModelInfo};
use crate::prepare::{bands, BandSpec, Normalizer};
use crate::read::{self, resample, RasterInfo, Reader};
use crate::stitch::{Blend, Rows, Stitcher, TileProbs};
use crate::write::{ClassWriter, OutputSpec};

static CANCELLED: AtomicBool = AtomicBool::new(false);

/// Asks the running `segment` to stop: it stops reading, removes its temporary files and
/// returns [`Error::Interrupted`]. Returns false when it had been asked already. The
/// request stands until [`clear_cancel`] (a library caller that runs several jobs
/// clears it between them).
pub fn cancel() -> bool {
    !CANCELLED.swap(true, Ordering::SeqCst)
}

/// Withdraws a [`cancel`] request.
pub fn clear_cancel() {
    CANCELLED.store(false, Ordering::SeqCst);
}

/// Whether a [`cancel`] request stands (for jobs built on `segment`, such as `change`).
pub fn cancelled() -> bool {
    CANCELLED.load(Ordering::Relaxed)
}

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
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Summary {
    pub width: usize,
    pub height: usize,
    pub tiles: usize,
    pub tiles_inferred: usize,
    pub tile_px: usize,
    pub overlap_px: usize,
    pub batch: usize,
    pub seconds: f64,
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

/// The plan derived from options, model and raster before any tile runs.
#[derive(Debug, Clone)]
pub struct Plan {
    pub bands: Vec<usize>,
    pub grid: GridSpec,
    /// Model input size (th, tw) for every tile.
    pub tensor_hw: (usize, usize),
    pub batch: usize,
    /// Average the 8 flips/rotations of every tile.
    pub tta: bool,
    /// Things the user should know (flags that could not be honoured).
    pub notes: Vec<String>,
}

/// ONNX Runtime's share of the thread budget: one core is left to the reader and the
/// stitcher when there are four or more (they mostly wait on I/O and ORT otherwise).
pub fn ort_threads(threads: usize) -> usize {
    if threads >= 4 { threads - 1 } else { threads }.max(1)
}

/// Chooses bands, tile size, overlap, batch and threads, or says why the model and the
/// raster cannot work together.
pub fn plan(opts: &SegmentOptions, info: &ModelInfo, raster: &RasterInfo) -> Result<Plan> {
    let mut notes = Vec::new();
    let (bands, from) = choose_bands(opts.bands.as_ref(), info, raster)?;
    if let (Some(b), BandSource::Descriptions | BandSource::FirstBands) = (&info.band_indices, from)
    {
        notes.push(format!(
            "the model sidecar's band_indices {} do not fit {} ({} bands); using bands {} instead",
            join(b),
            raster.path.display(),
            raster.band_count,
            join(&bands)
        ));
    } else if from == BandSource::FirstBands && raster.band_count > info.channels {
        notes.push(format!(
            "{} has {} bands and the model takes {}: using bands {}; choose others with --bands",
            raster.path.display(),
            raster.band_count,
            info.channels,
            join(&bands)
        ));
    }
    let fixed = info.fixed_hw;
    if let Some((h, w)) = fixed {
        if h != w {
            return Err(Error::model(&info.path, format!("takes {h}x{w} inputs; terratile tiles are square, so export the model with square or dynamic H/W")));
        }
    }
    let tile_px = match (opts.tile_px, fixed) {
        (Some(t), Some((f, _))) if t != f => {
            return Err(Error::Usage(format!(
                "--tile {t}: {} takes fixed {f}x{f} tiles; drop --tile or export the model with dynamic H/W",
                info.path.display()
            )))
        }
        (_, Some((f, _))) => f,
        (Some(t), None) => t,
        (None, None) => info.tile_px.unwrap_or(512),
    };
    if tile_px == 0 {
        return Err(Error::Usage("--tile must be at least 1 pixel".into()));
    }
    // The model's overlap is meant for its own tile size: scale it to the tile in use.
    let overlap_px = match (opts.overlap_px, info.overlap_px, info.tile_px) {
        (Some(o), _, _) => o,
        (None, Some(o), Some(t)) if t > 0 && t != tile_px => (o * tile_px / t).min(tile_px - 1),
        (None, Some(o), _) => o.min(tile_px - 1),
        (None, None, _) => tile_px / 4,
    };
    if overlap_px >= tile_px {
        return Err(Error::Usage(format!(
            "--overlap {overlap_px} must be smaller than the tile size {tile_px}"
        )));
    }
    let margin_px = opts.margin_px.unwrap_or(overlap_px / 8);
    if 2 * margin_px > overlap_px {
        return Err(Error::Usage(format!(
            "--margin {margin_px} must be at most half the overlap ({overlap_px})"
        )));
    }
    let grid = GridSpec {
        width_px: raster.width,
        height_px: raster.height,
        tile_px,
        overlap_px,
        margin_px,
    };
    // Always a full tile: windows of rasters smaller than a tile are zero-padded, so
    // models that need particular sizes (a U-Net's multiples of 32) always get them.
    let tensor_hw = fixed.unwrap_or((tile_px, tile_px));
    let batch = match (info.fixed_batch, opts.batch) {
        (Some(n), Some(b)) if b != n => {
            notes.push(format!(
                "the model takes batches of exactly {n} tiles; --batch {b} is ignored"
            ));
            n
        }
        (Some(n), _) => n,
        (None, Some(b)) => b.max(1),
        (None, None) => 4,
    };
    Ok(Plan {
        bands,
        grid,
        tensor_hw,
        batch,
        tta: opts.tta,
        notes,
    })
}

/// Where the band choice came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BandSource {
    Flag,
    Sidecar,
    Descriptions,
    FirstBands,
}

pub(crate) fn choose_bands(
    flag: Option<&BandSpec>,
    info: &ModelInfo,
    raster: &RasterInfo,
) -> Result<(Vec<usize>, BandSource)> {
    let c = info.channels;
    let fix = format!("{} expects {}", info.path.display(), info.describe_bands());
    let check =
        |bands: Vec<usize>, from: &str, source: BandSource| -> Result<(Vec<usize>, BandSource)> {
            if bands.len() != c {
                return Err(Error::Usage(format!(
                    "{from} lists {} bands but {fix}",
                    bands.len()
                )));
            }
            if let Some(&b) = bands.iter().find(|&&b| b == 0 || b > raster.band_count) {
                return Err(Error::mismatch(
                    &raster.path,
                    format!(
                        "has {} bands, so band {b} (from {from}) does not exist; {fix}",
                        raster.band_count
                    ),
                ));
            }
            Ok((bands, source))
        };
    match flag {
        Some(BandSpec::Numbers(b)) => return check(b.clone(), "--bands", BandSource::Flag),
        Some(BandSpec::Names { sensor, names }) => {
            let b =
                bands::resolve_names(*sensor, names, &raster.band_descriptions).map_err(|why| {
                    Error::mismatch(&raster.path, format!("--bands {}: {why}", names.join(",")))
                })?;
            return check(b, "--bands", BandSource::Flag);
        }
        None => {}
    }
    if let Some(b) = &info.band_indices {
        if let Some(a) = b.iter().find(|i| raster.alpha_bands.contains(i)) {
            return Err(Error::mismatch(
                &raster.path,
                format!("band {a} is an alpha (transparency) band, but the sidecar of {} feeds it to the model; choose the data bands with --bands", info.path.display()),
            ));
        }
        if b.iter().all(|&i| i <= raster.band_count) {
            return check(
                b.clone(),
                "the model sidecar's band_indices",
                BandSource::Sidecar,
            );
        }
    }
    // band descriptions matching the model's band names (e.g. "B02" or "nir")
    if !info.band_names.is_empty() {
        if let Ok(b) = bands::resolve_names(None, &info.band_names, &raster.band_descriptions) {
            return check(b, "the band descriptions", BandSource::Descriptions);
        }
    }
    // the first C bands that carry data (an alpha band is a mask, not a channel)
    let data: Vec<usize> = (1..=raster.band_count)
        .filter(|b| !raster.alpha_bands.contains(b))
        .take(c)
        .collect();
    if data.len() < c {
        let alpha = if raster.alpha_bands.is_empty() {
            String::new()
        } else {
            " (not counting its alpha band)".to_string()
        };
        return Err(Error::mismatch(
            &raster.path,
            format!("has {} band(s){alpha} but {fix}; pass a raster with those bands (or choose them with --bands)", data.len()),
        ));
    }
    Ok((data, BandSource::FirstBands))
}

/// One tile after reading and preparation.
struct ReadTile {
    tile: Tile,
    valid: Vec<u8>,
    /// `[C, th, tw]` model input, or None when the tile holds no valid pixel.
    tensor: Option<Vec<f32>>,
}

/// One tile ready to stitch.
struct InferredTile {
    tile: Tile,
    valid: Vec<u8>,
    probs: Option<(Arc<BatchProbs>, usize)>,
}

/// Segments `opts.input` with `opts.model` into the COG `opts.output`.
pub fn segment(opts: &SegmentOptions) -> Result<Summary> {
    let started = Instant::now();
    let threads = opts
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let ds = read::open(&opts.input)?;
    let raster = read::describe(&opts.input, &ds)?;
    drop(ds);
    refuse_overwriting_input(&opts.input, &opts.output)?;
    // before any work, and before temporary files (a resampling VRT) go beside it
    crate::write::check_output(&opts.output)?;
    if let Some(m) = &opts.mask_model {
        if opts.mask_classes.is_empty() {
            return Err(Error::Usage(format!(
                "--mask-model {} needs --mask-classes: the mask model's classes that become nodata (e.g. 1,2 for cloud and shadow)",
                m.display()
            )));
        }
    }
    let mut engine = infer::load(
        &opts.model,
        opts.ort_lib.as_deref(),
        ort_threads(threads),
        opts.device,
    )?;
    let info = engine.info.clone();
    let temps = Temps::beside(&opts.output);
    let mut notes = Vec::new();

    // 1. the grid the model reads: the input's, or the input resampled to the model's
    //    resolution through a VRT
    let resample = if opts.no_resample {
        None
    } else {
        resample::plan(&raster, info.resolution_m)
    };
    let (work_path, work_raster) = match &resample {
        None => (opts.input.clone(), raster.clone()),
        Some(r) => {
            let vrt = temps.path("input.vrt");
            resample::write_vrt(&opts.input, &vrt, r.width, r.height, r.method, true)?;
            let ds = read::open(&vrt)?;
            let mut info = read::describe(&vrt, &ds)?;
            info.path = opts.input.clone(); // messages name the user's file
            notes.push(format!(
                "{} has {:.2} m pixels and {} was trained on {:.2} m: resampled on read ({}, {}x{} px){}",
                opts.input.display(),
                r.input_res_m,
                opts.model.display(),
                r.model_res_m,
                r.method.gdal_name(),
                r.width,
                r.height,
                if opts.model_grid {
                    "; output on the model grid (--model-grid)".to_string()
                } else {
                    format!("; output on the input grid ({})", r.back_method().gdal_name())
                }
            ));
            (vrt, info)
        }
    };
    let plan = plan(opts, &info, &work_raster)?;
    let grid = Grid::new(plan.grid).map_err(|e| Error::Usage(e.to_string()))?;

    // 2. the mask model, written on the grid the model reads
    let mask = match &opts.mask_model {
        None => None,
        Some(m) => Some(run_mask_model(opts, m, &work_path, &temps, threads)?),
    };

    // 3. the main pass: straight into the output, or onto the model grid first
    let on_input_grid = resample.is_some() && !opts.model_grid;
    let stage_path = if on_input_grid {
        temps.path("model-grid.tif")
    } else {
        opts.output.clone()
    };
    let mut metadata = vec![
        ("TERRATILE_VERSION".into(), env!("CARGO_PKG_VERSION").into()),
        ("TERRATILE_MODEL".into(), file_name(&opts.model)),
        ("TERRATILE_INPUT".into(), file_name(&opts.input)),
        ("TERRATILE_BANDS".into(), join(&plan.bands)),
        (
            "TERRATILE_TILE".into(),
            format!(
                "{} px, overlap {} px, margin {} px{}",
                plan.grid.tile_px,
                plan.grid.overlap_px,
                plan.grid.margin_px,
                if opts.tta { ", 8-way TTA" } else { "" }
            ),
        ),
    ];
    if let Some(r) = &resample {
        metadata.push((
            "TERRATILE_RESAMPLED".into(),
            format!(
                "input {:.2} m -> model {:.2} m ({}){}",
                r.input_res_m,
                r.model_res_m,
                r.method.gdal_name(),
                if on_input_grid {
                    format!(
                        ", classes back on the input grid ({})",
                        r.back_method().gdal_name()
                    )
                } else {
                    String::new()
                }
            ),
        ));
    }
    if let (Some(m), Some(mk)) = (&opts.mask_model, &mask) {
        metadata.push((
            "TERRATILE_MASK".into(),
            format!("{} classes {}", file_name(m), mk.describe()),
        ));
    }
    let spec = OutputSpec {
        path: stage_path.clone(),
        width: work_raster.width,
        height: work_raster.height,
        geo_transform: work_raster.geo_transform,
        projection: work_raster.projection.clone(),
        class_names: info.class_names.clone(),
        class_colors: info.class_colors.clone(),
        confidence: opts.confidence,
        threads,
        metadata,
    };
    let final_spec = OutputSpec {
        path: opts.output.clone(),
        width: raster.width,
        height: raster.height,
        geo_transform: raster.geo_transform,
        projection: raster.projection.clone(),
        ..spec.clone()
    };
    let nodata = spec.nodata();
    let writer = ClassWriter::create(spec)?;

    let progress = if opts.progress {
        let pb = ProgressBar::with_draw_target(
            Some(grid.tile_count() as u64),
            ProgressDrawTarget::stderr(),
        );
        pb.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} tiles  {per_sec}  ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        pb
    } else {
        ProgressBar::hidden()
    };

    let normalizer = Normalizer::new(info.input_scale, info.input_offset, &info.mean, &info.std);
    let (read_tx, read_rx) = bounded::<ReadTile>(plan.batch * 2);
    let (stitch_tx, stitch_rx) = bounded::<InferredTile>(plan.batch * 2);

    let outcome = std::thread::scope(|s| {
        let reader = s.spawn(|| {
            read_tiles(
                &work_path,
                &plan,
                &grid,
                &normalizer,
                mask.as_ref(),
                read_tx,
            )
        });
        let stitcher = s.spawn(|| {
            let mut st = Stitcher::new(
                grid.clone(),
                info.classes(),
                opts.blend,
                nodata,
                opts.confidence,
            );
            stitch_tiles(&mut st, &grid, writer, stitch_rx, &progress)
        });
        let inferred = infer_tiles(&mut engine, &plan, read_rx, stitch_tx);
        let stitched = stitcher.join().expect("stitcher thread panicked");
        let read = reader.join().expect("reader thread panicked");
        if CANCELLED.load(Ordering::Relaxed) {
            return Err(Error::Interrupted(opts.output.clone()));
        }
        // report the root cause: reading first, then inference, then writing
        let masked = read?;
        let n = inferred?;
        let (writer, counts) = stitched?;
        Ok::<_, Error>((n, writer, counts, masked))
    });
    progress.finish_and_clear();
    let (tiles_inferred, writer, mut class_counts, masked_px) = outcome?;
    if CANCELLED.load(Ordering::Relaxed) {
        return Err(Error::Interrupted(opts.output.clone())); // the writer's drop cleans up
    }
    if let (Some(m), Some(mk)) = (&opts.mask_model, &mask) {
        notes.push(format!(
            "{}: {masked_px} px ({:.1}% of the grid) masked as {}",
            m.display(),
            100.0 * masked_px as f64 / (work_raster.width * work_raster.height).max(1) as f64,
            mk.describe()
        ));
    }
    match &resample {
        Some(r) if on_input_grid => {
            writer.finish_plain(&class_counts)?;
            class_counts =
                write_on_input_grid(&stage_path, &opts.input, &plan.bands, r, final_spec, &temps)?;
        }
        _ => writer.finish(&class_counts)?,
    }
    let (width, height) = if on_input_grid || resample.is_none() {
        (raster.width, raster.height)
    } else {
        (work_raster.width, work_raster.height)
    };
    notes.extend(engine.notes.iter().chain(&plan.notes).cloned());
    Ok(Summary {
        width,
        height,
        tiles: grid.tile_count(),
        tiles_inferred,
        tile_px: plan.grid.tile_px,
        overlap_px: plan.grid.overlap_px,
        batch: plan.batch,
        seconds: started.elapsed().as_secs_f64(),
        class_names: info.class_names.clone(),
        class_counts,
        notes,
    })
}

/// Temporary files beside the output (`.NAME.terratile-PID.SUFFIX`), removed on drop.
struct Temps {
    output: PathBuf,
    made: std::cell::RefCell<Vec<PathBuf>>,
}

impl Temps {
    fn beside(output: &Path) -> Temps {
        Temps {
            output: output.to_path_buf(),
            made: Default::default(),
        }
    }
    fn path(&self, suffix: &str) -> PathBuf {
        let p = crate::write::temp_beside(&self.output, suffix);
        self.made.borrow_mut().push(p.clone());
        p
    }
}

impl Drop for Temps {
    fn drop(&mut self) {
        for p in self.made.borrow().iter() {
            let _ = std::fs::remove_file(p);
            let mut aux = p.as_os_str().to_owned();
            aux.push(".aux.xml");
            let _ = std::fs::remove_file(PathBuf::from(aux));
        }
    }
}

/// The mask model's classes that become nodata, read from its class map.
struct Mask {
    path: PathBuf,
    classes: Vec<u32>,
    names: Vec<String>,
}

impl Mask {
    fn describe(&self) -> String {
        self.classes
            .iter()
            .map(|&c| format!("{c} {}", self.names[c as usize]))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Runs the mask model over `work` (the grid the main model reads) into a temporary
/// class map.
fn run_mask_model(
    opts: &SegmentOptions,
    model: &Path,
    work: &Path,
    temps: &Temps,
    threads: usize,
) -> Result<Mask> {
    let out = temps.path("mask.tif");
    let sub = SegmentOptions {
        input: work.to_path_buf(),
        model: model.to_path_buf(),
        output: out.clone(),
        bands: opts.mask_bands.clone(),
        threads: Some(threads),
        device: opts.device,
        ort_lib: opts.ort_lib.clone(),
        ..SegmentOptions::default()
    };
    let s = segment(&sub).map_err(|e| match e {
        Error::Interrupted(_) => Error::Interrupted(opts.output.clone()),
        // a band mismatch of the mask model: say which flag fixes it
        Error::Mismatch { path, problem } => Error::Mismatch {
            path,
            problem: format!(
                "{problem} (for the mask model {}; choose its bands with --mask-bands)",
                model.display()
            ),
        },
        other => other,
    })?;
    if let Some(&c) = opts
        .mask_classes
        .iter()
        .find(|&&c| c as usize >= s.class_names.len())
    {
        return Err(Error::Usage(format!(
            "--mask-classes {c}: {} has classes 0..{} ({}); choose among those",
            model.display(),
            s.class_names.len().saturating_sub(1),
            s.class_names
                .iter()
                .enumerate()
                .map(|(i, n)| format!("{i} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(Mask {
        path: out,
        classes: opts.mask_classes.clone(),
        names: s.class_names,
    })
}

/// Brings the class map from the model grid back onto the input grid (nearest when the
/// model grid is coarser, mode when it is finer), keeps the input's nodata, and writes
/// the output COG. Streams blocks of rows. Returns the class counts.
fn write_on_input_grid(
    model_grid: &Path,
    input: &Path,
    bands: &[usize],
    r: &resample::Resample,
    spec: OutputSpec,
    temps: &Temps,
) -> Result<Vec<u64>> {
    let (w, h) = (spec.width, spec.height);
    let vrt = temps.path("input-grid.vrt");
    resample::write_vrt(model_grid, &vrt, w, h, r.back_method(), false)?;
    let ds = read::open(&vrt)?;
    let mut reader = Reader::new(input, bands)?;
    let nodata = spec.nodata();
    let classes = spec.class_names.len();
    let confidence = spec.confidence;
    let out_path = spec.path.clone();
    let mut writer = ClassWriter::create(spec)?;
    let mut counts = vec![0u64; classes];
    let mut bufs = vec![Vec::new(); bands.len()];
    let block = 256usize;
    let e = |e: gdal::errors::GdalError| {
        Error::output(
            &out_path,
            format!(
                "cannot read back the model-grid classes: {}",
                crate::error::gdal_text(&e)
            ),
        )
    };
    for y0 in (0..h).step_by(block) {
        if CANCELLED.load(Ordering::Relaxed) {
            return Err(Error::Interrupted(out_path.clone()));
        }
        let bh = block.min(h - y0);
        let n = w * bh;
        let rect = tiles::Rect {
            x0: 0,
            y0,
            w,
            h: bh,
        };
        let mut valid = vec![0u8; n];
        reader.read(rect, &mut bufs, &mut valid)?;
        let mut planes = Vec::new();
        for b in 1..=(1 + confidence as usize) {
            let mut p = vec![0u16; n];
            ds.rasterband(b)
                .and_then(|band| {
                    band.read_into_slice::<u16>((0, y0 as isize), (w, bh), (w, bh), &mut p, None)
                })
                .map_err(e)?;
            planes.push(p);
        }
        let mut row_counts = vec![0u64; classes];
        for i in 0..n {
            if valid[i] == 0 {
                for p in planes.iter_mut() {
                    p[i] = nodata;
                }
            } else if (planes[0][i] as usize) < classes {
                row_counts[planes[0][i] as usize] += 1;
            }
        }
        for (c, k) in counts.iter_mut().zip(&row_counts) {
            *c += k;
        }
        let mut it = planes.into_iter();
        let rows = Rows {
            y0,
            h: bh,
            width: w,
            classes: it.next().expect("class plane"),
            confidence: it.next(),
            class_counts: row_counts,
        };
        writer.write_rows(&rows)?;
    }
    drop(ds);
    writer.finish(&counts)?;
    Ok(counts)
}

fn read_tiles(
    input: &Path,
    plan: &Plan,
    grid: &Grid,
    norm: &Normalizer,
    mask: Option<&Mask>,
    tx: Sender<ReadTile>,
) -> Result<u64> {
    // On an error the sender is dropped, which ends the run downstream; the caller
    // reports this function's error first.
    let mut reader = Reader::new(input, &plan.bands)?;
    let mask_ds = mask.map(|m| read::open(&m.path)).transpose()?;
    let mut mask_buf: Vec<u16> = Vec::new();
    let mut masked = 0u64;
    let (th, tw) = plan.tensor_hw;
    let c = plan.bands.len();
    let mut bufs = vec![Vec::new(); c];
    for tile in grid.tiles() {
        if CANCELLED.load(Ordering::Relaxed) {
            return Ok(masked); // the caller reports the interruption
        }
        let mut valid = vec![0u8; tile.window.area()];
        let mut n_valid = reader.read(tile.window, &mut bufs, &mut valid)?;
        if let (Some(ds), Some(m)) = (&mask_ds, mask) {
            let win = tile.window;
            mask_buf.resize(win.area(), 0);
            ds.rasterband(1)
                .and_then(|b| {
                    b.read_into_slice::<u16>(
                        (win.x0 as isize, win.y0 as isize),
                        (win.w, win.h),
                        (win.w, win.h),
                        &mut mask_buf,
                        None,
                    )
                })
                .map_err(|e| Error::input(&m.path, crate::error::gdal_text(&e)))?;
            for (v, &k) in valid.iter_mut().zip(&mask_buf) {
                if *v != 0 && m.classes.contains(&(k as u32)) {
                    *v = 0;
                    n_valid -= 1;
                    // pixels in the overlap are read twice or more: count tile cores only
                }
            }
            masked += count_in_core(&tile, &valid, &mask_buf, &m.classes);
        }
        let tensor = (n_valid > 0).then(|| {
            let mut t = vec![0f32; c * th * tw];
            norm.prepare(
                &bufs,
                &valid,
                (tile.window.w, tile.window.h),
                (tw, th),
                &mut t,
            );
            t
        });
        if tx
            .send(ReadTile {
                tile,
                valid,
                tensor,
            })
            .is_err()
        {
            break; // downstream stopped; its error is reported there
        }
    }
    Ok(masked)
}

/// Masked pixels inside the tile's core (each raster pixel lies in exactly one core).
fn count_in_core(tile: &Tile, valid: &[u8], mask: &[u16], classes: &[u32]) -> u64 {
    let (win, core) = (tile.window, tile.core);
    let mut n = 0;
    for y in core.y0..core.y0 + core.h {
        let row = (y - win.y0) * win.w;
        for x in core.x0..core.x0 + core.w {
            let i = row + x - win.x0;
            n += (valid[i] == 0 && classes.contains(&(mask[i] as u32))) as u64;
        }
    }
    n
}

fn infer_tiles(
    engine: &mut Engine,
    plan: &Plan,
    rx: Receiver<ReadTile>,
    tx: Sender<InferredTile>,
) -> Result<usize> {
    let (th, tw) = plan.tensor_hw;
    let per_tile = engine.info.channels * th * tw;
    let mut batch_buf: Vec<f32> = Vec::with_capacity(plan.batch * per_tile);
    let mut pending: Vec<ReadTile> = Vec::new();
    let mut in_batch = 0usize;
    let mut inferred = 0usize;
    let mut checked = false;
    let mut flush =
        |pending: &mut Vec<ReadTile>, in_batch: &mut usize, engine: &mut Engine| -> Result<bool> {
            let probs = if *in_batch > 0 {
                batch_buf.clear();
                for t in pending.iter() {
                    if let Some(x) = &t.tensor {
                        batch_buf.extend_from_slice(x);
                    }
                }
                let n = if engine.info.fixed_batch.is_some() {
                    plan.batch
                } else {
                    *in_batch
                };
                batch_buf.resize(n * per_tile, 0.0); // pad a short last batch for fixed-N models
                inferred += *in_batch;
                let b = if plan.tta {
                    engine.run_tta(&batch_buf, n, th, tw)?
                } else {
                    engine.run(&batch_buf, n, th, tw)?
                };
                if !checked {
                    check_outputs_meet(&b, plan, &engine.info.path)?;
                    checked = true;
                }
                Some(Arc::new(b))
            } else {
                None
            };
            let mut k = 0;
            for t in pending.drain(..) {
                let p = match (&probs, t.tensor.is_some()) {
                    (Some(b), true) => {
                        k += 1;
                        Some((b.clone(), k - 1))
                    }
                    _ => None,
                };
                if tx
                    .send(InferredTile {
                        tile: t.tile,
                        valid: t.valid,
                        probs: p,
                    })
                    .is_err()
                {
                    return Ok(false);
                }
            }
            *in_batch = 0;
            Ok(true)
        };
    for t in rx.iter() {
        if CANCELLED.load(Ordering::Relaxed) {
            return Ok(inferred); // the reader reports the interruption
        }
        in_batch += t.tensor.is_some() as usize;
        pending.push(t);
        // Flush a full batch; pass tiles without data straight on when no tile waits for
        // inference; and never hold more than a few batches' worth of tiles (long
        // stretches of nodata would otherwise pile up behind one waiting tile).
        let due = in_batch == plan.batch || in_batch == 0 || pending.len() >= 4 * plan.batch;
        if due && !flush(&mut pending, &mut in_batch, engine)? {
            return Ok(inferred);
        }
    }
    flush(&mut pending, &mut in_batch, engine)?;
    Ok(inferred)
}

/// An output smaller than its input (valid convolutions) covers only the centre of each
/// tile: neighbouring outputs must still meet, or the pixels between tiles would get no
/// prediction. Checked on the first batch, before anything is written.
fn check_outputs_meet(b: &BatchProbs, plan: &Plan, model: &Path) -> Result<()> {
    let g = &plan.grid;
    let (th, tw) = plan.tensor_hw;
    for (len, t, o, off) in [
        (g.height_px, th, b.h, b.off_y),
        (g.width_px, tw, b.w, b.off_x),
    ] {
        let need = off.max(g.margin_px) + (t - off - o).max(g.margin_px);
        if len > g.tile_px && g.overlap_px < need {
            return Err(Error::Usage(format!(
                "{}: the model outputs {}x{} for {th}x{tw} inputs (centred), so with --overlap {} the pixels between tiles get no prediction; use --overlap {need} or more",
                model.display(),
                b.h,
                b.w,
                g.overlap_px
            )));
        }
    }
    Ok(())
}

fn stitch_tiles(
    st: &mut Stitcher,
    grid: &Grid,
    mut writer: ClassWriter,
    rx: Receiver<InferredTile>,
    progress: &ProgressBar,
) -> Result<(ClassWriter, Vec<u64>)> {
    let mut counts: Vec<u64> = Vec::new();
    let mut done_rows = 0;
    for t in rx.iter() {
        if CANCELLED.load(Ordering::Relaxed) {
            break; // reported by the reader or the caller
        }
        let probs = t.probs.as_ref().map(|(b, i)| TileProbs {
            data: b.item(*i),
            h: b.h,
            w: b.w,
            off_y: b.off_y,
            off_x: b.off_x,
            sparse: b.sparse,
        });
        st.add(&t.tile, &t.valid, probs);
        progress.inc(1);
        if t.tile.col + 1 == grid.cols() {
            let rows = st.finish_row(t.tile.row);
            writer.write_rows(&rows)?;
            counts.resize(rows.class_counts.len(), 0);
            for (c, n) in counts.iter_mut().zip(&rows.class_counts) {
                *c += n;
            }
            done_rows += 1;
        }
    }
    if done_rows != grid.rows() {
        // upstream stopped early: its error is reported by the caller
        return Err(Error::Usage(
            "the run stopped before all tiles were stitched".into(),
        ));
    }
    Ok((writer, counts))
}

fn refuse_overwriting_input(input: &Path, output: &Path) -> Result<()> {
    if let (Ok(a), Ok(b)) = (input.canonicalize(), output.canonicalize()) {
        if a == b {
            return Err(Error::output(
                output,
                "is the input raster; choose another output path so the input is not overwritten",
            ));
        }
    }
    Ok(())
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn join(v: &[usize]) -> String {
    v.iter()
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join(",")
}
