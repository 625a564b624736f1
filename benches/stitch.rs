//! The per-pixel hot loops: preparing a tile (scale, standardise, mask, pad) and
//! blending a tile's probabilities into the row band, then argmax for a finished row.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use terratile::prepare::Normalizer;
use terratile::stitch::{Blend, Stitcher, TileProbs};
use tiles::{Grid, GridSpec};

fn bench(c: &mut Criterion) {
    let (tile, k) = (256usize, 3usize);
    let grid = Grid::new(GridSpec {
        width_px: 4096,
        height_px: 4096,
        tile_px: tile,
        overlap_px: 64,
        margin_px: 8,
        align_px: 1,
    })
    .unwrap();
    let probs: Vec<f32> = (0..k * tile * tile)
        .map(|i| (i % 97) as f32 / 97.0)
        .collect();
    let valid = vec![1u8; tile * tile];

    let mut g = c.benchmark_group("stitch");
    g.throughput(Throughput::Elements((tile * tile) as u64));
    g.bench_function("add 256x256 tile, 3 classes, hann", |b| {
        let mut st = Stitcher::new(grid.clone(), k, Blend::Hann, 255, false);
        let t = grid.tile(0, 3);
        b.iter(|| {
            st.add(
                black_box(&t),
                &valid,
                Some(TileProbs::whole(&probs, tile, tile)),
            )
        });
    });
    g.throughput(Throughput::Elements(
        (grid.rows_final_after(0) * 4096) as u64,
    ));
    g.bench_function(
        "argmax of a finished row band 4096 px wide, 3 classes",
        |b| {
            b.iter_batched(
                // not timed: a band holding the first row of tiles
                || {
                    let mut st = Stitcher::new(grid.clone(), k, Blend::Hann, 255, true);
                    for col in 0..grid.cols() {
                        let t = grid.tile(0, col);
                        let p = TileProbs::whole(&probs, tile, tile);
                        st.add(&t, &valid, Some(p));
                    }
                    st
                },
                |mut st| black_box(st.finish_row(0)),
                criterion::BatchSize::LargeInput,
            );
        },
    );
    g.finish();

    let mut g = c.benchmark_group("prepare");
    g.throughput(Throughput::Elements((tile * tile) as u64));
    let norm = Normalizer::new(
        1e-4,
        0.0,
        &[0.27, 0.25, 0.27, 0.33],
        &[0.24, 0.23, 0.25, 0.23],
    );
    let bands: Vec<Vec<f32>> = (0..4)
        .map(|b| {
            (0..tile * tile)
                .map(|i| ((i * 7 + b) % 4000) as f32)
                .collect()
        })
        .collect();
    let mut out = vec![0f32; 4 * tile * tile];
    g.bench_function("4 bands 256x256", |b| {
        b.iter(|| {
            norm.prepare(
                black_box(&bands),
                &valid,
                (tile, tile),
                (tile, tile),
                &mut out,
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
