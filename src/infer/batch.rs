//! Batching: prepared tiles packed into one input tensor (a short last batch padded for
//! models that take a fixed N), run (with or without test-time augmentation), and the
//! first batch's outputs checked against the tile grid before anything is written.

use std::path::Path;

use tiles::GridSpec;

use super::{BatchProbs, Engine};
use crate::error::{Error, Result};

/// Packs prepared tiles into batches and runs them.
pub struct Batcher {
    /// Tiles per batch.
    pub batch: usize,
    /// Model input size (h, w) of every tile.
    pub tensor_hw: (usize, usize),
    /// Average the 8 flips/rotations of every tile.
    pub tta: bool,
    /// The tile grid the outputs must cover.
    grid: GridSpec,
    per_tile: usize,
    buf: Vec<f32>,
    checked: bool,
    /// Tiles run so far (padding not counted).
    pub inferred: usize,
}

impl Batcher {
    pub fn new(
        channels: usize,
        batch: usize,
        tensor_hw: (usize, usize),
        tta: bool,
        grid: GridSpec,
    ) -> Batcher {
        let per_tile = channels * tensor_hw.0 * tensor_hw.1;
        Batcher {
            batch,
            tensor_hw,
            tta,
            grid,
            per_tile,
            buf: Vec::new(),
            checked: false,
            inferred: 0,
        }
    }

    /// Runs the prepared `[C, h, w]` tiles `tensors` (at most one batch) and returns their
    /// class probabilities, item `i` for the `i`-th tile.
    pub fn run<'a>(
        &mut self,
        engine: &mut Engine,
        tensors: impl Iterator<Item = &'a [f32]>,
    ) -> Result<BatchProbs> {
        let tiles: Vec<&[f32]> = tensors.collect();
        let n = engine.info.fixed_batch.map_or(tiles.len(), |_| self.batch);
        let input = match tiles[..] {
            // one tile that makes the whole batch runs on its own tensor: copying it into
            // the batch buffer would be a pass over every input value between two runs
            [one] if n == 1 => one,
            _ => {
                self.buf.clear();
                for t in &tiles {
                    self.buf.extend_from_slice(t);
                }
                // pad a short last batch for fixed-N models
                self.buf.resize(n * self.per_tile, 0.0);
                &self.buf[..]
            }
        };
        self.inferred += tiles.len();
        let (th, tw) = self.tensor_hw;
        let b = if self.tta {
            engine.run_tta(input, n, th, tw)?
        } else {
            engine.run(input, n, th, tw)?
        };
        if !self.checked {
            check_outputs_meet(&b, &self.grid, self.tensor_hw, &engine.info.path)?;
            self.checked = true;
        }
        Ok(b)
    }
}

/// An output smaller than its input (valid convolutions) covers only the centre of each
/// tile: neighbouring outputs must still meet, or the pixels between tiles would get no
/// prediction. Checked on the first batch, before anything is written.
fn check_outputs_meet(
    b: &BatchProbs,
    g: &GridSpec,
    (th, tw): (usize, usize),
    model: &Path,
) -> Result<()> {
    if b.stride > 1 {
        return Ok(()); // the whole tile at 1/s
    }
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
