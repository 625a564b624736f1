//! The COG's overviews, built while the class map's rows are written: each level is the
//! mode of 2x2 pixels of the level above (nodata left out; a tie goes to the first value
//! in reading order), written into the staging file's overview levels, which the COG
//! driver then copies (`OVERVIEWS=AUTO`) instead of computing them after the run.

/// The overview factors the COG driver makes for a `width x height` raster with
/// `block` px blocks: halving until both sides are at most one block.
pub fn factors(width: usize, height: usize, block: usize) -> Vec<usize> {
    let (mut w, mut h, mut f) = (width, height, 1);
    let mut out = Vec::new();
    while w > block || h > block {
        f *= 2;
        (w, h) = (w / 2, h / 2);
        out.push(f);
    }
    out
}

/// The mode of up to four values, nodata left out (nodata when all are); a tie goes to
/// the value met first.
fn mode4(v: &[u16], nodata: u16) -> u16 {
    let (mut best, mut best_n) = (nodata, 0);
    for (i, &x) in v.iter().enumerate() {
        if x == nodata || v[..i].contains(&x) {
            continue;
        }
        let n = v[i..].iter().filter(|&&y| y == x).count();
        if n > best_n {
            (best, best_n) = (x, n);
        }
    }
    best
}

/// One band's levels as rows come in: a level holds the even row of its level above
/// until the odd one arrives.
pub struct Pyramid {
    width: usize,
    nodata: u16,
    /// Per level: its width, the row waiting for its partner, rows made so far.
    levels: Vec<(usize, Option<Vec<u16>>, usize)>,
}

impl Pyramid {
    pub fn new(width: usize, levels: usize, nodata: u16) -> Pyramid {
        let mut w = width;
        let levels = (0..levels)
            .map(|_| {
                w = w.div_ceil(2);
                (w, None, 0)
            })
            .collect();
        Pyramid {
            width,
            nodata,
            levels,
        }
    }

    /// Adds the next full-resolution row; `emit(level, row index, row)` gets every
    /// overview row this completes (level 0 is the first overview).
    pub fn push(&mut self, row: &[u16], emit: &mut dyn FnMut(usize, usize, &[u16])) {
        debug_assert_eq!(row.len(), self.width);
        self.feed(0, row.to_vec(), emit);
    }

    /// Makes the rows still waiting (an odd last row pairs with nothing).
    pub fn finish(&mut self, emit: &mut dyn FnMut(usize, usize, &[u16])) {
        for level in 0..self.levels.len() {
            if let Some(upper) = self.levels[level].1.take() {
                let row = self.halve(level, &upper, None);
                self.emit_row(level, row, emit);
            }
        }
    }

    fn feed(&mut self, level: usize, row: Vec<u16>, emit: &mut dyn FnMut(usize, usize, &[u16])) {
        if level == self.levels.len() {
            return;
        }
        match self.levels[level].1.take() {
            None => self.levels[level].1 = Some(row),
            Some(upper) => {
                let made = self.halve(level, &upper, Some(&row));
                self.emit_row(level, made, emit);
            }
        }
    }

    fn emit_row(
        &mut self,
        level: usize,
        row: Vec<u16>,
        emit: &mut dyn FnMut(usize, usize, &[u16]),
    ) {
        let index = self.levels[level].2;
        self.levels[level].2 += 1;
        emit(level, index, &row);
        self.feed(level + 1, row, emit);
    }

    /// A row of `level` from rows `a` and `b` (None past the last row) of the level above.
    fn halve(&self, level: usize, a: &[u16], b: Option<&[u16]>) -> Vec<u16> {
        let w = self.levels[level].0;
        let mut out = Vec::with_capacity(w);
        let mut block = [0u16; 4];
        for x in 0..w {
            let (x0, x1) = (2 * x, (2 * x + 2).min(a.len()));
            // most blocks hold one value (nodata included): their mode is that value
            if let (Some(b), 2) = (b, x1 - x0) {
                let v = a[x0];
                if a[x0 + 1] == v && b[x0] == v && b[x0 + 1] == v {
                    out.push(v);
                    continue;
                }
            }
            let mut n = 0;
            for row in std::iter::once(a).chain(b) {
                for &v in &row[x0..x1] {
                    block[n] = v;
                    n += 1;
                }
            }
            out.push(mode4(&block[..n], self.nodata));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cog_drivers_levels() {
        assert_eq!(factors(1933, 1947, 512), vec![2, 4]);
        assert_eq!(factors(512, 512, 512), Vec::<usize>::new());
        assert_eq!(factors(513, 10, 512), vec![2]);
        assert_eq!(factors(3866, 3894, 512), vec![2, 4, 8]);
    }

    #[test]
    fn levels_are_the_mode_of_two_by_two() {
        assert_eq!(mode4(&[1, 2, 2, 3], 255), 2);
        assert_eq!(mode4(&[1, 2, 2, 1], 255), 1); // a tie: the first met
        assert_eq!(mode4(&[255, 255, 7, 255], 255), 7); // nodata left out
        assert_eq!(mode4(&[255, 255], 255), 255);
        // a 5x3 raster, two levels: 3x2 then 2x1
        let rows: [[u16; 5]; 3] = [[1, 1, 2, 2, 9], [3, 1, 2, 255, 9], [4, 4, 5, 6, 255]];
        let mut p = Pyramid::new(5, 2, 255);
        let mut got: Vec<(usize, usize, Vec<u16>)> = Vec::new();
        let mut emit = |l: usize, r: usize, row: &[u16]| got.push((l, r, row.to_vec()));
        for r in &rows {
            p.push(r, &mut emit);
        }
        p.finish(&mut emit);
        assert_eq!(
            got,
            vec![
                (0, 0, vec![1, 2, 9]),
                (0, 1, vec![4, 5, 255]),
                (1, 0, vec![1, 9]),
            ]
        );
    }
}
