//! Planning a run: which raster bands feed the model's channels, the tile grid (tile,
//! overlap, edge margin), the model's input size and the batch, before any tile runs.
//! `inspect` uses the same planning to say how a raster would be run.

use tiles::{Grid, GridSpec};

use super::SegmentOptions;
use crate::error::{Error, Result};
use crate::infer::ModelInfo;
use crate::prepare::{bands, BandSpec};
use crate::raster::RasterInfo;

/// The plan derived from options, model and raster before any tile runs.
#[derive(Debug, Clone)]
pub struct Plan {
    pub bands: Vec<usize>,
    /// Where the band choice came from.
    pub band_source: BandSource,
    pub grid: GridSpec,
    /// Pixel columns each column stripe finishes (the raster's width: one pass).
    pub stripe_px: usize,
    /// Where the tile size came from ("--tile", "the model's fixed input", ...).
    pub tile_source: String,
    /// Model input size (th, tw) for every tile.
    pub tensor_hw: (usize, usize),
    pub batch: usize,
    /// Average the 8 flips/rotations of every tile.
    pub tta: bool,
    /// Stitched at the model's resolution: its scores come out at 1/s of the tile
    /// ([`ModelInfo::score_stride`]), the grid is aligned to s, and the stitcher blends
    /// cells and resizes once per output pixel ([`crate::stitch::CoarseStitcher`]).
    /// None: probabilities at the tile's resolution are blended.
    pub coarse: Option<usize>,
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
    match (&info.band_indices, from) {
        (Some(b), BandSource::FirstBands) => notes.push(format!(
            "the model sidecar's band_indices {} do not fit {} ({} bands); using bands {} instead",
            join(b),
            raster.path.display(),
            raster.band_count,
            join(&bands)
        )),
        (_, BandSource::FirstBands) if raster.band_count > info.channels => notes.push(format!(
            "{} has {} bands and the model takes {}: using bands {}; choose others with --bands",
            raster.path.display(),
            raster.band_count,
            info.channels,
            join(&bands)
        )),
        (sidecar, BandSource::Descriptions | BandSource::ColourInterpretation) => {
            let unused = match sidecar {
                Some(b) if *b != bands => {
                    format!(" (not the model sidecar's band_indices {})", join(b))
                }
                _ => String::new(),
            };
            notes.push(format!(
                "{}: bands {} by {}{unused}; choose others with --bands",
                raster.path.display(),
                describe_mapping(info, raster, &bands),
                from
            ));
        }
        _ => {}
    }
    let fixed = info.fixed_hw;
    if let Some((h, w)) = fixed {
        if h != w {
            return Err(Error::model(&info.path, format!("takes {h}x{w} inputs; terratile tiles are square, so export the model with square or dynamic H/W")));
        }
    }
    let multiple = size_multiple(info);
    let (tile_px, tile_source) = match (opts.tile_px, fixed, info.tile_px) {
        (Some(t), Some((f, _)), _) if t != f => {
            return Err(Error::Usage(format!(
                "--tile {t}: {} takes fixed {f}x{f} tiles; drop --tile or export the model with dynamic H/W",
                info.path.display()
            )))
        }
        (_, Some((f, _)), _) => (f, "the model's fixed input".to_string()),
        (Some(t), None, _) => (t, "--tile".to_string()),
        (None, None, Some(t)) => (t, "the model's metadata".to_string()),
        (None, None, None) => {
            let m = multiple.unwrap_or(DEFAULT_SIZE_MULTIPLE);
            let t = auto_tile(opts, info, raster, m, |t| {
                opts.overlap_px
                    .or(info.overlap_px)
                    .unwrap_or(AUTO_OVERLAP_PX.min(t / 4))
                    .min(t - 1)
            });
            (
                t,
                format!(
                    "the multiple of {} with the least work per output pixel within the {} memory budget (at most {MAX_AUTO_TILE_PX})",
                    multiple.unwrap_or(DEFAULT_SIZE_MULTIPLE),
                    format_bytes(opts.memory_budget_bytes())
                ),
            )
        }
    };
    if tile_px == 0 {
        return Err(tiles::GridError::ZeroTile.into());
    }
    if let Some(m) = multiple.filter(|&m| fixed.is_none() && tile_px % m != 0) {
        let up = tile_px.div_ceil(m) * m;
        return Err(Error::Usage(format!(
            "tile {tile_px} (from {tile_source}): {} needs tiles that are a multiple of {m} (its sidecar's size_multiple / output_stride); use --tile {up}",
            info.path.display()
        )));
    }
    // The model's overlap is meant for its own tile size: scale it to the tile in use.
    // An automatic tile keeps the model's overlap (it is set by the receptive field), or
    // a quarter of the 512 px tile.
    let auto = opts.tile_px.is_none() && fixed.is_none() && info.tile_px.is_none();
    let overlap_px = match (opts.overlap_px, info.overlap_px, info.tile_px) {
        (Some(o), _, _) => o,
        (None, Some(o), Some(t)) if t > 0 && t != tile_px => (o * tile_px / t).min(tile_px - 1),
        (None, Some(o), _) => o.min(tile_px - 1),
        (None, None, _) if auto => AUTO_OVERLAP_PX.min(tile_px / 4),
        (None, None, _) => tile_px / 4,
    };
    let coarse = coarse_stride(opts, info, tile_px, overlap_px);
    let grid = GridSpec {
        width_px: raster.grid.width_px,
        height_px: raster.grid.height_px,
        tile_px,
        overlap_px,
        margin_px: opts
            .margin_px
            .unwrap_or(overlap_px / default_margin_div(info)),
        align_px: coarse.unwrap_or(1),
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
        (None, None) if auto => auto_batch(tile_px),
        (None, None) => DEFAULT_BATCH,
    };
    // the memory budget (before the grid's spans are allocated), then the tile grid's
    // own checks (overlap below the tile, margin within the overlap)
    let budget = opts.memory_budget_bytes();
    let stripe_px = stripe_px(&grid, tensor_hw, batch, info, raster, budget, coarse)?;
    let tile_grid = Grid::new(grid)?;
    if stripe_px < grid.width_px {
        let stripes = crate::stitch::stripes(&tile_grid, stripe_px);
        let twice: usize = stripes
            .windows(2)
            .map(|p| p[0].cols.end - p[1].cols.start)
            .sum();
        notes.push(format!(
            "{} is {} px wide: walked in {} column stripes of {stripe_px} px to stay within the memory budget of {} MiB (--memory-budget); {} tile columns at stripe edges run twice",
            raster.path.display(),
            grid.width_px,
            stripes.len(),
            budget >> 20,
            twice
        ));
    }
    Ok(Plan {
        bands,
        band_source: from,
        grid,
        stripe_px,
        tile_source,
        tensor_hw,
        batch,
        tta: opts.tta,
        coarse,
        notes,
    })
}

/// The stride at which a run stitches: the model's [`ModelInfo::score_stride`] s when
/// the tiles can sit on its grid (tile and overlap multiples of s, an overlap of at
/// least s: a pixel is resized from cells up to s px away) and no `--tta` (which
/// averages probabilities over the tile); else None.
pub fn coarse_stride(
    opts: &SegmentOptions,
    info: &ModelInfo,
    tile_px: usize,
    overlap_px: usize,
) -> Option<usize> {
    info.score_stride.filter(|&s| {
        !opts.tta
            && tile_px.is_multiple_of(s)
            && overlap_px.is_multiple_of(s)
            && overlap_px >= s
            && info
                .fixed_hw
                .is_none_or(|(h, w)| h == tile_px && w == tile_px)
    })
}

/// The memory budget when `--memory-budget` is not given (2 GiB): the stitcher's band of
/// rows and the tiles in flight between the threads stay within it (see [`Memory`]).
pub const DEFAULT_MEMORY_BUDGET_BYTES: u64 = 2 << 30;

/// Tile edges of a model with dynamic height and width and no declared multiple are
/// multiples of this (what U-Nets, SegFormer, UPerNet and Mask2Former need).
pub const DEFAULT_SIZE_MULTIPLE: usize = 32;

/// The largest automatic tile: ONNX Runtime's own activations (attention grows with the
/// square of the tokens) are not counted in the budget, so automatic tiles stop here.
pub const MAX_AUTO_TILE_PX: usize = 1024;

/// The overlap of automatic tiles when the model declares none (a quarter of 512).
pub const AUTO_OVERLAP_PX: usize = 128;

/// Input pixels of a batch of automatic tiles (4 tiles of 512): ONNX Runtime's
/// activations grow with the batch's pixels (SegFormer-B0 at 736 px: 3.6 GB in batches
/// of 4, 0.76 GB in batches of 1, no slower), so larger automatic tiles run in smaller
/// batches unless `--batch` says otherwise.
pub const AUTO_BATCH_PX: usize = 4 * 512 * 512;

/// The batch of automatic `tile` px tiles: [`AUTO_BATCH_PX`] worth, 1 to [`DEFAULT_BATCH`].
pub fn auto_batch(tile: usize) -> usize {
    (AUTO_BATCH_PX / (tile * tile).max(1)).clamp(1, DEFAULT_BATCH)
}

/// The multiple tile edges must be: the sidecar's `size_multiple`, else its
/// `output_stride` (the output must be a whole fraction of the tile).
pub fn size_multiple(info: &ModelInfo) -> Option<usize> {
    info.size_multiple.or(info.output_stride).filter(|&m| m > 1)
}

/// The default margin is the overlap over this: 8, or 4 for the large models that
/// declare a size multiple or an output stride (transformers: every output pixel sees
/// the whole tile, so the pixels near a tile's edge, short of context, weigh nothing for
/// a wider band).
pub fn default_margin_div(info: &ModelInfo) -> usize {
    if size_multiple(info).is_some() {
        4
    } else {
        8
    }
}

/// Buffers a run of `tile_px` tiles needs, in bytes (see [`Memory`]); `stride` > 1
/// when scores are stitched at 1/stride.
pub fn buffer_bytes(
    tile_px: usize,
    width_px: usize,
    height_px: usize,
    batch: usize,
    channels: usize,
    classes: usize,
    stride: usize,
) -> u128 {
    let band_h = tile_px.min(height_px) as u128;
    let s2 = (stride * stride) as u128;
    let stitch = band_h * width_px as u128 * (classes as u128 * 4 / s2 + 5);
    let tile = tile_px as u128 * tile_px as u128;
    stitch + (4 * batch as u128 + 1) * tile * (channels as u128 + classes as u128 / s2) * 4
}

/// The tile of a model with dynamic height and width: of the multiples of `m` whose
/// buffers fit the memory budget (no larger than [`MAX_AUTO_TILE_PX`], nor than the
/// raster rounded up to `m`), the one that needs the least work per output pixel
/// (model input over output, with the overlap `overlap(tile)`); the largest of those
/// within 1% of the least. At least `m`.
fn auto_tile(
    opts: &SegmentOptions,
    info: &ModelInfo,
    raster: &RasterInfo,
    m: usize,
    overlap: impl Fn(usize) -> usize,
) -> usize {
    let budget = opts.memory_budget_bytes() as u128;
    let classes = info.classes().max(info.output_channels.unwrap_or(0));
    let batch = |t: usize| opts.batch.or(info.fixed_batch).unwrap_or(auto_batch(t));
    // scores at 1/s are stitched at 1/s when the overlap allows (see coarse_stride)
    let stride = |t: usize| coarse_stride(opts, info, t, overlap(t)).unwrap_or(1);
    let (w, h) = (raster.grid.width_px, raster.grid.height_px);
    let cap = MAX_AUTO_TILE_PX.min(w.max(h).div_ceil(m) * m).max(m);
    let work = |t: usize| -> Option<f64> {
        let o = overlap(t);
        let g = Grid::new(GridSpec {
            width_px: w,
            height_px: h,
            tile_px: t,
            overlap_px: o,
            margin_px: opts.margin_px.unwrap_or(o / default_margin_div(info)),
            align_px: coarse_stride(opts, info, t, o).unwrap_or(1),
        })
        .ok()?;
        Some(g.tile_count() as f64 * (t * t) as f64 / (w * h).max(1) as f64)
    };
    let fits: Vec<(usize, f64)> = (1..=cap / m)
        .map(|i| i * m)
        .filter(|&t| {
            t == m || buffer_bytes(t, w, h, batch(t), info.channels, classes, stride(t)) <= budget
        })
        .filter_map(|t| Some((t, work(t)?)))
        .collect();
    let least = fits.iter().map(|f| f.1).fold(f64::INFINITY, f64::min);
    fits.iter()
        .filter(|f| f.1 <= least * 1.01)
        .map(|f| f.0)
        .max()
        .unwrap_or(m)
}

/// "2 GiB", "512 MiB" for messages.
pub fn format_bytes(b: u64) -> String {
    if b >= 1 << 30 && b.is_multiple_of(1 << 30) {
        format!("{} GiB", b >> 30)
    } else if b >= 1 << 20 {
        format!("{:.0} MiB", b as f64 / (1u64 << 20) as f64)
    } else {
        format!("{b} bytes")
    }
}

/// Tiles per batch unless the model or `--batch` says otherwise.
pub const DEFAULT_BATCH: usize = 4;

impl Plan {
    /// Work per output pixel: the model input of every tile over the core it
    /// contributes (1.0 for one tile over the whole raster; more as overlap is
    /// recomputed, and for padding at the raster's edges).
    pub fn work_per_pixel(&self) -> f64 {
        let Ok(g) = Grid::new(self.grid) else {
            return 1.0;
        };
        let input = g.tile_count() as f64 * self.tensor_hw.0 as f64 * self.tensor_hw.1 as f64;
        input / (self.grid.width_px as f64 * self.grid.height_px as f64).max(1.0)
    }
}

/// Bytes per pixel of the stitcher's band besides the per-class sums: the weight sum
/// (f32), validity (u8), and the argmax's scratch and finished rows (best value f32,
/// best class, class and confidence u16, the writer's u8 copy).
const STITCH_PX_BYTES: u128 = 4 + 1 + 4 + 2 + 2 + 2 + 1;

/// What a run's buffers take, in bytes: the stitcher's band of rows (tile rows x the
/// columns it holds x (classes x 4 + [`STITCH_PX_BYTES`])) and the tiles in flight
/// between the threads (4 x batch + 1 tiles of (channels + classes) x tile x 4 bytes).
/// Stitched at 1/s, the classes take 1/s² of that (cells), with s more rows of cells.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// Bytes per column of the stitcher's band.
    pub per_column: u128,
    pub tiles_in_flight: u128,
}

impl Memory {
    pub fn of(
        grid: &GridSpec,
        tensor_hw: (usize, usize),
        batch: usize,
        info: &ModelInfo,
        coarse: Option<usize>,
    ) -> Memory {
        let classes = info.classes().max(info.output_channels.unwrap_or(0)) as u128;
        let band_h = grid.tile_px.min(grid.height_px) as u128;
        let tile_px = tensor_hw.0 as u128 * tensor_hw.1 as u128;
        let Some(s) = coarse.map(|s| s as u128) else {
            return Memory {
                per_column: band_h * (classes * 4 + STITCH_PX_BYTES),
                tiles_in_flight: (4 * batch as u128 + 1)
                    * tile_px
                    * (info.channels as u128 + classes)
                    * 4,
            };
        };
        let cell_rows = band_h.div_ceil(s) + 3;
        Memory {
            per_column: cell_rows * classes * 4 / s + (band_h + 2 * s) * STITCH_PX_BYTES,
            tiles_in_flight: (4 * batch as u128 + 1)
                * (tile_px * info.channels as u128 + tile_px / (s * s) * classes)
                * 4,
        }
    }

    /// Bytes for a stitcher holding `columns` columns.
    pub fn with_columns(&self, columns: usize) -> u128 {
        self.per_column * columns as u128 + self.tiles_in_flight
    }
}

/// Pixel columns each column stripe finishes: the whole width when the stitcher's band
/// over the whole raster fits `budget` bytes; else the most multiples of the staging
/// file's block whose stripe (with the tiles reaching into it from both sides) fits.
/// Refuses a run of which not even one stripe of one block fits, with the numbers.
fn stripe_px(
    grid: &GridSpec,
    tensor_hw: (usize, usize),
    batch: usize,
    info: &ModelInfo,
    raster: &RasterInfo,
    budget: u64,
    coarse: Option<usize>,
) -> Result<usize> {
    let mem = Memory::of(grid, tensor_hw, batch, info, coarse);
    let budget128 = budget as u128;
    if mem.with_columns(grid.width_px) <= budget128 {
        return Ok(grid.width_px);
    }
    let block = crate::write::STAGE_BLOCK_PX as u128;
    // a stripe holds its own columns and up to a tile less one on either side
    let halo = 2 * (grid.tile_px.saturating_sub(1) + coarse.unwrap_or(0)) as u128;
    let columns = budget128.saturating_sub(mem.tiles_in_flight) / mem.per_column.max(1);
    let blocks = columns.saturating_sub(halo) / block;
    if blocks >= 1 {
        return Ok((blocks * block).min(grid.width_px as u128) as usize);
    }
    let mib = |b: u128| b as f64 / (1u64 << 20) as f64;
    let stripe = (block + halo).min(grid.width_px as u128) as usize;
    let classes = info.classes().max(info.output_channels.unwrap_or(0));
    Err(Error::mismatch(
        &raster.path,
        format!(
            "{}x{} px: even one column stripe ({stripe} px wide, {} rows, {classes} classes: {:.0} MiB) and the tiles in flight ({}x{} px, {} channels, {classes} classes, batch {batch}: {:.0} MiB) need {:.0} MiB, over the memory budget of {:.0} MiB; raise --memory-budget, or use a smaller --tile or --batch",
            grid.width_px,
            grid.height_px,
            grid.tile_px.min(grid.height_px),
            mib(mem.per_column * stripe as u128),
            tensor_hw.0,
            tensor_hw.1,
            info.channels,
            mib(mem.tiles_in_flight),
            mib(mem.with_columns(stripe)),
            mib(budget128),
        ),
    ))
}

/// Bytes from `2G`, `512M`, `64K` (powers of 1024, an optional `B`/`iB`, any case) or
/// a plain number of bytes.
pub fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let lower = text.trim().to_ascii_lowercase();
    let body = lower
        .strip_suffix("ib")
        .or_else(|| lower.strip_suffix('b'))
        .unwrap_or(&lower);
    let (digits, shift) = match body.chars().last() {
        Some('k') => (&body[..body.len() - 1], 10),
        Some('m') => (&body[..body.len() - 1], 20),
        Some('g') => (&body[..body.len() - 1], 30),
        Some('t') => (&body[..body.len() - 1], 40),
        _ => (body, 0),
    };
    let bad =
        || format!("'{text}' is not a size: use bytes or a number with K, M, G or T (512M, 2G)");
    let value: f64 = digits.trim().parse().map_err(|_| bad())?;
    let bytes = value * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes < 1.0 || bytes >= u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as u64)
}

/// Where the band choice came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BandSource {
    Flag,
    Sidecar,
    Descriptions,
    ColourInterpretation,
    FirstBands,
}

impl std::fmt::Display for BandSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BandSource::Flag => "--bands",
            BandSource::Sidecar => "the model sidecar's band_indices",
            BandSource::Descriptions => "band descriptions",
            BandSource::ColourInterpretation => "colour interpretation",
            BandSource::FirstBands => "the first bands that carry data",
        })
    }
}

/// "blue <- 3 (Blue), green <- 2 (Green), ..." for notes.
fn describe_mapping(info: &ModelInfo, raster: &RasterInfo, bands: &[usize]) -> String {
    bands
        .iter()
        .enumerate()
        .map(|(c, &b)| {
            let name = info.band_names.get(c).map_or(c.to_string(), |n| n.clone());
            let what = [&raster.band_descriptions, &raster.band_colours]
                .iter()
                .filter_map(|v| v.get(b - 1))
                .find(|d| !d.is_empty())
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            format!("{name} <- {b}{what}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The raster bands feeding the model's channels, and where that choice came from: the
/// flag; else the raster's own account of its bands (band descriptions, then GDAL's colour
/// interpretation, matched to the model's band names through the sensor-neutral names);
/// else the model sidecar's band_indices; else the first bands that carry data.
pub fn choose_bands(
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
    if !info.band_names.is_empty() {
        // band descriptions matching the model's band names (e.g. "B02" or "nir")
        if let Ok(b) = bands::resolve_names(None, &info.band_names, &raster.band_descriptions) {
            return check(b, "the band descriptions", BandSource::Descriptions);
        }
        // GDAL's colour interpretation (Red, Green, Blue, ...) naming them
        if let Ok(b) = bands::resolve_colours(&info.band_names, &raster.band_colours) {
            return check(
                b,
                "the colour interpretation",
                BandSource::ColourInterpretation,
            );
        }
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

pub(crate) fn join(v: &[usize]) -> String {
    v.iter()
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("512mib"), Ok(512 << 20));
        assert_eq!(parse_size("1.5g"), Ok(3 << 29));
        assert_eq!(parse_size("64KB"), Ok(64 << 10));
        assert_eq!(parse_size("1000000"), Ok(1_000_000));
        for bad in ["", "G", "-1G", "0", "2X", "1e30T", "NaN", "inf"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
