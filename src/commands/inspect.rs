//! `terratile inspect`: what a model takes and gives (from its graph, Deepness metadata
//! and sidecar), and, given a raster, whether that raster can feed it: which bands go
//! to which channels, and whether it will be resampled to the model's resolution.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::error::Result;
use ort::value::TensorElementType;

use crate::infer::model::type_name;
use crate::infer::{self, Device, ModelInfo};
use crate::prepare::BandSpec;
use crate::raster::programs;
use crate::raster::RasterInfo;
use crate::read::resample;
use crate::segment::{plan, regrid, scaling, SegmentOptions};

/// What to inspect.
#[derive(Debug, Clone, Default)]
pub struct InspectOptions {
    pub model: PathBuf,
    pub raster: Option<PathBuf>,
    pub bands: Option<BandSpec>,
    /// `--output-name`: the output to read.
    pub output_name: Option<String>,
    /// `--tile`: the tile to plan and probe.
    pub tile_px: Option<usize>,
    /// `--scale`, `--offset`, `--src-nodata`, as for `segment`.
    pub scale: Option<f32>,
    pub offset: Option<f32>,
    pub src_nodata: Option<Vec<f64>>,
    pub ort_lib: Option<PathBuf>,
}

/// Describes the model (and how a raster maps onto it) as text a person reads. Fails
/// with the reason when the raster cannot feed the model.
pub fn inspect(opts: &InspectOptions) -> Result<String> {
    let mut engine = infer::load_output(
        &opts.model,
        opts.ort_lib.as_deref(),
        1,
        Device::Cpu,
        opts.output_name.as_deref(),
    )?;
    // what segment learns before planning: scores at 1/s are stitched at 1/s
    engine.info.score_stride = engine.probe_score_stride();
    let info = engine.info.clone();
    let mut s = describe_model(&info);
    let tile = match &opts.raster {
        Some(r) => {
            let (fit, tile) = describe_fit(&info, r, opts)?;
            s.push_str(&fit);
            tile
        }
        None => match (info.fixed_hw, opts.tile_px, info.tile_px) {
            (Some(hw), _, _) => hw,
            (None, Some(t), _) | (None, None, Some(t)) => (t, t),
            (None, None, None) => (512, 512), // the probe's size; runs size tiles to the raster
        },
    };
    s.push_str(&describe_decoding(&mut engine, tile));
    Ok(s)
}

/// How the output is read on a `tile` input: one batch of zeros through the model shows
/// the output's size, hence its placement (same size, stride, centred).
fn describe_decoding(engine: &mut infer::Engine, (th, tw): (usize, usize)) -> String {
    let n = engine.info.fixed_batch.unwrap_or(1);
    let input = vec![0f32; n * engine.info.channels * th * tw];
    let kind = match engine.info.output_kind {
        Some(infer::OutputKind::MaskClassification) => format!(
            "mask classification: softmax of {} without its last (no-object) class x sigmoid of {}, summed over queries",
            engine.info.class_output.as_deref().unwrap_or("?"),
            engine.info.output_name
        ),
        Some(k) => k.name().to_string(),
        None => "logits or probabilities, told apart on the first batch".into(),
    };
    match engine.run(&input, n, th, tw) {
        Ok(_) => {
            let r = engine.reading.clone().expect("set by run");
            // what a coarser output is resized before: the logits before the softmax, the
            // mask logits before the sigmoid, labels after one-hot
            let before = match (r.placement, engine.info.output_kind) {
                (infer::Placement::Stride(_), Some(infer::OutputKind::MaskClassification)) => {
                    " (mask logits, before the sigmoid)"
                }
                (infer::Placement::Stride(_), Some(infer::OutputKind::Labels)) => {
                    " (labels one-hot, then resized)"
                }
                (infer::Placement::Stride(_), Some(infer::OutputKind::Probabilities)) => {
                    " (probabilities)"
                }
                (infer::Placement::Stride(_), _) => " (scores, before the softmax)",
                _ => "",
            };
            format!(
                "decoding    {kind}; {}{before} (on a {th}x{tw} tile: read from {})\n",
                r.placement, r.why
            )
        }
        Err(e) => format!("decoding    {kind}; a {th}x{tw} tile cannot be read: {e}\n"),
    }
}

fn shape(v: &[i64], names: &[&str]) -> String {
    let dims: Vec<String> = v
        .iter()
        .zip(names.iter().chain(std::iter::repeat(&"?")))
        .map(|(&d, n)| if d > 0 { d.to_string() } else { n.to_string() })
        .collect();
    format!("[{}]", dims.join(", "))
}

fn hex(c: [u8; 3]) -> String {
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

fn describe_model(m: &ModelInfo) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "model       {}", m.path.display());
    if let Some(d) = &m.description {
        let _ = writeln!(s, "            {d}");
    }
    let _ = writeln!(
        s,
        "input       {} {} {} (N, C, H, W){}",
        m.input_name,
        type_name(m.input_type),
        shape(&m.input_shape, &["N", "C", "H", "W"]),
        if m.input_type == TensorElementType::Float16 {
            "; tiles converted from float32 at the boundary"
        } else {
            ""
        }
    );
    for o in &m.outputs {
        let names: &[&str] = match (o.shape.len(), m.class_output.as_deref()) {
            (3, Some(c)) if c == o.name => &["N", "Q", "K+1"],
            (4, Some(_)) => &["N", "Q", "h", "w"],
            (3, _) => &["N", "H", "W"],
            _ => &["N", "C", "H", "W"],
        };
        let used = if o.name == m.output_name || m.class_output.as_deref() == Some(&o.name) {
            match m.output_kind {
                Some(k) => format!("as {}", k.name()),
                None => {
                    "read as scores (logits or probabilities, told apart on the first batch)".into()
                }
            }
        } else {
            "(not read)".into()
        };
        let _ = writeln!(
            s,
            "output      {} {} {} {used}",
            o.name,
            o.ty.map(type_name).unwrap_or("(not a tensor)"),
            shape(&o.shape, names),
        );
    }
    let bands = if m.band_names.is_empty() {
        format!("{} (no names)", m.channels)
    } else {
        m.band_names.join(", ")
    };
    let _ = writeln!(s, "bands       {bands}");
    if let Some(b) = &m.band_indices {
        let b: Vec<String> = b.iter().map(|v| v.to_string()).collect();
        let _ = writeln!(s, "            raster bands {} by default", b.join(","));
    }
    let _ = writeln!(
        s,
        "scaling     (raw x {} + {} - mean) / std; mean {:?}; std {:?}",
        m.input_scale, m.input_offset, m.mean, m.std
    );
    let _ = writeln!(
        s,
        "resolution  {}",
        m.resolution_m
            .map(|r| format!("{r} m per pixel"))
            .unwrap_or_else(|| "not declared (rasters are used at their own resolution)".into())
    );
    let _ = writeln!(
        s,
        "tiles       {}",
        match (m.fixed_hw, m.tile_px) {
            (Some((h, w)), _) => format!("fixed {h}x{w} px"),
            (None, Some(t)) => format!("{t} px (dynamic H/W)"),
            (None, None) => format!(
                "dynamic H/W, no preferred size: sized to the raster and the memory budget, a multiple of {}{}",
                plan::size_multiple(m).unwrap_or(plan::DEFAULT_SIZE_MULTIPLE),
                if plan::size_multiple(m).is_some() { "" } else { " (assumed)" }
            ),
        } + &m
            .overlap_px
            .map(|o| format!(", overlap {o} px"))
            .unwrap_or_default()
            + &m.receptive_field_px
                .map(|r| format!(", receptive field {r} px"))
                .unwrap_or_default()
    );
    let _ = writeln!(s, "classes     {}", m.classes());
    for (i, n) in m.class_names.iter().enumerate() {
        let c = m
            .class_colors
            .get(i)
            .map(|&c| hex(c))
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(s, "  {i:>3}  {c}  {n}");
    }
    if let Some(l) = &m.license {
        let _ = writeln!(s, "licence     {l}");
    }
    if let Some(src) = &m.source {
        let _ = writeln!(s, "source      {src}");
    }
    s
}

/// The raster against the model, and the model input size the plan gives.
fn describe_fit(
    m: &ModelInfo,
    raster: &Path,
    o: &InspectOptions,
) -> Result<(String, (usize, usize))> {
    let info = RasterInfo::open(raster)?;
    let opts = SegmentOptions {
        input: raster.to_path_buf(),
        model: m.path.clone(),
        bands: o.bands.clone(),
        tile_px: o.tile_px,
        scale: o.scale,
        offset: o.offset,
        src_nodata: o.src_nodata.clone(),
        ..SegmentOptions::default()
    };
    let mut m = m.clone();
    scaling::apply_flags(&opts, &mut m);
    let m = &m;
    let resampled = resample::plan(&info, m.resolution_m);
    let grid_info = match &resampled {
        Some(r) => RasterInfo {
            grid: r.grid.clone(),
            ..info.clone()
        },
        None => info.clone(),
    };
    let p = plan(&opts, m, &grid_info)?;
    let value_note = match &opts.src_nodata {
        None => scaling::check_values(raster, &info, &p.bands, m)?,
        Some(values) => {
            // the sample leaves the --src-nodata values out, through a VRT in memory
            scaling::check_nodata_count(values, &info)?;
            let vrt = Path::new("/vsimem/terratile-inspect-nodata.vrt");
            programs::nodata_vrt(raster, vrt, values)?;
            let note = scaling::check_values(vrt, &info, &p.bands, m);
            let _ = gdal::vsi::unlink_mem_file(vrt);
            note?
        }
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\nraster      {} ({}x{} px, {} band{}{})",
        raster.display(),
        info.grid.width_px,
        info.grid.height_px,
        info.band_count,
        if info.band_count == 1 { "" } else { "s" },
        resample::pixel_size_xy_m(&info)
            .map(|r| format!(", {} pixels", resample::format_res(r)))
            .unwrap_or_default()
    );
    let _ = writeln!(s, "fits        yes: channel <- raster band");
    for (c, &b) in p.bands.iter().enumerate() {
        let name = m
            .band_names
            .get(c)
            .cloned()
            .unwrap_or_else(|| format!("channel {c}"));
        let desc = match info.band_descriptions[b - 1].as_str() {
            "" => match info.band_colours[b - 1].as_str() {
                "Gray" | "Undefined" => "",
                colour => colour,
            },
            d => d,
        };
        let _ = writeln!(
            s,
            "  {c:>3}  {name:<10} <- band {b}{}",
            if desc.is_empty() {
                String::new()
            } else {
                format!(" ({desc})")
            }
        );
    }
    let _ = writeln!(s, "bands from  {}", p.band_source);
    let _ = writeln!(
        s,
        "scaling     (raw x {}{} - mean) / std{}",
        m.input_scale,
        match m.input_offset {
            o if o < 0.0 => format!(" - {}", -o),
            o => format!(" + {o}"),
        },
        match (o.scale, o.offset) {
            (None, None) => " (the model's)",
            _ => " (--scale/--offset)",
        }
    );
    if let Some(v) = &o.src_nodata {
        let v: Vec<String> = v.iter().map(|x| x.to_string()).collect();
        let _ = writeln!(s, "nodata      {} (--src-nodata)", v.join(","));
    }
    if let Some(n) = &value_note {
        let _ = writeln!(s, "warning     {n}");
    }
    match &resampled {
        Some(r) => {
            if let Err(e) = regrid::check_growth(&info, r) {
                let _ = writeln!(s, "warning     {e}");
            }
            let _ = writeln!(
                s,
                "resampling  {} -> {:.2} m on read ({}, {}x{} px); classes back on the input grid ({}), or on the model grid with --model-grid",
                resample::format_res(r.input_res_m),
                r.model_res_m,
                r.method.gdal_name(),
                r.grid.width_px,
                r.grid.height_px,
                r.back_method().gdal_name()
            );
        }
        None => {
            let _ = writeln!(s, "resampling  none");
        }
    }
    let _ = writeln!(
        s,
        "tiling      {} px (from {}), overlap {} px, batch {}; {:.2}x work per output pixel",
        p.grid.tile_px,
        p.tile_source,
        p.grid.overlap_px,
        p.batch,
        p.work_per_pixel()
    );
    let _ = match (p.coarse, m.score_stride) {
        (Some(st), _) => writeln!(
            s,
            "stitching   at the model's resolution (1/{st}): tiles start on its {st} px grid, their scores are blended per cell and resized once to each output pixel"
        ),
        (None, Some(st)) => writeln!(
            s,
            "stitching   probabilities resized to each tile, then blended (scores at 1/{st} are stitched at 1/{st} only with a tile and overlap that are multiples of {st}, and without --tta)"
        ),
        (None, None) => writeln!(s, "stitching   probabilities over each tile, blended"),
    };
    for n in &p.notes {
        let _ = writeln!(s, "note        {n}");
    }
    Ok((s, p.tensor_hw))
}
