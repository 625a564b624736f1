//! A real client: every kind of output terratile writes, opened with QGIS's own API
//! (Debian 12's python3-qgis, QGIS 3.22, headless) by `tests/qgis_client.py`: class maps
//! with and without confidence, resampled and not, masked (nodata), COG and plain
//! GeoTIFF, a change map and the statistics GeoPackage. The client checks the renderer
//! QGIS picks, the legend, nodata, and the rendered colours; its PNGs stay in
//! `target/tmp/terratile-test/qgis/qgis/png/` (the paths are printed; `--nocapture` shows them).
//!
//! Run alone: `cargo test --release --test qgis -- --nocapture`.

mod common;
use common::*;

use std::path::Path;
use std::process::Command;

/// The system Python, for which Debian's python3-qgis is installed (not a pyenv shim).
const PYTHON: &str = "/usr/bin/python3";

fn qgis_client(files: &[&Path], png_dir: &Path) -> String {
    let probe = Command::new(PYTHON)
        .args(["-c", "import qgis.core"])
        .env("QT_QPA_PLATFORM", "offscreen")
        .output();
    assert!(
        probe.as_ref().is_ok_and(|o| o.status.success()),
        "QGIS's Python API is missing for {PYTHON}: run `bash scripts/setup.sh` (installs python3-qgis) ({:?})",
        probe.map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
    );
    let out = Command::new(PYTHON)
        .arg(repo("tests/qgis_client.py"))
        .arg("--png-dir")
        .arg(png_dir)
        .args(files)
        .env("QT_QPA_PLATFORM", "offscreen")
        .output()
        .expect("cannot start /usr/bin/python3");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the QGIS client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn every_output_opens_right_in_qgis() {
    // kept: the rendered PNGs are for a person to look at
    let dir = tempdir("qgis").keep();
    let png = dir.join("png");
    // the S2 demo output: ukis-csmask read at its 30 m, written at 10 m, with confidence
    let s2_conf = dir.join("s2_cloud_shadow.tif");
    segment_ok(&s2(), &csmask(), &s2_conf, &["--confidence", "-q"]);
    // resampled, on the model's grid, without confidence
    let s2_grid = dir.join("s2_model_grid.tif");
    segment_ok(&s2(), &csmask(), &s2_grid, &["--model-grid", "-q"]);
    // not resampled, masked by the cloud/shadow model (nodata), with confidence, plain GTiff
    let masked = dir.join("s2_masked_gtiff.tif");
    segment_ok(
        &s2_square(),
        &perpixel(),
        &masked,
        &[
            "--mask-model",
            csmask().to_str().unwrap(),
            "--mask-classes",
            "1,2",
            "--confidence",
            "--of",
            "GTiff",
            "-q",
        ],
    );
    // a change map and its statistics GeoPackage; the dates' class maps kept
    // (not resampled, no confidence)
    let change = dir.join("landsat_change.tif");
    let db = dir.join("landsat_stats.gpkg");
    terratile_ok(&[
        &"change",
        &landsat_2000(),
        &landsat_2010(),
        &"-m",
        &perpixel(),
        &"--bands",
        &"1,2,3,4",
        &"--stats-tile",
        &"16",
        &"-o",
        &change,
        &"--db",
        &db,
        &"--keep-classes",
        &dir,
        &"-q",
    ]);
    let before = dir.join("before_classes.tif");
    let stdout = qgis_client(&[&s2_conf, &s2_grid, &masked, &before, &change, &db], &png);
    assert!(stdout.contains("all 6 outputs open right in QGIS"));
    let demo_png = png.join("s2_cloud_shadow.png");
    assert!(demo_png.exists());
    println!(
        "the S2 demo output as QGIS draws it: {}",
        demo_png.display()
    );
}
