//! `--min-area`: patches of a class map smaller than an area join their largest
//! neighbour (GDAL's sieve filter, `GDALSieveFilter`), before the polygons are traced,
//! so the raster and the polygons agree.
//!
//! The area becomes a pixel count with the ground area of the map's centre pixel
//! ([`crate::raster::PixelArea`]): a patch of fewer than `ceil(M2 / centre pixel area)`
//! pixels goes. Nodata pixels take no part: they are never filled, and a small patch
//! that touches only nodata (or the map's edge) stays, having no neighbour to join.
//! Patches are connected as the polygons are (4 or 8).
//!
//! [`sieve_copy`] writes the sieved map as a plain GeoTIFF (colour table, category
//! names, attribute table with updated counts, metadata kept); [`republish`] turns that
//! into the published output again (COG or GTiff with its creation options), renamed
//! over the unsieved one, so nothing half-written ever sits at the output path.

use std::path::Path;

use gdal::raster::RasterCreationOptions;
use gdal::{Dataset, DatasetOptions, DriverManager, GdalOpenFlags};

use super::Connectivity;
use crate::error::{gdal_text, last_gdal_error, Error, GdalContext, Result};
use crate::raster::classmap::read_u16;
use crate::raster::{ClassMap, PixelArea};
use crate::write::output::aux_path;
use crate::write::Publish;

/// What a sieve did.
#[derive(Debug, Clone, PartialEq)]
pub struct Sieved {
    /// Patches below this many pixels were removed.
    pub threshold_px: usize,
    /// Pixels per value (0..=max value) after the sieve.
    pub counts: Vec<u64>,
}

/// The pixel threshold of `min_area_m2` on the class map `map`: the count of pixels of
/// the map's centre that make that area, rounded up.
pub fn threshold_px(map: &ClassMap, min_area_m2: f64) -> Result<usize> {
    let g = &map.info.grid;
    let pa = PixelArea::of_grid(map.path(), g)?;
    let mut areas = Vec::new();
    pa.fill_blocks(g.height_px / 2, 1, &mut areas);
    let centre = areas[(g.width_px / 2 / pa.block_px()).min(areas.len() - 1)];
    Ok(((min_area_m2 / centre).ceil() as usize).max(1))
}

/// Sieves the class map `src` into the plain GeoTIFF `stage` (a temporary file).
pub fn sieve_copy(
    src: &Path,
    stage: &Path,
    min_area_m2: f64,
    connectivity: Connectivity,
) -> Result<Sieved> {
    let map = ClassMap::open(src)?;
    let threshold_px = threshold_px(&map, min_area_m2)?;
    let out_err = |t: String| {
        Error::output(
            stage,
            format!("cannot write the sieved class map: {t} (is the disk full?)"),
        )
    };
    {
        let ds = Dataset::open(src).gdal_err(|t| Error::input(src, t))?;
        let _ = ds.geo_transform(); // loads the PAM sidecar (category names, attribute table)
        let driver = DriverManager::get_driver_by_name("GTiff").gdal_err(out_err)?;
        let opts =
            RasterCreationOptions::from_iter(["BIGTIFF=IF_SAFER", "COMPRESS=LZW", "TILED=YES"]);
        ds.create_copy(&driver, stage, &opts)
            .gdal_err(out_err)?
            .close()
            .gdal_err(out_err)?;
    }
    let ds = Dataset::open_ex(
        stage,
        DatasetOptions {
            open_flags: GdalOpenFlags::GDAL_OF_UPDATE | GdalOpenFlags::GDAL_OF_RASTER,
            ..Default::default()
        },
    )
    .gdal_err(out_err)?;
    let band = ds.rasterband(1).gdal_err(out_err)?;
    // SAFETY: the band (and its mask band, owned by it) live while `ds` is open; source
    // and destination may be the same band (GDAL sieves in place); no options, no
    // progress callback.
    let err = unsafe {
        let b = band.c_rasterband();
        let mask = gdal_sys::GDALGetMaskBand(b);
        gdal_sys::GDALSieveFilter(
            b,
            mask,
            b,
            threshold_px.min(i32::MAX as usize) as i32,
            connectivity.neighbours() as i32,
            std::ptr::null_mut(),
            None,
            std::ptr::null_mut(),
        )
    };
    if err != gdal_sys::CPLErr::CE_None {
        return Err(out_err(last_gdal_error()));
    }
    let counts = count_values(&ds, stage)?;
    update_counts(&band, &counts);
    ds.close().gdal_err(out_err)?;
    Ok(Sieved {
        threshold_px,
        counts,
    })
}

/// Pixels per value of band 1 (nodata skipped), read in row blocks.
fn count_values(ds: &Dataset, path: &Path) -> Result<Vec<u64>> {
    let band = ds.rasterband(1).gdal_err(|t| Error::input(path, t))?;
    let nd = band.no_data_value();
    let (w, h) = band.size();
    let block = 256.min(h.max(1));
    let mut buf = vec![0u16; w * block];
    let mut counts = vec![0u64; 1];
    for y0 in (0..h).step_by(block) {
        let bh = block.min(h - y0);
        read_u16(&band, path, (0, y0), (w, bh), &mut buf[..w * bh])?;
        for &v in &buf[..w * bh] {
            if nd.is_some_and(|nd| v as f64 == nd) {
                continue;
            }
            if v as usize >= counts.len() {
                counts.resize(v as usize + 1, 0);
            }
            counts[v as usize] += 1;
        }
    }
    Ok(counts)
}

/// Sets the pixel-count column of the band's attribute table (if it has one) to
/// `counts`, by each row's value.
fn update_counts(band: &gdal::raster::RasterBand<'_>, counts: &[u64]) {
    use gdal_sys::GDALRATFieldUsage as U;
    // SAFETY: the default RAT is owned by the band; it is cloned, changed and handed
    // back (GDAL copies it), and the clone destroyed.
    unsafe {
        let own = gdal_sys::GDALGetDefaultRAT(band.c_rasterband());
        if own.is_null() {
            return;
        }
        let rat = gdal_sys::GDALRATClone(own);
        let (vcol, ccol) = (
            gdal_sys::GDALRATGetColOfUsage(rat, U::GFU_MinMax),
            gdal_sys::GDALRATGetColOfUsage(rat, U::GFU_PixelCount),
        );
        if vcol >= 0 && ccol >= 0 {
            for row in 0..gdal_sys::GDALRATGetRowCount(rat) {
                let v = gdal_sys::GDALRATGetValueAsInt(rat, row, vcol);
                let c = counts.get(v.max(0) as usize).copied().unwrap_or(0);
                gdal_sys::GDALRATSetValueAsInt(rat, row, ccol, c.min(i32::MAX as u64) as i32);
            }
            gdal_sys::GDALSetDefaultRAT(band.c_rasterband(), rat);
        }
        gdal_sys::GDALDestroyRasterAttributeTable(rat);
    }
}

/// Publishes the sieved `stage` at `output` (its format and creation options): written
/// as `tmp` first, then renamed into place with its `.aux.xml`.
pub fn republish(
    stage: &Path,
    tmp: &Path,
    output: &Path,
    publish: &Publish,
    threads: usize,
) -> Result<()> {
    let e = |e: gdal::errors::GdalError| {
        Error::output(
            output,
            format!("cannot write the sieved class map: {}", gdal_text(&e)),
        )
        .caused_by(e)
    };
    {
        let ds = Dataset::open(stage).map_err(e)?;
        let _ = ds.geo_transform();
        let driver = DriverManager::get_driver_by_name(publish.format.driver()).map_err(e)?;
        let opts = RasterCreationOptions::from_iter(publish.options(threads));
        ds.create_copy(&driver, tmp, &opts)
            .map_err(e)?
            .close()
            .map_err(e)?;
    }
    let io = |what: &str, err: std::io::Error| {
        Error::output(output, format!("cannot {what}: {err}")).caused_by(err)
    };
    let (tmp_aux, out_aux) = (aux_path(tmp), aux_path(output));
    if tmp_aux.exists() {
        std::fs::rename(&tmp_aux, &out_aux)
            .map_err(|err| io("move the .aux.xml into place", err))?;
    }
    std::fs::rename(tmp, output).map_err(|err| io("move the sieved class map into place", err))
}
