//! Between grids: the input read at the model's resolution (a resampling VRT, so the
//! model sees pixels of the size it was trained on), and the class map brought back onto
//! the input's grid afterwards (nearest when the model grid is coarser, mode when it is
//! finer), keeping the input's nodata.

use std::path::{Path, PathBuf};

use super::SegmentOptions;
use crate::cancel;
use crate::error::{Error, Result};
use crate::infer::ModelInfo;
use crate::raster::{programs, ClassMap, RasterInfo};
use crate::read::resample::{self, Resample};
use crate::read::Reader;
use crate::stitch::Rows;
use crate::write::output::TempFiles;
use crate::write::{ClassWriter, OutputSpec};

/// The raster the model reads.
pub struct Work {
    /// The input, or a temporary VRT that resamples it.
    pub path: PathBuf,
    /// Its description; its path names the user's input in messages.
    pub raster: RasterInfo,
    /// How the input is resampled, when it is.
    pub resample: Option<Resample>,
}

/// The most a raster's pixels are refined to reach the model's resolution (per axis): a
/// coarse raster (a 0.5 degree grid under a 10 m model) would otherwise become a grid of
/// billions of pixels that runs for days.
pub const MAX_UPSAMPLING: f64 = 100.0;

/// The input as the model reads it: at the model's declared resolution when the input's
/// differs (unless `--no-resample`), else as it is.
pub fn model_grid(
    opts: &SegmentOptions,
    raster: &RasterInfo,
    info: &ModelInfo,
    temps: &TempFiles,
    notes: &mut Vec<String>,
) -> Result<Work> {
    let resample = if opts.no_resample {
        None
    } else {
        resample::plan(raster, info.resolution_m)
    };
    let Some(r) = resample else {
        return Ok(Work {
            path: opts.input.clone(),
            raster: raster.clone(),
            resample: None,
        });
    };
    let size = (r.grid.width_px, r.grid.height_px);
    if r.input_res_m > MAX_UPSAMPLING * r.model_res_m {
        return Err(Error::mismatch(
            &opts.input,
            format!(
                "has {:.2} m pixels and {} was trained on {:.2} m: resampling would make {}x{} px ({:.0} times finer, more than {MAX_UPSAMPLING}); pass --no-resample to run on the raster's own pixels, or give a raster nearer the model's resolution",
                r.input_res_m,
                opts.model.display(),
                r.model_res_m,
                size.0,
                size.1,
                r.input_res_m / r.model_res_m
            ),
        ));
    }
    let vrt = temps.path("input.vrt");
    programs::resampling_vrt(&opts.input, &vrt, size, r.method, true)?;
    let mut work = RasterInfo::open(&vrt)?;
    work.path = opts.input.clone(); // messages name the user's file
    notes.push(format!(
        "{} has {:.2} m pixels and {} was trained on {:.2} m: resampled on read ({}, {}x{} px){}",
        opts.input.display(),
        r.input_res_m,
        opts.model.display(),
        r.model_res_m,
        r.method.gdal_name(),
        size.0,
        size.1,
        if opts.model_grid {
            "; output on the model grid (--model-grid)".to_string()
        } else {
            format!(
                "; output on the input grid ({})",
                r.back_method().gdal_name()
            )
        }
    ));
    Ok(Work {
        path: vrt,
        raster: work,
        resample: Some(r),
    })
}

/// Brings the class map `model_grid` back onto the input grid of `spec`, keeps the
/// input's nodata (its `bands` are read for their validity), and writes the output COG.
/// Streams blocks of rows. Returns the class counts.
pub fn to_input_grid(
    model_grid: &Path,
    input: &Path,
    bands: &[usize],
    r: &Resample,
    spec: OutputSpec,
    temps: &TempFiles,
) -> Result<Vec<u64>> {
    let (w, h) = (spec.grid.width_px, spec.grid.height_px);
    let vrt = temps.path("input-grid.vrt");
    programs::resampling_vrt(model_grid, &vrt, (w, h), r.back_method(), false)?;
    let classes_back = ClassMap::open(&vrt)?;
    let mut reader = Reader::new(input, bands)?;
    let nodata = spec.nodata();
    let classes = spec.class_names.len();
    let confidence = spec.confidence;
    let out_path = spec.path.clone();
    let mut writer = ClassWriter::create(spec)?;
    let mut counts = vec![0u64; classes];
    let mut bufs = vec![Vec::new(); bands.len()];
    let block = 256usize;
    for y0 in (0..h).step_by(block) {
        if cancel::requested() {
            return Err(Error::Interrupted(out_path.clone()));
        }
        let bh = block.min(h - y0);
        let n = w * bh;
        let rect = tiles::Rect {
            x0: 0,
            y0,
            w,
            h: bh,
        };
        let mut valid = vec![0u8; n];
        reader.read(rect, &mut bufs, &mut valid)?;
        let mut planes = Vec::new();
        for b in 1..=(1 + confidence as usize) {
            let mut p = vec![0u16; n];
            classes_back.read_u16(b, (0, y0), (w, bh), &mut p)?;
            planes.push(p);
        }
        let mut row_counts = vec![0u64; classes];
        for i in 0..n {
            if valid[i] == 0 {
                for p in planes.iter_mut() {
                    p[i] = nodata;
                }
            } else if (planes[0][i] as usize) < classes {
                row_counts[planes[0][i] as usize] += 1;
            }
        }
        for (c, k) in counts.iter_mut().zip(&row_counts) {
            *c += k;
        }
        let mut it = planes.into_iter();
        let rows = Rows {
            y0,
            h: bh,
            width: w,
            classes: it.next().expect("class plane"),
            confidence: it.next(),
            class_counts: row_counts,
        };
        writer.write_rows(&rows)?;
    }
    drop(classes_back);
    writer.finish(&counts)?;
    Ok(counts)
}
