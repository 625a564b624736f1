//! Reading at the model's resolution. A model trained on 30 m pixels sees 10 m pixels
//! as a zoomed-in, different world; when a model declares its resolution and the input
//! differs by more than [`TOLERANCE`], the input is resampled on read: GDAL averages
//! when coarsening and interpolates bilinearly when refining, through a VRT (the same
//! code path as `gdal_translate -outsize W H -r average -ot Float32`), so memory stays
//! bounded and results equal GDAL's own. The class map is brought back onto the input's
//! grid afterwards (nearest when the model grid is coarser, mode when it is finer).

use std::ffi::{c_char, CString};
use std::path::Path;

use gdal::spatial_ref::SpatialRef;

use super::RasterInfo;
use crate::error::{Error, Result};

/// Resolutions within 10% of each other are used as they are.
pub const TOLERANCE: f64 = 0.10;

/// How GDAL resamples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Average,
    Bilinear,
    Nearest,
    Mode,
}

impl Method {
    pub fn gdal_name(self) -> &'static str {
        match self {
            Method::Average => "average",
            Method::Bilinear => "bilinear",
            Method::Nearest => "nearest",
            Method::Mode => "mode",
        }
    }
}

/// The grid the model reads: the input's extent at (about) the model's resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct Resample {
    pub width: usize,
    pub height: usize,
    pub geo_transform: [f64; 6],
    /// Pixel size of the input and of the model, in metres.
    pub input_res_m: f64,
    pub model_res_m: f64,
    /// Input -> model grid.
    pub method: Method,
}

impl Resample {
    /// Model grid -> input grid, for the class map.
    pub fn back_method(&self) -> Method {
        if self.width <= self.input_width() {
            Method::Nearest
        } else {
            Method::Mode
        }
    }
    fn input_width(&self) -> usize {
        // the geotransform keeps the extent: input width = width * model px / input px
        (self.width as f64 * self.model_res_m / self.input_res_m).round() as usize
    }
}

/// The input's pixel size in metres (mean of x and y), from its geotransform and CRS:
/// the CRS's linear unit for projected CRSs, metres per degree at the raster's centre
/// for geographic ones. None without a geotransform or CRS.
pub fn pixel_size_m(raster: &RasterInfo) -> Option<f64> {
    let gt = raster.geo_transform?;
    if raster.projection.is_empty() {
        return None;
    }
    let srs = SpatialRef::from_wkt(&raster.projection).ok()?;
    let px = gt[1].hypot(gt[4]);
    let py = gt[2].hypot(gt[5]);
    if srs.is_geographic() {
        let lat = (gt[3] + gt[4] * raster.width as f64 / 2.0 + gt[5] * raster.height as f64 / 2.0)
            .to_radians();
        // metres per degree on the WGS 84 ellipsoid (good to well under 1%)
        let m_lon = 111_412.84 * lat.cos() - 93.5 * (3.0 * lat).cos();
        let m_lat = 111_132.92 - 559.82 * (2.0 * lat).cos() + 1.175 * (4.0 * lat).cos();
        Some((px * m_lon + py * m_lat) / 2.0)
    } else {
        Some((px + py) / 2.0 * srs.linear_units())
    }
}

/// The model grid for `raster`, or None when no resampling is needed (resolutions
/// within [`TOLERANCE`], or either resolution unknown).
pub fn plan(raster: &RasterInfo, model_res_m: Option<f64>) -> Option<Resample> {
    let model = model_res_m.filter(|r| *r > 0.0)?;
    let input = pixel_size_m(raster)?;
    if ((input / model) - 1.0).abs() <= TOLERANCE {
        return None;
    }
    let gt = raster.geo_transform?;
    let f = input / model;
    let width = ((raster.width as f64 * f).round() as usize).max(1);
    let height = ((raster.height as f64 * f).round() as usize).max(1);
    let (sx, sy) = (
        raster.width as f64 / width as f64,
        raster.height as f64 / height as f64,
    );
    let geo_transform = [gt[0], gt[1] * sx, gt[2] * sy, gt[3], gt[4] * sx, gt[5] * sy];
    Some(Resample {
        width,
        height,
        geo_transform,
        input_res_m: input,
        model_res_m: model,
        method: if f < 1.0 {
            Method::Average
        } else {
            Method::Bilinear
        },
    })
}

/// Writes a VRT at `dst` that reads `src` at `width` x `height` pixels with `method`
/// (as `gdal_translate -of VRT -outsize width height -r method [-ot Float32]`).
pub fn write_vrt(
    src: &Path,
    dst: &Path,
    width: usize,
    height: usize,
    method: Method,
    float32: bool,
) -> Result<()> {
    let src_abs = src.canonicalize().unwrap_or_else(|_| src.to_path_buf());
    let ds = super::open(&src_abs)?;
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
    let fail = |why: String| {
        Error::output(
            dst,
            format!("cannot write the resampling VRT ({why}); check the output folder is writable"),
        )
    };
    let c_args: Vec<CString> = args
        .iter()
        .map(|a| CString::new(a.as_str()).expect("no NUL in arguments"))
        .collect();
    let mut ptrs: Vec<*mut c_char> = c_args.iter().map(|a| a.as_ptr() as *mut c_char).collect();
    ptrs.push(std::ptr::null_mut());
    let c_dst = CString::new(dst.to_string_lossy().as_bytes())
        .map_err(|_| fail("the path holds a NUL byte".into()))?;
    // SAFETY: the argument strings outlive the options; the dataset handle is valid
    // while `ds` lives; the returned handle is closed before returning.
    unsafe {
        let opts = gdal_sys::GDALTranslateOptionsNew(ptrs.as_mut_ptr(), std::ptr::null_mut());
        if opts.is_null() {
            return Err(fail("GDAL rejected the translate options".into()));
        }
        let mut usage_error: std::ffi::c_int = 0;
        let out = gdal_sys::GDALTranslate(c_dst.as_ptr(), ds.c_dataset(), opts, &mut usage_error);
        gdal_sys::GDALTranslateOptionsFree(opts);
        if out.is_null() {
            return Err(fail(crate::error::last_gdal_error()));
        }
        gdal_sys::GDALClose(out);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(gt: [f64; 6], wkt: &str, w: usize, h: usize) -> RasterInfo {
        RasterInfo {
            path: "x.tif".into(),
            width: w,
            height: h,
            band_count: 1,
            geo_transform: Some(gt),
            projection: wkt.into(),
            band_descriptions: vec![String::new()],
            alpha_bands: vec![],
        }
    }

    #[test]
    fn plans_the_model_grid_on_the_same_extent() {
        let utm = SpatialRef::from_epsg(32618).unwrap().to_wkt().unwrap();
        let r = info([500000.0, 10.0, 0.0, 4e6, 0.0, -10.0], &utm, 1933, 1947);
        assert_eq!(pixel_size_m(&r), Some(10.0));
        assert!(plan(&r, Some(10.5)).is_none(), "within 10%");
        assert!(plan(&r, None).is_none());
        let p = plan(&r, Some(30.0)).unwrap();
        assert_eq!((p.width, p.height, p.method), (644, 649, Method::Average));
        // same extent
        assert!((p.geo_transform[1] * 644.0 - 19330.0).abs() < 1e-6);
        assert!((p.geo_transform[5] * 649.0 + 19470.0).abs() < 1e-6);
        assert_eq!(p.back_method(), Method::Nearest);
        let p = plan(&r, Some(5.0)).unwrap();
        assert_eq!(
            (p.width, p.method, p.back_method()),
            (3866, Method::Bilinear, Method::Mode)
        );
    }

    #[test]
    fn geographic_pixels_are_measured_in_metres() {
        let wgs = SpatialRef::from_epsg(4326).unwrap().to_wkt().unwrap();
        // 0.0003 deg at 60 N: ~16.7 m east-west, ~33.4 m north-south
        let r = info([10.0, 0.0003, 0.0, 60.05, 0.0, -0.0003], &wgs, 100, 333);
        let m = pixel_size_m(&r).unwrap();
        assert!((m - 25.0).abs() < 0.5, "{m}");
    }
}
