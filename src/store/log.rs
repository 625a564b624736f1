//! Runs as database records: `change` and `segment` results turned into [`RunRecord`]s,
//! and the jobs run with their logging (the database is opened first, so a database
//! that cannot be written stops the run before any work).

use std::io::Read;
use std::path::Path;

use serde_json::json;
use sha2::{Digest, Sha256};

use super::{ClassAreaRecord, ModelRecord, RasterRecord, RunRecord, Store, TransitionRecord};
use crate::change::{self, ChangeOptions, ChangeStats};
use crate::error::{Error, Result};
use crate::read::{self, RasterInfo};
use crate::segment::{SegmentOptions, Summary};

/// The sha256 of a file, hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path)
        .map_err(|e| Error::input(path, format!("cannot read it to checksum it: {e}")))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| Error::input(path, format!("cannot read it to checksum it: {e}")))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn raster_record(role: &str, r: &RasterInfo) -> RasterRecord {
    RasterRecord {
        role: role.into(),
        path: r.path.clone(),
        width_px: r.width,
        height_px: r.height,
        bands: r.band_count,
        crs_wkt: r.projection.clone(),
        geo_transform: r.geo_transform,
    }
}

fn describe(path: &Path) -> Result<RasterInfo> {
    let ds = read::open(path)?;
    read::describe(path, &ds)
}

fn segment_parameters(o: &SegmentOptions) -> serde_json::Value {
    json!({
        "tile_px": o.tile_px, "overlap_px": o.overlap_px, "margin_px": o.margin_px,
        "batch": o.batch, "bands": o.bands.as_ref().map(|b| b.to_string()), "threads": o.threads,
        "device": format!("{:?}", o.device), "blend": format!("{:?}", o.blend),
        "confidence": o.confidence,
        "mask_model": o.mask_model.as_ref().map(|p| p.display().to_string()),
        "mask_classes": o.mask_classes, "tta": o.tta, "model_grid": o.model_grid,
        "mask_bands": o.mask_bands.as_ref().map(|b| b.to_string()), "no_resample": o.no_resample,
    })
}

fn models(
    model: Option<&Path>,
    classes: &[String],
    mask: Option<&Path>,
) -> Result<Vec<ModelRecord>> {
    let mut v = Vec::new();
    if let Some(m) = model {
        v.push(ModelRecord {
            role: "segmentation".into(),
            path: m.to_path_buf(),
            sha256: sha256_file(m)?,
            classes: classes.to_vec(),
        });
    }
    if let Some(m) = mask {
        v.push(ModelRecord {
            role: "mask".into(),
            path: m.to_path_buf(),
            sha256: sha256_file(m)?,
            classes: Vec::new(),
        });
    }
    Ok(v)
}

/// The record of a change run.
pub fn change_record(
    opts: &ChangeOptions,
    s: &ChangeStats,
    started: String,
    finished: String,
) -> Result<RunRecord> {
    let p = |o: &Option<std::path::PathBuf>| o.as_ref().map(|p| p.display().to_string());
    let parameters = json!({
        "before": p(&opts.before), "after": p(&opts.after), "model": p(&opts.model),
        "before_classes": p(&opts.before_classes), "after_classes": p(&opts.after_classes),
        "output": opts.output.display().to_string(),
        "stats_tile_px": opts.stats_tile_px,
        "zones": p(&opts.zones), "zone_field": opts.zone_field,
        "after_resampling": s.resampling.name(),
        "comparison_grid": {
            "x0_px": s.grid.x0_px, "y0_px": s.grid.y0_px,
            "width_px": s.grid.width_px, "height_px": s.grid.height_px,
            "geotransform": s.grid.geo_transform,
        },
        "segment": segment_parameters(&opts.segment),
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
    rasters.push(raster_record("output", &describe(&opts.output)?));
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
        pixel_area_m2: s.pixel_area_m2,
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

/// The record of a segment run: its class areas from the written class map.
pub fn segment_record(
    opts: &SegmentOptions,
    s: &Summary,
    started: String,
    finished: String,
) -> Result<RunRecord> {
    let (px, m2, pixel_area_m2) = change::class_areas(&opts.output, s.class_names.len())?;
    let valid_area_m2 = m2.iter().sum();
    let class_areas = (0..s.class_names.len())
        .map(|c| ClassAreaRecord {
            date: "classes".into(),
            class: c,
            pixels: px[c],
            area_m2: m2[c],
        })
        .collect();
    let mut parameters = segment_parameters(opts);
    parameters["input"] = json!(opts.input.display().to_string());
    parameters["model"] = json!(opts.model.display().to_string());
    parameters["output"] = json!(opts.output.display().to_string());
    Ok(RunRecord {
        command: "segment".into(),
        parameters,
        started,
        finished,
        output: opts.output.clone(),
        class_names: s.class_names.clone(),
        pixel_area_m2,
        valid_px: px.iter().sum(),
        valid_area_m2,
        models: models(
            Some(&opts.model),
            &s.class_names,
            opts.mask_model.as_deref(),
        )?,
        rasters: vec![
            raster_record("input", &describe(&opts.input)?),
            raster_record("output", &describe(&opts.output)?),
        ],
        class_areas,
        transitions: Vec::new(),
        tiles: Vec::new(),
        zones: Vec::new(),
    })
}

/// Removes an output (and its .aux.xml) when its run could not be logged, so that a
/// failed command leaves nothing behind.
fn remove_output(path: &Path) {
    let _ = std::fs::remove_file(path);
    let mut aux = path.as_os_str().to_owned();
    aux.push(".aux.xml");
    let _ = std::fs::remove_file(std::path::PathBuf::from(aux));
}

/// Runs `change`, logging it to `db` when given; returns the statistics and the run id.
pub fn change_logged(
    opts: &ChangeOptions,
    db: Option<&Path>,
) -> Result<(ChangeStats, Option<i64>)> {
    let mut store = db.map(Store::open).transpose()?;
    let started = super::utc_now();
    let stats = change::change(opts)?;
    let id = match store.as_mut() {
        Some(st) => {
            let logged =
                change_record(opts, &stats, started, super::utc_now()).and_then(|r| st.record(&r));
            match logged {
                Ok(id) => Some(id),
                Err(e) => {
                    remove_output(&opts.output);
                    return Err(e);
                }
            }
        }
        None => None,
    };
    Ok((stats, id))
}

/// Runs `segment`, logging it to `db` when given; returns the summary and the run id.
pub fn segment_logged(opts: &SegmentOptions, db: Option<&Path>) -> Result<(Summary, Option<i64>)> {
    let mut store = db.map(Store::open).transpose()?;
    let started = super::utc_now();
    let summary = crate::segment(opts)?;
    let id = match store.as_mut() {
        Some(st) => {
            let logged = segment_record(opts, &summary, started, super::utc_now())
                .and_then(|r| st.record(&r));
            match logged {
                Ok(id) => Some(id),
                Err(e) => {
                    remove_output(&opts.output);
                    return Err(e);
                }
            }
        }
        None => None,
    };
    Ok((summary, id))
}
