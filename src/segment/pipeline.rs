//! The streamed pass over the tile grid: three threads joined by bounded queues, so that
//! memory stays bounded by the tiles in flight.
//!
//! - the reader ([`read_tiles`]): GDAL windows, the mask model's classes, preparation
//!   into model input;
//! - inference ([`infer_tiles`], the caller's thread): batches through ONNX Runtime;
//! - the stitcher ([`stitch_tiles`]): blends tiles and writes rows as soon as they are
//!   final.
//!
//! ONNX Runtime gets the thread budget less what the pipeline needs
//! ([`super::ort_threads`]). A raster too wide for the memory budget is walked in
//! column stripes ([`Stripe`], `Plan::stripe_px`): every stripe's tiles, row by row,
//! then the next stripe's; its rows go into the staging file at its columns.

use std::sync::Arc;

use crossbeam_channel::{bounded, Receiver, Sender};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tiles::{Grid, Tile};

use super::mask::Mask;
use super::rows::RowWindow;
use super::{Plan, SegmentOptions};
use crate::cancel;
use crate::error::{Error, Result};
use crate::infer::{BatchProbs, Batcher, Engine};
use crate::prepare::Normalizer;
use crate::raster::ClassMap;
use crate::read::{Source, Stack};
use crate::stitch::{self, CoarseStitcher, Stitch, Stitcher, Stripe, TileProbs};
use crate::write::{ClassWriter, OutputSpec};

/// One tile after reading and preparation.
struct ReadTile {
    /// Index of the column stripe the tile is read for.
    stripe: usize,
    tile: Tile,
    valid: Vec<u8>,
    /// `[C, th, tw]` model input, or None when the tile holds no valid pixel.
    tensor: Option<Vec<f32>>,
}

/// One tile ready to stitch.
struct InferredTile {
    stripe: usize,
    tile: Tile,
    valid: Vec<u8>,
    probs: Option<(Arc<BatchProbs>, usize)>,
}

/// What the pass produced: the writer holding every row (not yet published), the
/// pixels per class, the tiles run through the model and the pixels masked.
pub struct Done {
    pub writer: ClassWriter,
    pub class_counts: Vec<u64>,
    pub tiles_inferred: usize,
    pub masked_px: u64,
    /// Pixels the model gave NaN probabilities (written as nodata).
    pub nan_px: u64,
}

/// Runs the tiles of `grid` that touch the rows of `window` over `inputs` (one raster;
/// or the two dates of a change model, on one grid, whose bands are stacked into each
/// tile) through `engine` into a writer of `spec` (which holds the window's rows).
#[allow(clippy::too_many_arguments)]
pub fn run(
    opts: &SegmentOptions,
    engine: &mut Engine,
    plan: &Plan,
    grid: &Grid,
    window: &RowWindow,
    inputs: &[Source],
    mask: Option<&Mask>,
    spec: OutputSpec,
) -> Result<Done> {
    let info = engine.info.clone();
    if inputs.iter().map(|s| s.bands.len()).sum::<usize>() != info.input_channels() {
        return Err(Error::Internal(format!(
            "{} input bands for {} model channels",
            inputs.iter().map(|s| s.bands.len()).sum::<usize>(),
            info.input_channels()
        )));
    }
    let nodata = spec.nodata();
    let stripes = stitch::stripes(grid, plan.stripe_px);
    let writer = if stripes.len() > 1 {
        ClassWriter::create_striped(spec)?
    } else {
        ClassWriter::create(spec)?
    };
    let tile_runs: usize = stripes
        .iter()
        .map(|s| s.cols.len() * window.tile_rows.len())
        .sum();
    let progress = progress_bar(opts.progress, tile_runs);
    let normalizer = Normalizer::new(info.input_scale, info.input_offset, &info.mean, &info.std);
    // While a batch runs, the reader prepares the next: all but one of its tiles wait in
    // the queue and the last in the reader's hands, so the next batch is whole the moment
    // the model is free (with batch 1, a hand-over). Each prepared tile held is a fresh
    // allocation the first time (8.7 MB of page faults for 736 px and 4 bands), which is
    // all a deeper queue would add. SegFormer-B0 on the S2 scene, 2 cores, medians of 7
    // alternated runs, against a queue of one batch: 3.14 -> 3.10 s (150 classes), 3.00 s
    // either way (7 classes).
    let (read_tx, read_rx) = bounded::<ReadTile>(plan.batch.saturating_sub(1));
    let (stitch_tx, stitch_rx) = bounded::<InferredTile>(plan.batch * 2);
    let outcome = std::thread::scope(|s| {
        let stripes = &stripes;
        let reader = s.spawn(|| {
            yield_to_the_model();
            read_tiles(
                inputs,
                plan,
                grid,
                window,
                stripes,
                &normalizer,
                mask,
                read_tx,
            )
        });
        let stitcher = s.spawn(|| {
            yield_to_the_model();
            let new = |stripe: &Stripe| {
                let (g, k, blend, conf) =
                    (grid.clone(), info.classes(), opts.blend, opts.confidence);
                let mut st = match plan.coarse {
                    Some(s) => {
                        let mut c =
                            CoarseStitcher::for_stripe(g, stripe, s, k, blend, nodata, conf);
                        c.finish_threads(opts.thread_budget());
                        Stitch::Coarse(Box::new(c))
                    }
                    None => Stitch::Full(Box::new(Stitcher::for_stripe(
                        g, stripe, k, blend, nodata, conf,
                    ))),
                };
                st.start_at_row(window.tile_rows.start);
                st
            };
            stitch_tiles(new, stripes, window, writer, stitch_rx, &progress)
        });
        let inferred = infer_tiles(engine, plan, read_rx, stitch_tx);
        let stitched = stitcher.join().expect("stitcher thread panicked");
        // the model is done: its memory and threads are freed while the COG is written,
        // not after it. Not while the last rows are finished, on both cores: freeing
        // beside them doubled their time (150-class SegFormer-B0, S2 scene: from the
        // last run to the process's exit 0.138-0.166 s -> 0.121-0.135 s, four runs each)
        engine.release();
        let read = reader.join().expect("reader thread panicked");
        if cancel::requested() {
            return Err(Error::Interrupted(opts.output.clone()));
        }
        // report the root cause: reading first, then inference, then writing
        let masked_px = read?;
        let tiles_inferred = inferred?;
        let (mut writer, class_counts, nan_px) = stitched?;
        writer.leave_a_core(); // the release runs beside the COG's compression
        Ok(Done {
            writer,
            class_counts,
            tiles_inferred,
            masked_px,
            nan_px,
        })
    });
    progress.finish_and_clear();
    let done = outcome?;
    if cancel::requested() {
        return Err(Error::Interrupted(opts.output.clone())); // the writer's drop cleans up
    }
    Ok(done)
}

/// The nice value of the reader and the stitcher threads.
const HELPER_NICE: i32 = 10;

/// Lowers the calling thread's priority to [`HELPER_NICE`]: the reader and the stitcher
/// then mostly run while ONNX Runtime's threads leave a core idle (between and within its
/// parallel sections) instead of taking a core from them mid-section, which stalls the
/// whole section. Nice 10 still gives them a tenth of a busy core's time, so a machine
/// loaded by other programs slows them without stopping them; they keep pace, since the
/// model waits on their queues. SegFormer-B0 on the S2 scene, 2 cores, medians of 5
/// interleaved runs: 4.65 -> 4.46 s (7 classes), 4.84 -> 4.51 s (150 classes).
fn yield_to_the_model() {
    // SAFETY: setpriority on this thread's id (on Linux, PRIO_PROCESS with a thread id
    // sets that thread's nice value); raising one's niceness needs no privilege
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, HELPER_NICE);
    }
}

fn progress_bar(show: bool, tiles: usize) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(tiles as u64), ProgressDrawTarget::stderr());
    pb.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} tiles  {rate}  ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            // indicatif's {per_sec} prints 4 decimals (2.8016/s)
            .with_key(
                "rate",
                |st: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = w.write_str(&rate(st.per_sec()));
                },
            ),
    );
    pb
}

/// The progress bar's speed, to one decimal: `2.8 tiles/s`.
fn rate(tiles_per_s: f64) -> String {
    format!("{tiles_per_s:.1} tiles/s")
}

/// The reader: every tile's window, stripe by stripe, masked and prepared. Returns the
/// pixels masked.
#[allow(clippy::too_many_arguments)]
fn read_tiles(
    inputs: &[Source],
    plan: &Plan,
    grid: &Grid,
    window: &RowWindow,
    stripes: &[Stripe],
    norm: &Normalizer,
    mask: Option<&Mask>,
    tx: Sender<ReadTile>,
) -> Result<u64> {
    // On an error the sender is dropped, which ends the run downstream; the caller
    // reports this function's error first.
    let mut reader = Stack::new(inputs)?;
    let mask_map = mask.map(|m| ClassMap::open(&m.path)).transpose()?;
    let mut mask_buf: Vec<u16> = Vec::new();
    let mut masked = 0u64;
    let (th, tw) = plan.tensor_hw;
    let c = reader.channels();
    let mut bufs = vec![Vec::new(); c];
    let order = stripes.iter().enumerate().flat_map(|(k, s)| {
        window
            .tile_rows
            .clone()
            .flat_map(move |r| s.cols.clone().map(move |c| (k, grid.tile(r, c))))
    });
    for (k, tile) in order {
        if cancel::requested() {
            return Ok(masked); // the caller reports the interruption
        }
        let mut valid = vec![0u8; tile.window.area()];
        let mut n_valid = reader.read(tile.window, &mut bufs, &mut valid)?;
        if let (Some(map), Some(m)) = (&mask_map, mask) {
            let win = tile.window;
            mask_buf.resize(win.area(), 0);
            map.read_u16(1, (win.x0, win.y0), (win.w, win.h), &mut mask_buf)?;
            for (v, &k) in valid.iter_mut().zip(&mask_buf) {
                if *v != 0 && m.classes.contains(&(k as u32)) {
                    *v = 0;
                    n_valid -= 1;
                }
            }
            // pixels in the overlap are read twice or more: count tile cores only (and
            // of tiles at a stripe's edge, the stripe's own columns; of a row window, its
            // rows)
            let own = &stripes[k].own;
            masked += count_in_core(&tile, own, &window.rows, &valid, &mask_buf, &m.classes);
        }
        let tensor = (n_valid > 0).then(|| {
            // a recycled buffer (inference gives each back once it is batched); prepare
            // writes every value, padding included
            let mut t = crate::infer::buffer(c * th * tw);
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
                stripe: k,
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

/// Masked pixels inside the tile's core, the columns `own` and the rows `rows` (each
/// raster pixel lies in exactly one core, and in one stripe's own columns).
fn count_in_core(
    tile: &Tile,
    own: &std::ops::Range<usize>,
    rows: &std::ops::Range<usize>,
    valid: &[u8],
    mask: &[u16],
    classes: &[u32],
) -> u64 {
    let (win, core) = (tile.window, tile.core);
    let (x0, x1) = (core.x0.max(own.start), (core.x0 + core.w).min(own.end));
    let mut n = 0;
    let ys = core.y0.max(rows.start)..(core.y0 + core.h).min(rows.end);
    for y in ys {
        let row = (y - win.y0) * win.w;
        for x in x0..x1.max(x0) {
            let i = row + x - win.x0;
            n += (valid[i] == 0 && classes.contains(&(mask[i] as u32))) as u64;
        }
    }
    n
}

/// Inference: tiles in batches through the model, passed on in order. Returns the tiles
/// inferred.
fn infer_tiles(
    engine: &mut Engine,
    plan: &Plan,
    rx: Receiver<ReadTile>,
    tx: Sender<InferredTile>,
) -> Result<usize> {
    let mut batcher = Batcher::new(
        engine.info.input_channels(),
        plan.batch,
        plan.tensor_hw,
        plan.tta,
        plan.grid,
    );
    let mut pending: Vec<ReadTile> = Vec::new();
    let mut in_batch = 0usize;
    let started = std::time::Instant::now();
    let mut first = true;
    for t in rx.iter() {
        if first {
            tracing::debug!(
                "inference: first tile read after {:.3} s",
                started.elapsed().as_secs_f64()
            );
            first = false;
        }
        if cancel::requested() {
            return Ok(batcher.inferred); // the reader reports the interruption
        }
        in_batch += t.tensor.is_some() as usize;
        pending.push(t);
        // Flush a full batch; pass tiles without data straight on when no tile waits for
        // inference; and never hold more than a few batches' worth of tiles (long
        // stretches of nodata would otherwise pile up behind one waiting tile).
        let due = in_batch == plan.batch || in_batch == 0 || pending.len() >= 4 * plan.batch;
        if due && !flush(&mut batcher, engine, &mut pending, in_batch, &tx)? {
            return Ok(batcher.inferred);
        }
        if due {
            in_batch = 0;
        }
    }
    flush(&mut batcher, engine, &mut pending, in_batch, &tx)?;
    tracing::debug!(
        "inference: last batch done after {:.3} s",
        started.elapsed().as_secs_f64()
    );
    Ok(batcher.inferred)
}

/// Runs the pending tiles that hold data as one batch and sends every pending tile on.
/// Returns false when the stitcher has stopped.
fn flush(
    batcher: &mut Batcher,
    engine: &mut Engine,
    pending: &mut Vec<ReadTile>,
    in_batch: usize,
    tx: &Sender<InferredTile>,
) -> Result<bool> {
    let probs = if in_batch > 0 {
        let tensors = pending.iter().filter_map(|t| t.tensor.as_deref());
        Some(Arc::new(batcher.run(engine, tensors)?))
    } else {
        None
    };
    let mut k = 0;
    for mut t in pending.drain(..) {
        let had_data = t.tensor.is_some();
        if let Some(v) = t.tensor.take() {
            crate::infer::recycle(v);
        }
        let p = match (&probs, had_data) {
            (Some(b), true) => {
                k += 1;
                Some((b.clone(), k - 1))
            }
            _ => None,
        };
        let sent = tx.send(InferredTile {
            stripe: t.stripe,
            tile: t.tile,
            valid: t.valid,
            probs: p,
        });
        if sent.is_err() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The stitcher: blends tiles in order and writes each tile row's finished pixel rows,
/// with a new stitcher (`new`) for each column stripe. Returns the writer, the pixels per
/// class and the pixels with NaN probabilities.
fn stitch_tiles(
    new: impl Fn(&Stripe) -> Stitch,
    stripes: &[Stripe],
    window: &RowWindow,
    mut writer: ClassWriter,
    rx: Receiver<InferredTile>,
    progress: &ProgressBar,
) -> Result<(ClassWriter, Vec<u64>, u64)> {
    let mut counts: Vec<u64> = Vec::new();
    let mut done_rows = 0;
    // the first stripe's stitcher at once, beside the model's first run: its band of
    // sums takes the pages faulted in while the model loaded, and those it does not
    // need go back before the model's runs fill memory
    let mut current: Option<(usize, Stitch)> = stripes.first().map(|s| (0, new(s)));
    crate::raster::buffer::drop_spare();
    let mut nan_px = 0u64;
    // time blending tiles, finishing rows (argmax) and writing them
    let mut busy = <(
        std::time::Duration,
        std::time::Duration,
        std::time::Duration,
    )>::default();
    for t in rx.iter() {
        if cancel::requested() {
            break; // reported by the reader or the caller
        }
        let stripe = &stripes[t.stripe];
        if current.as_ref().map(|c| c.0) != Some(t.stripe) {
            // the last stripe's buffers go before the next one's come
            if let Some((_, done)) = current.take() {
                nan_px += done.nan_px();
            }
            current = Some((t.stripe, new(stripe)));
        }
        let st = &mut current.as_mut().expect("a stitcher for the stripe").1;
        let probs = t.probs.as_ref().map(|(b, i)| TileProbs {
            data: b.item(*i),
            h: b.h,
            w: b.w,
            off_y: b.off_y,
            off_x: b.off_x,
            sparse: b.sparse,
            stride: b.stride,
            logits: b.logits,
        });
        let t0 = std::time::Instant::now();
        st.add(&t.tile, &t.valid, probs);
        busy.0 += t0.elapsed();
        progress.inc(1);
        if t.tile.col + 1 == stripe.cols.end {
            let t0 = std::time::Instant::now();
            let rows = window.clip(st.finish_row(t.tile.row));
            busy.1 += t0.elapsed();
            let t0 = std::time::Instant::now();
            writer.write_rows_at(stripe.own.start, &rows)?;
            busy.2 += t0.elapsed();
            counts.resize(rows.class_counts.len(), 0);
            for (c, n) in counts.iter_mut().zip(&rows.class_counts) {
                *c += n;
            }
            done_rows += 1;
        }
    }
    if done_rows != window.tile_rows.len() * stripes.len() {
        // upstream stopped early: its error is reported by the caller
        return Err(Error::Internal(
            "the run stopped before all tiles were stitched".into(),
        ));
    }
    nan_px += current.map_or(0, |c| c.1.nan_px());
    tracing::debug!(
        "stitcher: blending {:.2} s, finishing rows {:.2} s, writing rows {:.2} s",
        busy.0.as_secs_f64(),
        busy.1.as_secs_f64(),
        busy.2.as_secs_f64()
    );
    Ok((writer, counts, nan_px))
}
