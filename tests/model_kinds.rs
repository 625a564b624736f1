//! End-to-end tests of the model output kinds and shapes terratile reads, through the
//! binary on the real Sentinel-2 scene, with the committed variants of perpixel_ndi
//! (models/test/make_test_models.py): probabilities, one sigmoid channel, integer
//! labels, an output smaller than the input ("valid" convolution, centred), and a fully
//! fixed input shape (batch 2 of 64x64). Each variant computes the same NDVI/NDWI logic
//! as perpixel_ndi, so its expected class map is perpixel_ndi's (or derived from it).

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use common::*;
use gdal::Dataset;

fn test_model(name: &str) -> PathBuf {
    repo(&format!("models/test/{name}.onnx"))
}

/// perpixel_ndi (logits) on the whole S2 scene, tile 256 overlap 64, with confidence:
/// (classes, confidence). Run once per test binary and shared by the tests.
fn reference() -> &'static (Vec<u16>, Vec<u16>) {
    static REF: OnceLock<(Vec<u16>, Vec<u16>)> = OnceLock::new();
    REF.get_or_init(|| {
        let dir = tempdir("kinds-reference");
        let out = dir.join("perpixel_ndi.tif");
        segment_ok(
            &s2(),
            &perpixel(),
            &out,
            &["--tile", "256", "--overlap", "64", "--confidence", "-q"],
        );
        (read_band(&out, 1), read_band(&out, 2))
    })
}

fn class_counts(classes: &[u16], k: usize) -> Vec<usize> {
    let mut n = vec![0; k];
    for &c in classes {
        n[c as usize] += 1;
    }
    n
}

#[test]
fn probabilities_output_without_output_kind_is_detected_and_gives_the_logits_classes_and_confidence(
) {
    // perpixel_probs: Softmax inside the model; its sidecar has neither output_kind nor
    // class_names, so the kind is detected from the first batch and the names come from
    // the Deepness metadata_props.
    let dir = tempdir("kinds-probs");
    let out = dir.join("classes.tif");
    segment_ok(
        &s2(),
        &test_model("perpixel_probs"),
        &out,
        &["--tile", "256", "--overlap", "64", "--confidence", "-q"],
    );
    assert_eq!(
        category_names(&out),
        vec!["other", "vegetation", "water"],
        "class names from the Deepness metadata"
    );
    let (classes, conf) = (read_band(&out, 1), read_band(&out, 2));
    let (ref_classes, ref_conf) = reference();
    assert_same(ref_classes, &classes, "pixels");
    assert_eq!(
        class_counts(&classes, 3).iter().filter(|&&n| n > 0).count(),
        3
    );
    // Read as logits, a second softmax would squash the probabilities: the confidence
    // could never exceed 100*e/(e+2) = 58. Read as probabilities it is the logits
    // model's confidence.
    assert!(
        conf.iter().any(|&c| c > 90),
        "probabilities were read as logits"
    );
    assert_same(ref_conf, &conf, "confidences");
}

#[test]
fn integer_labels_output_gives_the_logits_classes_with_full_confidence() {
    // perpixel_labels: int64 [N,H,W] = ArgMax of the perpixel_ndi logits
    let dir = tempdir("kinds-labels");
    let out = dir.join("classes.tif");
    segment_ok(
        &s2(),
        &test_model("perpixel_labels"),
        &out,
        &["--tile", "256", "--overlap", "64", "--confidence", "-q"],
    );
    assert_eq!(category_names(&out), vec!["other", "vegetation", "water"]);
    let (classes, conf) = (read_band(&out, 1), read_band(&out, 2));
    assert_same(&reference().0, &classes, "pixels");
    assert!(
        conf.iter().all(|&c| c == 100),
        "labels are one-hot: confidence 100 everywhere"
    );
}

/// NDWI > 0.05 per pixel of the S2 scene, computed in f32 exactly as the test models do:
/// (green - nir) / (green + nir + 1e-6) - 0.05 > 0.
fn ndwi_above_threshold() -> Vec<bool> {
    let (g, n) = (read_band(&s2(), 2), read_band(&s2(), 4));
    g.iter()
        .zip(&n)
        .map(|(&g, &n)| {
            let (g, n) = (g as f32, n as f32);
            let ndwi = (g - n) / (g + n + 1e-6f32);
            ndwi - 0.05f32 > 0.0
        })
        .collect()
}

#[test]
fn sigmoid_output_is_water_exactly_where_ndwi_exceeds_its_threshold() {
    // perpixel_sigmoid: [N,1,H,W] = sigmoid(10*(NDWI-0.05)), sidecar output_kind
    // "sigmoid", classes land, water.
    let dir = tempdir("kinds-sigmoid");
    let out = dir.join("classes.tif");
    segment_ok(
        &s2(),
        &test_model("perpixel_sigmoid"),
        &out,
        &["--tile", "256", "--overlap", "64", "-q"],
    );
    assert_eq!(category_names(&out), vec!["land", "water"]);
    let classes = read_band(&out, 1);
    let wet = ndwi_above_threshold();

    // 1. exactly the independent NDWI expectation (pixels with NDWI == 0.05 exactly,
    //    25 of them in this scene, give sigmoid(0) = 0.5, a tie, which goes to class 0)
    let wrong: Vec<usize> = (0..classes.len())
        .filter(|&i| classes[i] != wet[i] as u16)
        .collect();
    assert!(
        wrong.is_empty(),
        "{} pixels disagree with NDWI > 0.05, first {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(5)]
    );

    // 2. against perpixel_ndi: water there -> 1, anything else -> 0. Not exact by
    //    construction: perpixel_ndi calls a pixel water only when its water logit also
    //    beats the vegetation logit, the sigmoid ignores vegetation. So the only allowed
    //    differences are perpixel_ndi vegetation pixels with NDWI > 0.05 (2 in this
    //    scene, at x 414-415, y 574).
    let (ref_classes, _) = reference();
    let diff: Vec<usize> = (0..classes.len())
        .filter(|&i| classes[i] != (ref_classes[i] == 2) as u16)
        .collect();
    for &i in &diff {
        assert!(
            ref_classes[i] == 1 && classes[i] == 1 && wet[i],
            "pixel {i}: sigmoid {} but perpixel_ndi {}",
            classes[i],
            ref_classes[i]
        );
    }
    assert!(
        diff.len() <= 5,
        "{} vegetation pixels with NDWI > 0.05; expected a couple",
        diff.len()
    );
    let water = classes.iter().filter(|&&c| c == 1).count();
    assert!(water > classes.len() / 3 && water < classes.len() * 2 / 3);
}

#[test]
fn valid_conv_output_is_centred_tiled_equals_whole_image_and_the_uncovered_2px_border_is_nodata() {
    // valid_conv: perpixel logits + 5x5 box filter without padding, [N,3,H-4,W-4]: each
    // output pixel belongs to the input pixel 2 px further right and down.
    let model = test_model("valid_conv");
    let dir = tempdir("kinds-valid");
    let t = classes_of(
        &dir,
        "tiled",
        &s2_square(),
        &model,
        &["--tile", "256", "--overlap", "64", "-q"],
    );
    let w = classes_of(&dir, "whole", &s2_square(), &model, WHOLE_IMAGE);
    let (width, height) = Dataset::open(s2_square()).unwrap().raster_size();
    let border = |i: usize| {
        let (x, y) = (i % width, i / width);
        x < 2 || y < 2 || x >= width - 2 || y >= height - 2
    };
    let mut interior = 0usize;
    let mut same = 0usize;
    for i in 0..w.len() {
        if border(i) {
            // no output pixel of any tile covers the outer 2 px: nodata in both runs
            assert_eq!(w[i], 255, "whole image, border pixel {i}");
            assert_eq!(t[i], 255, "tiled, border pixel {i}");
        } else {
            assert!(w[i] < 3, "whole image, interior pixel {i} is {}", w[i]);
            assert!(t[i] < 3, "tiled, interior pixel {i} is {}", t[i]);
            interior += 1;
            same += (t[i] == w[i]) as usize;
        }
    }
    let share = same as f64 / interior as f64;
    println!(
        "valid_conv, tile 256 overlap 64 vs whole image: {:.4}% of {interior} interior pixels agree",
        100.0 * share
    );
    assert!(share >= 0.9999, "only {:.4}% agree", 100.0 * share);

    // Centring, not top-left placement: the box filter of perpixel_ndi's logits agrees
    // with perpixel_ndi itself on most pixels (97 % in this scene); shifted by 2 px it
    // would agree much less.
    let r = classes_of(&dir, "ndi", &s2_square(), &perpixel(), WHOLE_IMAGE);
    let agree_at = |dx: isize, dy: isize| {
        let mut n = 0usize;
        let mut k = 0usize;
        for y in 4..height - 4 {
            for x in 4..width - 4 {
                let i = y * width + x;
                let j = (y as isize + dy) as usize * width + (x as isize + dx) as usize;
                n += 1;
                k += (w[i] == r[j]) as usize;
            }
        }
        k as f64 / n as f64
    };
    let (centred, shifted) = (agree_at(0, 0), agree_at(-2, -2));
    println!("valid_conv vs perpixel_ndi: {centred:.4} in place, {shifted:.4} shifted by 2 px");
    assert!(centred > 0.95 && centred > shifted + 0.01);
}

#[test]
fn valid_conv_with_overlap_below_the_output_shrink_is_refused() {
    // Tiles of 256 px give 252 px of output, centred; with --overlap 2 neighbouring
    // outputs would not meet and the 2 px between them would get no prediction.
    let dir = tempdir("kinds-valid-seams");
    let out = dir.join("classes.tif");
    let o = terratile(&[
        &"segment",
        &s2(),
        &"-m",
        &test_model("valid_conv"),
        &"-o",
        &out,
        &"--tile",
        &"256",
        &"--overlap",
        &"2",
        &"-q",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success(),
        "a run with seams of nodata must be refused"
    );
    assert!(
        err.contains("252x252") && err.contains("--overlap 4"),
        "{err}"
    );
    assert!(!out.exists());
    assert!(
        files_in(&dir).is_empty(),
        "no temporary files left: {:?}",
        files_in(&dir)
    );
}

#[test]
fn fixed_batch2_pads_the_short_last_batch_of_an_odd_tile_count() {
    // 448x448 with fixed 64 px tiles and the sidecar's 16 px overlap: 9 x 9 = 81 tiles,
    // so the last batch of 2 holds one tile and one zero-padded slot.
    let dir = tempdir("kinds-fixed-odd");
    let input = dir.join("s2_448.tif");
    crop(&s2(), &input, 700, 700, 448, 448);
    let (fixed, logits) = (dir.join("fixed.tif"), dir.join("logits.tif"));
    let stderr = segment_ok(&input, &test_model("fixed_batch2"), &fixed, &[]);
    assert!(
        stderr.contains("81 tiles (81 inferred, 64 px, overlap 16, batch 2)"),
        "{stderr}"
    );
    segment_ok(&input, &perpixel(), &logits, &["-q"]);
    let (f, l) = (read_band(&fixed, 1), read_band(&logits, 1));
    assert_same(&l, &f, "pixels");
    assert!(
        class_counts(&f, 3).iter().all(|&n| n > 0),
        "every class present: {:?}",
        class_counts(&f, 3)
    );
}

#[test]
fn fixed_batch2_on_a_raster_smaller_than_64px_pads_the_tile_and_the_batch() {
    let dir = tempdir("kinds-fixed-small");
    let input = dir.join("s2_50x40.tif");
    crop(&s2(), &input, 400, 560, 50, 40);
    let (fixed, logits) = (dir.join("fixed.tif"), dir.join("logits.tif"));
    let stderr = segment_ok(&input, &test_model("fixed_batch2"), &fixed, &[]);
    assert!(stderr.contains("50x40 px"), "{stderr}");
    assert!(stderr.contains("1 tiles (1 inferred, 64 px"), "{stderr}");
    segment_ok(&input, &perpixel(), &logits, &["-q"]);
    let (f, l) = (read_band(&fixed, 1), read_band(&logits, 1));
    assert_eq!(f.len(), 50 * 40);
    assert_same(&l, &f, "pixels");
}

#[test]
fn fixed_batch2_refuses_tile_128_naming_its_64x64_input() {
    let dir = tempdir("kinds-fixed-tile");
    let out = dir.join("x.tif");
    let o = terratile(&[
        &"segment",
        &s2(),
        &"-m",
        &test_model("fixed_batch2"),
        &"-o",
        &out,
        &"--tile",
        &"128",
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("64x64") && err.contains("--tile"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(files_in(&dir).is_empty(), "nothing written");
}

#[test]
fn more_than_254_classes_give_a_uint16_map_with_nodata_65535() {
    // many_classes: perpixel_ndi's classes 0, 1, 2 become 297, 298, 299 of 300
    let dir = tempdir("kinds-many");
    let out = dir.join("classes.tif");
    segment_ok(
        &s2(),
        &test_model("many_classes"),
        &out,
        &["--tile", "256", "--overlap", "64", "-q"],
    );
    let ds = Dataset::open(&out).unwrap();
    let band = ds.rasterband(1).unwrap();
    assert_eq!(band.band_type(), gdal::raster::GdalDataType::UInt16);
    assert_eq!(band.no_data_value(), Some(65535.0));
    let names = category_names(&out);
    assert_eq!(names.len(), 300);
    assert_eq!(&names[297..], &["other", "vegetation", "water"]);
    let expected: Vec<u16> = reference().0.iter().map(|&c| c + 297).collect();
    assert_same(&expected, &read_band(&out, 1), "classes");
}

#[test]
fn bands_are_matched_by_their_descriptions() {
    // The S2 stack in reverse order (B08, B04, B03, B02, descriptions kept), and
    // perpixel_ndi with a sidecar that names S2 bands instead of giving band numbers:
    // terratile must find blue=B02 ... nir=B08 by description.
    let dir = tempdir("kinds-descriptions");
    let input = dir.join("s2_reversed.vrt");
    let st = std::process::Command::new("gdal_translate")
        .args([
            "-q", "-of", "VRT", "-b", "4", "-b", "3", "-b", "2", "-b", "1",
        ])
        .arg(s2())
        .arg(&input)
        .status()
        .unwrap();
    assert!(st.success());
    let model = dir.join("ndi_by_name.onnx");
    std::fs::copy(perpixel(), &model).unwrap();
    let mut sidecar: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo("models/test/perpixel_ndi.onnx.json")).unwrap(),
    )
    .unwrap();
    let obj = sidecar.as_object_mut().unwrap();
    obj.remove("band_indices");
    obj.insert(
        "bands".into(),
        serde_json::json!(["B02", "B03", "B04", "B08"]),
    );
    std::fs::write(dir.join("ndi_by_name.onnx.json"), sidecar.to_string()).unwrap();
    let out = dir.join("classes.tif");
    segment_ok(
        &input,
        &model,
        &out,
        &["--tile", "256", "--overlap", "64", "-q"],
    );
    let ds = Dataset::open(&out).unwrap();
    use gdal::Metadata;
    assert_eq!(
        ds.metadata_item("TERRATILE_BANDS", "").as_deref(),
        Some("4,3,2,1")
    );
    assert_same(&reference().0, &read_band(&out, 1), "classes");
}
