//! A raster's pixel grid: its size, its geotransform (pixel -> map coordinates) and its
//! CRS. One type for every grid terratile handles: an input, the model's resampled grid,
//! the comparison window of `change`, an output.

/// GDAL's affine geotransform: map `x = g0 + col*g1 + row*g2`, `y = g3 + col*g4 + row*g5`
/// for pixel-corner coordinates (col, row).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoTransform(pub [f64; 6]);

impl GeoTransform {
    /// Map coordinates of the pixel corner (col, row).
    pub fn apply(&self, col: f64, row: f64) -> (f64, f64) {
        let g = &self.0;
        (
            g[0] + col * g[1] + row * g[2],
            g[3] + col * g[4] + row * g[5],
        )
    }

    /// Pixel coordinates (col, row) of the map point (x, y): the inverse of [`apply`](Self::apply).
    /// None for a degenerate geotransform.
    pub fn to_pixel(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        let g = &self.0;
        if g[2] == 0.0 && g[4] == 0.0 {
            // north-up (or flipped): exact division, no cross terms
            if g[1] == 0.0 || g[5] == 0.0 {
                return None;
            }
            return Some(((x - g[0]) / g[1], (y - g[3]) / g[5]));
        }
        let det = g[1] * g[5] - g[2] * g[4];
        if det == 0.0 {
            return None;
        }
        let (dx, dy) = (x - g[0], y - g[3]);
        Some(((g[5] * dx - g[2] * dy) / det, (g[1] * dy - g[4] * dx) / det))
    }

    /// The geotransform of a window whose top-left pixel is (x0, y0) of this grid.
    pub fn window(&self, x0: usize, y0: usize) -> GeoTransform {
        let g = &self.0;
        let (x, y) = self.apply(x0 as f64, y0 as f64);
        GeoTransform([x, g[1], g[2], y, g[4], g[5]])
    }

    /// The same origin with pixels `sx` times wider and `sy` times taller.
    pub fn scaled(&self, sx: f64, sy: f64) -> GeoTransform {
        let g = &self.0;
        GeoTransform([g[0], g[1] * sx, g[2] * sy, g[3], g[4] * sx, g[5] * sy])
    }

    /// North up: no rotation, x grows east and y grows south.
    pub fn is_north_up(&self) -> bool {
        let g = &self.0;
        g[2] == 0.0 && g[4] == 0.0 && g[1] > 0.0 && g[5] < 0.0
    }

    /// Pixel width and height in CRS units (lengths of the column and row vectors).
    pub fn pixel_size(&self) -> (f64, f64) {
        let g = &self.0;
        (g[1].hypot(g[4]), g[2].hypot(g[5]))
    }

    /// A pixel's area in CRS units squared (the determinant).
    pub fn pixel_area(&self) -> f64 {
        let g = &self.0;
        (g[1] * g[5] - g[2] * g[4]).abs()
    }
}

/// A grid of pixels: size, georeferencing and CRS.
#[derive(Debug, Clone, PartialEq)]
pub struct PixelGrid {
    pub width_px: usize,
    pub height_px: usize,
    /// None when the raster has no geotransform.
    pub geo_transform: Option<GeoTransform>,
    /// CRS as WKT ("" when none).
    pub crs_wkt: String,
}

impl PixelGrid {
    pub fn pixels(&self) -> usize {
        self.width_px * self.height_px
    }

    /// The window `w` x `h` starting at pixel (x0, y0), georeferenced.
    pub fn window(&self, x0: usize, y0: usize, w: usize, h: usize) -> PixelGrid {
        PixelGrid {
            width_px: w,
            height_px: h,
            geo_transform: self.geo_transform.map(|g| g.window(x0, y0)),
            crs_wkt: self.crs_wkt.clone(),
        }
    }

    /// The same extent in `w` x `h` pixels.
    pub fn resized(&self, w: usize, h: usize) -> PixelGrid {
        let (sx, sy) = (
            self.width_px as f64 / w as f64,
            self.height_px as f64 / h as f64,
        );
        PixelGrid {
            width_px: w,
            height_px: h,
            geo_transform: self.geo_transform.map(|g| g.scaled(sx, sy)),
            crs_wkt: self.crs_wkt.clone(),
        }
    }

    /// Points along the boundary, `n` per edge, in the grid's CRS, in ring order
    /// (clockwise on a north-up map), not closed. None without a geotransform.
    pub fn outline(&self, n: usize) -> Option<(Vec<f64>, Vec<f64>)> {
        let gt = self.geo_transform?;
        let (w, h) = (self.width_px as f64, self.height_px as f64);
        let mut px = Vec::with_capacity(4 * n);
        let steps = |k: usize| (0..n).map(move |i| (k, i as f64 / n as f64));
        // top edge left to right, right edge down, bottom edge right to left, left edge up
        for (k, t) in steps(0).chain(steps(1)).chain(steps(2)).chain(steps(3)) {
            px.push(match k {
                0 => (t * w, 0.0),
                1 => (w, t * h),
                2 => (w - t * w, h),
                _ => (0.0, h - t * h),
            });
        }
        Some(px.into_iter().map(|(c, r)| gt.apply(c, r)).unzip())
    }

    /// (xmin, ymin, xmax, ymax) in the grid's CRS. None without a geotransform.
    pub fn bounds(&self) -> Option<[f64; 4]> {
        let (xs, ys) = self.outline(1)?;
        let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
        let max = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some([min(&xs), min(&ys), max(&xs), max(&ys)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_resizing_keep_the_georeferencing() {
        let g = PixelGrid {
            width_px: 100,
            height_px: 50,
            geo_transform: Some(GeoTransform([1000.0, 10.0, 0.0, 5000.0, 0.0, -10.0])),
            crs_wkt: String::new(),
        };
        assert_eq!(g.bounds(), Some([1000.0, 4500.0, 2000.0, 5000.0]));
        let w = g.window(10, 5, 20, 10);
        assert_eq!(w.bounds(), Some([1100.0, 4850.0, 1300.0, 4950.0]));
        let r = g.resized(50, 25);
        assert_eq!(r.bounds(), g.bounds());
        assert_eq!(r.geo_transform.unwrap().pixel_size(), (20.0, 20.0));
        let gt = g.geo_transform.unwrap();
        assert!(gt.is_north_up());
        assert_eq!(gt.to_pixel(1100.0, 4950.0), Some((10.0, 5.0)));
        let rotated = GeoTransform([10.0, 2.0, 1.0, 20.0, 0.5, -3.0]);
        let (x, y) = rotated.apply(7.0, 4.0);
        let (c, r) = rotated.to_pixel(x, y).unwrap();
        assert!((c - 7.0).abs() < 1e-12 && (r - 4.0).abs() < 1e-12);
    }
}
