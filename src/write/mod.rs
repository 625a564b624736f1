//! Stage 5 of the flow (read -> prepare -> infer -> stitch -> **write**): the class map
//! (and optional confidence) as a Cloud Optimized GeoTIFF with the input's CRS and
//! geotransform, nodata, a colour table and category names. [`output`] holds the rules
//! every command follows for its output paths (temporary names, companions, checks).
//!
//! Rows are streamed into a staging GeoTIFF beside the output as they become final;
//! `finish` turns it into a COG (or a plain tiled GeoTIFF: [`format`] holds the format,
//! the default creation options and the user's `--co`) under a temporary name and
//! renames it into place, with its QGIS style sidecar ([`style`]). Until then nothing
//! exists at the output path, and on any error (or a drop without `finish`) the
//! temporary files are removed.
//!
//! The colour table holds exactly the classes (plus a transparent entry at nodata 255);
//! the optional confidence band is a plain grey band (not alpha: `ALPHA=NO`, so the
//! TIFF's ExtraSamples says "unspecified") named "confidence", scale 0.01.

use std::ffi::CString;
use std::path::PathBuf;

use gdal::raster::{Buffer, ColorEntry, ColorTable, PaletteInterpretation, RasterCreationOptions};
use gdal::{Dataset, DriverManager, Metadata};

pub mod format;
pub mod output;
pub mod overviews;
pub mod space;
pub mod style;

use crate::error::{gdal_text, Error, GdalContext, Result};
use crate::raster::PixelGrid;
use crate::stitch::Rows;
pub use format::{Format, Publish};
use output::{aux_path as aux, create_beside, temp_beside};

/// Side of the staging file's blocks when rows arrive in column stripes: stripe
/// boundaries fall on multiples of it.
pub const STAGE_BLOCK_PX: usize = 256;
/// The largest staging file written uncompressed (bytes of its full-resolution bands).
const STAGE_RAW_MAX: u64 = 256 << 20;

/// What the output raster looks like.
#[derive(Debug, Clone)]
pub struct OutputSpec {
    pub path: PathBuf,
    pub grid: PixelGrid,
    pub class_names: Vec<String>,
    pub class_colors: Vec<[u8; 3]>,
    pub confidence: bool,
    /// Threads GDAL may use to compress the COG (the run's thread budget).
    pub threads: usize,
    /// Extra dataset metadata (model, tool version, ...).
    pub metadata: Vec<(String, String)>,
    /// Format and creation options of the published file.
    pub publish: Publish,
    /// The staging file is published as the output itself (not resampled or merged
    /// first): a COG's overviews are then built while rows are written
    /// ([`overviews`]), when neither `--co` nor striping rules it out.
    pub overviews: bool,
}

impl OutputSpec {
    /// Byte holds up to 254 classes (255 is nodata); more need UInt16 (nodata 65535).
    pub fn wide(&self) -> bool {
        self.class_names.len() > 254
    }
    /// Bytes of the full-resolution bands, uncompressed.
    pub fn raw_bytes(&self) -> u64 {
        let bands = 1 + self.confidence as u64;
        let bpp = if self.wide() { 2 } else { 1 };
        self.grid.width_px as u64 * self.grid.height_px as u64 * bands * bpp
    }

    pub fn nodata(&self) -> u16 {
        if self.wide() {
            u16::MAX
        } else {
            255
        }
    }
}

/// The largest class map (bytes of its full-resolution bands) compressed on one thread
/// fewer beside the model's release ([`ClassWriter::leave_a_core`]). SegFormer-B0 on 2
/// cores, from the COG copy's start to its end, on one thread against two (with `main`'s
/// heap padding, before its mmap threshold was set too): the S2 scene
/// (3.8 MB, 150 classes) 0.051-0.070 s against 0.081-0.094 s (five runs each); its 2x2
/// mosaic (15 MB, 7 classes) 0.122-0.148 s against 0.103-0.109 s (three runs each).
/// One thread does the scene's compression in about the time the release takes; two
/// win from about twice that.
const SHARED_COPY_MAX_BYTES: u64 = 8 << 20;

/// The COG's compression threads out of `threads` for a map of `raw_bytes` while the
/// model is freed beside it ([`ClassWriter::leave_a_core`]).
fn threads_beside_release(threads: usize, raw_bytes: u64) -> usize {
    if raw_bytes <= SHARED_COPY_MAX_BYTES {
        threads.saturating_sub(1).max(1)
    } else {
        threads
    }
}

/// The COG's block size (`BLOCKSIZE=512`, [`format::Publish::defaults`]).
const COG_BLOCK_PX: usize = 512;

/// Runs `make` with a sink that writes each overview row it is given (`level`, row,
/// values) into `band`'s overviews; the first write error, if any.
fn fill_levels(
    band: &mut gdal::raster::RasterBand,
    wide: bool,
    make: impl FnOnce(&mut dyn FnMut(usize, usize, &[u16])),
) -> gdal::errors::Result<()> {
    let mut failed = None;
    make(&mut |level, r, row| {
        if failed.is_none() {
            failed = write_overview_row(band, level, r, row, wide).err();
        }
    });
    failed.map_or(Ok(()), Err)
}

/// Writes row `r` of overview `level` of `band`.
fn write_overview_row(
    band: &mut gdal::raster::RasterBand,
    level: usize,
    r: usize,
    row: &[u16],
    wide: bool,
) -> gdal::errors::Result<()> {
    let mut ovr = band.overview(level)?;
    write_classes(&mut ovr, (0, r as isize), (row.len(), 1), row, wide)
}

/// Writes `data` (`size` = columns, rows) at `at` into `band`: as UInt16 for `wide`
/// maps, else as Byte.
fn write_classes(
    band: &mut gdal::raster::RasterBand,
    at: (isize, isize),
    size: (usize, usize),
    data: &[u16],
    wide: bool,
) -> gdal::errors::Result<()> {
    if wide {
        band.write(at, size, &mut Buffer::new(size, data.to_vec()))
    } else {
        let bytes: Vec<u8> = data.iter().map(|&v| v as u8).collect();
        band.write(at, size, &mut Buffer::new(size, bytes))
    }
}

/// Streams rows into a staging file and publishes a COG at the end.
pub struct ClassWriter {
    spec: OutputSpec,
    stage: PathBuf,
    tmp: PathBuf,
    tmp_qml: PathBuf,
    ds: Option<Dataset>,
    finished: bool,
    /// Overview levels built as rows come ([`overviews::Pyramid`], one per band), and the
    /// next row expected; `ovr_broken` when rows came out of order (the COG driver then
    /// computes the overviews itself).
    pyramids: Vec<overviews::Pyramid>,
    next_row: usize,
    ovr_broken: bool,
}

impl ClassWriter {
    /// Checks the output folder and creates the staging file, for rows written across
    /// the whole width.
    pub fn create(spec: OutputSpec) -> Result<ClassWriter> {
        ClassWriter::create_with(spec, false)
    }

    /// The same, for rows written in column stripes ([`ClassWriter::write_rows_at`]):
    /// the staging file is tiled in [`STAGE_BLOCK_PX`] blocks, so stripes whose
    /// boundaries fall on multiples of it never share (and rewrite) a compressed block.
    pub fn create_striped(spec: OutputSpec) -> Result<ClassWriter> {
        ClassWriter::create_with(spec, true)
    }

    fn create_with(spec: OutputSpec, striped: bool) -> Result<ClassWriter> {
        let path = spec.path.clone();
        let stage = temp_beside(&path, "stage.tif");
        let tmp = temp_beside(&path, "tif");
        let tmp_qml = temp_beside(&path, "qml");
        create_beside(&path, &stage)?;
        let mut w = ClassWriter {
            spec,
            stage,
            tmp,
            tmp_qml,
            ds: None,
            finished: false,
            pyramids: Vec::new(),
            next_row: 0,
            ovr_broken: false,
        };
        let bands = if w.spec.confidence { 2 } else { 1 };
        let driver =
            DriverManager::get_driver_by_name("GTiff").gdal_err(|t| Error::output(&path, t))?;
        let block = STAGE_BLOCK_PX.to_string();
        let layout = if striped {
            vec![
                "TILED=YES".to_string(),
                format!("BLOCKXSIZE={block}"),
                format!("BLOCKYSIZE={block}"),
            ]
        } else {
            vec!["BLOCKYSIZE=64".to_string()]
        };
        // a staging file the COG copies at once is written uncompressed up to
        // STAGE_RAW_MAX (no compressing at the end of the run, nothing to decompress
        // for the copy; the disk check counts it uncompressed in any case), LZW beyond
        let compress = if w.spec.raw_bytes() <= STAGE_RAW_MAX {
            "COMPRESS=NONE"
        } else {
            "COMPRESS=LZW"
        };
        let opts = RasterCreationOptions::from_iter(
            [
                "BIGTIFF=IF_SAFER",
                "INTERLEAVE=BAND",
                compress,
                // band 2 (confidence) is data, not transparency: ExtraSamples "unspecified"
                "PHOTOMETRIC=MINISBLACK",
                "ALPHA=NO",
            ]
            .map(String::from)
            .into_iter()
            .chain(layout),
        );
        let (cols, rows) = (w.spec.grid.width_px, w.spec.grid.height_px);
        let create_err = |e: gdal::errors::GdalError| {
            Error::output(
                &path,
                format!("cannot create the output: {}", gdal_text(&e)),
            )
            .caused_by(e)
        };
        let mut ds = if w.spec.wide() {
            driver
                .create_with_band_type_with_options::<u16, _>(&w.stage, cols, rows, bands, &opts)
                .map_err(create_err)?
        } else {
            driver
                .create_with_band_type_with_options::<u8, _>(&w.stage, cols, rows, bands, &opts)
                .map_err(create_err)?
        };
        let e = |e: gdal::errors::GdalError| Error::output(&path, gdal_text(&e)).caused_by(e);
        if let Some(gt) = w.spec.grid.geo_transform {
            ds.set_geo_transform(&gt.0).map_err(e)?;
        }
        if !w.spec.grid.crs_wkt.is_empty() {
            ds.set_projection(&w.spec.grid.crs_wkt).map_err(e)?;
        }
        for (k, v) in &w.spec.metadata {
            ds.set_metadata_item(k, v, "").map_err(e)?;
        }
        let nodata = w.spec.nodata() as f64;
        for b in 1..=bands {
            let mut band = ds.rasterband(b).map_err(e)?;
            band.set_no_data_value(Some(nodata)).map_err(e)?;
            band.set_description(if b == 1 { "class" } else { "confidence" })
                .map_err(e)?;
        }
        if bands == 2 {
            let mut band = ds.rasterband(2).map_err(e)?;
            band.set_color_interpretation(gdal::raster::ColorInterpretation::GrayIndex)
                .map_err(e)?;
            band.set_scale(0.01).map_err(e)?;
            band.set_offset(0.0).map_err(e)?;
            band.set_metadata_item(
                "CONFIDENCE",
                "the winning class's probability x 100 (0..100); scale 0.01 gives the probability",
                "",
            )
            .map_err(e)?;
        }
        {
            let mut band = ds.rasterband(1).map_err(e)?;
            let mut ct = ColorTable::new(PaletteInterpretation::Rgba);
            for (i, c) in w.spec.class_colors.iter().enumerate() {
                ct.set_color_entry(
                    i as u16,
                    &ColorEntry::rgba(c[0] as i16, c[1] as i16, c[2] as i16, 255),
                );
            }
            if !w.spec.wide() {
                ct.set_color_entry(255, &ColorEntry::rgba(0, 0, 0, 0));
            }
            band.set_color_table(&ct);
            set_category_names(&band, &w.spec.class_names);
        }
        // the COG's overview levels, filled as rows come (see `overviews`)
        let user = |k: &str| w.spec.publish.user_sets(k);
        let own_levels = w.spec.overviews
            && !striped
            && w.spec.publish.format == format::Format::Cog
            && ![
                "OVERVIEWS",
                "OVERVIEW_RESAMPLING",
                "RESAMPLING",
                "BLOCKSIZE",
                "OVERVIEW_COUNT",
            ]
            .iter()
            .any(|k| user(k));
        let factors = overviews::factors(cols, rows, COG_BLOCK_PX);
        if own_levels && !factors.is_empty() {
            let f: Vec<i32> = factors.iter().map(|&f| f as i32).collect();
            ds.build_overviews("NONE", &f, &[]).map_err(e)?;
            w.pyramids = (0..bands)
                .map(|_| overviews::Pyramid::new(cols, factors.len(), nodata as u16))
                .collect();
        }
        w.ds = Some(ds);
        Ok(w)
    }

    /// Writes finished rows.
    pub fn write_rows(&mut self, rows: &Rows) -> Result<()> {
        self.write_rows_at(0, rows)
    }

    /// Writes finished rows of a column stripe whose first column is `x0`.
    pub fn write_rows_at(&mut self, x0: usize, rows: &Rows) -> Result<()> {
        let path = self.spec.path.clone();
        self.write_window(x0, rows)
            .map_err(|e| space::when_full(e, &path))
    }

    fn write_window(&mut self, x0: usize, rows: &Rows) -> Result<()> {
        if rows.h == 0 {
            return Ok(());
        }
        let path = self.spec.path.clone();
        let wide = self.spec.wide();
        let ds = self.ds.as_mut().expect("writer used after finish");
        let e = |e: gdal::errors::GdalError| {
            Error::output(
                &path,
                format!(
                    "cannot write rows {}..{}: {} (is the disk full?)",
                    rows.y0,
                    rows.y0 + rows.h,
                    gdal_text(&e)
                ),
            )
            .caused_by(e)
        };
        let planes = std::iter::once(&rows.classes).chain(rows.confidence.as_ref());
        // overviews: whole rows in order only
        if !self.pyramids.is_empty() && !self.ovr_broken {
            if x0 != 0 || rows.width != self.spec.grid.width_px || rows.y0 != self.next_row {
                self.ovr_broken = true;
            } else {
                self.next_row = rows.y0 + rows.h;
                for (b, data) in planes.clone().enumerate() {
                    let mut band = ds.rasterband(b + 1).map_err(e)?;
                    let pyramid = &mut self.pyramids[b];
                    fill_levels(&mut band, wide, |emit| {
                        for row in data.chunks_exact(rows.width) {
                            pyramid.push(row, emit);
                        }
                    })
                    .map_err(e)?;
                }
            }
        }
        for (b, data) in planes.enumerate() {
            let mut band = ds.rasterband(b + 1).map_err(e)?;
            let at = (x0 as isize, rows.y0 as isize);
            write_classes(&mut band, at, (rows.width, rows.h), data, wide).map_err(e)?;
        }
        Ok(())
    }

    /// The COG is compressed while one core is busy elsewhere: the model's session being
    /// freed beside it (about 0.05 s of one core for SegFormer-B0). A class map of up to
    /// [`SHARED_COPY_MAX_BYTES`] is then compressed on one thread fewer (never fewer than
    /// one): beside the freeing, GDAL's two compression threads took longer than one
    /// thread did. A larger map keeps every thread: the freeing is then a small part of
    /// its compression.
    pub fn leave_a_core(&mut self) {
        self.spec.threads = threads_beside_release(self.spec.threads, self.spec.raw_bytes());
    }

    /// Converts the staging file to a COG and renames it to the output path.
    /// `class_counts` (pixels per class) go into the raster attribute table.
    pub fn finish(mut self, class_counts: &[u64]) -> Result<()> {
        let path = self.spec.path.clone();
        // the temporary files are still there: a full disk shows as such
        self.publish_cog(class_counts)
            .map_err(|e| space::when_full(e, &path))
    }

    fn publish_cog(&mut self, class_counts: &[u64]) -> Result<()> {
        let path = self.spec.path.clone();
        let e = |e: gdal::errors::GdalError| {
            Error::output(&path, format!("cannot write the COG: {}", gdal_text(&e))).caused_by(e)
        };
        let mut stage = self.ds.take().expect("finish called once");
        set_attribute_table(&stage.rasterband(1).map_err(e)?, &self.spec, class_counts);
        // the last overview rows (an odd last row pairs with nothing)
        let wide = self.spec.wide();
        let complete = self.next_row == self.spec.grid.height_px && !self.ovr_broken;
        for (b, pyramid) in self.pyramids.iter_mut().enumerate() {
            let mut band = stage.rasterband(b + 1).map_err(e)?;
            fill_levels(&mut band, wide, |emit| pyramid.finish(emit)).map_err(e)?;
        }
        stage.flush_cache().map_err(e)?;
        let publish = &self.spec.publish;
        let driver = DriverManager::get_driver_by_name(publish.format.driver()).map_err(e)?;
        let mut options = publish.options(self.spec.threads);
        if !self.pyramids.is_empty() && !complete {
            // rows came out of order: the levels are not all made; GDAL makes them
            options.push("OVERVIEWS=IGNORE_EXISTING".into());
        }
        let opts = RasterCreationOptions::from_iter(options);
        let out = stage.create_copy(&driver, &self.tmp, &opts).map_err(e)?;
        out.close().map_err(e)?;
        stage.close().map_err(e)?;
        let io = |what: &str, err: std::io::Error| {
            Error::output(&path, format!("cannot {what}: {err}")).caused_by(err)
        };
        // QGIS's default style for the class map, beside it: written under a temporary
        // name, moved into place before the raster.
        let qml = style::class_map_qml(&self.spec.class_names, &self.spec.class_colors);
        std::fs::write(&self.tmp_qml, qml).map_err(|err| io("write the .qml style", err))?;
        std::fs::rename(&self.tmp_qml, style::qml_path(&path))
            .map_err(|err| io("move the .qml style into place", err))?;
        // Category names live in the PAM sidecar (.aux.xml): move it first, then the COG.
        let (tmp_aux, out_aux) = (aux(&self.tmp), aux(&path));
        if tmp_aux.exists() {
            std::fs::rename(&tmp_aux, &out_aux)
                .map_err(|err| io("move the .aux.xml into place", err))?;
        } else if out_aux.exists() {
            std::fs::remove_file(&out_aux).map_err(|err| io("remove the old .aux.xml", err))?;
        }
        std::fs::rename(&self.tmp, &path).map_err(|err| io("move the COG into place", err))?;
        self.finished = true;
        self.cleanup();
        Ok(())
    }

    /// Publishes the staging GeoTIFF itself (no COG conversion): for intermediate
    /// rasters that terratile reads back.
    pub fn finish_plain(mut self, class_counts: &[u64]) -> Result<()> {
        let path = self.spec.path.clone();
        self.publish_plain(class_counts)
            .map_err(|e| space::when_full(e, &path))
    }

    fn publish_plain(&mut self, class_counts: &[u64]) -> Result<()> {
        let path = self.spec.path.clone();
        let e = |e: gdal::errors::GdalError| Error::output(&path, gdal_text(&e)).caused_by(e);
        let mut stage = self.ds.take().expect("finish called once");
        set_attribute_table(&stage.rasterband(1).map_err(e)?, &self.spec, class_counts);
        stage.flush_cache().map_err(e)?;
        stage.close().map_err(e)?;
        let io = |err: std::io::Error| {
            Error::output(&path, format!("cannot move into place: {err}")).caused_by(err)
        };
        if aux(&self.stage).exists() {
            std::fs::rename(aux(&self.stage), aux(&path)).map_err(io)?;
        }
        std::fs::rename(&self.stage, &path).map_err(io)?;
        self.finished = true;
        self.cleanup();
        Ok(())
    }

    fn cleanup(&mut self) {
        self.ds = None;
        for p in [&self.stage, &self.tmp] {
            output::remove_with_companions(p);
        }
        let _ = std::fs::remove_file(&self.tmp_qml);
        let _ = std::fs::remove_file(temp_beside(&self.spec.path, "stage.tif.msk"));
    }
}

impl Drop for ClassWriter {
    fn drop(&mut self) {
        if !self.finished {
            self.cleanup();
        }
    }
}

fn set_category_names(band: &gdal::raster::RasterBand<'_>, names: &[String]) {
    let owned: Vec<CString> = names
        .iter()
        .map(|n| CString::new(n.replace('\0', "")).unwrap_or_default())
        .collect();
    let mut ptrs: Vec<*mut std::os::raw::c_char> =
        owned.iter().map(|c| c.as_ptr() as *mut _).collect();
    ptrs.push(std::ptr::null_mut());
    // SAFETY: a NULL-terminated array of valid C strings that outlive the call; GDAL copies them.
    unsafe {
        gdal_sys::GDALSetRasterCategoryNames(band.c_rasterband(), ptrs.as_mut_ptr());
    }
}

/// A thematic raster attribute table (value, class name, colour, pixel count): what
/// QGIS (3.30+) and ArcGIS read to label and colour a class map without styling.
fn set_attribute_table(
    band: &gdal::raster::RasterBand<'_>,
    spec: &OutputSpec,
    class_counts: &[u64],
) {
    use gdal_sys::{GDALRATFieldType as T, GDALRATFieldUsage as U};
    let columns = [
        ("Value", T::GFT_Integer, U::GFU_MinMax),
        ("Class_Name", T::GFT_String, U::GFU_Name),
        ("Red", T::GFT_Integer, U::GFU_Red),
        ("Green", T::GFT_Integer, U::GFU_Green),
        ("Blue", T::GFT_Integer, U::GFU_Blue),
        ("Count", T::GFT_Integer, U::GFU_PixelCount),
    ];
    // SAFETY: the table is created, filled and handed to GDAL (which copies it) here,
    // then destroyed; every string outlives the call that reads it.
    unsafe {
        let rat = gdal_sys::GDALCreateRasterAttributeTable();
        for (name, ty, usage) in columns {
            let c = CString::new(name).expect("no NUL in column names");
            gdal_sys::GDALRATCreateColumn(rat, c.as_ptr(), ty, usage);
        }
        gdal_sys::GDALRATSetTableType(rat, gdal_sys::GDALRATTableType::GRTT_THEMATIC);
        gdal_sys::GDALRATSetRowCount(rat, spec.class_names.len() as i32);
        for (i, (name, rgb)) in spec.class_names.iter().zip(&spec.class_colors).enumerate() {
            let row = i as i32;
            let name = CString::new(name.replace('\0', "")).unwrap_or_default();
            gdal_sys::GDALRATSetValueAsInt(rat, row, 0, row);
            gdal_sys::GDALRATSetValueAsString(rat, row, 1, name.as_ptr());
            for (k, v) in rgb.iter().enumerate() {
                gdal_sys::GDALRATSetValueAsInt(rat, row, 2 + k as i32, *v as i32);
            }
            let count = class_counts
                .get(i)
                .copied()
                .unwrap_or(0)
                .min(i32::MAX as u64) as i32;
            gdal_sys::GDALRATSetValueAsInt(rat, row, 5, count);
        }
        gdal_sys::GDALSetDefaultRAT(band.c_rasterband(), rat);
        gdal_sys::GDALDestroyRasterAttributeTable(rat);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_map_leaves_a_core_to_the_release_a_large_one_keeps_every_thread() {
        let scene = 1933 * 1947; // the S2 scene's class map, one Byte band
        assert_eq!(threads_beside_release(2, scene), 1);
        assert_eq!(threads_beside_release(8, 2 * scene), 7); // with --confidence
        assert_eq!(threads_beside_release(1, scene), 1, "never fewer than one");
        assert_eq!(threads_beside_release(0, scene), 1);
        assert_eq!(threads_beside_release(2, SHARED_COPY_MAX_BYTES), 1);
        let mosaic = 3866 * 3894; // its 2x2 mosaic: two threads win there
        assert_eq!(threads_beside_release(2, mosaic), 2);
        assert_eq!(threads_beside_release(2, SHARED_COPY_MAX_BYTES + 1), 2);
    }
}
