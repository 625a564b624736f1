//! The dates of a comparison: every input checked before any work (so a bad AFTER fails
//! before BEFORE is segmented), then each date turned into a class map: segmented with
//! the streaming engine into a temporary COG beside the output, or taken as given
//! (`--before-classes`, `--after-classes`).

use std::path::{Path, PathBuf};

use super::stats::DateInput;
use super::ChangeOptions;
use crate::error::{Error, Result};
use crate::raster::{open, RasterInfo};
use crate::segment::{renamed_interruption, segment, SegmentOptions};
use crate::write::output::{check_writable, refuse_overwriting, TempFiles};

/// Checks the flags, the output path and every input before any date is segmented.
pub fn check(opts: &ChangeOptions) -> Result<()> {
    if opts.stats_tile_px == 0 {
        return Err(Error::Usage("--stats-tile must be at least 1 pixel".into()));
    }
    let inputs: Vec<&Path> = [
        &opts.before,
        &opts.after,
        &opts.before_classes,
        &opts.after_classes,
    ]
    .into_iter()
    .filter_map(|p| p.as_deref())
    .collect();
    refuse_overwriting(&opts.output, &inputs, "one of the inputs")?;
    let models: Vec<&Path> = [&opts.model, &opts.segment.mask_model, &opts.zones]
        .into_iter()
        .filter_map(|p| p.as_deref())
        .collect();
    refuse_overwriting(&opts.output, &models, "the model or zones file")?;
    // the folder, before any segmentation writes temporary class maps beside it
    check_writable(&opts.output)?;
    opts.segment.publish.check(&opts.output)?;
    if let Some(d) = &opts.keep_classes {
        if !d.is_dir() {
            return Err(Error::output(
                d,
                "is not a folder; create it or choose another --keep-classes folder",
            ));
        }
        // the class maps kept there may not replace a file the run reads
        for label in ["before", "after"] {
            let kept = kept_path(d, label);
            refuse_overwriting(&kept, &inputs, "one of the inputs")?;
            refuse_overwriting(&kept, &models, "the model or zones file")?;
        }
    }
    for (img, cls, flag) in [
        (&opts.before, &opts.before_classes, "BEFORE"),
        (&opts.after, &opts.after_classes, "AFTER"),
    ] {
        match (img, cls) {
            (_, Some(c)) => drop(open(c)?),
            (Some(i), None) => {
                drop(open(i)?);
                if opts.model.is_none() {
                    return Err(Error::Usage(format!(
                        "{flag} imagery {} needs a model to segment it: pass -m MODEL.onnx, or its class map with --{}-classes",
                        i.display(),
                        flag.to_lowercase()
                    )));
                }
            }
            (None, None) => {
                return Err(Error::Usage(format!(
                    "no {flag} date: pass {flag} imagery with -m MODEL.onnx, or --{}-classes CLASSES.tif",
                    flag.to_lowercase()
                )))
            }
        }
    }
    if let Some(m) = &opts.model {
        if !m.exists() {
            return Err(Error::model(m, "no such file; check the model path"));
        }
    }
    if opts.zone_field.is_some() && opts.zones.is_none() {
        return Err(Error::Usage("--zone-field needs --zones ZONES.gpkg".into()));
    }
    Ok(())
}

/// Where `--keep-classes DIR` keeps the class map of the date `label`.
pub fn kept_path(dir: &Path, label: &str) -> PathBuf {
    dir.join(format!("{label}_classes.tif"))
}

/// The raster that stands for a date's grid before it is segmented: its class map when
/// given, else its imagery.
pub fn grid_raster(imagery: &Option<PathBuf>, classes: &Option<PathBuf>) -> Result<RasterInfo> {
    let p = classes
        .as_ref()
        .or(imagery.as_ref())
        .ok_or_else(|| Error::Internal("a date without imagery or classes".into()))?;
    RasterInfo::open(p)
}

/// Segments a date when needed; describes its class map.
pub fn date_input(
    opts: &ChangeOptions,
    label: &str,
    imagery: &Option<PathBuf>,
    classes: &Option<PathBuf>,
    temps: &TempFiles,
) -> Result<DateInput> {
    let imagery_info = imagery.as_deref().map(RasterInfo::open).transpose()?;
    if let Some(c) = classes {
        return Ok(DateInput {
            imagery: imagery_info,
            classes: RasterInfo::open(c)?,
            segmented: None,
            shown_as: None,
        });
    }
    let (Some(input), Some(model)) = (imagery, &opts.model) else {
        return Err(Error::Internal(format!(
            "the {label} date has neither classes nor imagery and a model"
        )));
    };
    let out = match &opts.keep_classes {
        Some(dir) => kept_path(dir, label),
        None => temps.path(&format!("{label}-classes.tif")),
    };
    let seg = SegmentOptions {
        input: input.clone(),
        output: out.clone(),
        model: model.clone(),
        ..opts.segment.clone()
    };
    let summary = segment(&seg).map_err(|e| renamed_interruption(e, &opts.output))?;
    Ok(DateInput {
        imagery: imagery_info,
        classes: RasterInfo::open(&out)?,
        segmented: Some(summary),
        shown_as: None,
    })
}
