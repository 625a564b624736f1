//! `terratile change D1 D2 ... Dn`: a date series compared interval by interval, logged
//! (the run, every date's class areas, every interval's figures and matrix) in one
//! transaction when `--db` is given.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::{logged_by, models, raster_record, segment_parameters, RunHead};
use crate::change::series::{series, SeriesOptions, SeriesStats};
use crate::error::Result;
use crate::raster::RasterInfo;
use crate::store::series::{SeriesDateRecord, SeriesIntervalRecord, SeriesRecord};
use crate::store::{RunRecord, Store};
use crate::write::output::remove_with_companions;

/// Runs a series, logging it to `db` when given; returns the statistics and the run id.
pub fn run(opts: &SeriesOptions, db: Option<&Path>) -> Result<(SeriesStats, Option<i64>)> {
    let b = &opts.base;
    let mut inputs: Vec<&Path> = opts.dates.iter().map(PathBuf::as_path).collect();
    inputs.extend(
        [&opts.list, &b.model, &b.segment.mask_model]
            .into_iter()
            .filter_map(|p| p.as_deref()),
    );
    let head = RunHead {
        command: "change",
        parameters: parameters(opts),
        output: &b.output,
        inputs,
    };
    logged_by(
        db,
        head,
        || series(opts),
        |s, started, finished, st: &mut Store| {
            let written = record(opts, s, started, finished)
                .and_then(|(run, series)| st.record_series(&run, &series));
            if written.is_err() {
                // the main output goes with the run (`logged_by`); the others here
                for p in s.outputs.all() {
                    remove_with_companions(p);
                }
            }
            written
        },
    )
}

/// The parameters of a series run as given.
fn parameters(opts: &SeriesOptions) -> serde_json::Value {
    let p = |o: &Option<PathBuf>| o.as_ref().map(|p| p.display().to_string());
    let b = &opts.base;
    json!({
        "series": opts.dates.iter().map(|d| d.display().to_string()).collect::<Vec<_>>(),
        "list": p(&opts.list), "class_maps": opts.class_maps, "dates": opts.days,
        "model": p(&b.model), "output": b.output.display().to_string(),
        "stats_tile_px": b.stats_tile_px,
        "segment": segment_parameters(&b.segment),
    })
}

/// The run record and the series record of a finished series.
pub fn record(
    opts: &SeriesOptions,
    s: &SeriesStats,
    started: String,
    finished: String,
) -> Result<(RunRecord, SeriesRecord)> {
    let mut parameters = parameters(opts);
    parameters["series"] = json!(s
        .dates
        .iter()
        .map(|d| json!({"date": d.day.to_string(), "path": d.path.display().to_string(), "date_source": d.day_source}))
        .collect::<Vec<_>>());
    parameters["class_colors"] = json!(s
        .class_colors
        .iter()
        .map(|c| format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2]))
        .collect::<Vec<_>>());
    parameters["comparison_grid"] = json!({
        "x0_px": s.grid.x0_px, "y0_px": s.grid.y0_px,
        "width_px": s.grid.width_px(), "height_px": s.grid.height_px(),
        "geotransform": s.grid.gt().0,
    });
    parameters["outputs"] = json!({
        "last_change": s.outputs.last_change.display().to_string(),
        "count": s.outputs.count.display().to_string(),
        "intervals": s.outputs.intervals.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
    });
    let mut rasters = Vec::new();
    for (k, d) in s.dates.iter().enumerate() {
        if let Some(i) = &d.input.imagery {
            rasters.push(raster_record(&format!("date{}", k + 1), i));
        }
        if d.input.segmented.is_none() {
            rasters.push(raster_record(
                &format!("date{}_classes", k + 1),
                &d.input.classes,
            ));
        }
    }
    for (k, p) in s.outputs.intervals.iter().enumerate() {
        rasters.push(raster_record(
            &format!("interval{}", k + 1),
            &RasterInfo::open(p)?,
        ));
    }
    rasters.push(raster_record("count", &RasterInfo::open(&s.outputs.count)?));
    rasters.push(raster_record(
        "output",
        &RasterInfo::open(&s.outputs.last_change)?,
    ));
    let used_model = s.dates.iter().any(|d| d.input.segmented.is_some());
    let b = &opts.base;
    let models = models(
        b.model.as_deref().filter(|_| used_model),
        &s.class_names,
        b.segment.mask_model.as_deref().filter(|_| used_model),
    )?;
    let run = RunRecord {
        command: "change".into(),
        parameters,
        started,
        finished,
        output: s.outputs.last_change.clone(),
        class_names: s.class_names.clone(),
        class_colors: s.class_colors.clone(),
        area_method: Some(s.area_method),
        valid_px: s.valid_px,
        valid_area_m2: s.valid_area_m2,
        models,
        rasters,
        ..RunRecord::default()
    };
    let series = SeriesRecord {
        dates: s
            .dates
            .iter()
            .map(|d| SeriesDateRecord {
                date: d.day.to_string(),
                date_source: d.day_source.clone(),
                path: d.path.clone(),
                class_px: d.class_px.clone(),
                class_area_m2: d.class_area_m2.clone(),
            })
            .collect(),
        intervals: s
            .intervals
            .iter()
            .enumerate()
            .map(|(k, i)| {
                let (changed_px, changed_area_m2) = i.changed();
                SeriesIntervalRecord {
                    output: i.output.clone(),
                    valid_px: i.valid_px,
                    valid_area_m2: i.valid_area_m2,
                    changed_px,
                    changed_area_m2,
                    last_change_px: s.last_change_px.get(k + 1).copied().unwrap_or(0),
                    matrix_px: i.matrix_px.clone(),
                    matrix_area_m2: i.matrix_area_m2.clone(),
                }
            })
            .collect(),
    };
    Ok((run, series))
}
