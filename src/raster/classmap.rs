//! Class maps read back: terratile's own outputs (a mask model's classes, the model-grid
//! map brought back to the input grid, the dates `change` compares) and class maps users
//! bring. Rows come as u16 blocks; the legend and per-class areas come from here too.

use std::path::{Path, PathBuf};

use gdal::raster::RasterBand;
use gdal::Dataset;

use super::{open, AreaMethod, Legend, PixelArea, RasterInfo};
use crate::error::{Error, GdalContext, Result};

/// An opened class map.
pub struct ClassMap {
    pub info: RasterInfo,
    ds: Dataset,
}

/// Pixels and area per class of a class map.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassAreas {
    pub pixels: Vec<u64>,
    pub area_m2: Vec<f64>,
    /// How the areas were measured.
    pub method: AreaMethod,
}

impl ClassMap {
    pub fn open(path: &Path) -> Result<ClassMap> {
        let ds = open(path)?;
        let info = RasterInfo::of(path, &ds)?;
        Ok(ClassMap { info, ds })
    }

    pub fn path(&self) -> &PathBuf {
        &self.info.path
    }

    /// Band `b` (1-based).
    pub fn band(&self, b: usize) -> Result<RasterBand<'_>> {
        self.ds
            .rasterband(b)
            .gdal_err(|t| Error::input(&self.info.path, t))
    }

    /// Reads the `w` x `h` window at (x0, y0) of band `b` as u16 into `out`.
    pub fn read_u16(
        &self,
        b: usize,
        (x0, y0): (usize, usize),
        (w, h): (usize, usize),
        out: &mut [u16],
    ) -> Result<()> {
        read_u16(&self.band(b)?, &self.info.path, (x0, y0), (w, h), out)
    }

    /// Class names, colours and value range of band 1.
    pub fn legend(&self) -> Result<Legend> {
        let _ = self.ds.geo_transform(); // loads the .aux.xml (PAM), where category names live
        Ok(Legend::of_band(&self.band(1)?))
    }

    /// Pixels and ground area per class (values `0..classes`; nodata and other values
    /// are skipped), read in row blocks.
    pub fn class_areas(&self, classes: usize) -> Result<ClassAreas> {
        let path = &self.info.path;
        let pa = PixelArea::of_grid(path, &self.info.grid)?;
        let band = self.band(1)?;
        let nd = band.no_data_value();
        let (w, h) = (self.info.grid.width_px, self.info.grid.height_px);
        let mut px = vec![0u64; classes];
        let mut m2 = vec![0f64; classes];
        let block = 256.min(h.max(1));
        let mut buf = vec![0u16; w * block];
        let ab = pa.block_px();
        let mut areas = Vec::new();
        for y0 in (0..h).step_by(block) {
            let bh = block.min(h - y0);
            read_u16(&band, path, (0, y0), (w, bh), &mut buf[..w * bh])?;
            pa.fill_blocks(y0, bh, &mut areas);
            let blocks = w.div_ceil(ab).max(1);
            for (r, row_m2) in areas.chunks_exact(blocks).enumerate() {
                for (j, &a) in row_m2.iter().enumerate() {
                    let cols = r * w + j * ab..r * w + ((j + 1) * ab).min(w);
                    for &v in &buf[cols] {
                        if nd.is_some_and(|nd| v as f64 == nd) || v as usize >= classes {
                            continue;
                        }
                        px[v as usize] += 1;
                        m2[v as usize] += a;
                    }
                }
            }
        }
        Ok(ClassAreas {
            pixels: px,
            area_m2: m2,
            method: pa.method(),
        })
    }
}

/// Reads the `w` x `h` window at (x0, y0) of `band` (of the raster at `path`) as u16.
pub fn read_u16(
    band: &RasterBand<'_>,
    path: &Path,
    (x0, y0): (usize, usize),
    (w, h): (usize, usize),
    out: &mut [u16],
) -> Result<()> {
    band.read_into_slice::<u16>((x0 as isize, y0 as isize), (w, h), (w, h), out, None)
        .gdal_err(|t| {
            Error::input(
                path,
                format!("cannot read rows {y0}..{} ({w} px wide): {t}", y0 + h),
            )
        })
}
