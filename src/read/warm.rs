//! The first tile's blocks, read while the model loads: ONNX Runtime builds its session
//! on one core for a tenth of a second or more, and the first tile cannot be read
//! before the plan (which needs the model) says where it is. [`Warm::start`] opens the
//! input and reads its top-left corner (where a run's first tile lies), which leaves
//! the decompressed blocks in that dataset's GDAL block cache; the first [`Reader`]
//! (super::Reader) of the same path then takes that dataset instead of opening its own,
//! so the first tile is read from memory while the model waits for it. While the model
//! still loads after that, the rows below and beside the corner follow, block row by
//! block row, as far as half of GDAL's block cache: their blocks are then decompressed
//! on a core the model's loading leaves idle rather than on one its runs use.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use gdal::Dataset;

/// The side of the corner read: the default tiles of large models are 512-1024 px.
const CORNER_PX: usize = 1024;
/// Inputs with more bands than this are not warmed (their corner's blocks would take
/// too much of GDAL's block cache).
const MAX_BANDS: usize = 16;

/// The warmed dataset, waiting for its reader.
static WARM: Mutex<Option<(PathBuf, Dataset)>> = Mutex::new(None);

/// The warmed dataset of one run: dropped (and given back to nobody) when the run ends.
pub struct Warm(());

impl Warm {
    /// Opens `path` and reads its top-left corner into GDAL's block cache, all bands,
    /// then, while `more()` says so, the raster's first rows after it; on any failure
    /// nothing is warmed (the reader reports errors itself).
    pub fn start(path: &Path, more: impl Fn() -> bool) -> Warm {
        let started = std::time::Instant::now();
        let warmed = (|| {
            let ds = Dataset::open(path).ok()?;
            let (w, h) = ds.raster_size();
            let n = ds.raster_count();
            if n == 0 || n > MAX_BANDS {
                return None;
            }
            let read = |(x, y): (usize, usize), size: (usize, usize), buf: &mut Vec<f32>| {
                buf.resize(size.0 * size.1, 0.0);
                (1..=n).all(|b| {
                    ds.rasterband(b).is_ok_and(|band| {
                        band.read_into_slice::<f32>((x as isize, y as isize), size, size, buf, None)
                            .is_ok()
                    })
                })
            };
            let mut buf = Vec::new();
            let corner = (w.min(CORNER_PX), h.min(CORNER_PX));
            if !read((0, 0), corner, &mut buf) {
                return None;
            }
            // then rows of chunks, left to right and down, as tiles come; the corner's
            // own chunks are in the cache already
            let band = ds.rasterband(1).ok()?;
            let (bw, bh) = band.block_size();
            let bytes = n * band.band_type().bytes().max(1) as usize;
            // SAFETY: reads a process-wide setting
            let budget = (unsafe { gdal_sys::GDALGetCacheMax64() }.max(0) as usize) / 2;
            // chunks of whole blocks; of 64 rows at least (a strip is often one row)
            let (step_x, step_y) = (bw.clamp(1, CORNER_PX), bh.clamp(64, CORNER_PX));
            let mut warmed = corner.0 * corner.1 * bytes;
            'rows: for y in (0..h).step_by(step_y) {
                for x in (0..w).step_by(step_x) {
                    let size = (step_x.min(w - x), step_y.min(h - y));
                    if x + size.0 <= corner.0 && y + size.1 <= corner.1 {
                        continue;
                    }
                    if warmed + size.0 * size.1 * bytes > budget
                        || !more()
                        || !read((x, y), size, &mut buf)
                    {
                        break 'rows;
                    }
                    warmed += size.0 * size.1 * bytes;
                }
            }
            tracing::debug!(
                "warm read: {:.1} MB of {} in {:.3} s",
                warmed as f64 / 1e6,
                path.display(),
                started.elapsed().as_secs_f64()
            );
            Some(ds)
        })();
        if let Some(ds) = warmed {
            *WARM.lock().unwrap_or_else(|e| e.into_inner()) = Some((path.to_path_buf(), ds));
        }
        Warm(())
    }
}

impl Drop for Warm {
    fn drop(&mut self) {
        WARM.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

/// The warmed dataset of `path`, if one waits (taken: a dataset serves one thread).
pub(super) fn take(path: &Path) -> Option<Dataset> {
    let mut slot = WARM.lock().unwrap_or_else(|e| e.into_inner());
    match slot.as_ref() {
        Some((p, _)) if p == path => slot.take().map(|(_, ds)| ds),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::Reader;
    use gdal::raster::Buffer;
    use gdal::DriverManager;
    use tiles::Rect;

    #[test]
    fn the_first_reader_of_the_path_takes_the_warmed_dataset() {
        let path = Path::new("/vsimem/terratile-warm-test.tif");
        let values: Vec<u16> = (0..40 * 30).map(|i| i as u16).collect();
        {
            let driver = DriverManager::get_driver_by_name("GTiff").unwrap();
            let ds = driver
                .create_with_band_type::<u16, _>(path, 40, 30, 2)
                .unwrap();
            for b in 1..=2 {
                let data = values.iter().map(|&v| v + b as u16).collect();
                let mut buf = Buffer::new((40, 30), data);
                ds.rasterband(b)
                    .unwrap()
                    .write((0, 0), (40, 30), &mut buf)
                    .unwrap();
            }
        }
        let warm = Warm::start(path, || true);
        assert!(take(Path::new("/vsimem/another.tif")).is_none());
        // the reader reads through the warmed dataset: the file's values, bands in order
        let mut reader = Reader::new(path, &[2, 1]).unwrap();
        assert!(take(path).is_none(), "taken by the reader");
        let rect = Rect {
            x0: 3,
            y0: 5,
            w: 10,
            h: 4,
        };
        let (mut out, mut valid) = (vec![Vec::new(); 2], vec![0u8; rect.area()]);
        assert_eq!(reader.read(rect, &mut out, &mut valid).unwrap(), 40);
        assert_eq!(out[0][0], values[5 * 40 + 3] as f32 + 2.0);
        assert_eq!(out[1][0], values[5 * 40 + 3] as f32 + 1.0);
        // a warmed dataset nobody took goes with its run
        drop(warm);
        let _again = Warm::start(path, || false);
        assert!(WARM.lock().unwrap().is_some());
        drop(_again);
        assert!(take(path).is_none());
        gdal::vsi::unlink_mem_file(path).unwrap();
    }
}
