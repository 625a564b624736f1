//! Stage 2 of the flow (read -> **prepare** -> infer -> stitch -> write): turning raw
//! band values of one window into the model's input: scale (e.g. DN/10000), offset,
//! per-channel standardisation, zero for masked pixels, and zero padding up to the
//! model's input size.

pub mod bands;

pub use bands::{BandSpec, Sensor};

/// How raw band values become model input: `x = (raw * scale + offset - mean) / std`.
#[derive(Debug, Clone)]
pub struct Normalizer {
    /// Per channel: multiply, then add.
    mul: Vec<f32>,
    add: Vec<f32>,
}

impl Normalizer {
    pub fn new(scale: f32, offset: f32, mean: &[f32], std: &[f32]) -> Normalizer {
        let mul = std.iter().map(|s| scale / s).collect();
        let add = mean
            .iter()
            .zip(std)
            .map(|(m, s)| (offset - m) / s)
            .collect();
        Normalizer { mul, add }
    }

    pub fn channels(&self) -> usize {
        self.mul.len()
    }

    /// Writes one tile into `out` (`[C, th, tw]`): window pixels (`window` = (`ww`,
    /// `wh`), from `bands[c]`) at the top-left, masked pixels and padding as 0 (the data
    /// mean). `tensor` = (`tw`, `th`) is the model input size.
    pub fn prepare(
        &self,
        bands: &[Vec<f32>],
        valid: &[u8],
        window: (usize, usize),
        tensor: (usize, usize),
        out: &mut [f32],
    ) {
        let ((ww, wh), (tw, th)) = (window, tensor);
        debug_assert!(ww <= tw && wh <= th);
        debug_assert_eq!(out.len(), self.channels() * tw * th);
        for (c, plane) in out.chunks_exact_mut(tw * th).enumerate() {
            let (m, a) = (self.mul[c], self.add[c]);
            let src = &bands[c];
            for y in 0..th {
                let row = &mut plane[y * tw..(y + 1) * tw];
                if y >= wh {
                    row.fill(0.0);
                    continue;
                }
                let s = &src[y * ww..(y + 1) * ww];
                let v = &valid[y * ww..(y + 1) * ww];
                for ((o, &x), &ok) in row[..ww].iter_mut().zip(s).zip(v) {
                    *o = if ok != 0 { x * m + a } else { 0.0 };
                }
                row[ww..].fill(0.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_standardises_masks_and_pads() {
        let n = Normalizer::new(0.5, 1.0, &[1.0], &[2.0]);
        let bands = vec![vec![2.0, 4.0, 6.0, 8.0]];
        let valid = [1, 0, 1, 1];
        let mut out = vec![9.0; 9];
        n.prepare(&bands, &valid, (2, 2), (3, 3), &mut out);
        // (x*0.5 + 1 - 1) / 2
        assert_eq!(out, vec![0.5, 0.0, 0.0, 1.5, 2.0, 0.0, 0.0, 0.0, 0.0]);
    }
}
