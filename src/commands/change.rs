//! `terratile change`: two dates compared into a change COG and from-to statistics,
//! logged (matrix, per tile, per zone, provenance) when `--db` is given.

use std::path::Path;

use serde_json::json;

use super::{logged, models, raster_record, segment_parameters, RunHead};
use crate::change::{change, ChangeOptions, ChangeStats};
use crate::error::Result;
use crate::raster::RasterInfo;
use crate::store::{ClassAreaRecord, RunRecord, TransitionRecord};

/// Runs `change`, logging it to `db` when given; returns the statistics and the run id.
pub fn run(opts: &ChangeOptions, db: Option<&Path>) -> Result<(ChangeStats, Option<i64>)> {
    let head = RunHead {
        command: "change",
        parameters: parameters(opts),
        output: &opts.output,
        inputs: [
            &opts.before,
            &opts.after,
            &opts.before_classes,
            &opts.after_classes,
            &opts.model,
            &opts.segment.mask_model,
            &opts.zones,
        ]
        .into_iter()
        .filter_map(|p| p.as_deref())
        .collect(),
    };
    logged(
        db,
        head,
        || change(opts),
        |s, started, finished| record(opts, s, started, finished),
    )
}

/// The parameters of a change run as given (the record of a finished run adds the
/// comparison grid and AFTER's resampling).
fn parameters(opts: &ChangeOptions) -> serde_json::Value {
    let p = |o: &Option<std::path::PathBuf>| o.as_ref().map(|p| p.display().to_string());
    json!({
        "before": p(&opts.before), "after": p(&opts.after), "model": p(&opts.model),
        "before_classes": p(&opts.before_classes), "after_classes": p(&opts.after_classes),
        "output": opts.output.display().to_string(),
        "stats_tile_px": opts.stats_tile_px,
        "zones": p(&opts.zones), "zone_field": opts.zone_field,
        "class_map": opts.class_map.as_ref().map(|m| &m.pairs),
        "segment": segment_parameters(&opts.segment),
        "polygons": crate::vector::parameters(&opts.polygons),
    })
}

/// The record of a change run.
pub fn record(
    opts: &ChangeOptions,
    s: &ChangeStats,
    started: String,
    finished: String,
) -> Result<RunRecord> {
    let mut parameters = parameters(opts);
    parameters["after_resampling"] = json!(s.resampling.gdal_name());
    parameters["comparison_grid"] = json!({
        "x0_px": s.grid.x0_px, "y0_px": s.grid.y0_px,
        "width_px": s.grid.width_px(), "height_px": s.grid.height_px(),
        "geotransform": s.grid.gt().0,
    });
    let mut rasters = Vec::new();
    for (label, d) in [("before", &s.before), ("after", &s.after)] {
        if let Some(i) = &d.imagery {
            rasters.push(raster_record(label, i));
        }
        if d.segmented.is_none() {
            rasters.push(raster_record(&format!("{label}_classes"), &d.classes));
        }
    }
    rasters.push(raster_record("output", &RasterInfo::open(&opts.output)?));
    let used_model = s.before.segmented.is_some() || s.after.segmented.is_some();
    let models = models(
        opts.model.as_deref().filter(|_| used_model),
        &s.class_names,
        opts.segment.mask_model.as_deref().filter(|_| used_model),
    )?;
    let n = s.classes();
    let mut class_areas = Vec::new();
    for (date, (px, m2)) in [("before", s.before_totals()), ("after", s.after_totals())] {
        for c in 0..n {
            class_areas.push(ClassAreaRecord {
                date: date.into(),
                class: c,
                pixels: px[c],
                area_m2: m2[c],
            });
        }
    }
    let transitions = (0..n * n)
        .filter(|&k| s.matrix_px[k] > 0)
        .map(|k| TransitionRecord {
            from: k / n,
            to: k % n,
            pixels: s.matrix_px[k],
            area_m2: s.matrix_area_m2[k],
        })
        .collect();
    Ok(RunRecord {
        command: "change".into(),
        parameters,
        started,
        finished,
        output: opts.output.clone(),
        class_names: s.class_names.clone(),
        class_colors: s.class_colors.clone(),
        area_method: Some(s.area_method),
        valid_px: s.valid_px,
        valid_area_m2: s.valid_area_m2,
        models,
        rasters,
        class_areas,
        transitions,
        tiles: s.tiles.clone(),
        zones: s.zones.clone(),
    })
}
