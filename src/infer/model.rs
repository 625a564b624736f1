//! What a model needs and promises: input shape, bands, scaling, classes, colours,
//! output kind. Read from the ONNX graph, its Deepness-style `metadata_props`
//! (JSON-encoded strings), and an optional sidecar `MODEL.onnx.json` whose JSON Schema
//! is `schemas/model-sidecar.schema.json`. Command-line flags override both.

use std::path::{Path, PathBuf};

use ort::session::Session;
use ort::value::{TensorElementType, ValueType};
use serde::Deserialize;

use crate::error::{Error, Result};

/// How the model's output is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputKind {
    /// `[N,C,H,W]` unnormalised scores: softmax gives class probabilities.
    Logits,
    /// `[N,C,H,W]` class probabilities.
    Probabilities,
    /// `[N,1,H,W]` probability of class 1 (class 0 is its complement).
    Sigmoid,
    /// `[N,H,W]` (or `[N,1,H,W]`) class labels.
    Labels,
    /// Two outputs (MaskFormer, Mask2Former, OneFormer): `class_queries_logits
    /// [N,Q,K+1]` (the last class is "no object") and `masks_queries_logits [N,Q,h,w]`.
    MaskClassification,
}

impl OutputKind {
    /// The name the sidecar uses.
    pub fn name(self) -> &'static str {
        match self {
            OutputKind::Logits => "logits",
            OutputKind::Probabilities => "probabilities",
            OutputKind::Sigmoid => "sigmoid",
            OutputKind::Labels => "labels",
            OutputKind::MaskClassification => "mask_classification",
        }
    }
}

/// The output names of a mask-classification export (Hugging Face `transformers`).
pub const CLASS_QUERIES: &str = "class_queries_logits";
pub const MASK_QUERIES: &str = "masks_queries_logits";

/// One output of the graph, as declared.
#[derive(Debug, Clone)]
pub struct OutputInfo {
    pub name: String,
    /// Element type (None when the output is not a tensor).
    pub ty: Option<TensorElementType>,
    /// Shape (-1 for a dynamic axis).
    pub shape: Vec<i64>,
}

impl OutputInfo {
    /// `name [N, 3, H, W] float32` for messages.
    pub fn describe(&self) -> String {
        let dims: Vec<String> = self
            .shape
            .iter()
            .map(|&d| if d > 0 { d.to_string() } else { "?".into() })
            .collect();
        format!(
            "{} [{}] {}",
            self.name,
            dims.join(", "),
            self.ty.map(type_name).unwrap_or("(not a tensor)")
        )
    }
}

/// `float32`, `float16`, `int64`, ... as ONNX names them.
pub fn type_name(t: TensorElementType) -> &'static str {
    match t {
        TensorElementType::Float32 => "float32",
        TensorElementType::Float16 => "float16",
        TensorElementType::Float64 => "float64",
        TensorElementType::Bfloat16 => "bfloat16",
        TensorElementType::Int8 => "int8",
        TensorElementType::Uint8 => "uint8",
        TensorElementType::Int16 => "int16",
        TensorElementType::Uint16 => "uint16",
        TensorElementType::Int32 => "int32",
        TensorElementType::Uint32 => "uint32",
        TensorElementType::Int64 => "int64",
        TensorElementType::Uint64 => "uint64",
        TensorElementType::Bool => "bool",
        TensorElementType::String => "string",
        _ => "other",
    }
}

/// How a change model takes the two dates, as a sidecar declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeLayout {
    /// Two inputs `[N,C,H,W]`: BEFORE, AFTER.
    TwoInputs,
    /// One input `[N,2C,H,W]`: BEFORE's C bands, then AFTER's.
    Stacked,
    /// One input `[N,2,C,H,W]`: the dates on axis 1.
    TemporalAxis,
}

impl ChangeLayout {
    pub fn name(self) -> &'static str {
        match self {
            ChangeLayout::TwoInputs => "two_inputs",
            ChangeLayout::Stacked => "stacked",
            ChangeLayout::TemporalAxis => "temporal_axis",
        }
    }
}

/// What the model's inputs are: one image, or (change models) two dates in one of the
/// [`ChangeLayout`]s.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum InputLayout {
    #[default]
    Image,
    /// Two inputs, named, in date order.
    TwoInputs {
        before: String,
        after: String,
    },
    Stacked,
    TemporalAxis,
}

impl InputLayout {
    /// Dates the model sees at once.
    pub fn dates(&self) -> usize {
        match self {
            InputLayout::Image => 1,
            _ => 2,
        }
    }
    /// The change layout, for change models.
    pub fn change_layout(&self) -> Option<ChangeLayout> {
        match self {
            InputLayout::Image => None,
            InputLayout::TwoInputs { .. } => Some(ChangeLayout::TwoInputs),
            InputLayout::Stacked => Some(ChangeLayout::Stacked),
            InputLayout::TemporalAxis => Some(ChangeLayout::TemporalAxis),
        }
    }
}

/// The optional sidecar `MODEL.onnx.json`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sidecar {
    pub bands: Option<Vec<String>>,
    pub band_indices: Option<Vec<usize>>,
    pub input_scale: Option<f32>,
    pub input_offset: Option<f32>,
    pub mean: Option<Vec<f32>>,
    pub std: Option<Vec<f32>>,
    pub class_names: Option<Vec<String>>,
    pub class_colors: Option<Vec<String>>,
    pub output_kind: Option<OutputKind>,
    /// How a change model takes its two dates (`terratile change --change-model`).
    pub change_layout: Option<ChangeLayout>,
    /// The output to read when the model has several (`--output-name` overrides).
    pub output_name: Option<String>,
    /// The output is 1/s of the input (resized bilinearly to the tile).
    pub output_stride: Option<usize>,
    /// The output is the input less this many pixels on every side (valid convolutions).
    pub output_offset_px: Option<usize>,
    /// Tile edges must be a multiple of this (a ViT's patch size, a U-Net's 32).
    pub size_multiple: Option<usize>,
    pub tile_size: Option<usize>,
    pub tile_overlap_px: Option<usize>,
    pub resolution_m: Option<f64>,
    pub receptive_field_px: Option<usize>,
    pub description: Option<String>,
    pub source: Option<String>,
    pub license: Option<String>,
}

/// Everything terratile knows about a model after reading graph, metadata and sidecar.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub path: PathBuf,
    pub input_name: String,
    /// Element type of the input (float32 or float16; converted at the boundary).
    pub input_type: TensorElementType,
    /// The output read (for mask classification: the mask logits).
    pub output_name: String,
    /// Element type of that output.
    pub output_type: Option<TensorElementType>,
    /// Mask classification: the output holding the per-query class logits `[N,Q,K+1]`.
    pub class_output: Option<String>,
    /// Every output of the graph.
    pub outputs: Vec<OutputInfo>,
    /// Sidecar `output_stride` / `output_offset_px` (decide ambiguous output shapes).
    pub output_stride: Option<usize>,
    pub output_offset_px: Option<usize>,
    /// Tile edges must be a multiple of this (sidecar `size_multiple`).
    pub size_multiple: Option<usize>,
    /// Input channels (C of NCHW).
    pub channels: usize,
    /// One image, or two dates (change models).
    pub layout: InputLayout,
    /// Fixed batch size, or None when N is dynamic.
    pub fixed_batch: Option<usize>,
    /// Fixed (H, W), or None when either is dynamic.
    pub fixed_hw: Option<(usize, usize)>,
    /// Output channels when known (None for `[N,H,W]` labels or a dynamic C).
    pub output_channels: Option<usize>,
    pub output_kind: Option<OutputKind>,
    pub class_names: Vec<String>,
    pub class_colors: Vec<[u8; 3]>,
    pub band_names: Vec<String>,
    pub band_indices: Option<Vec<usize>>,
    pub input_scale: f32,
    pub input_offset: f32,
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
    pub tile_px: Option<usize>,
    pub overlap_px: Option<usize>,
    pub resolution_m: Option<f64>,
    /// Input and output shapes as the graph declares them (-1 for a dynamic axis).
    pub input_shape: Vec<i64>,
    pub output_shape: Vec<i64>,
    pub receptive_field_px: Option<usize>,
    pub description: Option<String>,
    pub source: Option<String>,
    pub license: Option<String>,
    /// Scores per class come out at 1/s of the input: set by
    /// [`super::Engine::probe_score_stride`] before planning (None until then, and for
    /// any other output).
    pub score_stride: Option<usize>,
}

impl ModelInfo {
    /// Number of classes the output map can hold.
    pub fn classes(&self) -> usize {
        self.class_names.len()
    }

    /// Channels of a prepared tile: C, or 2C for a change model (BEFORE's, then AFTER's).
    pub fn input_channels(&self) -> usize {
        self.channels * self.layout.dates()
    }

    /// Reads the model's description from a loaded session and its sidecar.
    /// `output_flag` (`--output-name`) picks the output to read, before the sidecar's
    /// `output_name`.
    pub fn from_session(
        path: &Path,
        session: &Session,
        output_flag: Option<&str>,
    ) -> Result<ModelInfo> {
        let sidecar = read_sidecar(path)?;
        if let Some(l) = sidecar.change_layout {
            return Err(Error::model(
                path,
                format!("is a change model (its sidecar declares change_layout \"{}\"); run it with terratile change BEFORE AFTER --change-model", l.name()),
            ));
        }
        let (name, ty, shape) = image_input(path, session)?;
        Self::describe(
            path,
            session,
            sidecar,
            InputLayout::Image,
            (name, ty, shape),
            output_flag,
        )
    }

    /// Reads a change model's description: its layout from the inputs' names and shapes
    /// (checked against the sidecar's `change_layout`), then as [`Self::from_session`]
    /// with the shape of one date.
    pub fn from_change_session(path: &Path, session: &Session) -> Result<ModelInfo> {
        let sidecar = read_sidecar(path)?;
        let (layout, name, shape) = change_input(path, session, sidecar.change_layout)?;
        Self::describe(
            path,
            session,
            sidecar,
            layout,
            (name, TensorElementType::Float32, shape),
            None,
        )
    }

    /// The description from the image input (name, element type, `[N,C,H,W]`, of one
    /// date for change models), the outputs, the metadata and the sidecar.
    fn describe(
        path: &Path,
        session: &Session,
        sidecar: Sidecar,
        layout: InputLayout,
        (input_name, in_ty, in_shape): (String, TensorElementType, Vec<i64>),
        output_flag: Option<&str>,
    ) -> Result<ModelInfo> {
        let bad = |p: String| Error::model(path, p);
        if session.outputs().is_empty() {
            return Err(bad("the model has no outputs".into()));
        }
        let dim = |d: i64| if d > 0 { Some(d as usize) } else { None };
        let outputs: Vec<OutputInfo> = session
            .outputs()
            .iter()
            .map(|o| match o.dtype() {
                ValueType::Tensor { ty, shape, .. } => OutputInfo {
                    name: o.name().to_string(),
                    ty: Some(*ty),
                    shape: shape.to_vec(),
                },
                _ => OutputInfo {
                    name: o.name().to_string(),
                    ty: None,
                    shape: Vec::new(),
                },
            })
            .collect();

        let meta = session
            .metadata()
            .map_err(|e| bad(format!("cannot read metadata: {e}")))?;
        let deepness = |key: &str| -> Option<serde_json::Value> {
            let raw = meta.custom(key)?;
            Some(serde_json::from_str(&raw).unwrap_or(serde_json::Value::String(raw)))
        };
        let chosen = select_outputs(&outputs, output_flag, &sidecar).map_err(bad)?;
        let out_shape = chosen.read.shape.clone();

        let channels = in_shape[1] as usize;
        let output_channels = match &chosen.class_output {
            // mask classification: K + 1 class logits, the last one "no object"
            Some(c) => c.shape.get(2).and_then(|&d| dim(d - 1)),
            None if out_shape.len() == 4 => dim(out_shape[1]),
            None => None,
        };
        let output_kind = if chosen.class_output.is_some() {
            Some(OutputKind::MaskClassification)
        } else {
            sidecar.output_kind.or(if out_shape.len() == 3 {
                Some(OutputKind::Labels)
            } else {
                None
            })
        };

        // classes: sidecar, else Deepness class_names, else from the output's channel count
        let mut class_names = sidecar
            .class_names
            .clone()
            .or_else(|| deepness("class_names").and_then(|v| parse_class_names(&v)))
            .unwrap_or_default();
        if class_names.is_empty() {
            let n = match (output_kind, output_channels) {
                (Some(OutputKind::Sigmoid), _) | (_, Some(1)) => 2,
                (_, Some(c)) => c,
                _ => {
                    return Err(bad(
                        "the number of classes is unknown (dynamic output channels and no class_names); add class_names to the sidecar MODEL.onnx.json".into(),
                    ))
                }
            };
            class_names = (0..n).map(|i| format!("class {i}")).collect();
        }
        if let Some(c) = output_channels {
            let expect = if c == 1 { 2 } else { c };
            if output_kind != Some(OutputKind::Labels) && expect != class_names.len() {
                return Err(bad(format!(
                    "the output has {c} channels but the metadata names {} classes; fix class_names in the sidecar",
                    class_names.len()
                )));
            }
        }
        let class_colors = match &sidecar.class_colors {
            Some(c) => {
                if c.len() != class_names.len() {
                    return Err(bad(format!(
                        "sidecar has {} class_colors for {} classes",
                        c.len(),
                        class_names.len()
                    )));
                }
                c.iter()
                    .map(|s| {
                        parse_colour(s)
                            .ok_or_else(|| bad(format!("sidecar colour '{s}' is not #rrggbb")))
                    })
                    .collect::<Result<Vec<_>>>()?
            }
            None => crate::raster::legend::default_colours(class_names.len()),
        };

        let floats = |key: &str| -> Option<Vec<f32>> {
            deepness(key)?
                .as_array()?
                .iter()
                .map(|v| v.as_f64().map(|f| f as f32))
                .collect()
        };
        let number = |key: &str| -> Option<f64> {
            match deepness(key)? {
                serde_json::Value::Number(n) => n.as_f64(),
                serde_json::Value::String(s) => s.trim().parse().ok(),
                _ => None,
            }
        };
        let mean = sidecar
            .mean
            .clone()
            .or_else(|| floats("standardization_mean"))
            .unwrap_or_else(|| vec![0.0; channels]);
        let std = sidecar
            .std
            .clone()
            .or_else(|| floats("standardization_std"))
            .unwrap_or_else(|| vec![1.0; channels]);
        // a change model's: one value per channel of a date (the same for both dates), or
        // one per channel of both
        let dates = layout.dates();
        let per_input = |v: Vec<f32>| {
            if dates > 1 && v.len() == channels {
                v.repeat(dates)
            } else {
                v
            }
        };
        let (mean, std) = (per_input(mean), per_input(std));
        if mean.len() != channels * dates || std.len() != channels * dates {
            return Err(bad(format!(
                "standardisation has {} means and {} stds for {} input channels",
                mean.len(),
                std.len(),
                channels * dates
            )));
        }
        if std.iter().any(|s| *s == 0.0 || !s.is_finite()) {
            return Err(bad("a standardisation std is zero or not finite".into()));
        }
        let band_names = sidecar.bands.clone().unwrap_or_default();
        if !band_names.is_empty() && band_names.len() != channels {
            return Err(bad(format!(
                "sidecar names {} bands for {channels} input channels",
                band_names.len()
            )));
        }
        if let Some(b) = &sidecar.band_indices {
            if b.len() != channels || b.contains(&0) {
                return Err(bad(format!(
                    "sidecar band_indices {b:?} must list {channels} 1-based band numbers"
                )));
            }
        }

        let tile_px = sidecar.tile_size.or_else(|| {
            number("tile_size")
                .or_else(|| number("tiles_size"))
                .map(|v| v as usize)
        });
        let overlap_px = sidecar.tile_overlap_px.or_else(|| {
            let pct = number("tiles_overlap")?;
            Some((tile_px? as f64 * pct / 100.0).round() as usize)
        });
        let resolution_m = sidecar
            .resolution_m
            .or_else(|| number("resolution").map(|cm| cm / 100.0));

        Ok(ModelInfo {
            path: path.to_path_buf(),
            input_name,
            input_type: in_ty,
            output_name: chosen.read.name.clone(),
            output_type: chosen.read.ty,
            class_output: chosen.class_output.map(|c| c.name.clone()),
            outputs: outputs.clone(),
            output_stride: sidecar.output_stride,
            output_offset_px: sidecar.output_offset_px,
            size_multiple: sidecar.size_multiple,
            channels,
            layout,
            fixed_batch: dim(in_shape[0]),
            fixed_hw: dim(in_shape[2]).zip(dim(in_shape[3])),
            output_channels,
            output_kind,
            class_names,
            class_colors,
            band_names,
            band_indices: sidecar.band_indices.clone(),
            input_scale: sidecar.input_scale.unwrap_or(1.0),
            input_offset: sidecar.input_offset.unwrap_or(0.0),
            mean,
            std,
            tile_px,
            overlap_px,
            resolution_m,
            input_shape: in_shape.clone(),
            output_shape: out_shape.clone(),
            receptive_field_px: sidecar.receptive_field_px,
            description: sidecar.description.clone(),
            source: sidecar.source.clone(),
            license: sidecar.license.clone(),
            score_stride: None,
        })
    }

    /// "blue, green, red, nir" or "4 bands" for messages.
    pub fn describe_bands(&self) -> String {
        if self.band_names.is_empty() {
            format!("{} bands", self.channels)
        } else {
            format!("{} bands ({})", self.channels, self.band_names.join(", "))
        }
    }
}

/// The outputs a model is read from.
struct Chosen<'a> {
    /// Scores or labels; for mask classification, the mask logits.
    read: &'a OutputInfo,
    /// Mask classification: the per-query class logits.
    class_output: Option<&'a OutputInfo>,
}

/// Picks the output(s) to read: `--output-name`, else the sidecar's `output_name`; a
/// mask-classification pair by the sidecar's `output_kind` or by its Hugging Face names;
/// else the first output. An output terratile cannot read is refused with the list of
/// outputs and the sidecar keys that would make the model readable.
fn select_outputs<'a>(
    outputs: &'a [OutputInfo],
    flag: Option<&str>,
    sidecar: &Sidecar,
) -> std::result::Result<Chosen<'a>, String> {
    let list = || {
        outputs
            .iter()
            .map(OutputInfo::describe)
            .collect::<Vec<_>>()
            .join("; ")
    };
    let keys = "name the output to read with \"output_name\" in the sidecar MODEL.onnx.json (or --output-name) and say how to read it with \"output_kind\" (logits, probabilities, sigmoid, labels: [N,C,H,W] or [N,H,W]; mask_classification: [N,Q,K+1] class logits + [N,Q,h,w] mask logits)";
    let wanted = flag.or(sidecar.output_name.as_deref());
    let by_name = |n: &str| outputs.iter().find(|o| o.name == n);
    if let Some(n) = wanted {
        if by_name(n).is_none() {
            return Err(format!(
                "has no output named '{n}' (from {}); its outputs: {}",
                if flag.is_some() {
                    "--output-name"
                } else {
                    "the sidecar's output_name"
                },
                list()
            ));
        }
    }
    let named_pair = by_name(CLASS_QUERIES).zip(by_name(MASK_QUERIES));
    let mask_kind = sidecar.output_kind == Some(OutputKind::MaskClassification)
        || (named_pair.is_some() && wanted.is_none_or(|n| n == CLASS_QUERIES || n == MASK_QUERIES));
    let float = |o: &OutputInfo| {
        matches!(
            o.ty,
            Some(TensorElementType::Float32 | TensorElementType::Float16)
        )
    };
    if mask_kind {
        let pair = named_pair.or_else(|| {
            let three: Vec<_> = outputs.iter().filter(|o| o.shape.len() == 3).collect();
            let four: Vec<_> = outputs.iter().filter(|o| o.shape.len() == 4).collect();
            match (three.as_slice(), four.as_slice()) {
                ([c], [m]) => Some((*c, *m)),
                _ => None,
            }
        });
        // the same number of queries (a dynamic axis, -1, matches anything)
        let fits = |c: &OutputInfo, m: &OutputInfo| {
            float(c)
                && float(m)
                && c.shape.len() == 3
                && m.shape.len() == 4
                && (c.shape[1] <= 0 || m.shape[1] <= 0 || c.shape[1] == m.shape[1])
        };
        return match pair {
            Some((c, m)) if fits(c, m) => Ok(Chosen {
                read: m,
                class_output: Some(c),
            }),
            _ => Err(format!(
                "mask classification needs a float output [N,Q,K+1] of class logits ({CLASS_QUERIES}) and one [N,Q,h,w] of mask logits ({MASK_QUERIES}) with the same Q; its outputs: {}; {keys}",
                list()
            )),
        };
    }
    let read = match wanted {
        Some(n) => by_name(n).expect("checked above"),
        None => &outputs[0],
    };
    let readable = matches!(
        read.ty,
        Some(
            TensorElementType::Float32
                | TensorElementType::Float16
                | TensorElementType::Int64
                | TensorElementType::Int32
                | TensorElementType::Uint8
        )
    ) && (read.shape.len() == 3 || read.shape.len() == 4);
    if !readable {
        return Err(format!(
            "terratile cannot read output {}: its outputs: {}; {keys}",
            read.describe(),
            list()
        ));
    }
    Ok(Chosen {
        read,
        class_output: None,
    })
}

/// An input's name and shape, when it is a float32 tensor.
fn float_input(path: &Path, input: &ort::value::Outlet) -> Result<(String, Vec<i64>)> {
    let bad = |p: String| Error::model(path, p);
    let (ty, shape) = match input.dtype() {
        ValueType::Tensor { ty, shape, .. } => (*ty, shape.to_vec()),
        other => {
            return Err(bad(format!(
                "input '{}' is {other}, not a tensor",
                input.name()
            )))
        }
    };
    if ty != TensorElementType::Float32 {
        return Err(bad(format!(
            "input '{}' is {ty:?}; terratile feeds float32 NCHW images",
            input.name()
        )));
    }
    Ok((input.name().to_string(), shape))
}

/// The one `[N,C,H,W]` float32 (or float16) image input of a segmentation model: name,
/// element type, shape.
fn image_input(path: &Path, session: &Session) -> Result<(String, TensorElementType, Vec<i64>)> {
    let bad = |p: String| Error::model(path, p);
    let [input] = session.inputs() else {
        return Err(bad(format!(
            "the model has {} inputs; terratile runs models with one NCHW float32 image input (a change model that takes two dates runs with terratile change BEFORE AFTER --change-model)",
            session.inputs().len()
        )));
    };
    let (in_ty, in_shape) = match input.dtype() {
        ValueType::Tensor { ty, shape, .. } => (*ty, shape.to_vec()),
        other => {
            return Err(bad(format!(
                "input '{}' is {other}, not a tensor",
                input.name()
            )))
        }
    };
    let name = input.name().to_string();
    if !matches!(
        in_ty,
        TensorElementType::Float32 | TensorElementType::Float16
    ) {
        return Err(bad(format!(
            "input '{name}' is {}; terratile feeds float32 (or float16) NCHW images",
            type_name(in_ty)
        )));
    }
    if in_shape.len() != 4 {
        return Err(bad(format!(
            "input '{name}' has rank {} (shape {:?}); terratile feeds rank-4 NCHW images",
            in_shape.len(),
            in_shape
        )));
    }
    if in_shape[1] <= 0 {
        return Err(bad(format!(
            "input '{name}' has a dynamic channel count; the channel dimension must be fixed"
        )));
    }
    Ok((name, in_ty, in_shape))
}

/// The layouts a change model's inputs may have, for messages.
pub const CHANGE_LAYOUTS: &str = "two inputs [N,C,H,W] (before, after), one input [N,2C,H,W] (the dates' bands stacked) or one input [N,2,C,H,W] (dates on axis 1)";

/// A change model's layout, the name of its (first) input and the shape of one date
/// (`[N,C,H,W]`), from the inputs' shapes and names; `declared` (the sidecar's) must
/// agree.
fn change_input(
    path: &Path,
    session: &Session,
    declared: Option<ChangeLayout>,
) -> Result<(InputLayout, String, Vec<i64>)> {
    let inputs = session
        .inputs()
        .iter()
        .map(|i| float_input(path, i))
        .collect::<Result<Vec<_>>>()?;
    let found = match inputs.as_slice() {
        [(a, sa), (b, sb)] if sa.len() == 4 && sa == sb && sa[1] > 0 => {
            let (before, after) = if date_rank(a) == Some(1) && date_rank(b) == Some(0) {
                (b.clone(), a.clone())
            } else {
                (a.clone(), b.clone())
            };
            Some((
                InputLayout::TwoInputs {
                    before: before.clone(),
                    after,
                },
                before,
                sa.clone(),
            ))
        }
        [(n, s)] if s.len() == 4 && s[1] > 0 && s[1] % 2 == 0 => Some((
            InputLayout::Stacked,
            n.clone(),
            vec![s[0], s[1] / 2, s[2], s[3]],
        )),
        [(n, s)] if s.len() == 5 && s[1] == 2 && s[2] > 0 => Some((
            InputLayout::TemporalAxis,
            n.clone(),
            vec![s[0], s[2], s[3], s[4]],
        )),
        _ => None,
    };
    let listed = inputs
        .iter()
        .map(|(n, s)| format!("{n} {}", shape_text(s)))
        .collect::<Vec<_>>()
        .join(", ");
    let Some((layout, name, shape)) = found else {
        return Err(Error::model(
            path,
            format!("its inputs ({listed}) match none of the change-model layouts: {CHANGE_LAYOUTS}; export the model in one of them"),
        ));
    };
    match (declared, layout.change_layout()) {
        (Some(d), Some(l)) if d != l => Err(Error::model(
            path,
            format!(
                "its sidecar declares change_layout \"{}\" but its inputs ({listed}) are the \"{}\" layout; fix change_layout in {}",
                d.name(),
                l.name(),
                sidecar_path(path).display()
            ),
        )),
        _ => Ok((layout, name, shape)),
    }
}

/// `[N,4,H,W]` for a shape with dynamic axes (-1) shown by letter.
fn shape_text(s: &[i64]) -> String {
    let axes = ["N", "C", "H", "W"];
    let dyn_name = |i: usize| -> String {
        if s.len() == 5 {
            ["N", "T", "C", "H", "W"][i].to_string()
        } else {
            axes.get(i).map_or("?".to_string(), |a| a.to_string())
        }
    };
    let parts: Vec<String> = s
        .iter()
        .enumerate()
        .map(|(i, &d)| if d > 0 { d.to_string() } else { dyn_name(i) })
        .collect();
    format!("[{}]", parts.join(","))
}

/// 0 for a name that says "first date" (before, pre, t1, x1, img1, ...), 1 for "second
/// date", None when it says neither.
fn date_rank(name: &str) -> Option<u8> {
    let n = name.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| n.contains(w));
    let first = has(&["before", "pre", "old", "past", "first"]) || n.ends_with('1') || n == "a";
    let second = has(&["after", "post", "new", "second"]) || n.ends_with('2') || n == "b";
    match (first, second) {
        (true, false) => Some(0),
        (false, true) => Some(1),
        _ => None,
    }
}

/// The sidecar path for a model: `MODEL.onnx.json`.
pub fn sidecar_path(model: &Path) -> PathBuf {
    let mut s = model.as_os_str().to_owned();
    s.push(".json");
    PathBuf::from(s)
}

fn read_sidecar(model: &Path) -> Result<Sidecar> {
    let p = sidecar_path(model);
    match std::fs::read_to_string(&p) {
        Ok(text) => parse_sidecar(&p, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Sidecar::default()),
        Err(e) => Err(Error::model(
            &p,
            format!("cannot read the model sidecar: {e}"),
        )),
    }
}

/// Parses the text of the sidecar at `path`.
pub(crate) fn parse_sidecar(path: &Path, text: &str) -> Result<Sidecar> {
    serde_json::from_str(text).map_err(|e| {
        Error::model(
            path,
            format!("the model sidecar is not valid ({e}); see schemas/model-sidecar.schema.json"),
        )
    })
}

/// Deepness stores class names as a JSON object `{"0": "name", ...}`; lists are accepted too.
pub(crate) fn parse_class_names(v: &serde_json::Value) -> Option<Vec<String>> {
    match v {
        serde_json::Value::Array(a) => a.iter().map(|x| x.as_str().map(String::from)).collect(),
        serde_json::Value::Object(m) => {
            let mut pairs: Vec<(usize, String)> = m
                .iter()
                .map(|(k, x)| Some((k.parse().ok()?, x.as_str()?.to_string())))
                .collect::<Option<_>>()?;
            pairs.sort();
            // indices must be 0..n
            pairs
                .iter()
                .enumerate()
                .all(|(i, (k, _))| i == *k)
                .then(|| pairs.into_iter().map(|p| p.1).collect())
        }
        serde_json::Value::String(s) => serde_json::from_str::<serde_json::Value>(s)
            .ok()
            .and_then(|v| parse_class_names(&v)),
        _ => None,
    }
}

pub(crate) fn parse_colour(s: &str) -> Option<[u8; 3]> {
    let h = s.strip_prefix('#')?;
    if h.len() != 6 || !h.is_ascii() {
        return None;
    }
    let b = |i: usize| u8::from_str_radix(&h[i..i + 2], 16).ok();
    Some([b(0)?, b(2)?, b(4)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deepness_class_names() {
        let v: serde_json::Value =
            serde_json::from_str(r#"{"1": "road", "0": "not road"}"#).unwrap();
        assert_eq!(parse_class_names(&v).unwrap(), vec!["not road", "road"]);
        let v: serde_json::Value = serde_json::from_str(r#"{"0": "a", "2": "c"}"#).unwrap();
        assert!(parse_class_names(&v).is_none());
        assert_eq!(parse_colour("#ff8000"), Some([255, 128, 0]));
        assert_eq!(parse_colour("ff8000"), None);
        assert_eq!(parse_colour("#aéaaa"), None);
    }
}
