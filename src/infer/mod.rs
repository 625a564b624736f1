//! Stage 3 of the flow (read -> prepare -> **infer** -> stitch -> write): one ONNX
//! Runtime session runs batches of prepared tiles and turns whatever the model outputs
//! (logits, probabilities, a sigmoid, labels, mask classification; at the input's size,
//! at a coarser stride or centred; float32 or float16) into per-class probabilities.

pub mod batch;
pub mod decode;
pub mod model;
pub mod runtime;
mod tta;

use std::path::Path;
use std::time::{Duration, Instant};

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::{DynValue, TensorElementType, TensorRef};

use crate::error::{Error, Result};
pub use batch::Batcher;
pub use decode::{Placement, Reading};
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
    /// 1: values over the tile (`h x w` of the input, or centred). s > 1: the model's
    /// own scores at 1/s, not resized ([`Engine::coarse`]), for a
    /// [`crate::stitch::CoarseStitcher`].
    pub stride: usize,
    /// At a stride: the scores are logits (else probabilities).
    pub logits: bool,
}

/// Buffers of decoded batches, recycled: a batch's probabilities are tens to hundreds
/// of MB for models with many classes, and a fresh allocation of that size is mapped
/// anew by the system, a page fault per 4 KiB, which costs more than the decoding.
/// Dropped batches (the stitcher drops each once its tiles are blended), model outputs
/// and prepared tiles come back here; at most [`POOL_MAX`] wait, and each request takes
/// the smallest that fits.
static POOL: std::sync::Mutex<Vec<Vec<f32>>> = std::sync::Mutex::new(Vec::new());
const POOL_MAX: usize = 12;
/// Buffers smaller than this are not worth keeping (a 7-class SegFormer's scores of a
/// 736 px tile, at 1/4, are 0.9 MiB).
const POOL_MIN_BYTES: usize = 1 << 18;

/// A buffer of `len` values for decoded probabilities, recycled when one is free. Its
/// values are stale: the caller writes every one (or fills it).
pub(crate) fn buffer(len: usize) -> Vec<f32> {
    if len * 4 >= POOL_MIN_BYTES {
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        let fit = (0..pool.len())
            .filter(|&i| pool[i].capacity() >= len)
            .min_by_key(|&i| pool[i].capacity());
        if let Some(i) = fit {
            let mut v = pool.swap_remove(i);
            drop(pool);
            if v.len() >= len {
                v.truncate(len);
            } else {
                v.resize(len, 0.0);
            }
            return v;
        }
    }
    crate::raster::buffer::touched_zeros(len)
}

/// Gives a buffer back for [`buffer`] to hand out again (kept when large enough and
/// the pool is not full).
pub(crate) fn recycle(v: Vec<f32>) {
    if v.capacity() * 4 >= POOL_MIN_BYTES {
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < POOL_MAX {
            pool.push(v);
        }
    }
}

impl Drop for BatchProbs {
    fn drop(&mut self) {
        recycle(std::mem::take(&mut self.data));
    }
}

impl BatchProbs {
    /// The `[n, classes, h, w]` probabilities, taken out (the buffer is not recycled).
    pub fn into_data(mut self) -> Vec<f32> {
        std::mem::take(&mut self.data)
    }

    /// The `[classes, h, w]` probabilities of item `i`.
    pub fn item(&self, i: usize) -> &[f32] {
        let len = self.classes * self.h * self.w;
        &self.data[i * len..(i + 1) * len]
    }
}

/// A loaded model, ready to run batches.
pub struct Engine {
    /// `None` once [`Engine::release`]d.
    session: Option<Session>,
    /// The released session being dropped (waited for when the engine is dropped).
    releasing: Option<Releasing>,
    pub info: ModelInfo,
    /// How the output is read; decided from the sidecar or, once, from the first batch.
    kind: Option<OutputKind>,
    /// The kind was guessed from the first batch (no `output_kind` in the sidecar).
    kind_guessed: bool,
    /// Notes for the user (e.g. CUDA fallback), printed by the caller.
    pub notes: Vec<String>,
    /// How the last batch's output sat in its input, and why.
    pub reading: Option<Reading>,
    /// Time spent in ONNX Runtime and in decoding its outputs, over every batch.
    pub timing: Timing,
    /// Scores per class at a coarser stride are passed on as they come (logits or
    /// probabilities at 1/s, [`BatchProbs::stride`]) instead of resized to the tile:
    /// the run stitches them at the model's resolution.
    pub coarse: bool,
}

/// Where a model's time goes: ONNX Runtime's runs (with copying the outputs out) and
/// the decoding of those outputs into per-class probabilities (resizing, softmax, mask
/// classification).
#[derive(Debug, Clone, Copy, Default)]
pub struct Timing {
    pub model: Duration,
    pub decode: Duration,
    /// Tiles (batch items) decoded.
    pub items: usize,
}

/// A batch's raw model outputs: the output read (shape, values as f32) and, for mask
/// classification, the class logits.
pub struct RawOutputs {
    pub main: (Vec<i64>, Vec<f32>),
    pub class_logits: Option<(Vec<i64>, Vec<f32>)>,
}

/// Opens a model file as an ONNX Runtime session.
pub fn load(path: &Path, ort_lib: Option<&Path>, threads: usize, device: Device) -> Result<Engine> {
    load_output(path, ort_lib, threads, device, None)
}

/// Like [`load`], reading the output named `output` (`--output-name`) when given.
pub fn load_output(
    path: &Path,
    ort_lib: Option<&Path>,
    threads: usize,
    device: Device,
    output: Option<&str>,
) -> Result<Engine> {
    let (session, notes) = open_session(path, ort_lib, threads, device)?;
    let info = ModelInfo::from_session(path, &session, output)?;
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

/// A session being dropped on its thread: joined on drop, so that the process never
/// exits while ONNX Runtime is freeing it.
struct Releasing(Option<std::thread::JoinHandle<()>>);

impl Drop for Releasing {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            let _ = h.join();
        }
    }
}

impl Engine {
    /// Frees the model (ONNX Runtime's session, its memory and threads) on a thread of
    /// its own, beside what the caller does next: for when no batch is left to run
    /// (dropping SegFormer-B0's session takes about 0.02 s). Dropping the engine waits
    /// for it. Where no thread can be started, the session is dropped here.
    pub fn release(&mut self) {
        if let Some(session) = self.session.take() {
            let dropping = std::thread::Builder::new()
                .name("model release".into())
                .spawn(move || drop(session));
            self.releasing = dropping.ok().map(|h| Releasing(Some(h)));
        }
    }

    fn new(session: Session, info: ModelInfo, notes: Vec<String>) -> Engine {
        Engine {
            kind: info.output_kind,
            kind_guessed: false,
            session: Some(session),
            releasing: None,
            info,
            notes,
            reading: None,
            timing: Timing::default(),
            coarse: false,
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
    /// standardised) and returns their class probabilities; the time of each half is
    /// added to [`Engine::timing`].
    pub fn run(&mut self, input: &[f32], n: usize, h: usize, w: usize) -> Result<BatchProbs> {
        let t0 = Instant::now();
        let raw = self.run_model(input, n, h, w)?;
        let t1 = Instant::now();
        let probs = self.decode(raw, n, h, w)?;
        self.timing.model += t1 - t0;
        self.timing.decode += t1.elapsed();
        self.timing.items += n;
        Ok(probs)
    }

    /// The model alone: ONNX Runtime on `n` prepared tiles, the outputs copied out as
    /// f32, nothing decoded (`benches/model_alone.rs` times this against `segment`).
    pub fn run_model(&mut self, input: &[f32], n: usize, h: usize, w: usize) -> Result<RawOutputs> {
        let c = self.info.input_channels();
        debug_assert_eq!(input.len(), n * c * h * w);
        let path = self.info.path.clone();
        let failed = |e: ort::Error| {
            Error::model(
                &path,
                format!(
                    "inference failed on a {n}x{c}x{h}x{w} batch: {}",
                    one_line(&e.to_string())
                ),
            )
        };
        let bad_input =
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
        // float16 models: converted here, at the boundary, and nowhere else
        let half: Vec<half::f16>;
        let Some(session) = self.session.as_mut() else {
            return Err(Error::Internal(
                "the model was run after its release".into(),
            ));
        };
        let outputs = match &self.info.layout {
            InputLayout::Image if self.info.input_type == TensorElementType::Float16 => {
                half = input.iter().map(|&v| half::f16::from_f32(v)).collect();
                let tensor = TensorRef::from_array_view(([n, c, h, w], half.as_slice()))
                    .map_err(bad_input)?;
                session
                    .run(ort::inputs![self.info.input_name.as_str() => tensor])
                    .map_err(failed)?
            }
            InputLayout::Image | InputLayout::Stacked => {
                let tensor = TensorRef::from_array_view(([n, c, h, w], input)).map_err(bad_input)?;
                session
                    .run(ort::inputs![self.info.input_name.as_str() => tensor])
                    .map_err(failed)?
            }
            InputLayout::TemporalAxis => {
                let tensor = TensorRef::from_array_view(([n, 2, c / 2, h, w], input))
                    .map_err(bad_input)?;
                session
                    .run(ort::inputs![self.info.input_name.as_str() => tensor])
                    .map_err(failed)?
            }
            InputLayout::TwoInputs { before, after } => session
                .run(ort::inputs![
                    before.as_str() => TensorRef::from_array_view(([n, c / 2, h, w], first.as_slice())).map_err(bad_input)?,
                    after.as_str() => TensorRef::from_array_view(([n, c / 2, h, w], second.as_slice())).map_err(bad_input)?
                ])
                .map_err(failed)?,
        };
        let read = |name: &str| -> Result<(Vec<i64>, Vec<f32>)> {
            let out = outputs
                .get(name)
                .ok_or_else(|| Error::model(&path, format!("the model gave no output '{name}'")))?;
            extract(out).ok_or_else(|| {
                Error::model(
                    &path,
                    format!("output '{name}' is not a float32, float16 or integer tensor"),
                )
            })
        };
        let main = read(self.info.output_name.as_str())?;
        let class_logits = match &self.info.class_output {
            Some(name) => Some(read(name.as_str())?),
            None => None,
        };
        Ok(RawOutputs { main, class_logits })
    }

    /// A batch's raw outputs ([`Engine::run_model`]) as per-class probabilities over
    /// its `n` tiles of `h x w`.
    pub fn decode(&mut self, raw: RawOutputs, n: usize, h: usize, w: usize) -> Result<BatchProbs> {
        let (shape, values) = raw.main;
        match raw.class_logits {
            Some(cls) => self.masks_to_probabilities(cls, (shape, values), n, h, w),
            None => self.probabilities_from(shape, values, n, h, w),
        }
    }

    /// The stride s of a model whose scores per class (logits or probabilities, one
    /// channel per class) come out at 1/s of the input, from the graph's shapes when
    /// they are fixed or the sidecar's `output_stride`, else by running one small tile
    /// of zeros (the size multiple, at least 64 px); None for any other output (the
    /// input's size, centred, labels, a sigmoid, mask classification), for change
    /// models, and when the probe cannot run.
    pub fn probe_score_stride(&mut self) -> Option<usize> {
        let info = self.info.clone();
        let info = &info;
        let k = info.classes();
        let scores = !matches!(
            info.output_kind,
            Some(OutputKind::Labels | OutputKind::Sigmoid | OutputKind::MaskClassification)
        );
        if info.class_output.is_some() || info.layout != InputLayout::Image || k < 2 || !scores {
            return None;
        }
        let dims = |s: &[i64]| match s {
            [_, _, h, w] if *h > 0 && *w > 0 => Some((*h as usize, *w as usize)),
            _ => None,
        };
        let read = |hw: (usize, usize), shape: &[i64]| -> Option<usize> {
            let (oc, oh, ow) = match shape {
                [_, c, h, w] => (*c as usize, *h as usize, *w as usize),
                _ => return None,
            };
            let r = decode::placement(hw, (oh, ow), info.output_stride, info.output_offset_px);
            match r.ok()?.placement {
                Placement::Stride(s) if oc == k => Some(s),
                _ => None,
            }
        };
        if let (Some(hw), Some(_)) = (dims(&info.input_shape), dims(&info.output_shape)) {
            return read(hw, &info.output_shape);
        }
        // the sidecar's output_stride and a fixed channel per class: no run needed (a
        // run at another size than the tiles' slows ONNX Runtime's later runs: its
        // memory plan is made for the first shape; 3.36 -> 3.62-3.69 s for 9 tiles of
        // SegFormer-B0)
        if let (Some(s), [_, c, _, _]) = (info.output_stride, info.output_shape.as_slice()) {
            if s > 1 && *c == k as i64 {
                return Some(s);
            }
        }
        if info.fixed_hw.is_some() {
            return None; // a full tile's run just to learn the shape: not worth it
        }
        let m = info
            .size_multiple
            .or(info.output_stride)
            .unwrap_or(32)
            .max(1);
        let p = m * 64usize.div_ceil(m);
        let n = info.fixed_batch.unwrap_or(1);
        let zeros = vec![0f32; n * info.channels * p * p];
        let raw = self.run_model(&zeros, n, p, p).ok()?;
        read((p, p), &raw.main.0)
    }

    /// Where an `oh x ow` output sits in the `h x w` input, remembered for `inspect`.
    fn place(&mut self, hw: (usize, usize), ohw: (usize, usize)) -> Result<Placement> {
        let r = decode::placement(hw, ohw, self.info.output_stride, self.info.output_offset_px)
            .map_err(|e| Error::model(&self.info.path, e))?;
        let p = r.placement;
        self.reading = Some(r);
        Ok(p)
    }

    /// Mask classification: class logits `[n, q, k+1]` and mask logits `[n, q, mh, mw]`
    /// to per-class scores over the tile (see [`decode::mask_classification`]).
    fn masks_to_probabilities(
        &mut self,
        (cshape, cvals): (Vec<i64>, Vec<f32>),
        (mshape, mvals): (Vec<i64>, Vec<f32>),
        n: usize,
        h: usize,
        w: usize,
    ) -> Result<BatchProbs> {
        let k = self.info.classes();
        let (q, mh, mw) = match (cshape.as_slice(), mshape.as_slice()) {
            ([cn, cq, ck], [mn, mq, mh, mw])
                if *cn as usize == n
                    && *mn as usize == n
                    && cq == mq
                    && *ck as usize == k + 1
                    && *mh > 0
                    && *mw > 0 =>
            {
                (*cq as usize, *mh as usize, *mw as usize)
            }
            _ => {
                return Err(Error::model(
                    &self.info.path,
                    format!(
                        "mask classification needs class logits [{n}, Q, {}] and mask logits [{n}, Q, h, w], but the model gave {cshape:?} and {mshape:?}; fix class_names in the sidecar or the export",
                        k + 1
                    ),
                ))
            }
        };
        let (th, tw, off_y, off_x) = match self.place((h, w), (mh, mw))? {
            Placement::Same | Placement::Stride(_) => (h, w, 0, 0),
            Placement::Centred { off_y, off_x } => (mh, mw, off_y, off_x),
        };
        let mut data = buffer(n * k * th * tw);
        for ((out, cls), masks) in data
            .chunks_exact_mut(k * th * tw)
            .zip(cvals.chunks_exact(q * (k + 1)))
            .zip(mvals.chunks_exact(q * mh * mw))
        {
            decode::mask_classification(cls, masks, (q, k), (mh, mw), (th, tw), out);
        }
        Ok(BatchProbs {
            n,
            classes: k,
            h: th,
            w: tw,
            off_y,
            off_x,
            data,
            sparse: false,
            stride: 1,
            logits: false,
        })
    }

    fn probabilities_from(
        &mut self,
        shape: Vec<i64>,
        values: Vec<f32>,
        n: usize,
        h: usize,
        w: usize,
    ) -> Result<BatchProbs> {
        let path = self.info.path.clone();
        let path = path.as_path();
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
        let placement = self.place((h, w), (oh, ow))?;
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
        if kind == OutputKind::MaskClassification {
            return Err(Error::model(
                path,
                format!("the sidecar says mask_classification but the model has no class logits output beside '{}'", self.info.output_name),
            ));
        }
        // Scores per class at a coarser stride, for a run that stitches at the model's
        // resolution: as they come
        if let Placement::Stride(s) = placement {
            let scores = matches!(kind, OutputKind::Logits | OutputKind::Probabilities);
            if self.coarse && scores && oc == k && k > 1 {
                return Ok(BatchProbs {
                    n,
                    classes: k,
                    h: oh,
                    w: ow,
                    off_y: 0,
                    off_x: 0,
                    data: values,
                    sparse: false,
                    stride: s,
                    logits: kind == OutputKind::Logits,
                });
            }
        }
        // A coarser stride: scores are resized to the tile first (logits before the
        // softmax, as Hugging Face's post-processing does); labels after one-hot.
        let stride = matches!(placement, Placement::Stride(_));
        // logits per class at a stride of 2..8: resized and softmaxed in one pass
        let fusable = matches!(placement, Placement::Stride(s) if s <= decode::FUSED_MAX_STRIDE);
        if fusable && kind == OutputKind::Logits && oc == k && k > 1 {
            let mut data = buffer(n * k * h * w);
            let fused = data
                .chunks_exact_mut(k * h * w)
                .zip(values.chunks_exact(k * oh * ow))
                .all(|(dst, src)| decode::resize_softmax(src, k, (oh, ow), (h, w), dst));
            if fused {
                return Ok(BatchProbs {
                    n,
                    classes: k,
                    h,
                    w,
                    off_y: 0,
                    off_x: 0,
                    data,
                    sparse: false,
                    stride: 1,
                    logits: false,
                });
            }
        }
        let (values, oh, ow) = if stride && kind != OutputKind::Labels {
            let planes = n * oc.max(1);
            let mut big = buffer(planes * h * w);
            decode::resize_bilinear(&values, planes, (oh, ow), (h, w), &mut big);
            (big, h, w)
        } else {
            (values, oh, ow)
        };
        let px = oh * ow;
        let mut data = match (kind, oc) {
            // scores with one channel per class: used in place, no copy
            (OutputKind::Logits | OutputKind::Probabilities, c) if c == k && c > 1 => {
                let mut data = values;
                if kind == OutputKind::Logits {
                    decode::softmax_batch(&mut data, k, px);
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
                        } else if label.is_nan() {
                            for c in 0..k {
                                dst[c * px + p] = f32::NAN;
                            }
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
                        } else if v.is_nan() {
                            v
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
        let (mut oh, mut ow) = (oh, ow);
        if stride && kind == OutputKind::Labels {
            let mut big = vec![0f32; n * k * h * w];
            decode::resize_bilinear(&data, n * k, (oh, ow), (h, w), &mut big);
            (data, oh, ow) = (big, h, w);
        }
        let (off_y, off_x) = match placement {
            Placement::Centred { off_y, off_x } => (off_y, off_x),
            _ => (0, 0),
        };
        Ok(BatchProbs {
            n,
            classes: k,
            h: oh,
            w: ow,
            off_y,
            off_x,
            data,
            sparse: kind == OutputKind::Labels,
            stride: 1,
            logits: false,
        })
    }
}

/// An output's shape and values as f32 (float16 and integer outputs converted); float32
/// values are copied into a recycled buffer (a fresh one of tens of MB costs a page
/// fault per 4 KiB).
fn extract(out: &DynValue) -> Option<(Vec<i64>, Vec<f32>)> {
    if let Ok((s, v)) = out.try_extract_tensor::<f32>() {
        let mut values = buffer(v.len());
        values.copy_from_slice(v);
        return Some((s.to_vec(), values));
    }
    if let Ok((s, v)) = out.try_extract_tensor::<half::f16>() {
        return Some((s.to_vec(), v.iter().map(|x| x.to_f32()).collect()));
    }
    // labels may come as integers
    if let Ok((s, v)) = out.try_extract_tensor::<i64>() {
        return Some((s.to_vec(), v.iter().map(|&x| x as f32).collect()));
    }
    if let Ok((s, v)) = out.try_extract_tensor::<i32>() {
        return Some((s.to_vec(), v.iter().map(|&x| x as f32).collect()));
    }
    if let Ok((s, v)) = out.try_extract_tensor::<u8>() {
        return Some((s.to_vec(), v.iter().map(|&x| x as f32).collect()));
    }
    None
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
    fn probabilities_are_recognised() {
        assert!(looks_like_probabilities(&[0.2, 0.5, 0.8, 0.5], 2, 2));
        assert!(!looks_like_probabilities(&[0.2, 0.5, 0.9, 0.5], 2, 2));
    }
}
