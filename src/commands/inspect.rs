//! `terratile inspect`: what a model takes and gives (from its graph, Deepness metadata
//! and sidecar), and, given a raster, whether that raster can feed it: which bands go
//! to which channels, and whether it will be resampled to the model's resolution.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::infer::{self, Device, ModelInfo};
use crate::prepare::BandSpec;
use crate::raster::RasterInfo;
use crate::read::resample;
use crate::segment::{plan, SegmentOptions};

/// What to inspect.
#[derive(Debug, Clone, Default)]
pub struct InspectOptions {
    pub model: PathBuf,
    pub raster: Option<PathBuf>,
    pub bands: Option<BandSpec>,
    pub ort_lib: Option<PathBuf>,
}

/// Describes the model (and how a raster maps onto it) as text a person reads. Fails
/// with the reason when the raster cannot feed the model.
pub fn inspect(opts: &InspectOptions) -> Result<String> {
    let engine = infer::load(&opts.model, opts.ort_lib.as_deref(), 1, Device::Cpu)?;
    let info = &engine.info;
    let mut s = describe_model(info);
    if let Some(r) = &opts.raster {
        s.push_str(&describe_fit(info, r, opts.bands.clone())?);
    }
    Ok(s)
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
        "input       {} float32 {} (N, C, H, W)",
        m.input_name,
        shape(&m.input_shape, &["N", "C", "H", "W"])
    );
    let out_names: &[&str] = if m.output_shape.len() == 3 {
        &["N", "H", "W"]
    } else {
        &["N", "C", "H", "W"]
    };
    let _ = writeln!(
        s,
        "output      {} {} as {}",
        m.output_name,
        shape(&m.output_shape, out_names),
        m.output_kind
            .map(|k| format!("{k:?}").to_lowercase())
            .unwrap_or_else(
                || "scores (logits or probabilities, told apart on the first batch)".into()
            )
    );
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
            (None, None) => "dynamic H/W, no preferred size (512 px by default)".into(),
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

fn describe_fit(m: &ModelInfo, raster: &Path, bands: Option<BandSpec>) -> Result<String> {
    let info = RasterInfo::open(raster)?;
    let opts = SegmentOptions {
        input: raster.to_path_buf(),
        model: m.path.clone(),
        bands,
        ..SegmentOptions::default()
    };
    let resampled = resample::plan(&info, m.resolution_m);
    let grid_info = match &resampled {
        Some(r) => RasterInfo {
            grid: r.grid.clone(),
            ..info.clone()
        },
        None => info.clone(),
    };
    let p = plan(&opts, m, &grid_info)?;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\nraster      {} ({}x{} px, {} band{}{})",
        raster.display(),
        info.grid.width_px,
        info.grid.height_px,
        info.band_count,
        if info.band_count == 1 { "" } else { "s" },
        resample::pixel_size_m(&info)
            .map(|r| format!(", {r:.2} m pixels"))
            .unwrap_or_default()
    );
    let _ = writeln!(s, "fits        yes: channel <- raster band");
    for (c, &b) in p.bands.iter().enumerate() {
        let name = m
            .band_names
            .get(c)
            .cloned()
            .unwrap_or_else(|| format!("channel {c}"));
        let desc = info.band_descriptions[b - 1].as_str();
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
    match &resampled {
        Some(r) => {
            let _ = writeln!(
                s,
                "resampling  {:.2} m -> {:.2} m on read ({}, {}x{} px); classes back on the input grid ({}), or on the model grid with --model-grid",
                r.input_res_m,
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
        "tiling      {} px, overlap {} px, batch {}",
        p.grid.tile_px, p.grid.overlap_px, p.batch
    );
    for n in &p.notes {
        let _ = writeln!(s, "note        {n}");
    }
    Ok(s)
}
