//! Test-time augmentation: a batch runs once per element of the dihedral group D4 (the 4
//! rotations of a square tile, each also mirrored), and the class probabilities are put
//! back in place and averaged. Eight times the inference cost; smoother, more
//! orientation-independent maps.

use super::{BatchProbs, Engine};
use crate::error::{Error, Result};

/// The 8 symmetries of a square grid of side `n`: element `t` maps (y, x) to the pixel
/// it reads from. Each is a bijection, so a transformed image `J(p) = I(g(p))` and a
/// model output on `J` scattered back with the same `g` undo each other.
#[inline]
pub fn d4(t: usize, n: usize, y: usize, x: usize) -> (usize, usize) {
    let m = n - 1;
    match t {
        0 => (y, x),
        1 => (x, m - y),
        2 => (m - y, m - x),
        3 => (m - x, y),
        4 => (y, m - x),
        5 => (x, y),
        6 => (m - y, x),
        _ => (m - x, m - y),
    }
}

/// `out[p] = src[g(p)]` for every plane of `n x n` pixels.
fn gather(t: usize, n: usize, src: &[f32], out: &mut [f32]) {
    for (s, o) in src.chunks_exact(n * n).zip(out.chunks_exact_mut(n * n)) {
        for y in 0..n {
            for x in 0..n {
                let (sy, sx) = d4(t, n, y, x);
                o[y * n + x] = s[sy * n + sx];
            }
        }
    }
}

/// `acc[g(p)] += src[p]` for every plane of `n x n` pixels.
fn scatter_add(t: usize, n: usize, src: &[f32], acc: &mut [f32]) {
    for (s, a) in src.chunks_exact(n * n).zip(acc.chunks_exact_mut(n * n)) {
        for y in 0..n {
            for x in 0..n {
                let (ty, tx) = d4(t, n, y, x);
                a[ty * n + tx] += s[y * n + x];
            }
        }
    }
}

impl Engine {
    /// Like [`Engine::run`], averaged over the 8 flips and rotations of every tile.
    pub fn run_tta(&mut self, input: &[f32], n: usize, h: usize, w: usize) -> Result<BatchProbs> {
        if h != w {
            return Err(Error::Usage(format!(
                "--tta needs square tiles, but {} takes {h}x{w}",
                self.info.path.display()
            )));
        }
        let mut moved = vec![0f32; input.len()];
        let mut mean: Option<BatchProbs> = None;
        for t in 0..8 {
            gather(t, h, input, &mut moved);
            let b = self.run(&moved, n, h, w)?;
            if b.h != b.w || !(h - b.h).is_multiple_of(2) {
                return Err(Error::Usage(format!(
                    "--tta needs a square output centred in the input, but {} outputs {}x{} for {h}x{w}",
                    self.info.path.display(),
                    b.h,
                    b.w
                )));
            }
            let acc = mean.get_or_insert_with(|| BatchProbs {
                data: vec![0.0; b.data.len()],
                ..b.clone_empty()
            });
            scatter_add(t, b.h, &b.data, &mut acc.data);
        }
        let mut mean = mean.expect("eight runs");
        for v in &mut mean.data {
            *v *= 0.125;
        }
        Ok(mean)
    }
}

impl BatchProbs {
    /// The same shape and placement with no data.
    fn clone_empty(&self) -> BatchProbs {
        BatchProbs {
            data: Vec::new(),
            ..*self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eight_symmetries_are_distinct_bijections_and_scatter_undoes_gather() {
        let n = 5;
        let img: Vec<f32> = (0..n * n).map(|v| v as f32).collect();
        let mut seen = Vec::new();
        for t in 0..8 {
            let mut moved = vec![0.0; n * n];
            gather(t, n, &img, &mut moved);
            let mut sorted = moved.clone();
            sorted.sort_by(f32::total_cmp);
            assert_eq!(sorted, img, "element {t} is not a permutation");
            assert!(!seen.contains(&moved), "element {t} repeats another");
            seen.push(moved.clone());
            let mut back = vec![0.0; n * n];
            scatter_add(t, n, &moved, &mut back);
            assert_eq!(back, img, "element {t} is not undone");
        }
    }
}
