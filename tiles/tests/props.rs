//! Property tests of the tile grid: cores partition the raster, windows stay inside it,
//! and blending weights leave no pixel without a positive total weight.

use proptest::prelude::*;
use tiles::{Grid, GridSpec};

/// Grids of any size, tile and overlap; a quarter of them aligned to 2, 4 or 8 px (the
/// grid of a model whose output is 1/2, 1/4 or 1/8 of its input).
fn spec() -> impl Strategy<Value = GridSpec> {
    (
        1usize..700,
        1usize..700,
        prop::sample::select(vec![1usize, 1, 1, 1, 1, 1, 2, 4, 8]),
    )
        .prop_flat_map(|(w, h, a)| (Just(w), Just(h), Just(a), 1usize..=300 / a))
        .prop_flat_map(|(w, h, a, t)| (Just(w), Just(h), Just(a), Just(t), 0..t))
        .prop_flat_map(|(w, h, a, t, o)| {
            (
                Just(w),
                Just(h),
                Just(a),
                Just(t * a),
                Just(o * a),
                0..=o * a / 2,
            )
        })
        .prop_map(
            |(width_px, height_px, align_px, tile_px, overlap_px, margin_px)| GridSpec {
                width_px,
                height_px,
                tile_px,
                overlap_px,
                margin_px,
                align_px,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_pixel_lies_in_exactly_one_core(spec in spec()) {
        let grid = Grid::new(spec).unwrap();
        // count per axis: cores partition each axis, so the 2-D cores partition the raster
        for (len, spans) in [(spec.width_px, grid.x_spans()), (spec.height_px, grid.y_spans())] {
            let mut count = vec![0u32; len];
            for s in spans {
                prop_assert!(s.core_start < s.core_end, "empty core {:?}", s);
                prop_assert!(s.core_start >= s.start && s.core_end <= s.end(), "core outside window {:?}", s);
                for c in &mut count[s.core_start..s.core_end] { *c += 1; }
            }
            prop_assert!(count.iter().all(|&c| c == 1));
        }
        // and spot-check in 2-D on a sample of pixels
        let tiles: Vec<_> = grid.tiles().collect();
        prop_assert_eq!(tiles.len(), grid.tile_count());
        for (x, y) in [(0, 0), (spec.width_px - 1, spec.height_px - 1), (spec.width_px / 2, spec.height_px / 3)] {
            prop_assert_eq!(tiles.iter().filter(|t| t.core.contains(x, y)).count(), 1);
        }
    }

    #[test]
    fn windows_stay_in_bounds_and_have_full_size_when_possible(spec in spec()) {
        let grid = Grid::new(spec).unwrap();
        for t in grid.tiles() {
            prop_assert!(t.window.x0 + t.window.w <= spec.width_px);
            prop_assert!(t.window.y0 + t.window.h <= spec.height_px);
            // full tiles, but for the last of an aligned grid: on the grid, short by less
            // than the alignment
            let a = spec.align_px;
            prop_assert!(t.window.x0 % a == 0 && t.window.y0 % a == 0);
            for (got, len, last) in [
                (t.window.w, spec.width_px, t.col + 1 == grid.cols()),
                (t.window.h, spec.height_px, t.row + 1 == grid.rows()),
            ] {
                let full = spec.tile_px.min(len);
                if last && a > 1 {
                    prop_assert!(got <= full && full - got < a, "{} px of {}", got, full);
                } else {
                    prop_assert_eq!(got, full);
                }
            }
        }
        let xs = grid.x_spans();
        prop_assert!(xs[0].at_start && xs[xs.len() - 1].at_end);
        prop_assert!(xs.windows(2).all(|p| p[0].start < p[1].start && p[1].start <= p[0].end()));
    }

    #[test]
    fn total_weight_is_positive_everywhere(spec in spec()) {
        let grid = Grid::new(spec).unwrap();
        for (len, spans) in [(spec.width_px, grid.x_spans()), (spec.height_px, grid.y_spans())] {
            let mut total = vec![0f32; len];
            for s in spans {
                let mut w = vec![0f32; s.len];
                tiles::blend_weights_1d(s, spec.margin_px, &mut w);
                prop_assert!(w.iter().all(|&v| (0.0..=1.0).contains(&v)));
                for (i, v) in w.iter().enumerate() { total[s.start + i] += v; }
                // weight is positive on the whole core: the owner always contributes
                for p in s.core_start..s.core_end { prop_assert!(w[p - s.start] > 0.0, "zero weight in core at {}", p); }
                // no weight within the margin of an edge shared with another tile
                if !s.at_start { prop_assert!(w[..spec.margin_px].iter().all(|&v| v == 0.0)); }
                if !s.at_end { prop_assert!(w[s.len - spec.margin_px..].iter().all(|&v| v == 0.0)); }
            }
            prop_assert!(total.iter().all(|&t| t > 0.0));
        }
    }

    #[test]
    fn rows_become_final_in_order(spec in spec()) {
        let grid = Grid::new(spec).unwrap();
        let mut prev = 0;
        for r in 0..grid.rows() {
            let f = grid.rows_final_after(r);
            prop_assert!(f >= prev);
            // every row before f is covered by no later tile row
            for later in &grid.y_spans()[r + 1..] { prop_assert!(later.start >= f); }
            prev = f;
        }
        prop_assert_eq!(prev, spec.height_px);
    }
}

#[test]
fn one_by_one_raster() {
    let grid = Grid::new(GridSpec {
        width_px: 1,
        height_px: 1,
        tile_px: 256,
        overlap_px: 64,
        margin_px: 16,
        align_px: 1,
    })
    .unwrap();
    assert_eq!(grid.tile_count(), 1);
    let t = grid.tile(0, 0);
    assert_eq!((t.window.w, t.window.h, t.core.w, t.core.h), (1, 1, 1, 1));
    let (wx, wy) = grid.blend_weights(0, 0);
    assert_eq!((wx, wy), (vec![1.0], vec![1.0]));
}

#[test]
fn odd_sizes() {
    let grid = Grid::new(GridSpec {
        width_px: 1933,
        height_px: 1947,
        tile_px: 256,
        overlap_px: 64,
        margin_px: 16,
        align_px: 1,
    })
    .unwrap();
    assert_eq!(grid.cols(), 10);
    assert_eq!(grid.rows(), 10);
    let last = grid.tile(grid.rows() - 1, grid.cols() - 1);
    assert_eq!((last.window.x0 + 256, last.window.y0 + 256), (1933, 1947));
}
