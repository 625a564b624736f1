//! The model alone: ONNX Runtime on random tiles, with the session `segment` opens (same
//! library, graph optimisation and threads), nothing read, decoded, blended or written.
//! `scripts/bench.sh models` runs it on the tile count, tile size and batch a `segment`
//! run reported, and compares the two processes' wall times.
//!
//! ```text
//! cargo bench --bench model_alone -- MODEL --tile PX --batch N --tiles COUNT [--threads K] [--decode]
//! ```
//!
//! Prints one line: tiles, load time, run time, and with `--decode` the time that
//! decoding the outputs (resizing, softmax, mask classification) adds per tile.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use terratile::infer::{self, Device};
use terratile::segment::ort_threads;

struct Args {
    model: PathBuf,
    tile: usize,
    batch: usize,
    tiles: usize,
    threads: usize,
    decode: bool,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        model: PathBuf::new(),
        tile: 512,
        batch: 4,
        tiles: 16,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        decode: false,
    };
    let mut it = std::env::args().skip(1);
    let num = |v: Option<String>, flag: &str| -> Result<usize, String> {
        v.and_then(|v| v.parse().ok())
            .filter(|&n: &usize| n > 0)
            .ok_or_else(|| format!("{flag} needs a positive number"))
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--tile" => a.tile = num(it.next(), "--tile")?,
            "--batch" => a.batch = num(it.next(), "--batch")?,
            "--tiles" => a.tiles = num(it.next(), "--tiles")?,
            "--threads" => a.threads = num(it.next(), "--threads")?,
            "--decode" => a.decode = true,
            "--bench" => {} // added by `cargo bench`
            s if !s.starts_with('-') && a.model.as_os_str().is_empty() => a.model = s.into(),
            s => return Err(format!("unknown argument {s}")),
        }
    }
    if a.model.as_os_str().is_empty() {
        return Err(
            "usage: model_alone MODEL --tile PX --batch N --tiles COUNT [--threads K] [--decode]"
                .into(),
        );
    }
    Ok(a)
}

/// Uniform values in [0, 0.3) (reflectance-like), from a fixed-seed xorshift.
fn random_input(len: usize) -> Vec<f32> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / (1u64 << 24) as f32 * 0.3
        })
        .collect()
}

fn main() -> ExitCode {
    let a = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("model_alone: {e}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let mut engine = match infer::load(&a.model, None, ort_threads(a.threads), Device::Cpu) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("model_alone: {e}");
            return ExitCode::FAILURE;
        }
    };
    let loaded = started.elapsed().as_secs_f64();
    let (c, t) = (engine.info.input_channels(), a.tile);
    let fixed = engine.info.fixed_batch;
    let batch = fixed.unwrap_or(a.batch);
    let input = random_input(batch * c * t * t);
    let (mut left, mut decode_s) = (a.tiles, 0.0);
    let runs = Instant::now();
    while left > 0 {
        let n = fixed.unwrap_or(batch.min(left));
        let raw = match engine.run_model(&input[..n * c * t * t], n, t, t) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("model_alone: {e}");
                return ExitCode::FAILURE;
            }
        };
        if a.decode {
            let d = Instant::now();
            if let Err(e) = engine.decode(raw, n, t, t) {
                eprintln!("model_alone: {e}");
                return ExitCode::FAILURE;
            }
            decode_s += d.elapsed().as_secs_f64();
        }
        left -= n.min(left);
    }
    let run_s = runs.elapsed().as_secs_f64() - decode_s;
    print!(
        "model alone: {} tiles of {t}x{t} in batches of {}, {} threads: load {loaded:.2} s, runs {run_s:.2} s ({:.0} ms per tile)",
        a.tiles,
        batch,
        ort_threads(a.threads),
        1e3 * run_s / a.tiles as f64
    );
    if a.decode {
        print!(
            "; decoding {decode_s:.2} s ({:.1} ms per tile)",
            1e3 * decode_s / a.tiles as f64
        );
    }
    println!();
    ExitCode::SUCCESS
}
