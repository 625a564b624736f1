//! The input's values as the user describes them: `--scale`/`--offset` in place of the
//! model's input scaling, `--src-nodata` in place of the raster's nodata, and a note when
//! a sample of the input, scaled and standardised as the model will see it, lies far from
//! the values the model was trained on (raw digital numbers into a reflectance model).

use std::path::{Path, PathBuf};

use super::SegmentOptions;
use crate::error::{Error, Result};
use crate::infer::ModelInfo;
use crate::prepare;
use crate::raster::{programs, RasterInfo};
use crate::read;
use crate::write::output::TempFiles;

/// `--scale` and `--offset` replace the model's input scaling.
pub fn apply_flags(opts: &SegmentOptions, info: &mut ModelInfo) {
    if let Some(s) = opts.scale {
        info.input_scale = s;
    }
    if let Some(o) = opts.offset {
        info.input_offset = o;
    }
}

/// The file to read: the input, or (with `--src-nodata`) a VRT over it that declares
/// those values as nodata, so reading, resampling and masking all leave them out.
pub fn nodata_source(
    opts: &SegmentOptions,
    raster: &RasterInfo,
    temps: &TempFiles,
) -> Result<PathBuf> {
    let Some(values) = &opts.src_nodata else {
        return Ok(opts.input.clone());
    };
    check_nodata_count(values, raster)?;
    let vrt = temps.path("nodata.vrt");
    programs::nodata_vrt(&opts.input, &vrt, values)?;
    Ok(vrt)
}

/// One `--src-nodata` value for every band, or one per band.
pub fn check_nodata_count(values: &[f64], raster: &RasterInfo) -> Result<()> {
    if values.is_empty() || (values.len() != 1 && values.len() != raster.band_count) {
        return Err(Error::mismatch(
            &raster.path,
            format!(
                "has {} bands but --src-nodata lists {} values; give one value for every band (e.g. --src-nodata 0) or one per band",
                raster.band_count,
                values.len()
            ),
        ));
    }
    Ok(())
}

/// A note when a sample of `source`'s `bands`, as the model will see them, lies far
/// from the model's training values; None when they fit or the model declares no
/// standardisation to compare with.
pub fn check_values(
    source: &Path,
    raster: &RasterInfo,
    bands: &[usize],
    info: &ModelInfo,
) -> Result<Option<String>> {
    if !prepare::declares_standardisation(&info.mean, &info.std) {
        return Ok(None);
    }
    let sample = read::sample_values(source, bands)?;
    Ok(prepare::far_from_training(
        &sample,
        info.input_scale,
        info.input_offset,
        &info.mean,
        &info.std,
        &info.band_names,
    )
    .map(|why| {
        format!(
            "{}: {why}, far from what {} was trained on; check the raster's units and set the input scaling with --scale and --offset (now x {} + {})",
            raster.path.display(),
            info.path.display(),
            info.input_scale,
            info.input_offset
        )
    }))
}
