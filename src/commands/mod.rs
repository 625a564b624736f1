//! The commands: each runs one job and, with `--db`, logs it to the statistics database
//! (the database is opened first, so a database that cannot be written stops the run
//! before any work). This layer sits above the jobs ([`crate::segment`],
//! [`crate::change`]) and the database ([`crate::store`]), which know nothing of each
//! other; it turns a job's results into the database's records.

pub mod change;
pub mod change_model;
pub mod inspect;
pub mod job;
pub mod segment;
pub mod series;

use std::path::Path;

use serde_json::json;

use crate::error::{Error, Result};
use crate::raster::RasterInfo;
use crate::segment::SegmentOptions;
use crate::store::{self, ModelRecord, RasterRecord, RunEnd, RunRecord, Store};
use crate::write::output::{refuse_db_clash, remove_with_companions};

/// A raster as the database records it.
pub(crate) fn raster_record(role: &str, r: &RasterInfo) -> RasterRecord {
    RasterRecord {
        role: role.into(),
        path: r.path.clone(),
        width_px: r.grid.width_px,
        height_px: r.grid.height_px,
        bands: r.band_count,
        crs_wkt: r.grid.crs_wkt.clone(),
        geo_transform: r.grid.geo_transform.map(|g| g.0),
    }
}

/// The engine settings of a run, as JSON.
pub(crate) fn segment_parameters(o: &SegmentOptions) -> serde_json::Value {
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

/// The models of a run, with their checksums.
pub(crate) fn models(
    model: Option<&Path>,
    classes: &[String],
    mask: Option<&Path>,
) -> Result<Vec<ModelRecord>> {
    let mut v = Vec::new();
    if let Some(m) = model {
        v.push(ModelRecord {
            role: "segmentation".into(),
            path: m.to_path_buf(),
            sha256: store::sha256_file(m)?,
            classes: classes.to_vec(),
        });
    }
    if let Some(m) = mask {
        v.push(ModelRecord {
            role: "mask".into(),
            path: m.to_path_buf(),
            sha256: store::sha256_file(m)?,
            classes: Vec::new(),
        });
    }
    Ok(v)
}

/// What a run is, for the database, before it has any results: its command and
/// parameters (recorded as they are when the run does not finish).
pub(crate) struct RunHead<'a> {
    pub command: &'a str,
    pub parameters: serde_json::Value,
    pub output: &'a Path,
    /// The files the run reads (the database may be none of them).
    pub inputs: Vec<&'a Path>,
}

/// Runs `job`, logging its record to `db` when given; returns the job's result and the
/// run id. The database may be neither the output nor a file an input reads (checked
/// before it is opened). When the run cannot be logged its output is removed, so that a
/// failed command leaves nothing behind.
///
/// A run that fails or is interrupted (Ctrl-C) is recorded too, as `failed` or
/// `interrupted` with its error line and no figures (schema 3). Recording it, rather than
/// removing a database this run created, keeps the log complete: a database shared by
/// many runs says which of them did not finish and why, and one the run created is not
/// left empty. (A second Ctrl-C exits at once and records nothing.)
pub(crate) fn logged<T>(
    db: Option<&Path>,
    head: RunHead<'_>,
    job: impl FnOnce() -> Result<T>,
    record: impl FnOnce(&T, String, String) -> Result<RunRecord>,
) -> Result<(T, Option<i64>)> {
    logged_by(db, head, job, |r, started, finished, st| {
        st.record(&record(r, started, finished)?)
    })
}

/// [`logged`], with the job's records written by `write` (given the job's result, the
/// start and end times and the open database; it returns the run id).
pub(crate) fn logged_by<T>(
    db: Option<&Path>,
    head: RunHead<'_>,
    job: impl FnOnce() -> Result<T>,
    write: impl FnOnce(&T, String, String, &mut Store) -> Result<i64>,
) -> Result<(T, Option<i64>)> {
    if let Some(db) = db {
        refuse_db_clash(db, head.output, &head.inputs)?;
    }
    let mut store = db.map(Store::open).transpose()?;
    let started = store::utc_now();
    let unfinished = |store: &mut Option<Store>, e: &Error| {
        if let Some(st) = store.as_mut() {
            let end = match e {
                Error::Interrupted(_) => RunEnd::Interrupted,
                _ => RunEnd::Failed,
            };
            let times = (started.as_str(), store::utc_now());
            // the run's own error is the one reported; failing to log it adds nothing
            let _ = st.record_unfinished(
                head.command,
                &head.parameters,
                (times.0, &times.1),
                head.output,
                end,
                &e.to_string(),
            );
        }
    };
    let result = match job() {
        Ok(r) => r,
        Err(e) => {
            unfinished(&mut store, &e);
            return Err(e);
        }
    };
    let Some(st) = store.as_mut() else {
        return Ok((result, None));
    };
    let logged = write(&result, started.clone(), store::utc_now(), st);
    match logged {
        Ok(id) => Ok((result, Some(id))),
        Err(e) => {
            remove_with_companions(head.output);
            unfinished(&mut store, &e);
            Err(e)
        }
    }
}
