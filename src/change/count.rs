//! Transition counting: one block of comparison-grid rows at a time, into the from-to
//! matrix (pixels and m2), the per-zone matrices and the statistics tiles of the block,
//! and the change codes of the block's pixels. The hot loop of `change`; allocates
//! nothing per pixel (benches/change.rs).

use std::collections::HashMap;

/// One block of rows of both dates, aligned on the comparison grid.
pub struct Block<'a> {
    pub width: usize,
    /// BEFORE's class values (any data type, read as f64).
    pub before: &'a [f64],
    pub before_nodata: Option<f64>,
    /// AFTER's class values, warped (UInt16).
    pub after: &'a [u16],
    pub after_nodata: u16,
    /// Zone index + 1 per pixel (0: no zone), when there are zones.
    pub zones: Option<&'a [u32]>,
    /// Columns per area block (see [`crate::raster::PixelArea::fill_blocks`]).
    pub area_block_px: usize,
    /// The area of each pixel of each area block: `area_m2[r * blocks + j]` for row `r`
    /// and columns `j * area_block_px ..`, `blocks = width.div_ceil(area_block_px)`.
    pub area_m2: &'a [f64],
}

/// A value that is neither nodata nor a class index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BadValue {
    /// true: BEFORE's value, false: AFTER's.
    pub in_before: bool,
    pub value: f64,
    pub x: usize,
    /// Row within the block.
    pub y: usize,
}

/// The figures of one statistics tile of the current block row.
#[derive(Debug, Default, Clone)]
pub struct TileAcc {
    pub valid_px: u64,
    pub changed_px: u64,
    pub changed_area_m2: f64,
    /// Changed pixels per change code: dense for up to 32 classes, else sparse.
    dense: Vec<u64>,
    sparse: HashMap<u32, u64>,
}

impl TileAcc {
    /// The changed (from, to) pair with most pixels (the lowest code on ties).
    pub fn dominant(&self, classes: usize) -> Option<(usize, usize, u64)> {
        let best = if self.dense.is_empty() {
            self.sparse
                .iter()
                .map(|(c, p)| (*c as usize, *p))
                .max_by_key(|&(c, p)| (p, std::cmp::Reverse(c)))
        } else {
            self.dense
                .iter()
                .enumerate()
                .filter(|(_, p)| **p > 0)
                .map(|(c, p)| (c, *p))
                .max_by_key(|&(c, p)| (p, std::cmp::Reverse(c)))
        };
        best.map(|(c, p)| (c / classes, c % classes, p))
    }
}

/// Dense per-tile pair counts up to this many classes.
const DENSE_CLASSES: usize = 32;

/// Accumulates transition counts over blocks of rows.
pub struct Counter {
    pub classes: usize,
    pub tile_px: usize,
    /// The change raster's nodata.
    pub nodata: u16,
    /// `matrix_px[from * N + to]`
    pub matrix_px: Vec<u64>,
    pub matrix_area_m2: Vec<f64>,
    /// `zone_px[zone * N * N + from * N + to]`
    pub zone_px: Vec<u64>,
    pub zone_area_m2: Vec<f64>,
    /// The statistics tiles of the last block, left to right.
    pub tiles: Vec<TileAcc>,
}

impl Counter {
    pub fn new(classes: usize, zones: usize, width: usize, tile_px: usize, nodata: u16) -> Counter {
        let nn = classes * classes;
        let cols = width.div_ceil(tile_px.max(1));
        let tile = TileAcc {
            dense: if classes <= DENSE_CLASSES {
                vec![0; nn]
            } else {
                Vec::new()
            },
            ..TileAcc::default()
        };
        Counter {
            classes,
            tile_px: tile_px.max(1),
            nodata,
            matrix_px: vec![0; nn],
            matrix_area_m2: vec![0.0; nn],
            zone_px: vec![0; zones * nn],
            zone_area_m2: vec![0.0; zones * nn],
            tiles: vec![tile; cols],
        }
    }

    /// Counts one block and writes its change codes (`from * N + to`, or nodata where
    /// either date has no class) into `codes`. The block's tiles replace the previous
    /// block's in `self.tiles`.
    pub fn add_block(&mut self, b: &Block, codes: &mut [u16]) -> Result<(), BadValue> {
        let n = self.classes;
        let nn = n * n;
        for t in self.tiles.iter_mut() {
            t.valid_px = 0;
            t.changed_px = 0;
            t.changed_area_m2 = 0.0;
            t.dense.iter_mut().for_each(|v| *v = 0);
            t.sparse.clear();
        }
        let w = b.width;
        let ab = b.area_block_px.max(1);
        let blocks = w.div_ceil(ab).max(1);
        for (r, row_m2) in b.area_m2.chunks_exact(blocks).enumerate() {
            let row = r * w;
            let (bs, as_, cs) = (
                &b.before[row..row + w],
                &b.after[row..row + w],
                &mut codes[row..row + w],
            );
            for (j, &px_m2) in row_m2.iter().enumerate() {
                for c in j * ab..((j + 1) * ab).min(w) {
                    let (bv, av) = (bs[c], as_[c]);
                    if !bv.is_finite() || b.before_nodata == Some(bv) || av == b.after_nodata {
                        cs[c] = self.nodata;
                        continue;
                    }
                    if bv < 0.0 || bv.fract() != 0.0 || bv as usize >= n {
                        return Err(BadValue {
                            in_before: true,
                            value: bv,
                            x: c,
                            y: r,
                        });
                    }
                    if av as usize >= n {
                        return Err(BadValue {
                            in_before: false,
                            value: av as f64,
                            x: c,
                            y: r,
                        });
                    }
                    let (f, t) = (bv as usize, av as usize);
                    let code = f * n + t;
                    cs[c] = code as u16;
                    self.matrix_px[code] += 1;
                    self.matrix_area_m2[code] += px_m2;
                    if let Some(z) = b.zones {
                        let z = z[row + c] as usize;
                        if z > 0 {
                            let k = (z - 1) * nn + code;
                            self.zone_px[k] += 1;
                            self.zone_area_m2[k] += px_m2;
                        }
                    }
                    let ta = &mut self.tiles[c / self.tile_px];
                    ta.valid_px += 1;
                    if f != t {
                        ta.changed_px += 1;
                        ta.changed_area_m2 += px_m2;
                        if ta.dense.is_empty() {
                            *ta.sparse.entry(code as u32).or_default() += 1;
                        } else {
                            ta.dense[code] += 1;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_of<'a>(before: &'a [f64], after: &'a [u16], areas: &'a [f64], w: usize) -> Block<'a> {
        Block {
            width: w,
            before,
            before_nodata: Some(255.0),
            after,
            after_nodata: u16::MAX,
            zones: None,
            area_block_px: w,
            area_m2: areas,
        }
    }

    #[test]
    fn counts_codes_tiles_and_nodata() {
        // 4 x 2 px, 3 classes, tiles of 2 px
        let before = [0.0, 1.0, 2.0, 255.0, 1.0, 1.0, 0.0, 2.0];
        let after = [0u16, 2, 2, 1, 1, u16::MAX, 1, 0];
        let mut k = Counter::new(3, 0, 4, 2, 255);
        let mut codes = [0u16; 8];
        k.add_block(&block_of(&before, &after, &[10.0, 20.0], 4), &mut codes)
            .unwrap();
        assert_eq!(codes, [0, 5, 8, 255, 4, 255, 1, 6]);
        let mut want = vec![0u64; 9];
        for c in [0usize, 5, 8, 4, 1, 6] {
            want[c] += 1;
        }
        assert_eq!(k.matrix_px, want);
        assert_eq!(k.matrix_area_m2[5], 10.0);
        assert_eq!(k.matrix_area_m2[6], 20.0);
        assert_eq!(k.tiles[0].valid_px, 3);
        assert_eq!(k.tiles[0].changed_px, 1);
        assert_eq!(k.tiles[1].valid_px, 3);
        assert_eq!(k.tiles[1].changed_px, 2);
        assert_eq!(k.tiles[1].changed_area_m2, 40.0);
        // 0 -> 1 and 2 -> 0 have one pixel each: the lower code wins the tie
        assert_eq!(k.tiles[1].dominant(3), Some((0, 1, 1)));
    }

    #[test]
    fn areas_by_column_block() {
        // 5 x 2 px in blocks of 2 columns: areas 1, 2, 3 on row 0 and 10, 20, 30 on row 1
        let before = [0.0; 10];
        let after = [0u16, 1, 1, 1, 1, 0, 0, 0, 0, 1];
        let mut k = Counter::new(2, 0, 5, 5, 255);
        let mut codes = [0u16; 10];
        let areas = [1.0, 2.0, 3.0, 10.0, 20.0, 30.0];
        let mut b = block_of(&before, &after, &areas, 5);
        b.area_block_px = 2;
        k.add_block(&b, &mut codes).unwrap();
        assert_eq!(k.matrix_px, vec![5, 5, 0, 0]);
        assert_eq!(k.matrix_area_m2[0], 1.0 + 10.0 + 10.0 + 20.0 + 20.0);
        assert_eq!(k.matrix_area_m2[1], 1.0 + 2.0 + 2.0 + 3.0 + 30.0);
        assert_eq!(k.tiles[0].changed_area_m2, 1.0 + 2.0 + 2.0 + 3.0 + 30.0);
    }

    #[test]
    fn rejects_values_that_are_not_classes() {
        let mut k = Counter::new(3, 0, 2, 2, 255);
        let mut codes = [0u16; 2];
        let e = k
            .add_block(&block_of(&[0.0, 3.0], &[0, 0], &[1.0], 2), &mut codes)
            .unwrap_err();
        assert_eq!((e.in_before, e.value, e.x), (true, 3.0, 1));
        let e = k
            .add_block(&block_of(&[0.0, 1.5], &[0, 0], &[1.0], 2), &mut codes)
            .unwrap_err();
        assert_eq!(e.value, 1.5);
        let e = k
            .add_block(&block_of(&[0.0, 1.0], &[0, 7], &[1.0], 2), &mut codes)
            .unwrap_err();
        assert!(!e.in_before);
    }

    #[test]
    fn sparse_tiles_for_many_classes() {
        let mut k = Counter::new(40, 0, 2, 2, u16::MAX);
        let mut codes = [0u16; 2];
        k.add_block(&block_of(&[39.0, 3.0], &[1, 3], &[1.0], 2), &mut codes)
            .unwrap();
        assert_eq!(codes, [39 * 40 + 1, 3 * 40 + 3]);
        assert_eq!(k.tiles[0].dominant(40), Some((39, 1, 1)));
    }
}
