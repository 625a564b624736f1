//! `terratile change BEFORE AFTER --change-model M.onnx`: bi-temporal change models run
//! tiled over both dates, with the committed test models of models/test/change/
//! (make_change_models.py) on the real Landsat 5 pair of r-cran-satellite (2000 vs
//! 2010): an NDVI differencing model whose classes follow from the raw pixels exactly,
//! and a Siamese U-Net in each of the three input layouts against its torch reference.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use gdal::Dataset;
use terratile::infer::{self, Device};
use terratile::prepare::Normalizer;
use terratile::read::{Source, Stack};
use tiles::Rect;

fn change_model(name: &str) -> PathBuf {
    repo(&format!("models/test/change/{name}.onnx"))
}

const SIAMESE: [&str; 3] = ["siamese_two_inputs", "siamese_stacked", "siamese_temporal"];

/// `terratile change BEFORE AFTER --change-model MODEL -o OUT EXTRA...`.
fn change(before: &Path, after: &Path, model: &Path, out: &Path, extra: &[&str]) -> TestCommand {
    TestCommand::new("change")
        .arg(before)
        .arg(after)
        .arg("--change-model")
        .arg(model)
        .arg("-o")
        .arg(out)
        .args(extra)
}

/// Band `b` of a raster as f32, and its size.
fn read_f32(path: &Path, b: usize) -> (Vec<f32>, usize, usize) {
    let ds = Dataset::open(path).unwrap();
    let band = ds.rasterband(b).unwrap();
    let (w, h) = band.size();
    let mut v = vec![0f32; w * h];
    band.read_into_slice::<f32>((0, 0), (w, h), (w, h), &mut v, None)
        .unwrap();
    (v, w, h)
}

/// NDVI as the model computes it, in f32: (nir - red) / (nir + red + 1e-6).
fn ndvi(red: f32, nir: f32) -> f32 {
    (nir - red) / (nir + red + 1e-6f32)
}

/// The differencing model's rule, computed here from the raw pixels of both dates read
/// with GDAL (red band 3, nir band 4): 1 vegetation loss, 2 vegetation gain, 0 else; the
/// window (`x0`, `y0`, `w`, `h`) of BEFORE's grid; 255 where AFTER (on the same grid,
/// offset by (`ax`, `ay`)) is nodata 255.
fn expected_rule(
    before: &Path,
    after: &Path,
    (x0, y0, w, h): (usize, usize, usize, usize),
    (ax, ay): (usize, usize),
) -> Vec<u16> {
    let (br, bw, _) = read_f32(before, 3);
    let (bn, _, _) = read_f32(before, 4);
    let (ar, aw, _) = read_f32(after, 3);
    let (an, _, _) = read_f32(after, 4);
    let (t, gain) = (0.099f32, 10000f32);
    let mut out = Vec::with_capacity(w * h);
    for y in y0..y0 + h {
        for x in x0..x0 + w {
            let (i, j) = (y * bw + x, (y - ay) * aw + (x - ax));
            if ar[j] == 255.0 || an[j] == 255.0 || br[i] == 255.0 || bn[i] == 255.0 {
                out.push(255);
                continue;
            }
            let d = ndvi(ar[j], an[j]) - ndvi(br[i], bn[i]);
            // logits [0, gain * (-d - t), gain * (d - t)]: the first maximum wins
            let logits = [0.0, (-d - t) * gain, (d - t) * gain];
            let mut best = 0;
            for k in 1..3 {
                if logits[k] > logits[best] {
                    best = k;
                }
            }
            out.push(best as u16);
        }
    }
    out
}

fn counts(classes: &[u16], k: usize) -> Vec<usize> {
    let mut n = vec![0; k];
    for &c in classes.iter().filter(|&&c| (c as usize) < k) {
        n[c as usize] += 1;
    }
    n
}

#[test]
fn differencing_model_gives_exactly_its_rule_tiled() {
    let dir = tempdir("change-model-diff");
    let (b, a) = (landsat_2000(), landsat_2010());
    let model = change_model("ndvi_difference");
    // 16 tiles of 32 px, Hann-blended; both date orders (the model's inputs are named
    // after, before in that graph order: only the names give the order)
    for (name, before, after, moved) in [("forward", &b, &a, 2), ("swapped", &a, &b, 1)] {
        let out = dir.join(format!("{name}.tif"));
        let db = dir.join("stats.sqlite");
        change(
            before,
            after,
            &model,
            &out,
            &["--tile", "32", "--overlap", "8", "-q"],
        )
        .arg("--db")
        .arg(&db)
        .ok();
        let got = read_band(&out, 1);
        let expected = expected_rule(before, after, (0, 0, 101, 101), (0, 0));
        assert_same(&expected, &got, &format!("{name} classes"));
        let n = counts(&expected, 3);
        println!(
            "{name}: no change {} px, loss {} px, gain {} px",
            n[0], n[1], n[2]
        );
        assert!(n[moved] > 2000 && n[0] > 7000, "both classes occur: {n:?}");
        assert_eq!(
            category_names(&out)[..3],
            ["no change", "vegetation loss", "vegetation gain"]
        );
        // logged like any run: the areas of the change classes cover the valid pixels
        let r = report_json(&db, None);
        assert_report_schema(&r);
        assert_eq!(r["valid_px"].as_u64().unwrap(), 101 * 101, "{r}");
        assert_eq!(r["dates"], serde_json::json!(["change"]));
    }

    // AFTER cut to a window (so the comparison grid is the overlap) with a block of
    // nodata: the overlap only, exact, nodata where AFTER has none
    let cut = dir.join("after_cut.tif");
    crop(&a, &cut, 10, 5, 91, 96);
    {
        let ds = Dataset::open_ex(
            &cut,
            gdal::DatasetOptions {
                open_flags: gdal::GdalOpenFlags::GDAL_OF_UPDATE
                    | gdal::GdalOpenFlags::GDAL_OF_RASTER,
                ..Default::default()
            },
        )
        .unwrap();
        let mut band = ds.rasterband(3).unwrap();
        let mut hole = gdal::raster::Buffer::new((20, 10), vec![255u16; 200]);
        band.write((30, 40), (20, 10), &mut hole).unwrap();
    }
    let out = dir.join("cut.tif");
    change(
        &b,
        &cut,
        &model,
        &out,
        &["--tile", "32", "--overlap", "8", "-q"],
    )
    .ok();
    let gt = Dataset::open(&out).unwrap().geo_transform().unwrap();
    let bgt = Dataset::open(&b).unwrap().geo_transform().unwrap();
    assert_eq!((gt[0], gt[3]), (bgt[0] + 10.0 * 30.0, bgt[3] - 5.0 * 30.0));
    let expected = expected_rule(&b, &cut, (10, 5, 91, 96), (10, 5));
    assert_eq!(expected.iter().filter(|&&c| c == 255).count(), 200);
    assert_same(&expected, &read_band(&out, 1), "classes on the overlap");
}

/// The reference per-class probabilities (one band per class) of a Siamese model.
fn reference(name: &str) -> Vec<Vec<f32>> {
    let p = repo(&format!("models/test/change/{name}_ref.tif"));
    let n = Dataset::open(&p).unwrap().raster_count();
    (1..=n).map(|b| read_f32(&p, b).0).collect()
}

#[test]
fn siamese_layouts_equal_their_reference_on_one_tile() {
    let (tb, ta) = (
        repo("models/test/change/before_tile.tif"),
        repo("models/test/change/after_tile.tif"),
    );
    let dir = tempdir("change-model-ref");
    for name in SIAMESE {
        let refp = reference(name);
        let k = refp.len();
        // the engine's own parts: both dates read and prepared as the pipeline does, one
        // batch through ONNX Runtime in the model's layout
        let mut engine = infer::load_change(&change_model(name), None, 1, Device::Cpu).unwrap();
        let info = engine.info.clone();
        let bands = vec![1, 2, 3, 4];
        let mut stack = Stack::new(&[
            Source {
                path: tb.clone(),
                bands: bands.clone(),
            },
            Source {
                path: ta.clone(),
                bands,
            },
        ])
        .unwrap();
        let rect = Rect {
            x0: 0,
            y0: 0,
            w: 64,
            h: 64,
        };
        let mut bufs = vec![Vec::new(); 8];
        let mut valid = vec![0u8; 64 * 64];
        assert_eq!(stack.read(rect, &mut bufs, &mut valid).unwrap(), 64 * 64);
        let norm = Normalizer::new(info.input_scale, info.input_offset, &info.mean, &info.std);
        let mut t = vec![0f32; 8 * 64 * 64];
        norm.prepare(&bufs, &valid, (64, 64), (64, 64), &mut t);
        let probs = engine.run(&t, 1, 64, 64).unwrap();
        assert_eq!((probs.classes, probs.h, probs.w), (k, 64, 64));
        let got = probs.item(0);
        let err = (0..k)
            .flat_map(|c| (0..64 * 64).map(move |p| (c, p)))
            .map(|(c, p)| (got[c * 64 * 64 + p] - refp[c][p]).abs())
            .fold(0f32, f32::max);
        println!(
            "{name} ({:?}): max |terratile - torch| = {err:.2e}",
            info.layout
        );
        assert!(err < 1e-4, "{name}: {err}");

        // and through the command, one tile: its classes are the reference's argmax
        // (where the reference has a clear winner) and its confidence the winner's
        // probability in percent
        let out = dir.join(format!("{name}.tif"));
        change(
            &tb,
            &ta,
            &change_model(name),
            &out,
            &["--tile", "64", "--overlap", "0", "--confidence", "-q"],
        )
        .ok();
        let (classes, conf) = (read_band(&out, 1), read_band(&out, 2));
        let mut clear = 0;
        for p in 0..64 * 64 {
            let mut sorted: Vec<f32> = (0..k).map(|c| refp[c][p]).collect();
            sorted.sort_by(|x, y| y.total_cmp(x));
            let best = (0..k).find(|&c| refp[c][p] == sorted[0]).unwrap();
            if sorted[0] - sorted[1] > 1e-3 {
                clear += 1;
                assert_eq!(classes[p] as usize, best, "{name}: pixel {p}");
            }
            assert!(
                (conf[p] as f32 - 100.0 * sorted[0]).abs() <= 0.51,
                "{name}: pixel {p}"
            );
        }
        assert!(clear > 2000, "{name}: {clear} clear pixels");
        let n = counts(&classes, k);
        assert!(n.iter().all(|&c| c > 0), "{name}: every class occurs {n:?}");
    }
}

#[test]
fn tiled_agrees_with_whole_image_at_least_as_well_as_center_blend() {
    let dir = tempdir("change-model-tiled");
    let (b, a) = (landsat_2000(), landsat_2010());
    for name in SIAMESE {
        let run = |label: &str, extra: &[&str]| -> (Vec<u16>, Vec<u16>) {
            let out = dir.join(format!("{name}-{label}.tif"));
            change(&b, &a, &change_model(name), &out, extra)
                .arg("--confidence")
                .arg("-q")
                .ok();
            (read_band(&out, 1), read_band(&out, 2))
        };
        // one tile over the whole 101x101 pair (104: a multiple of the U-Net's 4)
        let whole = run("whole", &["--tile", "104", "--overlap", "0"]);
        let tiled = ["--tile", "32", "--overlap", "16"];
        let hann = run("hann", &tiled);
        let center = run("center", &[&tiled[..], &["--blend", "center"]].concat());
        let differ = |x: &(Vec<u16>, Vec<u16>)| -> (usize, f64) {
            let classes = x.0.iter().zip(&whole.0).filter(|(p, q)| p != q).count();
            let conf =
                x.1.iter()
                    .zip(&whole.1)
                    .map(|(p, q)| (*p as f64 - *q as f64).abs())
                    .sum::<f64>()
                    / x.1.len() as f64;
            (classes, conf)
        };
        let (h, c) = (differ(&hann), differ(&center));
        println!(
            "{name}: vs whole image, hann {} px differ (confidence {:.2} points), center {} px differ (confidence {:.2} points)",
            h.0, h.1, c.0, c.1
        );
        // at least as well, give or take a few pixels of floating-point noise (ONNX
        // Runtime's kernels differ slightly between CPUs)
        assert!(
            h.0 <= c.0 + c.0 / 50 + 5,
            "{name}: hann {h:?} vs center {c:?}"
        );
        assert!(
            h.0 < 101 * 101 / 20,
            "{name}: tiled stays close to the whole image"
        );
    }
}

#[test]
fn bad_inputs_fail_in_one_line_and_write_nothing() {
    let dir = tempdir("change-model-bad");
    let (b, a) = (landsat_2000(), landsat_2010());
    let out = dir.join("change.tif");
    // a model whose inputs match none of the layouts: its inputs and the layouts listed
    let cmd = change(&b, &a, &change_model("three_inputs"), &out, &[]);
    let err = assert_fails_cleanly(
        &cmd.run(),
        &out,
        &[
            "three_inputs.onnx",
            "a [N,4,H,W], b [N,4,H,W], c [N,4,H,W]",
            "two inputs",
            "[N,2C,H,W]",
            "[N,2,C,H,W]",
        ],
    );
    println!("{err}");
    // dates that do not overlap: AFTER moved 100 km east
    let far = dir.join("far.tif");
    let gt = Dataset::open(&a).unwrap().geo_transform().unwrap();
    let (x0, y0) = (gt[0] + 100_000.0, gt[3]);
    tool(
        "gdal_translate",
        &[
            &"-q",
            &"-a_ullr",
            &x0.to_string(),
            &y0.to_string(),
            &(x0 + 3030.0).to_string(),
            &(y0 - 3030.0).to_string(),
            &a,
            &far,
        ],
    );
    let cmd = change(&b, &far, &change_model("siamese_stacked"), &out, &[]);
    let err = assert_fails_cleanly(&cmd.run(), &out, &["far.tif", "does not overlap"]);
    println!("{err}");
    // a change model given to segment: named as such
    let cmd = segment(&b, &change_model("siamese_stacked"), &out, &[]);
    let err = assert_fails_cleanly(&cmd.run(), &out, &["is a change model", "--change-model"]);
    println!("{err}");
    // a flag of class-map comparison
    let zones = dir.join("zones.gpkg");
    let cmd = change(&b, &a, &change_model("siamese_stacked"), &out, &[])
        .arg("--zones")
        .arg(&zones);
    assert_fails_cleanly(&cmd.run(), &out, &["--zones", "--change-model"]);
    assert!(
        files_in(&dir).iter().all(|f| f == "far.tif"),
        "{:?}",
        files_in(&dir)
    );
}

#[test]
fn standardisation_for_both_dates_equals_the_per_date_one() {
    // the stacked model's sidecar with mean and std for all 8 channels (its 4 per-date
    // values twice) gives the same map as the per-date ones
    let dir = tempdir("change-model-2c");
    let model = dir.join("stacked_2c.onnx");
    std::fs::copy(change_model("siamese_stacked"), &model).unwrap();
    let mut side: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo("models/test/change/siamese_stacked.onnx.json")).unwrap(),
    )
    .unwrap();
    for key in ["mean", "std"] {
        let v = side[key].as_array().unwrap().clone();
        side[key] = serde_json::Value::Array([v.clone(), v].concat());
    }
    std::fs::write(dir.join("stacked_2c.onnx.json"), side.to_string()).unwrap();
    let (tb, ta) = (
        repo("models/test/change/before_tile.tif"),
        repo("models/test/change/after_tile.tif"),
    );
    let extra = ["--tile", "64", "--overlap", "0", "--confidence", "-q"];
    let (one, both) = (dir.join("per_date.tif"), dir.join("both.tif"));
    change(&tb, &ta, &change_model("siamese_stacked"), &one, &extra).ok();
    change(&tb, &ta, &model, &both, &extra).ok();
    assert_same(&read_band(&one, 1), &read_band(&both, 1), "classes");
    assert_same(&read_band(&one, 2), &read_band(&both, 2), "confidences");
    // a wrong count is refused in one line
    side["mean"] = serde_json::json!([0.0, 0.0, 0.0]);
    std::fs::write(dir.join("stacked_2c.onnx.json"), side.to_string()).unwrap();
    let out = dir.join("bad.tif");
    assert_fails_cleanly(
        &change(&tb, &ta, &model, &out, &[]).run(),
        &out,
        &["3 means", "8 input channels"],
    );
}
