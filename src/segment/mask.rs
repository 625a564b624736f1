//! The mask model: a second model (e.g. the ukis-csmask cloud/shadow U-Net) segmented
//! over the grid the main model reads, into a temporary class map; pixels it puts in
//! `--mask-classes` become nodata in the output.

use std::path::{Path, PathBuf};

use super::{renamed_interruption, segment, SegmentOptions};
use crate::error::{Error, Result};
use crate::write::output::TempFiles;

/// The mask model's classes that become nodata, and where its class map is.
pub struct Mask {
    pub model: PathBuf,
    pub path: PathBuf,
    pub classes: Vec<u32>,
    pub names: Vec<String>,
}

impl Mask {
    /// "1 cloud, 2 shadow".
    pub fn describe(&self) -> String {
        self.classes
            .iter()
            .map(|&c| format!("{c} {}", self.names[c as usize]))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A mask model needs the classes to mask.
pub fn check_flags(opts: &SegmentOptions) -> Result<()> {
    if let Some(m) = &opts.mask_model {
        if opts.mask_classes.is_empty() {
            return Err(Error::Usage(format!(
                "--mask-model {} needs --mask-classes: the mask model's classes that become nodata (e.g. 1,2 for cloud and shadow)",
                m.display()
            )));
        }
    }
    Ok(())
}

/// Runs the mask model over `work` (the grid the main model reads) into a temporary
/// class map.
pub fn run(
    opts: &SegmentOptions,
    model: &Path,
    work: &Path,
    temps: &TempFiles,
    threads: usize,
) -> Result<Mask> {
    let out = temps.path("mask.tif");
    let sub = SegmentOptions {
        input: work.to_path_buf(),
        model: model.to_path_buf(),
        output: out.clone(),
        bands: opts.mask_bands.clone(),
        threads: Some(threads),
        device: opts.device,
        ort_lib: opts.ort_lib.clone(),
        ..SegmentOptions::default()
    };
    let s = segment(&sub).map_err(|e| match renamed_interruption(e, &opts.output) {
        // a band mismatch of the mask model: say which flag fixes it
        Error::Mismatch {
            path,
            problem,
            source,
        } => Error::Mismatch {
            path,
            problem: format!(
                "{problem} (for the mask model {}; choose its bands with --mask-bands)",
                model.display()
            ),
            source,
        },
        other => other,
    })?;
    if let Some(&c) = opts
        .mask_classes
        .iter()
        .find(|&&c| c as usize >= s.class_names.len())
    {
        return Err(Error::Usage(format!(
            "--mask-classes {c}: {} has classes 0..{} ({}); choose among those",
            model.display(),
            s.class_names.len().saturating_sub(1),
            s.class_names
                .iter()
                .enumerate()
                .map(|(i, n)| format!("{i} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(Mask {
        model: model.to_path_buf(),
        path: out,
        classes: opts.mask_classes.clone(),
        names: s.class_names,
    })
}
