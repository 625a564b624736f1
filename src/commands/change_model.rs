//! `terratile change BEFORE AFTER --change-model M.onnx`: a change model over both dates
//! into a change class map, logged with the area of each change class when `--db` is
//! given.

use std::path::Path;

use serde_json::json;

use super::{logged, models, raster_record, segment_parameters, RunHead};
use crate::change::{change_with_model, ChangeOptions, ModelChange};
use crate::error::Result;
use crate::raster::{ClassMap, RasterInfo};
use crate::store::{ClassAreaRecord, RunRecord};

/// Runs the change model, logging it to `db` when given; returns what it did and the
/// run id.
pub fn run(opts: &ChangeOptions, db: Option<&Path>) -> Result<(ModelChange, Option<i64>)> {
    let head = RunHead {
        command: "change",
        parameters: parameters(opts),
        output: &opts.output,
        inputs: [&opts.before, &opts.after, &opts.change_model]
            .into_iter()
            .filter_map(|p| p.as_deref())
            .collect(),
    };
    logged(
        db,
        head,
        || change_with_model(opts),
        |m, started, finished| record(opts, m, started, finished),
    )
}

/// The parameters of a change-model run as given.
fn parameters(opts: &ChangeOptions) -> serde_json::Value {
    let p = |o: &Option<std::path::PathBuf>| o.as_ref().map(|p| p.display().to_string());
    json!({
        "before": p(&opts.before), "after": p(&opts.after),
        "change_model": p(&opts.change_model),
        "output": opts.output.display().to_string(),
        "segment": segment_parameters(&opts.segment),
    })
}

/// The record of a change-model run: the area of each change class (date "change")
/// from the written map.
pub fn record(
    opts: &ChangeOptions,
    m: &ModelChange,
    started: String,
    finished: String,
) -> Result<RunRecord> {
    let names = &m.summary.class_names;
    let areas = ClassMap::open(&opts.output)?.class_areas(names.len())?;
    let mut parameters = parameters(opts);
    parameters["change_layout"] = json!(m.layout.name());
    parameters["after_resampling"] = json!(m.after_resampling.gdal_name());
    parameters["comparison_grid"] = json!({
        "x0_px": m.grid.x0_px, "y0_px": m.grid.y0_px,
        "width_px": m.grid.width_px(), "height_px": m.grid.height_px(),
        "geotransform": m.grid.gt().0,
    });
    let class_areas = (0..names.len())
        .map(|c| ClassAreaRecord {
            date: "change".into(),
            class: c,
            pixels: areas.pixels[c],
            area_m2: areas.area_m2[c],
        })
        .collect();
    let mut model_records = models(opts.change_model.as_deref(), names, None)?;
    for r in &mut model_records {
        r.role = "change".into();
    }
    Ok(RunRecord {
        command: "change".into(),
        parameters,
        started,
        finished,
        output: opts.output.clone(),
        class_names: names.clone(),
        class_colors: m.class_colors.clone(),
        area_method: Some(areas.method),
        valid_px: areas.pixels.iter().sum(),
        valid_area_m2: areas.area_m2.iter().sum(),
        models: model_records,
        rasters: vec![
            raster_record("before", &m.before),
            raster_record("after", &m.after),
            raster_record("output", &RasterInfo::open(&opts.output)?),
        ],
        class_areas,
        transitions: Vec::new(),
        tiles: Vec::new(),
        zones: Vec::new(),
    })
}
