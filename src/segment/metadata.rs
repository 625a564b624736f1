//! What a class map says about the run that made it: GDAL dataset metadata items
//! (`TERRATILE_*`), readable with `gdalinfo`.

use super::mask::Mask;
use super::plan::{join, Plan};
use super::{file_name, SegmentOptions};
use crate::read::resample::Resample;

/// The `TERRATILE_*` metadata of a segment run.
pub fn of_run(
    opts: &SegmentOptions,
    plan: &Plan,
    resample: Option<&Resample>,
    on_input_grid: bool,
    mask: Option<&Mask>,
) -> Vec<(String, String)> {
    let mut metadata = vec![
        ("TERRATILE_VERSION".into(), env!("CARGO_PKG_VERSION").into()),
        ("TERRATILE_MODEL".into(), file_name(&opts.model)),
        ("TERRATILE_INPUT".into(), file_name(&opts.input)),
        ("TERRATILE_BANDS".into(), join(&plan.bands)),
        (
            "TERRATILE_TILE".into(),
            format!(
                "{} px, overlap {} px, margin {} px{}",
                plan.grid.tile_px,
                plan.grid.overlap_px,
                plan.grid.margin_px,
                if opts.tta { ", 8-way TTA" } else { "" }
            ),
        ),
    ];
    if let Some(r) = resample {
        metadata.push((
            "TERRATILE_RESAMPLED".into(),
            format!(
                "input {} -> model {:.2} m ({}){}",
                crate::read::resample::format_res(r.input_res_m),
                r.model_res_m,
                r.method.gdal_name(),
                if on_input_grid {
                    format!(
                        ", classes back on the input grid ({})",
                        r.back_method().gdal_name()
                    )
                } else {
                    String::new()
                }
            ),
        ));
    }
    if let Some(r) = &opts.rows {
        metadata.push((
            "TERRATILE_ROWS".into(),
            format!(
                "rows {}..{} of the input (a row-band shard)",
                r.start, r.end
            ),
        ));
    }
    metadata.extend(opts.extra_metadata.iter().cloned());
    if let Some(mk) = mask {
        metadata.push((
            "TERRATILE_MASK".into(),
            format!("{} classes {}", file_name(&mk.model), mk.describe()),
        ));
    }
    metadata
}
