//! The hot loop of `change`: counting transitions of a 4096 x 256 px block (one row of
//! statistics tiles) into the matrix, the tiles and the change codes, with one pixel area
//! per block of 16 columns of a row (a projected CRS's ground areas).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use terratile::change::count::{Block, Counter};
use terratile::raster::area::LATTICE_BLOCK_PX;

fn bench(c: &mut Criterion) {
    let (w, h) = (4096usize, 256usize);
    let mut g = c.benchmark_group("change");
    g.throughput(Throughput::Elements((w * h) as u64));
    for classes in [7usize, 64] {
        // a class pattern with about a fifth of the pixels changed and a little nodata
        let before: Vec<f64> = (0..w * h)
            .map(|i| {
                if i % 101 == 0 {
                    255.0
                } else {
                    ((i / 37) % classes) as f64
                }
            })
            .collect();
        let after: Vec<u16> = (0..w * h)
            .map(|i| {
                if i % 5 == 0 {
                    ((i / 37 + 1) % classes) as u16
                } else {
                    ((i / 37) % classes) as u16
                }
            })
            .collect();
        let zones: Vec<u32> = (0..w * h).map(|i| ((i % w) / 1024) as u32).collect();
        let areas: Vec<f64> = (0..h * w.div_ceil(LATTICE_BLOCK_PX))
            .map(|i| 900.0 + (i % 97) as f64 * 1e-3)
            .collect();
        let mut codes = vec![0u16; w * h];
        g.bench_function(format!("4096x256 block, {classes} classes, 3 zones"), |b| {
            let mut k = Counter::new(classes, 3, w, 256, u16::MAX);
            b.iter(|| {
                let block = Block {
                    width: w,
                    before: &before,
                    before_nodata: Some(255.0),
                    after: &after,
                    after_nodata: u16::MAX,
                    zones: Some(&zones),
                    area_block_px: LATTICE_BLOCK_PX,
                    area_m2: &areas,
                };
                k.add_block(black_box(&block), &mut codes).unwrap();
            });
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
