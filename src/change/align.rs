//! Alignment: AFTER's class map resampled onto the comparison grid with GDAL's warper.
//!
//! The class maps are compared, not the imagery: each date is segmented on its own grid
//! (so the model sees the pixels it was trained on), then AFTER's classes are warped onto
//! the comparison grid (BEFORE's grid, restricted to the intersection). Resampling is
//! nearest neighbour, or mode where AFTER's pixels are markedly smaller than BEFORE's
//! (several AFTER pixels vote for one comparison pixel). The result is a virtual raster
//! (GDAL's warped VRT, in memory): rows are warped as they are read, so memory stays
//! bounded by the rows in flight.

use std::ffi::CString;

use gdal::Dataset;

use super::grid::{outline, srs, CompareGrid};
use crate::error::{gdal_text, Error, Result};
use crate::read::RasterInfo;

/// The nodata value of the warped raster (UInt16).
pub const WARPED_NODATA: u16 = u16::MAX;

/// Resampling used for AFTER's class map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resampling {
    Nearest,
    Mode,
}

impl Resampling {
    pub fn name(self) -> &'static str {
        match self {
            Resampling::Nearest => "near",
            Resampling::Mode => "mode",
        }
    }
}

/// Nearest unless AFTER's pixels, measured in BEFORE's CRS, are less than 2/3 the size of
/// the comparison pixels (coarsening): then mode.
pub fn choose_resampling(after: &RasterInfo, grid: &CompareGrid) -> Result<Resampling> {
    let gt = after
        .geo_transform
        .unwrap_or([0.0, 1.0, 0.0, 0.0, 0.0, -1.0]);
    let (mut xs, mut ys) = outline(&gt, after.width, after.height, 8);
    let ct = gdal::spatial_ref::CoordTransform::new(
        &srs(&after.path, &after.projection)?,
        &srs(&after.path, &grid.projection)?,
    )
    .map_err(|e| Error::mismatch(&after.path, gdal_text(&e)))?;
    ct.transform_coords(&mut xs, &mut ys, &mut [])
        .map_err(|e| Error::mismatch(&after.path, gdal_text(&e)))?;
    let span = |v: &[f64]| {
        v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
            - v.iter().copied().fold(f64::INFINITY, f64::min)
    };
    let after_px = (span(&xs) / after.width as f64).min(span(&ys) / after.height as f64);
    let grid_px = grid.geo_transform[1].abs().min(grid.geo_transform[5].abs());
    Ok(if after_px < grid_px * 2.0 / 3.0 {
        Resampling::Mode
    } else {
        Resampling::Nearest
    })
}

/// A warped VRT and the source it reads (closed after the VRT, as gdalwarp does).
pub struct Warped {
    pub vrt: Dataset,
    _src: Dataset,
}

/// Warps `src` (a class map: band 1 is read; a confidence band is warped along, since
/// GDAL 3.6's warper has no band selection) onto `grid`: an in-memory warped VRT, UInt16, nodata
/// [`WARPED_NODATA`] where AFTER has nodata or no data at all.
pub fn warp_onto(src: &RasterInfo, grid: &CompareGrid, resampling: Resampling) -> Result<Warped> {
    let ds = crate::read::open(&src.path)?;
    let b = grid.bounds();
    let args: Vec<String> = ["-of", "VRT", "-ot", "UInt16", "-t_srs"]
        .iter()
        .map(|s| s.to_string())
        .chain([grid.projection.clone()])
        .chain(["-te".into()])
        .chain(b.iter().map(|v| format!("{v:.17e}")))
        .chain([
            "-ts".into(),
            grid.width_px.to_string(),
            grid.height_px.to_string(),
            "-r".into(),
            resampling.name().into(),
            "-dstnodata".into(),
            WARPED_NODATA.to_string(),
            "-wo".into(),
            "UNIFIED_SRC_NODATA=YES".into(),
        ])
        .collect();
    let cargs: Vec<CString> = args
        .iter()
        .map(|a| CString::new(a.as_str()).expect("no NUL in warp options"))
        .collect();
    let mut ptrs: Vec<*mut std::os::raw::c_char> =
        cargs.iter().map(|c| c.as_ptr() as *mut _).collect();
    ptrs.push(std::ptr::null_mut());
    let dest = CString::new("").expect("empty string");
    // SAFETY: a NULL-terminated argv of C strings that outlive the calls; the source
    // dataset outlives GDALWarp, and the VRT it returns keeps its own reference to it.
    let h = unsafe {
        let opts = gdal_sys::GDALWarpAppOptionsNew(ptrs.as_mut_ptr(), std::ptr::null_mut());
        if opts.is_null() {
            return Err(Error::Usage("GDAL rejected the warp options".into()));
        }
        let mut srcs = [ds.c_dataset()];
        let mut usage = 0;
        let h = gdal_sys::GDALWarp(
            dest.as_ptr(),
            std::ptr::null_mut(),
            1,
            srcs.as_mut_ptr(),
            opts,
            &mut usage,
        );
        gdal_sys::GDALWarpAppOptionsFree(opts);
        h
    };
    if h.is_null() {
        let msg = gdal::errors::GdalError::NullPointer {
            method_name: "GDALWarp",
            msg: String::new(),
        };
        return Err(Error::mismatch(
            &src.path,
            format!(
                "cannot be warped onto the comparison grid ({})",
                gdal_text(&msg)
            ),
        ));
    }
    // SAFETY: GDALWarp returned a new dataset handle that we now own.
    let vrt = unsafe { Dataset::from_c_dataset(h) };
    Ok(Warped { vrt, _src: ds })
}
