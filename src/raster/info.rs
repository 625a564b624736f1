//! Opening a raster once, with errors a user can act on, and what terratile needs to
//! know about it.

use std::path::{Path, PathBuf};

use gdal::raster::ColorInterpretation;
use gdal::Dataset;
use gdal::Metadata;

use super::grid::{GeoTransform, PixelGrid};
use crate::error::{gdal_text, Error, GdalContext, Result};

/// What terratile needs to know about a raster.
#[derive(Debug, Clone)]
pub struct RasterInfo {
    pub path: PathBuf,
    pub grid: PixelGrid,
    pub band_count: usize,
    /// Band descriptions (GDAL's `GetDescription`), "" when unset.
    pub band_descriptions: Vec<String>,
    /// 1-based numbers of bands whose colour interpretation is alpha (transparency).
    pub alpha_bands: Vec<usize>,
    /// Each band's colour interpretation as GDAL names it (`Red`, `Gray`, `Undefined`).
    pub band_colours: Vec<String>,
}

/// Opens a raster with GDAL, with errors a user can act on.
pub fn open(path: &Path) -> Result<Dataset> {
    // GDAL's virtual file systems (/vsicurl/, /vsis3/, /vsizip/, ...) are not on disk
    if !is_virtual(path) && !path.exists() {
        return Err(Error::input(path, "no such file; check the input path"));
    }
    let ds = Dataset::open(path).map_err(|e| {
        let what = if path.is_dir() { "folder" } else { "file" };
        Error::input(path, format!("GDAL cannot open this {what} as a raster ({}); pass a GeoTIFF, COG, VRT or another GDAL raster format, and check the file is complete", gdal_text(&e))).caused_by(e)
    })?;
    if ds.raster_count() == 0 {
        return Err(Error::input(
            path,
            "has no raster bands (is it a vector file?); pass a raster",
        ));
    }
    Ok(ds)
}

/// A GDAL virtual path (`/vsicurl/...`, `/vsis3/...`, `/vsizip/...`): no file-system
/// checks apply to it, GDAL alone says whether it opens.
pub fn is_virtual(path: &Path) -> bool {
    path.to_string_lossy().starts_with("/vsi")
}

impl RasterInfo {
    /// Opens `path` and describes it.
    pub fn open(path: &Path) -> Result<RasterInfo> {
        let ds = open(path)?;
        RasterInfo::of(path, &ds)
    }

    /// Describes an opened raster.
    pub fn of(path: &Path, ds: &Dataset) -> Result<RasterInfo> {
        let (width, height) = ds.raster_size();
        let band_count = ds.raster_count();
        let mut band_descriptions = Vec::with_capacity(band_count);
        let mut alpha_bands = Vec::new();
        let mut band_colours = Vec::with_capacity(band_count);
        for b in 1..=band_count {
            let band = ds
                .rasterband(b)
                .gdal_err(|t| Error::input(path, format!("cannot open band {b}: {t}")))?;
            band_descriptions.push(band.description().unwrap_or_default());
            let colour = band.color_interpretation();
            if colour == ColorInterpretation::AlphaBand {
                alpha_bands.push(b);
            }
            band_colours.push(colour.name());
        }
        Ok(RasterInfo {
            path: path.to_path_buf(),
            grid: PixelGrid {
                width_px: width,
                height_px: height,
                geo_transform: ds.geo_transform().ok().map(GeoTransform),
                crs_wkt: ds.projection(),
            },
            band_count,
            band_descriptions,
            alpha_bands,
            band_colours,
        })
    }

    /// The geotransform, or an error naming the raster when it has none.
    pub fn require_geo_transform(&self) -> Result<GeoTransform> {
        self.grid.geo_transform.ok_or_else(|| {
            Error::input(
                &self.path,
                "has no geotransform, so where it lies is unknown; georeference it first",
            )
        })
    }
}
