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

/// Input values more than this many of the model's standard deviations from its mean
/// (the median of a band, or its whole 2-98% range) are far from what it was trained on.
pub const FAR_STD: f32 = 3.0;

/// Whether the model declares a standardisation (anything but mean 0, std 1), so that
/// there is something to compare the input's values with.
pub fn declares_standardisation(mean: &[f32], std: &[f32]) -> bool {
    mean.iter().any(|m| *m != 0.0) || std.iter().any(|s| *s != 1.0)
}

/// Says which channels of `sample` (raw values, one vector per channel), scaled and
/// standardised as the model will see them, lie far from the model's mean: a median, or
/// the whole 2-98% range, beyond [`FAR_STD`] standard deviations. None when all fit.
pub fn far_from_training(
    sample: &[Vec<f32>],
    scale: f32,
    offset: f32,
    mean: &[f32],
    std: &[f32],
    names: &[String],
) -> Option<String> {
    let mut far = Vec::new();
    for (c, values) in sample.iter().enumerate() {
        if values.is_empty() {
            continue;
        }
        let mut z: Vec<f32> = values
            .iter()
            .map(|x| (x * scale + offset - mean[c]) / std[c])
            .filter(|v| v.is_finite())
            .collect();
        if z.is_empty() {
            continue;
        }
        z.sort_by(f32::total_cmp);
        let q = |p: f64| z[((z.len() - 1) as f64 * p).round() as usize];
        let (p2, p50, p98) = (q(0.02), q(0.5), q(0.98));
        if p50.abs() > FAR_STD || p98 < -FAR_STD || p2 > FAR_STD {
            let name = names
                .get(c)
                .map_or_else(|| format!("channel {c}"), |n| n.clone());
            far.push(format!(
                "{name} median {p50:+.1} std (2-98% {p2:+.1}..{p98:+.1})"
            ));
        }
    }
    (!far.is_empty()).then(|| {
        format!(
            "after scaling, values lie more than {FAR_STD} std from the model's mean: {}",
            far.join(", ")
        )
    })
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

    #[test]
    fn values_far_from_the_training_distribution_are_named() {
        let dn: Vec<f32> = (0..100).map(|i| 15000.0 + i as f32 * 10.0).collect();
        let names = vec!["blue".to_string()];
        let far = far_from_training(
            std::slice::from_ref(&dn),
            1e-4,
            0.0,
            &[0.27],
            &[0.24],
            &names,
        );
        assert!(far.unwrap().contains("blue median +"), "raw DN");
        assert!(far_from_training(&[dn], 2e-5, -0.1, &[0.27], &[0.24], &names).is_none());
        assert!(!declares_standardisation(&[0.0], &[1.0]));
    }
}
