//! Stage 1 of the flow (**read** -> prepare -> infer -> stitch -> write): reading
//! windows of chosen bands of an input raster as f32, with a validity mask that combines
//! each band's nodata, mask band, alpha and non-finite values; and ([`resample`]) reading
//! it at the model's resolution. Opening and describing rasters is [`crate::raster`]'s.
//!
//! A GDAL `Dataset` is `Send` but not `Sync`: each thread that reads opens its own
//! [`Reader`].

use std::path::{Path, PathBuf};

pub mod resample;
pub mod warm;

use gdal::raster::{ColorInterpretation, GdalDataType};
use gdal::Dataset;
use tiles::Rect;

use crate::error::{gdal_text, Error, GdalContext, Result};
use crate::raster::open;

/// Where a window's validity comes from, besides finite values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MaskSource {
    /// GDAL's mask band of this band (nodata, per-band or per-dataset mask, alpha).
    MaskOf(usize),
    /// An alpha band GDAL does not use as the mask: 0 is transparent.
    Alpha(usize),
}

/// Data types whose every value is exact in f32, so nodata can be compared in the f32
/// buffer already read instead of reading GDAL's mask (which reads the band again).
fn exact_in_f32(t: GdalDataType) -> bool {
    matches!(
        t,
        GdalDataType::UInt8 | GdalDataType::UInt16 | GdalDataType::Int16 | GdalDataType::Float32
    )
}

/// Reads windows of selected bands from one raster; one per thread.
pub struct Reader {
    path: PathBuf,
    ds: Dataset,
    /// 1-based band numbers, in model channel order.
    bands: Vec<usize>,
    /// The masks to read for each window; a per-dataset mask is read once.
    masks: Vec<MaskSource>,
    /// Per selected band: its nodata value, when it is compared in the buffer.
    nodata: Vec<Option<f32>>,
    /// Per selected band: integer values (always finite in f32, nothing to check
    /// without a nodata value).
    integer: Vec<bool>,
    mask_buf: Vec<u8>,
}

impl Reader {
    pub fn new(path: &Path, bands: &[usize]) -> Result<Reader> {
        let ds = match warm::take(path) {
            Some(ds) => ds,
            None => open(path)?,
        };
        let mut masks = Vec::new();
        let mut nodata = Vec::with_capacity(bands.len());
        let mut integer = Vec::with_capacity(bands.len());
        let (mut per_dataset, mut alpha_used) = (false, false);
        for &b in bands {
            let band = ds
                .rasterband(b)
                .gdal_err(|t| Error::input(path, format!("cannot open band {b}: {t}")))?;
            let flags = band.mask_flags().gdal_err(|t| Error::input(path, t))?;
            alpha_used |= flags.is_alpha();
            let nd = band
                .no_data_value()
                .filter(|_| flags.is_nodata() && exact_in_f32(band.band_type()));
            nodata.push(nd.map(|v| v as f32));
            integer.push(band.band_type().is_integer());
            if nd.is_some() || flags.is_all_valid() || (flags.is_per_dataset() && per_dataset) {
                continue;
            }
            per_dataset |= flags.is_per_dataset();
            masks.push(MaskSource::MaskOf(b));
        }
        // GDAL only takes alpha as the mask of 2- and 4-band rasters: honour it always.
        if !alpha_used {
            for b in 1..=ds.raster_count() {
                let band = ds.rasterband(b).gdal_err(|t| Error::input(path, t))?;
                if band.color_interpretation() == ColorInterpretation::AlphaBand {
                    masks.push(MaskSource::Alpha(b));
                }
            }
        }
        Ok(Reader {
            path: path.to_path_buf(),
            ds,
            bands: bands.to_vec(),
            masks,
            nodata,
            integer,
            mask_buf: Vec::new(),
        })
    }

    /// Reads `rect` of every selected band into `out[c]` (row-major, `rect.w * rect.h`)
    /// and sets `valid[i]` to 1 where every band has data, 0 elsewhere.
    /// Returns the number of valid pixels.
    pub fn read(&mut self, rect: Rect, out: &mut [Vec<f32>], valid: &mut [u8]) -> Result<usize> {
        let n = rect.area();
        let (offset, size) = ((rect.x0 as isize, rect.y0 as isize), (rect.w, rect.h));
        valid[..n].fill(1);
        for (c, &b) in self.bands.iter().enumerate() {
            let buf = &mut out[c];
            buf.resize(n, 0.0);
            let band = self
                .ds
                .rasterband(b)
                .gdal_err(|t| Error::input(&self.path, t))?;
            band.read_into_slice::<f32>(offset, size, size, buf, None)
                .map_err(|e| self.read_error(rect, b, e))?;
            match self.nodata[c] {
                None if self.integer[c] => {}
                Some(nd) if self.integer[c] => {
                    for (v, x) in valid[..n].iter_mut().zip(buf.iter()) {
                        *v &= (*x != nd) as u8;
                    }
                }
                // NaN nodata is caught by is_finite; any other value is compared exactly
                Some(nd) if !nd.is_nan() => {
                    for (v, x) in valid[..n].iter_mut().zip(buf.iter()) {
                        *v &= (x.is_finite() && *x != nd) as u8;
                    }
                }
                _ => {
                    for (v, x) in valid[..n].iter_mut().zip(buf.iter()) {
                        *v &= x.is_finite() as u8;
                    }
                }
            }
        }
        self.mask_buf.resize(n, 0);
        for &m in &self.masks {
            let b = match m {
                MaskSource::MaskOf(b) | MaskSource::Alpha(b) => b,
            };
            let band = self
                .ds
                .rasterband(b)
                .gdal_err(|t| Error::input(&self.path, t))?;
            let read = match m {
                MaskSource::MaskOf(_) => band.open_mask_band().and_then(|mask| {
                    mask.read_into_slice::<u8>(offset, size, size, &mut self.mask_buf, None)
                }),
                MaskSource::Alpha(_) => {
                    band.read_into_slice::<u8>(offset, size, size, &mut self.mask_buf, None)
                }
            };
            read.map_err(|e| self.read_error(rect, b, e))?;
            for (v, m) in valid[..n].iter_mut().zip(&self.mask_buf) {
                *v &= (*m != 0) as u8;
            }
        }
        Ok(valid[..n].iter().map(|&v| v as usize).sum())
    }

    fn read_error(&self, rect: Rect, band: usize, e: gdal::errors::GdalError) -> Error {
        Error::input(
            &self.path,
            format!(
                "cannot read band {band} at x={} y={} ({}x{} px): {}; the file may be truncated or corrupt",
                rect.x0, rect.y0, rect.w, rect.h, gdal_text(&e)
            ),
        )
        .caused_by(e)
    }
}

/// A raster and its bands read, one per model channel.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    /// 1-based band numbers, in channel order.
    pub bands: Vec<usize>,
}

/// Reads the same window of one or more rasters on one grid (the two dates of a change
/// model): the bands of each, one raster after the other, valid where every raster has
/// data.
pub struct Stack {
    readers: Vec<Reader>,
    valid_buf: Vec<u8>,
}

impl Stack {
    pub fn new(sources: &[Source]) -> Result<Stack> {
        let readers = sources
            .iter()
            .map(|s| Reader::new(&s.path, &s.bands))
            .collect::<Result<Vec<_>>>()?;
        Ok(Stack {
            readers,
            valid_buf: Vec::new(),
        })
    }

    /// Channels read: every source's bands.
    pub fn channels(&self) -> usize {
        self.readers.iter().map(|r| r.bands.len()).sum()
    }

    /// As [`Reader::read`] over every source, into consecutive `out` channels.
    pub fn read(&mut self, rect: Rect, out: &mut [Vec<f32>], valid: &mut [u8]) -> Result<usize> {
        let n = rect.area();
        let mut c0 = 0;
        for (i, r) in self.readers.iter_mut().enumerate() {
            let c = r.bands.len();
            if i == 0 {
                r.read(rect, &mut out[c0..c0 + c], valid)?;
            } else {
                self.valid_buf.resize(n, 0);
                r.read(rect, &mut out[c0..c0 + c], &mut self.valid_buf)?;
                for (v, w) in valid[..n].iter_mut().zip(&self.valid_buf) {
                    *v &= *w;
                }
            }
            c0 += c;
        }
        Ok(valid[..n].iter().map(|&v| v as usize).sum())
    }
}

/// A sample of the valid values of `bands` of `path` (one vector per band): the whole
/// raster when it is small, else 64 windows of 64x64 px spread evenly over it.
pub fn sample_values(path: &Path, bands: &[usize]) -> Result<Vec<Vec<f32>>> {
    const SIDE: usize = 8;
    const WINDOW: usize = 64;
    let mut reader = Reader::new(path, bands)?;
    let (w, h) = reader.ds.raster_size();
    let rects: Vec<Rect> = if w * h <= 512 * 512 {
        (0..h)
            .step_by(64)
            .map(|y0| Rect {
                x0: 0,
                y0,
                w,
                h: 64.min(h - y0),
            })
            .collect()
    } else {
        let (ww, wh) = (WINDOW.min(w), WINDOW.min(h));
        let at = |i: usize, n: usize, win: usize| i * (n - win) / (SIDE - 1);
        (0..SIDE * SIDE)
            .map(|k| Rect {
                x0: at(k % SIDE, w, ww),
                y0: at(k / SIDE, h, wh),
                w: ww,
                h: wh,
            })
            .collect()
    };
    let mut out = vec![Vec::new(); bands.len()];
    let mut bufs = vec![Vec::new(); bands.len()];
    let mut valid = Vec::new();
    for rect in rects {
        valid.resize(rect.area(), 0u8);
        reader.read(rect, &mut bufs, &mut valid)?;
        for (o, b) in out.iter_mut().zip(&bufs) {
            o.extend(
                b.iter()
                    .zip(&valid)
                    .filter(|(_, &v)| v != 0)
                    .map(|(x, _)| *x),
            );
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gdal::raster::{Buffer, GdalType};
    use gdal::DriverManager;

    /// A 2-band raster of type `T` at `path`: band 1 `values`, band 2 `values` reversed,
    /// nodata `nodata` on both.
    fn raster<T: GdalType + Copy>(path: &str, values: &[T], nodata: Option<f64>) {
        let driver = DriverManager::get_driver_by_name("GTiff").unwrap();
        let ds = driver.create_with_band_type::<T, _>(path, 4, 3, 2).unwrap();
        for b in 1..=2 {
            let mut data = values.to_vec();
            if b == 2 {
                data.reverse();
            }
            let mut band = ds.rasterband(b).unwrap();
            band.set_no_data_value(nodata).unwrap();
            band.write((0, 0), (4, 3), &mut Buffer::new((4, 3), data))
                .unwrap();
        }
    }

    /// 8- and 16-bit integer bands (whose nodata is compared in the values read): their
    /// values as f32, bands in the order asked, and a pixel that is nodata in either
    /// band invalid.
    #[test]
    fn small_integer_bands_read_their_values_and_nodata() {
        let rect = Rect {
            x0: 1,
            y0: 0,
            w: 3,
            h: 2,
        };
        let check = |path: &str, expect: &[f32], nodata: Option<f32>| {
            let mut reader = Reader::new(Path::new(path), &[2, 1]).unwrap();
            let (mut out, mut valid) = (vec![Vec::new(); 2], vec![9u8; rect.area()]);
            let n = reader.read(rect, &mut out, &mut valid).unwrap();
            // band 1 in window (1,0)+3x2: cells 1,2,3,5,6,7; band 2 holds them reversed
            let cells = [1, 2, 3, 5, 6, 7];
            let b1: Vec<f32> = cells.iter().map(|&i| expect[i]).collect();
            let b2: Vec<f32> = cells.iter().map(|&i| expect[11 - i]).collect();
            assert_eq!((&out[0], &out[1]), (&b2, &b1), "{path}");
            let ok: Vec<u8> = (0..6)
                .map(|k| (Some(b1[k]) != nodata && Some(b2[k]) != nodata) as u8)
                .collect();
            assert_eq!(valid, ok, "{path}");
            assert_eq!(n, ok.iter().filter(|&&v| v == 1).count());
            gdal::vsi::unlink_mem_file(path).unwrap();
        };
        let v: Vec<i32> = vec![0, 7, 0, 200, 9, 0, 31, 255, 4, 5, 0, 6];
        let f: Vec<f32> = v.iter().map(|&x| x as f32).collect();
        let p = "/vsimem/terratile-read-u8.tif";
        raster(
            p,
            &v.iter().map(|&x| x as u8).collect::<Vec<_>>(),
            Some(0.0),
        );
        check(p, &f, Some(0.0));
        let p = "/vsimem/terratile-read-u16.tif";
        raster(
            p,
            &v.iter().map(|&x| x as u16 * 257).collect::<Vec<_>>(),
            None,
        );
        check(
            p,
            &v.iter().map(|&x| (x * 257) as f32).collect::<Vec<_>>(),
            None,
        );
        let p = "/vsimem/terratile-read-i16.tif";
        let neg: Vec<i16> = v
            .iter()
            .map(|&x| if x == 0 { -9999 } else { -(x as i16) })
            .collect();
        raster(p, &neg, Some(-9999.0));
        check(
            p,
            &neg.iter().map(|&x| x as f32).collect::<Vec<_>>(),
            Some(-9999.0),
        );
    }
}
