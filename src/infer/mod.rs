//! Stage 3 of the flow (read -> prepare -> **infer** -> stitch -> write): one ONNX
//! Runtime session runs batches of prepared tiles and turns whatever the model outputs
//! (logits, probabilities, a sigmoid, labels) into per-class probabilities.

pub mod batch;
pub mod model;
pub mod runtime;
mod tta;

use std::path::Path;

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::TensorRef;

use crate::error::{Error, Result};
pub use batch::Batcher;
pub use model::{ChangeLayout, InputLayout, ModelInfo, OutputKind};

/// Where the model runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Device {
    #[default]
    Cpu,
    Cuda,
}

/// Class probabilities of a batch, `[n, classes, h, w]`, and where the output's pixels
/// sit inside the model input (an output smaller than the input is centred).
#[derive(Debug, Clone)]
pub struct BatchProbs {
    pub n: usize,
    pub classes: usize,
    pub h: usize,
    pub w: usize,
    pub off_y: usize,
    pub off_x: usize,
    pub data: Vec<f32>,
    /// Label outputs: a label outside the classes leaves a pixel with all-zero
    /// probabilities (no prediction).
    pub sparse: bool,
}

impl BatchProbs {
    /// The `[classes, h, w]` probabilities of item `i`.
    pub fn item(&self, i: usize) -> &[f32] {
        let len = self.classes * self.h * self.w;
        &self.data[i * len..(i + 1) * len]
    }
}

/// A loaded model, ready to run batches.
pub struct Engine {
    session: Session,
    pub info: ModelInfo,
    /// How the output is read; decided from the sidecar or, once, from the first batch.
    kind: Option<OutputKind>,
    /// The kind was guessed from the first batch (no `output_kind` in the sidecar).
    kind_guessed: bool,
    /// Notes for the user (e.g. CUDA fallback), printed by the caller.
    pub notes: Vec<String>,
}

/// Opens a model file as an ONNX Runtime session.
pub fn load(path: &Path, ort_lib: Option<&Path>, threads: usize, device: Device) -> Result<Engine> {
    let (session, notes) = open_session(path, ort_lib, threads, device)?;
    let info = ModelInfo::from_session(path, &session)?;
    Ok(Engine::new(session, info, notes))
}

/// Opens a change model, which takes two dates (see [`ChangeLayout`]).
pub fn load_change(
    path: &Path,
    ort_lib: Option<&Path>,
    threads: usize,
    device: Device,
) -> Result<Engine> {
    let (session, notes) = open_session(path, ort_lib, threads, device)?;
    let info = ModelInfo::from_change_session(path, &session)?;
    Ok(Engine::new(session, info, notes))
}

fn open_session(
    path: &Path,
    ort_lib: Option<&Path>,
    threads: usize,
    device: Device,
) -> Result<(Session, Vec<String>)> {
    if !path.exists() {
        return Err(Error::model(
            path,
            "no such model file; check the path given to -m",
        ));
    }
    let env = runtime::environment(ort_lib)?;
    let mut notes = Vec::new();
    let builder = Session::builder(env)
        .and_then(|b| {
            b.with_optimization_level(GraphOptimizationLevel::All)
                .map_err(Into::into)
        })
        .and_then(|b| b.with_intra_threads(threads.max(1)).map_err(Into::into))
        .and_then(|b| b.with_inter_threads(1).map_err(Into::into))
        .and_then(|b| b.with_intra_op_spinning(false).map_err(Into::into))
        .map_err(|e| Error::Runtime(format!("cannot configure ONNX Runtime: {e}")))?;
    let mut builder = builder;
    if device == Device::Cuda {
        builder = with_cuda(builder, &mut notes)?;
    }
    let session = builder.commit_from_file(path).map_err(|e| {
        let msg = e.to_string();
        let first = msg.lines().next().unwrap_or("").trim();
        Error::model(
            path,
            format!(
                "is not an ONNX model ONNX Runtime can load ({first}); pass an .onnx model file"
            ),
        )
    })?;
    Ok((session, notes))
}

impl Engine {
    fn new(session: Session, info: ModelInfo, notes: Vec<String>) -> Engine {
        Engine {
            kind: info.output_kind,
            kind_guessed: false,
            session,
            info,
            notes,
        }
    }
}

#[cfg(feature = "cuda")]
fn with_cuda(
    mut builder: ort::session::builder::SessionBuilder,
    notes: &mut Vec<String>,
) -> Result<ort::session::builder::SessionBuilder> {
    use ort::ep::ExecutionProvider;
    let cuda = ort::ep::CUDA::default();
    match ort::ep::CUDA::is_available() {
        Ok(true) => match cuda.register(&mut builder) {
            Ok(()) => notes.push("running on the CUDA execution provider".into()),
            Err(e) => notes.push(format!("CUDA could not be enabled ({e}); running on the CPU")),
        },
        _ => notes.push(format!(
            "the loaded ONNX Runtime ({}) has no CUDA execution provider; running on the CPU (use the onnxruntime-gpu build)",
            runtime::loaded_from().map(|p| p.display().to_string()).unwrap_or_default()
        )),
    }
    Ok(builder)
}

#[cfg(not(feature = "cuda"))]
fn with_cuda(
    builder: ort::session::builder::SessionBuilder,
    notes: &mut Vec<String>,
) -> Result<ort::session::builder::SessionBuilder> {
    notes.push(
        "this terratile was built without CUDA support (cargo feature `cuda`); running on the CPU"
            .into(),
    );
    Ok(builder)
}

impl Engine {
    /// Runs `n` prepared tiles (`input` is `[n, C, h, w]`, already scaled and
    /// standardised; for a change model C holds BEFORE's channels, then AFTER's) and
    /// returns their class probabilities.
    pub fn run(&mut self, input: &[f32], n: usize, h: usize, w: usize) -> Result<BatchProbs> {
        let c = self.info.input_channels();
        debug_assert_eq!(input.len(), n * c * h * w);
        let path = self.info.path.clone();
        let bad_tensor =
            |e: ort::Error| Error::model(&path, format!("cannot build the input tensor: {e}"));
        // two inputs: each date's channels of every tile, copied apart
        let per_date = c / 2 * h * w;
        let (mut first, mut second) = (Vec::new(), Vec::new());
        if let InputLayout::TwoInputs { .. } = self.info.layout {
            first.reserve(n * per_date);
            second.reserve(n * per_date);
            for item in input.chunks_exact(2 * per_date) {
                first.extend_from_slice(&item[..per_date]);
                second.extend_from_slice(&item[per_date..]);
            }
        }
        let inputs = match &self.info.layout {
            InputLayout::Image | InputLayout::Stacked => ort::inputs![
                self.info.input_name.as_str() => TensorRef::from_array_view(([n, c, h, w], input)).map_err(bad_tensor)?
            ],
            InputLayout::TemporalAxis => ort::inputs![
                self.info.input_name.as_str() => TensorRef::from_array_view(([n, 2, c / 2, h, w], input)).map_err(bad_tensor)?
            ],
            InputLayout::TwoInputs { before, after } => ort::inputs![
                before.as_str() => TensorRef::from_array_view(([n, c / 2, h, w], first.as_slice())).map_err(bad_tensor)?,
                after.as_str() => TensorRef::from_array_view(([n, c / 2, h, w], second.as_slice())).map_err(bad_tensor)?
            ],
        };
        let outputs = self.session.run(inputs).map_err(|e| {
            Error::model(
                &path,
                format!(
                    "inference failed on a {n}x{c}x{h}x{w} batch: {}",
                    one_line(&e.to_string())
                ),
            )
        })?;
        let out = &outputs[self.info.output_name.as_str()];
        // Labels may come as integers; everything else as float32.
        let (shape, values): (Vec<i64>, Vec<f32>) =
            if let Ok((s, v)) = out.try_extract_tensor::<f32>() {
                (s.to_vec(), v.to_vec())
            } else if let Ok((s, v)) = out.try_extract_tensor::<i64>() {
                (s.to_vec(), v.iter().map(|&x| x as f32).collect())
            } else if let Ok((s, v)) = out.try_extract_tensor::<i32>() {
                (s.to_vec(), v.iter().map(|&x| x as f32).collect())
            } else if let Ok((s, v)) = out.try_extract_tensor::<u8>() {
                (s.to_vec(), v.iter().map(|&x| x as f32).collect())
            } else {
                return Err(Error::model(
                    &path,
                    "the output is not a float32 or integer tensor",
                ));
            };
        drop(outputs);
        self.probabilities_from(shape, values, n, h, w)
    }

    fn probabilities_from(
        &mut self,
        shape: Vec<i64>,
        values: Vec<f32>,
        n: usize,
        h: usize,
        w: usize,
    ) -> Result<BatchProbs> {
        let path = &self.info.path;
        let k = self.info.classes();
        let (oc, oh, ow) = match shape.as_slice() {
            [on, oh, ow] if *on as usize == n => (0usize, *oh as usize, *ow as usize),
            [on, oc, oh, ow] if *on as usize == n => (*oc as usize, *oh as usize, *ow as usize),
            _ => {
                return Err(Error::model(
                    path,
                    format!("output shape {shape:?} does not match a batch of {n} tiles"),
                ));
            }
        };
        if oh == 0 || ow == 0 || (shape.len() == 4 && oc == 0) {
            return Err(Error::model(
                path,
                format!("output shape {shape:?} has an empty dimension; the model must give a score per class and pixel (or a label per pixel)"),
            ));
        }
        if oh > h || ow > w {
            return Err(Error::model(path, format!("output {oh}x{ow} is larger than the input {h}x{w}; only equal or smaller (centred) outputs are supported")));
        }
        let kind = match self.kind {
            Some(kind) => kind,
            None => {
                let kind = if oc <= 1 && shape.len() == 3 {
                    OutputKind::Labels
                } else if oc == 1 {
                    if values.iter().all(|v| (0.0..=1.0).contains(v)) {
                        OutputKind::Sigmoid
                    } else {
                        OutputKind::Logits
                    }
                } else if looks_like_probabilities(&values, oc, oh * ow) {
                    OutputKind::Probabilities
                } else {
                    OutputKind::Logits
                };
                self.kind = Some(kind);
                self.kind_guessed = true;
                kind
            }
        };
        // A guess of probabilities that a later batch contradicts would silently give
        // wrong classes: stop and ask for the sidecar's output_kind instead.
        if self.kind_guessed
            && matches!(kind, OutputKind::Sigmoid | OutputKind::Probabilities)
            && values.iter().any(|v| !(0.0..=1.0).contains(v))
        {
            return Err(Error::model(
                path,
                "the output looked like probabilities in the first batch but has values outside [0, 1] later; set \"output_kind\" (\"logits\" or \"probabilities\") in the sidecar MODEL.onnx.json",
            ));
        }
        let px = oh * ow;
        let data = match (kind, oc) {
            // scores with one channel per class: used in place, no copy
            (OutputKind::Logits | OutputKind::Probabilities, c) if c == k && c > 1 => {
                let mut data = values;
                if kind == OutputKind::Logits {
                    for item in data.chunks_exact_mut(k * px) {
                        softmax_channels(item, k, px);
                    }
                }
                data
            }
            (OutputKind::Labels, _) => {
                let mut data = vec![0f32; n * k * px];
                for (dst, src) in data.chunks_exact_mut(k * px).zip(values.chunks_exact(px)) {
                    for (p, &label) in src.iter().enumerate() {
                        let l = label.round();
                        if l >= 0.0 && (l as usize) < k {
                            dst[l as usize * px + p] = 1.0;
                        }
                    }
                }
                data
            }
            (_, 1) => {
                let logits = kind == OutputKind::Logits;
                let mut data = vec![0f32; n * k * px];
                for (dst, src) in data.chunks_exact_mut(k * px).zip(values.chunks_exact(px)) {
                    for (p, &v) in src.iter().enumerate() {
                        let p1 = if logits {
                            1.0 / (1.0 + (-v).exp())
                        } else {
                            v.clamp(0.0, 1.0)
                        };
                        dst[p] = 1.0 - p1;
                        dst[px + p] = p1;
                    }
                }
                data
            }
            (_, c) => {
                return Err(Error::model(
                    path,
                    format!("the output has {c} channels for {k} classes"),
                ));
            }
        };
        Ok(BatchProbs {
            n,
            classes: k,
            h: oh,
            w: ow,
            off_y: (h - oh) / 2,
            off_x: (w - ow) / 2,
            data,
            sparse: kind == OutputKind::Labels,
        })
    }
}

/// In-place softmax over `k` class planes of `px` pixels each.
pub fn softmax_channels(d: &mut [f32], k: usize, px: usize) {
    let mut max = vec![f32::NEG_INFINITY; px];
    for c in 0..k {
        for (m, &v) in max.iter_mut().zip(&d[c * px..(c + 1) * px]) {
            *m = m.max(v);
        }
    }
    let mut sum = vec![0f32; px];
    for c in 0..k {
        for ((v, s), m) in d[c * px..(c + 1) * px]
            .iter_mut()
            .zip(sum.iter_mut())
            .zip(&max)
        {
            *v = (*v - m).exp();
            *s += *v;
        }
    }
    for c in 0..k {
        for (v, s) in d[c * px..(c + 1) * px].iter_mut().zip(&sum) {
            *v /= s;
        }
    }
}

fn looks_like_probabilities(values: &[f32], c: usize, px: usize) -> bool {
    if values.iter().any(|v| !(0.0..=1.0).contains(v)) {
        return false;
    }
    let items = values.len() / (c * px);
    (0..items).all(|i| {
        let item = &values[i * c * px..(i + 1) * c * px];
        (0..px)
            .step_by(97)
            .all(|p| ((0..c).map(|k| item[k * px + p]).sum::<f32>() - 1.0).abs() < 1e-3)
    })
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one_and_keeps_order() {
        let mut d = vec![1.0, 5.0, 2.0, 0.0, 3.0, 2.0];
        softmax_channels(&mut d, 2, 3);
        for p in 0..3 {
            assert!((d[p] + d[3 + p] - 1.0).abs() < 1e-6);
        }
        assert!(d[0] > d[3] && d[1] > d[4] && d[2] == d[5]);
    }
}
