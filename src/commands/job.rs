//! `terratile job merge`'s statistics: every merged scene's class areas folded into one
//! statistics database (SQLite/GeoPackage), as `segment --db` logs them, once: a scene
//! whose stamp the database already holds is not logged again, so a merge run twice
//! (or after more items finished) adds no duplicates.

use std::path::Path;

use rusqlite::OptionalExtension;
use serde_json::json;

use super::segment::record;
use crate::error::Result;
use crate::job::merge::Merged;
use crate::job::{Job, Settings};
use crate::segment::Summary;
use crate::store::{self, Store};

/// Logs the merged scenes not yet in `db`; returns (logged, already there).
pub fn fold_statistics(
    db: &Path,
    job: &Job,
    job_file: &Path,
    merged: &[Merged],
) -> Result<(usize, usize)> {
    let mut st = Store::open(db)?;
    let (mut logged, mut there) = (0, 0);
    let settings: &Settings = &job.settings;
    for m in merged {
        let known: Option<i64> = st
            .connection()
            .query_row(
                "SELECT id FROM runs WHERE status = 'ok' AND json_extract(parameters, '$.job_stamp') = ?1",
                [&m.stamp],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| crate::Error::output(db, format!("cannot read the database: {e}")))?;
        if known.is_some() {
            there += 1;
            continue;
        }
        let mut opts = settings.to_options(job_file)?;
        opts.input = m.scene.input.clone();
        opts.output = m.output.clone();
        let names = crate::raster::ClassMap::open(&m.output)?.legend()?.names;
        let summary = Summary {
            output: m.output.clone(),
            width: m.scene.width_px,
            height: m.scene.height_px,
            tiles: 0,
            tiles_inferred: 0,
            tile_px: 0,
            overlap_px: 0,
            batch: 0,
            work_per_pixel: 0.0,
            seconds: 0.0,
            timing: Default::default(),
            class_names: names,
            class_counts: Vec::new(),
            notes: Vec::new(),
        };
        let now = store::utc_now();
        let mut rec = record(&opts, &summary, now.clone(), now)?;
        rec.parameters["job_stamp"] = json!(m.stamp);
        rec.parameters["job"] = json!(job_file.display().to_string());
        rec.parameters["scene"] = json!(m.scene.name);
        st.record(&rec)?;
        logged += 1;
    }
    Ok((logged, there))
}
