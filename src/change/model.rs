//! Bi-temporal change models (`terratile change BEFORE AFTER --change-model M.onnx`): a
//! model that sees both dates at once (a Siamese U-Net, BIT, ChangeFormer, a
//! differencing rule) runs over the comparison grid with the segment engine.
//!
//! [`change_with_model()`] reads as the table of contents:
//! 1. every input, flag and the output path checked before any work;
//! 2. the comparison grid ([`super::grid`]): BEFORE's grid cut to the overlap;
//! 3. the model ([`crate::infer::load_change`]): its layout (two inputs, stacked bands,
//!    a temporal axis) from its inputs' names and shapes, or its sidecar;
//! 4. each date's bands, and both dates on the comparison grid: BEFORE's window (a VRT),
//!    AFTER's own window when its pixels coincide with BEFORE's (read exactly), else
//!    AFTER warped onto it (a bilinear warped VRT; an alpha band marks where AFTER has no
//!    data);
//! 5. the streamed pass of [`crate::segment::pipeline`] over both dates at once (each
//!    tile reads both windows, nodata in either date is nodata), blended and written as
//!    a class map of the model's change classes.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use gdal::spatial_ref::SpatialRef;
use tiles::Grid;

use super::grid::{intersect, CompareGrid};
use super::ChangeOptions;
use crate::error::{Error, Result};
use crate::infer::{self, ChangeLayout};
use crate::raster::programs::{self, Resampling};
use crate::raster::RasterInfo;
use crate::read::Source;
use crate::segment::plan::join;
use crate::segment::rows::RowWindow;
use crate::segment::scaling::{apply_flags, check_nodata_count};
use crate::segment::{choose_bands, file_name, ort_threads, pipeline, plan, Summary};
use crate::write::output::{
    check_writable, refuse_overwriting, remove_stale, stale_note, TempFiles,
};
use crate::write::OutputSpec;

/// What a change-model run did.
#[derive(Debug, Clone)]
pub struct ModelChange {
    /// The run as a segment run: output, tiles, class counts, notes.
    pub summary: Summary,
    pub before: RasterInfo,
    pub after: RasterInfo,
    pub grid: CompareGrid,
    pub layout: ChangeLayout,
    /// How AFTER was read on the comparison grid.
    pub after_resampling: Resampling,
    pub class_colors: Vec<[u8; 3]>,
}

impl fmt::Display for ModelChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (change model, {} layout)",
            self.summary,
            self.layout.name()
        )
    }
}

/// Runs `opts.change_model` over BEFORE and AFTER into the change class map
/// `opts.output`.
pub fn change_with_model(opts: &ChangeOptions) -> Result<ModelChange> {
    let started = Instant::now();
    // 1. inputs, flags and the output, before any work
    let (before_path, after_path, model) = check(opts)?;
    let before = RasterInfo::open(before_path)?;
    let after = RasterInfo::open(after_path)?;
    let stale = remove_stale(&opts.output);
    // 2. the comparison grid: no overlap is an error naming both files
    let cmp = intersect(&before, &after)?;
    // 3. the model and its layout
    let seg = &opts.segment;
    let threads = seg.thread_budget();
    let mut engine = infer::load_change(
        model,
        seg.ort_lib.as_deref(),
        ort_threads(threads),
        seg.device,
    )?;
    apply_flags(seg, &mut engine.info);
    let info = engine.info.clone();
    let layout = info
        .layout
        .change_layout()
        .ok_or_else(|| Error::Internal("a change model loaded as an image model".into()))?;
    let temps = TempFiles::beside(&opts.output);
    let mut notes: Vec<String> = stale_note(&opts.output, &stale).into_iter().collect();

    // 4. bands (planned on BEFORE's window, so that notes name BEFORE), both dates on the
    //    comparison grid
    let mut window = before.clone();
    window.grid = cmp.grid.clone();
    let seg_opts = crate::SegmentOptions {
        input: before.path.clone(),
        model: model.to_path_buf(),
        output: opts.output.clone(),
        ..seg.clone()
    };
    let plan = plan(&seg_opts, &info, &window)?;
    let grid = Grid::new(plan.grid)?;
    let (after_bands, _) = choose_bands(seg.bands.as_ref(), &info, &after)?;
    if after_bands != plan.bands {
        notes.push(format!(
            "{}: bands {} (BEFORE's are {})",
            after.path.display(),
            join(&after_bands),
            join(&plan.bands)
        ));
    }
    let before_src = with_src_nodata(seg, &before, &temps, "before")?;
    let after_src = with_src_nodata(seg, &after, &temps, "after")?;
    let before_read = if cmp.grid.width_px == before.grid.width_px
        && cmp.grid.height_px == before.grid.height_px
    {
        before_src
    } else {
        let p = temps.path("before-window.vrt");
        programs::window_vrt(
            &before_src,
            &p,
            (cmp.x0_px, cmp.y0_px, cmp.width_px(), cmp.height_px()),
        )?;
        p
    };
    // AFTER on the comparison grid: its own window when its pixels coincide (read
    // exactly, each band's nodata kept), else warped
    let after_read = temps.path("after-on-before.vrt");
    let after_resampling = match aligned_window(&after, &cmp)? {
        Some(win) => {
            programs::window_vrt(&after_src, &after_read, win)?;
            Resampling::Nearest
        }
        None => {
            programs::warp_vrt(&after_src, &after_read, &cmp.grid, Resampling::Bilinear)?;
            Resampling::Bilinear
        }
    };

    // 5. the streamed pass over both dates
    let spec = OutputSpec {
        path: opts.output.clone(),
        grid: cmp.grid.clone(),
        class_names: info.class_names.clone(),
        class_colors: info.class_colors.clone(),
        confidence: seg.confidence,
        threads,
        metadata: metadata(opts, model, layout, &plan, after_resampling),
        publish: seg.publish.clone(),
        overviews: false,
    };
    let sources = [
        Source {
            path: before_read,
            bands: plan.bands.clone(),
        },
        Source {
            path: after_read,
            bands: after_bands,
        },
    ];
    let done = pipeline::run(
        &seg_opts,
        &mut engine,
        &plan,
        &grid,
        &RowWindow::whole(&grid),
        &sources,
        None,
        spec,
    )?;
    done.writer.finish(&done.class_counts)?;
    drop(temps);
    notes.extend(engine.notes.iter().chain(&plan.notes).cloned());
    // `--min-area` / `--vector`: the model's change classes are plain classes
    let polygons =
        crate::vector::after_class_map(&opts.output, &opts.polygons, &seg.publish, threads, None)?;
    notes.extend(polygons.notes);
    let summary = Summary {
        work_per_pixel: plan.work_per_pixel(),
        output: opts.output.clone(),
        width: cmp.width_px(),
        height: cmp.height_px(),
        tiles: grid.tile_count(),
        tiles_inferred: done.tiles_inferred,
        tile_px: plan.grid.tile_px,
        overlap_px: plan.grid.overlap_px,
        batch: plan.batch,
        seconds: started.elapsed().as_secs_f64(),
        timing: engine.timing,
        class_names: info.class_names.clone(),
        class_counts: done.class_counts,
        notes,
    };
    Ok(ModelChange {
        summary,
        before,
        after,
        grid: cmp,
        layout,
        after_resampling,
        class_colors: info.class_colors,
    })
}

/// Checks the flags, the inputs and the output path; returns BEFORE, AFTER and the model.
fn check(opts: &ChangeOptions) -> Result<(&Path, &Path, &Path)> {
    let model = opts
        .change_model
        .as_deref()
        .ok_or_else(|| Error::Internal("change_with_model without a change model".into()))?;
    for (given, flag) in [
        (opts.model.is_some(), "-m/--model"),
        (opts.before_classes.is_some(), "--before-classes"),
        (opts.after_classes.is_some(), "--after-classes"),
        (opts.keep_classes.is_some(), "--keep-classes"),
        (opts.zones.is_some(), "--zones"),
        (opts.class_map.is_some(), "--class-map"),
        (opts.segment.mask_model.is_some(), "--mask-model"),
    ] {
        if given {
            return Err(Error::Usage(format!(
                "{flag} does not apply to --change-model (the model sees both dates' imagery and gives the change classes itself); drop {flag}"
            )));
        }
    }
    let (Some(before), Some(after)) = (opts.before.as_deref(), opts.after.as_deref()) else {
        return Err(Error::Usage(
            "--change-model needs the imagery of both dates: terratile change BEFORE.tif AFTER.tif --change-model M.onnx -o CHANGE.tif".into(),
        ));
    };
    refuse_overwriting(&opts.output, &[before, after], "one of the inputs")?;
    refuse_overwriting(&opts.output, &[model], "the model")?;
    check_writable(&opts.output)?;
    opts.polygons.check(&opts.output, &[before, after, model])?;
    opts.segment.publish.check(&opts.output)?;
    if !model.exists() {
        return Err(Error::model(
            model,
            "no such file; check the path given to --change-model",
        ));
    }
    Ok((before, after, model))
}

/// The date as read: its file, or (with `--src-nodata`) a VRT declaring those values as
/// nodata.
fn with_src_nodata(
    seg: &crate::SegmentOptions,
    raster: &RasterInfo,
    temps: &TempFiles,
    label: &str,
) -> Result<PathBuf> {
    let Some(values) = &seg.src_nodata else {
        return Ok(raster.path.clone());
    };
    check_nodata_count(values, raster)?;
    let vrt = temps.path(&format!("{label}-nodata.vrt"));
    programs::nodata_vrt(&raster.path, &vrt, values)?;
    Ok(vrt)
}

/// AFTER's window that covers the comparison grid pixel for pixel, when AFTER's pixels
/// coincide with it (same CRS, same pixel size, origins a whole number of pixels apart)
/// and it covers all of it; None when AFTER must be warped.
fn aligned_window(
    after: &RasterInfo,
    cmp: &CompareGrid,
) -> Result<Option<(usize, usize, usize, usize)>> {
    let Some(agt) = after.grid.geo_transform else {
        return Ok(None);
    };
    let same_crs = match (
        SpatialRef::from_wkt(&after.grid.crs_wkt),
        SpatialRef::from_wkt(&cmp.grid.crs_wkt),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    let (a, g) = (agt.0, cmp.gt().0);
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-9 * y.abs().max(1.0);
    let whole = |d: f64, px: f64| -> Option<i64> {
        let k = d / px;
        ((k - k.round()).abs() < 1e-6).then_some(k.round() as i64)
    };
    if !(same_crs && close(a[1], g[1]) && close(a[5], g[5]) && a[2] == 0.0 && a[4] == 0.0) {
        return Ok(None);
    }
    let (Some(x0), Some(y0)) = (whole(g[0] - a[0], a[1]), whole(g[3] - a[3], a[5])) else {
        return Ok(None);
    };
    let (w, h) = (cmp.width_px(), cmp.height_px());
    let inside = x0 >= 0
        && y0 >= 0
        && x0 as usize + w <= after.grid.width_px
        && y0 as usize + h <= after.grid.height_px;
    Ok(inside.then_some((x0 as usize, y0 as usize, w, h)))
}

/// The `TERRATILE_*` metadata of a change-model run.
fn metadata(
    opts: &ChangeOptions,
    model: &Path,
    layout: ChangeLayout,
    plan: &crate::segment::Plan,
    resampling: Resampling,
) -> Vec<(String, String)> {
    let name = |p: &Option<PathBuf>| p.as_deref().map(file_name).unwrap_or_default();
    vec![
        ("TERRATILE_VERSION".into(), env!("CARGO_PKG_VERSION").into()),
        ("TERRATILE_CHANGE_MODEL".into(), file_name(model)),
        ("TERRATILE_CHANGE_LAYOUT".into(), layout.name().into()),
        ("TERRATILE_BEFORE".into(), name(&opts.before)),
        ("TERRATILE_AFTER".into(), name(&opts.after)),
        (
            "TERRATILE_AFTER_RESAMPLING".into(),
            resampling.gdal_name().into(),
        ),
        ("TERRATILE_BANDS".into(), join(&plan.bands)),
        (
            "TERRATILE_TILE".into(),
            format!(
                "{} px, overlap {} px, margin {} px{}",
                plan.grid.tile_px,
                plan.grid.overlap_px,
                plan.grid.margin_px,
                if plan.tta { ", 8-way TTA" } else { "" }
            ),
        ),
    ]
}
