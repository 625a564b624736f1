//! `terratile segment`: one raster through one model into a class-map COG, logged with
//! its per-class areas when `--db` is given.

use std::path::Path;

use serde_json::json;

use super::{logged, models, raster_record, segment_parameters, RunHead};
use crate::error::Result;
use crate::raster::{ClassMap, RasterInfo};
use crate::segment::{segment, SegmentOptions, Summary};
use crate::store::{ClassAreaRecord, RunRecord};

/// Runs `segment`, logging it to `db` when given; returns the summary and the run id.
pub fn run(opts: &SegmentOptions, db: Option<&Path>) -> Result<(Summary, Option<i64>)> {
    let head = RunHead {
        command: "segment",
        parameters: parameters(opts),
        output: &opts.output,
        inputs: [
            Some(&opts.input),
            Some(&opts.model),
            opts.mask_model.as_ref(),
        ]
        .into_iter()
        .flatten()
        .map(|p| p.as_path())
        .collect(),
    };
    logged(
        db,
        head,
        || segment(opts),
        |s, started, finished| record(opts, s, started, finished),
    )
}

/// The parameters of a segment run, as JSON.
fn parameters(opts: &SegmentOptions) -> serde_json::Value {
    let mut parameters = segment_parameters(opts);
    parameters["input"] = json!(opts.input.display().to_string());
    parameters["model"] = json!(opts.model.display().to_string());
    parameters["output"] = json!(opts.output.display().to_string());
    parameters["polygons"] = crate::vector::parameters(&opts.polygons);
    parameters
}

/// The record of a segment run: its class areas from the written class map.
pub fn record(
    opts: &SegmentOptions,
    s: &Summary,
    started: String,
    finished: String,
) -> Result<RunRecord> {
    let areas = ClassMap::open(&opts.output)?.class_areas(s.class_names.len())?;
    let (px, m2, area_method) = (areas.pixels, areas.area_m2, areas.method);
    let valid_area_m2 = m2.iter().sum();
    let class_areas = (0..s.class_names.len())
        .map(|c| ClassAreaRecord {
            date: "classes".into(),
            class: c,
            pixels: px[c],
            area_m2: m2[c],
        })
        .collect();
    Ok(RunRecord {
        command: "segment".into(),
        parameters: parameters(opts),
        started,
        finished,
        output: opts.output.clone(),
        class_names: s.class_names.clone(),
        class_colors: Vec::new(),
        area_method: Some(area_method),
        valid_px: px.iter().sum(),
        valid_area_m2,
        models: models(
            Some(&opts.model),
            &s.class_names,
            opts.mask_model.as_deref(),
        )?,
        rasters: vec![
            raster_record("input", &RasterInfo::open(&opts.input)?),
            raster_record("output", &RasterInfo::open(&opts.output)?),
        ],
        class_areas,
        transitions: Vec::new(),
        tiles: Vec::new(),
        zones: Vec::new(),
    })
}
