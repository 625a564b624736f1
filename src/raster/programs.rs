//! GDAL's programs (`gdal_translate`, `gdalwarp`) called as library functions, for
//! virtual rasters that resample on read: the input at the model's resolution, the
//! model-grid classes back on the input grid, AFTER's classes on BEFORE's grid. The
//! options live in owning types freed on drop, and one [`Resampling`] names GDAL's
//! methods for both programs.

use std::ffi::{c_char, CString};
use std::path::Path;

use gdal::Dataset;

use super::{open, PixelGrid};
use crate::error::{last_gdal_error, Error, Result};

/// How GDAL resamples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resampling {
    Nearest,
    Bilinear,
    Average,
    Mode,
}

impl Resampling {
    /// GDAL's name for it (`-r` of gdal_translate and gdalwarp).
    pub fn gdal_name(self) -> &'static str {
        match self {
            Resampling::Nearest => "near",
            Resampling::Bilinear => "bilinear",
            Resampling::Average => "average",
            Resampling::Mode => "mode",
        }
    }
}

/// A program's arguments as a NULL-terminated C argv that outlives the options built
/// from it.
struct Argv {
    _owned: Vec<CString>,
    ptrs: Vec<*mut c_char>,
}

impl Argv {
    fn new(args: &[String]) -> Result<Argv> {
        let owned = args
            .iter()
            .map(|a| CString::new(a.as_str()))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|_| Error::Internal("a GDAL program argument holds a NUL byte".into()))?;
        let mut ptrs: Vec<*mut c_char> = owned.iter().map(|a| a.as_ptr() as *mut c_char).collect();
        ptrs.push(std::ptr::null_mut());
        Ok(Argv {
            _owned: owned,
            ptrs,
        })
    }
}

/// `gdal_translate` options, freed on drop.
struct TranslateOptions(*mut gdal_sys::GDALTranslateOptions);

impl TranslateOptions {
    fn new(args: &[String]) -> Result<TranslateOptions> {
        let mut argv = Argv::new(args)?;
        // SAFETY: a NULL-terminated argv of valid C strings; GDAL copies what it keeps.
        let p = unsafe {
            gdal_sys::GDALTranslateOptionsNew(argv.ptrs.as_mut_ptr(), std::ptr::null_mut())
        };
        if p.is_null() {
            return Err(Error::Internal(format!(
                "GDAL rejected the translate options {args:?} ({})",
                last_gdal_error()
            )));
        }
        Ok(TranslateOptions(p))
    }
}

impl Drop for TranslateOptions {
    fn drop(&mut self) {
        // SAFETY: created by GDALTranslateOptionsNew, freed once.
        unsafe { gdal_sys::GDALTranslateOptionsFree(self.0) }
    }
}

/// `gdalwarp` options, freed on drop.
struct WarpOptions(*mut gdal_sys::GDALWarpAppOptions);

impl WarpOptions {
    fn new(args: &[String]) -> Result<WarpOptions> {
        let mut argv = Argv::new(args)?;
        // SAFETY: a NULL-terminated argv of valid C strings; GDAL copies what it keeps.
        let p = unsafe {
            gdal_sys::GDALWarpAppOptionsNew(argv.ptrs.as_mut_ptr(), std::ptr::null_mut())
        };
        if p.is_null() {
            return Err(Error::Internal(format!(
                "GDAL rejected the warp options {args:?} ({})",
                last_gdal_error()
            )));
        }
        Ok(WarpOptions(p))
    }
}

impl Drop for WarpOptions {
    fn drop(&mut self) {
        // SAFETY: created by GDALWarpAppOptionsNew, freed once.
        unsafe { gdal_sys::GDALWarpAppOptionsFree(self.0) }
    }
}

/// Writes a VRT at `dst` that reads `src` at `width` x `height` pixels with `method`
/// (as `gdal_translate -of VRT -outsize width height -r method [-ot Float32]`).
pub fn resampling_vrt(
    src: &Path,
    dst: &Path,
    (width, height): (usize, usize),
    method: Resampling,
    float32: bool,
) -> Result<()> {
    let mut args: Vec<String> = vec!["-of".into(), "VRT".into()];
    if float32 {
        args.extend(["-ot".into(), "Float32".into()]);
    }
    args.extend([
        "-outsize".into(),
        width.to_string(),
        height.to_string(),
        "-r".into(),
        method.gdal_name().into(),
    ]);
    translate(src, dst, &args, "resampling VRT", |_| {})
}

/// `gdal_translate ARGS SRC DST` as a library call; `edit` may change the new dataset
/// before it is closed (and written). Errors name `dst` as the `what` (e.g. "window VRT").
fn translate(
    src: &Path,
    dst: &Path,
    args: &[String],
    what: &str,
    edit: impl FnOnce(gdal_sys::GDALDatasetH),
) -> Result<()> {
    let src_abs = src.canonicalize().unwrap_or_else(|_| src.to_path_buf());
    let ds = open(&src_abs)?;
    let fail = |why: String| {
        Error::output(
            dst,
            format!("cannot write the {what} ({why}); check the output folder is writable"),
        )
    };
    let opts = TranslateOptions::new(args)?;
    let c_dst = CString::new(dst.to_string_lossy().as_bytes())
        .map_err(|_| fail("the path holds a NUL byte".into()))?;
    let mut usage_error: std::ffi::c_int = 0;
    // SAFETY: the options and the source dataset are valid for the call; the returned
    // handle is ours, given to `edit` while it lives, and closed once (which writes it).
    unsafe {
        let out = gdal_sys::GDALTranslate(c_dst.as_ptr(), ds.c_dataset(), opts.0, &mut usage_error);
        if out.is_null() {
            return Err(fail(last_gdal_error()));
        }
        edit(out);
        gdal_sys::GDALClose(out);
    }
    Ok(())
}

/// Writes a VRT at `dst` that reads `src` as it is but declares `nodata` (one value for
/// every band, or one per band) in place of its own nodata (as `gdalwarp -srcnodata`):
/// readers and GDAL's resampling then treat those values as no data.
pub fn nodata_vrt(src: &Path, dst: &Path, nodata: &[f64]) -> Result<()> {
    let args = ["-of".to_string(), "VRT".to_string()];
    translate(src, dst, &args, "nodata VRT", |out| {
        // SAFETY: `out` is the live dataset handle; its bands live as long as it
        unsafe {
            let bands = gdal_sys::GDALGetRasterCount(out) as usize;
            for b in 1..=bands {
                let v = if nodata.len() == 1 {
                    nodata[0]
                } else {
                    nodata[b - 1]
                };
                let band = gdal_sys::GDALGetRasterBand(out, b as std::ffi::c_int);
                gdal_sys::GDALSetRasterNoDataValue(band, v);
            }
        }
    })
}

/// A warped VRT in memory and the source it reads (closed after the VRT, as gdalwarp
/// does).
pub struct Warped {
    pub vrt: Dataset,
    _src: Dataset,
}

/// Warps band values of `src` onto `grid` (which needs a geotransform): an in-memory
/// warped VRT of type UInt16 with nodata `dst_nodata` wherever `src` has nodata or no
/// data at all (`gdalwarp -of VRT -ot UInt16 -t_srs -te -ts -r -dstnodata`). Rows are
/// warped as they are read, so memory stays bounded.
pub fn warp_u16(
    src: &Path,
    grid: &PixelGrid,
    resampling: Resampling,
    dst_nodata: u16,
) -> Result<Warped> {
    let ds = open(src)?;
    let b = grid
        .bounds()
        .ok_or_else(|| Error::Internal("warp onto a grid without a geotransform".into()))?;
    let args: Vec<String> = ["-of", "VRT", "-ot", "UInt16", "-t_srs"]
        .iter()
        .map(|s| s.to_string())
        .chain([grid.crs_wkt.clone()])
        .chain(["-te".into()])
        .chain(b.iter().map(|v| format!("{v:.17e}")))
        .chain([
            "-ts".into(),
            grid.width_px.to_string(),
            grid.height_px.to_string(),
            "-r".into(),
            resampling.gdal_name().into(),
            "-dstnodata".into(),
            dst_nodata.to_string(),
            "-wo".into(),
            "UNIFIED_SRC_NODATA=YES".into(),
        ])
        .collect();
    let opts = WarpOptions::new(&args)?;
    let dest = CString::new("").expect("empty string");
    let mut srcs = [ds.c_dataset()];
    let mut usage = 0;
    // SAFETY: the source dataset outlives GDALWarp, and the VRT it returns keeps its own
    // reference to it; the options are valid for the call.
    let h = unsafe {
        gdal_sys::GDALWarp(
            dest.as_ptr(),
            std::ptr::null_mut(),
            1,
            srcs.as_mut_ptr(),
            opts.0,
            &mut usage,
        )
    };
    if h.is_null() {
        return Err(Error::mismatch(
            src,
            format!(
                "cannot be warped onto the comparison grid ({})",
                last_gdal_error()
            ),
        ));
    }
    // SAFETY: GDALWarp returned a new dataset handle that we now own.
    let vrt = unsafe { Dataset::from_c_dataset(h) };
    Ok(Warped { vrt, _src: ds })
}

/// Writes a VRT at `dst` that reads the window (`x0`, `y0`, `w`, `h`) of `src` (as
/// `gdal_translate -of VRT -srcwin`): a date cut to the part the other date covers.
pub fn window_vrt(
    src: &Path,
    dst: &Path,
    (x0, y0, w, h): (usize, usize, usize, usize),
) -> Result<()> {
    let args: Vec<String> = ["-of", "VRT", "-srcwin"]
        .iter()
        .map(|s| s.to_string())
        .chain([x0, y0, w, h].iter().map(|v| v.to_string()))
        .collect();
    translate(src, dst, &args, "window VRT", |_| {})
}

/// Writes a warped VRT at `dst` that reads every band of `src` onto `grid` with
/// `resampling`, keeping the data type, plus an alpha band that is 0 wherever `src` has
/// nodata or no data at all (`gdalwarp -of VRT -t_srs -te -ts -r -dstalpha`). Rows are
/// warped as they are read.
pub fn warp_vrt(src: &Path, dst: &Path, grid: &PixelGrid, resampling: Resampling) -> Result<()> {
    let src_abs = src.canonicalize().unwrap_or_else(|_| src.to_path_buf());
    let ds = open(&src_abs)?;
    let b = grid
        .bounds()
        .ok_or_else(|| Error::Internal("warp onto a grid without a geotransform".into()))?;
    let args: Vec<String> = ["-of", "VRT", "-t_srs"]
        .iter()
        .map(|s| s.to_string())
        .chain([grid.crs_wkt.clone()])
        .chain(["-te".into()])
        .chain(b.iter().map(|v| format!("{v:.17e}")))
        .chain([
            "-ts".into(),
            grid.width_px.to_string(),
            grid.height_px.to_string(),
            "-r".into(),
            resampling.gdal_name().into(),
            "-dstalpha".into(),
        ])
        .collect();
    let opts = WarpOptions::new(&args)?;
    let c_dst = CString::new(dst.to_string_lossy().as_bytes())
        .map_err(|_| Error::output(dst, "the path holds a NUL byte; choose another output path"))?;
    let mut srcs = [ds.c_dataset()];
    let mut usage = 0;
    // SAFETY: the source dataset outlives GDALWarp; the options are valid for the call;
    // the returned handle is ours and closed at once (which writes the VRT).
    unsafe {
        let h = gdal_sys::GDALWarp(
            c_dst.as_ptr(),
            std::ptr::null_mut(),
            1,
            srcs.as_mut_ptr(),
            opts.0,
            &mut usage,
        );
        if h.is_null() {
            return Err(Error::mismatch(
                src,
                format!(
                    "cannot be warped onto the comparison grid ({})",
                    last_gdal_error()
                ),
            ));
        }
        gdal_sys::GDALClose(h);
    }
    Ok(())
}
