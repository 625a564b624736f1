//! The series' summary rasters, from the interval change rasters (all on the comparison
//! grid): for each pixel, the interval in which it last changed class ("last change":
//! 0 = never, k = interval k) and the number of intervals in which it changed ("count").
//! An interval counts for a pixel only where both its dates are valid; a pixel valid in
//! no interval is nodata in both. Rows are streamed in blocks; both rasters are COGs
//! with a colour table and category names ([`crate::write::ClassWriter`]).

use std::path::{Path, PathBuf};

use super::super::grid::CompareGrid;
use crate::error::{Error, GdalContext, Result};
use crate::raster::{ClassMap, PixelArea};
use crate::stitch::Rows;
use crate::write::{ClassWriter, OutputSpec, Publish};

/// What the tally counted.
#[derive(Debug, Clone, PartialEq)]
pub struct Tally {
    /// `last_change_px[k]`: pixels whose last change was in interval k (0 = never).
    pub last_change_px: Vec<u64>,
    /// `count_px[c]`: pixels that changed in c intervals.
    pub count_px: Vec<u64>,
    /// Pixels (and m2) valid in every interval, so at every date.
    pub valid_all_px: u64,
    pub valid_all_m2: f64,
}

/// A ramp of `k` colours from light yellow to dark purple (viridis's end, reversed).
fn ramp(k: usize) -> Vec<[u8; 3]> {
    const STOPS: [[f64; 3]; 5] = [
        [253.0, 231.0, 37.0],
        [94.0, 201.0, 98.0],
        [33.0, 145.0, 140.0],
        [59.0, 82.0, 139.0],
        [68.0, 1.0, 84.0],
    ];
    (0..k)
        .map(|i| {
            let t = if k > 1 {
                i as f64 / (k - 1) as f64
            } else {
                0.0
            } * (STOPS.len() - 1) as f64;
            let j = (t.floor() as usize).min(STOPS.len() - 2);
            let f = t - j as f64;
            let c = |ch: usize| (STOPS[j][ch] * (1.0 - f) + STOPS[j + 1][ch] * f).round() as u8;
            [c(0), c(1), c(2)]
        })
        .collect()
}

/// Reads the interval rasters `intervals` (change codes `from * N + to`) and writes the
/// last-change and count rasters to `(last, count)`; `labels[k]` names interval k + 1;
/// `n` is the number of classes compared.
pub fn tally(
    intervals: &[PathBuf],
    n: usize,
    grid: &CompareGrid,
    labels: &[String],
    (last, count): (&Path, &Path),
    threads: Option<usize>,
    publish: &Publish,
) -> Result<Tally> {
    let m = intervals.len();
    let maps: Vec<ClassMap> = intervals
        .iter()
        .map(|p| ClassMap::open(p))
        .collect::<Result<_>>()?;
    let mut codes = Vec::with_capacity(m);
    for map in &maps {
        let band = map.band(1)?;
        let nodata = band.no_data_value().map(|v| v as u16);
        codes.push((band, nodata));
    }
    let mut names = vec!["no change".to_string()];
    names.extend(
        labels
            .iter()
            .enumerate()
            .map(|(k, l)| format!("{}: {l}", k + 1)),
    );
    let mut colors = vec![[225, 225, 225]];
    colors.extend(ramp(m));
    let mut count_names = vec!["no change".to_string(), "1 change".to_string()];
    count_names.extend((2..=m).map(|c| format!("{c} changes")));
    count_names.truncate(m + 1);
    let mut count_colors = vec![[225, 225, 225]];
    count_colors.extend(ramp(m));
    let spec = |path: &Path, names: Vec<String>, colors: Vec<[u8; 3]>, what: &str| OutputSpec {
        path: path.to_path_buf(),
        grid: grid.grid.clone(),
        class_names: names,
        class_colors: colors,
        confidence: false,
        threads: threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        metadata: vec![
            (
                "TERRATILE_VERSION".to_string(),
                env!("CARGO_PKG_VERSION").to_string(),
            ),
            ("TERRATILE_SERIES".into(), what.into()),
            ("TERRATILE_INTERVALS".into(), labels.join("; ")),
        ],
        publish: publish.clone(),
        overviews: false,
    };
    let mut lw = ClassWriter::create(spec(
        last,
        names,
        colors,
        "last change: the interval (1..) in which the pixel last changed class, 0 = never",
    ))?;
    let mut cw = ClassWriter::create(spec(
        count,
        count_names,
        count_colors,
        "count of changes: the intervals in which the pixel changed class",
    ))?;
    let nodata = 255u16; // both hold at most 255 values (m <= 254 intervals)
    let pa = PixelArea::of_grid(intervals[0].as_path(), &grid.grid)?;
    let (w, h) = (grid.width_px(), grid.height_px());
    let block = 256.min(h).max(1);
    let mut buf = vec![0u16; w * block];
    let mut lbuf = vec![0u16; w * block];
    let mut cbuf = vec![0u16; w * block];
    let mut valid = vec![0u16; w * block];
    let mut areas = Vec::new();
    let mut t = Tally {
        last_change_px: vec![0; m + 1],
        count_px: vec![0; m + 1],
        valid_all_px: 0,
        valid_all_m2: 0.0,
    };
    for y0 in (0..h).step_by(block) {
        if crate::cancel::requested() {
            return Err(Error::Interrupted(last.to_path_buf()));
        }
        let bh = block.min(h - y0);
        let len = w * bh;
        lbuf[..len].fill(0);
        cbuf[..len].fill(0);
        valid[..len].fill(0);
        for (k, (band, nd)) in codes.iter().enumerate() {
            let b = &mut buf[..len];
            band.read_into_slice::<u16>((0, y0 as isize), (w, bh), (w, bh), b, None)
                .gdal_err(|e| {
                    Error::input(
                        &intervals[k],
                        format!("cannot read rows {y0}..{}: {e}", y0 + bh),
                    )
                })?;
            for (p, &c) in b.iter().enumerate() {
                if Some(c) == *nd {
                    continue;
                }
                valid[p] += 1;
                let c = c as usize;
                if c / n != c % n {
                    lbuf[p] = k as u16 + 1;
                    cbuf[p] += 1;
                }
            }
        }
        pa.fill_blocks(y0, bh, &mut areas);
        let ab = pa.block_px();
        let blocks = w.div_ceil(ab).max(1);
        for p in 0..len {
            if valid[p] == 0 {
                lbuf[p] = nodata;
                cbuf[p] = nodata;
                continue;
            }
            t.last_change_px[lbuf[p] as usize] += 1;
            t.count_px[cbuf[p] as usize] += 1;
            if valid[p] as usize == m {
                t.valid_all_px += 1;
                t.valid_all_m2 += areas[(p / w) * blocks + (p % w) / ab];
            }
        }
        for (wr, b) in [(&mut lw, &lbuf), (&mut cw, &cbuf)] {
            wr.write_rows(&Rows {
                y0,
                h: bh,
                width: w,
                classes: b[..len].to_vec(),
                confidence: None,
                class_counts: Vec::new(),
            })?;
        }
    }
    drop(codes);
    drop(maps);
    lw.finish(&t.last_change_px)?;
    cw.finish(&t.count_px)?;
    Ok(t)
}
